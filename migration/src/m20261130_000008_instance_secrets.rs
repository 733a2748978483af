//! Secrets of the instance (not of one organization) that every replica must share, one row each.
//! The first is the key that signs paging cursors (RFC 9865): generated here, by the migration
//! (which runs once, under the migration lock), so replicas started on the same database accept
//! each other's cursors with nothing configured. `SCIMGATE_CURSOR_KEY` overrides it. Additive only:
//! a new table old replicas never read.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

/// The instance secrets table and its cursor key.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000008_instance_secrets"
    }
}

#[derive(DeriveIden)]
enum InstanceSecrets {
    Table,
    Name,
    Value,
    CreatedAt,
}

/// The row of the cursor signing key (the store reads it under the same name).
const CURSOR_KEY: &str = "cursor_key";

/// 256 random bits from the operating system, as hex.
fn random_key() -> Result<String, DbErr> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| DbErr::Custom("the system random number generator failed".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Microseconds since the Unix epoch, the timestamp format of every table.
fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| {
            <i64 as TryFrom<u128>>::try_from(d.as_micros()).unwrap_or(i64::MAX)
        })
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(InstanceSecrets::Table)
                    .col(
                        ColumnDef::new(InstanceSecrets::Name)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(InstanceSecrets::Value).text().not_null())
                    .col(
                        ColumnDef::new(InstanceSecrets::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let insert = Query::insert()
            .into_table(InstanceSecrets::Table)
            .columns([
                InstanceSecrets::Name,
                InstanceSecrets::Value,
                InstanceSecrets::CreatedAt,
            ])
            .values([CURSOR_KEY.into(), random_key()?.into(), now_micros().into()])
            .map_err(|e| DbErr::Custom(e.to_string()))?
            .on_conflict(OnConflict::column(InstanceSecrets::Name).do_nothing().to_owned())
            .to_owned();
        manager.get_connection().execute(&insert).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(InstanceSecrets::Table).to_owned())
            .await
    }
}
