//! A row of an organization's IdP group catalog (SCIM Group or manual entry).

use sea_orm::entity::prelude::*;

/// One catalog row; `display_key` is unique across the whole instance.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idp_groups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: i64,
    /// Exactly as the IdP sent it.
    pub display_name: String,
    /// Canonical caseless form of `display_name`.
    pub display_key: String,
    /// Version of the folding rule that produced `display_key`.
    pub display_key_version: i32,
    pub external_id: Option<String>,
    /// `SCIM` or `MANUAL`.
    pub source: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
