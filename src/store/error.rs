//! The store's error type: constraint violations as data, availability apart from bugs.

use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// A unique or foreign-key constraint that refused a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// `idp_groups.display_key`: the instance-wide display-name index.
    GroupDisplayName,
    /// `idp_groups (org_id, external_id)`.
    GroupExternalId,
    /// `scim_users (org_id, user_name_key)`.
    UserName,
    /// `scim_users (org_id, external_id)`.
    UserExternalId,
    /// `scim_tokens`: one active token per organization.
    ActiveToken,
    /// `organizations.name`.
    OrganizationName,
    /// `teams (org_id, name)`.
    TeamName,
    /// `teams.idp_group_id`: one team per catalog row.
    TeamLink,
    /// A foreign key (e.g. a membership naming a user that is gone).
    ForeignKey,
    /// Any other unique index.
    OtherUnique,
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A constraint refused the write; the transaction is void.
    #[error("constraint violation: {0:?}")]
    Violation(Violation),
    /// The database could not be reached in time (pool exhausted, connection refused, I/O).
    #[error("database unavailable: {0}")]
    Unavailable(DbErr),
    /// Anything else: a bug or a broken database, never the client's doing.
    #[error("database error: {0}")]
    Other(DbErr),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(message)) => {
                StoreError::Violation(classify_unique(&message))
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => StoreError::Violation(Violation::ForeignKey),
            _ if is_unavailable(&err) => StoreError::Unavailable(err),
            _ => StoreError::Other(err),
        }
    }
}

/// Names the violated index from the driver's message. SQLite names columns
/// ("UNIQUE constraint failed: idp_groups.display_key"), PostgreSQL the index
/// ("… unique constraint \"ux_idp_groups_display_key\""); both mention the table and column.
fn classify_unique(message: &str) -> Violation {
    let has = |s: &str| message.contains(s);
    if has("display_key") {
        Violation::GroupDisplayName
    } else if has("idp_groups") && has("external_id") {
        Violation::GroupExternalId
    } else if has("user_name") {
        Violation::UserName
    } else if has("scim_users") && has("external_id") {
        Violation::UserExternalId
    } else if has("teams") && has("idp_group") {
        Violation::TeamLink
    } else if has("teams") && has("name") {
        Violation::TeamName
    } else if has("scim_tokens") && has("org_id") || has("one_active") {
        Violation::ActiveToken
    } else if has("organizations") && has("name") {
        Violation::OrganizationName
    } else {
        Violation::OtherUnique
    }
}

fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as SqlxError;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            matches!(
                **e,
                SqlxError::PoolTimedOut
                    | SqlxError::PoolClosed
                    | SqlxError::Io(_)
                    | SqlxError::Tls(_)
                    | SqlxError::Protocol(_)
                    | SqlxError::WorkerCrashed
            ) || is_busy(e)
        }
        _ => false,
    }
}

/// Retryable, not a bug: SQLite's "database is locked" after the busy timeout (contention);
/// PostgreSQL cancelling a statement past `statement_timeout` (57014: the database could not
/// answer in time), a connection lost or refused (class 08), the server shutting down, crashed or
/// still starting (57P01–57P03), out of connections (53300), and a deadlock or serialization
/// failure (40P01, 40001), whose transaction was rolled back whole. Each is a 503 with
/// `Retry-After`, never a 500.
fn is_busy(e: &sea_orm::sqlx::Error) -> bool {
    let sea_orm::sqlx::Error::Database(db) = e else {
        return false;
    };
    matches!(
        db.code().as_deref(),
        Some("5" | "6" | "517" | "57014" | "57P01" | "57P02" | "57P03" | "53300" | "40P01" | "40001")
    ) || db.code().is_some_and(|code| code.starts_with("08"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_both_dialects() {
        assert_eq!(
            classify_unique("UNIQUE constraint failed: idp_groups.display_key"),
            Violation::GroupDisplayName
        );
        assert_eq!(
            classify_unique("duplicate key value violates unique constraint \"ux_idp_groups_display_key\""),
            Violation::GroupDisplayName
        );
        assert_eq!(
            classify_unique("UNIQUE constraint failed: scim_users.org_id, scim_users.user_name_key"),
            Violation::UserName
        );
        assert_eq!(
            classify_unique(
                "duplicate key value violates unique constraint \"ux_scim_users_org_external_id\""
            ),
            Violation::UserExternalId
        );
        assert_eq!(
            classify_unique("UNIQUE constraint failed: idp_groups.org_id, idp_groups.external_id"),
            Violation::GroupExternalId
        );
        assert_eq!(
            classify_unique("UNIQUE constraint failed: scim_tokens.org_id"),
            Violation::ActiveToken
        );
        assert_eq!(
            classify_unique("UNIQUE constraint failed: teams.idp_group_id"),
            Violation::TeamLink
        );
        assert_eq!(
            classify_unique("duplicate key value violates unique constraint \"ux_teams_idp_group\""),
            Violation::TeamLink
        );
        assert_eq!(
            classify_unique("UNIQUE constraint failed: teams.org_id, teams.name"),
            Violation::TeamName
        );
        assert_eq!(
            classify_unique("duplicate key value violates unique constraint \"ux_teams_org_name\""),
            Violation::TeamName
        );
    }
}
