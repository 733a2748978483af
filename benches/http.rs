//! The HTTP benchmark: a real `scimgate serve` process driven over loopback, measuring what the
//! hardening work is about — latency and the server's peak memory (read from `/proc`, outside the
//! process) for the requests that hurt: big-membership writes, rejected unknown members, huge
//! answers, huge bodies, slow clients and odd methods — on SQLite, or on PostgreSQL with
//! `SCIMGATE_BENCH_DATABASE_URL`.
//!
//! `cargo bench --bench http` measures this build; `SCIMGATE_BENCH_BINARY=/path/to/scimgate` measures
//! another (an older release, for before/after). `SCIMGATE_BENCH_SCALE` (default 100000) sets the
//! membership size. Figures are context on a shared machine: compare the two builds in one sitting,
//! and read memory as a multiple of the request or answer size. Nothing fails on a number; the
//! process exits non-zero only when it cannot run.

use std::time::{Duration, Instant};

use sea_orm::{Database, DatabaseConnection, DbBackend};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[allow(dead_code)]
#[path = "../tests/common/process.rs"]
mod process;

use process::{Server, scimgate_at};

type Res<T> = Result<T, String>;

const MIB: f64 = 1024.0 * 1024.0;

/// A name of its own (the process harness names its logs with it).
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

fn err<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{what}: {e}")
}

async fn cli(binary: &str, db: &str, args: &[&str]) -> Res<String> {
    let output = scimgate_at(binary, db, args)
        .output()
        .await
        .map_err(err("run scimgate"))?;
    if !output.status.success() {
        return Err(format!(
            "scimgate {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Peak memory of the server, in KiB, after resetting it to the resident size now.
trait Peak {
    fn reset_peak(&self) -> Res<f64>;
    fn peak(&self) -> Res<f64>;
}

impl Peak for Server {
    fn reset_peak(&self) -> Res<f64> {
        self.reset_peak_rss();
        Ok(self.rss_kib() as f64)
    }

    fn peak(&self) -> Res<f64> {
        Ok(self.peak_rss_kib() as f64)
    }
}

/// An answer read off the wire; the body is counted, and kept only when asked.
struct Answer {
    status: u16,
    body_len: usize,
    body: Vec<u8>,
}

/// One request on a fresh connection (`Connection: close`), read to the end; a huge answer is
/// counted as it arrives rather than kept.
async fn send(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&[u8]>,
    keep: bool,
) -> Res<Answer> {
    let mut stream = TcpStream::connect(addr).await.map_err(err("connect"))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n"
    );
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/scim+json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.map_err(err("write"))?;
    if let Some(body) = body {
        stream.write_all(body).await.map_err(err("write body"))?;
    }
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut header_end = None;
    let mut total = 0usize;
    loop {
        let n = stream.read(&mut buf).await.map_err(err("read"))?;
        if n == 0 {
            break;
        }
        total += n;
        if keep || header_end.is_none() {
            raw.extend_from_slice(&buf[..n]);
            if header_end.is_none() {
                header_end = raw.windows(4).position(|w| w == b"\r\n\r\n");
            }
        }
    }
    let end = header_end.ok_or("no header end")?;
    let answer = process::parse_answer(&raw).map_err(err("answer"))?;
    Ok(Answer {
        status: answer.status,
        body_len: total - end - 4,
        body: if keep { answer.body } else { Vec::new() },
    })
}

/// The database the server uses, for seeding in bulk.
struct Db {
    sql: DatabaseConnection,
    backend: DbBackend,
}

impl Db {
    async fn open(url: &str) -> Res<Db> {
        let sql = Database::connect(url).await.map_err(err("connect for seeding"))?;
        let backend = sql.get_database_backend();
        Ok(Db { sql, backend })
    }

    async fn exec(&self, statement: &str) -> Res<u64> {
        process::exec_sql(&self.sql, statement).await
    }

    /// `n` users of `org` with ids `{tag}-0000-7000-8000-{i:012}` (uuid-shaped, as the column wants).
    async fn seed_users(&self, org: i64, tag: &str, n: usize) -> Res<()> {
        let now = scimgate::store::now_micros();
        let select = |id: &str, name: &str| {
            format!(
                "SELECT {id}, {org}, {name}, {name}, NULL, TRUE, NULL, '{{\"userName\":\"' || {name} || '\"}}', {now}, {now}, 1"
            )
        };
        let statement = match self.backend {
            DbBackend::Postgres => format!(
                "INSERT INTO scim_users (id, org_id, user_name, user_name_key, external_id, active, display_name_key, document, created_at, updated_at, version) {} FROM generate_series(0, {}) AS s(i)",
                select(
                    &format!("'{tag}-0000-7000-8000-' || lpad(i::text, 12, '0')"),
                    &format!("'u' || i || '@{tag}.bench.example'")
                ),
                n - 1
            ),
            _ => format!(
                "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {}) INSERT INTO scim_users (id, org_id, user_name, user_name_key, external_id, active, display_name_key, document, created_at, updated_at, version) {} FROM s",
                n - 1,
                select(
                    &format!("printf('{tag}-0000-7000-8000-%012d', i)"),
                    &format!("('u' || i || '@{tag}.bench.example')")
                )
            ),
        };
        let inserted = self.exec(&statement).await?;
        if inserted as usize != n {
            return Err(format!("seeded {inserted} users, wanted {n}"));
        }
        Ok(())
    }

    /// Every user of `org` whose id starts with `tag` becomes a member of `group`.
    async fn link_all(&self, org: i64, tag: &str, group: &str) -> Res<u64> {
        self.exec(&format!(
            "INSERT INTO group_members (group_id, user_id, org_id) SELECT '{group}', id, org_id FROM scim_users WHERE org_id = {org} AND id LIKE '{tag}-%'"
        ))
        .await
    }

    async fn analyze(&self) -> Res<()> {
        if self.backend == DbBackend::Postgres {
            self.exec("ANALYZE scim_users").await?;
            self.exec("ANALYZE group_members").await?;
        }
        Ok(())
    }
}

fn user_id(tag: &str, i: usize) -> String {
    format!("{tag}-0000-7000-8000-{i:012}")
}

fn members(tag: &str, range: std::ops::Range<usize>) -> Vec<Value> {
    range.map(|i| json!({"value": user_id(tag, i)})).collect()
}

fn group_body(name: &str, members: Vec<Value>) -> Vec<u8> {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members})
        .to_string()
        .into_bytes()
}

/// One row of the report.
struct Row {
    case: String,
    status: String,
    latency: Duration,
    peak_mib: f64,
    size_mib: f64,
}

struct Bench {
    server: Server,
    /// The binary measured and its database, to start it afresh.
    binary: String,
    db_url: String,
    db: Db,
    org: i64,
    token: String,
    run: String,
    rows: Vec<Row>,
}

impl Bench {
    /// A fresh server process: memory an allocator kept from an earlier case would hide the next
    /// case's peak (VmHWM is reset to the resident size, kept heap included).
    /// It answers one small request first, so connections, code and arenas are not counted.
    async fn restart(&mut self) -> Res<()> {
        self.server = start(&self.binary, &self.db_url).await;
        let warm = format!("{}/Groups?count=1&excludedAttributes=members", self.base());
        send(&self.server.addr, "GET", &warm, &self.token, None, false).await?;
        Ok(())
    }

    fn base(&self) -> String {
        format!("/api/orgs/{}/scim/v2", self.org)
    }

    /// Sends one request, measuring its latency and the server's peak memory above its resident
    /// size just before.
    async fn measure(&mut self, case: &str, method: &str, path: &str, body: Option<Vec<u8>>) -> Res<Answer> {
        let before = self.server.reset_peak()?;
        let started = Instant::now();
        let answer = send(
            &self.server.addr,
            method,
            path,
            &self.token,
            body.as_deref(),
            false,
        )
        .await?;
        let latency = started.elapsed();
        let peak = self.server.peak()? - before;
        let size = body.as_ref().map_or(answer.body_len, Vec::len);
        self.rows.push(Row {
            case: case.to_owned(),
            status: answer.status.to_string(),
            latency,
            peak_mib: peak / 1024.0,
            size_mib: size as f64 / MIB,
        });
        Ok(answer)
    }

    async fn create_group(&self, name: &str) -> Res<String> {
        let answer = send(
            &self.server.addr,
            "POST",
            &format!("{}/Groups", self.base()),
            &self.token,
            Some(&group_body(name, vec![])),
            true,
        )
        .await?;
        let v: Value = serde_json::from_slice(&answer.body).map_err(err("group JSON"))?;
        v["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no group created ({}): {v}", answer.status))
    }

    /// Creating and replacing the membership of a group of `scale` existing users, then a PUT of
    /// as many ids as fit the body limit that are nobody's.
    async fn big_memberships(&mut self, scale: usize) -> Res<()> {
        let tag = format!("{:08x}", rand_u32());
        self.db.seed_users(self.org, &tag, scale).await?;
        self.db.analyze().await?;
        let name = format!("Bench {} members", self.run);
        let body = group_body(&name, members(&tag, 0..scale));
        self.restart().await?;
        let created = self
            .measure(
                &format!("POST /Groups, {scale} members"),
                "POST",
                &format!("{}/Groups", self.base()),
                Some(body),
            )
            .await?;
        let id = if created.status == 201 {
            self.group_id(&name).await?
        } else {
            self.create_group(&format!("{name} fallback")).await?
        };
        let path = format!("{}/Groups/{id}", self.base());
        let half = group_body(&name, members(&tag, scale / 2..scale));
        self.restart().await?;
        self.measure(
            &format!("PUT /Groups/{{id}}, {} of {scale} replaced", scale / 2),
            "PUT",
            &path,
            Some(half),
        )
        .await?;
        let all = group_body(&name, members(&tag, 0..scale));
        self.restart().await?;
        self.measure(
            &format!("PUT /Groups/{{id}}, {scale} members"),
            "PUT",
            &path,
            Some(all),
        )
        .await?;
        // Ids are ~50 bytes each in the body: as many as 16 MiB holds, up to 3.2 × scale.
        let unknown = (scale * 32 / 10).min(15 * 1024 * 1024 / 50);
        let nobody = group_body(&name, members("ffffffff", 0..unknown));
        self.restart().await?;
        self.measure(
            &format!("PUT /Groups/{{id}}, {unknown} unknown ids"),
            "PUT",
            &path,
            Some(nobody),
        )
        .await?;
        Ok(())
    }

    async fn group_id(&self, name: &str) -> Res<String> {
        let filter = format!("displayName eq \"{name}\"")
            .replace(' ', "%20")
            .replace('"', "%22");
        let answer = send(
            &self.server.addr,
            "GET",
            &format!(
                "{}/Groups?filter={filter}&excludedAttributes=members",
                self.base()
            ),
            &self.token,
            None,
            true,
        )
        .await?;
        let v: Value = serde_json::from_slice(&answer.body).map_err(err("list JSON"))?;
        v["Resources"][0]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("group {name} not found: {v}"))
    }

    /// Ten groups of `scale` members each, listed in one page and read one by one.
    async fn huge_answers(&mut self, scale: usize) -> Res<()> {
        let tag = format!("{:08x}", rand_u32());
        self.db.seed_users(self.org, &tag, scale).await?;
        let mut ids = Vec::new();
        for i in 0..10 {
            let id = self.create_group(&format!("Bench {} huge {i}", self.run)).await?;
            self.db.link_all(self.org, &tag, &id).await?;
            ids.push(id);
        }
        self.db.analyze().await?;
        let filter = format!("displayName sw \"Bench {} huge\"", self.run)
            .replace(' ', "%20")
            .replace('"', "%22");
        self.measure(
            &format!("GET /Groups?count=1000, 10 × {scale} members"),
            "GET",
            &format!("{}/Groups?count=1000&filter={filter}", self.base()),
            None,
        )
        .await?;
        let path = format!("{}/Groups/{}", self.base(), ids[0]);
        let one = self
            .measure(
                &format!("GET /Groups/{{id}}, {scale} members"),
                "GET",
                &path,
                None,
            )
            .await?;
        self.restart().await?;
        self.unread_answers(40, &path, one.body_len).await
    }

    /// `clients` connections that ask for the answer at `path` (`size` bytes) and never read it:
    /// what the server holds for them (their answers stall once the socket buffers are full).
    async fn unread_answers(&mut self, clients: usize, path: &str, size: usize) -> Res<()> {
        let before = self.server.reset_peak()?;
        let started = Instant::now();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\r\n",
            self.server.addr, self.token
        );
        let mut held = Vec::new();
        for _ in 0..clients {
            let mut stream = TcpStream::connect(&self.server.addr)
                .await
                .map_err(err("connect"))?;
            stream.write_all(request.as_bytes()).await.map_err(err("send"))?;
            held.push(stream);
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let peak_mib = (self.server.peak()? - before) / 1024.0;
        drop(held);
        self.rows.push(Row {
            case: format!("{clients} clients never reading GET /Groups/{{id}} (held 3 s)"),
            status: "—".to_owned(),
            latency: started.elapsed(),
            peak_mib,
            size_mib: size as f64 / MIB,
        });
        Ok(())
    }

    /// A 16 MiB group body whose bulk is attributes the server ignores; then four at once.
    async fn huge_bodies(&mut self) -> Res<()> {
        let body = |name: String| {
            let junk = vec![1u8; 8 * 1024 * 1024 - 4096];
            let mut doc = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "junk": junk});
            doc["members"] = json!([]);
            doc.to_string().into_bytes()
        };
        let one = body(format!("Bench {} body", self.run));
        self.measure(
            "POST /Groups, 16 MiB of ignored attributes",
            "POST",
            &format!("{}/Groups", self.base()),
            Some(one),
        )
        .await?;
        let before = self.server.reset_peak()?;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..4 {
            let (addr, path, token) = (
                self.server.addr.clone(),
                format!("{}/Groups", self.base()),
                self.token.clone(),
            );
            let b = body(format!("Bench {} body {i}", self.run));
            tasks.push(tokio::spawn(async move {
                send(&addr, "POST", &path, &token, Some(&b), false).await
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(match t.await {
                Ok(Ok(a)) => a.status.to_string(),
                Ok(Err(e)) => e,
                Err(e) => e.to_string(),
            });
        }
        self.rows.push(Row {
            case: "4 × POST /Groups, 16 MiB each, at once".into(),
            status: statuses.join(","),
            latency: started.elapsed(),
            peak_mib: (self.server.peak()? - before) / 1024.0,
            size_mib: 4.0 * 16.0,
        });
        Ok(())
    }

    /// `/healthz` while `n` connections hold half-sent headers.
    async fn slow_headers(&mut self, n: usize) -> Res<()> {
        let mut stalled = Vec::new();
        for _ in 0..n {
            let Ok(mut s) = TcpStream::connect(&self.server.addr).await else {
                break;
            };
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
            stalled.push(s);
        }
        let held = stalled.len();
        let before = self.server.reset_peak()?;
        let started = Instant::now();
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            send(&self.server.addr, "GET", "/healthz", "", None, false),
        )
        .await;
        let healthz = match answer {
            Ok(Ok(a)) => a.status.to_string(),
            Ok(Err(e)) => e,
            Err(_) => "no answer in 10 s".into(),
        };
        let latency = started.elapsed();
        let peak_mib = (self.server.peak()? - before) / 1024.0;
        // The default header read timeout is 10 s: how many did the server drop by 11 s?
        tokio::time::sleep(Duration::from_secs(11).saturating_sub(latency)).await;
        let mut open = 0;
        for s in &mut stalled {
            let mut byte = [0u8; 1];
            if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(5), s.read(&mut byte)).await
                && n == 0
            {
                continue;
            }
            if tokio::time::timeout(Duration::from_millis(5), s.read(&mut byte))
                .await
                .is_err()
            {
                open += 1;
            }
        }
        self.rows.push(Row {
            case: format!("GET /healthz with {held} half-sent requests; left open at 11 s"),
            status: format!("{healthz}; {open}/{held}"),
            latency,
            peak_mib,
            size_mib: 0.0,
        });
        drop(stalled);
        Ok(())
    }

    /// `n` requests with made-up methods, then the size of one `/metrics` scrape.
    async fn odd_methods(&mut self, n: usize) -> Res<()> {
        let before = self.server.reset_peak()?;
        let started = Instant::now();
        let addr = self.server.addr.clone();
        let mut tasks = Vec::new();
        for worker in 0..8 {
            let addr = addr.clone();
            tasks.push(tokio::spawn(async move {
                for i in (worker..n).step_by(8) {
                    let _ = send(&addr, &format!("M{i:06}"), "/healthz", "", None, false).await;
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        let elapsed = started.elapsed();
        let scrape = send(&addr, "GET", "/metrics", "", None, false).await?;
        self.rows.push(Row {
            case: format!("{n} requests with made-up methods; then one /metrics scrape (size)"),
            status: scrape.status.to_string(),
            latency: elapsed,
            peak_mib: (self.server.peak()? - before) / 1024.0,
            size_mib: scrape.body_len as f64 / MIB,
        });
        Ok(())
    }

    fn report(&self, binary: &str, db: &str) {
        println!("\nscimgate HTTP benchmark: {binary} on {db}");
        println!(
            "| {:<66} | {:>14} | {:>10} | {:>13} | {:>10} | {:>12} |",
            "request", "status", "latency", "peak RSS Δ", "size", "peak ÷ size"
        );
        println!(
            "|{:-<68}|{:->16}|{:->12}|{:->15}|{:->12}|{:->14}|",
            "", "", "", "", "", ""
        );
        for r in &self.rows {
            let ratio = if r.size_mib >= 1.0 {
                format!("{:.1}", r.peak_mib / r.size_mib)
            } else {
                "-".into()
            };
            println!(
                "| {:<66} | {:>14} | {:>8.0}ms | {:>9.1} MiB | {:>6.2} MiB | {:>12} |",
                r.case,
                r.status,
                r.latency.as_secs_f64() * 1000.0,
                r.peak_mib,
                r.size_mib,
                ratio
            );
        }
    }
}

fn rand_u32() -> u32 {
    (uuid::Uuid::now_v7().as_u128() as u32) ^ std::process::id()
}

/// The gateway under test, without the per-organization protection (the benchmark measures the
/// work, not the limits).
async fn start(binary: &str, db_url: &str) -> Server {
    Server::start_binary(
        binary,
        db_url,
        "http-bench",
        &[
            ("SCIMGATE_LOG", "warn,scimgate=info,scimgate::request=warn"),
            ("SCIMGATE_ORG_RATE_LIMIT", "1000000"),
            ("SCIMGATE_ORG_BURST", "1000000"),
            ("SCIMGATE_ORG_MAX_CONCURRENCY", "1000"),
        ],
    )
    .await
}

async fn run() -> Res<()> {
    let binary =
        std::env::var("SCIMGATE_BENCH_BINARY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_scimgate").to_owned());
    // Without `--bench` (`cargo test --all-targets` runs benches as tests): a smoke run at a tiny scale.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let scale: usize = match std::env::var("SCIMGATE_BENCH_SCALE") {
        Ok(s) => s.parse().map_err(err("SCIMGATE_BENCH_SCALE"))?,
        Err(_) if smoke => 200,
        Err(_) => 100_000,
    };
    let (db_url, label) = match std::env::var("SCIMGATE_BENCH_DATABASE_URL") {
        Ok(url) if !url.is_empty() => (url, "PostgreSQL"),
        _ => {
            let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
            let path = dir.join(format!(
                "scimgate-http-bench-{}.db",
                uuid::Uuid::now_v7().simple()
            ));
            (format!("sqlite://{}?mode=rwc", path.display()), "SQLite")
        }
    };
    let run = format!("{:08x}", rand_u32());
    let org: i64 = cli(&binary, &db_url, &["org", "create", &format!("http-bench-{run}")])
        .await?
        .parse()
        .map_err(err("org id"))?;
    let token = cli(&binary, &db_url, &["token", "generate", &org.to_string()]).await?;
    let server = start(&binary, &db_url).await;
    let db = Db::open(&db_url).await?;
    let mut bench = Bench {
        server,
        binary: binary.clone(),
        db_url: db_url.clone(),
        db,
        org,
        token,
        run,
        rows: Vec::new(),
    };
    // Each memory case on a fresh process (see `Bench::restart`).
    bench.big_memberships(scale).await?;
    bench.restart().await?;
    bench.huge_answers(if smoke { scale } else { scale / 2 }).await?;
    if !smoke {
        bench.restart().await?;
        bench.huge_bodies().await?;
    }
    bench.slow_headers(if smoke { 20 } else { 2_000 }).await?;
    bench.odd_methods(if smoke { 100 } else { 20_000 }).await?;
    bench.report(&binary, label);
    // What this run added stays only in its own SQLite file; on PostgreSQL remove it.
    if bench.db.backend == DbBackend::Postgres {
        let _ = bench
            .db
            .exec(&format!(
                "DELETE FROM uniqueness_conflicts WHERE org_id = {org} OR holder_org_id = {org}"
            ))
            .await;
        for table in [
            "group_members",
            "idp_groups",
            "scim_user_emails",
            "scim_users",
            "scim_tokens",
            "audit_events",
        ] {
            let _ = bench
                .db
                .exec(&format!("DELETE FROM {table} WHERE org_id = {org}"))
                .await;
        }
        let _ = bench
            .db
            .exec(&format!("DELETE FROM organizations WHERE id = {org}"))
            .await;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http benchmark: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
