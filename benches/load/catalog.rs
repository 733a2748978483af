//! Catalog scale: the same lookups, reads and creates at 1,000 and at `SCIMGATE_BENCH_ROWS`
//! catalog rows spread over 1,000 organizations, seeded in bulk SQL straight into the real schema
//! (one statement per table: a million POSTs would take longer than the whole benchmark).

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use serde_json::json;

use crate::client::{Cpu, Http, filter, group_body, one, run_for};
use crate::process::Server;
use crate::workloads::Case;
use crate::{Res, err};

pub const ORGS: usize = 1000;

/// The seeded database: organizations `cat-{run}-{i}` with ids `first + i`, rows `i` named
/// `cat-{i}` (lower-case ASCII: the folded key is the name) in organization `i % ORGS`.
struct Seeded {
    sql: DatabaseConnection,
    backend: DbBackend,
    first_org: i64,
    tag: String,
    rows: usize,
}

fn row_id(tag: &str, i: usize) -> String {
    format!("{tag}-0000-7000-8000-{i:012}")
}

impl Seeded {
    async fn exec(&self, statement: &str) -> Res<u64> {
        crate::process::exec_sql(&self.sql, statement).await
    }

    async fn orgs(url: &str, run: &str) -> Res<Seeded> {
        let sql = Database::connect(url).await.map_err(err("connect for seeding"))?;
        let backend = sql.get_database_backend();
        let now = scimgate::store::now_micros();
        let series = series(backend, 0, ORGS);
        let seeded = Seeded {
            sql,
            backend,
            first_org: 0,
            tag: format!("{:08x}", crate::rand_u32()),
            rows: 0,
        };
        seeded
            .exec(&format!(
                "{series} INSERT INTO organizations (name, sso_active, created_at) SELECT 'cat-{run}-' || i, TRUE, {now} FROM s ORDER BY i"
            ))
            .await?;
        let ids = seeded
            .sql
            .query_one_raw(sea_orm::Statement::from_string(
                backend,
                format!("SELECT MIN(id) AS lo, MAX(id) AS hi, COUNT(*) AS n FROM organizations WHERE name LIKE 'cat-{run}-%'"),
            ))
            .await
            .map_err(err("org ids"))?
            .ok_or("no org ids")?;
        let (lo, hi): (i64, i64) = (
            ids.try_get("", "lo").map_err(err("lo"))?,
            ids.try_get("", "hi").map_err(err("hi"))?,
        );
        // The row → organization mapping below relies on one contiguous block of ids, in order.
        if hi - lo + 1 != ORGS as i64 {
            return Err(format!("organization ids not contiguous: {lo}..{hi}"));
        }
        let check: String = seeded
            .sql
            .query_one_raw(sea_orm::Statement::from_string(
                backend,
                format!("SELECT name FROM organizations WHERE id = {}", lo + 7),
            ))
            .await
            .map_err(err("org name"))?
            .ok_or("no org")?
            .try_get("", "name")
            .map_err(err("name"))?;
        if check != format!("cat-{run}-7") {
            return Err(format!("organization ids out of name order: {check}"));
        }
        Ok(Seeded {
            first_org: lo,
            ..seeded
        })
    }

    /// Rows up to `total` (from what is there).
    async fn grow(&mut self, total: usize) -> Res<()> {
        if total <= self.rows {
            return Ok(());
        }
        let now = scimgate::store::now_micros();
        let (tag, first) = (&self.tag, self.first_org);
        let id = match self.backend {
            DbBackend::Postgres => format!("'{tag}-0000-7000-8000-' || lpad(i::text, 12, '0')"),
            _ => format!("printf('{tag}-0000-7000-8000-%012d', i)"),
        };
        let statement = format!(
            "{} INSERT INTO idp_groups (id, org_id, display_name, display_key, display_key_version, external_id, source, created_at, updated_at, version) \
             SELECT {id}, {first} + (i % {ORGS}), 'cat-' || i, 'cat-' || i, 1, NULL, 'SCIM', {now}, {now}, 1 FROM s",
            series(self.backend, self.rows, total)
        );
        let inserted = self.exec(&statement).await?;
        if inserted as usize != total - self.rows {
            return Err(format!("seeded {inserted} rows, wanted {}", total - self.rows));
        }
        self.rows = total;
        if self.backend == DbBackend::Postgres {
            // What autovacuum would have done by the time a real catalog got this big.
            self.exec("ANALYZE idp_groups").await?;
            self.exec("ANALYZE organizations").await?;
        }
        Ok(())
    }

    /// Rows of organization `k`: `k`, `k + ORGS`, …
    fn rows_of(&self, k: usize) -> Vec<(String, String)> {
        (k..self.rows)
            .step_by(ORGS)
            .map(|i| (row_id(&self.tag, i), format!("cat-{i}")))
            .collect()
    }
}

/// `WITH RECURSIVE s(i)` / `generate_series` over `[from, to)`, as a CTE named `s`.
fn series(backend: DbBackend, from: usize, to: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("WITH s(i) AS (SELECT generate_series({from}, {}))", to - 1),
        _ => format!(
            "WITH RECURSIVE s(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM s WHERE i < {})",
            to - 1
        ),
    }
}

/// Seeds and measures at each size of `sizes` (ascending) on the server at `server`, with tokens
/// issued for the first `clients` organizations; VmRSS after each size.
pub async fn scale(
    server: &Server,
    url: &str,
    run: &str,
    sizes: &[usize],
    clients: usize,
    duration: Duration,
) -> Res<Vec<Case>> {
    let mut seeded = Seeded::orgs(url, run).await?;
    let mut https = Vec::new();
    for k in 0..clients {
        let org = seeded.first_org + k as i64;
        let token = crate::cli(url, &[], &["token", "generate", &org.to_string()]).await?;
        https.push(Http::new(
            &server.addr,
            &format!("/api/orgs/{org}/scim/v2"),
            &token,
        ));
    }
    let https = Arc::new(https);
    let mut cases = Vec::new();
    for &size in sizes {
        let seeding = std::time::Instant::now();
        seeded.grow(size).await?;
        let seed_seconds = seeding.elapsed().as_secs_f64();
        let rows: Arc<Vec<Vec<(String, String)>>> =
            Arc::new((0..clients).map(|k| seeded.rows_of(k)).collect());
        let mut figures = Vec::new();
        let lookup = format!("lookup at {size} rows");
        let get = format!("GET by id at {size} rows");
        let create = format!("create at {size} rows");
        for (op, kind) in [(lookup, 0), (get, 1), (create, 2)] {
            let (https, rows, run) = (https.clone(), rows.clone(), run.to_owned());
            let cpu = Cpu::start(Some(server.pid()));
            let (samples, wall) = run_for(clients, duration, move |w, i| {
                let http = https[w].clone();
                let (id, name) = rows[w][(i * 31 + w) % rows[w].len()].clone();
                let (op, run) = (op.clone(), run.clone());
                async move {
                    let answer = match kind {
                        0 => {
                            http.get(&format!("/Groups?filter={}", filter("displayName", &name)))
                                .await
                        }
                        1 => http.get(&format!("/Groups/{id}")).await,
                        _ => {
                            http.post("/Groups", &group_body(&format!("new-{run}-{size}-{w}-{i}"), None))
                                .await
                        }
                    };
                    one(&op, &answer)
                }
            })
            .await;
            figures.extend(cpu.attribute(samples.figures(wall)));
        }
        let rss_mib = server.rss_kib() as f64 / 1024.0;
        cases.push(
            Case::new(
                &format!("Catalog at {size} rows over {ORGS} organizations"),
                figures,
            )
            .note("rows", json!(size))
            .note("rss_mib_after", json!(rss_mib))
            .note("seed_seconds", json!(seed_seconds)),
        );
    }
    Ok(cases)
}

/// Group size: the same reads and a one-member change on a group of `small` and of `large`
/// members (users and memberships seeded in bulk SQL), all clients on the one group. Reads without
/// members and one-member changes should not grow with the group; a read with members does. The
/// group is delegated to a team, and the last operation removes a member whose account is a
/// DELEGATED member of it (push-time deprovisioning, design §3.8): each client has a user of its
/// own, added back to the group and to the team (as a login would) before each timed removal.
pub async fn group_size(
    org: &crate::workloads::Org,
    url: &str,
    sizes: &[usize],
    clients: usize,
    duration: Duration,
    pid: Option<u32>,
) -> Res<Case> {
    let sql = Database::connect(url).await.map_err(err("connect for seeding"))?;
    let backend = sql.get_database_backend();
    let tag = format!("{:08x}", crate::rand_u32());
    let largest = sizes.iter().copied().max().unwrap_or(0);
    // One more than the largest group: a user outside every group, for the one-member change;
    // then one leaver per client, each with an account whose e-mail is its userName.
    seed_users(&sql, backend, org.id, &tag, largest + 1 + clients).await?;
    let outsider = row_id(&tag, largest);
    let leavers: Vec<(String, String)> = (0..clients)
        .map(|c| {
            (
                row_id(&tag, largest + 1 + c),
                format!("{tag}-0000-7000-9000-{c:012}"),
            )
        })
        .collect();
    let now = scimgate::store::now_micros();
    for (c, (_, account)) in leavers.iter().enumerate() {
        let email = format!("u{}@{tag}.load.example", largest + 1 + c);
        sql.execute_unprepared(&format!(
            "INSERT INTO accounts (id, issuer, subject, email, email_key, created_at) \
             VALUES ('{account}', 'load', '{account}', '{email}', '{email}', {now})"
        ))
        .await
        .map_err(err("seed account"))?;
    }
    let leavers = Arc::new(leavers);
    let org_id = org.id;
    let mut figures = Vec::new();
    for &size in sizes {
        let answer = org
            .http
            .post("/Groups", &group_body(&format!("size-{tag}-{size}"), None))
            .await?;
        let group = crate::client::created_id(&answer, "group-size group")?;
        let linked = sql
            .execute_unprepared(&format!(
                "INSERT INTO group_members (group_id, user_id, org_id) SELECT '{group}', id, org_id FROM scim_users \
                 WHERE org_id = {} AND id >= '{tag}-0000-7000-8000-000000000000' AND id < '{}' ",
                org.id,
                row_id(&tag, size)
            ))
            .await
            .map_err(err("link members"))?
            .rows_affected();
        if linked as usize != size {
            return Err(format!("linked {linked} members, wanted {size}"));
        }
        // What autovacuum does within a minute of a bulk load: without fresh statistics PostgreSQL
        // plans the member check as a hash of every user of the organization (45 ms at 100,000
        // users, against 0.1 ms by the primary key), which measures the seeding, not the gateway.
        if backend == DbBackend::Postgres {
            sql.execute_unprepared("ANALYZE scim_users, group_members")
                .await
                .map_err(err("analyze"))?;
        }
        let team = delegated_team(&sql, org.id, &group, &format!("size-{tag}-{size}")).await?;
        let removals = format!(
            "SELECT COUNT(*) FROM audit_events WHERE org_id = {} AND event_type = 'team_member_deleted' \
             AND data LIKE '%idp_membership_removed%'",
            org.id
        );
        let removed_before = scalar(&sql, &removals).await?;
        let path = format!("/Groups/{group}");
        let ops: [(String, u8); 4] = [
            (
                format!("GET /Groups/{{id}}?excludedAttributes=members, {size} members"),
                0,
            ),
            (format!("GET /Groups/{{id}} with members, {size} members"), 1),
            (format!("PATCH add + remove one member, {size} members"), 2),
            (
                format!("PATCH remove a member + its team (§3.8), {size} members"),
                3,
            ),
        ];
        for (op, kind) in ops {
            let (http, path, outsider) = (org.http.clone(), path.clone(), outsider.clone());
            let (sql, leavers, group) = (sql.clone(), leavers.clone(), group.clone());
            let cpu = Cpu::start(pid);
            let (samples, wall) = run_for(clients, duration, move |client, _| {
                let (http, path, op) = (http.clone(), path.clone(), op.clone());
                let member = json!([{"value": outsider.clone()}]);
                let (sql, leavers, group) = (sql.clone(), leavers.clone(), group.clone());
                async move {
                    match kind {
                        3 => {
                            let (user, account) = &leavers[client];
                            let leaver = json!([{"value": user}]);
                            let added = http
                                .patch(&path, json!([{"op": "add", "path": "members", "value": leaver}]))
                                .await;
                            if let Err(e) = rejoin_team(&sql, org_id, team, account, &group).await {
                                let mut s = one(&op, &added);
                                s.record_failure(&op, e);
                                return s;
                            }
                            one(
                                &op,
                                &http
                                    .patch(
                                        &path,
                                        json!([{"op": "remove", "path": "members", "value": leaver}]),
                                    )
                                    .await,
                            )
                        }
                        0 => one(
                            &op,
                            &http.get(&format!("{path}?excludedAttributes=members")).await,
                        ),
                        1 => one(&op, &http.get(&path).await),
                        _ => {
                            let mut s = one(
                                &op,
                                &http
                                    .patch(&path, json!([{"op": "add", "path": "members", "value": member}]))
                                    .await,
                            );
                            s.record(
                                &op,
                                &http
                                    .patch(
                                        &path,
                                        json!([{"op": "remove", "path": "members", "value": member}]),
                                    )
                                    .await,
                            );
                            s
                        }
                    }
                }
            })
            .await;
            figures.extend(cpu.attribute(samples.figures(wall)));
        }
        // The timed removals really deprovisioned: their audit events are there.
        if scalar(&sql, &removals).await? <= removed_before {
            return Err(format!("no push-time removal was audited for team {team}"));
        }
    }
    Ok(Case::new("Group size (all clients on one group)", figures).note("sizes", json!(sizes)))
}

/// A team of `org` delegated to `group`; its id.
async fn delegated_team(sql: &DatabaseConnection, org: i64, group: &str, name: &str) -> Res<i64> {
    let now = scimgate::store::now_micros();
    sql.execute_unprepared(&format!(
        "INSERT INTO teams (org_id, name, idp_group_id, created_at, updated_at) \
         VALUES ({org}, '{name}', '{group}', {now}, {now})"
    ))
    .await
    .map_err(err("seed team"))?;
    scalar(
        sql,
        &format!("SELECT id FROM teams WHERE org_id = {org} AND idp_group_id = '{group}'"),
    )
    .await
}

/// Makes `account` a DELEGATED member of `team` from `group` again, as a login would.
async fn rejoin_team(sql: &DatabaseConnection, org: i64, team: i64, account: &str, group: &str) -> Res<()> {
    let now = scimgate::store::now_micros();
    sql.execute_unprepared(&format!(
        "INSERT INTO team_members (team_id, account_id, org_id, provenance, delegated_from, created_at) \
         VALUES ({team}, '{account}', {org}, 'DELEGATED', '{group}', {now}) ON CONFLICT DO NOTHING"
    ))
    .await
    .map_err(err("rejoin team"))?;
    Ok(())
}

/// The first column of the first row of `query`, an integer.
async fn scalar(sql: &DatabaseConnection, query: &str) -> Res<i64> {
    let row = sql
        .query_one_raw(Statement::from_string(
            sql.get_database_backend(),
            query.to_owned(),
        ))
        .await
        .map_err(err("scalar"))?
        .ok_or("scalar: no row")?;
    row.try_get_by_index::<i64>(0).map_err(err("scalar value"))
}

/// `n` users of `org` with ids `{tag}-0000-7000-8000-{i:012}` (uuid-shaped, as the column wants).
async fn seed_users(sql: &DatabaseConnection, backend: DbBackend, org: i64, tag: &str, n: usize) -> Res<()> {
    let now = scimgate::store::now_micros();
    let (id, name) = match backend {
        DbBackend::Postgres => (
            format!("'{tag}-0000-7000-8000-' || lpad(i::text, 12, '0')"),
            format!("'u' || i || '@{tag}.load.example'"),
        ),
        _ => (
            format!("printf('{tag}-0000-7000-8000-%012d', i)"),
            format!("('u' || i || '@{tag}.load.example')"),
        ),
    };
    let statement = format!(
        "{} INSERT INTO scim_users (id, org_id, user_name, user_name_key, external_id, active, display_name_key, document, created_at, updated_at, version) \
         SELECT {id}, {org}, {name}, {name}, NULL, TRUE, NULL, '{{\"userName\":\"' || {name} || '\"}}', {now}, {now}, 1 FROM s",
        series(backend, 0, n)
    );
    let inserted = sql
        .execute_unprepared(&statement)
        .await
        .map_err(|e| format!("seed users: {e}"))?
        .rows_affected();
    if inserted as usize != n {
        return Err(format!("seeded {inserted} users, wanted {n}"));
    }
    Ok(())
}
