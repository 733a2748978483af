//! Open uniqueness conflicts: display names an organization's IdP could not provision because
//! another group holds them, kept until the name frees up.

use sea_orm_migration::prelude::*;

/// The open-conflicts table.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261129_000003_conflicts"
    }
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum UniquenessConflicts {
    Table,
    DisplayKey,
    OrgId,
    DisplayName,
    HolderOrgId,
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
                    .table(UniquenessConflicts::Table)
                    .col(ColumnDef::new(UniquenessConflicts::DisplayKey).text().not_null())
                    .col(
                        ColumnDef::new(UniquenessConflicts::OrgId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(UniquenessConflicts::DisplayName).text().not_null())
                    .col(
                        ColumnDef::new(UniquenessConflicts::HolderOrgId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UniquenessConflicts::FirstSeen)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UniquenessConflicts::LastSeen)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UniquenessConflicts::Count)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(UniquenessConflicts::DisplayKey)
                            .col(UniquenessConflicts::OrgId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(UniquenessConflicts::Table, UniquenessConflicts::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(UniquenessConflicts::Table, UniquenessConflicts::HolderOrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UniquenessConflicts::Table).to_owned())
            .await
    }
}
