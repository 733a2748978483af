//! `/api/orgs/{orgId}/scim/activity`: what an IdP admin checks when the IdP's push status says
//! something failed — when it last pushed and called, requests and errors per hour for the last
//! 24 hours, and its latest SCIM errors. Another replica's requests are at most
//! [`crate::activity::FLUSH_EVERY`] behind; this replica's are always included.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Caller, Result, Right, json_response, org_catalog, time};
use crate::catalog::CatalogError;
use crate::routing::AppState;

/// GET → `{lastPushAt, lastRequestAt, hours: [{hour, requests, errors}], errors: [{at, method,
/// path, status, scimType, detail, correlationId}]}`.
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
) -> Result<Response> {
    let (catalog, _) = org_catalog(&state, &caller, &org_id, Right::Read).await?;
    let report = state
        .services
        .activity()
        .report(catalog.tenant().org_id)
        .await
        .map_err(CatalogError::from)?;
    let hours: Vec<Value> = report
        .hours
        .iter()
        .map(|h| json!({"hour": time(Some(h.hour)), "requests": h.requests, "errors": h.errors}))
        .collect();
    let errors: Vec<Value> = report
        .errors
        .into_iter()
        .map(|e| {
            json!({
                "at": time(Some(e.at)),
                "method": e.method,
                "path": e.path,
                "status": e.status,
                "scimType": e.scim_type,
                "detail": e.detail,
                "correlationId": e.correlation_id,
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({
            "lastPushAt": time(report.last_push_at),
            "lastRequestAt": time(report.last_request_at),
            "hours": hours,
            "errors": errors,
        }),
    ))
}
