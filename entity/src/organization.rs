//! An organization (tenant) of the instance.

use sea_orm::entity::prelude::*;

/// One organization row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    pub sso_active: bool,
    /// Microseconds since the Unix epoch, UTC.
    pub created_at: i64,
    /// What a login's `groups` claim is matched against: `displayName` or `externalId`.
    pub claim_match: String,
    /// How a SCIM user is matched to an account at push time: `email` or `externalId`.
    pub account_match: String,
    /// Whether SCIM removals take DELEGATED team memberships away (design §3.8).
    pub push_deprovisioning: bool,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
