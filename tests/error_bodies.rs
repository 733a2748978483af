//! Every error carries its API's body and status (issue 6, finding 6): a SCIM Error under the
//! SCIM base URLs, `{"status": <int>, "message": "…"}` on the admin API and the operator
//! endpoints, never axum's empty 405 or `text/plain` rejection; and no error grows with the input
//! it refuses (a huge id or value is echoed as a short excerpt).

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{Answer, OrgAdmin, Scim, TestApp, assert_scim_error, enc, instance_admin_jwt};
use serde_json::{Value, json};

/// Asserts the admin error shape: this status, `application/json`, `{status: <int>, message}`.
fn assert_admin_error(answer: &Answer, status: u16) {
    assert_eq!(answer.status.as_u16(), status, "status of {}", answer.text);
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "content type of {}",
        answer.text
    );
    assert_eq!(answer.body["status"], json!(status), "{}", answer.text);
    assert!(
        answer.body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message in {}",
        answer.text
    );
}

/// A request without a body, with an optional bearer credential.
async fn call(app: &TestApp, method: Method, path: &str, bearer: Option<&str>) -> Answer {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(b) = bearer {
        builder = builder.header("authorization", format!("Bearer {b}"));
    }
    app.raw(builder.body(Body::empty()).expect("request")).await
}

/// The length of an error's human-readable text, whichever API answered.
fn message_len(answer: &Answer) -> usize {
    answer.body["detail"]
        .as_str()
        .or_else(|| answer.body["message"].as_str())
        .map_or(usize::MAX, str::len)
}

#[tokio::test]
async fn a_non_utf8_id_on_a_scim_route_is_a_404_scim_error() {
    let app = TestApp::new().await;
    let org = app.org("utf8").await;
    for (method, path) in [
        (Method::GET, "/Users/%FF"),
        (Method::GET, "/Groups/%C3%28"),
        (Method::PUT, "/Users/a%FFb"),
        (Method::PATCH, "/Groups/%FF"),
        (Method::DELETE, "/Users/%FF"),
        (Method::GET, "/%FF"),
        (Method::POST, "/%FF/x"),
    ] {
        let answer = call(
            &app,
            method.clone(),
            &format!("{}{path}", org.base()),
            Some(&org.token),
        )
        .await;
        assert_scim_error(&answer, 404, None);
        let alias = format!("/orgs/{}/scim/v2{path}", org.id);
        assert_scim_error(&call(&app, method, &alias, Some(&org.token)).await, 404, None);
    }
    // Authentication still comes first: without a token the same path is a 401.
    let answer = call(&app, Method::GET, &format!("{}/Users/%FF", org.base()), None).await;
    assert_scim_error(&answer, 401, None);
    assert!(answer.header("www-authenticate").is_some());
    // Positive control: a UTF-8 id that exists nowhere is an ordinary 404.
    let answer = call(
        &app,
        Method::GET,
        &format!("{}/Users/%C3%A9", org.base()),
        Some(&org.token),
    )
    .await;
    assert_scim_error(&answer, 404, None);
}

#[tokio::test]
async fn a_non_utf8_id_on_an_admin_route_is_a_404_admin_error() {
    let app = TestApp::new().await;
    let org = app.org("utf8-admin").await;
    let owner = OrgAdmin::owner(&app, org.id);
    assert_admin_error(&owner.get("/teams/%FF").await, 404);
    assert_admin_error(&owner.delete("/idp-groups/%FF").await, 404);
    assert_admin_error(&owner.get("/teams/%FF/members").await, 404);
    let jwt = owner.jwt.clone();
    assert_admin_error(
        &call(&app, Method::GET, "/api/orgs/%FF/teams", Some(&jwt)).await,
        404,
    );
}

#[tokio::test]
async fn operator_endpoints_answer_405_in_the_admin_shape() {
    let app = TestApp::new().await;
    for (method, path) in [
        (Method::POST, "/healthz"),
        (Method::DELETE, "/readyz"),
        (Method::PUT, "/metrics"),
        (Method::from_bytes(b"BREW").expect("method"), "/healthz"),
    ] {
        let answer = call(&app, method.clone(), path, None).await;
        assert_admin_error(&answer, 405);
        assert!(
            answer.header("allow").is_some_and(|a| a.contains("GET")),
            "{method} {path}: Allow header kept"
        );
    }
}

#[tokio::test]
async fn admin_routes_answer_405_and_404_in_the_admin_shape() {
    let app = TestApp::new().await;
    let org = app.org("admin-405").await;
    let owner = OrgAdmin::owner(&app, org.id);
    assert_admin_error(&owner.send(Method::PUT, "/idp-groups", None, &[]).await, 405);
    assert_admin_error(&owner.send(Method::PATCH, "/teams", None, &[]).await, 405);
    assert_admin_error(&owner.send(Method::GET, "/scim/token", None, &[]).await, 405);
    let jwt = instance_admin_jwt();
    let answer = app
        .admin_send(Method::DELETE, "/api/instance/orgs", Some(&jwt), None, &[])
        .await;
    assert_admin_error(&answer, 405);
    // Unknown paths outside the SCIM base URLs.
    assert_admin_error(&call(&app, Method::GET, "/nowhere", None).await, 404);
    assert_admin_error(&owner.get("/no-such-thing").await, 404);
    // SCIM routes keep their own body for the same mistakes.
    let answer = call(
        &app,
        Method::PUT,
        &format!("{}/Users", org.base()),
        Some(&org.token),
    )
    .await;
    assert_scim_error(&answer, 405, None);
}

#[tokio::test]
async fn a_bad_audit_query_is_a_400_in_the_admin_shape() {
    let app = TestApp::new().await;
    let org = app.org("audit-q").await;
    let owner = OrgAdmin::owner(&app, org.id);
    assert_admin_error(&owner.get("/audit-events?limit=ten").await, 400);
    // Positive control.
    assert_eq!(owner.get("/audit-events?limit=10").await.status, StatusCode::OK);
}

#[tokio::test]
async fn readyz_503_is_an_admin_error_with_retry_after() {
    use sea_orm::ConnectionTrait;
    // A database of its own: the migrations table is renamed away for the duration.
    let (app, _) = TestApp::own_sqlite().await;
    let sql = app.sql_connection().await;
    sql.execute_unprepared("ALTER TABLE seaql_migrations RENAME TO seaql_migrations_away")
        .await
        .expect("rename");
    let answer = call(&app, Method::GET, "/readyz", None).await;
    assert_admin_error(&answer, 503);
    assert!(answer.header("retry-after").is_some(), "503 without Retry-After");
    sql.execute_unprepared("DROP TABLE IF EXISTS seaql_migrations")
        .await
        .expect("drop");
    sql.execute_unprepared("ALTER TABLE seaql_migrations_away RENAME TO seaql_migrations")
        .await
        .expect("rename back");
    let answer = call(&app, Method::GET, "/readyz", None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

#[tokio::test]
async fn a_megabyte_member_id_is_echoed_as_a_short_excerpt() {
    let app = TestApp::new().await;
    let org = app.org("echo-member").await;
    let scim = Scim::new(&app, &org);
    let huge = "m".repeat(1024 * 1024);
    let answer = scim
        .post(
            "/Groups",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": common::unique("echo"),
                "members": [{"value": huge}],
            }),
        )
        .await;
    assert_scim_error(&answer, 400, Some("invalidValue"));
    assert!(answer.text.len() < 600, "{} bytes of error", answer.text.len());
    assert!(answer.body["detail"].as_str().is_some_and(|d| d.contains("mmmm")));
}

#[tokio::test]
async fn huge_ids_and_values_are_echoed_as_short_excerpts() {
    let app = TestApp::new().await;
    let org = app.org("echo").await;
    let scim = Scim::new(&app, &org);
    let long_id = "i".repeat(60_000);
    for path in [format!("/Users/{long_id}"), format!("/Groups/{long_id}")] {
        let answer = scim.get(&path).await;
        assert_scim_error(&answer, 404, None);
        assert!(
            message_len(&answer) < 300,
            "{path:.20}: {} bytes",
            message_len(&answer)
        );
    }
    let long_number = "9".repeat(60_000);
    for query in [
        format!("count={long_number}x"),
        format!("startIndex={long_number}x"),
        format!("sortOrder={long_number}"),
    ] {
        let answer = scim.get(&format!("/Users?{query}")).await;
        assert_scim_error(&answer, 400, Some("invalidValue"));
        assert!(
            message_len(&answer) < 300,
            "{query:.20}: {} bytes",
            message_len(&answer)
        );
    }
    let long_name = format!("a{}", "b".repeat(4000));
    for filter in [
        format!("{long_name}! eq \"x\""),
        format!("userName {} \"x\"", "q".repeat(4000)),
        format!("{long_name} eq \"x\""),
    ] {
        let answer = scim.get(&format!("/Users?filter={}", enc(&filter))).await;
        assert_scim_error(&answer, 400, Some("invalidFilter"));
        assert!(message_len(&answer) < 1100, "{} bytes", message_len(&answer));
    }
    // Whatever quotes input, the whole detail stays bounded (an unknown endpoint name).
    let answer = scim.get(&format!("/{}", "e".repeat(60_000))).await;
    assert_scim_error(&answer, 404, None);
    assert!(message_len(&answer) <= 1100, "{} bytes", message_len(&answer));
}

#[tokio::test]
async fn admin_messages_quote_short_excerpts() {
    let app = TestApp::new().await;
    let org = app.org("echo-admin").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let answer = owner.get(&format!("/teams/{}", "7x".repeat(30_000))).await;
    assert_admin_error(&answer, 404);
    assert!(message_len(&answer) < 300, "{} bytes", message_len(&answer));
    let answer = owner
        .delete(&format!("/teams/1/members/{}", "u".repeat(60_000)))
        .await;
    assert!(answer.status.is_client_error(), "{}", answer.status);
    assert!(message_len(&answer) < 300, "{} bytes", message_len(&answer));
    // A JSON type error would quote the offending value.
    let answer = app
        .admin_send(
            Method::POST,
            "/api/instance/orgs",
            Some(&instance_admin_jwt()),
            Some(&json!({"name": common::unique("o"), "ssoActive": "y".repeat(60_000)})),
            &[],
        )
        .await;
    assert_admin_error(&answer, 400);
    assert!(message_len(&answer) < 300, "{} bytes", message_len(&answer));
    let answer = owner
        .post("/idp-groups", &Value::String("z".repeat(60_000)))
        .await;
    assert_admin_error(&answer, 400);
    assert!(message_len(&answer) < 300, "{} bytes", message_len(&answer));
}
