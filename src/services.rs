//! The service layer, built once at startup: the only holders of the store. The HTTP layer holds
//! a [`Services`] and asks it for a tenant's catalog, the instance, the token service; it never
//! sees the store. Tenant resolution lives here too — which token names which organization, and
//! whether the feature gates let that organization in — so every route resolves it the same way.

use std::sync::Arc;

use crate::activity::Activity;
use crate::catalog::{Catalog, CatalogError, Cursors, Tenant};
use crate::config::{Gates, Secret, Settings};
use crate::instance::Instance;
use crate::login::{Idp, Login};
use crate::store::Store;
use crate::store::audit::AuditContext;
use crate::tokens::{TokenHasher, Tokens};

/// The services of one process; cheap to clone (one reference count: every request's state
/// holds a copy).
#[derive(Debug, Clone)]
pub struct Services(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    store: Store,
    settings: Arc<Settings>,
    gates: Arc<Gates>,
    tokens: Tokens,
    login: Login,
    activity: Activity,
    /// The cursor key of every catalog (configured, or read from the database once).
    cursors: Cursors,
}

/// What a SCIM bearer token resolves to for the organization its request names.
#[derive(Debug, Clone)]
pub enum ScimAccess {
    /// No active token has this value.
    UnknownToken,
    /// The token belongs to another organization than the path names (or the path names none);
    /// answered like an unknown token, so probing reveals nothing.
    ForeignOrganization,
    /// The organization's provisioning is switched off (SSO inactive, or not let in by the gates).
    Disabled { org_id: i64 },
    /// The tenant, and the token's id and mask (for its record of use and the audit trail).
    Granted {
        tenant: Tenant,
        token_id: i64,
        masked_token: String,
    },
}

impl Services {
    /// The services over `store`; `idp` is the SSO issuer logins trust (none: every ID token is
    /// refused), `caller_token` what login callers must present, if anything.
    pub fn new(
        store: Store,
        settings: Settings,
        gates: Gates,
        hasher: TokenHasher,
        idp: Option<Idp>,
        caller_token: Option<Secret>,
    ) -> Self {
        let gates = Arc::new(gates);
        Services(Arc::new(Inner {
            tokens: Tokens::new(store.clone(), hasher),
            login: Login::new(
                store.clone(),
                gates.clone(),
                idp.map(Arc::new),
                caller_token.map(Arc::new),
            ),
            activity: Activity::new(store.clone()),
            cursors: Cursors::new(settings.cursor_key.as_ref().map(|k| k.0.as_bytes())),
            store,
            settings: Arc::new(settings),
            gates,
        }))
    }

    /// The login service (cross-organization routing at SSO login).
    pub fn login(&self) -> &Login {
        &self.0.login
    }

    /// The token service.
    pub fn tokens(&self) -> &Tokens {
        &self.0.tokens
    }

    /// The SCIM activity service (requests recorded per organization).
    pub fn activity(&self) -> &Activity {
        &self.0.activity
    }

    /// The instance service (cross-organization work).
    pub fn instance(&self) -> Instance {
        Instance::new(self.0.store.clone(), self.0.tokens.clone())
    }

    /// The catalog of a resolved tenant, its changes attributed to `audit`.
    pub fn catalog(&self, tenant: Tenant, audit: AuditContext) -> Catalog {
        let base = self.0.settings.scim_base_url(tenant.org_id);
        Catalog::new(
            self.0.store.clone(),
            tenant,
            base,
            self.0.settings.conflict_detail,
            audit,
            self.0.cursors.clone(),
        )
    }

    /// Resolves a SCIM request: its bearer token and the organization its path names.
    pub async fn scim_access(&self, token: &str, path_org: Option<i64>) -> Result<ScimAccess, CatalogError> {
        let Some(owner) = self.0.tokens.owner(token).await? else {
            return Ok(ScimAccess::UnknownToken);
        };
        // Checked after the lookup so an unknown organization and a foreign token look the same.
        if path_org != Some(owner.org_id) {
            return Ok(ScimAccess::ForeignOrganization);
        }
        if !self.0.gates.scim_enabled(owner.org_id, owner.sso_active) {
            return Ok(ScimAccess::Disabled { org_id: owner.org_id });
        }
        Ok(ScimAccess::Granted {
            tenant: Tenant {
                org_id: owner.org_id,
                org_name: owner.org_name,
            },
            token_id: owner.token_id,
            masked_token: owner.masked,
        })
    }

    /// The catalog of `org_id` for its owner (rights already checked), and whether its SSO is on;
    /// `None` for an unknown organization or one the gates keep out.
    pub async fn owner_catalog(
        &self,
        org_id: i64,
        audit: AuditContext,
    ) -> Result<Option<(Catalog, bool)>, CatalogError> {
        let Some(org) = self.0.store.find_org(org_id).await? else {
            return Ok(None);
        };
        if !self.0.gates.scim_enabled(org.id, org.sso_active) {
            return Ok(None);
        }
        let tenant = Tenant {
            org_id: org.id,
            org_name: org.name,
        };
        Ok(Some((self.catalog(tenant, audit), org.sso_active)))
    }
}
