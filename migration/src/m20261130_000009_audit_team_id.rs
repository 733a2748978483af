//! The team an audit event is about, in a column of its own with an index (org_id, team_id, id):
//! the owner console's Teams page lists one team's events (`?teamId=`) by a range of that index
//! instead of reading the organization's whole trail and parsing each event's JSON. A team's own
//! events (`team_created/updated/deleted`) name it as their target, membership events
//! (`team_member_*`) in `data.teamId`; the store sets the column from the same rule when it writes
//! an event, and this migration fills it for the events already written. Additive only: a nullable
//! column old replicas do not write (their events stay in the trail, outside the team filter).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// The column, its index and the backfill.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000009_audit_team_id"
    }
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    OrgId,
    TeamId,
    Id,
}

/// The statement that sets `team_id` of the events written without it, on `backend`. A value
/// that is not a plain integer (a hand-edited target, a `teamId` of another type) leaves the
/// column empty rather than failing the migration; `data` is JSON written by the store.
pub fn backfill_team_ids(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => {
            "UPDATE audit_events SET team_id = CASE \
               WHEN event_type IN ('team_created', 'team_updated', 'team_deleted') THEN \
                 CASE WHEN target ~ '^[0-9]{1,18}$' THEN target::bigint END \
               ELSE \
                 CASE WHEN (data::jsonb ->> 'teamId') ~ '^[0-9]{1,18}$' \
                   AND jsonb_typeof(data::jsonb -> 'teamId') = 'number' \
                   THEN (data::jsonb ->> 'teamId')::bigint END \
             END \
             WHERE team_id IS NULL AND (event_type IN ('team_created', 'team_updated', 'team_deleted') \
               OR (event_type LIKE 'team\\_member\\_%' AND data IS NOT NULL))"
        }
        _ => {
            // SQLite's CASE evaluates only the branch it takes: json_extract never sees text that
            // json_valid refused.
            "UPDATE audit_events SET team_id = CASE \
               WHEN event_type IN ('team_created', 'team_updated', 'team_deleted') THEN \
                 CASE WHEN target <> '' AND length(target) <= 18 AND target NOT GLOB '*[^0-9]*' \
                   THEN CAST(target AS INTEGER) END \
               ELSE \
                 CASE WHEN json_valid(data) THEN \
                   CASE WHEN json_type(data, '$.teamId') = 'integer' \
                     THEN json_extract(data, '$.teamId') END \
                 END \
             END \
             WHERE team_id IS NULL AND (event_type IN ('team_created', 'team_updated', 'team_deleted') \
               OR (event_type LIKE 'team\\_member\\_%' ESCAPE '\\' AND data IS NOT NULL))"
        }
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEvents::Table)
                    .add_column(ColumnDef::new(AuditEvents::TeamId).big_integer().null())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Before the index, so it is built once over the final values.
        db.execute_unprepared(backfill_team_ids(db.get_database_backend()))
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_events_org_team")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::OrgId)
                    .col(AuditEvents::TeamId)
                    .col(AuditEvents::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_audit_events_org_team")
                    .table(AuditEvents::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEvents::Table)
                    .drop_column(AuditEvents::TeamId)
                    .to_owned(),
            )
            .await
    }
}
