//! NUL outside SCIM request bodies (issue 6, finding 4): PostgreSQL refuses U+0000 in text while
//! SQLite stores it, so both databases must refuse it before the store, the same way — 400
//! `invalidFilter` in a filter, 400 with its scimType in any other query parameter, 400 in the
//! admin shape for an admin body — and store nothing.

mod common;

use axum::http::{Method, StatusCode};
use common::{Answer, OrgAdmin, Scim, TestApp, assert_scim_error, enc, instance_admin_jwt, unique};
use serde_json::{Value, json};

fn assert_admin_400(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.body["status"], json!(400), "{}", answer.text);
    assert!(
        answer.body["message"].as_str().is_some_and(|m| m.contains("NUL")),
        "{}",
        answer.text
    );
}

#[tokio::test]
async fn nul_in_a_filter_is_invalid_filter() {
    let app = TestApp::new().await;
    let org = app.org("nul-filter").await;
    let scim = Scim::new(&app, &org);
    scim.create_user(&unique("nul-user")).await;
    for resource in ["/Users", "/Groups"] {
        for filter in [
            // A raw NUL (percent-encoded in the URL) and a JSON escape that decodes to one.
            "displayName eq \"a\u{0}b\"",
            "displayName eq \"a\\u0000b\"",
            "externalId sw \"\\u0000\"",
            "id eq \"\\u0000\"",
            "displayName co \"x\" or displayName ew \"\\u0000\"",
        ] {
            let answer = scim.get(&format!("{resource}?filter={}", enc(filter))).await;
            assert_scim_error(&answer, 400, Some("invalidFilter"));
            let search = scim
                .post(
                    &format!("{resource}/.search"),
                    &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": filter}),
                )
                .await;
            assert_scim_error(&search, 400, Some("invalidFilter"));
        }
    }
    let answer = scim
        .get(&format!("/Users?filter={}", enc("userName eq \"a\\u0000\"")))
        .await;
    assert!(
        answer.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("offset")),
        "{}",
        answer.text
    );
    // Positive control: the same filters without NUL answer a list.
    let answer = scim
        .get(&format!("/Users?filter={}", enc("userName eq \"ab\"")))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

#[tokio::test]
async fn nul_in_other_query_parameters_is_invalid_value() {
    let app = TestApp::new().await;
    let org = app.org("nul-params").await;
    let scim = Scim::new(&app, &org);
    let user = scim.create_user(&unique("nul-param-user")).await;
    for query in [
        "sortBy=userName%00",
        "sortOrder=ascending%00",
        "attributes=userName,%00",
        "excludedAttributes=emails%00",
        "startIndex=1%00",
        "count=%001",
    ] {
        for path in ["/Users", "/Groups"] {
            let answer = scim.get(&format!("{path}?{query}")).await;
            assert_scim_error(&answer, 400, Some("invalidValue"));
        }
    }
    for query in ["attributes=userName%00", "excludedAttributes=%00"] {
        let answer = scim.get(&format!("/Users/{user}?{query}")).await;
        assert_scim_error(&answer, 400, Some("invalidValue"));
    }
    // An unknown parameter is ignored, NUL or not (Entra appends its own flags).
    let answer = scim.get("/Users?aadOptscim062020=%00").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

/// What the admin API shows of an organization: catalog, teams, members of one team, audit count.
async fn admin_state(owner: &OrgAdmin<'_>, team: i64) -> (Vec<Value>, Value, Vec<(String, String)>, usize) {
    let teams = owner.get("/teams").await.body["teams"].clone();
    (
        owner.catalog().await,
        teams,
        owner.members(team).await,
        owner.audit("limit=1000").await.len(),
    )
}

#[tokio::test]
async fn nul_in_admin_bodies_is_a_400_and_stores_nothing() {
    let app = TestApp::new().await;
    let org = app.org("nul-admin").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let group = owner.add_manual_group(&unique("nul-row")).await;
    let team = owner.create_team(&unique("nul-team"), None).await;
    owner
        .add_member(team, &format!("{}@example.com", unique("m")))
        .await;
    let before = admin_state(&owner, team).await;

    let name = unique("n");
    let cases: Vec<(Method, String, Value)> = vec![
        (
            Method::POST,
            "/idp-groups".into(),
            json!({"displayName": format!("{name}\u{0}")}),
        ),
        (
            Method::POST,
            "/teams".into(),
            json!({"name": format!("a\u{0}{name}")}),
        ),
        (
            Method::POST,
            "/teams".into(),
            json!({"name": name, "description": "d\u{0}"}),
        ),
        (
            Method::POST,
            "/teams".into(),
            json!({"name": name, "idpGroupId": format!("{group}\u{0}")}),
        ),
        (
            Method::PUT,
            format!("/teams/{team}"),
            json!({"name": format!("{name}\u{0}")}),
        ),
        (
            Method::PUT,
            format!("/teams/{team}"),
            json!({"name": name, "description": "\u{0}"}),
        ),
        (
            Method::PUT,
            format!("/teams/{team}"),
            json!({"name": name, "idpGroupId": "\u{0}"}),
        ),
        (
            Method::POST,
            format!("/teams/{team}/members"),
            json!({"email": "a\u{0}@example.com"}),
        ),
        // Even in a key or a field the handler ignores.
        (
            Method::POST,
            "/idp-groups".into(),
            json!({"displayName": name, "x\u{0}": 1}),
        ),
    ];
    for (method, path, body) in cases {
        let answer = owner.send(method.clone(), &path, Some(&body), &[]).await;
        assert_admin_400(&answer);
    }
    let answer = owner.get("/audit-events?type=%00").await;
    assert_admin_400(&answer);
    let answer = owner.get("/audit-events?correlationId=a%00").await;
    assert_admin_400(&answer);
    assert_eq!(admin_state(&owner, team).await, before, "nothing stored");

    // Positive control: the same bodies without NUL are accepted.
    let answer = owner
        .post("/teams", &json!({"name": name, "description": "d"}))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
}

#[tokio::test]
async fn nul_in_an_organization_name_is_a_400_and_creates_nothing() {
    let app = TestApp::new().await;
    let jwt = instance_admin_jwt();
    let count = |answer: &Answer| answer.body["organizations"].as_array().map_or(0, Vec::len);
    let before = app
        .admin_send(Method::GET, "/api/instance/orgs", Some(&jwt), None, &[])
        .await;
    let name = unique("nul-org");
    let answer = app
        .admin_send(
            Method::POST,
            "/api/instance/orgs",
            Some(&jwt),
            Some(&json!({"name": format!("{name}\u{0}")})),
            &[],
        )
        .await;
    assert_admin_400(&answer);
    let after = app
        .admin_send(Method::GET, "/api/instance/orgs", Some(&jwt), None, &[])
        .await;
    let names = common::org_names(&after.body);
    assert!(!names.iter().any(|n| n.starts_with(&name)), "nothing created");
    if !common::on_postgres() {
        // The shared PostgreSQL database may gain organizations from concurrent tests.
        assert_eq!(count(&after), count(&before));
    }
}
