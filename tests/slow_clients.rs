//! Slow clients against a real `scimgate serve` process (design §2 "Time bounds"): a client that
//! never finishes its headers, an idle keep-alive connection and a client that never reads its
//! answer are each dropped after their timeout; connections beyond the cap wait in the backlog;
//! an unread answer keeps counting against its organization's concurrency cap until it is dropped;
//! a request past the request timeout is a 503 with `Retry-After`.

mod common;

use std::time::Duration;

use common::process::{Server, WireAnswer, cli_org, parse_answer, send};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// "Answered at all" bound: generous, never a speed measurement.
const BOUND: Duration = Duration::from_secs(60);

/// Reads one answer off a keep-alive connection (headers, then `Content-Length` bytes).
async fn read_one_answer(stream: &mut TcpStream) -> std::io::Result<WireAnswer> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = parse_answer(&raw[..end + 4])?;
            let length: usize = head
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if raw.len() >= end + 4 + length {
                return parse_answer(&raw[..end + 4 + length]);
            }
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::other("closed before a whole answer"));
        }
        raw.extend_from_slice(&chunk[..n]);
    }
}

/// Waits until the server closes `stream` (end of stream or reset), discarding what it sends.
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut sink = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut sink))
        .await
        .is_ok()
}

/// A keep-alive GET of `/healthz` on an open connection.
async fn keep_alive_healthz(stream: &mut TcpStream) -> u16 {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .expect("send");
    tokio::time::timeout(BOUND, read_one_answer(stream))
        .await
        .expect("answered")
        .expect("answer")
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn half_sent_headers_are_cut_off_and_a_normal_client_is_served_meanwhile() {
    let db = common::database_url();
    let server = Server::start_with(
        &db,
        "slow-headers",
        &[
            ("SCIMGATE_HEADER_READ_TIMEOUT", "1s"),
            // Fewer slots than stalled clients: without the header timeout nobody else gets one.
            ("SCIMGATE_MAX_CONNECTIONS", "50"),
        ],
    )
    .await;
    let mut stalled = Vec::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(&server.addr).await.expect("connect");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Never-Ends: ")
            .await
            .expect("half a header");
        stalled.push(stream);
    }
    // Queued behind all of them, a normal client is still answered.
    let answer = tokio::time::timeout(BOUND, send(&server.addr, "GET", "/healthz", &[], None))
        .await
        .expect("a normal client is answered while 200 clients stall")
        .expect("answer");
    assert_eq!(answer.status, 200);
    for (i, stream) in stalled.iter_mut().enumerate() {
        assert!(
            closed_by_server(stream).await,
            "stalled connection {i} is still open"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_beyond_the_cap_wait_and_idle_keep_alive_ones_are_dropped() {
    let db = common::database_url();
    let server = Server::start_with(
        &db,
        "max-connections",
        &[
            ("SCIMGATE_MAX_CONNECTIONS", "2"),
            ("SCIMGATE_HEADER_READ_TIMEOUT", "5s"),
        ],
    )
    .await;
    let mut first = TcpStream::connect(&server.addr).await.expect("connect");
    assert_eq!(keep_alive_healthz(&mut first).await, 200);
    let mut second = TcpStream::connect(&server.addr).await.expect("connect");
    assert_eq!(keep_alive_healthz(&mut second).await, 200);

    // A third connection reaches the kernel's backlog but is not served while both slots are held.
    let mut third = TcpStream::connect(&server.addr).await.expect("connect");
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .expect("send");
    let mut byte = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), third.read(&mut byte))
            .await
            .is_err(),
        "a connection beyond the cap was served"
    );
    // Once one closes, the waiting one is served.
    drop(first);
    let mut rest = Vec::new();
    tokio::time::timeout(BOUND, third.read_to_end(&mut rest))
        .await
        .expect("served once a slot frees up")
        .expect("read");
    let mut raw = byte.to_vec();
    raw.extend_from_slice(&rest);
    assert_eq!(parse_answer(&raw).expect("answer").status, 200);

    // The second connection sits idle after its answer: the server drops it.
    assert!(
        closed_by_server(&mut second).await,
        "idle keep-alive connection kept open"
    );
}

/// `count` users of `org_id` made members of `group_id`, by raw SQL.
async fn seed_members(db: &str, org_id: i64, group_id: &str, count: usize) {
    let sql = sea_orm::Database::connect(db).await.expect("connect");
    let prefix = common::short_prefix();
    common::seed_users(&sql, org_id, &prefix, count).await;
    common::seed_members(&sql, org_id, group_id, &prefix).await;
}

/// A group of the organization, created over SCIM; its id.
async fn create_group(server: &Server, org_id: i64, token: &str) -> String {
    let auth = format!("Bearer {token}");
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": common::unique("slow-reader"),
    })
    .to_string();
    let answer = send(
        &server.addr,
        "POST",
        &format!("/api/orgs/{org_id}/scim/v2/Groups"),
        &[("Authorization", &auth)],
        Some(body.as_bytes()),
    )
    .await
    .expect("create group");
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    answer.json()["id"].as_str().expect("id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unread_answer_counts_against_the_cap_until_the_write_timeout_drops_it() {
    let db = common::database_url();
    let server = Server::start_with(
        &db,
        "slow-reader",
        &[
            ("SCIMGATE_ORG_MAX_CONCURRENCY", "1"),
            ("SCIMGATE_WRITE_TIMEOUT", "3s"),
        ],
    )
    .await;
    let (org_id, token) = cli_org(&db, "slow-reader").await;
    let group = create_group(&server, org_id, &token).await;
    // About 10 MB of answer: far more than the socket buffers on both sides hold.
    seed_members(&db, org_id, &group, 60_000).await;

    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small receive buffer");
    let mut slow = socket
        .connect(server.addr.parse().expect("address"))
        .await
        .expect("connect");
    let path = format!("/api/orgs/{org_id}/scim/v2/Groups/{group}");
    slow.write_all(
        format!(
            "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .expect("send");

    // The handler is done (its request line is logged) but the answer sits unread.
    let logged = |server: &Server| {
        server.log_lines().iter().any(|l| {
            l["fields"]["route"] == "/api/orgs/{org_id}/scim/v2/{resource}/{id}"
                && l["fields"]["org"] == json!(org_id)
                && l["fields"]["status"] == 200
        })
    };
    let deadline = tokio::time::Instant::now() + BOUND;
    while !logged(&server) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the big GET never finished its handler"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let auth = format!("Bearer {token}");
    let users = format!("/api/orgs/{org_id}/scim/v2/Users?count=1");
    let refused = send(&server.addr, "GET", &users, &[("Authorization", &auth)], None)
        .await
        .expect("request");
    assert_eq!(
        refused.status,
        429,
        "the unread answer no longer counts against the cap: {}",
        String::from_utf8_lossy(&refused.body)
    );
    assert!(refused.header("retry-after").is_some());
    assert!(
        refused.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("concurrency")),
        "{:?}",
        refused.json()
    );

    // After the write timeout the connection is dropped and the organization is served again.
    assert!(
        closed_by_server(&mut slow).await,
        "the unread answer was never dropped"
    );
    let served = send(&server.addr, "GET", &users, &[("Authorization", &auth)], None)
        .await
        .expect("request");
    assert_eq!(served.status, 200, "{}", String::from_utf8_lossy(&served.body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_past_the_request_timeout_is_503_with_retry_after() {
    let db = common::database_url();
    let server = Server::start_with(&db, "request-timeout", &[("SCIMGATE_REQUEST_TIMEOUT", "1s")]).await;
    let (org_id, token) = cli_org(&db, "request-timeout").await;
    // A body announced but never sent: the handler waits on it until the request timeout.
    let mut stream = TcpStream::connect(&server.addr).await.expect("connect");
    stream
        .write_all(
            format!(
                "POST /api/orgs/{org_id}/scim/v2/Groups HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
                 Authorization: Bearer {token}\r\nContent-Type: application/scim+json\r\n\
                 Content-Length: 1000\r\n\r\n{{\"displayName\":"
            )
            .as_bytes(),
        )
        .await
        .expect("send");
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    // Read until the answer is complete; the connection may stay open for the unsent body.
    let answer = tokio::time::timeout(BOUND, async {
        loop {
            let n = stream.read(&mut chunk).await.expect("read");
            raw.extend_from_slice(&chunk[..n]);
            if let Ok(answer) = parse_answer(&raw) {
                let length: usize = answer
                    .header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if n == 0 || answer.body.len() >= length {
                    return answer;
                }
            }
            assert!(n > 0, "closed without an answer");
        }
    })
    .await
    .expect("answered within the bound");
    assert_eq!(answer.status, 503, "{}", String::from_utf8_lossy(&answer.body));
    assert!(
        answer
            .header("retry-after")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|s| s >= 1),
        "{:?}",
        answer.headers
    );
    let body: Value = answer.json();
    assert_eq!(body["status"], "503");
    // The warning that explains it carries the request's correlation id.
    let id = answer.header("x-request-id").expect("correlation id").to_owned();
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let lines = server.log_lines();
        if lines.iter().any(|l| {
            l["fields"]["message"] == "request timed out" && l["span"]["correlation_id"] == id.as_str()
        }) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no timeout warning in the request's span: {lines:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
