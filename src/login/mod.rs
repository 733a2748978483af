//! The login service (design §2 "Login evaluation", §3.4, §3.5): the second cross-organization
//! service beside the instance. It verifies an ID token with the instance's SSO issuer
//! ([`idp`]), reads its claims ([`claims`]), and has the store apply the login in one
//! transaction to every organization whose gates pass. Metrics use fixed label sets only:
//! outcomes, membership changes, ignored-claim reasons.

pub mod claims;
pub mod idp;

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::auth::AuthError;
use crate::catalog::CatalogError;
use crate::config::{Gates, Secret};
use crate::store::Store;
use crate::store::audit::AuditContext;
use crate::store::logins::LoginInput;
/// A team membership a login added or removed.
pub use crate::store::logins::TeamRef;
pub use claims::IgnoredClaim;
use claims::{GroupsClaim, LoginClaims};
pub use idp::Idp;

/// What a login did, as answered to the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginAnswer {
    pub user_id: String,
    pub email: Option<String>,
    pub added: Vec<TeamRef>,
    pub removed: Vec<TeamRef>,
    pub ignored: Option<IgnoredClaim>,
}

/// Why a login was not applied.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The token (or the claims) cannot be trusted or identify no account: 401, nothing changed.
    #[error("the login is not verifiable: {0}")]
    Unverifiable(&'static str),
    /// The IdP's keys could not be fetched: 503 (never the 401 of a bad token), nothing changed.
    #[error("the IdP's signing keys are unavailable")]
    KeysUnavailable,
    /// The database could not apply it.
    #[error(transparent)]
    Store(#[from] CatalogError),
}

impl From<idp::KeyError> for LoginError {
    fn from(e: idp::KeyError) -> Self {
        match e {
            idp::KeyError::Token(e) => e.into(),
            idp::KeyError::Unavailable => LoginError::KeysUnavailable,
        }
    }
}

impl From<AuthError> for LoginError {
    fn from(e: AuthError) -> Self {
        LoginError::Unverifiable(e.reason())
    }
}

/// The login service; cheap to clone.
#[derive(Debug, Clone)]
pub struct Login {
    store: Store,
    gates: Arc<Gates>,
    idp: Option<Arc<Idp>>,
    caller_token: Option<Arc<Secret>>,
}

impl Login {
    /// The service over `store`, trusting `idp` (none: every ID token is refused).
    pub fn new(
        store: Store,
        gates: Arc<Gates>,
        idp: Option<Arc<Idp>>,
        caller_token: Option<Arc<Secret>>,
    ) -> Self {
        Login {
            store,
            gates,
            idp,
            caller_token,
        }
    }

    /// Whether the caller may post logins: always when no caller token is configured, else only
    /// with that token (compared in constant time).
    pub fn caller_allowed(&self, presented: Option<&str>) -> bool {
        match (&self.caller_token, presented) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(expected), Some(presented)) => same_secret(expected.0.as_bytes(), presented.as_bytes()),
        }
    }

    /// Verifies an ID token and applies the login it carries.
    pub async fn evaluate_token(&self, token: &str, correlation_id: &str) -> Result<LoginAnswer, LoginError> {
        let result = async {
            let idp = self
                .idp
                .as_ref()
                .ok_or(LoginError::Unverifiable("not_configured"))?;
            let claims = idp.verify(token).await?;
            let claims = claims::read(&claims, None).map_err(|_| LoginError::Unverifiable("claims"))?;
            self.apply(claims, correlation_id).await
        }
        .await;
        record(&result);
        result
    }

    /// Applies claims a trusted caller (an instance admin) posted instead of a token; a missing
    /// `iat` counts as now.
    pub async fn evaluate_claims(
        &self,
        claims: &Map<String, Value>,
        correlation_id: &str,
    ) -> Result<LoginAnswer, LoginError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let result = match claims::read(claims, Some(now)) {
            Ok(claims) => self.apply(claims, correlation_id).await,
            Err(_) => Err(LoginError::Unverifiable("claims")),
        };
        record(&result);
        result
    }

    async fn apply(&self, claims: LoginClaims, correlation_id: &str) -> Result<LoginAnswer, LoginError> {
        let mut ignored = match &claims.groups {
            GroupsClaim::Ignored(reason) => Some(*reason),
            GroupsClaim::Names(_) => None,
        };
        if ignored.is_none() && !self.any_sso().await? {
            ignored = Some(IgnoredClaim::NoSso);
        }
        let groups = match (&claims.groups, ignored) {
            (GroupsClaim::Names(names), None) => Some(names.as_slice()),
            _ => None,
        };
        let input = LoginInput {
            issuer: &claims.issuer,
            subject: &claims.subject,
            email: claims.email.as_deref(),
            email_verified: claims.email_verified,
            iat: claims.iat,
            groups,
        };
        let gates = self.gates.clone();
        let scope = claims.scope;
        let admits = move |org_id: i64, sso_active: bool| {
            gates.scim_enabled(org_id, sso_active) && scope.admits(org_id)
        };
        let audit = AuditContext {
            actor: AuditContext::SYSTEM.to_owned(),
            actor_detail: Some(json!({"via": "login"})),
            correlation_id: correlation_id.to_owned(),
        };
        let applied = self
            .store
            .apply_login(&input, &admits, &audit)
            .await
            .map_err(CatalogError::from)?;
        if applied.stale {
            ignored = Some(IgnoredClaim::StaleLogin);
        }
        if applied.ambiguous > 0 {
            metrics::counter!("scimgate_login_ambiguous_claims_total").increment(applied.ambiguous);
            tracing::warn!(
                correlation_id,
                values = applied.ambiguous,
                "login claim values match externalIds in several organizations: applied to none"
            );
        }
        if let Some(reason) = ignored {
            tracing::info!(correlation_id, reason = reason.as_str(), "login claim ignored");
        }
        Ok(LoginAnswer {
            user_id: applied.account_id,
            email: applied.email.or(claims.email),
            added: applied.added,
            removed: applied.removed,
            ignored,
        })
    }

    /// Whether any organization can be routed to at all (design §3.2's "no SSO" topology).
    async fn any_sso(&self) -> Result<bool, LoginError> {
        if !self.gates.enabled || self.gates.allowed.as_ref().is_some_and(|a| a.is_empty()) {
            return Ok(false);
        }
        Ok(self.store.any_sso_org().await.map_err(CatalogError::from)?)
    }
}

/// Constant-time equality of two secrets, whatever their lengths (both are hashed first).
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (
        ring::digest::digest(&ring::digest::SHA256, a),
        ring::digest::digest(&ring::digest::SHA256, b),
    );
    a.as_ref()
        .iter()
        .zip(b.as_ref())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Counts a login by outcome, its membership changes and an ignored claim's reason.
fn record(result: &Result<LoginAnswer, LoginError>) {
    let outcome = match result {
        Ok(answer) => {
            metrics::counter!("scimgate_login_memberships_total", "change" => "added")
                .increment(answer.added.len() as u64);
            metrics::counter!("scimgate_login_memberships_total", "change" => "removed")
                .increment(answer.removed.len() as u64);
            match answer.ignored {
                Some(reason) => {
                    metrics::counter!("scimgate_login_ignored_claims_total", "reason" => reason.as_str())
                        .increment(1);
                    "ignored"
                }
                None => "applied",
            }
        }
        Err(LoginError::Unverifiable(reason)) => {
            tracing::debug!(reason, "login refused");
            "unverifiable"
        }
        Err(LoginError::KeysUnavailable) => "keys_unavailable",
        Err(LoginError::Store(_)) => "failed",
    };
    metrics::counter!("scimgate_logins_total", "outcome" => outcome).increment(1);
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_compare_by_value() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(!same_secret(b"", b"x"));
    }
}
