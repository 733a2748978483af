//! A noisy neighbour (design §2 "Operations": per-organization protection, fair share): with the
//! limits at their defaults, one organization sends far above its rate while another runs an Okta
//! push on the same replica. The flood is refused with 429s; the push sees none.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::process::{Server, WireAnswer, cli_org, with_bearer};
use serde_json::{Value, json};

/// The defaults of design §2, set explicitly (the process harness lifts them otherwise).
const DEFAULT_LIMITS: &[(&str, &str)] = &[
    ("SCIMGATE_ORG_RATE_LIMIT", "100"),
    ("SCIMGATE_ORG_BURST", "200"),
    ("SCIMGATE_ORG_MAX_CONCURRENCY", "32"),
];

/// Okta's client, as it identifies itself.
const OKTA: (&str, &str) = ("User-Agent", "Okta SCIM Client 1.0.0");

async fn okta(addr: &str, token: &str, method: &str, path: &str, body: Option<Value>) -> WireAnswer {
    with_bearer(addr, token, method, path, &[OKTA], body.as_ref()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flooding_organization_does_not_throttle_another_organizations_okta_push() {
    let db = common::database_url();
    let server = Server::start_with(&db, "neighbours", DEFAULT_LIMITS).await;
    let (noisy, noisy_token) = cli_org(&db, "noisy").await;
    let (quiet, quiet_token) = cli_org(&db, "quiet").await;

    // The flood: sixteen clients back to back, far above 100 requests a second.
    let stop = Arc::new(AtomicBool::new(false));
    let flood: Vec<_> = (0..16)
        .map(|_| {
            let (addr, token, stop) = (server.addr.clone(), noisy_token.clone(), stop.clone());
            tokio::spawn(async move {
                let path = format!(
                    "/api/orgs/{noisy}/scim/v2/Groups?filter={}",
                    common::enc("displayName eq \"nothing\"")
                );
                let mut statuses = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    statuses.push(okta(&addr, &token, "GET", &path, None).await.status);
                }
                statuses
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Okta's push: users, then per group the lookup, the create, the member add and the rename
    // Okta repeats on every change.
    let base = format!("/api/orgs/{quiet}/scim/v2");
    let mut push = Vec::new();
    let mut users = Vec::new();
    for i in 0..5 {
        let user = okta(
            &server.addr,
            &quiet_token,
            "POST",
            &format!("{base}/Users"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": common::unique(&format!("user{i}")) + "@quiet.example",
                "active": true,
            })),
        )
        .await;
        push.push(("POST /Users", user.status));
        users.push(user.json()["id"].as_str().unwrap_or_default().to_owned());
    }
    for i in 0..20 {
        let name = common::unique(&format!("Quiet {i}"));
        let filter = common::enc(&format!("displayName eq \"{name}\""));
        let lookup = okta(
            &server.addr,
            &quiet_token,
            "GET",
            &format!("{base}/Groups?filter={filter}"),
            None,
        )
        .await;
        push.push(("GET /Groups?filter", lookup.status));
        let created = okta(
            &server.addr,
            &quiet_token,
            "POST",
            &format!("{base}/Groups"),
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": []})),
        )
        .await;
        push.push(("POST /Groups", created.status));
        let id = created.json()["id"].as_str().unwrap_or_default().to_owned();
        let members: Vec<Value> = users.iter().map(|u| json!({"value": u})).collect();
        let add = okta(
            &server.addr,
            &quiet_token,
            "PATCH",
            &format!("{base}/Groups/{id}"),
            Some(common::patch_op(
                json!([{"op": "add", "path": "members", "value": members}]),
            )),
        )
        .await;
        push.push(("PATCH add members", add.status));
        let rename = okta(
            &server.addr,
            &quiet_token,
            "PATCH",
            &format!("{base}/Groups/{id}"),
            Some(common::patch_op(
                json!([{"op": "replace", "value": {"id": id, "displayName": name}}]),
            )),
        )
        .await;
        push.push(("PATCH rename", rename.status));
    }
    stop.store(true, Ordering::SeqCst);
    let mut flooded = Vec::new();
    for client in flood {
        flooded.extend(client.await.expect("flood client"));
    }

    let throttled = flooded.iter().filter(|s| **s == 429).count();
    println!(
        "flood: {} requests, {throttled} answered 429; push: {} requests",
        flooded.len(),
        push.len()
    );
    assert!(throttled > 0, "the flood was never throttled: not a flood");
    for (what, status) in &push {
        assert!(
            matches!(status, 200 | 201 | 204),
            "the quiet organization's {what} answered {status}"
        );
    }
}
