//! Group membership rows. Written and checked set-based: a constant number of statements per
//! write, whether it names one member or 200 000; each list of member ids travels as one JSON
//! array text (one bind parameter) expanded in SQL, and a PUT's membership is diffed in SQL, never
//! read whole into memory. Read in keyset chunks: each chunk is one short statement that returns
//! its connection to the pool before the caller does anything else with the ids (say, write them
//! to a slow client), so a huge group never pins a connection or memory for its whole size.

use std::collections::BTreeSet;

use entity::group_member;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, TransactionTrait,
};

use super::{Store, StoreError, Violation, WriteError, id_array, id_rows, unstorable};

impl Store {
    /// Up to `limit` member user ids of one group of `org_id`, in user-id order, strictly after
    /// `after` (the last id of the previous chunk; `None` for the first). Served by the primary
    /// key (group_id, user_id): each chunk is an index range scan, whatever the group's size.
    pub async fn member_chunk(
        &self,
        org_id: i64,
        group_id: &str,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        let mut select = group_member::Entity::find()
            .select_only()
            .column(group_member::Column::UserId)
            .filter(group_member::Column::GroupId.eq(group_id))
            .filter(group_member::Column::OrgId.eq(org_id));
        if let Some(after) = after {
            select = select.filter(group_member::Column::UserId.gt(after));
        }
        Ok(select
            .order_by_asc(group_member::Column::UserId)
            .limit(limit)
            .into_tuple()
            .all(self.conn())
            .await?)
    }
}

/// How a checked list of members is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberWrite {
    /// Adds them; members already present are not an error.
    Add,
    /// Makes the membership exactly them, touching only the difference.
    Replace,
}

/// The ids once each, in a stable order.
pub(crate) fn dedup(ids: &[String]) -> Vec<String> {
    ids.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect()
}

/// Fails with all the ids that are not users of `org_id` (a foreign organization's user does not
/// exist here; an id no row can hold is nobody).
pub(crate) async fn check_users(
    txn: &DatabaseTransaction,
    org_id: i64,
    ids: &[String],
) -> Result<(), WriteError> {
    let missing = missing_users(txn, org_id, ids).await?;
    if missing.is_empty() {
        Ok(())
    } else {
        Err(WriteError::UnknownUsers(missing))
    }
}

/// Writes members already checked by [`check_users`], answering (added, removed).
///
/// No lock is taken on the users: locking 100 000 rows FOR KEY SHARE writes every tuple (1.5 s on
/// PostgreSQL) and the foreign-key check of the insert takes the same lock anyway. A user deleted
/// between the check and the insert fails that foreign key instead; the write then runs in a
/// savepoint so the transaction survives, and the failure is answered as what it is: members that
/// are not users (any more). A delete that comes after the insert's lock waits and cascades.
pub(crate) async fn write_members(
    txn: &DatabaseTransaction,
    org_id: i64,
    group_id: &str,
    ids: &[String],
    how: MemberWrite,
) -> Result<(u64, u64), WriteError> {
    let savepoint = txn.begin().await?;
    let written = match how {
        MemberWrite::Add => add_members(&savepoint, org_id, group_id, ids)
            .await
            .map(|a| (a, 0)),
        MemberWrite::Replace => replace_members(&savepoint, org_id, group_id, ids).await,
    };
    match written {
        Ok(counts) => {
            savepoint.commit().await?;
            Ok(counts)
        }
        Err(StoreError::Violation(Violation::ForeignKey)) => {
            savepoint.rollback().await?;
            let missing = missing_users(txn, org_id, ids).await?;
            if missing.is_empty() {
                Err(StoreError::Violation(Violation::ForeignKey).into())
            } else {
                Err(WriteError::UnknownUsers(missing))
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Removes these members (absent ones are no error), or every member; answers how many went.
pub(crate) async fn remove_members<C: ConnectionTrait>(
    conn: &C,
    group_id: &str,
    ids: Option<&[String]>,
) -> Result<u64, StoreError> {
    let backend = conn.get_database_backend();
    let statement = match ids {
        None => Statement::from_sql_and_values(
            backend,
            "DELETE FROM group_members WHERE group_id = $1",
            [group_id.into()],
        ),
        Some(ids) => {
            let storable = storable(ids);
            if storable.is_empty() {
                return Ok(0);
            }
            let sql = format!(
                "DELETE FROM group_members WHERE group_id = $1 AND user_id IN (SELECT w.id FROM {})",
                id_rows(backend, "$2", "w")
            );
            Statement::from_sql_and_values(backend, sql, [group_id.into(), id_array(&storable)?.into()])
        }
    };
    Ok(conn.execute_raw(statement).await?.rows_affected())
}

/// The ids that are not users of `org_id`: one anti-join of the whole list against the users'
/// primary key, answered as one JSON array (one row, not a row per unknown id: refusing 320 000
/// ids must not cost 320 000 rows' decoding).
async fn missing_users<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    ids: &[String],
) -> Result<Vec<String>, StoreError> {
    let mut missing: Vec<String> = ids.iter().filter(|id| unstorable(id)).cloned().collect();
    let storable = storable(ids);
    if storable.is_empty() {
        return Ok(missing);
    }
    let backend = conn.get_database_backend();
    let aggregate = match backend {
        DbBackend::Postgres => "json_agg(w.id)::text",
        _ => "json_group_array(w.id)",
    };
    let sql = format!(
        "SELECT {aggregate} FROM {} WHERE NOT EXISTS \
         (SELECT 1 FROM scim_users u WHERE u.id = w.id AND u.org_id = $2)",
        id_rows(backend, "$1", "w")
    );
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [id_array(&storable)?.into(), org_id.into()],
        ))
        .await?;
    // PostgreSQL aggregates no rows to NULL, SQLite to "[]".
    let found: Option<String> = match row {
        Some(row) => row.try_get_by_index(0)?,
        None => None,
    };
    if let Some(json) = found {
        let unknown: Vec<String> = serde_json::from_str(&json)
            .map_err(|e| StoreError::Other(sea_orm::DbErr::Json(e.to_string())))?;
        missing.extend(unknown);
    }
    Ok(missing)
}

/// The ids a row can hold (the others are nobody's and never reach the database).
fn storable(ids: &[String]) -> Vec<&str> {
    ids.iter()
        .map(String::as_str)
        .filter(|id| !unstorable(id))
        .collect()
}

async fn add_members<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    group_id: &str,
    ids: &[String],
) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let backend = conn.get_database_backend();
    // `WHERE true`: SQLite would read ON CONFLICT as a join constraint of the SELECT otherwise.
    let sql = format!(
        "INSERT INTO group_members (group_id, user_id, org_id) \
         SELECT $1, w.id, $2 FROM {} WHERE true \
         ON CONFLICT (group_id, user_id) DO NOTHING",
        id_rows(backend, "$3", "w")
    );
    let statement = Statement::from_sql_and_values(
        backend,
        sql,
        [group_id.into(), org_id.into(), id_array(ids)?.into()],
    );
    Ok(conn.execute_raw(statement).await?.rows_affected())
}

/// Makes the membership exactly `wanted` (PUT of a whole group) in two statements: delete the
/// members not wanted, insert the wanted ones not present.
async fn replace_members<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    group_id: &str,
    wanted: &[String],
) -> Result<(u64, u64), StoreError> {
    if wanted.is_empty() {
        return Ok((0, remove_members(conn, group_id, None).await?));
    }
    let backend = conn.get_database_backend();
    let wanted_json = id_array(wanted)?;
    let not_wanted = match backend {
        // A hashed anti-join; NOT IN would fall back to rescanning the list per member once it
        // outgrows work_mem.
        DbBackend::Postgres => format!(
            "NOT EXISTS (SELECT 1 FROM {} WHERE w.id = group_members.user_id)",
            id_rows(backend, "$2", "w")
        ),
        // SQLite builds NOT IN's list into a temporary index once; NOT EXISTS would rescan it.
        _ => format!(
            "user_id NOT IN (SELECT w.id FROM {})",
            id_rows(backend, "$2", "w")
        ),
    };
    let delete = format!("DELETE FROM group_members WHERE group_id = $1 AND {not_wanted}");
    // The planner cannot know how many ids the JSON holds (it guesses 100), and a group that grew
    // since the last ANALYZE looks small: a nested loop would then rescan the whole list once per
    // member, 100 000 × 50 000 comparisons, until the statement timeout. Hash or merge joins cost
    // the same whatever the estimates, so nested loops are off for the diff (this transaction only).
    let postgres = backend == DbBackend::Postgres;
    if postgres {
        conn.execute_unprepared("SET LOCAL enable_nestloop = off").await?;
    }
    let removed = conn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            delete,
            [group_id.into(), wanted_json.clone().into()],
        ))
        .await?
        .rows_affected();
    let insert = format!(
        "INSERT INTO group_members (group_id, user_id, org_id) \
         SELECT $1, w.id, $3 FROM {} WHERE NOT EXISTS \
         (SELECT 1 FROM group_members m WHERE m.group_id = $1 AND m.user_id = w.id)",
        id_rows(backend, "$2", "w")
    );
    let added = conn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            insert,
            [group_id.into(), wanted_json.into(), org_id.into()],
        ))
        .await?
        .rows_affected();
    if postgres {
        conn.execute_unprepared("SET LOCAL enable_nestloop = on").await?;
    }
    Ok((added, removed))
}
