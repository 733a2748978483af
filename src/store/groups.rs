//! The group catalog: SCIM Groups and their membership rows.

use std::collections::HashMap;

use entity::{group_member, idp_group, organization, team, team_member};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;

use super::ListQuery;
use super::audit::{self, AuditContext};
use super::conflicts;
use super::filter_sql::Target;
use super::membership::{MemberCounts, MemberWrite, check_users, dedup, remove_members, write_members};
use super::{
    ListError, Page, Store, StoreError, WriteError, Written, chunks, now_micros, sort_column, unstorable,
};
use crate::scim::names::{KEY_VERSION, fold_key};
use crate::scim::patch::GroupChange;
use crate::scim::resource::IfMatch;

/// One catalog row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    pub id: String,
    pub org_id: i64,
    pub display_name: String,
    pub external_id: Option<String>,
    pub source: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl From<idp_group::Model> for GroupRow {
    fn from(m: idp_group::Model) -> Self {
        GroupRow {
            id: m.id,
            org_id: m.org_id,
            display_name: m.display_name,
            external_id: m.external_id,
            source: m.source,
            created_at: m.created_at,
            updated_at: m.updated_at,
            version: m.version,
        }
    }
}

/// Who holds a display-name key: the row and its organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameHolder {
    pub group_id: String,
    pub org_id: i64,
    pub org_name: String,
}

/// What Groups sort by (`sortBy`, compared case-insensitively) and the column behind it.
const SORTABLE: &[(&str, idp_group::Column)] = &[
    ("id", idp_group::Column::Id),
    ("displayName", idp_group::Column::DisplayKey),
    ("externalId", idp_group::Column::ExternalId),
    ("meta.created", idp_group::Column::CreatedAt),
    ("meta.lastModified", idp_group::Column::UpdatedAt),
];

/// `source` of rows the IdP provisioned.
pub const SOURCE_SCIM: &str = "SCIM";
/// `source` of rows an owner added by hand.
pub const SOURCE_MANUAL: &str = "MANUAL";

/// Who removes a catalog row, which decides what may be removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remover {
    /// SCIM DELETE: only rows the IdP provisioned exist for it.
    Scim,
    /// An owner's manual delete: a SCIM-managed row can only be removed by SCIM.
    Owner,
}

/// What a catalog-row removal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// The team that lost its link, now orphaned.
    pub orphaned_team: Option<i64>,
    /// DELEGATED memberships purged with the row.
    pub purged_members: u64,
}

impl Store {
    /// Inserts a SCIM group with its members in one transaction. A MANUAL row of the same
    /// organization with the same name is promoted in place (same id, team links untouched).
    pub async fn insert_group(
        &self,
        org_id: i64,
        display_name: &str,
        external_id: Option<&str>,
        members: Vec<String>,
        audit: &AuditContext,
    ) -> Result<GroupRow, WriteError> {
        let txn = self.begin_write().await?;
        let members = dedup(members);
        check_users(&txn, org_id, &members).await?;
        let now = now_micros();
        let key = fold_key(display_name);
        let mut promote = Query::update();
        promote
            .table(idp_group::Entity)
            .value(idp_group::Column::Source, SOURCE_SCIM)
            .value(idp_group::Column::DisplayName, display_name)
            .value(idp_group::Column::ExternalId, external_id)
            .value(idp_group::Column::UpdatedAt, now)
            .value(
                idp_group::Column::Version,
                Expr::col(idp_group::Column::Version).add(1),
            )
            .and_where(idp_group::Column::OrgId.eq(org_id))
            .and_where(idp_group::Column::DisplayKey.eq(key.as_str()))
            .and_where(idp_group::Column::Source.eq(SOURCE_MANUAL));
        let row: GroupRow = if txn.execute(&promote).await?.rows_affected() == 1 {
            let row = idp_group::Entity::find()
                .filter(idp_group::Column::OrgId.eq(org_id))
                .filter(idp_group::Column::DisplayKey.eq(key.as_str()))
                .one(&txn)
                .await?
                .ok_or(WriteError::NotFound)?;
            audit::record(&txn, audit, Some(org_id), "idp_group_updated", &row.id, Some(json!({
                "displayName": display_name, "source": {"old": SOURCE_MANUAL, "new": SOURCE_SCIM}, "promoted": true
            })))
            .await?;
            row.into()
        } else {
            insert_row(&txn, org_id, display_name, external_id, SOURCE_SCIM, audit)
                .await?
                .into()
        };
        write_members(&txn, org_id, &row.id, &members, MemberWrite::Add, audit).await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Adds a MANUAL catalog row (an owner's entry for a group the IdP does not push).
    pub async fn insert_manual_group(
        &self,
        org_id: i64,
        display_name: &str,
        audit: &AuditContext,
    ) -> Result<GroupRow, WriteError> {
        let txn = self.begin_write().await?;
        let row = insert_row(&txn, org_id, display_name, None, SOURCE_MANUAL, audit).await?;
        txn.commit().await?;
        Ok(row.into())
    }

    /// One SCIM group of `org_id` (MANUAL rows are not the IdP's to see).
    pub async fn find_group(&self, org_id: i64, id: &str) -> Result<Option<GroupRow>, StoreError> {
        if unstorable(id) {
            return Ok(None);
        }
        let row = idp_group::Entity::find_by_id(id.to_owned())
            .filter(idp_group::Column::OrgId.eq(org_id))
            .filter(idp_group::Column::Source.eq(SOURCE_SCIM))
            .one(self.conn())
            .await?;
        Ok(row.map(GroupRow::from))
    }

    /// Member user ids of the given groups (of `org_id`), each list ordered by user id.
    pub async fn group_members(
        &self,
        org_id: i64,
        group_ids: &[String],
    ) -> Result<HashMap<String, Vec<String>>, StoreError> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        // One group (a GET, perhaps of 100 000 members): read only the user ids, not a copy of
        // the group id per row.
        if let [group_id] = group_ids {
            let members: Vec<String> = group_member::Entity::find()
                .select_only()
                .column(group_member::Column::UserId)
                .filter(group_member::Column::OrgId.eq(org_id))
                .filter(group_member::Column::GroupId.eq(group_id.as_str()))
                .order_by_asc(group_member::Column::UserId)
                .into_tuple()
                .all(self.conn())
                .await?;
            out.insert(group_id.clone(), members);
            return Ok(out);
        }
        for chunk in chunks(group_ids) {
            let rows: Vec<(String, String)> = group_member::Entity::find()
                .select_only()
                .column(group_member::Column::GroupId)
                .column(group_member::Column::UserId)
                .filter(group_member::Column::OrgId.eq(org_id))
                .filter(group_member::Column::GroupId.is_in(chunk.iter().cloned()))
                .order_by_asc(group_member::Column::GroupId)
                .order_by_asc(group_member::Column::UserId)
                .into_tuple()
                .all(self.conn())
                .await?;
            for (group_id, user_id) in rows {
                out.entry(group_id).or_default().push(user_id);
            }
        }
        Ok(out)
    }

    /// A filtered, sorted page of the SCIM groups of `org_id`.
    pub async fn list_groups(&self, org_id: i64, query: &ListQuery) -> Result<Page<GroupRow>, ListError> {
        let select = idp_group::Entity::find()
            .filter(idp_group::Column::OrgId.eq(org_id))
            .filter(idp_group::Column::Source.eq(SOURCE_SCIM));
        let sort = query
            .sort_by
            .as_ref()
            .map(|p| sort_column(p, SORTABLE))
            .transpose()?;
        let page = self
            .page(select, query, Target::Groups, sort, idp_group::Column::Id)
            .await?;
        Ok(Page {
            total: page.total,
            rows: page.rows.into_iter().map(GroupRow::from).collect(),
            positions: page.positions,
        })
    }

    /// Applies `writes` to one group in one transaction, if `if_match` admits its version.
    pub async fn update_group(
        &self,
        org_id: i64,
        id: &str,
        if_match: Option<&IfMatch>,
        writes: Vec<GroupChange>,
        audit: &AuditContext,
    ) -> Result<Written<GroupRow>, WriteError> {
        if unstorable(id) {
            return Err(WriteError::NotFound);
        }
        if let Some(unchanged) = self.unchanged_by(org_id, id, if_match, &writes).await? {
            return Ok(Written::unchanged(unchanged));
        }
        let txn = self.begin_write().await?;
        // FOR UPDATE on PostgreSQL: concurrent PATCHes of one group queue here instead of failing;
        // SQLite's IMMEDIATE transaction already serialises writers.
        let current = idp_group::Entity::find_by_id(id.to_owned())
            .filter(idp_group::Column::OrgId.eq(org_id))
            .filter(idp_group::Column::Source.eq(SOURCE_SCIM))
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or(WriteError::NotFound)?;
        if if_match.is_some_and(|m| !m.admits(current.version)) {
            return Err(WriteError::VersionMismatch);
        }
        let mut name = current.display_name.clone();
        let mut external_id = current.external_id.clone();
        let mut counts = MemberCounts::default();
        for write in writes {
            match write {
                GroupChange::SetDisplayName(n) => name = n,
                GroupChange::SetExternalId(e) => external_id = e,
                GroupChange::AddMembers(ids) => {
                    let ids = dedup(ids);
                    check_users(&txn, org_id, &ids).await?;
                    counts += write_members(&txn, org_id, id, &ids, MemberWrite::Add, audit).await?;
                }
                GroupChange::RemoveMembers(ids) => {
                    counts += remove_members(&txn, audit, org_id, id, Some(&dedup(ids))).await?
                }
                GroupChange::RemoveAllMembers => {
                    counts += remove_members(&txn, audit, org_id, id, None).await?
                }
                GroupChange::ReplaceMembers(ids) => {
                    let wanted = dedup(ids);
                    check_users(&txn, org_id, &wanted).await?;
                    counts += write_members(&txn, org_id, id, &wanted, MemberWrite::Replace, audit).await?;
                }
            }
        }
        let members_changed = counts.added + counts.removed > 0;
        let renamed = name != current.display_name;
        // Okta repeats the group's name with every membership change: an unchanged name must cost
        // nothing and leave version and lastModified alone.
        if !renamed && external_id == current.external_id && !members_changed {
            txn.commit().await?;
            return Ok(Written::unchanged(current.into()));
        }
        let now = now_micros();
        let mut update = Query::update();
        update
            .table(idp_group::Entity)
            .value(idp_group::Column::ExternalId, external_id.clone())
            .value(idp_group::Column::UpdatedAt, now)
            .value(
                idp_group::Column::Version,
                Expr::col(idp_group::Column::Version).add(1),
            )
            .and_where(idp_group::Column::Id.eq(id))
            .and_where(idp_group::Column::OrgId.eq(org_id));
        if renamed {
            // The old name is free now: whoever was refused it may retry.
            conflicts::clear(&txn, &fold_key(&current.display_name)).await?;
        }
        if renamed {
            update
                .value(idp_group::Column::DisplayName, name.clone())
                .value(idp_group::Column::DisplayKey, fold_key(&name))
                .value(idp_group::Column::DisplayKeyVersion, KEY_VERSION);
        }
        txn.execute(&update).await?;
        let mut data = json!({"membersAdded": counts.added, "membersRemoved": counts.removed});
        if renamed {
            data["displayName"] = json!({"old": current.display_name, "new": name});
        }
        if external_id != current.external_id {
            data["externalId"] = json!({"old": current.external_id, "new": external_id});
        }
        audit::record(&txn, audit, Some(org_id), "idp_group_updated", id, Some(data)).await?;
        txn.commit().await?;
        Ok(Written {
            row: GroupRow {
                display_name: name,
                external_id,
                updated_at: now,
                version: current.version + 1,
                ..current.into()
            },
            deprovisioned: counts.deprovisioned,
        })
    }

    /// The group as it is, when `writes` only set a name or externalId it already has: Okta repeats
    /// the group's name with every change, and such a PATCH needs no write transaction (on SQLite
    /// it would queue for the one writer). Read outside a transaction: a write racing with it is
    /// ordered after it, as if the no-op had come first. `None`: the writes must run.
    async fn unchanged_by(
        &self,
        org_id: i64,
        id: &str,
        if_match: Option<&IfMatch>,
        writes: &[GroupChange],
    ) -> Result<Option<GroupRow>, WriteError> {
        let (mut name, mut external_id) = (None, None);
        for write in writes {
            match write {
                GroupChange::SetDisplayName(n) => name = Some(n),
                GroupChange::SetExternalId(e) => external_id = Some(e),
                _ => return Ok(None),
            }
        }
        let current = self.find_group(org_id, id).await?.ok_or(WriteError::NotFound)?;
        if if_match.is_some_and(|m| !m.admits(current.version)) {
            return Err(WriteError::VersionMismatch);
        }
        let unchanged = name.is_none_or(|n| *n == current.display_name)
            && external_id.is_none_or(|e| *e == current.external_id);
        Ok(unchanged.then_some(current))
    }

    /// Removes a catalog row. In the same transaction: its linked team is orphaned (keeping the
    /// team and its settings), every DELEGATED membership the row brought is purged (set-based:
    /// one statement whatever the team's size), and all of it is audited. Nothing happens if any
    /// step fails. Locks the row, then its team: the one lock order a login shares
    /// ([`super::logins`]), so the two never deadlock on PostgreSQL.
    pub async fn remove_catalog_row(
        &self,
        org_id: i64,
        id: &str,
        if_match: Option<&IfMatch>,
        remover: Remover,
        audit: &AuditContext,
    ) -> Result<Removal, WriteError> {
        if unstorable(id) {
            return Err(WriteError::NotFound);
        }
        let txn = self.begin_write().await?;
        let row = idp_group::Entity::find_by_id(id.to_owned())
            .filter(idp_group::Column::OrgId.eq(org_id))
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or(WriteError::NotFound)?;
        match (remover, row.source.as_str()) {
            (Remover::Scim, source) if source != SOURCE_SCIM => return Err(WriteError::NotFound),
            (Remover::Owner, SOURCE_SCIM) => return Err(WriteError::ScimManaged),
            _ => {}
        }
        if if_match.is_some_and(|m| !m.admits(row.version)) {
            return Err(WriteError::VersionMismatch);
        }
        let now = now_micros();
        let team: Option<i64> = team::Entity::find()
            .select_only()
            .column(team::Column::Id)
            .filter(team::Column::OrgId.eq(org_id))
            .filter(team::Column::IdpGroupId.eq(id))
            // Locked, so a re-link committed meanwhile is seen (the team is then not this row's)
            // instead of being overwritten by the orphaning below.
            .lock_exclusive()
            .into_tuple()
            .one(&txn)
            .await?;
        let mut purged = 0;
        if let Some(team_id) = team {
            purged = team_member::Entity::find()
                .filter(team_member::Column::DelegatedFrom.eq(id))
                .filter(team_member::Column::OrgId.eq(org_id))
                .count(&txn)
                .await?;
            audit::record_team_member_purge(&txn, audit, org_id, team_id, id, &row.display_name).await?;
            let mut orphan = Query::update();
            orphan
                .table(team::Entity)
                .value(team::Column::IdpGroupId, Option::<String>::None)
                .value(team::Column::OrphanedGroupName, row.display_name.as_str())
                .value(team::Column::OrphanedAt, now)
                .value(team::Column::UpdatedAt, now)
                .and_where(team::Column::Id.eq(team_id))
                .and_where(team::Column::OrgId.eq(org_id));
            txn.execute(&orphan).await?;
            audit::record(
                &txn,
                audit,
                Some(org_id),
                "team_updated",
                &team_id.to_string(),
                Some(json!({
                    "idpGroup": {"old": {"id": id, "displayName": row.display_name}, "new": null},
                    "orphanedGroupName": row.display_name,
                    "delegatedMembersRemoved": purged,
                })),
            )
            .await?;
        }
        conflicts::clear(&txn, &row.display_key).await?;
        // The row's DELEGATED team memberships and its SCIM memberships go with it (cascades).
        idp_group::Entity::delete_many()
            .filter(idp_group::Column::Id.eq(id))
            .filter(idp_group::Column::OrgId.eq(org_id))
            .exec(&txn)
            .await?;
        audit::record(
            &txn,
            audit,
            Some(org_id),
            "idp_group_deleted",
            id,
            Some(json!({
                "displayName": row.display_name, "source": row.source, "orphanedTeam": team,
            })),
        )
        .await?;
        txn.commit().await?;
        Ok(Removal {
            orphaned_team: team,
            purged_members: purged,
        })
    }

    /// Every catalog row of `org_id` (SCIM and MANUAL), by folded name.
    pub async fn list_catalog(&self, org_id: i64) -> Result<Vec<GroupRow>, StoreError> {
        let rows = idp_group::Entity::find()
            .filter(idp_group::Column::OrgId.eq(org_id))
            .order_by_asc(idp_group::Column::DisplayKey)
            .all(self.conn())
            .await?;
        Ok(rows.into_iter().map(GroupRow::from).collect())
    }

    /// How many catalog rows `org_id` has.
    pub async fn count_catalog(&self, org_id: i64) -> Result<u64, StoreError> {
        Ok(idp_group::Entity::find()
            .filter(idp_group::Column::OrgId.eq(org_id))
            .count(self.conn())
            .await?)
    }

    /// Which group and organization hold `display_name`'s key, if any.
    pub async fn display_name_holder(&self, display_name: &str) -> Result<Option<NameHolder>, StoreError> {
        let row: Option<(String, i64, String)> = idp_group::Entity::find()
            .select_only()
            .column(idp_group::Column::Id)
            .column(idp_group::Column::OrgId)
            .column(organization::Column::Name)
            .join(
                sea_orm::JoinType::InnerJoin,
                idp_group::Entity::belongs_to(organization::Entity)
                    .from(idp_group::Column::OrgId)
                    .to(organization::Column::Id)
                    .into(),
            )
            .filter(idp_group::Column::DisplayKey.eq(fold_key(display_name)))
            .into_tuple()
            .one(self.conn())
            .await?;
        Ok(row.map(|(group_id, org_id, org_name)| NameHolder {
            group_id,
            org_id,
            org_name,
        }))
    }
}

/// Inserts a catalog row and its `idp_group_created` event.
async fn insert_row(
    txn: &DatabaseTransaction,
    org_id: i64,
    display_name: &str,
    external_id: Option<&str>,
    source: &str,
    audit_ctx: &AuditContext,
) -> Result<idp_group::Model, StoreError> {
    let now = now_micros();
    let row = idp_group::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        org_id: Set(org_id),
        display_name: Set(display_name.to_owned()),
        display_key: Set(fold_key(display_name)),
        display_key_version: Set(KEY_VERSION),
        external_id: Set(external_id.map(str::to_owned)),
        source: Set(source.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    }
    .insert(txn)
    .await?;
    audit::record(
        txn,
        audit_ctx,
        Some(org_id),
        "idp_group_created",
        &row.id,
        Some(json!({"displayName": display_name, "source": source})),
    )
    .await?;
    Ok(row)
}
