//! Test harness: the real router over a real database (SQLite per test, or the shared PostgreSQL
//! of `SCIMGATE_TEST_DATABASE_URL`), driven in-process.
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use scimgate::app;
use scimgate::config::{ConflictDetailArg, DbArgs, Secret, ServeArgs};
use scimgate::store::Store;
use scimgate::store::tokens::IssueMode;
use serde_json::Value;
use tower::ServiceExt;

/// The public URL every test app claims (never the Host header).
pub const PUBLIC_URL: &str = "https://scim.test.example";

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
    let path = std::env::temp_dir().join(format!("scimgate-test-{}.db", uuid::Uuid::now_v7().simple()));
    format!("sqlite://{}?mode=rwc", path.display())
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
        TestApp::with(&database_url(), ServeArgs { public_url: Some(PUBLIC_URL.into()), ..ServeArgs::default() }).await
    }

    /// An app on `url` with these serve settings.
    pub async fn with(url: &str, serve: ServeArgs) -> TestApp {
        let db = DbArgs { database_url: Secret(url.to_owned()), token_hash_key: Some(Secret("test-hash-key-0123456789abcdef0123".into())) };
        let store = app::open_store(&db).await.expect("database opens and migrates");
        let state = app::state(store.clone(), &db, &serve).expect("state");
        TestApp { router: scimgate::routing::router(state), store, db }
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
        TestOrg { id: org.id, name, token }
    }

    /// Sends a request with optional bearer token, body and extra headers.
    pub async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>, headers: &[(&str, &str)]) -> Answer {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            builder = builder.header("content-type", "application/scim+json");
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
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer { status, headers, body, text }
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
        self.app.send(Method::GET, &self.url(path), Some(&self.org.token), None, &[]).await
    }

    /// POST a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.app.send(Method::POST, &self.url(path), Some(&self.org.token), Some(body), &[]).await
    }

    /// PUT a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Answer {
        self.app.send(Method::PUT, &self.url(path), Some(&self.org.token), Some(body), &[]).await
    }

    /// PATCH a JSON body.
    pub async fn patch(&self, path: &str, body: &Value) -> Answer {
        self.app.send(Method::PATCH, &self.url(path), Some(&self.org.token), Some(body), &[]).await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str) -> Answer {
        self.app.send(Method::DELETE, &self.url(path), Some(&self.org.token), None, &[]).await
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
    serde_urlencoded::to_string([("", s)]).expect("encode").trim_start_matches('=').to_owned()
}
