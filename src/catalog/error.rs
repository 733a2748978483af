//! The catalog layer's error type; the routing layer maps it to SCIM errors in one place.

use crate::scim::error::{ScimError, excerpt};
use crate::store::{ListError, StoreError, Violation, WriteError};

/// Who holds a display name that another write wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameHolder {
    /// Another group of the same organization.
    SameOrg { group_id: String },
    /// A group of another organization.
    OtherOrg { org_id: i64, org_name: String },
    /// A group of another organization that this instance does not name (`SCIMGATE_CONFLICT_DETAIL=anonymous`).
    OtherOrgHidden,
    /// The holder vanished between the failed write and the look-up (a concurrent delete).
    Unknown,
}

/// Why a catalog operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The request is malformed or breaks a protocol rule (already a SCIM error).
    #[error("{}", .0.detail)]
    Invalid(ScimError),
    /// No resource of this kind with this id in this organization.
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    /// `If-Match` named another version.
    #[error("version mismatch")]
    PreconditionFailed,
    /// The instance-wide display-name index refused the write.
    #[error("displayName {name:?} is taken")]
    DisplayNameTaken {
        name: String,
        holder: NameHolder,
        requester: String,
    },
    /// A per-organization uniqueness rule (userName, externalId) refused the write.
    #[error("{0}")]
    Taken(String),
    /// A rule of the organization's data refuses the change (the message says which).
    #[error("{0}")]
    Conflict(String),
    /// Member ids that are not users of this organization: a few of them, and how many.
    #[error("{count} unknown members, among them {shown:?}")]
    UnknownMembers { shown: Vec<String>, count: u64 },
    /// The database could not be reached in time.
    #[error("database unavailable")]
    Unavailable(#[source] StoreError),
    /// A bug or a broken database.
    #[error("internal error")]
    Internal(#[source] StoreError),
}

impl From<ScimError> for CatalogError {
    fn from(e: ScimError) -> Self {
        CatalogError::Invalid(e)
    }
}

impl From<StoreError> for CatalogError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => CatalogError::Unavailable(e),
            other => CatalogError::Internal(other),
        }
    }
}

impl From<ListError> for CatalogError {
    fn from(e: ListError) -> Self {
        match e {
            ListError::Unsupported(u) => CatalogError::Invalid(ScimError::invalid_filter(u.0)),
            ListError::Store(s) => s.into(),
        }
    }
}

impl NameHolder {
    /// The metrics label: `same_org` or `cross_org`.
    pub fn kind(&self) -> &'static str {
        match self {
            NameHolder::SameOrg { .. } => "same_org",
            _ => "cross_org",
        }
    }
}

impl CatalogError {
    /// Maps a write failure whose violations have no special meaning for this resource.
    pub(super) fn from_write(e: WriteError, kind: &'static str, id: &str) -> Self {
        match e {
            WriteError::NotFound => CatalogError::NotFound {
                kind,
                id: id.to_owned(),
            },
            WriteError::VersionMismatch => CatalogError::PreconditionFailed,
            WriteError::UnknownUsers(unknown) => CatalogError::UnknownMembers {
                shown: unknown.shown,
                count: unknown.count,
            },
            WriteError::Rejected(e) => CatalogError::Invalid(e),
            WriteError::Conflict(message) => CatalogError::Conflict(message),
            // A concurrent delete removed what this write refers to (a catalog row being linked,
            // a user being added): the client's request lost a race, not a bug of ours.
            WriteError::Store(StoreError::Violation(Violation::ForeignKey)) => {
                CatalogError::Conflict(format!(
                    "{kind} {}: something it refers to was removed while the change was being made; retry",
                    excerpt(id)
                ))
            }
            WriteError::Store(StoreError::Violation(Violation::TeamLink)) => {
                CatalogError::Conflict("that catalog row is already linked to another team".into())
            }
            WriteError::Store(StoreError::Violation(Violation::TeamName)) => {
                CatalogError::Conflict("a team with this name already exists in this organization".into())
            }
            WriteError::ScimManaged => CatalogError::Conflict(format!(
                "{kind} {} is managed by the IdP over SCIM and can only be removed by it",
                excerpt(id)
            )),
            WriteError::Store(s) => s.into(),
        }
    }
}
