//! The SCIM resources and their protocol rules: paging, sorting, filtering, projection, ETags,
//! locations, discovery, membership and per-organization uniqueness (design §2, §3.2, §3.3).
mod common;

use axum::http::{Method, StatusCode};
use common::{PUBLIC_URL, Scim, TestApp, TestOrg, assert_scim_error, enc, patch_op, unique};
use scimgate::config::ServeArgs;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

fn ok(answer: &common::Answer) -> &Value {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    &answer.body
}

/// The ids of a ListResponse's resources, in order.
fn ids(answer: &common::Answer) -> Vec<String> {
    ok(answer)["Resources"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|v| v["id"].as_str().expect("id").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn field(answer: &common::Answer, name: &str) -> Vec<String> {
    ok(answer)["Resources"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|v| v[name].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn create_group_with(scim: &Scim<'_>, body: Value) -> String {
    let answer = scim.post("/Groups", &body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.body["id"].as_str().expect("id").to_owned()
}

async fn create_user_with(scim: &Scim<'_>, body: Value) -> String {
    let answer = scim.post("/Users", &body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.body["id"].as_str().expect("id").to_owned()
}

async fn group_version(scim: &Scim<'_>, gid: &str) -> Value {
    scim.get(&format!("/Groups/{gid}")).await.body["meta"]["version"].clone()
}

async fn add_members(scim: &Scim<'_>, gid: &str, users: &[&str]) -> common::Answer {
    let value: Vec<Value> = users.iter().map(|u| json!({"value": u})).collect();
    scim.patch(
        &format!("/Groups/{gid}"),
        &patch_op(json!([{"op": "add", "path": "members", "value": value}])),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Paging and sorting.

#[tokio::test]
async fn paging_is_stable_and_count_zero_gives_only_the_total() {
    let app = TestApp::new().await;
    let org = app.org("paging").await;
    let scim = Scim::new(&app, &org);
    let prefix = unique("page");
    let mut created = Vec::new();
    for i in [4, 1, 6, 0, 3, 5, 2] {
        created.push(scim.create_group(&format!("{prefix}-{i}")).await);
    }

    for sort in [
        "",
        "&sortBy=displayName",
        "&sortBy=meta.created&sortOrder=descending",
    ] {
        let all = ids(&scim
            .get(&format!("/Groups?excludedAttributes=members{sort}"))
            .await);
        assert_eq!(sorted(all.clone()), sorted(created.clone()));
        let mut paged = Vec::new();
        for start in [1, 4, 7] {
            let page = scim
                .get(&format!("/Groups?startIndex={start}&count=3{sort}"))
                .await;
            let body = ok(&page);
            assert_eq!(body["schemas"], json!([LIST_SCHEMA]));
            assert_eq!(body["totalResults"], 7);
            assert_eq!(body["startIndex"], start);
            let expected = if start == 7 { 1 } else { 3 };
            assert_eq!(body["itemsPerPage"], expected, "{}", page.text);
            paged.extend(ids(&page));
        }
        assert_eq!(
            paged, all,
            "pages concatenate to the full list, in the same order ({sort})"
        );
    }

    let beyond = scim.get("/Groups?startIndex=50&count=3").await;
    assert_eq!(ok(&beyond)["totalResults"], 7);
    assert!(ids(&beyond).is_empty());

    let zero = scim.get("/Groups?count=0").await;
    let body = ok(&zero);
    assert_eq!(body["totalResults"], 7);
    assert!(
        body.get("Resources")
            .is_none_or(|r| r.as_array().is_some_and(Vec::is_empty)),
        "{}",
        zero.text
    );
    let zero_users = scim.get("/Users?count=0").await;
    assert_eq!(ok(&zero_users)["totalResults"], 0);
}

#[tokio::test]
async fn count_is_capped_at_max_results() {
    // 1,001 creates in a row would trip the per-organization rate limit (a feature of its own).
    let serve = ServeArgs {
        public_url: Some(PUBLIC_URL.into()),
        org_rate_limit: 1_000_000,
        org_burst: 1_000_000,
        ..ServeArgs::default()
    };
    let app = TestApp::with(&common::database_url(), serve).await;
    let org = app.org("cap").await;
    let scim = Scim::new(&app, &org);
    let config = scim.get("/ServiceProviderConfig").await;
    assert_eq!(ok(&config)["filter"]["maxResults"], 1000);
    let prefix = unique("cap");
    for i in 0..1001 {
        scim.create_user(&format!("{prefix}-{i:04}")).await;
    }
    let page = scim.get("/Users?count=5000&attributes=userName").await;
    let body = ok(&page);
    assert_eq!(body["totalResults"], 1001);
    assert_eq!(body["itemsPerPage"], 1000, "count is capped at maxResults");
    assert_eq!(body["Resources"].as_array().map(Vec::len), Some(1000));
    let default = scim.get("/Users?attributes=userName").await;
    assert_eq!(
        ok(&default)["Resources"].as_array().map(Vec::len),
        Some(1000),
        "no count means maxResults"
    );
    let rest = scim
        .get("/Users?startIndex=1001&count=5000&attributes=userName")
        .await;
    assert_eq!(ok(&rest)["itemsPerPage"], 1);

    // While the users are here: membership writes and reads beyond one statement's chunk.
    let all: Vec<String> = ids(&scim.get("/Users?sortBy=id&attributes=id").await)
        .into_iter()
        .chain(ids(&rest))
        .collect();
    assert_eq!(all.len(), 1001);
    let members = |ids: &[String]| ids.iter().map(|id| json!({"value": id})).collect::<Vec<_>>();
    let name = unique("Big Group");
    let gid = create_group_with(&scim, json!({"displayName": name, "members": members(&all)})).await;
    assert_eq!(scim.member_ids(&gid).await.len(), 1001);
    let put = scim
        .put(
            &format!("/Groups/{gid}"),
            &json!({"displayName": name, "members": members(&all[..600])}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert_eq!(put.body["members"].as_array().map(Vec::len), Some(600));
    assert_eq!(scim.member_ids(&gid).await, sorted(all[..600].to_vec()));
    let remove = patch_op(
        json!([{"op": "remove", "path": format!("members[value eq \"{}\" or value eq \"{}\"]", all[0], all[599])}]),
    );
    assert_eq!(
        scim.patch(&format!("/Groups/{gid}"), &remove).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(scim.member_ids(&gid).await, sorted(all[1..599].to_vec()));
    let add = patch_op(json!([{"op": "add", "path": "members", "value": members(&all[550..])}]));
    assert_eq!(
        scim.patch(&format!("/Groups/{gid}"), &add).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(scim.member_ids(&gid).await, sorted(all[1..].to_vec()));
    assert_eq!(
        scim.count_where("/Groups", &format!("members[value eq \"{}\"]", all[1000]))
            .await,
        1
    );
}

#[tokio::test]
async fn sort_by_every_supported_attribute_in_both_orders() {
    let app = TestApp::new().await;
    let org = app.org("sort").await;
    let scim = Scim::new(&app, &org);
    let p = unique("sort");
    // Created in this order; the names sort case-insensitively as A, b, c, D.
    let specs = [("c", "ext-3"), ("A", "ext-4"), ("D", "ext-1"), ("b", "ext-2")];
    let mut groups = Vec::new();
    for (name, ext) in specs {
        let id = create_group_with(
            &scim,
            json!({"schemas": [GROUP_SCHEMA], "displayName": format!("{p}-{name}"), "externalId": ext}),
        )
        .await;
        groups.push(id);
    }
    let [c, a, d, b] = [
        groups[0].clone(),
        groups[1].clone(),
        groups[2].clone(),
        groups[3].clone(),
    ];
    let list = |q: &str| {
        let scim = &scim;
        let q = q.to_owned();
        async move { ids(&scim.get(&format!("/Groups?excludedAttributes=members&{q}")).await) }
    };
    let rev = |mut v: Vec<String>| {
        v.reverse();
        v
    };

    let by_name = vec![a.clone(), b.clone(), c.clone(), d.clone()];
    assert_eq!(
        list("sortBy=displayName").await,
        by_name,
        "displayName sorts case-insensitively"
    );
    assert_eq!(list("sortBy=DISPLAYNAME&sortOrder=ascending").await, by_name);
    assert_eq!(
        list("sortBy=displayName&sortOrder=descending").await,
        rev(by_name)
    );
    let by_ext = vec![d.clone(), b.clone(), c.clone(), a.clone()];
    assert_eq!(list("sortBy=externalId").await, by_ext);
    assert_eq!(list("sortBy=externalId&sortOrder=descending").await, rev(by_ext));
    let by_created = vec![c.clone(), a.clone(), d.clone(), b.clone()];
    assert_eq!(list("sortBy=meta.created").await, by_created);
    assert_eq!(
        list("sortBy=meta.created&sortOrder=descending").await,
        rev(by_created.clone())
    );
    assert_eq!(list("sortBy=id").await, sorted(groups.clone()));
    assert_eq!(
        list("sortBy=id&sortOrder=descending").await,
        rev(sorted(groups.clone()))
    );

    // Touch the oldest: it becomes the most recently modified.
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": format!("{p}-c2")}]));
    assert_eq!(
        scim.patch(&format!("/Groups/{c}"), &rename).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        list("sortBy=meta.lastModified").await,
        vec![a.clone(), d.clone(), b.clone(), c.clone()]
    );
    assert_eq!(
        list("sortBy=meta.lastModified&sortOrder=descending").await,
        vec![c.clone(), b.clone(), d.clone(), a.clone()]
    );
    assert_eq!(
        list("sortBy=meta.created").await,
        by_created,
        "created does not move"
    );

    // Users: userName case-insensitively, and the same common attributes.
    let u_specs = [("carol", "x3"), ("Alice", "x2"), ("bob", "x1")];
    let mut users = Vec::new();
    for (name, ext) in u_specs {
        users.push(
            create_user_with(
                &scim,
                json!({"schemas": [USER_SCHEMA], "userName": format!("{p}-{name}"), "externalId": ext}),
            )
            .await,
        );
    }
    let ulist = |q: &str| {
        let scim = &scim;
        let q = q.to_owned();
        async move { ids(&scim.get(&format!("/Users?{q}")).await) }
    };
    let (carol, alice, bob) = (users[0].clone(), users[1].clone(), users[2].clone());
    assert_eq!(
        ulist("sortBy=userName").await,
        vec![alice.clone(), bob.clone(), carol.clone()]
    );
    assert_eq!(
        ulist("sortBy=userName&sortOrder=descending").await,
        vec![carol.clone(), bob.clone(), alice.clone()]
    );
    assert_eq!(
        ulist("sortBy=externalId").await,
        vec![bob.clone(), alice.clone(), carol.clone()]
    );
    assert_eq!(ulist("sortBy=meta.created").await, users);
    assert_eq!(ulist("sortBy=id").await, sorted(users.clone()));

    // An attribute the server cannot sort by is a 400, never an unsorted 200.
    let bad = scim.get("/Groups?sortBy=members.display").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert_eq!(bad.body["status"], "400");
}

// ---------------------------------------------------------------------------------------------
// Filters.

#[tokio::test]
async fn group_filters_cover_operators_logic_and_attributes() {
    let app = TestApp::new().await;
    let org = app.org("gfilter").await;
    let scim = Scim::new(&app, &org);
    let p = unique("flt");
    let alpha = create_group_with(
        &scim,
        json!({"displayName": format!("{p}-Alpha"), "externalId": "e-1"}),
    )
    .await;
    let beta = create_group_with(
        &scim,
        json!({"displayName": format!("{p}-Beta"), "externalId": "e-2"}),
    )
    .await;
    let gamma = create_group_with(&scim, json!({"displayName": format!("{p}-Gamma")})).await;
    let find = |filter: String| {
        let scim = &scim;
        async move { sorted(ids(&scim.get(&format!("/Groups?filter={}", enc(&filter))).await)) }
    };
    let set = |v: &[&String]| sorted(v.iter().map(|s| (*s).clone()).collect());

    assert_eq!(
        find(format!("displayName eq \"{p}-Alpha\"")).await,
        set(&[&alpha])
    );
    assert_eq!(
        find(format!(
            "displayName eq \"{}\"",
            format!("{p}-alpha").to_uppercase()
        ))
        .await,
        set(&[&alpha]),
        "displayName is case-insensitive"
    );
    assert_eq!(
        find(format!("displayName ne \"{p}-alpha\"")).await,
        set(&[&beta, &gamma])
    );
    assert_eq!(find("displayName co \"ETA\"".into()).await, set(&[&beta]));
    assert_eq!(find(format!("displayName sw \"{p}-b\"")).await, set(&[&beta]));
    assert_eq!(find("displayName ew \"mMa\"".into()).await, set(&[&gamma]));
    assert_eq!(
        find("DisplayName EW \"MMA\"".into()).await,
        set(&[&gamma]),
        "operators and attribute names are case-insensitive"
    );
    assert_eq!(
        find(format!("{GROUP_SCHEMA}:displayName sw \"{p}-g\"")).await,
        set(&[&gamma]),
        "URN-qualified names"
    );
    assert_eq!(find("externalId pr".into()).await, set(&[&alpha, &beta]));
    assert_eq!(find("not (externalId pr)".into()).await, set(&[&gamma]));
    assert_eq!(find("externalId eq \"e-1\"".into()).await, set(&[&alpha]));
    assert_eq!(
        find("externalId eq \"E-1\"".into()).await,
        set(&[]),
        "externalId is case-exact"
    );
    assert_eq!(find("externalId ne \"e-1\"".into()).await, set(&[&beta, &gamma]));
    assert_eq!(
        find("externalId eq \"e-1\" or externalId eq \"e-2\"".into()).await,
        set(&[&alpha, &beta])
    );
    assert_eq!(find(format!("id eq \"{beta}\"")).await, set(&[&beta]));
    assert_eq!(
        find(format!("id eq \"{beta}\" and externalId eq \"e-1\"")).await,
        set(&[])
    );
    assert_eq!(
        find(format!(
            "(displayName ew \"ta\" and externalId pr) or id eq \"{gamma}\""
        ))
        .await,
        set(&[&beta, &gamma])
    );
    assert_eq!(
        find(format!(
            "displayName ew \"ta\" and (externalId pr or id eq \"{gamma}\")"
        ))
        .await,
        set(&[&beta])
    );
    assert_eq!(
        find(format!("not (id eq \"{alpha}\" or id eq \"{beta}\")")).await,
        set(&[&gamma])
    );

    // meta.lastModified gt: only what changed after alpha's last change.
    let alpha_modified = scim.get(&format!("/Groups/{alpha}")).await.body["meta"]["lastModified"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        find(format!("meta.lastModified gt \"{alpha_modified}\"")).await,
        set(&[&beta, &gamma])
    );
    let gamma_modified = scim.get(&format!("/Groups/{gamma}")).await.body["meta"]["lastModified"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        find(format!("meta.lastModified gt \"{gamma_modified}\"")).await,
        set(&[])
    );
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": format!("{p}-Alpha2")}]));
    assert_eq!(
        scim.patch(&format!("/Groups/{alpha}"), &rename).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        find(format!("meta.lastModified gt \"{gamma_modified}\"")).await,
        set(&[&alpha])
    );
}

/// `sw` answers exactly the names that start with the prefix, at the edges of the character
/// ranges (SQLite reads it as a range of the index, bounded by the prefix's successor) and with
/// LIKE's own wildcards and escape in the prefix.
#[tokio::test]
async fn starts_with_answers_exactly_the_names_with_the_prefix() {
    let app = TestApp::new().await;
    let org = app.org("swedges").await;
    let scim = Scim::new(&app, &org);
    let p = unique("sw");
    let suffixes = [
        "",
        "a",
        "ab",
        "ab\u{7f}",
        "ab\u{80}",
        "ab\u{7ff}",
        "ab\u{800}",
        "ab\u{d7ff}",
        "ab\u{e000}",
        "ab\u{ffff}",
        "ab\u{10000}",
        "ab\u{10ffff}",
        "ab\u{10ffff}\u{10ffff}z",
        "ab%",
        "ab%c",
        "ab_",
        "ab\\",
        "abc",
        "ac",
        "a\u{10ffff}",
        "a\u{10ffff}b",
        "b",
    ];
    let mut users = Vec::new();
    for suffix in suffixes {
        let name = format!("{p}-{suffix}");
        users.push((create_user_with(&scim, json!({"userName": name})).await, name));
    }
    let prefixes = [
        "",
        "a",
        "ab",
        "ab\u{7f}",
        "ab\u{7ff}",
        "ab\u{d7ff}",
        "ab\u{ffff}",
        "ab\u{10ffff}",
        "a\u{10ffff}",
        "ab%",
        "ab_",
        "ab\\",
        "abc",
        "b",
        "c",
    ];
    for prefix in prefixes {
        let prefix = format!("{p}-{prefix}");
        let filter = format!("userName sw {}", Value::from(prefix.clone()));
        let found = sorted(ids(&scim
            .get(&format!("/Users?filter={}&count=100", enc(&filter)))
            .await));
        let expected = sorted(
            users
                .iter()
                .filter(|(_, name)| name.starts_with(&prefix))
                .map(|(id, _)| id.clone())
                .collect(),
        );
        assert_eq!(found, expected, "{filter}");
    }
}

#[tokio::test]
async fn user_filters_cover_user_name_emails_and_active() {
    let app = TestApp::new().await;
    let org = app.org("ufilter").await;
    let scim = Scim::new(&app, &org);
    let p = unique("uf");
    let ann = create_user_with(
        &scim,
        json!({"userName": format!("{p}-Ann"), "externalId": "ann", "active": true,
               "emails": [{"value": "Ann.Work@Example.com", "type": "work", "primary": true}, {"value": "ann@home.example", "type": "home"}]}),
    )
    .await;
    let ben = create_user_with(
        &scim,
        json!({"userName": format!("{p}-Ben"), "active": false, "emails": [{"value": "ben@example.com", "type": "work"}]}),
    )
    .await;
    let cid = create_user_with(&scim, json!({"userName": format!("{p}-Cid")})).await;
    let find = |filter: String| {
        let scim = &scim;
        async move { sorted(ids(&scim.get(&format!("/Users?filter={}", enc(&filter))).await)) }
    };
    let set = |v: &[&String]| sorted(v.iter().map(|s| (*s).clone()).collect());

    assert_eq!(
        find(format!("userName eq \"{}\"", format!("{p}-ANN").to_lowercase())).await,
        set(&[&ann]),
        "userName is case-insensitive"
    );
    assert_eq!(
        find(format!("userName eq \"{}\"", format!("{p}-ann").to_uppercase())).await,
        set(&[&ann])
    );
    assert_eq!(find(format!("userName sw \"{p}-b\"")).await, set(&[&ben]));
    assert_eq!(find("userName ew \"-CID\"".into()).await, set(&[&cid]));
    assert_eq!(find("userName co \"N\"".into()).await, set(&[&ann, &ben]));
    assert_eq!(find(format!("userName ne \"{p}-ann\"")).await, set(&[&ben, &cid]));
    assert_eq!(
        find("emails.value eq \"ann.work@example.com\"".into()).await,
        set(&[&ann])
    );
    assert_eq!(
        find("emails.value eq \"ANN@HOME.EXAMPLE\"".into()).await,
        set(&[&ann])
    );
    assert_eq!(
        find("emails.value co \"example.com\"".into()).await,
        set(&[&ann, &ben])
    );
    assert_eq!(find("emails pr".into()).await, set(&[&ann, &ben]));
    assert_eq!(find("not (emails pr)".into()).await, set(&[&cid]));
    assert_eq!(find("emails[type eq \"home\"]".into()).await, set(&[&ann]));
    assert_eq!(
        find("emails[type eq \"work\" and value co \"@example.com\"]".into()).await,
        set(&[&ann, &ben])
    );
    assert_eq!(
        find("emails[type eq \"home\" and value co \"@example.com\"]".into()).await,
        set(&[])
    );
    assert_eq!(
        find("emails[type eq \"work\"].value eq \"BEN@example.com\"".into()).await,
        set(&[&ben])
    );
    assert_eq!(
        find("active eq true".into()).await,
        set(&[&ann, &cid]),
        "unassigned active is active"
    );
    assert_eq!(find("active eq false".into()).await, set(&[&ben]));
    assert_eq!(find("active ne true".into()).await, set(&[&ben]));
    assert_eq!(
        find("active eq false or externalId eq \"ann\"".into()).await,
        set(&[&ann, &ben])
    );
    assert_eq!(
        find(format!("active eq true and not (userName eq \"{p}-cid\")")).await,
        set(&[&ann])
    );
    assert_eq!(
        find(format!("{USER_SCHEMA}:userName eq \"{p}-cid\"")).await,
        set(&[&cid])
    );
}

#[tokio::test]
async fn display_and_user_names_match_on_their_folded_keys() {
    let app = TestApp::new().await;
    let org = app.org("fold").await;
    let scim = Scim::new(&app, &org);
    let p = unique("fold");
    // Composed "Ångström" is found by its decomposed, upper-cased spelling.
    let composed = format!("{p}-\u{c5}ngstr\u{f6}m");
    let decomposed_upper = format!("{}-A\u{30a}NGSTRO\u{308}M", p.to_uppercase());
    let gid = scim.create_group(&composed).await;
    let uid = scim.create_user(&composed).await;
    let group_hits = scim
        .get(&format!(
            "/Groups?filter={}",
            enc(&format!("displayName eq \"{decomposed_upper}\""))
        ))
        .await;
    assert_eq!(ids(&group_hits), vec![gid]);
    assert_eq!(
        field(&group_hits, "displayName"),
        vec![composed.clone()],
        "stored exactly as sent"
    );
    let user_hits = scim
        .get(&format!(
            "/Users?filter={}",
            enc(&format!("userName eq \"{decomposed_upper}\""))
        ))
        .await;
    assert_eq!(ids(&user_hits), vec![uid]);
    // And a case variant of either is a clash, not a second row.
    assert_scim_error(
        &scim
            .post("/Groups", &json!({"displayName": decomposed_upper}))
            .await,
        409,
        Some("uniqueness"),
    );
    assert_scim_error(
        &scim.post("/Users", &json!({"userName": decomposed_upper})).await,
        409,
        Some("uniqueness"),
    );
}

#[tokio::test]
async fn unsupported_filter_attributes_are_invalid_filter_never_an_empty_200() {
    let app = TestApp::new().await;
    let org = app.org("unsupported").await;
    let scim = Scim::new(&app, &org);
    scim.create_user(&unique("someone")).await;
    scim.create_group(&unique("Some Group")).await;
    for (resource, filter) in [
        ("/Users", "title eq \"Boss\""),
        ("/Users", "nickName eq \"x\""),
        ("/Users", "favouriteColour eq \"blue\""),
        ("/Users", "name.givenName eq \"x\""),
        (
            "/Users",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"x\"",
        ),
        ("/Users", "emails.display eq \"x\""),
        ("/Users", "userName gt 5"),
        ("/Groups", "members.display eq \"x\""),
        ("/Groups", "userName eq \"x\""),
        ("/Groups", "meta.resourceType eq \"Group\""),
        ("/Groups", "displayName eq true"),
        ("/Groups", "description co \"x\""),
    ] {
        let answer = scim.get(&format!("{resource}?filter={}", enc(filter))).await;
        assert_scim_error(&answer, 400, Some("invalidFilter"));
        assert!(!answer.body["detail"].as_str().unwrap_or_default().is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// Projection.

#[tokio::test]
async fn attributes_and_excluded_attributes_on_get_and_list() {
    let app = TestApp::new().await;
    let org = app.org("projection").await;
    let scim = Scim::new(&app, &org);
    let user_name = unique("proj");
    let uid = create_user_with(
        &scim,
        json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": user_name, "displayName": "Pro Jection",
               "name": {"givenName": "Pro", "familyName": "Jection"},
               "emails": [{"value": "p@example.com", "type": "work"}], ENTERPRISE: {"department": "R&D"}}),
    )
    .await;
    let gname = unique("Projected");
    let gid = create_group_with(
        &scim,
        json!({"displayName": gname, "externalId": "pg", "members": [{"value": uid}]}),
    )
    .await;

    let only = scim.get(&format!("/Users/{uid}?attributes=userName")).await;
    let body = ok(&only);
    assert_eq!(body["userName"], user_name.as_str());
    assert_eq!(body["id"], uid.as_str(), "id is always returned");
    for gone in ["name", "emails", "displayName", "meta", ENTERPRISE] {
        assert!(body.get(gone).is_none(), "{gone} in {}", only.text);
    }
    let sub = scim
        .get(&format!(
            "/Users/{uid}?attributes=name.givenName,{ENTERPRISE}:department"
        ))
        .await;
    assert_eq!(ok(&sub)["name"], json!({"givenName": "Pro"}));
    assert_eq!(sub.body[ENTERPRISE], json!({"department": "R&D"}));
    assert!(sub.body.get("userName").is_none());

    let except = scim
        .get(&format!("/Users/{uid}?excludedAttributes=emails,name,id"))
        .await;
    let body = ok(&except);
    assert!(
        body.get("emails").is_none() && body.get("name").is_none(),
        "{}",
        except.text
    );
    assert_eq!(body["id"], uid.as_str(), "id cannot be excluded");
    assert_eq!(body["userName"], user_name.as_str());
    assert_eq!(body["displayName"], "Pro Jection");
    assert!(body.get("meta").is_some());

    let list = scim
        .get(&format!(
            "/Users?filter={}&attributes=userName",
            enc(&format!("userName eq \"{user_name}\""))
        ))
        .await;
    let resource = &ok(&list)["Resources"][0];
    assert_eq!(resource["userName"], user_name.as_str());
    assert!(
        resource.get("emails").is_none() && resource.get("name").is_none(),
        "{}",
        list.text
    );
    let list = scim.get("/Users?excludedAttributes=emails").await;
    assert!(ok(&list)["Resources"][0].get("emails").is_none());
    assert_eq!(list.body["Resources"][0]["name"]["givenName"], "Pro");

    let group = scim.get(&format!("/Groups/{gid}?attributes=displayName")).await;
    let body = ok(&group);
    assert_eq!(body["displayName"], gname.as_str());
    assert!(
        body.get("members").is_none() && body.get("externalId").is_none() && body.get("meta").is_none(),
        "{}",
        group.text
    );
    let group = scim.get(&format!("/Groups/{gid}?attributes=members")).await;
    assert_eq!(ok(&group)["members"][0]["value"], uid.as_str());
    assert!(group.body.get("displayName").is_none());
    let groups = scim.get("/Groups?excludedAttributes=externalId,meta").await;
    let resource = &ok(&groups)["Resources"][0];
    assert!(
        resource.get("externalId").is_none() && resource.get("meta").is_none(),
        "{}",
        groups.text
    );
    assert_eq!(resource["members"][0]["value"], uid.as_str());
}

// ---------------------------------------------------------------------------------------------
// ETags.

#[tokio::test]
async fn etag_is_meta_version_and_if_none_match_gives_304() {
    let app = TestApp::new().await;
    let org = app.org("etag").await;
    let scim = Scim::new(&app, &org);
    let gid = scim.create_group(&unique("Tagged")).await;
    let uid = scim.create_user(&unique("tagged")).await;
    for path in [format!("/Groups/{gid}"), format!("/Users/{uid}")] {
        let got = scim.get(&path).await;
        let etag = got.header("etag").expect("ETag header").to_owned();
        assert_eq!(ok(&got)["meta"]["version"], etag.as_str(), "ETag = meta.version");
        assert!(etag.starts_with("W/\""), "a weak ETag: {etag}");

        let cached = scim
            .send_with(Method::GET, &path, None, &[("if-none-match", &etag)])
            .await;
        assert_eq!(cached.status, StatusCode::NOT_MODIFIED, "{}", cached.text);
        assert!(cached.text.is_empty());
        let stale = scim
            .send_with(Method::GET, &path, None, &[("if-none-match", "W/\"999999\"")])
            .await;
        assert_eq!(stale.status, StatusCode::OK);
    }
    // After a change the old tag no longer matches.
    let old = scim
        .get(&format!("/Groups/{gid}"))
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": unique("Retagged")}]));
    assert_eq!(
        scim.patch(&format!("/Groups/{gid}"), &rename).await.status,
        StatusCode::NO_CONTENT
    );
    let fresh = scim
        .send_with(
            Method::GET,
            &format!("/Groups/{gid}"),
            None,
            &[("if-none-match", &old)],
        )
        .await;
    assert_eq!(fresh.status, StatusCode::OK);
    assert_ne!(fresh.header("etag"), Some(old.as_str()));
}

#[tokio::test]
async fn if_match_mismatch_is_412_and_changes_nothing() {
    let app = TestApp::new().await;
    let org = app.org("ifmatch").await;
    let scim = Scim::new(&app, &org);
    let name = unique("Guarded");
    let gid = scim.create_group(&name).await;
    let uid = scim.create_user(&unique("guarded")).await;
    let stale = [("if-match", "W/\"999999\"")];
    let gpath = format!("/Groups/{gid}");
    let upath = format!("/Users/{uid}");
    let before_group = scim.get(&gpath).await;
    let before_user = scim.get(&upath).await;

    let new_name = unique("Guarded-New");
    let put = scim
        .send_with(
            Method::PUT,
            &gpath,
            Some(&json!({"displayName": new_name, "members": [{"value": uid}]})),
            &stale,
        )
        .await;
    assert_scim_error(&put, 412, None);
    let patch = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
    assert_scim_error(
        &scim.send_with(Method::PATCH, &gpath, Some(&patch), &stale).await,
        412,
        None,
    );
    assert_scim_error(
        &scim.send_with(Method::DELETE, &gpath, None, &stale).await,
        412,
        None,
    );
    let upatch = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    assert_scim_error(
        &scim.send_with(Method::PATCH, &upath, Some(&upatch), &stale).await,
        412,
        None,
    );
    let uput = json!({"userName": unique("other")});
    assert_scim_error(
        &scim.send_with(Method::PUT, &upath, Some(&uput), &stale).await,
        412,
        None,
    );
    assert_scim_error(
        &scim.send_with(Method::DELETE, &upath, None, &stale).await,
        412,
        None,
    );

    let after_group = scim.get(&gpath).await;
    assert_eq!(after_group.body, before_group.body, "the group is untouched");
    assert!(
        after_group
            .body
            .get("members")
            .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty))
    );
    assert_eq!(
        scim.get(&upath).await.body,
        before_user.body,
        "the user is untouched"
    );
    assert_eq!(
        scim.count_where("/Groups", &format!("displayName eq \"{new_name}\""))
            .await,
        0
    );

    // The current tag lets each write through.
    let tag = before_group.header("etag").unwrap().to_owned();
    let put = scim
        .send_with(
            Method::PUT,
            &gpath,
            Some(&json!({"displayName": new_name})),
            &[("if-match", &tag)],
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    let tag = put.header("etag").unwrap().to_owned();
    let answer = scim
        .send_with(Method::PATCH, &gpath, Some(&patch), &[("if-match", &tag)])
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert_eq!(scim.member_ids(&gid).await, vec![uid.clone()]);
    let tag = scim.get(&gpath).await.header("etag").unwrap().to_owned();
    assert_eq!(
        scim.send_with(Method::DELETE, &gpath, None, &[("if-match", &tag)])
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(scim.get(&gpath).await.status, StatusCode::NOT_FOUND);

    let tag = before_user.header("etag").unwrap().to_owned();
    let answer = scim
        .send_with(Method::PATCH, &upath, Some(&upatch), &[("if-match", &tag)])
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["active"], false);
    let tag = answer.header("etag").unwrap().to_owned();
    assert_ne!(Some(tag.as_str()), before_user.header("etag"));
    assert_eq!(
        scim.send_with(Method::DELETE, &upath, None, &[("if-match", &tag)])
            .await
            .status,
        StatusCode::NO_CONTENT
    );
}

// ---------------------------------------------------------------------------------------------
// Locations and base paths.

#[tokio::test]
async fn locations_come_from_the_public_url_never_the_host_header() {
    let app = TestApp::new().await;
    let org = app.org("location").await;
    let scim = Scim::new(&app, &org);
    let base = format!("{PUBLIC_URL}/api/orgs/{}/scim/v2", org.id);
    let spoof = [
        ("host", "evil.example"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "http"),
    ];

    let group = scim
        .send_with(
            Method::POST,
            "/Groups",
            Some(&json!({"displayName": unique("Located")})),
            &spoof,
        )
        .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.text);
    let gid = group.body["id"].as_str().unwrap();
    let expected = format!("{base}/Groups/{gid}");
    assert_eq!(group.header("location"), Some(expected.as_str()));
    assert_eq!(group.body["meta"]["location"], expected.as_str());

    let user = scim
        .send_with(
            Method::POST,
            "/Users",
            Some(&json!({"userName": unique("located")})),
            &spoof,
        )
        .await;
    assert_eq!(user.status, StatusCode::CREATED, "{}", user.text);
    let uid = user.body["id"].as_str().unwrap();
    let expected = format!("{base}/Users/{uid}");
    assert_eq!(user.header("location"), Some(expected.as_str()));
    assert_eq!(user.body["meta"]["location"], expected.as_str());

    let got = scim
        .send_with(Method::GET, &format!("/Users/{uid}"), None, &spoof)
        .await;
    assert_eq!(got.body["meta"]["location"], expected.as_str());
    assert!(!got.text.contains("evil.example"));
    let config = scim
        .send_with(Method::GET, "/ServiceProviderConfig", None, &spoof)
        .await;
    assert_eq!(
        config.body["meta"]["location"],
        format!("{base}/ServiceProviderConfig")
    );
}

#[tokio::test]
async fn the_short_base_path_serves_the_same_resources() {
    let app = TestApp::new().await;
    let org = app.org("shortbase").await;
    let short = format!("/orgs/{}/scim/v2", org.id);
    let token = Some(org.token.as_str());
    let name = unique("Short");
    let created = app
        .send(
            Method::POST,
            &format!("{short}/Groups"),
            token,
            Some(&json!({"displayName": name})),
            &[],
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let gid = created.body["id"].as_str().unwrap().to_owned();
    let location = created.header("location").expect("Location").to_owned();
    assert!(location.starts_with(&format!("{PUBLIC_URL}/")), "{location}");
    assert!(
        location.ends_with(&format!("/orgs/{}/scim/v2/Groups/{gid}", org.id)),
        "inside the org's base URL: {location}"
    );
    assert_eq!(created.body["meta"]["location"], location.as_str());

    let got = app
        .send(Method::GET, &format!("{short}/Groups/{gid}"), token, None, &[])
        .await;
    assert_eq!(ok(&got)["displayName"], name.as_str());
    let list = app
        .send(
            Method::GET,
            &format!(
                "{short}/Groups?filter={}",
                enc(&format!("displayName eq \"{name}\""))
            ),
            token,
            None,
            &[],
        )
        .await;
    assert_eq!(ok(&list)["totalResults"], 1);
    // The same group through the long base path.
    assert_eq!(
        Scim::new(&app, &org).get(&format!("/Groups/{gid}")).await.status,
        StatusCode::OK
    );
    // Another org's token does not open this org's short path.
    let other = app.org("shortbase-other").await;
    let foreign = app
        .send(
            Method::GET,
            &format!("{short}/Groups/{gid}"),
            Some(&other.token),
            None,
            &[],
        )
        .await;
    assert_scim_error(&foreign, 401, None);
}

#[tokio::test]
async fn resource_paths_match_case_insensitively() {
    let app = TestApp::new().await;
    let org = app.org("pathcase").await;
    let scim = Scim::new(&app, &org);
    let uid = create_user_with(&scim, json!({"userName": unique("cased")})).await;
    let created = scim
        .post("/gRoUpS", &json!({"displayName": unique("Cased")}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let gid = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(ok(&scim.get("/users").await)["totalResults"], 1);
    assert_eq!(ok(&scim.get("/USERS").await)["totalResults"], 1);
    assert_eq!(ok(&scim.get("/GROUPS").await)["totalResults"], 1);
    assert_eq!(ok(&scim.get(&format!("/groups/{gid}")).await)["id"], gid.as_str());
    assert_eq!(ok(&scim.get(&format!("/users/{uid}")).await)["id"], uid.as_str());
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
    assert_eq!(
        scim.patch(&format!("/GROUPS/{gid}"), &add).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(scim.member_ids(&gid).await, vec![uid.clone()]);
    assert_eq!(
        ok(&scim.get("/serviceproviderconfig").await)["patch"]["supported"],
        true
    );
    assert_eq!(
        scim.delete(&format!("/uSeRs/{uid}")).await.status,
        StatusCode::NO_CONTENT
    );
}

// ---------------------------------------------------------------------------------------------
// Discovery.

#[tokio::test]
async fn discovery_documents_have_their_shapes() {
    let app = TestApp::new().await;
    let org = app.org("discovery").await;
    let scim = Scim::new(&app, &org);
    let base = format!("{PUBLIC_URL}/api/orgs/{}/scim/v2", org.id);

    let config = scim.get("/ServiceProviderConfig").await;
    assert_eq!(config.header("content-type"), Some("application/scim+json"));
    let c = ok(&config);
    assert_eq!(
        c["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
    );
    assert_eq!(c["patch"]["supported"], true);
    assert_eq!(c["filter"]["supported"], true);
    assert_eq!(c["filter"]["maxResults"], 1000);
    assert_eq!(c["sort"]["supported"], true);
    assert_eq!(c["etag"]["supported"], true);
    assert_eq!(
        c["bulk"],
        json!({"supported": true, "maxOperations": 1000, "maxPayloadSize": 16_777_216})
    );
    assert_eq!(c["changePassword"]["supported"], false);
    assert!(
        c["authenticationSchemes"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );

    let types = scim.get("/ResourceTypes").await;
    let t = ok(&types);
    assert_eq!(t["schemas"], json!([LIST_SCHEMA]));
    assert_eq!(t["totalResults"], 2);
    let resources = t["Resources"].as_array().unwrap();
    let user_type = resources.iter().find(|r| r["id"] == "User").expect("User type");
    assert_eq!(user_type["endpoint"], "/Users");
    assert_eq!(user_type["schema"], USER_SCHEMA);
    assert_eq!(user_type["schemaExtensions"][0]["schema"], ENTERPRISE);
    let group_type = resources.iter().find(|r| r["id"] == "Group").expect("Group type");
    assert_eq!(group_type["endpoint"], "/Groups");
    assert_eq!(group_type["schema"], GROUP_SCHEMA);
    let one = scim.get("/ResourceTypes/User").await;
    assert_eq!(ok(&one)["name"], "User");
    assert_eq!(one.body["meta"]["location"], format!("{base}/ResourceTypes/User"));
    assert_scim_error(&scim.get("/ResourceTypes/Widget").await, 404, None);

    let schemas = scim.get("/Schemas").await;
    let s = ok(&schemas);
    assert_eq!(s["schemas"], json!([LIST_SCHEMA]));
    let schema_ids: Vec<&str> = s["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    for urn in [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE] {
        assert!(schema_ids.contains(&urn), "{urn} in {schema_ids:?}");
    }
    assert_eq!(s["totalResults"].as_u64(), Some(schema_ids.len() as u64));
    let user_schema = scim.get(&format!("/Schemas/{USER_SCHEMA}")).await;
    let u = ok(&user_schema);
    assert_eq!(u["id"], USER_SCHEMA);
    let user_name = u["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "userName")
        .expect("userName");
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["required"], true);
    assert!(
        u["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["name"] != "password"),
        "no password is advertised"
    );
    let group_schema = scim.get(&format!("/Schemas/{GROUP_SCHEMA}")).await;
    let names: Vec<&str> = ok(&group_schema)["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert!(
        names.contains(&"displayName") && names.contains(&"members"),
        "{names:?}"
    );
    assert_eq!(
        ok(&scim.get(&format!("/Schemas/{ENTERPRISE}")).await)["id"],
        ENTERPRISE
    );
    assert_scim_error(&scim.get("/Schemas/urn:example:nothing").await, 404, None);
}

#[tokio::test]
async fn me_is_not_implemented() {
    let app = TestApp::new().await;
    let org = app.org("me").await;
    let scim = Scim::new(&app, &org);
    assert_scim_error(&scim.get("/Me").await, 501, None);
    // Only after authentication.
    let anonymous = app
        .send(Method::GET, &format!("{}/Me", org.base()), None, None, &[])
        .await;
    assert_scim_error(&anonymous, 401, None);
}

// ---------------------------------------------------------------------------------------------
// Membership.

#[tokio::test]
async fn member_add_and_remove_are_idempotent() {
    let app = TestApp::new().await;
    let org = app.org("idem").await;
    let scim = Scim::new(&app, &org);
    let u1 = scim.create_user(&unique("i1")).await;
    let u2 = scim.create_user(&unique("i2")).await;
    let gid = scim.create_group(&unique("Idempotent")).await;

    let answer = add_members(&scim, &gid, &[&u1, &u1, &u2]).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert_eq!(scim.member_ids(&gid).await, sorted(vec![u1.clone(), u2.clone()]));
    let v1 = group_version(&scim, &gid).await;
    let answer = add_members(&scim, &gid, &[&u1]).await;
    assert_eq!(
        answer.status,
        StatusCode::NO_CONTENT,
        "adding a present member is not an error: {}",
        answer.text
    );
    assert_eq!(scim.member_ids(&gid).await, sorted(vec![u1.clone(), u2.clone()]));
    assert_eq!(
        group_version(&scim, &gid).await,
        v1,
        "nothing changed, so no new version"
    );

    let remove = patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{u1}\"]")}]));
    assert_eq!(
        scim.patch(&format!("/Groups/{gid}"), &remove).await.status,
        StatusCode::NO_CONTENT
    );
    let v2 = group_version(&scim, &gid).await;
    assert_ne!(v2, v1);
    let again = scim.patch(&format!("/Groups/{gid}"), &remove).await;
    assert_eq!(
        again.status,
        StatusCode::NO_CONTENT,
        "removing an absent member is not an error: {}",
        again.text
    );
    assert_eq!(scim.member_ids(&gid).await, vec![u2.clone()]);
    assert_eq!(group_version(&scim, &gid).await, v2);
}

#[tokio::test]
async fn members_must_be_users_of_this_organization() {
    let app = TestApp::new().await;
    let org = app.org("members").await;
    let other = app.org("members-other").await;
    let scim = Scim::new(&app, &org);
    let theirs = Scim::new(&app, &other).create_user(&unique("foreign")).await;
    let ours = scim.create_user(&unique("ours")).await;
    let gid = scim.create_group(&unique("Guarded Members")).await;
    let before = scim.get(&format!("/Groups/{gid}")).await.body;
    let random = uuid::Uuid::now_v7().to_string();

    for stranger in [&random, &theirs] {
        // PATCH add, alone and beside a valid member: all or nothing.
        for users in [vec![stranger.as_str()], vec![ours.as_str(), stranger.as_str()]] {
            let answer = add_members(&scim, &gid, &users).await;
            assert_scim_error(&answer, 400, Some("invalidValue"));
            assert!(
                answer.body["detail"]
                    .as_str()
                    .unwrap()
                    .contains(stranger.as_str()),
                "names the id: {}",
                answer.text
            );
        }
        // PUT with the stranger.
        let put = scim.put(&format!("/Groups/{gid}"), &json!({"displayName": before["displayName"], "members": [{"value": ours}, {"value": stranger}]})).await;
        assert_scim_error(&put, 400, Some("invalidValue"));
        assert!(put.body["detail"].as_str().unwrap().contains(stranger.as_str()));
        // Entra's replace on a filter path adds the value too.
        let replace = patch_op(json!([{"op": "replace", "path": "members", "value": [{"value": stranger}]}]));
        assert_scim_error(
            &scim.patch(&format!("/Groups/{gid}"), &replace).await,
            400,
            Some("invalidValue"),
        );
        // POST of a new group with the stranger creates nothing.
        let name = unique("Not Created");
        let post = scim
            .post(
                "/Groups",
                &json!({"displayName": name, "members": [{"value": stranger}]}),
            )
            .await;
        assert_scim_error(&post, 400, Some("invalidValue"));
        assert!(post.body["detail"].as_str().unwrap().contains(stranger.as_str()));
        assert_eq!(
            scim.count_where("/Groups", &format!("displayName eq \"{name}\""))
                .await,
            0
        );
    }
    assert_eq!(
        scim.get(&format!("/Groups/{gid}")).await.body,
        before,
        "nothing changed"
    );
    assert_eq!(scim.count_where("/Groups", "displayName pr").await, 1);
    // The other org's user is still theirs alone.
    assert_eq!(
        Scim::new(&app, &other)
            .get(&format!("/Users/{theirs}"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        scim.get(&format!("/Users/{theirs}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn deleting_a_user_removes_its_memberships() {
    let app = TestApp::new().await;
    let org = app.org("deluser").await;
    let scim = Scim::new(&app, &org);
    let leaver = scim.create_user(&unique("leaver")).await;
    let stayer = scim.create_user(&unique("stayer")).await;
    let g1 = scim.create_group(&unique("G1")).await;
    let g2 = scim.create_group(&unique("G2")).await;
    for g in [&g1, &g2] {
        assert_eq!(
            add_members(&scim, g, &[&leaver, &stayer]).await.status,
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(
        scim.count_where("/Groups", &format!("members[value eq \"{leaver}\"]"))
            .await,
        2
    );
    assert_eq!(
        scim.delete(&format!("/Users/{leaver}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        scim.get(&format!("/Users/{leaver}")).await.status,
        StatusCode::NOT_FOUND
    );
    for g in [&g1, &g2] {
        assert_eq!(scim.member_ids(g).await, vec![stayer.clone()]);
    }
    assert_eq!(
        scim.count_where("/Groups", &format!("members[value eq \"{leaver}\"]"))
            .await,
        0
    );
    assert_eq!(
        scim.count_where("/Groups", &format!("members.value eq \"{stayer}\""))
            .await,
        2
    );
    // Deleting again is a 404.
    assert_scim_error(&scim.delete(&format!("/Users/{leaver}")).await, 404, None);
}

// ---------------------------------------------------------------------------------------------
// Per-organization uniqueness.

#[tokio::test]
async fn user_name_is_unique_per_org_case_insensitively() {
    let app = TestApp::new().await;
    let acme = app.org("uname-a").await;
    let globex = app.org("uname-b").await;
    let a = Scim::new(&app, &acme);
    let b = Scim::new(&app, &globex);
    let name = unique("Dana");
    let first = a.create_user(&name).await;
    for variant in [name.clone(), name.to_uppercase(), name.to_lowercase()] {
        assert_scim_error(
            &a.post("/Users", &json!({"userName": variant})).await,
            409,
            Some("uniqueness"),
        );
    }
    assert_eq!(a.count_where("/Users", "userName pr").await, 1);
    // Another organization may have the same userName.
    let theirs = b.create_user(&name).await;
    assert_ne!(first, theirs);
    b.create_user(&format!("{name}-2")).await;
    // A rename onto a taken userName (PUT and PATCH) is a clash too, and changes nothing.
    let second = a.create_user(&format!("{name}-other")).await;
    assert_scim_error(
        &a.put(
            &format!("/Users/{second}"),
            &json!({"userName": name.to_uppercase()}),
        )
        .await,
        409,
        Some("uniqueness"),
    );
    let patch = patch_op(json!([{"op": "replace", "path": "userName", "value": name.to_lowercase()}]));
    assert_scim_error(
        &a.patch(&format!("/Users/{second}"), &patch).await,
        409,
        Some("uniqueness"),
    );
    assert_eq!(
        a.get(&format!("/Users/{second}")).await.body["userName"],
        format!("{name}-other")
    );
}

#[tokio::test]
async fn external_id_is_unique_per_org_and_exact() {
    let app = TestApp::new().await;
    let acme = app.org("ext-a").await;
    let globex = app.org("ext-b").await;
    let a = Scim::new(&app, &acme);
    let b = Scim::new(&app, &globex);
    let ext = unique("Ext");

    let first = a
        .post("/Users", &json!({"userName": unique("e1"), "externalId": ext}))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_scim_error(
        &a.post("/Users", &json!({"userName": unique("e2"), "externalId": ext}))
            .await,
        409,
        Some("uniqueness"),
    );
    let lower = a
        .post(
            "/Users",
            &json!({"userName": unique("e3"), "externalId": ext.to_lowercase()}),
        )
        .await;
    assert_eq!(
        lower.status,
        StatusCode::CREATED,
        "externalId is case-exact: {}",
        lower.text
    );
    let theirs = b
        .post("/Users", &json!({"userName": unique("e4"), "externalId": ext}))
        .await;
    assert_eq!(
        theirs.status,
        StatusCode::CREATED,
        "another org may reuse it: {}",
        theirs.text
    );
    assert_eq!(
        a.count_where("/Users", &format!("externalId eq \"{ext}\"")).await,
        1
    );

    let g = a
        .post(
            "/Groups",
            &json!({"displayName": unique("X1"), "externalId": ext}),
        )
        .await;
    assert_eq!(
        g.status,
        StatusCode::CREATED,
        "users and groups are separate: {}",
        g.text
    );
    let dup_name = unique("X2");
    assert_scim_error(
        &a.post("/Groups", &json!({"displayName": dup_name, "externalId": ext}))
            .await,
        409,
        Some("uniqueness"),
    );
    assert_eq!(
        a.count_where("/Groups", &format!("displayName eq \"{dup_name}\""))
            .await,
        0
    );
    let lower = a
        .post(
            "/Groups",
            &json!({"displayName": unique("X3"), "externalId": ext.to_lowercase()}),
        )
        .await;
    assert_eq!(lower.status, StatusCode::CREATED, "{}", lower.text);
    let theirs = b
        .post(
            "/Groups",
            &json!({"displayName": unique("X4"), "externalId": ext}),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.text);
}

// ---------------------------------------------------------------------------------------------
// `excludedAttributes=members` never reads the membership table.

#[tokio::test]
async fn excluded_members_never_touch_the_membership_table() {
    // A database of this test's own: the membership table is about to disappear.
    let (app, _url) = TestApp::own_sqlite().await;
    let org: TestOrg = app.org("hidden").await;
    let scim = Scim::new(&app, &org);
    let uid = scim.create_user(&unique("m")).await;
    let name = unique("Hidden");
    let gid = create_group_with(&scim, json!({"displayName": name, "members": [{"value": uid}]})).await;
    let filter = enc(&format!("displayName eq \"{name}\""));
    let paths = [
        format!("/Groups/{gid}"),
        format!("/Groups?filter={filter}"),
        "/Groups".to_owned(),
    ];
    for path in &paths {
        assert_eq!(scim.get(path).await.status, StatusCode::OK, "sanity: {path}");
    }

    let conn = app.sql_connection().await;
    conn.execute_raw(Statement::from_string(
        conn.get_database_backend(),
        "ALTER TABLE group_members RENAME TO gm_hidden",
    ))
    .await
    .expect("rename the membership table");

    for path in &paths {
        let sep = if path.contains('?') { '&' } else { '?' };
        let excluded = scim.get(&format!("{path}{sep}excludedAttributes=members")).await;
        assert_eq!(
            excluded.status,
            StatusCode::OK,
            "{path} with members excluded: {}",
            excluded.text
        );
        assert!(!excluded.text.contains("\"members\""), "{}", excluded.text);
        let with_members = scim.get(path).await;
        assert_ne!(
            with_members.status,
            StatusCode::OK,
            "{path} must need the membership table: {}",
            with_members.text
        );
    }
    let only = scim.get(&format!("/Groups/{gid}?attributes=displayName")).await;
    assert_eq!(
        only.status,
        StatusCode::OK,
        "attributes without members: {}",
        only.text
    );
}

// ---------------------------------------------------------------------------------------------
// Details of the wire format.

#[tokio::test]
async fn filter_values_with_quotes_and_like_wildcards_match_literally() {
    let app = TestApp::new().await;
    let org = app.org("literal").await;
    let scim = Scim::new(&app, &org);
    let p = unique("lit");
    let underscore = scim.create_user(&format!("{p}-a_b")).await;
    let _plain = scim.create_user(&format!("{p}-axb")).await;
    let percent = scim.create_user(&format!("{p}-100%")).await;
    let _hundred = scim.create_user(&format!("{p}-1000")).await;
    let backslash = scim.create_user(&format!("{p}-back\\slash")).await;
    let find = |filter: String| {
        let scim = &scim;
        async move { sorted(ids(&scim.get(&format!("/Users?filter={}", enc(&filter))).await)) }
    };
    assert_eq!(
        find("userName co \"a_b\"".into()).await,
        vec![underscore.clone()],
        "_ is not a wildcard"
    );
    assert_eq!(
        find("userName ew \"0%\"".into()).await,
        vec![percent.clone()],
        "% is not a wildcard"
    );
    assert_eq!(
        find("userName co \"k\\\\s\"".into()).await,
        vec![backslash.clone()],
        "a backslash is itself"
    );
    assert_eq!(
        find(format!("userName eq \"{p}-back\\\\slash\"")).await,
        vec![backslash]
    );

    let quoted = format!("{p} say \"hi\"");
    let gid = scim.create_group(&quoted).await;
    let filter = format!("displayName eq {}", serde_json::to_string(&quoted).unwrap());
    assert_eq!(
        ids(&scim.get(&format!("/Groups?filter={}", enc(&filter))).await),
        vec![gid]
    );
}

#[tokio::test]
async fn group_patch_answers_204_unless_attributes_are_asked_for() {
    let app = TestApp::new().await;
    let org = app.org("patch204").await;
    let scim = Scim::new(&app, &org);
    let uid = scim.create_user(&unique("p")).await;
    let gid = scim.create_group(&unique("Answered")).await;
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
    let answer = scim.patch(&format!("/Groups/{gid}"), &add).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert!(answer.text.is_empty());
    let rename = unique("Answered Again");
    let op = patch_op(json!([{"op": "replace", "path": "displayName", "value": rename}]));
    let answer = scim
        .patch(&format!("/Groups/{gid}?attributes=displayName,members"), &op)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["displayName"], rename.as_str());
    assert_eq!(answer.body["members"][0]["value"], uid.as_str());
    let current = scim.get(&format!("/Groups/{gid}")).await;
    assert_eq!(answer.header("etag"), current.header("etag"));
    let members_only = scim.get(&format!("/Groups/{gid}?attributes=members.value")).await;
    assert_eq!(ok(&members_only)["members"], json!([{"value": uid}]));
}

#[tokio::test]
async fn writes_answer_their_etag_and_json_content_type_is_accepted() {
    let app = TestApp::new().await;
    let org = app.org("writes").await;
    let scim = Scim::new(&app, &org);
    // `application/json` is accepted as well; the answer is always `application/scim+json`.
    let request = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("{}/Groups", org.base()))
        .header("authorization", format!("Bearer {}", org.token))
        .header("content-type", "application/json; charset=utf-8")
        .header("accept", "application/json")
        .body(axum::body::Body::from(
            json!({"displayName": unique("Plain Json")}).to_string(),
        ))
        .unwrap();
    let created = app.raw(request).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.header("content-type"), Some("application/scim+json"));
    assert_eq!(
        created.header("etag"),
        created.body["meta"]["version"].as_str(),
        "201 carries the ETag"
    );
    let gid = created.body["id"].as_str().unwrap().to_owned();
    let put = scim
        .put(
            &format!("/Groups/{gid}"),
            &json!({"displayName": unique("Plain Json 2")}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(put.header("etag"), put.body["meta"]["version"].as_str());
    assert_ne!(put.header("etag"), created.header("etag"));
    let user = scim.post("/Users", &json!({"userName": unique("tagged")})).await;
    assert_eq!(user.header("etag"), user.body["meta"]["version"].as_str());
}

#[tokio::test]
async fn nulls_are_unassigned_and_read_only_attributes_are_ignored() {
    let app = TestApp::new().await;
    let org = app.org("nulls").await;
    let scim = Scim::new(&app, &org);
    let user_name = unique("nully");
    let created = scim
        .post(
            "/Users",
            &json!({"id": "chosen-by-client", "meta": {"version": "W/\"77\"", "created": "2001-01-01T00:00:00Z"},
                    "userName": user_name, "displayName": null, "emails": null, "name": null, "active": null,
                    "externalId": null, "groups": [{"value": "x"}]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let uid = created.body["id"].as_str().unwrap().to_owned();
    assert_ne!(uid, "chosen-by-client");
    assert_eq!(created.body["meta"]["version"], "W/\"1\"");
    assert_ne!(created.body["meta"]["created"], "2001-01-01T00:00:00Z");
    assert!(
        created.body["active"].as_bool().unwrap_or(true),
        "unassigned active is active"
    );
    for gone in ["displayName", "emails", "name", "externalId", "groups"] {
        assert!(
            created.body.get(gone).is_none_or(Value::is_null),
            "{gone}: {}",
            created.text
        );
    }
    let group = scim
        .post(
            "/Groups",
            &json!({"id": "mine", "displayName": unique("Nulls"), "externalId": null, "members": null}),
        )
        .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.text);
    let gid = group.body["id"].as_str().unwrap().to_owned();
    assert_ne!(gid, "mine");
    // A PUT carrying another id (and meta) replaces this resource, not that one.
    let put = scim.put(&format!("/Groups/{gid}"), &json!({"id": "other", "meta": {"resourceType": "User"}, "displayName": unique("Nulls 2"), "members": [{"value": uid}]})).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert_eq!(put.body["id"], gid.as_str());
    assert_eq!(put.body["meta"]["resourceType"], "Group");
    // Null in PATCH clears.
    let set = patch_op(json!([{"op": "replace", "path": "externalId", "value": "ext-n"}]));
    assert_eq!(
        scim.patch(&format!("/Groups/{gid}"), &set).await.status,
        StatusCode::NO_CONTENT
    );
    let clear = patch_op(json!([{"op": "replace", "path": "externalId", "value": null}]));
    assert_eq!(
        scim.patch(&format!("/Groups/{gid}"), &clear).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(
        scim.get(&format!("/Groups/{gid}"))
            .await
            .body
            .get("externalId")
            .is_none()
    );
    let user_clear = patch_op(json!([{"op": "replace", "value": {"displayName": null, "nickName": "nick"}}]));
    let answer = scim.patch(&format!("/Users/{uid}"), &user_clear).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["nickName"], "nick");
}

#[tokio::test]
async fn a_patch_that_fails_late_applies_none_of_its_operations() {
    let app = TestApp::new().await;
    let org = app.org("atomic").await;
    let scim = Scim::new(&app, &org);
    let taken = unique("Taken");
    scim.create_group(&taken).await;
    let gid = scim.create_group(&unique("Atomic")).await;
    let uid = scim.create_user(&unique("atomic")).await;
    let other_user = unique("other-user");
    scim.create_user(&other_user).await;
    let before_group = scim.get(&format!("/Groups/{gid}")).await.body;
    let before_user = scim.get(&format!("/Users/{uid}")).await.body;

    // The membership change and external id would succeed; the rename collides in the database.
    let patch = patch_op(json!([
        {"op": "add", "path": "members", "value": [{"value": uid}]},
        {"op": "replace", "path": "externalId", "value": "atomic-ext"},
        {"op": "replace", "path": "displayName", "value": taken.to_uppercase()}
    ]));
    assert_scim_error(
        &scim.patch(&format!("/Groups/{gid}"), &patch).await,
        409,
        Some("uniqueness"),
    );
    assert_eq!(scim.get(&format!("/Groups/{gid}")).await.body, before_group);
    assert_eq!(
        scim.count_where("/Groups", &format!("members[value eq \"{uid}\"]"))
            .await,
        0
    );

    let patch = patch_op(json!([
        {"op": "replace", "path": "active", "value": false},
        {"op": "replace", "path": "userName", "value": other_user.to_uppercase()}
    ]));
    assert_scim_error(
        &scim.patch(&format!("/Users/{uid}"), &patch).await,
        409,
        Some("uniqueness"),
    );
    assert_eq!(scim.get(&format!("/Users/{uid}")).await.body, before_user);
    // Plus-encoded spaces in a query string are spaces.
    let plus = scim
        .get(&format!(
            "/Users?filter=userName+eq+%22{}%22&foo=bar",
            other_user.to_uppercase()
        ))
        .await;
    assert_eq!(ok(&plus)["totalResults"], 1);
}

#[tokio::test]
async fn absent_sort_values_come_last_on_every_backend() {
    let app = TestApp::new().await;
    let org = app.org("nulls-last").await;
    let scim = Scim::new(&app, &org);
    let without = scim.create_group(&unique("No External Id")).await;
    for external in ["b-ext", "a-ext"] {
        let created = scim
            .post(
                "/Groups",
                &json!({"displayName": unique("With External Id"), "externalId": external}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED);
    }
    for order in ["ascending", "descending"] {
        let page = scim
            .get(&format!(
                "/Groups?sortBy=externalId&sortOrder={order}&excludedAttributes=members"
            ))
            .await;
        let ids: Vec<Value> = page.body["Resources"]
            .as_array()
            .expect("list")
            .iter()
            .map(|r| r["externalId"].clone())
            .collect();
        let expected = if order == "ascending" {
            ["a-ext", "b-ext"]
        } else {
            ["b-ext", "a-ext"]
        };
        assert_eq!(
            ids[..2],
            [json!(expected[0]), json!(expected[1])],
            "{order}: {ids:?}"
        );
        assert_eq!(
            page.body["Resources"][2]["id"],
            without.as_str(),
            "{order}: the group without externalId comes last"
        );
    }
}

#[tokio::test]
async fn root_search_pages_users_then_groups_as_one_list() {
    let app = TestApp::new().await;
    let org = app.org("root-search").await;
    let scim = Scim::new(&app, &org);
    let users = [
        scim.create_user(&unique("searcher")).await,
        scim.create_user(&unique("searcher")).await,
    ];
    let groups = [
        scim.create_group(&unique("Searched")).await,
        scim.create_group(&unique("Searched")).await,
    ];

    let page = |start: u64, count: u64| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "startIndex": start, "count": count, "excludedAttributes": ["members"]})
    };
    let first = scim.post("/.search", &page(1, 3)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.body["totalResults"], 4);
    let ids: Vec<&str> = first.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids, [users[0].as_str(), users[1].as_str(), groups[0].as_str()]);
    let second = scim.post("/.search", &page(4, 3)).await;
    let ids: Vec<&str> = second.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids, [groups[1].as_str()]);

    // A filter only Users understand matches no Groups; one neither understands is a 400.
    let by_user = scim
        .post("/.search", &json!({"filter": "userName sw \"searcher\""}))
        .await;
    assert_eq!(by_user.body["totalResults"], 2, "{}", by_user.text);
    let neither = scim
        .post("/.search", &json!({"filter": "nickName eq \"x\""}))
        .await;
    assert_scim_error(&neither, 400, Some("invalidFilter"));

    // The per-type form stays per type.
    let only_groups = scim.post("/Groups/.search", &json!({"startIndex": 1})).await;
    assert_eq!(only_groups.body["totalResults"], 2, "{}", only_groups.text);
}
