//! Push-time deprovisioning (design §3.8): per organization, how a SCIM user is matched to an
//! account (`accountMatch`) and whether SCIM removals take delegated memberships away
//! (`pushDeprovisioning`), and an index to match by the account's subject. Additive only: columns
//! with defaults old replicas never read, and an index.

use sea_orm_migration::prelude::*;

/// The organization settings and the subject index.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000006_push_deprovisioning"
    }
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    AccountMatch,
    PushDeprovisioning,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Subject,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(
                        ColumnDef::new(Organizations::AccountMatch)
                            .string_len(16)
                            .not_null()
                            .default("email"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(
                        ColumnDef::new(Organizations::PushDeprovisioning)
                            .boolean()
                            .not_null()
                            .default(true),
                    )
                    .to_owned(),
            )
            .await?;
        // `accountMatch: externalId` looks accounts up by subject alone (the identity index
        // leads with the issuer).
        manager
            .create_index(
                Index::create()
                    .name("ix_accounts_subject")
                    .table(Accounts::Table)
                    .col(Accounts::Subject)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_accounts_subject")
                    .table(Accounts::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Organizations::PushDeprovisioning, Organizations::AccountMatch] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Organizations::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
