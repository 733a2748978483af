//! Cursor paging (RFC 9865, design §2): a cursor is a signed keyset position, so paging through a
//! list while rows are inserted and deleted elsewhere shows every row that stayed exactly once;
//! previousCursor walks back the same pages; a cursor only works for the organization, endpoint,
//! filter, sort and count that issued it, for an hour, and on every replica of the instance.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::StatusCode;
use common::{Answer, Scim, TestApp, TestOrg, assert_scim_error, enc, short_prefix};
use sea_orm::ConnectionTrait;
use serde_json::json;

use scimgate::catalog::cursor::CursorKey;
use scimgate::config::ServeArgs;

const CURSOR_KEY: &str = "cursor-key-for-tests-0123456789abcdef";

/// Inserts groups `{prefix}1` … `{prefix}{count}` of `org_id` with one statement: display names
/// `{prefix}G{n}` (unique instance-wide), and an externalId (in another order than names and ids)
/// for two rows of three, none for the third. Answers their ids.
async fn seed_groups(app: &TestApp, org_id: i64, prefix: &str, count: usize) -> Vec<String> {
    let sql = format!(
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {count}) \
         INSERT INTO idp_groups (id, org_id, display_name, display_key, display_key_version, \
         external_id, source, created_at, updated_at, version) \
         SELECT '{prefix}' || n, {org_id}, '{prefix}G' || n, '{prefix}g' || n, 1, \
         CASE WHEN n % 3 = 0 THEN NULL ELSE '{prefix}x' || ((n * 37) % 101) || '-' || n END, 'SCIM', n, n, 1 FROM s"
    );
    let done = app
        .sql_connection()
        .await
        .execute_unprepared(&sql)
        .await
        .expect("seed groups");
    assert_eq!(done.rows_affected(), count as u64);
    (1..=count).map(|n| format!("{prefix}{n}")).collect()
}

/// One page as answered.
#[derive(Debug, Clone, PartialEq)]
struct Page {
    ids: Vec<String>,
    next: Option<String>,
    previous: Option<String>,
    total: Option<u64>,
}

fn page_of(answer: &Answer) -> Page {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let body = &answer.body;
    assert!(
        body.get("startIndex").is_none(),
        "no startIndex on a cursor page: {}",
        answer.text
    );
    let ids: Vec<String> = body["Resources"]
        .as_array()
        .expect("Resources")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(body["itemsPerPage"].as_u64(), Some(ids.len() as u64));
    let text = |name: &str| {
        body.get(name)
            .map(|c| c.as_str().expect("a string cursor").to_owned())
    };
    Page {
        ids,
        next: text("nextCursor"),
        previous: text("previousCursor"),
        total: body["totalResults"].as_u64(),
    }
}

/// GET `path?query&cursor=…` as one page.
async fn get_page(scim: &Scim<'_>, path: &str, query: &str, cursor: &str) -> Page {
    page_of(&scim.get(&format!("{path}?{query}&cursor={cursor}")).await)
}

/// Every page of `path?query`, from the first (an empty cursor) along nextCursor.
async fn forward(scim: &Scim<'_>, path: &str, query: &str) -> Vec<Page> {
    let mut pages = vec![get_page(scim, path, query, "").await];
    assert_eq!(pages[0].previous, None, "the first page has no previousCursor");
    while let Some(next) = pages.last().and_then(|p| p.next.clone()) {
        pages.push(get_page(scim, path, query, &next).await);
        assert!(pages.len() < 10_000, "paging does not end");
    }
    pages
}

fn all_ids(pages: &[Page]) -> Vec<String> {
    pages.iter().flat_map(|p| p.ids.clone()).collect()
}

/// The whole list in one index-paged answer (the order cursor pages must follow).
async fn whole_list(scim: &Scim<'_>, path: &str, query: &str) -> Vec<String> {
    let answer = scim.get(&format!("{path}?{query}&count=1000")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["startIndex"], 1, "index paging is the default");
    answer.body["Resources"]
        .as_array()
        .expect("Resources")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

async fn app_with_cursor_key(url: &str) -> TestApp {
    TestApp::with(
        url,
        ServeArgs {
            public_url: Some(common::PUBLIC_URL.into()),
            cursor_key: Some(scimgate::config::Secret(CURSOR_KEY.into())),
            ..ServeArgs::default()
        },
    )
    .await
}

/// Deletes every 7th seeded group (alternating from either end of the list, so rows behind and
/// ahead of the pages go) and creates new ones until `stop`, as an IdP's push would meanwhile.
/// Answers the ids it deleted and how many groups it created.
async fn churn(
    app: TestApp,
    org: TestOrg,
    seeded: Vec<String>,
    stop: Arc<AtomicBool>,
) -> (HashSet<String>, usize) {
    let scim = Scim::new(&app, &org);
    let mut victims: Vec<&String> = seeded.iter().step_by(7).collect();
    let mut deleted = HashSet::new();
    let mut created = 0;
    let mut from_front = true;
    while !stop.load(Ordering::SeqCst) && !victims.is_empty() {
        let victim = if from_front {
            victims.remove(0)
        } else {
            victims.pop().expect("not empty")
        };
        from_front = !from_front;
        let answer = scim.delete(&format!("/Groups/{victim}")).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
        deleted.insert(victim.clone());
        // New names sort among the seeded ones: before, between and after them.
        let name = format!("{}G{}n{created}", &seeded[0][..seeded[0].len() - 1], created % 10);
        scim.create_group(&name).await;
        created += 1;
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    (deleted, created)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_10000_groups_while_others_come_and_go_shows_every_remaining_group_exactly_once() {
    // The pages and the churn together are more requests than one organization's default rate.
    let app = TestApp::with(
        &common::database_url(),
        ServeArgs {
            public_url: Some(common::PUBLIC_URL.into()),
            org_rate_limit: 100_000,
            org_burst: 100_000,
            ..ServeArgs::default()
        },
    )
    .await;
    let org = app.org("cursor-churn").await;
    let scim = Scim::new(&app, &org);
    let prefix = short_prefix();
    let seeded = seed_groups(&app, org.id, &prefix, 10_000).await;

    let stop = Arc::new(AtomicBool::new(false));
    let churning = tokio::spawn(churn(app.clone(), org.clone(), seeded.clone(), stop.clone()));
    let query = "sortBy=displayName&count=250&excludedAttributes=members";
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page = get_page(&scim, "/Groups", query, &cursor).await;
        pages += 1;
        for id in page.ids {
            *seen.entry(id).or_default() += 1;
        }
        // Give the churn a turn between pages, so every page is read on a changed list.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        match page.next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    stop.store(true, Ordering::SeqCst);
    let (deleted, created) = churning.await.expect("churn task");
    println!(
        "{pages} pages; {} deleted and {created} created meanwhile",
        deleted.len()
    );
    assert!(
        deleted.len() >= 10 && created >= 10,
        "the list must change while it is paged ({} deleted, {created} created)",
        deleted.len()
    );

    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "rows seen more than once: {twice:?}");
    let missed: Vec<_> = seeded
        .iter()
        .filter(|id| !deleted.contains(*id) && !seen.contains_key(*id))
        .collect();
    assert!(
        missed.is_empty(),
        "{} remaining rows never seen, e.g. {:?}",
        missed.len(),
        &missed[..missed.len().min(5)]
    );
}

#[tokio::test]
async fn cursor_pages_follow_each_sort_order_and_previous_cursor_walks_them_back() {
    let app = TestApp::new().await;
    let org = app.org("cursor-order").await;
    let scim = Scim::new(&app, &org);
    let prefix = short_prefix();
    seed_groups(&app, org.id, &prefix, 95).await;

    for sort in [
        "sortBy=displayName",
        "sortBy=displayName&sortOrder=descending",
        // A third have no externalId: the trailing run of absent values (ordered by id), in both
        // directions.
        "sortBy=externalId",
        "sortBy=externalId&sortOrder=descending",
        "sortBy=meta.created&sortOrder=descending",
        "sortBy=id",
        "",
    ] {
        let query = format!("{sort}&excludedAttributes=members");
        let whole = whole_list(&scim, "/Groups", &query).await;
        assert_eq!(whole.len(), 95);
        let query = format!("{query}&count=10");
        let pages = forward(&scim, "/Groups", &query).await;
        assert_eq!(all_ids(&pages), whole, "forward pages in the order of {sort:?}");
        assert_eq!(pages.len(), 10);
        assert!(
            pages.iter().all(|p| p.total == Some(95)),
            "totalResults on every page"
        );
        assert!(pages[1..].iter().all(|p| p.previous.is_some()), "{sort}");
        assert_eq!(
            pages.last().and_then(|p| p.next.clone()),
            None,
            "none after the last page"
        );

        // From the last page back to the first, each previousCursor gives the page before.
        let mut back = pages.last().cloned().expect("a last page");
        for expected in pages.iter().rev().skip(1) {
            let previous = back.previous.clone().expect("a previousCursor");
            back = get_page(&scim, "/Groups", &query, &previous).await;
            assert_eq!(back.ids, expected.ids, "previous page in the order of {sort:?}");
        }
        assert_eq!(
            back.previous, None,
            "the first page, reached backward, has no previousCursor"
        );
        // And forward again from a page reached backward.
        let next = back.next.clone().expect("a nextCursor");
        assert_eq!(get_page(&scim, "/Groups", &query, &next).await.ids, pages[1].ids);
    }
}

#[tokio::test]
async fn groups_and_users_page_with_members_and_through_search_posts() {
    let app = TestApp::new().await;
    let org = app.org("cursor-kinds").await;
    let scim = Scim::new(&app, &org);
    let member = scim.create_user(&common::unique("member")).await;
    let group = scim.create_group(&common::unique("with-member")).await;
    let added = scim
        .patch(
            &format!("/Groups/{group}"),
            &common::patch_op(json!([{"op": "add", "path": "members", "value": [{"value": member}]}])),
        )
        .await;
    assert_eq!(added.status, StatusCode::NO_CONTENT, "{}", added.text);
    for i in 0..4 {
        scim.create_group(&common::unique(&format!("plain{i}"))).await;
        scim.create_user(&common::unique(&format!("user{i}"))).await;
    }

    // Members stream as on index pages.
    let pages = forward(&scim, "/Groups", "count=2").await;
    assert_eq!(pages.len(), 3);
    let first = scim.get("/Groups?count=2&cursor=").await;
    let with_members = first.body["Resources"]
        .as_array()
        .expect("Resources")
        .iter()
        .find(|g| g["id"] == group.as_str())
        .expect("the first group, by id");
    assert_eq!(common::member_ids_of(with_members), vec![member.clone()]);

    let users = forward(&scim, "/Users", "count=2&sortBy=userName").await;
    assert_eq!(
        all_ids(&users),
        whole_list(&scim, "/Users", "sortBy=userName").await
    );
    assert_eq!(users.len(), 3);

    // POST …/.search takes the cursor in its body.
    let mut cursor = json!("");
    let mut ids = Vec::new();
    loop {
        let answer = scim
            .post(
                "/Users/.search",
                &json!({"sortBy": "userName", "count": 2, "cursor": cursor}),
            )
            .await;
        let page = page_of(&answer);
        ids.extend(page.ids);
        match page.next {
            Some(next) => cursor = json!(next),
            None => break,
        }
    }
    assert_eq!(ids, all_ids(&users));
    // A cursor of GET /Users serves POST /Users/.search with the same parameters.
    let next = users[0].next.clone().expect("a next page");
    let answer = scim
        .post(
            "/Users/.search",
            &json!({"sortBy": "userName", "count": 2, "cursor": next}),
        )
        .await;
    assert_eq!(page_of(&answer).ids, users[1].ids);
}

#[tokio::test]
async fn a_search_at_the_root_pages_through_users_then_groups_in_both_directions() {
    let app = TestApp::new().await;
    let org = app.org("cursor-search").await;
    let scim = Scim::new(&app, &org);
    let prefix = short_prefix();
    let groups = seed_groups(&app, org.id, &prefix, 23).await;
    let users = common::seed_users(&app.sql_connection().await, org.id, &prefix, 17).await;

    let search = |cursor: &str| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
               "sortBy": "id", "count": 5, "cursor": cursor})
    };
    let mut pages = vec![page_of(&scim.post("/.search", &search("")).await)];
    while let Some(next) = pages.last().and_then(|p| p.next.clone()) {
        pages.push(page_of(&scim.post("/.search", &search(&next)).await));
    }
    let mut users_sorted = users.clone();
    users_sorted.sort();
    let mut groups_sorted = groups.clone();
    groups_sorted.sort();
    let expected: Vec<String> = users_sorted.into_iter().chain(groups_sorted).collect();
    assert_eq!(all_ids(&pages), expected, "every user, then every group, once");
    assert_eq!(pages.len(), 8);
    assert!(pages.iter().all(|p| p.total == Some(40)));
    // The page that holds the last users and the first groups, and the pages around it.
    assert_eq!(pages[3].ids.len(), 5);

    let mut back = pages.last().cloned().expect("a last page");
    for expected in pages.iter().rev().skip(1) {
        let previous = back.previous.clone().expect("a previousCursor");
        back = page_of(&scim.post("/.search", &search(&previous)).await);
        assert_eq!(back.ids, expected.ids);
    }
    assert_eq!(back.previous, None);

    // A filter only Users understand pages the users alone.
    let only_users = json!({"filter": format!("userName sw \"{prefix}\""), "count": 10, "cursor": ""});
    let page = page_of(&scim.post("/.search", &only_users).await);
    assert_eq!((page.ids.len(), page.total), (10, Some(17)));
}

#[tokio::test]
async fn a_cursor_is_refused_for_another_filter_sort_count_endpoint_or_organization() {
    let app = TestApp::new().await;
    let org = app.org("cursor-bound").await;
    let other = app.org("cursor-other").await;
    let scim = Scim::new(&app, &org);
    let prefix = short_prefix();
    seed_groups(&app, org.id, &prefix, 12).await;
    seed_groups(&app, other.id, &short_prefix(), 12).await;
    let filter = format!("filter={}", enc(&format!("displayName sw \"{prefix}\"")));
    let query = format!("{filter}&sortBy=displayName&count=5");
    let first = get_page(&scim, "/Groups", &query, "").await;
    let cursor = first.next.clone().expect("a second page");
    assert_eq!(
        get_page(&scim, "/Groups", &query, &cursor).await.ids.len(),
        5,
        "positive control"
    );

    let refused = |answer: Answer, why: &str| {
        assert_scim_error(&answer, 400, Some("invalidCursor"));
        assert!(!answer.text.contains(&cursor), "{why}: the cursor is not echoed");
    };
    let other_filter = format!(
        "filter={}&sortBy=displayName&count=5",
        enc("displayName sw \"s\"")
    );
    refused(
        scim.get(&format!("/Groups?{other_filter}&cursor={cursor}")).await,
        "filter",
    );
    refused(
        scim.get(&format!("/Groups?sortBy=displayName&count=5&cursor={cursor}"))
            .await,
        "no filter",
    );
    refused(
        scim.get(&format!(
            "/Groups?{filter}&sortBy=externalId&count=5&cursor={cursor}"
        ))
        .await,
        "sortBy",
    );
    refused(
        scim.get(&format!(
            "/Groups?{filter}&sortBy=displayName&sortOrder=descending&count=5&cursor={cursor}"
        ))
        .await,
        "sortOrder",
    );
    refused(
        scim.get(&format!("/Users?{query}&cursor={cursor}")).await,
        "another endpoint",
    );
    refused(
        scim.post("/.search", &json!({"filter": format!("displayName sw \"{prefix}\""), "sortBy": "displayName", "count": 5, "cursor": cursor}))
            .await,
        "the root search",
    );
    let foreign = Scim::new(&app, &other);
    refused(
        foreign.get(&format!("/Groups?{query}&cursor={cursor}")).await,
        "another organization",
    );

    // RFC 9865 §2.1: the count must stay that of the first page.
    let recounted = scim
        .get(&format!(
            "/Groups?{filter}&sortBy=displayName&count=6&cursor={cursor}"
        ))
        .await;
    assert_scim_error(&recounted, 400, Some("invalidCount"));
}

#[tokio::test]
async fn an_altered_or_made_up_cursor_is_an_invalid_cursor() {
    let app = TestApp::new().await;
    let org = app.org("cursor-tamper").await;
    let scim = Scim::new(&app, &org);
    seed_groups(&app, org.id, &short_prefix(), 6).await;
    let cursor = get_page(&scim, "/Groups", "count=2", "")
        .await
        .next
        .expect("a next page");
    assert_eq!(
        get_page(&scim, "/Groups", "count=2", &cursor).await.ids.len(),
        2,
        "positive control"
    );
    for i in [0, cursor.len() / 2, cursor.len() - 2] {
        let mut chars: Vec<char> = cursor.chars().collect();
        chars[i] = if chars[i] == 'x' { 'y' } else { 'x' };
        let altered: String = chars.into_iter().collect();
        assert_scim_error(
            &scim.get(&format!("/Groups?count=2&cursor={altered}")).await,
            400,
            Some("invalidCursor"),
        );
    }
    for junk in ["abc", "A_-~.9", &cursor[..cursor.len() - 4]] {
        assert_scim_error(
            &scim.get(&format!("/Groups?count=2&cursor={junk}")).await,
            400,
            Some("invalidCursor"),
        );
    }
    // Outside the unreserved characters: refused before anything is decoded.
    assert_scim_error(
        &scim
            .get(&format!("/Groups?count=2&cursor={}", enc("a b/c")))
            .await,
        400,
        Some("invalidCursor"),
    );
}

#[tokio::test]
async fn a_cursor_with_a_start_index_is_an_invalid_value() {
    let app = TestApp::new().await;
    let org = app.org("cursor-index").await;
    let scim = Scim::new(&app, &org);
    for path in ["/Groups?cursor=&startIndex=1", "/Users?startIndex=2&cursor"] {
        assert_scim_error(&scim.get(path).await, 400, Some("invalidValue"));
    }
    let search = json!({"cursor": "", "startIndex": 1});
    assert_scim_error(&scim.post("/.search", &search).await, 400, Some("invalidValue"));
    assert_scim_error(
        &scim.post("/Groups/.search", &search).await,
        400,
        Some("invalidValue"),
    );
    // Positive control: either alone is fine.
    assert_eq!(scim.get("/Groups?cursor=").await.status, StatusCode::OK);
    assert_eq!(scim.get("/Groups?startIndex=1").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_configured_key_signs_cursors_and_an_hour_old_cursor_is_expired() {
    let url = common::database_url();
    let app = app_with_cursor_key(&url).await;
    let org = app.org("cursor-key").await;
    let scim = Scim::new(&app, &org);
    seed_groups(&app, org.id, &short_prefix(), 6).await;
    let cursor = get_page(&scim, "/Groups", "count=2", "")
        .await
        .next
        .expect("a next page");

    // Signed with SCIMGATE_CURSOR_KEY: that key verifies it, so it can restamp it.
    let key = CursorKey::new(CURSOR_KEY.as_bytes());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let fresh = key
        .restamp(&cursor, now - 60)
        .expect("signed with the configured key");
    assert_eq!(get_page(&scim, "/Groups", "count=2", &fresh).await.ids.len(), 2);
    let old = key
        .restamp(&cursor, now - 3601)
        .expect("signed with the configured key");
    assert_scim_error(
        &scim.get(&format!("/Groups?count=2&cursor={old}")).await,
        400,
        Some("expiredCursor"),
    );

    // A replica without the key (it signs with the database's) refuses it, and the other way round.
    let keyless = app.sibling(ServeArgs::default()).await;
    let on_keyless = Scim::new(&keyless, &org);
    assert_scim_error(
        &on_keyless.get(&format!("/Groups?count=2&cursor={cursor}")).await,
        400,
        Some("invalidCursor"),
    );
    let stored = get_page(&on_keyless, "/Groups", "count=2", "")
        .await
        .next
        .expect("a next page");
    assert!(
        key.restamp(&stored, now).is_err(),
        "not signed with the configured key"
    );
    assert_scim_error(
        &scim.get(&format!("/Groups?count=2&cursor={stored}")).await,
        400,
        Some("invalidCursor"),
    );
}

#[tokio::test]
async fn replicas_on_one_database_accept_each_others_cursors_with_the_generated_key() {
    let app = TestApp::new().await;
    let replica = app.sibling(ServeArgs::default()).await;
    let org = app.org("cursor-replicas").await;
    let prefix = short_prefix();
    seed_groups(&app, org.id, &prefix, 30).await;
    let on = [Scim::new(&app, &org), Scim::new(&replica, &org)];
    let query = "sortBy=displayName&count=7";
    let whole = whole_list(&on[0], "/Groups", "sortBy=displayName").await;

    let mut ids = Vec::new();
    let mut cursor = String::new();
    for turn in 0.. {
        let page = get_page(&on[turn % 2], "/Groups", query, &cursor).await;
        ids.extend(page.ids);
        match page.next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert_eq!(ids, whole, "pages alternating between replicas");

    // The key is the instance's, kept by the database: written once, by the first replica that
    // needed it.
    let keys = stored_keys(&app).await;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].len(), 64, "256 bits, as hex");
}

/// The cursor keys the database holds.
async fn stored_keys(app: &TestApp) -> Vec<String> {
    let conn = app.sql_connection().await;
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT value FROM instance_secrets WHERE name = 'cursor_key'",
        ))
        .await
        .expect("instance secrets");
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).expect("text"))
        .collect()
}

/// On a new database no key exists until a replica needs one (the migration writes none): two
/// replicas asking for their first cursors at the same moment each write a candidate, the
/// database keeps one, and each accepts the other's cursors.
#[tokio::test]
async fn replicas_racing_to_create_the_key_end_up_with_the_same_one() {
    let url = if common::on_postgres() {
        common::process::fresh_postgres_database(&common::database_url(), "scimgate_cursor_key").await
    } else {
        common::sqlite_url()
    };
    let app = TestApp::with(
        &url,
        ServeArgs {
            public_url: Some(common::PUBLIC_URL.into()),
            ..ServeArgs::default()
        },
    )
    .await;
    let replica = app.sibling(ServeArgs::default()).await;
    assert_eq!(
        stored_keys(&app).await,
        Vec::<String>::new(),
        "no key before one is needed"
    );
    let org = app.org("cursor-race").await;
    seed_groups(&app, org.id, &short_prefix(), 6).await;
    let on = [Scim::new(&app, &org), Scim::new(&replica, &org)];

    let (here, there) = tokio::join!(
        get_page(&on[0], "/Groups", "count=2", ""),
        get_page(&on[1], "/Groups", "count=2", "")
    );
    let (here, there) = (here.next.expect("a next page"), there.next.expect("a next page"));
    assert_eq!(get_page(&on[1], "/Groups", "count=2", &here).await.ids.len(), 2);
    assert_eq!(get_page(&on[0], "/Groups", "count=2", &there).await.ids.len(), 2);
    assert_eq!(stored_keys(&app).await.len(), 1);
}

#[tokio::test]
async fn the_service_provider_config_advertises_cursor_and_index_paging() {
    let app = TestApp::new().await;
    let org = app.org("cursor-spc").await;
    let answer = Scim::new(&app, &org).get("/ServiceProviderConfig").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        answer.body["pagination"],
        json!({"cursor": true, "index": true, "defaultPaginationMethod": "index",
               "defaultPageSize": 1000, "maxPageSize": 1000, "cursorTimeout": 3600})
    );
    // Without a cursor parameter, lists page by index as before.
    let list = Scim::new(&app, &org).get("/Groups").await;
    assert_eq!(list.body["startIndex"], 1, "{}", list.text);
    assert!(list.body.get("nextCursor").is_none());
}

#[tokio::test]
async fn an_empty_list_has_no_cursors_and_count_zero_answers_the_total() {
    let app = TestApp::new().await;
    let org = app.org("cursor-empty").await;
    let scim = Scim::new(&app, &org);
    let empty = get_page(&scim, "/Groups", "count=5", "").await;
    assert_eq!(
        empty,
        Page {
            ids: vec![],
            next: None,
            previous: None,
            total: Some(0)
        }
    );
    seed_groups(&app, org.id, &short_prefix(), 3).await;
    let counted = get_page(&scim, "/Groups", "count=0", "").await;
    assert_eq!(
        counted,
        Page {
            ids: vec![],
            next: None,
            previous: None,
            total: Some(3)
        }
    );
    let exact = get_page(&scim, "/Groups", "count=3", "").await;
    assert_eq!(
        (exact.ids.len(), exact.next, exact.total),
        (3, None, Some(3)),
        "a full last page has no nextCursor"
    );
}
