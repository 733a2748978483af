//! Secrets of the instance (not of one organization) that every replica must share, one row each.
//! The first is the key that signs paging cursors (RFC 9865), which the store writes the first time
//! a replica needs it (race-free: the database keeps the first of the replicas' candidates), so
//! replicas started on the same database accept each other's cursors with nothing configured.
//! `SCIMGATE_CURSOR_KEY` overrides it. Additive only: a new table old replicas never read.

use sea_orm_migration::prelude::*;

/// The instance secrets table.
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
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(InstanceSecrets::Table).to_owned())
            .await
    }
}
