//! Per-organization protection: a sustained rate with a burst, and a cap on requests in flight.
//! Counted only for authenticated requests, so garbage sent to an organization's path cannot
//! spend its budget.

use std::num::NonZeroU32;
use std::sync::Arc;

use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limits, from `SCIMGATE_ORG_RATE_LIMIT`, `SCIMGATE_ORG_BURST`, `SCIMGATE_ORG_MAX_CONCURRENCY`.
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    pub rate_per_second: u32,
    pub burst: u32,
    pub max_in_flight: usize,
}

/// Why a request was not admitted, and how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub retry_after_secs: u64,
    pub reason: &'static str,
}

/// Rate and concurrency state per organization.
pub struct OrgLimits {
    rate: DefaultKeyedRateLimiter<i64>,
    in_flight: DashMap<i64, Arc<Semaphore>>,
    max_in_flight: usize,
}

impl std::fmt::Debug for OrgLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgLimits")
            .field("max_in_flight", &self.max_in_flight)
            .finish_non_exhaustive()
    }
}

impl OrgLimits {
    /// Limits with these settings (a zero rate or burst is taken as 1).
    pub fn new(settings: LimitSettings) -> Self {
        let rate = NonZeroU32::new(settings.rate_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(settings.burst).unwrap_or(NonZeroU32::MIN);
        OrgLimits {
            rate: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            in_flight: DashMap::new(),
            max_in_flight: settings.max_in_flight,
        }
    }

    /// Admits one request of `org_id`; the permit must live as long as the request.
    pub fn admit(&self, org_id: i64) -> Result<OwnedSemaphorePermit, Refused> {
        if let Err(not_until) = self.rate.check_key(&org_id) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(Refused {
                retry_after_secs: wait.as_secs().max(1),
                reason: "rate",
            });
        }
        // Clone the semaphore out of the map: a dashmap guard must not outlive this statement.
        let semaphore = self
            .in_flight
            .entry(org_id)
            .or_insert_with(|| Arc::new(Semaphore::new(self.max_in_flight)))
            .clone();
        semaphore.try_acquire_owned().map_err(|_| Refused {
            retry_after_secs: 1,
            reason: "concurrency",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refusal_per_org() {
        let limits = OrgLimits::new(LimitSettings {
            rate_per_second: 1,
            burst: 2,
            max_in_flight: 10,
        });
        assert!(limits.admit(1).is_ok());
        assert!(limits.admit(1).is_ok());
        let refused = limits.admit(1).unwrap_err();
        assert_eq!(refused.reason, "rate");
        assert!(refused.retry_after_secs >= 1);
        assert!(limits.admit(2).is_ok(), "another organization has its own budget");
    }

    #[test]
    fn in_flight_cap_releases_with_the_permit() {
        let limits = OrgLimits::new(LimitSettings {
            rate_per_second: 1000,
            burst: 1000,
            max_in_flight: 2,
        });
        let a = limits.admit(1).unwrap();
        let _b = limits.admit(1).unwrap();
        assert_eq!(limits.admit(1).unwrap_err().reason, "concurrency");
        drop(a);
        assert!(limits.admit(1).is_ok());
    }
}
