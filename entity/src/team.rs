//! Teams of an organization, optionally delegated to a catalog row.

use sea_orm::entity::prelude::*;

/// One team. Linked (`idp_group_id` set): DELEGATED; unlinked with an orphan record: ORPHANED;
/// otherwise MANUAL.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "teams")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub description: Option<String>,
    pub idp_group_id: Option<String>,
    /// Name of the catalog row whose removal orphaned this team (the orphaned-team warning).
    pub orphaned_group_name: Option<String>,
    pub orphaned_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
