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
use super::observe::{AuthenticatedOrg, CorrelationId, ScimAttribution};
use super::proxies::TrustedProxies;
use crate::config::OrgId;
use crate::scim::error::ScimError;
use crate::services::ScimAccess;
use crate::tokens::AuditContext;

/// The organization id of a SCIM path (`/api/orgs/{id}/scim/v2/…` or `/orgs/{id}/scim/v2/…`), in
/// its one canonical spelling (see [`OrgId`]).
pub fn org_id_of(path: &str) -> Option<i64> {
    let rest = path.strip_prefix("/api").unwrap_or(path);
    let rest = rest.strip_prefix("/orgs/")?;
    let (id, _) = rest.split_once('/')?;
    id.parse::<OrgId>().ok().map(OrgId::get)
}

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

/// Attributes the request to `org_id` once its token has named that organization: its activity
/// is recorded as that organization's (never before: an unauthenticated request names none).
fn attribute(request: &Request, org_id: i64) {
    if let Some(attribution) = request.extensions().get::<ScimAttribution>() {
        attribution.set(org_id);
    }
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
    // Nested routers see a path stripped of the base; the original URI carries the org id.
    let path = request
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| request.uri().path(), |u| u.0.path());
    let (tenant, token_id, masked_token) = match state.services.scim_access(token, org_id_of(path)).await {
        Ok(ScimAccess::Granted {
            tenant,
            token_id,
            masked_token,
        }) => (tenant, token_id, masked_token),
        Ok(ScimAccess::UnknownToken) => return refuse("unknown_token"),
        Ok(ScimAccess::ForeignOrganization) => return refuse("foreign_org"),
        Ok(ScimAccess::Disabled { org_id }) => {
            attribute(&request, org_id);
            let mut response = ApiError::from(ScimError::not_found(
                "SCIM provisioning is disabled for this organization",
            ))
            .into_response();
            response.extensions_mut().insert(AuthenticatedOrg(org_id));
            return response;
        }
        Err(e) => {
            // Not a credential failure: IdPs quarantine jobs on 401s, so a hiccup must not look like one.
            tracing::warn!(error = %e, "token lookup failed");
            metrics::counter!("scimgate_auth_failures_total", "reason" => "unavailable").increment(1);
            return ApiError::database_unavailable().into_response();
        }
    };
    let org_id = tenant.org_id;
    attribute(&request, org_id);
    let in_flight = match state.limits.admit(org_id) {
        Ok(permit) => permit,
        Err(refused) => return refuse_over_limit(org_id, refused),
    };
    state.services.tokens().record_use(token_id);
    let audit = scim_audit_context(&request, &masked_token, &state.trusted_proxies);
    request.extensions_mut().insert(audit);
    request.extensions_mut().insert(tenant);
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
