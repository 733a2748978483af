//! Per-organization rate limits: 429 with Retry-After, counted only for authenticated requests.

mod common;

use axum::http::{Method, StatusCode};
use common::{PUBLIC_URL, Scim, TestApp, database_url};
use scimgate::config::ServeArgs;

async fn limited_app() -> TestApp {
    let serve = ServeArgs {
        public_url: Some(PUBLIC_URL.into()),
        org_rate_limit: 1,
        org_burst: 3,
        ..ServeArgs::default()
    };
    TestApp::with(&database_url(), serve).await
}

#[tokio::test]
async fn an_org_over_its_burst_gets_429_with_retry_after() {
    let app = limited_app().await;
    let org = app.org("limited").await;
    let other = app.org("unlimited").await;
    let scim = Scim::new(&app, &org);
    for _ in 0..3 {
        assert_eq!(scim.get("/Users").await.status, StatusCode::OK);
    }
    let refused = scim.get("/Users").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        refused
            .header("retry-after")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|s| s >= 1)
    );
    assert_eq!(refused.body["status"], "429");
    assert_eq!(refused.header("content-type"), Some("application/scim+json"));
    // Another organization's budget is its own.
    assert_eq!(Scim::new(&app, &other).get("/Users").await.status, StatusCode::OK);
}

#[tokio::test]
async fn unauthenticated_requests_do_not_spend_an_orgs_budget() {
    let app = limited_app().await;
    let org = app.org("budget").await;
    for _ in 0..20 {
        let answer = app
            .send(
                Method::GET,
                &format!("{}/Users", org.base()),
                Some("scimgate_garbage"),
                None,
                &[],
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let scim = Scim::new(&app, &org);
    for _ in 0..3 {
        assert_eq!(scim.get("/Users").await.status, StatusCode::OK);
    }
}
