//! `/api/instance/…`: organizations, for instance admins.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminError, Caller, Result, json_body, json_response};
use crate::catalog::CatalogError;
use crate::routing::AppState;
use crate::store::orgs::Org;
use crate::store::{StoreError, Violation};

fn require_instance_admin(caller: &Caller) -> Result<()> {
    if caller.principal.instance_admin {
        Ok(())
    } else {
        Err(AdminError::new(
            StatusCode::FORBIDDEN,
            "instance administration requires instance_admin",
        ))
    }
}

fn org_json(org: &Org) -> Value {
    json!({"id": org.id, "name": org.name, "ssoActive": org.sso_active})
}

fn store_error(e: StoreError) -> AdminError {
    match e {
        StoreError::Violation(Violation::OrganizationName) => AdminError::new(
            StatusCode::CONFLICT,
            "an organization with this name already exists",
        ),
        other => CatalogError::from(other).into(),
    }
}

/// GET: every organization.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response> {
    require_instance_admin(&caller)?;
    let orgs: Vec<Value> = state
        .store
        .list_orgs()
        .await
        .map_err(store_error)?
        .iter()
        .map(org_json)
        .collect();
    Ok(json_response(StatusCode::OK, json!({"organizations": orgs})))
}

/// GET: every open uniqueness conflict on the instance.
pub async fn conflicts(State(state): State<AppState>, caller: Caller) -> Result<Response> {
    require_instance_admin(&caller)?;
    let conflicts: Vec<Value> = state
        .store
        .open_conflicts(None)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|c| {
            json!({
                "displayName": c.display_name,
                "organization": {"id": c.org_id, "name": c.org_name},
                "heldBy": {"id": c.holder_org_id, "name": c.holder_org_name},
                "firstSeen": crate::scim::resource::format_time(c.first_seen),
                "lastSeen": crate::scim::resource::format_time(c.last_seen),
                "count": c.count,
            })
        })
        .collect();
    Ok(json_response(StatusCode::OK, json!({"conflicts": conflicts})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewOrg {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    sso_active: Option<bool>,
}

/// POST `{name, ssoActive?}` (SSO active unless told otherwise).
pub async fn create(State(state): State<AppState>, caller: Caller, body: Body) -> Result<Response> {
    require_instance_admin(&caller)?;
    let input: NewOrg = json_body(body).await?;
    let name = input.name.as_deref().map(str::trim).unwrap_or_default();
    if name.is_empty() || name.chars().count() > 256 {
        return Err(AdminError::new(
            StatusCode::BAD_REQUEST,
            "an organization needs a name of 1 to 256 characters",
        ));
    }
    let org = state
        .store
        .create_org(name, input.sso_active.unwrap_or(true))
        .await
        .map_err(store_error)?;
    Ok(json_response(StatusCode::CREATED, org_json(&org)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrgUpdate {
    sso_active: bool,
}

/// PATCH `{ssoActive}`: turn SSO (and with it SCIM provisioning) on or off.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    body: Body,
) -> Result<Response> {
    require_instance_admin(&caller)?;
    let id: i64 = org_id
        .parse()
        .map_err(|_| AdminError::not_found("no such organization"))?;
    let input: OrgUpdate = json_body(body).await?;
    let org = state
        .store
        .set_sso_active(id, input.sso_active)
        .await
        .map_err(store_error)?
        .ok_or_else(|| AdminError::not_found("no such organization"))?;
    Ok(json_response(StatusCode::OK, org_json(&org)))
}
