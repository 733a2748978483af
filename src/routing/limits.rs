//! Per-organization protection: a sustained rate with a burst, a cap on requests in flight, and a
//! fair share of the database pool (at most ⌈pool/2⌉ requests of one organization work on the
//! database at once, so one organization's heavy pushes cannot starve the others). Counted only
//! for authenticated requests, so garbage sent to an organization's path cannot spend its budget.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::ServeArgs;

/// The limits, from `SCIMGATE_ORG_RATE_LIMIT`, `SCIMGATE_ORG_BURST`, `SCIMGATE_ORG_MAX_CONCURRENCY`.
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    pub rate_per_second: u32,
    pub burst: u32,
    pub max_in_flight: usize,
}

impl LimitSettings {
    /// The limits the serve options set.
    pub fn from_args(args: &ServeArgs) -> LimitSettings {
        LimitSettings {
            rate_per_second: args.org_rate_limit,
            burst: args.org_burst,
            max_in_flight: args.org_max_concurrency,
        }
    }
}

/// Why a request was not admitted, and how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub retry_after_secs: u64,
    pub reason: &'static str,
}

/// How long a request waits for its organization's share of the pool before it is refused.
pub const POOL_SHARE_WAIT: Duration = Duration::from_secs(1);

/// Rate and concurrency state per organization.
pub struct OrgLimits {
    rate: DefaultKeyedRateLimiter<i64>,
    /// The burst: the most a single request (a Bulk) may cost.
    burst: NonZeroU32,
    in_flight: DashMap<i64, Arc<Semaphore>>,
    max_in_flight: usize,
    /// Per organization: the database connections it may hold at once.
    pool_shares: DashMap<i64, Arc<Semaphore>>,
    pool_share: usize,
    pool_share_wait: Duration,
}

impl std::fmt::Debug for OrgLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgLimits")
            .field("max_in_flight", &self.max_in_flight)
            .field("pool_share", &self.pool_share)
            .finish_non_exhaustive()
    }
}

impl OrgLimits {
    /// Limits with these settings (a zero rate or burst is taken as 1) and no pool share.
    pub fn new(settings: LimitSettings) -> Self {
        let rate = NonZeroU32::new(settings.rate_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(settings.burst).unwrap_or(NonZeroU32::MIN);
        OrgLimits {
            rate: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            burst,
            in_flight: DashMap::new(),
            max_in_flight: settings.max_in_flight,
            pool_shares: DashMap::new(),
            pool_share: Semaphore::MAX_PERMITS,
            pool_share_wait: POOL_SHARE_WAIT,
        }
    }

    /// Gives each organization at most ⌈`pool_size`/2⌉ of the database pool (at least one).
    pub fn with_pool_share(mut self, pool_size: u32) -> Self {
        self.pool_share = usize::try_from(pool_size.div_ceil(2)).unwrap_or(1).max(1);
        self
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

    /// Charges an admitted request for the `units` of work it turned out to carry (a Bulk
    /// request's operations), capped at the burst so that any request within the limits can be
    /// admitted at all: admission took one unit already, this takes the rest, or nothing and
    /// refuses when the organization's bucket cannot pay for them now.
    pub fn charge(&self, org_id: i64, units: usize) -> Result<(), Refused> {
        let cost = u32::try_from(units).unwrap_or(u32::MAX).min(self.burst.get());
        let Some(rest) = NonZeroU32::new(cost.saturating_sub(1)) else {
            return Ok(());
        };
        match self.rate.check_key_n(&org_id, rest) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(Refused {
                retry_after_secs: not_until
                    .wait_time_from(DefaultClock::default().now())
                    .as_secs()
                    .max(1),
                reason: "rate",
            }),
            // More than the burst: cannot happen, the cost is capped at it.
            Err(_) => Ok(()),
        }
    }
}

impl OrgLimits {
    /// `org_id`'s share of the pool, for work that must wait for it rather than be refused (an
    /// answer already streaming).
    pub fn share_of(&self, org_id: i64) -> Arc<Semaphore> {
        // Cloned out of the map: a dashmap guard must not outlive this statement.
        self.pool_shares
            .entry(org_id)
            .or_insert_with(|| Arc::new(Semaphore::new(self.pool_share)))
            .clone()
    }

    /// Waits up to [`POOL_SHARE_WAIT`] for one of `org_id`'s database connections; hold the
    /// permit while the request works on the database.
    pub async fn pool_share(&self, org_id: i64) -> Result<OwnedSemaphorePermit, Refused> {
        let refused = Refused {
            retry_after_secs: 1,
            reason: "pool_share",
        };
        let semaphore = self.share_of(org_id);
        if let Ok(permit) = semaphore.clone().try_acquire_owned() {
            return Ok(permit);
        }
        match tokio::time::timeout(self.pool_share_wait, semaphore.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(refused),
        }
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
    fn a_charge_takes_the_rest_of_its_units_capped_at_the_burst() {
        let limits = OrgLimits::new(LimitSettings {
            rate_per_second: 1,
            burst: 10,
            max_in_flight: 10,
        });
        assert!(limits.admit(1).is_ok());
        assert!(
            limits.charge(1, 4).is_ok(),
            "one unit was taken on admission, three now"
        );
        assert!(limits.admit(1).is_ok());
        let refused = limits.charge(1, 7).unwrap_err();
        assert_eq!(refused.reason, "rate");
        assert!(refused.retry_after_secs >= 1);
        assert!(limits.charge(1, 6).is_ok(), "a refused charge took nothing");
        assert!(limits.admit(1).is_err(), "the bucket is empty now");

        let fresh = OrgLimits::new(LimitSettings {
            rate_per_second: 1,
            burst: 10,
            max_in_flight: 10,
        });
        assert!(fresh.admit(2).is_ok());
        assert!(
            fresh.charge(2, 1000).is_ok(),
            "capped at the burst: a full bucket pays"
        );
        assert!(fresh.admit(2).is_err());
        assert!(
            fresh.charge(3, 0).is_ok() && fresh.charge(3, 1).is_ok(),
            "nothing more to take"
        );
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

    fn shared_pool(pool_size: u32, wait: Duration) -> OrgLimits {
        let mut limits = OrgLimits::new(LimitSettings {
            rate_per_second: 1000,
            burst: 1000,
            max_in_flight: 100,
        })
        .with_pool_share(pool_size);
        limits.pool_share_wait = wait;
        limits
    }

    #[tokio::test]
    async fn an_org_holds_at_most_half_the_pool_rounded_up() {
        let limits = shared_pool(5, Duration::from_millis(50));
        let held = [
            limits.pool_share(1).await.unwrap(),
            limits.pool_share(1).await.unwrap(),
            limits.pool_share(1).await.unwrap(),
        ];
        let refused = limits.pool_share(1).await.unwrap_err();
        assert_eq!(refused.reason, "pool_share");
        assert_eq!(refused.retry_after_secs, 1);
        assert!(
            limits.pool_share(2).await.is_ok(),
            "another organization has its own share"
        );
        drop(held);
        assert!(limits.pool_share(1).await.is_ok());
        assert_eq!(shared_pool(2, Duration::ZERO).pool_share, 1);
    }

    #[tokio::test]
    async fn a_request_waits_for_its_share_to_free_up() {
        let limits = Arc::new(shared_pool(2, Duration::from_secs(30)));
        let held = limits.pool_share(1).await.unwrap();
        let waiter = tokio::spawn({
            let limits = limits.clone();
            async move { limits.pool_share(1).await.is_ok() }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "the share is taken: the request waits");
        drop(held);
        assert!(
            waiter.await.unwrap(),
            "admitted once the share frees up, within the wait"
        );
    }

    #[tokio::test]
    async fn the_default_wait_is_one_second() {
        let limits = shared_pool(2, POOL_SHARE_WAIT);
        let _held = limits.pool_share(1).await.unwrap();
        let started = std::time::Instant::now();
        assert!(limits.pool_share(1).await.is_err());
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "refused before waiting its second"
        );
    }
}
