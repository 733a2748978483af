//! The routing layer's authentication (design §2, §3.6): every credential failure is one identical
//! 401 that reveals nothing about the organization; rotation and revocation take effect within the
//! cache's one-second bound; gated-off organizations answer 404 only after authentication; failures
//! are counted, and an unauthenticated path never names a metrics series.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode};
use common::{Answer, Scim, TestApp, TestOrg, assert_scim_error, metric_samples, metric_sum, unique};
use scimgate::config::ServeArgs;
use scimgate::store::tokens::IssueMode;
use serde_json::json;
use tokio::sync::RwLock;

/// The design's bound for a rotated or revoked token, plus slack for a loaded test machine.
const REVOCATION_DEADLINE: Duration = Duration::from_millis(1000 + 1000);

/// Tests that assert exact auth-failure counts take this exclusively; every other test of this
/// binary (they all cause 401s) takes it shared.
static FAILURE_COUNTS: RwLock<()> = RwLock::const_new(());

const DISABLED: &str = "SCIM provisioning is disabled for this organization";

/// GET with an arbitrary `Authorization` header value (or none).
async fn get_with_authorization(app: &TestApp, path: &str, authorization: Option<HeaderValue>) -> Answer {
    let mut request = Request::builder().method(Method::GET).uri(path);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    app.raw(request.body(Body::empty()).expect("request")).await
}

fn bearer(token: &str) -> Option<HeaderValue> {
    Some(HeaderValue::from_str(&format!("Bearer {token}")).expect("header"))
}

fn assert_unauthorized(answer: &Answer, reference: &Answer, case: &str) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{case}: {}", answer.text);
    assert_scim_error(answer, 401, None);
    assert_eq!(answer.text, reference.text, "{case}: the 401 body differs");
    let challenge = answer.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer"),
        "{case}: WWW-Authenticate {challenge:?}"
    );
}

/// Polls `path` with `token` until it is refused; the time it took.
async fn until_refused(app: &TestApp, path: &str, token: &str) -> Duration {
    let started = Instant::now();
    loop {
        let answer = app.send(Method::GET, path, Some(token), None, &[]).await;
        match answer.status {
            StatusCode::UNAUTHORIZED => return started.elapsed(),
            StatusCode::OK => {}
            other => panic!("unexpected {other}: {}", answer.text),
        }
        assert!(
            started.elapsed() < REVOCATION_DEADLINE,
            "token still accepted after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn every_credential_failure_is_one_identical_401() {
    let _shared = FAILURE_COUNTS.read().await;
    let app = TestApp::new().await;
    let (a, b) = (app.org("auth-a").await, app.org("auth-b").await);
    let path = format!("{}/Users", a.base());
    let reference = get_with_authorization(&app, &path, None).await;
    assert_unauthorized(&reference, &reference, "missing header");

    let huge = "x".repeat(64 * 1024);
    let cases: Vec<(&str, String, Option<HeaderValue>)> = vec![
        (
            "basic scheme",
            path.clone(),
            Some(HeaderValue::from_static("Basic dXNlcjpwYXNz")),
        ),
        (
            "scheme only",
            path.clone(),
            Some(HeaderValue::from_static("Bearer")),
        ),
        (
            "empty token",
            path.clone(),
            Some(HeaderValue::from_static("Bearer ")),
        ),
        (
            "blank token",
            path.clone(),
            Some(HeaderValue::from_static("Bearer      ")),
        ),
        (
            "token without scheme",
            path.clone(),
            Some(HeaderValue::from_str(&a.token).unwrap()),
        ),
        (
            "no space after scheme",
            path.clone(),
            Some(HeaderValue::from_str(&format!("Bearer{}", a.token)).unwrap()),
        ),
        (
            "non-UTF-8 header",
            path.clone(),
            Some(HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap()),
        ),
        ("huge token", path.clone(), bearer(&huge)),
        (
            "huge valid-looking token",
            path.clone(),
            bearer(&format!("{}{huge}", a.token)),
        ),
        (
            "unknown token",
            path.clone(),
            bearer("scimgate_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ),
        (
            "valid token plus a character",
            path.clone(),
            bearer(&format!("{}x", a.token)),
        ),
        ("another org's valid token", path.clone(), bearer(&b.token)),
        (
            "nonexistent org, valid token",
            "/api/orgs/999999999999/scim/v2/Users".into(),
            bearer(&a.token),
        ),
        (
            "nonexistent org, no token",
            "/api/orgs/999999999999/scim/v2/Users".into(),
            None,
        ),
        (
            "nonexistent org, unknown token",
            "/api/orgs/999999999999/scim/v2/Users".into(),
            bearer("scimgate_nope"),
        ),
        (
            "non-numeric org, valid token",
            "/api/orgs/abc/scim/v2/Users".into(),
            bearer(&a.token),
        ),
        (
            "non-numeric org, no token",
            "/api/orgs/abc/scim/v2/Users".into(),
            None,
        ),
        (
            "zero-padded org id",
            format!("/api/orgs/0{}/scim/v2/Users", a.id),
            bearer(&a.token),
        ),
        (
            "negative org id",
            format!("/api/orgs/-{}/scim/v2/Users", a.id),
            bearer(&a.token),
        ),
        (
            "overlong org id",
            "/api/orgs/123456789012345678901234567890/scim/v2/Users".into(),
            bearer(&a.token),
        ),
        (
            "short base path, foreign token",
            format!("/orgs/{}/scim/v2/Users", a.id),
            bearer(&b.token),
        ),
        (
            "short base path, no token",
            format!("/orgs/{}/scim/v2/Users", a.id),
            None,
        ),
    ];
    for (case, path, authorization) in cases {
        let answer = get_with_authorization(&app, &path, authorization).await;
        assert_unauthorized(&answer, &reference, case);
    }
    // Writes are refused the same way, before their bodies are looked at.
    let post = app
        .send(
            Method::POST,
            &format!("{}/Groups", a.base()),
            Some(&b.token),
            Some(&json!({"displayName": unique("x")})),
            &[],
        )
        .await;
    assert_unauthorized(&post, &reference, "POST with a foreign token");
    let junk = app
        .send(
            Method::PATCH,
            &format!("{}/Groups/x", a.base()),
            None,
            Some(&json!("not a patch")),
            &[],
        )
        .await;
    assert_unauthorized(&junk, &reference, "PATCH of junk without a token");

    // The same tokens work where they belong, on both base paths; "bearer" is case-insensitive.
    for base in [
        format!("/api/orgs/{}/scim/v2", a.id),
        format!("/orgs/{}/scim/v2", a.id),
    ] {
        let answer = app
            .send(Method::GET, &format!("{base}/Users"), Some(&a.token), None, &[])
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{base}: {}", answer.text);
    }
    let lower = get_with_authorization(
        &app,
        &path,
        Some(HeaderValue::from_str(&format!("bearer {}", a.token)).unwrap()),
    )
    .await;
    assert_eq!(lower.status, StatusCode::OK, "{}", lower.text);
    let answer = app
        .send(
            Method::GET,
            &format!("{}/Users", b.base()),
            Some(&b.token),
            None,
            &[],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_paths_under_the_scim_base_authenticate_first() {
    let _shared = FAILURE_COUNTS.read().await;
    let app = TestApp::new().await;
    let org = app.org("auth-paths").await;
    let reference = get_with_authorization(&app, &format!("{}/Users", org.base()), None).await;
    for base in [
        format!("/api/orgs/{}/scim/v2", org.id),
        format!("/orgs/{}/scim/v2", org.id),
    ] {
        for rest in [
            "/Nope",
            "/Users/some-id/extra",
            "/Groups/a/b/c",
            "/Users/0190abcd-0000-7000-8000-000000000000",
            "",
            "/",
            "/Users/",
        ] {
            let path = format!("{base}{rest}");
            let anonymous = get_with_authorization(&app, &path, None).await;
            assert_unauthorized(&anonymous, &reference, &path);
            let known = app.send(Method::GET, &path, Some(&org.token), None, &[]).await;
            assert_scim_error(&known, 404, None);
        }
        // The same on a nonexistent organization: 401, identical, whatever the path.
        let path = base.replace(&format!("/{}/", org.id), "/999999999999/") + "/Nope";
        assert_unauthorized(
            &get_with_authorization(&app, &path, None).await,
            &reference,
            &path,
        );
        assert_unauthorized(
            &get_with_authorization(&app, &path, bearer(&org.token)).await,
            &reference,
            &path,
        );
    }
}

#[tokio::test]
async fn rotation_and_revocation_take_effect_within_the_bound() {
    let _shared = FAILURE_COUNTS.read().await;
    let app = TestApp::new().await;
    let org = app.org("auth-rotate").await;
    let path = format!("{}/Users", org.base());
    // Warm the cache with the token that is about to be replaced.
    assert_eq!(
        app.send(Method::GET, &path, Some(&org.token), None, &[])
            .await
            .status,
        StatusCode::OK
    );

    let rotated = app.issue(org.id, IssueMode::Rotate).await.expect("rotated");
    assert_ne!(rotated, org.token);
    assert_eq!(
        app.send(Method::GET, &path, Some(&rotated), None, &[])
            .await
            .status,
        StatusCode::OK
    );
    let delay = until_refused(&app, &path, &org.token).await;
    println!("rotate: old token refused after {delay:?}");
    assert_eq!(
        app.send(Method::GET, &path, Some(&rotated), None, &[])
            .await
            .status,
        StatusCode::OK
    );

    // Generate also revokes whatever is active.
    let generated = app.issue(org.id, IssueMode::Generate).await.expect("generated");
    assert_eq!(
        app.send(Method::GET, &path, Some(&generated), None, &[])
            .await
            .status,
        StatusCode::OK
    );
    let delay = until_refused(&app, &path, &rotated).await;
    println!("generate: previous token refused after {delay:?}");

    // Revoke: nothing works afterwards, and there is nothing left to rotate.
    assert!(
        scimgate::app::revoke_token(&app.store, org.id)
            .await
            .expect("revoke")
    );
    let delay = until_refused(&app, &path, &generated).await;
    println!("revoke: token refused after {delay:?}");
    assert_eq!(app.issue(org.id, IssueMode::Rotate).await, None);
    assert!(
        !scimgate::app::revoke_token(&app.store, org.id)
            .await
            .expect("revoke")
    );
    // A refused token stays refused (a cached rejection is not resurrected).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.send(Method::GET, &path, Some(&org.token), None, &[])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // Another process's app (its own cache) sees the same database.
    let fresh = app.issue(org.id, IssueMode::Generate).await.expect("fresh");
    let other = app.sibling(ServeArgs::default()).await;
    assert_eq!(
        other
            .send(Method::GET, &path, Some(&fresh), None, &[])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        other
            .send(Method::GET, &path, Some(&generated), None, &[])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_while_requests_are_in_flight_never_5xx() {
    let _shared = FAILURE_COUNTS.read().await;
    let base = TestApp::new().await;
    // Limits out of the way: this is about authentication, not about the rate limiter.
    let app = base
        .sibling(ServeArgs {
            org_rate_limit: 1_000_000,
            org_burst: 1_000_000,
            org_max_concurrency: 1024,
            ..ServeArgs::default()
        })
        .await;
    let org = app.org("auth-inflight").await;
    let path = format!("{}/Groups?count=1", org.base());
    let current = Arc::new(std::sync::RwLock::new(org.token.clone()));
    let stop = Arc::new(AtomicBool::new(false));

    let mut hammers = Vec::new();
    for i in 0..4 {
        let (app, path, current, stop, first) = (
            app.clone(),
            path.clone(),
            current.clone(),
            stop.clone(),
            org.token.clone(),
        );
        hammers.push(tokio::spawn(async move {
            let mut seen: BTreeMap<u16, usize> = BTreeMap::new();
            while !stop.load(Ordering::Relaxed) {
                // Half the hammers keep the first token, half follow the current one.
                let token = if i % 2 == 0 {
                    first.clone()
                } else {
                    current.read().unwrap().clone()
                };
                let answer = app.send(Method::GET, &path, Some(&token), None, &[]).await;
                *seen.entry(answer.status.as_u16()).or_default() += 1;
                assert!(answer.status.as_u16() < 500, "{}", answer.text);
                tokio::task::yield_now().await;
            }
            seen
        }));
    }
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let token = app.issue(org.id, IssueMode::Rotate).await.expect("rotate");
        *current.write().unwrap() = token;
    }
    // Let the first token's cache entry run out while the hammers go on.
    tokio::time::sleep(REVOCATION_DEADLINE).await;
    stop.store(true, Ordering::Relaxed);
    let mut total: BTreeMap<u16, usize> = BTreeMap::new();
    let mut first_token_refused = false;
    for (i, hammer) in hammers.into_iter().enumerate() {
        let seen = hammer.await.expect("a hammer panicked");
        first_token_refused |= i % 2 == 0 && seen.contains_key(&401);
        for (status, n) in seen {
            *total.entry(status).or_default() += n;
        }
    }
    println!("statuses while rotating: {total:?}");
    assert!(total.keys().all(|s| *s == 200 || *s == 401), "{total:?}");
    assert!(total.get(&200).copied().unwrap_or(0) > 0, "{total:?}");
    assert!(
        first_token_refused,
        "the rotated-away token was never refused: {total:?}"
    );
    let latest = current.read().unwrap().clone();
    assert_eq!(
        app.send(Method::GET, &path, Some(&latest), None, &[])
            .await
            .status,
        StatusCode::OK
    );
}

async fn assert_disabled(app: &TestApp, org: &TestOrg) {
    let scim = Scim::new(app, org);
    for path in ["/Users", "/Groups", "/ServiceProviderConfig", "/Nope"] {
        let answer = scim.get(path).await;
        assert_scim_error(&answer, 404, None);
        assert_eq!(answer.body["detail"], DISABLED, "{path}");
        assert!(answer.header("www-authenticate").is_none(), "{path}");
    }
    let post = scim
        .post("/Groups", &json!({"displayName": unique("gated")}))
        .await;
    assert_scim_error(&post, 404, None);
    assert_eq!(post.body["detail"], DISABLED);
    // A bad token on its path is still a plain 401.
    let bad = app
        .send(
            Method::GET,
            &format!("{}/Users", org.base()),
            Some("scimgate_wrong"),
            None,
            &[],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED, "{}", bad.text);
    assert_ne!(bad.body["detail"], DISABLED);
    let none = app
        .send(Method::GET, &format!("{}/Users", org.base()), None, None, &[])
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{}", none.text);
}

async fn assert_enabled(app: &TestApp, org: &TestOrg) {
    let answer = Scim::new(app, org).get("/Users").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

#[tokio::test]
async fn an_organization_without_sso_is_404_after_authentication() {
    let _shared = FAILURE_COUNTS.read().await;
    let app = TestApp::new().await;
    let off = app.org_with_sso("auth-nosso", false).await;
    let on = app.org_with_sso("auth-sso", true).await;
    assert_disabled(&app, &off).await;
    assert_enabled(&app, &on).await;
    // Nothing was created by the refused POST.
    let rows = app.store.list_orgs().await.expect("orgs");
    assert!(rows.iter().any(|o| o.id == off.id && !o.sso_active));
}

#[tokio::test]
async fn the_instance_switch_and_the_allowlist_gate_organizations() {
    let _shared = FAILURE_COUNTS.read().await;
    let app = TestApp::new().await;
    let (a, b) = (app.org("gate-a").await, app.org("gate-b").await);
    assert_enabled(&app, &a).await;
    assert_enabled(&app, &b).await;

    let switched_off = app
        .sibling(ServeArgs {
            idp_delegation_enabled: false,
            ..ServeArgs::default()
        })
        .await;
    assert_disabled(&switched_off, &a).await;
    assert_disabled(&switched_off, &b).await;

    let only_b = app
        .sibling(ServeArgs {
            idp_delegation_allowed_orgs: Some(format!(" {} ,", b.id)),
            ..ServeArgs::default()
        })
        .await;
    assert_disabled(&only_b, &a).await;
    assert_enabled(&only_b, &b).await;

    let nobody = app
        .sibling(ServeArgs {
            idp_delegation_allowed_orgs: Some(String::new()),
            ..ServeArgs::default()
        })
        .await;
    assert_disabled(&nobody, &a).await;
    assert_disabled(&nobody, &b).await;
}

#[tokio::test]
async fn auth_failures_are_counted_by_reason() {
    let _exclusive = FAILURE_COUNTS.write().await;
    let app = TestApp::new().await;
    let (a, b) = (app.org("count-a").await, app.org("count-b").await);
    let path = format!("{}/Users", a.base());
    let failures =
        |text: &str, reason: &str| metric_sum(text, "scimgate_auth_failures_total", &[("reason", reason)]);
    let before = app.metrics_text().await;

    for _ in 0..3 {
        get_with_authorization(&app, &path, None).await;
    }
    for value in ["Basic abc", "Bearer "] {
        get_with_authorization(&app, &path, Some(HeaderValue::from_static(value))).await;
    }
    for _ in 0..4 {
        get_with_authorization(&app, &path, bearer("scimgate_unknown")).await;
    }
    get_with_authorization(&app, &path, bearer(&b.token)).await;
    assert_eq!(
        get_with_authorization(&app, &path, bearer(&a.token)).await.status,
        StatusCode::OK
    );

    let after = app.metrics_text().await;
    assert_eq!(
        failures(&after, "missing") - failures(&before, "missing"),
        3.0,
        "{after}"
    );
    assert_eq!(
        failures(&after, "malformed") - failures(&before, "malformed"),
        2.0,
        "{after}"
    );
    assert_eq!(
        failures(&after, "unknown_token") - failures(&before, "unknown_token"),
        4.0,
        "{after}"
    );
    assert_eq!(
        failures(&after, "foreign_org") - failures(&before, "foreign_org"),
        1.0,
        "{after}"
    );
    // The reason is the only label: no org, no token material.
    for sample in metric_samples(&after)
        .iter()
        .filter(|s| s.name == "scimgate_auth_failures_total")
    {
        assert_eq!(
            sample.labels.keys().collect::<Vec<_>>(),
            vec!["reason"],
            "{sample:?}"
        );
    }
}

#[tokio::test]
async fn an_unauthenticated_org_id_never_becomes_a_metrics_label() {
    let _shared = FAILURE_COUNTS.read().await;
    let app = TestApp::new().await;
    let org = app.org("label").await;
    for base in ["/api/orgs/987654321/scim/v2", "/orgs/987654321/scim/v2"] {
        for (method, rest) in [
            (Method::GET, "/Users"),
            (Method::POST, "/Groups"),
            (Method::DELETE, "/Users/x"),
            (Method::GET, "/garbage/../x"),
        ] {
            let path = format!("{base}{rest}");
            for token in [None, Some("scimgate_garbage"), Some(org.token.as_str())] {
                let answer = app
                    .send(method.clone(), &path, token, Some(&json!({"junk": true})), &[])
                    .await;
                assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{path}: {}", answer.text);
            }
        }
    }
    assert_eq!(Scim::new(&app, &org).get("/Users").await.status, StatusCode::OK);
    let text = app.metrics_text().await;
    assert!(
        !text.contains("987654321"),
        "an unauthenticated org id reached /metrics:\n{text}"
    );
    let own = org.id.to_string();
    assert!(
        metric_samples(&text)
            .iter()
            .any(|s| s.name == "scimgate_http_requests_total" && s.labels.get("org") == Some(&own)),
        "authenticated requests do carry their org:\n{text}"
    );
}
