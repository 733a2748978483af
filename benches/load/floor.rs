//! The floor: the statements the gateway issues for an operation (as `Store::observe_statements`
//! shows them), sent straight through the same sea-orm/sqlx pool, opened by `Store::connect` with
//! the server's pool size and durability settings, at the same concurrency — no HTTP, routing,
//! authentication or JSON. An HTTP operation's throughput over its floor's is the share of what
//! the database allows that the gateway delivers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use scimgate::store::{PoolSettings, Store};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};

use crate::Res;
use crate::client::{Figure, Samples, run_for};

const GROUP_COLUMNS: &str = r#""idp_groups"."id", "idp_groups"."org_id", "idp_groups"."display_name", "idp_groups"."display_key", "idp_groups"."display_key_version", "idp_groups"."external_id", "idp_groups"."source", "idp_groups"."created_at", "idp_groups"."updated_at", "idp_groups"."version""#;
const RETURNING_GROUP: &str = r#""id", "org_id", "display_name", "display_key", "display_key_version", "external_id", "source", "created_at", "updated_at", "version""#;
/// The members query of every answer that carries members (the gateway pages them).
const MEMBERS: &str = r#"SELECT "group_members"."user_id" FROM "group_members" WHERE "group_members"."group_id" = ? AND "group_members"."org_id" = ? ORDER BY "group_members"."user_id" ASC LIMIT ?"#;
/// What the gateway's member page is bounded by (it reads at most this many per answer page).
const MEMBER_PAGE: i64 = 1000;
/// The list's default page size (`count`).
const LIST_PAGE: i64 = 100;

/// The names of the floor operations, as the report's ratios refer to them.
pub const LOOKUP: &str = "floor: displayName eq lookup (page + members)";
pub const GET: &str = "floor: GET by id (row + members)";
pub const GET_ROW: &str = "floor: GET by id (row only)";
pub const CREATE: &str = "floor: create (update + insert + audit txn; members)";

/// A group the floor reads: its org, id and folded name.
#[derive(Clone)]
pub struct Known {
    pub org: i64,
    pub id: String,
    pub key: String,
}

struct Floor {
    db: DatabaseConnection,
    store: Store,
    backend: DbBackend,
}

impl Floor {
    fn statement(&self, sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(self.backend, numbered(self.backend, sql), values)
    }

    async fn members(&self, org: i64, id: &str) -> Res<usize> {
        let rows = self
            .db
            .query_all_raw(self.statement(MEMBERS, vec![id.into(), org.into(), MEMBER_PAGE.into()]))
            .await
            .map_err(|e| format!("members: {e}"))?;
        Ok(rows.len())
    }

    async fn lookup(&self, g: &Known) -> Res<()> {
        let filter =
            r#""idp_groups"."org_id" = ? AND "idp_groups"."source" = ? AND "idp_groups"."display_key" = ?"#;
        let values = || -> Vec<Value> { vec![g.org.into(), "SCIM".into(), g.key.as_str().into()] };
        // No COUNT: a first page that is not full gives the total (`Store::page`).
        let page = format!(
            r#"SELECT {GROUP_COLUMNS} FROM "idp_groups" WHERE {filter} ORDER BY "idp_groups"."id" ASC LIMIT ? OFFSET ?"#
        );
        let mut v = values();
        v.extend([LIST_PAGE.into(), 0i64.into()]);
        let rows = self
            .db
            .query_all_raw(self.statement(&page, v))
            .await
            .map_err(|e| format!("page: {e}"))?;
        for row in rows {
            let id: String = row.try_get("", "id").map_err(|e| format!("id: {e}"))?;
            self.members(g.org, &id).await?;
        }
        Ok(())
    }

    async fn get(&self, g: &Known, with_members: bool) -> Res<()> {
        let sql = format!(
            r#"SELECT {GROUP_COLUMNS} FROM "idp_groups" WHERE "idp_groups"."id" = ? AND "idp_groups"."org_id" = ? AND "idp_groups"."source" = ? LIMIT ?"#
        );
        let row = self
            .db
            .query_one_raw(self.statement(
                &sql,
                vec![g.id.as_str().into(), g.org.into(), "SCIM".into(), 1i64.into()],
            ))
            .await
            .map_err(|e| format!("get: {e}"))?
            .ok_or_else(|| format!("floor: group {} not found", g.id))?;
        let _: String = row
            .try_get("", "display_name")
            .map_err(|e| format!("name: {e}"))?;
        if with_members {
            self.members(g.org, &g.id).await?;
        }
        Ok(())
    }

    /// `POST /Groups` without members, as `Store::insert_group` does it.
    async fn create(&self, org: i64, name: &str) -> Res<()> {
        let now = scimgate::store::now_micros();
        let id = uuid::Uuid::now_v7().to_string();
        let txn = self
            .store
            .begin_write()
            .await
            .map_err(|e| format!("begin: {e}"))?;
        let promote = r#"UPDATE "idp_groups" SET "source" = ?, "display_name" = ?, "external_id" = ?, "updated_at" = ?, "version" = "version" + ? WHERE "idp_groups"."org_id" = ? AND "idp_groups"."display_key" = ? AND "idp_groups"."source" = ?"#;
        txn.execute_raw(self.statement(
            promote,
            vec![
                "SCIM".into(),
                name.into(),
                Option::<String>::None.into(),
                now.into(),
                1i64.into(),
                org.into(),
                name.into(),
                "MANUAL".into(),
            ],
        ))
        .await
        .map_err(|e| format!("promote: {e}"))?;
        let insert = format!(
            r#"INSERT INTO "idp_groups" ("id", "org_id", "display_name", "display_key", "display_key_version", "external_id", "source", "created_at", "updated_at", "version") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {RETURNING_GROUP}"#
        );
        txn.query_one_raw(self.statement(
            &insert,
            vec![
                id.as_str().into(),
                org.into(),
                name.into(),
                name.into(),
                1i32.into(),
                Option::<String>::None.into(),
                "SCIM".into(),
                now.into(),
                now.into(),
                1i64.into(),
            ],
        ))
        .await
        .map_err(|e| format!("insert: {e}"))?;
        let audit = r#"INSERT INTO "audit_events" ("org_id", "event_type", "actor", "actor_detail", "target", "correlation_id", "at", "data") VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING "id", "org_id", "event_type", "actor", "actor_detail", "target", "correlation_id", "at", "data""#;
        let detail =
            serde_json::json!({"via": "scim", "token": "scim_…abcd", "client": "127.0.0.1"}).to_string();
        let data = serde_json::json!({"displayName": name, "source": "SCIM"}).to_string();
        txn.query_one_raw(self.statement(
            audit,
            vec![
                Some(org).into(),
                "idp_group_created".into(),
                "System".into(),
                Some(detail).into(),
                id.as_str().into(),
                uuid::Uuid::now_v7().to_string().into(),
                now.into(),
                Some(data).into(),
            ],
        ))
        .await
        .map_err(|e| format!("audit: {e}"))?;
        txn.commit().await.map_err(|e| format!("commit: {e}"))?;
        self.members(org, &id).await?;
        Ok(())
    }
}

/// `?` placeholders as PostgreSQL's `$1, $2, …`.
fn numbered(backend: DbBackend, sql: &str) -> String {
    if backend != DbBackend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs the floor cases against `known` groups (those the HTTP cases read) for `duration` each,
/// with `clients` concurrent tasks; `org` receives the created rows. `pool_size` is the server's.
pub async fn measure(
    url: &str,
    pool_size: u32,
    known: Vec<Known>,
    org: i64,
    run: &str,
    clients: usize,
    duration: Duration,
) -> Res<Vec<Figure>> {
    let store = Store::connect(
        url,
        PoolSettings {
            max_connections: pool_size,
            statement_timeout: Duration::from_secs(20),
        },
    )
    .await
    .map_err(|e| format!("floor pool: {e}"))?;
    let floor = Arc::new(Floor {
        db: store.pool_for_benchmarks().clone(),
        backend: store.backend(),
        store,
    });
    let known = Arc::new(known);
    let mut figures = Vec::new();
    for case in [LOOKUP, GET, GET_ROW, CREATE] {
        let (floor, known, run) = (floor.clone(), known.clone(), run.to_owned());
        let (samples, wall) = run_for(clients, duration, move |w, i| {
            let (floor, known, run) = (floor.clone(), known.clone(), run.clone());
            async move {
                let g = &known[(w * 7919 + i) % known.len()];
                let started = Instant::now();
                let result = match case {
                    LOOKUP => floor.lookup(g).await,
                    GET => floor.get(g, true).await,
                    GET_ROW => floor.get(g, false).await,
                    _ => floor.create(org, &format!("floor-{run}-{w}-{i}")).await,
                };
                let mut s = Samples::default();
                match result {
                    Ok(()) => s.record_ok(case, started.elapsed()),
                    Err(e) => s.record_failure(case, e),
                }
                s
            }
        })
        .await;
        figures.extend(samples.figures(wall));
    }
    Ok(figures)
}
