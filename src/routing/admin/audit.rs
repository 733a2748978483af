//! `/api/orgs/{orgId}/audit-events`: the organization's audit trail, newest first, paged.

use std::collections::HashMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{AdminError, Caller, Result, Right, json_response, org_catalog, time};
use crate::catalog::AuditQuery;
use crate::routing::AppState;
use crate::scim::error::excerpt;

/// Default and largest page.
const PAGE: u64 = 100;
const MAX_PAGE: u64 = 1000;

/// The query string's parameters; a NUL in a value could never match a stored event (and
/// PostgreSQL refuses it in text), so it is a 400 like any other malformed parameter.
fn query_params(raw: &str) -> Result<HashMap<String, String>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw).map_err(|_| {
        AdminError::new(
            StatusCode::BAD_REQUEST,
            "the query string is not valid URL encoding",
        )
    })?;
    if let Some((name, _)) = pairs.iter().find(|(_, v)| v.contains('\0')) {
        return Err(AdminError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "{} contains a NUL character (U+0000), which is not allowed",
                excerpt(name)
            ),
        ));
    }
    Ok(pairs.into_iter().collect())
}

/// GET `?type=&correlationId=&teamId=&before=&limit=` → `{events, nextBefore}`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let (catalog, _) = org_catalog(&state, &caller, &org_id, Right::Read).await?;
    let params = query_params(raw.as_deref().unwrap_or_default())?;
    let number = |name: &str| -> Result<Option<i64>> {
        params
            .get(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    AdminError::new(StatusCode::BAD_REQUEST, format!("{name} must be an integer"))
                })
            })
            .transpose()
    };
    let query = AuditQuery {
        event_type: params.get("type").filter(|t| !t.is_empty()).cloned(),
        correlation_id: params.get("correlationId").filter(|c| !c.is_empty()).cloned(),
        team_id: number("teamId")?,
        before: number("before")?,
        limit: number("limit")?.map_or(PAGE, |l| l.clamp(1, MAX_PAGE as i64) as u64),
    };
    let events = catalog.audit_events(&query).await?;
    let next = (events.len() as u64 == query.limit)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    let events: Vec<Value> = events
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id,
                "type": e.event_type,
                "actor": e.actor,
                "actorDetail": e.actor_detail,
                "target": e.target,
                "targetEmail": e.target_email,
                "correlationId": e.correlation_id,
                "at": time(Some(e.at)),
                "data": e.data,
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({"events": events, "nextBefore": next}),
    ))
}
