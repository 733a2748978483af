//! Configuration from flags and environment (`SCIMGATE_*`), as one clap structure.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::catalog::ConflictDetail;
use crate::routing::admin_auth::OrgGrant;

/// A value that must never reach a log line (database URLs carry passwords, keys are keys).
#[derive(Clone)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A duration setting: whole seconds (`30`) or a number with a unit (`30s`, `500ms`, `2m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl std::str::FromStr for Span {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Ok(secs) = s.parse::<u64>() {
            return Ok(Span(Duration::from_secs(secs)));
        }
        humantime::parse_duration(s)
            .map(Span)
            .map_err(|e| format!("\"{s}\" is not a duration (e.g. 30, 30s, 500ms): {e}"))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// scimgate: a multi-tenant SCIM 2.0 gateway.
#[derive(Debug, Parser)]
#[command(name = "scimgate", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(flatten)]
    pub admin: AdminJwtArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options of every command that touches the database.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Database URL: sqlite://PATH?mode=rwc or postgres://USER@HOST/DB.
    #[arg(
        long,
        env = "SCIMGATE_DATABASE_URL",
        default_value = "sqlite://scimgate.db?mode=rwc",
        hide_env_values = true,
        global = true
    )]
    pub database_url: Secret,
    /// Key for HMAC-SHA256 of SCIM tokens (plain SHA-256 when unset). Changing it invalidates every token.
    #[arg(long, env = "SCIMGATE_TOKEN_HASH_KEY", hide_env_values = true, global = true)]
    pub token_hash_key: Option<Secret>,
    /// Connections in the database pool (default: 16 on PostgreSQL, 8 on SQLite; at least 2).
    #[arg(long, env = "SCIMGATE_DB_POOL_SIZE", global = true)]
    pub db_pool_size: Option<u32>,
    /// Longest one SQL statement may run before the database cancels it.
    #[arg(
        long,
        env = "SCIMGATE_DB_STATEMENT_TIMEOUT",
        default_value = "20s",
        global = true
    )]
    pub db_statement_timeout: Span,
}

impl Default for DbArgs {
    fn default() -> Self {
        DbArgs {
            database_url: Secret("sqlite://scimgate.db?mode=rwc".into()),
            token_hash_key: None,
            db_pool_size: None,
            db_statement_timeout: Span(Duration::from_secs(20)),
        }
    }
}

impl DbArgs {
    /// The pool size: as configured, else 16 on PostgreSQL and 8 on SQLite.
    pub fn pool_size(&self) -> u32 {
        self.db_pool_size
            .unwrap_or(if self.database_url.0.starts_with("sqlite") {
                8
            } else {
                16
            })
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage an organization's SCIM token.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Mint an admin API token (HS256, from the configured secret) for local use; prints it alone.
    AdminJwt(AdminJwtCommand),
}

/// `admin-jwt …`
#[derive(Debug, Clone, Args)]
pub struct AdminJwtCommand {
    /// Subject (`sub`) of the token.
    #[arg(long, default_value = "admin")]
    pub sub: String,
    /// Rights on an organization: ID=read, ID=write or ID=read,write (repeatable).
    #[arg(long = "org", value_name = "ID=PERMISSIONS")]
    pub orgs: Vec<OrgGrant>,
    /// Grant instance administration (every organization, instance endpoints).
    #[arg(long)]
    pub instance_admin: bool,
    /// Lifetime of the token in seconds.
    #[arg(long, default_value_t = 3600)]
    pub ttl: u64,
}

/// How admin API tokens are verified (design §2 "Admin API").
#[derive(Debug, Clone, Args)]
pub struct AdminJwtArgs {
    /// HS256 secret of admin tokens, at least 32 bytes (development and tests).
    #[arg(
        long,
        env = "SCIMGATE_ADMIN_JWT_HS256_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub admin_jwt_hs256_secret: Option<Secret>,
    /// PEM public key (RSA or EC P-256) or JWKS file of the admin token issuer; tokens naming a `kid` need a JWKS.
    #[arg(long, env = "SCIMGATE_ADMIN_JWT_KEYS", global = true)]
    pub admin_jwt_keys: Option<PathBuf>,
    /// Expected `iss` of admin tokens (required with public keys; checked when set).
    #[arg(long, env = "SCIMGATE_ADMIN_JWT_ISSUER", global = true)]
    pub admin_jwt_issuer: Option<String>,
    /// Expected `aud` of admin tokens.
    #[arg(
        long,
        env = "SCIMGATE_ADMIN_JWT_AUDIENCE",
        default_value = "scimgate",
        global = true
    )]
    pub admin_jwt_audience: String,
}

impl Default for AdminJwtArgs {
    fn default() -> Self {
        AdminJwtArgs {
            admin_jwt_hs256_secret: None,
            admin_jwt_keys: None,
            admin_jwt_issuer: None,
            admin_jwt_audience: "scimgate".into(),
        }
    }
}

/// `org …`
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization; prints its id alone.
    Create {
        /// Unique name of the organization.
        name: String,
        /// Whether SSO is active (gates SCIM provisioning).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        sso: bool,
    },
    /// List organizations (id, name, SSO active).
    List,
}

/// `token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token (revoking any active one); prints the plaintext alone, once.
    Generate { org: i64 },
    /// Replace the active token; prints the plaintext alone, once.
    Rotate { org: i64 },
    /// Revoke the active token.
    Revoke { org: i64 },
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Whether 409s name the organization holding a display name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConflictDetailArg {
    Org,
    Anonymous,
}

/// Options of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(
        long,
        env = "SCIMGATE_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: String,
    /// Public base URL for `Location`, `meta.location` and `endpointUrl` (default: http://LISTEN).
    #[arg(long, env = "SCIMGATE_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// `org` names the organization holding a clashing display name; `anonymous` does not.
    #[arg(
        long,
        env = "SCIMGATE_CONFLICT_DETAIL",
        value_enum,
        default_value = "org",
        global = true
    )]
    pub conflict_detail: ConflictDetailArg,
    /// Instance switch for SCIM provisioning and delegation.
    #[arg(long, env = "SCIMGATE_IDP_DELEGATION_ENABLED", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub idp_delegation_enabled: bool,
    /// Comma-separated organization ids allowed (unset: all; empty: none).
    #[arg(long, env = "SCIMGATE_IDP_DELEGATION_ALLOWED_ORGS", global = true)]
    pub idp_delegation_allowed_orgs: Option<String>,
    /// Sustained SCIM requests per second per organization.
    #[arg(long, env = "SCIMGATE_ORG_RATE_LIMIT", default_value_t = 100, global = true)]
    pub org_rate_limit: u32,
    /// Requests an organization may send at once above its sustained rate.
    #[arg(long, env = "SCIMGATE_ORG_BURST", default_value_t = 200, global = true)]
    pub org_burst: u32,
    /// SCIM requests of one organization in flight at once.
    #[arg(
        long,
        env = "SCIMGATE_ORG_MAX_CONCURRENCY",
        default_value_t = 32,
        global = true
    )]
    pub org_max_concurrency: usize,
    /// Longest a request may take, reading its body included (well before the IdPs' 60 s).
    #[arg(long, env = "SCIMGATE_REQUEST_TIMEOUT", default_value = "30s", global = true)]
    pub request_timeout: Span,
    /// Longest a client may take to send a request's headers (slow clients are dropped).
    #[arg(
        long,
        env = "SCIMGATE_HEADER_READ_TIMEOUT",
        default_value = "10s",
        global = true
    )]
    pub header_read_timeout: Span,
    /// An answer the client does not read for this long is dropped.
    #[arg(long, env = "SCIMGATE_WRITE_TIMEOUT", default_value = "30s", global = true)]
    pub write_timeout: Span,
    /// Open client connections at most; further ones wait in the listen backlog.
    #[arg(long, env = "SCIMGATE_MAX_CONNECTIONS", default_value_t = 4096, global = true)]
    pub max_connections: usize,
    /// On SIGTERM, how long requests in flight may take to finish before connections are closed.
    #[arg(long, env = "SCIMGATE_SHUTDOWN_GRACE", default_value = "25s", global = true)]
    pub shutdown_grace: Span,
    /// Comma-separated CIDRs of proxies whose `X-Forwarded-For` is believed for the audited client address.
    #[arg(long, env = "SCIMGATE_TRUSTED_PROXIES", global = true)]
    pub trusted_proxies: Option<String>,
    /// Serve `/metrics` on this address instead of the main listener (keep it off the IdPs' port).
    #[arg(long, env = "SCIMGATE_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<String>,
    /// Log format.
    #[arg(
        long,
        env = "SCIMGATE_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
}

impl Default for ServeArgs {
    fn default() -> Self {
        ServeArgs {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            conflict_detail: ConflictDetailArg::Org,
            idp_delegation_enabled: true,
            idp_delegation_allowed_orgs: None,
            org_rate_limit: 100,
            org_burst: 200,
            org_max_concurrency: 32,
            request_timeout: Span(Duration::from_secs(30)),
            header_read_timeout: Span(Duration::from_secs(10)),
            write_timeout: Span(Duration::from_secs(30)),
            max_connections: 4096,
            shutdown_grace: Span(Duration::from_secs(25)),
            trusted_proxies: None,
            metrics_listen: None,
            log_format: LogFormat::Text,
        }
    }
}

impl ServeArgs {
    /// The per-organization limits.
    pub fn limits(&self) -> crate::routing::limits::LimitSettings {
        crate::routing::limits::LimitSettings {
            rate_per_second: self.org_rate_limit,
            burst: self.org_burst,
            max_in_flight: self.org_max_concurrency,
        }
    }
}

/// Settings a request needs, derived from [`ServeArgs`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// Without trailing slash.
    pub public_url: String,
    pub conflict_detail: ConflictDetail,
}

impl Settings {
    /// From the serve options.
    pub fn from_args(args: &ServeArgs) -> Settings {
        let public_url = args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", args.listen));
        Settings {
            public_url: public_url.trim_end_matches('/').to_owned(),
            conflict_detail: match args.conflict_detail {
                ConflictDetailArg::Org => ConflictDetail::Org,
                ConflictDetailArg::Anonymous => ConflictDetail::Anonymous,
            },
        }
    }

    /// The SCIM base URL of an organization.
    pub fn scim_base_url(&self, org_id: i64) -> String {
        format!("{}/api/orgs/{org_id}/scim/v2", self.public_url)
    }
}

/// The feature gates of SCIM provisioning (design §2).
#[derive(Debug, Clone)]
pub struct Gates {
    pub enabled: bool,
    /// `None`: every organization.
    pub allowed: Option<HashSet<i64>>,
}

impl Gates {
    /// From the serve options; an unparsable id in the allowlist is an error at start.
    pub fn from_args(args: &ServeArgs) -> Result<Gates, String> {
        let allowed = match &args.idp_delegation_allowed_orgs {
            None => None,
            Some(list) => Some(
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        s.parse::<i64>().map_err(|_| {
                            format!("SCIMGATE_IDP_DELEGATION_ALLOWED_ORGS: \"{s}\" is not an organization id")
                        })
                    })
                    .collect::<Result<HashSet<_>, _>>()?,
            ),
        };
        Ok(Gates {
            enabled: args.idp_delegation_enabled,
            allowed,
        })
    }

    /// Whether an organization may use its SCIM endpoint.
    pub fn scim_enabled(&self, org_id: i64, sso_active: bool) -> bool {
        self.enabled && sso_active && self.allowed.as_ref().is_none_or(|a| a.contains(&org_id))
    }
}
