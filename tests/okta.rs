//! Okta's provisioning sequences, replayed as the "Okta SCIM Client 1.0.0" sends them (design §4):
//! Test API Credentials, the user lifecycle and group push.
mod common;

use axum::http::{Method, StatusCode};
use common::{Scim, TestApp, assert_scim_error, enc, patch_op, unique};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// The headers Okta sends with every request.
const OKTA_HEADERS: [(&str, &str); 2] = [
    ("accept", "application/scim+json"),
    ("user-agent", "Okta SCIM Client 1.0.0"),
];

async fn okta_get(scim: &Scim<'_>, path: &str) -> common::Answer {
    scim.send_with(Method::GET, path, None, &OKTA_HEADERS).await
}

/// The user body Okta POSTs (and PUTs), password included.
fn okta_user(user_name: &str, password: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": "Alice", "familyName": "Smith"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Alice Smith",
        "locale": "en-US",
        "externalId": unique("00u"),
        "groups": [],
        "password": password,
        "active": true
    })
}

fn assert_list(answer: &common::Answer, total: u64, items: usize) {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.header("content-type"), Some("application/scim+json"));
    assert_eq!(answer.body["schemas"], json!([LIST_SCHEMA]), "{}", answer.text);
    assert!(
        answer.body["totalResults"].is_u64(),
        "totalResults must be an integer: {}",
        answer.text
    );
    assert!(
        answer.body["itemsPerPage"].is_u64(),
        "itemsPerPage must be an integer: {}",
        answer.text
    );
    assert!(
        answer.body["startIndex"].is_u64(),
        "startIndex must be an integer: {}",
        answer.text
    );
    assert_eq!(answer.body["totalResults"], total, "{}", answer.text);
    assert_eq!(
        answer.body["itemsPerPage"].as_u64(),
        Some(items as u64),
        "{}",
        answer.text
    );
    assert_eq!(
        answer.body["Resources"].as_array().map(Vec::len),
        Some(items),
        "{}",
        answer.text
    );
}

#[tokio::test]
async fn test_api_credentials_answers_a_list_even_when_empty() {
    let app = TestApp::new().await;
    let org = app.org("okta-creds").await;
    let scim = Scim::new(&app, &org);

    let empty = okta_get(&scim, "/Users?startIndex=1&count=2").await;
    assert_list(&empty, 0, 0);
    assert_eq!(empty.body["startIndex"], 1);

    for i in 0..3 {
        scim.create_user(&unique(&format!("cred{i}"))).await;
    }
    let page = okta_get(&scim, "/Users?startIndex=1&count=2").await;
    assert_list(&page, 3, 2);
    assert_eq!(page.body["startIndex"], 1);
}

#[tokio::test]
async fn user_lookup_create_duplicate_case_variant_and_deactivate() {
    let app = TestApp::new().await;
    let org = app.org("okta-users").await;
    let scim = Scim::new(&app, &org);
    let user_name = format!("{}@example.com", unique("alice"));
    let lookup = |name: &str| {
        format!(
            "/Users?filter={}&startIndex=1&count=100",
            enc(&format!("userName eq \"{name}\""))
        )
    };

    // Okta looks the user up before creating it.
    assert_list(&okta_get(&scim, &lookup(&user_name)).await, 0, 0);

    let created = scim.post("/Users", &okta_user(&user_name, "Sup3r-S3cret!")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert_eq!(created.body["userName"], user_name.as_str());
    assert_eq!(created.body["active"], true);
    assert_eq!(created.body["name"]["givenName"], "Alice");

    // A second create of the same userName (Okta retries, or the lookup missed) is a uniqueness clash.
    let duplicate = scim.post("/Users", &okta_user(&user_name, "Sup3r-S3cret!")).await;
    assert_scim_error(&duplicate, 409, Some("uniqueness"));
    assert_eq!(
        scim.count_where("/Users", "userName pr").await,
        1,
        "the duplicate created nothing"
    );

    // Okta's lookup with a case variant finds the existing user instead of creating a duplicate.
    let found = okta_get(&scim, &lookup(&user_name.to_uppercase())).await;
    assert_list(&found, 1, 1);
    assert_eq!(found.body["Resources"][0]["id"], id.as_str());
    assert_eq!(found.body["Resources"][0]["userName"], user_name.as_str());

    // Deactivate: a path-less replace of `active`; the user is kept, with everything else.
    let deactivate = patch_op(json!([{"op": "replace", "value": {"active": false}}]));
    let patched = scim.patch(&format!("/Users/{id}"), &deactivate).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.body["active"], false);
    let fetched = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(fetched.status, StatusCode::OK, "the deactivated user is kept");
    assert_eq!(fetched.body["active"], false);
    assert_eq!(fetched.body["userName"], user_name.as_str());
    assert_eq!(fetched.body["name"]["familyName"], "Smith");
    assert_eq!(fetched.body["emails"][0]["value"], user_name.as_str());
    assert_eq!(scim.count_where("/Users", "active eq false").await, 1);
    assert_eq!(scim.count_where("/Users", "active eq true").await, 0);
}

#[tokio::test]
async fn password_is_never_returned_or_stored() {
    let app = TestApp::new().await;
    let org = app.org("okta-password").await;
    let scim = Scim::new(&app, &org);
    let password = unique("Pa55word");
    let user_name = format!("{}@example.com", unique("pw"));

    let created = scim.post("/Users", &okta_user(&user_name, &password)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert!(
        !created.text.contains(&password),
        "the create answer echoes the password: {}",
        created.text
    );
    assert!(created.body.get("password").is_none());

    // Okta PUTs the whole user (password included) on profile pushes.
    let mut replacement = okta_user(&user_name, &password);
    replacement["name"]["givenName"] = json!("Alicia");
    let put = scim.put(&format!("/Users/{id}"), &replacement).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert_eq!(put.body["name"]["givenName"], "Alicia");
    assert!(!put.text.contains(&password));

    let patch = patch_op(json!([{"op": "replace", "value": {"password": password}}]));
    let patched = scim.patch(&format!("/Users/{id}"), &patch).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert!(!patched.text.contains(&password));

    for path in [
        format!("/Users/{id}"),
        format!("/Users?filter={}", enc(&format!("userName eq \"{user_name}\""))),
    ] {
        let answer = scim.get(&path).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(!answer.text.contains(&password), "{path} shows the password");
    }

    // Not in the stored row either.
    let conn = app.sql_connection().await;
    let backend = conn.get_database_backend();
    let row = conn
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT document FROM scim_users WHERE id = '{id}'"),
        ))
        .await
        .expect("query")
        .expect("the user row");
    let document: String = row.try_get("", "document").expect("document column");
    assert!(
        document.contains(&user_name),
        "sanity: the document is the user's"
    );
    assert!(
        !document.contains(&password),
        "the password is stored: {document}"
    );
    assert!(!document.to_ascii_lowercase().contains("password"));
}

#[tokio::test]
async fn group_push_lookup_create_rename_members_put_delete() {
    let app = TestApp::new().await;
    let org = app.org("okta-push").await;
    let scim = Scim::new(&app, &org);
    let alice = scim.create_user(&unique("alice")).await;
    let bob = scim.create_user(&unique("bob")).await;
    let carol = scim.create_user(&unique("carol")).await;
    let name = unique("Engineering");
    let lookup = |n: &str| {
        format!(
            "/Groups?filter={}&startIndex=1&count=100",
            enc(&format!("displayName eq \"{n}\""))
        )
    };

    // Lookup, then create.
    assert_list(&okta_get(&scim, &lookup(&name)).await, 0, 0);
    let created = scim
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": []}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let gid = created.body["id"].as_str().expect("id").to_owned();
    let found = okta_get(&scim, &lookup(&name)).await;
    assert_list(&found, 1, 1);
    assert_eq!(found.body["Resources"][0]["id"], gid.as_str());

    // Rename, carrying the group's own id.
    let renamed = unique("Engineering-Renamed");
    let rename = |n: &str| patch_op(json!([{"op": "replace", "value": {"id": gid, "displayName": n}}]));
    let before = scim.get(&format!("/Groups/{gid}")).await;
    let answer = scim.patch(&format!("/Groups/{gid}"), &rename(&renamed)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    let after = scim.get(&format!("/Groups/{gid}")).await;
    assert_eq!(after.body["displayName"], renamed.as_str());
    assert_ne!(
        after.header("etag"),
        before.header("etag"),
        "a rename is a new version"
    );
    assert_list(&okta_get(&scim, &lookup(&name)).await, 0, 0);
    assert_list(&okta_get(&scim, &lookup(&renamed)).await, 1, 1);

    // The same rename again (Okta repeats it with every membership change) is a no-op.
    let answer = scim.patch(&format!("/Groups/{gid}"), &rename(&renamed)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    let unchanged = scim.get(&format!("/Groups/{gid}")).await;
    assert_eq!(
        unchanged.header("etag"),
        after.header("etag"),
        "an unchanged name leaves the version alone"
    );
    assert_eq!(unchanged.body["meta"]["version"], after.body["meta"]["version"]);
    assert_eq!(
        unchanged.body["meta"]["lastModified"],
        after.body["meta"]["lastModified"]
    );

    // Member add, as Okta sends it (with `display`), together with the repeated rename.
    let add = patch_op(json!([
        {"op": "replace", "value": {"id": gid, "displayName": renamed}},
        {"op": "add", "path": "members", "value": [{"value": alice, "display": "alice"}, {"value": bob, "display": "bob"}]}
    ]));
    let answer = scim.patch(&format!("/Groups/{gid}"), &add).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    let mut expected = vec![alice.clone(), bob.clone()];
    expected.sort();
    assert_eq!(scim.member_ids(&gid).await, expected);
    assert_eq!(
        scim.get(&format!("/Groups/{gid}")).await.body["displayName"],
        renamed.as_str()
    );

    // Member remove by filter path removes exactly that member.
    let remove = patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{alice}\"]")}]));
    let answer = scim.patch(&format!("/Groups/{gid}"), &remove).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert_eq!(scim.member_ids(&gid).await, vec![bob.clone()]);

    // A wizard-built app PUTs the whole group: the membership becomes exactly the one sent.
    let put_body = json!({
        "schemas": [GROUP_SCHEMA],
        "id": gid,
        "displayName": renamed,
        "members": [{"value": carol, "display": "carol"}, {"value": alice, "display": "alice"}]
    });
    let put = scim.put(&format!("/Groups/{gid}"), &put_body).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    let mut expected = vec![alice.clone(), carol.clone()];
    expected.sort();
    let mut returned: Vec<String> = put.body["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect();
    returned.sort();
    assert_eq!(returned, expected);
    assert_eq!(scim.member_ids(&gid).await, expected);
    // The same PUT again changes nothing: the diff is empty, so the version stays.
    let again = scim.put(&format!("/Groups/{gid}"), &put_body).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(
        again.header("etag"),
        put.header("etag"),
        "an identical PUT is a no-op"
    );

    // Delete, then the group is gone (and its users are not).
    let deleted = scim.delete(&format!("/Groups/{gid}")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    assert_scim_error(&scim.get(&format!("/Groups/{gid}")).await, 404, None);
    assert_list(&okta_get(&scim, &lookup(&renamed)).await, 0, 0);
    for user in [&alice, &bob, &carol] {
        assert_eq!(scim.get(&format!("/Users/{user}")).await.status, StatusCode::OK);
    }
    // The freed name can be pushed again.
    scim.create_group(&renamed).await;
}

/// Okta's repeated rename (the name the group already has) takes no write transaction: it is
/// answered while another connection holds the database's write lock (SQLite) or an exclusive
/// lock on the groups table (PostgreSQL), which any write, or a locking read, would wait for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_rename_is_answered_without_waiting_for_writers() {
    use sea_orm::TransactionTrait;
    let app = TestApp::new().await;
    let org = app.org("okta-noop").await;
    let scim = Scim::new(&app, &org);
    let name = unique("Noop");
    let gid = scim.create_group(&name).await;
    let rename = patch_op(json!([{"op": "replace", "value": {"id": gid, "displayName": name}}]));

    let other = app.sql_connection().await;
    let writer = other.begin().await.expect("begin");
    let lock = match other.get_database_backend() {
        sea_orm::DbBackend::Postgres => "LOCK TABLE idp_groups IN EXCLUSIVE MODE",
        // The deferred transaction takes SQLite's write lock at its first write.
        _ => "UPDATE organizations SET name = name WHERE id = -1",
    };
    writer.execute_unprepared(lock).await.expect("take the lock");
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        scim.patch(&format!("/Groups/{gid}"), &rename),
    )
    .await
    .expect("answered without waiting for the lock");
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    writer.rollback().await.expect("release");
}
