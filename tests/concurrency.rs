//! Concurrent writes to one resource: no lost update, no 5xx, the database decides.

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::{Answer, Scim, TestApp, TestOrg, assert_scim_error, patch_op, unique};
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Runs one PATCH per body concurrently against `path`; answers in the order of `bodies`. Like an
/// IdP, a PATCH refused for the organization's share of the pool (429 `pool_share`: more of its
/// writes queue on one row than its share lets wait a second) is retried after `Retry-After`.
async fn concurrent_patches(app: &TestApp, org: &TestOrg, path: &str, bodies: Vec<Value>) -> Vec<Answer> {
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let (app, org, path) = (app.clone(), org.clone(), path.to_owned());
            tokio::spawn(async move {
                loop {
                    let answer = Scim::new(&app, &org).patch(&path, &body).await;
                    if answer.status != StatusCode::TOO_MANY_REQUESTS || !answer.text.contains("pool_share") {
                        return answer;
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("task"));
    }
    answers
}

async fn users(scim: &Scim<'_>, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(scim.create_user(&unique(prefix)).await);
    }
    ids
}

fn sorted(ids: impl IntoIterator<Item = String>) -> Vec<String> {
    ids.into_iter().collect::<BTreeSet<_>>().into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_member_adds_all_land() {
    let app = TestApp::new().await;
    let org = app.org("conc-add").await;
    let scim = Scim::new(&app, &org);
    let group = scim.create_group(&unique("Crowd")).await;
    let members = users(&scim, "adder", 20).await;

    let bodies = members
        .iter()
        .map(|id| patch_op(json!([{"op": "add", "path": "members", "value": [{"value": id}]}])))
        .collect();
    for answer in concurrent_patches(&app, &org, &format!("/Groups/{group}"), bodies).await {
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    }
    assert_eq!(scim.member_ids(&group).await, sorted(members));
    // Every member write bumped the version: 20 changes after creation.
    let answer = scim.get(&format!("/Groups/{group}")).await;
    assert_eq!(
        answer.body["meta"]["version"],
        json!("W/\"21\""),
        "{}",
        answer.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_adds_and_removes_end_consistent() {
    let app = TestApp::new().await;
    let org = app.org("conc-mix").await;
    let scim = Scim::new(&app, &org);
    let initial = users(&scim, "initial", 10).await;
    let added = users(&scim, "added", 10).await;
    let outsider = scim.create_user(&unique("outsider")).await;
    let (flicker, returner) = (
        scim.create_user(&unique("flicker")).await,
        scim.create_user(&unique("returner")).await,
    );
    let created = scim
        .post(
            "/Groups",
            &json!({"schemas": [GROUP], "displayName": unique("Mixed"),
                    "members": initial.iter().chain([&returner]).map(|id| json!({"value": id})).collect::<Vec<_>>()}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let group = created.body["id"].as_str().unwrap().to_owned();

    let mut bodies = Vec::new();
    // Okta removes one member per request with a value filter…
    for id in &initial[..5] {
        bodies.push(patch_op(
            json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]),
        ));
    }
    // …Entra removes by value, capitalised.
    for id in &initial[5..7] {
        bodies.push(patch_op(
            json!([{"op": "Remove", "path": "members", "value": [{"value": id}]}]),
        ));
    }
    for (i, id) in added.iter().enumerate() {
        let op = if i % 2 == 0 { "add" } else { "Add" };
        bodies.push(patch_op(
            json!([{"op": op, "path": "members", "value": [{"value": id}]}]),
        ));
    }
    // Idempotent repeats: an add of a present member, a remove of an absent one.
    bodies.push(patch_op(
        json!([{"op": "add", "path": "members", "value": [{"value": initial[7]}]}]),
    ));
    bodies.push(patch_op(
        json!([{"op": "remove", "path": format!("members[value eq \"{outsider}\"]")}]),
    ));
    // Order inside one PATCH: add then remove leaves it out; remove then add leaves it in.
    bodies.push(patch_op(json!([
        {"op": "add", "path": "members", "value": [{"value": flicker}]},
        {"op": "remove", "path": format!("members[value eq \"{flicker}\"]")}
    ])));
    bodies.push(patch_op(json!([
        {"op": "remove", "path": format!("members[value eq \"{returner}\"]")},
        {"op": "add", "path": "members", "value": [{"value": returner}]}
    ])));
    assert!(bodies.len() >= 20);

    for answer in concurrent_patches(&app, &org, &format!("/Groups/{group}"), bodies).await {
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    }
    let expected = sorted(initial[7..].iter().chain(&added).chain([&returner]).cloned());
    assert_eq!(scim.member_ids(&group).await, expected);
    let listed = scim
        .get(&format!(
            "/Groups?filter={}",
            common::enc(&format!("id eq \"{group}\""))
        ))
        .await;
    assert_eq!(
        listed.body["Resources"][0]["members"].as_array().map(Vec::len),
        Some(expected.len())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adding_members_while_they_are_deleted_never_leaves_a_dangling_member() {
    let app = TestApp::new().await;
    let org = app.org("conc-del").await;
    let scim = Scim::new(&app, &org);
    let group = scim.create_group(&unique("Vanishing")).await;
    let doomed = users(&scim, "doomed", 16).await;

    let mut tasks = Vec::new();
    for id in &doomed {
        let (app1, org1, group1, id1) = (app.clone(), org.clone(), group.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let body = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": id1}]}]));
            (
                "patch",
                Scim::new(&app1, &org1)
                    .patch(&format!("/Groups/{group1}"), &body)
                    .await,
            )
        }));
        let (app2, org2, id2) = (app.clone(), org.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            (
                "delete",
                Scim::new(&app2, &org2).delete(&format!("/Users/{id2}")).await,
            )
        }));
    }
    for task in tasks {
        let (what, answer) = task.await.expect("task");
        match (what, answer.status) {
            ("patch", StatusCode::NO_CONTENT) | ("delete", StatusCode::NO_CONTENT) => {}
            // The user was already gone: the IdP is told which member does not exist.
            ("patch", StatusCode::BAD_REQUEST) => assert_scim_error(&answer, 400, Some("invalidValue")),
            _ => panic!("{what}: {} {}", answer.status, answer.text),
        }
    }
    assert!(
        scim.member_ids(&group).await.is_empty(),
        "a deleted user is still a member"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_of_one_user_lose_no_update() {
    let app = TestApp::new().await;
    let org = app.org("conc-user").await;
    let scim = Scim::new(&app, &org);
    let id = scim.create_user(&unique("busy")).await;
    let bodies: Vec<Value> = [
        json!({"op": "replace", "path": "name.givenName", "value": "Ada"}),
        json!({"op": "replace", "path": "name.familyName", "value": "Lovelace"}),
        json!({"op": "replace", "path": "displayName", "value": "Ada L."}),
        json!({"op": "Replace", "path": "title", "value": "Countess"}),
        json!({"op": "replace", "path": "nickName", "value": "ada"}),
        json!({"op": "replace", "path": "userType", "value": "Employee"}),
        json!({"op": "replace", "path": "preferredLanguage", "value": "en-GB"}),
        json!({"op": "replace", "path": "locale", "value": "en-GB"}),
        json!({"op": "replace", "path": "timezone", "value": "Europe/London"}),
        json!({"op": "add", "path": "emails", "value": [{"value": "ada@example.com", "type": "work", "primary": true}]}),
        json!({"op": "add", "path": "phoneNumbers", "value": [{"value": "+44 20 7946 0000", "type": "work"}]}),
        json!({"op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": "Analytical Engines"}),
        json!({"op": "replace", "value": {"active": "False"}}),
    ]
    .into_iter()
    .map(|op| patch_op(json!([op])))
    .collect();
    for answer in concurrent_patches(&app, &org, &format!("/Users/{id}"), bodies).await {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }
    let user = scim.get(&format!("/Users/{id}")).await.body;
    assert_eq!(user["name"]["givenName"], "Ada", "{user}");
    assert_eq!(user["name"]["familyName"], "Lovelace", "{user}");
    assert_eq!(user["displayName"], "Ada L.", "{user}");
    assert_eq!(user["title"], "Countess", "{user}");
    assert_eq!(user["nickName"], "ada", "{user}");
    assert_eq!(user["userType"], "Employee", "{user}");
    assert_eq!(user["preferredLanguage"], "en-GB", "{user}");
    assert_eq!(user["locale"], "en-GB", "{user}");
    assert_eq!(user["timezone"], "Europe/London", "{user}");
    assert_eq!(user["emails"][0]["value"], "ada@example.com", "{user}");
    assert_eq!(user["phoneNumbers"][0]["value"], "+44 20 7946 0000", "{user}");
    assert_eq!(user[ENTERPRISE]["department"], "Analytical Engines", "{user}");
    assert_eq!(user["active"], false, "{user}");
    assert_eq!(
        user["meta"]["version"],
        json!("W/\"14\""),
        "13 changes after creation: {user}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_user_name_have_one_winner() {
    let app = TestApp::new().await;
    let (org, other) = (app.org("conc-uname").await, app.org("conc-uname-other").await);
    let name = unique("Grace.Hopper");
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (app, org) = (app.clone(), org.clone());
            let user_name = match i % 3 {
                0 => name.clone(),
                1 => name.to_uppercase(),
                _ => name.to_lowercase(),
            };
            tokio::spawn(async move {
                Scim::new(&app, &org)
                    .post(
                        "/Users",
                        &json!({"schemas": [USER], "userName": user_name, "active": true}),
                    )
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        let answer = task.await.expect("task");
        match answer.status {
            StatusCode::CREATED => created += 1,
            _ => assert_scim_error(&answer, 409, Some("uniqueness")),
        }
    }
    assert_eq!(created, 1);
    let scim = Scim::new(&app, &org);
    assert_eq!(
        scim.count_where("/Users", &format!("userName eq \"{}\"", name.to_lowercase()))
            .await,
        1
    );
    assert_eq!(scim.get("/Users").await.body["totalResults"], json!(1));
    // userName is unique per organization, not per instance.
    let answer = Scim::new(&app, &other)
        .post("/Users", &json!({"schemas": [USER], "userName": name}))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_renames_to_one_name_have_one_winner() {
    let app = TestApp::new().await;
    let (a, b) = (app.org("conc-ren-a").await, app.org("conc-ren-b").await);
    let target = unique("Destination");
    let mut tasks = Vec::new();
    for i in 0..12 {
        let org = if i % 2 == 0 { a.clone() } else { b.clone() };
        let id = Scim::new(&app, &org).create_group(&unique("Origin")).await;
        let app = app.clone();
        let name = if i % 2 == 0 {
            target.clone()
        } else {
            target.to_uppercase()
        };
        tasks.push(tokio::spawn(async move {
            let scim = Scim::new(&app, &org);
            let body = patch_op(json!([{"op": "replace", "path": "displayName", "value": name}]));
            scim.patch(&format!("/Groups/{id}"), &body).await
        }));
    }
    let mut renamed = 0;
    for task in tasks {
        let answer = task.await.expect("task");
        match answer.status {
            StatusCode::NO_CONTENT => renamed += 1,
            _ => assert_scim_error(&answer, 409, Some("uniqueness")),
        }
    }
    assert_eq!(renamed, 1);
    let filter = format!("displayName eq \"{target}\"");
    let total = Scim::new(&app, &a).count_where("/Groups", &filter).await
        + Scim::new(&app, &b).count_where("/Groups", &filter).await;
    assert_eq!(total, 1);
}
