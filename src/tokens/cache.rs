//! Bearer token → organization, cached. Staleness bound: an entry (accepting or rejecting) is used
//! for at most [`TTL`], so a rotated or revoked token stops working on every replica sharing the
//! database within one second even when no announcement reaches it; on PostgreSQL the
//! announcement (see [`crate::store::notify`]) drops the organization's entries at once. The map
//! is size-bounded so sprayed garbage tokens cannot grow it.

use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::store::tokens::TokenOwner;
use crate::store::{Store, StoreError};

/// How long a cached answer may be used.
pub const TTL: Duration = Duration::from_millis(900);
/// Most entries kept; beyond, expired ones are swept and, if that is not enough, all are dropped.
pub const MAX_ENTRIES: usize = 10_000;

#[derive(Clone)]
struct Entry {
    owner: Option<TokenOwner>,
    checked: Instant,
}

/// Cache of token hash → owner (or "no such active token").
#[derive(Default)]
pub struct TokenCache {
    entries: DashMap<String, Entry>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl TokenCache {
    /// The owner of the active token with `hash`, from the cache if fresh, else from the store.
    pub async fn resolve(&self, store: &Store, hash: &str) -> Result<Option<TokenOwner>, StoreError> {
        // Clone out of the shard before any await: a dashmap guard must not be held across one.
        let cached = self.entries.get(hash).map(|e| e.clone());
        if let Some(entry) = cached
            && entry.checked.elapsed() < TTL
        {
            return Ok(entry.owner);
        }
        let checked = Instant::now();
        let owner = store.resolve_token(hash).await?;
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.retain(|_, e| e.checked.elapsed() < TTL);
            if self.entries.len() >= MAX_ENTRIES {
                self.entries.clear();
            }
        }
        self.entries.insert(
            hash.to_owned(),
            Entry {
                owner: owner.clone(),
                checked,
            },
        );
        Ok(owner)
    }

    /// Forgets the entries of `org_id`'s tokens: its other tenants' entries stay. Rejections need
    /// not go: a hash that named no active token cannot name a token issued later (a new token
    /// is 256 fresh random bits), and one revoked stays revoked.
    pub fn forget_org(&self, org_id: i64) {
        self.entries
            .retain(|_, e| e.owner.as_ref().is_none_or(|o| o.org_id != org_id));
    }

    /// Forgets every entry (announcements may have been missed).
    pub fn clear(&self) {
        self.entries.clear();
    }
}
