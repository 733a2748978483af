//! SCIM activity per organization: each replica writes what it coalesced in memory as one batch,
//! in one transaction of a few set-based statements whatever its size (rows travel as one JSON
//! array per table). Replicas write the same rows: hour counters are added to, times only move
//! forward, and the same batch trims errors to the newest few per organization it touched and
//! hours to the last 48 of every organization (an idle one's too). On PostgreSQL batches take turns (an advisory lock): the upserts and
//! trims of two replicas would otherwise lock the same rows in different orders.

use entity::{scim_activity, scim_activity_error, scim_activity_hour};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, Value as DbValue,
};
use serde::Serialize;

use super::{Store, StoreError, int_in, param};

/// Arbitrary constant naming scimgate's PostgreSQL advisory lock for activity batches.
const ACTIVITY_LOCK_ID: i64 = 0x5c13_ac71;

/// Requests and errors of one organization in one UTC hour, to add to what is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HourCount {
    pub org_id: i64,
    /// The start of the UTC hour, µs since the epoch.
    pub hour: i64,
    pub requests: i64,
    pub errors: i64,
}

/// When an organization's IdP last pushed and last called, as far as one batch knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastSeen {
    pub org_id: i64,
    pub last_push_at: Option<i64>,
    pub last_request_at: Option<i64>,
}

/// One SCIM error answered to an organization's IdP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActivityError {
    pub org_id: i64,
    /// µs since the epoch.
    pub at: i64,
    pub method: String,
    /// The route template relative to the SCIM base.
    pub path: String,
    pub status: i32,
    pub scim_type: Option<String>,
    pub detail: String,
    pub correlation_id: String,
}

/// What one replica recorded since its last write: at most one [`HourCount`] per organization
/// and hour, one [`LastSeen`] per organization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityBatch {
    pub hours: Vec<HourCount>,
    pub last_seen: Vec<LastSeen>,
    pub errors: Vec<ActivityError>,
}

impl ActivityBatch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.hours.is_empty() && self.last_seen.is_empty() && self.errors.is_empty()
    }
}

/// How much of the stored activity a batch keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Errors kept per organization (the newest).
    pub errors: u64,
    /// Hour rows that start before this (µs since the epoch) go.
    pub hours_before: i64,
}

/// An organization's stored activity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredActivity {
    pub last_push_at: Option<i64>,
    pub last_request_at: Option<i64>,
    /// Oldest first.
    pub hours: Vec<HourCount>,
    /// Newest first.
    pub errors: Vec<ActivityError>,
}

/// `value` as one bind parameter: a JSON array text.
fn json_param<T: Serialize>(value: &T) -> Result<DbValue, StoreError> {
    serde_json::to_string(value)
        .map(DbValue::from)
        .map_err(|e| StoreError::Other(sea_orm::DbErr::Json(e.to_string())))
}

/// SQL for the objects of the JSON array bound at `param` as a table `r(columns…)`, each column
/// read from the object key of its name; the types are PostgreSQL's (SQLite keeps JSON's own).
fn json_rows(backend: DbBackend, param: &str, columns: &[(&str, &str)]) -> String {
    match backend {
        DbBackend::Postgres => {
            let typed: Vec<String> = columns.iter().map(|(c, t)| format!("{c} {t}")).collect();
            format!("json_to_recordset({param}::json) AS r({})", typed.join(", "))
        }
        _ => {
            let read: Vec<String> = columns
                .iter()
                .map(|(c, _)| format!("json_extract(value, '$.{c}') AS {c}"))
                .collect();
            format!("(SELECT {} FROM json_each({param})) AS r", read.join(", "))
        }
    }
}

/// The column list of an insert and the matching select list over `r`.
fn column_lists(columns: &[(&str, &str)]) -> (String, String) {
    let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
    let selected: Vec<String> = names.iter().map(|c| format!("r.{c}")).collect();
    (names.join(", "), selected.join(", "))
}

/// SQL for the later of `table.column` and the incoming `excluded.column`, either may be NULL.
fn later(backend: DbBackend, table: &str, column: &str) -> String {
    let greatest = match backend {
        DbBackend::Postgres => "GREATEST",
        _ => "max",
    };
    let (stored, incoming) = (format!("{table}.{column}"), format!("excluded.{column}"));
    format!("{greatest}(COALESCE({stored}, {incoming}), COALESCE({incoming}, {stored}))")
}

/// Only rows of organizations that exist (one may have gone since its requests were recorded).
const KNOWN_ORG: &str = "r.org_id IN (SELECT id FROM organizations)";

impl Store {
    /// Writes one replica's batch and trims what `keep` no longer keeps: the old hours of every
    /// organization, the old errors of those in the batch.
    pub async fn write_activity(&self, batch: &ActivityBatch, keep: Retention) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let backend = self.backend();
        let txn = self.begin_write().await?;
        if backend == DbBackend::Postgres {
            // Transaction-scoped: released by the commit, or by the server if this process dies.
            txn.execute_raw(Statement::from_string(
                backend,
                format!("SELECT pg_advisory_xact_lock({ACTIVITY_LOCK_ID})"),
            ))
            .await?;
        }
        add_hours(&txn, &batch.hours).await?;
        trim_hours(&txn, keep.hours_before).await?;
        advance_last_seen(&txn, &batch.last_seen).await?;
        add_errors(&txn, &batch.errors, keep.errors).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The stored activity of `org_id`: its times, its hour rows from `hours_from` on (µs since
    /// the epoch), and its newest `errors` errors.
    pub async fn activity(
        &self,
        org_id: i64,
        hours_from: i64,
        errors: u64,
    ) -> Result<StoredActivity, StoreError> {
        let last = scim_activity::Entity::find_by_id(org_id).one(self.conn()).await?;
        let hours = scim_activity_hour::Entity::find()
            .filter(scim_activity_hour::Column::OrgId.eq(org_id))
            .filter(scim_activity_hour::Column::Hour.gte(hours_from))
            .order_by_asc(scim_activity_hour::Column::Hour)
            .all(self.conn())
            .await?;
        let errors = scim_activity_error::Entity::find()
            .filter(scim_activity_error::Column::OrgId.eq(org_id))
            .order_by_desc(scim_activity_error::Column::At)
            .order_by_desc(scim_activity_error::Column::Id)
            .limit(errors)
            .all(self.conn())
            .await?;
        Ok(StoredActivity {
            last_push_at: last.as_ref().and_then(|l| l.last_push_at),
            last_request_at: last.as_ref().and_then(|l| l.last_request_at),
            hours: hours
                .into_iter()
                .map(|h| HourCount {
                    org_id: h.org_id,
                    hour: h.hour,
                    requests: h.requests,
                    errors: h.errors,
                })
                .collect(),
            errors: errors
                .into_iter()
                .map(|e| ActivityError {
                    org_id: e.org_id,
                    at: e.at,
                    method: e.method,
                    path: e.path,
                    status: e.status,
                    scim_type: e.scim_type,
                    detail: e.detail,
                    correlation_id: e.correlation_id,
                })
                .collect(),
        })
    }
}

/// The distinct organizations of `rows`, as one bind parameter.
fn org_ids<T>(rows: &[T], org: impl Fn(&T) -> i64) -> Result<DbValue, StoreError> {
    let mut ids: Vec<i64> = rows.iter().map(org).collect();
    ids.sort_unstable();
    ids.dedup();
    json_param(&ids)
}

/// Adds the counters to the stored ones.
async fn add_hours(txn: &DatabaseTransaction, hours: &[HourCount]) -> Result<(), StoreError> {
    if hours.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    let columns = [
        ("org_id", "bigint"),
        ("hour", "bigint"),
        ("requests", "bigint"),
        ("errors", "bigint"),
    ];
    let (names, selected) = column_lists(&columns);
    // SQLite needs the WHERE for an upsert from a SELECT (else `ON` reads as a join's).
    let upsert = format!(
        "INSERT INTO scim_activity_hours ({names}) SELECT {selected} FROM {} WHERE {KNOWN_ORG} \
         ON CONFLICT (org_id, hour) DO UPDATE SET \
         requests = scim_activity_hours.requests + excluded.requests, \
         errors = scim_activity_hours.errors + excluded.errors",
        json_rows(backend, &param(backend, 1), &columns)
    );
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        upsert,
        [json_param(&hours)?],
    ))
    .await?;
    Ok(())
}

/// Drops every organization's hours that start before `before`: an organization whose IdP went
/// quiet writes no batch of its own, so any batch trims for all. The index on `hour` makes this a
/// range of the rows that go, not a scan of every organization's 48.
async fn trim_hours(txn: &DatabaseTransaction, before: i64) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    let trim = format!(
        "DELETE FROM scim_activity_hours WHERE hour < {}",
        param(backend, 1)
    );
    txn.execute_raw(Statement::from_sql_and_values(backend, trim, [before.into()]))
        .await?;
    Ok(())
}

/// Moves each organization's last push and last request forward (never back: another replica
/// may have written a later one).
async fn advance_last_seen(txn: &DatabaseTransaction, seen: &[LastSeen]) -> Result<(), StoreError> {
    if seen.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    let columns = [
        ("org_id", "bigint"),
        ("last_push_at", "bigint"),
        ("last_request_at", "bigint"),
    ];
    let (names, selected) = column_lists(&columns);
    let upsert = format!(
        "INSERT INTO scim_activity ({names}) SELECT {selected} FROM {} WHERE {KNOWN_ORG} \
         ON CONFLICT (org_id) DO UPDATE SET last_push_at = {}, last_request_at = {}",
        json_rows(backend, &param(backend, 1), &columns),
        later(backend, "scim_activity", "last_push_at"),
        later(backend, "scim_activity", "last_request_at"),
    );
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        upsert,
        [json_param(&seen)?],
    ))
    .await?;
    Ok(())
}

/// Inserts the errors, then keeps the newest `keep` of each organization they belong to.
async fn add_errors(
    txn: &DatabaseTransaction,
    errors: &[ActivityError],
    keep: u64,
) -> Result<(), StoreError> {
    if errors.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    let columns = [
        ("org_id", "bigint"),
        ("at", "bigint"),
        ("method", "text"),
        ("path", "text"),
        ("status", "integer"),
        ("scim_type", "text"),
        ("detail", "text"),
        ("correlation_id", "text"),
    ];
    let (names, selected) = column_lists(&columns);
    let insert = format!(
        "INSERT INTO scim_activity_errors ({names}) SELECT {selected} FROM {} WHERE {KNOWN_ORG}",
        json_rows(backend, &param(backend, 1), &columns)
    );
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        insert,
        [json_param(&errors)?],
    ))
    .await?;
    let trim = format!(
        "DELETE FROM scim_activity_errors WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER \
         (PARTITION BY org_id ORDER BY at DESC, id DESC) AS n FROM scim_activity_errors WHERE {}) \
         AS ranked WHERE n > {})",
        int_in(backend, "org_id", &param(backend, 1)),
        param(backend, 2)
    );
    let keep = i64::try_from(keep).unwrap_or(i64::MAX);
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        trim,
        [org_ids(errors, |e| e.org_id)?, keep.into()],
    ))
    .await?;
    Ok(())
}
