//! Instance-wide counts for the metrics endpoint: one grouped query per table.

use std::collections::BTreeMap;

use entity::{idp_group, team, uniqueness_conflict};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ConnectionTrait, EntityTrait, QuerySelect, Statement};

use super::{Store, StoreError};

/// Catalog and team counts of one organization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgStats {
    pub catalog_rows: i64,
    pub delegated_teams: i64,
    pub orphaned_teams: i64,
    /// Display names this organization's IdP pushed that another group holds.
    pub open_conflicts: i64,
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
        // COUNT(column) counts non-null values: linked teams, and orphaned ones (a link, set
        // or cleared, always clears the orphan record).
        let teams: Vec<(i64, i64, i64)> = team::Entity::find()
            .select_only()
            .column(team::Column::OrgId)
            .column_as(Expr::col(team::Column::IdpGroupId).count(), "delegated")
            .column_as(Expr::col(team::Column::OrphanedGroupName).count(), "orphaned")
            .group_by(team::Column::OrgId)
            .into_tuple()
            .all(self.conn())
            .await?;
        for (org, delegated, orphaned) in teams {
            let stats = out.entry(org).or_default();
            stats.delegated_teams = delegated;
            stats.orphaned_teams = orphaned;
        }
        let conflicts: Vec<(i64, i64)> = uniqueness_conflict::Entity::find()
            .select_only()
            .column(uniqueness_conflict::Column::OrgId)
            .column_as(Expr::col(uniqueness_conflict::Column::DisplayKey).count(), "n")
            .group_by(uniqueness_conflict::Column::OrgId)
            .into_tuple()
            .all(self.conn())
            .await?;
        for (org, n) in conflicts {
            out.entry(org).or_default().open_conflicts = n;
        }
        Ok(out)
    }

    /// When the oldest audit event happened (µs since the epoch); `None` when there is none.
    pub async fn oldest_audit_event(&self) -> Result<Option<i64>, StoreError> {
        // Ids follow time up to commit order, so the oldest event is among the lowest ids: the
        // primary key finds them without scanning the table (no index on `at` alone), and looking
        // at a thousand absorbs transactions that committed out of order.
        let row = self
            .conn()
            .query_one_raw(Statement::from_string(
                self.backend(),
                "SELECT MIN(at) FROM (SELECT at FROM audit_events ORDER BY id LIMIT 1000) AS lowest",
            ))
            .await?;
        Ok(match row {
            Some(row) => row.try_get_by_index::<Option<i64>>(0)?,
            None => None,
        })
    }
}
