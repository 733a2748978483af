//! The owner console driven in a real headless Chromium against a real `scimgate serve` on SQLite
//! (design §2 "Owner console", issue 11): the owner's flow from sign-in to the audit trail, what a
//! foreign organization's token sees, IdP strings shown as text, the sign-in's reasons, keyboard
//! use and the narrow layout. The Group mapping and Teams screenshots of the README are taken here.

mod common;

use std::path::PathBuf;

use common::browser::Browser;
use common::process::{Server, WireAnswer, cli, with_bearer};
use common::{IDP_AUDIENCE, IDP_ISSUER, IDP_SECRET, admin_jwt, id_token};
use fantoccini::key::Key;
use serde_json::{Value, json};

/// A group name that is markup: it must show literally and run nothing.
const MARKUP_NAME: &str = "<img src=x onerror=alert(1)>";

/// Where the README's screenshots live.
fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("docs/screenshots")
        .join(name)
}

/// A server of its own on SQLite (whatever `SCIMGATE_TEST_DATABASE_URL` says: the browser is the
/// point), with admin tokens and logins configured as the tests' in-process apps have them.
struct Gateway {
    server: Server,
    db: String,
}

impl Gateway {
    async fn start() -> Gateway {
        let db = common::sqlite_url();
        let server = Server::start_with(
            &db,
            "console",
            &[
                ("SCIMGATE_ADMIN_JWT_HS256_SECRET", common::ADMIN_SECRET),
                ("SCIMGATE_IDP_ISSUER", IDP_ISSUER),
                ("SCIMGATE_IDP_AUDIENCE", IDP_AUDIENCE),
                ("SCIMGATE_IDP_JWT_HS256_SECRET", IDP_SECRET),
                ("SCIMGATE_PUBLIC_URL", "https://scimgate.example.com"),
            ],
        )
        .await;
        Gateway { server, db }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr)
    }

    async fn org(&self, name: &str) -> i64 {
        let (id, _) = cli(&self.db, &["org", "create", name]).await;
        id.trim().parse().expect("org id")
    }

    /// A SCIM token for `org`, from the CLI.
    async fn token(&self, org: i64) -> String {
        let (token, _) = cli(&self.db, &["token", "generate", &org.to_string()]).await;
        token.trim().to_owned()
    }

    async fn scim(&self, token: &str, method: &str, path: &str, body: Option<&Value>) -> WireAnswer {
        with_bearer(&self.server.addr, token, method, path, &[], body).await
    }

    /// Pushes a group over SCIM as an IdP would; its id.
    async fn push_group(&self, org: i64, token: &str, name: &str) -> String {
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name});
        let answer = self
            .scim(
                token,
                "POST",
                &format!("/api/orgs/{org}/scim/v2/Groups"),
                Some(&body),
            )
            .await;
        assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
        answer.json()["id"].as_str().expect("id").to_owned()
    }

    /// A login whose `groups` claim names `group` in `org`: the account joins the linked team.
    async fn login(&self, org: i64, email: &str, group: &str) {
        let token = id_token(json!({
            "sub": email, "email": email, "email_verified": true, "groups": [group], "org_id": org,
        }));
        let body = json!({"id_token": token});
        let answer = send_json(&self.server.addr, "POST", "/api/logins", &body).await;
        assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
        assert_eq!(
            answer.json()["added"].as_array().map(Vec::len),
            Some(1),
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
    }
}

async fn send_json(addr: &str, method: &str, path: &str, body: &Value) -> WireAnswer {
    let body = body.to_string();
    common::process::send(addr, method, path, &[], Some(body.as_bytes()))
        .await
        .expect("request")
}

fn owner_jwt(org: i64) -> String {
    admin_jwt("alice", &[(org, &["read", "write"])], false)
}

/// Signs in on the console's sign-in page with `jwt`.
async fn sign_in(browser: &Browser, gateway: &Gateway, jwt: &str) {
    browser.goto(&gateway.url("/console/")).await;
    browser.wait_text("h1", "Sign in").await;
    browser.fill("textarea", jwt).await;
    browser.click("form button.primary").await;
}

/// Polls the rows the table captioned `caption` shows until `done` accepts them (up to 10 s);
/// those rows. `what` names the wait in the failure message.
async fn rows_once(
    browser: &Browser,
    caption: &str,
    what: &str,
    done: impl Fn(&[Vec<String>]) -> bool,
) -> Vec<Vec<String>> {
    for _ in 0..100 {
        let rows = shown_rows(browser, caption).await;
        if done(&rows) {
            return rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{caption:?} never showed {what}: {}", browser.page_text().await)
}

/// The row of the table captioned `caption` whose first cell is `first`, once there is one.
async fn wait_row(browser: &Browser, caption: &str, first: &str) -> Vec<String> {
    let starts = |r: &Vec<String>| r.first().is_some_and(|c| c == first);
    let rows = rows_once(browser, caption, &format!("a row {first:?}"), |rows| {
        rows.iter().any(starts)
    })
    .await;
    rows.into_iter().find(starts).expect("the row just seen")
}

/// The rows of the table captioned `caption`, once it shows some.
async fn wait_rows(browser: &Browser, caption: &str) -> Vec<Vec<String>> {
    rows_once(browser, caption, "any row", |rows| !rows.is_empty()).await
}

/// The cells of the rows the table captioned `caption` shows (none when there is no such table).
async fn shown_rows(browser: &Browser, caption: &str) -> Vec<Vec<String>> {
    let found = browser
        .script(
            "const table = [...document.querySelectorAll('main table')]
                 .find(t => t.caption && t.caption.textContent === arguments[0]);
             if (!table) return [];
             return [...table.tBodies[0].rows].filter(r => !r.hidden)
                 .map(r => [...r.cells].map(c => c.innerText.trim()));",
            vec![Value::from(caption)],
        )
        .await;
    serde_json::from_value(found).unwrap_or_default()
}

/// Every form control of the page has a label a screen reader can read.
async fn assert_labelled(browser: &Browser) {
    let unlabelled = browser
        .script(
            "return [...document.querySelectorAll('input, select, textarea')]
                 .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
                 .map(e => e.outerHTML.slice(0, 120));",
            vec![],
        )
        .await;
    assert_eq!(unlabelled, json!([]), "controls without a label");
}

/// Nothing is wider than the viewport (the page does not scroll sideways; wide tables scroll
/// inside their own box).
async fn assert_fits(browser: &Browser) {
    let (width, overflow) = {
        let v = browser
            .script(
                "return [window.innerWidth, document.documentElement.scrollWidth]",
                vec![],
            )
            .await;
        (v[0].as_u64().unwrap_or(0), v[1].as_u64().unwrap_or(u64::MAX))
    };
    assert!(
        overflow <= width,
        "the page is {overflow} px wide in a {width} px viewport"
    );
}

/// Reloads the page (the console keeps its token in sessionStorage across it).
async fn reload(browser: &Browser) {
    browser.client().refresh().await.expect("reload");
}

/// A screenshot of the whole page at the viewport's width, then the viewport back as it was.
async fn full_page_screenshot(browser: &Browser, name: &str) {
    let (width, height) = browser.viewport().await;
    let page = browser
        .script("return document.documentElement.scrollHeight", vec![])
        .await
        .as_u64()
        .unwrap_or(u64::from(height));
    browser
        .resize(width, u32::try_from(page).unwrap_or(height).clamp(height, 2400))
        .await;
    browser.screenshot(screenshot_path(name)).await;
    browser.resize(width, height).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium"]
async fn an_owner_maps_groups_links_a_team_and_follows_a_scim_delete_to_its_audit_events() {
    let gateway = Gateway::start().await;
    let org = gateway.org("Acme").await;
    let jwt = owner_jwt(org);
    let browser = Browser::start(1280, 800).await;

    // Sign in with a minted JWT: the token stays in this tab's sessionStorage, nowhere else.
    sign_in(&browser, &gateway, &jwt).await;
    browser.wait_text("main h1", "Group mapping").await;
    assert_eq!(
        browser.get_session_storage("scimgate.adminJwt").await.as_deref(),
        Some(jwt.as_str())
    );
    assert!(!browser.url().await.contains(&jwt));
    assert_eq!(browser.script("return document.cookie", vec![]).await, json!(""));
    browser
        .wait_text("main", "No IdP groups yet: point your IdP at this endpoint")
        .await;
    browser.wait_text("main", "your IdP has not pushed yet").await;
    assert_labelled(&browser).await;

    // Generate a token: confirmed, shown once in a dialog, then only masked.
    browser.click("[data-key=generate]").await;
    browser.click("dialog button[value=confirm]").await;
    browser.wait_for("dialog [data-testid=new-token]").await;
    let token = browser
        .script(
            "return document.querySelector('[data-testid=new-token]').value",
            vec![],
        )
        .await
        .as_str()
        .expect("the token")
        .to_owned();
    assert!(token.starts_with("scimgate_"), "{token}");
    browser.click("dialog button[value=done]").await;
    let masked = browser.text("[data-testid=masked-token]").await;
    assert!(
        !masked.is_empty() && !token.contains(&masked) && masked.contains('…'),
        "{masked}"
    );
    let shown = browser
        .script(
            "return document.body.innerText + [...document.querySelectorAll('input, textarea')].map(e => e.value).join(' ')",
            vec![],
        )
        .await;
    assert!(
        !shown.as_str().unwrap_or_default().contains(&token),
        "the token is still on the page"
    );
    reload(&browser).await;
    browser.wait_for("[data-testid=masked-token]").await;
    assert!(!browser.page_text().await.contains(&token));

    // The IdP pushes; the groups appear with the SCIM badge, the markup name as text.
    let engineering = gateway.push_group(org, &token, "Engineering").await;
    gateway.push_group(org, &token, "Design").await;
    gateway.push_group(org, &token, MARKUP_NAME).await;
    // The IdP retries a name it already pushed: a 409 the activity panel lists with its detail.
    let body =
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "ENGINEERING"});
    let clash = gateway
        .scim(
            &token,
            "POST",
            &format!("/api/orgs/{org}/scim/v2/Groups"),
            Some(&body),
        )
        .await;
    assert_eq!(clash.status, 409);
    reload(&browser).await;
    assert_eq!(wait_row(&browser, "IdP groups", "Engineering").await[1], "SCIM");
    assert_eq!(wait_row(&browser, "IdP groups", MARKUP_NAME).await[1], "SCIM");
    assert_eq!(
        browser
            .script("return document.querySelectorAll('img').length", vec![])
            .await,
        json!(0)
    );
    browser.assert_no_alert().await;
    // The page builder refuses a link that would leave the console (a `javascript:` URL).
    let built = browser
        .script(
            "return import('/console/dom.js').then(m => ['#/orgs/1/teams', 'javascript:alert(1)', 'https://evil.example']
                 .map(href => { try { m.h('a', {href}); return 'built'; } catch (e) { return 'refused'; } }))",
            vec![],
        )
        .await;
    assert_eq!(built, json!(["built", "refused", "refused"]));
    browser.wait_for("[data-testid=last-push] time").await;

    // The search narrows the catalog as one types.
    browser.fill("[data-key=search]", "engin").await;
    let shown: Vec<String> = shown_rows(&browser, "IdP groups")
        .await
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(shown, ["Engineering"]);
    browser.fill("[data-key=search]", "").await;

    // A manual group, added by hand.
    browser.fill("[data-key=add-group]", "Contractors").await;
    browser.press_key(Key::Enter).await;
    assert_eq!(wait_row(&browser, "IdP groups", "Contractors").await[1], "Manual");
    let error = wait_rows(&browser, "Last SCIM errors").await;
    assert_eq!(error[0][1..3], ["POST /Groups", "409 uniqueness"], "{error:?}");
    assert!(error[0][3].contains("ENGINEERING"), "{error:?}");
    full_page_screenshot(&browser, "group-mapping.png").await;

    // A team linked to Engineering with the picker; delegated, so no manual member changes.
    browser.click("nav a[href$='/teams']").await;
    browser.wait_text("main h1", "Teams").await;
    browser.wait_text("main", "No teams yet").await;
    browser.fill("[data-key=create-name]", "Platform").await;
    browser
        .script(
            "const picker = document.querySelector('[data-key=idp-group]');
             picker.value = arguments[0]; picker.dispatchEvent(new Event('change'));",
            vec![Value::from(engineering.clone())],
        )
        .await;
    browser.click("[data-key=create-save]").await;
    browser.wait_text("main h1", "Platform").await;
    browser.wait_text("main h1", "DELEGATED").await;
    let add_member = browser
        .script(
            "return document.querySelector('[data-key=add-member]').disabled",
            vec![],
        )
        .await;
    assert_eq!(add_member, json!(true));
    browser
        .wait_text(
            "main",
            "Members of this team come from the IdP group “Engineering”",
        )
        .await;
    assert_labelled(&browser).await;

    // Dana signs in with Engineering in her groups claim and joins the team.
    gateway.login(org, "dana@example.com", "Engineering").await;
    reload(&browser).await;
    assert_eq!(
        wait_row(&browser, "Team members", "dana@example.com").await[1],
        "DELEGATED"
    );

    // The IdP deletes the group: the team is orphaned and says which group it lost.
    let deleted = gateway
        .scim(
            &token,
            "DELETE",
            &format!("/api/orgs/{org}/scim/v2/Groups/{engineering}"),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    let correlation = deleted
        .header("x-request-id")
        .expect("a correlation id")
        .to_owned();
    browser.click("nav a[href$='/teams']").await;
    browser.wait_text("main", "Orphaned team").await;
    browser
        .wait_text(
            "main",
            "The IdP group “Engineering” this team was linked to was deleted",
        )
        .await;
    assert_eq!(wait_row(&browser, "Teams", "Platform").await[1], "ORPHANED");
    full_page_screenshot(&browser, "teams.png").await;
    // The team's page names who went, why and when.
    browser.click("main .orphan a").await;
    browser.wait_text("main h1", "ORPHANED").await;
    let removals = wait_rows(&browser, "Removals from this team, newest first").await;
    assert_eq!(
        removals[0][1..3],
        ["dana@example.com", "IdP group deleted"],
        "{removals:?}"
    );
    full_page_screenshot(&browser, "team.png").await;

    // Every event of the SCIM delete, found by its correlation id.
    browser.click("nav a[href$='/audit']").await;
    browser.wait_text("main h1", "Audit").await;
    browser.fill("[data-key=correlation]", &correlation).await;
    browser.press_key(Key::Enter).await;
    browser.wait_text("main h2", &correlation).await;
    let events = wait_rows(&browser, "Audit events, newest first").await;
    let mut types: Vec<&str> = events.iter().map(|e| e[1].as_str()).collect();
    types.sort_unstable();
    assert_eq!(
        types,
        ["idp_group_deleted", "team_member_deleted", "team_updated"],
        "{events:?}"
    );
    assert!(events.iter().all(|e| e[4] == correlation), "{events:?}");
    assert_labelled(&browser).await;
    browser.assert_no_alert().await;
    browser.close().await;
    assert_no_secret_logged(gateway, &[&jwt, &token]);
}

/// The server's log never holds a secret the browser or the IdP sent (design §2: no token in a
/// log).
fn assert_no_secret_logged(gateway: Gateway, secrets: &[&str]) {
    let log = std::fs::read_to_string(&gateway.server.log).expect("the server's log");
    assert!(log.contains("scimgate serving"), "not the server's log");
    for secret in secrets {
        assert!(!log.contains(secret), "a secret reached the log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium"]
async fn a_foreign_organizations_token_sees_nothing_of_another_organization() {
    let gateway = Gateway::start().await;
    let acme = gateway.org("Acme").await;
    let globex = gateway.org("Globex").await;
    let token = gateway.token(acme).await;
    gateway.push_group(acme, &token, "Acme Secret Project").await;
    let browser = Browser::start(1280, 800).await;

    sign_in(&browser, &gateway, &owner_jwt(globex)).await;
    browser.wait_text("main h1", "Group mapping").await;
    let options = browser
        .script(
            "return [...document.querySelectorAll('#org-picker option')].map(o => o.textContent)",
            vec![],
        )
        .await;
    assert_eq!(options, json!(["Globex"]));
    for page in ["groups", "teams", "audit"] {
        browser
            .goto(&gateway.url(&format!("/console/#/orgs/{acme}/{page}")))
            .await;
        browser.wait_text("main [role=alert]", "does not grant").await;
        let text = browser.page_text().await;
        assert!(!text.contains("Acme"), "{page}: {text}");
        assert!(!text.contains("Secret Project"), "{page}: {text}");
    }
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium"]
async fn a_refused_or_expired_token_returns_to_sign_in_with_the_reason() {
    let gateway = Gateway::start().await;
    let org = gateway.org("Initech").await;
    let browser = Browser::start(1280, 800).await;

    // Not a JWT at all: said on the page, nothing stored.
    sign_in(&browser, &gateway, "hello").await;
    browser.wait_text("main [role=alert]", "That is not a JWT").await;
    assert_eq!(browser.get_session_storage("scimgate.adminJwt").await, None);

    // Signed with another key: the gateway's reason, and the token forgotten.
    let forged = {
        let mut parts: Vec<String> = owner_jwt(org).split('.').map(str::to_owned).collect();
        parts[2] = "c2lnbmF0dXJl".to_owned();
        parts.join(".")
    };
    sign_in(&browser, &gateway, &forged).await;
    browser.wait_text("main .notice-warning", "Signed out:").await;
    assert_eq!(browser.get_session_storage("scimgate.adminJwt").await, None);
    browser.wait_text("main h1", "Sign in").await;

    // A token that lapses while the page is open: back to sign-in, saying it expired.
    let short = mint(org, 3);
    sign_in(&browser, &gateway, &short).await;
    browser.wait_text("main h1", "Group mapping").await;
    browser.wait_text("main .notice-warning", "expired").await;
    assert_eq!(browser.get_session_storage("scimgate.adminJwt").await, None);

    // A token the gateway finds expired (past its leeway) is refused at sign-in with the reason.
    sign_in(&browser, &gateway, &mint(org, -120)).await;
    browser.wait_text("main .notice-warning", "Signed out:").await;
    assert!(
        browser.page_text().await.to_lowercase().contains("expired"),
        "{}",
        browser.page_text().await
    );
    browser.close().await;
}

/// An owner JWT of `org` whose `exp` is `seconds` from now (negative: in the past).
fn mint(org: i64, seconds: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let claims = json!({
        "sub": "alice", "aud": "scimgate", "iat": now - 200, "exp": now + seconds,
        "orgs": {org.to_string(): ["organization:read", "organization:write"]},
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(common::ADMIN_SECRET.as_bytes()).expect("key"),
    )
    .expect("sign")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium"]
async fn the_console_works_from_the_keyboard_and_on_a_phone() {
    let gateway = Gateway::start().await;
    let org = gateway.org("Hooli").await;
    let token = gateway.token(org).await;
    gateway
        .push_group(
            org,
            &token,
            "A group with a rather long name that must wrap on a phone screen",
        )
        .await;
    let browser = Browser::start(1280, 800).await;
    sign_in(&browser, &gateway, &owner_jwt(org)).await;
    browser.wait_text("main h1", "Group mapping").await;

    // A page opens with the focus on its heading, so the keyboard starts at the content; the
    // skip link is the first stop of the page and takes the focus to the content.
    assert_eq!(browser.active_element_info().await.tag, "h1");
    let first = browser
        .script(
            "return document.querySelector('button, a[href], input, select, textarea').id",
            vec![],
        )
        .await;
    assert_eq!(first, "skip");
    browser
        .script("document.getElementById('skip').focus()", vec![])
        .await;
    browser.press_key(Key::Enter).await;
    assert_eq!(browser.active_element_info().await.id, "main");
    // Tab walks every control of the page to its end, each with a visible focus ring.
    let mut visited = vec![];
    for _ in 0..40 {
        browser.tab().await;
        let ring = browser
            .script(
                "const e = document.activeElement; const s = getComputedStyle(e);
                 return [e.tagName, s.outlineStyle, e.textContent.trim().slice(0, 40)];",
                vec![],
            )
            .await;
        if ring[0] == "BODY" {
            break;
        }
        assert_ne!(ring[1], "none", "no visible focus on {ring}");
        visited.push(ring[2].as_str().unwrap_or_default().to_owned());
    }
    assert!(visited.len() >= 8, "{visited:?}");
    assert_eq!(
        visited.last().map(String::as_str),
        Some("Save settings"),
        "{visited:?}"
    );
    // A confirmation opens on Enter and Escape closes it, changing nothing.
    browser
        .script("document.querySelector('[data-key=rotate]').focus()", vec![])
        .await;
    browser.press_key(Key::Enter).await;
    browser.wait_for("dialog[open]").await;
    browser.press_key(Key::Escape).await;
    for _ in 0..50 {
        if !browser.exists("dialog").await {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!browser.exists("dialog").await, "the dialog stayed open");
    assert_eq!(
        browser.active_element_info().await.label,
        "Rotate token",
        "focus returns to the opener"
    );
    let still = gateway
        .scim(&token, "GET", &format!("/api/orgs/{org}/scim/v2/Groups"), None)
        .await;
    assert_eq!(still.status, 200, "Escape rotated the token");

    // At 390 px wide every page fits, menus included.
    browser.resize(390, 844).await;
    for page in ["groups", "teams", "audit"] {
        browser
            .goto(&gateway.url(&format!("/console/#/orgs/{org}/{page}")))
            .await;
        reload(&browser).await;
        browser.wait_for("main h1").await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_fits(&browser).await;
        assert_labelled(&browser).await;
    }
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium"]
async fn an_instance_admin_creates_an_organization_switches_its_sso_and_sees_every_conflict() {
    let gateway = Gateway::start().await;
    let acme = gateway.org("Acme").await;
    let globex = gateway.org("Globex").await;
    let tokens = [gateway.token(acme).await, gateway.token(globex).await];
    gateway.push_group(acme, &tokens[0], "Finance").await;
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "FINANCE"});
    let clash = gateway
        .scim(
            &tokens[1],
            "POST",
            &format!("/api/orgs/{globex}/scim/v2/Groups"),
            Some(&body),
        )
        .await;
    assert_eq!(clash.status, 409);

    let browser = Browser::start(1280, 800).await;
    sign_in(&browser, &gateway, &admin_jwt("root", &[], true)).await;
    browser.wait_text("main h1", "Group mapping").await;
    browser.click("nav a[href='#/instance']").await;
    browser.wait_text("main h1", "Instance").await;
    browser
        .wait_text("main", "2 of 2 organizations have SSO active")
        .await;
    let conflict = wait_row(&browser, "Open uniqueness conflicts", "FINANCE").await;
    assert_eq!(conflict[1..3], ["Globex", "Acme"], "{conflict:?}");
    // Globex's own page names the holder and suggests a name of its own.
    browser
        .goto(&gateway.url(&format!("/console/#/orgs/{globex}/groups")))
        .await;
    let own = wait_row(&browser, "Open uniqueness conflicts", "FINANCE").await;
    assert_eq!(
        (own[1].as_str(), own[4].as_str()),
        ("Acme", "FINANCE (Globex)"),
        "{own:?}"
    );
    browser.click("nav a[href='#/instance']").await;
    browser.wait_text("main h1", "Instance").await;

    browser.fill("[data-key=org-name]", "Umbrella").await;
    browser.press_key(Key::Enter).await;
    assert_eq!(
        wait_row(&browser, "Organizations", "3").await[1..3],
        ["Umbrella", "active"]
    );
    browser
        .wait_text("main", "3 of 3 organizations have SSO active")
        .await;

    // Turning SSO off asks first; the organization's IdP is then refused.
    browser.click("[data-key=sso-1]").await;
    browser.click("dialog button[value=confirm]").await;
    browser
        .wait_text("main", "2 of 3 organizations have SSO active")
        .await;
    assert_eq!(wait_row(&browser, "Organizations", "1").await[2], "off");
    let refused = gateway
        .scim(
            &tokens[0],
            "GET",
            &format!("/api/orgs/{acme}/scim/v2/Groups"),
            None,
        )
        .await;
    assert_eq!(refused.status, 404);
    assert_labelled(&browser).await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium"]
async fn an_owner_runs_a_manual_team_changes_settings_and_pages_the_audit_trail() {
    let gateway = Gateway::start().await;
    let org = gateway.org("Vandelay").await;
    let jwt = owner_jwt(org);
    // Sixty manual groups: more audit events than one page holds.
    for i in 0..60 {
        let body = json!({"displayName": format!("Imports {i:02}")});
        let answer = with_bearer(
            &gateway.server.addr,
            &jwt,
            "POST",
            &format!("/api/orgs/{org}/idp-groups"),
            &[],
            Some(&body),
        )
        .await;
        assert_eq!(answer.status, 201);
    }
    let browser = Browser::start(1280, 800).await;
    sign_in(&browser, &gateway, &jwt).await;
    browser.wait_text("main h1", "Group mapping").await;

    // A manual group deleted, after a confirmation.
    browser.click("button[aria-label='Delete Imports 00']").await;
    browser.click("dialog button[value=confirm]").await;
    browser.wait_text("main", "59 groups").await;

    // Settings saved and read back.
    browser
        .script(
            "const s = document.querySelector('[data-key=accountMatch]'); s.value = 'externalId';",
            vec![],
        )
        .await;
    browser.click("[data-key=pushDeprovisioning]").await;
    browser.click("[data-key=save-settings]").await;
    browser.wait_text("#toast", "Settings saved").await;
    reload(&browser).await;
    browser.wait_for("[data-key=accountMatch]").await;
    let saved = browser
        .script(
            "return [document.querySelector('[data-key=accountMatch]').value,
                     document.querySelector('[data-key=pushDeprovisioning]').checked]",
            vec![],
        )
        .await;
    assert_eq!(saved, json!(["externalId", false]));

    // A manual team: create, add and remove a member, rename, link and unlink, delete.
    browser.click("nav a[href$='/teams']").await;
    browser.fill("[data-key=create-name]", "Latex").await;
    browser.click("[data-key=create-save]").await;
    browser.wait_text("main h1", "MANUAL").await;
    browser
        .fill("[data-key=add-member]", "art@vandelay.example")
        .await;
    browser.press_key(Key::Enter).await;
    assert_eq!(
        wait_row(&browser, "Team members", "art@vandelay.example").await[1],
        "MANUAL"
    );
    browser
        .click("button[aria-label='Remove art@vandelay.example']")
        .await;
    browser.click("dialog button[value=confirm]").await;
    browser.wait_text("main", "No members yet").await;
    let removal = wait_rows(&browser, "Removals from this team, newest first").await;
    assert_eq!(
        removal[0][1..],
        ["art@vandelay.example", "Removed by an owner", "alice"],
        "{removal:?}"
    );
    browser
        .fill("[data-key=edit-name]", "Latex and Latex-Related")
        .await;
    browser.click("[data-key=edit-save]").await;
    browser.wait_text("main h1", "Latex and Latex-Related").await;
    browser
        .script(
            "const p = document.querySelector('[data-key=idp-group]');
             p.value = [...p.options].find(o => o.textContent.startsWith('Imports 01')).value;",
            vec![],
        )
        .await;
    browser.click("[data-key=edit-save]").await;
    browser.wait_text("main h1", "DELEGATED").await;
    browser
        .script(
            "document.querySelector('[data-key=idp-group]').value = ''",
            vec![],
        )
        .await;
    browser.click("[data-key=edit-save]").await;
    browser.wait_text("main h1", "MANUAL").await;
    browser.click("main button.danger:not(.small)").await;
    browser.click("dialog button[value=confirm]").await;
    browser.wait_text("main h1", "Teams").await;
    browser.wait_text("main", "No teams yet").await;

    // The audit trail by type, a page at a time.
    browser.click("nav a[href$='/audit']").await;
    browser.wait_text("main h1", "Audit").await;
    browser
        .script(
            "document.querySelector('[data-key=type]').value = 'idp_group_created'",
            vec![],
        )
        .await;
    browser.click("main form.filters button.primary").await;
    let created = |rows: &[Vec<String>]| rows.iter().all(|e| e[1] == "idp_group_created");
    let caption = "Audit events, newest first";
    let first = rows_once(&browser, caption, "50 idp_group_created", |r| {
        r.len() == 50 && created(r)
    })
    .await;
    browser.click("[data-key=older]").await;
    let older = rows_once(&browser, caption, "the 10 older ones", |r| {
        r.len() == 10 && created(r)
    })
    .await;
    assert!(
        first.iter().all(|e| !older.contains(e)),
        "a page repeated: {older:?}"
    );
    assert!(
        !browser.exists("[data-key=older]").await,
        "a last page offers no older one"
    );
    browser.close().await;
}
