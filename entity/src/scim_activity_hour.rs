//! An organization's SCIM requests and errors in one UTC hour (kept 48 hours).

use sea_orm::entity::prelude::*;

/// Counters of one organization and hour, added to by every replica's flush.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_activity_hours")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: i64,
    /// The start of the UTC hour, µs since the epoch.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hour: i64,
    pub requests: i64,
    /// Requests answered with a status of 400 or more.
    pub errors: i64,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
