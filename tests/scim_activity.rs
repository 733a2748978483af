//! `GET /api/orgs/{orgId}/scim/activity` (design §2 "Admin API"): when the IdP last pushed and
//! called, requests and errors per UTC hour for the last 24 hours, and the newest 50 SCIM errors
//! with their route template (never an id or a query), status, `scimType`, detail and correlation
//! id. Only authenticated requests count, each for its own organization; a replica's own requests
//! show at once, another replica's once it has written them.

mod common;

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode};
use common::{OrgAdmin, PUBLIC_URL, Scim, TestApp, admin_jwt, enc, owner_jwt, patch_op, reader_jwt, unique};
use scimgate::config::{ServeArgs, Span};
use scimgate::scim::resource::format_time;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The activity of `org_id` as its owner sees it.
async fn activity(app: &TestApp, org_id: i64) -> Value {
    let answer = OrgAdmin::owner(app, org_id).get("/scim/activity").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    answer.body
}

/// The start of the current UTC hour, as the answer spells it.
fn current_hour() -> String {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    format_time(now.div_euclid(3600) * 3600 * 1_000_000)
}

fn parse(time: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(time.as_str().expect("a time"), &Rfc3339).expect("RFC 3339")
}

/// Requests and errors summed over the 24 hours.
fn totals(activity: &Value) -> (i64, i64) {
    hours(activity).iter().fold((0, 0), |(r, e), h| {
        (
            r + h["requests"].as_i64().expect("requests"),
            e + h["errors"].as_i64().expect("errors"),
        )
    })
}

fn hours(activity: &Value) -> &Vec<Value> {
    activity["hours"].as_array().expect("hours")
}

fn errors(activity: &Value) -> &Vec<Value> {
    activity["errors"].as_array().expect("errors")
}

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// Every request of the organization counts in the hour it was answered; errors are those of
/// status 400 or more. 24 hours, oldest first, one hour apart, the current one last.
#[tokio::test]
async fn requests_and_errors_are_counted_in_the_current_hour() {
    let app = TestApp::new().await;
    let org = app.org("act-count").await;
    let scim = Scim::new(&app, &org);
    let before = current_hour();
    for _ in 0..3 {
        assert_eq!(scim.get("/Users").await.status, StatusCode::OK);
    }
    assert_eq!(
        scim.get("/Users/no-such-user").await.status,
        StatusCode::NOT_FOUND
    );
    scim.create_group(&unique("act-count")).await;

    let body = activity(&app, org.id).await;
    let after = current_hour();
    let hours = hours(&body);
    assert_eq!(hours.len(), 24, "{body}");
    for pair in hours.windows(2) {
        assert_eq!(
            parse(&pair[1]["hour"]) - parse(&pair[0]["hour"]),
            time::Duration::hours(1),
            "{body}"
        );
    }
    let last = hours[23]["hour"].as_str().expect("hour");
    assert!(
        last == before || last == after,
        "{last} is not the current hour ({before}, {after})"
    );
    assert_eq!(totals(&body), (5, 1), "{body}");
    if before == after {
        assert_eq!(
            (hours[23]["requests"].as_i64(), hours[23]["errors"].as_i64()),
            (Some(5), Some(1))
        );
    }
    // Only the last two hours can hold them (the hour may have turned meanwhile).
    assert!(
        hours[..22].iter().all(|h| h["requests"] == 0 && h["errors"] == 0),
        "{body}"
    );
}

/// A rename to a display name another organization holds: the 409 shows the method, the route
/// template (no id, no query), the status, `scimType`, the detail the IdP got and the request's
/// correlation id — in that organization's activity only.
#[tokio::test]
async fn a_uniqueness_conflict_appears_with_its_template_type_and_detail() {
    let app = TestApp::new().await;
    let holder = app.org("act-holder").await;
    let pusher = app.org("act-pusher").await;
    let taken = unique("act-taken");
    Scim::new(&app, &holder).create_group(&taken).await;
    let scim = Scim::new(&app, &pusher);
    let id = scim.create_group(&unique("act-mine")).await;
    let correlation = unique("corr").replace('-', "_");
    let answer = scim
        .send_with(
            Method::PATCH,
            &format!("/Groups/{id}?attributes=displayName"),
            Some(&patch_op(
                json!([{"op": "replace", "path": "displayName", "value": taken}]),
            )),
            &[("x-request-id", &correlation)],
        )
        .await;
    assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.text);

    let body = activity(&app, pusher.id).await;
    let listed = errors(&body);
    assert_eq!(listed.len(), 1, "{body}");
    let error = &listed[0];
    assert_eq!(error["method"], "PATCH");
    assert_eq!(error["path"], "/Groups/{id}");
    assert_eq!(error["status"], 409);
    assert_eq!(error["scimType"], "uniqueness");
    assert_eq!(error["detail"], answer.body["detail"]);
    assert_eq!(error["correlationId"], correlation.as_str());
    assert!(parse(&error["at"]) <= OffsetDateTime::now_utc());
    assert!(
        !body.to_string().contains(&id),
        "the group's id is not shown: {body}"
    );
    assert_eq!(totals(&body), (2, 1), "{body}");

    // The holder's own activity: its one create, nothing of the other organization's.
    let held = activity(&app, holder.id).await;
    assert_eq!(totals(&held), (1, 0), "{held}");
    assert!(errors(&held).is_empty(), "{held}");
}

/// An invalid filter is a 400 `invalidFilter` at `/Users`: the filter's text is not the path.
#[tokio::test]
async fn an_invalid_filter_appears_without_its_text_in_the_path() {
    let app = TestApp::new().await;
    let org = app.org("act-filter").await;
    let filter = "userName eq \"zq-secret-value\" and (";
    let answer = Scim::new(&app, &org)
        .get(&format!("/Users?filter={}", enc(filter)))
        .await;
    common::assert_scim_error(&answer, 400, Some("invalidFilter"));

    let body = activity(&app, org.id).await;
    let error = &errors(&body)[0];
    assert_eq!(error["method"], "GET");
    assert_eq!(error["path"], "/Users");
    assert_eq!(error["status"], 400);
    assert_eq!(error["scimType"], "invalidFilter");
    assert_eq!(error["detail"], answer.body["detail"]);
    assert_eq!(error["correlationId"].as_str(), answer.header("x-request-id"));
}

/// Of 55 errors the newest 50 are shown, newest first, and the database keeps no more than 50 of
/// an organization's errors however many batches brought them; the hours still count them all.
#[tokio::test]
async fn only_the_newest_50_errors_are_kept() {
    let app = TestApp::new().await;
    let org = app.org("act-fifty").await;
    let scim = Scim::new(&app, &org);
    let missing = |n: usize| format!("gone-{n:03}");
    for n in 0..55 {
        assert_eq!(
            scim.get(&format!("/Users/{}", missing(n))).await.status,
            StatusCode::NOT_FOUND
        );
    }
    let details = |body: &Value| -> Vec<String> {
        errors(body)
            .iter()
            .map(|e| e["detail"].as_str().expect("detail").to_owned())
            .collect()
    };
    let body = activity(&app, org.id).await;
    let shown = details(&body);
    assert_eq!(shown.len(), 50, "{body}");
    for (i, detail) in shown.iter().enumerate() {
        assert!(detail.contains(&missing(54 - i)), "#{i} is {detail}");
    }
    assert!(errors(&body).iter().all(|e| e["path"] == "/Users/{id}"), "{body}");

    // A second batch: the database now holds 55 minus what the trim removed.
    for n in 55..60 {
        assert_eq!(
            scim.get(&format!("/Users/{}", missing(n))).await.status,
            StatusCode::NOT_FOUND
        );
    }
    let body = activity(&app, org.id).await;
    let shown = details(&body);
    assert_eq!(shown.len(), 50);
    assert!(
        shown[0].contains(&missing(59)) && shown[49].contains(&missing(10)),
        "{shown:?}"
    );
    assert_eq!(totals(&body), (60, 60));
    assert_eq!(stored_errors(&app, org.id).await, 50);
}

/// The rows the database holds for `org_id`'s errors.
async fn stored_errors(app: &TestApp, org_id: i64) -> i64 {
    use sea_orm::ConnectionTrait;
    let conn = app.sql_connection().await;
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            format!("SELECT COUNT(*) FROM scim_activity_errors WHERE org_id = {org_id}"),
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("count")
}

/// `lastPushAt` is the last write answered 2xx: reads (a `.search` included) and refused writes
/// leave it alone, though they are requests (`lastRequestAt`).
#[tokio::test]
async fn last_push_is_set_by_a_successful_write_and_not_by_a_read() {
    let app = TestApp::new().await;
    let org = app.org("act-push").await;
    let scim = Scim::new(&app, &org);
    assert_eq!(scim.get("/Groups").await.status, StatusCode::OK);
    let search = scim
        .post(
            "/.search",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}),
        )
        .await;
    assert_eq!(search.status, StatusCode::OK, "{}", search.text);
    let refused = scim.post("/Groups", &json!({"schemas": [GROUP]})).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);

    let read = activity(&app, org.id).await;
    assert_eq!(read["lastPushAt"], Value::Null, "{read}");
    let first_request = parse(&read["lastRequestAt"]);
    assert_eq!(errors(&read)[0]["path"], "/Groups");

    scim.create_group(&unique("act-push")).await;
    let pushed = activity(&app, org.id).await;
    let push = parse(&pushed["lastPushAt"]);
    assert!(push >= first_request, "{pushed}");
    assert_eq!(parse(&pushed["lastRequestAt"]), push);

    assert_eq!(scim.get("/Groups").await.status, StatusCode::OK);
    let later = activity(&app, org.id).await;
    assert_eq!(parse(&later["lastPushAt"]), push, "a read is not a push");
    assert!(parse(&later["lastRequestAt"]) >= push);
}

/// Access as for `scim/config`: `organization:read` on the organization (a reader may look),
/// 403 with a token for another organization, 404 for an unknown or gated-off one, 401 without
/// a token; none of the refusals shows any activity.
#[tokio::test]
async fn only_readers_of_the_organization_see_its_activity() {
    let app = TestApp::new().await;
    let org = app.org("act-access").await;
    let other = app.org("act-other").await;
    let off = app.org_with_sso("act-off", false).await;
    assert_eq!(Scim::new(&app, &org).get("/Users").await.status, StatusCode::OK);
    let path = format!("/api/orgs/{}/scim/activity", org.id);
    let get = |jwt: Option<String>, path: String| {
        let app = &app;
        async move {
            app.admin_send(Method::GET, &path, jwt.as_deref(), None, &[])
                .await
        }
    };

    let reader = get(Some(reader_jwt(org.id)), path.clone()).await;
    assert_eq!(reader.status, StatusCode::OK, "{}", reader.text);
    assert_eq!(totals(&reader.body), (1, 0));

    for (jwt, status) in [
        (Some(owner_jwt(other.id)), StatusCode::FORBIDDEN),
        (
            Some(admin_jwt(&unique("x"), &[(org.id, &["billing:read"])], false)),
            StatusCode::FORBIDDEN,
        ),
        (None, StatusCode::UNAUTHORIZED),
    ] {
        let refused = get(jwt, path.clone()).await;
        assert_eq!(refused.status, status, "{}", refused.text);
        assert!(refused.body.get("hours").is_none() && refused.body.get("errors").is_none());
    }
    let unknown = get(
        Some(owner_jwt(i64::from(i32::MAX))),
        format!("/api/orgs/{}/scim/activity", i32::MAX),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);
    let gated = get(
        Some(owner_jwt(off.id)),
        format!("/api/orgs/{}/scim/activity", off.id),
    )
    .await;
    assert_eq!(gated.status, StatusCode::NOT_FOUND, "{}", gated.text);
}

/// A request whose token is wrong (unknown, or another organization's) names no organization:
/// nothing is recorded, so nobody can fill an organization's list without its token.
#[tokio::test]
async fn requests_refused_as_unauthenticated_are_not_recorded() {
    let app = TestApp::new().await;
    let org = app.org("act-401").await;
    let other = app.org("act-401-other").await;
    for token in ["scimgate_wrong", other.token.as_str()] {
        let answer = app
            .send(
                Method::GET,
                &format!("{}/Users", org.base()),
                Some(token),
                None,
                &[],
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let body = activity(&app, org.id).await;
    assert_eq!(totals(&body), (0, 0), "{body}");
    assert!(errors(&body).is_empty(), "{body}");
    assert_eq!(body["lastRequestAt"], Value::Null);
    assert_eq!(totals(&activity(&app, other.id).await), (0, 0));

    // The positive control: the organization's own token is recorded.
    assert_eq!(Scim::new(&app, &org).get("/Users").await.status, StatusCode::OK);
    assert_eq!(totals(&activity(&app, org.id).await), (1, 0));
}

/// Answers made around the handlers count for the organization too: a 429 over its limit and a
/// 503 for a request past the request timeout.
#[tokio::test]
async fn rate_limited_and_timed_out_requests_are_errors_of_the_organization() {
    let serve = ServeArgs {
        public_url: Some(PUBLIC_URL.into()),
        org_rate_limit: 1,
        org_burst: 1,
        request_timeout: Span(Duration::from_millis(300)),
        ..ServeArgs::default()
    };
    let app = TestApp::with(&common::database_url(), serve).await;
    let org = app.org("act-limits").await;
    let scim = Scim::new(&app, &org);
    assert_eq!(scim.get("/Users").await.status, StatusCode::OK);
    let limited = scim.get("/Users?filter=x").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{}", limited.text);

    // A body that never ends, on an app whose budget is not spent.
    let patient = app
        .sibling(ServeArgs {
            request_timeout: Span(Duration::from_millis(300)),
            ..ServeArgs::default()
        })
        .await;
    let never = futures::stream::pending::<Result<Bytes, std::io::Error>>();
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("{}/Groups", org.base()))
        .header("authorization", format!("Bearer {}", org.token))
        .header("content-type", "application/scim+json")
        .body(Body::from_stream(never))
        .expect("request");
    let timed_out = patient.raw(request).await;
    assert_eq!(
        timed_out.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        timed_out.text
    );

    let limited_seen = activity(&app, org.id).await;
    let error = &errors(&limited_seen)[0];
    assert_eq!(
        (error["status"].as_i64(), error["path"].as_str()),
        (Some(429), Some("/Users"))
    );
    assert_eq!(error["detail"], limited.body["detail"]);

    let timed_out_seen = activity(&patient, org.id).await;
    let error = &errors(&timed_out_seen)[0];
    assert_eq!(error["status"], 503, "{timed_out_seen}");
    assert_eq!(error["method"], "POST");
    assert_eq!(error["path"], "/Groups");
    assert_eq!(error["detail"], timed_out.body["detail"]);
    assert_eq!(totals(&timed_out_seen), (3, 2));
}

/// Replicas share the database: once one has written its requests (its own report writes them
/// first) another replica's report shows them, and requests of the same hour recorded by both
/// add up.
#[tokio::test]
async fn another_replica_sees_the_activity_once_it_is_written() {
    let app = TestApp::new().await;
    let replica = app.sibling(ServeArgs::default()).await;
    let org = app.org("act-replica").await;
    let here = Scim::new(&app, &org);
    assert_eq!(here.get("/Users").await.status, StatusCode::OK);
    assert_eq!(here.get("/Users/absent").await.status, StatusCode::NOT_FOUND);
    // The first replica's report writes its requests.
    assert_eq!(totals(&activity(&app, org.id).await), (2, 1));

    let there = activity(&replica, org.id).await;
    assert_eq!(totals(&there), (2, 1), "{there}");
    assert_eq!(errors(&there)[0]["path"], "/Users/{id}");
    assert!(there["lastRequestAt"].is_string());

    // A request recorded by the second replica in the same hour: the stored counters add up.
    Scim::new(&replica, &org)
        .create_group(&unique("act-replica"))
        .await;
    let both = activity(&replica, org.id).await;
    assert_eq!(totals(&both), (3, 1), "{both}");
    assert!(both["lastPushAt"].is_string());
    assert_eq!(activity(&app, org.id).await, both);
}

/// A write that fails (here: a table gone missing on an SQLite file of this test's own) neither
/// fails nor holds up SCIM requests, and loses nothing: the requests are written once it works.
#[tokio::test]
async fn activity_that_cannot_be_written_is_kept_and_requests_are_still_served() {
    use sea_orm::ConnectionTrait;
    let (app, _) = TestApp::own_sqlite().await;
    let org = app.org("act-outage").await;
    let scim = Scim::new(&app, &org);
    let conn = app.sql_connection().await;
    conn.execute_unprepared("ALTER TABLE scim_activity_hours RENAME TO scim_activity_hours_away")
        .await
        .expect("rename");
    assert_eq!(scim.get("/Users").await.status, StatusCode::OK);
    // The report writes first: that fails, and so does its read.
    let broken = OrgAdmin::owner(&app, org.id).get("/scim/activity").await;
    assert!(broken.status.is_server_error(), "{}", broken.text);
    assert_eq!(scim.get("/Users/absent").await.status, StatusCode::NOT_FOUND);

    conn.execute_unprepared("ALTER TABLE scim_activity_hours_away RENAME TO scim_activity_hours")
        .await
        .expect("rename back");
    let body = activity(&app, org.id).await;
    assert_eq!(totals(&body), (2, 1), "{body}");
    assert_eq!(errors(&body).len(), 1, "{body}");
}

/// The database keeps 48 hours of counters for every organization, not only for those still
/// called: an organization whose IdP went quiet loses its old hours at the next write of any
/// other organization's activity, and keeps its recent ones.
#[tokio::test]
async fn an_idle_organizations_old_hours_go_with_another_organizations_write() {
    use sea_orm::ConnectionTrait;
    const HOUR: i64 = 3_600_000_000;
    let app = TestApp::new().await;
    let idle = app.org("act-idle").await;
    let busy = app.org("act-busy").await;
    let this_hour = OffsetDateTime::now_utc().unix_timestamp().div_euclid(3600) * 3600 * 1_000_000;
    let (old, recent) = (this_hour - 60 * HOUR, this_hour - 2 * HOUR);
    let conn = app.sql_connection().await;
    let hours_of_idle = || async {
        let rows = conn
            .query_all_raw(sea_orm::Statement::from_string(
                conn.get_database_backend(),
                format!(
                    "SELECT hour FROM scim_activity_hours WHERE org_id = {} ORDER BY hour",
                    idle.id
                ),
            ))
            .await
            .expect("hours");
        rows.iter()
            .map(|r| r.try_get_by_index::<i64>(0).expect("hour"))
            .collect::<Vec<i64>>()
    };
    conn.execute_unprepared(&format!(
        "INSERT INTO scim_activity_hours (org_id, hour, requests, errors) \
         VALUES ({id}, {old}, 3, 1), ({id}, {recent}, 2, 0)",
        id = idle.id
    ))
    .await
    .expect("insert hours");
    assert_eq!(hours_of_idle().await, [old, recent]);

    assert_eq!(Scim::new(&app, &busy).get("/Users").await.status, StatusCode::OK);
    // The report writes the busy organization's batch first.
    assert_eq!(totals(&activity(&app, busy.id).await), (1, 0));
    assert_eq!(hours_of_idle().await, [recent]);
    assert_eq!(totals(&activity(&app, idle.id).await), (2, 0));
}

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

fn bulk_post_user(bulk_id: &str, user_name: &str) -> Value {
    json!({
        "method": "POST", "path": "/Users", "bulkId": bulk_id,
        "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name},
    })
}

/// A Bulk request answers 200 whatever its operations came to: each failed operation is an error
/// of its own (its method, `/Bulk` and its route template, its status, `scimType` and detail, the
/// Bulk's correlation id), and each operation counts as the request it stands for.
#[tokio::test]
async fn each_failed_operation_of_a_bulk_request_is_an_error() {
    let app = TestApp::new().await;
    let org = app.org("act-bulk").await;
    let scim = Scim::new(&app, &org);
    let (taken, fresh) = (unique("act-bulk-taken"), unique("act-bulk-fresh"));
    let created = scim
        .post(
            "/Users",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": taken}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let answer = scim
        .post(
            "/Bulk",
            &json!({"schemas": [BULK_REQUEST], "Operations": [
                bulk_post_user("a", &taken),
                bulk_post_user("b", &fresh),
            ]}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let conflict = &answer.body["Operations"][0];
    assert_eq!(conflict["status"], "409", "{}", answer.text);
    assert_eq!(answer.body["Operations"][1]["status"], "201", "{}", answer.text);

    let body = activity(&app, org.id).await;
    let listed = errors(&body);
    assert_eq!(listed.len(), 1, "{body}");
    let error = &listed[0];
    assert_eq!(error["method"], "POST");
    assert_eq!(error["path"], "/Bulk /Users");
    assert_eq!(error["status"], 409);
    assert_eq!(error["scimType"], "uniqueness");
    assert_eq!(error["detail"], conflict["response"]["detail"]);
    assert_eq!(error["correlationId"].as_str(), answer.header("x-request-id"));
    // The single POST, then the Bulk's two operations, one of them failed.
    assert_eq!(totals(&body), (3, 1), "{body}");
    assert!(body["lastPushAt"].is_string(), "{body}");
}

/// A Bulk request all of whose operations failed is no push; its errors are kept within the
/// organization's 50 like any others.
#[tokio::test]
async fn a_bulk_request_whose_operations_all_failed_is_not_a_push() {
    let app = TestApp::new().await;
    let org = app.org("act-bulk-fail").await;
    let scim = Scim::new(&app, &org);
    let deletes: Vec<Value> = (0..60)
        .map(|i| json!({"method": "DELETE", "path": format!("/Groups/act-none-{i:02}")}))
        .collect();
    let answer = scim
        .post(
            "/Bulk",
            &json!({"schemas": [BULK_REQUEST], "Operations": deletes}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["Operations"][59]["status"], "404", "{}", answer.text);

    let body = activity(&app, org.id).await;
    assert_eq!(body["lastPushAt"], Value::Null, "{body}");
    assert!(body["lastRequestAt"].is_string(), "{body}");
    assert_eq!(totals(&body), (60, 60), "{body}");
    let listed = errors(&body);
    assert_eq!(listed.len(), 50, "{body}");
    assert!(
        listed
            .iter()
            .all(|e| e["method"] == "DELETE" && e["path"] == "/Bulk /Groups/{id}" && e["status"] == 404),
        "{body}"
    );
    // The newest 50: the last operations performed.
    let details: Vec<&str> = listed
        .iter()
        .map(|e| e["detail"].as_str().expect("detail"))
        .collect();
    assert!(details.iter().any(|d| d.contains("act-none-59")), "{body}");
    assert!(!details.iter().any(|d| d.contains("act-none-09")), "{body}");
    assert_eq!(stored_errors(&app, org.id).await, 50);
}
