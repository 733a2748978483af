//! Operator endpoints: health, readiness, Prometheus metrics, correlation ids, and the SCIM error
//! shape of paths that do not exist. Also: a database that cannot answer is a 503, never a 401.

mod common;

use axum::http::{Method, StatusCode};
use common::{Scim, TestApp, assert_scim_error, metric_samples, metric_sum};
use sea_orm::ConnectionTrait;

#[tokio::test]
async fn healthz_and_readyz_answer_200() {
    let app = TestApp::new().await;
    let health = app.send(Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.text);
    let ready = app.send(Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text);
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_route_templates_and_bounded_labels() {
    // On the binary's shared database: org ids (the metric label) are then unique among its tests.
    let app = TestApp::shared().await;
    let org = app.org("ops-metrics").await;
    let scim = Scim::new(&app, &org);
    let group = scim.create_group(&common::unique("ops-grp")).await;
    assert_eq!(scim.get(&format!("/Groups/{group}")).await.status, StatusCode::OK);
    assert_eq!(
        scim.get("/Users?startIndex=1&count=2").await.status,
        StatusCode::OK
    );

    let answer = app.send(Method::GET, "/metrics", None, None, &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "Prometheus text format: {:?}",
        answer.header("content-type")
    );
    let text = answer.text;
    assert!(
        text.contains("# TYPE scimgate_http_requests_total counter"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE scimgate_http_request_duration_seconds histogram"),
        "{text}"
    );

    let org_label = org.id.to_string();
    let samples = metric_samples(&text);
    let mine: Vec<_> = samples
        .iter()
        .filter(|s| s.name == "scimgate_http_requests_total" && s.labels.get("org") == Some(&org_label))
        .collect();
    assert!(!mine.is_empty(), "no request series for org {org_label}:\n{text}");
    for s in &mine {
        for label in ["org", "route", "resource", "method", "status"] {
            assert!(s.labels.contains_key(label), "label {label} missing on {s:?}");
        }
        // Route templates, never raw paths: neither the org id nor a resource id appear in them.
        let route = &s.labels["route"];
        assert!(
            !route.contains(&org_label) && !route.contains(&group),
            "raw path as route label: {s:?}"
        );
    }
    let collection = "/api/orgs/{org_id}/scim/v2/{resource}";
    let item = "/api/orgs/{org_id}/scim/v2/{resource}/{id}";
    let created = metric_sum(
        &text,
        "scimgate_http_requests_total",
        &[
            ("org", &org_label),
            ("route", collection),
            ("resource", "Groups"),
            ("method", "POST"),
            ("status", "201"),
        ],
    );
    assert_eq!(
        created, 1.0,
        "one POST /Groups counted under the collection template:\n{text}"
    );
    let read = metric_sum(
        &text,
        "scimgate_http_requests_total",
        &[
            ("org", &org_label),
            ("route", item),
            ("resource", "Groups"),
            ("method", "GET"),
            ("status", "200"),
        ],
    );
    assert_eq!(
        read, 1.0,
        "one GET /Groups/{{id}} counted under the item template:\n{text}"
    );
    let listed = metric_sum(
        &text,
        "scimgate_http_requests_total",
        &[
            ("org", &org_label),
            ("route", collection),
            ("resource", "Users"),
            ("method", "GET"),
            ("status", "200"),
        ],
    );
    assert_eq!(listed, 1.0, "{text}");

    // The latency histogram has no org label at all (unbounded cardinality stays out of it).
    let histogram: Vec<_> = samples
        .iter()
        .filter(|s| s.name.starts_with("scimgate_http_request_duration_seconds"))
        .collect();
    assert!(
        histogram
            .iter()
            .any(|s| s.name == "scimgate_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        histogram
            .iter()
            .any(|s| s.labels.get("route").map(String::as_str) == Some(collection)),
        "{text}"
    );
    for s in histogram {
        assert!(
            !s.labels.contains_key("org"),
            "latency histogram carries org: {s:?}"
        );
    }
}

#[tokio::test]
async fn the_other_base_path_is_labelled_with_its_own_template() {
    let app = TestApp::shared().await;
    let org = app.org("ops-short").await;
    let answer = app
        .send(
            Method::GET,
            &format!("/orgs/{}/scim/v2/Groups", org.id),
            Some(&org.token),
            None,
            &[],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let text = app.metrics_text().await;
    let n = metric_sum(
        &text,
        "scimgate_http_requests_total",
        &[
            ("org", &org.id.to_string()),
            ("route", "/orgs/{org_id}/scim/v2/{resource}"),
            ("status", "200"),
        ],
    );
    assert_eq!(n, 1.0, "{text}");
}

#[tokio::test]
async fn request_id_is_echoed_when_plain_and_generated_otherwise() {
    let app = TestApp::new().await;
    let given = "req-0123456789_abc";
    let echoed = app
        .send(Method::GET, "/healthz", None, None, &[("x-request-id", given)])
        .await;
    assert_eq!(echoed.header("x-request-id"), Some(given));

    let generated = app.send(Method::GET, "/healthz", None, None, &[]).await;
    let id = generated.header("x-request-id").expect("a generated request id");
    assert!(!id.is_empty());
    let again = app.send(Method::GET, "/healthz", None, None, &[]).await;
    assert_ne!(
        again.header("x-request-id"),
        Some(id),
        "each request gets its own id"
    );

    // An id that could forge log lines is replaced, not echoed.
    let hostile = "a b\"{}";
    let replaced = app
        .send(Method::GET, "/healthz", None, None, &[("x-request-id", hostile)])
        .await;
    let id = replaced.header("x-request-id").expect("a request id");
    assert_ne!(id, hostile);
    assert!(!id.is_empty());

    // SCIM answers (errors included) carry it too.
    let scim = app
        .send(
            Method::GET,
            "/api/orgs/1/scim/v2/Users",
            None,
            None,
            &[("x-request-id", given)],
        )
        .await;
    assert_eq!(scim.status, StatusCode::UNAUTHORIZED);
    assert_eq!(scim.header("x-request-id"), Some(given));
}

/// Outside the SCIM base URLs an unknown path is not a SCIM route: it answers the admin API's
/// error body (issue 6: every error carries its API's body).
#[tokio::test]
async fn unknown_paths_outside_scim_are_admin_404s() {
    let app = TestApp::new().await;
    let assert_admin_404 = |answer: &common::Answer| {
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.text);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        assert_eq!(answer.body["status"], serde_json::json!(404), "{}", answer.text);
        assert!(answer.body["message"].is_string(), "{}", answer.text);
    };
    for path in [
        "/nope",
        "/api",
        "/api/orgs",
        "/api/orgs/1",
        "/scim/v2/Users",
        "/metrics/extra",
    ] {
        assert_admin_404(&app.send(Method::GET, path, None, None, &[]).await);
    }
    let post = app
        .send(Method::POST, "/nope", None, Some(&serde_json::json!({})), &[])
        .await;
    assert_admin_404(&post);
}

/// A token lookup the database cannot complete is 503 + Retry-After (IdPs quarantine on 401s),
/// and readiness reports it. Runs on a SQLite file of its own: it breaks that database on purpose.
#[tokio::test]
async fn a_database_that_cannot_answer_is_503_with_retry_after_not_401() {
    let (app, _url) = TestApp::own_sqlite().await;
    let org = app.org("ops-down").await;
    let sql = app.sql_connection().await;
    sql.execute_unprepared("ALTER TABLE scim_tokens RENAME TO scim_tokens_away")
        .await
        .expect("rename");

    let answer = app
        .send(
            Method::GET,
            &format!("{}/Users", org.base()),
            Some(&org.token),
            None,
            &[],
        )
        .await;
    assert_scim_error(&answer, 503, None);
    assert!(answer.header("retry-after").is_some(), "503 without Retry-After");
    assert!(
        answer.header("www-authenticate").is_none(),
        "a database failure is not a credential failure"
    );

    sql.execute_unprepared("ALTER TABLE seaql_migrations RENAME TO seaql_migrations_away")
        .await
        .expect("rename");
    let ready = app.send(Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE, "{}", ready.text);
    let health = app.send(Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!(
        health.status,
        StatusCode::OK,
        "liveness does not depend on the database"
    );

    sql.execute_unprepared("ALTER TABLE scim_tokens_away RENAME TO scim_tokens")
        .await
        .expect("rename back");
    // (Readiness may have recreated an empty migrations table meanwhile.)
    sql.execute_unprepared("DROP TABLE IF EXISTS seaql_migrations")
        .await
        .expect("drop");
    sql.execute_unprepared("ALTER TABLE seaql_migrations_away RENAME TO seaql_migrations")
        .await
        .expect("rename back");
    let answer = app
        .send(
            Method::GET,
            &format!("{}/Users", org.base()),
            Some(&org.token),
            None,
            &[],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        app.send(Method::GET, "/readyz", None, None, &[]).await.status,
        StatusCode::OK
    );
}
