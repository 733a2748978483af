//! Open claim conflicts (design §3.5): `claimMatch: externalId` claim values that matched rows in
//! more than one organization, so a login applied them to none; kept for the instance admin until
//! a later login finds the value naming at most one organization. Additive only: a new table old
//! replicas never read.

use sea_orm_migration::prelude::*;

/// The open-claim-conflicts table.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000005_claim_conflicts"
    }
}

#[derive(DeriveIden)]
enum ClaimConflicts {
    Table,
    ClaimValue,
    OrgIds,
    FirstSeen,
    LastSeen,
    Count,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ClaimConflicts::Table)
                    .col(
                        ColumnDef::new(ClaimConflicts::ClaimValue)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    // A JSON array of organization ids: read whole, never queried into, and an
                    // organization is never deleted, so no foreign key is lost.
                    .col(ColumnDef::new(ClaimConflicts::OrgIds).text().not_null())
                    .col(ColumnDef::new(ClaimConflicts::FirstSeen).big_integer().not_null())
                    .col(ColumnDef::new(ClaimConflicts::LastSeen).big_integer().not_null())
                    .col(ColumnDef::new(ClaimConflicts::Count).big_integer().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ClaimConflicts::Table).to_owned())
            .await
    }
}
