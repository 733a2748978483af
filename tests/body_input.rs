//! Request bodies that are not what they claim: a body that cannot be read is a 400 (not a 413),
//! so is one that is not UTF-8 or not JSON, and a U+0000 in any string of a SCIM write body is a
//! 400 `invalidValue` that stores nothing — the same on SQLite (which would store it) and on
//! PostgreSQL (which refuses it in text).

mod common;

use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode};
use common::{Scim, TestApp, assert_scim_error, patch_op, unique};
use serde_json::{Value, json};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const NUL: &str = "\u{0}";

/// A request whose body stream fails after a first chunk, as hyper reports bad chunking or a reset.
fn broken_body_request(scim: &Scim<'_>, method: Method, path: &str) -> Request<Body> {
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"{\"displayName\": \"half")),
        Err(std::io::Error::other("invalid chunk size line")),
    ];
    Request::builder()
        .method(method)
        .uri(format!("{}{path}", scim.org.base()))
        .header("authorization", format!("Bearer {}", scim.org.token))
        .header("content-type", "application/scim+json")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .expect("request")
}

#[tokio::test]
async fn a_body_that_cannot_be_read_is_a_400_not_a_413() {
    let app = TestApp::new().await;
    let org = app.org("body-broken").await;
    let scim = Scim::new(&app, &org);
    let group = scim.create_group(&unique("broken")).await;
    let user = scim.create_user(&unique("broken")).await;
    for (method, path) in [
        (Method::POST, "/Groups".to_owned()),
        (Method::POST, "/Users".to_owned()),
        (Method::PUT, format!("/Groups/{group}")),
        (Method::PATCH, format!("/Groups/{group}")),
        (Method::PUT, format!("/Users/{user}")),
        (Method::POST, "/Groups/.search".to_owned()),
    ] {
        let answer = app.raw(broken_body_request(&scim, method.clone(), &path)).await;
        assert_scim_error(&answer, 400, Some("invalidSyntax"));
        assert!(
            answer.text.contains("could not be read"),
            "{method} {path}: {}",
            answer.text
        );
    }
    // A body over the limit is still a 413 (the positive control of the distinction).
    let big = vec![b' '; 1024 * 1024 + 1];
    assert_scim_error(&scim.send_bytes(Method::POST, "/Users", big).await, 413, None);
}

#[tokio::test]
async fn invalid_utf8_and_invalid_json_are_400_invalid_syntax() {
    let app = TestApp::new().await;
    let org = app.org("body-utf8").await;
    let scim = Scim::new(&app, &org);
    let group = scim.create_group(&unique("utf8")).await;
    let bad_utf8 = b"{\"displayName\": \"caf\xe9\", \"userName\": \"caf\xe9\"}".to_vec();
    let not_json = b"{\"displayName\": \"x\",}".to_vec();
    for body in [bad_utf8, not_json] {
        for (method, path) in [
            (Method::POST, "/Groups".to_owned()),
            (Method::POST, "/Users".to_owned()),
            (Method::PUT, format!("/Groups/{group}")),
            (Method::PATCH, format!("/Groups/{group}")),
        ] {
            let answer = scim.send_bytes(method.clone(), &path, body.clone()).await;
            assert_scim_error(&answer, 400, Some("invalidSyntax"));
        }
    }
    assert_eq!(scim.count_where("/Users", "userName sw \"caf\"").await, 0);
}

/// Every User and Group in the organization, as listed (to check nothing was stored).
async fn everything(scim: &Scim<'_>) -> (Value, Value) {
    let users = scim.get("/Users?count=1000").await;
    let groups = scim.get("/Groups?count=1000").await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.text);
    assert_eq!(groups.status, StatusCode::OK, "{}", groups.text);
    (users.body, groups.body)
}

fn assert_nul_refused(answer: &common::Answer, what: &str, place: &str) {
    assert_scim_error(answer, 400, Some("invalidValue"));
    let detail = answer.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("NUL"), "{what}: {detail}");
    assert!(detail.contains(place), "{what}: {detail} should name {place}");
}

#[tokio::test]
async fn nul_in_any_user_body_field_is_400_invalid_value_and_stores_nothing() {
    let app = TestApp::new().await;
    let org = app.org("body-nul-users").await;
    let scim = Scim::new(&app, &org);
    let user = scim.create_user(&unique("nul-user")).await;
    let before = everything(&scim).await;
    let name = unique("nul");
    let user_with = |field: &str, value: Value| {
        let mut body = json!({"schemas": [USER_SCHEMA], "userName": name, "active": true});
        body[field] = value;
        body
    };
    let bodies = [
        (
            "userName",
            user_with("userName", json!(format!("a{NUL}b"))),
            "userName",
        ),
        (
            "externalId",
            user_with("externalId", json!(format!("x{NUL}"))),
            "externalId",
        ),
        (
            "emails.value",
            user_with(
                "emails",
                json!([{"value": format!("a{NUL}@example.com"), "primary": true}]),
            ),
            "emails[0].value",
        ),
        (
            "name.givenName",
            user_with("name", json!({"givenName": NUL})),
            "name.givenName",
        ),
        (
            "a key",
            user_with(&format!("ex{NUL}tra"), json!(1)),
            "attribute name",
        ),
    ];
    for (what, body, place) in &bodies {
        assert_nul_refused(&scim.post("/Users", body).await, what, place);
        assert_nul_refused(&scim.put(&format!("/Users/{user}"), body).await, what, place);
    }
    let patches = [
        // Okta: no-path replace of attributes by name.
        (
            "okta replace",
            patch_op(json!([{"op": "replace", "value": {"userName": format!("n{NUL}"), "active": false}}])),
        ),
        // Entra: capitalised op with a path.
        (
            "entra replace",
            patch_op(json!([{"op": "Replace", "path": "externalId", "value": format!("{NUL}")}])),
        ),
        (
            "entra add email",
            patch_op(
                json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": format!("w{NUL}@example.com")}]),
            ),
        ),
    ];
    for (what, body) in &patches {
        assert_nul_refused(
            &scim.patch(&format!("/Users/{user}"), body).await,
            what,
            "Operations[0].value",
        );
    }
    assert_eq!(everything(&scim).await, before, "nothing was stored");
}

#[tokio::test]
async fn nul_in_any_group_body_field_is_400_invalid_value_and_stores_nothing() {
    let app = TestApp::new().await;
    let org = app.org("body-nul-groups").await;
    let scim = Scim::new(&app, &org);
    let member = scim.create_user(&unique("nul-member")).await;
    let group = scim.create_group(&unique("nul-group")).await;
    let before = everything(&scim).await;
    let name = unique("nul");
    let bodies = [
        (
            "displayName",
            json!({"schemas": [GROUP_SCHEMA], "displayName": format!("{name}{NUL}")}),
            "displayName",
        ),
        (
            "externalId",
            json!({"schemas": [GROUP_SCHEMA], "displayName": name, "externalId": format!("e{NUL}")}),
            "externalId",
        ),
        (
            "member id",
            json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": [{"value": member}, {"value": format!("{member}{NUL}")}]}),
            "members[1].value",
        ),
        (
            "ignored attribute",
            json!({"schemas": [GROUP_SCHEMA], "displayName": name, "urn:example:ext": {"note": NUL}}),
            "urn:example:ext.note",
        ),
        (
            "a key",
            json!({"schemas": [GROUP_SCHEMA], "displayName": name, format!("k{NUL}"): 1}),
            "attribute name",
        ),
    ];
    for (what, body, place) in &bodies {
        assert_nul_refused(&scim.post("/Groups", body).await, what, place);
        assert_nul_refused(&scim.put(&format!("/Groups/{group}"), body).await, what, place);
    }
    let patches = [
        (
            "okta add members",
            patch_op(
                json!([{"op": "add", "path": "members", "value": [{"value": format!("{member}{NUL}")}]}]),
            ),
            "Operations[0].value[0].value",
        ),
        (
            "okta rename",
            patch_op(
                json!([{"op": "replace", "value": {"id": group, "displayName": format!("{name}{NUL}")}}]),
            ),
            "Operations[0].value.displayName",
        ),
        (
            "entra remove members",
            patch_op(json!([{"op": "Remove", "path": "members", "value": [{"value": format!("{NUL}")}]}])),
            "Operations[0].value[0].value",
        ),
        (
            "entra replace externalId",
            patch_op(json!([{"op": "Replace", "path": "externalId", "value": format!("x{NUL}")}])),
            "Operations[0].value",
        ),
        (
            "a filter path",
            patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{NUL}\"]")}])),
            "Operations[0].path",
        ),
    ];
    for (what, body, place) in &patches {
        assert_nul_refused(&scim.patch(&format!("/Groups/{group}"), body).await, what, place);
    }
    assert_eq!(everything(&scim).await, before, "nothing was stored");
    // The positive control: the same bodies without NUL are accepted.
    let ok = scim
        .patch(
            &format!("/Groups/{group}"),
            &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": member}]}])),
        )
        .await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.text);
}
