//! `/api/instance/…`: organizations and open (uniqueness and claim) conflicts, for instance admins.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminError, Caller, Result, json_body, json_response, org_path, time};
use crate::instance::Instance;
use crate::instance::Org;
use crate::routing::AppState;

fn instance(state: &AppState, caller: &Caller) -> Result<Instance> {
    if caller.principal.instance_admin {
        Ok(state.services.instance())
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

/// GET: every organization.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response> {
    let orgs: Vec<Value> = instance(&state, &caller)?
        .organizations()
        .await?
        .iter()
        .map(org_json)
        .collect();
    Ok(json_response(StatusCode::OK, json!({"organizations": orgs})))
}

/// GET: every open uniqueness conflict and every open claim conflict on the instance.
pub async fn conflicts(State(state): State<AppState>, caller: Caller) -> Result<Response> {
    let instance = instance(&state, &caller)?;
    let conflicts: Vec<Value> = instance
        .open_conflicts()
        .await?
        .into_iter()
        .map(|c| {
            json!({
                "displayName": c.display_name,
                "organization": {"id": c.org_id, "name": c.org_name},
                "heldBy": {"id": c.holder_org_id, "name": c.holder_org_name},
                "firstSeen": time(Some(c.first_seen)),
                "lastSeen": time(Some(c.last_seen)),
                "count": c.count,
            })
        })
        .collect();
    let claim_conflicts: Vec<Value> = instance
        .open_claim_conflicts()
        .await?
        .into_iter()
        .map(|c| {
            let organizations: Vec<Value> = c
                .organizations
                .iter()
                .map(|(id, name)| json!({"id": id, "name": name}))
                .collect();
            json!({
                "claimValue": c.claim_value,
                "organizations": organizations,
                "firstSeen": time(Some(c.first_seen)),
                "lastSeen": time(Some(c.last_seen)),
                "count": c.count,
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({"conflicts": conflicts, "claimConflicts": claim_conflicts}),
    ))
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
    let instance = instance(&state, &caller)?;
    let input: NewOrg = json_body(body).await?;
    let org = instance
        .create_organization(
            input.name.as_deref().unwrap_or_default(),
            input.sso_active.unwrap_or(true),
        )
        .await?;
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
    let instance = instance(&state, &caller)?;
    let id = org_path(&org_id)?;
    let input: OrgUpdate = json_body(body).await?;
    let org = instance.set_sso_active(id, input.sso_active).await?;
    Ok(json_response(StatusCode::OK, org_json(&org)))
}

/// GET: how logins are routed — `none` (no organization has SSO active), `single` or `multi`.
pub async fn topology(State(state): State<AppState>, caller: Caller) -> Result<Response> {
    let topology = instance(&state, &caller)?.topology().await?;
    Ok(json_response(
        StatusCode::OK,
        json!({
            "topology": topology.kind(),
            "organizations": topology.organizations,
            "ssoOrganizations": topology.sso_organizations,
        }),
    ))
}
