//! The SCIM token lifecycle and `scim/config` over the admin API (design §2 "Admin API", §3.6,
//! §3.7): generate, rotate and revoke with their 404 semantics, the plaintext shown once, the old
//! token refused the moment a new one exists, and the audit trail of every operation.

mod common;

use axum::http::{Method, StatusCode};
use common::{OrgAdmin, PUBLIC_URL, Scim, TestApp, TestOrg, unique};
use scimgate::config::ServeArgs;
use scimgate::store::tokens::IssueMode;
use serde_json::{Value, json};

/// A SCIM probe with `token` on `org`'s endpoint: its status.
async fn scim_status(app: &TestApp, org_id: i64, token: &str) -> StatusCode {
    app.send(
        Method::GET,
        &format!("/api/orgs/{org_id}/scim/v2/Groups?count=1"),
        Some(token),
        None,
        &[],
    )
    .await
    .status
}

async fn config(owner: &OrgAdmin<'_>) -> (Value, String) {
    let answer = owner.get("/scim/config").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    (answer.body, answer.text)
}

/// Generate: 201 `{token, maskedToken, endpointUrl}`; the token works on SCIM; `scim/config`
/// describes it without ever showing it; the plaintext appears nowhere else.
#[tokio::test]
async fn generate_shows_the_token_once_and_config_describes_it() {
    let app = TestApp::new().await;
    let org = app.org_without_token("gen", true).await;
    let owner = OrgAdmin::owner(&app, org.id);
    let endpoint = format!("{PUBLIC_URL}/api/orgs/{}/scim/v2", org.id);

    let (before, _) = config(&owner).await;
    assert_eq!(before["hasActiveToken"], false, "{before}");
    assert_eq!(before["maskedToken"], Value::Null);
    assert_eq!(before["tokenCreatedAt"], Value::Null);
    assert_eq!(before["tokenLastUsed"], Value::Null);
    assert_eq!(before["endpointUrl"], endpoint.as_str());
    assert_eq!(before["groupCount"], 0);
    assert_eq!(before["ssoActive"], true);

    let generated = owner.post("/scim/token", &json!({})).await;
    assert_eq!(generated.status, StatusCode::CREATED, "{}", generated.text);
    let token = generated.body["token"].as_str().expect("token").to_owned();
    let masked = generated.body["maskedToken"].as_str().expect("masked").to_owned();
    assert_eq!(generated.body["endpointUrl"], endpoint.as_str());
    assert!(token.len() >= 43, "256 bits: {token}");
    let tail: String = token
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(
        masked.ends_with(&tail),
        "{masked} ends with the token's last four"
    );
    assert!(!masked.contains(&token[..token.len() - 4]), "{masked}");
    let prefix: String = token.chars().take_while(|c| *c != '_').collect();
    assert!(
        !prefix.is_empty() && masked.starts_with(&prefix),
        "the mask shows the recognisable prefix: {masked} / {token}"
    );

    assert_eq!(scim_status(&app, org.id, &token).await, StatusCode::OK);
    let with_token = TestOrg {
        token: token.clone(),
        ..org.clone()
    };
    let scim = Scim::new(&app, &with_token);
    scim.create_group(&unique("Counted-1")).await;
    scim.create_group(&unique("Counted-2")).await;
    owner.add_manual_group(&unique("Counted-3")).await;

    let (after, text) = config(&owner).await;
    assert_eq!(after["endpointUrl"], endpoint.as_str());
    assert_eq!(after["hasActiveToken"], true, "{after}");
    assert_eq!(after["maskedToken"], masked.as_str());
    assert!(
        after["tokenCreatedAt"].as_str().is_some_and(|s| !s.is_empty()),
        "{after}"
    );
    assert!(after.get("tokenLastUsed").is_some(), "{after}");
    assert_eq!(after["groupCount"], 3);
    assert_eq!(after["ssoActive"], true);
    assert!(!text.contains(&token), "config shows the token: {text}");

    // The plaintext is in no other answer: not the catalog, the audit trail or a second generate.
    let audit = owner.get("/audit-events").await;
    assert!(!audit.text.contains(&token));
    let created = owner.audit("type=scim_token_created").await;
    assert_eq!(created.len(), 1, "{created:#?}");
    assert_ne!(created[0]["actor"], "System");
    assert!(!owner.get("/idp-groups").await.text.contains(&token));
}

/// `tokenLastUsed` is kept current without a database write per SCIM request: the replica that
/// served the requests shows the use at once, another replica (reading only the database) sees
/// nothing until the coalesced write happens, and then sees it.
#[tokio::test]
async fn token_last_used_is_current_here_and_coalesced_in_the_database() {
    let app = TestApp::new().await;
    let org = app.org("lastused").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let replica = app.sibling(ServeArgs::default()).await;
    let elsewhere = OrgAdmin::owner(&replica, org.id);
    assert_eq!(config(&owner).await.0["tokenLastUsed"], Value::Null);
    for _ in 0..3 {
        assert_eq!(scim_status(&app, org.id, &org.token).await, StatusCode::OK);
    }
    let (here, _) = config(&owner).await;
    assert!(
        here["tokenLastUsed"].as_str().is_some_and(|s| !s.is_empty()),
        "the serving replica shows the use: {here}"
    );
    let (there, _) = config(&elsewhere).await;
    assert_eq!(
        there["tokenLastUsed"],
        Value::Null,
        "no database write per request: {there}"
    );

    // The coalesced write (what the flusher does once a minute) makes it visible everywhere.
    let token = app
        .store
        .resolve_token(&scimgate::app::hasher(&app.db).hash(&org.token))
        .await
        .expect("lookup")
        .expect("active");
    app.store
        .touch_tokens(&[(token.token_id, scimgate::store::now_micros())])
        .await
        .expect("touch");
    let (there, _) = config(&elsewhere).await;
    assert!(
        there["tokenLastUsed"].as_str().is_some_and(|s| !s.is_empty()),
        "{there}"
    );
}

/// A new token (generate or rotate) replaces the old one: in this process the old one is refused
/// at once, and the new one works.
#[tokio::test]
async fn the_old_token_stops_working_the_moment_a_new_one_is_generated() {
    let app = TestApp::new().await;
    let org = app.org("replace").await;
    let owner = OrgAdmin::owner(&app, org.id);
    // The CLI's token works (and is now cached by this process).
    assert_eq!(scim_status(&app, org.id, &org.token).await, StatusCode::OK);

    let generated = owner.post("/scim/token", &json!({})).await;
    assert_eq!(generated.status, StatusCode::CREATED, "{}", generated.text);
    let second = generated.body["token"].as_str().expect("token").to_owned();
    assert_ne!(second, org.token);
    assert_eq!(
        scim_status(&app, org.id, &org.token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(scim_status(&app, org.id, &second).await, StatusCode::OK);

    let rotated = owner.post("/scim/token/rotate", &json!({})).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let third = rotated.body["token"].as_str().expect("token").to_owned();
    assert_ne!(third, second);
    assert!(rotated.body["maskedToken"].is_string());
    assert_eq!(
        rotated.body["endpointUrl"],
        format!("{PUBLIC_URL}/api/orgs/{}/scim/v2", org.id)
    );
    assert_eq!(scim_status(&app, org.id, &second).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        scim_status(&app, org.id, &org.token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(scim_status(&app, org.id, &third).await, StatusCode::OK);
    let (cfg, text) = config(&owner).await;
    assert_eq!(cfg["maskedToken"], rotated.body["maskedToken"]);
    assert!(!text.contains(&third));
}

/// Revoke: 204 and SCIM answers 401 at once; with no active token, rotate and revoke → 404 and
/// generate works again.
#[tokio::test]
async fn revoke_and_the_404s_of_rotate_and_revoke_without_a_token() {
    let app = TestApp::new().await;
    let org = app.org("revoke").await;
    let owner = OrgAdmin::owner(&app, org.id);
    assert_eq!(scim_status(&app, org.id, &org.token).await, StatusCode::OK);

    let revoked = owner.delete("/scim/token").await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.text);
    assert_eq!(
        scim_status(&app, org.id, &org.token).await,
        StatusCode::UNAUTHORIZED
    );
    let (cfg, _) = config(&owner).await;
    assert_eq!(cfg["hasActiveToken"], false, "{cfg}");
    assert_eq!(cfg["maskedToken"], Value::Null);

    let again = owner.delete("/scim/token").await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.text);
    let rotate = owner.post("/scim/token/rotate", &json!({})).await;
    assert_eq!(rotate.status, StatusCode::NOT_FOUND, "{}", rotate.text);
    assert!(rotate.body.get("token").is_none(), "{}", rotate.text);
    // The failed rotate issued nothing.
    assert_eq!(config(&owner).await.0["hasActiveToken"], false);

    // An organization that never had a token.
    let fresh = app.org_without_token("never", true).await;
    let fresh_owner = OrgAdmin::owner(&app, fresh.id);
    assert_eq!(
        fresh_owner.post("/scim/token/rotate", &json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        fresh_owner.delete("/scim/token").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(config(&fresh_owner).await.0["hasActiveToken"], false);

    let generated = owner.post("/scim/token", &json!({})).await;
    assert_eq!(generated.status, StatusCode::CREATED, "{}", generated.text);
    let token = generated.body["token"].as_str().expect("token");
    assert_eq!(scim_status(&app, org.id, token).await, StatusCode::OK);
    assert_eq!(
        scim_status(&app, org.id, &org.token).await,
        StatusCode::UNAUTHORIZED
    );
}

/// Every token operation is audited: generate → `scim_token_created`, rotate and revoke →
/// `scim_token_updated`, with the caller as actor; failed operations record nothing.
#[tokio::test]
async fn token_operations_are_audited() {
    let app = TestApp::new().await;
    let org = app.org_without_token("audited", true).await;
    let subject = unique("alice");
    let owner = OrgAdmin::new(
        &app,
        org.id,
        common::admin_jwt(&subject, &[(org.id, &["read", "write"])], false),
    );
    assert_eq!(
        owner.post("/scim/token/rotate", &json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(owner.delete("/scim/token").await.status, StatusCode::NOT_FOUND);
    assert!(
        owner.audit("").await.is_empty(),
        "failed operations leave no event"
    );

    let correlation_id = unique("gen");
    let generated = owner
        .send(
            Method::POST,
            "/scim/token",
            Some(&json!({})),
            &[("x-request-id", &correlation_id)],
        )
        .await;
    assert_eq!(generated.status, StatusCode::CREATED);
    assert_eq!(
        owner.post("/scim/token", &json!({})).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        owner.post("/scim/token/rotate", &json!({})).await.status,
        StatusCode::OK
    );
    assert_eq!(owner.delete("/scim/token").await.status, StatusCode::NO_CONTENT);

    let events = owner.audit("").await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().expect("type")).collect();
    assert_eq!(
        types,
        vec![
            "scim_token_updated",
            "scim_token_updated",
            "scim_token_created",
            "scim_token_created"
        ],
        "newest first: {events:#?}"
    );
    for e in &events {
        assert_eq!(e["actor"], subject.as_str(), "{e}");
        assert!(e["at"].is_string(), "{e}");
    }
    assert_eq!(owner.audit("type=scim_token_updated").await.len(), 2);
    let first = owner.audit(&format!("correlationId={correlation_id}")).await;
    assert_eq!(first.len(), 1, "{first:#?}");
    assert_eq!(first[0]["type"], "scim_token_created");
    assert_eq!(first[0]["correlationId"], correlation_id.as_str());

    // The CLI path (store-level issue) is audited too, with System as actor.
    app.issue(org.id, IssueMode::Generate).await.expect("token");
    let newest = &owner.audit("").await[0];
    assert_eq!(newest["type"], "scim_token_created");
    assert_eq!(newest["actor"], "System", "{newest}");
}

/// A reader sees `scim/config` but cannot generate, rotate or revoke (403, token unchanged).
#[tokio::test]
async fn token_operations_need_write() {
    let app = TestApp::new().await;
    let org = app.org("readonly").await;
    let reader = OrgAdmin::new(&app, org.id, common::reader_jwt(org.id));
    let (cfg, _) = config(&reader).await;
    assert_eq!(cfg["hasActiveToken"], true);
    for answer in [
        reader.post("/scim/token", &json!({})).await,
        reader.post("/scim/token/rotate", &json!({})).await,
        reader.delete("/scim/token").await,
    ] {
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);
        assert!(answer.body.get("token").is_none());
    }
    assert_eq!(scim_status(&app, org.id, &org.token).await, StatusCode::OK);
    assert_eq!(config(&reader).await.0["maskedToken"], cfg["maskedToken"]);
}

/// A change to one organization's token forgets that organization's cached tokens only: another
/// organization's token is still answered from the cache (no lookup), while the changed one is
/// refused at once.
#[tokio::test]
async fn a_token_change_forgets_only_that_organizations_cached_tokens() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let lookups = Arc::new(AtomicUsize::new(0));
    let seen = lookups.clone();
    let serve = ServeArgs {
        public_url: Some(PUBLIC_URL.into()),
        ..ServeArgs::default()
    };
    let app = TestApp::observed(&common::database_url(), serve, move |store| {
        store.observe_statements(move |sql| {
            if sql.contains("token_hash") && sql.contains("revoked_at") {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        })
    })
    .await;
    let changed = app.org("forget-changed").await;
    let other = app.org("forget-other").await;
    assert_eq!(scim_status(&app, other.id, &other.token).await, StatusCode::OK);
    assert_eq!(
        scim_status(&app, changed.id, &changed.token).await,
        StatusCode::OK
    );
    let before = lookups.load(Ordering::SeqCst);
    assert_eq!(scim_status(&app, other.id, &other.token).await, StatusCode::OK);
    assert_eq!(
        lookups.load(Ordering::SeqCst),
        before,
        "a cached token is not looked up"
    );

    let rotated = OrgAdmin::owner(&app, changed.id)
        .post("/scim/token/rotate", &json!({}))
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let before = lookups.load(Ordering::SeqCst);
    assert_eq!(scim_status(&app, other.id, &other.token).await, StatusCode::OK);
    assert_eq!(
        lookups.load(Ordering::SeqCst),
        before,
        "another organization's cached token survives the change"
    );
    assert_eq!(
        scim_status(&app, changed.id, &changed.token).await,
        StatusCode::UNAUTHORIZED
    );
}
