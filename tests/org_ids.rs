//! An organization id is parsed one way on every route: only its canonical decimal spelling names
//! the organization. "+7", "07" or "7 " reach nothing — 404 on the admin API, 401 on SCIM (where an
//! unknown organization and a foreign token look the same) — with the same token that works for "7".

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, instance_admin_jwt, owner_jwt};

/// Spellings of `id` that must not reach it.
fn aliases(id: i64) -> Vec<String> {
    vec![
        format!("+{id}"),
        format!("0{id}"),
        format!("00{id}"),
        format!("{id}%20"),
        format!("%20{id}"),
        format!("{id}.0"),
    ]
}

#[tokio::test]
async fn only_the_canonical_spelling_of_an_org_id_reaches_the_organization_on_every_route() {
    let app = TestApp::new().await;
    let org = app.org("ids").await;
    let owner = owner_jwt(org.id);
    let operator = instance_admin_jwt();
    let admin_routes = [
        (Method::GET, "idp-groups", &owner),
        (Method::GET, "scim/config", &owner),
        (Method::GET, "teams", &owner),
        (Method::GET, "audit-events", &owner),
        (Method::GET, "teams/1", &owner),
        (Method::GET, "teams/1/members", &owner),
        (Method::POST, "idp-groups", &owner),
        (Method::DELETE, "idp-groups/x", &owner),
        (Method::POST, "scim/token", &owner),
        (Method::POST, "scim/token/rotate", &owner),
        (Method::DELETE, "scim/token", &owner),
        (Method::POST, "teams", &owner),
        (Method::PUT, "teams/1", &owner),
        (Method::DELETE, "teams/1", &owner),
        (Method::POST, "teams/1/members", &owner),
        (Method::DELETE, "teams/1/members/x", &owner),
    ];
    // A body every write route accepts the shape of, so only the organization can refuse it.
    let body = serde_json::json!({"displayName": "ids", "name": "ids", "email": "ids@example.com"});
    let scim_bases = ["/api/orgs/{}/scim/v2", "/orgs/{}/scim/v2"];

    // Positive controls: the canonical id works with these very credentials.
    for (method, route, jwt) in &admin_routes[..4] {
        let path = format!("/api/orgs/{}/{route}", org.id);
        let answer = app.admin_send(method.clone(), &path, Some(jwt), None, &[]).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
    }
    for base in scim_bases {
        let path = format!("{}/Users", base.replace("{}", &org.id.to_string()));
        let answer = app.send(Method::GET, &path, Some(&org.token), None, &[]).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
    }
    let enable = serde_json::json!({"ssoActive": true});
    let path = format!("/api/instance/orgs/{}", org.id);
    let answer = app
        .admin_send(Method::PATCH, &path, Some(&operator), Some(&enable), &[])
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);

    for alias in aliases(org.id) {
        for (method, route, jwt) in &admin_routes {
            let path = format!("/api/orgs/{alias}/{route}");
            let body = (method != Method::GET && method != Method::DELETE).then_some(&body);
            let answer = app.admin_send(method.clone(), &path, Some(jwt), body, &[]).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}: {}", answer.text);
            assert!(answer.body["message"].is_string(), "{path}: {}", answer.text);
        }
        let path = format!("/api/instance/orgs/{alias}");
        let answer = app
            .admin_send(Method::PATCH, &path, Some(&operator), Some(&enable), &[])
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}: {}", answer.text);
        for base in scim_bases {
            let path = format!("{}/Users", base.replace("{}", &alias));
            let answer = app.send(Method::GET, &path, Some(&org.token), None, &[]).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{path}: {}", answer.text);
        }
    }
    // Nothing was written through an alias: the token still works, no team or row appeared.
    let scim = format!("{}/Groups", org.base());
    let answer = app.send(Method::GET, &scim, Some(&org.token), None, &[]).await;
    assert_eq!(answer.body["totalResults"], 0, "{}", answer.text);
    let path = format!("/api/orgs/{}/teams", org.id);
    let answer = app.admin_send(Method::GET, &path, Some(&owner), None, &[]).await;
    assert_eq!(answer.body["teams"], serde_json::json!([]), "{}", answer.text);
    let path = format!("/api/orgs/{}/idp-groups", org.id);
    let answer = app.admin_send(Method::GET, &path, Some(&owner), None, &[]).await;
    assert_eq!(answer.body["groups"], serde_json::json!([]), "{}", answer.text);
}
