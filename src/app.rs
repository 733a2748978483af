//! Wiring: the store, the state the routes share, the metrics recorder, and the CLI commands.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::auth::admin::{AdminKeys, Grant};
use crate::config::{
    AdminJwtArgs, AdminJwtCommand, DbArgs, Gates, IdTokenCommand, Secret, ServeArgs, Settings,
};
use crate::instance::Instance;
use crate::login::Idp;
use crate::routing::limits::{LimitSettings, OrgLimits};
use crate::routing::proxies::TrustedProxies;
use crate::routing::{self, AppState};
use crate::server::{self, ConnectionLimits};
use crate::services::Services;
use crate::store::audit::AuditContext;
use crate::store::tokens::IssueMode;
use crate::store::{PoolSettings, Store, StoreError};
use crate::tokens::{TokenHasher, Tokens};

/// Latency buckets (seconds) of the request histogram.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process-wide Prometheus recorder, installed once (tests in one binary share it).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new())
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed, in which case ours simply stays empty.
            let _ = metrics::set_global_recorder(recorder);
            let upkeep = handle.clone();
            std::thread::spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            });
            handle
        })
        .clone()
}

/// Opens the database and applies pending migrations (every command that touches it does).
pub async fn open_store(db: &DbArgs) -> Result<Store, StoreError> {
    let pool = PoolSettings {
        max_connections: db.pool_size(),
        statement_timeout: db.db_statement_timeout.0,
    };
    let store = Store::connect(&db.database_url.0, pool).await?;
    store.migrate().await?;
    Ok(store)
}

/// The token hasher for these options.
pub fn hasher(db: &DbArgs) -> TokenHasher {
    TokenHasher::new(db.token_hash_key.as_ref().map(|k| k.0.as_bytes()))
}

/// The instance service of a CLI command.
pub fn instance(store: Store, db: &DbArgs) -> Instance {
    Instance::new(store.clone(), Tokens::new(store, hasher(db)))
}

/// Everything the routes share except the store, built from the settings alone so that unusable
/// admin keys or proxy lists stop the process before any database is opened.
pub struct Prepared {
    hasher: TokenHasher,
    limits: OrgLimits,
    config: Settings,
    gates: Gates,
    admin_keys: Option<AdminKeys>,
    idp: Option<Idp>,
    login_caller_token: Option<Secret>,
    request_timeout: Duration,
    trusted_proxies: TrustedProxies,
    metrics_on_main_listener: bool,
}

/// Reads and checks what the routes need from the settings (admin and IdP key files included);
/// ID-token settings that clash with the admin API's are refused here, before any database opens.
pub fn prepare(db: &DbArgs, serve: &ServeArgs, admin: &AdminJwtArgs) -> Result<Prepared, String> {
    Ok(Prepared {
        hasher: hasher(db),
        limits: OrgLimits::new(LimitSettings::from_args(serve)).with_pool_share(db.pool_size()),
        config: Settings::from_args(serve),
        gates: Gates::from_args(serve)?,
        admin_keys: AdminKeys::from_settings(admin)?,
        idp: Idp::from_settings(&serve.idp, admin)?,
        login_caller_token: serve.idp.login_caller_token.clone(),
        request_timeout: serve.request_timeout.0,
        trusted_proxies: TrustedProxies::parse(serve.trusted_proxies.as_deref())?,
        metrics_on_main_listener: serve.metrics_listen.is_none(),
    })
}

impl Prepared {
    /// The shared state of the routes, over `store`.
    pub fn with_store(self, store: Store) -> AppState {
        AppState {
            services: Services::new(
                store,
                self.config.clone(),
                self.gates,
                self.hasher,
                self.idp,
                self.login_caller_token,
            ),
            limits: Arc::new(self.limits),
            config: Arc::new(self.config),
            metrics: metrics_handle(),
            admin_keys: self.admin_keys.map(Arc::new),
            request_timeout: self.request_timeout,
            trusted_proxies: Arc::new(self.trusted_proxies),
            metrics_on_main_listener: self.metrics_on_main_listener,
            draining: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Builds the shared state of the routes; unusable admin key or proxy settings are an error.
pub fn state(store: Store, db: &DbArgs, serve: &ServeArgs, admin: &AdminJwtArgs) -> Result<AppState, String> {
    Ok(prepare(db, serve, admin)?.with_store(store))
}

/// The connection bounds of the listeners.
fn connection_limits(args: &ServeArgs) -> ConnectionLimits {
    ConnectionLimits {
        max_connections: args.max_connections,
        header_read_timeout: args.header_read_timeout.0,
        write_timeout: args.write_timeout.0,
        shutdown_grace: args.shutdown_grace.0,
    }
}

/// Serves `state` until SIGINT/SIGTERM, finishing requests in flight.
pub async fn serve(state: AppState, args: &ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    if state.admin_keys.is_none() {
        tracing::warn!("no admin JWT key configured: the admin API refuses every request");
    }
    state.services.tokens().spawn_flusher();
    state.services.activity().spawn_flusher();
    state.services.tokens().spawn_change_listener();
    state
        .services
        .instance()
        .spawn_retention(args.audit_retention_days);
    let tokens = state.services.tokens().clone();
    let activity = state.services.activity().clone();
    let limits = connection_limits(args);
    // Both listeners stop together on the first signal.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut stopping = stopping.clone();
        async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        }
    };
    let metrics = match &args.metrics_listen {
        Some(address) => {
            let listener = tokio::net::TcpListener::bind(address).await?;
            tracing::info!(listen = %listener.local_addr()?, "scimgate metrics serving");
            let app = routing::metrics_router(state.clone());
            Some(tokio::spawn(server::run(listener, app, limits, stopped())))
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, public_url = %state.config.public_url, "scimgate serving");
    let draining = state.draining.clone();
    let delay = args.shutdown_delay.0;
    tokio::spawn(async move {
        shutdown_signal().await;
        // Readiness fails first, so load balancers stop sending; then the listeners close and
        // the requests in flight finish.
        draining.store(true, Ordering::Relaxed);
        if !delay.is_zero() {
            tracing::info!(?delay, "shutting down: readiness fails, still serving meanwhile");
            tokio::time::sleep(delay).await;
        }
        tracing::info!("shutting down: no new connections; finishing requests in flight");
        let _ = stop.send(true);
    });
    server::run(listener, routing::router(state), limits, stopped()).await;
    if let Some(metrics) = metrics {
        let _ = metrics.await;
    }
    // What was recorded since the last flush is not lost on a clean shutdown.
    tokens.flush().await;
    activity.flush().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Issues a token for `org_id` from the CLI; `Ok(None)` when rotating and none was active.
pub async fn issue_token(
    store: &Store,
    hasher: &TokenHasher,
    org_id: i64,
    mode: IssueMode,
) -> Result<Option<String>, Box<dyn std::error::Error>> {
    if store.find_org(org_id).await?.is_none() {
        return Err(format!("organization {org_id} does not exist").into());
    }
    let tokens = Tokens::new(store.clone(), hasher.clone());
    let issued = tokens.issue(org_id, mode, &cli_audit()).await?;
    Ok(issued.map(|t| t.plaintext))
}

/// Revokes the active token of `org_id` from the CLI; false when there was none.
pub async fn revoke_token(store: &Store, org_id: i64) -> Result<bool, StoreError> {
    crate::tokens::revoke(store, org_id, &cli_audit()).await
}

/// CLI changes are System's, with a correlation id per command.
fn cli_audit() -> AuditContext {
    AuditContext {
        actor_detail: Some(serde_json::json!({"via": "cli"})),
        ..AuditContext::new(AuditContext::SYSTEM)
    }
}

/// Mints an admin token from the configured HS256 secret (`admin-jwt`); needs no database.
pub fn admin_jwt(admin: &AdminJwtArgs, cmd: &AdminJwtCommand) -> Result<String, String> {
    let keys = AdminKeys::from_settings(admin)?
        .ok_or("admin-jwt needs SCIMGATE_ADMIN_JWT_HS256_SECRET (at least 32 bytes)")?;
    keys.mint(&Grant {
        subject: cmd.sub.clone(),
        orgs: cmd.orgs.clone(),
        instance_admin: cmd.instance_admin,
        ttl: Duration::from_secs(cmd.ttl),
    })
}

/// Mints an ID token from the configured IdP HS256 secret (`id-token`); needs no database.
pub fn id_token(cmd: &IdTokenCommand) -> Result<String, String> {
    crate::login::idp::mint(cmd)
}
