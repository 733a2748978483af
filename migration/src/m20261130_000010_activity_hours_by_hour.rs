//! An index on the start of an activity hour: every batch of SCIM activity drops the hours older
//! than 48 of every organization (an idle one's too), and with it that is a range of the rows
//! that go instead of a scan of all organizations' hours. Additive only: an index old replicas
//! do not need.

use sea_orm_migration::prelude::*;

/// The index.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000010_activity_hours_by_hour"
    }
}

#[derive(DeriveIden)]
enum ScimActivityHours {
    Table,
    Hour,
}

/// The index's name.
const INDEX: &str = "ix_scim_activity_hours_hour";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(ScimActivityHours::Table)
                    .col(ScimActivityHours::Hour)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(ScimActivityHours::Table)
                    .to_owned(),
            )
            .await
    }
}
