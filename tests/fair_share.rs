//! Fair share of the database pool (design §2 "Fair share"): one organization flooding heavy
//! requests holds at most ⌈pool/2⌉ connections, its excess waits up to a second and then gets 429
//! `pool_share`, and another organization is answered throughout. Real processes with
//! `SCIMGATE_DB_POOL_SIZE=4`, on a SQLite file of its own and on PostgreSQL.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::process::{Server, cli_org, send};
use serde_json::json;

/// Members of the flooding organization's group: each PUT of it is heavy work on the database.
const MEMBERS: usize = 20_000;
/// Concurrent PUTs per round: several times the organization's share of 2.
const FLOOD: usize = 24;
/// The flood gives up after this many rounds without a `pool_share` refusal.
const ROUNDS: usize = 20;

/// `count` users of `org_id`, by raw SQL; their ids.
async fn seed_users(db: &str, org_id: i64, count: usize) -> Vec<String> {
    let sql = sea_orm::Database::connect(db).await.expect("connect");
    common::seed_users(&sql, org_id, &common::short_prefix(), count).await
}

/// An authenticated request of an organization: status and body.
async fn call(addr: &str, token: &str, method: &str, path: &str, body: Option<&[u8]>) -> (u16, String) {
    let auth = format!("Bearer {token}");
    let answer = send(addr, method, path, &[("Authorization", &auth)], body)
        .await
        .expect("answer");
    (answer.status, String::from_utf8_lossy(&answer.body).into_owned())
}

async fn one_org_cannot_take_the_whole_pool(db: &str) {
    let server = Server::start_with(db, "fair-share", &[("SCIMGATE_DB_POOL_SIZE", "4")]).await;
    let addr = server.addr.clone();
    let (flooder, flood_token) = cli_org(db, "flooder").await;
    let (quiet, quiet_token) = cli_org(db, "quiet").await;

    let group_body = |name: &str, members: &[String]| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
            "members": members.iter().map(|id| json!({"value": id})).collect::<Vec<_>>(),
        })
        .to_string()
    };
    let members = seed_users(db, flooder, MEMBERS).await;
    let name = common::unique("flood-group");
    let (status, text) = call(
        &addr,
        &flood_token,
        "POST",
        &format!("/api/orgs/{flooder}/scim/v2/Groups"),
        Some(group_body(&name, &[]).as_bytes()),
    )
    .await;
    assert_eq!(status, 201, "{text}");
    let group: serde_json::Value = serde_json::from_str(&text).expect("json");
    let put_path = format!(
        "/api/orgs/{flooder}/scim/v2/Groups/{}",
        group["id"].as_str().expect("id")
    );
    let put_body = Arc::new(group_body(&name, &members).into_bytes());

    let (status, text) = call(
        &addr,
        &quiet_token,
        "POST",
        &format!("/api/orgs/{quiet}/scim/v2/Groups"),
        Some(group_body(&common::unique("quiet-group"), &[]).as_bytes()),
    )
    .await;
    assert_eq!(status, 201, "{text}");
    let quiet_group: serde_json::Value = serde_json::from_str(&text).expect("json");
    let quiet_paths = [
        format!("/api/orgs/{quiet}/scim/v2/Users?count=1"),
        format!(
            "/api/orgs/{quiet}/scim/v2/Groups/{}",
            quiet_group["id"].as_str().expect("id")
        ),
    ];

    // The quiet organization keeps asking while the flood runs; every answer must be a 200.
    let flooding = Arc::new(AtomicBool::new(true));
    let observer = tokio::spawn({
        let (addr, flooding) = (addr.clone(), flooding.clone());
        async move {
            let mut answered = 0;
            while flooding.load(Ordering::Relaxed) {
                for path in &quiet_paths {
                    let (status, text) = call(&addr, &quiet_token, "GET", path, None).await;
                    assert_eq!(
                        status, 200,
                        "the quiet organization was refused during the flood: {text}"
                    );
                    answered += 1;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            answered
        }
    });

    let mut refused_for_share = 0;
    let mut outcomes = Vec::new();
    for _ in 0..ROUNDS {
        let puts: Vec<_> = (0..FLOOD)
            .map(|_| {
                let (addr, token, path, body) = (
                    addr.clone(),
                    flood_token.clone(),
                    put_path.clone(),
                    put_body.clone(),
                );
                tokio::spawn(async move { call(&addr, &token, "PUT", &path, Some(&body)).await })
            })
            .collect();
        for put in puts {
            let (status, text) = put.await.expect("put task");
            assert_ne!(
                status, 503,
                "the flooding organization exhausted the pool: {text}"
            );
            if status == 429 && text.contains("pool_share") {
                refused_for_share += 1;
            }
            outcomes.push(status);
        }
        if refused_for_share > 0 {
            break;
        }
    }
    flooding.store(false, Ordering::Relaxed);
    let answered = observer
        .await
        .expect("the quiet organization was answered throughout");
    assert!(answered > 0);
    assert!(
        refused_for_share > 0,
        "the flooding organization was never held to its share: {outcomes:?}"
    );
    assert!(
        outcomes.contains(&200),
        "some of the flood is served: {outcomes:?}"
    );
    // Refusals are counted under their reason.
    let (_, metrics) = common::process::http(&addr, "GET", "/metrics", None)
        .await
        .expect("metrics");
    let line = format!("scimgate_rate_limited_total{{org=\"{flooder}\",reason=\"pool_share\"}}");
    assert!(metrics.contains(&line), "{line} missing:\n{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_org_cannot_take_the_whole_pool_on_sqlite() {
    one_org_cannot_take_the_whole_pool(&common::sqlite_url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL"]
async fn one_org_cannot_take_the_whole_pool_on_postgres() {
    let db = std::env::var("SCIMGATE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .expect("SCIMGATE_TEST_DATABASE_URL names a PostgreSQL database");
    one_org_cannot_take_the_whole_pool(&db).await;
}

/// A streamed answer reads the rest of a large group after its handler has returned: those reads
/// wait for the organization's share of the pool too, instead of escaping it.
#[tokio::test]
async fn a_streamed_answer_reads_its_later_chunks_within_the_share() {
    let app = common::TestApp::new().await;
    let org = app.org("stream-share").await;
    let scim = common::Scim::new(&app, &org);
    let group = scim.create_group(&common::unique("Streamed share")).await;
    // More members than one chunk (5,000), so the answer has statements left after its head.
    let sql = app.sql_connection().await;
    let prefix = common::short_prefix();
    common::seed_users(&sql, org.id, &prefix, 12_000).await;
    common::seed_members(&sql, org.id, &group, &prefix).await;

    let catalog = app.catalog(org.id, &org.name);
    let projection = scimgate::scim::projection::Projection::default();
    let mut answer = catalog.get_group(&group, &projection).await.expect("group").body;
    let head = answer.head().await.expect("head");
    let share = Arc::new(tokio::sync::Semaphore::new(1));
    let taken = share.clone().acquire_owned().await.expect("permit");
    let mut answer = answer.within_share(share);
    // Its whole share is held elsewhere: the next chunk's statement waits.
    let waiting = tokio::time::timeout(Duration::from_millis(300), answer.next()).await;
    assert!(
        waiting.is_err(),
        "a chunk was read outside the organization's share"
    );
    drop(taken);
    let mut text = head;
    while let Some(piece) = answer.next().await.expect("chunk") {
        text.push_str(&piece);
    }
    let body: serde_json::Value = serde_json::from_str(&text).expect("the answer is whole JSON");
    assert_eq!(body["members"].as_array().map(Vec::len), Some(12_000));
}
