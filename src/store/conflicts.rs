//! Open uniqueness conflicts: recorded when a write is refused for a display name another group
//! holds, cleared when that name frees up (its row is removed or renamed).

use entity::{organization, uniqueness_conflict};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{Store, StoreError, now_micros};
use crate::scim::names::fold_key;

/// One open conflict with the organizations' names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenConflict {
    pub display_name: String,
    pub org_id: i64,
    pub org_name: String,
    pub holder_org_id: i64,
    pub holder_org_name: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub count: i64,
}

/// Forgets the conflicts over `display_key`: the name is free again.
pub(crate) async fn clear<C: ConnectionTrait>(conn: &C, display_key: &str) -> Result<(), StoreError> {
    uniqueness_conflict::Entity::delete_many()
        .filter(uniqueness_conflict::Column::DisplayKey.eq(display_key))
        .exec(conn)
        .await?;
    Ok(())
}

impl Store {
    /// Records (or counts again) that `org_id` was refused `display_name`, held by `holder_org_id`.
    pub async fn record_conflict(
        &self,
        org_id: i64,
        holder_org_id: i64,
        display_name: &str,
    ) -> Result<(), StoreError> {
        let now = now_micros();
        let mut upsert = Query::insert();
        upsert
            .into_table(uniqueness_conflict::Entity)
            .columns([
                uniqueness_conflict::Column::DisplayKey,
                uniqueness_conflict::Column::OrgId,
                uniqueness_conflict::Column::DisplayName,
                uniqueness_conflict::Column::HolderOrgId,
                uniqueness_conflict::Column::FirstSeen,
                uniqueness_conflict::Column::LastSeen,
                uniqueness_conflict::Column::Count,
            ])
            .values_panic([
                fold_key(display_name).into(),
                org_id.into(),
                display_name.into(),
                holder_org_id.into(),
                now.into(),
                now.into(),
                1i64.into(),
            ])
            .on_conflict(
                OnConflict::columns([
                    uniqueness_conflict::Column::DisplayKey,
                    uniqueness_conflict::Column::OrgId,
                ])
                .value(uniqueness_conflict::Column::DisplayName, display_name)
                .value(uniqueness_conflict::Column::HolderOrgId, holder_org_id)
                .value(uniqueness_conflict::Column::LastSeen, now)
                .value(
                    uniqueness_conflict::Column::Count,
                    Expr::col((uniqueness_conflict::Entity, uniqueness_conflict::Column::Count)).add(1),
                )
                .to_owned(),
            );
        self.write_conn().execute(&upsert).await?;
        Ok(())
    }

    /// Open conflicts, newest first; only those `org_id` was refused when given.
    pub async fn open_conflicts(&self, org_id: Option<i64>) -> Result<Vec<OpenConflict>, StoreError> {
        let mut select =
            uniqueness_conflict::Entity::find().order_by_desc(uniqueness_conflict::Column::LastSeen);
        if let Some(org) = org_id {
            select = select.filter(uniqueness_conflict::Column::OrgId.eq(org));
        }
        let rows = select.all(self.conn()).await?;
        let names: std::collections::HashMap<i64, String> = organization::Entity::find()
            .all(self.conn())
            .await?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect();
        let name = |id: i64| names.get(&id).cloned().unwrap_or_default();
        Ok(rows
            .into_iter()
            .map(|r| OpenConflict {
                org_name: name(r.org_id),
                holder_org_name: name(r.holder_org_id),
                display_name: r.display_name,
                org_id: r.org_id,
                holder_org_id: r.holder_org_id,
                first_seen: r.first_seen,
                last_seen: r.last_seen,
                count: r.count,
            })
            .collect())
    }
}
