//! `/api/orgs/{orgId}/scim/config` and `/scim/token`: the SCIM endpoint's settings and its token.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use axum::body::Body;
use serde::Deserialize;

use super::{AdminError, Caller, Result, Right, json_body, json_response, org_catalog, time};
use crate::catalog::{CatalogError, HeldBy, MatchSettingsUpdate};
use crate::routing::AppState;
use crate::tokens::{IssueError, IssueMode};

/// GET: endpoint URL, token state (never the token), catalog size, SSO state.
pub async fn config(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
) -> Result<Response> {
    let (catalog, sso_active) = org_catalog(&state, &caller, &org_id, Right::Read).await?;
    let scim = catalog.scim_state().await?;
    let conflicts: Vec<serde_json::Value> = scim
        .conflicts
        .iter()
        .map(|c| {
            let held_by = match &c.held_by {
                HeldBy::ThisOrganization => json!("this organization"),
                HeldBy::AnotherOrganization => json!("another organization"),
                HeldBy::Organization { id, name } => json!({"id": id, "name": name}),
            };
            json!({
                "displayName": c.display_name,
                "heldBy": held_by,
                "firstSeen": time(Some(c.first_seen)),
                "lastSeen": time(Some(c.last_seen)),
                "count": c.count,
            })
        })
        .collect();
    let token = scim.token.as_ref();
    // This replica's uses not yet flushed are newer than what the database has.
    let last_used = token.and_then(|t| state.services.tokens().last_used(t));
    Ok(json_response(
        StatusCode::OK,
        json!({
            "endpointUrl": catalog.base_url(),
            "hasActiveToken": token.is_some(),
            "maskedToken": token.map(|t| t.masked.clone()),
            "tokenCreatedAt": time(token.map(|t| t.created_at)),
            "tokenLastUsed": time(last_used),
            "groupCount": scim.group_count,
            "ssoActive": sso_active,
            "claimMatch": scim.settings.claim_match,
            "accountMatch": scim.settings.account_match,
            "pushDeprovisioning": scim.settings.push_deprovisioning,
            "openConflicts": conflicts,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConfigUpdate {
    #[serde(default)]
    claim_match: Option<String>,
    #[serde(default)]
    account_match: Option<String>,
    #[serde(default)]
    push_deprovisioning: Option<bool>,
}

/// PATCH `{claimMatch?, accountMatch?, pushDeprovisioning?}` → the new config.
pub async fn update_config(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    body: Body,
) -> Result<Response> {
    let (catalog, _) = org_catalog(&state, &caller, &org_id, Right::Write).await?;
    let input: ConfigUpdate = json_body(body).await?;
    catalog
        .update_settings(MatchSettingsUpdate {
            claim_match: input.claim_match,
            account_match: input.account_match,
            push_deprovisioning: input.push_deprovisioning,
        })
        .await?;
    config(State(state), caller, Path(org_id)).await
}

async fn issue(state: &AppState, caller: &Caller, org_id: &str, mode: IssueMode) -> Result<Response> {
    let (catalog, _) = org_catalog(state, caller, org_id, Right::Write).await?;
    let org = catalog.tenant().org_id;
    let issued = state
        .services
        .tokens()
        .issue(org, mode, &caller.audit())
        .await
        .map_err(|e| match e {
            IssueError::Store(s) => AdminError::from(CatalogError::from(s)),
            IssueError::Random => {
                AdminError::new(StatusCode::INTERNAL_SERVER_ERROR, "could not generate a token")
            }
        })?;
    let Some(token) = issued else {
        return Err(AdminError::not_found(
            "this organization has no active SCIM token to rotate",
        ));
    };
    let status = if mode == IssueMode::Generate {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(
        status,
        json!({"token": token.plaintext, "maskedToken": token.masked, "endpointUrl": catalog.base_url()}),
    ))
}

/// POST: a new token, revoking any active one. The plaintext appears in this response only.
pub async fn generate(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
) -> Result<Response> {
    issue(&state, &caller, &org_id, IssueMode::Generate).await
}

/// POST …/rotate: replace the active token (404 when there is none).
pub async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
) -> Result<Response> {
    issue(&state, &caller, &org_id, IssueMode::Rotate).await
}

/// DELETE: revoke the active token (404 when there is none).
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
) -> Result<Response> {
    let (catalog, _) = org_catalog(&state, &caller, &org_id, Right::Write).await?;
    if !state
        .services
        .tokens()
        .revoke(catalog.tenant().org_id, &caller.audit())
        .await
        .map_err(CatalogError::from)?
    {
        return Err(AdminError::not_found(
            "this organization has no active SCIM token",
        ));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
