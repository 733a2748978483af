//! One login applied as one transaction (design §3.5): the account found, bound or created and
//! locked (so one account's logins apply one at a time), the replay guard, the catalog rows the
//! claim values name (looked up by value through indexes, never by scanning teams or
//! organizations), the user's DELEGATED memberships added and removed, organization membership
//! for routed users, ambiguous `externalId` claim values kept as open claim conflicts (see
//! [`super::claim_conflicts`]), every change audited under one correlation id.
//!
//! Lock order, shared with [`Store::remove_catalog_row`]: a catalog row, then its team. A login
//! share-locks the rows its claim matches and then their teams before it writes a membership (a
//! membership's foreign keys would otherwise take the team's key lock before the row's), and a
//! catalog-row delete locks the row and then the team; with one order, neither waits on the
//! other in a cycle, so PostgreSQL never aborts either with a deadlock. SQLite serialises write
//! transactions, so only PostgreSQL needs the explicit locks.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use entity::account;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter, QuerySelect,
    Statement, Value as DbValue,
};
use serde_json::json;

use super::audit::{self, AuditContext};
use super::claim_conflicts;
use super::teams::DELEGATED;
use super::{Store, StoreError, id_array, id_in, int_in, now_micros, param};
use crate::scim::names::fold_key;

/// `claim_match` of organizations whose claim values are compared with `externalId`.
pub const CLAIM_MATCH_EXTERNAL_ID: &str = "externalId";
/// `claim_match` of organizations whose claim values are compared with `displayName` (default).
pub const CLAIM_MATCH_DISPLAY_NAME: &str = "displayName";

/// What the login carries, already verified and read.
#[derive(Debug, Clone)]
pub struct LoginInput<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    pub email: Option<&'a str>,
    pub email_verified: bool,
    pub iat: i64,
    /// The user's groups; `None` when the claim must change nothing (malformed, overage).
    pub groups: Option<&'a [String]>,
}

/// A team membership a login added or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TeamRef {
    pub org_id: i64,
    pub team_id: i64,
}

/// What one login did.
#[derive(Debug, Clone, Default)]
pub struct LoginApplied {
    pub account_id: String,
    pub email: Option<String>,
    pub added: Vec<TeamRef>,
    pub removed: Vec<TeamRef>,
    /// The `iat` was not newer than the last applied login: nothing changed.
    pub stale: bool,
    /// Claim values that matched `externalId`s in several organizations (applied to none, and
    /// kept as open claim conflicts).
    pub ambiguous: u64,
    /// Organizations the user became a member of.
    pub orgs_joined: u64,
}

/// A delegated team whose catalog row a claim value names.
#[derive(Debug, Clone)]
struct Matched {
    group_id: String,
    org_id: i64,
    team_id: i64,
    sso_active: bool,
    /// The claim value it matched (for the ambiguity rule).
    value: String,
    by_external_id: bool,
}

impl Store {
    /// Applies one login: `admits(org_id, sso_active)` says which organizations it may touch
    /// (gates and `org_id` scope). One transaction, audited with `audit`.
    pub async fn apply_login(
        &self,
        input: &LoginInput<'_>,
        admits: &(dyn Fn(i64, bool) -> bool + Send + Sync),
        audit_ctx: &AuditContext,
    ) -> Result<LoginApplied, StoreError> {
        let txn = self.begin_write().await?;
        let account = lock_account(&txn, input, audit_ctx).await?;
        let mut applied = LoginApplied {
            account_id: account.id.clone(),
            email: account.email.clone(),
            ..LoginApplied::default()
        };
        if account.last_login_iat.is_some_and(|last| input.iat <= last) {
            applied.stale = true;
            txn.commit().await?;
            return Ok(applied);
        }
        let Some(groups) = input.groups else {
            // A claim that must change nothing: the account (found or created) is all.
            txn.commit().await?;
            return Ok(applied);
        };
        let backend = self.backend();
        let (matched, ambiguous) = match_rows(&txn, backend, groups, admits).await?;
        applied.ambiguous = ambiguous.len() as u64;
        let matched = lock_teams(&txn, backend, matched).await?;
        let keep: HashSet<i64> = matched.iter().map(|m| m.team_id).collect();

        // DELEGATED memberships of teams whose row the claim no longer names.
        let current = delegated_memberships(&txn, backend, &account.id).await?;
        let gone: Vec<String> = current
            .iter()
            .filter(|(team, org, sso)| admits(*org, *sso) && !keep.contains(team))
            .map(|(team, _, _)| team.to_string())
            .collect();
        if !gone.is_empty() {
            let sql = format!(
                "DELETE FROM team_members WHERE account_id = {} AND provenance = '{DELEGATED}' AND {} \
                 RETURNING team_id, org_id, delegated_from",
                param(backend, 1),
                int_in(backend, "team_id", &param(backend, 2)),
            );
            let rows = txn
                .query_all_raw(Statement::from_sql_and_values(
                    backend,
                    sql,
                    [account.id.clone().into(), id_array(&gone)?.into()],
                ))
                .await?;
            let mut events = Vec::with_capacity(rows.len());
            for row in rows {
                let team_id: i64 = row.try_get_by_index(0)?;
                let org_id: i64 = row.try_get_by_index(1)?;
                let from: Option<String> = row.try_get_by_index(2)?;
                let data = json!({
                    "teamId": team_id, "provenance": DELEGATED, "idpGroupId": from, "reason": "login_claim",
                });
                events.push((org_id, account.id.clone(), data));
                applied.removed.push(TeamRef { org_id, team_id });
            }
            audit::record_each(&txn, audit_ctx, "team_member_deleted", events).await?;
        }

        // DELEGATED memberships of teams whose row the claim names, and the organizations.
        let now = now_micros();
        let mut orgs = BTreeSet::new();
        for m in &matched {
            orgs.insert(m.org_id);
            let sql = format!(
                "INSERT INTO team_members (team_id, account_id, org_id, provenance, delegated_from, created_at) \
                 VALUES ({}, {}, {}, '{DELEGATED}', {}, {}) ON CONFLICT DO NOTHING",
                param(backend, 1),
                param(backend, 2),
                param(backend, 3),
                param(backend, 4),
                param(backend, 5),
            );
            let done = txn
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    sql,
                    [
                        m.team_id.into(),
                        account.id.clone().into(),
                        m.org_id.into(),
                        m.group_id.clone().into(),
                        now.into(),
                    ],
                ))
                .await?;
            if done.rows_affected() == 1 {
                audit::record(
                    &txn,
                    audit_ctx,
                    Some(m.org_id),
                    "team_member_created",
                    &account.id,
                    Some(json!({
                        "teamId": m.team_id, "provenance": DELEGATED, "idpGroupId": m.group_id,
                        "reason": "login_claim",
                    })),
                )
                .await?;
                applied.added.push(TeamRef {
                    org_id: m.org_id,
                    team_id: m.team_id,
                });
            }
        }
        for org_id in orgs {
            let sql = format!(
                "INSERT INTO org_members (org_id, account_id, role, added_by_routing, created_at) \
                 VALUES ({}, {}, 'member', {}, {}) ON CONFLICT DO NOTHING",
                param(backend, 1),
                param(backend, 2),
                param(backend, 3),
                param(backend, 4),
            );
            let done = txn
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    sql,
                    [org_id.into(), account.id.clone().into(), true.into(), now.into()],
                ))
                .await?;
            if done.rows_affected() == 1 {
                audit::record(
                    &txn,
                    audit_ctx,
                    Some(org_id),
                    "org_member_created",
                    &account.id,
                    Some(json!({"role": "member", "addedByRouting": true})),
                )
                .await?;
                applied.orgs_joined += 1;
            }
        }
        claim_conflicts::reconcile(&txn, backend, groups, &ambiguous).await?;
        let sql = format!(
            "UPDATE accounts SET last_login_iat = {} WHERE id = {}",
            param(backend, 1),
            param(backend, 2)
        );
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [input.iat.into(), account.id.clone().into()],
        ))
        .await?;
        txn.commit().await?;
        applied.added.sort();
        applied.removed.sort();
        Ok(applied)
    }

    /// How many organizations there are, and how many have SSO active (the topology).
    pub async fn org_counts(&self) -> Result<(u64, u64), StoreError> {
        let backend = self.backend();
        let row = self
            .conn()
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN sso_active THEN 1 ELSE 0 END), 0) FROM organizations",
            ))
            .await?;
        let Some(row) = row else { return Ok((0, 0)) };
        let all: i64 = row.try_get_by_index(0)?;
        let sso: i64 = row.try_get_by_index(1)?;
        Ok((all.max(0) as u64, sso.max(0) as u64))
    }

    /// Whether some organization has SSO active: one index-free probe that stops at the first.
    pub async fn any_sso_org(&self) -> Result<bool, StoreError> {
        let row = self
            .conn()
            .query_one_raw(Statement::from_string(
                self.backend(),
                "SELECT 1 FROM organizations WHERE sso_active LIMIT 1",
            ))
            .await?;
        Ok(row.is_some())
    }
}

/// The account of this login, locked: by `(issuer, subject)`; else an account pre-created by
/// this e-mail, bound once and only when the IdP verified the e-mail; else a new one.
async fn lock_account(
    txn: &DatabaseTransaction,
    input: &LoginInput<'_>,
    audit_ctx: &AuditContext,
) -> Result<account::Model, StoreError> {
    if let Some(found) = find_account(txn, input).await? {
        return Ok(found);
    }
    let backend = txn.get_database_backend();
    let email_key = input.email.map(|e| fold_key(e.trim()));
    if input.email_verified
        && let Some(key) = &email_key
    {
        // The pre-created row, bound in place (its team memberships stay with it); a concurrent
        // login that bound it first leaves `subject` set, and this update then does nothing.
        let sql = format!(
            "UPDATE accounts SET issuer = {}, subject = {} WHERE email_key = {} AND subject IS NULL",
            param(backend, 1),
            param(backend, 2),
            param(backend, 3),
        );
        let done = txn
            .execute_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [input.issuer.into(), input.subject.into(), key.as_str().into()],
            ))
            .await?;
        if done.rows_affected() > 0
            && let Some(bound) = find_account(txn, input).await?
        {
            audit::record(
                txn,
                audit_ctx,
                None,
                "account_bound",
                &bound.id,
                Some(json!({"email": input.email})),
            )
            .await?;
            return Ok(bound);
        }
    }
    let id = uuid::Uuid::now_v7().to_string();
    // A concurrent first login of the same account inserts too: one row wins, the other reads it.
    let sql = format!(
        "INSERT INTO accounts (id, issuer, subject, email, email_key, created_at, last_login_iat) \
         VALUES ({}, {}, {}, {}, {}, {}, NULL) ON CONFLICT DO NOTHING",
        param(backend, 1),
        param(backend, 2),
        param(backend, 3),
        param(backend, 4),
        param(backend, 5),
        param(backend, 6),
    );
    let values: [DbValue; 6] = [
        id.clone().into(),
        input.issuer.into(),
        input.subject.into(),
        input.email.map(|e| e.trim().to_owned()).into(),
        email_key.into(),
        now_micros().into(),
    ];
    let inserted = txn
        .execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .rows_affected()
        == 1;
    let account = find_account(txn, input)
        .await?
        .ok_or_else(|| StoreError::Other(sea_orm::DbErr::RecordNotFound("the login's account".into())))?;
    if inserted && account.id == id {
        audit::record(
            txn,
            audit_ctx,
            None,
            "account_created",
            &id,
            Some(json!({"email": input.email, "issuer": input.issuer})),
        )
        .await?;
    }
    Ok(account)
}

async fn find_account(
    txn: &DatabaseTransaction,
    input: &LoginInput<'_>,
) -> Result<Option<account::Model>, StoreError> {
    Ok(account::Entity::find()
        .filter(account::Column::Issuer.eq(input.issuer))
        .filter(account::Column::Subject.eq(input.subject))
        .lock_exclusive()
        .one(txn)
        .await?)
}

/// The delegated teams whose catalog rows the claim values name, in organizations `admits`
/// lets in, share-locking those rows on PostgreSQL (first in the lock order); and the claim
/// values that matched `externalId`s in several organizations, with those organizations (such
/// values apply to none). One statement,
/// through the display-key and externalId indexes: its cost follows the claim, not the instance.
async fn match_rows(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    groups: &[String],
    admits: &(dyn Fn(i64, bool) -> bool + Send + Sync),
) -> Result<(Vec<Matched>, BTreeMap<String, BTreeSet<i64>>), StoreError> {
    if groups.is_empty() {
        return Ok((Vec::new(), BTreeMap::new()));
    }
    let keys: Vec<String> = groups.iter().map(|g| fold_key(g)).collect();
    let lock = match backend {
        DbBackend::Postgres => " ORDER BY g.id FOR SHARE OF g",
        _ => "",
    };
    let sql = format!(
        "SELECT g.id, g.org_id, g.display_name, g.external_id, o.claim_match, o.sso_active, t.id \
         FROM idp_groups g \
         JOIN organizations o ON o.id = g.org_id \
         JOIN teams t ON t.idp_group_id = g.id AND t.org_id = g.org_id \
         WHERE (o.claim_match <> '{CLAIM_MATCH_EXTERNAL_ID}' AND {}) \
            OR (o.claim_match = '{CLAIM_MATCH_EXTERNAL_ID}' AND {}){lock}",
        id_in(backend, "g.display_key", &param(backend, 1)),
        id_in(backend, "g.external_id", &param(backend, 2)),
    );
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [id_array(&keys)?.into(), id_array(groups)?.into()],
        ))
        .await?;
    let wanted: HashSet<&str> = groups.iter().map(String::as_str).collect();
    let mut matched = Vec::new();
    for row in rows {
        let display_name: String = row.try_get_by_index(2)?;
        let external_id: Option<String> = row.try_get_by_index(3)?;
        let claim_match: String = row.try_get_by_index(4)?;
        let by_external_id = claim_match == CLAIM_MATCH_EXTERNAL_ID;
        // The key found the candidates; matching itself is exact and case-sensitive.
        let value = if by_external_id {
            external_id.filter(|e| wanted.contains(e.as_str()))
        } else {
            Some(display_name).filter(|d| wanted.contains(d.as_str()))
        };
        let Some(value) = value else { continue };
        matched.push(Matched {
            group_id: row.try_get_by_index(0)?,
            org_id: row.try_get_by_index(1)?,
            sso_active: row.try_get_by_index(5)?,
            team_id: row.try_get_by_index(6)?,
            value,
            by_external_id,
        });
    }
    // externalId is unique only within an organization: a value that names rows in several
    // organizations identifies none of them.
    let mut orgs_per_value: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for m in matched.iter().filter(|m| m.by_external_id) {
        orgs_per_value
            .entry(m.value.clone())
            .or_default()
            .insert(m.org_id);
    }
    orgs_per_value.retain(|_, orgs| orgs.len() > 1);
    let ambiguous = orgs_per_value;
    let matched = matched
        .into_iter()
        .filter(|m| !(m.by_external_id && ambiguous.contains_key(&m.value)))
        .filter(|m| admits(m.org_id, m.sso_active))
        .collect();
    Ok((matched, ambiguous))
}

/// Share-locks the matched rows' teams on PostgreSQL (second in the lock order) and keeps the
/// matches whose team is still linked to the same row once the lock is held.
async fn lock_teams(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    matched: Vec<Matched>,
) -> Result<Vec<Matched>, StoreError> {
    if backend != DbBackend::Postgres || matched.is_empty() {
        return Ok(matched);
    }
    let ids: Vec<String> = matched.iter().map(|m| m.team_id.to_string()).collect();
    let sql = format!(
        "SELECT id, idp_group_id FROM teams WHERE {} ORDER BY id FOR SHARE",
        int_in(backend, "id", "$1")
    );
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [id_array(&ids)?.into()],
        ))
        .await?;
    let mut linked = HashSet::new();
    for row in rows {
        let id: i64 = row.try_get_by_index(0)?;
        let group: Option<String> = row.try_get_by_index(1)?;
        if let Some(group) = group {
            linked.insert((id, group));
        }
    }
    Ok(matched
        .into_iter()
        .filter(|m| linked.contains(&(m.team_id, m.group_id.clone())))
        .collect())
}

/// The account's DELEGATED memberships: (team, organization, its SSO state).
async fn delegated_memberships(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    account_id: &str,
) -> Result<Vec<(i64, i64, bool)>, StoreError> {
    let sql = format!(
        "SELECT tm.team_id, tm.org_id, o.sso_active FROM team_members tm \
         JOIN organizations o ON o.id = tm.org_id \
         WHERE tm.account_id = {} AND tm.provenance = '{DELEGATED}'",
        param(backend, 1)
    );
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [account_id.into()]))
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok((
                row.try_get_by_index(0)?,
                row.try_get_by_index(1)?,
                row.try_get_by_index(2)?,
            ))
        })
        .collect()
}
