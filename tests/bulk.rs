//! `POST /Bulk` (RFC 7644 §3.7, design §2): RFC 7644's own examples (a group POSTed before the
//! users it names by bulkId, circular references, failOnErrors), the limits (1,000 operations,
//! 16 MiB), each operation answered as the single request it stands for, request-level mistakes
//! changing nothing, the rate limit counting operations, and one correlation id per request.

mod common;

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use common::process;
use common::{Answer, OrgAdmin, PUBLIC_URL, Scim, TestApp, assert_scim_error, database_url, unique};
use scimgate::config::{ServeArgs, Span};
use scimgate::scim::bulk;
use serde_json::{Value, json};

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

fn bulk_body(operations: Value) -> Value {
    json!({"schemas": [BULK_REQUEST], "Operations": operations})
}

fn post_user(bulk_id: &str, user_name: &str) -> Value {
    json!({
        "method": "POST", "path": "/Users", "bulkId": bulk_id,
        "data": {"schemas": [USER_SCHEMA], "userName": user_name, "active": true},
    })
}

fn post_group(bulk_id: &str, display_name: &str, member_refs: &[&str]) -> Value {
    let members: Vec<Value> = member_refs.iter().map(|m| json!({"value": m})).collect();
    json!({
        "method": "POST", "path": "/Groups", "bulkId": bulk_id,
        "data": {"schemas": [GROUP_SCHEMA], "displayName": display_name, "members": members},
    })
}

/// POSTs a Bulk request and answers its response.
async fn bulk(scim: &Scim<'_>, body: &Value) -> Answer {
    scim.post("/Bulk", body).await
}

/// The `Operations` of a 200 BulkResponse.
fn operations(answer: &Answer) -> Vec<Value> {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.header("content-type"), Some("application/scim+json"));
    assert_eq!(answer.body["schemas"], json!([BULK_RESPONSE]), "{}", answer.text);
    answer.body["Operations"].as_array().expect("Operations").clone()
}

fn statuses(ops: &[Value]) -> Vec<&str> {
    ops.iter()
        .map(|o| o["status"].as_str().expect("status is a string"))
        .collect()
}

fn id_of(location: &Value) -> String {
    let location = location.as_str().expect("location");
    location.rsplit('/').next().expect("id").to_owned()
}

#[tokio::test]
async fn a_group_posted_before_its_users_gets_them_as_members() {
    // RFC 7644 §3.7.2: the group names its members by the bulkIds of users POSTed after it.
    let app = TestApp::new().await;
    let org = app.org("bulk-order").await;
    let scim = Scim::new(&app, &org);
    let tour_guides = unique("Tour Guides");
    let (alice, bob, carol) = (unique("alice"), unique("bob"), unique("carol"));
    let answer = bulk(
        &scim,
        &bulk_body(json!([
            post_group("ytrewq", &tour_guides, &["bulkId:qwerty", "bulkId:asdfgh"]),
            post_user("qwerty", &alice),
            post_user("asdfgh", &bob),
            post_user("zxcvbn", &carol),
            {"method": "PATCH", "path": "/Groups/bulkId:ytrewq", "data": {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:zxcvbn"}]}],
            }},
        ])),
    )
    .await;
    let ops = operations(&answer);
    assert_eq!(
        statuses(&ops),
        vec!["201", "201", "201", "201", "200"],
        "{}",
        answer.text
    );
    // Answered in request order, each with its method, bulkId, location and version.
    let bulk_ids: Vec<&str> = ops.iter().map(|o| o["bulkId"].as_str().unwrap_or("")).collect();
    assert_eq!(bulk_ids, vec!["ytrewq", "qwerty", "asdfgh", "zxcvbn", ""]);
    let base = format!("{PUBLIC_URL}{}", org.base());
    for (op, (method, endpoint)) in ops.iter().zip([
        ("POST", "Groups"),
        ("POST", "Users"),
        ("POST", "Users"),
        ("POST", "Users"),
        ("PATCH", "Groups"),
    ]) {
        assert_eq!(op["method"], method);
        let location = op["location"].as_str().expect("location");
        assert!(location.starts_with(&format!("{base}/{endpoint}/")), "{location}");
        assert!(
            op["version"].as_str().is_some_and(|v| v.starts_with("W/\"")),
            "{op}"
        );
        assert!(op.get("response").is_none(), "no body for a success: {op}");
    }
    let group = id_of(&ops[0]["location"]);
    assert_eq!(ops[4]["location"], ops[0]["location"]);
    let mut expected: Vec<String> = ops[1..4].iter().map(|o| id_of(&o["location"])).collect();
    expected.sort();
    assert_eq!(scim.member_ids(&group).await, expected);
    let user = scim.get(&format!("/Users/{}", expected[0])).await;
    assert_eq!(user.status, StatusCode::OK);
    let fetched = scim.get(&format!("/Groups/{group}")).await;
    assert_eq!(fetched.body["displayName"], tour_guides.as_str());
    assert_eq!(fetched.header("etag"), ops[4]["version"].as_str());
}

#[tokio::test]
async fn circular_references_fail_with_409_and_create_nothing() {
    // RFC 7644 §3.7.1's example: two groups that name each other by bulkId. Design §2 decides:
    // such operations fail with 409 (the RFC lets a server stop there).
    let app = TestApp::new().await;
    let org = app.org("bulk-cycle").await;
    let scim = Scim::new(&app, &org);
    let (a, b) = (unique("Group A"), unique("Group B"));
    let answer = bulk(
        &scim,
        &bulk_body(json!([
            post_group("qwerty", &a, &["bulkId:ytrewq"]),
            post_group("ytrewq", &b, &["bulkId:qwerty"]),
            post_user("u", &unique("cycle-bystander")),
        ])),
    )
    .await;
    let ops = operations(&answer);
    assert_eq!(statuses(&ops), vec!["409", "409", "201"], "{}", answer.text);
    for op in &ops[..2] {
        assert_eq!(op["response"]["schemas"], json!([ERROR_SCHEMA]));
        assert_eq!(op["response"]["status"], "409");
        assert!(
            op["response"]["detail"].as_str().unwrap().contains("circular"),
            "{op}"
        );
        assert!(
            op.get("location").is_none(),
            "a failed POST has no location: {op}"
        );
    }
    for name in [&a, &b] {
        assert_eq!(
            scim.count_where("/Groups", &format!("displayName eq \"{name}\""))
                .await,
            0
        );
    }
}

#[tokio::test]
async fn fail_on_errors_stops_after_that_many_errors() {
    // RFC 7644 §3.7.3: with failOnErrors 1 the first error ends the request; what follows is
    // neither performed nor answered.
    let app = TestApp::new().await;
    let org = app.org("bulk-foe").await;
    let scim = Scim::new(&app, &org);
    let existing = scim.create_user(&unique("existing")).await;
    let later = unique("never-created");
    let answer = scim
        .post(
            "/Bulk",
            &json!({
                "schemas": [BULK_REQUEST],
                "failOnErrors": 1,
                "Operations": [
                    {"method": "POST", "path": "/Users", "bulkId": "qwerty", "data": {"schemas": [USER_SCHEMA], "userName": 7}},
                    post_user("later", &later),
                    {"method": "DELETE", "path": format!("/Users/{existing}")},
                ],
            }),
        )
        .await;
    let ops = operations(&answer);
    assert_eq!(statuses(&ops), vec!["400"], "{}", answer.text);
    assert_eq!(ops[0]["bulkId"], "qwerty");
    assert_eq!(ops[0]["response"]["status"], "400");
    assert!(ops[0]["response"]["scimType"].is_string());
    assert_eq!(
        scim.count_where("/Users", &format!("userName eq \"{later}\""))
            .await,
        0
    );
    assert_eq!(
        scim.get(&format!("/Users/{existing}")).await.status,
        StatusCode::OK
    );

    // failOnErrors 2: the second error stops it; without failOnErrors every operation runs.
    let (one, two) = (unique("one"), unique("two"));
    let bad = json!({"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"userName": ""}});
    let mut worse = bad.clone();
    worse["bulkId"] = "worse".into();
    let mut ops = json!([bad, post_user("one", &one), worse, post_user("two", &two)]);
    let mut body = bulk_body(ops.clone());
    body["failOnErrors"] = 2.into();
    let answer = bulk(&scim, &body).await;
    assert_eq!(statuses(&operations(&answer)), vec!["400", "201", "400"]);
    assert_eq!(
        scim.count_where("/Users", &format!("userName eq \"{two}\""))
            .await,
        0
    );
    ops[1] = post_user("one", &unique("one"));
    let answer = bulk(&scim, &bulk_body(ops)).await;
    assert_eq!(statuses(&operations(&answer)), vec!["400", "201", "400", "201"]);
}

#[tokio::test]
async fn a_thousand_operations_succeed_with_default_limits() {
    let app = TestApp::new().await;
    let org = app.org("bulk-1000").await;
    let scim = Scim::new(&app, &org);
    let prefix = unique("thousand");
    let ops: Vec<Value> = (0..1000)
        .map(|i| post_user(&format!("u{i}"), &format!("{prefix}-{i}")))
        .collect();
    let started = Instant::now();
    let answer = bulk(&scim, &bulk_body(Value::Array(ops))).await;
    let elapsed = started.elapsed();
    let ops = operations(&answer);
    eprintln!(
        "a Bulk request of 1,000 user POSTs took {:.2} s on {}",
        elapsed.as_secs_f64(),
        if common::on_postgres() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    assert_eq!(ops.len(), 1000);
    assert!(ops.iter().all(|o| o["status"] == "201"), "{}", answer.text);
    assert_eq!(
        scim.count_where("/Users", &format!("userName sw \"{prefix}-\""))
            .await,
        1000
    );
}

#[tokio::test]
async fn a_bulk_request_out_of_time_answers_what_it_did_and_stops() {
    // 1,000 group POSTs of 60 members each take seconds on any machine: far more than this
    // timeout allows, while one of them stays far below the margin the deadline keeps.
    let serve = ServeArgs {
        public_url: Some(PUBLIC_URL.into()),
        request_timeout: Span(Duration::from_millis(500)),
        ..ServeArgs::default()
    };
    let app = TestApp::with(&database_url(), serve).await;
    let org = app.org("bulk-deadline").await;
    let scim = Scim::new(&app, &org);
    let members = common::seed_users(&app.sql_connection().await, org.id, &common::short_prefix(), 60).await;
    let members: Vec<&str> = members.iter().map(String::as_str).collect();
    let prefix = unique("deadline");
    let ops: Vec<Value> = (0..1000)
        .map(|i| post_group(&format!("u{i}"), &format!("{prefix}-{i}"), &members))
        .collect();
    let started = Instant::now();
    let answer = bulk(&scim, &bulk_body(Value::Array(ops))).await;
    let elapsed = started.elapsed();
    // Not the gateway's bare 503: the request was sound, and the answer says what was done.
    let ops = operations(&answer);
    eprintln!(
        "{} of 1,000 group POSTs answered within a 500 ms timeout ({} ms)",
        ops.len(),
        elapsed.as_millis()
    );
    assert!(ops.len() < 1000, "{}", ops.len());
    let (last, done) = ops.split_last().expect("an entry");
    assert!(!done.is_empty(), "the Bulk did nothing before its deadline");
    assert!(done.iter().all(|o| o["status"] == "201"), "{}", answer.text);
    assert_eq!(last["status"], "503", "{last}");
    assert_eq!(last["bulkId"], format!("u{}", done.len()));
    assert!(last.get("location").is_none(), "{last}");
    assert_eq!(last["response"]["schemas"], json!([ERROR_SCHEMA]));
    assert_eq!(last["response"]["status"], "503");
    let detail = last["response"]["detail"].as_str().expect("detail");
    assert!(
        detail.contains("ran out of time") && detail.contains("not performed"),
        "{detail}"
    );
    // Nothing was done that the answer does not list.
    assert_eq!(
        scim.count_where("/Groups", &format!("displayName sw \"{prefix}-\""))
            .await,
        done.len() as u64
    );
}

#[tokio::test]
async fn more_than_a_thousand_operations_is_413_and_nothing_is_done() {
    let app = TestApp::new().await;
    let org = app.org("bulk-1001").await;
    let scim = Scim::new(&app, &org);
    let prefix = unique("toomany");
    let ops: Vec<Value> = (0..1001)
        .map(|i| post_user(&format!("u{i}"), &format!("{prefix}-{i}")))
        .collect();
    let answer = bulk(&scim, &bulk_body(Value::Array(ops))).await;
    assert_scim_error(&answer, 413, None);
    assert!(
        answer.body["detail"]
            .as_str()
            .unwrap()
            .contains("maxOperations (1000)"),
        "{}",
        answer.text
    );
    assert_eq!(
        scim.count_where("/Users", &format!("userName sw \"{prefix}-\""))
            .await,
        0
    );
}

#[tokio::test]
async fn a_body_over_16_mib_is_413_and_one_just_under_is_read() {
    let app = TestApp::new().await;
    let org = app.org("bulk-size").await;
    let scim = Scim::new(&app, &org);
    // A group whose bulk is an attribute the server ignores, padded to the byte.
    let name = unique("Padded");
    let sized = |total: usize| {
        let head = bulk_body(json!([{
            "method": "POST", "path": "/Groups", "bulkId": "g",
            "data": {"schemas": [GROUP_SCHEMA], "displayName": name, "padding": ""},
        }]))
        .to_string();
        let pad = "x".repeat(total - head.len());
        head.replacen("\"padding\":\"\"", &format!("\"padding\":\"{pad}\""), 1)
            .into_bytes()
    };
    let limit = 16 * 1024 * 1024;
    let over = scim.send_bytes(Method::POST, "/Bulk", sized(limit + 1)).await;
    assert_scim_error(&over, 413, None);
    assert!(
        over.body["detail"].as_str().unwrap().contains("maxPayloadSize"),
        "{}",
        over.text
    );
    assert_eq!(
        scim.count_where("/Groups", &format!("displayName eq \"{name}\""))
            .await,
        0
    );

    let body = sized(limit);
    assert_eq!(body.len(), limit);
    let answer = scim.send_bytes(Method::POST, "/Bulk", body).await;
    assert_eq!(statuses(&operations(&answer)), vec!["201"]);

    // A User's data is held to the 1 MiB of a single User write, in its own operation.
    let big = unique("big");
    let small = unique("small");
    let mut user = post_user("big", &big);
    user["data"]["nickName"] = "x".repeat(1024 * 1024).into();
    let answer = bulk(&scim, &bulk_body(json!([user, post_user("small", &small)]))).await;
    let ops = operations(&answer);
    assert_eq!(statuses(&ops), vec!["413", "201"], "{}", answer.text);
    assert_eq!(
        scim.count_where("/Users", &format!("userName eq \"{big}\""))
            .await,
        0
    );
}

/// A Bulk body of about `size` bytes: `head`, then `item(i)` for i = 0, 1, … while it fits, then
/// `tail` (the items separated by commas).
fn filled(size: usize, head: &str, item: impl Fn(usize) -> String, tail: &str) -> Vec<u8> {
    let mut body = head.to_owned();
    let room = size - tail.len() - 1;
    for i in 0.. {
        let next = item(i);
        if body.len() + next.len() + 1 > room {
            break;
        }
        if i > 0 {
            body.push(',');
        }
        body.push_str(&next);
    }
    body.push_str(tail);
    body.into_bytes()
}

#[tokio::test]
async fn hostile_bulk_bodies_cost_about_their_size() {
    // Read from outside a real server process: what parsing the envelope costs beyond the body.
    let db = database_url();
    let (org, token) = process::cli_org(&db, "bulk-memory").await;
    let server =
        process::Server::start_with(&db, "bulk-memory", &[("SCIMGATE_REQUEST_TIMEOUT", "120s")]).await;
    let auth = format!("Bearer {token}");
    let path = format!("/api/orgs/{org}/scim/v2/Bulk");
    let send = |body: Vec<u8>| {
        let (addr, auth, path) = (server.addr.clone(), auth.clone(), path.clone());
        async move {
            process::send(&addr, "POST", &path, &[("Authorization", &auth)], Some(&body))
                .await
                .expect("answer")
        }
    };
    let size = bulk::MAX_PAYLOAD_SIZE - 1024;
    let head = format!("{{\"schemas\":[\"{BULK_REQUEST}\"],\"Operations\":[");
    let post = |user_name: &str| post_user("u", user_name).to_string();
    // Warm up with a sound body of the same size (a group with an ignored attribute): buffers,
    // connections and arenas made.
    let warm = filled(
        size,
        &format!(
            "{head}{{\"method\":\"POST\",\"path\":\"/Groups\",\"bulkId\":\"g\",\"data\":{{\"displayName\":\"{}\",\"padding\":[",
            unique("warm")
        ),
        |_| "0".into(),
        "]}}]}",
    );
    let answer = send(warm).await;
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));

    let mut shapes = vec![
        (
            "8 million operations",
            filled(size, &head, |_| "0".into(), "]}"),
            413,
        ),
        (
            "one operation of a million members",
            filled(
                size,
                &format!(
                    "{head}{},",
                    post(&unique("keys")).strip_suffix('}').expect("an object")
                ),
                |i| format!("\"k{i:x}\":0"),
                "}]}",
            ),
            200,
        ),
        (
            "a root of a million members",
            filled(
                size,
                &format!("{head}{}],", post(&unique("root"))),
                |i| format!("\"k{i:x}\":0"),
                "}",
            ),
            200,
        ),
    ];
    shapes.push((
        "a group of a million bulkId references",
        filled(
            size,
            &format!(
                "{head}{{\"method\":\"POST\",\"path\":\"/Groups\",\"bulkId\":\"g\",\"data\":{{\"displayName\":\"{}\",\"urn:example:ignored\":[",
                unique("refs")
            ),
            |i| format!("\"bulkId:{i:x}\""),
            "]}}]}",
        ),
        200,
    ));
    shapes.push((
        "schemas of 4 million items",
        filled(
            size,
            "{\"Operations\":[0],\"schemas\":[",
            |_| "\"x\"".into(),
            "]}",
        ),
        400,
    ));
    for (what, body, status) in shapes {
        let bytes = body.len() as u64;
        server.reset_peak_rss();
        let before = server.rss_kib();
        let started = Instant::now();
        let answer = send(body).await;
        let elapsed = started.elapsed();
        let rise = server.peak_rss_kib().saturating_sub(before);
        let text = String::from_utf8_lossy(&answer.body[..answer.body.len().min(300)]).into_owned();
        assert_eq!(answer.status, status, "{what}: {text}");
        if status == 200 {
            // The references name no POST of the request: refused, the others performed.
            let expected = if what.contains("references") { "400" } else { "201" };
            assert_eq!(
                answer.json()["Operations"][0]["status"],
                expected,
                "{what}: {text}"
            );
        }
        eprintln!(
            "{what} ({} MiB): {} in {} ms, peak rise {} MiB",
            bytes >> 20,
            answer.status,
            elapsed.as_millis(),
            rise >> 10
        );
        assert!(
            rise * 1024 < 3 * bytes,
            "{what}: a {bytes} byte body raised the peak by {rise} KiB"
        );
    }
}

#[tokio::test]
async fn a_uniqueness_conflict_is_answered_per_operation_as_a_single_post_is() {
    let app = TestApp::new().await;
    let holder = app.org("bulk-holder").await;
    let org = app.org("bulk-taker").await;
    let scim = Scim::new(&app, &org);
    let taken = unique("Taken");
    Scim::new(&app, &holder).create_group(&taken).await;
    let user_name = unique("dup-user");
    scim.create_user(&user_name).await;

    let single_group = scim.create_group_answer(&taken).await;
    assert_scim_error(&single_group, 409, Some("uniqueness"));
    let single_user = scim
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": user_name}),
        )
        .await;
    assert_scim_error(&single_user, 409, Some("uniqueness"));

    let fresh = unique("fresh");
    let answer = bulk(
        &scim,
        &bulk_body(json!([
            post_group("g", &taken, &[]),
            post_user("u", &user_name),
            post_user("ok", &fresh),
        ])),
    )
    .await;
    let ops = operations(&answer);
    assert_eq!(statuses(&ops), vec!["409", "409", "201"], "{}", answer.text);
    assert_eq!(
        ops[0]["response"], single_group.body,
        "the same error as a single POST"
    );
    assert_eq!(ops[1]["response"], single_user.body);
}

#[tokio::test]
async fn an_unknown_bulk_id_fails_its_operation_with_400_and_the_others_succeed() {
    let app = TestApp::new().await;
    let org = app.org("bulk-unknown").await;
    let scim = Scim::new(&app, &org);
    let (group, user) = (unique("Unknown ref"), unique("known"));
    let answer = bulk(
        &scim,
        &bulk_body(json!([
            post_group("g", &group, &["bulkId:nobody"]),
            post_user("u", &user),
            {"method": "DELETE", "path": "/Groups/bulkId:g"},
        ])),
    )
    .await;
    let ops = operations(&answer);
    assert_eq!(statuses(&ops), vec!["400", "201", "409"], "{}", answer.text);
    assert_eq!(ops[0]["response"]["scimType"], "invalidValue");
    assert!(ops[0]["response"]["detail"].as_str().unwrap().contains("nobody"));
    // What refers to a POST that failed is not performed either (409, see README).
    assert!(
        ops[2]["response"]["detail"].as_str().unwrap().contains("failed"),
        "{}",
        ops[2]
    );
    assert_eq!(
        scim.count_where("/Groups", &format!("displayName eq \"{group}\""))
            .await,
        0
    );
    assert_eq!(
        scim.count_where("/Users", &format!("userName eq \"{user}\""))
            .await,
        1
    );
}

#[tokio::test]
async fn another_organizations_resource_is_404_in_its_operation() {
    let app = TestApp::new().await;
    let owner = app.org("bulk-owner").await;
    let org = app.org("bulk-stranger").await;
    let theirs = Scim::new(&app, &owner);
    let user = theirs.create_user(&unique("theirs")).await;
    let group = theirs.create_group(&unique("Theirs")).await;
    let scim = Scim::new(&app, &org);
    let answer = bulk(
        &scim,
        &bulk_body(json!([
            {"method": "PUT", "path": format!("/Users/{user}"), "data": {"schemas": [USER_SCHEMA], "userName": unique("stolen")}},
            {"method": "PATCH", "path": format!("/Groups/{group}"), "data": {"Operations": [{"op": "replace", "path": "displayName", "value": unique("Stolen")}]}},
            {"method": "DELETE", "path": format!("/Users/{user}")},
            {"method": "DELETE", "path": format!("/Groups/{group}")},
        ])),
    )
    .await;
    let ops = operations(&answer);
    assert_eq!(
        statuses(&ops),
        vec!["404", "404", "404", "404"],
        "{}",
        answer.text
    );
    let base = format!("{PUBLIC_URL}{}", org.base());
    assert_eq!(ops[0]["location"], format!("{base}/Users/{user}"));
    assert_eq!(
        theirs.get(&format!("/Users/{user}")).await.body["meta"]["version"],
        "W/\"1\""
    );
    assert_eq!(
        theirs.get(&format!("/Groups/{group}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn versions_are_if_match_and_deletes_answer_204() {
    let app = TestApp::new().await;
    let org = app.org("bulk-version").await;
    let scim = Scim::new(&app, &org);
    let user = scim.create_user(&unique("versioned")).await;
    let group = scim.create_group(&unique("Versioned")).await;
    let renamed = unique("Renamed");
    let answer = bulk(
        &scim,
        &bulk_body(json!([
            {"method": "PUT", "path": format!("/Groups/{group}"), "version": "W/\"9\"", "data": {"schemas": [GROUP_SCHEMA], "displayName": renamed}},
            {"method": "PUT", "path": format!("/Groups/{group}"), "version": "W/\"1\"", "data": {"schemas": [GROUP_SCHEMA], "displayName": renamed}},
            {"method": "DELETE", "path": format!("/Users/{user}"), "version": "W/\"1\""},
        ])),
    )
    .await;
    let ops = operations(&answer);
    assert_eq!(statuses(&ops), vec!["412", "200", "204"], "{}", answer.text);
    assert_eq!(ops[1]["version"], "W/\"2\"");
    assert!(
        ops[2]["location"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/Users/{user}"))
    );
    assert_eq!(
        scim.get(&format!("/Groups/{group}")).await.body["displayName"],
        renamed.as_str()
    );
    assert_eq!(
        scim.get(&format!("/Users/{user}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_malformed_request_is_400_and_changes_nothing() {
    let app = TestApp::new().await;
    let org = app.org("bulk-malformed").await;
    let scim = Scim::new(&app, &org);
    let name = unique("never");
    let good = post_user("good", &name);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            format!("{{\"schemas\":[\"{BULK_REQUEST}\"],\"Operations\":[{good}").into_bytes(),
            "invalidSyntax",
        ),
        (
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [good]})
                .to_string()
                .into_bytes(),
            "invalidSyntax",
        ),
        (
            json!({"schemas": [BULK_REQUEST]}).to_string().into_bytes(),
            "invalidSyntax",
        ),
        (
            bulk_body(json!([good, {"method": "POST", "path": "/Users", "data": {"userName": unique("x")}}]))
                .to_string()
                .into_bytes(),
            "invalidValue",
        ),
        (
            bulk_body(json!([good, post_user("good", &unique("again"))]))
                .to_string()
                .into_bytes(),
            "invalidValue",
        ),
        (
            bulk_body(json!([good, {"method": "DELETE", "path": "/Teams/1"}]))
                .to_string()
                .into_bytes(),
            "invalidPath",
        ),
        (
            bulk_body(json!([good, {"method": "GET", "path": "/Users/1"}]))
                .to_string()
                .into_bytes(),
            "invalidValue",
        ),
    ];
    for (body, scim_type) in cases {
        let answer = scim.send_bytes(Method::POST, "/Bulk", body.clone()).await;
        assert_scim_error(&answer, 400, Some(scim_type));
        assert!(!String::from_utf8_lossy(&body).is_empty());
    }
    assert_eq!(
        scim.count_where("/Users", &format!("userName eq \"{name}\""))
            .await,
        0
    );
    // Bulk takes only POST, and is matched case-insensitively like every endpoint.
    assert_scim_error(&scim.get("/Bulk").await, 405, None);
    let answer = scim.post("/bulk", &bulk_body(json!([good]))).await;
    assert_eq!(statuses(&operations(&answer)), vec!["201"]);
}

#[tokio::test]
async fn a_bulk_request_costs_its_operations_against_the_rate_limit() {
    let serve = ServeArgs {
        public_url: Some(PUBLIC_URL.into()),
        org_rate_limit: 1,
        org_burst: 10,
        ..ServeArgs::default()
    };
    let app = TestApp::with(&database_url(), serve).await;
    let org = app.org("bulk-rate").await;
    let scim = Scim::new(&app, &org);
    let deletes = |n: usize| {
        bulk_body(Value::Array(
            (0..n)
                .map(|i| json!({"method": "DELETE", "path": format!("/Users/none-{i}")}))
                .collect(),
        ))
    };
    // 6 of the 10 tokens: 4 left, not enough for 5 more.
    assert_eq!(operations(&bulk(&scim, &deletes(6)).await).len(), 6);
    let refused = bulk(&scim, &deletes(5)).await;
    assert_scim_error(&refused, 429, None);
    assert!(
        refused
            .header("retry-after")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|s| s >= 1)
    );
    // The refused request took only its admission: three single requests still fit.
    for _ in 0..3 {
        assert_eq!(scim.get("/Users").await.status, StatusCode::OK);
    }

    // The cost is capped at the burst: a request larger than the burst is admissible at all.
    let fresh = app.org("bulk-rate-cap").await;
    let scim = Scim::new(&app, &fresh);
    assert_eq!(operations(&bulk(&scim, &deletes(50)).await).len(), 50);
    assert_eq!(scim.get("/Users").await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn all_changes_of_a_bulk_request_share_its_correlation_id() {
    let app = TestApp::new().await;
    let org = app.org("bulk-audit").await;
    let scim = Scim::new(&app, &org);
    let correlation_id = unique("bulk");
    let (a, b) = (unique("Audited A"), unique("Audited B"));
    let answer = scim
        .send_with(
            Method::POST,
            "/Bulk",
            Some(&bulk_body(json!([
                post_group("a", &a, &[]),
                post_group("b", &b, &[]),
                {"method": "DELETE", "path": "/Groups/bulkId:a"},
            ]))),
            &[("x-request-id", &correlation_id)],
        )
        .await;
    assert_eq!(statuses(&operations(&answer)), vec!["201", "201", "204"]);
    let owner = OrgAdmin::owner(&app, org.id);
    let events = owner.audit(&format!("correlationId={correlation_id}")).await;
    let mut types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    types.sort_unstable();
    assert_eq!(
        types,
        vec!["idp_group_created", "idp_group_created", "idp_group_deleted"],
        "{events:#?}"
    );
    assert!(
        events
            .iter()
            .all(|e| e["correlationId"] == correlation_id.as_str())
    );
}
