//! Push-time deprovisioning (design §3.8): when a SCIM write says that users left a group, or
//! that a user was deactivated or deleted, the matching accounts' DELEGATED team memberships go in
//! the same transaction, audited one event per membership. Set-based: whatever the group's size
//! or the user's number of teams, a push costs two statements (the audit events, then the delete)
//! per chunk of leaving ids, and nothing is read into memory. Never adds a membership (only a
//! login's claim does); never touches MANUAL ones.
//!
//! The organization's settings are read by the statements themselves (`pushDeprovisioning`,
//! `accountMatch`), so a setting changed a moment ago applies to the next push on every replica.
//!
//! Lock order on PostgreSQL. A group's leavers: the group row is locked by the write, then the
//! memberships; a login never holds a membership of that group while it waits for the group row
//! (it locks rows before it writes memberships), and one account has at most one membership from
//! one row, so the two never wait on each other in a cycle. A user's deactivation or deletion
//! removes several memberships of one account: it locks the matching accounts first, in id order,
//! which is where a login starts too, so the two run one after the other.

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value as DbValue};

use super::audit::AuditContext;
use super::teams::DELEGATED;
use super::{StoreError, id_array, id_in, now_micros};

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
    /// Members of `group_id` leaving it: those of `ids` who are members, or every member (`None`).
    /// Run before the group's membership rows are deleted.
    Group {
        group_id: &'a str,
        ids: Option<&'a [String]>,
    },
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
            values.push((*group_id).into());
            let users = match ids {
                Some(ids) => {
                    values.push(id_array(ids)?.into());
                    format!(
                        "SELECT gm.user_id FROM group_members gm WHERE gm.group_id = $2 AND {}",
                        id_in(backend, "gm.user_id", "$3")
                    )
                }
                None => "SELECT gm.user_id FROM group_members gm WHERE gm.group_id = $2".to_owned(),
            };
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
    let accounts = matching_accounts(&users);
    if let (DbBackend::Postgres, Leavers::User { .. }) = (backend, &leavers) {
        let lock = format!("SELECT id FROM accounts WHERE id IN ({accounts}) ORDER BY id FOR UPDATE");
        conn.query_all_raw(Statement::from_sql_and_values(backend, lock, values.clone()))
            .await?;
    }
    let memberships =
        format!("org_id = $1 AND provenance = '{DELEGATED}'{from_group} AND account_id IN ({accounts})");

    let n = values.len();
    let mut audited = values.clone();
    // One event per membership, written by the same selection the delete uses. The event's data
    // is JSON assembled in SQL from a prefix made here (so every string in it is escaped) and the
    // row's team and group ids (integers and our own UUIDs).
    let prefix =
        serde_json::json!({"provenance": DELEGATED, "reason": leavers.reason().as_str()}).to_string();
    let prefix = format!("{},\"teamId\":", prefix.trim_end_matches('}'));
    audited.extend([
        audit.actor.as_str().into(),
        audit.actor_detail.as_ref().map(ToString::to_string).into(),
        audit.correlation_id.as_str().into(),
        now_micros().into(),
        prefix.into(),
    ]);
    let [actor, detail, correlation, at, data] = [n + 1, n + 2, n + 3, n + 4, n + 5];
    let record = format!(
        "INSERT INTO audit_events (org_id, event_type, actor, actor_detail, target, correlation_id, at, data) \
         SELECT $1, 'team_member_deleted', ${actor}, ${detail}, account_id, ${correlation}, ${at}, \
         ${data} || CAST(team_id AS TEXT) || ',\"idpGroupId\":\"' || delegated_from || '\"}}' \
         FROM team_members WHERE {memberships}"
    );
    conn.execute_raw(Statement::from_sql_and_values(backend, record, audited))
        .await?;
    let delete = format!("DELETE FROM team_members WHERE {memberships}");
    Ok(conn
        .execute_raw(Statement::from_sql_and_values(backend, delete, values))
        .await?
        .rows_affected())
}

/// SQL selecting the ids of the accounts that the SCIM users selected by `users` match, by the
/// organization's `accountMatch`, and none when its `pushDeprovisioning` is off. By e-mail: an
/// account whose e-mail key equals the user's `userName` key or one of its e-mails' keys (a
/// `userName` that is not an address equals no account's e-mail). By `externalId`: the account's
/// subject (the instance's one SSO issuer's `sub`, or Entra's `oid`).
fn matching_accounts(users: &str) -> String {
    let gate = |mode: &str| {
        format!(
            "EXISTS (SELECT 1 FROM organizations o WHERE o.id = $1 AND o.push_deprovisioning \
             AND o.account_match = '{mode}')"
        )
    };
    let (email, external) = (gate(ACCOUNT_MATCH_EMAIL), gate(ACCOUNT_MATCH_EXTERNAL_ID));
    format!(
        "SELECT a.id FROM accounts a JOIN scim_users u ON a.email_key = u.user_name_key \
           WHERE u.org_id = $1 AND u.id IN ({users}) AND {email} \
         UNION SELECT a.id FROM accounts a JOIN scim_user_emails e ON a.email_key = e.value_key \
           WHERE e.org_id = $1 AND e.user_id IN ({users}) AND {email} \
         UNION SELECT a.id FROM accounts a JOIN scim_users u ON a.subject = u.external_id \
           WHERE u.org_id = $1 AND u.id IN ({users}) AND {external}"
    )
}
