//! E-mail addresses of SCIM users, as rows so `emails.value` filters run in SQL.

use sea_orm::entity::prelude::*;

/// One e-mail of one user, in document order.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_user_emails")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub position: i32,
    pub org_id: i64,
    pub value: String,
    /// Canonical caseless form of `value`.
    pub value_key: String,
    pub kind: Option<String>,
    pub is_primary: bool,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
