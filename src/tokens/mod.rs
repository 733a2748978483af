//! The SCIM token service: generation, hashing and masking, bearer token → organization (cached,
//! see [`cache`]), issue and revocation, and the coalesced record of use ([`usage`]). Plaintexts
//! exist only here, in the one response (or CLI output) that hands them out, and in the request
//! that presents them.

pub mod cache;
pub mod usage;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hmac};

use crate::store::notify::TenantChange;
use crate::store::{Store, StoreError};
use cache::TokenCache;
use usage::TokenUsage;

pub use crate::store::audit::AuditContext;
pub use crate::store::tokens::{IssueMode, TokenInfo, TokenOwner};

/// First and longest pause before the change listener tries to reconnect.
const RETRY_MIN: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// Why cached owners were dropped (`scimgate_cache_invalidations_total{source}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalidation {
    /// This replica made the change.
    Local,
    /// Another replica announced it.
    Notify,
    /// Announcements may have been missed: everything goes.
    Resync,
}

impl Invalidation {
    fn count(self) {
        let source = match self {
            Invalidation::Local => "local",
            Invalidation::Notify => "notify",
            Invalidation::Resync => "resync",
        };
        metrics::counter!("scimgate_cache_invalidations_total", "source" => source).increment(1);
    }
}

/// Recognisable prefix so secret scanners can find leaked tokens.
pub const PREFIX: &str = "scimgate_";

/// A freshly generated token: the plaintext to show once, and what the database keeps.
pub struct NewToken {
    pub plaintext: String,
    pub hash: String,
    pub masked: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("masked", &self.masked)
            .finish_non_exhaustive()
    }
}

/// Hashes presented tokens: HMAC-SHA256 under `SCIMGATE_TOKEN_HASH_KEY` when set (a stolen
/// database alone cannot confirm a leaked token), plain SHA-256 otherwise.
#[derive(Clone)]
pub struct TokenHasher {
    key: Option<hmac::Key>,
}

impl std::fmt::Debug for TokenHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenHasher")
            .field("keyed", &self.key.is_some())
            .finish()
    }
}

impl TokenHasher {
    /// A hasher keyed with `key` if given.
    pub fn new(key: Option<&[u8]>) -> Self {
        TokenHasher {
            key: key.map(|k| hmac::Key::new(hmac::HMAC_SHA256, k)),
        }
    }

    /// Hex digest of a plaintext token.
    pub fn hash(&self, plaintext: &str) -> String {
        match &self.key {
            Some(key) => hex(hmac::sign(key, plaintext.as_bytes()).as_ref()),
            None => hex(digest::digest(&digest::SHA256, plaintext.as_bytes()).as_ref()),
        }
    }

    /// 256 random bits behind the prefix.
    pub fn generate(&self) -> Result<NewToken, ring::error::Unspecified> {
        let mut bytes = [0u8; 32];
        SystemRandom::new().fill(&mut bytes)?;
        let plaintext = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        Ok(NewToken {
            hash: self.hash(&plaintext),
            masked: mask(&plaintext),
            plaintext,
        })
    }
}

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("the system random number generator failed")]
    Random,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The token service of the instance: one per process, shared by every request.
#[derive(Debug, Clone)]
pub struct Tokens {
    store: Store,
    hasher: TokenHasher,
    /// Token hash → owner, for at most [`cache::TTL`].
    cache: Arc<TokenCache>,
    /// Uses not yet written (`tokenLastUsed`).
    usage: Arc<TokenUsage>,
}

impl Tokens {
    /// The token service over `store`, hashing with `hasher`.
    pub fn new(store: Store, hasher: TokenHasher) -> Self {
        Tokens {
            store,
            hasher,
            cache: Arc::new(TokenCache::default()),
            usage: Arc::new(TokenUsage::default()),
        }
    }

    /// The owner of the active token `plaintext`, if any (cached for at most [`cache::TTL`]).
    pub async fn owner(&self, plaintext: &str) -> Result<Option<TokenOwner>, StoreError> {
        self.cache
            .resolve(&self.store, &self.hasher.hash(plaintext))
            .await
    }

    /// Records that `token_id` authenticated a request now (written within [`usage::FLUSH_EVERY`]).
    pub fn record_use(&self, token_id: i64) {
        self.usage.record(token_id);
    }

    /// When `token` was last used: this replica's unwritten record if newer than the database's.
    pub fn last_used(&self, token: &TokenInfo) -> Option<i64> {
        token.last_used_at.max(self.usage.pending(token.id))
    }

    /// A new token for `org_id` (see [`issue`]); this replica refuses the old one at once, the
    /// others within the cache's bound.
    pub async fn issue(
        &self,
        org_id: i64,
        mode: IssueMode,
        audit: &AuditContext,
    ) -> Result<Option<NewToken>, IssueError> {
        let issued = issue(&self.store, &self.hasher, org_id, mode, audit).await?;
        self.forget_org(org_id, Invalidation::Local);
        Ok(issued)
    }

    /// Revokes the active token of `org_id`; false when there was none.
    pub async fn revoke(&self, org_id: i64, audit: &AuditContext) -> Result<bool, StoreError> {
        let revoked = revoke(&self.store, org_id, audit).await?;
        self.forget_org(org_id, Invalidation::Local);
        Ok(revoked)
    }

    /// Forgets what is cached of `org_id` (its tokens' owners, with its SSO switch), so this
    /// replica sees a change it made at once; the others hear of it through the store.
    pub fn forget_org(&self, org_id: i64, source: Invalidation) {
        self.cache.forget_org(org_id);
        source.count();
    }

    /// Listens for the tenant changes other replicas announce (PostgreSQL), for the life of the
    /// process: each drops that organization's entries at once; a lost connection drops them all
    /// and is retried, with the cache's one-second bound as the fallback meanwhile.
    pub fn spawn_change_listener(&self) {
        let tokens = self.clone();
        tokio::spawn(async move { tokens.listen_for_changes().await });
    }

    async fn listen_for_changes(self) {
        let connected = metrics::gauge!("scimgate_notify_listener_connected");
        let mut retry = RETRY_MIN;
        loop {
            match self.store.tenant_changes().await {
                // SQLite: nothing to listen to.
                Ok(None) => return,
                Ok(Some(mut changes)) => {
                    connected.set(1.0);
                    retry = RETRY_MIN;
                    // Whatever was announced before the subscription started went unheard.
                    self.forget_all();
                    loop {
                        match changes.next().await {
                            Ok(TenantChange::Org(org_id)) => self.forget_org(org_id, Invalidation::Notify),
                            Ok(TenantChange::Missed) => self.forget_all(),
                            Err(e) => {
                                tracing::warn!(error = %e, "tenant change listener lost its connection; retrying");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "tenant change listener cannot connect; retrying"),
            }
            connected.set(0.0);
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(RETRY_MAX);
        }
    }

    /// Forgets every cached owner (announcements may have been missed).
    pub fn forget_all(&self) {
        self.cache.clear();
        Invalidation::Resync.count();
    }

    /// Writes recorded uses every [`usage::FLUSH_EVERY`] until the process ends.
    pub fn spawn_flusher(&self) {
        self.usage.clone().spawn_flusher(self.store.clone());
    }

    /// Writes recorded uses now (at shutdown).
    pub async fn flush(&self) {
        self.usage.flush(&self.store).await;
    }
}

/// Generates a token and stores its hash, revoking the previous one in the same transaction;
/// `Ok(None)` when rotating and no token was active.
pub async fn issue(
    store: &Store,
    hasher: &TokenHasher,
    org_id: i64,
    mode: IssueMode,
    audit: &AuditContext,
) -> Result<Option<NewToken>, IssueError> {
    let token = hasher.generate().map_err(|_| IssueError::Random)?;
    let stored = store
        .issue_token(org_id, &token.hash, &token.masked, mode, audit)
        .await?;
    metrics::counter!("scimgate_token_operations_total", "op" => match mode {
        IssueMode::Generate => "generate",
        IssueMode::Rotate => "rotate",
    })
    .increment(u64::from(stored.is_some()));
    Ok(stored.map(|_| token))
}

/// Revokes the active token of `org_id`; false when there was none.
pub async fn revoke(store: &Store, org_id: i64, audit: &AuditContext) -> Result<bool, StoreError> {
    let revoked = store.revoke_token(org_id, audit).await?;
    metrics::counter!("scimgate_token_operations_total", "op" => "revoke").increment(u64::from(revoked));
    Ok(revoked)
}

/// Prefix and last four characters: enough to tell tokens apart, useless to an attacker.
pub fn mask(plaintext: &str) -> String {
    let tail_start = plaintext.char_indices().rev().nth(3).map_or(0, |(i, _)| i);
    format!("{PREFIX}…{}", &plaintext[tail_start..])
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_hashed() {
        let hasher = TokenHasher::new(None);
        let a = hasher.generate().unwrap();
        let b = hasher.generate().unwrap();
        assert!(a.plaintext.starts_with(PREFIX));
        assert_eq!(a.plaintext.len(), PREFIX.len() + 43);
        assert_ne!(a.plaintext, b.plaintext);
        assert_eq!(a.hash, hasher.hash(&a.plaintext));
        assert_eq!(a.hash.len(), 64);
        assert!(a.masked.ends_with(&a.plaintext[a.plaintext.len() - 4..]));
        assert!(!format!("{a:?}").contains(&a.plaintext));
    }

    #[test]
    fn keyed_hash_differs_from_plain() {
        let plain = TokenHasher::new(None).hash("scimgate_x");
        let keyed = TokenHasher::new(Some(b"0123456789abcdef0123456789abcdef")).hash("scimgate_x");
        assert_ne!(plain, keyed);
    }
}
