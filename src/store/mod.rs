//! The store: every SQL statement of scimgate lives below this module. It speaks sea-orm to SQLite
//! or PostgreSQL, starts one transaction per write, and reports constraint violations as data so
//! the layers above can decide what they mean.

pub mod activity;
pub mod audit;
pub mod claim_conflicts;
pub mod conflicts;
pub mod deprovision;
mod error;
pub mod filter_sql;
pub mod groups;
pub mod logins;
mod membership;
pub mod notify;
pub mod orgs;
pub mod retention;
mod secrets;
pub mod stats;
pub mod teams;
pub mod tokens;
pub mod users;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

pub use error::{StoreError, Violation};

/// How long a request may wait for a pooled connection before it answers 503. The design's bound
/// is 5 s; a request that waits for its organization's share of the pool first (up to 1 s) and
/// then fails to connect still answers well inside it. A failed acquisition ends the request, so
/// a request never waits twice.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a write waits its turn for SQLite's one writer connection. Writes queued behind long
/// ones (a 100,000-member PUT holds the writer about a second) are contention, not an outage: they
/// wait longer than a request waits for a connection, well inside the request timeout.
const SQLITE_WRITE_QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// Arbitrary constant naming scimgate's PostgreSQL advisory lock for migrations.
const MIGRATION_LOCK_ID: i64 = 0x5c13_6a7e;

/// A handle on the database shared by every tenant; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    /// The pool reads use.
    db: DatabaseConnection,
    /// Where writes go. On SQLite a pool of one connection: SQLite runs one writer at a time, and
    /// writers queued in a pool are handed the connection in turn the moment it is free, where
    /// writers racing on several connections sleep in SQLite's busy handler (1, 2, 5, 10… ms)
    /// and lose most of the throughput to the sleeps. On PostgreSQL the same pool as reads.
    writer: DatabaseConnection,
}

/// A write's result: the row as written, and the DELEGATED team memberships the push took away
/// with it (design §3.8).
#[derive(Debug, Clone, PartialEq)]
pub struct Written<T> {
    pub row: T,
    pub deprovisioned: u64,
}

impl<T> Written<T> {
    /// A write that took nothing away.
    pub fn unchanged(row: T) -> Self {
        Written {
            row,
            deprovisioned: 0,
        }
    }
}

/// Turns on SQLite's query planner stability guarantee (`SQLITE_DBCONFIG_ENABLE_QPSG`) for one
/// connection. Without it SQLite plans around bound values: a statement with a bound `LIMIT ?`
/// (sea-orm binds every LIMIT, `.one()`'s too) or `LIKE ?` is marked stale whenever that value is
/// re-bound, and sqlx re-binds every parameter on every run, so each run re-parsed the statement
/// (`sqlite3Reprepare`) and the statement cache saved nothing. With the guarantee a statement is
/// prepared once per connection.
async fn enable_query_planner_stability(
    conn: &mut sea_orm::sqlx::sqlite::SqliteConnection,
) -> Result<(), sea_orm::sqlx::Error> {
    use libsqlite3_sys::{SQLITE_DBCONFIG_ENABLE_QPSG, SQLITE_OK, sqlite3_db_config};
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: `db` is an open connection, and `handle` keeps its worker thread off it for the
    // call. ENABLE_QPSG takes an int (1: on) and an int pointer for the old value, null allowed.
    let rc = unsafe {
        sqlite3_db_config(
            db,
            SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as std::ffi::c_int,
            std::ptr::null_mut::<std::ffi::c_int>(),
        )
    };
    if rc != SQLITE_OK {
        return Err(sea_orm::sqlx::Error::Configuration(
            format!("enabling SQLite's query planner stability guarantee failed (code {rc})").into(),
        ));
    }
    Ok(())
}

/// Microseconds since the Unix epoch: the one timestamp format of every table (sortable and
/// identical on SQLite and PostgreSQL).
pub fn now_micros() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// How the connection pool is sized and how long one statement may run.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Connections in the pool (at least 2).
    pub max_connections: u32,
    /// PostgreSQL cancels a statement that runs longer (`statement_timeout`).
    pub statement_timeout: Duration,
}

impl Store {
    /// Opens a pool on `url` (`sqlite://…` or `postgres://…`).
    pub async fn connect(url: &str, pool: PoolSettings) -> Result<Store, StoreError> {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_timeout(ACQUIRE_TIMEOUT)
            .max_connections(pool.max_connections)
            // sqlx pings a pooled connection on every checkout by default: a round trip (on
            // SQLite a hop to the connection's thread) before each statement. Pinging only
            // connections idle for a second keeps the check where it matters (after an outage,
            // a restart, a proxy's idle cut) and takes it off the hot path.
            .test_before_acquire_if_idle_for(Duration::from_secs(1))
            .sqlx_logging(false);
        // A runaway statement is cancelled by the server instead of holding its connection
        // until the request timeout fires and the client has long given up.
        let statement_timeout = format!("{}ms", pool.statement_timeout.as_millis());
        options.map_sqlx_postgres_opts(move |opts| {
            opts.options([("statement_timeout", statement_timeout.as_str())])
        });
        // WAL lets readers proceed while one writer holds the lock; case-sensitive LIKE makes `co`,
        // `sw` and `ew` behave as on PostgreSQL (case-insensitive attributes compare pre-folded keys).
        options.map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(ACQUIRE_TIMEOUT)
                .foreign_keys(true)
                .pragma("case_sensitive_like", "ON")
                .create_if_missing(true)
        });
        // Set on every connection either SQLite pool opens (the writer reuses these options).
        options.map_sqlx_sqlite_pool_opts(|pool| {
            pool.after_connect(|conn, _| Box::pin(enable_query_planner_stability(conn)))
        });
        let db = Database::connect(options.clone())
            .await
            .map_err(StoreError::from)?;
        let writer = match db.get_database_backend() {
            DbBackend::Sqlite => {
                options
                    .max_connections(1)
                    .acquire_timeout(SQLITE_WRITE_QUEUE_TIMEOUT);
                Database::connect(options).await.map_err(StoreError::from)?
            }
            _ => db.clone(),
        };
        Ok(Store { db, writer })
    }

    /// Applies pending migrations under a lock, so replicas starting together migrate once.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        if self.backend() == DbBackend::Postgres {
            // Transaction-scoped: released by the commit, or by the server if this process dies.
            txn.execute_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})"),
            ))
            .await?;
        }
        Migrator::up(&txn, None).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Whether every known migration has been applied (readiness).
    pub async fn migrations_applied(&self) -> Result<bool, StoreError> {
        // The read-only look-up: the other one runs CREATE TABLE IF NOT EXISTS on every probe.
        Ok(Migrator::get_pending_migrations_read_only(&self.db)
            .await?
            .is_empty())
    }

    /// A round trip to the database (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await.map_err(StoreError::from)
    }

    /// Calls `observe` with the SQL of every statement this store runs from now on (transactions
    /// included): for diagnostics, and for tests that bound how many statements an operation takes.
    pub fn observe_statements<F>(&mut self, observe: F)
    where
        F: Fn(&str) + Send + Sync + 'static,
    {
        let observe = std::sync::Arc::new(observe);
        let on_writer = observe.clone();
        self.db
            .set_metric_callback(move |info: &sea_orm::metric::Info<'_>| observe(&info.statement.sql));
        self.writer
            .set_metric_callback(move |info: &sea_orm::metric::Info<'_>| on_writer(&info.statement.sql));
    }

    /// Which SQL dialect is behind this store.
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// The connection pool, for read-only statements.
    pub(crate) fn conn(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Where a single write outside any transaction goes (on SQLite, the one writer connection).
    pub(crate) fn write_conn(&self) -> &DatabaseConnection {
        &self.writer
    }

    /// The pool itself, for the load benchmark's floor only (`benches/load`): the gateway's own
    /// statements issued through the same driver and pool, without the gateway around them.
    pub fn pool_for_benchmarks(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Starts a write transaction. On SQLite it takes the write lock at BEGIN (IMMEDIATE): a
    /// deferred transaction that reads and then writes fails with "database is locked" under load.
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, StoreError> {
        // Only the SQLite mode: anything else would cost PostgreSQL a SET TRANSACTION round trip
        // per write for what is already its default.
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        self.writer
            .begin_with_options(options)
            .await
            .map_err(StoreError::from)
    }
}

/// Splits ids into chunks small enough for one statement's bind parameters on every backend.
pub(crate) fn chunks<T>(items: &[T]) -> std::slice::Chunks<'_, T> {
    items.chunks(500)
}

/// Whether no row can hold `text`: PostgreSQL refuses NUL (0x00) in text, so an id carrying one
/// is answered "not found" without asking either database (both then answer the same).
pub(crate) fn unstorable(text: &str) -> bool {
    text.contains('\0')
}

/// Many ids as one bind parameter: a JSON array text, whatever their number (PostgreSQL caps a
/// statement at 65 535 parameters, and a statement per few hundred ids is what made 100 000
/// members take 20 s). Ids no row can hold are left out: they match nothing. Written straight
/// into a buffer of the right size: for 300 000 ids this text is the biggest thing a write holds.
/// Expand it in SQL with [`id_rows`].
pub(crate) fn id_array(ids: &[String]) -> Result<String, StoreError> {
    let storable = || ids.iter().filter(|id| !unstorable(id));
    // Quotes and a comma per id; escapes, if any, grow the buffer.
    let mut out = Vec::with_capacity(storable().map(|id| id.len() + 3).sum::<usize>() + 2);
    out.push(b'[');
    for (i, id) in storable().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, id)
            .map_err(|e| StoreError::Other(sea_orm::DbErr::Json(e.to_string())))?;
    }
    out.push(b']');
    String::from_utf8(out).map_err(|e| StoreError::Other(sea_orm::DbErr::Json(e.to_string())))
}

/// Whether some id of `ids` can be held by a row (see [`unstorable`]).
pub(crate) fn any_storable(ids: &[String]) -> bool {
    ids.iter().any(|id| !unstorable(id))
}

/// Member ids a write named that are not users of its organization: how many, and the first
/// few in id order (an error names a few; a list of 320 000 would cost more than the write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownUsers {
    /// At most [`UnknownUsers::SHOWN`] of them.
    pub shown: Vec<String>,
    /// All of them.
    pub count: u64,
}

impl UnknownUsers {
    /// How many are named.
    pub const SHOWN: usize = 10;
}

/// SQL for the ids of the JSON array bound at `param` as a table `alias(id)`, the same shape on
/// both databases.
pub(crate) fn id_rows(backend: DbBackend, param: &str, alias: &str) -> String {
    let expand = match backend {
        DbBackend::Postgres => format!("json_array_elements_text({param}::json)"),
        _ => format!("json_each({param})"),
    };
    format!("(SELECT value AS id FROM {expand}) AS {alias}")
}

/// SQL for "`column` is one of the ids of the JSON array bound at `param`". On PostgreSQL an
/// array the index probes id by id (`= ANY`): a join against the expanded list can be planned as
/// a nested loop over the whole group once statistics are stale, 100 000 × 10 000 steps.
pub(crate) fn id_in(backend: DbBackend, column: &str, param: &str) -> String {
    match backend {
        DbBackend::Postgres => {
            format!("{column} = ANY(ARRAY(SELECT json_array_elements_text({param}::json)))")
        }
        _ => format!("{column} IN (SELECT value FROM json_each({param}))"),
    }
}

/// [`id_in`] for an integer `column` (the JSON array then holds its values as text).
pub(crate) fn int_in(backend: DbBackend, column: &str, param: &str) -> String {
    match backend {
        DbBackend::Postgres => {
            format!("{column} = ANY(ARRAY(SELECT json_array_elements_text({param}::json)::bigint))")
        }
        _ => format!("{column} IN (SELECT CAST(value AS INTEGER) FROM json_each({param}))"),
    }
}

/// The `n`-th bind parameter's placeholder in hand-written SQL (`$n` on PostgreSQL, `?` on SQLite).
pub(crate) fn param(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

/// Paging, sorting and filtering of a list request, already validated.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<crate::scim::ast::Filter>,
    pub sort_by: Option<crate::scim::ast::AttrPath>,
    pub descending: bool,
    /// 1-based; ignored when paging by keyset.
    pub start_index: u64,
    /// Rows at most.
    pub count: u64,
    /// Page by keyset (cursor paging) instead of by index.
    pub keyset: Option<Keyset>,
}

/// A sort key value of a row, as a cursor carries it (the column's own value: a folded key, a
/// timestamp in µs, an id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    /// No value (say no externalId): such rows come last in either order.
    Null,
    Text(String),
    Int(i64),
}

impl SortValue {
    fn from_column(value: sea_orm::Value) -> SortValue {
        use sea_orm::Value as V;
        match value {
            V::String(Some(s)) => SortValue::Text(s.to_string()),
            V::BigInt(Some(i)) => SortValue::Int(i),
            V::Int(Some(i)) => SortValue::Int(i64::from(i)),
            _ => SortValue::Null,
        }
    }

    fn to_value(&self) -> sea_orm::Value {
        match self {
            SortValue::Null => sea_orm::Value::String(None),
            SortValue::Text(s) => s.clone().into(),
            SortValue::Int(i) => (*i).into(),
        }
    }
}

/// A row's place in a sorted list: its sort value and its id (the tiebreak).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub value: SortValue,
    pub id: String,
}

/// Keyset paging: the rows just after (or before) a position, whatever was inserted or deleted
/// elsewhere in the list since the position was handed out.
#[derive(Debug, Clone, Default)]
pub struct Keyset {
    /// The row the page starts beyond (excluded); `None`: the start of the list, or its end when
    /// going backward.
    pub from: Option<Position>,
    /// The rows before `from` instead of after it; answered in the list's order all the same.
    pub backward: bool,
    /// Whether [`Page::total`] is wanted (a second statement, unless the page says it all).
    pub count_total: bool,
}

/// A page of rows and the total number matching.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// 0 when a keyset page was not asked to count.
    pub total: u64,
    pub rows: Vec<T>,
    /// Each row's position, in step with `rows` (keyset pages only, else empty).
    pub positions: Vec<Position>,
}

/// Why a list failed.
#[derive(Debug)]
pub enum ListError {
    /// The filter or sort cannot be run here (the client's mistake).
    Unsupported(filter_sql::Unsupported),
    Store(StoreError),
}

impl From<StoreError> for ListError {
    fn from(e: StoreError) -> Self {
        ListError::Store(e)
    }
}

/// Why a write to one resource did not happen.
#[derive(Debug)]
pub enum WriteError {
    NotFound,
    /// `If-Match` named another version.
    VersionMismatch,
    /// Member ids that are not users of this organization.
    UnknownUsers(UnknownUsers),
    /// A SCIM-managed catalog row can only be removed by SCIM.
    ScimManaged,
    /// A rule of the organization's data refuses the change (the message says which).
    Conflict(String),
    /// The change itself is invalid (a PATCH that breaks the resource's rules).
    Rejected(crate::scim::error::ScimError),
    Store(StoreError),
}

impl<E: Into<StoreError>> From<E> for WriteError {
    fn from(e: E) -> Self {
        WriteError::Store(e.into())
    }
}

/// The column a `sortBy` names, from a resource's table of sortable attributes.
fn sort_column<C: Copy>(path: &crate::scim::ast::AttrPath, sortable: &[(&str, C)]) -> Result<C, ListError> {
    let name = filter_sql::path_name(path);
    sortable
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        .map(|(_, c)| *c)
        .ok_or_else(|| {
            let supported: Vec<&str> = sortable.iter().map(|(n, _)| *n).collect();
            ListError::Unsupported(filter_sql::Unsupported(format!(
                "sorting by \"{name}\" is not supported; supported: {}",
                supported.join(", ")
            )))
        })
}

impl Store {
    /// Runs a filtered, sorted, paged select; `tiebreak` (a time-ordered id) keeps pages stable.
    async fn page<E>(
        &self,
        mut select: sea_orm::Select<E>,
        query: &ListQuery,
        target: filter_sql::Target,
        sort: Option<E::Column>,
        tiebreak: E::Column,
    ) -> Result<Page<E::Model>, ListError>
    where
        E: sea_orm::EntityTrait,
        E::Model: Sync,
    {
        use sea_orm::{PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Order};
        if let Some(filter) = &query.filter {
            select = select.filter(
                filter_sql::condition(filter, target, self.backend()).map_err(ListError::Unsupported)?,
            );
        }
        if let Some(keyset) = &query.keyset {
            return self.keyset_page(select, query, keyset, sort, tiebreak).await;
        }
        let counted = select.clone();
        if query.count == 0 {
            let total = counted.count(self.conn()).await.map_err(StoreError::from)?;
            return Ok(Page {
                total,
                rows: vec![],
                positions: vec![],
            });
        }
        let order = if query.descending { Order::Desc } else { Order::Asc };
        if let Some(col) = sort {
            // Absent values (no externalId, no displayName) last on both backends: SQLite and
            // PostgreSQL disagree by default.
            select = select.order_by_with_nulls(col, order.clone(), sea_orm::sea_query::NullOrdering::Last);
        }
        let rows = select
            .order_by(tiebreak, order)
            .offset(query.start_index.saturating_sub(1))
            .limit(query.count)
            .all(self.conn())
            .await
            .map_err(StoreError::from)?;
        // A first page that is not full holds the whole result: its length is the total. The
        // IdPs' lookups (displayName or externalId eq: one row or none) are one statement, not two.
        let total = if query.start_index <= 1 && (rows.len() as u64) < query.count {
            rows.len() as u64
        } else {
            counted.count(self.conn()).await.map_err(StoreError::from)?
        };
        Ok(Page {
            total,
            rows,
            positions: vec![],
        })
    }

    /// [`Store::page`] by keyset: the rows beyond `keyset.from` in the list's order (sort column
    /// with absent values last, then id), read backward and turned around for a backward page.
    async fn keyset_page<E>(
        &self,
        mut select: sea_orm::Select<E>,
        query: &ListQuery,
        keyset: &Keyset,
        sort: Option<E::Column>,
        tiebreak: E::Column,
    ) -> Result<Page<E::Model>, ListError>
    where
        E: sea_orm::EntityTrait,
        E::Model: Sync,
    {
        use sea_orm::sea_query::{NullOrdering, Order};
        use sea_orm::{ModelTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
        let counted = select.clone();
        let count_all = || async {
            if keyset.count_total {
                counted.clone().count(self.conn()).await.map_err(StoreError::from)
            } else {
                Ok(0)
            }
        };
        if query.count == 0 {
            return Ok(Page {
                total: count_all().await?,
                rows: vec![],
                positions: vec![],
            });
        }
        if let Some(from) = &keyset.from {
            select = select.filter(beyond_position(
                sort,
                tiebreak,
                query.descending,
                keyset.backward,
                from,
            ));
        }
        // Backward reads the reversed order: the rows nearest the position first.
        let order = if query.descending != keyset.backward {
            Order::Desc
        } else {
            Order::Asc
        };
        if let Some(col) = sort {
            let nulls = if keyset.backward {
                NullOrdering::First
            } else {
                NullOrdering::Last
            };
            select = select.order_by_with_nulls(col, order.clone(), nulls);
        }
        let mut rows = select
            .order_by(tiebreak, order)
            .limit(query.count)
            .all(self.conn())
            .await
            .map_err(StoreError::from)?;
        if keyset.backward {
            rows.reverse();
        }
        let positions = rows
            .iter()
            .map(|row| Position {
                value: sort.map_or(SortValue::Null, |col| SortValue::from_column(row.get(col))),
                id: match SortValue::from_column(row.get(tiebreak)) {
                    SortValue::Text(id) => id,
                    _ => String::new(),
                },
            })
            .collect();
        // As for index pages: a first page that is not full is the whole result.
        let total = if keyset.count_total && keyset.from.is_none() && (rows.len() as u64) < query.count {
            rows.len() as u64
        } else {
            count_all().await?
        };
        Ok(Page {
            total,
            rows,
            positions,
        })
    }
}

/// The rows beyond `from` in a list ordered by `sort` (absent values last, in either direction)
/// then `tiebreak`, ascending unless `descending`: after it, or before it when `backward`. Written
/// out rather than as a row-value comparison, which would not place absent values where the
/// ORDER BY does; the predicate and the ORDER BY must agree row for row, or pages skip or repeat.
fn beyond_position<C: sea_orm::ColumnTrait>(
    sort: Option<C>,
    tiebreak: C,
    descending: bool,
    backward: bool,
    from: &Position,
) -> sea_orm::Condition {
    use sea_orm::Condition;
    // The wanted rows compare greater: ascending and after, or descending and before.
    let greater = descending == backward;
    let beyond = |col: C, value: sea_orm::Value| if greater { col.gt(value) } else { col.lt(value) };
    let id_beyond = beyond(tiebreak, from.id.clone().into());
    let Some(col) = sort else {
        return Condition::all().add(id_beyond);
    };
    match &from.value {
        // In the trailing run of absent values: after it only more of them, before it every
        // present value too.
        SortValue::Null => {
            let among_absent = Condition::all().add(col.is_null()).add(id_beyond);
            if backward {
                Condition::any().add(col.is_not_null()).add(among_absent)
            } else {
                among_absent
            }
        }
        value => {
            let value = value.to_value();
            let mut wanted = Condition::any()
                .add(beyond(col, value.clone()))
                .add(Condition::all().add(col.eq(value)).add(id_beyond));
            // A comparison with an absent value is never true: the trailing run is added by hand.
            if !backward {
                wanted = wanted.add(col.is_null());
            }
            wanted
        }
    }
}

#[cfg(test)]
mod pool_tests {
    use super::*;

    /// A small pool on the test PostgreSQL with this statement timeout.
    pub(super) async fn postgres_store(statement_timeout: Duration) -> Store {
        let url = std::env::var("SCIMGATE_TEST_DATABASE_URL").unwrap_or_default();
        assert!(
            url.starts_with("postgres"),
            "set SCIMGATE_TEST_DATABASE_URL=postgres://…"
        );
        let pool = PoolSettings {
            max_connections: 2,
            statement_timeout,
        };
        Store::connect(&url, pool).await.expect("connect")
    }

    /// A store on a fresh SQLite file of its own, removed (with its WAL files) when dropped.
    pub(super) struct TempSqlite {
        pub(super) store: Store,
        path: std::path::PathBuf,
    }

    impl TempSqlite {
        pub(super) async fn new(max_connections: u32) -> TempSqlite {
            let path =
                std::env::temp_dir().join(format!("scimgate-pool-{}.db", uuid::Uuid::now_v7().simple()));
            let pool = PoolSettings {
                max_connections,
                statement_timeout: Duration::from_secs(5),
            };
            let store = Store::connect(&format!("sqlite://{}?mode=rwc", path.display()), pool)
                .await
                .expect("connect");
            TempSqlite { store, path }
        }
    }

    impl Drop for TempSqlite {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
            }
        }
    }

    /// SQLite's query plan of `sql` with `values` on `conn`, its steps' details joined by "; ".
    pub(super) async fn sqlite_plan<C: ConnectionTrait>(
        conn: &C,
        sql: &str,
        values: Vec<sea_orm::Value>,
    ) -> String {
        let statement =
            Statement::from_sql_and_values(DbBackend::Sqlite, format!("EXPLAIN QUERY PLAN {sql}"), values);
        let rows = conn.query_all_raw(statement).await.expect("explain");
        let details: Vec<String> = rows
            .iter()
            .map(|row| row.try_get_by_index::<String>(3).expect("detail"))
            .collect();
        details.join("; ")
    }

    /// How SQLite plans `x GLOB 'ab*'` on the connection `txn` holds: with the pattern bound, and
    /// with it written in the SQL. SQLite narrows a GLOB on an indexed column to a range of the
    /// index (a SEARCH) when it knows the pattern; for a bound pattern it knows it only by planning
    /// around the bound value, which is what the query planner stability guarantee turns off (the
    /// same mechanism that re-prepared every statement with a bound LIMIT).
    async fn glob_plans(txn: &DatabaseTransaction) -> (String, String) {
        txn.execute_unprepared(
            "CREATE TEMP TABLE qpsg_probe (x TEXT); CREATE INDEX temp.qpsg_probe_x ON qpsg_probe (x)",
        )
        .await
        .expect("probe table");
        let probe = "SELECT x FROM qpsg_probe WHERE x GLOB";
        let bound = sqlite_plan(txn, &format!("{probe} ?"), vec!["ab*".into()]).await;
        let written = sqlite_plan(txn, &format!("{probe} 'ab*'"), vec![]).await;
        (bound, written)
    }

    /// Every connection of both SQLite pools runs under the query planner stability guarantee:
    /// the plan of a bound pattern does not depend on its value.
    #[tokio::test]
    async fn every_sqlite_connection_plans_without_bound_values() {
        const READERS: u32 = 3;
        let temp = TempSqlite::new(READERS).await;
        let store = &temp.store;
        // Held at once, so each is another connection of the read pool (all it can open).
        let mut txns = Vec::new();
        for _ in 0..READERS {
            txns.push(store.conn().begin().await.expect("read connection"));
        }
        txns.push(store.begin_write().await.expect("writer connection"));
        for (i, txn) in txns.iter().enumerate() {
            let (bound, written) = glob_plans(txn).await;
            // The index serves the pattern when SQLite knows it: the probe can tell the two apart.
            assert!(
                written.starts_with("SEARCH"),
                "connection {i}, pattern written in: {written}"
            );
            assert!(
                bound.starts_with("SCAN"),
                "connection {i} planned around the bound value: {bound}"
            );
        }
        for txn in txns {
            txn.rollback().await.expect("rollback");
        }
    }

    /// `sw` on an indexed column reads a range of the index on SQLite, though the planner cannot
    /// see the bound pattern: an organization's users are not scanned for a prefix.
    #[tokio::test]
    async fn a_starts_with_filter_reads_a_range_of_the_index_on_sqlite() {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryTrait};
        let temp = TempSqlite::new(2).await;
        let store = &temp.store;
        store.migrate().await.expect("migrate");
        let plan = |select: sea_orm::sea_query::SelectStatement| {
            let (sql, values) = select.build(sea_orm::sea_query::SqliteQueryBuilder);
            async move { sqlite_plan(store.conn(), &sql, values.0).await }
        };
        let filter = |text: &str, target| {
            let parsed = crate::scim::filter::parse_filter(text).expect("filter");
            filter_sql::condition(&parsed, target, DbBackend::Sqlite).expect("condition")
        };
        let users = plan(
            entity::scim_user::Entity::find()
                .filter(entity::scim_user::Column::OrgId.eq(1))
                .filter(filter("userName sw \"ab\"", filter_sql::Target::Users))
                .into_query(),
        )
        .await;
        assert!(
            users.contains("user_name_key>? AND user_name_key<?"),
            "userName sw: {users}"
        );
        let groups = plan(
            entity::idp_group::Entity::find()
                .filter(entity::idp_group::Column::OrgId.eq(1))
                .filter(filter("externalId sw \"ab\"", filter_sql::Target::Groups))
                .into_query(),
        )
        .await;
        assert!(
            groups.contains("external_id>? AND external_id<?"),
            "externalId sw: {groups}"
        );
    }

    /// The statement timeout is a session setting of every pooled PostgreSQL connection.
    #[tokio::test]
    #[ignore = "needs PostgreSQL"]
    async fn the_statement_timeout_reaches_postgres() {
        let store = postgres_store(Duration::from_millis(1234)).await;
        let row = store
            .conn()
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SHOW statement_timeout",
            ))
            .await
            .expect("show")
            .expect("a row");
        let setting: String = row.try_get_by_index(0).expect("text");
        assert_eq!(setting, "1234ms");
    }

    /// A statement the database cancels for running too long is "retry later" (503), not a bug.
    #[tokio::test]
    #[ignore = "needs PostgreSQL"]
    async fn a_statement_past_the_timeout_is_unavailable() {
        let store = postgres_store(Duration::from_millis(50)).await;
        let err = store
            .conn()
            .execute_unprepared("SELECT pg_sleep(2)")
            .await
            .expect_err("cancelled by statement_timeout");
        assert!(
            matches!(StoreError::from(err), StoreError::Unavailable(_)),
            "a cancelled statement must map to Unavailable"
        );
    }
}
