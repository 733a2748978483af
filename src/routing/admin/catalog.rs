//! `/api/orgs/{orgId}/idp-groups`: the organization's IdP group catalog.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, Result, Right, json_body, json_response, org_catalog};
use crate::catalog::GroupRow;
use crate::routing::AppState;

fn entry(row: &GroupRow, linked_team: Option<Value>) -> Value {
    json!({"id": row.id, "displayName": row.display_name, "source": row.source, "linkedTeam": linked_team})
}

/// GET: every row, sorted by name, with its source and linked team.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
) -> Result<Response> {
    let (catalog, _) = org_catalog(&state, &caller, &org_id, Right::Read).await?;
    let groups: Vec<Value> = catalog
        .catalog()
        .await?
        .iter()
        .map(|e| {
            entry(
                &e.row,
                e.linked_team
                    .as_ref()
                    .map(|t| json!({"id": t.id, "name": t.name})),
            )
        })
        .collect();
    Ok(json_response(StatusCode::OK, json!({"groups": groups})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewGroup {
    #[serde(default)]
    display_name: Option<String>,
}

/// POST `{displayName}`: a MANUAL row.
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    body: Body,
) -> Result<Response> {
    let (catalog, _) = org_catalog(&state, &caller, &org_id, Right::Write).await?;
    let input: NewGroup = json_body(body).await?;
    let row = catalog
        .add_manual_group(input.display_name.as_deref().unwrap_or_default())
        .await?;
    Ok(json_response(StatusCode::CREATED, entry(&row, None)))
}

/// DELETE: removes a MANUAL row (purging its team's delegated members); 409 for a SCIM row.
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, group_id)): Path<(String, String)>,
) -> Result<Response> {
    let (catalog, _) = org_catalog(&state, &caller, &org_id, Right::Write).await?;
    catalog.delete_manual_group(&group_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
