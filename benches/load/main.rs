//! The load benchmark: a real `scimgate serve` process driven over loopback by 8 concurrent
//! keep-alive clients with what IdPs send (Okta's initial push, Entra's cycle, the steady state,
//! logins, catalog scale, a flooding neighbour), set against the database's own floor for the same
//! statements and against a reference SCIM server (`scim2-server`, pure Python, in memory) — on
//! SQLite, and also on PostgreSQL when `SCIMGATE_BENCH_DATABASE_URL=postgres://…` is set (a fresh
//! database is created on that server for the run and dropped at its end).
//!
//! `cargo bench --bench load`; `SCIMGATE_BENCH_QUICK=1` for a run of seconds (a smoke test, also
//! what a run without `--bench` does, as `cargo test --all-targets` runs it).
//! Settings: `SCIMGATE_BENCH_ORGS` (K, default 10) × `SCIMGATE_BENCH_GROUPS` (M, default 100) for
//! the push, `SCIMGATE_BENCH_ROWS` (default 1000000) for the large catalog,
//! `SCIMGATE_BENCH_SECONDS` (default 5) per measured operation; `SCIMGATE_BENCH_BINARY` runs another
//! build of the gateway (before/after in one sitting). Prints a table per backend and
//! writes every figure to `target/bench/load-results.json` (`benches/plot_load.py` plots it).
//! Figures are context on a shared machine: read the ratios within one run. Nothing fails on a
//! number; the process exits non-zero only when it cannot run.

mod catalog;
mod client;
mod floor;
mod peer;
mod report;
mod workloads;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;

#[allow(dead_code)]
#[path = "../../tests/common/process.rs"]
mod process;

use client::Http;
use process::{BIN, Server, scimgate_at};
use workloads::{Case, Group, Org};

type Res<T> = Result<T, String>;

const CLIENTS: usize = 8;
const IDP_SECRET: &str = "load-bench-idp-secret-0123456789abcdef";
const IDP_ISSUER: &str = "https://idp.load.example";
const IDP_AUDIENCE: &str = "platform";
const ADMIN_SECRET: &str = "load-bench-admin-secret-0123456789abcdef";

/// A name of its own (the process harness names its logs with it).
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

fn err<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |e| format!("{what}: {e}")
}

fn rand_u32() -> u32 {
    (uuid::Uuid::now_v7().as_u128() as u32) ^ std::process::id()
}

/// The binary under test: this build's, or another (`SCIMGATE_BENCH_BINARY`, an older build for a
/// before/after in one sitting; the floor always runs this build's store).
fn binary() -> String {
    std::env::var("SCIMGATE_BENCH_BINARY").unwrap_or_else(|_| BIN.to_owned())
}

/// Runs a CLI command of the binary under test with extra settings; its trimmed standard output.
async fn cli(db: &str, env: &[(&str, &str)], args: &[&str]) -> Res<String> {
    let mut command = scimgate_at(&binary(), db, args);
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().await.map_err(err("run scimgate"))?;
    if !output.status.success() {
        return Err(format!(
            "scimgate {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// What a run measures, from the environment.
#[derive(Debug, Clone, serde::Serialize)]
struct Config {
    quick: bool,
    clients: usize,
    orgs: usize,
    groups: usize,
    rows: usize,
    seconds: f64,
    logins: usize,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Res<T> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v.parse().map_err(|_| format!("{name}: cannot parse {v:?}")),
        _ => Ok(default),
    }
}

impl Config {
    fn from_env() -> Res<Config> {
        // Without `--bench` (`cargo test --all-targets` runs benches as tests): the quick run.
        let quick = env_or("SCIMGATE_BENCH_QUICK", 0u8)? != 0 || !std::env::args().any(|a| a == "--bench");
        let (orgs, groups, rows, seconds, logins) = if quick {
            (2, 8, 5_000, 0.5, 16)
        } else {
            (10, 100, 1_000_000, 5.0, 400)
        };
        let config = Config {
            quick,
            clients: CLIENTS,
            orgs: env_or("SCIMGATE_BENCH_ORGS", orgs)?.max(2),
            groups: env_or("SCIMGATE_BENCH_GROUPS", groups)?.max(2),
            rows: env_or("SCIMGATE_BENCH_ROWS", rows)?.max(catalog::ORGS * 2),
            seconds: env_or("SCIMGATE_BENCH_SECONDS", seconds)?,
            logins,
        };
        Ok(config)
    }

    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.seconds)
    }
}

/// Where the results go: `target/bench/`.
fn bench_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(|| PathBuf::from("target"), PathBuf::from)
        .join("bench");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// A database of its own for one part of the run; PostgreSQL ones are dropped at the end.
struct Databases {
    postgres_base: Option<String>,
    created: Vec<String>,
}

impl Databases {
    async fn fresh(&mut self, what: &str) -> String {
        match &self.postgres_base {
            Some(base) => {
                let url = process::fresh_postgres_database(base, &format!("scimgate_load_{what}")).await;
                self.created.push(url.clone());
                url
            }
            None => {
                let path = bench_dir().join(format!("load-{what}-{}.db", uuid::Uuid::now_v7().simple()));
                self.created.push(path.display().to_string());
                format!("sqlite://{}?mode=rwc", path.display())
            }
        }
    }

    /// Drops the PostgreSQL databases, or removes the SQLite files (a million rows is ~0.3 GB).
    async fn drop_all(&mut self) {
        let Some(base) = &self.postgres_base else {
            for path in self.created.drain(..) {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{path}{suffix}"));
                }
            }
            return;
        };
        use sea_orm::ConnectionTrait;
        let Ok(admin) = sea_orm::Database::connect(base.as_str()).await else {
            eprintln!(
                "could not reconnect to drop the run's databases: {:?}",
                self.created
            );
            return;
        };
        for url in self.created.drain(..) {
            let name = url
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .split('?')
                .next()
                .unwrap_or_default()
                .to_owned();
            if let Err(e) = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
            {
                eprintln!("dropping {name}: {e}");
            }
        }
    }
}

/// The gateway for throughput cases: rate and concurrency limits lifted (the benchmark measures
/// the work, not the protection), logins verified with the benchmark's HS256 IdP secret. Request
/// logs stay on: production writes them too.
async fn start_lifted(db: &str, name: &str) -> Server {
    Server::start_binary(
        &binary(),
        db,
        name,
        &[
            ("SCIMGATE_ORG_RATE_LIMIT", "1000000"),
            ("SCIMGATE_ORG_BURST", "1000000"),
            ("SCIMGATE_ORG_MAX_CONCURRENCY", "1000"),
            ("SCIMGATE_IDP_JWT_HS256_SECRET", IDP_SECRET),
            ("SCIMGATE_IDP_ISSUER", IDP_ISSUER),
            ("SCIMGATE_IDP_AUDIENCE", IDP_AUDIENCE),
            ("SCIMGATE_ADMIN_JWT_HS256_SECRET", ADMIN_SECRET),
        ],
    )
    .await
}

/// `n` organizations created through the CLI, each with a token.
async fn make_orgs(db: &str, server: &Server, n: usize, label: &str, run: &str) -> Res<Vec<Org>> {
    let shared = Http::new(&server.addr, "", "");
    let mut orgs = Vec::new();
    for i in 0..n {
        let id = cli(db, &[], &["org", "create", &format!("load-{run}-{label}-{i}")]).await?;
        let token = cli(db, &[], &["token", "generate", &id]).await?;
        let id: i64 = id.parse().map_err(err("org id"))?;
        orgs.push(Org {
            id,
            http: shared.with(&format!("/api/orgs/{id}/scim/v2"), &token),
            users: Vec::new(),
        });
    }
    Ok(orgs)
}

/// ID tokens of `n` distinct users whose `groups` claim names two catalog rows of two orgs, each
/// row delegated to a team (set up here through the admin API).
async fn login_tokens(
    db: &str,
    server: &Server,
    orgs: &[Org],
    groups: &[Group],
    n: usize,
    run: &str,
) -> Res<Vec<String>> {
    let jwt = cli(
        db,
        &[("SCIMGATE_ADMIN_JWT_HS256_SECRET", ADMIN_SECRET)],
        &["admin-jwt", "--sub", "load-bench", "--instance-admin"],
    )
    .await?;
    let admin = Http::new(&server.addr, "", &jwt);
    let mut names = Vec::new();
    for (o, org) in orgs.iter().enumerate().take(2) {
        let g = groups.iter().find(|g| g.org == o).ok_or("no group to delegate")?;
        let team = admin
            .post(
                &format!("/api/orgs/{}/teams", org.id),
                &json!({"name": format!("team-{run}"), "idpGroupId": g.id}),
            )
            .await?;
        if !team.ok() {
            return Err(format!(
                "team for org {}: {}",
                org.id,
                String::from_utf8_lossy(&team.body)
            ));
        }
        names.push(g.name.clone());
    }
    let idp = [
        ("SCIMGATE_IDP_JWT_HS256_SECRET", IDP_SECRET),
        ("SCIMGATE_IDP_ISSUER", IDP_ISSUER),
        ("SCIMGATE_IDP_AUDIENCE", IDP_AUDIENCE),
    ];
    let mut tokens = Vec::new();
    // A few CLI processes at a time: minting is quick, spawning is what costs.
    for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
        let minted = futures::future::join_all(chunk.iter().map(|i| {
            let sub = format!("user-{run}-{i}");
            let email = format!("{sub}@load.example");
            let (a, b) = (names[0].clone(), names[1].clone());
            async move {
                cli(
                    db,
                    &idp,
                    &[
                        "id-token",
                        "--sub",
                        &sub,
                        "--email",
                        &email,
                        "--email-verified",
                        "--group",
                        &a,
                        "--group",
                        &b,
                        "--ttl",
                        "7200",
                    ],
                )
                .await
            }
        }))
        .await;
        for t in minted {
            tokens.push(t?);
        }
    }
    Ok(tokens)
}

/// Everything measured on one backend.
struct BackendRun {
    label: String,
    cases: Vec<Case>,
    seconds: f64,
}

async fn run_backend(
    label: &str,
    dbs: &mut Databases,
    cfg: &Config,
    peer: Option<&PeerFigures>,
) -> Res<BackendRun> {
    let started = Instant::now();
    let run = format!("{:08x}", rand_u32());
    let d = cfg.duration();
    let db = dbs.fresh("main").await;
    eprintln!("[{label}] main database {db}");
    let server = start_lifted(&db, "load-main").await;
    let mut orgs = make_orgs(&db, &server, cfg.orgs, "k", &run).await?;
    workloads::create_users(&mut orgs, 4, &run).await?;
    let mut cases = Vec::new();

    eprintln!("[{label}] Okta push {} × {}", cfg.orgs, cfg.groups);
    let (push, groups) = workloads::okta_push(
        &format!("Okta push, {} orgs × {} groups", cfg.orgs, cfg.groups),
        &orgs,
        cfg.groups,
        &run,
        cfg.clients,
    )
    .await?;
    cases.push(push);
    let mut single = make_orgs(&db, &server, 1, "single", &run).await?;
    workloads::create_users(&mut single, 4, &run).await?;
    let (mut push1, _) = workloads::okta_push(
        &format!("Okta push, 1 org × {} groups (as the peer)", cfg.groups),
        &single,
        cfg.groups,
        &run,
        cfg.clients,
    )
    .await?;
    if let Some(p) = peer {
        report::peer_ratios(&mut push1, &p.push.figures);
    }
    cases.push(push1);

    eprintln!("[{label}] Entra cycle");
    cases.push(workloads::entra_cycle(&orgs, (cfg.groups / 4).max(2), &run, cfg.clients).await?);

    eprintln!("[{label}] steady state");
    let mut steady =
        workloads::steady_state(&orgs, &groups, &run, cfg.clients, d, Some(server.pid())).await?;

    eprintln!("[{label}] logins");
    match login_tokens(&db, &server, &orgs, &groups, cfg.logins, &run).await {
        Ok(tokens) => {
            let http = Http::new(&server.addr, "", "");
            cases.push(workloads::logins(&http, tokens, cfg.clients).await?);
        }
        Err(e) => eprintln!("[{label}] logins skipped: {e}"),
    }

    eprintln!("[{label}] group size");
    let mut sized = make_orgs(&db, &server, 1, "sized", &run).await?;
    workloads::create_users(&mut sized, 1, &run).await?;
    let sizes = if cfg.quick { [10, 1_000] } else { [10, 100_000] };
    cases.push(catalog::group_size(&sized[0], &db, &sizes, cfg.clients, d, Some(server.pid())).await?);

    eprintln!("[{label}] floor");
    let known: Vec<floor::Known> = groups
        .iter()
        .map(|g| floor::Known {
            org: orgs[g.org].id,
            id: g.id.clone(),
            key: g.name.clone(),
        })
        .collect();
    let pool = if db.starts_with("sqlite:") { 8 } else { 16 };
    let floor = floor::measure(&db, pool, known, orgs[0].id, &run, cfg.clients, d).await?;
    report::floor_ratios(&mut steady, &floor);
    if let Some(p) = peer {
        report::peer_ratios(&mut steady, &p.lookups);
    }
    cases.push(steady);
    cases.push(Case::new("Floor (same statements, same pool, no HTTP)", floor));
    drop(server);

    eprintln!("[{label}] noisy neighbour");
    let limited = Server::start_binary(
        &binary(),
        &db,
        "load-noisy",
        &[
            ("SCIMGATE_ORG_RATE_LIMIT", "100"),
            ("SCIMGATE_ORG_BURST", "200"),
            ("SCIMGATE_ORG_MAX_CONCURRENCY", "32"),
        ],
    )
    .await;
    let on = |o: &Org| Org {
        http: Http::new(
            &limited.addr,
            &format!("/api/orgs/{}/scim/v2", o.id),
            o.http.token(),
        ),
        ..o.clone()
    };
    let name_of = |o: usize| {
        groups
            .iter()
            .find(|g| g.org == o)
            .map(|g| g.name.clone())
            .unwrap_or_default()
    };
    cases.push(
        workloads::noisy_neighbour(
            &on(&orgs[0]),
            &name_of(0),
            &on(&orgs[1]),
            &name_of(1),
            16,
            50.0,
            d.max(Duration::from_secs(2)),
        )
        .await?,
    );
    drop(limited);

    eprintln!("[{label}] catalog scale: 1000 and {} rows", cfg.rows);
    let cat_db = dbs.fresh("catalog").await;
    let cat_server = start_lifted(&cat_db, "load-catalog").await;
    cases.extend(
        catalog::scale(
            &cat_server,
            &cat_db,
            &run,
            &[catalog::ORGS, cfg.rows],
            cfg.clients,
            d,
        )
        .await?,
    );
    drop(cat_server);

    Ok(BackendRun {
        label: label.to_owned(),
        cases,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The reference peer's figures, for the ratios.
pub struct PeerFigures {
    push: Case,
    lookups: Vec<client::Figure>,
}

async fn run_peer(cfg: &Config) -> Res<PeerFigures> {
    let server = peer::install(&peer::venv(&bench_dir())).await?;
    let p = peer::start(&server).await?;
    let http = Http::new(&p.addr, "/v2", &p.token);
    let mut org = vec![Org {
        id: 0,
        http,
        users: Vec::new(),
    }];
    let run = format!("{:08x}", rand_u32());
    workloads::create_users(&mut org, 4, &run).await?;
    let (push, groups) = workloads::okta_push(
        &format!("Peer: Okta push, 1 org × {} groups", cfg.groups),
        &org,
        cfg.groups,
        &run,
        cfg.clients,
    )
    .await?;
    if groups.is_empty() {
        return Err("the peer created no group".into());
    }
    let lookups = workloads::lookups(&org[0], &groups, cfg.clients, cfg.duration()).await?;
    Ok(PeerFigures { push, lookups })
}

async fn run() -> Res<()> {
    let started = Instant::now();
    let cfg = Config::from_env()?;
    eprintln!("load benchmark: {cfg:?}");
    eprintln!("reference peer: scim2-server {}", peer::VERSION);
    let peer = match run_peer(&cfg).await {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("reference peer skipped: {e}");
            None
        }
    };
    let mut backends = vec![("SQLite".to_owned(), None)];
    if let Ok(url) = std::env::var("SCIMGATE_BENCH_DATABASE_URL")
        && url.starts_with("postgres")
    {
        backends.push(("PostgreSQL".to_owned(), Some(url)));
    }
    let mut runs = Vec::new();
    for (label, postgres_base) in backends {
        let mut dbs = Databases {
            postgres_base,
            created: Vec::new(),
        };
        let result = run_backend(&label, &mut dbs, &cfg, peer.as_ref()).await;
        dbs.drop_all().await;
        runs.push(result?);
    }
    for r in &runs {
        report::print_backend(&r.label, &r.cases);
    }
    if let Some(p) = &peer {
        report::print_peer(p);
    }
    let path = bench_dir().join("load-results.json");
    report::write_json(&path, &cfg, &runs, peer.as_ref(), started.elapsed())?;
    println!("\nfigures: {}  (plots: benches/plot_load.py)", path.display());
    println!("total: {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load benchmark: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
