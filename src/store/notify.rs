//! Tenant changes announced across replicas: a write that changes what a bearer token resolves to
//! (a token issued or revoked, an SSO switch) calls [`announce`] inside its transaction, and
//! PostgreSQL delivers the organization's id to every replica listening once it commits, never
//! before and never for a rolled-back write. SQLite has no such channel: there, replicas of one
//! file rely on the token cache's one-second bound alone.

use std::time::Duration;

use sea_orm::sqlx::postgres::{PgListener, PgPoolOptions};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use super::{Store, StoreError};

/// The channel every replica listens on; the payload is the organization's id.
const CHANNEL: &str = "scimgate_tenant_changed";

/// How long the listener waits for its own connection before trying again.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Tells every replica, once `conn`'s transaction commits, that `org_id`'s tokens or switches
/// changed. Nothing on SQLite.
pub(crate) async fn announce<C: ConnectionTrait>(conn: &C, org_id: i64) -> Result<(), StoreError> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), org_id.to_string().into()],
    ))
    .await?;
    Ok(())
}

/// What the listener heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantChange {
    /// This organization's tokens or switches changed.
    Org(i64),
    /// The connection was lost and is back: announcements made meanwhile were missed.
    Missed,
}

/// A subscription to tenant changes, on a connection of its own (outside the request pool, so
/// it neither takes a request's connection nor counts against an organization's share).
pub struct TenantChanges {
    listener: PgListener,
}

impl std::fmt::Debug for TenantChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantChanges").finish_non_exhaustive()
    }
}

impl Store {
    /// Subscribes to tenant changes; `None` on SQLite, which announces nothing.
    pub async fn tenant_changes(&self) -> Result<Option<TenantChanges>, StoreError> {
        if self.backend() != DbBackend::Postgres {
            return Ok(None);
        }
        // The same connection settings (TLS, credentials) as the request pool.
        let options = self.conn().get_postgres_connection_pool().connect_options();
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_lazy_with((*options).clone());
        let mut listener = PgListener::connect_with(&pool).await.map_err(sqlx_error)?;
        listener.listen(CHANNEL).await.map_err(sqlx_error)?;
        Ok(Some(TenantChanges { listener }))
    }
}

impl TenantChanges {
    /// The next change; an error when the connection is lost and cannot be re-established now
    /// (subscribe again later, and treat everything as changed).
    pub async fn next(&mut self) -> Result<TenantChange, StoreError> {
        loop {
            match self.listener.try_recv().await.map_err(sqlx_error)? {
                // Reconnected (and listening again) after a loss.
                None => return Ok(TenantChange::Missed),
                Some(notification) => match notification.payload().parse() {
                    Ok(org_id) => return Ok(TenantChange::Org(org_id)),
                    // Not ours (someone else NOTIFYing on the channel): ignore it.
                    Err(_) => continue,
                },
            }
        }
    }
}

fn sqlx_error(e: sea_orm::sqlx::Error) -> StoreError {
    StoreError::from(DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into())))
}
