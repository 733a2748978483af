//! Test harness: the real router over a real database (SQLite per test, or the shared PostgreSQL
//! of `SCIMGATE_TEST_DATABASE_URL`), driven in-process.
#![allow(dead_code)]

pub mod browser;
pub mod process;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use scimgate::app;
use scimgate::config::{AdminJwtArgs, ConflictDetailArg, DbArgs, IdpArgs, Secret, ServeArgs};
use scimgate::store::Store;
use scimgate::store::tokens::IssueMode;
use serde_json::Value;
use tower::ServiceExt;

/// The public URL every test app claims (never the Host header).
pub const PUBLIC_URL: &str = "https://scim.test.example";

/// The admin API's HS256 secret in every test app (no issuer, audience `scimgate`).
pub const ADMIN_SECRET: &str = "test-admin-jwt-secret-0123456789abcdef";

/// An admin JWT signed with [`ADMIN_SECRET`], valid for an hour. Permissions "read" and "write"
/// stand for `organization:read` and `organization:write`; other strings are sent as they are.
pub fn admin_jwt(sub: &str, orgs: &[(i64, &[&str])], instance_admin: bool) -> String {
    let mut claim = serde_json::Map::new();
    for (org_id, permissions) in orgs {
        let list: Vec<Value> = permissions
            .iter()
            .map(|p| match *p {
                "read" => Value::from("organization:read"),
                "write" => Value::from("organization:write"),
                other => Value::from(other),
            })
            .collect();
        claim.insert(org_id.to_string(), Value::Array(list));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let claims = serde_json::json!({
        "sub": sub,
        "aud": "scimgate",
        "iat": now,
        "exp": now + 3600,
        "orgs": claim,
        "instance_admin": instance_admin,
    });
    let key = jsonwebtoken::EncodingKey::from_secret(ADMIN_SECRET.as_bytes()).expect("secret");
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &key,
    )
    .expect("sign admin jwt")
}

/// The IdP's HS256 secret in every test app (differs from [`ADMIN_SECRET`], as it must).
pub const IDP_SECRET: &str = "test-idp-jwt-secret-0123456789abcdef-xyz";
/// The IdP's issuer in every test app.
pub const IDP_ISSUER: &str = "https://idp.test.example";
/// The audience of ID tokens in every test app (the platform's client id).
pub const IDP_AUDIENCE: &str = "platform-client";

/// The IdP settings of test apps.
pub fn test_idp() -> IdpArgs {
    IdpArgs {
        idp_issuer: Some(IDP_ISSUER.into()),
        idp_audience: Some(IDP_AUDIENCE.into()),
        idp_jwt_hs256_secret: Some(Secret(IDP_SECRET.into())),
        ..IdpArgs::default()
    }
}

/// Seconds since the epoch, strictly increasing across calls in this process, so that each
/// login of a test is newer than the one before (the replay guard orders logins by `iat`).
pub fn next_iat() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    let mut last = LAST.load(Ordering::SeqCst);
    loop {
        let next = (last + 1).max(now);
        match LAST.compare_exchange(last, next, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// An ID token signed with [`IDP_SECRET`]: `claims` plus `iss`, `aud`, `iat` (from [`next_iat`])
/// and `exp` (an hour on) unless `claims` sets them; a claim set to `null` is left out.
pub fn id_token(claims: Value) -> String {
    let iat = next_iat();
    let mut all = serde_json::json!({
        "iss": IDP_ISSUER, "aud": IDP_AUDIENCE, "iat": iat, "exp": iat + 3600,
    });
    if let (Some(all), Value::Object(extra)) = (all.as_object_mut(), claims) {
        for (k, v) in extra {
            if v.is_null() {
                all.remove(&k);
            } else {
                all.insert(k, v);
            }
        }
    }
    let key = jsonwebtoken::EncodingKey::from_secret(IDP_SECRET.as_bytes()).expect("secret");
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &all,
        &key,
    )
    .expect("sign id token")
}

/// A name no other test (or earlier run on the shared database) uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

/// The database URL for a test: the shared PostgreSQL if configured, else a fresh SQLite file.
pub fn database_url() -> String {
    match std::env::var("SCIMGATE_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => sqlite_url(),
    }
}

/// A fresh SQLite file of its own (for tests that must not share the database).
pub fn sqlite_url() -> String {
    // Under target/tmp, so `cargo clean` removes them and /tmp does not fill up.
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("scimgate-test-{}.db", uuid::Uuid::now_v7().simple()));
    format!("sqlite://{}?mode=rwc", path.display())
}

/// For a test marked `#[ignore = "needs PostgreSQL"]`: fails loudly when run without it, so it can
/// never pass having checked nothing.
pub fn require_postgres() {
    assert!(
        on_postgres(),
        "this test needs PostgreSQL: set SCIMGATE_TEST_DATABASE_URL=postgres://… (see DEVELOPERS.md)"
    );
}

/// A short prefix of its own for seeded ids (ids are at most 36 characters).
pub fn short_prefix() -> String {
    format!("s{}-", &uuid::Uuid::now_v7().simple().to_string()[20..32])
}

/// Inserts users `{prefix}1` … `{prefix}{count}` of `org_id` (ids, user names and their keys
/// alike) with one statement, as a bulk load would: seeding 100 000 users through SCIM would take
/// longer than the tests that need them. Answers their ids, in that order.
pub async fn seed_users(
    conn: &impl sea_orm::ConnectionTrait,
    org_id: i64,
    prefix: &str,
    count: usize,
) -> Vec<String> {
    let sql = format!(
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {count}) \
         INSERT INTO scim_users (id, org_id, user_name, user_name_key, external_id, active, \
         display_name_key, document, created_at, updated_at, version) \
         SELECT '{prefix}' || n, {org_id}, '{prefix}' || n, '{prefix}' || n, NULL, true, NULL, \
         '{{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"{prefix}' || n || '\",\"active\":true}}', \
         1, 1, 1 FROM s"
    );
    let done = conn.execute_unprepared(&sql).await.expect("seed users");
    assert_eq!(done.rows_affected(), count as u64);
    (1..=count).map(|n| format!("{prefix}{n}")).collect()
}

/// Makes every user of `org_id` whose id starts with `prefix` a member of `group_id`, with one
/// statement.
pub async fn seed_members(conn: &impl sea_orm::ConnectionTrait, org_id: i64, group_id: &str, prefix: &str) {
    conn.execute_unprepared(&format!(
        "INSERT INTO group_members (group_id, user_id, org_id) SELECT '{group_id}', id, org_id \
         FROM scim_users WHERE org_id = {org_id} AND id LIKE '{prefix}%'"
    ))
    .await
    .expect("seed members");
}

/// Whether the tests run on PostgreSQL.
pub fn on_postgres() -> bool {
    database_url().starts_with("postgres")
}

/// A running in-process application with its store.
#[derive(Clone)]
pub struct TestApp {
    pub router: Router,
    pub store: Store,
    pub db: DbArgs,
}

/// An organization of a test app and its SCIM token.
#[derive(Clone, Debug)]
pub struct TestOrg {
    pub id: i64,
    pub name: String,
    pub token: String,
}

/// An answer: status, headers and the body parsed as JSON (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    /// A header as a string.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    /// An app on [`database_url`] with default settings.
    pub async fn new() -> TestApp {
        TestApp::with(
            &database_url(),
            ServeArgs {
                public_url: Some(PUBLIC_URL.into()),
                ..ServeArgs::default()
            },
        )
        .await
    }

    /// An app on `url` with these serve settings.
    pub async fn with(url: &str, serve: ServeArgs) -> TestApp {
        TestApp::observed(url, serve, |_: &mut Store| {}).await
    }

    /// An app on `url` whose store `prepare` may adjust first (e.g. observe its statements).
    pub async fn observed(url: &str, mut serve: ServeArgs, prepare: impl FnOnce(&mut Store)) -> TestApp {
        // Every app trusts the test IdP unless the test configures another.
        let idp = &serve.idp;
        if idp.idp_jwt_hs256_secret.is_none() && idp.idp_jwks_file.is_none() && idp.idp_jwks_url.is_none() {
            serve.idp = test_idp();
        }
        let db = DbArgs {
            database_url: Secret(url.to_owned()),
            token_hash_key: Some(Secret("test-hash-key-0123456789abcdef0123".into())),
            ..DbArgs::default()
        };
        let mut store = app::open_store(&db).await.expect("database opens and migrates");
        prepare(&mut store);
        let admin = AdminJwtArgs {
            admin_jwt_hs256_secret: Some(Secret(ADMIN_SECRET.into())),
            ..AdminJwtArgs::default()
        };
        let state = app::state(store.clone(), &db, &serve, &admin).expect("state");
        TestApp {
            router: scimgate::routing::router(state),
            store,
            db,
        }
    }

    /// An app whose conflicts do not name the other organization.
    pub async fn anonymous() -> TestApp {
        TestApp::with(
            &database_url(),
            ServeArgs {
                public_url: Some(PUBLIC_URL.into()),
                conflict_detail: ConflictDetailArg::Anonymous,
                ..ServeArgs::default()
            },
        )
        .await
    }

    /// Creates an organization (SSO active) with a fresh token.
    pub async fn org(&self, prefix: &str) -> TestOrg {
        let name = unique(prefix);
        let org = self.store.create_org(&name, true).await.expect("create org");
        let token = app::issue_token(&self.store, &app::hasher(&self.db), org.id, IssueMode::Generate)
            .await
            .expect("issue token")
            .expect("a token");
        TestOrg {
            id: org.id,
            name,
            token,
        }
    }

    /// Sends a request with optional bearer token, body and extra headers.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        self.request(method, path, token, body, "application/scim+json", headers)
            .await
    }

    /// A request with an optional bearer credential and JSON body of `content_type`.
    async fn request(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
        content_type: &str,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(t) = bearer {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            builder = builder.header("content-type", content_type);
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        self.raw(builder.body(body).expect("request")).await
    }

    /// Sends a prepared request.
    pub async fn raw(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }
}

impl TestOrg {
    /// The SCIM base path of this organization.
    pub fn base(&self) -> String {
        format!("/api/orgs/{}/scim/v2", self.id)
    }
}

/// A SCIM client bound to one organization of an app.
pub struct Scim<'a> {
    pub app: &'a TestApp,
    pub org: &'a TestOrg,
}

impl<'a> Scim<'a> {
    /// A client for `org` on `app`.
    pub fn new(app: &'a TestApp, org: &'a TestOrg) -> Self {
        Scim { app, org }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.org.base(), path)
    }

    /// GET.
    pub async fn get(&self, path: &str) -> Answer {
        self.app
            .send(Method::GET, &self.url(path), Some(&self.org.token), None, &[])
            .await
    }

    async fn with_body(&self, method: Method, path: &str, body: &Value) -> Answer {
        self.app
            .send(method, &self.url(path), Some(&self.org.token), Some(body), &[])
            .await
    }

    /// POST a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.with_body(Method::POST, path, body).await
    }

    /// PUT a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        self.with_body(Method::PUT, path, body).await
    }

    /// PATCH a JSON body.
    pub async fn patch(&self, path: &str, body: &Value) -> Answer {
        self.with_body(Method::PATCH, path, body).await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str) -> Answer {
        self.app
            .send(Method::DELETE, &self.url(path), Some(&self.org.token), None, &[])
            .await
    }

    /// Creates a user and returns its id.
    pub async fn create_user(&self, user_name: &str) -> String {
        let answer = self
            .post("/Users", &serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name, "active": true}))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.body["id"].as_str().expect("id").to_owned()
    }

    /// Creates a group and returns its id.
    pub async fn create_group(&self, display_name: &str) -> String {
        let answer = self
            .post("/Groups", &serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": display_name}))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.body["id"].as_str().expect("id").to_owned()
    }
}

/// A PatchOp body from operations.
pub fn patch_op(operations: Value) -> Value {
    serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

/// URL-encodes a filter for a query string.
pub fn enc(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .expect("encode")
        .trim_start_matches('=')
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// Helpers added for the protocol suites (okta, entra, resources, bad_input).

/// The SCIM Error schema URN.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

impl TestApp {
    /// An app on a fresh SQLite file of its own (never the shared database), and that file's URL.
    pub async fn own_sqlite() -> (TestApp, String) {
        let url = sqlite_url();
        let app = TestApp::with(
            &url,
            ServeArgs {
                public_url: Some(PUBLIC_URL.into()),
                ..ServeArgs::default()
            },
        )
        .await;
        (app, url)
    }

    /// A second, independent connection to this app's database (for raw SQL the store does not expose).
    pub async fn sql_connection(&self) -> sea_orm::DatabaseConnection {
        sea_orm::Database::connect(self.db.database_url.0.as_str())
            .await
            .expect("second connection")
    }
}

impl<'a> Scim<'a> {
    /// Any method with an optional JSON body and extra headers.
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        self.app
            .send(method, &self.url(path), Some(&self.org.token), body, headers)
            .await
    }

    /// Any method with raw body bytes (sent as `application/scim+json`).
    pub async fn send_bytes(&self, method: Method, path: &str, body: Vec<u8>) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(self.url(path))
            .header("authorization", format!("Bearer {}", self.org.token))
            .header("content-type", "application/scim+json")
            .body(Body::from(body))
            .expect("request");
        self.app.raw(request).await
    }

    /// A list's `totalResults` for `filter` on `resource` ("/Users" or "/Groups").
    pub async fn count_where(&self, resource: &str, filter: &str) -> u64 {
        let answer = self
            .get(&format!("{resource}?filter={}&count=0", enc(filter)))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.body["totalResults"]
            .as_u64()
            .expect("integer totalResults")
    }

    /// The member ids of a group, sorted.
    pub async fn member_ids(&self, group_id: &str) -> Vec<String> {
        let answer = self.get(&format!("/Groups/{group_id}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        member_ids_of(&answer.body)
    }
}

/// The names in an instance organization listing (`GET /api/instance/orgs`).
pub fn org_names(listing: &Value) -> Vec<&str> {
    listing["organizations"]
        .as_array()
        .expect("organizations")
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect()
}

/// The member ids of a group resource, sorted.
pub fn member_ids_of(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|v| v["value"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Asserts a SCIM error answer: this status, `status` as a string in an Error body, this
/// `scimType` (or none), and the SCIM content type.
pub fn assert_scim_error(answer: &Answer, status: u16, scim_type: Option<&str>) {
    assert_eq!(answer.status.as_u16(), status, "status of {}", answer.text);
    assert_eq!(
        answer.header("content-type"),
        Some("application/scim+json"),
        "content type of {}",
        answer.text
    );
    assert_eq!(
        answer.body["schemas"],
        serde_json::json!([ERROR_SCHEMA]),
        "{}",
        answer.text
    );
    assert_eq!(
        answer.body["status"],
        Value::String(status.to_string()),
        "{}",
        answer.text
    );
    match scim_type {
        Some(t) => assert_eq!(answer.body["scimType"], t, "{}", answer.text),
        None => assert!(
            answer.body.get("scimType").is_none(),
            "unexpected scimType in {}",
            answer.text
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers added for the system suites (uniqueness, concurrency, auth, replicas, ops).

impl TestApp {
    /// Another app on this app's database with other serve settings (its own token cache).
    pub async fn sibling(&self, serve: ServeArgs) -> TestApp {
        TestApp::with(
            &self.db.database_url.0,
            ServeArgs {
                public_url: Some(PUBLIC_URL.into()),
                ..serve
            },
        )
        .await
    }

    /// Creates an organization with SSO active or not, and a fresh token.
    pub async fn org_with_sso(&self, prefix: &str, sso_active: bool) -> TestOrg {
        let name = unique(prefix);
        let org = self
            .store
            .create_org(&name, sso_active)
            .await
            .expect("create org");
        let token = self.issue(org.id, IssueMode::Generate).await.expect("a token");
        TestOrg {
            id: org.id,
            name,
            token,
        }
    }

    /// Issues (generates or rotates) a token for `org_id` on this app's store, as the CLI does.
    pub async fn issue(&self, org_id: i64, mode: IssueMode) -> Option<String> {
        app::issue_token(&self.store, &app::hasher(&self.db), org_id, mode)
            .await
            .expect("issue token")
    }

    /// The text of GET /metrics (the recorder is process-global: shared by every test of a binary).
    pub async fn metrics_text(&self) -> String {
        let answer = self.send(Method::GET, "/metrics", None, None, &[]).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.text
    }
}

/// One sample of a Prometheus text exposition: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub value: f64,
}

/// Parses the sample lines of a Prometheus text exposition (label values may hold `{`, `}`, `,`).
pub fn metric_samples(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = line[..name_end].to_owned();
        let mut labels = std::collections::BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            let mut end = body.len();
            loop {
                while chars.peek().is_some_and(|(_, c)| *c == ',' || *c == ' ') {
                    chars.next();
                }
                match chars.peek() {
                    Some((i, '}')) => {
                        end = *i + 1;
                        break;
                    }
                    None => break,
                    _ => {}
                }
                let mut key = String::new();
                for (_, c) in chars.by_ref() {
                    if c == '=' {
                        break;
                    }
                    key.push(c);
                }
                chars.next(); // opening quote
                let mut value = String::new();
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some((_, 'n')) => value.push('\n'),
                            Some((_, other)) => value.push(other),
                            None => {}
                        },
                        '"' => break,
                        c => value.push(c),
                    }
                }
                labels.insert(key, value);
            }
            rest = &body[end.min(body.len())..];
        }
        let value = rest
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN);
        out.push(Sample { name, labels, value });
    }
    out
}

/// The sum of the samples named `name` whose labels include every pair of `labels` (0 if none).
pub fn metric_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    metric_samples(text)
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).is_some_and(|x| x == v))
        })
        .map(|s| s.value)
        .sum()
}

/// One database for every test of this test binary that asks for it: the shared PostgreSQL if
/// configured, else one SQLite file per test process. Organizations created on it have ids unique
/// within the binary, so tests can tell their own series apart in the process-global metrics.
pub fn binary_database_url() -> String {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(database_url).clone()
}

impl TestApp {
    /// An app with default settings on [`binary_database_url`].
    pub async fn shared() -> TestApp {
        let app = TestApp::with(
            &binary_database_url(),
            ServeArgs {
                public_url: Some(PUBLIC_URL.into()),
                ..ServeArgs::default()
            },
        )
        .await;
        if !on_postgres() {
            // Lift this file's ids above those of the per-test SQLite files of the same binary
            // (which start at 1), so a metrics label `org="N"` is this database's organization N.
            use sea_orm::ConnectionTrait;
            app.sql_connection()
                .await
                .execute_unprepared(
                    "INSERT OR IGNORE INTO organizations (id, name, sso_active, created_at) \
                     VALUES (1000000, 'id-floor-placeholder', 0, 0)",
                )
                .await
                .expect("id floor");
        }
        app
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers added for the admin API suites (admin_catalog, admin_teams, admin_tokens, admin_auth,
// purge_fault).

/// A JWT with `organization:read` and `organization:write` on `org_id` (a fresh subject).
pub fn owner_jwt(org_id: i64) -> String {
    admin_jwt(&unique("owner"), &[(org_id, &["read", "write"])], false)
}

/// A JWT with only `organization:read` on `org_id`.
pub fn reader_jwt(org_id: i64) -> String {
    admin_jwt(&unique("reader"), &[(org_id, &["read"])], false)
}

/// A JWT of an instance admin (no organization claims).
pub fn instance_admin_jwt() -> String {
    admin_jwt(&unique("operator"), &[], true)
}

impl TestApp {
    /// An app on the test database whose store counts every statement it runs, and the counter:
    /// for tests that bound how many statements an operation takes.
    pub async fn counting_statements() -> (TestApp, std::sync::Arc<std::sync::atomic::AtomicU64>) {
        use std::sync::atomic::{AtomicU64, Ordering};
        let counter = std::sync::Arc::new(AtomicU64::new(0));
        let seen = counter.clone();
        let serve = ServeArgs {
            public_url: Some(PUBLIC_URL.into()),
            ..Default::default()
        };
        let app = TestApp::observed(&database_url(), serve, move |store| {
            store.observe_statements(move |_| {
                seen.fetch_add(1, Ordering::SeqCst);
            })
        })
        .await;
        (app, counter)
    }

    /// An admin API request: optional bearer JWT, optional JSON body (`application/json`), extra headers.
    pub async fn admin_send(
        &self,
        method: Method,
        path: &str,
        jwt: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        self.request(method, path, jwt, body, "application/json", headers)
            .await
    }

    /// The catalog service of an organization, built as the admin API builds it (actor System, a
    /// fresh correlation id): for tests that drive the service below HTTP.
    pub fn catalog(&self, org_id: i64, org_name: &str) -> scimgate::catalog::Catalog {
        scimgate::catalog::Catalog::new(
            self.store.clone(),
            scimgate::catalog::Tenant {
                org_id,
                org_name: org_name.to_owned(),
            },
            format!("{PUBLIC_URL}/api/orgs/{org_id}/scim/v2"),
            scimgate::catalog::ConflictDetail::Org,
            scimgate::store::audit::AuditContext::new(scimgate::store::audit::AuditContext::SYSTEM),
            scimgate::catalog::Cursors::new(None),
        )
    }

    /// Posts a login with this ID token; the answer.
    pub async fn login_token(&self, token: &str) -> Answer {
        self.admin_send(
            Method::POST,
            "/api/logins",
            None,
            Some(&serde_json::json!({"id_token": token})),
            &[],
        )
        .await
    }

    /// Posts a login whose ID token carries `claims` (see [`id_token`]); a 200 is expected.
    pub async fn login(&self, claims: Value) -> Value {
        let answer = self.login_token(&id_token(claims)).await;
        assert_eq!(answer.status, StatusCode::OK, "login: {}", answer.text);
        answer.body
    }

    /// Makes `email` a DELEGATED member of a delegated team the way production does: a login
    /// (subject = the e-mail, verified) whose `groups` claim names the team's catalog row, scoped
    /// to the team's organization. Answers the account id.
    pub async fn add_delegated(&self, org: &TestOrg, team_id: i64, email: &str) -> String {
        let team = self
            .admin_send(
                Method::GET,
                &format!("/api/orgs/{}/teams/{team_id}", org.id),
                Some(&owner_jwt(org.id)),
                None,
                &[],
            )
            .await;
        let group = team.body["idpGroupName"]
            .as_str()
            .expect("the team is delegated")
            .to_owned();
        let answer = self
            .login(serde_json::json!({
                "sub": email, "email": email, "email_verified": true,
                "groups": [group], "org_id": org.id,
            }))
            .await;
        answer["userId"].as_str().expect("userId").to_owned()
    }

    /// An organization created with SSO active or not and no SCIM token.
    pub async fn org_without_token(&self, prefix: &str, sso_active: bool) -> TestOrg {
        let name = unique(prefix);
        let org = self
            .store
            .create_org(&name, sso_active)
            .await
            .expect("create org");
        TestOrg {
            id: org.id,
            name,
            token: String::new(),
        }
    }
}

/// An admin API client for one organization: paths are relative to `/api/orgs/{orgId}`.
#[derive(Clone)]
pub struct OrgAdmin<'a> {
    pub app: &'a TestApp,
    pub org_id: i64,
    pub jwt: String,
}

impl<'a> OrgAdmin<'a> {
    /// A client for `org_id` with this JWT.
    pub fn new(app: &'a TestApp, org_id: i64, jwt: String) -> Self {
        OrgAdmin { app, org_id, jwt }
    }

    /// A client with read and write on `org_id`.
    pub fn owner(app: &'a TestApp, org_id: i64) -> Self {
        OrgAdmin::new(app, org_id, owner_jwt(org_id))
    }

    /// The absolute path of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("/api/orgs/{}{}", self.org_id, path)
    }

    /// Any method, optional body, extra headers.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        self.app
            .admin_send(method, &self.url(path), Some(&self.jwt), body, headers)
            .await
    }

    /// GET.
    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None, &[]).await
    }

    /// POST a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    /// PUT a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        self.send(Method::PUT, path, Some(body), &[]).await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, None, &[]).await
    }

    /// The catalog's `groups` array.
    pub async fn catalog(&self) -> Vec<Value> {
        let answer = self.get("/idp-groups").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.body["groups"].as_array().expect("groups").clone()
    }

    /// Adds a MANUAL catalog row; its id.
    pub async fn add_manual_group(&self, display_name: &str) -> String {
        let answer = self
            .post("/idp-groups", &serde_json::json!({"displayName": display_name}))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.body["id"].as_str().expect("id").to_owned()
    }

    /// Creates a team (optionally linked); its id.
    pub async fn create_team(&self, name: &str, idp_group_id: Option<&str>) -> i64 {
        let mut body = serde_json::json!({"name": name});
        if let Some(g) = idp_group_id {
            body["idpGroupId"] = Value::from(g);
        }
        let answer = self.post("/teams", &body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.body["id"].as_i64().expect("team id")
    }

    /// GET one team.
    pub async fn team(&self, team_id: i64) -> Value {
        let answer = self.get(&format!("/teams/{team_id}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.body
    }

    /// PUT a team with this name and link (`None` sends `idpGroupId: null`).
    pub async fn link(&self, team_id: i64, name: &str, idp_group_id: Option<&str>) -> Answer {
        self.put(
            &format!("/teams/{team_id}"),
            &serde_json::json!({"name": name, "idpGroupId": idp_group_id}),
        )
        .await
    }

    /// Adds a MANUAL member by e-mail; the account id.
    pub async fn add_member(&self, team_id: i64, email: &str) -> String {
        let answer = self
            .post(
                &format!("/teams/{team_id}/members"),
                &serde_json::json!({"email": email}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.body["userId"].as_str().expect("userId").to_owned()
    }

    /// A team's members as (e-mail, provenance), sorted.
    pub async fn members(&self, team_id: i64) -> Vec<(String, String)> {
        let answer = self.get(&format!("/teams/{team_id}/members")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        let mut members: Vec<(String, String)> = answer.body["members"]
            .as_array()
            .expect("members")
            .iter()
            .map(|m| {
                (
                    m["email"].as_str().unwrap_or_default().to_owned(),
                    m["provenance"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        members.sort();
        members
    }

    /// Audit events, newest first, for a query string such as `correlationId=…` (may be empty).
    pub async fn audit(&self, query: &str) -> Vec<Value> {
        let answer = self.get(&format!("/audit-events?{query}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.body["events"].as_array().expect("events").clone()
    }
}

impl<'a> Scim<'a> {
    /// POSTs a group with this display name and returns the answer, whatever it is.
    pub async fn create_group_answer(&self, display_name: &str) -> Answer {
        self.post(
            "/Groups",
            &serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": display_name}),
        )
        .await
    }
}
