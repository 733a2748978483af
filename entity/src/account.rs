//! Platform accounts: instance-wide, keyed by the ID token's (iss, sub).

use sea_orm::entity::prelude::*;

/// One account; `subject` is unset while it is only pre-created by e-mail.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub email: Option<String>,
    /// Canonical caseless form of `email`.
    pub email_key: Option<String>,
    pub created_at: i64,
    /// `iat` of the last login applied (the replay guard); `None` before the first.
    pub last_login_iat: Option<i64>,
}

/// No relations are navigated through sea-orm; foreign keys live in the migrations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
