//! The admin API for organization owners and instance admins: JSON over HTTP, authenticated with
//! a JWT ([`super::admin_auth`]). Handlers resolve the organization and the caller's rights, then
//! call the tenant's catalog service; errors are plain JSON `{status, message}`.

mod activity;
mod audit;
mod catalog;
mod instance;
mod logins;
mod me;

/// `POST /api/logins`: not an admin route (its callers are the platform's login path), but it
/// speaks the admin API's JSON and, for posted claims, its tokens.
pub use logins::login;
mod scim_tokens;
mod teams;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::AppState;
use super::admin_auth::{Admin, AdminUnauthorized};
use super::error::{ApiError, admin_error_response};
use super::observe::CorrelationId;
use crate::auth::admin::Principal;
use crate::catalog::{Catalog, CatalogError};
use crate::config::OrgId;
use crate::scim::error::excerpt;
use crate::tokens::AuditContext;

/// Largest admin request body.
const BODY_LIMIT: usize = 64 * 1024;

/// An admin API error: status and a message for the person at the other end.
#[derive(Debug)]
pub struct AdminError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds to wait before retrying, as the shared error mapping decided (503s).
    pub retry_after: Option<u64>,
}

impl AdminError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        AdminError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        admin_error_response(self.status, &self.message, self.retry_after)
    }
}

/// Catalog errors read the same to an owner as to an IdP: one mapping (the SCIM one) decides
/// status, wording and `Retry-After`; only the envelope differs.
impl From<CatalogError> for AdminError {
    fn from(e: CatalogError) -> Self {
        let api = ApiError::from(e);
        AdminError {
            status: StatusCode::from_u16(api.error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message: api.error.detail,
            retry_after: api.retry_after,
        }
    }
}

type Result<T> = std::result::Result<T, AdminError>;

/// Parses a JSON body of at most [`BODY_LIMIT`] bytes into `T`.
async fn json_body<T: DeserializeOwned>(body: Body) -> Result<T> {
    let bytes: Bytes = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| {
        AdminError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {BODY_LIMIT} bytes"),
        )
    })?;
    let invalid = |e: serde_json::Error| {
        AdminError::new(
            StatusCode::BAD_REQUEST,
            format!("invalid JSON body: {}", excerpt(&e.to_string())),
        )
    };
    let value: Value = serde_json::from_slice(&bytes).map_err(invalid)?;
    refuse_nul(&value, "body")?;
    T::deserialize(value).map_err(invalid)
}

/// PostgreSQL cannot store U+0000 in text (SQLite can): refused in any admin body string or key,
/// the same on both databases, before anything is stored.
fn refuse_nul(value: &Value, at: &str) -> Result<()> {
    let nul_in = |field: &str| {
        AdminError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "{} contains a NUL character (U+0000), which is not allowed",
                excerpt(field)
            ),
        )
    };
    match value {
        Value::String(s) if s.contains('\0') => Err(nul_in(at)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| refuse_nul(item, &format!("{at}[{i}]"))),
        Value::Object(fields) => fields.iter().try_for_each(|(key, item)| {
            if key.contains('\0') {
                return Err(nul_in(&format!("a key of {at}")));
            }
            refuse_nul(item, &format!("{at}.{key}"))
        }),
        _ => Ok(()),
    }
}

/// A JSON answer.
fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// What a handler needs about the request: caller, correlation id.
pub struct Caller {
    pub principal: Principal,
    pub correlation_id: String,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AdminUnauthorized;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> std::result::Result<Self, Self::Rejection> {
        let Admin(principal) = Admin::from_request_parts(parts, state).await?;
        let correlation_id = parts
            .extensions
            .get::<CorrelationId>()
            .map_or_else(|| uuid::Uuid::now_v7().to_string(), |c| c.0.clone());
        Ok(Caller {
            principal,
            correlation_id,
        })
    }
}

impl Caller {
    fn audit(&self) -> AuditContext {
        AuditContext {
            actor: self.principal.subject.clone(),
            actor_detail: Some(json!({"via": "admin-api"})),
            correlation_id: self.correlation_id.clone(),
        }
    }
}

/// Needed right on the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Right {
    Read,
    Write,
}

/// Resolves `{orgId}` for `caller`: 403 without the right (whether or not the organization
/// exists), 404 for an unknown or gated-off organization.
async fn org_catalog(
    state: &AppState,
    caller: &Caller,
    org_id: &str,
    right: Right,
) -> Result<(Catalog, bool)> {
    let id = org_path(org_id)?;
    let allowed = match right {
        Right::Read => caller.principal.can_read(id),
        Right::Write => caller.principal.can_write(id),
    };
    if !allowed {
        return Err(AdminError::new(
            StatusCode::FORBIDDEN,
            format!(
                "this token does not grant organization:{} on organization {id}",
                match right {
                    Right::Read => "read",
                    Right::Write => "write",
                }
            ),
        ));
    }
    state
        .services
        .owner_catalog(id, caller.audit())
        .await?
        .ok_or_else(|| AdminError::not_found("IdP group delegation is not enabled for this organization"))
}

/// The organization a path names: its canonical id, or 404 (no other spelling names it).
fn org_path(segment: &str) -> Result<i64> {
    segment
        .parse::<OrgId>()
        .map(OrgId::get)
        .map_err(|_| AdminError::not_found("no such organization"))
}

/// Renders a microsecond timestamp for the admin API.
fn time(micros: Option<i64>) -> Value {
    micros.map_or(Value::Null, |m| {
        Value::String(crate::scim::resource::format_time(m))
    })
}

/// The admin API's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/orgs/{org_id}/idp-groups",
            get(catalog::list).post(catalog::add),
        )
        .route(
            "/api/orgs/{org_id}/idp-groups/{group_id}",
            delete(catalog::remove),
        )
        .route(
            "/api/orgs/{org_id}/scim/config",
            get(scim_tokens::config).patch(scim_tokens::update_config),
        )
        .route("/api/orgs/{org_id}/scim/activity", get(activity::report))
        .route(
            "/api/orgs/{org_id}/scim/token",
            post(scim_tokens::generate).delete(scim_tokens::revoke),
        )
        .route("/api/orgs/{org_id}/scim/token/rotate", post(scim_tokens::rotate))
        .route("/api/orgs/{org_id}/teams", get(teams::list).post(teams::create))
        .route(
            "/api/orgs/{org_id}/teams/{team_id}",
            get(teams::describe).put(teams::update).delete(teams::remove),
        )
        .route(
            "/api/orgs/{org_id}/teams/{team_id}/members",
            get(teams::members).post(teams::add_member),
        )
        .route(
            "/api/orgs/{org_id}/teams/{team_id}/members/{user_id}",
            delete(teams::remove_member),
        )
        .route("/api/orgs/{org_id}/audit-events", get(audit::list))
        .route("/api/me", get(me::me))
        .route("/api/instance/orgs", get(instance::list).post(instance::create))
        .route("/api/instance/conflicts", get(instance::conflicts))
        .route("/api/instance/topology", get(instance::topology))
        .route(
            "/api/instance/orgs/{org_id}",
            axum::routing::patch(instance::update),
        )
}
