//! Membership of an account in an organization.

use sea_orm::entity::prelude::*;

/// One membership; `added_by_routing` when a login's claim brought the account in.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "org_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: String,
    /// `member` for accounts routing added.
    pub role: String,
    pub added_by_routing: bool,
    pub created_at: i64,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
