//! Push-time deprovisioning (design §3.8) through the real router, on SQLite and PostgreSQL: each
//! SCIM write after which a user is no longer a member of a delegated group (Okta's and Entra's
//! PATCH removals, a PATCH replace of `members`, a PUT without the member), a deactivation (either
//! dialect, or PUT) and a deletion take exactly the matching accounts' DELEGATED memberships away
//! in the same transaction, audited (counted: `admin_metrics`); MANUAL memberships, other teams and other
//! organizations are untouched; `accountMatch` and `pushDeprovisioning` are honoured; a later
//! login adds a membership back only if its claim still names the group; a login racing a push
//! ends as one of the two orders would leave it.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{Method, StatusCode};
use common::{Answer, OrgAdmin, Scim, TestApp, TestOrg, patch_op, unique};
use serde_json::{Value, json};

/// One organization whose IdP pushed users and a group; a team is delegated to the group and
/// every user logged in with the group in the claim (so each is a DELEGATED member).
struct World {
    org: TestOrg,
    group: String,
    group_name: String,
    team: i64,
    /// (e-mail, SCIM user id), in the order given.
    users: Vec<(String, String)>,
}

impl World {
    fn user(&self, email: &str) -> &str {
        &self.users.iter().find(|(e, _)| e == email).expect("a user").1
    }

    fn scim<'a>(&'a self, app: &'a TestApp) -> Scim<'a> {
        Scim::new(app, &self.org)
    }

    fn owner<'a>(&self, app: &'a TestApp) -> OrgAdmin<'a> {
        OrgAdmin::owner(app, self.org.id)
    }
}

fn email(prefix: &str) -> String {
    format!("{}@example.com", unique(prefix))
}

fn user_body(user_name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name, "active": true})
}

fn group_body(name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members})
}

/// A login whose subject and verified e-mail are `email`, claiming `groups`.
async fn login(app: &TestApp, email: &str, groups: &[&str]) -> Value {
    app.login(json!({"sub": email, "email": email, "email_verified": true, "groups": groups}))
        .await
}

/// A group of `org` with these members and a team delegated to it.
async fn delegated_group(
    app: &TestApp,
    org: &TestOrg,
    prefix: &str,
    members: &[&str],
) -> (String, String, i64) {
    let name = unique(&format!("{prefix}-Group"));
    let answer = Scim::new(app, org)
        .post("/Groups", &group_body(&name, members))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let group = answer.body["id"].as_str().expect("id").to_owned();
    let team = OrgAdmin::owner(app, org.id)
        .create_team(&unique(&format!("{prefix}-team")), Some(&group))
        .await;
    (group, name, team)
}

async fn world(app: &TestApp, prefix: &str, emails: &[&str]) -> World {
    let org = app.org(prefix).await;
    let scim = Scim::new(app, &org);
    let mut users = Vec::new();
    for e in emails {
        users.push((e.to_string(), scim.create_user(e).await));
    }
    let ids: Vec<&str> = users.iter().map(|(_, id)| id.as_str()).collect();
    let (group, group_name, team) = delegated_group(app, &org, prefix, &ids).await;
    for e in emails {
        login(app, e, &[&group_name]).await;
    }
    let w = World {
        org,
        group,
        group_name,
        team,
        users,
    };
    let members = w.owner(app).members(w.team).await;
    for e in emails {
        assert!(delegated(&members, e), "{members:?}");
    }
    w
}

/// Sends a SCIM request of `org` with a correlation id of our choosing.
async fn scim_with_id(
    app: &TestApp,
    org: &TestOrg,
    method: Method,
    path: &str,
    body: Option<&Value>,
    id: &str,
) -> Answer {
    app.send(
        method,
        &format!("{}{path}", org.base()),
        Some(&org.token),
        body,
        &[("x-request-id", id)],
    )
    .await
}

fn delegated(members: &[(String, String)], email: &str) -> bool {
    members.iter().any(|(e, p)| e == email && p == "DELEGATED")
}

/// The `team_member_deleted` events of `correlation_id`: (account id, reason, team id). Each is
/// also among its team's events (the Teams page's filter).
async fn removal_events(app: &TestApp, org: &TestOrg, correlation_id: &str) -> Vec<(String, String, i64)> {
    let owner = OrgAdmin::owner(app, org.id);
    let query = format!("type=team_member_deleted&correlationId={correlation_id}");
    let events = owner.audit(&query).await;
    for team in events
        .iter()
        .map(|e| e["data"]["teamId"].as_i64().expect("teamId"))
    {
        let of_team: Vec<Value> = events
            .iter()
            .filter(|e| e["data"]["teamId"] == team)
            .cloned()
            .collect();
        assert_eq!(owner.audit(&format!("{query}&teamId={team}")).await, of_team);
    }
    events
        .iter()
        .map(|e| {
            assert_eq!(e["actor"], "System", "{e}");
            assert_eq!(e["correlationId"], correlation_id, "{e}");
            (
                e["target"].as_str().expect("target").to_owned(),
                e["data"]["reason"].as_str().expect("reason").to_owned(),
                e["data"]["teamId"].as_i64().expect("teamId"),
            )
        })
        .collect()
}

#[tokio::test]
async fn okta_value_filter_removal_takes_only_that_users_delegated_membership() {
    let app = TestApp::new().await;
    let (alice, bob) = (email("okta-alice"), email("okta-bob"));
    let w = world(&app, "okta-rm", &[&alice, &bob]).await;
    // Alice is also a MANUAL member of another team of the organization, and a DELEGATED member
    // of a team of another organization whose group has the same user.
    let manual_team = w.owner(&app).create_team(&unique("okta-manual"), None).await;
    let account = w.owner(&app).add_member(manual_team, &alice).await;
    let other = app.org("okta-other").await;
    let other_user = Scim::new(&app, &other).create_user(&alice).await;
    let (_, other_name, other_team) = delegated_group(&app, &other, "okta-other", &[&other_user]).await;
    let answer = login(&app, &alice, &[&w.group_name, &other_name]).await;
    assert_eq!(answer["userId"], account.as_str(), "one account for alice");

    let correlation = unique("okta-push");
    let remove =
        patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", w.user(&alice))}]));
    let answer = scim_with_id(
        &app,
        &w.org,
        Method::PATCH,
        &format!("/Groups/{}", w.group),
        Some(&remove),
        &correlation,
    )
    .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);

    let members = w.owner(&app).members(w.team).await;
    assert!(!delegated(&members, &alice), "{members:?}");
    assert!(delegated(&members, &bob), "{members:?}");
    assert_eq!(
        w.owner(&app).members(manual_team).await,
        vec![(alice.clone(), "MANUAL".to_owned())]
    );
    assert!(delegated(
        &OrgAdmin::owner(&app, other.id).members(other_team).await,
        &alice
    ));
    assert_eq!(
        removal_events(&app, &w.org, &correlation).await,
        vec![(account, "idp_membership_removed".to_owned(), w.team)]
    );
    // The group lost only alice.
    assert_eq!(
        Scim::new(&app, &w.org).member_ids(&w.group).await,
        vec![w.user(&bob).to_owned()]
    );
}

#[tokio::test]
async fn entra_remove_by_value_takes_the_membership_away() {
    let app = TestApp::new().await;
    let (alice, bob) = (email("entra-alice"), email("entra-bob"));
    let w = world(&app, "entra-rm", &[&alice, &bob]).await;
    let remove = patch_op(json!([{"op": "Remove", "path": "members", "value": [{"value": w.user(&bob)}]}]));
    let answer = w.scim(&app).patch(&format!("/Groups/{}", w.group), &remove).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    let members = w.owner(&app).members(w.team).await;
    assert!(
        delegated(&members, &alice) && !delegated(&members, &bob),
        "{members:?}"
    );
}

#[tokio::test]
async fn a_replace_of_members_and_a_put_without_the_member_take_it_away() {
    let app = TestApp::new().await;
    let (alice, bob, carol) = (email("rep-alice"), email("rep-bob"), email("rep-carol"));
    let w = world(&app, "replace", &[&alice, &bob, &carol]).await;
    let replace = patch_op(
        json!([{"op": "replace", "path": "members", "value": [{"value": w.user(&bob)}, {"value": w.user(&carol)}]}]),
    );
    let answer = w
        .scim(&app)
        .patch(&format!("/Groups/{}", w.group), &replace)
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    let members = w.owner(&app).members(w.team).await;
    assert!(
        !delegated(&members, &alice) && delegated(&members, &bob) && delegated(&members, &carol),
        "{members:?}"
    );

    let put = group_body(&w.group_name, &[w.user(&carol)]);
    let answer = w.scim(&app).put(&format!("/Groups/{}", w.group), &put).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let members = w.owner(&app).members(w.team).await;
    assert_eq!(members, vec![(carol.clone(), "DELEGATED".to_owned())]);

    // Removing every member (Entra's `remove` of `members` without a value) takes the rest.
    let all = patch_op(json!([{"op": "remove", "path": "members"}]));
    let answer = w.scim(&app).patch(&format!("/Groups/{}", w.group), &all).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert!(w.owner(&app).members(w.team).await.is_empty());
}

/// Alice: a DELEGATED member of two teams of the organization (two groups), a MANUAL member of
/// a third, and a DELEGATED member of a team of another organization. Answers the world, the
/// second delegated team, the manual team and the other organization's team.
async fn alice_everywhere(app: &TestApp, prefix: &str, alice: &str) -> (World, i64, i64, (TestOrg, i64)) {
    let w = world(app, prefix, &[alice]).await;
    let (_, second_name, second_team) =
        delegated_group(app, &w.org, &format!("{prefix}-2"), &[w.user(alice)]).await;
    let manual_team = w
        .owner(app)
        .create_team(&unique(&format!("{prefix}-manual")), None)
        .await;
    w.owner(app).add_member(manual_team, alice).await;
    let other = app.org(&format!("{prefix}-other")).await;
    let other_user = Scim::new(app, &other).create_user(alice).await;
    let (_, other_name, other_team) =
        delegated_group(app, &other, &format!("{prefix}-other"), &[&other_user]).await;
    login(app, alice, &[&w.group_name, &second_name, &other_name]).await;
    assert!(delegated(&w.owner(app).members(second_team).await, alice));
    (w, second_team, manual_team, (other, other_team))
}

async fn assert_only_delegated_in_org_gone(
    app: &TestApp,
    w: &World,
    alice: &str,
    second_team: i64,
    manual_team: i64,
    other: &(TestOrg, i64),
) {
    assert!(w.owner(app).members(w.team).await.is_empty());
    assert!(w.owner(app).members(second_team).await.is_empty());
    assert_eq!(
        w.owner(app).members(manual_team).await,
        vec![(alice.to_owned(), "MANUAL".to_owned())]
    );
    assert!(delegated(
        &OrgAdmin::owner(app, other.0.id).members(other.1).await,
        alice
    ));
}

#[tokio::test]
async fn deactivation_in_either_dialect_or_by_put_takes_every_delegated_membership_of_the_organization() {
    let app = TestApp::new().await;
    let okta = patch_op(json!([{"op": "replace", "value": {"active": false}}]));
    let entra = patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    for (how, body) in [("okta", Some(okta)), ("entra", Some(entra)), ("put", None)] {
        let alice = email(&format!("deact-{how}"));
        let (w, second_team, manual_team, other) =
            alice_everywhere(&app, &format!("deact-{how}"), &alice).await;
        let correlation = unique("deactivate");
        let path = format!("/Users/{}", w.user(&alice));
        let answer = match &body {
            Some(patch) => scim_with_id(&app, &w.org, Method::PATCH, &path, Some(patch), &correlation).await,
            None => {
                let mut put = user_body(&alice);
                put["active"] = json!(false);
                scim_with_id(&app, &w.org, Method::PUT, &path, Some(&put), &correlation).await
            }
        };
        assert_eq!(answer.status, StatusCode::OK, "{how}: {}", answer.text);
        assert_eq!(answer.body["active"], false, "{how}");
        assert_only_delegated_in_org_gone(&app, &w, &alice, second_team, manual_team, &other).await;
        let mut events = removal_events(&app, &w.org, &correlation).await;
        events.sort_by_key(|e| e.2);
        let reasons: Vec<(&str, i64)> = events.iter().map(|e| (e.1.as_str(), e.2)).collect();
        assert_eq!(
            reasons,
            vec![
                ("idp_user_deactivated", w.team),
                ("idp_user_deactivated", second_team)
            ],
            "{how}"
        );

        // Reactivation restores nothing; the next login with the groups still claimed does.
        let reactivate = patch_op(json!([{"op": "replace", "path": "active", "value": true}]));
        let answer = w.scim(&app).patch(&path, &reactivate).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert!(w.owner(&app).members(w.team).await.is_empty(), "{how}");
        login(&app, &alice, &[&w.group_name]).await;
        assert!(delegated(&w.owner(&app).members(w.team).await, &alice), "{how}");
        assert!(
            w.owner(&app).members(second_team).await.is_empty(),
            "{how}: not claimed, not added"
        );
    }
}

#[tokio::test]
async fn a_write_that_keeps_the_user_active_removes_nothing() {
    let app = TestApp::new().await;
    let alice = email("keep-alice");
    let w = world(&app, "keep", &[&alice]).await;
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": "Alice A."}]));
    let answer = w
        .scim(&app)
        .patch(&format!("/Users/{}", w.user(&alice)), &rename)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    // Okta's repeated rename of the group and a member add remove nothing either.
    let other = w.scim(&app).create_user(&email("keep-bob")).await;
    let ops = patch_op(json!([
        {"op": "replace", "value": {"id": w.group, "displayName": w.group_name}},
        {"op": "add", "path": "members", "value": [{"value": other}]}
    ]));
    let answer = w.scim(&app).patch(&format!("/Groups/{}", w.group), &ops).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert!(delegated(&w.owner(&app).members(w.team).await, &alice));
}

#[tokio::test]
async fn deleting_the_user_takes_every_delegated_membership_of_the_organization() {
    let app = TestApp::new().await;
    let alice = email("delete-alice");
    let (w, second_team, manual_team, other) = alice_everywhere(&app, "delete", &alice).await;
    let correlation = unique("delete");
    let path = format!("/Users/{}", w.user(&alice));
    let answer = scim_with_id(&app, &w.org, Method::DELETE, &path, None, &correlation).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert_only_delegated_in_org_gone(&app, &w, &alice, second_team, manual_team, &other).await;
    let events = removal_events(&app, &w.org, &correlation).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e.1 == "idp_user_deleted"), "{events:?}");
}

#[tokio::test]
async fn e_mails_match_caselessly_through_user_name_or_emails_and_every_matching_account_loses_it() {
    let app = TestApp::new().await;
    let org = app.org("emails").await;
    let scim = Scim::new(&app, &org);
    let address = email("Shared.Person");
    // userName is not an address; one of the e-mails is, in another case.
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": unique("shared"),
        "emails": [{"value": address.to_uppercase(), "type": "work", "primary": true}],
    });
    let answer = scim.post("/Users", &body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let user = answer.body["id"].as_str().expect("id").to_owned();
    let (group, name, team) = delegated_group(&app, &org, "emails", &[&user]).await;
    // Two accounts (two subjects) carry the address.
    for sub in [unique("sub-one"), unique("sub-two")] {
        app.login(json!({"sub": sub, "email": address, "email_verified": true, "groups": [name]}))
            .await;
    }
    assert_eq!(OrgAdmin::owner(&app, org.id).members(team).await.len(), 2);
    let remove = patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{user}\"]")}]));
    let answer = scim.patch(&format!("/Groups/{group}"), &remove).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert!(OrgAdmin::owner(&app, org.id).members(team).await.is_empty());
}

/// Sets the organization's SCIM config; the new config.
async fn configure(app: &TestApp, org: &TestOrg, change: Value) -> Value {
    let answer = OrgAdmin::owner(app, org.id)
        .send(Method::PATCH, "/scim/config", Some(&change), &[])
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body
}

#[tokio::test]
async fn account_match_external_id_matches_oktas_user_id_to_the_login_subject() {
    let app = TestApp::new().await;
    let org = app.org("extid").await;
    let scim = Scim::new(&app, &org);
    let okta_id = format!("00u{}", unique("x").replace('-', ""));
    let user_name = email("extid-user");
    let mut body = user_body(&user_name);
    body["externalId"] = json!(okta_id);
    let answer = scim.post("/Users", &body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let user = answer.body["id"].as_str().expect("id").to_owned();
    let (group, name, team) = delegated_group(&app, &org, "extid", &[&user]).await;
    // The account's subject is Okta's user id; its e-mail is another address.
    let other_address = email("extid-elsewhere");
    app.login(json!({"sub": okta_id, "email": other_address, "email_verified": true, "groups": [name]}))
        .await;
    // And an account that only shares the e-mail (matched under the default, not under externalId).
    login(&app, &user_name, &[&name]).await;
    assert_eq!(OrgAdmin::owner(&app, org.id).members(team).await.len(), 2);

    let config = configure(&app, &org, json!({"accountMatch": "externalId"})).await;
    assert_eq!(config["accountMatch"], "externalId");
    assert_eq!(config["pushDeprovisioning"], true);
    let remove = patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{user}\"]")}]));
    let answer = scim.patch(&format!("/Groups/{group}"), &remove).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert_eq!(
        OrgAdmin::owner(&app, org.id).members(team).await,
        vec![(user_name.clone(), "DELEGATED".to_owned())],
        "only the account whose subject is the externalId"
    );
}

#[tokio::test]
async fn push_deprovisioning_off_changes_nothing_and_the_config_says_so() {
    let app = TestApp::new().await;
    let alice = email("off-alice");
    let w = world(&app, "off", &[&alice]).await;
    let config = configure(&app, &w.org, json!({"pushDeprovisioning": false})).await;
    assert_eq!(config["pushDeprovisioning"], false);
    assert_eq!(config["accountMatch"], "email");
    assert_eq!(config["claimMatch"], "displayName");
    let remove =
        patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", w.user(&alice))}]));
    let answer = w.scim(&app).patch(&format!("/Groups/{}", w.group), &remove).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    let deactivate = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    let answer = w
        .scim(&app)
        .patch(&format!("/Users/{}", w.user(&alice)), &deactivate)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(delegated(&w.owner(&app).members(w.team).await, &alice));
    assert!(w.owner(&app).audit("type=team_member_deleted").await.is_empty());

    // Turned back on, the next removal acts; the group's membership already went.
    configure(&app, &w.org, json!({"pushDeprovisioning": true})).await;
    let answer = w.scim(&app).delete(&format!("/Users/{}", w.user(&alice))).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert!(w.owner(&app).members(w.team).await.is_empty());
}

#[tokio::test]
async fn after_a_push_removal_a_login_adds_the_membership_back_only_if_the_claim_still_names_the_group() {
    let app = TestApp::new().await;
    let (alice, bob) = (email("back-alice"), email("back-bob"));
    let w = world(&app, "back", &[&alice, &bob]).await;
    let ids = [w.user(&alice).to_owned(), w.user(&bob).to_owned()];
    let remove = patch_op(
        json!([{"op": "remove", "path": "members", "value": [{"value": ids[0]}, {"value": ids[1]}]}]),
    );
    let answer = w.scim(&app).patch(&format!("/Groups/{}", w.group), &remove).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert!(w.owner(&app).members(w.team).await.is_empty());
    login(&app, &alice, &[&w.group_name]).await;
    login(&app, &bob, &[]).await;
    assert_eq!(
        w.owner(&app).members(w.team).await,
        vec![(alice.clone(), "DELEGATED".to_owned())]
    );
}

#[tokio::test]
async fn a_bad_config_change_is_a_400_and_changes_nothing() {
    let app = TestApp::new().await;
    let org = app.org("badconf").await;
    let owner = OrgAdmin::owner(&app, org.id);
    for bad in [
        json!({"accountMatch": "userName", "pushDeprovisioning": false}),
        json!({"pushDeprovisioning": "no"}),
        json!({"pushDeprovisoning": false}),
        json!({"claimMatch": "externalId", "accountMatch": 7}),
    ] {
        let answer = owner.send(Method::PATCH, "/scim/config", Some(&bad), &[]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}: {}", answer.text);
        assert!(
            answer.body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            answer.text
        );
    }
    let config = owner.get("/scim/config").await.body;
    assert_eq!(
        (
            config["claimMatch"].clone(),
            config["accountMatch"].clone(),
            config["pushDeprovisioning"].clone()
        ),
        (json!("displayName"), json!("email"), json!(true))
    );
    let reader = OrgAdmin::new(&app, org.id, common::reader_jwt(org.id));
    let answer = reader
        .send(
            Method::PATCH,
            "/scim/config",
            Some(&json!({"pushDeprovisioning": false})),
            &[],
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);
}

/// Statements one SCIM removal of one member takes, in a group of `size` members (plus the
/// member removed, who is a DELEGATED member of the group's team).
async fn statements_to_remove_one(app: &TestApp, counter: &AtomicU64, size: usize, prefix: &str) -> u64 {
    let org = app.org(prefix).await;
    let scim = Scim::new(app, &org);
    let conn = app.sql_connection().await;
    let seeded = common::short_prefix();
    common::seed_users(&conn, org.id, &seeded, size).await;
    let name = unique(prefix);
    let group = scim.create_group(&name).await;
    common::seed_members(&conn, org.id, &group, &seeded).await;
    let team = OrgAdmin::owner(app, org.id)
        .create_team(&unique(prefix), Some(&group))
        .await;
    let alice = email(prefix);
    let user = scim.create_user(&alice).await;
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": user}]}]));
    assert_eq!(
        scim.patch(&format!("/Groups/{group}"), &add).await.status,
        StatusCode::NO_CONTENT
    );
    login(app, &alice, &[&name]).await;
    assert!(delegated(
        &OrgAdmin::owner(app, org.id).members(team).await,
        &alice
    ));

    let remove = patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{user}\"]")}]));
    let before = counter.load(Ordering::SeqCst);
    let answer = scim.patch(&format!("/Groups/{group}"), &remove).await;
    let statements = counter.load(Ordering::SeqCst) - before;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert!(OrgAdmin::owner(app, org.id).members(team).await.is_empty());
    statements
}

#[tokio::test]
async fn removing_one_member_costs_the_same_statements_in_a_group_of_10_or_of_20_000() {
    let (app, counter) = TestApp::counting_statements().await;
    let small = statements_to_remove_one(&app, &counter, 10, "cost-small").await;
    let large = statements_to_remove_one(&app, &counter, 20_000, "cost-large").await;
    assert_eq!(
        small, large,
        "statements for one removal: {small} in 10, {large} in 20,000"
    );
}

/// A login's answer status and a push's, run at the same moment.
async fn race(
    app: &TestApp,
    login_groups: &[&str],
    alice: &str,
    push: (Method, String, Value),
    org: &TestOrg,
) -> (StatusCode, StatusCode) {
    let claims = json!({"sub": alice, "email": alice, "email_verified": true, "groups": login_groups});
    let (method, path, body) = push;
    let token = common::id_token(claims);
    let url = format!("{}{path}", org.base());
    let (login, pushed) = tokio::join!(
        app.login_token(&token),
        app.send(method, &url, Some(&org.token), Some(&body), &[]),
    );
    (login.status, pushed.status)
}

/// A login adding a membership while a push removes the user from the group, and a login
/// removing two memberships while a deactivation removes them too: every answer a success (no
/// 5xx, no deadlock), and each end state one of the two orders gives, with its audit trail.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL"]
async fn a_login_racing_a_push_ends_as_one_of_the_two_orders() {
    common::require_postgres();
    let app = TestApp::new().await;
    let mut orders = (0, 0);
    for round in 0..20 {
        // The login adds alice while the IdP removes her from the group.
        let alice = email(&format!("race-{round}"));
        let org = app.org("race").await;
        let scim = Scim::new(&app, &org);
        let user = scim.create_user(&alice).await;
        let (group, name, team) = delegated_group(&app, &org, "race", &[&user]).await;
        let remove = patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{user}\"]")}]));
        let statuses = race(
            &app,
            &[&name],
            &alice,
            (Method::PATCH, format!("/Groups/{group}"), remove),
            &org,
        )
        .await;
        assert_eq!(
            statuses,
            (StatusCode::OK, StatusCode::NO_CONTENT),
            "round {round}"
        );
        let present = delegated(&OrgAdmin::owner(&app, org.id).members(team).await, &alice);
        let removed_by_push = OrgAdmin::owner(&app, org.id)
            .audit("type=team_member_deleted")
            .await
            .iter()
            .any(|e| e["data"]["reason"] == "idp_membership_removed");
        // Login first: added, then removed by the push (audited). Push first: nothing to remove,
        // then added by the login.
        assert!(
            present != removed_by_push,
            "round {round}: present {present}, removed {removed_by_push}"
        );
        if present {
            orders.0 += 1
        } else {
            orders.1 += 1
        }

        // A login whose claim names neither group removes alice's two memberships while the IdP
        // deactivates her: both go, each audited once.
        let (_, second_name, second_team) = delegated_group(&app, &org, "race-2", &[&user]).await;
        let reactivate = patch_op(json!([{"op": "replace", "path": "active", "value": true}]));
        assert_eq!(
            scim.patch(&format!("/Users/{user}"), &reactivate).await.status,
            StatusCode::OK
        );
        login(&app, &alice, &[&name, &second_name]).await;
        let before = OrgAdmin::owner(&app, org.id)
            .audit("type=team_member_deleted")
            .await
            .len();
        let deactivate = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
        let statuses = race(
            &app,
            &[],
            &alice,
            (Method::PATCH, format!("/Users/{user}"), deactivate),
            &org,
        )
        .await;
        assert_eq!(statuses, (StatusCode::OK, StatusCode::OK), "round {round}");
        assert!(OrgAdmin::owner(&app, org.id).members(team).await.is_empty());
        assert!(
            OrgAdmin::owner(&app, org.id)
                .members(second_team)
                .await
                .is_empty()
        );
        let after = OrgAdmin::owner(&app, org.id)
            .audit("type=team_member_deleted")
            .await
            .len();
        assert_eq!(after - before, 2, "round {round}: each membership removed once");
    }
    println!(
        "login first then push: {} rounds; push first then login: {} rounds",
        orders.1, orders.0
    );
}
