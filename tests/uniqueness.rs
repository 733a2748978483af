//! Instance-wide display-name uniqueness (design §3.2): one unique index on the caseless key
//! decides races across organizations; a clash is a SCIM 409 `uniqueness` an IdP admin can act
//! on; only the failing group fails; freed names come back; every conflict is counted.

mod common;

use axum::http::StatusCode;
use common::{Answer, Scim, TestApp, TestOrg, assert_scim_error, metric_sum, patch_op, unique};
use serde_json::{Value, json};

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

fn group_body(name: &str) -> Value {
    json!({"schemas": [GROUP], "displayName": name})
}

/// A case variant of `base`: 0 lowercase, 1 uppercase, others mixed per position.
fn case_variant(base: &str, i: usize) -> String {
    base.chars()
        .enumerate()
        .map(|(j, c)| {
            let upper = match i {
                0 => false,
                1 => true,
                _ => (j * 7 + i * 3).is_multiple_of(4) || (j + i).is_multiple_of(5),
            };
            if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

fn detail(answer: &Answer) -> &str {
    answer.body["detail"].as_str().unwrap_or_default()
}

async fn display_name_of(scim: &Scim<'_>, id: &str) -> String {
    let answer = scim.get(&format!("/Groups/{id}")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body["displayName"]
        .as_str()
        .expect("displayName")
        .to_owned()
}

async fn count_named(app: &TestApp, orgs: &[TestOrg], name: &str) -> u64 {
    let mut total = 0;
    for org in orgs {
        total += Scim::new(app, org)
            .count_where("/Groups", &format!("displayName eq \"{name}\""))
            .await;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_name_in_several_orgs_have_exactly_one_winner() {
    let app = TestApp::new().await;
    let orgs = vec![
        app.org("race-a").await,
        app.org("race-b").await,
        app.org("race-c").await,
    ];
    let base = unique("eng");
    let variants: Vec<String> = (0..24).map(|i| case_variant(&base, i)).collect();
    assert!(
        variants.iter().collect::<std::collections::HashSet<_>>().len() > 10,
        "{variants:?}"
    );

    let tasks: Vec<_> = variants
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let app = app.clone();
            let org = orgs[i % orgs.len()].clone();
            let name = name.clone();
            tokio::spawn(async move {
                let answer = Scim::new(&app, &org).post("/Groups", &group_body(&name)).await;
                (org.id, name, answer)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = 0;
    for task in tasks {
        let (org_id, name, answer) = task.await.expect("task");
        assert!(answer.status.as_u16() < 500, "5xx in the race: {}", answer.text);
        match answer.status {
            StatusCode::CREATED => {
                winners.push((org_id, name, answer.body["id"].as_str().unwrap().to_owned()))
            }
            StatusCode::CONFLICT => {
                assert_scim_error(&answer, 409, Some("uniqueness"));
                losers += 1;
            }
            other => panic!("unexpected {other}: {}", answer.text),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one 201: {winners:?}");
    assert_eq!(losers, variants.len() - 1);

    // One row with that key on the whole instance, in the winner's organization, named as sent.
    let (winner_org, winner_name, winner_id) = &winners[0];
    assert_eq!(count_named(&app, &orgs, &base).await, 1);
    let holder = orgs.iter().find(|o| o.id == *winner_org).unwrap();
    let scim = Scim::new(&app, holder);
    assert_eq!(
        scim.count_where("/Groups", &format!("displayName eq \"{}\"", base.to_uppercase()))
            .await,
        1
    );
    assert_eq!(&display_name_of(&scim, winner_id).await, winner_name);
}

#[tokio::test]
async fn a_cross_org_clash_names_the_holder_and_suggests_a_namespaced_name() {
    let app = TestApp::new().await;
    let (acme, globex) = (app.org("acme").await, app.org("globex").await);
    let name = unique("Engineering");
    Scim::new(&app, &acme).create_group(&name).await;

    let requested = name.to_uppercase();
    let answer = Scim::new(&app, &globex)
        .post("/Groups", &group_body(&requested))
        .await;
    assert_scim_error(&answer, 409, Some("uniqueness"));
    let detail = detail(&answer);
    assert!(
        detail.contains(&format!("\"{requested}\"")),
        "names the display name: {detail}"
    );
    assert!(
        detail.contains(&format!("\"{}\"", acme.name)),
        "names the holding organization: {detail}"
    );
    assert!(
        detail.contains(&format!("(id {})", acme.id)),
        "gives the holder's id: {detail}"
    );
    assert!(
        detail.contains(&format!("\"{}-{requested}\"", globex.name)),
        "suggests a namespaced name: {detail}"
    );
    assert!(!detail.contains("this organization\""), "{detail}");
    assert_eq!(
        Scim::new(&app, &globex)
            .count_where("/Groups", &format!("displayName eq \"{name}\""))
            .await,
        0
    );
}

#[tokio::test]
async fn a_same_org_clash_says_it_is_this_organization() {
    let app = TestApp::new().await;
    let (acme, other) = (app.org("acme").await, app.org("other").await);
    let scim = Scim::new(&app, &acme);
    let name = unique("Sales");
    let held = scim.create_group(&name).await;
    let answer = scim
        .post(
            "/Groups",
            &group_body(&name.to_lowercase().replace("sales", "SALES")),
        )
        .await;
    assert_scim_error(&answer, 409, Some("uniqueness"));
    let detail = detail(&answer);
    assert!(detail.contains("this organization"), "{detail}");
    assert!(detail.contains(&held), "points at the group holding it: {detail}");
    assert!(!detail.contains(&other.name));
    assert_eq!(
        scim.count_where("/Groups", &format!("displayName eq \"{name}\""))
            .await,
        1
    );
}

#[tokio::test]
async fn anonymous_conflict_detail_leaves_the_other_organization_unnamed() {
    let app = TestApp::anonymous().await;
    let (acme, globex) = (app.org("acme").await, app.org("globex").await);
    let name = unique("Finance");
    Scim::new(&app, &acme).create_group(&name).await;
    let answer = Scim::new(&app, &globex)
        .post("/Groups", &group_body(&name.to_uppercase()))
        .await;
    assert_scim_error(&answer, 409, Some("uniqueness"));
    let detail = detail(&answer);
    assert!(!detail.contains(&acme.name), "the holder is named: {detail}");
    assert!(
        !detail.contains(&format!("id {}", acme.id)),
        "the holder's id is given: {detail}"
    );
    assert!(detail.contains("another organization"), "{detail}");
    assert!(detail.contains(&name.to_uppercase()), "{detail}");

    // Its own clashes are still reported as its own.
    let own = Scim::new(&app, &acme).post("/Groups", &group_body(&name)).await;
    assert_scim_error(&own, 409, Some("uniqueness"));
    assert!(detail_of(&own).contains("this organization"), "{}", own.text);
}

fn detail_of(answer: &Answer) -> String {
    detail(answer).to_owned()
}

#[tokio::test]
async fn canonical_caseless_forms_collide() {
    let app = TestApp::new().await;
    let (a, b) = (app.org("uni-a").await, app.org("uni-b").await);
    let (sa, sb) = (Scim::new(&app, &a), Scim::new(&app, &b));
    let suffix = unique("x");

    // Composed "Ångström" held by a; decomposed (and upper-cased) variants clash in b and in a.
    let composed = format!("\u{00C5}ngstr\u{00F6}m-{suffix}");
    let decomposed = format!("A\u{030A}ngstro\u{0308}m-{suffix}");
    let id = sa.create_group(&composed).await;
    assert_scim_error(
        &sb.post("/Groups", &group_body(&decomposed)).await,
        409,
        Some("uniqueness"),
    );
    let upper_decomposed = format!("A\u{030A}NGSTRO\u{0308}M-{suffix}");
    assert_scim_error(
        &sa.post("/Groups", &group_body(&upper_decomposed)).await,
        409,
        Some("uniqueness"),
    );
    // Stored exactly as sent; found by any canonical caseless variant.
    assert_eq!(display_name_of(&sa, &id).await, composed);
    assert_eq!(
        sa.count_where(
            "/Groups",
            &format!("displayName eq \"a\u{030A}ngstro\u{0308}m-{suffix}\"")
        )
        .await,
        1
    );

    // Full case folding, not just ASCII: "STRASSE" and "straße".
    let sharp = format!("stra\u{00DF}e-{suffix}");
    sb.create_group(&sharp).await;
    let answer = sa
        .post("/Groups", &group_body(&format!("STRASSE-{suffix}")))
        .await;
    assert_scim_error(&answer, 409, Some("uniqueness"));
    assert!(detail(&answer).contains(&b.name), "{}", answer.text);

    // Names that only look alike do not collide.
    sa.create_group(&format!("Angstrom-{suffix}")).await;
    sa.create_group(&format!("strase-{suffix}")).await;
}

#[tokio::test]
async fn renaming_onto_a_taken_name_fails_and_keeps_the_old_name() {
    let app = TestApp::new().await;
    let (a, b) = (app.org("ren-a").await, app.org("ren-b").await);
    let (sa, sb) = (Scim::new(&app, &a), Scim::new(&app, &b));
    let taken = unique("Platform");
    sa.create_group(&taken).await;
    let beta = unique("Beta");
    let same_org = sa.create_group(&beta).await;
    let gamma = unique("Gamma");
    let cross_org = sb.create_group(&gamma).await;
    let user = sb.create_user(&unique("member")).await;

    // PATCH with a path, same organization.
    let answer = sa
        .patch(
            &format!("/Groups/{same_org}"),
            &patch_op(json!([{"op": "replace", "path": "displayName", "value": taken.to_uppercase()}])),
        )
        .await;
    assert_scim_error(&answer, 409, Some("uniqueness"));
    assert!(detail(&answer).contains("this organization"), "{}", answer.text);
    assert_eq!(display_name_of(&sa, &same_org).await, beta);

    // Okta's no-path rename carrying the group's own id, across organizations, with a member
    // add in the same request: atomic, so the member is not added either.
    let answer = sb
        .patch(
            &format!("/Groups/{cross_org}"),
            &patch_op(json!([
                {"op": "add", "path": "members", "value": [{"value": user}]},
                {"op": "replace", "value": {"id": cross_org, "displayName": taken.to_lowercase()}}
            ])),
        )
        .await;
    assert_scim_error(&answer, 409, Some("uniqueness"));
    assert!(detail(&answer).contains(&a.name), "{}", answer.text);
    assert_eq!(display_name_of(&sb, &cross_org).await, gamma);
    assert!(
        sb.member_ids(&cross_org).await.is_empty(),
        "a failed PATCH changed membership"
    );

    // PUT of the whole group.
    let answer = sb
        .put(
            &format!("/Groups/{cross_org}"),
            &json!({"schemas": [GROUP], "displayName": taken, "members": [{"value": user}]}),
        )
        .await;
    assert_scim_error(&answer, 409, Some("uniqueness"));
    assert_eq!(display_name_of(&sb, &cross_org).await, gamma);
    assert!(
        sb.member_ids(&cross_org).await.is_empty(),
        "a failed PUT changed membership"
    );

    // Changing the case of one's own name is no clash.
    let answer = sb
        .patch(
            &format!("/Groups/{cross_org}"),
            &patch_op(json!([{"op": "replace", "path": "displayName", "value": gamma.to_uppercase()}])),
        )
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert_eq!(display_name_of(&sb, &cross_org).await, gamma.to_uppercase());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_the_failing_group_of_a_batch_fails() {
    let app = TestApp::new().await;
    let (a, b) = (app.org("batch-a").await, app.org("batch-b").await);
    let held: Vec<String> = (0..2).map(|i| unique(&format!("held{i}"))).collect();
    for name in &held {
        Scim::new(&app, &a).create_group(name).await;
    }
    let fresh: Vec<String> = (0..6).map(|i| unique(&format!("fresh{i}"))).collect();
    let batch: Vec<String> = fresh
        .iter()
        .cloned()
        .chain(held.iter().map(|n| n.to_uppercase()))
        .collect();
    let tasks: Vec<_> = batch
        .iter()
        .map(|name| {
            let (app, org, name) = (app.clone(), b.clone(), name.clone());
            tokio::spawn(async move {
                (
                    name.clone(),
                    Scim::new(&app, &org).post("/Groups", &group_body(&name)).await,
                )
            })
        })
        .collect();
    for task in tasks {
        let (name, answer) = task.await.expect("task");
        if fresh.contains(&name) {
            assert_eq!(answer.status, StatusCode::CREATED, "{name}: {}", answer.text);
        } else {
            assert_scim_error(&answer, 409, Some("uniqueness"));
        }
    }
    let sb = Scim::new(&app, &b);
    for name in &fresh {
        assert_eq!(
            sb.count_where("/Groups", &format!("displayName eq \"{name}\""))
                .await,
            1,
            "{name}"
        );
    }
    let listed = sb.get("/Groups?count=100").await;
    assert_eq!(listed.body["totalResults"], json!(fresh.len()), "{}", listed.text);
}

#[tokio::test]
async fn a_name_freed_by_delete_or_rename_becomes_available() {
    let app = TestApp::new().await;
    let (a, b) = (app.org("free-a").await, app.org("free-b").await);
    let (sa, sb) = (Scim::new(&app, &a), Scim::new(&app, &b));

    let deleted = unique("Deleted");
    let id = sa.create_group(&deleted).await;
    assert_scim_error(
        &sb.post("/Groups", &group_body(&deleted)).await,
        409,
        Some("uniqueness"),
    );
    assert_eq!(
        sa.delete(&format!("/Groups/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    let answer = sb.post("/Groups", &group_body(&deleted.to_uppercase())).await;
    assert_eq!(
        answer.status,
        StatusCode::CREATED,
        "freed by delete: {}",
        answer.text
    );

    let renamed = unique("Renamed");
    let id = sa.create_group(&renamed).await;
    assert_scim_error(
        &sb.post("/Groups", &group_body(&renamed)).await,
        409,
        Some("uniqueness"),
    );
    let answer = sa
        .patch(
            &format!("/Groups/{id}"),
            &patch_op(json!([{"op": "replace", "path": "displayName", "value": unique("Elsewhere")}])),
        )
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    let answer = sb.post("/Groups", &group_body(&renamed)).await;
    assert_eq!(
        answer.status,
        StatusCode::CREATED,
        "freed by PATCH rename: {}",
        answer.text
    );

    let put = unique("PutAway");
    let id = sa.create_group(&put).await;
    let answer = sa
        .put(
            &format!("/Groups/{id}"),
            &json!({"schemas": [GROUP], "displayName": unique("PutHere")}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let answer = sb.post("/Groups", &group_body(&put.to_lowercase())).await;
    assert_eq!(
        answer.status,
        StatusCode::CREATED,
        "freed by PUT rename: {}",
        answer.text
    );
}

#[tokio::test]
async fn conflicts_are_counted_by_org_and_kind() {
    // The binary's shared database: org ids, the label, are unique among this binary's tests.
    let app = TestApp::shared().await;
    let (a, b) = (app.org("metric-a").await, app.org("metric-b").await);
    let (sa, sb) = (Scim::new(&app, &a), Scim::new(&app, &b));
    let conflicts = |text: &str, org: &TestOrg, kind: &str| {
        metric_sum(
            text,
            "scimgate_uniqueness_conflicts_total",
            &[("org", &org.id.to_string()), ("kind", kind)],
        )
    };
    let before = app.metrics_text().await;
    assert_eq!(
        conflicts(&before, &a, "same_org") + conflicts(&before, &a, "cross_org"),
        0.0
    );
    assert_eq!(
        conflicts(&before, &b, "same_org") + conflicts(&before, &b, "cross_org"),
        0.0
    );

    let name = unique("Counted");
    let id = sa.create_group(&name).await;
    assert_scim_error(
        &sa.post("/Groups", &group_body(&name.to_uppercase())).await,
        409,
        Some("uniqueness"),
    );
    assert_scim_error(
        &sb.post("/Groups", &group_body(&name)).await,
        409,
        Some("uniqueness"),
    );
    let other = sb.create_group(&unique("Other")).await;
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": name.to_lowercase()}]));
    assert_scim_error(
        &sb.patch(&format!("/Groups/{other}"), &rename).await,
        409,
        Some("uniqueness"),
    );
    assert_eq!(sa.get(&format!("/Groups/{id}")).await.status, StatusCode::OK);

    let after = app.metrics_text().await;
    assert_eq!(conflicts(&after, &a, "same_org"), 1.0, "{after}");
    assert_eq!(conflicts(&after, &a, "cross_org"), 0.0, "{after}");
    assert_eq!(conflicts(&after, &b, "cross_org"), 2.0, "{after}");
    assert_eq!(conflicts(&after, &b, "same_org"), 0.0, "{after}");
}
