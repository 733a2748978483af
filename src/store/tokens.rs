//! SCIM bearer tokens, by hash only: plaintexts never reach this module.

use entity::{organization, scim_token};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, JoinType, QueryFilter, QuerySelect,
    RelationDef, prelude::Expr, sea_query::Query,
};

use serde_json::json;

use super::audit::{self, AuditContext};
use super::{Store, StoreError, notify, now_micros};

/// What a valid token resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub token_id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub sso_active: bool,
    /// Prefix and last four characters, for audit.
    pub masked: String,
}

/// What may be shown of an active token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: i64,
    pub masked: String,
    pub created_at: i64,
    /// As last flushed (coalesced, at most a minute behind).
    pub last_used_at: Option<i64>,
}

/// Whether an issue had to replace an active token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueMode {
    /// Generate: revoke whatever is active (if anything) and issue.
    Generate,
    /// Rotate: only when a token is active.
    Rotate,
}

fn token_to_org() -> RelationDef {
    scim_token::Entity::belongs_to(organization::Entity)
        .from(scim_token::Column::OrgId)
        .to(organization::Column::Id)
        .into()
}

impl Store {
    /// Looks up the active token with this hash and its organization.
    pub async fn resolve_token(&self, token_hash: &str) -> Result<Option<TokenOwner>, StoreError> {
        let row: Option<(i64, i64, String, bool, String)> = scim_token::Entity::find()
            .select_only()
            .column(scim_token::Column::Id)
            .column(scim_token::Column::OrgId)
            .column(organization::Column::Name)
            .column(organization::Column::SsoActive)
            .column(scim_token::Column::Masked)
            .join(JoinType::InnerJoin, token_to_org())
            .filter(scim_token::Column::TokenHash.eq(token_hash))
            .filter(scim_token::Column::RevokedAt.is_null())
            .into_tuple()
            .one(self.conn())
            .await?;
        Ok(
            row.map(|(token_id, org_id, org_name, sso_active, masked)| TokenOwner {
                token_id,
                org_id,
                org_name,
                sso_active,
                masked,
            }),
        )
    }

    /// Stores a new active token for `org_id`, revoking the previous one in the same transaction.
    /// `Ok(None)` when `mode` is `Rotate` and no token was active.
    pub async fn issue_token(
        &self,
        org_id: i64,
        token_hash: &str,
        masked: &str,
        mode: IssueMode,
        audit_ctx: &AuditContext,
    ) -> Result<Option<i64>, StoreError> {
        let txn = self.begin_write().await?;
        let now = now_micros();
        let revoked = revoke_active(&txn, org_id, now).await?;
        if mode == IssueMode::Rotate && revoked == 0 {
            return Ok(None);
        }
        let row = scim_token::ActiveModel {
            org_id: Set(org_id),
            token_hash: Set(token_hash.to_owned()),
            masked: Set(masked.to_owned()),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let (event, action) = match mode {
            IssueMode::Generate => ("scim_token_created", "generated"),
            IssueMode::Rotate => ("scim_token_updated", "rotated"),
        };
        audit::record(
            &txn,
            audit_ctx,
            Some(org_id),
            event,
            &row.id.to_string(),
            Some(json!({
                "action": action, "maskedToken": masked, "previousRevoked": revoked > 0,
            })),
        )
        .await?;
        notify::announce(&txn, org_id).await?;
        txn.commit().await?;
        Ok(Some(row.id))
    }

    /// Revokes the active token of `org_id`; false when there was none.
    pub async fn revoke_token(&self, org_id: i64, audit_ctx: &AuditContext) -> Result<bool, StoreError> {
        let txn = self.begin_write().await?;
        let revoked = revoke_active(&txn, org_id, now_micros()).await?;
        if revoked == 0 {
            return Ok(false);
        }
        audit::record(
            &txn,
            audit_ctx,
            Some(org_id),
            "scim_token_updated",
            &org_id.to_string(),
            Some(json!({"action": "revoked"})),
        )
        .await?;
        notify::announce(&txn, org_id).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// The active token of `org_id`, without its hash.
    pub async fn active_token(&self, org_id: i64) -> Result<Option<TokenInfo>, StoreError> {
        let row: Option<(i64, String, i64, Option<i64>)> = scim_token::Entity::find()
            .select_only()
            .column(scim_token::Column::Id)
            .column(scim_token::Column::Masked)
            .column(scim_token::Column::CreatedAt)
            .column(scim_token::Column::LastUsedAt)
            .filter(scim_token::Column::OrgId.eq(org_id))
            .filter(scim_token::Column::RevokedAt.is_null())
            .into_tuple()
            .one(self.conn())
            .await?;
        Ok(row.map(|(id, masked, created_at, last_used_at)| TokenInfo {
            id,
            masked,
            created_at,
            last_used_at,
        }))
    }

    /// Records when tokens were last used; called with coalesced batches, not per request.
    pub async fn touch_tokens(&self, uses: &[(i64, i64)]) -> Result<(), StoreError> {
        for (token_id, at) in uses {
            let mut update = Query::update();
            update
                .table(scim_token::Entity)
                .value(scim_token::Column::LastUsedAt, *at)
                .and_where(scim_token::Column::Id.eq(*token_id));
            sea_orm::ConnectionTrait::execute(self.write_conn(), &update).await?;
        }
        Ok(())
    }
}

async fn revoke_active(txn: &sea_orm::DatabaseTransaction, org_id: i64, now: i64) -> Result<u64, StoreError> {
    let result = scim_token::Entity::update_many()
        .col_expr(scim_token::Column::RevokedAt, Expr::value(now))
        .filter(scim_token::Column::OrgId.eq(org_id))
        .filter(scim_token::Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    Ok(result.rows_affected)
}
