//! Membership of an account in a team, with its provenance.

use sea_orm::entity::prelude::*;

/// One membership; DELEGATED rows name the catalog row that brought them (`delegated_from`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "team_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub team_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: String,
    pub org_id: i64,
    /// `MANUAL` or `DELEGATED`.
    pub provenance: String,
    pub delegated_from: Option<String>,
    pub created_at: i64,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
