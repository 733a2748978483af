//! Operator endpoints: liveness, readiness, Prometheus metrics.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::scim::error::ScimError;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// The database answers and every migration is applied.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.migrations_applied().await {
        Ok(true) => (StatusCode::OK, "ready\n").into_response(),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, "migrations pending\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

/// Unknown paths outside the SCIM base URLs.
pub async fn not_found() -> ApiError {
    ScimError::not_found("not found").into()
}
