//! `GET /api/me`: who the admin token speaks for and which organizations it opens, so the owner
//! console can offer them by name without decoding the token itself.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{Caller, Result, json_response};
use crate::routing::AppState;

/// GET → `{subject, instanceAdmin, organizations: [{id, name, ssoActive, canWrite}]}`: the
/// organizations the token names that exist; an instance admin's are every organization.
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Response> {
    let principal = &caller.principal;
    let instance = state.services.instance();
    let orgs = if principal.instance_admin {
        instance.organizations().await?
    } else {
        let ids: Vec<i64> = principal.granted_orgs().collect();
        instance.organizations_among(&ids).await?
    };
    let organizations: Vec<_> = orgs
        .iter()
        .map(|o| {
            json!({
                "id": o.id,
                "name": o.name,
                "ssoActive": o.sso_active,
                "canWrite": principal.can_write(o.id),
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({
            "subject": principal.subject,
            "instanceAdmin": principal.instance_admin,
            "organizations": organizations,
        }),
    ))
}
