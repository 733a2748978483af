//! Audit retention: events older than the retention period are deleted (in batches, across
//! several of them here), newer ones and the rest of the database stay; `/metrics` counts the
//! deletions and shows the oldest event's age.

mod common;

use common::{Scim, TestApp, metric_sum, unique};
use sea_orm::ConnectionTrait;

const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// Writes `n` audit events of `org_id` at `at`, tagged `tag`, in one statement.
async fn insert_events(sql: &sea_orm::DatabaseConnection, org_id: i64, at: i64, n: i64, tag: &str) {
    let rows = match sql.get_database_backend() {
        sea_orm::DbBackend::Postgres => format!("SELECT i FROM generate_series(1, {n}) AS s(i)"),
        _ => format!(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) SELECT i FROM s"
        ),
    };
    sql.execute_unprepared(&format!(
        "INSERT INTO audit_events (org_id, event_type, actor, target, correlation_id, at) \
         SELECT {org_id}, 'retention_test', 'System', '{tag}', '{tag}', {at} FROM ({rows}) AS rows"
    ))
    .await
    .expect("insert events");
}

/// How many events of `org_id` carry `tag`.
async fn count_events(sql: &sea_orm::DatabaseConnection, org_id: i64, tag: &str) -> i64 {
    let row = sql
        .query_one_raw(sea_orm::Statement::from_string(
            sql.get_database_backend(),
            format!("SELECT COUNT(*) FROM audit_events WHERE org_id = {org_id} AND correlation_id = '{tag}'"),
        ))
        .await
        .expect("count")
        .expect("row");
    row.try_get_by_index::<i64>(0).expect("integer")
}

#[tokio::test]
async fn events_older_than_the_retention_period_are_deleted_in_batches_and_newer_ones_stay() {
    // A database of its own: the oldest event's age is the whole table's.
    let db = if common::on_postgres() {
        common::process::fresh_postgres_database(&common::database_url(), "scimgate_retention").await
    } else {
        common::sqlite_url()
    };
    let app = TestApp::with(&db, scimgate::config::ServeArgs::default()).await;
    let org = app.org("retention").await;
    let now = scimgate::store::now_micros();
    let old = now - 401 * DAY_MICROS;
    let recent = now - 399 * DAY_MICROS;
    let sql = app.sql_connection().await;
    // More than two batches of expired events, and some that are not expired yet.
    insert_events(&sql, org.id, old, 2_500, "expired").await;
    insert_events(&sql, org.id, recent, 7, "recent").await;
    // A real event of today, written by a real change after the old ones (ids follow time).
    Scim::new(&app, &org).create_group(&unique("Retained")).await;
    let count = |tag: &'static str| count_events(&sql, org.id, tag);
    assert_eq!(count("expired").await, 2_500);
    let metrics = app.metrics_text().await;
    let deleted_before = metric_sum(&metrics, "scimgate_audit_events_deleted_total", &[]);
    let oldest = metric_sum(&metrics, "scimgate_audit_oldest_event_age_seconds", &[]);
    assert!(
        oldest >= (401 * 86_400 - 60) as f64,
        "oldest event's age: {oldest} s"
    );

    let deleted = scimgate::retention::purge_expired(&app.store, 400)
        .await
        .expect("purge");
    assert!(deleted >= 2_500, "deleted {deleted}");
    assert_eq!(
        count("expired").await,
        0,
        "every expired event goes, over several batches"
    );
    assert_eq!(count("recent").await, 7, "events inside the period stay");
    let metrics = app.metrics_text().await;
    let counted = metric_sum(&metrics, "scimgate_audit_events_deleted_total", &[]) - deleted_before;
    assert!(counted >= 2_500.0, "the deletions are counted: {counted}");
    let oldest = metric_sum(&metrics, "scimgate_audit_oldest_event_age_seconds", &[]);
    assert!(
        oldest < (400 * 86_400) as f64,
        "oldest event's age after the purge: {oldest} s"
    );
    let today = app
        .send(
            axum::http::Method::GET,
            &format!("/api/orgs/{}/audit-events?type=idp_group_created", org.id),
            Some(&common::owner_jwt(org.id)),
            None,
            &[],
        )
        .await;
    assert_eq!(
        today.body["events"].as_array().map(Vec::len),
        Some(1),
        "{}",
        today.text
    );
}

/// On PostgreSQL one replica purges at a time: while another holds the purge's advisory lock, a
/// purge deletes nothing and returns at once; once the lock is free, it does the work.
#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn a_replica_purging_keeps_the_others_out() {
    use sea_orm::TransactionTrait;
    common::require_postgres();
    let app = TestApp::new().await;
    let org = app.org("retention-lock").await;
    let sql = app.sql_connection().await;
    insert_events(
        &sql,
        org.id,
        scimgate::store::now_micros() - 401 * DAY_MICROS,
        10,
        "locked-out",
    )
    .await;

    let other_replica = sql.begin().await.expect("begin");
    other_replica
        .execute_unprepared(&format!(
            "SELECT pg_advisory_xact_lock({})",
            scimgate::store::retention::RETENTION_LOCK_ID
        ))
        .await
        .expect("take the purge lock");
    let deleted = scimgate::retention::purge_expired(&app.store, 400)
        .await
        .expect("purge");
    assert_eq!(deleted, 0, "another replica is purging");
    assert_eq!(count_events(&sql, org.id, "locked-out").await, 10);

    other_replica.rollback().await.expect("release the lock");
    scimgate::retention::purge_expired(&app.store, 400)
        .await
        .expect("purge");
    assert_eq!(count_events(&sql, org.id, "locked-out").await, 0);
}
