//! The one place where errors become HTTP responses. Every error carries its API's body: a SCIM
//! Error under the SCIM base URLs, `{"status": <int>, "message": "…"}` everywhere else (admin API,
//! `/healthz`, `/readyz`, `/metrics`); [`complete_error_bodies`] gives that body to the errors
//! axum answers by itself (405, extractor rejections). No error grows with the input it refuses:
//! quoted input is an [`excerpt`] and every message is capped at [`MAX_DETAIL_CHARS`].

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::catalog::{CatalogError, NameHolder};
use crate::scim::error::{MAX_DETAIL_CHARS, ScimError, ScimType, excerpt, truncate_chars};
use crate::scim::resource::error_body;

/// Content type of every SCIM answer.
pub const SCIM_JSON: &str = "application/scim+json";

/// Seconds an IdP should wait before retrying after a 503.
const RETRY_AFTER_SECS: u64 = 5;

/// What a SCIM error response told the client, kept on the response so that the request's
/// activity record (see [`super::observe`]) says what the IdP was told, not a reconstruction.
#[derive(Debug, Clone)]
pub struct SentScimError {
    pub scim_type: Option<ScimType>,
    /// The `detail` as sent (capped at [`MAX_DETAIL_CHARS`]).
    pub detail: String,
}

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

    /// 503 because the database could not answer (counted: operators alert on it).
    pub fn database_unavailable() -> Self {
        metrics::counter!("scimgate_database_unavailable_total").increment(1);
        ApiError::unavailable()
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
            CatalogError::NotFound { kind, id } => {
                ScimError::not_found(format!("{kind} {} not found", excerpt(&id)))
            }
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
            CatalogError::UnknownMembers { shown, count } => {
                let more = match count.saturating_sub(shown.len() as u64) {
                    0 => String::new(),
                    more => format!(" and {more} more"),
                };
                ScimError::invalid_value(format!(
                    "members {} are not users of this organization{more}",
                    shown
                        .iter()
                        .map(|id| format!("\"{}\"", excerpt(id)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
            CatalogError::Unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable");
                return ApiError::database_unavailable();
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
        let mut error = self.error;
        error.detail = truncate_chars(&error.detail, MAX_DETAIL_CHARS);
        let mut response = (status, error_body(&error).to_string()).into_response();
        response.extensions_mut().insert(SentScimError {
            scim_type: error.scim_type,
            detail: error.detail,
        });
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

/// The error body of the admin API, `/healthz`, `/readyz` and `/metrics`:
/// `{"status": <int>, "message": "…"}`, with `Retry-After` (seconds) when given.
pub fn admin_error_response(status: StatusCode, message: &str, retry_after: Option<u64>) -> Response {
    let body = json!({"status": status.as_u16(), "message": truncate_chars(message, MAX_DETAIL_CHARS)});
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// Which API a path belongs to, and so which error body it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Under `/api/orgs/{orgId}/scim/v2` or `/orgs/{orgId}/scim/v2`: SCIM Errors.
    Scim,
    /// Everything else (admin API, operator endpoints): `{status, message}`.
    Admin,
}

impl Family {
    /// The family of a request path.
    pub fn of(path: &str) -> Family {
        let rest = path.strip_prefix("/api").unwrap_or(path);
        let under_scim_base = rest
            .strip_prefix("/orgs/")
            .and_then(|r| r.split_once('/'))
            .is_some_and(|(_, after)| after == "scim/v2" || after.starts_with("scim/v2/"));
        if under_scim_base {
            Family::Scim
        } else {
            Family::Admin
        }
    }
}

/// An error response in the body of `path`'s API (for errors raised outside any handler, such as
/// a timeout in a middleware).
pub fn error_response_for(
    path: &str,
    status: StatusCode,
    message: &str,
    retry_after: Option<u64>,
) -> Response {
    Family::of(path).error_response(status, message, retry_after)
}

impl Family {
    /// An error response in this family's body.
    pub fn error_response(self, status: StatusCode, message: &str, retry_after: Option<u64>) -> Response {
        match self {
            Family::Scim => ApiError {
                retry_after,
                ..ScimError::new(status.as_u16(), message).into()
            }
            .into_response(),
            Family::Admin => admin_error_response(status, message, retry_after),
        }
    }
}

/// Whether some segment of a raw (percent-encoded) path does not decode to UTF-8.
fn has_non_utf8_segment(path: &str) -> bool {
    path.split('/')
        .any(|segment| std::str::from_utf8(&percent_decode(segment)).is_err())
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits stays as it is.
fn percent_decode(segment: &str) -> Vec<u8> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |at: usize| bytes.get(at).and_then(|h| char::from(*h).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                // Two hex digits are at most 0xFF.
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(u8::MAX));
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Whether a response already carries a JSON body (a handler's own error: never re-wrapped).
fn has_json_body(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.trim_start().to_ascii_lowercase();
            ct.starts_with("application/json") || ct.starts_with("application/scim+json")
        })
}

/// What to say for an error axum produced without a body of ours.
fn default_message(status: StatusCode, method: &Method, allow: Option<&str>) -> String {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => match allow.filter(|a| !a.is_empty()) {
            Some(allow) => format!(
                "{} is not allowed on this path (allowed: {})",
                excerpt(method.as_str()),
                excerpt(allow)
            ),
            None => format!("{} is not allowed on this path", excerpt(method.as_str())),
        },
        StatusCode::NOT_FOUND => "not found".to_owned(),
        StatusCode::BAD_REQUEST => "the request is malformed".to_owned(),
        other => other.canonical_reason().unwrap_or("error").to_owned(),
    }
}

/// Middleware: an error response that has no JSON body yet (axum's own 405, a path or query
/// rejection) gets the body of its route's API, keeping its status and headers (`Allow`,
/// `Retry-After`, `WWW-Authenticate`) and extensions. A path segment that is not UTF-8 names
/// no resource, so the path rejection it causes is a 404.
pub async fn complete_error_bodies(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let family = Family::of(path);
    let non_utf8 = has_non_utf8_segment(path);
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || has_json_body(&response) {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let (status, message) = if non_utf8 && status == StatusCode::BAD_REQUEST {
        (
            StatusCode::NOT_FOUND,
            "not found: a path segment is not valid UTF-8, so it names no resource".to_owned(),
        )
    } else {
        let allow = parts.headers.get(header::ALLOW).and_then(|v| v.to_str().ok());
        (status, default_message(status, &method, allow))
    };
    let shaped = family.error_response(status, &message, None);
    let (shaped_parts, body) = shaped.into_parts();
    parts.status = status;
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &shaped_parts.headers {
        parts.headers.insert(name.clone(), value.clone());
    }
    if let Some(sent) = shaped_parts.extensions.get::<SentScimError>() {
        parts.extensions.insert(sent.clone());
    }
    Response::from_parts(parts, Body::new(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_follow_the_scim_base_urls() {
        assert_eq!(Family::of("/api/orgs/1/scim/v2/Users"), Family::Scim);
        assert_eq!(Family::of("/orgs/1/scim/v2"), Family::Scim);
        assert_eq!(Family::of("/orgs/x/scim/v2/"), Family::Scim);
        assert_eq!(Family::of("/api/orgs/1/scim/config"), Family::Admin);
        assert_eq!(Family::of("/api/orgs/1/scim/v2x"), Family::Admin);
        assert_eq!(Family::of("/api/orgs/1/teams"), Family::Admin);
        assert_eq!(Family::of("/healthz"), Family::Admin);
        assert_eq!(Family::of("/"), Family::Admin);
    }

    #[test]
    fn non_utf8_segments_are_found_after_decoding() {
        assert!(has_non_utf8_segment("/api/orgs/1/scim/v2/Users/%FF"));
        assert!(has_non_utf8_segment("/a/%c3%28"));
        assert!(!has_non_utf8_segment("/a/%C3%A9/%%/%4"));
        assert!(!has_non_utf8_segment("/api/orgs/1/scim/v2/Users/abc"));
    }

    #[test]
    fn details_are_capped_where_they_become_responses() {
        let huge = "x".repeat(1_000_000);
        let response = ApiError::from(ScimError::invalid_value(huge.clone())).into_response();
        assert!(response.headers().get(header::CONTENT_TYPE).is_some());
        let error = CatalogError::UnknownMembers {
            shown: vec![huge.clone(), huge],
            count: 2,
        };
        let detail = ApiError::from(error).error.detail;
        assert!(detail.len() < 400, "{} bytes", detail.len());
    }
}
