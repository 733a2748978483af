//! Push-time deprovisioning (design §3.8): when a SCIM write says that users left a group, or
//! that a user was deactivated or deleted, the matching accounts' DELEGATED team memberships go in
//! the same transaction, audited one event per membership. Set-based: whatever the group's size
//! or the user's number of teams, one DELETE per chunk of leaving ids (the membership write's
//! chunks), answering the rows it removed, and their events in one INSERT per thousand (none when
//! nothing went). Never adds a membership (only a login's claim does); never touches MANUAL ones.
//!
//! The organization's settings are read by the statement itself (`pushDeprovisioning`,
//! `accountMatch`), so a setting changed a moment ago applies to the next push on every replica.
//!
//! Lock order on PostgreSQL. A group's leavers: the group row is locked by the write, then the
//! memberships; a login never holds a membership of that group while it waits for the group row
//! (it locks rows before it writes memberships), and one account has at most one membership from
//! one row, so the two never wait on each other in a cycle. A user's deactivation or deletion
//! removes several memberships of one account, as a login does, and two such deletes taking the
//! same rows in different orders could deadlock: it locks the matching accounts first, in id
//! order, which is where a login starts too, so the two run one after the other.

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value as DbValue};
use serde_json::json;

use super::audit::{self, AuditContext};
use super::teams::DELEGATED;
use super::{StoreError, id_array, id_in};

/// `account_match` of organizations that match SCIM users to accounts by e-mail (default).
pub const ACCOUNT_MATCH_EMAIL: &str = "email";
/// `account_match` of organizations that match the SCIM `externalId` to the account's subject.
pub const ACCOUNT_MATCH_EXTERNAL_ID: &str = "externalId";

/// Why a push took memberships away (the audit events' `reason`, a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The user is no longer a member of the team's group.
    MembershipRemoved,
    /// The user was deactivated (`active: false`).
    UserDeactivated,
    /// The user was deleted.
    UserDeleted,
}

impl Reason {
    /// The reason as audited and counted.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::MembershipRemoved => "idp_membership_removed",
            Reason::UserDeactivated => "idp_user_deactivated",
            Reason::UserDeleted => "idp_user_deleted",
        }
    }
}

/// Whose memberships go.
pub(crate) enum Leavers<'a> {
    /// Members of `group_id` leaving it: those of `ids` (at most a chunk) who are members. Run
    /// before the group's membership rows are deleted.
    Group { group_id: &'a str, ids: &'a [String] },
    /// One user, from every delegated team of the organization. Run before the user changes.
    User { user_id: &'a str, reason: Reason },
}

impl Leavers<'_> {
    fn reason(&self) -> Reason {
        match self {
            Leavers::Group { .. } => Reason::MembershipRemoved,
            Leavers::User { reason, .. } => *reason,
        }
    }
}

/// Removes the DELEGATED memberships the leavers' accounts hold in `org_id` (of the group's team
/// only, for a group), with one `team_member_deleted` event each; answers how many went.
pub(crate) async fn deprovision<C: ConnectionTrait>(
    conn: &C,
    audit: &AuditContext,
    org_id: i64,
    leavers: Leavers<'_>,
) -> Result<u64, StoreError> {
    let backend = conn.get_database_backend();
    // $1 the organization, $2 the group or user, $3 the leaving ids (a JSON array).
    let mut values: Vec<DbValue> = vec![org_id.into()];
    let (users, from_group) = match &leavers {
        Leavers::Group { group_id, ids } => {
            values.extend([(*group_id).into(), id_array(ids)?.into()]);
            let users = format!(
                "SELECT gm.user_id FROM group_members gm WHERE gm.group_id = $2 AND {}",
                id_in(backend, "gm.user_id", "$3")
            );
            (users, " AND delegated_from = $2")
        }
        Leavers::User { user_id, .. } => {
            values.push((*user_id).into());
            (
                "SELECT u.id FROM scim_users u WHERE u.id = $2 AND u.org_id = $1".to_owned(),
                "",
            )
        }
    };
    // The leavers and the organization's settings are read once, whichever match uses them.
    let with = format!(
        "WITH leavers (id) AS ({users}), \
         settings (account_match) AS (SELECT account_match FROM organizations \
           WHERE id = $1 AND push_deprovisioning)"
    );
    let accounts = matching_accounts();
    if let (DbBackend::Postgres, Leavers::User { .. }) = (backend, &leavers) {
        let lock = format!("{with} SELECT id FROM accounts WHERE id IN ({accounts}) ORDER BY id FOR UPDATE");
        conn.query_all_raw(Statement::from_sql_and_values(backend, lock, values.clone()))
            .await?;
    }
    // The events are made from the rows the delete answers: a login removing the same membership
    // at the same moment gets the row or does not, and whoever removed it is the one who says so.
    let delete = format!(
        "{with} DELETE FROM team_members \
         WHERE org_id = $1 AND provenance = '{DELEGATED}'{from_group} AND account_id IN ({accounts}) \
         RETURNING account_id, team_id, delegated_from"
    );
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(backend, delete, values))
        .await?;
    let reason = leavers.reason().as_str();
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        let account: String = row.try_get_by_index(0)?;
        let team: i64 = row.try_get_by_index(1)?;
        let from: Option<String> = row.try_get_by_index(2)?;
        let data = json!({"teamId": team, "provenance": DELEGATED, "idpGroupId": from, "reason": reason});
        events.push((org_id, account, data));
    }
    let removed = events.len() as u64;
    audit::record_each(conn, audit, "team_member_deleted", events).await?;
    Ok(removed)
}

/// SQL selecting the ids of the accounts that the `leavers` match, by the organization's
/// `accountMatch` as `settings` holds it (no row when `pushDeprovisioning` is off, so none). By
/// e-mail: an account whose e-mail key equals the user's `userName` key or one of its e-mails'
/// keys (a `userName` that is not an address equals no account's e-mail). By `externalId`: the
/// account's subject (the instance's one SSO issuer's `sub`, or Entra's `oid`).
fn matching_accounts() -> String {
    let mode = |m: &str| format!("EXISTS (SELECT 1 FROM settings WHERE account_match = '{m}')");
    let (email, external) = (mode(ACCOUNT_MATCH_EMAIL), mode(ACCOUNT_MATCH_EXTERNAL_ID));
    format!(
        "SELECT a.id FROM accounts a JOIN scim_users u ON a.email_key = u.user_name_key \
           WHERE u.org_id = $1 AND u.id IN (SELECT id FROM leavers) AND {email} \
         UNION SELECT a.id FROM accounts a JOIN scim_user_emails e ON a.email_key = e.value_key \
           WHERE e.org_id = $1 AND e.user_id IN (SELECT id FROM leavers) AND {email} \
         UNION SELECT a.id FROM accounts a JOIN scim_users u ON a.subject = u.external_id \
           WHERE u.org_id = $1 AND u.id IN (SELECT id FROM leavers) AND {external}"
    )
}
