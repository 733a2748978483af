//! Configuration from flags and environment (`SCIMGATE_*`), as one clap structure. It depends on
//! no other module of ours: the values settings take (an [`OrgGrant`], a [`ConflictDetail`]) are
//! defined here, and the modules that act on them import them from here.

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

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

/// scimgate: a multi-tenant SCIM 2.0 gateway. Without a command it serves, configured from the
/// environment (`SCIMGATE_*`); `scimgate COMMAND --help` lists each command's own options.
#[derive(Debug, Parser)]
#[command(name = "scimgate", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Parses the command line; no command at all means `serve`.
    pub fn parse_args() -> Command {
        match Cli::parse().command {
            Some(command) => command,
            None => Command::Serve(Box::new(ServeCommand::parse_from(["scimgate serve"]))),
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve HTTP (the default).
    Serve(Box<ServeCommand>),
    /// Apply pending migrations and exit.
    Migrate(MigrateCommand),
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage an organization's SCIM token.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Mint an admin API token (HS256, from the configured secret) for local use; prints it alone.
    AdminJwt(AdminJwtCommand),
    /// Mint an ID token (HS256, from SCIMGATE_IDP_JWT_HS256_SECRET) for local use; prints it alone.
    IdToken(Box<IdTokenCommand>),
}

impl Command {
    /// How this command logs (commands without logging options use the defaults).
    pub fn log(&self) -> LogArgs {
        match self {
            Command::Serve(c) => c.log.clone(),
            Command::Migrate(c) => c.log.clone(),
            _ => LogArgs::default(),
        }
    }
}

/// `serve`: every setting of a running gateway.
#[derive(Debug, Clone, Parser)]
pub struct ServeCommand {
    #[command(flatten, next_help_heading = "Database")]
    pub db: DbArgs,
    #[command(flatten, next_help_heading = "HTTP, limits and provisioning")]
    pub serve: ServeArgs,
    #[command(flatten, next_help_heading = "Admin API tokens")]
    pub admin: AdminJwtArgs,
    #[command(flatten, next_help_heading = "Logging")]
    pub log: LogArgs,
}

impl ServeCommand {
    /// Reads secrets from their `_FILE`s and refuses values that cannot work, before anything
    /// opens the database.
    pub fn check(&mut self) -> Result<(), String> {
        self.db.check()?;
        self.admin.read_secret_files()?;
        self.serve.idp.read_secret_files()?;
        self.serve.read_secret_files()?;
        self.serve.idp.check(&self.admin)?;
        self.serve.check()
    }
}

/// `migrate`.
#[derive(Debug, Clone, Args)]
pub struct MigrateCommand {
    #[command(flatten, next_help_heading = "Database")]
    pub db: DbArgs,
    #[command(flatten, next_help_heading = "Logging")]
    pub log: LogArgs,
}

/// How much is logged, and in which format (always to standard error).
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log line format.
    #[arg(long, env = "SCIMGATE_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log filter in `tracing` syntax: `info`, `debug`, `info,scimgate::request=warn`, …
    #[arg(
        long = "log",
        env = "SCIMGATE_LOG",
        value_name = "FILTER",
        default_value = DEFAULT_LOG_FILTER
    )]
    pub log_filter: String,
}

/// What is logged unless `SCIMGATE_LOG` says otherwise.
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,sea_orm_migration=warn";

impl Default for LogArgs {
    fn default() -> Self {
        LogArgs {
            log_format: LogFormat::Text,
            log_filter: std::env::var("SCIMGATE_LOG").unwrap_or_else(|_| DEFAULT_LOG_FILTER.into()),
        }
    }
}

/// Options of every command that touches the database.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Database URL: sqlite://PATH?mode=rwc or postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=…].
    #[arg(
        long,
        env = "SCIMGATE_DATABASE_URL",
        default_value = "sqlite://scimgate.db?mode=rwc",
        hide_env_values = true
    )]
    pub database_url: Secret,
    /// File holding the database URL (a mounted secret), instead of SCIMGATE_DATABASE_URL.
    #[arg(
        long,
        env = "SCIMGATE_DATABASE_URL_FILE",
        value_name = "PATH",
        conflicts_with = "database_url"
    )]
    pub database_url_file: Option<PathBuf>,
    /// Key for HMAC-SHA256 of stored SCIM token hashes (plain SHA-256 when unset); changing it
    /// invalidates every token.
    #[arg(long, env = "SCIMGATE_TOKEN_HASH_KEY", hide_env_values = true)]
    pub token_hash_key: Option<Secret>,
    /// File holding the token hash key, instead of SCIMGATE_TOKEN_HASH_KEY.
    #[arg(
        long,
        env = "SCIMGATE_TOKEN_HASH_KEY_FILE",
        value_name = "PATH",
        conflicts_with = "token_hash_key"
    )]
    pub token_hash_key_file: Option<PathBuf>,
    /// Connections in the database pool (default: 16 on PostgreSQL, 8 on SQLite; at least 2).
    #[arg(long, env = "SCIMGATE_DB_POOL_SIZE", value_name = "N")]
    pub db_pool_size: Option<u32>,
    /// Longest one SQL statement may run before PostgreSQL cancels it.
    #[arg(
        long,
        env = "SCIMGATE_DB_STATEMENT_TIMEOUT",
        value_name = "DURATION",
        default_value = "20s"
    )]
    pub db_statement_timeout: Span,
}

impl Default for DbArgs {
    fn default() -> Self {
        DbArgs {
            database_url: Secret("sqlite://scimgate.db?mode=rwc".into()),
            database_url_file: None,
            token_hash_key: None,
            token_hash_key_file: None,
            db_pool_size: None,
            db_statement_timeout: Span(Duration::from_secs(20)),
        }
    }
}

impl DbArgs {
    /// The pool size: as configured, else 16 on PostgreSQL and 8 on SQLite.
    pub fn pool_size(&self) -> u32 {
        self.db_pool_size.unwrap_or(if self.is_sqlite() { 8 } else { 16 })
    }

    fn is_sqlite(&self) -> bool {
        self.database_url.0.starts_with("sqlite:")
    }

    /// Reads secrets from their `_FILE`s and refuses values that cannot work.
    pub fn check(&mut self) -> Result<(), String> {
        if let Some(path) = &self.database_url_file {
            self.database_url = read_secret(path, "SCIMGATE_DATABASE_URL_FILE")?;
        }
        if let Some(path) = &self.token_hash_key_file {
            self.token_hash_key = Some(read_secret(path, "SCIMGATE_TOKEN_HASH_KEY_FILE")?);
        }
        let url = &self.database_url.0;
        if !(self.is_sqlite() || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(
                "SCIMGATE_DATABASE_URL must start with sqlite:// or postgres:// (the value is not shown: it may hold a password)"
                    .into(),
            );
        }
        if self.token_hash_key.as_ref().is_some_and(|k| k.0.is_empty()) {
            return Err("SCIMGATE_TOKEN_HASH_KEY is empty: unset it for plain SHA-256, or give a key".into());
        }
        if self.pool_size() < 2 {
            return Err(format!(
                "SCIMGATE_DB_POOL_SIZE is {}: at least 2 connections are needed (one request's work and the token lookup of the next)",
                self.pool_size()
            ));
        }
        positive(self.db_statement_timeout, "SCIMGATE_DB_STATEMENT_TIMEOUT")
    }
}

/// A secret read from a file; a trailing newline (as `echo` and editors leave) is not part of it.
fn read_secret(path: &std::path::Path, setting: &str) -> Result<Secret, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{setting}: cannot read {}: {e}", path.display()))?;
    let value = text.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return Err(format!("{setting}: {} is empty", path.display()));
    }
    Ok(Secret(value.to_owned()))
}

/// A time bound of zero cannot work: nothing would ever be answered.
fn positive(span: Span, setting: &str) -> Result<(), String> {
    if span.0.is_zero() {
        Err(format!("{setting} must be longer than 0"))
    } else {
        Ok(())
    }
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
    #[command(flatten, next_help_heading = "Admin API tokens")]
    pub admin: AdminJwtArgs,
}

/// A right an admin token grants on one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// `organization:read`: see the organization's configuration, catalog, teams and audit trail.
    Read,
    /// `organization:write`: change them (implies read).
    Write,
}

impl Permission {
    /// The string of this permission in the `orgs` claim.
    pub fn claim(self) -> &'static str {
        match self {
            Permission::Read => "organization:read",
            Permission::Write => "organization:write",
        }
    }

    /// The permission a string of the `orgs` claim names, if it is one of ours.
    pub fn from_claim(s: &str) -> Option<Permission> {
        match s {
            "organization:read" => Some(Permission::Read),
            "organization:write" => Some(Permission::Write),
            _ => None,
        }
    }
}

/// One `--org ID=read|write|read,write` of `scimgate admin-jwt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgGrant {
    /// The organization.
    pub org_id: i64,
    /// What the token may do there.
    pub permissions: Vec<Permission>,
}

impl std::str::FromStr for OrgGrant {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (id, perms) = s
            .split_once('=')
            .ok_or_else(|| format!("\"{s}\": expected ID=read, ID=write or ID=read,write"))?;
        let org_id = id
            .trim()
            .parse::<OrgId>()
            .map_err(|_| format!("\"{id}\" is not an organization id"))?
            .get();
        let mut permissions = Vec::new();
        for p in perms.split(',').map(str::trim) {
            let permission = match p {
                "read" | "organization:read" => Permission::Read,
                "write" | "organization:write" => Permission::Write,
                other => return Err(format!("\"{other}\" is not a permission (read or write)")),
            };
            if !permissions.contains(&permission) {
                permissions.push(permission);
            }
        }
        Ok(OrgGrant { org_id, permissions })
    }
}

/// An organization id as paths, tokens, grants and commands name it, parsed by exactly one
/// function: canonical decimal only, so "007", "+7" or " 7" can never alias organization 7 on
/// one route and not on another. Defined here because settings take it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct OrgId(i64);

/// Text that is not a canonical organization id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an organization id is a decimal number without sign or leading zeros")]
pub struct NotAnOrgId;

impl OrgId {
    /// The id as the database stores it.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl std::str::FromStr for OrgId {
    type Err = NotAnOrgId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // 18 digits always fit an i64; ids never come close.
        let canonical = !s.is_empty()
            && s.len() <= 18
            && s.bytes().all(|b| b.is_ascii_digit())
            && (s.len() == 1 || !s.starts_with('0'));
        if !canonical {
            return Err(NotAnOrgId);
        }
        s.parse().map(OrgId).map_err(|_| NotAnOrgId)
    }
}

impl std::fmt::Display for OrgId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<OrgId> for i64 {
    fn from(id: OrgId) -> i64 {
        id.0
    }
}

/// How admin API tokens are verified (design §2 "Admin API").
#[derive(Debug, Clone, Args)]
pub struct AdminJwtArgs {
    /// HS256 secret of admin tokens, at least 32 bytes (development and tests).
    #[arg(long, env = "SCIMGATE_ADMIN_JWT_HS256_SECRET", hide_env_values = true)]
    pub admin_jwt_hs256_secret: Option<Secret>,
    /// File holding the HS256 secret, instead of SCIMGATE_ADMIN_JWT_HS256_SECRET.
    #[arg(
        long,
        env = "SCIMGATE_ADMIN_JWT_HS256_SECRET_FILE",
        value_name = "PATH",
        conflicts_with = "admin_jwt_hs256_secret"
    )]
    pub admin_jwt_hs256_secret_file: Option<PathBuf>,
    /// PEM public key (RSA or EC P-256) or JWKS file of the admin token issuer; tokens naming a `kid` need a JWKS.
    #[arg(long, env = "SCIMGATE_ADMIN_JWT_KEYS", value_name = "PATH")]
    pub admin_jwt_keys: Option<PathBuf>,
    /// Expected `iss` of admin tokens (required with public keys; checked when set).
    #[arg(long, env = "SCIMGATE_ADMIN_JWT_ISSUER")]
    pub admin_jwt_issuer: Option<String>,
    /// Expected `aud` of admin tokens.
    #[arg(long, env = "SCIMGATE_ADMIN_JWT_AUDIENCE", default_value = "scimgate")]
    pub admin_jwt_audience: String,
}

impl Default for AdminJwtArgs {
    fn default() -> Self {
        AdminJwtArgs {
            admin_jwt_hs256_secret: None,
            admin_jwt_hs256_secret_file: None,
            admin_jwt_keys: None,
            admin_jwt_issuer: None,
            admin_jwt_audience: "scimgate".into(),
        }
    }
}

impl AdminJwtArgs {
    /// Reads the HS256 secret from its `_FILE`, if given.
    pub fn read_secret_files(&mut self) -> Result<(), String> {
        if let Some(path) = &self.admin_jwt_hs256_secret_file {
            self.admin_jwt_hs256_secret = Some(read_secret(path, "SCIMGATE_ADMIN_JWT_HS256_SECRET_FILE")?);
        }
        Ok(())
    }
}

/// How ID tokens of the instance's SSO issuer are verified at login (design §2 "Login
/// evaluation"). Exactly one key source; issuer and audience are required with it.
#[derive(Debug, Clone, Default, Args)]
pub struct IdpArgs {
    /// Exact `iss` of the ID tokens (required with any key source).
    #[arg(long, env = "SCIMGATE_IDP_ISSUER")]
    pub idp_issuer: Option<String>,
    /// The `aud` ID tokens must name (the platform's client id; required with any key source).
    #[arg(long, env = "SCIMGATE_IDP_AUDIENCE")]
    pub idp_audience: Option<String>,
    /// URL of the IdP's JWKS (`jwks_uri`), fetched, cached and re-fetched on an unknown `kid`.
    #[arg(long, env = "SCIMGATE_IDP_JWKS_URL")]
    pub idp_jwks_url: Option<String>,
    /// Two fetches of the JWKS URL start at least this far apart (default 30s): a token naming a
    /// new `kid` within it waits for the next fetch, so made-up `kid`s cannot hammer the IdP.
    #[arg(long, env = "SCIMGATE_IDP_JWKS_MIN_REFETCH", value_name = "SPAN")]
    pub idp_jwks_min_refetch: Option<Span>,
    /// JWKS (or PEM public key) file of the IdP.
    #[arg(long, env = "SCIMGATE_IDP_JWKS_FILE", value_name = "PATH")]
    pub idp_jwks_file: Option<PathBuf>,
    /// HS256 secret of ID tokens, at least 32 bytes (development and tests).
    #[arg(long, env = "SCIMGATE_IDP_JWT_HS256_SECRET", hide_env_values = true)]
    pub idp_jwt_hs256_secret: Option<Secret>,
    /// File holding the HS256 secret, instead of SCIMGATE_IDP_JWT_HS256_SECRET.
    #[arg(
        long,
        env = "SCIMGATE_IDP_JWT_HS256_SECRET_FILE",
        value_name = "PATH",
        conflicts_with = "idp_jwt_hs256_secret"
    )]
    pub idp_jwt_hs256_secret_file: Option<PathBuf>,
    /// When set, `POST /api/logins` callers must present it in `X-Scimgate-Caller`.
    #[arg(long, env = "SCIMGATE_LOGIN_CALLER_TOKEN", hide_env_values = true)]
    pub login_caller_token: Option<Secret>,
    /// File holding the caller token, instead of SCIMGATE_LOGIN_CALLER_TOKEN.
    #[arg(
        long,
        env = "SCIMGATE_LOGIN_CALLER_TOKEN_FILE",
        value_name = "PATH",
        conflicts_with = "login_caller_token"
    )]
    pub login_caller_token_file: Option<PathBuf>,
}

impl IdpArgs {
    /// Reads the secrets from their `_FILE`s, if given.
    pub fn read_secret_files(&mut self) -> Result<(), String> {
        if let Some(path) = &self.idp_jwt_hs256_secret_file {
            self.idp_jwt_hs256_secret = Some(read_secret(path, "SCIMGATE_IDP_JWT_HS256_SECRET_FILE")?);
        }
        if let Some(path) = &self.login_caller_token_file {
            self.login_caller_token = Some(read_secret(path, "SCIMGATE_LOGIN_CALLER_TOKEN_FILE")?);
        }
        Ok(())
    }

    /// Refuses settings that cannot work or that would let one kind of token pass for the other:
    /// one key source at most, issuer and audience with it, and neither the HS256 secret nor the
    /// audience shared with the admin API.
    pub fn check(&self, admin: &AdminJwtArgs) -> Result<(), String> {
        let set = |s: &Option<String>| s.as_deref().map(str::trim).is_some_and(|s| !s.is_empty());
        let sources = [
            set(&self.idp_jwks_url),
            self.idp_jwks_file
                .as_ref()
                .is_some_and(|p| !p.as_os_str().is_empty()),
            self.idp_jwt_hs256_secret.is_some(),
        ];
        let count = sources.iter().filter(|s| **s).count();
        if count > 1 {
            return Err("set one of SCIMGATE_IDP_JWKS_URL, SCIMGATE_IDP_JWKS_FILE and \
                        SCIMGATE_IDP_JWT_HS256_SECRET, not several"
                .into());
        }
        if count == 1 && !set(&self.idp_issuer) {
            return Err("SCIMGATE_IDP_ISSUER is required with an IdP key source".into());
        }
        if count == 1 && !set(&self.idp_audience) {
            return Err("SCIMGATE_IDP_AUDIENCE is required with an IdP key source".into());
        }
        if let (Some(idp), Some(admin)) = (&self.idp_jwt_hs256_secret, &admin.admin_jwt_hs256_secret)
            && idp.0 == admin.0
        {
            return Err(
                "SCIMGATE_IDP_JWT_HS256_SECRET must differ from SCIMGATE_ADMIN_JWT_HS256_SECRET: \
                        an ID token would pass for an admin token"
                    .into(),
            );
        }
        if let Some(audience) = &self.idp_audience
            && audience.trim() == admin.admin_jwt_audience.trim()
        {
            return Err(format!(
                "SCIMGATE_IDP_AUDIENCE must differ from SCIMGATE_ADMIN_JWT_AUDIENCE (both are \"{}\"): \
                 an ID token would pass for an admin token",
                audience.trim()
            ));
        }
        if self.login_caller_token.as_ref().is_some_and(|t| t.0.is_empty()) {
            return Err("SCIMGATE_LOGIN_CALLER_TOKEN is empty: unset it, or give a token".into());
        }
        Ok(())
    }
}

/// `id-token …`: an ID token as the instance's SSO issuer would sign it (development).
#[derive(Debug, Clone, Args)]
pub struct IdTokenCommand {
    /// Subject (`sub`) of the token.
    #[arg(long)]
    pub sub: String,
    /// The `email` claim.
    #[arg(long)]
    pub email: Option<String>,
    /// Say `email_verified: true` (binds an account pre-created by that e-mail).
    #[arg(long)]
    pub email_verified: bool,
    /// A value of the `groups` claim (repeatable; none at all sends `groups: []`).
    #[arg(long = "group", value_name = "NAME")]
    pub groups: Vec<String>,
    /// Route the login to this organization only (the `org_id` claim).
    #[arg(long)]
    pub org_id: Option<OrgId>,
    /// Lifetime of the token in seconds.
    #[arg(long, default_value_t = 300)]
    pub ttl: u64,
    #[command(flatten, next_help_heading = "IdP ID tokens")]
    pub idp: IdpArgs,
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
        #[command(flatten, next_help_heading = "Database")]
        db: DbArgs,
    },
    /// List organizations (id, name, SSO active).
    List {
        #[command(flatten, next_help_heading = "Database")]
        db: DbArgs,
    },
}

/// `token …`: ORG is the organization's id, as `org create` printed it.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token (revoking any active one); prints the plaintext alone, once.
    Generate(TokenArgs),
    /// Replace the active token; prints the plaintext alone, once.
    Rotate(TokenArgs),
    /// Revoke the active token.
    Revoke(TokenArgs),
}

/// The organization a token command acts on, and its database.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The organization's id (as `scimgate org create` printed it).
    #[arg(value_name = "ORG")]
    pub org: OrgId,
    #[command(flatten, next_help_heading = "Database")]
    pub db: DbArgs,
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

/// Whether a uniqueness conflict names the organization holding the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConflictDetail {
    /// Name the holder (the default): the IdP admin can act on it.
    #[default]
    Org,
    /// For instances whose organizations must not learn of each other.
    Anonymous,
}

/// Options of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SCIMGATE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Public base URL for `Location`, `meta.location` and `endpointUrl` (default: http://LISTEN).
    #[arg(long, env = "SCIMGATE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// `org` names the organization holding a clashing display name; `anonymous` does not.
    #[arg(long, env = "SCIMGATE_CONFLICT_DETAIL", value_enum, default_value = "org")]
    pub conflict_detail: ConflictDetailArg,
    /// Instance switch for SCIM provisioning and delegation.
    #[arg(long, env = "SCIMGATE_IDP_DELEGATION_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub idp_delegation_enabled: bool,
    /// Comma-separated organization ids allowed (unset: all; empty: none).
    #[arg(long, env = "SCIMGATE_IDP_DELEGATION_ALLOWED_ORGS")]
    pub idp_delegation_allowed_orgs: Option<String>,
    /// Sustained SCIM requests per second per organization.
    #[arg(long, env = "SCIMGATE_ORG_RATE_LIMIT", default_value_t = 100)]
    pub org_rate_limit: u32,
    /// Requests an organization may send at once above its sustained rate.
    #[arg(long, env = "SCIMGATE_ORG_BURST", default_value_t = 200)]
    pub org_burst: u32,
    /// SCIM requests of one organization in flight at once.
    #[arg(long, env = "SCIMGATE_ORG_MAX_CONCURRENCY", default_value_t = 32)]
    pub org_max_concurrency: usize,
    /// Longest a request may take, reading its body included (well before the IdPs' 60 s).
    #[arg(long, env = "SCIMGATE_REQUEST_TIMEOUT", default_value = "30s")]
    pub request_timeout: Span,
    /// Longest a client may take to send a request's headers (slow clients are dropped).
    #[arg(long, env = "SCIMGATE_HEADER_READ_TIMEOUT", default_value = "10s")]
    pub header_read_timeout: Span,
    /// An answer the client does not read for this long is dropped.
    #[arg(long, env = "SCIMGATE_WRITE_TIMEOUT", default_value = "30s")]
    pub write_timeout: Span,
    /// Open client connections at most; further ones wait in the listen backlog.
    #[arg(long, env = "SCIMGATE_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// On SIGTERM, how long requests in flight may take to finish before connections are closed.
    #[arg(long, env = "SCIMGATE_SHUTDOWN_GRACE", default_value = "25s")]
    pub shutdown_grace: Span,
    /// On SIGTERM, how long to keep serving while `/readyz` already answers 503, so load
    /// balancers stop routing here before the listener closes.
    #[arg(long, env = "SCIMGATE_SHUTDOWN_DELAY", default_value = "0s")]
    pub shutdown_delay: Span,
    /// Comma-separated CIDRs of proxies whose `X-Forwarded-For` is believed for the audited client address.
    #[arg(long, env = "SCIMGATE_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// Serve `/metrics` on this address instead of the main listener (keep it off the IdPs' port).
    #[arg(long, env = "SCIMGATE_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Audit events older than this many days are deleted in the background (0 keeps everything).
    #[arg(
        long,
        env = "SCIMGATE_AUDIT_RETENTION_DAYS",
        value_name = "DAYS",
        default_value_t = 400
    )]
    pub audit_retention_days: u32,
    /// Key (at least 32 bytes) that signs SCIM paging cursors; unset: a random key the database
    /// keeps, shared by every replica. Changing it voids the cursors handed out.
    #[arg(long, env = "SCIMGATE_CURSOR_KEY", hide_env_values = true)]
    pub cursor_key: Option<Secret>,
    /// File holding the cursor key, instead of SCIMGATE_CURSOR_KEY.
    #[arg(
        long,
        env = "SCIMGATE_CURSOR_KEY_FILE",
        value_name = "PATH",
        conflicts_with = "cursor_key"
    )]
    pub cursor_key_file: Option<PathBuf>,
    #[command(flatten, next_help_heading = "IdP ID tokens (login evaluation)")]
    pub idp: IdpArgs,
}

/// Shortest `SCIMGATE_CURSOR_KEY` accepted, in bytes (an HMAC-SHA256 key of less is weak).
pub const MIN_CURSOR_KEY_BYTES: usize = 32;

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
            shutdown_delay: Span(Duration::ZERO),
            trusted_proxies: None,
            metrics_listen: None,
            audit_retention_days: 400,
            cursor_key: None,
            cursor_key_file: None,
            idp: IdpArgs::default(),
        }
    }
}

impl ServeArgs {
    /// Reads the cursor key from its `_FILE`, if given.
    pub fn read_secret_files(&mut self) -> Result<(), String> {
        if let Some(path) = &self.cursor_key_file {
            self.cursor_key = Some(read_secret(path, "SCIMGATE_CURSOR_KEY_FILE")?);
        }
        Ok(())
    }

    /// Refuses values that cannot work, with a message naming the setting.
    pub fn check(&self) -> Result<(), String> {
        if let Some(key) = &self.cursor_key
            && key.0.len() < MIN_CURSOR_KEY_BYTES
        {
            return Err(format!(
                "SCIMGATE_CURSOR_KEY is {} bytes: at least {MIN_CURSOR_KEY_BYTES} are needed (or unset it to use the key the database keeps)",
                key.0.len()
            ));
        }
        for (value, setting) in [
            (self.org_rate_limit as usize, "SCIMGATE_ORG_RATE_LIMIT"),
            (self.org_burst as usize, "SCIMGATE_ORG_BURST"),
            (self.org_max_concurrency, "SCIMGATE_ORG_MAX_CONCURRENCY"),
            (self.max_connections, "SCIMGATE_MAX_CONNECTIONS"),
        ] {
            if value == 0 {
                return Err(format!("{setting} is 0: no request could ever be served"));
            }
        }
        positive(self.request_timeout, "SCIMGATE_REQUEST_TIMEOUT")?;
        positive(self.header_read_timeout, "SCIMGATE_HEADER_READ_TIMEOUT")?;
        positive(self.write_timeout, "SCIMGATE_WRITE_TIMEOUT")?;
        if let Some(public) = &self.public_url {
            check_public_url(public)?;
        }
        // Port 0 asks the system for a free port: two listeners may both ask.
        if self.metrics_listen.as_deref() == Some(self.listen.as_str()) && !self.listen.ends_with(":0") {
            return Err("SCIMGATE_METRICS_LISTEN must differ from SCIMGATE_LISTEN".into());
        }
        Gates::from_args(self).map(|_| ())
    }
}

/// `SCIMGATE_PUBLIC_URL` builds every `Location` the IdPs follow: it must be an absolute http(s)
/// URL with a host, and nothing after its path.
fn check_public_url(public: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("SCIMGATE_PUBLIC_URL \"{public}\" {why}"));
    let Ok(url) = url::Url::parse(public) else {
        return refuse("is not an absolute URL (e.g. https://scim.example.com)");
    };
    if !matches!(url.scheme(), "http" | "https") {
        return refuse("must start with https:// (or http://)");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return refuse("has no host");
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return refuse("must not carry credentials, a query or a fragment");
    }
    Ok(())
}

/// Settings a request needs, derived from [`ServeArgs`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// Without trailing slash.
    pub public_url: String,
    pub conflict_detail: ConflictDetail,
    /// `SCIMGATE_CURSOR_KEY`, if configured.
    pub cursor_key: Option<Secret>,
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
            cursor_key: args.cursor_key.clone(),
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
                        s.parse::<OrgId>().map(OrgId::get).map_err(|_| {
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

#[cfg(test)]
mod tests {
    #[test]
    fn only_canonical_decimal_ids_parse() {
        assert_eq!("7".parse::<OrgId>().map(OrgId::get), Ok(7));
        assert_eq!("120".parse::<OrgId>().map(OrgId::get), Ok(120));
        assert_eq!("0".parse::<OrgId>().map(OrgId::get), Ok(0));
        for bad in [
            "",
            "+7",
            "-7",
            "007",
            " 7",
            "7 ",
            "7a",
            "0x7",
            "1e3",
            "99999999999999999999",
            "٧",
        ] {
            assert_eq!(bad.parse::<OrgId>(), Err(NotAnOrgId), "{bad:?}");
        }
    }

    use super::*;

    #[test]
    fn org_grant_flags_parse() {
        let g: OrgGrant = "5=read,write".parse().expect("grant");
        assert_eq!(g.org_id, 5);
        assert_eq!(g.permissions, vec![Permission::Read, Permission::Write]);
        let g: OrgGrant = "6=write".parse().expect("grant");
        assert_eq!(g.permissions, vec![Permission::Write]);
        for bad in ["5", "x=read", "05=read", "5=", "5=admin", "5=read,,write"] {
            assert!(bad.parse::<OrgGrant>().is_err(), "{bad}");
        }
    }
}
