//! The headless-Chromium harness works end to end: a real `scimgate serve` on SQLite is opened in a
//! real browser, and each helper the console's tests lean on does what it says, including the
//! injection detector, which must fail when a page's script opens a dialog.

mod common;

use std::panic::AssertUnwindSafe;
use std::path::Path;

use common::browser::{Browser, Focused};
use common::process::Server;
use fantoccini::key::Key;
use futures::FutureExt;

/// A page of form controls, for the keyboard and typing helpers (no `#` or `%`: a data URL).
const FORM: &str = "data:text/html,<title>form</title><label for=name>Name</label> <input id=name> \
    <button id=go onclick=\"document.getElementById('out').textContent = 'hello ' + \
    document.getElementById('name').value\">Go</button><p id=out></p>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium"]
async fn a_real_server_is_shown_in_headless_chromium_and_an_injected_alert_is_caught() {
    // Always SQLite of its own, whatever SCIMGATE_TEST_DATABASE_URL says: the browser is the point.
    let server = Server::start(&common::sqlite_url(), "browser-smoke").await;
    let browser = Browser::start(1280, 800).await;
    assert_eq!(browser.viewport().await, (1280, 800));

    let health = format!("http://{}/healthz", server.addr);
    browser.goto(&health).await;
    assert_eq!(browser.wait_text("body", "ok").await.trim(), "ok");
    assert_eq!(browser.url().await, health);
    browser.assert_no_alert().await;

    // A phone's viewport, and a picture of it.
    browser.resize(390, 844).await;
    assert_eq!(browser.viewport().await, (390, 844));
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory");
    let shot = target.join("browser-smoke.png");
    let _ = std::fs::remove_file(&shot);
    browser.screenshot(&shot).await;
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    // Width and height from the IHDR chunk: the viewport, in device pixels (1 per CSS pixel).
    let size = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes"));
    assert_eq!((size(16), size(20)), (390, 844));

    // Session storage belongs to the server's origin and survives a reload.
    browser.set_session_storage("scimgate.test", "kept").await;
    browser.goto(&health).await;
    assert_eq!(
        browser.get_session_storage("scimgate.test").await.as_deref(),
        Some("kept")
    );
    assert_eq!(browser.get_session_storage("absent").await, None);

    // Keyboard navigation, typing and clicking.
    browser.goto(FORM).await;
    assert_eq!(browser.active_element_info().await.tag, "body");
    browser.tab().await;
    assert_eq!(
        browser.active_element_info().await,
        Focused {
            tag: "input".into(),
            id: "name".into(),
            label: "Name".into()
        }
    );
    browser.fill("#name", "Ada").await;
    browser.tab().await;
    assert_eq!(browser.active_element_info().await.label, "Go");
    browser.press_key(Key::Enter).await;
    browser.wait_text("#out", "hello Ada").await;
    browser.shift_tab().await;
    assert_eq!(browser.active_element_info().await.id, "name");
    browser.fill("#name", "Bob").await;
    browser.click("#go").await;
    assert_eq!(browser.text("#out").await, "hello Bob");
    assert!(!browser.exists("#nowhere").await);
    browser.assert_no_alert().await;

    // The detector itself: a page whose script opens a dialog must fail `assert_no_alert`.
    browser
        .goto("data:text/html,<p>injected</p><script>alert(1)</script>")
        .await;
    assert_eq!(browser.alert_text().await.as_deref(), Some("1"));
    let caught = AssertUnwindSafe(browser.assert_no_alert()).catch_unwind().await;
    assert!(caught.is_err(), "assert_no_alert passed with a dialog open");
    browser.dismiss_alert().await;
    browser.assert_no_alert().await;

    browser.close().await;
}
