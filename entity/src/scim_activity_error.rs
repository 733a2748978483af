//! One SCIM error answered to an organization's IdP (the newest 50 per organization are kept).

use sea_orm::entity::prelude::*;

/// An error as the IdP saw it, with the request's shape but none of its values.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_activity_errors")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    /// When it was answered, µs since the epoch.
    pub at: i64,
    pub method: String,
    /// The route template relative to the SCIM base (`/Groups/{id}`), never the raw path.
    pub path: String,
    pub status: i32,
    pub scim_type: Option<String>,
    /// The SCIM error's `detail` as sent (capped).
    pub detail: String,
    pub correlation_id: String,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
