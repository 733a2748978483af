//! Property-based test of the whole HTTP surface (issue 6): random requests — a method from a list
//! that includes odd ones, a path from the route templates, mutated or with random segments and
//! query strings, good and bad `Authorization`, `Content-Type` and `If-Match`, a body of random
//! JSON or bytes — through the in-process router against a real database. Properties: no panic,
//! no 5xx other than 503 (and 501 for `/Me`), and a 4xx changes nothing (the organization's users, groups, catalog,
//! teams and audit trail are the same before and after). 100 cases by default, `PROPTEST_CASES=N`
//! for more; runs on SQLite, or on PostgreSQL with `SCIMGATE_TEST_DATABASE_URL`.

mod common;
mod prop_common;

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Method, Request};
use common::{Scim, TestApp, TestOrg, owner_jwt, unique};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use scimgate::scim::query::ListRequest;
use scimgate::store::audit::AuditQuery;
use serde_json::json;

use prop_common::{PATCH_PATHS, arb_json, config, mutated};

/// What the test seeded, for the templates to name.
#[derive(Debug, Clone)]
struct Seed {
    org: i64,
    other_org: i64,
    user: String,
    group: String,
    team: i64,
}

/// Route templates (the SCIM token routes are left out: rotating the token would turn every
/// later case into a 401).
const TEMPLATES: &[&str] = &[
    "{base}/Users",
    "{base}/Users/{user}",
    "{base}/Groups",
    "{base}/Groups/{group}",
    "{base}/Users/.search",
    "{base}/Groups/.search",
    "{base}/.search",
    "{base}/ServiceProviderConfig",
    "{base}/ResourceTypes",
    "{base}/ResourceTypes/User",
    "{base}/Schemas",
    "{base}/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group",
    "{base}/Me",
    "{base}/Bulk",
    "{base}/",
    "{base}",
    "/orgs/{org}/scim/v2/users/{user}",
    "/api/orgs/{other}/scim/v2/Groups/{group}",
    "/api/orgs/{org}/idp-groups",
    "/api/orgs/{org}/idp-groups/{group}",
    "/api/orgs/{org}/teams",
    "/api/orgs/{org}/teams/{team}",
    "/api/orgs/{org}/teams/{team}/members",
    "/api/orgs/{org}/teams/{team}/members/{user}",
    "/api/orgs/{org}/scim/config",
    "/api/orgs/{org}/audit-events",
    "/api/instance/orgs",
    "/api/instance/conflicts",
    "/healthz",
    "/readyz",
    "/metrics",
    "/",
];

/// Query strings worth trying, some malformed.
const QUERIES: &[&str] = &[
    "",
    "?filter=userName%20eq%20%22x%22",
    "?filter=displayName%20co%20%22%5Cu0000%22",
    "?filter=((((",
    "?count=-1&startIndex=0",
    "?count=1e9",
    "?attributes=members,displayName&excludedAttributes=%00",
    "?sortBy=meta.created&sortOrder=descending",
    "?sortBy=nope[",
    "?limit=ten&before=x",
    "?%FF=%FF",
    "?filter=%C3%28",
    "?aadOptscim062020",
];

fn arb_method() -> impl Strategy<Value = Method> {
    prop::sample::select(vec![
        "GET", "GET", "POST", "POST", "PUT", "PATCH", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE",
        "CONNECT", "BREW", "PROPFIND", "get", "X-MIXED",
    ])
    .prop_map(|m| Method::from_bytes(m.as_bytes()).unwrap_or(Method::GET))
}

/// A path segment: URL-safe characters and percent escapes (some not UTF-8, some NUL).
fn arb_segment() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => "[A-Za-z0-9._~:@$-]".prop_map(|s| s),
            1 => prop::sample::select(vec!["%FF", "%00", "%C3%A9", "%2F", "%20", "%25", ".."])
                .prop_map(str::to_owned),
        ],
        0..8,
    )
    .prop_map(|parts| parts.concat())
}

/// A path edit: none, replace a segment, append a segment, or cut the path short.
#[derive(Debug, Clone)]
enum PathEdit {
    Keep,
    Replace(prop::sample::Index, String),
    Append(String),
    Truncate(prop::sample::Index),
}

fn arb_path_edit() -> impl Strategy<Value = PathEdit> {
    prop_oneof![
        5 => Just(PathEdit::Keep),
        2 => (any::<prop::sample::Index>(), arb_segment()).prop_map(|(i, s)| PathEdit::Replace(i, s)),
        1 => arb_segment().prop_map(PathEdit::Append),
        1 => any::<prop::sample::Index>().prop_map(PathEdit::Truncate),
    ]
}

fn path_for(template: &str, seed: &Seed, edit: &PathEdit, query: &str) -> String {
    let filled = template
        .replace("{base}", "/api/orgs/{org}/scim/v2")
        .replace("{org}", &seed.org.to_string())
        .replace("{other}", &seed.other_org.to_string())
        .replace("{user}", &seed.user)
        .replace("{group}", &seed.group)
        .replace("{team}", &seed.team.to_string());
    let mut segments: Vec<String> = filled.split('/').map(str::to_owned).collect();
    match edit {
        PathEdit::Keep => {}
        PathEdit::Replace(i, s) => {
            // Never the leading empty segment: paths stay absolute.
            let at = 1 + i.index(segments.len().saturating_sub(1).max(1));
            if let Some(slot) = segments.get_mut(at) {
                *slot = s.clone();
            }
        }
        PathEdit::Append(s) => segments.push(s.clone()),
        PathEdit::Truncate(i) => segments.truncate(1 + i.index(segments.len())),
    }
    let path = segments.join("/");
    let path = if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    };
    format!("{path}{query}")
}

/// Which credential a request carries.
#[derive(Debug, Clone)]
enum Credential {
    None,
    /// The org's SCIM token for SCIM paths, the owner's JWT elsewhere.
    Right,
    Other(&'static str),
}

fn arb_credential() -> impl Strategy<Value = Credential> {
    prop_oneof![
        6 => Just(Credential::Right),
        1 => Just(Credential::None),
        1 => prop::sample::select(vec![
            "Bearer",
            "Bearer ",
            "Bearer scimgate_xxxxxxxxxxxxxxxxxxxxxxxx",
            "Basic dXNlcjpwYXNz",
            "bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
            "Bearer \u{7f}",
        ])
        .prop_map(Credential::Other),
    ]
}

#[derive(Debug, Clone)]
struct Headers {
    content_type: Option<&'static str>,
    if_match: Option<&'static str>,
    if_none_match: Option<&'static str>,
}

fn arb_headers() -> impl Strategy<Value = Headers> {
    let content_type = prop::option::of(prop::sample::select(vec![
        "application/scim+json",
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
        "application/scim+json; charset=latin1",
    ]));
    let etag = prop::option::of(prop::sample::select(vec![
        "*",
        "W/\"1\"",
        "W/\"999\"",
        "\"1\"",
        "garbage",
        "W/\"",
        "W/\"1\", W/\"2\"",
    ]));
    (content_type, etag.clone(), etag).prop_map(|(content_type, if_match, if_none_match)| Headers {
        content_type,
        if_match,
        if_none_match,
    })
}

/// Bodies: none, SCIM-shaped JSON, arbitrary JSON, or bytes.
fn arb_body() -> impl Strategy<Value = Vec<u8>> {
    let group = (".{0,12}", prop::collection::vec("[a-z0-9]{0,6}", 0..3)).prop_map(|(name, members)| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
            "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>(),
        })
    });
    let user = (".{0,12}", any::<bool>()).prop_map(|(name, active)| {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": active})
    });
    let patch = (
        prop::sample::select(vec!["add", "replace", "remove", "Add"]),
        mutated(PATCH_PATHS),
        arb_json(),
    )
        .prop_map(|(op, path, value)| {
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": op, "path": path, "value": value}]})
        });
    let admin = (".{0,12}", arb_json()).prop_map(|(name, other)| {
        json!({"displayName": name, "name": name, "email": format!("{name}@example.com"), "idpGroupId": other})
    });
    prop_oneof![
        3 => Just(Vec::new()),
        2 => group.prop_map(|v| v.to_string().into_bytes()),
        2 => user.prop_map(|v| v.to_string().into_bytes()),
        2 => patch.prop_map(|v| v.to_string().into_bytes()),
        1 => admin.prop_map(|v| v.to_string().into_bytes()),
        2 => arb_json().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    method: Method,
    template: &'static str,
    edit: PathEdit,
    query: &'static str,
    credential: Credential,
    headers: Headers,
    body: Vec<u8>,
}

fn arb_case() -> impl Strategy<Value = Case> {
    (
        arb_method(),
        prop::sample::select(TEMPLATES),
        arb_path_edit(),
        prop::sample::select(QUERIES),
        arb_credential(),
        arb_headers(),
        arb_body(),
    )
        .prop_map(
            |(method, template, edit, query, credential, headers, body)| Case {
                method,
                template,
                edit,
                query,
                credential,
                headers,
                body,
            },
        )
}

fn request(case: &Case, seed: &Seed, org: &TestOrg, jwt: &str) -> Option<Request<Body>> {
    let path = path_for(case.template, seed, &case.edit, case.query);
    let mut builder = Request::builder().method(case.method.clone()).uri(&path);
    match &case.credential {
        Credential::None => {}
        Credential::Right if path.contains("/scim/v2") => {
            builder = builder.header("authorization", format!("Bearer {}", org.token));
        }
        Credential::Right => builder = builder.header("authorization", format!("Bearer {jwt}")),
        Credential::Other(value) => builder = builder.header("authorization", *value),
    }
    if let Some(ct) = case.headers.content_type {
        builder = builder.header("content-type", ct);
    }
    if let Some(tag) = case.headers.if_match {
        builder = builder.header("if-match", tag);
    }
    if let Some(tag) = case.headers.if_none_match {
        builder = builder.header("if-none-match", tag);
    }
    // A path the URI grammar refuses never reaches a server: nothing to test.
    builder.body(Body::from(case.body.clone())).ok()
}

/// Everything of the organization a request could change, as comparable text.
async fn snapshot(app: &TestApp, org: &TestOrg) -> Vec<String> {
    let catalog = app.catalog(org.id, &org.name);
    let all = ListRequest::parse(&HashMap::new()).expect("default list");
    let audit = AuditQuery {
        limit: 1000,
        ..AuditQuery::default()
    };
    vec![
        catalog.list_users(&all).await.expect("users").get().to_owned(),
        catalog
            .list_groups(&all)
            .await
            .expect("groups")
            .collect()
            .await
            .expect("groups"),
        format!("{:?}", catalog.catalog().await.expect("catalog")),
        format!("{:?}", catalog.teams().await.expect("teams")),
        catalog
            .audit_events(&audit)
            .await
            .expect("audit")
            .len()
            .to_string(),
    ]
}

#[test]
fn random_requests_never_fail_with_a_5xx_and_a_4xx_changes_nothing() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (app, org, seed) = runtime.block_on(async {
        let app = TestApp::new().await;
        let org = app.org("prop-http").await;
        let other = app.org("prop-http-other").await;
        let scim = Scim::new(&app, &org);
        let user = scim.create_user(&unique("prop-user")).await;
        let group = scim.create_group(&unique("prop-group")).await;
        let owner = common::OrgAdmin::owner(&app, org.id);
        let team = owner.create_team(&unique("prop-team"), None).await;
        let seed = Seed {
            org: org.id,
            other_org: other.id,
            user,
            group,
            team,
        };
        (app, org, seed)
    });
    let jwt = owner_jwt(org.id);
    let mut runner = TestRunner::new(config(100));
    let sent = std::cell::Cell::new(0u32);
    runner
        .run(&arb_case(), |case| {
            let Some(request) = request(&case, &seed, &org, &jwt) else {
                return Ok(());
            };
            let path = request.uri().path().to_owned();
            let (before, answer, after) = runtime.block_on(async {
                let before = snapshot(&app, &org).await;
                let answer = app.raw(request).await;
                let after = snapshot(&app, &org).await;
                (before, answer, after)
            });
            sent.set(sent.get() + 1);
            if std::env::var_os("PROP_HTTP_TRACE").is_some() {
                eprintln!("{} {} -> {}", case.method, path, answer.status);
            }
            let status = answer.status.as_u16();
            // 501 is design §2's answer to /Me, which SCIM defines and we do not serve.
            let unimplemented = status == 501 && path.to_ascii_lowercase().contains("/me");
            prop_assert!(
                status < 500 || status == 503 || unimplemented,
                "{case:?} answered {status}: {}",
                answer.text
            );
            if answer.status.is_client_error() {
                prop_assert_eq!(
                    &before,
                    &after,
                    "{:?} answered {} and changed state",
                    case,
                    status
                );
                // Every error carries a JSON body of its API (none for HEAD).
                if case.method != Method::HEAD {
                    prop_assert!(
                        answer.body.get("status").is_some(),
                        "{case:?} answered {status} without an error body: {}",
                        answer.text
                    );
                }
            }
            Ok(())
        })
        .unwrap();
    eprintln!("{} requests sent", sent.get());
    assert!(sent.get() > 0, "no request was sent");
    // The snapshot helper itself sees changes (positive control).
    runtime.block_on(async {
        let before = snapshot(&app, &org).await;
        Scim::new(&app, &org).create_user(&unique("prop-control")).await;
        assert_ne!(before, snapshot(&app, &org).await);
    });
}
