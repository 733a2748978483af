//! Organizations, SCIM tokens, the group catalog, SCIM users and membership.

use sea_orm_migration::prelude::*;

use crate::shared::fk_org;

/// The first schema.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261129_000001_core"
    }
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Name,
    SsoActive,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ScimTokens {
    Table,
    Id,
    OrgId,
    TokenHash,
    Masked,
    CreatedAt,
    RevokedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum IdpGroups {
    Table,
    Id,
    OrgId,
    DisplayName,
    DisplayKey,
    DisplayKeyVersion,
    ExternalId,
    Source,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum ScimUsers {
    Table,
    Id,
    OrgId,
    UserName,
    UserNameKey,
    ExternalId,
    Active,
    DisplayNameKey,
    Document,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum ScimUserEmails {
    Table,
    UserId,
    Position,
    OrgId,
    Value,
    ValueKey,
    Kind,
    IsPrimary,
}

#[derive(DeriveIden)]
enum GroupMembers {
    Table,
    GroupId,
    UserId,
    OrgId,
}

fn unique(name: &str, table: impl IntoIden, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table).unique();
    for col in cols {
        index.col(col);
    }
    index.to_owned()
}

fn plain(name: &str, table: impl IntoIden, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(col);
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .col(
                        ColumnDef::new(Organizations::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Organizations::Name)
                            .string_len(256)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Organizations::SsoActive).boolean().not_null())
                    .col(ColumnDef::new(Organizations::CreatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ScimTokens::Table)
                    .col(
                        ColumnDef::new(ScimTokens::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ScimTokens::OrgId).big_integer().not_null())
                    .col(
                        ColumnDef::new(ScimTokens::TokenHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(ScimTokens::Masked).string_len(64).not_null())
                    .col(ColumnDef::new(ScimTokens::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(ScimTokens::RevokedAt).big_integer().null())
                    .col(ColumnDef::new(ScimTokens::LastUsedAt).big_integer().null())
                    .foreign_key(&mut fk_org(ScimTokens::Table, ScimTokens::OrgId))
                    .to_owned(),
            )
            .await?;
        // One active token per organization, enforced by the database: a partial unique index has
        // the same syntax on SQLite and PostgreSQL, which sea-query cannot express.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_scim_tokens_one_active ON scim_tokens (org_id) WHERE revoked_at IS NULL",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdpGroups::Table)
                    .col(
                        ColumnDef::new(IdpGroups::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(IdpGroups::OrgId).big_integer().not_null())
                    .col(ColumnDef::new(IdpGroups::DisplayName).text().not_null())
                    .col(ColumnDef::new(IdpGroups::DisplayKey).text().not_null())
                    .col(ColumnDef::new(IdpGroups::DisplayKeyVersion).integer().not_null())
                    .col(ColumnDef::new(IdpGroups::ExternalId).text().null())
                    .col(ColumnDef::new(IdpGroups::Source).string_len(8).not_null())
                    .col(ColumnDef::new(IdpGroups::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(IdpGroups::UpdatedAt).big_integer().not_null())
                    .col(ColumnDef::new(IdpGroups::Version).big_integer().not_null())
                    .foreign_key(&mut fk_org(IdpGroups::Table, IdpGroups::OrgId))
                    .to_owned(),
            )
            .await?;
        // The instance-wide display-name rule lives here and nowhere else: whichever insert or
        // update reaches the index second fails, on every replica alike.
        manager
            .create_index(unique(
                "ux_idp_groups_display_key",
                IdpGroups::Table,
                vec![IdpGroups::DisplayKey.into_iden()],
            ))
            .await?;
        manager
            .create_index(unique(
                "ux_idp_groups_org_external_id",
                IdpGroups::Table,
                vec![IdpGroups::OrgId.into_iden(), IdpGroups::ExternalId.into_iden()],
            ))
            .await?;
        // Target of the membership foreign key that carries the organization.
        manager
            .create_index(unique(
                "ux_idp_groups_id_org",
                IdpGroups::Table,
                vec![IdpGroups::Id.into_iden(), IdpGroups::OrgId.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ScimUsers::Table)
                    .col(
                        ColumnDef::new(ScimUsers::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ScimUsers::OrgId).big_integer().not_null())
                    .col(ColumnDef::new(ScimUsers::UserName).text().not_null())
                    .col(ColumnDef::new(ScimUsers::UserNameKey).text().not_null())
                    .col(ColumnDef::new(ScimUsers::ExternalId).text().null())
                    .col(ColumnDef::new(ScimUsers::Active).boolean().not_null())
                    .col(ColumnDef::new(ScimUsers::DisplayNameKey).text().null())
                    .col(ColumnDef::new(ScimUsers::Document).text().not_null())
                    .col(ColumnDef::new(ScimUsers::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(ScimUsers::UpdatedAt).big_integer().not_null())
                    .col(ColumnDef::new(ScimUsers::Version).big_integer().not_null())
                    .foreign_key(&mut fk_org(ScimUsers::Table, ScimUsers::OrgId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique(
                "ux_scim_users_org_user_name",
                ScimUsers::Table,
                vec![ScimUsers::OrgId.into_iden(), ScimUsers::UserNameKey.into_iden()],
            ))
            .await?;
        manager
            .create_index(unique(
                "ux_scim_users_org_external_id",
                ScimUsers::Table,
                vec![ScimUsers::OrgId.into_iden(), ScimUsers::ExternalId.into_iden()],
            ))
            .await?;
        manager
            .create_index(unique(
                "ux_scim_users_id_org",
                ScimUsers::Table,
                vec![ScimUsers::Id.into_iden(), ScimUsers::OrgId.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ScimUserEmails::Table)
                    .col(ColumnDef::new(ScimUserEmails::UserId).string_len(36).not_null())
                    .col(ColumnDef::new(ScimUserEmails::Position).integer().not_null())
                    .col(ColumnDef::new(ScimUserEmails::OrgId).big_integer().not_null())
                    .col(ColumnDef::new(ScimUserEmails::Value).text().not_null())
                    .col(ColumnDef::new(ScimUserEmails::ValueKey).text().not_null())
                    .col(ColumnDef::new(ScimUserEmails::Kind).text().null())
                    .col(ColumnDef::new(ScimUserEmails::IsPrimary).boolean().not_null())
                    .primary_key(
                        Index::create()
                            .col(ScimUserEmails::UserId)
                            .col(ScimUserEmails::Position),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                ScimUserEmails::Table,
                                (ScimUserEmails::UserId, ScimUserEmails::OrgId),
                            )
                            .to(ScimUsers::Table, (ScimUsers::Id, ScimUsers::OrgId))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(plain(
                "ix_scim_user_emails_org_value",
                ScimUserEmails::Table,
                vec![
                    ScimUserEmails::OrgId.into_iden(),
                    ScimUserEmails::ValueKey.into_iden(),
                ],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(GroupMembers::Table)
                    .col(ColumnDef::new(GroupMembers::GroupId).string_len(36).not_null())
                    .col(ColumnDef::new(GroupMembers::UserId).string_len(36).not_null())
                    .col(ColumnDef::new(GroupMembers::OrgId).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(GroupMembers::GroupId)
                            .col(GroupMembers::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(GroupMembers::Table, (GroupMembers::GroupId, GroupMembers::OrgId))
                            .to(IdpGroups::Table, (IdpGroups::Id, IdpGroups::OrgId))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(GroupMembers::Table, (GroupMembers::UserId, GroupMembers::OrgId))
                            .to(ScimUsers::Table, (ScimUsers::Id, ScimUsers::OrgId))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Deleting a user cascades through this index instead of scanning every membership.
        manager
            .create_index(plain(
                "ix_group_members_user",
                GroupMembers::Table,
                vec![GroupMembers::UserId.into_iden()],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            GroupMembers::Table.into_iden(),
            ScimUserEmails::Table.into_iden(),
            ScimUsers::Table.into_iden(),
            IdpGroups::Table.into_iden(),
            ScimTokens::Table.into_iden(),
            Organizations::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
