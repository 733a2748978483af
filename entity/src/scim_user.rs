//! A SCIM User of one organization's IdP directory.

use sea_orm::entity::prelude::*;

/// One user; filterable and unique attributes have columns, the rest lives in `document`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: i64,
    pub user_name: String,
    /// Canonical caseless form of `user_name`; unique per organization.
    pub user_name_key: String,
    pub external_id: Option<String>,
    pub active: bool,
    /// Canonical caseless form of `displayName`, for filters.
    pub display_name_key: Option<String>,
    /// The normalised SCIM document (JSON text) minus id and meta.
    pub document: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
