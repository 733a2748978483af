//! A real `scimgate serve` process: the audited client address believes `X-Forwarded-For` only from
//! trusted proxies (`SCIMGATE_TRUSTED_PROXIES`, refused at start when unparsable), and SIGTERM lets
//! requests in flight finish within the shutdown grace before the process exits.

mod common;

use std::time::Duration;

use common::process::{Server, cli_org, parse_answer, scimgate, send, terminate};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// "Done at all" bound: generous, never a speed measurement.
const BOUND: Duration = Duration::from_secs(60);

fn group_body(name: &str) -> String {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name}).to_string()
}

/// The audited `client` of the creation of group `id`.
async fn audited_client(db: &str, group_id: &str) -> Value {
    let sql = sea_orm::Database::connect(db).await.expect("connect");
    let row = sql
        .query_one_raw(Statement::from_string(
            sql.get_database_backend(),
            format!(
                "SELECT actor_detail FROM audit_events WHERE event_type = 'idp_group_created' AND target = '{group_id}'"
            ),
        ))
        .await
        .expect("query")
        .expect("an audit event for the creation");
    let detail: String = row.try_get("", "actor_detail").expect("actor_detail");
    serde_json::from_str::<Value>(&detail).expect("json")["client"].clone()
}

/// Creates a group with these extra headers; its id.
async fn create_group(server: &Server, org_id: i64, token: &str, headers: &[(&str, &str)]) -> String {
    let auth = format!("Bearer {token}");
    let mut all = vec![("Authorization", auth.as_str())];
    all.extend_from_slice(headers);
    let body = group_body(&common::unique("proxied"));
    let answer = send(
        &server.addr,
        "POST",
        &format!("/api/orgs/{org_id}/scim/v2/Groups"),
        &all,
        Some(body.as_bytes()),
    )
    .await
    .expect("answer");
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    answer.json()["id"].as_str().expect("id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let db = common::database_url();
    let forwarded = [("X-Forwarded-For", "6.6.6.6, 203.0.113.9")];

    let trusting = Server::start_with(
        &db,
        "trusted-proxy",
        &[("SCIMGATE_TRUSTED_PROXIES", "127.0.0.0/8, ::1")],
    )
    .await;
    let (org_id, token) = cli_org(&db, "proxied").await;
    let group = create_group(&trusting, org_id, &token, &forwarded).await;
    assert_eq!(audited_client(&db, &group).await, "203.0.113.9");
    drop(trusting);

    let wary = Server::start(&db, "untrusted-proxy").await;
    let group = create_group(&wary, org_id, &token, &forwarded).await;
    assert_eq!(
        audited_client(&db, &group).await,
        "127.0.0.1",
        "a spoofed header was believed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unparsable_trusted_proxy_is_refused_at_start() {
    let db = common::database_url();
    let output = scimgate(&db, &["serve"])
        .env("SCIMGATE_LISTEN", "127.0.0.1:0")
        .env("SCIMGATE_TRUSTED_PROXIES", "10.0.0.0/8, 10.0.0.0/33")
        .output();
    let output = tokio::time::timeout(BOUND, output)
        .await
        .expect("exits instead of serving")
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("SCIMGATE_TRUSTED_PROXIES") && stderr.contains("10.0.0.0/33"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_request_in_flight_finish_then_exits() {
    let db = common::database_url();
    let mut server = Server::start_with(&db, "drain", &[("SCIMGATE_SHUTDOWN_GRACE", "30s")]).await;
    let (org_id, token) = cli_org(&db, "drain").await;
    // A request whose body is still on its way when the signal arrives.
    let body = group_body(&common::unique("drained"));
    let (first, rest) = body.as_bytes().split_at(10);
    let mut stream = TcpStream::connect(&server.addr).await.expect("connect");
    stream
        .write_all(
            format!(
                "POST /api/orgs/{org_id}/scim/v2/Groups HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .expect("send");
    stream.write_all(first).await.expect("send");
    // The request has reached the handler once it waits on the body; give the server a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    terminate(server.pid());
    // Stopped accepting: new connections are refused once the listener is closed.
    let deadline = tokio::time::Instant::now() + BOUND;
    while TcpStream::connect(&server.addr).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still accepting after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The request in flight still gets its answer.
    stream.write_all(rest).await.expect("rest of the body");
    let mut raw = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut raw))
        .await
        .expect("answered and closed")
        .expect("read");
    assert_eq!(parse_answer(&raw).expect("answer").status, 201);
    let status = tokio::time::timeout(BOUND, server.child.wait())
        .await
        .expect("the process exits once drained")
        .expect("wait");
    assert!(status.success(), "{status}");
}
