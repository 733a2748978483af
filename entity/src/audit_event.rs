//! The audit trail: one row per change, written in the transaction of the change.

use sea_orm::entity::prelude::*;

/// One event.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub org_id: Option<i64>,
    /// e.g. `idp_group_deleted`, `team_member_deleted`.
    pub event_type: String,
    /// A user's subject, or `System` for SCIM and login evaluation.
    pub actor: String,
    /// JSON: for SCIM the token's masked id and the client address.
    pub actor_detail: Option<String>,
    pub target: String,
    /// Shared by every event of one request.
    pub correlation_id: String,
    pub at: i64,
    /// JSON details, e.g. a team's old and new `idpGroup`.
    pub data: Option<String>,
    /// The team the event is about: a team's own events and its memberships' (the Teams page's
    /// filter reads it through the index (org_id, team_id, id)).
    pub team_id: Option<i64>,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
