//! An open uniqueness conflict: an organization's IdP could not provision a display name.

use sea_orm::entity::prelude::*;

/// One conflict per (name key, organization that was refused).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "uniqueness_conflicts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub display_key: String,
    /// The organization whose write was refused.
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: i64,
    /// The name as that organization last sent it.
    pub display_name: String,
    /// The organization holding the name (possibly the same one).
    pub holder_org_id: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub count: i64,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
