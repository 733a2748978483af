//! The database goes away under load and comes back (design §2 "Operations", §5): a PostgreSQL of
//! this test's own (its own data directory and port) is stopped while clients create groups. Every
//! answer meanwhile is a 503 with `Retry-After` and a SCIM error body, within the 5 s bound; no 500,
//! no hang; `/readyz` fails while `/healthz` stays up. Started again, the same process serves in
//! full; afterwards the database holds every group a 201 promised, and nothing nobody asked for.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::process::{Server, cli_org, send};
use serde_json::json;

/// A request that cannot get a connection answers within this (design §2).
const UNAVAILABLE_BOUND: Duration = Duration::from_secs(5);
/// The server's request timeout in this test; no answer may take longer (plus scheduling slack).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A PostgreSQL server of this test's own, stopped and removed when dropped. `initdb` and
/// `pg_ctl` refuse to run as root, so as root they run as the `postgres` user.
struct OwnPostgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
}

impl OwnPostgres {
    fn init() -> OwnPostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server binaries under /usr/lib/postgresql")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("pg_ctl").exists())
            .max()
            .expect("a PostgreSQL version with pg_ctl");
        let dir = std::env::temp_dir().join(format!("scimgate-pg-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir(&dir).expect("data directory");
        // A free port: bound and released (the server binds it moments later).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let pg = OwnPostgres { dir, bin, port };
        if as_root() {
            run(Command::new("chown").arg("postgres:postgres").arg(&pg.dir));
        }
        let data = pg.dir.join("data");
        pg.run_tool(
            "initdb",
            &["-A", "trust", "-U", "postgres", "--no-sync", "-D"],
            &data,
        );
        pg.start();
        pg
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log");
        let log = log.to_str().expect("utf-8 path");
        self.run_tool(
            "pg_ctl",
            &["-w", "-l", log, "-o", &options, "start", "-D"],
            &self.dir.join("data"),
        );
    }

    /// Stops the server the way an operator's restart or a failover does: open connections are
    /// terminated, new ones refused.
    fn stop(&self) {
        self.run_tool(
            "pg_ctl",
            &["-w", "-m", "fast", "stop", "-D"],
            &self.dir.join("data"),
        );
    }

    fn run_tool(&self, tool: &str, args: &[&str], data: &Path) {
        let program = self.bin.join(tool);
        let mut command = if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        command.args(args).arg(data);
        run(&mut command);
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-m", "immediate", "stop", "-D"])
            .arg(self.dir.join("data"))
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn run(command: &mut Command) {
    let output = command.output().expect("run a PostgreSQL tool");
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One create and what it answered.
#[derive(Debug)]
struct Outcome {
    name: String,
    status: u16,
    took: Duration,
    retry_after: bool,
    scim_error: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL"]
async fn the_database_stopping_under_load_gives_clean_503s_and_service_returns_without_a_restart() {
    let pg = OwnPostgres::init();
    let db = pg.url();
    let timeout = format!("{}s", REQUEST_TIMEOUT.as_secs());
    let server = Server::start_with(&db, "outage", &[("SCIMGATE_REQUEST_TIMEOUT", timeout.as_str())]).await;
    let pid = server.pid();
    let (org_id, token) = cli_org(&db, "outage").await;
    let groups = format!("/api/orgs/{org_id}/scim/v2/Groups");
    let stop = Arc::new(AtomicBool::new(false));

    let clients: Vec<_> = (0..6)
        .map(|client| {
            let (addr, stop, token, groups) =
                (server.addr.clone(), stop.clone(), token.clone(), groups.clone());
            tokio::spawn(async move {
                let auth = format!("Bearer {token}");
                let mut outcomes = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let name = common::unique(&format!("outage-{client}"));
                    let body = json!({"displayName": name}).to_string();
                    let started = Instant::now();
                    let answer = tokio::time::timeout(
                        REQUEST_TIMEOUT + Duration::from_secs(5),
                        send(
                            &addr,
                            "POST",
                            &groups,
                            &[("Authorization", auth.as_str())],
                            Some(body.as_bytes()),
                        ),
                    )
                    .await
                    .expect("no request hangs past the request timeout")
                    .expect("every request is answered");
                    let error = answer.json();
                    outcomes.push(Outcome {
                        name,
                        status: answer.status,
                        took: started.elapsed(),
                        retry_after: answer.header("retry-after").is_some(),
                        scim_error: error["schemas"][0] == "urn:ietf:params:scim:api:messages:2.0:Error"
                            && error["status"] == answer.status.to_string().as_str(),
                    });
                    if answer.status != 201 {
                        // As an IdP would: back off a little, then try again.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                outcomes
            })
        })
        .collect();
    // Probes, as Kubernetes sends them.
    let probes = {
        let (addr, stop) = (server.addr.clone(), stop.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let health = send(&addr, "GET", "/healthz", &[], None).await.map(|a| a.status);
                let ready = send(&addr, "GET", "/readyz", &[], None).await.map(|a| a.status);
                seen.push((Instant::now(), health.ok(), ready.ok()));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            seen
        })
    };

    tokio::time::sleep(Duration::from_millis(1500)).await;
    pg.stop();
    let stopped = Instant::now();
    tokio::time::sleep(Duration::from_secs(7)).await;
    pg.start();
    let started = Instant::now();
    // Service comes back: creates succeed again on the same process.
    let auth = format!("Bearer {token}");
    let recovered = loop {
        let body = json!({"displayName": common::unique("outage-probe")}).to_string();
        let answer = send(
            &server.addr,
            "POST",
            &groups,
            &[("Authorization", auth.as_str())],
            Some(body.as_bytes()),
        )
        .await
        .expect("answered");
        if answer.status == 201 {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no recovery: {}",
            answer.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::SeqCst);
    let mut outcomes = Vec::new();
    for client in clients {
        outcomes.extend(client.await.expect("client"));
    }
    let probes = probes.await.expect("probes");
    assert_eq!(server.pid(), pid, "the same process served throughout");

    let created: HashSet<&str> = outcomes
        .iter()
        .filter(|o| o.status == 201)
        .map(|o| o.name.as_str())
        .collect();
    let refused: Vec<&Outcome> = outcomes.iter().filter(|o| o.status != 201).collect();
    let slowest = refused.iter().map(|o| o.took).max().unwrap_or_default();
    println!(
        "{} creates: {} answered 201, {} answered 503 (slowest {:?}); recovered {:?} after the restart",
        outcomes.len(),
        created.len(),
        refused.len(),
        slowest,
        recovered
    );
    assert!(!refused.is_empty(), "the outage was noticed");
    for o in &refused {
        assert_eq!(o.status, 503, "{o:?}");
        assert!(
            o.retry_after && o.scim_error,
            "a 503 without Retry-After or a SCIM body: {o:?}"
        );
        assert!(o.took < UNAVAILABLE_BOUND, "a 503 took {:?}", o.took);
    }
    assert!(
        outcomes.iter().all(|o| o.took < REQUEST_TIMEOUT),
        "an answer took longer than the request timeout"
    );

    // Liveness never failed; readiness failed while the database was down.
    assert!(
        probes.iter().all(|(_, health, _)| *health == Some(200)),
        "/healthz failed"
    );
    assert!(
        probes
            .iter()
            .any(|(at, _, ready)| *at > stopped && *at < started && *ready == Some(503)),
        "/readyz never failed during the outage"
    );
    assert_eq!(probes.last().map(|p| p.2), Some(Some(200)), "/readyz recovered");

    // The data: every 201 is there; nothing exists that no client asked for. A 503 during the
    // outage may or may not have committed (the connection can die after COMMIT): an IdP retries.
    // Pages of at most the advertised `maxResults` (1,000): a fast machine creates more than that.
    let mut names: HashSet<String> = HashSet::new();
    let mut start = 1;
    loop {
        let page = send(
            &server.addr,
            "GET",
            &format!("{groups}?startIndex={start}&count=1000&excludedAttributes=members"),
            &[("Authorization", auth.as_str())],
            None,
        )
        .await
        .expect("list")
        .json();
        let resources = page["Resources"].as_array().cloned().unwrap_or_default();
        names.extend(
            resources
                .iter()
                .filter_map(|g| g["displayName"].as_str().map(str::to_owned)),
        );
        let total = page["totalResults"].as_u64().expect("totalResults") as usize;
        start += resources.len();
        if resources.is_empty() || start > total {
            break;
        }
    }
    for name in &created {
        assert!(names.contains(*name), "{name} answered 201 but is gone");
    }
    let asked: HashSet<&str> = outcomes.iter().map(|o| o.name.as_str()).collect();
    for name in &names {
        assert!(
            asked.contains(name.as_str()) || name.starts_with("outage-probe"),
            "{name} exists but nobody asked for it"
        );
    }
}
