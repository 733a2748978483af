//! SCIM activity per organization (`GET /api/orgs/{orgId}/scim/activity`): when its IdP last
//! pushed and last called, requests and errors per UTC hour, and its latest SCIM errors. Written in
//! coalesced batches by every replica (counters are added to, times only move forward), trimmed to
//! 48 hours and 50 errors per organization by the same batches. Additive only: new tables old
//! replicas never read.

use sea_orm_migration::prelude::*;

use crate::shared::fk_org;

/// The activity tables.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000007_scim_activity"
    }
}

#[derive(DeriveIden)]
enum ScimActivity {
    Table,
    OrgId,
    LastPushAt,
    LastRequestAt,
}

#[derive(DeriveIden)]
enum ScimActivityHours {
    Table,
    OrgId,
    Hour,
    Requests,
    Errors,
}

#[derive(DeriveIden)]
enum ScimActivityErrors {
    Table,
    Id,
    OrgId,
    At,
    Method,
    Path,
    Status,
    ScimType,
    Detail,
    CorrelationId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ScimActivity::Table)
                    .col(
                        ColumnDef::new(ScimActivity::OrgId)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ScimActivity::LastPushAt).big_integer().null())
                    .col(ColumnDef::new(ScimActivity::LastRequestAt).big_integer().null())
                    .foreign_key(&mut fk_org(ScimActivity::Table, ScimActivity::OrgId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ScimActivityHours::Table)
                    .col(ColumnDef::new(ScimActivityHours::OrgId).big_integer().not_null())
                    // The start of the UTC hour, µs since the epoch.
                    .col(ColumnDef::new(ScimActivityHours::Hour).big_integer().not_null())
                    .col(
                        ColumnDef::new(ScimActivityHours::Requests)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ScimActivityHours::Errors).big_integer().not_null())
                    // Also the index of the reads (one organization, a range of hours).
                    .primary_key(
                        Index::create()
                            .col(ScimActivityHours::OrgId)
                            .col(ScimActivityHours::Hour),
                    )
                    .foreign_key(&mut fk_org(ScimActivityHours::Table, ScimActivityHours::OrgId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ScimActivityErrors::Table)
                    .col(
                        ColumnDef::new(ScimActivityErrors::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ScimActivityErrors::OrgId).big_integer().not_null())
                    .col(ColumnDef::new(ScimActivityErrors::At).big_integer().not_null())
                    .col(ColumnDef::new(ScimActivityErrors::Method).text().not_null())
                    .col(ColumnDef::new(ScimActivityErrors::Path).text().not_null())
                    .col(ColumnDef::new(ScimActivityErrors::Status).integer().not_null())
                    .col(ColumnDef::new(ScimActivityErrors::ScimType).text().null())
                    .col(ColumnDef::new(ScimActivityErrors::Detail).text().not_null())
                    .col(
                        ColumnDef::new(ScimActivityErrors::CorrelationId)
                            .text()
                            .not_null(),
                    )
                    .foreign_key(&mut fk_org(ScimActivityErrors::Table, ScimActivityErrors::OrgId))
                    .to_owned(),
            )
            .await?;
        // An organization's newest errors first: the read and the trim to the newest 50.
        manager
            .create_index(
                Index::create()
                    .name("ix_scim_activity_errors_org_at")
                    .table(ScimActivityErrors::Table)
                    .col(ScimActivityErrors::OrgId)
                    .col(ScimActivityErrors::At)
                    .col(ScimActivityErrors::Id)
                    .to_owned(),
            )
            .await?;
        // Every batch drops the hours older than 48 of every organization (an idle one's too):
        // a range of this index rather than a scan of all organizations' hours.
        manager
            .create_index(
                Index::create()
                    .name("ix_scim_activity_hours_hour")
                    .table(ScimActivityHours::Table)
                    .col(ScimActivityHours::Hour)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ScimActivityErrors::Table.into_iden(),
            ScimActivityHours::Table.into_iden(),
            ScimActivity::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
