//! SCIM bearer tokens, stored only as keyed hashes.

use sea_orm::entity::prelude::*;

/// One issued token; at most one per organization has `revoked_at` unset.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    /// Hex of HMAC-SHA256 (or SHA-256 without a hash key) of the plaintext.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// Prefix and last four characters, safe to show.
    pub masked: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
