//! Instance-wide counts for the metrics endpoint, each one grouped query.

use std::collections::BTreeMap;

use entity::{idp_group, team};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::{Store, StoreError};

/// Catalog and team counts of one organization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgStats {
    pub catalog_rows: i64,
    pub delegated_teams: i64,
    pub orphaned_teams: i64,
}

impl Store {
    /// Counts per organization, zero for those with nothing (so a gauge falls back to 0).
    pub async fn org_stats(&self) -> Result<BTreeMap<i64, OrgStats>, StoreError> {
        let mut out: BTreeMap<i64, OrgStats> = self
            .list_orgs()
            .await?
            .into_iter()
            .map(|o| (o.id, OrgStats::default()))
            .collect();
        let rows: Vec<(i64, i64)> = idp_group::Entity::find()
            .select_only()
            .column(idp_group::Column::OrgId)
            .column_as(Expr::col(idp_group::Column::Id).count(), "n")
            .group_by(idp_group::Column::OrgId)
            .into_tuple()
            .all(self.conn())
            .await?;
        for (org, n) in rows {
            out.entry(org).or_default().catalog_rows = n;
        }
        let delegated: Vec<(i64, i64)> = team::Entity::find()
            .select_only()
            .column(team::Column::OrgId)
            .column_as(Expr::col(team::Column::Id).count(), "n")
            .filter(team::Column::IdpGroupId.is_not_null())
            .group_by(team::Column::OrgId)
            .into_tuple()
            .all(self.conn())
            .await?;
        for (org, n) in delegated {
            out.entry(org).or_default().delegated_teams = n;
        }
        let orphaned: Vec<(i64, i64)> = team::Entity::find()
            .select_only()
            .column(team::Column::OrgId)
            .column_as(Expr::col(team::Column::Id).count(), "n")
            .filter(team::Column::IdpGroupId.is_null())
            .filter(team::Column::OrphanedGroupName.is_not_null())
            .group_by(team::Column::OrgId)
            .into_tuple()
            .all(self.conn())
            .await?;
        for (org, n) in orphaned {
            out.entry(org).or_default().orphaned_teams = n;
        }
        Ok(out)
    }
}
