//! One middleware for what every request gets: a correlation id (on a tracing span, so every log
//! line the request causes carries it), a time limit, a panic guard, one structured log line and
//! the request metrics. Metric labels take values from fixed sets only (a route template, a known
//! method or `other`, the organization only once authenticated): nothing a client sends becomes a
//! label of its own.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header, header::HeaderName};
use axum::middleware::Next;
use axum::response::Response;
use futures::FutureExt;
use tracing::Instrument;

use super::AppState;
use super::error::Family;
use super::scim::Endpoint;

/// Marks a response as belonging to an authenticated organization (for the `org` metrics label);
/// set by authentication, read here.
#[derive(Debug, Clone, Copy)]
pub struct AuthenticatedOrg(pub i64);

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
    use super::{Method, method_label, resource_label};

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
    fn resource_labels_are_bounded() {
        assert_eq!(resource_label("/api/orgs/1/scim/v2/users/abc"), "Users");
        assert_eq!(resource_label("/orgs/1/scim/v2/Groups"), "Groups");
        assert_eq!(resource_label("/api/orgs/1/scim/v2/evil-random-name"), "other");
        assert_eq!(resource_label("/api/orgs/1/scim/v2"), "root");
        assert_eq!(resource_label("/metrics"), "none");
    }
}
