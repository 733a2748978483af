//! Ratios, the tables on stdout, and the JSON file for the plots.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::client::Figure;
use crate::workloads::{self, Case};
use crate::{BackendRun, Config, PeerFigures, Res, err, floor};

/// Which floor case stands for which HTTP operation (the same statements).
const FLOORS: &[(&str, &str)] = &[
    (workloads::LOOKUP, floor::LOOKUP),
    (workloads::GET, floor::GET),
    (workloads::GET_ROW, floor::GET_ROW),
    (workloads::CREATE, floor::CREATE),
];

pub fn floor_ratios(case: &mut Case, floor: &[Figure]) {
    for f in &mut case.figures {
        let base = FLOORS
            .iter()
            .find(|(op, _)| *op == f.operation)
            .and_then(|(_, fl)| floor.iter().find(|x| x.operation == *fl));
        if let Some(base) = base {
            f.floor_ratio = Some(f.per_second / base.per_second);
        }
    }
}

/// Ratios to the peer's figure of the same operation; for a push, its groups/s too.
pub fn peer_ratios(case: &mut Case, peer: &[Figure]) {
    for f in &mut case.figures {
        if let Some(p) = peer.iter().find(|p| p.operation == f.operation) {
            f.peer_ratio = Some(f.per_second / p.per_second);
        }
    }
}

impl PeerFigures {
    fn push_ratio(&self, ours: &Case) -> Option<f64> {
        let g = |c: &Case| c.notes.get("groups_per_second").and_then(Value::as_f64);
        Some(g(ours)? / g(&self.push)?)
    }
}

fn ratio(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{r:.2}"))
}

fn errors(f: &Figure) -> String {
    if f.errors.is_empty() {
        return "0".into();
    }
    f.errors
        .iter()
        .map(|(s, n)| {
            format!(
                "{n}×{}",
                if *s == 0 {
                    "fail".to_string()
                } else {
                    s.to_string()
                }
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn print_figures(figures: &[Figure]) {
    for f in figures {
        println!(
            "| {:<62} | {:>7} | {:>9.0} | {:>8.2} | {:>8.2} | {:>12} | {:>6} | {:>6} | {:>8} |",
            f.operation,
            f.requests,
            f.per_second,
            f.p50_ms,
            f.p99_ms,
            errors(f),
            ratio(f.floor_ratio),
            ratio(f.peer_ratio),
            f.server_cpu_us.map_or("-".into(), |c| format!("{c:.0}"))
        );
    }
    for f in figures.iter().filter(|f| f.first_error.is_some()) {
        println!(
            "  first error of {}: {}",
            f.operation,
            f.first_error.as_deref().unwrap_or_default()
        );
    }
}

fn header() {
    println!(
        "| {:<62} | {:>7} | {:>9} | {:>8} | {:>8} | {:>12} | {:>6} | {:>6} | {:>8} |",
        "operation", "n", "req/s", "p50 ms", "p99 ms", "non-2xx", "floor", "peer", "srv µs"
    );
    println!(
        "|{:-<64}|{:->9}|{:->11}|{:->10}|{:->10}|{:->14}|{:->8}|{:->8}|{:->10}|",
        "", "", "", "", "", "", "", "", ""
    );
}

pub fn print_backend(label: &str, cases: &[Case]) {
    println!(
        "\n## scimgate load benchmark on {label} ({} clients)",
        crate::CLIENTS
    );
    for case in cases {
        let notes: Vec<String> = case
            .notes
            .iter()
            .filter_map(|(k, v)| match v.as_f64() {
                Some(x) if x.fract() != 0.0 => Some(format!("{k}={x:.2}")),
                Some(_) => Some(format!("{k}={v}")),
                None => None,
            })
            .collect();
        println!("\n### {}  {}", case.name, notes.join(" "));
        header();
        print_figures(&case.figures);
    }
}

pub fn print_peer(peer: &PeerFigures) {
    println!(
        "\n## reference peer: scim2-server {} (in memory, HTTP/1.0, a connection per request)",
        crate::peer::VERSION
    );
    let g = peer
        .push
        .notes
        .get("groups_per_second")
        .and_then(Value::as_f64)
        .unwrap_or(f64::NAN);
    println!("\n### {}  groups_per_second={g:.2}", peer.push.name);
    header();
    print_figures(&peer.push.figures);
    println!("\n### Peer: lookups alone");
    header();
    print_figures(&peer.lookups);
}

fn machine() -> Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    let mem_kib = read("/proc/meminfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")
                .map(|v| v.trim().trim_end_matches("kB").trim().to_owned())
        })
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    json!({
        "nproc": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "cpu_model": model,
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "memory_mib": mem_kib / 1024,
    })
}

fn case_json(c: &Case) -> Value {
    json!({"name": c.name, "notes": c.notes, "figures": c.figures})
}

pub fn write_json(
    path: &Path,
    cfg: &Config,
    runs: &[BackendRun],
    peer: Option<&PeerFigures>,
    total: Duration,
) -> Res<()> {
    let backends: Vec<Value> = runs
        .iter()
        .map(|r| {
            let mut v = json!({"backend": r.label, "seconds": r.seconds,
                               "cases": r.cases.iter().map(case_json).collect::<Vec<_>>()});
            if let Some(p) = peer
                && let Some(push) = r.cases.iter().find(|c| c.name.contains("as the peer"))
            {
                v["push_groups_per_second_ratio_to_peer"] = json!(p.push_ratio(push));
            }
            v
        })
        .collect();
    let peer = peer.map_or(json!(null), |p| {
        json!({"server": format!("scim2-server {}", crate::peer::VERSION), "push": case_json(&p.push), "lookups": p.lookups})
    });
    let doc = json!({
        "generated_at_unix": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "machine": machine(),
        "config": cfg,
        "total_seconds": total.as_secs_f64(),
        "backends": backends,
        "peer": peer,
    });
    let text = serde_json::to_string_pretty(&doc).map_err(err("results JSON"))?;
    std::fs::write(path, text).map_err(err("write results"))
}
