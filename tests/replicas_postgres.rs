//! Real `scimgate serve` processes on one PostgreSQL, as the Helm chart runs them: replicas starting
//! together migrate once; a rotation, a revocation or an SSO switch made through one replica
//! reaches the others at once (LISTEN/NOTIFY, not the cache's one-second bound); two replicas
//! racing for one display name from two organizations leave one winner; and a replica shutting
//! down behind a load balancer fails no request.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::process::{Server, WireAnswer, cli_org, fresh_postgres_database, send, terminate, with_bearer};
use migration::MigratorTrait;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

/// Every replica here serves the admin API too, so a test can change a token through one of them.
const REPLICA_ENV: &[(&str, &str)] = &[("SCIMGATE_ADMIN_JWT_HS256_SECRET", common::ADMIN_SECRET)];

/// Well under the cache's own bound (900 ms): only an announcement gets a replica there.
const AT_ONCE: Duration = Duration::from_millis(400);

async fn replica(db: &str, name: &str) -> Server {
    Server::start_with(db, name, REPLICA_ENV).await
}

async fn call(server: &Server, method: &str, path: &str, bearer: &str, body: Option<&Value>) -> WireAnswer {
    with_bearer(&server.addr, bearer, method, path, &[], body).await
}

/// Polls `path` on `server` with `token` until it answers `status`; how long that took.
async fn until_status(server: &Server, path: &str, token: &str, status: u16) -> Duration {
    let started = Instant::now();
    loop {
        if call(server, "GET", path, token, None).await.status == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{path} never answered {status}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL"]
async fn replicas_starting_together_on_a_fresh_database_migrate_once() {
    common::require_postgres();
    let db = fresh_postgres_database(&common::database_url(), "scimgate_start").await;
    let servers = futures::future::join_all((0..4).map(|i| {
        let db = db.clone();
        async move { Server::start(&db, &format!("start-{i}")).await }
    }))
    .await;
    // Every replica came up (a replica whose migration lost a race would have exited) and is ready.
    for server in &servers {
        let answer = send(&server.addr, "GET", "/readyz", &[], None)
            .await
            .expect("readyz");
        assert_eq!(answer.status, 200);
    }
    let conn = sea_orm::Database::connect(db.as_str()).await.expect("connect");
    let rows = conn
        .query_all_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT version, COUNT(*) AS n FROM seaql_migrations GROUP BY version",
        ))
        .await
        .expect("the migration table");
    assert_eq!(rows.len(), migration::Migrator::migrations().len());
    for row in rows {
        let n: i64 = row.try_get("", "n").expect("count");
        assert_eq!(n, 1, "a migration was recorded {n} times");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL"]
async fn a_token_change_through_one_replica_reaches_another_at_once() {
    common::require_postgres();
    let db = common::database_url();
    let (a, b) = tokio::join!(replica(&db, "notify-a"), replica(&db, "notify-b"));
    let (org_id, mut token) = cli_org(&db, "notify").await;
    let owner = common::admin_jwt("owner", &[(org_id, &["read", "write"])], false);
    let users = format!("/api/orgs/{org_id}/scim/v2/Users");

    let mut seen = Vec::new();
    for _ in 0..5 {
        // b has just cached the token as valid: left to its cache, it would accept it ~0.9 s more.
        assert_eq!(call(&b, "GET", &users, &token, None).await.status, 200);
        let rotated = call(
            &a,
            "POST",
            &format!("/api/orgs/{org_id}/scim/token/rotate"),
            &owner,
            None,
        )
        .await;
        assert_eq!(rotated.status, 200, "{:?}", rotated.json());
        seen.push(until_status(&b, &users, &token, 401).await);
        token = rotated.json()["token"].as_str().expect("new token").to_owned();
        assert_eq!(call(&b, "GET", &users, &token, None).await.status, 200);
    }

    // Revocation, and the instance admin switching SSO off: the same.
    let revoked = call(
        &a,
        "DELETE",
        &format!("/api/orgs/{org_id}/scim/token"),
        &owner,
        None,
    )
    .await;
    assert_eq!(revoked.status, 204);
    seen.push(until_status(&b, &users, &token, 401).await);
    let rotated = call(
        &a,
        "POST",
        &format!("/api/orgs/{org_id}/scim/token"),
        &owner,
        None,
    )
    .await;
    let token = rotated.json()["token"].as_str().expect("token").to_owned();
    assert_eq!(call(&b, "GET", &users, &token, None).await.status, 200);
    let admin = common::admin_jwt("root", &[], true);
    let switched = call(
        &a,
        "PATCH",
        &format!("/api/instance/orgs/{org_id}"),
        &admin,
        Some(&json!({"ssoActive": false})),
    )
    .await;
    assert_eq!(switched.status, 200);
    // Provisioning off: the organization's endpoint is gone (404), not a credential failure.
    seen.push(until_status(&b, &users, &token, 404).await);

    println!("changes seen by the other replica after: {seen:?}");
    let slowest = seen.iter().max().copied().unwrap_or_default();
    assert!(
        slowest < AT_ONCE,
        "a change took {slowest:?} to reach the other replica"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL"]
async fn two_replicas_racing_for_one_display_name_from_two_organizations_leave_one_winner() {
    common::require_postgres();
    let db = common::database_url();
    let (a, b) = tokio::join!(replica(&db, "race-a"), replica(&db, "race-b"));
    let (org_a, token_a) = cli_org(&db, "race-a").await;
    let (org_b, token_b) = cli_org(&db, "race-b").await;
    for round in 0..10 {
        let name = common::unique(&format!("Race {round}"));
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name});
        let (path_a, path_b) = (
            format!("/api/orgs/{org_a}/scim/v2/Groups"),
            format!("/api/orgs/{org_b}/scim/v2/Groups"),
        );
        let (first, second) = tokio::join!(
            call(&a, "POST", &path_a, &token_a, Some(&body)),
            call(&b, "POST", &path_b, &token_b, Some(&body)),
        );
        let (winner, loser) = match (first.status, second.status) {
            (201, 409) => (org_a, &second),
            (409, 201) => (org_b, &first),
            other => panic!("round {round}: {other:?}, want one 201 and one 409"),
        };
        let error = loser.json();
        assert_eq!(error["scimType"], "uniqueness", "{error}");
        assert!(
            error["detail"]
                .as_str()
                .unwrap_or("")
                .contains(&format!("(id {winner})")),
            "the 409 names the organization holding the name: {error}"
        );
        assert_eq!(loser.header("content-type"), Some("application/scim+json"));
        // Exactly one row holds the name, in the winner's catalog.
        for (server, org, token) in [(&a, org_a, &token_a), (&b, org_b, &token_b)] {
            let filter = common::enc(&format!("displayName eq \"{name}\""));
            let found = call(
                server,
                "GET",
                &format!("/api/orgs/{org}/scim/v2/Groups?filter={filter}"),
                token,
                None,
            )
            .await
            .json();
            assert_eq!(found["totalResults"], u64::from(org == winner), "{found}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL"]
async fn a_replica_shutting_down_behind_a_load_balancer_fails_no_request() {
    common::require_postgres();
    let db = common::database_url();
    let draining_env = [REPLICA_ENV, &[("SCIMGATE_SHUTDOWN_DELAY", "1s")]].concat();
    let (leaving, staying) = tokio::join!(
        Server::start_with(&db, "leaving", &draining_env),
        replica(&db, "staying")
    );
    let (org_id, token) = cli_org(&db, "drain").await;
    let addrs = Arc::new([leaving.addr.clone(), staying.addr.clone()]);

    // The balancer's health check: the leaving replica is taken out once its readiness fails.
    let routable = Arc::new(AtomicBool::new(true));
    let stop = Arc::new(AtomicBool::new(false));
    let health = {
        let (routable, stop, addr) = (routable.clone(), stop.clone(), leaving.addr.clone());
        tokio::spawn(async move {
            let mut seen_failing = None;
            while !stop.load(Ordering::SeqCst) {
                let ready =
                    matches!(send(&addr, "GET", "/readyz", &[], None).await, Ok(a) if a.status == 200);
                if !ready && seen_failing.is_none() {
                    routable.store(false, Ordering::SeqCst);
                    seen_failing = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            seen_failing
        })
    };

    // Eight clients create groups back to back, spread over the replicas the balancer routes to.
    let clients: Vec<_> = (0..8)
        .map(|client| {
            let (addrs, routable, stop, token) =
                (addrs.clone(), routable.clone(), stop.clone(), token.clone());
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                let mut n = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let target = if routable.load(Ordering::SeqCst) { n % 2 } else { 1 };
                    let name = common::unique(&format!("drain-{client}"));
                    let body = json!({"displayName": name}).to_string();
                    let auth = format!("Bearer {token}");
                    let answer = send(
                        &addrs[target],
                        "POST",
                        &format!("/api/orgs/{org_id}/scim/v2/Groups"),
                        &[("Authorization", auth.as_str())],
                        Some(body.as_bytes()),
                    )
                    .await;
                    outcomes.push((target, answer.map(|a| a.status).map_err(|e| e.to_string())));
                }
                outcomes
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(1)).await;
    let signalled = Instant::now();
    terminate(leaving.pid());
    let mut leaving = leaving;
    let exit = tokio::time::timeout(Duration::from_secs(20), leaving.child.wait())
        .await
        .expect("the replica exits once drained")
        .expect("wait");
    let exited = signalled.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    let failing_since = health
        .await
        .expect("health task")
        .expect("readiness never failed");

    let mut served = [0usize; 2];
    for client in clients {
        for (target, outcome) in client.await.expect("client") {
            assert_eq!(outcome, Ok(201), "a request to replica {target} failed");
            served[target] += 1;
        }
    }
    println!(
        "readiness failed {:?} after SIGTERM; exited after {exited:?}; served by leaving/staying: {served:?}",
        failing_since.saturating_duration_since(signalled)
    );
    assert!(exit.success(), "{exit}");
    assert!(served[0] > 0 && served[1] > 0, "both replicas served: {served:?}");
    assert!(
        failing_since.saturating_duration_since(signalled) < Duration::from_secs(1),
        "readiness must fail before the listener closes"
    );
}
