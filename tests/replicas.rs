//! Real processes: the CLI creates an organization and a token, two `scimgate serve` replicas share
//! one database, and a rotation through the CLI is honoured by both within the one-second bound
//! (design §3.6). Also: one log line per request, never a token. HTTP is spoken by hand over a
//! `TcpStream` (a client crate would rebuild half the dependency tree for the tests).

mod common;

use std::time::{Duration, Instant};

use common::process::{Server, cli, log_lines};
use serde_json::Value;

/// The design's bound, plus modest slack for process scheduling on a loaded machine.
const REVOCATION_BOUND: Duration = Duration::from_millis(1000 + 500);

/// The database both replicas share: the test PostgreSQL if configured, else a SQLite file of this test.
fn database_url() -> String {
    common::database_url()
}

/// The one line a script would capture: asserts stdout holds nothing else.
fn only_line(stdout: &str) -> String {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout must hold the value alone: {stdout:?}");
    assert!(stdout.ends_with('\n'));
    lines[0].to_owned()
}

fn assert_token_shape(token: &str) {
    let body = token
        .strip_prefix("scimgate_")
        .unwrap_or_else(|| panic!("unprefixed token {token:?}"));
    assert_eq!(body.len(), 43, "256 bits, base64url: {token:?}");
    assert!(
        body.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{token:?}"
    );
}

/// Polls `path` with `token` on the server until it answers 401; when it first did.
async fn poll_until_refused(
    server: &mut Server,
    path: &str,
    token: &str,
    give_up: Instant,
) -> Option<Instant> {
    while Instant::now() < give_up {
        match server.status(path, token).await {
            401 => return Some(Instant::now()),
            200 => {}
            other => panic!("unexpected {other} while polling"),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_honour_a_cli_rotation_within_one_second() {
    let db = database_url();

    // The CLI: values for scripts alone on standard output.
    let org_name = common::unique("replicas");
    let (stdout, _) = cli(&db, &["org", "create", &org_name]).await;
    let org_id = only_line(&stdout);
    assert!(
        !org_id.is_empty() && org_id.bytes().all(|b| b.is_ascii_digit()),
        "{stdout:?}"
    );
    let (stdout, stderr) = cli(&db, &["token", "generate", &org_id]).await;
    let old = only_line(&stdout);
    assert_token_shape(&old);
    assert!(!stderr.contains(&old), "the token leaked to standard error");
    let (listing, _) = cli(&db, &["org", "list"]).await;
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with(&format!("{org_id}\t{org_name}"))),
        "{listing}"
    );

    // Two replicas on one database, started together (they migrate under a lock).
    let (mut a, mut b) = tokio::join!(Server::start(&db, "a"), Server::start(&db, "b"));
    let users = format!("/api/orgs/{org_id}/scim/v2/Users");
    let groups = format!("/api/orgs/{org_id}/scim/v2/Groups");
    assert_eq!(a.status(&users, &old).await, 200);
    assert_eq!(b.status(&users, &old).await, 200);
    assert_eq!(
        b.status(&format!("/orgs/{org_id}/scim/v2/Groups"), &old).await,
        200
    );
    let (status, body) = a
        .request("GET", &groups, Some("scimgate_not-a-real-token"))
        .await
        .expect("request");
    assert_eq!(status, 401, "{body}");

    // Rotate through the CLI while both replicas keep using the old token (their caches stay warm).
    let spawned = Instant::now();
    let rotation = tokio::spawn(async move {
        let (stdout, stderr) = cli(&db, &["token", "rotate", &org_id]).await;
        (stdout, stderr, Instant::now(), db, org_id)
    });
    let give_up = Instant::now() + Duration::from_secs(30);
    let (refused_a, refused_b) = tokio::join!(
        poll_until_refused(&mut a, &users, &old, give_up),
        poll_until_refused(&mut b, &users, &old, give_up)
    );
    let (stdout, stderr, rotated, db, org_id) = rotation.await.expect("rotation task");
    let new = only_line(&stdout);
    assert_token_shape(&new);
    assert_ne!(new, old);
    assert!(
        !stderr.contains(&new) && !stderr.contains(&old),
        "a token leaked to standard error"
    );

    let (refused_a, refused_b) = (
        refused_a.expect("replica a never refused"),
        refused_b.expect("replica b never refused"),
    );
    let after_exit = |t: Instant| t.saturating_duration_since(rotated);
    println!(
        "old token refused: replica a {:?} / replica b {:?} after the CLI exited ({:?} / {:?} after it was started; the CLI took {:?})",
        after_exit(refused_a),
        after_exit(refused_b),
        refused_a - spawned,
        refused_b - spawned,
        rotated - spawned,
    );
    assert!(
        after_exit(refused_a) <= REVOCATION_BOUND,
        "replica a took {:?}",
        after_exit(refused_a)
    );
    assert!(
        after_exit(refused_b) <= REVOCATION_BOUND,
        "replica b took {:?}",
        after_exit(refused_b)
    );

    // Refused for good on both; the new token works on both.
    for server in [&mut a, &mut b] {
        for _ in 0..3 {
            assert_eq!(server.status(&users, &old).await, 401);
        }
        assert_eq!(server.status(&users, &new).await, 200);
        assert_eq!(server.status(&groups, &new).await, 200);
    }

    // Revocation through the CLI: both refuse the new token too.
    let (stdout, _) = cli(&db, &["token", "revoke", &org_id]).await;
    assert!(stdout.is_empty(), "revoke prints nothing for scripts: {stdout:?}");
    let give_up = Instant::now() + REVOCATION_BOUND + Duration::from_secs(1);
    assert!(poll_until_refused(&mut a, &users, &new, give_up).await.is_some());
    assert!(poll_until_refused(&mut b, &users, &new, give_up).await.is_some());

    // One request line per request, and never a token.
    for (name, server) in [("a", &a), ("b", &b)] {
        let text = std::fs::read_to_string(&server.log).expect("log");
        assert!(
            !text.contains(&old) && !text.contains(&new),
            "replica {name} logged a token"
        );
        assert!(
            !text.contains(&old[9..]) && !text.contains(&new[9..]),
            "replica {name} logged token material"
        );
        let lines = log_lines(&server.log);
        let requests: Vec<&Value> = lines
            .iter()
            .filter(|l| l["target"] == "scimgate::request")
            .collect();
        assert_eq!(
            requests.len(),
            server.answered,
            "replica {name}: request lines vs answers"
        );
        for line in &requests {
            let fields = &line["fields"];
            for field in ["method", "route", "status", "latency_ms", "correlation_id"] {
                assert!(
                    !fields[field].is_null(),
                    "replica {name}: {field} missing in {line}"
                );
            }
        }
        let authenticated = requests
            .iter()
            .filter(|l| l["fields"]["org"].as_i64().map(|o| o.to_string()) == Some(org_id.clone()))
            .count();
        assert!(
            authenticated > 0,
            "replica {name}: no request line names the organization"
        );
    }
    drop((a, b));
}
