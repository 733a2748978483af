//! The benchmark the repo ships (design §7): the real router, in-process, on a fresh database,
//! with data seeded in bulk, measuring what the design claims as **ratios within one run** (the
//! machines are shared and noisy: a slow moment slows both sides of a comparison alike, and the
//! two sides are interleaved sample by sample for that reason). It never fails on a number; it
//! exits non-zero only when something errs (a request answers an unexpected status, SQL fails).
//!
//! ```sh
//! cargo bench --bench scim                                   # SQLite under target/tmp
//! SCIMGATE_BENCH_SCALE=10000 cargo bench --bench scim        # smaller large cases
//! SCIMGATE_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench scim
//! ```
//!
//! On PostgreSQL every name is unique to the run and the run deletes its rows at the end, since
//! the database may be shared. Started without `--bench` (as `cargo test --all-targets` does), it
//! is a quick smoke run at a tiny scale whose numbers mean nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode};
use scimgate::app;
use scimgate::config::{AdminJwtArgs, DbArgs, Secret, ServeArgs};
use scimgate::scim::names::{KEY_VERSION, fold_key};
use scimgate::store::Store;
use scimgate::store::audit::AuditContext;
use scimgate::store::teams::TeamFields;
use scimgate::store::tokens::IssueMode;
use scimgate::tokens::Tokens;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use serde_json::{Value, json};
use tower::ServiceExt;

type Res<T> = Result<T, String>;

/// The members of the small group, the groups of the small org, the small team.
const SMALL: usize = 10;
/// Rows per multi-row INSERT while seeding.
const BATCH: usize = 1000;
/// The whole-request cut-off the purge must stay well inside (`routing::REQUEST_TIMEOUT`).
const REQUEST_TIMEOUT: Duration = scimgate::routing::REQUEST_TIMEOUT;

fn err(context: &str) -> impl Fn(sea_orm::DbErr) -> String + '_ {
    move |e| format!("{context}: {e}")
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("benchmark failed: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// How much to do.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Members of the large group and of the large team.
    scale: usize,
    /// Groups of the large org (filter case).
    groups: usize,
    smoke: bool,
}

impl Plan {
    fn from_env() -> Res<Plan> {
        // `cargo bench` passes `--bench`; anything else (`cargo test --all-targets`) is a smoke run.
        let smoke = !std::env::args().any(|a| a == "--bench");
        let scale = match std::env::var("SCIMGATE_BENCH_SCALE") {
            Ok(s) if !s.trim().is_empty() => s
                .trim()
                .replace('_', "")
                .parse::<usize>()
                .map_err(|e| format!("SCIMGATE_BENCH_SCALE={s:?}: {e}"))?,
            _ if smoke => 200,
            _ => 100_000,
        };
        if scale < 10 * SMALL {
            return Err(format!("SCIMGATE_BENCH_SCALE must be at least {}", 10 * SMALL));
        }
        Ok(Plan {
            scale,
            groups: (scale / 10).max(10 * SMALL),
            smoke,
        })
    }

    /// Iterations for a case: (warm-up, timed samples), tiny in a smoke run.
    fn iters(&self, warmup: usize, samples: usize) -> (usize, usize) {
        if self.smoke { (1, 3) } else { (warmup, samples) }
    }
}

/// The application under test, a second connection for seeding, and what the run created.
struct Env {
    router: Router,
    store: Store,
    tokens: Tokens,
    hasher_db: DbArgs,
    sql: DatabaseConnection,
    backend: DbBackend,
    /// Unique to this run: in every name, so a shared database sees no clash.
    run: String,
    orgs: Vec<i64>,
}

/// An organization and its SCIM token.
struct Org {
    id: i64,
    token: String,
}

impl Org {
    fn url(&self, path: &str) -> String {
        format!("/api/orgs/{}/scim/v2{path}", self.id)
    }
}

/// One answer and how long it took (request in, whole body out).
struct Answer {
    status: StatusCode,
    took: Duration,
    body: Bytes,
}

impl Answer {
    fn expect(self, status: StatusCode, what: &str) -> Res<Answer> {
        if self.status == status {
            Ok(self)
        } else {
            Err(format!(
                "{what}: expected {status}, got {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body[..self.body.len().min(500)])
            ))
        }
    }

    fn json(&self) -> Res<Value> {
        serde_json::from_slice(&self.body).map_err(|e| format!("response is not JSON: {e}"))
    }
}

impl Env {
    async fn open(url: &str) -> Res<Env> {
        let db = DbArgs {
            database_url: Secret(url.to_owned()),
            token_hash_key: Some(Secret("bench-hash-key-0123456789abcdef0123".into())),
            ..DbArgs::default()
        };
        let store = app::open_store(&db)
            .await
            .map_err(|e| format!("opening {url}: {e}"))?;
        let serve = ServeArgs {
            public_url: Some("https://scim.bench.example".into()),
            // The benchmark measures the work, not the per-organization protection.
            org_rate_limit: 1_000_000,
            org_burst: 1_000_000,
            org_max_concurrency: 1024,
            ..ServeArgs::default()
        };
        let state = app::state(store.clone(), &db, &serve, &AdminJwtArgs::default())?;
        let tokens = state.services.tokens().clone();
        let sql = sea_orm::Database::connect(url)
            .await
            .map_err(err("second connection"))?;
        let backend = sql.get_database_backend();
        let run = uuid::Uuid::now_v7().simple().to_string()[20..].to_owned();
        Ok(Env {
            router: scimgate::routing::router(state),
            store,
            tokens,
            hasher_db: db,
            sql,
            backend,
            run,
            orgs: Vec::new(),
        })
    }

    async fn org(&mut self, label: &str) -> Res<Org> {
        let name = format!("bench-{}-{label}", self.run);
        let org = self
            .store
            .create_org(&name, true)
            .await
            .map_err(|e| format!("create org {name}: {e}"))?;
        self.orgs.push(org.id);
        let token = app::issue_token(
            &self.store,
            &app::hasher(&self.hasher_db),
            org.id,
            IssueMode::Generate,
        )
        .await
        .map_err(|e| format!("token for {name}: {e}"))?
        .ok_or("no token issued")?;
        Ok(Org { id: org.id, token })
    }

    /// One request through the real router, timed from the call to the last byte of the body.
    async fn send(&self, method: Method, path: &str, token: &str, body: Option<&Value>) -> Res<Answer> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"));
        if body.is_some() {
            builder = builder.header("content-type", "application/scim+json");
        }
        let request = builder
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .map_err(|e| format!("router: {e}"))?;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| format!("body: {e}"))?;
        Ok(Answer {
            status,
            took: started.elapsed(),
            body,
        })
    }

    async fn get(&self, org: &Org, path: &str) -> Res<Answer> {
        self.send(Method::GET, &org.url(path), &org.token, None).await
    }

    /// Runs statements in one transaction (seeding).
    async fn execute_all(&self, statements: &[String]) -> Res<u64> {
        let txn = self.sql.begin().await.map_err(err("begin"))?;
        let mut affected = 0;
        for statement in statements {
            affected += txn
                .execute_unprepared(statement)
                .await
                .map_err(|e| format!("{e} in {}", &statement[..statement.len().min(200)]))?
                .rows_affected();
        }
        txn.commit().await.map_err(err("commit"))?;
        Ok(affected)
    }

    /// Multi-row INSERTs of `rows` (each a parenthesised tuple) in batches, one transaction.
    async fn insert_rows(&self, head: &str, rows: impl Iterator<Item = String>) -> Res<u64> {
        let rows: Vec<String> = rows.collect();
        let statements: Vec<String> = rows
            .chunks(BATCH)
            .map(|chunk| format!("{head} VALUES {}", chunk.join(",")))
            .collect();
        self.execute_all(&statements).await
    }

    async fn count(&self, sql: &str) -> Res<i64> {
        let row = self
            .sql
            .query_one_raw(Statement::from_string(self.backend, sql.to_owned()))
            .await
            .map_err(err("count"))?
            .ok_or("count: no row")?;
        row.try_get_by_index::<i64>(0).map_err(err("count"))
    }

    /// Fresh planner statistics after a bulk load, as autovacuum would give a table that grew
    /// over time (PostgreSQL only: nothing ever analyzes a SQLite file in production).
    async fn analyze(&self, tables: &[&str]) -> Res<()> {
        if self.backend == DbBackend::Postgres {
            for table in tables {
                self.sql
                    .execute_unprepared(&format!("ANALYZE {table}"))
                    .await
                    .map_err(err("analyze"))?;
            }
        }
        Ok(())
    }

    fn now(&self) -> i64 {
        scimgate::store::now_micros()
    }

    /// `count` SCIM users of `org` named `{prefix}-NNNNNN@…`, inserted in bulk.
    async fn seed_users(&self, org: &Org, prefix: &str, count: usize) -> Res<()> {
        let now = self.now();
        let run = &self.run;
        let rows = (0..count).map(|i| {
            let name = format!("{prefix}-{i:06}@bench-{run}.example");
            let doc = json!({"userName": name, "active": true}).to_string();
            format!(
                "('{}', {}, {}, {}, NULL, TRUE, NULL, {}, {now}, {now}, 1)",
                uuid::Uuid::now_v7(),
                org.id,
                q(&name),
                q(&fold_key(&name)),
                q(&doc),
            )
        });
        let n = self
            .insert_rows(
                "INSERT INTO scim_users (id, org_id, user_name, user_name_key, external_id, active, \
                 display_name_key, document, created_at, updated_at, version)",
                rows,
            )
            .await?;
        check_count("users", n, count)
    }

    /// `count` SCIM groups of `org` named `Bench {run} {label} Group NNNNNN`, inserted in bulk.
    async fn seed_groups(&self, org: &Org, label: &str, count: usize) -> Res<()> {
        let now = self.now();
        let rows = (0..count).map(|i| {
            let name = group_name(&self.run, label, i);
            format!(
                "('{}', {}, {}, {}, {KEY_VERSION}, NULL, 'SCIM', {now}, {now}, 1)",
                uuid::Uuid::now_v7(),
                org.id,
                q(&name),
                q(&fold_key(&name)),
            )
        });
        let n = self
            .insert_rows(
                "INSERT INTO idp_groups (id, org_id, display_name, display_key, display_key_version, \
                 external_id, source, created_at, updated_at, version)",
                rows,
            )
            .await?;
        check_count("groups", n, count)
    }

    /// `count` platform accounts (pre-created by e-mail) of the `label` team, inserted in bulk.
    async fn seed_accounts(&self, label: &str, count: usize) -> Res<()> {
        let now = self.now();
        let rows = (0..count).map(|i| {
            let email = format!("{label}-{i:06}{}", self.account_domain());
            format!(
                "('{}', NULL, NULL, {}, {}, {now})",
                uuid::Uuid::now_v7(),
                q(&email),
                q(&fold_key(&email))
            )
        });
        let n = self
            .insert_rows(
                "INSERT INTO accounts (id, issuer, subject, email, email_key, created_at)",
                rows,
            )
            .await?;
        check_count("accounts", n, count)
    }

    fn account_domain(&self) -> String {
        format!("@purge-{}.bench.example", self.run)
    }

    /// Removes what the run created (PostgreSQL; a SQLite file is simply deleted).
    async fn cleanup(&self) -> Res<()> {
        if self.orgs.is_empty() {
            return Ok(());
        }
        let orgs = self.orgs.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let mut statements: Vec<String> = [
            "team_members",
            "teams",
            "group_members",
            "idp_groups",
            "scim_user_emails",
            "scim_users",
            "scim_tokens",
            "audit_events",
        ]
        .iter()
        .map(|t| format!("DELETE FROM {t} WHERE org_id IN ({orgs})"))
        .collect();
        statements.push(format!(
            "DELETE FROM accounts WHERE email_key LIKE '%{}'",
            self.account_domain()
        ));
        statements.push(format!("DELETE FROM organizations WHERE id IN ({orgs})"));
        self.execute_all(&statements).await.map(|_| ())
    }
}

fn check_count(what: &str, got: u64, wanted: usize) -> Res<()> {
    if got == wanted as u64 {
        Ok(())
    } else {
        Err(format!("seeding {what}: inserted {got} rows, wanted {wanted}"))
    }
}

/// An SQL string literal.
fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn group_name(run: &str, label: &str, i: usize) -> String {
    format!("Bench {run} {label} Group {i:06}")
}

fn enc(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .unwrap_or_default()
        .trim_start_matches('=')
        .to_owned()
}

/// Timed samples of one case.
struct Stats {
    name: String,
    /// In the order taken (sample `i` of two compared cases was taken back to back).
    taken: Vec<Duration>,
    samples: Vec<Duration>,
}

impl Stats {
    fn new(name: impl Into<String>, taken: Vec<Duration>) -> Stats {
        let mut samples = taken.clone();
        samples.sort();
        Stats {
            name: name.into(),
            taken,
            samples,
        }
    }

    fn median(&self) -> Duration {
        let n = self.samples.len();
        match n {
            0 => Duration::ZERO,
            _ if n % 2 == 1 => self.samples[n / 2],
            _ => (self.samples[n / 2 - 1] + self.samples[n / 2]) / 2,
        }
    }

    /// Nearest-rank 90th percentile.
    fn p90(&self) -> Duration {
        let n = self.samples.len();
        if n == 0 {
            return Duration::ZERO;
        }
        self.samples[(n * 9).div_ceil(10).max(1) - 1]
    }

    fn min(&self) -> Duration {
        self.samples.first().copied().unwrap_or_default()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Two cases sampled alternately (ABBA…), after a warm-up of both, so that a noisy neighbour
/// slows both sides of the ratio alike.
async fn compare(
    (warmup, samples): (usize, usize),
    mut a: impl AsyncFnMut() -> Res<Duration>,
    mut b: impl AsyncFnMut() -> Res<Duration>,
) -> Res<(Vec<Duration>, Vec<Duration>)> {
    for _ in 0..warmup {
        a().await?;
        b().await?;
    }
    let (mut xs, mut ys) = (Vec::with_capacity(samples), Vec::with_capacity(samples));
    for i in 0..samples {
        if i % 2 == 0 {
            xs.push(a().await?);
            ys.push(b().await?);
        } else {
            ys.push(b().await?);
            xs.push(a().await?);
        }
    }
    Ok((xs, ys))
}

/// A ratio within one run, with what the design expects of it.
struct Ratio {
    name: String,
    /// Median of the ratios of samples taken back to back (`None` if the cases were not paired).
    paired: Option<f64>,
    /// Ratio of the medians.
    medians: f64,
    expect: String,
}

/// A ratio of two cases that were not sampled in pairs: of medians only.
fn unpaired(name: impl Into<String>, num: &Stats, den: &Stats, expect: impl Into<String>) -> Ratio {
    Ratio {
        paired: None,
        ..ratio(name, num, den, expect)
    }
}

/// A ratio of two cases sampled in pairs by [`compare`].
fn ratio(name: impl Into<String>, num: &Stats, den: &Stats, expect: impl Into<String>) -> Ratio {
    let paired = (num.taken.len() == den.taken.len() && !num.taken.is_empty()).then(|| {
        let mut r: Vec<f64> = num
            .taken
            .iter()
            .zip(&den.taken)
            .map(|(n, d)| n.as_secs_f64() / d.as_secs_f64().max(1e-9))
            .collect();
        r.sort_by(f64::total_cmp);
        let n = r.len();
        if n % 2 == 1 {
            r[n / 2]
        } else {
            (r[n / 2 - 1] + r[n / 2]) / 2.0
        }
    });
    Ratio {
        name: name.into(),
        paired,
        medians: num.median().as_secs_f64() / den.median().as_secs_f64().max(1e-9),
        expect: expect.into(),
    }
}

/// The system allocator, counting the Rust heap's live bytes and their peak (memory case: exact,
/// unlike RSS, which depends on what the allocator kept from earlier work). SQLite's own C
/// allocations (its page cache) are not counted here; RSS sees them.
struct CountingAlloc;

static HEAP_LIVE: AtomicUsize = AtomicUsize::new(0);
static HEAP_PEAK: AtomicUsize = AtomicUsize::new(0);

fn heap_grew(bytes: usize) {
    let live = HEAP_LIVE.fetch_add(bytes, Relaxed) + bytes;
    HEAP_PEAK.fetch_max(live, Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; only counters are updated around it.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            heap_grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            heap_grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) };
        HEAP_LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                heap_grew(new_size - layout.size());
            } else {
                HEAP_LIVE.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

/// Live heap bytes now, after starting a new peak from here.
fn reset_heap_peak() -> usize {
    let live = HEAP_LIVE.load(Relaxed);
    HEAP_PEAK.store(live, Relaxed);
    live
}

/// A field of /proc/self/status in KiB (Linux only).
fn proc_status_kib(field: &str) -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "n/a".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0), so the next peak is the next operation's.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

async fn run() -> Res<()> {
    let plan = Plan::from_env()?;
    let (url, sqlite_file) = match std::env::var("SCIMGATE_BENCH_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => (url.trim().to_owned(), None),
        _ => {
            let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("scimgate-bench-{}.db", uuid::Uuid::now_v7().simple()));
            (format!("sqlite://{}?mode=rwc", path.display()), Some(path))
        }
    };
    let mut env = Env::open(&url).await?;
    let outcome = benchmarks(&mut env, &plan, sqlite_file.as_deref()).await;
    let cleanup = match &sqlite_file {
        Some(path) => {
            env.sql.clone().close().await.ok();
            for suffix in ["", "-wal", "-shm"] {
                let mut p = path.as_os_str().to_owned();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
            Ok(())
        }
        None => env.cleanup().await,
    };
    outcome?;
    cleanup.map_err(|e| format!("cleanup of run {}: {e}", env.run))
}

async fn benchmarks(env: &mut Env, plan: &Plan, sqlite_file: Option<&std::path::Path>) -> Res<()> {
    let started = Instant::now();
    let profile = if cfg!(debug_assertions) {
        "debug (debug assertions on: numbers are not representative; use `cargo bench`)"
    } else {
        "release (optimized)"
    };
    let backend = match (env.backend, sqlite_file) {
        (DbBackend::Sqlite, Some(path)) => {
            let version = env.count_text("SELECT sqlite_version()").await?;
            format!("SQLite {version} ({})", path.display())
        }
        (DbBackend::Postgres, _) => {
            let version = env.count_text("SHOW server_version").await?;
            format!("PostgreSQL {version} (SCIMGATE_BENCH_DATABASE_URL)")
        }
        (other, _) => format!("{other:?}"),
    };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("scimgate benchmark");
    println!("  profile:  {profile}");
    println!("  database: {backend}");
    println!(
        "  scale:    {} (large group / large team members), {} groups in the large org; {cores} cores; run {}",
        plan.scale, plan.groups, env.run
    );
    if plan.smoke {
        println!(
            "  SMOKE RUN (not started by `cargo bench`): tiny scale and sample counts, numbers mean nothing"
        );
    }

    // --- seeding -------------------------------------------------------------------------------
    let seed_started = Instant::now();
    eprintln!("seeding…");
    let members_org = env.org("members").await?;
    env.seed_users(&members_org, "member", plan.scale).await?;
    let mut small_ids = Vec::new();
    for i in 0..SMALL {
        small_ids.push(create_user(env, &members_org, &format!("small-{i}")).await?);
    }
    let extra = create_user(env, &members_org, "extra").await?;
    let small_group =
        create_group(env, &members_org, &format!("Bench {} small", env.run), &small_ids).await?;
    let big_group = create_group(env, &members_org, &format!("Bench {} big", env.run), &[]).await?;
    let linked = env
        .execute_all(&[format!(
            "INSERT INTO group_members (group_id, user_id, org_id) SELECT {}, id, org_id FROM scim_users \
             WHERE org_id = {} AND user_name_key LIKE 'member-%'",
            q(&big_group),
            members_org.id
        )])
        .await?;
    check_count("group members", linked, plan.scale)?;

    let few_org = env.org("few-groups").await?;
    env.seed_groups(&few_org, "Few", SMALL).await?;
    let many_org = env.org("many-groups").await?;
    env.seed_groups(&many_org, "Many", plan.groups).await?;

    let purge_org = env.org("purge").await?;
    env.seed_accounts("big", plan.scale).await?;
    env.seed_accounts("small", SMALL).await?;
    env.analyze(&["scim_users", "group_members", "idp_groups", "accounts"])
        .await?;
    println!(
        "  seeded in {:.1} s: {} users, a group of {} and one of {SMALL}, orgs of {SMALL} and {} groups, {} + {SMALL} accounts",
        seed_started.elapsed().as_secs_f64(),
        plan.scale + SMALL + 1,
        plan.scale,
        plan.groups,
        plan.scale,
    );

    let mut rows: Vec<Stats> = Vec::new();
    let mut ratios: Vec<Ratio> = Vec::new();
    let big = plan.scale;

    // --- 6. memory, first: nothing has yet rendered a large group ------------------------------
    eprintln!("memory…");
    let hwm_run = proc_status_kib("VmHWM:");
    let reset = reset_peak_rss();
    let rss_before = proc_status_kib("VmRSS:");
    let hwm_before = proc_status_kib("VmHWM:");
    let heap_before = reset_heap_peak();
    let answer = env
        .get(&members_org, &format!("/Groups/{big_group}"))
        .await?
        .expect(StatusCode::OK, "GET large group with members")?;
    let hwm_after = proc_status_kib("VmHWM:");
    let rss_after = proc_status_kib("VmRSS:");
    let heap_peak = HEAP_PEAK.load(Relaxed);
    let body_len = answer.body.len();
    let member_count = answer.json()?["members"].as_array().map_or(0, Vec::len);
    drop(answer);
    let heap_left = HEAP_LIVE.load(Relaxed);
    if member_count != big {
        return Err(format!(
            "the large group answered {member_count} members, wanted {big}"
        ));
    }

    // --- 1. PATCH add + remove of one member -------------------------------------------------
    eprintln!("PATCH…");
    let add = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": extra}]}]});
    let remove = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": format!("members[value eq \"{extra}\"]")}]});
    let patch_pair = async |group: &str| -> Res<Duration> {
        let path = members_org.url(&format!("/Groups/{group}"));
        let a = env
            .send(Method::PATCH, &path, &members_org.token, Some(&add))
            .await?
            .expect(StatusCode::NO_CONTENT, "PATCH add member")?;
        let r = env
            .send(Method::PATCH, &path, &members_org.token, Some(&remove))
            .await?
            .expect(StatusCode::NO_CONTENT, "PATCH remove member")?;
        Ok(a.took + r.took)
    };
    let (s, b) = compare(
        plan.iters(20, 300),
        async || patch_pair(&small_group).await,
        async || patch_pair(&big_group).await,
    )
    .await?;
    let patch_small = Stats::new(format!("PATCH add+remove 1 member, group of {SMALL}"), s);
    let patch_big = Stats::new(format!("PATCH add+remove 1 member, group of {big}"), b);
    ratios.push(ratio(
        format!("1. PATCH add+remove: group of {big} / of {SMALL}"),
        &patch_big,
        &patch_small,
        "~1 (membership rows: cost independent of group size)",
    ));
    rows.extend([patch_small, patch_big]);

    // --- 2. GET one group, without and with members ------------------------------------------
    eprintln!("GET /Groups/{{id}}…");
    let get_group = async |group: &str, query: &str, with_members: bool| -> Res<Duration> {
        let answer = env
            .get(&members_org, &format!("/Groups/{group}{query}"))
            .await?
            .expect(StatusCode::OK, "GET group")?;
        let key = b"\"members\"";
        let has = answer.body.windows(key.len()).any(|w| w == key);
        if has != with_members {
            return Err(format!("GET group{query}: members present = {has}"));
        }
        Ok(answer.took)
    };
    let excluded = "?excludedAttributes=members";
    let (s, b) = compare(
        plan.iters(50, 500),
        async || get_group(&small_group, excluded, false).await,
        async || get_group(&big_group, excluded, false).await,
    )
    .await?;
    let get_ex_small = Stats::new(format!("GET group of {SMALL}, excludedAttributes=members"), s);
    let get_ex_big = Stats::new(format!("GET group of {big}, excludedAttributes=members"), b);
    ratios.push(ratio(
        format!("2. GET excludedAttributes=members: group of {big} / of {SMALL}"),
        &get_ex_big,
        &get_ex_small,
        "~1 (never touches the membership table)",
    ));
    let (s, b) = compare(
        plan.iters(3, 31),
        async || get_group(&small_group, "", true).await,
        async || get_group(&big_group, "", true).await,
    )
    .await?;
    let get_small = Stats::new(format!("GET group of {SMALL} with members"), s);
    let get_big = Stats::new(format!("GET group of {big} with members"), b);
    ratios.push(ratio(
        format!("2. GET with members: group of {big} / of {SMALL}"),
        &get_big,
        &get_small,
        format!(
            "grows with members (~{:.2} µs per member); the price excludedAttributes=members avoids",
            (get_big.median().as_secs_f64() - get_small.median().as_secs_f64()) * 1e6 / (big - SMALL) as f64
        ),
    ));
    ratios.push(unpaired(
        format!("2. GET group of {big}: with members / excludedAttributes=members"),
        &get_big,
        &get_ex_big,
        "what members add",
    ));
    rows.extend([get_ex_small, get_ex_big, get_small, get_big]);

    // --- 3. displayName eq filter in a small and a large org ---------------------------------
    eprintln!("filter…");
    let lookup = async |org: &Org, label: &str, i: usize| -> Res<Duration> {
        // Lower-cased, as Okta may send it: the folded key must find it through the index.
        let filter = format!(
            "displayName eq \"{}\"",
            group_name(&env.run, label, i).to_lowercase()
        );
        let answer = env
            .get(org, &format!("/Groups?filter={}", enc(&filter)))
            .await?
            .expect(StatusCode::OK, "GET /Groups?filter")?;
        let total = answer.json()?["totalResults"].as_u64();
        if total != Some(1) {
            return Err(format!("filter {filter}: totalResults {total:?}, wanted 1"));
        }
        Ok(answer.took)
    };
    let (s, b) = compare(
        plan.iters(50, 500),
        async || lookup(&few_org, "Few", SMALL / 2).await,
        async || lookup(&many_org, "Many", plan.groups / 2).await,
    )
    .await?;
    let filter_small = Stats::new(
        format!("GET /Groups?filter=displayName eq, org of {SMALL} groups"),
        s,
    );
    let filter_big = Stats::new(
        format!("GET /Groups?filter=displayName eq, org of {} groups", plan.groups),
        b,
    );
    ratios.push(ratio(
        format!(
            "3. filter displayName eq: org of {} / of {SMALL} groups",
            plan.groups
        ),
        &filter_big,
        &filter_small,
        "~1 (unique index on the folded key)",
    ));
    rows.extend([filter_small, filter_big]);

    // --- 4. token cache ----------------------------------------------------------------------
    eprintln!("token cache…");
    let spc = async |clear: bool| -> Res<Duration> {
        if clear {
            env.tokens.forget_all();
        }
        let answer = env
            .get(&members_org, "/ServiceProviderConfig")
            .await?
            .expect(StatusCode::OK, "GET /ServiceProviderConfig")?;
        Ok(answer.took)
    };
    let (w, c) = compare(
        plan.iters(100, 1000),
        async || spc(false).await,
        async || spc(true).await,
    )
    .await?;
    let warm = Stats::new("GET /ServiceProviderConfig, token cache warm", w);
    let cold = Stats::new("GET /ServiceProviderConfig, token cache miss", c);
    ratios.push(ratio(
        "4. token cache: miss / warm",
        &cold,
        &warm,
        format!(
            ">1: a miss costs one token lookup (~{:.3} ms here)",
            ms(cold.median().saturating_sub(warm.median()))
        ),
    ));
    rows.extend([warm, cold]);

    // --- 5. purge: DELETE of a catalog row linked to a delegated team ------------------------
    eprintln!("purge…");
    let purge = async |label: &str, size: usize, k: usize| -> Res<Duration> {
        let name = format!("Bench {} purge {label} {k}", env.run);
        let group = create_group(env, &purge_org, &name, &[]).await?;
        let team = env
            .store
            .create_team(
                purge_org.id,
                &TeamFields {
                    name: format!("purge-{label}-{k}"),
                    description: None,
                },
                Some(&group),
                &AuditContext::new("bench"),
            )
            .await
            .map_err(|e| format!("create team: {e:?}"))?;
        let inserted = env
            .execute_all(&[format!(
                "INSERT INTO team_members (team_id, account_id, org_id, provenance, delegated_from, created_at) \
                 SELECT {}, id, {}, 'DELEGATED', {}, {} FROM accounts WHERE email_key LIKE {}",
                team.id,
                purge_org.id,
                q(&group),
                env.now(),
                q(&format!("{label}-%{}", env.account_domain())),
            )])
            .await?;
        check_count("team members", inserted, size)?;
        env.analyze(&["team_members"]).await?;
        let answer = env
            .send(
                Method::DELETE,
                &purge_org.url(&format!("/Groups/{group}")),
                &purge_org.token,
                None,
            )
            .await?
            .expect(StatusCode::NO_CONTENT, "DELETE linked group")?;
        let left = env
            .count(&format!(
                "SELECT COUNT(*) FROM team_members WHERE team_id = {}",
                team.id
            ))
            .await?;
        let orphaned = env
            .count(&format!(
                "SELECT COUNT(*) FROM teams WHERE id = {} AND idp_group_id IS NULL AND orphaned_group_name IS NOT NULL",
                team.id
            ))
            .await?;
        if left != 0 || orphaned != 1 {
            return Err(format!(
                "after DELETE: {left} team members left, team orphaned = {orphaned}"
            ));
        }
        Ok(answer.took)
    };
    let (mut ks, mut kb) = (0, 0);
    let (s, b) = compare(
        plan.iters(1, 9),
        async || {
            ks += 1;
            purge("small", SMALL, ks).await
        },
        async || {
            kb += 1;
            purge("big", big, kb).await
        },
    )
    .await?;
    let purge_small = Stats::new(
        format!("DELETE linked group, team of {SMALL} DELEGATED members"),
        s,
    );
    let purge_big = Stats::new(format!("DELETE linked group, team of {big} DELEGATED members"), b);
    ratios.push(ratio(
        format!("5. purge: team of {big} / of {SMALL}"),
        &purge_big,
        &purge_small,
        format!(
            "grows with the team (~{:.2} µs per member); p90 {:.0} ms = {:.2}% of the {} s request timeout",
            (purge_big.median().as_secs_f64() - purge_small.median().as_secs_f64()) * 1e6
                / (big - SMALL) as f64,
            ms(purge_big.p90()),
            100.0 * purge_big.p90().as_secs_f64() / REQUEST_TIMEOUT.as_secs_f64(),
            REQUEST_TIMEOUT.as_secs(),
        ),
    ));
    rows.extend([purge_small, purge_big]);

    // --- report ------------------------------------------------------------------------------
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(4);
    println!();
    println!(
        "{:<width$}  {:>5}  {:>11}  {:>11}  {:>11}",
        "case", "n", "median ms", "p90 ms", "min ms"
    );
    for r in &rows {
        println!(
            "{:<width$}  {:>5}  {:>11.3}  {:>11.3}  {:>11.3}",
            r.name,
            r.samples.len(),
            ms(r.median()),
            ms(r.p90()),
            ms(r.min())
        );
    }
    let width = ratios.iter().map(|r| r.name.len()).max().unwrap_or(0);
    println!();
    println!(
        "{:<width$}  {:>8}  {:>8}  expected",
        "ratio (same run)", "paired", "medians"
    );
    for r in &ratios {
        let paired = r.paired.map_or_else(|| "-".to_owned(), |p| format!("{p:.2}"));
        println!(
            "{:<width$}  {:>8}  {:>8.2}  {}",
            r.name, paired, r.medians, r.expect
        );
    }
    println!(
        "(paired: median of the ratios of samples taken back to back, robust to a noisy neighbour; \
         medians: ratio of the medians in the table; -: not sampled in pairs)"
    );
    println!();
    println!(
        "memory (6): one GET of the group of {big} with members ({:.1} MiB of JSON)",
        body_len as f64 / 1_048_576.0
    );
    println!("  VmHWM of the run so far (seeding):   {:>10}", mib(hwm_run));
    if reset {
        println!(
            "  VmHWM before the GET (reset to RSS): {:>10}   (VmRSS {})",
            mib(hwm_before),
            mib(rss_before)
        );
    } else {
        println!(
            "  VmHWM before the GET (no reset):     {:>10}   (VmRSS {})",
            mib(hwm_before),
            mib(rss_before)
        );
    }
    println!(
        "  VmHWM after the GET:                 {:>10}   (VmRSS {})",
        mib(hwm_after),
        mib(rss_after)
    );
    if let (Some(after), Some(before)) = (hwm_after, if reset { rss_before } else { hwm_before }) {
        let added = after.saturating_sub(before) as f64 * 1024.0;
        println!(
            "  RSS peak added by the GET:           {:>10}   (~{:.0} bytes per member, {:.1}x the JSON)",
            mib(Some(after.saturating_sub(before))),
            added / big as f64,
            added / body_len.max(1) as f64
        );
    }
    let heap_added = heap_peak.saturating_sub(heap_before) as f64;
    println!(
        "  Rust heap peak added by the GET:     {:>10}   (~{:.0} bytes per member, {:.1}x the JSON; \
         still live after it: {})",
        mib(Some((heap_added / 1024.0) as u64)),
        heap_added / big as f64,
        heap_added / body_len.max(1) as f64,
        mib(Some((heap_left.saturating_sub(heap_before) / 1024) as u64)),
    );
    println!();
    println!("total {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

impl Env {
    /// A one-value query as text (versions).
    async fn count_text(&self, sql: &str) -> Res<String> {
        let row = self
            .sql
            .query_one_raw(Statement::from_string(self.backend, sql.to_owned()))
            .await
            .map_err(err("query"))?
            .ok_or("query: no row")?;
        row.try_get_by_index::<String>(0).map_err(err("query"))
    }
}

async fn create_user(env: &Env, org: &Org, label: &str) -> Res<String> {
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("{label}@bench-{}.example", env.run), "active": true});
    let answer = env
        .send(Method::POST, &org.url("/Users"), &org.token, Some(&body))
        .await?
        .expect(StatusCode::CREATED, "POST /Users")?;
    id_of(&answer)
}

async fn create_group(env: &Env, org: &Org, name: &str, members: &[String]) -> Res<String> {
    let members: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name, "members": members});
    let answer = env
        .send(Method::POST, &org.url("/Groups"), &org.token, Some(&body))
        .await?
        .expect(StatusCode::CREATED, "POST /Groups")?;
    id_of(&answer)
}

fn id_of(answer: &Answer) -> Res<String> {
    answer.json()?["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no id in the answer".to_owned())
}
