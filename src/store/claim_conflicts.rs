//! Open claim conflicts (design §3.5): a `claimMatch: externalId` claim value that matched rows in
//! more than one organization is applied to none of them and kept here for the instance admin;
//! a later login in which the value names at most one organization removes it. Written only in a
//! login's own transaction.
//!
//! Lock order: after the login's catalog rows and teams, a login locks the conflict rows its claim
//! values name (PostgreSQL, in value order) before it deletes or upserts any, and the upsert
//! writes its values in the same order; so two logins never wait on each other in a cycle here.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use entity::{claim_conflict, organization};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    Statement,
};

use super::{Store, StoreError, id_array, id_in, now_micros, param};

/// One open claim conflict with its organizations named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimConflict {
    pub claim_value: String,
    /// `(id, name)` of the organizations whose `externalId` it matched, by id.
    pub organizations: Vec<(i64, String)>,
    pub first_seen: i64,
    pub last_seen: i64,
    pub count: i64,
}

/// Records what one login saw of its claim `values`: each value of `ambiguous` (with the
/// organizations it matched) is upserted; every other value that has an open conflict resolves
/// it. At most three statements, whatever the claim's size.
pub(crate) async fn reconcile(
    txn: &DatabaseTransaction,
    backend: DbBackend,
    values: &[String],
    ambiguous: &BTreeMap<String, BTreeSet<i64>>,
) -> Result<(), StoreError> {
    if values.is_empty() {
        return Ok(());
    }
    let lock = match backend {
        DbBackend::Postgres => " FOR UPDATE",
        _ => "",
    };
    let param = param(backend, 1);
    let sql = format!(
        "SELECT claim_value FROM claim_conflicts WHERE {} ORDER BY claim_value{lock}",
        id_in(backend, "claim_value", &param),
    );
    let open = txn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [id_array(values)?.into()],
        ))
        .await?;
    let mut resolved = Vec::new();
    for row in open {
        let value: String = row.try_get_by_index(0)?;
        if !ambiguous.contains_key(&value) {
            resolved.push(value);
        }
    }
    if !resolved.is_empty() {
        let sql = format!(
            "DELETE FROM claim_conflicts WHERE {}",
            id_in(backend, "claim_value", &param)
        );
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [id_array(&resolved)?.into()],
        ))
        .await?;
    }
    if ambiguous.is_empty() {
        return Ok(());
    }
    let now = now_micros();
    let mut upsert = Query::insert();
    upsert.into_table(claim_conflict::Entity).columns([
        claim_conflict::Column::ClaimValue,
        claim_conflict::Column::OrgIds,
        claim_conflict::Column::FirstSeen,
        claim_conflict::Column::LastSeen,
        claim_conflict::Column::Count,
    ]);
    for (value, orgs) in ambiguous {
        let org_ids = serde_json::to_string(orgs)
            .map_err(|e| StoreError::Other(sea_orm::DbErr::Json(e.to_string())))?;
        upsert.values_panic([
            value.as_str().into(),
            org_ids.into(),
            now.into(),
            now.into(),
            1i64.into(),
        ]);
    }
    upsert.on_conflict(
        OnConflict::column(claim_conflict::Column::ClaimValue)
            .update_columns([claim_conflict::Column::OrgIds, claim_conflict::Column::LastSeen])
            .value(
                claim_conflict::Column::Count,
                Expr::col((claim_conflict::Entity, claim_conflict::Column::Count)).add(1),
            )
            .to_owned(),
    );
    txn.execute(&upsert).await?;
    Ok(())
}

impl Store {
    /// Every open claim conflict, newest first.
    pub async fn open_claim_conflicts(&self) -> Result<Vec<ClaimConflict>, StoreError> {
        let rows = claim_conflict::Entity::find()
            .order_by_desc(claim_conflict::Column::LastSeen)
            .order_by_asc(claim_conflict::Column::ClaimValue)
            .all(self.conn())
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        // A row the store wrote always parses; anything else names no organization.
        let ids: Vec<Vec<i64>> = rows
            .iter()
            .map(|r| serde_json::from_str(&r.org_ids).unwrap_or_default())
            .collect();
        let wanted: BTreeSet<i64> = ids.iter().flatten().copied().collect();
        let names: HashMap<i64, String> = organization::Entity::find()
            .filter(organization::Column::Id.is_in(wanted))
            .all(self.conn())
            .await?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect();
        Ok(rows
            .into_iter()
            .zip(ids)
            .map(|(r, ids)| ClaimConflict {
                organizations: ids
                    .into_iter()
                    .filter_map(|id| names.get(&id).map(|n| (id, n.clone())))
                    .collect(),
                claim_value: r.claim_value,
                first_seen: r.first_seen,
                last_seen: r.last_seen,
                count: r.count,
            })
            .collect())
    }
}
