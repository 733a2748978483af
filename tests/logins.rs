//! Login evaluation through the real router (design §2 "Login evaluation", §3.5): cross-org
//! routing of the `groups` claim, DELEGATED memberships added and removed, MANUAL ones kept,
//! malformed claims and unverifiable tokens changing nothing, the replay guard, `org_id` scoping,
//! `claimMatch: externalId` and its open claim conflicts, and a login's statement count on a
//! large instance.

mod common;

use std::sync::atomic::Ordering;

use axum::http::{Method, StatusCode};
use common::{Answer, OrgAdmin, Scim, TestApp, TestOrg, id_token, next_iat, unique};
use serde_json::{Value, json};

/// An organization with a SCIM group and a team delegated to it.
struct Delegated {
    org: TestOrg,
    group_name: String,
    team: i64,
}

async fn delegated(app: &TestApp, prefix: &str) -> Delegated {
    let org = app.org(prefix).await;
    let group_name = unique(&format!("{prefix}-Group"));
    let group = Scim::new(app, &org).create_group(&group_name).await;
    let team = OrgAdmin::owner(app, org.id)
        .create_team(&unique(&format!("{prefix}-team")), Some(&group))
        .await;
    Delegated {
        org,
        group_name,
        team,
    }
}

fn email(prefix: &str) -> String {
    format!("{}@example.com", unique(prefix))
}

/// A login's claims for `user` (its e-mail is the subject) with these groups.
fn claims(user: &str, groups: Value) -> Value {
    json!({"sub": user, "email": user, "email_verified": true, "groups": groups})
}

fn refs(answer: &Value, key: &str) -> Vec<(i64, i64)> {
    answer[key]
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| {
            (
                r["orgId"].as_i64().expect("orgId"),
                r["teamId"].as_i64().expect("teamId"),
            )
        })
        .collect()
}

/// The team's members as (e-mail, provenance).
async fn members(app: &TestApp, d: &Delegated) -> Vec<(String, String)> {
    OrgAdmin::owner(app, d.org.id).members(d.team).await
}

fn has(members: &[(String, String)], user: &str, provenance: &str) -> bool {
    members.iter().any(|(e, p)| e == user && p == provenance)
}

async fn audit(app: &TestApp, org: &TestOrg, correlation_id: &str) -> Vec<Value> {
    OrgAdmin::owner(app, org.id)
        .audit(&format!("correlationId={correlation_id}"))
        .await
}

async fn login_with_id(app: &TestApp, claims: Value, correlation_id: &str) -> Answer {
    app.admin_send(
        Method::POST,
        "/api/logins",
        None,
        Some(&json!({"id_token": id_token(claims)})),
        &[("x-request-id", correlation_id)],
    )
    .await
}

#[tokio::test]
async fn a_claim_matching_teams_in_two_of_three_organizations_joins_both_teams_and_the_new_organization() {
    let app = TestApp::new().await;
    let a = delegated(&app, "route-a").await;
    let b = delegated(&app, "route-b").await;
    let c = delegated(&app, "route-c").await;
    let user = email("router");
    let first = app.login(claims(&user, json!([a.group_name]))).await;
    assert_eq!(refs(&first, "added"), vec![(a.org.id, a.team)]);
    let user_id = first["userId"].as_str().expect("userId").to_owned();
    assert_eq!(first["email"], user.as_str());

    let correlation_id = unique("route");
    let second = login_with_id(
        &app,
        claims(&user, json!([a.group_name, b.group_name, unique("Unknown")])),
        &correlation_id,
    )
    .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert_eq!(second.body["userId"], user_id.as_str());
    assert_eq!(refs(&second.body, "added"), vec![(b.org.id, b.team)]);
    assert!(refs(&second.body, "removed").is_empty());
    assert!(second.body.get("ignoredClaim").is_none());
    assert!(has(&members(&app, &a).await, &user, "DELEGATED"));
    assert!(has(&members(&app, &b).await, &user, "DELEGATED"));
    assert!(members(&app, &c).await.is_empty());

    // Organization B gained a member, audited with the login's correlation id and actor System.
    let events = audit(&app, &b.org, &correlation_id).await;
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(types.contains(&"org_member_created"), "{events:?}");
    assert!(types.contains(&"team_member_created"), "{events:?}");
    assert!(events.iter().all(|e| e["actor"] == "System"), "{events:?}");
    // A was joined by the first login, not again.
    assert!(audit(&app, &a.org, &correlation_id).await.is_empty());
}

#[tokio::test]
async fn a_later_login_with_one_group_fewer_removes_that_membership_only() {
    let app = TestApp::new().await;
    let a = delegated(&app, "fewer-a").await;
    let b = delegated(&app, "fewer-b").await;
    let user = email("fewer");
    let both = app
        .login(claims(&user, json!([a.group_name, b.group_name])))
        .await;
    let mut added = refs(&both, "added");
    added.sort();
    let mut expected = vec![(a.org.id, a.team), (b.org.id, b.team)];
    expected.sort();
    assert_eq!(added, expected);
    let fewer = app.login(claims(&user, json!([a.group_name]))).await;
    assert!(refs(&fewer, "added").is_empty());
    assert_eq!(refs(&fewer, "removed"), vec![(b.org.id, b.team)]);
    assert!(has(&members(&app, &a).await, &user, "DELEGATED"));
    assert!(members(&app, &b).await.is_empty());
}

#[tokio::test]
async fn absent_and_empty_groups_remove_every_delegated_membership_and_keep_manual_ones() {
    let app = TestApp::new().await;
    let a = delegated(&app, "empty-a").await;
    let owner = OrgAdmin::owner(&app, a.org.id);
    let manual_team = owner.create_team(&unique("empty-manual"), None).await;
    let user = email("empty");
    // Pre-created by e-mail as a manual member; the verified login binds that account.
    let manual_id = owner.add_member(manual_team, &user).await;
    for no_groups in [json!({"groups": []}), json!({"groups": null})] {
        let joined = app.login(claims(&user, json!([a.group_name]))).await;
        assert_eq!(
            joined["userId"],
            manual_id.as_str(),
            "the pre-created account is bound"
        );
        assert_eq!(refs(&joined, "added"), vec![(a.org.id, a.team)]);
        let mut none = claims(&user, Value::Null);
        none["groups"] = no_groups["groups"].clone();
        let left = app.login(none).await;
        assert_eq!(refs(&left, "removed"), vec![(a.org.id, a.team)], "{no_groups}");
        assert!(left.get("ignoredClaim").is_none());
        assert!(members(&app, &a).await.is_empty());
        assert_eq!(
            owner.members(manual_team).await,
            vec![(user.clone(), "MANUAL".to_owned())]
        );
    }
}

#[tokio::test]
async fn an_unverified_email_never_binds_a_pre_created_account() {
    let app = TestApp::new().await;
    let a = delegated(&app, "unverified").await;
    let owner = OrgAdmin::owner(&app, a.org.id);
    let manual_team = owner.create_team(&unique("unverified-manual"), None).await;
    let user = email("unverified");
    let manual_id = owner.add_member(manual_team, &user).await;
    let mut unverified = claims(&user, json!([a.group_name]));
    unverified["email_verified"] = json!(false);
    let answer = app.login(unverified).await;
    assert_ne!(answer["userId"], manual_id.as_str());
}

#[tokio::test]
async fn malformed_groups_and_the_overage_marker_change_nothing() {
    let app = TestApp::new().await;
    let a = delegated(&app, "malformed").await;
    let user = email("malformed");
    app.login(claims(&user, json!([a.group_name]))).await;
    let cases = [
        (json!({"groups": a.group_name}), "not_a_list"),
        (json!({"groups": {"name": a.group_name}}), "not_a_list"),
        (json!({"groups": [a.group_name, 7]}), "non_string_element"),
        (
            json!({"groups": null, "_claim_names": {"groups": "src1"}}),
            "overage",
        ),
        (json!({"groups": null, "hasgroups": true}), "overage"),
    ];
    for (extra, reason) in cases {
        let mut c = claims(&user, Value::Null);
        for (k, v) in extra.as_object().expect("object") {
            c[k] = v.clone();
        }
        let answer = app.login(c).await;
        assert_eq!(answer["ignoredClaim"], reason, "{extra}");
        assert!(refs(&answer, "added").is_empty() && refs(&answer, "removed").is_empty());
        assert!(has(&members(&app, &a).await, &user, "DELEGATED"), "{extra}");
    }
    let metrics = app.metrics_text().await;
    assert!(
        common::metric_sum(
            &metrics,
            "scimgate_login_ignored_claims_total",
            &[("reason", "overage")]
        ) >= 2.0
    );
}

#[tokio::test]
async fn unverifiable_tokens_are_refused_and_change_nothing() {
    let app = TestApp::new().await;
    let a = delegated(&app, "unverifiable").await;
    let user = email("unverifiable");
    app.login(claims(&user, json!([a.group_name]))).await;
    let now = next_iat();
    // Each would remove the membership if it were applied.
    let leave = |extra: Value| {
        let mut c = claims(&user, json!([]));
        for (k, v) in extra.as_object().expect("object").clone() {
            c[k] = v;
        }
        c
    };
    let sign = |claims: Value, secret: &[u8], alg: &str| {
        let header = json!({"alg": alg, "typ": "JWT"});
        let b64 = |v: &Value| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let input = format!("{}.{}", b64(&header), b64(&claims));
        let sig = if alg == "none" {
            String::new()
        } else {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ring::hmac::sign(&key, input.as_bytes()))
        };
        format!("{input}.{sig}")
    };
    let full = |extra: Value| {
        let mut c = leave(extra);
        c["iss"] = json!(common::IDP_ISSUER);
        c["aud"] = json!(common::IDP_AUDIENCE);
        c["iat"] = json!(now);
        c["exp"] = json!(now + 600);
        c
    };
    let tokens = [
        (
            "expired",
            id_token(leave(json!({"iat": now - 7200, "exp": now - 3600}))),
        ),
        ("no exp", id_token(leave(json!({"exp": null})))),
        ("wrong audience", id_token(leave(json!({"aud": "someone-else"})))),
        ("admin audience", id_token(leave(json!({"aud": "scimgate"})))),
        (
            "wrong issuer",
            id_token(leave(json!({"iss": "https://evil.example"}))),
        ),
        ("not yet valid", id_token(leave(json!({"nbf": now + 3600})))),
        (
            "wrongly signed",
            sign(full(json!({})), b"another-secret-0123456789abcdef-0123", "HS256"),
        ),
        (
            "admin-signed",
            sign(full(json!({})), common::ADMIN_SECRET.as_bytes(), "HS256"),
        ),
        ("alg none", sign(full(json!({})), b"", "none")),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (why, token) in tokens {
        let answer = app.login_token(&token).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{why}: {}", answer.text);
        assert!(has(&members(&app, &a).await, &user, "DELEGATED"), "{why}");
    }
    // The positive control: the same claims, properly signed, do apply.
    let answer = app
        .login_token(&sign(full(json!({})), common::IDP_SECRET.as_bytes(), "HS256"))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(members(&app, &a).await.is_empty());
}

#[tokio::test]
async fn a_replayed_token_is_a_stale_login_and_changes_nothing() {
    let app = TestApp::new().await;
    let a = delegated(&app, "replay").await;
    let user = email("replay");
    let joined = id_token(claims(&user, json!([a.group_name])));
    let left = id_token(claims(&user, json!([])));
    assert_eq!(refs(&app.login_token(&joined).await.body, "added").len(), 1);
    assert_eq!(refs(&app.login_token(&left).await.body, "removed").len(), 1);
    for token in [&joined, &left] {
        let again = app.login_token(token).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!(again.body["ignoredClaim"], "stale_login");
        assert!(refs(&again.body, "added").is_empty() && refs(&again.body, "removed").is_empty());
    }
    assert!(
        members(&app, &a).await.is_empty(),
        "a replay restored a removed membership"
    );
}

#[tokio::test]
async fn an_org_id_claim_routes_the_login_to_that_organization_only() {
    let app = TestApp::new().await;
    let a = delegated(&app, "scoped-a").await;
    let b = delegated(&app, "scoped-b").await;
    let user = email("scoped");
    app.login(claims(&user, json!([a.group_name, b.group_name])))
        .await;
    let mut scoped = claims(&user, json!([]));
    scoped["org_id"] = json!(a.org.id);
    let answer = app.login(scoped).await;
    assert_eq!(refs(&answer, "removed"), vec![(a.org.id, a.team)]);
    assert!(has(&members(&app, &b).await, &user, "DELEGATED"));
    // Scoped to A, B's group in the claim adds nothing in B... and A's adds in A only.
    let mut scoped = claims(&user, json!([a.group_name, b.group_name]));
    scoped["org_id"] = json!(b.org.id.to_string());
    let answer = app.login(scoped).await;
    assert!(refs(&answer, "added").is_empty(), "{answer}");
}

#[tokio::test]
async fn claim_match_external_id_matches_external_ids_and_an_ambiguous_value_applies_to_none() {
    let app = TestApp::new().await;
    let org = app.org("extid").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let bad = owner
        .send(
            Method::PATCH,
            "/scim/config",
            Some(&json!({"claimMatch": "email"})),
            &[],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    let set = owner
        .send(
            Method::PATCH,
            "/scim/config",
            Some(&json!({"claimMatch": "externalId"})),
            &[],
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    assert_eq!(set.body["claimMatch"], "externalId");
    assert_eq!(owner.get("/scim/config").await.body["claimMatch"], "externalId");

    let guid = uuid::Uuid::now_v7().to_string();
    let name = unique("ExtId Group");
    let created = Scim::new(&app, &org)
        .post(
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "externalId": guid}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let group = created.body["id"].as_str().expect("id").to_owned();
    let team = owner.create_team(&unique("extid-team"), Some(&group)).await;
    let user = email("extid");
    // The display name no longer matches in this organization; the externalId does.
    let by_name = app.login(claims(&user, json!([name]))).await;
    assert!(refs(&by_name, "added").is_empty(), "{by_name}");
    let by_id = app.login(claims(&user, json!([guid]))).await;
    assert_eq!(refs(&by_id, "added"), vec![(org.id, team)]);

    // Another organization matching by externalId holds the same value: it now names neither.
    let other = app.org("extid-other").await;
    let other_owner = OrgAdmin::owner(&app, other.id);
    other_owner
        .send(
            Method::PATCH,
            "/scim/config",
            Some(&json!({"claimMatch": "externalId"})),
            &[],
        )
        .await;
    let created = Scim::new(&app, &other)
        .post(
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": unique("ExtId Other"), "externalId": guid}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let other_group = created.body["id"].as_str().expect("id").to_owned();
    other_owner
        .create_team(&unique("extid-other-team"), Some(&other_group))
        .await;
    let ambiguous = app.login(claims(&user, json!([guid]))).await;
    assert!(refs(&ambiguous, "added").is_empty(), "{ambiguous}");
    assert_eq!(refs(&ambiguous, "removed"), vec![(org.id, team)]);

    // The instance admin sees the value as an open claim conflict naming both organizations.
    let first = claim_conflict(&app, &guid).await.expect("an open claim conflict");
    let mut expected = vec![
        json!({"id": org.id, "name": org.name}),
        json!({"id": other.id, "name": other.name}),
    ];
    expected.sort_by_key(|o| o["id"].as_i64());
    assert_eq!(first["organizations"], json!(expected), "{first}");
    assert_eq!(first["count"], 1, "{first}");
    assert_eq!(first["firstSeen"], first["lastSeen"], "{first}");

    // Seen again: counted again, first seen kept.
    app.login(claims(&user, json!([guid]))).await;
    let again = claim_conflict(&app, &guid).await.expect("still open");
    assert_eq!(again["count"], 2, "{again}");
    assert_eq!(again["firstSeen"], first["firstSeen"], "{again}");
    assert_eq!(again["organizations"], json!(expected), "{again}");

    // The other organization's group takes another externalId: the value names one organization
    // again, so the next login applies it there and the conflict is resolved.
    let changed = Scim::new(&app, &other)
        .patch(
            &format!("/Groups/{other_group}"),
            &common::patch_op(
                json!([{"op": "replace", "path": "externalId", "value": uuid::Uuid::now_v7().to_string()}]),
            ),
        )
        .await;
    assert!(changed.status.is_success(), "{}", changed.text);
    let resolved = app.login(claims(&user, json!([guid]))).await;
    assert_eq!(refs(&resolved, "added"), vec![(org.id, team)], "{resolved}");
    assert!(
        claim_conflict(&app, &guid).await.is_none(),
        "the conflict stays open"
    );
}

/// The instance admin's open claim conflict over `value`, if any.
async fn claim_conflict(app: &TestApp, value: &str) -> Option<Value> {
    let answer = app
        .admin_send(
            Method::GET,
            "/api/instance/conflicts",
            Some(&common::instance_admin_jwt()),
            None,
            &[],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(answer.body["conflicts"].is_array(), "{}", answer.text);
    let open = answer.body["claimConflicts"].as_array().expect("claimConflicts");
    let mut named = open.iter().filter(|c| c["claimValue"] == value);
    let found = named.next().cloned();
    assert!(named.next().is_none(), "one conflict per value: {}", answer.text);
    found
}

#[tokio::test]
async fn the_topology_counts_organizations_for_instance_admins() {
    let app = TestApp::new().await;
    app.org("topology").await;
    let answer = app
        .admin_send(
            Method::GET,
            "/api/instance/topology",
            Some(&common::instance_admin_jwt()),
            None,
            &[],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let sso = answer.body["ssoOrganizations"].as_u64().expect("count");
    assert!(answer.body["organizations"].as_u64().expect("count") >= sso);
    assert!(sso >= 1);
    let expected = if sso == 1 { "single" } else { "multi" };
    assert_eq!(answer.body["topology"], expected);
    let org = app.org("topology-owner").await;
    let refused = app
        .admin_send(
            Method::GET,
            "/api/instance/topology",
            Some(&common::owner_jwt(org.id)),
            None,
            &[],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn claims_may_be_posted_by_instance_admins_only() {
    let app = TestApp::new().await;
    let a = delegated(&app, "trusted").await;
    let user = email("trusted");
    let body = json!({"claims": {"iss": common::IDP_ISSUER, "sub": user, "groups": [a.group_name]}});
    let post = |jwt: Option<String>| {
        let app = app.clone();
        let body = body.clone();
        async move {
            app.admin_send(Method::POST, "/api/logins", jwt.as_deref(), Some(&body), &[])
                .await
        }
    };
    assert_eq!(post(None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        post(Some(common::owner_jwt(a.org.id))).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(members(&app, &a).await.is_empty());
    let answer = post(Some(common::instance_admin_jwt())).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(refs(&answer.body, "added"), vec![(a.org.id, a.team)]);
}

#[tokio::test]
async fn a_configured_caller_token_is_required() {
    let mut serve = scimgate::config::ServeArgs {
        public_url: Some(common::PUBLIC_URL.into()),
        ..Default::default()
    };
    serve.idp = common::test_idp();
    serve.idp.login_caller_token = Some(scimgate::config::Secret("caller-token-0123456789".into()));
    let app = TestApp::with(&common::database_url(), serve).await;
    let a = delegated(&app, "caller").await;
    let user = email("caller");
    let body = json!({"id_token": id_token(claims(&user, json!([a.group_name])))});
    for header in [None, Some("wrong-token")] {
        let headers: Vec<(&str, &str)> = header.map(|h| ("x-scimgate-caller", h)).into_iter().collect();
        let answer = app
            .admin_send(Method::POST, "/api/logins", None, Some(&body), &headers)
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{header:?}");
    }
    let answer = app
        .admin_send(
            Method::POST,
            "/api/logins",
            None,
            Some(&body),
            &[("x-scimgate-caller", "caller-token-0123456789")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

/// Statements of a login do not grow with the instance: the same login shape costs the same on
/// an instance with 1,000 more organizations and 10,000 more delegated teams.
#[tokio::test]
async fn a_logins_statement_count_does_not_grow_with_organizations_and_teams() {
    let (app, counter) = TestApp::counting_statements().await;
    let a = delegated(&app, "count-a").await;
    let b = delegated(&app, "count-b").await;
    let count = |user: String| {
        let app = app.clone();
        let counter = counter.clone();
        let groups = json!([a.group_name, b.group_name]);
        async move {
            let before = counter.load(Ordering::SeqCst);
            let answer = app.login(claims(&user, groups)).await;
            assert_eq!(refs(&answer, "added").len(), 2, "{answer}");
            counter.load(Ordering::SeqCst) - before
        }
    };
    let small = count(email("count-small")).await;

    let sql = app.sql_connection().await;
    let p = common::short_prefix();
    use sea_orm::ConnectionTrait;
    sql.execute_unprepared(&format!(
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 1000) \
         INSERT INTO organizations (name, sso_active, created_at) SELECT '{p}' || n, true, 1 FROM s"
    ))
    .await
    .expect("seed organizations");
    sql.execute_unprepared(&format!(
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 10) \
         INSERT INTO idp_groups (id, org_id, display_name, display_key, display_key_version, external_id, \
         source, created_at, updated_at, version) \
         SELECT '{p}' || o.id || '-' || s.n, o.id, '{p}G' || o.id || '-' || s.n, '{p}g' || o.id || '-' || s.n, \
         1, '{p}x' || s.n, 'SCIM', 1, 1, 1 FROM organizations o, s WHERE o.name LIKE '{p}%'"
    ))
    .await
    .expect("seed groups");
    let teams = sql
        .execute_unprepared(&format!(
            "INSERT INTO teams (org_id, name, idp_group_id, created_at, updated_at) \
             SELECT org_id, id, id, 1, 1 FROM idp_groups WHERE id LIKE '{p}%'"
        ))
        .await
        .expect("seed teams");
    assert_eq!(teams.rows_affected(), 10_000);

    let large = count(email("count-large")).await;
    // The seeded organizations go before anything is asserted: on the shared PostgreSQL, a
    // thousand of them would show up in every other test's scrape of the per-organization gauges.
    for table in ["teams", "idp_groups"] {
        sql.execute_unprepared(&format!(
            "DELETE FROM {table} WHERE org_id IN (SELECT id FROM organizations WHERE name LIKE '{p}%')"
        ))
        .await
        .expect("remove the seeded rows");
    }
    sql.execute_unprepared(&format!("DELETE FROM organizations WHERE name LIKE '{p}%'"))
        .await
        .expect("remove the seeded organizations");
    assert_eq!(small, large, "a login's statements grew with the instance");
    assert!(large < 30, "{large} statements for one login");
}

/// Logins and catalog-row deletes take their locks in one order (row, then team), so on
/// PostgreSQL neither aborts the other with a deadlock: hammered together, nothing answers 5xx.
#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn concurrent_logins_and_catalog_deletes_never_deadlock() {
    common::require_postgres();
    let app = TestApp::new().await;
    let org = app.org("deadlock").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let mut groups = Vec::new();
    for i in 0..24 {
        let name = unique(&format!("Deadlock {i}"));
        let id = owner.add_manual_group(&name).await;
        owner
            .create_team(&unique(&format!("deadlock-team-{i}")), Some(&id))
            .await;
        groups.push((id, name));
    }
    let names: Vec<String> = groups.iter().map(|(_, n)| n.clone()).collect();
    let mut tasks = Vec::new();
    for u in 0..6 {
        let app = app.clone();
        let names = names.clone();
        tasks.push(tokio::spawn(async move {
            let user = email(&format!("deadlock-user{u}"));
            let mut statuses = Vec::new();
            for round in 0..12 {
                // Alternate the order and the subset so locks are taken in every pattern.
                let mut claim = names.clone();
                if round % 2 == 1 {
                    claim.reverse();
                }
                let answer = app.login_token(&id_token(claims(&user, json!(claim)))).await;
                statuses.push(answer.status);
            }
            statuses
        }));
    }
    for (id, _) in groups {
        let app = app.clone();
        let org_id = org.id;
        tasks.push(tokio::spawn(async move {
            let owner = OrgAdmin::owner(&app, org_id);
            vec![owner.delete(&format!("/idp-groups/{id}")).await.status]
        }));
    }
    for task in tasks {
        for status in task.await.expect("task") {
            assert!(!status.is_server_error(), "a request answered {status}");
        }
    }
}

/// With the instance switch off no organization can be routed to: a login changes nothing and
/// says why.
#[tokio::test]
async fn with_delegation_switched_off_a_login_is_no_sso() {
    let serve = scimgate::config::ServeArgs {
        public_url: Some(common::PUBLIC_URL.into()),
        idp_delegation_enabled: false,
        ..Default::default()
    };
    let app = TestApp::with(&common::database_url(), serve).await;
    let answer = app
        .login(claims(&email("no-sso"), json!([unique("Anything")])))
        .await;
    assert_eq!(answer["ignoredClaim"], "no_sso", "{answer}");
    assert!(refs(&answer, "added").is_empty() && refs(&answer, "removed").is_empty());
}

#[tokio::test]
async fn an_entra_token_with_two_hundred_group_guids_is_accepted() {
    let app = TestApp::new().await;
    let a = delegated(&app, "guids").await;
    let user = email("guids");
    // Entra lists up to 200 groups before it switches to its overage marker: about 10 KiB of
    // token, more than an admin token may be.
    let mut groups: Vec<Value> = (0..199)
        .map(|i| Value::from(format!("{i:08x}-0000-4000-8000-000000000000")))
        .collect();
    groups.push(Value::from(a.group_name.as_str()));
    let token = id_token(claims(&user, Value::Array(groups)));
    assert!(token.len() > 8 * 1024, "{} bytes", token.len());
    let answer = app.login_token(&token).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(refs(&answer.body, "added"), vec![(a.org.id, a.team)]);
}

/// One account's logins are applied one at a time and in `iat` order: fired together, newest
/// first, the memberships end as the newest login says (older ones are stale, or applied before
/// it), and nothing answers 5xx.
#[tokio::test]
async fn concurrent_logins_of_one_account_end_as_the_newest_says() {
    let app = TestApp::new().await;
    let mut teams = Vec::new();
    for i in 0..4 {
        teams.push(delegated(&app, &format!("serial{i}")).await);
    }
    let user = email("serial");
    // Each token names one group; `id_token` gives every token a newer `iat` than the last.
    let tokens: Vec<(usize, String)> = (0..16)
        .map(|i| (i % 4, id_token(claims(&user, json!([teams[i % 4].group_name])))))
        .collect();
    let newest = tokens.last().map(|(team, _)| *team).expect("tokens");
    let answers =
        futures::future::join_all(tokens.iter().rev().map(|(_, token)| app.login_token(token))).await;
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }
    for (i, d) in teams.iter().enumerate() {
        assert_eq!(
            has(&members(&app, d).await, &user, "DELEGATED"),
            i == newest,
            "team {i} (the newest login named team {newest})"
        );
    }
}
