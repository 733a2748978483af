//! `POST /Bulk` (RFC 7644 §3.7): each operation is performed through the same catalog call as the
//! single request it stands for (same validation, audit events, uniqueness answers and push-time
//! deprovisioning), in its own transaction, one at a time; its outcome is answered in its own
//! entry. The request costs its number of operations against the organization's rate limit
//! (capped at the burst). Memory: the body (at most 16 MiB) is held once; operations borrow their
//! `data` from it and are parsed one at a time when their turn comes, and the answer holds one
//! small entry per operation (no resource bodies: RFC 7644 makes `response` optional on success).
//!
//! Activity: the answer is 200 whatever its operations came to, so it carries their
//! [`BulkOperations`] (counts and each failure, by route template: never an id) for the activity
//! record, which counts each operation as the request it stands for.
//!
//! Time: the request as a whole must answer within the request timeout (after which the gateway
//! answers a bare 503 and the client cannot know which operations were committed). So operations
//! are started only until a deadline a margin short of it ([`deadline`]); past it, the first
//! operation not performed is answered 503 and the rest neither performed nor answered, as
//! `failOnErrors` does: every change made is in the answer.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::AppState;
use super::error::ApiError;
use super::scim::{BODY_LIMIT, json_response, pool_share, read_body};
use crate::activity::{BulkOperations, FailedOperation, ScimFailure};
use crate::catalog::Catalog;
use crate::scim::body as scim_body;
use crate::scim::bulk::{self, IdRef, Kind, Method, Operation, Outcome, Resolved};
use crate::scim::error::ScimError;
use crate::scim::projection::Projection;
use crate::scim::resource::{IfMatch, etag};

type Result<T> = std::result::Result<T, ApiError>;

/// Answers a Bulk request: 200 with a BulkResponse once the request itself is sound (each
/// operation's failure is in its entry); 400/413 for the request as a whole, nothing performed.
pub(super) async fn bulk(state: &AppState, cat: &Catalog, body: Body) -> Result<Response> {
    let deadline = deadline(Instant::now(), state.request_timeout);
    let read = read_body(body, bulk::MAX_PAYLOAD_SIZE)
        .await
        .map_err(|e| match e.error.status {
            413 => ApiError::from(bulk::payload_too_large()),
            _ => e,
        })?;
    let request = bulk::parse_request(&read.bytes)?;
    let org = cat.tenant().org_id;
    state
        .limits
        .charge(org, request.operations.len())
        .map_err(|refused| super::auth::over_limit(org, refused))?;
    let _share = pool_share(state, org).await?;
    let mut run = Run {
        cat,
        created: HashMap::new(),
    };
    let mut answered: Vec<(usize, Value)> = Vec::with_capacity(request.operations.len());
    let mut errors = 0;
    let mut summary = BulkOperations::default();
    for step in bulk::schedule(&request.operations) {
        let Some(op) = request.operations.get(step.index) else {
            continue;
        };
        if Instant::now() >= deadline {
            let outcome = failure(out_of_time(), None);
            note(&mut summary, op, &outcome);
            answered.push((step.index, bulk::operation_response(op, &outcome)));
            break;
        }
        let (outcome, created) = match step.refused {
            Some(error) => (failure(error, None), None),
            None => run.perform(op, &request.operations).await,
        };
        if op.method == Method::Post {
            run.created.insert(step.index, created);
        }
        let unavailable = outcome.status == 503;
        if outcome.error.is_some() {
            errors += 1;
        }
        note(&mut summary, op, &outcome);
        answered.push((step.index, bulk::operation_response(op, &outcome)));
        // RFC 7644 §3.7.3: after `failOnErrors` errors the rest is not performed (nor answered).
        // A database that cannot answer would only fail every later operation the same way.
        if unavailable || request.fail_on_errors.is_some_and(|limit| errors >= limit) {
            break;
        }
    }
    answered.sort_by_key(|(index, _)| *index);
    let entries = answered.into_iter().map(|(_, entry)| entry).collect();
    let mut response = json_response(StatusCode::OK, bulk::response(entries));
    response.extensions_mut().insert(summary);
    Ok(response)
}

/// Counts `op`'s outcome in `summary`: a failure as the activity shows it, under `/Bulk` and its
/// route template, with no id or other value of the request but what its error's detail quotes
/// (as a single request's would).
fn note(summary: &mut BulkOperations, op: &Operation<'_>, outcome: &Outcome) {
    let Some(error) = &outcome.error else {
        summary.succeeded += 1;
        return;
    };
    summary.failed.push(FailedOperation {
        method: op.method.as_str(),
        status: outcome.status,
        failure: ScimFailure {
            path: format!("/Bulk {}", template(op)),
            scim_type: error.scim_type.map(|t| t.as_str()),
            detail: error.detail.clone(),
        },
    });
}

/// The route template of an operation's path.
fn template(op: &Operation<'_>) -> &'static str {
    match (op.kind, op.id.is_some()) {
        (Kind::Users, false) => "/Users",
        (Kind::Users, true) => "/Users/{id}",
        (Kind::Groups, false) => "/Groups",
        (Kind::Groups, true) => "/Groups/{id}",
    }
}

/// The longest margin kept between the last operation started and the request timeout.
const MAX_MARGIN: Duration = Duration::from_secs(5);

/// When a Bulk request started at `started` stops starting operations: a fifth of the request
/// timeout (at most [`MAX_MARGIN`]) before it, left for the operation in progress and the answer.
fn deadline(started: Instant, request_timeout: Duration) -> Instant {
    let margin = (request_timeout / 5).min(MAX_MARGIN);
    started + request_timeout.saturating_sub(margin)
}

/// The error of the first operation not performed because the request ran out of time.
fn out_of_time() -> ScimError {
    ScimError::new(
        503,
        "The Bulk request ran out of time: this operation and the ones after it were not performed; send them again",
    )
}

/// The state of one Bulk request as its operations are performed.
struct Run<'c> {
    cat: &'c Catalog,
    /// The POSTs performed so far, by index in the request: the id created, or `None` when the
    /// POST failed.
    created: HashMap<usize, Option<String>>,
}

fn failure(error: ScimError, location: Option<String>) -> Outcome {
    Outcome {
        status: error.status,
        location,
        version: None,
        error: Some(error),
    }
}

fn success(status: u16, version: i64, location: String) -> Outcome {
    Outcome {
        status,
        location: Some(location),
        version: Some(etag(version)),
        error: None,
    }
}

/// A catalog error as the SCIM error a single request would have answered.
fn scim_error(e: crate::catalog::CatalogError) -> ScimError {
    ApiError::from(e).error
}

impl Run<'_> {
    /// Resolves the operation's references (each must name a POST that succeeded), then performs
    /// it; answers the id a POST created.
    async fn perform(&self, op: &Operation<'_>, operations: &[Operation<'_>]) -> (Outcome, Option<String>) {
        let mut ids = Resolved::new();
        for &post in &op.references {
            let bulk_id = operations
                .get(post)
                .and_then(|p| p.bulk_id.as_deref())
                .unwrap_or_default();
            match self.created.get(&post) {
                Some(Some(id)) => {
                    ids.insert(bulk_id.to_owned(), id.clone());
                }
                _ => return (failure(bulk::failed_reference(bulk_id), None), None),
            }
        }
        let id = match &op.id {
            None => None,
            Some(IdRef::Literal(id)) => Some(id.clone()),
            Some(IdRef::BulkId(b)) => ids.get(b).cloned(),
        };
        let location = id
            .as_ref()
            .map(|id| format!("{}/{}/{id}", self.cat.base_url(), op.kind.endpoint()));
        let version = op.version.clone().map(IfMatch);
        let result = match (op.method, id) {
            (Method::Post, _) => self.post(op, &ids).await.map(|(o, id)| (o, Some(id))),
            (method, Some(id)) => self
                .change(op, method, &id, version.as_ref(), &ids)
                .await
                .map(|o| (o, None)),
            // The envelope parser gives every other method an id.
            (_, None) => Err(ScimError::invalid_path("the operation names no resource")),
        };
        result.unwrap_or_else(|error| (failure(error, location), None))
    }

    /// POST: creates the resource; its id is what the operation's bulkId names from now on.
    async fn post(
        &self,
        op: &Operation<'_>,
        ids: &Resolved,
    ) -> std::result::Result<(Outcome, String), ScimError> {
        let (id, version, location) = match op.kind {
            Kind::Users => {
                let body = user_data(op, ids)?;
                let created = self.cat.create_user(&body).await.map_err(scim_error)?;
                (created.id, created.version, created.location)
            }
            Kind::Groups => {
                let mut group = scim_body::group_in(data(op)?)?;
                bulk::resolve_group(&mut group, ids);
                let created = self.cat.create_group(group).await.map_err(scim_error)?;
                (created.id, created.version, created.location)
            }
        };
        Ok((success(201, version, location), id))
    }

    /// PUT, PATCH or DELETE of resource `id`.
    async fn change(
        &self,
        op: &Operation<'_>,
        method: Method,
        id: &str,
        version: Option<&IfMatch>,
        ids: &Resolved,
    ) -> std::result::Result<Outcome, ScimError> {
        let cat = self.cat;
        let done = match (method, op.kind) {
            (Method::Put, Kind::Users) => {
                let r = cat.replace_user(id, &user_data(op, ids)?, version).await;
                r.map(|r| success(200, r.version, r.location))
            }
            (Method::Put, Kind::Groups) => {
                let mut group = scim_body::group_in(data(op)?)?;
                bulk::resolve_group(&mut group, ids);
                let r = cat.replace_group(id, group, version).await;
                r.map(|g| success(200, g.version, g.location))
            }
            (Method::Patch, Kind::Users) => {
                let body = user_data(op, ids)?;
                let r = cat.patch_user(id, &body, version, &Projection::default()).await;
                r.map(|r| success(200, r.version, r.location))
            }
            (Method::Patch, Kind::Groups) => {
                let mut ops = scim_body::group_patch_in(data(op)?)?;
                bulk::resolve_patch(&mut ops, ids);
                // Asked with a projection so that the answer has the new version; its members
                // are never read (the answer's body is dropped unread).
                let r = cat
                    .patch_group_ops(id, &ops, version, Some(&Projection::default()))
                    .await;
                r.map(|g| match g {
                    Some(g) => success(200, g.version, g.location),
                    None => Outcome {
                        status: 204,
                        location: None,
                        version: None,
                        error: None,
                    },
                })
            }
            (Method::Delete, Kind::Users) => cat.delete_user(id, version).await.map(|()| deleted()),
            (Method::Delete, Kind::Groups) => cat.delete_group(id, version).await.map(|()| deleted()),
            (Method::Post, _) => return Err(ScimError::invalid_path("POST names a collection")),
        };
        let location = format!("{}/{}/{id}", cat.base_url(), op.kind.endpoint());
        match done {
            Ok(mut outcome) => {
                outcome.location = Some(location);
                Ok(outcome)
            }
            Err(e) => Err(scim_error(e)),
        }
    }
}

fn deleted() -> Outcome {
    Outcome {
        status: 204,
        location: None,
        version: None,
        error: None,
    }
}

/// The operation's `data` (the envelope parser made sure that all but DELETE have one).
fn data<'a>(op: &Operation<'a>) -> std::result::Result<&'a [u8], ScimError> {
    op.data
        .map(|d| d.get().as_bytes())
        .ok_or_else(|| ScimError::invalid_value("the operation has no data"))
}

/// A User operation's `data` as a tree, within the limit of a single User write (1 MiB, else
/// 413 for this operation), refused with NUL, its `bulkId:` references resolved.
fn user_data(op: &Operation<'_>, ids: &Resolved) -> std::result::Result<Value, ScimError> {
    let bytes = data(op)?;
    if bytes.len() > BODY_LIMIT {
        return Err(ScimError::new(
            413,
            format!("The operation's data is larger than {BODY_LIMIT} bytes"),
        ));
    }
    let mut body = scim_body::write_tree(bytes)?;
    bulk::resolve_value(&mut body, ids);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_keeps_a_fifth_of_the_timeout_and_at_most_five_seconds() {
        let t0 = Instant::now();
        assert_eq!(
            deadline(t0, Duration::from_millis(300)),
            t0 + Duration::from_millis(240)
        );
        assert_eq!(deadline(t0, Duration::from_secs(10)), t0 + Duration::from_secs(8));
        assert_eq!(
            deadline(t0, Duration::from_secs(30)),
            t0 + Duration::from_secs(25)
        );
        assert_eq!(
            deadline(t0, Duration::from_secs(600)),
            t0 + Duration::from_secs(595)
        );
    }
}
