//! Teams and their delegation (design §2 "Admin API" teams, §3.4, §3.7): create, update, delete,
//! list and describe; one team per catalog row; links stay inside the organization; manual member
//! changes only on MANUAL teams; clearing, re-linking and renaming.

mod common;

use axum::http::StatusCode;
use common::{OrgAdmin, Scim, TestApp, patch_op, unique};
use serde_json::{Value, json};

fn email(prefix: &str) -> String {
    format!("{}@example.com", unique(prefix))
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(e, p)| ((*e).to_owned(), (*p).to_owned()))
        .collect();
    v.sort();
    v
}

/// The ids of the listed teams, in list order.
async fn team_ids(owner: &OrgAdmin<'_>) -> Vec<i64> {
    let answer = owner.get("/teams").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body["teams"]
        .as_array()
        .expect("teams")
        .iter()
        .map(|t| t["id"].as_i64().expect("id"))
        .collect()
}

/// Create, describe, list (by name), update and delete a MANUAL team, each audited.
#[tokio::test]
async fn team_crud() {
    let app = TestApp::new().await;
    let org = app.org("crud").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let base = unique("team");

    let created = owner
        .post(
            "/teams",
            &json!({"name": format!("{base}-b"), "description": "the b team"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let b = created.body["id"].as_i64().expect("id");
    assert_eq!(created.body["name"], format!("{base}-b"));
    assert_eq!(created.body["description"], "the b team");
    assert_eq!(created.body["idpGroupId"], Value::Null);
    assert_eq!(created.body["idpGroupName"], Value::Null);
    assert_eq!(created.body["delegationState"], "MANUAL");
    let a = owner.create_team(&format!("{base}-a"), None).await;

    let described = owner.team(b).await;
    assert_eq!(described["id"], b);
    assert_eq!(described["name"], format!("{base}-b"));
    assert_eq!(described["description"], "the b team");
    assert_eq!(described["delegationState"], "MANUAL");
    assert!(described.get("orphanedGroupName").is_none() || described["orphanedGroupName"].is_null());

    assert_eq!(team_ids(&owner).await, vec![a, b], "listed by name");

    // Blank or duplicate names are refused.
    let blank = owner.post("/teams", &json!({"name": "  "})).await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST, "{}", blank.text);
    let duplicate = owner.post("/teams", &json!({"name": format!("{base}-a")})).await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT, "{}", duplicate.text);
    assert_eq!(team_ids(&owner).await, vec![a, b]);

    // Update: rename and describe anew.
    let updated = owner
        .put(
            &format!("/teams/{b}"),
            &json!({"name": format!("{base}-0"), "description": "renamed"}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_eq!(updated.body["name"], format!("{base}-0"));
    assert_eq!(updated.body["description"], "renamed");
    assert_eq!(owner.team(b).await["name"], format!("{base}-0"));
    assert_eq!(team_ids(&owner).await, vec![b, a]);
    let clash = owner
        .put(&format!("/teams/{b}"), &json!({"name": format!("{base}-a")}))
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT, "{}", clash.text);
    assert_eq!(owner.team(b).await["name"], format!("{base}-0"));

    // Delete.
    let deleted = owner.delete(&format!("/teams/{b}")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    assert_eq!(
        owner.get(&format!("/teams/{b}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        owner.delete(&format!("/teams/{b}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(team_ids(&owner).await, vec![a]);

    // Unknown and malformed ids.
    for path in ["/teams/999999999", "/teams/not-a-number"] {
        assert_eq!(owner.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            owner.put(path, &json!({"name": unique("x")})).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }

    let audit = owner.audit("").await;
    let of = |t: &str| audit.iter().filter(|e| e["type"] == t).count();
    assert_eq!(of("team_created"), 2, "{audit:#?}");
    assert_eq!(of("team_updated"), 1, "{audit:#?}");
    assert_eq!(of("team_deleted"), 1, "{audit:#?}");
}

/// Another organization's team is "not found" to this organization's owner.
#[tokio::test]
async fn a_team_of_another_organization_is_not_found() {
    let app = TestApp::new().await;
    let org = app.org("here").await;
    let other = app.org("there").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let theirs_name = unique("theirs");
    let theirs = OrgAdmin::owner(&app, other.id)
        .create_team(&theirs_name, None)
        .await;
    assert_eq!(
        owner.get(&format!("/teams/{theirs}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        owner
            .put(&format!("/teams/{theirs}"), &json!({"name": unique("hijack")}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        owner.delete(&format!("/teams/{theirs}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        owner
            .post(&format!("/teams/{theirs}/members"), &json!({"email": email("x")}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let t = OrgAdmin::owner(&app, other.id).team(theirs).await;
    assert_eq!(t["name"], theirs_name.as_str());
    assert!(OrgAdmin::owner(&app, other.id).members(theirs).await.is_empty());
}

/// A catalog row is linked to at most one team: a second link (create or update) → 409 and
/// nothing changes.
#[tokio::test]
async fn a_second_link_to_the_same_row_is_a_conflict() {
    let app = TestApp::new().await;
    let org = app.org("onelink").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let group = Scim::new(&app, &org).create_group(&unique("Ops")).await;
    let first_name = unique("first");
    let first = owner.create_team(&first_name, Some(&group)).await;

    let second_name = unique("second");
    let refused = owner
        .post("/teams", &json!({"name": second_name, "idpGroupId": group}))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(team_ids(&owner).await, vec![first]);

    let second = owner.create_team(&second_name, None).await;
    let refused = owner.link(second, &second_name, Some(&group)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    let s = owner.team(second).await;
    assert_eq!(s["delegationState"], "MANUAL", "{s}");
    assert_eq!(s["idpGroupId"], Value::Null);
    let f = owner.team(first).await;
    assert_eq!(f["idpGroupId"], group.as_str());
    let rows = owner.catalog().await;
    assert_eq!(rows[0]["linkedTeam"]["id"], first);
}

/// A link to a catalog row of another organization is refused (4xx) and changes nothing.
#[tokio::test]
async fn a_link_to_another_organizations_row_is_refused() {
    let app = TestApp::new().await;
    let org = app.org("linker").await;
    let other = app.org("owner-of-row").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let foreign_scim = Scim::new(&app, &other).create_group(&unique("Theirs")).await;
    let foreign_manual = OrgAdmin::owner(&app, other.id)
        .add_manual_group(&unique("TheirsManual"))
        .await;

    for foreign in [&foreign_scim, &foreign_manual] {
        let name = unique("t");
        let created = owner
            .post("/teams", &json!({"name": name, "idpGroupId": foreign}))
            .await;
        assert!(
            created.status.is_client_error(),
            "{}: {}",
            created.status,
            created.text
        );
        assert!(team_ids(&owner).await.is_empty(), "no team was created");
    }

    let mine = owner.add_manual_group(&unique("Mine")).await;
    let name = unique("linked");
    let team = owner.create_team(&name, Some(&mine)).await;
    let member = email("member");
    app.add_delegated(&org, team, &member).await;
    for foreign in [&foreign_scim, &foreign_manual] {
        let relinked = owner.link(team, &name, Some(foreign)).await;
        assert!(
            relinked.status.is_client_error(),
            "{}: {}",
            relinked.status,
            relinked.text
        );
        let t = owner.team(team).await;
        assert_eq!(t["idpGroupId"], mine.as_str(), "link unchanged: {t}");
        assert_eq!(t["delegationState"], "DELEGATED");
        assert_eq!(owner.members(team).await, pairs(&[(&member, "DELEGATED")]));
    }
    let unknown = owner
        .link(team, &name, Some(&uuid::Uuid::now_v7().to_string()))
        .await;
    assert!(unknown.status.is_client_error(), "{}", unknown.text);
    assert_eq!(owner.team(team).await["idpGroupId"], mine.as_str());

    // The other organization's rows are still unlinked.
    for row in OrgAdmin::owner(&app, other.id).catalog().await {
        assert_eq!(row["linkedTeam"], Value::Null, "{row}");
    }
}

/// A delegated team's members come from the IdP: manual add/remove → 409; so does deleting the
/// team until its link is cleared; clearing keeps every member, as MANUAL, and restores manual
/// control. The same holds for an orphaned team.
#[tokio::test]
async fn delegated_teams_refuse_manual_changes_until_the_link_is_cleared() {
    let app = TestApp::new().await;
    let org = app.org("guarded").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let group = owner.add_manual_group(&unique("Guarded")).await;
    let name = unique("guarded-team");
    let team = owner.create_team(&name, None).await;
    let manual = email("manual");
    let manual_id = owner.add_member(team, &manual).await;
    assert_eq!(owner.link(team, &name, Some(&group)).await.status, StatusCode::OK);
    let delegated = email("delegated");
    let delegated_id = app.add_delegated(&org, team, &delegated).await;
    let before = pairs(&[(&manual, "MANUAL"), (&delegated, "DELEGATED")]);
    assert_eq!(owner.members(team).await, before);

    let add = owner
        .post(
            &format!("/teams/{team}/members"),
            &json!({"email": email("late")}),
        )
        .await;
    assert_eq!(add.status, StatusCode::CONFLICT, "{}", add.text);
    for id in [&manual_id, &delegated_id] {
        let remove = owner.delete(&format!("/teams/{team}/members/{id}")).await;
        assert_eq!(remove.status, StatusCode::CONFLICT, "{}", remove.text);
    }
    let delete = owner.delete(&format!("/teams/{team}")).await;
    assert_eq!(delete.status, StatusCode::CONFLICT, "{}", delete.text);
    assert_eq!(owner.members(team).await, before);
    assert_eq!(owner.team(team).await["delegationState"], "DELEGATED");

    // A PUT without idpGroupId keeps the link.
    let kept = owner
        .put(
            &format!("/teams/{team}"),
            &json!({"name": name, "description": "d"}),
        )
        .await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.text);
    assert_eq!(kept.body["idpGroupId"], group.as_str());
    assert_eq!(kept.body["delegationState"], "DELEGATED");

    // Clearing the link: MANUAL again, every member kept, as MANUAL.
    let cleared = owner.link(team, &name, None).await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text);
    assert_eq!(cleared.body["delegationState"], "MANUAL");
    assert_eq!(cleared.body["idpGroupId"], Value::Null);
    assert_eq!(
        owner.members(team).await,
        pairs(&[(&manual, "MANUAL"), (&delegated, "MANUAL")])
    );
    // The row is free again.
    assert_eq!(owner.catalog().await[0]["linkedTeam"], Value::Null);
    // Manual control is back.
    let removed = owner
        .delete(&format!("/teams/{team}/members/{delegated_id}"))
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    let late = email("late");
    owner.add_member(team, &late).await;
    assert_eq!(
        owner.members(team).await,
        pairs(&[(&manual, "MANUAL"), (&late, "MANUAL")])
    );
    // Deleting the former DELEGATED member's row later does not touch the team.
    assert_eq!(
        owner.delete(&format!("/idp-groups/{group}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(owner.team(team).await["delegationState"], "MANUAL");
    assert_eq!(owner.members(team).await.len(), 2);
    let deleted = owner.delete(&format!("/teams/{team}")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
}

/// An orphaned team keeps its warning and refuses manual changes and deletion until the owner
/// clears the link (or re-links it).
#[tokio::test]
async fn orphaned_teams_are_guarded_until_cleared_or_relinked() {
    let app = TestApp::new().await;
    let org = app.org("orphanage").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let scim = Scim::new(&app, &org);
    let old_name = unique("Old");
    let old = scim.create_group(&old_name).await;
    let name = unique("orphan-team");
    let team = owner.create_team(&name, Some(&old)).await;
    let delegated = email("d");
    app.add_delegated(&org, team, &delegated).await;
    assert_eq!(
        scim.delete(&format!("/Groups/{old}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(owner.team(team).await["delegationState"], "ORPHANED");
    assert!(owner.members(team).await.is_empty());

    let add = owner
        .post(&format!("/teams/{team}/members"), &json!({"email": email("m")}))
        .await;
    assert_eq!(add.status, StatusCode::CONFLICT, "{}", add.text);
    assert_eq!(
        owner.delete(&format!("/teams/{team}")).await.status,
        StatusCode::CONFLICT
    );
    // A PUT that keeps the link keeps the warning.
    let renamed = owner
        .put(&format!("/teams/{team}"), &json!({"name": format!("{name}-2")}))
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text);
    assert_eq!(renamed.body["delegationState"], "ORPHANED");
    assert_eq!(renamed.body["orphanedGroupName"], old_name.as_str());

    // Re-linking to a new group ends the warning.
    let new = scim.create_group(&unique("New")).await;
    let relinked = owner.link(team, &name, Some(&new)).await;
    assert_eq!(relinked.status, StatusCode::OK, "{}", relinked.text);
    assert_eq!(relinked.body["delegationState"], "DELEGATED");
    assert!(
        relinked.body.get("orphanedGroupName").is_none_or(Value::is_null),
        "{}",
        relinked.text
    );

    // Clearing makes it MANUAL and deletable.
    let cleared = owner.link(team, &name, None).await;
    assert_eq!(cleared.body["delegationState"], "MANUAL", "{}", cleared.text);
    assert_eq!(
        owner.delete(&format!("/teams/{team}")).await.status,
        StatusCode::NO_CONTENT
    );
}

/// Re-linking to another group removes the old group's DELEGATED members at once (MANUAL ones
/// stay), audited under the update's correlation id.
#[tokio::test]
async fn relinking_removes_the_old_groups_delegated_members_at_once() {
    let app = TestApp::new().await;
    let org = app.org("relinker").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let scim = Scim::new(&app, &org);
    let first_name = unique("First");
    let first = scim.create_group(&first_name).await;
    let second_name = unique("Second");
    let second = scim.create_group(&second_name).await;
    let name = unique("relinked-team");
    let team = owner.create_team(&name, None).await;
    let manual = email("manual");
    owner.add_member(team, &manual).await;
    assert_eq!(owner.link(team, &name, Some(&first)).await.status, StatusCode::OK);
    let d1 = email("d1");
    let d2 = email("d2");
    let d1_id = app.add_delegated(&org, team, &d1).await;
    let d2_id = app.add_delegated(&org, team, &d2).await;

    let correlation_id = unique("relink");
    let relinked = owner
        .send(
            axum::http::Method::PUT,
            &format!("/teams/{team}"),
            Some(&json!({"name": name, "idpGroupId": second})),
            &[("x-request-id", &correlation_id)],
        )
        .await;
    assert_eq!(relinked.status, StatusCode::OK, "{}", relinked.text);
    assert_eq!(relinked.body["idpGroupId"], second.as_str());
    assert_eq!(relinked.body["idpGroupName"], second_name.as_str());
    assert_eq!(relinked.body["delegationState"], "DELEGATED");
    assert_eq!(owner.members(team).await, pairs(&[(&manual, "MANUAL")]));

    // The new group's members join as DELEGATED by the new link.
    let d3 = email("d3");
    app.add_delegated(&org, team, &d3).await;
    assert_eq!(
        owner.members(team).await,
        pairs(&[(&manual, "MANUAL"), (&d3, "DELEGATED")])
    );
    // The old row is free and its deletion does not touch the team.
    let rows = owner.catalog().await;
    let by_id = |id: &str| rows.iter().find(|r| r["id"] == id).cloned().expect("row");
    assert_eq!(by_id(&first)["linkedTeam"], Value::Null);
    assert_eq!(by_id(&second)["linkedTeam"]["id"], team);
    assert_eq!(
        scim.delete(&format!("/Groups/{first}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(owner.team(team).await["delegationState"], "DELEGATED");
    assert_eq!(owner.members(team).await.len(), 2);

    let events = owner.audit(&format!("correlationId={correlation_id}")).await;
    let mut purged: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "team_member_deleted")
        .map(|e| e["target"].as_str().expect("target"))
        .collect();
    purged.sort();
    let mut expected = vec![d1_id.as_str(), d2_id.as_str()];
    expected.sort();
    assert_eq!(purged, expected, "{events:#?}");
    let updated: Vec<&Value> = events.iter().filter(|e| e["type"] == "team_updated").collect();
    assert_eq!(updated.len(), 1, "{events:#?}");
    assert_eq!(updated[0]["data"]["idpGroup"]["old"]["id"], first.as_str());
    assert_eq!(updated[0]["data"]["idpGroup"]["new"]["id"], second.as_str());
    // Every one of them is an event of the team: the purge's too (the Teams page's filter).
    let of_team = owner
        .audit(&format!("correlationId={correlation_id}&teamId={team}"))
        .await;
    assert_eq!(of_team, events);
}

/// Renaming the catalog row over SCIM (PATCH or PUT) keeps the team's link and members; the team
/// shows the new name.
#[tokio::test]
async fn renaming_the_row_over_scim_keeps_the_link() {
    let app = TestApp::new().await;
    let org = app.org("renamer").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let scim = Scim::new(&app, &org);
    let group = scim.create_group(&unique("Before")).await;
    let name = unique("renamed-team");
    let team = owner.create_team(&name, Some(&group)).await;
    let delegated = email("d");
    app.add_delegated(&org, team, &delegated).await;

    let patched_name = unique("After");
    let patched = scim
        .patch(
            &format!("/Groups/{group}"),
            &patch_op(json!([{"op": "replace", "path": "displayName", "value": patched_name}])),
        )
        .await;
    assert!(patched.status.is_success(), "{}", patched.text);
    let t = owner.team(team).await;
    assert_eq!(t["delegationState"], "DELEGATED", "{t}");
    assert_eq!(t["idpGroupId"], group.as_str());
    assert_eq!(t["idpGroupName"], patched_name.as_str());
    assert_eq!(owner.members(team).await, pairs(&[(&delegated, "DELEGATED")]));

    let put_name = unique("Again");
    let put = scim
        .put(
            &format!("/Groups/{group}"),
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": put_name}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    let t = owner.team(team).await;
    assert_eq!(t["idpGroupId"], group.as_str());
    assert_eq!(t["idpGroupName"], put_name.as_str());
    assert_eq!(owner.members(team).await, pairs(&[(&delegated, "DELEGATED")]));
    let rows = owner.catalog().await;
    assert_eq!(rows[0]["displayName"], put_name.as_str());
    assert_eq!(rows[0]["linkedTeam"]["id"], team);
}

/// Manual members of a MANUAL team: add by e-mail (idempotent, one account per e-mail), list
/// with provenance, remove; an invalid e-mail → 400; removing a non-member → 404.
#[tokio::test]
async fn manual_members_of_a_manual_team() {
    let app = TestApp::new().await;
    let org = app.org("members").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let team = owner.create_team(&unique("people"), None).await;
    let alice = email("alice");
    let added = owner
        .post(&format!("/teams/{team}/members"), &json!({"email": alice}))
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    assert_eq!(added.body["email"], alice.as_str());
    assert_eq!(added.body["provenance"], "MANUAL");
    let alice_id = added.body["userId"].as_str().expect("userId").to_owned();
    // The same e-mail in another case is the same account.
    let again = owner.add_member(team, &alice.to_uppercase()).await;
    assert_eq!(again, alice_id);
    assert_eq!(owner.members(team).await, pairs(&[(&alice, "MANUAL")]));

    for bad in [
        json!({"email": ""}),
        json!({"email": "not-an-address"}),
        json!({}),
    ] {
        let answer = owner.post(&format!("/teams/{team}/members"), &bad).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}: {}", answer.text);
    }

    let removed = owner.delete(&format!("/teams/{team}/members/{alice_id}")).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    assert!(owner.members(team).await.is_empty());
    let gone = owner.delete(&format!("/teams/{team}/members/{alice_id}")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.text);

    let events = owner.audit("type=team_member_created").await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["target"], alice_id.as_str());
    assert_eq!(owner.audit("type=team_member_deleted").await.len(), 1);
}

/// A re-link refused because the target row is taken (409) is atomic: the team keeps its old
/// link and its DELEGATED members (the purge of the old group's members is rolled back).
#[tokio::test]
async fn a_refused_relink_keeps_the_old_link_and_its_members() {
    let app = TestApp::new().await;
    let org = app.org("atomic-relink").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let scim = Scim::new(&app, &org);
    let mine = scim.create_group(&unique("Mine")).await;
    let taken = scim.create_group(&unique("Taken")).await;
    let name = unique("mover");
    let team = owner.create_team(&name, Some(&mine)).await;
    let delegated = email("d");
    app.add_delegated(&org, team, &delegated).await;
    let holder = owner.create_team(&unique("holder"), Some(&taken)).await;

    let refused = owner.link(team, &name, Some(&taken)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    let t = owner.team(team).await;
    assert_eq!(t["idpGroupId"], mine.as_str(), "{t}");
    assert_eq!(t["delegationState"], "DELEGATED");
    assert_eq!(owner.members(team).await, pairs(&[(&delegated, "DELEGATED")]));
    assert_eq!(owner.team(holder).await["idpGroupId"], taken.as_str());
    assert!(owner.audit("type=team_member_deleted").await.is_empty());

    // Re-sending the current link is a no-op: the DELEGATED members stay.
    let same = owner.link(team, &name, Some(&mine)).await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.text);
    assert_eq!(owner.members(team).await, pairs(&[(&delegated, "DELEGATED")]));
}

/// Team names are unique per organization only.
#[tokio::test]
async fn team_names_are_unique_per_organization_only() {
    let app = TestApp::new().await;
    let a = app.org("names-a").await;
    let b = app.org("names-b").await;
    let name = unique("platform");
    OrgAdmin::owner(&app, a.id).create_team(&name, None).await;
    OrgAdmin::owner(&app, b.id).create_team(&name, None).await;
    let again = OrgAdmin::owner(&app, a.id)
        .post("/teams", &json!({"name": name}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
}
