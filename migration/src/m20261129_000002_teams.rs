//! Accounts, teams with delegation to catalog rows, team membership with provenance, audit events.

use sea_orm_migration::prelude::*;

/// Teams, delegation and the audit trail.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261129_000002_teams"
    }
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum IdpGroups {
    Table,
    Id,
    OrgId,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    Issuer,
    Subject,
    Email,
    EmailKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Teams {
    Table,
    Id,
    OrgId,
    Name,
    Description,
    IdpGroupId,
    OrphanedGroupName,
    OrphanedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TeamMembers {
    Table,
    TeamId,
    AccountId,
    OrgId,
    Provenance,
    DelegatedFrom,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    OrgId,
    EventType,
    Actor,
    ActorDetail,
    Target,
    CorrelationId,
    At,
    Data,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .col(
                        ColumnDef::new(Accounts::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Accounts::Issuer).text().null())
                    .col(ColumnDef::new(Accounts::Subject).text().null())
                    .col(ColumnDef::new(Accounts::Email).text().null())
                    .col(ColumnDef::new(Accounts::EmailKey).text().null())
                    .col(ColumnDef::new(Accounts::CreatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // An account is identified by its ID token's (iss, sub); one pre-created by e-mail (no
        // subject yet) is unique by e-mail until a login binds it. Partial indexes have the same
        // syntax on SQLite and PostgreSQL.
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_accounts_identity ON accounts (issuer, subject) WHERE subject IS NOT NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_accounts_unbound_email ON accounts (email_key) WHERE subject IS NULL",
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_accounts_email")
                    .table(Accounts::Table)
                    .col(Accounts::EmailKey)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Teams::Table)
                    .col(
                        ColumnDef::new(Teams::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Teams::OrgId).big_integer().not_null())
                    .col(ColumnDef::new(Teams::Name).string_len(256).not_null())
                    .col(ColumnDef::new(Teams::Description).text().null())
                    .col(ColumnDef::new(Teams::IdpGroupId).string_len(36).null())
                    .col(ColumnDef::new(Teams::OrphanedGroupName).text().null())
                    .col(ColumnDef::new(Teams::OrphanedAt).big_integer().null())
                    .col(ColumnDef::new(Teams::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Teams::UpdatedAt).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Teams::Table, Teams::OrgId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    // The link carries the organization: a team cannot point at another org's row,
                    // and a linked row cannot be deleted without first orphaning its team.
                    .foreign_key(
                        ForeignKey::create()
                            .from(Teams::Table, (Teams::IdpGroupId, Teams::OrgId))
                            .to(IdpGroups::Table, (IdpGroups::Id, IdpGroups::OrgId))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            (
                "ux_teams_org_name",
                vec![Teams::OrgId.into_iden(), Teams::Name.into_iden()],
                true,
            ),
            // One team per catalog row.
            ("ux_teams_idp_group", vec![Teams::IdpGroupId.into_iden()], true),
            // Target of the team-membership foreign key that carries the organization.
            (
                "ux_teams_id_org",
                vec![Teams::Id.into_iden(), Teams::OrgId.into_iden()],
                true,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Teams::Table);
            if unique {
                index.unique();
            }
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(TeamMembers::Table)
                    .col(ColumnDef::new(TeamMembers::TeamId).big_integer().not_null())
                    .col(ColumnDef::new(TeamMembers::AccountId).string_len(36).not_null())
                    .col(ColumnDef::new(TeamMembers::OrgId).big_integer().not_null())
                    .col(ColumnDef::new(TeamMembers::Provenance).string_len(16).not_null())
                    .col(ColumnDef::new(TeamMembers::DelegatedFrom).string_len(36).null())
                    .col(ColumnDef::new(TeamMembers::CreatedAt).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(TeamMembers::TeamId)
                            .col(TeamMembers::AccountId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TeamMembers::Table, (TeamMembers::TeamId, TeamMembers::OrgId))
                            .to(Teams::Table, (Teams::Id, Teams::OrgId))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TeamMembers::Table, TeamMembers::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    // Removing a catalog row removes exactly the memberships it brought, in the
                    // same statement — also when a login adds one while the row is being deleted.
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                TeamMembers::Table,
                                (TeamMembers::DelegatedFrom, TeamMembers::OrgId),
                            )
                            .to(IdpGroups::Table, (IdpGroups::Id, IdpGroups::OrgId))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_team_members_delegated_from")
                    .table(TeamMembers::Table)
                    .col(TeamMembers::DelegatedFrom)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_team_members_account")
                    .table(TeamMembers::Table)
                    .col(TeamMembers::AccountId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(
                        ColumnDef::new(AuditEvents::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuditEvents::OrgId).big_integer().null())
                    .col(ColumnDef::new(AuditEvents::EventType).string_len(64).not_null())
                    .col(ColumnDef::new(AuditEvents::Actor).text().not_null())
                    .col(ColumnDef::new(AuditEvents::ActorDetail).text().null())
                    .col(ColumnDef::new(AuditEvents::Target).text().not_null())
                    .col(
                        ColumnDef::new(AuditEvents::CorrelationId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditEvents::At).big_integer().not_null())
                    .col(ColumnDef::new(AuditEvents::Data).text().null())
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "ix_audit_events_org_at",
                vec![AuditEvents::OrgId.into_iden(), AuditEvents::Id.into_iden()],
            ),
            (
                "ix_audit_events_correlation",
                vec![AuditEvents::CorrelationId.into_iden()],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(AuditEvents::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditEvents::Table.into_iden(),
            TeamMembers::Table.into_iden(),
            Teams::Table.into_iden(),
            Accounts::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
