//! The load generator's HTTP side: one keep-alive connection per simulated client (hyper-util's
//! pooled client, as IdPs keep theirs open), per-request timing, and the figures made of it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::Res;

/// One simulated IdP client: its own pool, so it holds exactly one connection open.
#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    /// `http://host:port` plus the SCIM base path.
    base: String,
    token: String,
}

/// What one request answered, and how long it took (send to last body byte).
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
    pub took: Duration,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl Http {
    /// A client of `addr` (`host:port`) for the SCIM base `path`, with a bearer `token`. Its pool
    /// keeps every connection it opened (one per concurrent client at most): keep-alive throughout.
    pub fn new(addr: &str, path: &str, token: &str) -> Http {
        Http {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://{addr}{path}"),
            token: token.to_owned(),
        }
    }

    /// The same connections, another base path and token.
    pub fn with(&self, path: &str, token: &str) -> Http {
        let host_end = self.base[7..].find('/').map_or(self.base.len(), |i| i + 7);
        Http {
            client: self.client.clone(),
            base: format!("{}{path}", &self.base[..host_end]),
            token: token.to_owned(),
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Res<Answer> {
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("accept", "application/scim+json");
        if !self.token.is_empty() {
            request = request.header("authorization", format!("Bearer {}", self.token));
        }
        let bytes = match body {
            Some(b) => {
                request = request.header("content-type", "application/scim+json");
                Bytes::from(b.to_string())
            }
            None => Bytes::new(),
        };
        let request = request
            .body(Full::new(bytes))
            .map_err(|e| format!("request: {e}"))?;
        let started = Instant::now();
        let answer = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("{method} {path}: {e:?}"))?;
        let status = answer.status().as_u16();
        let body = answer
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{method} {path} body: {e}"))?
            .to_bytes();
        Ok(Answer {
            status,
            body,
            took: started.elapsed(),
        })
    }

    pub async fn get(&self, path: &str) -> Res<Answer> {
        self.send("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Res<Answer> {
        self.send("POST", path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, operations: Value) -> Res<Answer> {
        let body =
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations});
        self.send("PATCH", path, Some(&body)).await
    }
}

/// A `filter` query value, percent-encoded.
pub fn filter(attribute: &str, value: &str) -> String {
    let text = format!("{attribute} eq \"{value}\"");
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn group_body(name: &str, external_id: Option<&str>) -> Value {
    let mut body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": []});
    if let Some(e) = external_id {
        body["externalId"] = json!(e);
    }
    body
}

pub fn user_body(user_name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name, "active": true,
           "name": {"givenName": "Load", "familyName": "Bench"}})
}

/// The id of a created resource.
pub fn created_id(answer: &Answer, what: &str) -> Res<String> {
    answer.json()["id"].as_str().map(str::to_owned).ok_or_else(|| {
        format!(
            "{what}: no id in answer {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body[..answer.body.len().min(300)])
        )
    })
}

/// Per-operation latencies of one case, merged from every client, in the order first seen (the
/// order of a workload's steps).
#[derive(Default)]
pub struct Samples {
    pub ops: Vec<(String, Op)>,
}

#[derive(Default)]
pub struct Op {
    pub took: Vec<Duration>,
    /// Answers outside 2xx, by status (0: the request failed on the wire).
    pub errors: BTreeMap<u16, u64>,
    pub first_error: Option<String>,
}

impl Samples {
    fn entry(&mut self, op: &str) -> &mut Op {
        let i = match self.ops.iter().position(|(name, _)| name == op) {
            Some(i) => i,
            None => {
                self.ops.push((op.to_owned(), Op::default()));
                self.ops.len() - 1
            }
        };
        &mut self.ops[i].1
    }

    pub fn record(&mut self, op: &str, answer: &Res<Answer>) {
        let entry = self.entry(op);
        match answer {
            Ok(a) => {
                entry.took.push(a.took);
                if !a.ok() {
                    *entry.errors.entry(a.status).or_default() += 1;
                    entry.first_error.get_or_insert_with(|| {
                        String::from_utf8_lossy(&a.body[..a.body.len().min(300)]).into_owned()
                    });
                }
            }
            Err(e) => {
                *entry.errors.entry(0).or_default() += 1;
                entry.first_error.get_or_insert_with(|| e.clone());
            }
        }
    }

    /// Records a duration measured outside HTTP (the floor).
    pub fn record_ok(&mut self, op: &str, took: Duration) {
        self.entry(op).took.push(took);
    }

    pub fn record_failure(&mut self, op: &str, error: String) {
        let entry = self.entry(op);
        *entry.errors.entry(0).or_default() += 1;
        entry.first_error.get_or_insert(error);
    }

    pub fn merge(&mut self, other: Samples) {
        for (name, op) in other.ops {
            let entry = self.entry(&name);
            entry.took.extend(op.took);
            for (status, n) in op.errors {
                *entry.errors.entry(status).or_default() += n;
            }
            if entry.first_error.is_none() {
                entry.first_error = op.first_error;
            }
        }
    }
}

/// The figures of one operation in one case.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Figure {
    pub operation: String,
    pub requests: usize,
    /// Requests of this operation per second of the case's wall time.
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Non-2xx answers and failed requests, by status ("0": no answer).
    pub errors: BTreeMap<u16, u64>,
    pub first_error: Option<String>,
    /// Throughput ÷ the database floor's for the same statements.
    pub floor_ratio: Option<f64>,
    /// Throughput ÷ the reference server's for the same operation.
    pub peer_ratio: Option<f64>,
    /// The server's CPU time (user + system) over the case ÷ the case's requests, in µs.
    pub server_cpu_us: Option<f64>,
}

impl Samples {
    /// Figures over `wall`, the time the whole case ran.
    pub fn figures(self, wall: Duration) -> Vec<Figure> {
        self.ops
            .into_iter()
            .map(|(operation, mut op)| {
                op.took.sort();
                let pick = |q: f64| -> f64 {
                    if op.took.is_empty() {
                        return f64::NAN;
                    }
                    let i = ((op.took.len() as f64 * q).ceil() as usize).clamp(1, op.took.len()) - 1;
                    op.took[i].as_secs_f64() * 1000.0
                };
                Figure {
                    requests: op.took.len(),
                    per_second: op.took.len() as f64 / wall.as_secs_f64(),
                    p50_ms: pick(0.50),
                    p99_ms: pick(0.99),
                    errors: op.errors,
                    first_error: op.first_error,
                    operation,
                    floor_ratio: None,
                    peer_ratio: None,
                    server_cpu_us: None,
                }
            })
            .collect()
    }
}

/// Runs `clients` workers until `deadline`; each calls `step(worker, iteration)` in a loop and
/// records into its own samples (no lock on the hot path). The wall time is the slowest worker's.
pub async fn run_for<F, Fut>(clients: usize, duration: Duration, step: F) -> (Samples, Duration)
where
    F: Fn(usize, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Samples> + Send + 'static,
{
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for worker in 0..clients {
        let step = step.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Samples::default();
            let mut i = 0;
            while Instant::now() < deadline {
                mine.merge(step(worker, i).await);
                i += 1;
            }
            mine
        }));
    }
    join(tasks, started).await
}

/// Runs `clients` workers over `jobs` items (worker w takes items w, w + clients, …).
pub async fn run_jobs<F, Fut>(clients: usize, jobs: usize, step: F) -> (Samples, Duration)
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Samples> + Send + 'static,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..clients {
        let step = step.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Samples::default();
            for job in (worker..jobs).step_by(clients) {
                mine.merge(step(job).await);
            }
            mine
        }));
    }
    join(tasks, started).await
}

async fn join(tasks: Vec<tokio::task::JoinHandle<Samples>>, started: Instant) -> (Samples, Duration) {
    let mut all = Samples::default();
    for task in tasks {
        match task.await {
            Ok(s) => all.merge(s),
            Err(e) => all.record_failure("worker", format!("worker panicked: {e}")),
        }
    }
    (all, started.elapsed())
}

/// A one-op sample set.
pub fn one(op: &str, answer: &Res<Answer>) -> Samples {
    let mut s = Samples::default();
    s.record(op, answer);
    s
}

/// The server's CPU time over one case (from `/proc/PID/stat`: user + system clock ticks, 100 per
/// second on Linux), shared out over the case's requests: what one request costs the server,
/// whatever the load generator next to it on the same cores costs.
pub struct Cpu {
    pid: Option<u32>,
    start: Option<u64>,
}

const TICK_US: f64 = 10_000.0;

fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

impl Cpu {
    pub fn start(pid: Option<u32>) -> Cpu {
        Cpu {
            pid,
            start: pid.and_then(cpu_ticks),
        }
    }

    pub fn attribute(self, mut figures: Vec<Figure>) -> Vec<Figure> {
        let (Some(pid), Some(start)) = (self.pid, self.start) else {
            return figures;
        };
        let Some(end) = cpu_ticks(pid) else {
            return figures;
        };
        let requests: usize = figures.iter().map(|f| f.requests).sum();
        if requests > 0 {
            let per = (end - start) as f64 * TICK_US / requests as f64;
            for f in &mut figures {
                f.server_cpu_us = Some(per);
            }
        }
        figures
    }
}
