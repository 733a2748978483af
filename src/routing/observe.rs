//! One middleware for what every request gets: a correlation id (on a tracing span, so every log
//! line the request causes carries it), a time limit, a panic guard, one structured log line, the
//! request metrics, and for an authenticated SCIM request its organization's activity record (a
//! route template, never the raw path or query). Metric labels take values from fixed sets only
//! (a route template, a known method or `other`, the organization only once authenticated):
//! nothing a client sends becomes a label of its own.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header, header::HeaderName};
use axum::middleware::Next;
use axum::response::Response;
use futures::FutureExt;
use tracing::Instrument;

use super::AppState;
use super::error::{Family, SentScimError};
use super::scim::Endpoint;
use crate::activity::{BulkOperations, ScimFailure, ScimRequest};

/// Marks a response as belonging to an authenticated organization (for the `org` metrics label);
/// set by authentication, read here.
#[derive(Debug, Clone, Copy)]
pub struct AuthenticatedOrg(pub i64);

/// The organization a SCIM request was authenticated for, set by authentication the moment it is
/// known and read here after the answer: even an answer made here (a timeout, a panic) is then
/// recorded as that organization's.
#[derive(Debug, Clone, Default)]
pub struct ScimAttribution(Arc<OnceLock<i64>>);

impl ScimAttribution {
    /// Attributes the request to `org_id`.
    pub fn set(&self, org_id: i64) {
        let _ = self.0.set(org_id);
    }

    fn get(&self) -> Option<i64> {
        self.0.get().copied()
    }
}

/// The request's correlation id, for the audit events it causes.
#[derive(Debug, Clone)]
pub struct CorrelationId(pub String);

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A correlation id for the request: the caller's `X-Request-Id` if it is short and plain, else a new one.
fn correlation_id(request: &Request) -> String {
    request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// The SCIM resource a path addresses, from a fixed set (never the raw path: labels stay bounded).
fn resource_label(path: &str) -> &'static str {
    match path.split_once("/scim/v2") {
        Some((_, rest)) => rest
            .trim_start_matches('/')
            .split('/')
            .next()
            .and_then(Endpoint::parse)
            .map_or(
                if rest.trim_matches('/').is_empty() {
                    "root"
                } else {
                    "other"
                },
                Endpoint::label,
            ),
        None => "none",
    }
}

/// The route template of a SCIM path relative to its base (`/Groups/{id}`, `/Users`, `/.search`):
/// fixed names and placeholders only, so no id or other value of the request is kept, and its
/// length does not grow with the path.
fn scim_template(path: &str) -> String {
    let rest = path.split_once("/scim/v2").map_or("", |(_, rest)| rest);
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    if rest.is_empty() {
        return "/".to_owned();
    }
    let mut template = String::new();
    for (i, segment) in rest.split('/').enumerate() {
        let part = match (i, segment) {
            (_, ".search") => ".search",
            (_, "") => "",
            (0, name) if name.eq_ignore_ascii_case("Me") => "Me",
            (0, name) => Endpoint::parse(name).map_or("{resource}", Endpoint::label),
            (1, _) => "{id}",
            _ => {
                template.push_str("/…");
                break;
            }
        };
        template.push('/');
        template.push_str(part);
    }
    template
}

/// The activity record of a SCIM request of `org_id` answered with `response` (a Bulk's answer
/// hands over what its operations came to).
fn scim_request(org_id: i64, method: &'static str, path: &str, response: &mut Response) -> ScimRequest {
    let status = response.status();
    // A `.search` is a read, whatever its method.
    let write = matches!(method, "POST" | "PUT" | "PATCH" | "DELETE") && !path.ends_with("/.search");
    let error = (status.is_client_error() || status.is_server_error()).then(|| {
        let sent = response.extensions().get::<SentScimError>();
        ScimFailure {
            path: scim_template(path),
            scim_type: sent.and_then(|s| s.scim_type).map(|t| t.as_str()),
            detail: sent.map_or_else(
                || status.canonical_reason().unwrap_or("error").to_owned(),
                |s| s.detail.clone(),
            ),
        }
    });
    ScimRequest {
        org_id,
        method,
        status: status.as_u16(),
        write,
        error,
        operations: response
            .extensions_mut()
            .remove::<BulkOperations>()
            .filter(|_| status.is_success()),
    }
}

/// The method as a label: the standard ones by name, anything else `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Seconds an IdP should wait before retrying a request that ran out of time (and any 503 that
/// did not say).
const TIMEOUT_RETRY_AFTER_SECS: u64 = 5;

/// Wraps every request.
pub async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = correlation_id(&request);
    request.extensions_mut().insert(CorrelationId(id.clone()));
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let path = request.uri().path();
    let resource = resource_label(path);
    // Answers made here bypass the error-body layer: they take the body of the route's API.
    let family = Family::of(path);
    let scim = (family == Family::Scim).then(|| {
        let attribution = ScimAttribution::default();
        request.extensions_mut().insert(attribution.clone());
        (attribution, request.uri().clone())
    });
    // Error level so the span exists whenever any line is logged: a warning inside the request
    // must carry the correlation id even when the operator logs only warnings.
    let span = tracing::error_span!("request", correlation_id = %id, method, route = %route);
    let run = std::panic::AssertUnwindSafe(next.run(request).instrument(span.clone())).catch_unwind();
    let mut response = match tokio::time::timeout(state.request_timeout, run).await {
        Ok(Ok(response)) => response,
        Ok(Err(_)) => {
            span.in_scope(|| tracing::error!("handler panicked"));
            family.error_response(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error", None)
        }
        Err(_) => {
            span.in_scope(|| tracing::warn!(timeout = ?state.request_timeout, "request timed out"));
            family.error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "The request took too long; retry later",
                Some(TIMEOUT_RETRY_AFTER_SECS),
            )
        }
    };
    let status = response.status().as_u16();
    let org = response.extensions().get::<AuthenticatedOrg>().map(|o| o.0);
    let elapsed = started.elapsed();
    // `org` only for authenticated requests: an attacker-chosen path must not create series.
    metrics::counter!(
        "scimgate_http_requests_total",
        "org" => org.map_or_else(|| "none".to_owned(), |o| o.to_string()),
        "route" => route.clone(),
        "resource" => resource,
        "method" => method,
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!(
        "scimgate_http_request_duration_seconds",
        "route" => route.clone(),
        "resource" => resource,
        "method" => method
    )
    .record(elapsed.as_secs_f64());
    tracing::info!(
        target: "scimgate::request",
        org = org,
        method,
        route = %route,
        resource,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        correlation_id = %id,
    );
    if let Some((attribution, uri)) = scim
        && let Some(org_id) = attribution.get()
    {
        let request = scim_request(org_id, method, uri.path(), &mut response);
        state.services.activity().record(request, &id);
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    // Design §5: a 503 always says when to come back, whichever layer made it (IdPs that see none
    // retry at once, which is what an unavailable database needs least).
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .entry(header::RETRY_AFTER)
            .or_insert(HeaderValue::from(TIMEOUT_RETRY_AFTER_SECS));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::{Method, method_label, resource_label, scim_template};

    #[test]
    fn method_labels_are_a_fixed_set() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(method_label(&Method::OPTIONS), "OPTIONS");
        for odd in ["FOO123", "get", "PROPFIND", "CONNECT", "TRACE"] {
            assert_eq!(
                method_label(&Method::from_bytes(odd.as_bytes()).unwrap()),
                "other",
                "{odd}"
            );
        }
    }

    #[test]
    fn scim_templates_name_no_value_of_the_request() {
        let cases = [
            ("/api/orgs/1/scim/v2/Groups/abc-123", "/Groups/{id}"),
            ("/orgs/1/scim/v2/users", "/Users"),
            ("/api/orgs/1/scim/v2/.search", "/.search"),
            ("/api/orgs/1/scim/v2/Users/.search", "/Users/.search"),
            ("/api/orgs/1/scim/v2/Schemas/urn:x", "/Schemas/{id}"),
            ("/api/orgs/1/scim/v2/secret-name", "/{resource}"),
            ("/api/orgs/1/scim/v2/me", "/Me"),
            ("/api/orgs/1/scim/v2/bulk", "/Bulk"),
            ("/orgs/1/scim/v2/Bulk", "/Bulk"),
            ("/api/orgs/1/scim/v2/Groups/a/b/c/d", "/Groups/{id}/…"),
            ("/api/orgs/1/scim/v2/Users/", "/Users/"),
            ("/api/orgs/1/scim/v2", "/"),
            ("/api/orgs/1/scim/v2/", "/"),
        ];
        for (path, template) in cases {
            assert_eq!(scim_template(path), template, "{path}");
        }
    }

    #[test]
    fn resource_labels_are_bounded() {
        assert_eq!(resource_label("/api/orgs/1/scim/v2/users/abc"), "Users");
        assert_eq!(resource_label("/orgs/1/scim/v2/Groups"), "Groups");
        assert_eq!(resource_label("/orgs/1/scim/v2/bulk"), "Bulk");
        assert_eq!(resource_label("/api/orgs/1/scim/v2/evil-random-name"), "other");
        assert_eq!(resource_label("/api/orgs/1/scim/v2"), "root");
        assert_eq!(resource_label("/metrics"), "none");
    }
}
