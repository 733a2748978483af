//! Login evaluation (design §2 "Login evaluation", §3.4, §3.5): organization membership of
//! accounts (role, and whether routing added it), the `iat` of the last login applied to an
//! account (the replay guard), and each organization's `claimMatch`. Additive only: old replicas
//! ignore the new columns, whose defaults keep their writes valid.

use sea_orm_migration::prelude::*;

/// Organization members, the login replay guard and `claimMatch`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000004_logins"
    }
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    ClaimMatch,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    LastLoginIat,
}

#[derive(DeriveIden)]
enum IdpGroups {
    Table,
    ExternalId,
}

#[derive(DeriveIden)]
enum OrgMembers {
    Table,
    OrgId,
    AccountId,
    Role,
    AddedByRouting,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrgMembers::Table)
                    .col(ColumnDef::new(OrgMembers::OrgId).big_integer().not_null())
                    .col(ColumnDef::new(OrgMembers::AccountId).string_len(36).not_null())
                    .col(ColumnDef::new(OrgMembers::Role).string_len(32).not_null())
                    .col(ColumnDef::new(OrgMembers::AddedByRouting).boolean().not_null())
                    .col(ColumnDef::new(OrgMembers::CreatedAt).big_integer().not_null())
                    // One membership per account and organization.
                    .primary_key(Index::create().col(OrgMembers::OrgId).col(OrgMembers::AccountId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrgMembers::Table, OrgMembers::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrgMembers::Table, OrgMembers::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_org_members_account")
                    .table(OrgMembers::Table)
                    .col(OrgMembers::AccountId)
                    .to_owned(),
            )
            .await?;
        // NULL until the account's first applied login.
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .add_column(ColumnDef::new(Accounts::LastLoginIat).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(
                        ColumnDef::new(Organizations::ClaimMatch)
                            .string_len(16)
                            .not_null()
                            .default("displayName"),
                    )
                    .to_owned(),
            )
            .await?;
        // A login looks catalog rows up by claim value across organizations: externalId alone
        // (the existing index leads with org_id).
        manager
            .create_index(
                Index::create()
                    .name("ix_idp_groups_external_id")
                    .table(IdpGroups::Table)
                    .col(IdpGroups::ExternalId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_idp_groups_external_id")
                    .table(IdpGroups::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .drop_column(Organizations::ClaimMatch)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .drop_column(Accounts::LastLoginIat)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(OrgMembers::Table).to_owned())
            .await
    }
}
