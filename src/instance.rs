//! The instance service: cross-organization work for instance admins (organizations, SSO
//! switches, open uniqueness and claim conflicts). Like the catalog, it is the layer between routing and
//! the store, and speaks the catalog's error type.

use crate::catalog::CatalogError;
pub use crate::store::claim_conflicts::ClaimConflict;
use crate::store::conflicts::OpenConflict;
pub use crate::store::orgs::Org;
use crate::store::stats::OrgStats;
use crate::store::{Store, StoreError, Violation};
use crate::tokens::{Invalidation, Tokens};

/// Longest organization name.
pub const MAX_ORG_NAME_CHARS: usize = 256;

/// The instance's topology (design §3.2): how many organizations, how many with SSO active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topology {
    pub organizations: u64,
    pub sso_organizations: u64,
}

impl Topology {
    /// `none` (no organization has SSO active), `single` or `multi`.
    pub fn kind(&self) -> &'static str {
        match self.sso_organizations {
            0 => "none",
            1 => "single",
            _ => "multi",
        }
    }
}

/// Instance-wide operations over the shared store.
#[derive(Debug, Clone)]
pub struct Instance {
    store: Store,
    tokens: Tokens,
}

impl Instance {
    /// The instance behind `store`; `tokens` caches what an SSO switch changes.
    pub fn new(store: Store, tokens: Tokens) -> Self {
        Instance { store, tokens }
    }

    /// Every organization, by id.
    pub async fn organizations(&self) -> Result<Vec<Org>, CatalogError> {
        Ok(self.store.list_orgs().await?)
    }

    /// The organizations among `ids` that exist, by id (what a caller's token names).
    pub async fn organizations_among(&self, ids: &[i64]) -> Result<Vec<Org>, CatalogError> {
        Ok(self.store.find_orgs(ids).await?)
    }

    /// Creates an organization; its name is unique on the instance.
    pub async fn create_organization(&self, name: &str, sso_active: bool) -> Result<Org, CatalogError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_ORG_NAME_CHARS {
            return Err(crate::scim::error::ScimError::invalid_value(format!(
                "an organization needs a name of 1 to {MAX_ORG_NAME_CHARS} characters"
            ))
            .into());
        }
        self.store
            .create_org(name, sso_active)
            .await
            .map_err(|e| match e {
                StoreError::Violation(Violation::OrganizationName) => {
                    CatalogError::Conflict(format!("an organization named \"{name}\" already exists"))
                }
                other => other.into(),
            })
    }

    /// Turns SSO (and with it SCIM provisioning and delegation) on or off for one organization.
    /// The token cache holds the switch too: this replica applies it at once, the others when
    /// the store's announcement reaches them (within the cache's one-second bound at worst).
    pub async fn set_sso_active(&self, org_id: i64, active: bool) -> Result<Org, CatalogError> {
        let org = self
            .store
            .set_sso_active(org_id, active)
            .await?
            .ok_or_else(|| CatalogError::NotFound {
                kind: "Organization",
                id: org_id.to_string(),
            })?;
        self.tokens.forget_org(org_id, Invalidation::Local);
        Ok(org)
    }

    /// Deletes audit events older than `days` days, daily, until the process ends (0: never).
    pub fn spawn_retention(&self, days: u32) {
        crate::retention::spawn(self.store.clone(), days);
    }

    /// Catalog and team counts per organization (for the metrics endpoint).
    pub async fn stats(&self) -> Result<std::collections::BTreeMap<i64, OrgStats>, CatalogError> {
        Ok(self.store.org_stats().await?)
    }

    /// How old the oldest audit event is, in seconds; `None` when there is none.
    pub async fn oldest_audit_event_age(&self) -> Result<Option<f64>, CatalogError> {
        let oldest = self.store.oldest_audit_event().await?;
        Ok(oldest.map(|at| (crate::store::now_micros().saturating_sub(at)).max(0) as f64 / 1e6))
    }

    /// Whether the database answers and every migration is applied (readiness).
    pub async fn ready(&self) -> Result<bool, CatalogError> {
        Ok(self.store.migrations_applied().await?)
    }

    /// How logins are routed on this instance.
    pub async fn topology(&self) -> Result<Topology, CatalogError> {
        let (organizations, sso_organizations) = self.store.org_counts().await?;
        Ok(Topology {
            organizations,
            sso_organizations,
        })
    }

    /// Every open uniqueness conflict, newest first.
    pub async fn open_conflicts(&self) -> Result<Vec<OpenConflict>, CatalogError> {
        Ok(self.store.open_conflicts(None).await?)
    }

    /// Every open claim conflict (an `externalId` claim value naming several organizations),
    /// newest first.
    pub async fn open_claim_conflicts(&self) -> Result<Vec<ClaimConflict>, CatalogError> {
        Ok(self.store.open_claim_conflicts().await?)
    }
}
