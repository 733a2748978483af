//! Teams, their delegation to catalog rows, their members, and the accounts members are.

use std::collections::HashMap;

use entity::{account, idp_group, team, team_member};
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Value, json};

use super::audit::{self, AuditContext};
use super::{Store, StoreError, WriteError, now_micros, unstorable};
use crate::scim::names::fold_key;

/// `provenance` of a membership an owner made.
pub const MANUAL: &str = "MANUAL";
/// `provenance` of a membership a catalog row brought.
pub const DELEGATED: &str = "DELEGATED";

/// A team with its link's display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRow {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub description: Option<String>,
    pub idp_group_id: Option<String>,
    pub idp_group_name: Option<String>,
    pub orphaned_group_name: Option<String>,
    pub orphaned_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// MANUAL, DELEGATED (linked to a catalog row) or ORPHANED (its row was removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelegationState {
    Manual,
    Delegated,
    Orphaned,
}

impl DelegationState {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DelegationState::Manual => "MANUAL",
            DelegationState::Delegated => "DELEGATED",
            DelegationState::Orphaned => "ORPHANED",
        }
    }
}

impl TeamRow {
    /// The team's delegation state, derived from its columns.
    pub fn state(&self) -> DelegationState {
        if self.idp_group_id.is_some() {
            DelegationState::Delegated
        } else if self.orphaned_group_name.is_some() {
            DelegationState::Orphaned
        } else {
            DelegationState::Manual
        }
    }
}

/// A team member as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMemberRow {
    pub account_id: String,
    pub email: Option<String>,
    pub provenance: String,
}

/// What an update does to a team's link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkChange {
    Keep,
    /// `idpGroupId: null`: back to MANUAL, members kept as MANUAL.
    Clear,
    /// Link to this catalog row of the same organization.
    Set(String),
}

/// The fields of a team create or update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamFields {
    pub name: String,
    pub description: Option<String>,
}

/// Names of the given catalog rows, by id.
async fn group_names<C: ConnectionTrait>(
    conn: &C,
    ids: Vec<String>,
) -> Result<HashMap<String, String>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String)> = idp_group::Entity::find()
        .select_only()
        .column(idp_group::Column::Id)
        .column(idp_group::Column::DisplayName)
        .filter(idp_group::Column::Id.is_in(ids))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

async fn with_names<C: ConnectionTrait>(
    conn: &C,
    teams: Vec<team::Model>,
) -> Result<Vec<TeamRow>, StoreError> {
    let names = group_names(
        conn,
        teams.iter().filter_map(|t| t.idp_group_id.clone()).collect(),
    )
    .await?;
    Ok(teams
        .into_iter()
        .map(|t| TeamRow {
            idp_group_name: t.idp_group_id.as_ref().and_then(|id| names.get(id).cloned()),
            id: t.id,
            org_id: t.org_id,
            name: t.name,
            description: t.description,
            idp_group_id: t.idp_group_id,
            orphaned_group_name: t.orphaned_group_name,
            orphaned_at: t.orphaned_at,
            created_at: t.created_at,
            updated_at: t.updated_at,
        })
        .collect())
}

/// Manual membership changes are for MANUAL teams: a delegated (or orphaned) team's members
/// come from the IdP until its link is cleared.
fn require_manual(team: &team::Model) -> Result<(), WriteError> {
    if team.idp_group_id.is_some() || team.orphaned_group_name.is_some() {
        return Err(WriteError::Conflict(
            "the team is delegated to an IdP group (or orphaned): its members come from the IdP".into(),
        ));
    }
    Ok(())
}

/// The team, locked for the rest of the transaction on PostgreSQL.
async fn lock_team(txn: &DatabaseTransaction, org_id: i64, team_id: i64) -> Result<team::Model, WriteError> {
    team::Entity::find_by_id(team_id)
        .filter(team::Column::OrgId.eq(org_id))
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or(WriteError::NotFound)
}

/// A catalog row of `org_id` (a link must not cross organizations; the foreign key agrees).
async fn catalog_row_name(txn: &DatabaseTransaction, org_id: i64, id: &str) -> Result<String, WriteError> {
    let not_a_row = || {
        WriteError::Rejected(crate::scim::error::ScimError::invalid_value(format!(
            "idpGroupId {id} is not a catalog row of this organization"
        )))
    };
    if unstorable(id) {
        return Err(not_a_row());
    }
    let name: Option<String> = idp_group::Entity::find_by_id(id.to_owned())
        .select_only()
        .column(idp_group::Column::DisplayName)
        .filter(idp_group::Column::OrgId.eq(org_id))
        .into_tuple()
        .one(txn)
        .await?;
    name.ok_or_else(not_a_row)
}

fn link_json(id: Option<&str>, name: Option<&str>) -> Value {
    match id {
        Some(id) => json!({"id": id, "displayName": name}),
        None => Value::Null,
    }
}

/// Removes the team's DELEGATED memberships (re-linking, or the row going away), audited set-based.
async fn purge_delegated(
    txn: &DatabaseTransaction,
    audit_ctx: &AuditContext,
    org_id: i64,
    team_id: i64,
    group_id: &str,
    group_name: &str,
) -> Result<(), StoreError> {
    audit::record_team_member_purge(txn, audit_ctx, org_id, team_id, group_id, group_name).await?;
    team_member::Entity::delete_many()
        .filter(team_member::Column::TeamId.eq(team_id))
        .filter(team_member::Column::OrgId.eq(org_id))
        .filter(team_member::Column::Provenance.eq(DELEGATED))
        .exec(txn)
        .await?;
    Ok(())
}

impl Store {
    /// Teams of `org_id`, by name.
    pub async fn list_teams(&self, org_id: i64) -> Result<Vec<TeamRow>, StoreError> {
        let teams = team::Entity::find()
            .filter(team::Column::OrgId.eq(org_id))
            .order_by_asc(team::Column::Name)
            .all(self.conn())
            .await?;
        with_names(self.conn(), teams).await
    }

    /// One team of `org_id`.
    pub async fn find_team(&self, org_id: i64, team_id: i64) -> Result<Option<TeamRow>, StoreError> {
        let team = team::Entity::find_by_id(team_id)
            .filter(team::Column::OrgId.eq(org_id))
            .one(self.conn())
            .await?;
        Ok(with_names(self.conn(), team.into_iter().collect()).await?.pop())
    }

    /// Teams of `org_id` keyed by the catalog row they are linked to.
    pub async fn teams_by_catalog_row(&self, org_id: i64) -> Result<HashMap<String, TeamRow>, StoreError> {
        Ok(self
            .list_teams(org_id)
            .await?
            .into_iter()
            .filter_map(|t| t.idp_group_id.clone().map(|g| (g, t)))
            .collect())
    }

    /// Creates a team, optionally linked to a catalog row of the same organization.
    pub async fn create_team(
        &self,
        org_id: i64,
        fields: &TeamFields,
        idp_group_id: Option<&str>,
        audit_ctx: &AuditContext,
    ) -> Result<TeamRow, WriteError> {
        let txn = self.begin_write().await?;
        let group_name = match idp_group_id {
            Some(id) => Some(catalog_row_name(&txn, org_id, id).await?),
            None => None,
        };
        let now = now_micros();
        let row = team::ActiveModel {
            org_id: Set(org_id),
            name: Set(fields.name.clone()),
            description: Set(fields.description.clone()),
            idp_group_id: Set(idp_group_id.map(str::to_owned)),
            orphaned_group_name: Set(None),
            orphaned_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        audit::record(
            &txn,
            audit_ctx,
            Some(org_id),
            "team_created",
            &row.id.to_string(),
            Some(json!({
                "name": fields.name, "idpGroup": link_json(idp_group_id, group_name.as_deref()),
            })),
        )
        .await?;
        txn.commit().await?;
        Ok(TeamRow {
            id: row.id,
            org_id,
            name: row.name,
            description: row.description,
            idp_group_id: row.idp_group_id,
            idp_group_name: group_name,
            orphaned_group_name: None,
            orphaned_at: None,
            created_at: now,
            updated_at: now,
        })
    }

    /// Updates a team's fields and link. Re-linking purges the old row's DELEGATED members at
    /// once; clearing the link keeps every member, as MANUAL.
    pub async fn update_team(
        &self,
        org_id: i64,
        team_id: i64,
        fields: &TeamFields,
        link: &LinkChange,
        audit_ctx: &AuditContext,
    ) -> Result<TeamRow, WriteError> {
        let txn = self.begin_write().await?;
        let current = lock_team(&txn, org_id, team_id).await?;
        let old_link = current.idp_group_id.clone();
        let old_name = match &old_link {
            Some(id) => group_names(&txn, vec![id.clone()]).await?.remove(id),
            None => None,
        };
        let now = now_micros();
        let mut update = Query::update();
        update
            .table(team::Entity)
            .value(team::Column::Name, fields.name.as_str())
            .value(team::Column::Description, fields.description.clone())
            .value(team::Column::UpdatedAt, now)
            .and_where(team::Column::Id.eq(team_id))
            .and_where(team::Column::OrgId.eq(org_id));
        let mut new_name = old_name.clone();
        match link {
            LinkChange::Keep => {}
            LinkChange::Set(id) if old_link.as_deref() == Some(id.as_str()) => {}
            LinkChange::Set(id) => {
                new_name = Some(catalog_row_name(&txn, org_id, id).await?);
                if let Some(old) = &old_link {
                    purge_delegated(
                        &txn,
                        audit_ctx,
                        org_id,
                        team_id,
                        old,
                        old_name.as_deref().unwrap_or_default(),
                    )
                    .await?;
                }
                update
                    .value(team::Column::IdpGroupId, id.as_str())
                    .value(team::Column::OrphanedGroupName, Option::<String>::None)
                    .value(team::Column::OrphanedAt, Option::<i64>::None);
            }
            LinkChange::Clear => {
                new_name = None;
                let mut keep = Query::update();
                keep.table(team_member::Entity)
                    .value(team_member::Column::Provenance, MANUAL)
                    .value(team_member::Column::DelegatedFrom, Option::<String>::None)
                    .and_where(team_member::Column::TeamId.eq(team_id))
                    .and_where(team_member::Column::OrgId.eq(org_id));
                txn.execute(&keep).await?;
                update
                    .value(team::Column::IdpGroupId, Option::<String>::None)
                    .value(team::Column::OrphanedGroupName, Option::<String>::None)
                    .value(team::Column::OrphanedAt, Option::<i64>::None);
            }
        }
        txn.execute(&update).await?;
        let updated = lock_team(&txn, org_id, team_id).await?;
        let mut data = json!({"name": {"old": current.name, "new": fields.name}});
        if updated.idp_group_id != old_link || updated.orphaned_group_name != current.orphaned_group_name {
            data["idpGroup"] = json!({
                "old": link_json(old_link.as_deref(), old_name.as_deref()),
                "new": link_json(updated.idp_group_id.as_deref(), new_name.as_deref()),
            });
        }
        audit::record(
            &txn,
            audit_ctx,
            Some(org_id),
            "team_updated",
            &team_id.to_string(),
            Some(data),
        )
        .await?;
        txn.commit().await?;
        with_names(self.conn(), vec![updated])
            .await?
            .pop()
            .ok_or(WriteError::NotFound)
    }

    /// Deletes a MANUAL team (a delegated or orphaned one keeps its warning until the link is cleared).
    pub async fn delete_team(
        &self,
        org_id: i64,
        team_id: i64,
        audit_ctx: &AuditContext,
    ) -> Result<(), WriteError> {
        let txn = self.begin_write().await?;
        let current = lock_team(&txn, org_id, team_id).await?;
        if current.idp_group_id.is_some() || current.orphaned_group_name.is_some() {
            return Err(WriteError::Conflict(
                "the team is delegated to an IdP group (or orphaned): clear its idpGroupId first".into(),
            ));
        }
        team::Entity::delete_by_id(team_id).exec(&txn).await?;
        audit::record(
            &txn,
            audit_ctx,
            Some(org_id),
            "team_deleted",
            &team_id.to_string(),
            Some(json!({"name": current.name})),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Members of a team of `org_id`, by account id.
    pub async fn team_members(
        &self,
        org_id: i64,
        team_id: i64,
    ) -> Result<Option<Vec<TeamMemberRow>>, StoreError> {
        if self.find_team(org_id, team_id).await?.is_none() {
            return Ok(None);
        }
        let rows: Vec<(String, String, Option<String>)> = team_member::Entity::find()
            .select_only()
            .column(team_member::Column::AccountId)
            .column(team_member::Column::Provenance)
            .column(account::Column::Email)
            .join(
                sea_orm::JoinType::InnerJoin,
                team_member::Entity::belongs_to(account::Entity)
                    .from(team_member::Column::AccountId)
                    .to(account::Column::Id)
                    .into(),
            )
            .filter(team_member::Column::TeamId.eq(team_id))
            .filter(team_member::Column::OrgId.eq(org_id))
            .order_by_asc(team_member::Column::AccountId)
            .into_tuple()
            .all(self.conn())
            .await?;
        Ok(Some(
            rows.into_iter()
                .map(|(account_id, provenance, email)| TeamMemberRow {
                    account_id,
                    email,
                    provenance,
                })
                .collect(),
        ))
    }

    /// Adds an account (found by e-mail, or pre-created) to a MANUAL team.
    pub async fn add_manual_member(
        &self,
        org_id: i64,
        team_id: i64,
        email: &str,
        audit_ctx: &AuditContext,
    ) -> Result<TeamMemberRow, WriteError> {
        let txn = self.begin_write().await?;
        let team = lock_team(&txn, org_id, team_id).await?;
        require_manual(&team)?;
        let account_id = account_by_email(&txn, Some(org_id), email, audit_ctx).await?;
        let inserted = insert_member(&txn, org_id, team_id, &account_id, MANUAL, None).await?;
        if inserted {
            audit::record(
                &txn,
                audit_ctx,
                Some(org_id),
                "team_member_created",
                &account_id,
                Some(json!({
                    "teamId": team_id, "provenance": MANUAL, "email": email,
                })),
            )
            .await?;
        }
        txn.commit().await?;
        Ok(TeamMemberRow {
            account_id,
            email: Some(email.to_owned()),
            provenance: MANUAL.to_owned(),
        })
    }

    /// Removes a member from a MANUAL team.
    pub async fn remove_manual_member(
        &self,
        org_id: i64,
        team_id: i64,
        account_id: &str,
        audit_ctx: &AuditContext,
    ) -> Result<(), WriteError> {
        if unstorable(account_id) {
            return Err(WriteError::NotFound);
        }
        let txn = self.begin_write().await?;
        let team = lock_team(&txn, org_id, team_id).await?;
        require_manual(&team)?;
        let removed = team_member::Entity::delete_many()
            .filter(team_member::Column::TeamId.eq(team_id))
            .filter(team_member::Column::OrgId.eq(org_id))
            .filter(team_member::Column::AccountId.eq(account_id))
            .exec(&txn)
            .await?
            .rows_affected;
        if removed == 0 {
            return Err(WriteError::NotFound);
        }
        audit::record(
            &txn,
            audit_ctx,
            Some(org_id),
            "team_member_deleted",
            account_id,
            Some(json!({
                "teamId": team_id, "provenance": MANUAL,
            })),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}

async fn insert_member(
    txn: &DatabaseTransaction,
    org_id: i64,
    team_id: i64,
    account_id: &str,
    provenance: &str,
    delegated_from: Option<&str>,
) -> Result<bool, StoreError> {
    let mut insert = Query::insert();
    insert
        .into_table(team_member::Entity)
        .columns([
            team_member::Column::TeamId,
            team_member::Column::AccountId,
            team_member::Column::OrgId,
            team_member::Column::Provenance,
            team_member::Column::DelegatedFrom,
            team_member::Column::CreatedAt,
        ])
        .values_panic([
            team_id.into(),
            account_id.into(),
            org_id.into(),
            provenance.into(),
            delegated_from.map(str::to_owned).into(),
            now_micros().into(),
        ])
        // Idempotent: an existing membership (of either provenance) stays as it is.
        .on_conflict(
            OnConflict::columns([team_member::Column::TeamId, team_member::Column::AccountId])
                .do_nothing()
                .to_owned(),
        );
    Ok(txn.execute(&insert).await?.rows_affected() == 1)
}

/// An account whose e-mail matches (caseless), else a new unbound one (`account_created`).
async fn account_by_email(
    txn: &DatabaseTransaction,
    org_id: Option<i64>,
    email: &str,
    audit_ctx: &AuditContext,
) -> Result<String, StoreError> {
    let key = fold_key(email.trim());
    let existing: Option<String> = account::Entity::find()
        .select_only()
        .column(account::Column::Id)
        .filter(account::Column::EmailKey.eq(key.as_str()))
        .order_by_asc(account::Column::CreatedAt)
        .into_tuple()
        .one(txn)
        .await?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let id = uuid::Uuid::now_v7().to_string();
    account::ActiveModel {
        id: Set(id.clone()),
        issuer: Set(None),
        subject: Set(None),
        email: Set(Some(email.trim().to_owned())),
        email_key: Set(Some(key)),
        created_at: Set(now_micros()),
        last_login_iat: Set(None),
    }
    .insert(txn)
    .await?;
    audit::record(
        txn,
        audit_ctx,
        org_id,
        "account_created",
        &id,
        Some(json!({"email": email.trim(), "preCreated": true})),
    )
    .await?;
    Ok(id)
}
