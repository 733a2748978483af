//! Per-tenant catalog services: the only writers of an organization's Groups, Users and
//! membership. Each holds a resolved [`Tenant`]; nothing here sees a token or an HTTP request.

pub mod cursor;
mod error;
mod groups;
mod owner;
mod paging;
mod users;

pub use cursor::Cursors;
pub use error::{CatalogError, NameHolder};
pub use groups::{GroupAnswer, Streamed};
pub use owner::{CatalogEntry, HeldBy, MatchSettings, MatchSettingsUpdate, RefusedName, ScimState};
// The rows the catalog answers with are part of its vocabulary; callers never reach the store.
pub use crate::store::audit::{AuditEvent, AuditQuery};
pub use crate::store::groups::GroupRow;
pub use crate::store::teams::{DelegationState, LinkChange, TeamMemberRow, TeamRow};

// A setting, so defined in config (which depends on nothing); the catalog is what acts on it.
pub use crate::config::ConflictDetail;

use crate::store::Store;
use crate::store::audit::AuditContext;
use crate::store::deprovision::Reason;

/// An organization the routing layer resolved (from a SCIM token, or an admin's path and rights).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub org_id: i64,
    pub org_name: String,
}

/// A rendered resource and the version behind its ETag.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The serialized resource, ready to send.
    pub body: Box<serde_json::value::RawValue>,
    pub version: i64,
    /// The resource's id (a Bulk POST's bulkId resolves to it).
    pub id: String,
    pub location: String,
}

/// One organization's catalog: a cheap, per-request view over the shared store.
#[derive(Debug, Clone)]
pub struct Catalog {
    store: Store,
    tenant: Tenant,
    base_url: String,
    conflict_detail: ConflictDetail,
    audit: AuditContext,
    /// The instance's cursor key (shared by every catalog of the process).
    cursors: Cursors,
}

impl Catalog {
    /// The catalog of `tenant`; `base_url` is its SCIM base URL (from `SCIMGATE_PUBLIC_URL`);
    /// `cursors` signs and reads its paging cursors (the process's, so the key is read once).
    pub fn new(
        store: Store,
        tenant: Tenant,
        base_url: String,
        conflict_detail: ConflictDetail,
        audit: AuditContext,
        cursors: Cursors,
    ) -> Self {
        Catalog {
            store,
            tenant,
            base_url,
            conflict_detail,
            audit,
            cursors,
        }
    }

    /// The organization's SCIM base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The tenant this catalog serves.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// Counts and logs the DELEGATED team memberships a push took away (design §3.8).
    fn deprovisioned(&self, reason: Reason, memberships: u64) {
        if memberships == 0 {
            return;
        }
        metrics::counter!(
            "scimgate_push_deprovisioned_total",
            "org" => self.tenant.org_id.to_string(),
            "reason" => reason.as_str()
        )
        .increment(memberships);
        tracing::info!(
            org = self.tenant.org_id,
            reason = reason.as_str(),
            memberships,
            correlation_id = %self.audit.correlation_id,
            "push removed delegated team memberships"
        );
    }
}
