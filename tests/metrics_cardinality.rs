//! Metrics cardinality (design §2 "Metrics"): whatever methods and paths clients send, every label
//! takes its value from a fixed set, so neither the series count nor a scrape grows with the input;
//! and `SCIMGATE_METRICS_LISTEN` takes `/metrics` off the main port.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::process::{Server, http};
use common::{TestApp, metric_samples};

/// A small deterministic generator (xorshift): reproducible runs without a crate.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A token of `len` characters from `alphabet`.
    fn token(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize] as char)
            .collect()
    }
}

const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const KNOWN_METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "other",
];

#[tokio::test]
async fn random_methods_and_paths_create_no_label_values() {
    let app = TestApp::new().await;
    let org = app.org("cardinality").await;
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut sent_tokens = BTreeSet::new();
    for i in 0..2000u32 {
        let method = if i.is_multiple_of(2) {
            // Random extension methods, like an attacker's `FOO123`.
            let m = format!("X{}", noise.token(UPPER, 7));
            sent_tokens.insert(m.clone());
            m
        } else {
            ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"][(noise.next() % 7) as usize]
                .to_owned()
        };
        let word = format!("z{}", noise.token(LOWER, 9));
        sent_tokens.insert(word.clone());
        let digits = format!("{}", 10_000_000 + noise.next() % 80_000_000);
        let path = match noise.next() % 6 {
            0 => format!("/{word}"),
            1 => format!("{}/{word}", org.base()),
            2 => format!("{}/Users/{word}", org.base()),
            3 => format!("/api/orgs/{digits}/scim/v2/Groups/{word}"),
            4 => format!("/orgs/{}/scim/v2/{word}/{word}", org.id),
            _ => format!("/api/admin/{word}"),
        };
        let mut request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).expect("method"))
            .uri(&path);
        if noise.next().is_multiple_of(2) {
            request = request.header("authorization", format!("Bearer {}", org.token));
        }
        let answer = app.raw(request.body(Body::empty()).expect("request")).await;
        assert_ne!(
            answer.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{method} {path}"
        );
        // Nor may an organization id nobody authenticated for.
        sent_tokens.insert(digits);
    }

    let scrape = app.send(Method::GET, "/metrics", None, None, &[]).await;
    assert_eq!(scrape.status, StatusCode::OK);
    let text = scrape.text;
    let samples = metric_samples(&text);
    for sample in &samples {
        if let Some(method) = sample.labels.get("method") {
            assert!(
                KNOWN_METHODS.contains(&method.as_str()),
                "method label {method:?} in {sample:?}"
            );
        }
        for value in sample.labels.values() {
            assert!(
                !sent_tokens.iter().any(|t| value.contains(t.as_str())),
                "a label carries client input: {sample:?}"
            );
        }
        if let Some(route) = sample.labels.get("route") {
            assert!(route == "unmatched" || route.starts_with('/'), "{sample:?}");
        }
    }
    let others = samples
        .iter()
        .filter(|s| {
            s.name == "scimgate_http_requests_total"
                && s.labels.get("method").map(String::as_str) == Some("other")
        })
        .count();
    assert!(others > 0, "unknown methods are counted as `other`:\n{text}");
    eprintln!(
        "{} series, {} bytes after 2,000 random requests",
        samples.len(),
        text.len()
    );
    // Bounded by the fixed label sets, not by the 1,000 distinct methods and 2,000 paths sent.
    assert!(
        samples.len() < 4000,
        "{} series after 2,000 random requests",
        samples.len()
    );
    assert!(text.len() < 1024 * 1024, "a scrape of {} bytes", text.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_listener_takes_metrics_off_the_main_port() {
    let db = common::database_url();
    let mut server = Server::start_with(
        &db,
        "metrics-listen",
        &[("SCIMGATE_METRICS_LISTEN", "127.0.0.1:0")],
    )
    .await;
    let metrics_addr = server
        .log_lines()
        .iter()
        .find(|l| l["fields"]["message"] == "scimgate metrics serving")
        .and_then(|l| l["fields"]["listen"].as_str().map(str::to_owned))
        .expect("the metrics listener logs its address");
    assert_ne!(metrics_addr, server.addr);

    let (status, body) = server
        .request("GET", "/metrics", None)
        .await
        .expect("main /metrics");
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        server.request("GET", "/healthz", None).await.expect("healthz").0,
        200
    );

    let (status, body) = tokio::time::timeout(
        Duration::from_secs(60),
        http(&metrics_addr, "GET", "/metrics", None),
    )
    .await
    .expect("answered")
    .expect("metrics listener");
    assert_eq!(status, 200);
    assert!(body.contains("scimgate_http_requests_total"), "{body}");
    // The 404 above was counted, under no label of its own.
    assert!(body.contains("route=\"unmatched\""), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_metrics_listener_the_main_port_serves_metrics() {
    let db = common::database_url();
    let mut server = Server::start(&db, "metrics-main").await;
    let (status, body) = server
        .request("GET", "/metrics", None)
        .await
        .expect("main /metrics");
    assert_eq!(status, 200);
    assert!(body.contains("scimgate_http_requests_total"), "{body}");
}
