//! Huge memberships are written and checked set-based: creating, replacing and refusing groups of
//! 100 000+ members answers well within the request timeout on PostgreSQL (SQLite runs the same
//! shapes at a size CI affords), with exactly the membership asked for, and nothing stored when a
//! member is unknown. Elapsed times are printed for the record, never asserted.

mod common;

use std::time::Instant;

use axum::http::StatusCode;
use common::{Scim, TestApp, assert_scim_error};
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use serde_json::{Value, json};

const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

fn ids(prefix: &str, range: std::ops::RangeInclusive<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

fn members(ids: &[String]) -> Value {
    Value::Array(ids.iter().map(|id| json!({"value": id})).collect())
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// The group's version (its ETag) and sorted member ids.
async fn state(scim: &Scim<'_>, group_id: &str) -> (String, Vec<String>) {
    let answer = scim.get(&format!("/Groups/{group_id}")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let version = answer.body["meta"]["version"]
        .as_str()
        .expect("meta.version")
        .to_owned();
    (version, common::member_ids_of(&answer.body))
}

/// POST `n` members, PUT `2n`, PUT replacing half of them, then a PUT naming `unknown` ids that
/// are nobody's: 201, 200, 200, 400 with exactly the membership each asked for.
async fn membership_round_trip(n: usize, unknown: usize) {
    let app = TestApp::new().await;
    let org = app.org("big").await;
    let scim = Scim::new(&app, &org);
    let prefix = common::short_prefix();
    common::seed_users(&app.sql_connection().await, org.id, &prefix, 3 * n).await;
    let name = common::unique("big");

    let first = ids(&prefix, 1..=n);
    let body = json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": members(&first)});
    let started = Instant::now();
    let created = scim.post("/Groups", &body).await;
    eprintln!("POST /Groups with {n} members: {:?}", started.elapsed());
    assert_eq!(created.status, StatusCode::CREATED, "{:.300}", created.text);
    let group_id = created.body["id"].as_str().expect("id").to_owned();
    assert_eq!(state(&scim, &group_id).await.1, sorted(first));

    let put = |wanted: &[String]| json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": members(wanted)});
    let grown = ids(&prefix, 1..=2 * n);
    let body = put(&grown);
    let started = Instant::now();
    let answer = scim.put(&format!("/Groups/{group_id}"), &body).await;
    eprintln!(
        "PUT /Groups/… from {n} to {} members: {:?}",
        2 * n,
        started.elapsed()
    );
    assert_eq!(answer.status, StatusCode::OK, "{:.300}", answer.text);
    assert_eq!(state(&scim, &group_id).await.1, sorted(grown));

    let shifted = ids(&prefix, n + 1..=3 * n);
    let body = put(&shifted);
    let started = Instant::now();
    let answer = scim.put(&format!("/Groups/{group_id}"), &body).await;
    eprintln!(
        "PUT /Groups/… of {} members replacing {n}: {:?}",
        2 * n,
        started.elapsed()
    );
    assert_eq!(answer.status, StatusCode::OK, "{:.300}", answer.text);
    let before = state(&scim, &group_id).await;
    assert_eq!(before.1, sorted(shifted));

    let strangers: Vec<String> = (1..=unknown).map(|i| format!("nx{prefix}{i}")).collect();
    let body = put(&strangers);
    let started = Instant::now();
    let answer = scim.put(&format!("/Groups/{group_id}"), &body).await;
    eprintln!(
        "PUT /Groups/… naming {unknown} unknown ids: {:?}",
        started.elapsed()
    );
    assert_scim_error(&answer, 400, Some("invalidValue"));
    let detail = answer.body["detail"].as_str().expect("detail");
    assert!(detail.contains(&format!("nx{prefix}")), "{detail}");
    assert_eq!(state(&scim, &group_id).await, before, "nothing stored");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL"]
async fn hundreds_of_thousands_of_members_on_postgres() {
    assert!(
        common::on_postgres(),
        "set SCIMGATE_TEST_DATABASE_URL to a PostgreSQL URL to run this test"
    );
    membership_round_trip(100_000, 320_000).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tens_of_thousands_of_members() {
    membership_round_trip(10_000, 32_000).await;
}

/// PATCH adds are idempotent and removes name only the members they list, set-based as well.
#[tokio::test]
async fn patch_adds_and_removes_many_members() {
    let app = TestApp::new().await;
    let org = app.org("bigpatch").await;
    let scim = Scim::new(&app, &org);
    let prefix = common::short_prefix();
    common::seed_users(&app.sql_connection().await, org.id, &prefix, 3_000).await;
    let group_id = scim.create_group(&common::unique("bigpatch")).await;
    let path = format!("/Groups/{group_id}");

    let add =
        |ids: &[String]| common::patch_op(json!([{"op": "add", "path": "members", "value": members(ids)}]));
    let answer = scim.patch(&path, &add(&ids(&prefix, 1..=2_000))).await;
    assert!(answer.status.is_success(), "{:.300}", answer.text);
    // Half already there: they stay once, the rest join.
    let answer = scim.patch(&path, &add(&ids(&prefix, 1_001..=3_000))).await;
    assert!(answer.status.is_success(), "{:.300}", answer.text);
    assert_eq!(state(&scim, &group_id).await.1, sorted(ids(&prefix, 1..=3_000)));

    let remove = common::patch_op(json!([{
        "op": "remove", "path": "members", "value": members(&ids(&prefix, 1..=1_500))
    }]));
    let answer = scim.patch(&path, &remove).await;
    assert!(answer.status.is_success(), "{:.300}", answer.text);
    assert_eq!(
        state(&scim, &group_id).await.1,
        sorted(ids(&prefix, 1_501..=3_000))
    );

    // One unknown id among many known ones: refused whole, nothing added.
    let before = state(&scim, &group_id).await;
    let mut wanted = ids(&prefix, 1..=1_000);
    wanted.push(format!("nx{prefix}1"));
    let answer = scim.patch(&path, &add(&wanted)).await;
    assert_scim_error(&answer, 400, Some("invalidValue"));
    assert!(
        answer.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("nx{prefix}1"))
    );
    assert_eq!(state(&scim, &group_id).await, before);
}

/// A member deleted after the check but before the membership insert (PostgreSQL runs both
/// concurrently) is an unknown member, not a 500; the group is not created.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL"]
async fn a_member_deleted_while_the_group_is_written_is_unknown() {
    assert!(
        common::on_postgres(),
        "set SCIMGATE_TEST_DATABASE_URL to a PostgreSQL URL to run this test"
    );
    let app = TestApp::new().await;
    let org = app.org("race").await;
    let scim = Scim::new(&app, &org);
    let kept = scim.create_user(&common::unique("kept")).await;
    let victim = scim.create_user(&common::unique("victim")).await;
    let name = common::unique("race");

    let conn = app.sql_connection().await;
    let deleter = conn.begin().await.expect("begin");
    deleter
        .execute_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "DELETE FROM scim_users WHERE id = $1",
            [victim.as_str().into()],
        ))
        .await
        .expect("delete the victim, uncommitted");

    let writer = {
        let app = app.clone();
        let org = org.clone();
        let body = json!({"schemas": [GROUP_SCHEMA], "displayName": name,
                          "members": [{"value": kept}, {"value": victim}]});
        tokio::spawn(async move { Scim::new(&app, &org).post("/Groups", &body).await })
    };
    // The insert's foreign-key check waits on the victim's row lock: commit the delete then.
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                   AND query LIKE 'INSERT INTO group_members%'";
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let row = conn
            .query_one_raw(Statement::from_string(conn.get_database_backend(), waiting))
            .await
            .expect("pg_stat_activity")
            .expect("a row");
        if row.try_get_by_index::<i64>(0).expect("count") > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the membership insert never waited on the delete"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    deleter.commit().await.expect("commit the delete");

    let answer = writer.await.expect("writer");
    assert_scim_error(&answer, 400, Some("invalidValue"));
    assert!(
        answer.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains(&victim),
        "{}",
        answer.text
    );
    let filter = format!("displayName eq \"{name}\"");
    assert_eq!(scim.count_where("/Groups", &filter).await, 0);
}
