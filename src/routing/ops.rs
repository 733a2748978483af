//! Operator endpoints: liveness, readiness, Prometheus metrics. Their errors use the admin API's
//! body, `{"status": <int>, "message": "…"}` (design §2).

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::{admin_error_response, error_response_for};

/// Seconds a probe should wait before asking again after a 503.
const READY_RETRY_AFTER_SECS: u64 = 5;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// The database answers, every migration is applied, and the process is not shutting down.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.draining.load(Ordering::Relaxed) {
        return admin_error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: shutting down",
            Some(READY_RETRY_AFTER_SECS),
        );
    }
    match state.services.instance().ready().await {
        Ok(true) => (StatusCode::OK, "ready\n").into_response(),
        Ok(false) => admin_error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: database migrations are pending",
            Some(READY_RETRY_AFTER_SECS),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            admin_error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the database is unavailable",
                Some(READY_RETRY_AFTER_SECS),
            )
        }
    }
}

/// Prometheus text exposition. Catalog, team, conflict and audit gauges are read from the
/// database at scrape time (a few grouped queries), so every replica reports the same, current
/// values.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let instance = state.services.instance();
    match instance.stats().await {
        Ok(stats) => {
            for (org, s) in stats {
                let org = org.to_string();
                metrics::gauge!("scimgate_catalog_rows", "org" => org.clone()).set(s.catalog_rows as f64);
                metrics::gauge!("scimgate_teams", "org" => org.clone(), "state" => "delegated")
                    .set(s.delegated_teams as f64);
                metrics::gauge!("scimgate_teams", "org" => org.clone(), "state" => "orphaned")
                    .set(s.orphaned_teams as f64);
                metrics::gauge!("scimgate_open_conflicts", "org" => org).set(s.open_conflicts as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not read catalog statistics for /metrics"),
    }
    match instance.oldest_audit_event_age().await {
        Ok(age) => metrics::gauge!("scimgate_audit_oldest_event_age_seconds").set(age.unwrap_or(0.0)),
        Err(e) => tracing::warn!(error = %e, "could not read the oldest audit event for /metrics"),
    }
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

/// Unknown paths outside the SCIM base URLs (which have a fallback of their own, after
/// authentication).
pub async fn not_found(uri: Uri) -> Response {
    error_response_for(uri.path(), StatusCode::NOT_FOUND, "not found", None)
}
