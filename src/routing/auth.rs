//! Authentication of SCIM requests: the only code that sees bearer tokens. It resolves
//! `{orgId}` + token to a [`Tenant`] and hands only that to the handlers.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, OriginalUri, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::bearer::{BearerError, bearer};
use super::error::ApiError;
use super::held_body::HeldBody;
use super::limits::Refused;
use super::observe::CorrelationId;
use super::proxies::TrustedProxies;
use crate::catalog::Tenant;
use crate::ids::OrgId;
use crate::scim::error::ScimError;
use crate::store::audit::AuditContext;

/// The organization id of a SCIM path (`/api/orgs/{id}/scim/v2/…` or `/orgs/{id}/scim/v2/…`), in
/// its one canonical spelling (see [`OrgId`]).
pub fn org_id_of(path: &str) -> Option<i64> {
    let rest = path.strip_prefix("/api").unwrap_or(path);
    let rest = rest.strip_prefix("/orgs/")?;
    let (id, _) = rest.split_once('/')?;
    id.parse::<OrgId>().ok().map(OrgId::get)
}

/// Marks a response as belonging to an authenticated organization (for the `org` metrics label).
#[derive(Debug, Clone, Copy)]
pub struct AuthenticatedOrg(pub i64);

fn refuse(reason: &'static str) -> Response {
    metrics::counter!("scimgate_auth_failures_total", "reason" => reason).increment(1);
    ApiError::unauthorized().into_response()
}

/// The 429 of an organization over one of its limits, counted by reason.
pub(super) fn over_limit(org_id: i64, refused: Refused) -> ApiError {
    metrics::counter!("scimgate_rate_limited_total", "org" => org_id.to_string(), "reason" => refused.reason)
        .increment(1);
    ApiError::too_many_requests(refused.retry_after_secs, refused.reason)
}

fn refuse_over_limit(org_id: i64, refused: Refused) -> Response {
    let mut response = over_limit(org_id, refused).into_response();
    response.extensions_mut().insert(AuthenticatedOrg(org_id));
    response
}

/// SCIM changes are made by System on behalf of a token (named by its mask) from an address.
fn scim_audit_context(request: &Request, masked_token: &str, proxies: &TrustedProxies) -> AuditContext {
    let correlation_id = request
        .extensions()
        .get::<CorrelationId>()
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), |c| c.0.clone());
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| proxies.client(c.0.ip(), request.headers()).to_string());
    AuditContext {
        actor: AuditContext::SYSTEM.to_owned(),
        actor_detail: Some(serde_json::json!({"via": "scim", "token": masked_token, "client": client})),
        correlation_id,
    }
}

/// Middleware in front of every SCIM route.
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let token = match bearer(request.headers()) {
        Ok(token) => token,
        Err(BearerError::Missing) => return refuse("missing"),
        Err(BearerError::Malformed) => return refuse("malformed"),
    };
    let hash = state.hasher.hash(token);
    let owner = match state.tokens.resolve(&state.store, &hash).await {
        Ok(owner) => owner,
        Err(e) => {
            // Not a credential failure: IdPs quarantine jobs on 401s, so a hiccup must not look like one.
            tracing::warn!(error = %e, "token lookup failed");
            metrics::counter!("scimgate_auth_failures_total", "reason" => "unavailable").increment(1);
            return ApiError::unavailable().into_response();
        }
    };
    let Some(owner) = owner else {
        return refuse("unknown_token");
    };
    // Checked after the lookup so an unknown org and a foreign token look the same.
    // Nested routers see a path stripped of the base; the original URI carries the org id.
    let path = request
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| request.uri().path(), |u| u.0.path());
    if org_id_of(path) != Some(owner.org_id) {
        return refuse("foreign_org");
    }
    let org_id = owner.org_id;
    if !state.gates.scim_enabled(org_id, owner.sso_active) {
        let mut response = ApiError::from(ScimError::not_found(
            "SCIM provisioning is disabled for this organization",
        ))
        .into_response();
        response.extensions_mut().insert(AuthenticatedOrg(org_id));
        return response;
    }
    let in_flight = match state.limits.admit(org_id) {
        Ok(permit) => permit,
        Err(refused) => return refuse_over_limit(org_id, refused),
    };
    state.token_usage.record(owner.token_id);
    let audit = scim_audit_context(&request, &owner.masked, &state.trusted_proxies);
    request.extensions_mut().insert(audit);
    request.extensions_mut().insert(Tenant {
        org_id,
        org_name: owner.org_name,
    });
    // The organization's share of the pool is taken by the handler once it has read the request
    // (see `scim::pool_share`): a slow upload must not hold it.
    let response = next.run(request).await;
    // The answer counts against the organization's cap until it is written (or the client is gone).
    let mut response = response.map(|body| HeldBody::wrap(body, in_flight));
    response.extensions_mut().insert(AuthenticatedOrg(org_id));
    response
}

#[cfg(test)]
mod tests {
    use super::org_id_of;

    #[test]
    fn org_ids_come_from_either_base_path() {
        assert_eq!(org_id_of("/api/orgs/7/scim/v2/Users"), Some(7));
        assert_eq!(org_id_of("/orgs/12/scim/v2/Groups/x"), Some(12));
        assert_eq!(org_id_of("/api/orgs/007/scim/v2/Users"), None);
        assert_eq!(org_id_of("/api/orgs/-1/scim/v2/Users"), None);
        assert_eq!(org_id_of("/api/orgs/abc/scim/v2/Users"), None);
        assert_eq!(org_id_of("/api/orgs/99999999999999999999/scim/v2"), None);
        assert_eq!(org_id_of("/healthz"), None);
    }
}
