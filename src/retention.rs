//! The audit retention job (`SCIMGATE_AUDIT_RETENTION_DAYS`): every replica runs it, in small
//! batches with pauses between them, and the store lets one replica at a time do the work.

use std::time::Duration;

use crate::store::{Store, now_micros};

/// Events deleted per transaction: small enough that no purge holds a lock for long.
const BATCH: u64 = 1_000;
/// How often a replica looks for expired events.
const INTERVAL: Duration = Duration::from_secs(600);
/// Pause between two batches, so a large backlog never monopolises the database.
const PAUSE: Duration = Duration::from_millis(200);

/// Deletes every event older than `days` days, batch by batch; answers how many went.
pub async fn purge_expired(store: &Store, days: u32) -> Result<u64, crate::store::StoreError> {
    let cutoff = now_micros().saturating_sub(i64::from(days) * 86_400 * 1_000_000);
    let mut total = 0;
    loop {
        match store.purge_audit_batch(cutoff, BATCH).await? {
            Some(n) => {
                metrics::counter!("scimgate_audit_events_deleted_total").increment(n);
                total += n;
                if n < BATCH {
                    return Ok(total);
                }
            }
            // Another replica is at it: its run covers ours.
            None => return Ok(total),
        }
        tokio::time::sleep(PAUSE).await;
    }
}

/// Runs the purge now and every [`INTERVAL`] for the life of the process; `days == 0` keeps
/// everything.
pub fn spawn(store: Store, days: u32) {
    if days == 0 {
        return;
    }
    tokio::spawn(async move {
        loop {
            match purge_expired(&store, days).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, days, "expired audit events deleted"),
                Err(e) => tracing::warn!(error = %e, "audit retention: purge failed; retrying later"),
            }
            tokio::time::sleep(INTERVAL).await;
        }
    });
}
