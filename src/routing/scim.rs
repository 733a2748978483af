//! SCIM endpoints: extract, call the tenant's catalog, shape the HTTP answer. Resource names
//! match case-insensitively (`/users` works), so one route per shape dispatches on [`Endpoint`].

use std::collections::HashMap;

use std::sync::LazyLock;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{StreamExt, stream};
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};

use super::AppState;
use super::error::{ApiError, SCIM_JSON};
use crate::catalog::{Catalog, GroupAnswer, Resource, Streamed, Tenant};
use crate::scim::body as scim_body;
use crate::scim::discovery;
use crate::scim::error::ScimError;
use crate::scim::patch::PatchOperation;
use crate::scim::query::{self, ListRequest};
use crate::scim::resource::{GroupInput, IfMatch, etag, etag_matches, raw as raw_json};
use crate::tokens::AuditContext;
use serde_json::value::RawValue;

/// Request bodies on `/Groups` writes may be large (Okta's wizard apps PUT whole groups).
pub const GROUP_BODY_LIMIT: usize = 16 * 1024 * 1024;
/// Request bodies everywhere else.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The endpoints under a SCIM base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Users,
    Groups,
    ServiceProviderConfig,
    ResourceTypes,
    Schemas,
    /// `POST /Bulk` (RFC 7644 §3.7), see [`super::bulk`].
    Bulk,
}

impl Endpoint {
    /// Parses a path segment case-insensitively.
    pub fn parse(segment: &str) -> Option<Endpoint> {
        const ALL: [(&str, Endpoint); 6] = [
            ("Users", Endpoint::Users),
            ("Groups", Endpoint::Groups),
            ("ServiceProviderConfig", Endpoint::ServiceProviderConfig),
            ("ResourceTypes", Endpoint::ResourceTypes),
            ("Schemas", Endpoint::Schemas),
            ("Bulk", Endpoint::Bulk),
        ];
        ALL.iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(segment))
            .map(|(_, e)| *e)
    }

    /// The canonical name, for metrics labels.
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::Users => "Users",
            Endpoint::Groups => "Groups",
            Endpoint::ServiceProviderConfig => "ServiceProviderConfig",
            Endpoint::ResourceTypes => "ResourceTypes",
            Endpoint::Schemas => "Schemas",
            Endpoint::Bulk => "Bulk",
        }
    }
}

type Result<T> = std::result::Result<T, ApiError>;

/// The endpoint a path segment names; `/Me` exists in SCIM but not here (501).
fn endpoint(segment: &str) -> Result<Endpoint> {
    if let Some(e) = Endpoint::parse(segment) {
        return Ok(e);
    }
    if segment.eq_ignore_ascii_case("Me") {
        return Err(
            ScimError::new(501, "/Me is not supported: requests come from an IdP, not a user").into(),
        );
    }
    Err(ScimError::not_found(format!("no SCIM endpoint /{segment}")).into())
}

fn method_not_allowed(method: &Method, endpoint: Endpoint) -> ApiError {
    ScimError::new(405, format!("{method} is not supported on /{}", endpoint.label())).into()
}

fn catalog(state: &AppState, tenant: Tenant, audit: AuditContext) -> Catalog {
    state.services.catalog(tenant, audit)
}

fn params(raw: Option<String>) -> Result<HashMap<String, String>> {
    let raw = raw.unwrap_or_default();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&raw)
        .map_err(|_| ScimError::invalid_value("the query string is not valid URL encoding"))?;
    Ok(pairs.into_iter().collect())
}

/// Bytes of request bodies the whole process holds at once, in KiB: with 16 MiB allowed per
/// `/Groups` body, N concurrent uploads would otherwise multiply the peak by N.
const BODY_BUDGET_KIB: usize = 64 * 1024;

/// The process-wide body budget; a body waits for its share (within the request timeout).
static BODY_BUDGET: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(BODY_BUDGET_KIB));

fn kib(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX)
}

/// A body's bytes and its share of [`BODY_BUDGET`], released when the body is dropped.
pub(super) struct ReadBody {
    pub(super) bytes: Vec<u8>,
    _budget: SemaphorePermit<'static>,
}

/// Reads a body within `limit` bytes, holding its share of the process's body budget: by
/// `Content-Length` when the client sent one (beyond `limit` → 413 before reading), else the
/// whole limit. Beyond `limit` → 413; a body that cannot be read (bad chunking, a reset) → 400.
pub(super) async fn read_body(body: Body, limit: usize) -> Result<ReadBody> {
    let too_large = || {
        ApiError::from(ScimError::new(
            413,
            format!("The request body is larger than {limit} bytes"),
        ))
    };
    let declared = HttpBody::size_hint(&body)
        .exact()
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let share = kib(declared.unwrap_or(limit));
    let budget = BODY_BUDGET
        .acquire_many(share)
        .await
        .map_err(|_| ApiError::unavailable())?;
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0));
    let mut frames = body.into_data_stream();
    while let Some(frame) = frames.next().await {
        let frame = frame.map_err(|e| {
            ApiError::from(ScimError::invalid_syntax(format!(
                "The request body could not be read: {e}"
            )))
        })?;
        if bytes.len() + frame.len() > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&frame);
    }
    Ok(ReadBody {
        bytes,
        _budget: budget,
    })
}

/// A JSON body read whole (a `/.search` request, small by its limit).
async fn json_body(body: Body, limit: usize) -> Result<Value> {
    Ok(scim_body::json(&read_body(body, limit).await?.bytes)?)
}

/// A User write body: a tree (1 MiB at most), refused with NUL in any string.
async fn user_body(body: Body) -> Result<Value> {
    Ok(scim_body::write_tree(&read_body(body, BODY_LIMIT).await?.bytes)?)
}

/// A Group POST/PUT body, read (pruned) into its group.
async fn group_body(body: Body) -> Result<GroupInput> {
    let read = read_body(body, GROUP_BODY_LIMIT).await?;
    // The bytes go to the reader, which lets them go early; the budget is held until it is done.
    Ok(scim_body::group(read.bytes)?)
}

/// A Group PATCH body, pruned and parsed into its operations.
async fn group_patch_body(body: Body) -> Result<Vec<PatchOperation>> {
    let read = read_body(body, GROUP_BODY_LIMIT).await?;
    Ok(scim_body::group_patch(read.bytes)?)
}

/// An answer whose body is written as the client reads it. The head (the page, the first chunk
/// of members) is produced before the status line, so what can fail early still gets its status;
/// a failure later can only cut the connection (the catalog logs it with the correlation id).
async fn streamed_response(
    state: &AppState,
    org_id: i64,
    status: StatusCode,
    mut answer: Streamed,
) -> Result<Response> {
    let head = answer.head().await?;
    // The handler's share of the pool is released when it returns; the rest of the answer reads
    // the database within the organization's share all the same.
    let answer = answer.within_share(state.limits.share_of(org_id));
    let rest = stream::unfold(answer, |mut answer| async move {
        match answer.next().await {
            Ok(Some(text)) => Some((Ok(Bytes::from(text)), answer)),
            Ok(None) => None,
            Err(_) => Some((
                Err(std::io::Error::other("the answer could not be completed")),
                answer,
            )),
        }
    });
    let first = stream::iter([Ok::<Bytes, std::io::Error>(Bytes::from(head))]);
    let mut response = (status, Body::from_stream(first.chain(rest))).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    Ok(response)
}

/// A group, streamed, with its ETag (and its `Location` when it was just created).
async fn group_response(
    state: &AppState,
    org_id: i64,
    status: StatusCode,
    group: GroupAnswer,
) -> Result<Response> {
    let mut response = streamed_response(state, org_id, status, group.body).await?;
    version_headers(&mut response, group.version, &group.location);
    Ok(response)
}

/// A resource's `ETag`, and its `Location` when the answer is a 201.
fn version_headers(response: &mut Response, version: i64, location: &str) {
    let created = response.status() == StatusCode::CREATED;
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        headers.insert(header::ETAG, v);
    }
    if created && let Ok(v) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, v);
    }
}

/// Waits (up to a second) for the organization's fair share of the database pool, then 429
/// `pool_share`. Taken once the request has been read (a slow upload must not hold it) and held
/// until the handler returns; a streamed answer's later reads take it again (`within_share`).
pub(super) async fn pool_share(state: &AppState, org_id: i64) -> Result<OwnedSemaphorePermit> {
    state
        .limits
        .pool_share(org_id)
        .await
        .map_err(|refused| super::auth::over_limit(org_id, refused))
}

/// The `If-Match` precondition of a write, checked by the store under the write's lock.
fn if_match(headers: &HeaderMap) -> Result<Option<IfMatch>> {
    match headers.get(header::IF_MATCH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(IfMatch(s.to_owned())))
            .map_err(|_| ScimError::invalid_value("If-Match is not a valid ETag").into()),
    }
}

pub(super) fn json_response(status: StatusCode, body: Value) -> Response {
    raw_response(status, raw_json(&body))
}

/// An answer whose body is already serialized.
fn raw_response(status: StatusCode, body: Box<RawValue>) -> Response {
    let mut response = (status, String::from(Box::<str>::from(body))).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response
}

fn resource_response(status: StatusCode, resource: Resource) -> Response {
    let mut response = raw_response(status, resource.body);
    version_headers(&mut response, resource.version, &resource.location);
    response
}

/// GET on a collection or discovery document.
pub async fn get_collection(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Extension(audit): Extension<AuditContext>,
    Path((_, segment)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let _share = pool_share(&state, tenant.org_id).await?;
    let cat = catalog(&state, tenant, audit);
    let base = cat.base_url().to_owned();
    let body: Box<RawValue> = match endpoint(&segment)? {
        Endpoint::Users => cat.list_users(&ListRequest::parse(&params(raw)?)?).await?,
        Endpoint::Groups => {
            return streamed_response(
                &state,
                cat.tenant().org_id,
                StatusCode::OK,
                cat.list_groups(&ListRequest::parse(&params(raw)?)?).await?,
            )
            .await;
        }
        Endpoint::ServiceProviderConfig => raw_json(&discovery::service_provider_config(&base)),
        Endpoint::ResourceTypes => raw_json(&discovery::resource_types(&base)),
        Endpoint::Schemas => raw_json(&discovery::schemas(&base)),
        Endpoint::Bulk => return Err(method_not_allowed(&Method::GET, Endpoint::Bulk)),
    };
    Ok(raw_response(StatusCode::OK, body))
}

/// POST on a collection: create.
pub async fn post_collection(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Extension(audit): Extension<AuditContext>,
    Path((_, segment)): Path<(String, String)>,
    body: Body,
) -> Result<Response> {
    let cat = catalog(&state, tenant, audit);
    let org = cat.tenant().org_id;
    if segment == ".search" {
        let request = ListRequest::from_search(&json_body(body, BODY_LIMIT).await?)?;
        let _share = pool_share(&state, org).await?;
        return streamed_response(&state, org, StatusCode::OK, cat.search_all(&request).await?).await;
    }
    let endpoint = endpoint(&segment)?;
    let resource = match endpoint {
        Endpoint::Groups => {
            let group = group_body(body).await?;
            let _share = pool_share(&state, org).await?;
            let created = cat.create_group(group).await?;
            return group_response(&state, org, StatusCode::CREATED, created).await;
        }
        Endpoint::Users => {
            let body = user_body(body).await?;
            let _share = pool_share(&state, org).await?;
            cat.create_user(&body).await?
        }
        Endpoint::Bulk => return super::bulk::bulk(&state, &cat, body).await,
        other => return Err(method_not_allowed(&Method::POST, other)),
    };
    Ok(resource_response(StatusCode::CREATED, resource))
}

/// GET of one resource (or one discovery entry).
pub async fn get_item(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Extension(audit): Extension<AuditContext>,
    Path((_, segment, id)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    let _share = pool_share(&state, tenant.org_id).await?;
    let cat = catalog(&state, tenant, audit);
    let base = cat.base_url().to_owned();
    let found = |doc: Option<Value>, what: &str| {
        doc.map(|d| json_response(StatusCode::OK, d))
            .ok_or_else(|| ApiError::from(ScimError::not_found(format!("{what} {id} not found"))))
    };
    let resource = match endpoint(&segment)? {
        Endpoint::Users => cat.get_user(&id, &query::projection(&params(raw)?)?).await?,
        Endpoint::Groups => {
            let group = cat.get_group(&id, &query::projection(&params(raw)?)?).await?;
            if let Some(not_modified) = not_modified(&headers, group.version) {
                return Ok(not_modified);
            }
            return group_response(&state, cat.tenant().org_id, StatusCode::OK, group).await;
        }
        Endpoint::ResourceTypes => return found(discovery::resource_type(&base, &id), "ResourceType"),
        Endpoint::Schemas => return found(discovery::schema(&base, &id), "Schema"),
        other => return Err(method_not_allowed(&Method::GET, other)),
    };
    if let Some(not_modified) = not_modified(&headers, resource.version) {
        return Ok(not_modified);
    }
    Ok(resource_response(StatusCode::OK, resource))
}

/// 304 when `If-None-Match` names the resource's current version.
fn not_modified(headers: &HeaderMap, version: i64) -> Option<Response> {
    let tag = headers.get(header::IF_NONE_MATCH)?.to_str().ok()?;
    if !etag_matches(tag, version) {
        return None;
    }
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, v);
    }
    Some(response)
}

/// POST `/Users/.search` or `/Groups/.search`: a list whose parameters travel in the body.
pub async fn post_item(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Extension(audit): Extension<AuditContext>,
    Path((_, segment, id)): Path<(String, String, String)>,
    body: Body,
) -> Result<Response> {
    let endpoint = endpoint(&segment)?;
    if id != ".search" || !matches!(endpoint, Endpoint::Users | Endpoint::Groups) {
        return Err(method_not_allowed(&Method::POST, endpoint));
    }
    let request = ListRequest::from_search(&json_body(body, BODY_LIMIT).await?)?;
    let _share = pool_share(&state, tenant.org_id).await?;
    let cat = catalog(&state, tenant, audit);
    match endpoint {
        Endpoint::Users => Ok(raw_response(StatusCode::OK, cat.list_users(&request).await?)),
        _ => {
            let list = cat.list_groups(&request).await?;
            streamed_response(&state, cat.tenant().org_id, StatusCode::OK, list).await
        }
    }
}

/// PUT of one resource: replace.
pub async fn put_item(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Extension(audit): Extension<AuditContext>,
    Path((_, segment, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let endpoint = endpoint(&segment)?;
    let cat = catalog(&state, tenant, audit);
    let resource = match endpoint {
        Endpoint::Groups => {
            let group = group_body(body).await?;
            let version = if_match(&headers)?;
            let org = cat.tenant().org_id;
            let _share = pool_share(&state, org).await?;
            let replaced = cat.replace_group(&id, group, version.as_ref()).await?;
            return group_response(&state, org, StatusCode::OK, replaced).await;
        }
        Endpoint::Users => {
            let body = user_body(body).await?;
            let version = if_match(&headers)?;
            let _share = pool_share(&state, cat.tenant().org_id).await?;
            cat.replace_user(&id, &body, version.as_ref()).await?
        }
        other => return Err(method_not_allowed(&Method::PUT, other)),
    };
    Ok(resource_response(StatusCode::OK, resource))
}

/// PATCH of one resource: atomic, in order. Groups answer 204 unless `attributes` is asked for.
pub async fn patch_item(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Extension(audit): Extension<AuditContext>,
    Path((_, segment, id)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let endpoint = endpoint(&segment)?;
    let params = params(raw)?;
    let cat = catalog(&state, tenant, audit);
    match endpoint {
        Endpoint::Groups => {
            let ops = group_patch_body(body).await?;
            let version = if_match(&headers)?;
            let org = cat.tenant().org_id;
            let _share = pool_share(&state, org).await?;
            let projection = if query::asks_for_attributes(&params) {
                Some(query::projection(&params)?)
            } else {
                None
            };
            match cat
                .patch_group_ops(&id, &ops, version.as_ref(), projection.as_ref())
                .await?
            {
                Some(group) => group_response(&state, org, StatusCode::OK, group).await,
                None => Ok(StatusCode::NO_CONTENT.into_response()),
            }
        }
        Endpoint::Users => {
            let body = user_body(body).await?;
            let version = if_match(&headers)?;
            let _share = pool_share(&state, cat.tenant().org_id).await?;
            let resource = cat
                .patch_user(&id, &body, version.as_ref(), &query::projection(&params)?)
                .await?;
            Ok(resource_response(StatusCode::OK, resource))
        }
        other => Err(method_not_allowed(&Method::PATCH, other)),
    }
}

/// DELETE of one resource.
pub async fn delete_item(
    State(state): State<AppState>,
    Extension(tenant): Extension<Tenant>,
    Extension(audit): Extension<AuditContext>,
    Path((_, segment, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    let endpoint = endpoint(&segment)?;
    let _share = pool_share(&state, tenant.org_id).await?;
    let cat = catalog(&state, tenant, audit);
    let version = if_match(&headers)?;
    match endpoint {
        Endpoint::Groups => cat.delete_group(&id, version.as_ref()).await?,
        Endpoint::Users => cat.delete_user(&id, version.as_ref()).await?,
        other => return Err(method_not_allowed(&Method::DELETE, other)),
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A method no route takes (DELETE on a collection, POST on a resource): a SCIM error, 404 for
/// an unknown endpoint and 405 otherwise, never axum's empty 405.
pub async fn other_method(method: Method, Path(params): Path<HashMap<String, String>>) -> ApiError {
    match endpoint(params.get("resource").map_or("", String::as_str)) {
        Ok(e) => method_not_allowed(&method, e),
        Err(e) => e,
    }
}

/// Anything else under a SCIM base URL (after authentication).
pub async fn not_found() -> ApiError {
    ScimError::not_found("no such SCIM endpoint").into()
}
