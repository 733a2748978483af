//! The SCIM activity service: what an organization's IdP admin needs when the IdP's push status
//! says something failed — when it last pushed and called, its requests and errors per hour, its
//! latest SCIM errors. Requests are recorded in memory (a map entry per organization: counters per
//! hour and at most [`ERRORS_KEPT`] errors, no I/O on the request's path) and written in batches
//! every [`FLUSH_EVERY`], at shutdown, and before each report. A replica's report therefore always
//! includes its own requests; another replica's are at most [`FLUSH_EVERY`] behind. A batch that
//! cannot be written (database down) is put back, still bounded, and tried again.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;

use crate::scim::error::{MAX_DETAIL_CHARS, truncate_chars};
use crate::store::activity::{ActivityBatch, HourCount, LastSeen, Retention};
use crate::store::{Store, StoreError, now_micros};

pub use crate::store::activity::ActivityError;

/// How often each replica writes what it recorded: the staleness bound of one replica's requests
/// in another replica's report.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// SCIM errors kept (and reported) per organization: the newest.
pub const ERRORS_KEPT: usize = 50;

/// Hours a report shows, the current one last.
pub const HOURS_SHOWN: i64 = 24;

/// Hours of counters kept in the database.
const HOURS_KEPT: i64 = 48;

/// One hour in µs.
const HOUR: i64 = 3_600_000_000;

/// The start of the UTC hour of `micros` (µs since the epoch).
fn hour_of(micros: i64) -> i64 {
    micros.div_euclid(HOUR) * HOUR
}

/// One authenticated SCIM request of an organization, as it was answered.
#[derive(Debug, Clone)]
pub struct ScimRequest {
    pub org_id: i64,
    /// `GET`, `POST`…, or `other`.
    pub method: &'static str,
    pub status: u16,
    /// A change (POST, PUT, PATCH, DELETE; not a `.search`): a 2xx is a push.
    pub write: bool,
    /// What the IdP was told, for a status of 400 or more.
    pub error: Option<ScimFailure>,
    /// For a Bulk request answered 200: what its operations came to. Each counts as the request
    /// it stands for (a request, an error if it failed, a push if it succeeded).
    pub operations: Option<BulkOperations>,
}

/// The operations of a Bulk request, as answered in its entries.
#[derive(Debug, Clone, Default)]
pub struct BulkOperations {
    /// Operations answered 2xx.
    pub succeeded: usize,
    /// The operations that failed, in the order they were performed.
    pub failed: Vec<FailedOperation>,
}

/// One failed operation of a Bulk request.
#[derive(Debug, Clone)]
pub struct FailedOperation {
    /// `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: &'static str,
    pub status: u16,
    /// Its path is the Bulk's and the operation's template (`/Bulk /Groups/{id}`).
    pub failure: ScimFailure,
}

/// The SCIM error an IdP was answered, without any value of its request.
#[derive(Debug, Clone)]
pub struct ScimFailure {
    /// The route template relative to the SCIM base (`/Groups/{id}`).
    pub path: String,
    pub scim_type: Option<&'static str>,
    /// The `detail` as sent.
    pub detail: String,
}

/// One hour of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourActivity {
    /// The start of the UTC hour, µs since the epoch.
    pub hour: i64,
    pub requests: i64,
    pub errors: i64,
}

/// An organization's activity as an admin sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityReport {
    pub last_push_at: Option<i64>,
    pub last_request_at: Option<i64>,
    /// Exactly [`HOURS_SHOWN`] hours, oldest first, the current one last.
    pub hours: Vec<HourActivity>,
    /// Newest first, at most [`ERRORS_KEPT`].
    pub errors: Vec<ActivityError>,
}

/// What one replica recorded of one organization since its last write.
#[derive(Debug, Default)]
struct Pending {
    /// Hour start → (requests, errors).
    hours: BTreeMap<i64, (i64, i64)>,
    last_push_at: Option<i64>,
    last_request_at: Option<i64>,
    /// Oldest first; at most [`ERRORS_KEPT`].
    errors: VecDeque<ActivityError>,
}

impl Pending {
    /// Adds the newest error, dropping the oldest beyond [`ERRORS_KEPT`].
    fn push_error(&mut self, error: ActivityError) {
        if self.errors.len() >= ERRORS_KEPT {
            self.errors.pop_front();
        }
        self.errors.push_back(error);
    }

    /// Adds `older` (recorded before what is here, put back after a failed write), then drops
    /// what would not be kept anyway: memory stays bounded through an outage.
    fn absorb_older(&mut self, older: Pending, now: i64) {
        for (hour, (requests, errors)) in older.hours {
            let counts = self.hours.entry(hour).or_default();
            counts.0 += requests;
            counts.1 += errors;
        }
        let oldest_kept = hour_of(now) - (HOURS_KEPT - 1) * HOUR;
        self.hours.retain(|hour, _| *hour >= oldest_kept);
        self.last_push_at = self.last_push_at.max(older.last_push_at);
        self.last_request_at = self.last_request_at.max(older.last_request_at);
        for error in older.errors.into_iter().rev() {
            self.errors.push_front(error);
        }
        while self.errors.len() > ERRORS_KEPT {
            self.errors.pop_front();
        }
    }
}

/// Recorded activity not yet written, and the turn of writing it.
#[derive(Debug, Default)]
struct Buffer {
    pending: DashMap<i64, Pending>,
    /// One write at a time per replica: a report that flushes waits for a write in progress,
    /// so it never reads before this replica's own requests are stored.
    flushing: tokio::sync::Mutex<()>,
}

/// The activity service of one process; cheap to clone.
#[derive(Debug, Clone)]
pub struct Activity {
    store: Store,
    buffer: Arc<Buffer>,
}

impl Activity {
    /// The activity service over `store`, with nothing recorded yet.
    pub fn new(store: Store) -> Self {
        Activity {
            store,
            buffer: Arc::new(Buffer::default()),
        }
    }

    /// Records one answered request (in memory only); `correlation_id` is the request's, kept
    /// with each of its errors.
    pub fn record(&self, request: ScimRequest, correlation_id: &str) {
        let now = now_micros();
        let org_id = request.org_id;
        let error = |method: &str, status: u16, e: ScimFailure| ActivityError {
            org_id,
            at: now,
            method: method.to_owned(),
            path: e.path,
            status: i32::from(status),
            scim_type: e.scim_type.map(str::to_owned),
            // PostgreSQL refuses NUL in text (a detail may quote client input).
            detail: truncate_chars(&e.detail, MAX_DETAIL_CHARS).replace('\0', "\u{FFFD}"),
            correlation_id: correlation_id.to_owned(),
        };
        // Built before the map entry is taken: the entry's shard lock is held for counters only.
        // Of a Bulk's failures only those that would be kept are built.
        let (requests, failed, pushed, errors): (usize, usize, bool, Vec<ActivityError>) =
            match request.operations {
                Some(ops) => {
                    let failed = ops.failed.len();
                    let kept = ops.failed.into_iter().skip(failed.saturating_sub(ERRORS_KEPT));
                    let errors = kept.map(|op| error(op.method, op.status, op.failure)).collect();
                    let requests = (ops.succeeded + failed).max(1);
                    (requests, failed, request.write && ops.succeeded > 0, errors)
                }
                None => {
                    let failed = request.status >= 400;
                    let pushed = request.write && (200..300).contains(&request.status);
                    let errors = request
                        .error
                        .filter(|_| failed)
                        .map(|e| error(request.method, request.status, e));
                    (1, usize::from(failed), pushed, errors.into_iter().collect())
                }
            };
        let mut pending = self.buffer.pending.entry(org_id).or_default();
        let counts = pending.hours.entry(hour_of(now)).or_default();
        counts.0 += i64::try_from(requests).unwrap_or(i64::MAX);
        counts.1 += i64::try_from(failed).unwrap_or(i64::MAX);
        pending.last_request_at = pending.last_request_at.max(Some(now));
        if pushed {
            pending.last_push_at = pending.last_push_at.max(Some(now));
        }
        for error in errors {
            pending.push_error(error);
        }
    }

    /// Writes what was recorded; on failure logs a warning and keeps it for the next try.
    pub async fn flush(&self) {
        let _turn = self.buffer.flushing.lock().await;
        let keys: Vec<i64> = self.buffer.pending.iter().map(|e| *e.key()).collect();
        let taken: Vec<(i64, Pending)> = keys
            .into_iter()
            .filter_map(|org| self.buffer.pending.remove(&org))
            .collect();
        if taken.is_empty() {
            return;
        }
        let now = now_micros();
        let keep = Retention {
            errors: ERRORS_KEPT as u64,
            hours_before: hour_of(now) - (HOURS_KEPT - 1) * HOUR,
        };
        if let Err(e) = self.store.write_activity(&batch(&taken), keep).await {
            tracing::warn!(error = %e, "could not write SCIM activity; will retry");
            for (org, older) in taken {
                self.buffer
                    .pending
                    .entry(org)
                    .or_default()
                    .absorb_older(older, now);
            }
        }
    }

    /// Writes what was recorded every [`FLUSH_EVERY`] until the process ends.
    pub fn spawn_flusher(&self) {
        let activity = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                activity.flush().await;
            }
        });
    }

    /// The activity of `org_id` (rights and gates already checked), after writing this
    /// replica's own requests.
    pub async fn report(&self, org_id: i64) -> Result<ActivityReport, StoreError> {
        self.flush().await;
        let current = hour_of(now_micros());
        let first = current - (HOURS_SHOWN - 1) * HOUR;
        let stored = self.store.activity(org_id, first, ERRORS_KEPT as u64).await?;
        let mut hours: Vec<HourActivity> = (0..HOURS_SHOWN)
            .map(|i| HourActivity {
                hour: first + i * HOUR,
                requests: 0,
                errors: 0,
            })
            .collect();
        // A replica whose clock runs ahead may have written the next hour: not shown yet.
        for row in stored.hours {
            if let Some(hour) = hours.iter_mut().find(|h| h.hour == row.hour) {
                hour.requests = row.requests;
                hour.errors = row.errors;
            }
        }
        Ok(ActivityReport {
            last_push_at: stored.last_push_at,
            last_request_at: stored.last_request_at,
            hours,
            errors: stored.errors,
        })
    }
}

/// The rows of a write.
fn batch(taken: &[(i64, Pending)]) -> ActivityBatch {
    let mut out = ActivityBatch::default();
    for (org_id, pending) in taken {
        out.hours
            .extend(pending.hours.iter().map(|(hour, (requests, errors))| HourCount {
                org_id: *org_id,
                hour: *hour,
                requests: *requests,
                errors: *errors,
            }));
        out.last_seen.push(LastSeen {
            org_id: *org_id,
            last_push_at: pending.last_push_at,
            last_request_at: pending.last_request_at,
        });
        out.errors.extend(pending.errors.iter().cloned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(n: usize) -> ActivityError {
        ActivityError {
            org_id: 1,
            at: n as i64,
            method: "GET".into(),
            path: "/Users/{id}".into(),
            status: 404,
            scim_type: None,
            detail: format!("error {n}"),
            correlation_id: format!("c{n}"),
        }
    }

    #[test]
    fn hours_start_on_the_utc_hour() {
        assert_eq!(hour_of(0), 0);
        assert_eq!(hour_of(HOUR - 1), 0);
        assert_eq!(hour_of(HOUR), HOUR);
        assert_eq!(hour_of(-1), -HOUR);
    }

    #[test]
    fn a_replica_holds_at_most_the_newest_errors_of_an_organization() {
        let mut pending = Pending::default();
        (0..ERRORS_KEPT + 5).for_each(|n| pending.push_error(error(n)));
        assert_eq!(pending.errors.len(), ERRORS_KEPT);
        assert_eq!(pending.errors.front().map(|e| e.at), Some(5));
        assert_eq!(pending.errors.back().map(|e| e.at), Some(ERRORS_KEPT as i64 + 4));
    }

    #[test]
    fn put_back_activity_keeps_the_newest_errors_and_adds_counters() {
        let now = 100 * HOUR;
        let mut older = Pending::default();
        older.hours.insert(hour_of(now), (3, 1));
        older.hours.insert(hour_of(now) - HOURS_KEPT * HOUR, (7, 7));
        older.last_push_at = Some(5);
        older.errors = (0..40).map(error).collect();
        let mut newer = Pending::default();
        newer.hours.insert(hour_of(now), (2, 2));
        newer.last_push_at = Some(4);
        newer.errors = (40..70).map(error).collect();
        newer.absorb_older(older, now);
        assert_eq!(newer.hours.len(), 1, "hours older than kept are dropped");
        assert_eq!(newer.hours[&hour_of(now)], (5, 3));
        assert_eq!(newer.last_push_at, Some(5));
        assert_eq!(newer.errors.len(), ERRORS_KEPT);
        let kept: Vec<i64> = newer.errors.iter().map(|e| e.at).collect();
        assert_eq!(kept, (20..70).collect::<Vec<i64>>());
    }
}
