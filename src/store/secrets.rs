//! Secrets of the instance that every replica shares, one row each in `instance_secrets`. The one
//! place a secret is generated: the first replica to need one (and any replica that finds it gone:
//! restored from a dump without it, deleted by hand) writes it here, race-free: every replica
//! inserts its own candidate, the database keeps the first, and every replica reads that one.

use ring::rand::SecureRandom;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbErr};

use super::{Store, StoreError, now_micros};

/// The row of the key that signs paging cursors.
const CURSOR_KEY: &str = "cursor_key";

fn table() -> Alias {
    Alias::new("instance_secrets")
}

/// 256 random bits from the operating system, as hex.
fn random_hex() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| StoreError::Other(DbErr::Custom("the system random number generator failed".into())))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Store {
    /// The instance's cursor signing key (hex), the same for every replica on this database.
    pub async fn cursor_key(&self) -> Result<String, StoreError> {
        if let Some(key) = self.secret(CURSOR_KEY).await? {
            return Ok(key);
        }
        let mut insert = Query::insert();
        insert
            .into_table(table())
            .columns([Alias::new("name"), Alias::new("value"), Alias::new("created_at")])
            .values([CURSOR_KEY.into(), random_hex()?.into(), now_micros().into()])
            .map_err(|e| StoreError::Other(DbErr::Custom(e.to_string())))?
            .on_conflict(OnConflict::column(Alias::new("name")).do_nothing().to_owned());
        self.write_conn().execute(&insert).await?;
        self.secret(CURSOR_KEY)
            .await?
            .ok_or_else(|| StoreError::Other(DbErr::RecordNotFound("instance_secrets.cursor_key".into())))
    }

    async fn secret(&self, name: &str) -> Result<Option<String>, StoreError> {
        let mut select = Query::select();
        select
            .column(Alias::new("value"))
            .from(table())
            .and_where(Expr::col(Alias::new("name")).eq(name));
        let row = self.conn().query_one(&select).await?;
        Ok(row.map(|r| r.try_get_by_index::<String>(0)).transpose()?)
    }
}
