//! Who may call the admin API, at the HTTP level (design §2 "Admin API", feature gates): no,
//! malformed, forged, expired or foreign-audience tokens → 401 on every endpoint; a token for
//! organization A is refused (403) on every endpoint of organization B and changes nothing there;
//! read-only tokens read but cannot write; instance endpoints need `instance_admin`; gated-off
//! organizations answer 404 on their management endpoints and on SCIM. (Verification details —
//! algorithms, keys, issuers — are unit-tested in `src/auth/`.)

mod common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{
    ADMIN_SECRET, Answer, OrgAdmin, Scim, TestApp, TestOrg, admin_jwt, instance_admin_jwt, owner_jwt,
    reader_jwt, unique,
};
use scimgate::config::ServeArgs;
use serde_json::{Value, json};

/// One admin endpoint, ready to call.
#[derive(Debug, Clone)]
struct Endpoint {
    method: Method,
    /// The route template as `routes()` declares it.
    template: &'static str,
    path: String,
    body: Option<Value>,
    /// Whether it changes anything.
    write: bool,
}

/// Real ids of one organization's data, for the paths of the endpoints.
#[derive(Debug, Clone)]
struct Ids {
    manual_group: String,
    delegated_team: i64,
    manual_team: i64,
    member: String,
}

impl Ids {
    /// Ids that exist nowhere (for gated organizations whose data does not matter).
    fn placeholder() -> Ids {
        Ids {
            manual_group: uuid::Uuid::now_v7().to_string(),
            delegated_team: 1,
            manual_team: 2,
            member: uuid::Uuid::now_v7().to_string(),
        }
    }
}

fn endpoint(
    method: Method,
    template: &'static str,
    path: String,
    body: Option<Value>,
    write: bool,
) -> Endpoint {
    Endpoint {
        method,
        template,
        path,
        body,
        write,
    }
}

/// Every organization endpoint of the admin API, on `org_id`'s path, with valid bodies.
fn org_endpoints(org_id: i64, ids: &Ids) -> Vec<Endpoint> {
    let o = format!("/api/orgs/{org_id}");
    let t = ids.delegated_team;
    let m = ids.manual_team;
    vec![
        endpoint(
            Method::GET,
            "/api/orgs/{org_id}/idp-groups",
            format!("{o}/idp-groups"),
            None,
            false,
        ),
        endpoint(
            Method::POST,
            "/api/orgs/{org_id}/idp-groups",
            format!("{o}/idp-groups"),
            Some(json!({"displayName": unique("Intruder")})),
            true,
        ),
        endpoint(
            Method::DELETE,
            "/api/orgs/{org_id}/idp-groups/{group_id}",
            format!("{o}/idp-groups/{}", ids.manual_group),
            None,
            true,
        ),
        endpoint(
            Method::GET,
            "/api/orgs/{org_id}/scim/config",
            format!("{o}/scim/config"),
            None,
            false,
        ),
        endpoint(
            Method::GET,
            "/api/orgs/{org_id}/scim/activity",
            format!("{o}/scim/activity"),
            None,
            false,
        ),
        endpoint(
            Method::PATCH,
            "/api/orgs/{org_id}/scim/config",
            format!("{o}/scim/config"),
            Some(json!({"claimMatch": "externalId"})),
            true,
        ),
        endpoint(
            Method::POST,
            "/api/orgs/{org_id}/scim/token",
            format!("{o}/scim/token"),
            Some(json!({})),
            true,
        ),
        endpoint(
            Method::DELETE,
            "/api/orgs/{org_id}/scim/token",
            format!("{o}/scim/token"),
            None,
            true,
        ),
        endpoint(
            Method::POST,
            "/api/orgs/{org_id}/scim/token/rotate",
            format!("{o}/scim/token/rotate"),
            Some(json!({})),
            true,
        ),
        endpoint(
            Method::GET,
            "/api/orgs/{org_id}/teams",
            format!("{o}/teams"),
            None,
            false,
        ),
        endpoint(
            Method::POST,
            "/api/orgs/{org_id}/teams",
            format!("{o}/teams"),
            Some(json!({"name": unique("intruders")})),
            true,
        ),
        endpoint(
            Method::GET,
            "/api/orgs/{org_id}/teams/{team_id}",
            format!("{o}/teams/{t}"),
            None,
            false,
        ),
        endpoint(
            Method::PUT,
            "/api/orgs/{org_id}/teams/{team_id}",
            format!("{o}/teams/{t}"),
            Some(json!({"name": unique("hijacked"), "idpGroupId": null})),
            true,
        ),
        endpoint(
            Method::DELETE,
            "/api/orgs/{org_id}/teams/{team_id}",
            format!("{o}/teams/{m}"),
            None,
            true,
        ),
        endpoint(
            Method::GET,
            "/api/orgs/{org_id}/teams/{team_id}/members",
            format!("{o}/teams/{t}/members"),
            None,
            false,
        ),
        endpoint(
            Method::POST,
            "/api/orgs/{org_id}/teams/{team_id}/members",
            format!("{o}/teams/{m}/members"),
            Some(json!({"email": format!("{}@example.com", unique("intruder"))})),
            true,
        ),
        endpoint(
            Method::DELETE,
            "/api/orgs/{org_id}/teams/{team_id}/members/{user_id}",
            format!("{o}/teams/{m}/members/{}", ids.member),
            None,
            true,
        ),
        endpoint(
            Method::GET,
            "/api/orgs/{org_id}/audit-events",
            format!("{o}/audit-events"),
            None,
            false,
        ),
    ]
}

/// The instance endpoints; the PATCH targets `org_id` and would turn its SSO off.
/// The endpoints any valid admin token may call: they answer about the caller only.
fn caller_endpoints() -> Vec<Endpoint> {
    vec![endpoint(Method::GET, "/api/me", "/api/me".into(), None, false)]
}

fn instance_endpoints(org_id: i64) -> Vec<Endpoint> {
    vec![
        endpoint(
            Method::GET,
            "/api/instance/orgs",
            "/api/instance/orgs".into(),
            None,
            false,
        ),
        endpoint(
            Method::GET,
            "/api/instance/conflicts",
            "/api/instance/conflicts".into(),
            None,
            false,
        ),
        endpoint(
            Method::GET,
            "/api/instance/topology",
            "/api/instance/topology".into(),
            None,
            false,
        ),
        endpoint(
            Method::POST,
            "/api/instance/orgs",
            "/api/instance/orgs".into(),
            Some(json!({"name": unique("rogue-org")})),
            true,
        ),
        endpoint(
            Method::PATCH,
            "/api/instance/orgs/{org_id}",
            format!("/api/instance/orgs/{org_id}"),
            Some(json!({"ssoActive": false})),
            true,
        ),
    ]
}

/// (METHOD, template) of every route `routes()` in src/routing/admin/mod.rs declares.
fn declared_routes() -> BTreeSet<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routing/admin/mod.rs");
    let source = std::fs::read_to_string(path).expect("read admin/mod.rs");
    let start = source.find("pub fn routes()").expect("routes() in admin/mod.rs");
    let body = &source[start..];
    let mut routes = BTreeSet::new();
    for chunk in body.split(".route(").skip(1) {
        let open = chunk.find('"').expect("a path literal") + 1;
        let close = open + chunk[open..].find('"').expect("end of the path literal");
        let template = &chunk[open..close];
        let handlers = &chunk[close..];
        for method in ["get", "post", "put", "delete", "patch"] {
            let needle = format!("{method}(");
            let mut from = 0;
            while let Some(at) = handlers[from..].find(&needle) {
                let at = from + at;
                let before = handlers[..at].chars().next_back();
                if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    routes.insert((method.to_uppercase(), template.to_owned()));
                }
                from = at + needle.len();
            }
        }
    }
    routes
}

async fn call(app: &TestApp, e: &Endpoint, jwt: Option<&str>) -> Answer {
    app.admin_send(e.method.clone(), &e.path, jwt, e.body.as_ref(), &[])
        .await
}

/// An organization with data on every endpoint's path: a SCIM group linked to a team with a
/// DELEGATED member, a MANUAL catalog row, a MANUAL team with a member, an active token.
async fn populated(app: &TestApp, prefix: &str) -> (TestOrg, Ids) {
    let org = app.org(prefix).await;
    let owner = OrgAdmin::owner(app, org.id);
    let group = Scim::new(app, &org).create_group(&unique("Linked")).await;
    let manual_group = owner.add_manual_group(&unique("Manual")).await;
    let delegated_team = owner.create_team(&unique("delegated"), Some(&group)).await;
    app.add_delegated(&org, delegated_team, &format!("{}@example.com", unique("d")))
        .await;
    let manual_team = owner.create_team(&unique("manual"), None).await;
    let member = owner
        .add_member(manual_team, &format!("{}@example.com", unique("m")))
        .await;
    (
        org,
        Ids {
            manual_group,
            delegated_team,
            manual_team,
            member,
        },
    )
}

/// Everything the admin API shows about an organization, read by an instance admin.
async fn snapshot(app: &TestApp, org: &TestOrg, ids: &Ids) -> Vec<String> {
    let admin = OrgAdmin::new(app, org.id, instance_admin_jwt());
    let mut texts = Vec::new();
    for path in [
        "/idp-groups".to_owned(),
        "/teams".to_owned(),
        format!("/teams/{}", ids.delegated_team),
        format!("/teams/{}/members", ids.delegated_team),
        format!("/teams/{}", ids.manual_team),
        format!("/teams/{}/members", ids.manual_team),
        "/scim/config".to_owned(),
        "/audit-events?limit=1000".to_owned(),
    ] {
        let answer = admin.get(&path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
        texts.push(format!("{path}: {}", answer.text));
    }
    let orgs = app
        .admin_send(
            Method::GET,
            "/api/instance/orgs",
            Some(&instance_admin_jwt()),
            None,
            &[],
        )
        .await;
    let this = orgs.body["organizations"]
        .as_array()
        .expect("organizations")
        .iter()
        .find(|o| o["id"] == org.id)
        .cloned()
        .expect("listed");
    texts.push(format!("org: {this}"));
    texts
}

/// SCIM with the organization's token on a fresh replica (its own token cache): the status.
async fn scim_on_fresh_replica(app: &TestApp, org: &TestOrg) -> StatusCode {
    let replica = app.sibling(ServeArgs::default()).await;
    Scim::new(&replica, org).get("/Groups?count=1").await.status
}

/// The endpoint lists of this file are exactly the routes the admin router declares, so "every
/// endpoint" below stays every endpoint.
#[test]
fn the_endpoint_lists_cover_every_declared_admin_route() {
    let ids = Ids::placeholder();
    let tested: BTreeSet<(String, String)> = org_endpoints(1, &ids)
        .into_iter()
        .chain(instance_endpoints(1))
        .chain(caller_endpoints())
        .map(|e| (e.method.to_string(), e.template.to_owned()))
        .collect();
    let declared = declared_routes();
    assert!(declared.len() >= 20, "parsed {declared:#?}");
    assert_eq!(tested, declared);
}

/// A HS256 JWT over `claims` with `secret`.
fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).expect("secret"),
    )
    .expect("sign")
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Without valid credentials every endpoint answers 401 with a Bearer challenge — whether or not
/// the organization exists — and nothing changes.
#[tokio::test]
async fn every_endpoint_answers_401_without_a_valid_token() {
    let app = TestApp::new().await;
    let (org, ids) = populated(&app, "locked").await;
    let before = snapshot(&app, &org, &ids).await;
    let orgs = json!({org.id.to_string(): ["organization:read", "organization:write"]});
    let base = json!({"sub": "mallory", "aud": "scimgate", "iat": now(), "exp": now() + 3600, "orgs": orgs, "instance_admin": true});
    let with = |key: &str, value: Value| {
        let mut c = base.clone();
        c[key] = value;
        c
    };
    let expired = with("exp", json!(now() - 3600));
    let foreign_audience = with("aud", json!("someone-else"));
    let not_yet = with("nbf", json!(now() + 3600));
    let mut no_exp = base.clone();
    no_exp.as_object_mut().expect("object").remove("exp");
    let unsigned = {
        use base64::Engine;
        let e = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.", e(&json!({"alg": "none", "typ": "JWT"})), e(&base))
    };
    let bad: Vec<(&str, Option<String>)> = vec![
        ("no header", None),
        ("not bearer", Some(format!("Basic {}", "YWxpY2U6c2VjcmV0"))),
        ("empty bearer", Some("Bearer ".into())),
        ("garbage", Some("Bearer not-a-jwt".into())),
        (
            "other secret",
            Some(format!(
                "Bearer {}",
                sign(&base, "another-secret-0123456789abcdefghijkl")
            )),
        ),
        (
            "expired",
            Some(format!("Bearer {}", sign(&expired, ADMIN_SECRET))),
        ),
        (
            "foreign audience",
            Some(format!("Bearer {}", sign(&foreign_audience, ADMIN_SECRET))),
        ),
        (
            "not yet valid",
            Some(format!("Bearer {}", sign(&not_yet, ADMIN_SECRET))),
        ),
        ("no exp", Some(format!("Bearer {}", sign(&no_exp, ADMIN_SECRET)))),
        ("alg none", Some(format!("Bearer {unsigned}"))),
        ("a SCIM token", Some(format!("Bearer {}", org.token))),
    ];
    let mut endpoints = org_endpoints(org.id, &ids);
    endpoints.extend(instance_endpoints(org.id));
    endpoints.extend(caller_endpoints());
    // An organization that does not exist answers the same.
    endpoints.extend(org_endpoints(i64::from(i32::MAX), &Ids::placeholder()));
    for e in &endpoints {
        for (case, authorization) in &bad {
            let mut request = Request::builder().method(e.method.clone()).uri(&e.path);
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            if e.body.is_some() {
                request = request.header("content-type", "application/json");
            }
            let body = e
                .body
                .as_ref()
                .map_or_else(Body::empty, |b| Body::from(b.to_string()));
            let answer = app.raw(request.body(body).expect("request")).await;
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{case}: {} {}: {}",
                e.method,
                e.path,
                answer.text
            );
            assert!(
                answer
                    .header("www-authenticate")
                    .is_some_and(|c| c.starts_with("Bearer")),
                "{case}: {} {}",
                e.method,
                e.path
            );
        }
    }
    assert_eq!(snapshot(&app, &org, &ids).await, before);
    // The valid base claims do work (the 401s above are about what was changed).
    let ok = OrgAdmin::new(&app, org.id, sign(&base, ADMIN_SECRET));
    assert_eq!(ok.get("/teams").await.status, StatusCode::OK);
}

/// An admin JWT is not a SCIM credential.
#[tokio::test]
async fn an_admin_jwt_does_not_authenticate_scim() {
    let app = TestApp::new().await;
    let org = app.org("scim-guard").await;
    for jwt in [owner_jwt(org.id), instance_admin_jwt()] {
        let answer = app
            .send(
                Method::GET,
                &format!("/api/orgs/{}/scim/v2/Groups", org.id),
                Some(&jwt),
                None,
                &[],
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text);
    }
}

/// A token with every right on organization A is refused (403) on every endpoint of organization
/// B — and on the instance endpoints — and nothing changes on B.
#[tokio::test]
async fn a_token_for_one_organization_cannot_read_or_change_another() {
    let app = TestApp::new().await;
    let (a, a_ids) = populated(&app, "org-a").await;
    let (b, b_ids) = populated(&app, "org-b").await;
    let before = snapshot(&app, &b, &b_ids).await;
    let a_owner = owner_jwt(a.id);
    // Rights on A (and a reader of A) get nowhere on B.
    for jwt in [a_owner.clone(), reader_jwt(a.id)] {
        for e in org_endpoints(b.id, &b_ids) {
            let answer = call(&app, &e, Some(&jwt)).await;
            assert_eq!(
                answer.status,
                StatusCode::FORBIDDEN,
                "{} {}: {}",
                e.method,
                e.path,
                answer.text
            );
        }
        // B's path with A's ids is still B's path.
        for e in org_endpoints(b.id, &a_ids) {
            let answer = call(&app, &e, Some(&jwt)).await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{} {}", e.method, e.path);
        }
        for e in instance_endpoints(b.id) {
            let answer = call(&app, &e, Some(&jwt)).await;
            assert_eq!(
                answer.status,
                StatusCode::FORBIDDEN,
                "{} {}: {}",
                e.method,
                e.path,
                answer.text
            );
        }
    }
    assert_eq!(snapshot(&app, &b, &b_ids).await, before, "B changed");
    assert_eq!(Scim::new(&app, &b).get("/Groups").await.status, StatusCode::OK);
    // An organization that does not exist is refused the same way (no existence oracle).
    for e in org_endpoints(i64::from(i32::MAX) - 1, &Ids::placeholder()) {
        let answer = call(&app, &e, Some(&a_owner)).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{} {}", e.method, e.path);
    }
    // A's token still works on A.
    for e in org_endpoints(a.id, &a_ids).into_iter().filter(|e| !e.write) {
        assert_eq!(
            call(&app, &e, Some(&a_owner)).await.status,
            StatusCode::OK,
            "{}",
            e.path
        );
    }
}

/// Tokens without usable rights (no `orgs` claim, an empty list, an unknown permission) are
/// refused (403) on every organization endpoint.
#[tokio::test]
async fn tokens_without_rights_are_forbidden() {
    let app = TestApp::new().await;
    let (org, ids) = populated(&app, "norights").await;
    let before = snapshot(&app, &org, &ids).await;
    let no_orgs = sign(
        &json!({"sub": "bob", "aud": "scimgate", "exp": now() + 3600}),
        ADMIN_SECRET,
    );
    let jwts = [
        no_orgs,
        admin_jwt("carol", &[(org.id, &[])], false),
        admin_jwt("dave", &[(org.id, &["organization:admin"])], false),
    ];
    for jwt in &jwts {
        for e in org_endpoints(org.id, &ids)
            .into_iter()
            .chain(instance_endpoints(org.id))
        {
            let answer = call(&app, &e, Some(jwt)).await;
            assert!(
                matches!(answer.status, StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED),
                "{} {}: {} {}",
                e.method,
                e.path,
                answer.status,
                answer.text
            );
            assert!(!answer.status.is_success());
        }
    }
    assert_eq!(snapshot(&app, &org, &ids).await, before);
}

/// `organization:read` reads every GET endpoint but every write is 403 and changes nothing.
#[tokio::test]
async fn a_read_only_token_reads_but_cannot_write() {
    let app = TestApp::new().await;
    let (org, ids) = populated(&app, "reader").await;
    let before = snapshot(&app, &org, &ids).await;
    let reader = reader_jwt(org.id);
    for e in org_endpoints(org.id, &ids) {
        let answer = call(&app, &e, Some(&reader)).await;
        let expected = if e.write {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::OK
        };
        assert_eq!(
            answer.status, expected,
            "{} {}: {}",
            e.method, e.path, answer.text
        );
    }
    for e in instance_endpoints(org.id) {
        assert_eq!(call(&app, &e, Some(&reader)).await.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(snapshot(&app, &org, &ids).await, before);
}

/// `organization:write` implies read.
#[tokio::test]
async fn write_implies_read() {
    let app = TestApp::new().await;
    let (org, ids) = populated(&app, "writer").await;
    let writer = admin_jwt(&unique("w"), &[(org.id, &["write"])], false);
    for e in org_endpoints(org.id, &ids).into_iter().filter(|e| !e.write) {
        assert_eq!(
            call(&app, &e, Some(&writer)).await.status,
            StatusCode::OK,
            "{}",
            e.path
        );
    }
    let created = OrgAdmin::new(&app, org.id, writer)
        .add_manual_group(&unique("W"))
        .await;
    assert!(!created.is_empty());
}

/// The instance endpoints need `instance_admin`: list, create (SSO active unless told otherwise)
/// and toggle SSO. An instance admin also has every right on every organization.
#[tokio::test]
async fn instance_endpoints_need_instance_admin() {
    let app = TestApp::new().await;
    let (org, ids) = populated(&app, "inst").await;
    let operator = instance_admin_jwt();

    let listed = app
        .admin_send(Method::GET, "/api/instance/orgs", Some(&operator), None, &[])
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let entry = listed.body["organizations"]
        .as_array()
        .expect("organizations")
        .iter()
        .find(|o| o["id"] == org.id)
        .cloned()
        .expect("listed");
    assert_eq!(entry["name"], org.name.as_str());
    assert_eq!(entry["ssoActive"], true);
    let conflicts = app
        .admin_send(Method::GET, "/api/instance/conflicts", Some(&operator), None, &[])
        .await;
    assert_eq!(conflicts.status, StatusCode::OK, "{}", conflicts.text);

    let name = unique("created-org");
    let created = app
        .admin_send(
            Method::POST,
            "/api/instance/orgs",
            Some(&operator),
            Some(&json!({"name": name, "ssoActive": false})),
            &[],
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["ssoActive"], false);
    let duplicate = app
        .admin_send(
            Method::POST,
            "/api/instance/orgs",
            Some(&operator),
            Some(&json!({"name": name})),
            &[],
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT, "{}", duplicate.text);
    let blank = app
        .admin_send(
            Method::POST,
            "/api/instance/orgs",
            Some(&operator),
            Some(&json!({"name": "  "})),
            &[],
        )
        .await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST, "{}", blank.text);
    let unknown = app
        .admin_send(
            Method::PATCH,
            &format!("/api/instance/orgs/{}", i64::from(i32::MAX)),
            Some(&operator),
            Some(&json!({"ssoActive": true})),
            &[],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);

    // The instance admin may act on any organization.
    let admin = OrgAdmin::new(&app, org.id, operator.clone());
    for e in org_endpoints(org.id, &ids).into_iter().filter(|e| !e.write) {
        assert_eq!(
            call(&app, &e, Some(&operator)).await.status,
            StatusCode::OK,
            "{}",
            e.path
        );
    }
    admin.add_manual_group(&unique("ByOperator")).await;

    // Owners of every organization are not instance admins.
    let owner = owner_jwt(org.id);
    for e in instance_endpoints(org.id) {
        let answer = call(&app, &e, Some(&owner)).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{} {}", e.method, e.path);
    }
    let after = app
        .admin_send(Method::GET, "/api/instance/orgs", Some(&operator), None, &[])
        .await;
    let names = common::org_names(&after.body);
    assert!(!names.iter().any(|n| n.starts_with("rogue-org")), "{names:?}");
    assert!(
        after.body["organizations"]
            .as_array()
            .expect("organizations")
            .iter()
            .any(|o| o["id"] == org.id && o["ssoActive"] == true)
    );
}

/// Every management endpoint of a gated-off organization answers 404 to callers with rights
/// (owner and instance admin), and changes nothing.
async fn assert_gated_off(app: &TestApp, org: &TestOrg, ids: &Ids) {
    for jwt in [owner_jwt(org.id), instance_admin_jwt()] {
        for e in org_endpoints(org.id, ids) {
            let answer = call(app, &e, Some(&jwt)).await;
            assert_eq!(
                answer.status,
                StatusCode::NOT_FOUND,
                "{} {}: {}",
                e.method,
                e.path,
                answer.text
            );
        }
    }
}

/// SCIM answers 404 with its detail to a valid token of a gated-off organization.
fn assert_scim_gated(answer: &Answer) {
    common::assert_scim_error(answer, 404, None);
    assert_eq!(
        answer.body["detail"], "SCIM provisioning is disabled for this organization",
        "{}",
        answer.text
    );
}

/// An organization with SSO inactive is gated off (404 on management and SCIM) until an instance
/// admin turns SSO on with `PATCH /api/instance/orgs/{id}`; turning it off gates it again, and
/// the data survives.
#[tokio::test]
async fn sso_inactive_organizations_answer_404_until_sso_is_turned_on() {
    let app = TestApp::new().await;
    let org = app.org_with_sso("dark", false).await;
    assert_gated_off(&app, &org, &Ids::placeholder()).await;
    assert_scim_gated(&Scim::new(&app, &org).get("/Groups").await);
    // A caller without rights is still told 403, not 404.
    let stranger = owner_jwt(i64::from(i32::MAX));
    let answer = app
        .admin_send(
            Method::GET,
            &format!("/api/orgs/{}/teams", org.id),
            Some(&stranger),
            None,
            &[],
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);

    let toggle = |on: bool, jwt: String| {
        let app = &app;
        let path = format!("/api/instance/orgs/{}", org.id);
        async move {
            app.admin_send(
                Method::PATCH,
                &path,
                Some(&jwt),
                Some(&json!({"ssoActive": on})),
                &[],
            )
            .await
        }
    };
    let refused = toggle(true, owner_jwt(org.id)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert_gated_off(&app, &org, &Ids::placeholder()).await;

    let on = toggle(true, instance_admin_jwt()).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.text);
    assert_eq!(on.body["ssoActive"], true);
    let owner = OrgAdmin::owner(&app, org.id);
    let cfg = owner.get("/scim/config").await;
    assert_eq!(cfg.status, StatusCode::OK, "{}", cfg.text);
    assert_eq!(cfg.body["ssoActive"], true);
    assert_eq!(scim_on_fresh_replica(&app, &org).await, StatusCode::OK);
    assert!(
        owner.catalog().await.is_empty(),
        "the gated POSTs created nothing"
    );
    assert!(
        owner.get("/teams").await.body["teams"]
            .as_array()
            .expect("teams")
            .is_empty()
    );

    // Data, then off again.
    let group = Scim::new(&app.sibling(ServeArgs::default()).await, &org)
        .create_group(&unique("Dark"))
        .await;
    let team = owner.create_team(&unique("dark-team"), Some(&group)).await;
    let manual_team = owner.create_team(&unique("dark-manual"), None).await;
    let member = owner
        .add_member(manual_team, &format!("{}@example.com", unique("m")))
        .await;
    let manual_group = owner.add_manual_group(&unique("DarkManual")).await;
    let ids = Ids {
        manual_group,
        delegated_team: team,
        manual_team,
        member,
    };
    let off = toggle(false, instance_admin_jwt()).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text);
    assert_eq!(off.body["ssoActive"], false);
    assert_gated_off(&app, &org, &ids).await;
    assert_eq!(scim_on_fresh_replica(&app, &org).await, StatusCode::NOT_FOUND);

    assert_eq!(toggle(true, instance_admin_jwt()).await.status, StatusCode::OK);
    assert_eq!(owner.catalog().await.len(), 2);
    assert_eq!(owner.team(team).await["idpGroupId"], group.as_str());
    assert_eq!(owner.members(manual_team).await.len(), 1);
}

/// `SCIMGATE_IDP_DELEGATION_ALLOWED_ORGS`: an organization not listed answers 404 on management
/// and SCIM; a listed one works; set but empty means none.
#[tokio::test]
async fn the_allowlist_gates_organizations_it_does_not_list() {
    let base = TestApp::new().await;
    let (allowed, allowed_ids) = populated(&base, "allowed").await;
    let (excluded, excluded_ids) = populated(&base, "excluded").await;

    let listed = base
        .sibling(ServeArgs {
            idp_delegation_allowed_orgs: Some(format!(" {} ,", allowed.id)),
            ..ServeArgs::default()
        })
        .await;
    assert_gated_off(&listed, &excluded, &excluded_ids).await;
    assert_scim_gated(&Scim::new(&listed, &excluded).get("/Groups").await);
    let owner = OrgAdmin::owner(&listed, allowed.id);
    for e in org_endpoints(allowed.id, &allowed_ids)
        .into_iter()
        .filter(|e| !e.write)
    {
        assert_eq!(
            call(&listed, &e, Some(&owner.jwt)).await.status,
            StatusCode::OK,
            "{}",
            e.path
        );
    }
    assert_eq!(
        Scim::new(&listed, &allowed).get("/Groups").await.status,
        StatusCode::OK
    );

    let none = base
        .sibling(ServeArgs {
            idp_delegation_allowed_orgs: Some(String::new()),
            ..ServeArgs::default()
        })
        .await;
    for (org, ids) in [(&allowed, &allowed_ids), (&excluded, &excluded_ids)] {
        assert_gated_off(&none, org, ids).await;
        assert_scim_gated(&Scim::new(&none, org).get("/Groups").await);
    }

    // The excluded organization's data is untouched and works where it is not gated.
    assert_eq!(OrgAdmin::owner(&base, excluded.id).catalog().await.len(), 2);
    assert_eq!(
        Scim::new(&base, &excluded).get("/Groups").await.status,
        StatusCode::OK
    );
}

/// `SCIMGATE_IDP_DELEGATION_ENABLED=false` gates every organization off.
#[tokio::test]
async fn the_instance_switch_gates_every_organization() {
    let base = TestApp::new().await;
    let (org, ids) = populated(&base, "switched").await;
    let off = base
        .sibling(ServeArgs {
            idp_delegation_enabled: false,
            ..ServeArgs::default()
        })
        .await;
    assert_gated_off(&off, &org, &ids).await;
    assert_scim_gated(&Scim::new(&off, &org).get("/Groups").await);
    // Instance administration itself is not gated.
    let listed = off
        .admin_send(
            Method::GET,
            "/api/instance/orgs",
            Some(&instance_admin_jwt()),
            None,
            &[],
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(OrgAdmin::owner(&base, org.id).catalog().await.len(), 2);
}
