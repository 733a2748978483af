//! Group membership rows. Written and checked set-based: each list of member ids travels as a
//! JSON array text (one bind parameter) expanded in SQL, at most [`ID_CHUNK`] ids a statement, so a
//! write of 200 000 members is 20 statements, not 200 000, and no statement's text grows with the
//! group (the driver copies a bind parameter twice: a whole list would cost four times its bytes).
//! A PUT's membership is diffed in SQL, never read whole into memory. Read in keyset chunks: each
//! chunk is one short statement that returns its connection to the pool before the caller does
//! anything else with the ids (say, write them to a slow client), so a huge group never pins a
//! connection or memory for its whole size.

use entity::group_member;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, TransactionTrait,
};

use super::audit::AuditContext;
use super::deprovision::{Leavers, deprovision};
use super::{
    Store, StoreError, UnknownUsers, Violation, WriteError, any_storable, id_array, id_in, id_rows,
    unstorable,
};

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
        member_chunk(self.conn(), org_id, group_id, after, limit).await
    }
}

/// [`Store::member_chunk`] on any connection (a write's transaction diffs a PUT with it).
async fn member_chunk<C: ConnectionTrait>(
    conn: &C,
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
        .all(conn)
        .await?)
}

/// Member ids per statement: big enough that 320 000 ids are 32 statements of about 20 ms each,
/// small enough that a statement's text is under half a megabyte.
const ID_CHUNK: usize = 10_000;

/// How a checked list of members is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberWrite {
    /// Adds them; members already present are not an error.
    Add,
    /// Makes the membership exactly them, touching only the difference.
    Replace,
}

/// What a membership write changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MemberCounts {
    /// Membership rows inserted.
    pub added: u64,
    /// Membership rows deleted.
    pub removed: u64,
    /// DELEGATED team memberships the leavers' accounts lost with them (design §3.8).
    pub deprovisioned: u64,
}

impl std::ops::AddAssign for MemberCounts {
    fn add_assign(&mut self, other: MemberCounts) {
        self.added += other.added;
        self.removed += other.removed;
        self.deprovisioned += other.deprovisioned;
    }
}

/// The ids once each, in a stable order; sorted in place, so a 300 000-id list is never copied.
pub(crate) fn dedup(mut ids: Vec<String>) -> Vec<String> {
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Fails naming the ids that are not users of `org_id` (a foreign organization's user does not
/// exist here; an id no row can hold is nobody).
pub(crate) async fn check_users(
    txn: &DatabaseTransaction,
    org_id: i64,
    ids: &[String],
) -> Result<(), WriteError> {
    match missing_users(txn, org_id, ids).await? {
        None => Ok(()),
        Some(unknown) => Err(WriteError::UnknownUsers(unknown)),
    }
}

/// Writes members already checked by [`check_users`]; a replacement's leavers are deprovisioned.
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
    audit: &AuditContext,
) -> Result<MemberCounts, WriteError> {
    let savepoint = txn.begin().await?;
    let written = match how {
        MemberWrite::Add => add_members(&savepoint, org_id, group_id, ids)
            .await
            .map(|added| MemberCounts {
                added,
                ..MemberCounts::default()
            }),
        MemberWrite::Replace => replace_members(&savepoint, audit, org_id, group_id, ids).await,
    };
    match written {
        Ok(counts) => {
            savepoint.commit().await?;
            Ok(counts)
        }
        Err(StoreError::Violation(Violation::ForeignKey)) => {
            savepoint.rollback().await?;
            match missing_users(txn, org_id, ids).await? {
                None => Err(StoreError::Violation(Violation::ForeignKey).into()),
                Some(unknown) => Err(WriteError::UnknownUsers(unknown)),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Removes these members (absent ones are no error), or every member, deprovisioning each
/// leaver's DELEGATED membership of the group's team first (while the rows still say who left).
pub(crate) async fn remove_members<C: ConnectionTrait>(
    conn: &C,
    audit: &AuditContext,
    org_id: i64,
    group_id: &str,
    ids: Option<&[String]>,
) -> Result<MemberCounts, StoreError> {
    let mut counts = MemberCounts::default();
    match ids {
        Some(ids) => {
            for chunk in ids.chunks(ID_CHUNK).filter(|chunk| any_storable(chunk)) {
                counts += remove_chunk(conn, audit, org_id, group_id, chunk).await?;
            }
        }
        // Every member, a chunk at a time, so no statement answers more than a chunk of leavers.
        None => loop {
            let chunk = member_chunk(conn, org_id, group_id, None, ID_CHUNK as u64).await?;
            counts += remove_chunk(conn, audit, org_id, group_id, &chunk).await?;
            if chunk.len() < ID_CHUNK {
                break;
            }
        },
    }
    Ok(counts)
}

/// [`remove_members`] for at most [`ID_CHUNK`] ids.
async fn remove_chunk<C: ConnectionTrait>(
    conn: &C,
    audit: &AuditContext,
    org_id: i64,
    group_id: &str,
    ids: &[String],
) -> Result<MemberCounts, StoreError> {
    let backend = conn.get_database_backend();
    let deprovisioned = deprovision(conn, audit, org_id, Leavers::Group { group_id, ids }).await?;
    let sql = format!(
        "DELETE FROM group_members WHERE group_id = $1 AND {}",
        id_in(backend, "user_id", "$2")
    );
    let statement = Statement::from_sql_and_values(backend, sql, [group_id.into(), id_array(ids)?.into()]);
    Ok(MemberCounts {
        removed: conn.execute_raw(statement).await?.rows_affected(),
        deprovisioned,
        ..MemberCounts::default()
    })
}

/// The ids that are not users of `org_id`, if any: an anti-join of each chunk against the users'
/// primary key, answered as one row (a count and the first few as a JSON array), so that
/// refusing 320 000 ids costs neither a row nor a string per id.
async fn missing_users<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    ids: &[String],
) -> Result<Option<UnknownUsers>, StoreError> {
    let mut unknown = UnknownUsers {
        shown: ids
            .iter()
            .filter(|id| unstorable(id))
            .take(UnknownUsers::SHOWN)
            .cloned()
            .collect(),
        count: ids.iter().filter(|id| unstorable(id)).count() as u64,
    };
    let backend = conn.get_database_backend();
    let aggregate = match backend {
        DbBackend::Postgres => "json_agg(id)::text",
        _ => "json_group_array(id)",
    };
    let sql = format!(
        "WITH missing AS (SELECT w.id FROM {} WHERE NOT EXISTS \
         (SELECT 1 FROM scim_users u WHERE u.id = w.id AND u.org_id = $2)) \
         SELECT (SELECT count(*) FROM missing), \
         (SELECT {aggregate} FROM (SELECT id FROM missing ORDER BY id LIMIT {}) AS f)",
        id_rows(backend, "$1", "w"),
        UnknownUsers::SHOWN
    );
    for chunk in ids.chunks(ID_CHUNK).filter(|chunk| any_storable(chunk)) {
        let row = conn
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                sql.as_str(),
                [id_array(chunk)?.into(), org_id.into()],
            ))
            .await?;
        let Some(row) = row else { continue };
        let count: i64 = row.try_get_by_index(0)?;
        unknown.count += u64::try_from(count).unwrap_or(0);
        // PostgreSQL aggregates no rows to NULL, SQLite to "[]".
        let first: Option<String> = row.try_get_by_index(1)?;
        let room = UnknownUsers::SHOWN.saturating_sub(unknown.shown.len());
        if let Some(json) = first.filter(|_| room > 0) {
            let first: Vec<String> = serde_json::from_str(&json)
                .map_err(|e| StoreError::Other(sea_orm::DbErr::Json(e.to_string())))?;
            unknown.shown.extend(first.into_iter().take(room));
        }
    }
    Ok((unknown.count > 0).then_some(unknown))
}

async fn add_members<C: ConnectionTrait>(
    conn: &C,
    org_id: i64,
    group_id: &str,
    ids: &[String],
) -> Result<u64, StoreError> {
    let backend = conn.get_database_backend();
    // `WHERE true`: SQLite would read ON CONFLICT as a join constraint of the SELECT otherwise.
    let sql = format!(
        "INSERT INTO group_members (group_id, user_id, org_id) \
         SELECT $1, w.id, $2 FROM {} WHERE true \
         ON CONFLICT (group_id, user_id) DO NOTHING",
        id_rows(backend, "$3", "w")
    );
    // Members already present conflict and are not counted: this is what was added.
    execute_per_chunk(conn, &sql, ids, |chunk| {
        vec![group_id.into(), org_id.into(), chunk.into()]
    })
    .await
}

/// Runs `sql` once per chunk of `ids` (of those a row can hold), with the parameters `bind` makes
/// of the chunk's JSON array; answers the rows affected in all.
async fn execute_per_chunk<C: ConnectionTrait>(
    conn: &C,
    sql: &str,
    ids: &[String],
    bind: impl Fn(String) -> Vec<sea_orm::Value>,
) -> Result<u64, StoreError> {
    let backend = conn.get_database_backend();
    let mut affected = 0;
    for chunk in ids.chunks(ID_CHUNK).filter(|chunk| any_storable(chunk)) {
        let statement = Statement::from_sql_and_values(backend, sql, bind(id_array(chunk)?));
        affected += conn.execute_raw(statement).await?.rows_affected();
    }
    Ok(affected)
}

/// Makes the membership exactly `wanted` (PUT of a whole group; sorted, as [`dedup`] leaves it),
/// touching only the difference: the present members are read a chunk at a time and those not
/// wanted deleted, then the wanted ones inserted where absent. Neither side is ever held whole
/// next to the other, and no statement joins the whole list against the whole group (with stale
/// statistics, PostgreSQL once planned that join as a nested loop of 100 000 × 50 000 steps).
async fn replace_members<C: ConnectionTrait>(
    conn: &C,
    audit: &AuditContext,
    org_id: i64,
    group_id: &str,
    wanted: &[String],
) -> Result<MemberCounts, StoreError> {
    if wanted.is_empty() {
        return remove_members(conn, audit, org_id, group_id, None).await;
    }
    let mut counts = MemberCounts::default();
    let mut after: Option<String> = None;
    loop {
        let mut present = member_chunk(conn, org_id, group_id, after.as_deref(), ID_CHUNK as u64).await?;
        let not_wanted: Vec<String> = present
            .iter()
            .filter(|id| wanted.binary_search(id).is_err())
            .cloned()
            .collect();
        counts += remove_members(conn, audit, org_id, group_id, Some(&not_wanted)).await?;
        if present.len() < ID_CHUNK {
            break;
        }
        after = present.pop();
    }
    counts.added = add_members(conn, org_id, group_id, wanted).await?;
    Ok(counts)
}
