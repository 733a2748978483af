//! Open uniqueness conflicts: kept from the 409 until the name frees up, visible to the refused
//! organization (scim/config) and to instance admins.

mod common;

use axum::http::{Method, StatusCode};
use common::{Scim, TestApp, instance_admin_jwt, owner_jwt, unique};
use serde_json::{Value, json};

fn conflicts_named<'a>(list: &'a Value, name: &str) -> Vec<&'a Value> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["displayName"] == name)
        .collect()
}

#[tokio::test]
async fn a_refused_name_stays_an_open_conflict_until_it_frees_up() {
    let app = TestApp::new().await;
    let holder = app.org("holder").await;
    let refused = app.org("refused").await;
    let name = unique("Shared Name");
    let group = Scim::new(&app, &holder).create_group(&name).await;

    for _ in 0..2 {
        let clash = Scim::new(&app, &refused)
            .post("/Groups", &json!({"displayName": name.to_uppercase()}))
            .await;
        assert_eq!(clash.status, StatusCode::CONFLICT);
    }

    let config_path = format!("/api/orgs/{}/scim/config", refused.id);
    let config = app
        .admin_send(Method::GET, &config_path, Some(&owner_jwt(refused.id)), None, &[])
        .await;
    assert_eq!(config.status, StatusCode::OK, "{}", config.text);
    let open = conflicts_named(&config.body["openConflicts"], &name.to_uppercase());
    assert_eq!(open.len(), 1, "{}", config.text);
    assert_eq!(open[0]["count"], 2);
    assert_eq!(open[0]["heldBy"]["id"], holder.id);
    assert_eq!(open[0]["heldBy"]["name"], holder.name.as_str());

    let instance = app
        .admin_send(
            Method::GET,
            "/api/instance/conflicts",
            Some(&instance_admin_jwt()),
            None,
            &[],
        )
        .await;
    assert_eq!(instance.status, StatusCode::OK);
    assert_eq!(
        conflicts_named(&instance.body["conflicts"], &name.to_uppercase()).len(),
        1
    );
    let not_admin = app
        .admin_send(
            Method::GET,
            "/api/instance/conflicts",
            Some(&owner_jwt(refused.id)),
            None,
            &[],
        )
        .await;
    assert_eq!(not_admin.status, StatusCode::FORBIDDEN);

    // The holder lets go of the name: the conflict is closed and the refused org may take it.
    assert_eq!(
        Scim::new(&app, &holder)
            .delete(&format!("/Groups/{group}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let config = app
        .admin_send(Method::GET, &config_path, Some(&owner_jwt(refused.id)), None, &[])
        .await;
    assert!(
        conflicts_named(&config.body["openConflicts"], &name.to_uppercase()).is_empty(),
        "{}",
        config.text
    );
    let retry = Scim::new(&app, &refused)
        .post("/Groups", &json!({"displayName": name.to_uppercase()}))
        .await;
    assert_eq!(retry.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_rename_frees_the_old_name() {
    let app = TestApp::new().await;
    let holder = app.org("renamer").await;
    let refused = app.org("waiting").await;
    let name = unique("Renamed Away");
    let group = Scim::new(&app, &holder).create_group(&name).await;
    assert_eq!(
        Scim::new(&app, &refused)
            .post("/Groups", &json!({"displayName": name}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    let rename =
        common::patch_op(json!([{"op": "replace", "path": "displayName", "value": unique("Elsewhere")}]));
    assert_eq!(
        Scim::new(&app, &holder)
            .patch(&format!("/Groups/{group}"), &rename)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let config = app
        .admin_send(
            Method::GET,
            &format!("/api/orgs/{}/scim/config", refused.id),
            Some(&owner_jwt(refused.id)),
            None,
            &[],
        )
        .await;
    assert!(
        conflicts_named(&config.body["openConflicts"], &name).is_empty(),
        "{}",
        config.text
    );
}
