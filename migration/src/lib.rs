//! scimgate's schema migrations: one set for SQLite and PostgreSQL. Migrations are additive
//! (expand now, contract in a later release) so old and new replicas can run side by side.

pub use sea_orm_migration::prelude::*;

mod m20261129_000001_core;
mod m20261129_000002_teams;
mod m20261129_000003_conflicts;
mod m20261130_000004_logins;
mod m20261130_000005_claim_conflicts;
mod m20261130_000006_push_deprovisioning;
mod m20261130_000007_scim_activity;
mod m20261130_000008_instance_secrets;
mod m20261130_000009_audit_team_id;
mod shared;

pub use m20261130_000009_audit_team_id::backfill_team_ids;

/// Applies scimgate's migrations in order.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_core::Migration),
            Box::new(m20261129_000002_teams::Migration),
            Box::new(m20261129_000003_conflicts::Migration),
            Box::new(m20261130_000004_logins::Migration),
            Box::new(m20261130_000005_claim_conflicts::Migration),
            Box::new(m20261130_000006_push_deprovisioning::Migration),
            Box::new(m20261130_000007_scim_activity::Migration),
            Box::new(m20261130_000008_instance_secrets::Migration),
            Box::new(m20261130_000009_audit_team_id::Migration),
        ]
    }
}
