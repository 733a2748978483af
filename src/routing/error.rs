//! The one place where errors become HTTP responses: every error body is a SCIM Error.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::catalog::{CatalogError, NameHolder};
use crate::scim::error::ScimError;
use crate::scim::resource::error_body;

/// Content type of every SCIM answer.
pub const SCIM_JSON: &str = "application/scim+json";

/// Seconds an IdP should wait before retrying after a 503.
const RETRY_AFTER_SECS: u64 = 5;

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub error: ScimError,
    /// 401s carry `WWW-Authenticate`.
    pub www_authenticate: bool,
    /// 503s and 429s carry `Retry-After` (seconds).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// 401 with a body that reveals nothing about whether the organization exists.
    pub fn unauthorized() -> Self {
        ApiError {
            error: ScimError::new(
                401,
                "Authentication failed: a valid bearer token for this organization is required",
            ),
            www_authenticate: true,
            retry_after: None,
        }
    }

    /// 503: the database could not answer in time; retrying is safe.
    pub fn unavailable() -> Self {
        ApiError {
            retry_after: Some(RETRY_AFTER_SECS),
            ..ScimError::new(503, "The service is temporarily unavailable; retry later").into()
        }
    }

    /// 429: the organization is over its rate or concurrency limit.
    pub fn too_many_requests(retry_after_secs: u64, what: &str) -> Self {
        ApiError {
            retry_after: Some(retry_after_secs),
            ..ScimError::new(
                429,
                format!("Too many requests for this organization ({what} limit); retry later"),
            )
            .into()
        }
    }
}

impl From<ScimError> for ApiError {
    fn from(error: ScimError) -> Self {
        ApiError {
            error,
            www_authenticate: false,
            retry_after: None,
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        let error = match e {
            CatalogError::Invalid(e) => e,
            CatalogError::NotFound { kind, id } => ScimError::not_found(format!("{kind} {id} not found")),
            CatalogError::PreconditionFailed => ScimError::new(
                412,
                "The resource has changed: its version does not match If-Match",
            ),
            CatalogError::DisplayNameTaken {
                name,
                holder,
                requester,
            } => ScimError::uniqueness(match holder {
                NameHolder::SameOrg { group_id } => format!(
                    "displayName \"{name}\" is already used by another group of this organization (id {group_id}); display names are compared case-insensitively"
                ),
                NameHolder::OtherOrg { org_id, org_name } => format!(
                    "displayName \"{name}\" is already used by organization \"{org_name}\" (id {org_id}) on this instance; rename or namespace the group in your IdP, e.g. \"{requester}-{name}\""
                ),
                NameHolder::OtherOrgHidden | NameHolder::Unknown => format!(
                    "displayName \"{name}\" is already used by another organization on this instance; rename or namespace the group in your IdP, e.g. \"{requester}-{name}\""
                ),
            }),
            CatalogError::Taken(detail) => ScimError::uniqueness(detail),
            CatalogError::Conflict(detail) => ScimError::new(409, detail),
            CatalogError::UnknownMembers(ids) => {
                let shown: Vec<&str> = ids.iter().take(10).map(String::as_str).collect();
                let more = if ids.len() > shown.len() {
                    format!(" and {} more", ids.len() - shown.len())
                } else {
                    String::new()
                };
                ScimError::invalid_value(format!(
                    "members {} are not users of this organization{more}",
                    shown
                        .iter()
                        .map(|id| format!("\"{id}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
            CatalogError::Unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable");
                return ApiError::unavailable();
            }
            CatalogError::Internal(e) => {
                // Never echo internals: the log has them, the client gets a generic message.
                tracing::error!(error = %e, "internal error");
                ScimError::new(500, "Internal server error")
            }
        };
        error.into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, error_body(&self.error).to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
        if self.www_authenticate {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scimgate\""),
            );
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
