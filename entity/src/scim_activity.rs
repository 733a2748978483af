//! When an organization's IdP last pushed and last called (SCIM activity, coalesced per replica).

use sea_orm::entity::prelude::*;

/// One row per organization that has had an authenticated SCIM request.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_activity")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: i64,
    /// The last SCIM write (POST, PUT, PATCH, DELETE) answered 2xx, µs since the epoch.
    pub last_push_at: Option<i64>,
    /// The last authenticated SCIM request of any kind.
    pub last_request_at: Option<i64>,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
