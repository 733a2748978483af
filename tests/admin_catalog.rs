//! The admin API's catalog (design §2 "Admin API", §3.1, §3.2 promotion, §3.4 removal, §3.7):
//! the owner flow end to end, manual rows, promotion of a manual row by SCIM, and the purge that
//! removing a linked row runs — whether SCIM or the owner removes it.

mod common;

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use common::{OrgAdmin, Scim, TestApp, TestOrg, enc, instance_admin_jwt, patch_op, unique};
use serde_json::{Value, json};

/// The event types of `events`, counted.
fn type_counts(events: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for e in events {
        *counts
            .entry(e["type"].as_str().expect("type").to_owned())
            .or_insert(0) += 1;
    }
    counts
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// The `targets` of the events of one type, sorted.
fn targets_of(events: &[Value], event_type: &str) -> Vec<String> {
    let mut t: Vec<String> = events
        .iter()
        .filter(|e| e["type"] == event_type)
        .map(|e| e["target"].as_str().expect("target").to_owned())
        .collect();
    t.sort();
    t
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// (e-mail, provenance) pairs, sorted as [`OrgAdmin::members`] answers them.
fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(e, p)| ((*e).to_owned(), (*p).to_owned()))
        .collect();
    v.sort();
    v
}

/// create org → generate token → IdP pushes groups → catalog lists them → a team with MANUAL
/// members is linked → DELEGATED members join → SCIM DELETE of the group → the team stays,
/// orphaned, with its MANUAL members only, and one correlation id ties the DELETE's events.
#[tokio::test]
async fn owner_flow_scim_delete_orphans_the_team_and_purges_only_delegated_members() {
    let app = TestApp::new().await;

    // The instance admin creates the organization.
    let org_name = unique("acme");
    let created = app
        .admin_send(
            Method::POST,
            "/api/instance/orgs",
            Some(&instance_admin_jwt()),
            Some(&json!({"name": org_name})),
            &[],
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["name"], org_name.as_str());
    assert_eq!(created.body["ssoActive"], true);
    let org_id = created.body["id"].as_i64().expect("org id");
    let owner = OrgAdmin::owner(&app, org_id);

    // The owner generates the SCIM token and hands it to the IdP.
    let generated = owner.post("/scim/token", &json!({})).await;
    assert_eq!(generated.status, StatusCode::CREATED, "{}", generated.text);
    let token = generated.body["token"].as_str().expect("token").to_owned();
    let masked = generated.body["maskedToken"]
        .as_str()
        .expect("maskedToken")
        .to_owned();
    let org = TestOrg {
        id: org_id,
        name: org_name.clone(),
        token,
    };
    let scim = Scim::new(&app, &org);

    // The IdP pushes three groups, not in name order, in mixed case.
    let base = unique("grp");
    let charlie_name = format!("{base}-charlie");
    let alpha_name = format!("{base}-alpha");
    let beta_name = format!("{base}-Beta");
    let charlie = scim.create_group(&charlie_name).await;
    let alpha = scim.create_group(&alpha_name).await;
    let beta = scim.create_group(&beta_name).await;

    let listed = owner.catalog().await;
    let names: Vec<&str> = listed
        .iter()
        .map(|g| g["displayName"].as_str().expect("displayName"))
        .collect();
    assert_eq!(
        names,
        vec![alpha_name.as_str(), beta_name.as_str(), charlie_name.as_str()],
        "sorted by name (case-insensitively)"
    );
    let ids: Vec<&str> = listed.iter().map(|g| g["id"].as_str().expect("id")).collect();
    assert_eq!(ids, vec![alpha.as_str(), beta.as_str(), charlie.as_str()]);
    for g in &listed {
        assert_eq!(g["source"], "SCIM", "{g}");
        assert_eq!(g["linkedTeam"], Value::Null, "{g}");
    }

    // A team with MANUAL members …
    let team_name = unique("platform");
    let team = owner.create_team(&team_name, None).await;
    assert_eq!(owner.team(team).await["delegationState"], "MANUAL");
    let manual_1 = unique("m1") + "@example.com";
    let manual_2 = unique("m2") + "@example.com";
    owner.add_member(team, &manual_1).await;
    owner.add_member(team, &manual_2).await;

    // … is linked to the "alpha" group.
    let linked = owner.link(team, &team_name, Some(&alpha)).await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.text);
    assert_eq!(linked.body["delegationState"], "DELEGATED");
    assert_eq!(linked.body["idpGroupId"], alpha.as_str());
    assert_eq!(linked.body["idpGroupName"], alpha_name.as_str());
    let entry = owner
        .catalog()
        .await
        .into_iter()
        .find(|g| g["id"] == alpha.as_str())
        .expect("alpha listed");
    assert_eq!(entry["linkedTeam"]["id"], team, "{entry}");
    assert_eq!(entry["linkedTeam"]["name"], team_name.as_str(), "{entry}");

    // DELEGATED members join (through the tenant's catalog service, as a login will).
    let delegated_1 = unique("d1") + "@example.com";
    let delegated_2 = unique("d2") + "@example.com";
    let d1 = app.add_delegated(&org, team, &delegated_1).await;
    let d2 = app.add_delegated(&org, team, &delegated_2).await;
    assert_eq!(
        owner.members(team).await,
        pairs(&[
            (&manual_1, "MANUAL"),
            (&manual_2, "MANUAL"),
            (&delegated_1, "DELEGATED"),
            (&delegated_2, "DELEGATED"),
        ])
    );

    // The IdP deletes the group.
    let deleted = scim.delete(&format!("/Groups/{alpha}")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    let correlation_id = deleted
        .header("x-request-id")
        .expect("X-Request-Id on the DELETE")
        .to_owned();

    // The team is still there, orphaned, with the warning.
    let orphaned = owner.team(team).await;
    assert_eq!(orphaned["name"], team_name.as_str());
    assert_eq!(orphaned["delegationState"], "ORPHANED", "{orphaned}");
    assert_eq!(orphaned["idpGroupId"], Value::Null);
    assert_eq!(orphaned["orphanedGroupName"], alpha_name.as_str());
    assert!(
        orphaned["orphanedAt"].as_str().is_some_and(|s| !s.is_empty()),
        "orphanedAt: {orphaned}"
    );
    let in_list = owner.get("/teams").await;
    let listed_team = in_list.body["teams"]
        .as_array()
        .expect("teams")
        .iter()
        .find(|t| t["id"] == team)
        .cloned()
        .expect("the team is listed");
    assert_eq!(listed_team["delegationState"], "ORPHANED");
    assert_eq!(listed_team["orphanedGroupName"], alpha_name.as_str());

    // DELEGATED members gone, MANUAL members kept.
    assert_eq!(
        owner.members(team).await,
        pairs(&[(&manual_1, "MANUAL"), (&manual_2, "MANUAL")])
    );

    // The row is gone from the catalog and from SCIM.
    assert!(owner.catalog().await.iter().all(|g| g["id"] != alpha.as_str()));
    assert_eq!(
        scim.get(&format!("/Groups/{alpha}")).await.status,
        StatusCode::NOT_FOUND
    );

    // The DELETE's audit events share its correlation id and System as actor.
    let events = owner
        .audit(&format!("correlationId={}", enc(&correlation_id)))
        .await;
    assert_eq!(
        type_counts(&events),
        counts(&[
            ("idp_group_deleted", 1),
            ("team_updated", 1),
            ("team_member_deleted", 2)
        ]),
        "{events:#?}"
    );
    for e in &events {
        assert_eq!(e["correlationId"], correlation_id.as_str(), "{e}");
        assert_eq!(e["actor"], "System", "{e}");
        assert_eq!(e["actorDetail"]["token"], masked.as_str(), "{e}");
    }
    assert_eq!(targets_of(&events, "idp_group_deleted"), vec![alpha.clone()]);
    assert_eq!(targets_of(&events, "team_updated"), vec![team.to_string()]);
    assert_eq!(targets_of(&events, "team_member_deleted"), sorted(vec![d1, d2]));
    let updated = events
        .iter()
        .find(|e| e["type"] == "team_updated")
        .expect("team_updated");
    assert_eq!(
        updated["data"]["idpGroup"]["old"]["id"],
        alpha.as_str(),
        "{updated}"
    );
    assert_eq!(updated["data"]["idpGroup"]["new"], Value::Null, "{updated}");

    // The IdP's creates were System's too, one event each.
    let created = owner.audit("type=idp_group_created").await;
    assert_eq!(
        targets_of(&created, "idp_group_created"),
        sorted(vec![alpha, beta, charlie])
    );
    assert!(created.iter().all(|e| e["actor"] == "System"), "{created:#?}");
}

/// `POST …/idp-groups`: 201 with `{id, displayName, source: "MANUAL"}`; blank → 400; a name this
/// organization already holds (in any case) → 409; a name another organization holds → 409
/// naming that organization. A refused add creates nothing.
#[tokio::test]
async fn manual_add_answers_the_entry_and_refuses_blank_and_taken_names() {
    let app = TestApp::new().await;
    let org = app.org("mine").await;
    let other = app.org("globex").await;
    let owner = OrgAdmin::owner(&app, org.id);

    let name = unique("Finance");
    let added = owner.post("/idp-groups", &json!({"displayName": name})).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    let id = added.body["id"].as_str().expect("id").to_owned();
    assert!(!id.is_empty());
    assert_eq!(added.body["displayName"], name.as_str());
    assert_eq!(added.body["source"], "MANUAL");

    for blank in [
        json!({"displayName": ""}),
        json!({"displayName": "   "}),
        json!({}),
    ] {
        let answer = owner.post("/idp-groups", &blank).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{blank}: {}", answer.text);
    }

    for duplicate in [name.clone(), name.to_uppercase(), name.to_lowercase()] {
        let answer = owner
            .post("/idp-groups", &json!({"displayName": duplicate}))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::CONFLICT,
            "{duplicate}: {}",
            answer.text
        );
    }

    // Names held by another organization: a SCIM row and a MANUAL row.
    let scim_held = unique("Sales");
    Scim::new(&app, &other).create_group(&scim_held).await;
    let manual_held = unique("Legal");
    OrgAdmin::owner(&app, other.id)
        .add_manual_group(&manual_held)
        .await;
    for taken in [scim_held.clone(), scim_held.to_lowercase(), manual_held.clone()] {
        let answer = owner.post("/idp-groups", &json!({"displayName": taken})).await;
        assert_eq!(answer.status, StatusCode::CONFLICT, "{taken}: {}", answer.text);
        let message = answer.body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&format!("organization \"{}\"", other.name)),
            "the 409 names the holder: {message}"
        );
    }

    // Only the first add created anything.
    let rows = owner.catalog().await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["id"], id.as_str());
    assert_eq!(rows[0]["source"], "MANUAL");
    assert_eq!(rows[0]["linkedTeam"], Value::Null);
    // A MANUAL row is not the IdP's: SCIM does not see it.
    let scim = Scim::new(&app, &org);
    assert_eq!(
        scim.count_where("/Groups", &format!("displayName eq \"{name}\""))
            .await,
        0
    );
    assert_eq!(
        scim.get(&format!("/Groups/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    // The add is audited with the owner as actor.
    let events = owner.audit("type=idp_group_created").await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["target"], id.as_str());
    assert_ne!(events[0]["actor"], "System");
}

/// `DELETE …/idp-groups/{id}`: 204 for a MANUAL row; 409 for a SCIM row (which stays); 404 for
/// an unknown id or another organization's row.
#[tokio::test]
async fn manual_delete_removes_manual_rows_only() {
    let app = TestApp::new().await;
    let org = app.org("deleter").await;
    let other = app.org("bystander").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let scim = Scim::new(&app, &org);

    let manual = owner.add_manual_group(&unique("Manual")).await;
    let scim_name = unique("Pushed");
    let pushed = scim.create_group(&scim_name).await;
    let foreign = OrgAdmin::owner(&app, other.id)
        .add_manual_group(&unique("Foreign"))
        .await;

    let refused = owner.delete(&format!("/idp-groups/{pushed}")).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(
        scim.get(&format!("/Groups/{pushed}")).await.status,
        StatusCode::OK
    );

    let foreign_delete = owner.delete(&format!("/idp-groups/{foreign}")).await;
    assert_eq!(
        foreign_delete.status,
        StatusCode::NOT_FOUND,
        "{}",
        foreign_delete.text
    );
    assert_eq!(OrgAdmin::owner(&app, other.id).catalog().await.len(), 1);

    let removed = owner.delete(&format!("/idp-groups/{manual}")).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    assert!(removed.text.is_empty());
    let again = owner.delete(&format!("/idp-groups/{manual}")).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.text);
    let unknown = owner
        .delete(&format!("/idp-groups/{}", uuid::Uuid::now_v7()))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);

    let rows = owner.catalog().await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["id"], pushed.as_str());
    assert_eq!(rows[0]["source"], "SCIM");

    // SCIM cannot remove a MANUAL row either: it does not exist for the IdP.
    let manual_2 = owner.add_manual_group(&unique("Manual2")).await;
    assert_eq!(
        scim.delete(&format!("/Groups/{manual_2}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(owner.catalog().await.len(), 2);
}

/// The owner's delete of a linked MANUAL row runs the same purge as a SCIM DELETE: the team stays
/// and is orphaned, its DELEGATED members go, its MANUAL members stay, and the events share the
/// request's correlation id with the owner as actor.
#[tokio::test]
async fn manual_delete_of_a_linked_row_runs_the_purge() {
    let app = TestApp::new().await;
    let org = app.org("purger").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let group_name = unique("Contractors");
    let group = owner.add_manual_group(&group_name).await;
    let team_name = unique("contractors-team");
    let team = owner.create_team(&team_name, None).await;
    let kept = unique("kept") + "@example.com";
    owner.add_member(team, &kept).await;
    assert_eq!(
        owner.link(team, &team_name, Some(&group)).await.status,
        StatusCode::OK
    );
    let gone = unique("gone") + "@example.com";
    let gone_id = app.add_delegated(&org, team, &gone).await;
    // A MANUAL member the IdP also names stays MANUAL (a login never overrides the owner).
    app.add_delegated(&org, team, &kept).await;
    assert_eq!(
        owner.members(team).await,
        pairs(&[(&kept, "MANUAL"), (&gone, "DELEGATED")])
    );

    let correlation_id = unique("manual-delete");
    let deleted = owner
        .send(
            Method::DELETE,
            &format!("/idp-groups/{group}"),
            None,
            &[("x-request-id", &correlation_id)],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    assert_eq!(deleted.header("x-request-id"), Some(correlation_id.as_str()));

    let t = owner.team(team).await;
    assert_eq!(t["delegationState"], "ORPHANED", "{t}");
    assert_eq!(t["orphanedGroupName"], group_name.as_str());
    assert!(t["orphanedAt"].is_string(), "{t}");
    assert_eq!(owner.members(team).await, vec![(kept, "MANUAL".to_owned())]);
    assert!(owner.catalog().await.is_empty());

    let events = owner.audit(&format!("correlationId={correlation_id}")).await;
    assert_eq!(
        type_counts(&events),
        counts(&[
            ("idp_group_deleted", 1),
            ("team_updated", 1),
            ("team_member_deleted", 1)
        ]),
        "{events:#?}"
    );
    assert_eq!(targets_of(&events, "team_member_deleted"), vec![gone_id]);
    for e in &events {
        assert_eq!(e["correlationId"], correlation_id.as_str());
        assert_ne!(e["actor"], "System", "an owner's change is the owner's: {e}");
        assert_eq!(e["actor"], events[0]["actor"]);
    }
}

/// Promotion (§3.2): a SCIM create whose name matches a MANUAL row of the same organization (in
/// any case) reuses it in place — same id, source SCIM, team link and DELEGATED members untouched
/// — and answers 201; from then on only SCIM can remove it.
#[tokio::test]
async fn scim_create_promotes_a_manual_row_in_place() {
    let app = TestApp::new().await;
    let org = app.org("promoter").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let scim = Scim::new(&app, &org);

    let manual_name = unique("DATA-Science");
    let id = owner.add_manual_group(&manual_name).await;
    let team_name = unique("data-team");
    let team = owner.create_team(&team_name, Some(&id)).await;
    let delegated = unique("ds") + "@example.com";
    app.add_delegated(&org, team, &delegated).await;

    // Before promotion the IdP does not see the row.
    let filter = format!("displayName eq \"{manual_name}\"");
    assert_eq!(scim.count_where("/Groups", &filter).await, 0);
    let listed = scim.get("/Groups?count=1000").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(
        !listed.text.contains(&id),
        "SCIM list shows a MANUAL row: {}",
        listed.text
    );
    assert_eq!(
        scim.get(&format!("/Groups/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let patch = scim
        .patch(
            &format!("/Groups/{id}"),
            &patch_op(json!([{"op": "replace", "path": "displayName", "value": unique("x")}])),
        )
        .await;
    assert_eq!(patch.status, StatusCode::NOT_FOUND, "{}", patch.text);

    // The IdP creates the same name in another case.
    let scim_name = manual_name.to_lowercase();
    let created = scim
        .post(
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": scim_name, "externalId": "ext-1"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["id"], id.as_str(), "the MANUAL row's id is reused");
    assert_eq!(created.body["displayName"], scim_name.as_str());

    let rows = owner.catalog().await;
    assert_eq!(rows.len(), 1, "no second row: {rows:#?}");
    assert_eq!(rows[0]["id"], id.as_str());
    assert_eq!(rows[0]["source"], "SCIM");
    assert_eq!(rows[0]["displayName"], scim_name.as_str());
    assert_eq!(rows[0]["linkedTeam"]["id"], team);

    let t = owner.team(team).await;
    assert_eq!(t["delegationState"], "DELEGATED", "{t}");
    assert_eq!(t["idpGroupId"], id.as_str());
    assert_eq!(t["idpGroupName"], scim_name.as_str());
    assert_eq!(
        owner.members(team).await,
        vec![(delegated, "DELEGATED".to_owned())]
    );

    // Now the IdP sees it …
    assert_eq!(scim.get(&format!("/Groups/{id}")).await.status, StatusCode::OK);
    assert_eq!(scim.count_where("/Groups", &filter).await, 1);
    // … and only the IdP may remove it.
    let refused = owner.delete(&format!("/idp-groups/{id}")).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(owner.catalog().await.len(), 1);
    assert_eq!(owner.team(team).await["delegationState"], "DELEGATED");

    // A second SCIM create of the name is a plain uniqueness 409, not another promotion.
    let again = scim.create_group_answer(&manual_name).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);

    let deleted = scim.delete(&format!("/Groups/{id}")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    assert_eq!(owner.team(team).await["delegationState"], "ORPHANED");
}

/// Promotion is per organization: a SCIM create of a name another organization holds as MANUAL
/// is a 409, and the other organization's row is untouched.
#[tokio::test]
async fn promotion_never_crosses_organizations() {
    let app = TestApp::new().await;
    let holder = app.org("holder").await;
    let pusher = app.org("pusher").await;
    let holder_admin = OrgAdmin::owner(&app, holder.id);
    let name = unique("Shared");
    let id = holder_admin.add_manual_group(&name).await;

    let answer = Scim::new(&app, &pusher).create_group_answer(&name).await;
    assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.text);
    let rows = holder_admin.catalog().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], id.as_str());
    assert_eq!(rows[0]["source"], "MANUAL");
    assert!(OrgAdmin::owner(&app, pusher.id).catalog().await.is_empty());
}

/// The catalog is one organization's: another organization's rows (SCIM or MANUAL) never appear.
#[tokio::test]
async fn catalog_lists_only_this_organizations_rows_with_their_source() {
    let app = TestApp::new().await;
    let org = app.org("lister").await;
    let other = app.org("neighbour").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let base = unique("cat");
    let scim_row = Scim::new(&app, &org)
        .create_group(&format!("{base}-b-scim"))
        .await;
    let manual_row = owner.add_manual_group(&format!("{base}-a-manual")).await;
    Scim::new(&app, &other)
        .create_group(&format!("{base}-c-foreign"))
        .await;
    OrgAdmin::owner(&app, other.id)
        .add_manual_group(&format!("{base}-0-foreign"))
        .await;

    let rows = owner.catalog().await;
    let seen: Vec<(String, String)> = rows
        .iter()
        .map(|g| {
            (
                g["id"].as_str().expect("id").to_owned(),
                g["source"].as_str().expect("source").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![(manual_row, "MANUAL".to_owned()), (scim_row, "SCIM".to_owned())]
    );
}

/// A manual add of a name the IdP already pushed to this organization → 409 saying so; the
/// SCIM row stays SCIM.
#[tokio::test]
async fn manual_add_of_a_name_this_organizations_idp_pushed_is_a_conflict() {
    let app = TestApp::new().await;
    let org = app.org("pushed-first").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let name = unique("Pushed");
    let id = Scim::new(&app, &org).create_group(&name).await;
    let answer = owner
        .post("/idp-groups", &json!({"displayName": name.to_uppercase()}))
        .await;
    assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.text);
    assert!(
        answer.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("this organization")),
        "{}",
        answer.text
    );
    let rows = owner.catalog().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], id.as_str());
    assert_eq!(rows[0]["source"], "SCIM");
}

/// The audit trail is the organization's own (another organization's events never show, not
/// even by correlation id), newest first and paged with `limit` / `before`.
#[tokio::test]
async fn audit_events_are_per_organization_newest_first_and_paged() {
    let app = TestApp::new().await;
    let org = app.org_without_token("audit-a", true).await;
    let other = app.org_without_token("audit-b", true).await;
    let owner = OrgAdmin::owner(&app, org.id);
    let other_owner = OrgAdmin::owner(&app, other.id);

    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(owner.add_manual_group(&unique(&format!("Paged{i}"))).await);
    }
    let foreign_cid = unique("foreign");
    let foreign = other_owner
        .send(
            Method::POST,
            "/idp-groups",
            Some(&json!({"displayName": unique("Foreign")})),
            &[("x-request-id", &foreign_cid)],
        )
        .await;
    assert_eq!(foreign.status, StatusCode::CREATED);
    assert!(
        owner
            .audit(&format!("correlationId={foreign_cid}"))
            .await
            .is_empty()
    );
    assert_eq!(
        other_owner
            .audit(&format!("correlationId={foreign_cid}"))
            .await
            .len(),
        1
    );

    let all = owner.audit("").await;
    let targets: Vec<&str> = all
        .iter()
        .map(|e| e["target"].as_str().expect("target"))
        .collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(targets, newest_first);

    let mut seen = Vec::new();
    let mut query = "limit=2".to_owned();
    loop {
        let page = owner.get(&format!("/audit-events?{query}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let events = page.body["events"].as_array().expect("events");
        assert!(events.len() <= 2);
        seen.extend(
            events
                .iter()
                .map(|e| e["target"].as_str().expect("target").to_owned()),
        );
        match page.body["nextBefore"].as_i64() {
            Some(before) => query = format!("limit=2&before={before}"),
            None => break,
        }
        assert!(seen.len() <= 5, "paging does not end: {seen:?}");
    }
    assert_eq!(seen, newest_first);
    let bad = owner.get("/audit-events?limit=many").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
}
