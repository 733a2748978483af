//! An open claim conflict: a `claimMatch: externalId` claim value that named rows in several
//! organizations, so logins apply it to none.

use sea_orm::entity::prelude::*;

/// One conflict per claim value.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "claim_conflicts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub claim_value: String,
    /// The organizations whose `externalId` it matched at the last login, as a JSON array of ids.
    pub org_ids: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub count: i64,
}

/// No relations are navigated through sea-orm; organizations are named when read.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
