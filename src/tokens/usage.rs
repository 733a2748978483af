//! `tokenLastUsed`, coalesced: requests record the time in memory and a background task writes
//! the latest time per token at most once per [`FLUSH_EVERY`], never one write per request.

use std::time::Duration;

use dashmap::DashMap;

use crate::store::{Store, now_micros};

/// How often recorded uses are written; `tokenLastUsed` is at most this stale.
pub const FLUSH_EVERY: Duration = Duration::from_secs(60);

/// Last use per token id since the previous flush.
#[derive(Debug, Default)]
pub struct TokenUsage {
    pending: DashMap<i64, i64>,
}

impl TokenUsage {
    /// Records that `token_id` authenticated a request now.
    pub fn record(&self, token_id: i64) {
        self.pending.insert(token_id, now_micros());
    }

    /// The use of `token_id` recorded here and not yet written, if any.
    pub fn pending(&self, token_id: i64) -> Option<i64> {
        self.pending.get(&token_id).map(|v| *v)
    }

    /// Writes and forgets what was recorded.
    pub async fn flush(&self, store: &Store) {
        let batch: Vec<(i64, i64)> = self.pending.iter().map(|e| (*e.key(), *e.value())).collect();
        if batch.is_empty() {
            return;
        }
        match store.touch_tokens(&batch).await {
            // Remove only what was written: a newer use recorded meanwhile stays for the next flush.
            Ok(()) => batch.iter().for_each(|(id, at)| {
                self.pending.remove_if(id, |_, v| v == at);
            }),
            Err(e) => tracing::warn!(error = %e, "could not record token use; will retry"),
        }
    }

    /// Flushes every [`FLUSH_EVERY`] until the process ends.
    pub fn spawn_flusher(self: std::sync::Arc<Self>, store: Store) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                self.flush(&store).await;
            }
        });
    }
}
