//! Ids that no row can have: PostgreSQL refuses NUL (0x00) in text, so an id carrying one is
//! answered without reaching the database, the same on both: 404 for an id in the path, 400
//! `invalidValue` for a member id, and nothing stored.

mod common;

use axum::http::{Method, StatusCode};
use common::{OrgAdmin, Scim, TestApp, assert_scim_error};
use serde_json::{Value, json};

const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// Every method on `{resource}/{id}` answers 404 as a SCIM error.
async fn all_methods_not_found(scim: &Scim<'_>, path: &str, put_body: &Value, patch_body: &Value) {
    for (method, body) in [
        (Method::GET, None),
        (Method::PUT, Some(put_body)),
        (Method::PATCH, Some(patch_body)),
        (Method::DELETE, None),
    ] {
        let answer = scim.send_with(method.clone(), path, body, &[]).await;
        assert_scim_error(&answer, 404, None);
        assert!(!answer.text.is_empty(), "{method} {path}");
    }
}

#[tokio::test]
async fn group_ids_with_nul_are_not_found() {
    let app = TestApp::new().await;
    let org = app.org("nulgroup").await;
    let scim = Scim::new(&app, &org);
    let name = common::unique("nul");
    let real = scim.create_group(&name).await;
    let renamed = common::unique("renamed");
    let put = json!({"schemas": [GROUP_SCHEMA], "displayName": renamed});
    let patch = common::patch_op(json!([{"op": "replace", "path": "displayName", "value": renamed}]));

    for path in [
        "/Groups/a%00b".to_owned(),
        format!("/Groups/{real}%00"),
        "/Groups/%00".to_owned(),
    ] {
        all_methods_not_found(&scim, &path, &put, &patch).await;
    }
    // The real group is untouched, and no rename happened.
    let answer = scim.get(&format!("/Groups/{real}")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["displayName"], name.as_str());
    assert_eq!(
        scim.count_where("/Groups", &format!("displayName eq \"{renamed}\""))
            .await,
        0
    );
}

#[tokio::test]
async fn user_ids_with_nul_are_not_found() {
    let app = TestApp::new().await;
    let org = app.org("nuluser").await;
    let scim = Scim::new(&app, &org);
    let user_name = common::unique("nul");
    let real = scim.create_user(&user_name).await;
    let other = common::unique("other");
    let put = json!({"schemas": [USER_SCHEMA], "userName": other, "active": true});
    let patch = common::patch_op(json!([{"op": "replace", "path": "active", "value": false}]));

    for path in ["/Users/a%00b".to_owned(), format!("/Users/{real}%00")] {
        all_methods_not_found(&scim, &path, &put, &patch).await;
    }
    let answer = scim.get(&format!("/Users/{real}")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["userName"], user_name.as_str());
    assert_eq!(answer.body["active"], true);
    assert_eq!(
        scim.count_where("/Users", &format!("userName eq \"{other}\""))
            .await,
        0
    );
}

#[tokio::test]
async fn member_ids_with_nul_are_unknown_users() {
    let app = TestApp::new().await;
    let org = app.org("nulmember").await;
    let scim = Scim::new(&app, &org);
    let alice = scim.create_user(&common::unique("alice")).await;
    let bad = format!("{alice}\u{0}");

    // POST: refused, no group.
    let name = common::unique("nulmembers");
    let answer = scim
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": name,
                    "members": [{"value": alice}, {"value": bad}]}),
        )
        .await;
    assert_scim_error(&answer, 400, Some("invalidValue"));
    assert_eq!(
        scim.count_where("/Groups", &format!("displayName eq \"{name}\""))
            .await,
        0
    );

    // PUT and PATCH add on an existing group: refused, membership and version unchanged.
    let group = scim.create_group(&common::unique("kept")).await;
    let path = format!("/Groups/{group}");
    let add = |value: Value| common::patch_op(json!([{"op": "add", "path": "members", "value": value}]));
    let answer = scim.patch(&path, &add(json!([{"value": alice}]))).await;
    assert!(answer.status.is_success(), "{}", answer.text);
    let before = scim.get(&path).await;
    assert_eq!(before.status, StatusCode::OK);

    let put = json!({"schemas": [GROUP_SCHEMA], "displayName": before.body["displayName"],
                     "members": [{"value": bad}]});
    assert_scim_error(&scim.put(&path, &put).await, 400, Some("invalidValue"));
    for value in [json!([{"value": bad}]), json!([{"value": "\u{0}"}])] {
        assert_scim_error(&scim.patch(&path, &add(value)).await, 400, Some("invalidValue"));
    }
    // Removing a member no row can be is no error and removes nobody else.
    let remove = common::patch_op(json!([{"op": "remove", "path": "members", "value": [{"value": bad}]}]));
    let answer = scim.patch(&path, &remove).await;
    assert!(!answer.status.is_server_error(), "{}", answer.text);

    let after = scim.get(&path).await;
    assert_eq!(after.body["members"], before.body["members"]);
    assert_eq!(after.body["meta"]["version"], before.body["meta"]["version"]);
}

#[tokio::test]
async fn admin_ids_with_nul_find_nothing() {
    let app = TestApp::new().await;
    let org = app.org("nuladmin").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let row = owner.add_manual_group(&common::unique("row")).await;

    let answer = owner.delete("/idp-groups/a%00b").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.text);
    let answer = owner.delete(&format!("/idp-groups/{row}%00")).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.text);
    assert_eq!(owner.catalog().await.len(), 1, "the row is still there");

    let team_name = common::unique("team");
    let answer = owner
        .post(
            "/teams",
            &json!({"name": team_name, "idpGroupId": format!("{row}\u{0}")}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text);
    let teams = owner.get("/teams").await;
    assert_eq!(teams.body["teams"], json!([]), "no team was created");

    let team = owner.create_team(&common::unique("manual"), None).await;
    let answer = owner
        .put(&format!("/teams/{team}"), &json!({"idpGroupId": "a\u{0}b"}))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text);
    assert_eq!(
        owner.get(&format!("/teams/{team}")).await.body["idpGroupId"],
        Value::Null
    );
    let answer = owner.delete(&format!("/teams/{team}/members/a%00b")).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.text);

    // A filter value no event can hold is the caller's mistake, refused like other NUL input.
    let answer = owner.get("/audit-events?correlationId=a%00b").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text);
}
