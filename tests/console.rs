//! The owner console's server side (design §2 "Owner console"): the compiled-in assets and their
//! security headers, `GET /api/me`, and the audit trail's `teamId` filter the Teams page reads.
//! The pages themselves are driven in a real browser by `tests/console_browser.rs`.

mod common;

use axum::http::{Method, StatusCode};
use common::{OrgAdmin, TestApp, admin_jwt, instance_admin_jwt, owner_jwt, reader_jwt, unique};
use serde_json::json;

/// The console's files: the page and every module its scripts import, found by reading them.
async fn console_files(app: &TestApp) -> Vec<(String, String)> {
    let mut files = vec![];
    let mut pending = vec!["index.html".to_owned()];
    while let Some(name) = pending.pop() {
        if files.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let answer = app
            .admin_send(Method::GET, &format!("/console/{name}"), None, None, &[])
            .await;
        assert_eq!(answer.status, StatusCode::OK, "/console/{name}: {}", answer.text);
        for reference in answer
            .text
            .split('"')
            .filter(|s| s.ends_with(".js") || s.ends_with(".css"))
        {
            pending.push(reference.trim_start_matches("./").to_owned());
        }
        files.push((name, answer.text));
    }
    files
}

#[tokio::test]
async fn the_console_is_served_with_a_strict_content_security_policy_and_no_framing() {
    let app = TestApp::new().await;
    for path in [
        "/console/",
        "/console/app.js",
        "/console/console.css",
        "/console/missing.js",
    ] {
        let answer = app.admin_send(Method::GET, path, None, None, &[]).await;
        let csp = answer.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{path}: {csp}"
        );
        assert_eq!(answer.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(answer.header("referrer-policy"), Some("no-referrer"), "{path}");
    }
    let page = app.admin_send(Method::GET, "/console/", None, None, &[]).await;
    assert!(
        page.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html")
    );
    let script = app
        .admin_send(Method::GET, "/console/app.js", None, None, &[])
        .await;
    assert!(
        script
            .header("content-type")
            .unwrap_or_default()
            .starts_with("text/javascript")
    );

    let missing = app
        .admin_send(Method::GET, "/console/missing.js", None, None, &[])
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["status"], 404);
    let bare = app.admin_send(Method::GET, "/console", None, None, &[]).await;
    assert_eq!(bare.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(bare.header("location"), Some("/console/"));
}

/// Every file the page needs is compiled in, nothing is fetched from elsewhere, there is no
/// inline script, and no module writes markup from strings (IdP names must stay text).
#[tokio::test]
async fn the_console_is_self_contained_and_builds_the_page_from_text_only() {
    let app = TestApp::new().await;
    let files = console_files(&app).await;
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "index.html",
        "app.js",
        "api.js",
        "dom.js",
        "groups.js",
        "teams.js",
        "audit.js",
        "instance.js",
        "console.css",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} not reachable from index.html: {names:?}"
        );
    }
    for (name, text) in &files {
        for forbidden in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "localStorage",
            "http://",
            "https://",
        ] {
            assert!(!text.contains(forbidden), "{name} uses {forbidden}");
        }
    }
    let (_, page) = files.iter().find(|(n, _)| n == "index.html").expect("index");
    assert_eq!(page.matches("<script").count(), 1, "one script, a module by src");
    assert!(page.contains(r#"<script type="module" src="app.js"></script>"#));
    assert!(
        !page.contains(" style="),
        "no inline style (CSP style-src 'self')"
    );
}

#[tokio::test]
async fn me_names_the_organizations_a_token_opens_and_no_others() {
    let app = TestApp::new().await;
    let mine = app.org("me-mine").await;
    let read_only = app.org("me-read").await;
    let foreign = app.org("me-foreign").await;
    let jwt = admin_jwt(
        "alice",
        &[
            (mine.id, &["organization:read", "organization:write"]),
            (read_only.id, &["organization:read"]),
            (i64::MAX - 7, &["organization:read"]),
        ],
        false,
    );
    let me = app
        .admin_send(Method::GET, "/api/me", Some(&jwt), None, &[])
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["subject"], "alice");
    assert_eq!(me.body["instanceAdmin"], false);
    // An organization that does not exist is left out; the foreign one was never named.
    assert_eq!(
        me.body["organizations"],
        json!([
            {"id": mine.id, "name": mine.name, "ssoActive": true, "canWrite": true},
            {"id": read_only.id, "name": read_only.name, "ssoActive": true, "canWrite": false},
        ])
    );
    assert!(!me.text.contains(&foreign.name));

    let reader = app
        .admin_send(Method::GET, "/api/me", Some(&reader_jwt(mine.id)), None, &[])
        .await;
    assert_eq!(reader.body["organizations"][0]["canWrite"], false);

    let admin = app
        .admin_send(Method::GET, "/api/me", Some(&instance_admin_jwt()), None, &[])
        .await;
    assert_eq!(admin.body["instanceAdmin"], true);
    let names: Vec<&str> = admin.body["organizations"]
        .as_array()
        .expect("orgs")
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    for org in [&mine, &read_only, &foreign] {
        assert!(names.contains(&org.name.as_str()), "{} missing", org.name);
    }

    for bad in [None, Some("not-a-jwt")] {
        let refused = app.admin_send(Method::GET, "/api/me", bad, None, &[]).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
        assert!(refused.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

/// The Teams page reads a team's history: its own events and its memberships', with the e-mail
/// of the account each membership event names; another team's are left out.
#[tokio::test]
async fn audit_events_filter_by_team_and_name_the_member() {
    let app = TestApp::new().await;
    let org = app.org("audit-team").await;
    let owner = OrgAdmin::owner(&app, org.id);
    let team = owner.create_team(&unique("audited"), None).await;
    let other = owner.create_team(&unique("other"), None).await;
    let email = format!("{}@example.com", unique("member"));
    let account = owner.add_member(team, &email).await;
    owner
        .add_member(other, &format!("{}@example.com", unique("else")))
        .await;
    let removed = owner.delete(&format!("/teams/{team}/members/{account}")).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);

    let events = owner.get(&format!("/audit-events?teamId={team}")).await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.text);
    let seen: Vec<(&str, &str)> = events.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default(),
                e["targetEmail"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("team_member_deleted", email.as_str()),
            ("team_member_created", email.as_str()),
            ("team_created", "-")
        ]
    );

    let deletions = owner
        .get(&format!("/audit-events?type=team_member_deleted&teamId={other}"))
        .await;
    assert_eq!(deletions.body["events"], json!([]), "{}", deletions.text);
    let bad = owner.get("/audit-events?teamId=abc").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    // The filter never reaches another organization's events.
    let foreign = app.org("audit-foreign").await;
    let stranger = app
        .admin_send(
            Method::GET,
            &format!("/api/orgs/{}/audit-events?teamId={team}", foreign.id),
            Some(&owner_jwt(foreign.id)),
            None,
            &[],
        )
        .await;
    assert_eq!(stranger.body["events"], json!([]), "{}", stranger.text);
}

/// Every picture the README shows is in the repository (the browser tests write them there).
#[test]
fn the_readme_shows_only_screenshots_that_exist() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let pictures: Vec<&str> = readme
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .filter(|target| target.ends_with(".png"))
        .collect();
    assert!(pictures.len() >= 2, "the console's screenshots: {pictures:?}");
    for picture in pictures {
        assert!(
            root.join(picture).is_file(),
            "README shows {picture}, which is not there"
        );
    }
}
