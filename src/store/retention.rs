//! Audit retention: old events go in small batches, oldest first, so a purge never holds a long
//! transaction or a long lock; on PostgreSQL one replica at a time does it.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::{Store, StoreError};

/// Arbitrary constant naming scimgate's PostgreSQL advisory lock for the audit purge.
pub const RETENTION_LOCK_ID: i64 = 0x5c13_a0d1;

impl Store {
    /// Deletes up to `batch` audit events older than `cutoff` (µs since the epoch), oldest first.
    /// `None` when another replica is purging right now (it holds the lock; this one skips).
    pub async fn purge_audit_batch(&self, cutoff: i64, batch: u64) -> Result<Option<u64>, StoreError> {
        let txn = self.begin_write().await?;
        let backend = self.backend();
        if backend == DbBackend::Postgres {
            // Transaction-scoped: released by the commit, or by the server if this process dies.
            let row = txn
                .query_one_raw(Statement::from_string(
                    backend,
                    format!("SELECT pg_try_advisory_xact_lock({RETENTION_LOCK_ID})"),
                ))
                .await?;
            let locked = match row {
                Some(row) => row.try_get_by_index::<bool>(0)?,
                None => false,
            };
            if !locked {
                return Ok(None);
            }
        }
        // Ids grow with time, so the oldest events are the lowest ids: the primary key finds them.
        let deleted = txn
            .execute_raw(Statement::from_sql_and_values(
                backend,
                "DELETE FROM audit_events WHERE id IN \
                 (SELECT id FROM audit_events WHERE at < $1 ORDER BY id LIMIT $2)",
                [cutoff.into(), (batch as i64).into()],
            ))
            .await?
            .rows_affected();
        txn.commit().await?;
        Ok(Some(deleted))
    }
}
