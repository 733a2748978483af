//! `/api/orgs/{orgId}/audit-events`: the organization's audit trail, newest first, paged.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{AdminError, Caller, Result, Right, json_response, org_catalog, time};
use crate::routing::AppState;
use crate::store::audit::AuditQuery;

/// Default and largest page.
const PAGE: u64 = 100;
const MAX_PAGE: u64 = 1000;

/// GET `?type=&correlationId=&before=&limit=` → `{events, nextBefore}`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response> {
    let (catalog, _) = org_catalog(&state, &caller, &org_id, Right::Read).await?;
    let number = |name: &str| -> Result<Option<i64>> {
        params
            .get(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    AdminError::new(StatusCode::BAD_REQUEST, format!("{name} must be an integer"))
                })
            })
            .transpose()
    };
    let query = AuditQuery {
        event_type: params.get("type").filter(|t| !t.is_empty()).cloned(),
        correlation_id: params.get("correlationId").filter(|c| !c.is_empty()).cloned(),
        before: number("before")?,
        limit: number("limit")?.map_or(PAGE, |l| l.clamp(1, MAX_PAGE as i64) as u64),
    };
    let events = catalog.audit_events(&query).await?;
    let next = (events.len() as u64 == query.limit)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    let events: Vec<Value> = events
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id,
                "type": e.event_type,
                "actor": e.actor,
                "actorDetail": e.actor_detail,
                "target": e.target,
                "correlationId": e.correlation_id,
                "at": time(Some(e.at)),
                "data": e.data,
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({"events": events, "nextBefore": next}),
    ))
}
