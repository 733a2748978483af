//! The routing layer: HTTP in, tenant resolved, catalog called, SCIM out. Handlers below
//! [`auth::authenticate`] receive a [`crate::catalog::Tenant`] and never see a token.

pub mod admin;
pub mod admin_auth;
pub mod auth;
pub mod bearer;
mod bulk;
mod console;
pub mod error;
pub mod held_body;
pub mod limits;
pub mod observe;
mod ops;
pub mod proxies;
pub mod scim;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::Settings;
use crate::services::Services;

/// The default cut-off of a request (`SCIMGATE_REQUEST_TIMEOUT`), well before the IdPs' 60 s.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a request may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The services: the only way to the data.
    pub services: Services,
    pub limits: Arc<limits::OrgLimits>,
    pub config: Arc<Settings>,
    pub metrics: PrometheusHandle,
    /// Keys of the admin API; `None` when unconfigured (every admin request is then refused).
    pub admin_keys: Option<Arc<crate::auth::admin::AdminKeys>>,
    /// A request is cut off (503) after this long.
    pub request_timeout: Duration,
    /// Proxies whose `X-Forwarded-For` names the audited client address.
    pub trusted_proxies: Arc<proxies::TrustedProxies>,
    /// False when `/metrics` has a listener of its own ([`metrics_router`]).
    pub metrics_on_main_listener: bool,
    /// Set when the process is shutting down: `/readyz` answers 503 from then on.
    pub draining: Arc<AtomicBool>,
}

/// The SCIM routes of one base path (relative to it).
fn scim_routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/{resource}",
            get(scim::get_collection)
                .post(scim::post_collection)
                .fallback(scim::other_method),
        )
        .route(
            "/{resource}/{id}",
            get(scim::get_item)
                .post(scim::post_item)
                .put(scim::put_item)
                .patch(scim::patch_item)
                .delete(scim::delete_item)
                .fallback(scim::other_method),
        )
        .fallback(scim::not_found)
        // Authenticate first, even for paths that do not exist, so probing reveals nothing.
        .layer(middleware::from_fn_with_state(state.clone(), auth::authenticate))
        // Handlers enforce their own limits (16 MiB for /Groups writes, 1 MiB elsewhere).
        .layer(DefaultBodyLimit::disable())
}

fn scim_base_slash(state: &AppState) -> axum::routing::MethodRouter<AppState> {
    axum::routing::any(scim::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), auth::authenticate))
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let router = Router::new()
        .nest("/api/orgs/{org_id}/scim/v2", scim_routes(&state))
        .nest("/orgs/{org_id}/scim/v2", scim_routes(&state))
        // `nest` leaves the base with a trailing slash to the outer fallback: authenticate it too.
        .route("/api/orgs/{org_id}/scim/v2/", scim_base_slash(&state))
        .route("/orgs/{org_id}/scim/v2/", scim_base_slash(&state))
        .merge(admin::routes())
        .merge(console::routes())
        .route("/api/logins", axum::routing::post(admin::login))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz));
    let router = if state.metrics_on_main_listener {
        router.route("/metrics", get(ops::metrics))
    } else {
        router
    };
    router
        .fallback(ops::not_found)
        .layer(middleware::from_fn(error::complete_error_bodies))
        .layer(middleware::from_fn_with_state(state.clone(), observe::observe))
        .with_state(state)
}

/// The operators' listener (`SCIMGATE_METRICS_LISTEN`): `/metrics` and the probes, nothing an IdP uses.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(ops::metrics))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .fallback(ops::not_found)
        .layer(middleware::from_fn(error::complete_error_bodies))
        .layer(middleware::from_fn_with_state(state.clone(), observe::observe))
        .with_state(state)
}
