//! Real `scimgate` processes for the tests whose point is a real socket or a real process: several
//! replicas, slow clients, memory read from outside the process. HTTP is spoken by hand over a
//! `TcpStream` (a client crate would rebuild half the dependency tree for the tests).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_scimgate");
/// The token hash key every process of a test shares.
pub const HASH_KEY: &str = "process-test-hash-key-0123456789abcdef";

/// A `scimgate` command with this test's configuration and nothing inherited from the environment.
pub fn scimgate(db: &str, args: &[&str]) -> Command {
    scimgate_at(BIN, db, args)
}

/// The same, of another build of the binary (a benchmark's "before").
pub fn scimgate_at(binary: &str, db: &str, args: &[&str]) -> Command {
    let mut command = Command::new(binary);
    for (key, _) in std::env::vars() {
        if key.starts_with("SCIMGATE_") {
            command.env_remove(key);
        }
    }
    command
        .args(args)
        .env("SCIMGATE_DATABASE_URL", db)
        .env("SCIMGATE_TOKEN_HASH_KEY", HASH_KEY)
        .env("SCIMGATE_LOG", "info")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs a CLI command to completion; its standard output and error. Panics if it fails.
pub async fn cli(db: &str, args: &[&str]) -> (String, String) {
    let output = scimgate(db, args).output().await.expect("run scimgate");
    let stdout = String::from_utf8(output.stdout).expect("utf-8 stdout");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "scimgate {args:?} failed: {stderr}");
    (stdout, stderr)
}

/// An organization created through the CLI, with a token: `(id, token)`.
pub async fn cli_org(db: &str, prefix: &str) -> (i64, String) {
    let (id, _) = cli(db, &["org", "create", &super::unique(prefix)]).await;
    let id = id.trim().to_owned();
    let (token, _) = cli(db, &["token", "generate", &id]).await;
    (id.parse().expect("org id"), token.trim().to_owned())
}

/// A running `scimgate serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub log: PathBuf,
    /// `host:port` of the main listener.
    pub addr: String,
    /// HTTP answers this server gave us (each must have one request log line).
    pub answered: usize,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

impl Server {
    /// Serves on `db` with the test defaults (rate limits lifted).
    pub async fn start(db: &str, name: &str) -> Server {
        Server::start_with(db, name, &[]).await
    }

    /// Serves on `db` with extra `SCIMGATE_*` settings (later ones win over the defaults).
    pub async fn start_with(db: &str, name: &str, env: &[(&str, &str)]) -> Server {
        Server::start_binary(BIN, db, name, env).await
    }

    /// The same, with another build of the binary.
    pub async fn start_binary(binary: &str, db: &str, name: &str, env: &[(&str, &str)]) -> Server {
        let log = std::env::temp_dir().join(format!(
            "scimgate-process-{name}-{}.log",
            uuid::Uuid::now_v7().simple()
        ));
        let file = std::fs::File::create(&log).expect("log file");
        let mut command = scimgate_at(binary, db, &["serve"]);
        command
            .env("SCIMGATE_LISTEN", "127.0.0.1:0")
            .env("SCIMGATE_PUBLIC_URL", "https://scim.process.example")
            .env("SCIMGATE_LOG_FORMAT", "json")
            .env("SCIMGATE_ORG_RATE_LIMIT", "100000")
            .env("SCIMGATE_ORG_BURST", "100000");
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .expect("spawn scimgate serve");
        let mut server = Server {
            child,
            log,
            addr: String::new(),
            answered: 0,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        // The bound address is logged at start (we ask for port 0: no race for a free port).
        while server.addr.is_empty() {
            if let Some(status) = server.child.try_wait().expect("try_wait") {
                panic!(
                    "{name} exited with {status}: {}",
                    std::fs::read_to_string(&server.log).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "{name} never said where it listens");
            for line in log_lines(&server.log) {
                if line["fields"]["message"] == "scimgate serving" {
                    server.addr = line["fields"]["listen"].as_str().expect("listen").to_owned();
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        loop {
            assert!(Instant::now() < deadline, "{name} never became ready");
            if let Ok((status, _)) = server.request("GET", "/readyz", None).await
                && status == 200
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    /// One HTTP/1.1 request on a fresh connection: status and body.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
    ) -> std::io::Result<(u16, String)> {
        let answer = http(&self.addr, method, path, token).await?;
        self.answered += 1;
        Ok(answer)
    }

    /// The status of a GET with `token`.
    pub async fn status(&mut self, path: &str, token: &str) -> u16 {
        self.request("GET", path, Some(token)).await.expect("request").0
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("server still running")
    }

    /// Peak resident memory of the process so far (`VmHWM`), in KiB, read from outside it.
    pub fn peak_rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    /// Resident memory now (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmRSS:")
    }

    /// Resets the peak (`VmHWM`) to the current resident size, so a later peak is one request's.
    pub fn reset_peak_rss(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").expect("reset VmHWM");
    }

    /// The log lines written so far, parsed.
    pub fn log_lines(&self) -> Vec<Value> {
        log_lines(&self.log)
    }
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("read /proc status")
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Every JSON log line of a file.
pub fn log_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// An answer read off the wire.
#[derive(Debug)]
pub struct WireAnswer {
    pub status: u16,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl WireAnswer {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON (`Value::Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// A minimal HTTP/1.1 client: `Connection: close`, read to the end, status and body.
pub async fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    let answer = send(addr, method, path, &headers, None).await?;
    Ok((answer.status, String::from_utf8_lossy(&answer.body).into_owned()))
}

/// One request with headers and an optional body on a fresh connection (`Connection: close`).
pub async fn send(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<WireAnswer> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: application/scim+json\r\n"
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: application/scim+json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    if let Some(body) = body {
        stream.write_all(body).await?;
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    parse_answer(&raw)
}

/// One request with `Authorization: Bearer …`, extra headers and an optional JSON body, on a fresh
/// connection; panics if the server does not answer.
pub async fn with_bearer(
    addr: &str,
    bearer: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> WireAnswer {
    let auth = format!("Bearer {bearer}");
    let mut all = vec![("Authorization", auth.as_str())];
    all.extend_from_slice(headers);
    let body = body.map(Value::to_string);
    send(addr, method, path, &all, body.as_deref().map(str::as_bytes))
        .await
        .expect("request")
}

/// Parses a whole HTTP/1.1 answer (`Content-Length`, chunked, or to the end of the stream).
pub fn parse_answer(raw: &[u8]) -> std::io::Result<WireAnswer> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no header end: {:?}", String::from_utf8_lossy(raw))))?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let body = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_vec() };
    Ok(WireAnswer {
        status,
        headers,
        body,
    })
}

/// Decodes a chunked body (as far as it is complete).
pub fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("0").trim(), 16).ok())
            .unwrap_or(0);
        let rest = &body[line_end + 2..];
        if size == 0 || rest.len() < size {
            break;
        }
        out.extend_from_slice(&rest[..size]);
        body = rest[size..].strip_prefix(b"\r\n").unwrap_or(&rest[size..]);
    }
    out
}

/// A new, empty database on the PostgreSQL server of `base` (a database URL), for a test that
/// must see what a first start does to it; its URL.
pub async fn fresh_postgres_database(base: &str, prefix: &str) -> String {
    use sea_orm::ConnectionTrait;
    let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
    let admin = sea_orm::Database::connect(base)
        .await
        .expect("connect to the test PostgreSQL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a database");
    let mut url = url::Url::parse(base).expect("a PostgreSQL URL");
    url.set_path(&name);
    url.to_string()
}

/// Sends SIGTERM to a process.
pub fn terminate(pid: u32) {
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(sent.success(), "SIGTERM to {pid}");
}

/// Runs one SQL statement of a benchmark's or test's own (seeding, clean-up); the rows it touched,
/// or the error with the statement's start.
pub async fn exec_sql(sql: &sea_orm::DatabaseConnection, statement: &str) -> Result<u64, String> {
    use sea_orm::ConnectionTrait;
    sql.execute_unprepared(statement)
        .await
        .map(|r| r.rows_affected())
        .map_err(|e| format!("{e}: {}", &statement[..statement.len().min(200)]))
}
