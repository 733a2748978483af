//! A real headless Chromium driven over WebDriver, for end-to-end tests of what a person sees.
//!
//! Debian's `chromium` and `chromium-driver` (matched versions; `.ci/run` installs them). Each
//! [`Browser`] has its own `chromedriver` on a free loopback port and its own profile directory
//! under `target/tmp`; dropping it kills chromedriver's whole process group, so Chromium goes with
//! it even when a test panics half-way. Tests that use it are `#[ignore = "needs Chromium"]`.
//!
//! Every helper panics with what it was looking for and what the page showed instead: a test reads
//! as a list of steps, and its failure says which step. A JavaScript dialog left open by a page is
//! how an injected `<script>` shows itself ([`Browser::assert_no_alert`]); any helper that meets one
//! fails saying so.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::key::Key;
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromedriver, of the same version as [`CHROMIUM`].
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long the `wait_*` helpers poll before they fail.
pub const WAIT: Duration = Duration::from_secs(10);
/// How often they look again.
const POLL: Duration = Duration::from_millis(100);

/// A free TCP port on 127.0.0.1 (free when asked: bind it soon, and retry if another took it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}

/// What has the keyboard focus ([`Browser::active_element_info`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Focused {
    /// Lower-case tag name (`"button"`, `"input"`, `"body"` when nothing is focused).
    pub tag: String,
    /// The `id` attribute, empty when there is none.
    pub id: String,
    /// What a screen reader would read first: `aria-label`, else the text of its `<label>`, else
    /// its own text (trimmed, at most 80 characters).
    pub label: String,
}

/// A headless Chromium session and the chromedriver behind it.
pub struct Browser {
    /// The WebDriver session; `None` once [`Browser::close`] ended it.
    client: Option<Client>,
    /// chromedriver, leader of its own process group (Chromium is in that group too).
    driver: Child,
    /// This browser's profile and chromedriver's log; removed on drop.
    dir: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: chromedriver and the Chromium processes it started. A session that was
        // not closed cannot be ended here (no async in drop), and need not be.
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.driver.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Browser {
    /// Starts chromedriver and opens a headless Chromium whose viewport is `width` × `height` CSS
    /// pixels, in English. Panics, saying how to install them, when Chromium is missing.
    pub async fn start(width: u32, height: u32) -> Browser {
        assert!(
            Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
            "this test needs Chromium and chromedriver: `apt-get install -y chromium chromium-driver` \
             (Debian; .ci/run does it), then run it with `cargo test -- --include-ignored`"
        );
        // A port that was free may be taken before chromedriver binds it: try another.
        let mut last = String::new();
        for _ in 0..3 {
            match Browser::try_start(width, height).await {
                Ok(browser) => return browser,
                Err(why) => last = why,
            }
        }
        panic!("could not start headless Chromium: {last}");
    }

    async fn try_start(width: u32, height: u32) -> Result<Browser, String> {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("chromium-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let port = free_port();
        let log = dir.join("chromedriver.log");
        let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone().map_err(|e| e.to_string())?))
            .stderr(Stdio::from(file))
            // Its own group, so that drop can kill Chromium with it.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("spawn {CHROMEDRIVER}: {e}"))?;
        let mut browser = Browser {
            client: None,
            driver,
            dir: dir.clone(),
        };
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = browser.driver.try_wait() {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("chromedriver exited with {status}: {said}"));
            }
            // It listens once it is ready (its `/status` keeps the connection open: not a probe
            // for process.rs's read-to-the-end client).
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                break;
            }
            if Instant::now() > deadline {
                return Err("chromedriver did not answer within 30 s".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = dir.join("profile");
        let capabilities = json!({
            "browserName": "chrome",
            // Leave a dialog open for `assert_no_alert` to see, rather than dismiss it unseen.
            "unhandledPromptBehavior": "ignore",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    // Root (CI) has no sandbox, and /dev/shm is small in containers.
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    format!("--window-size={width},{height}"),
                    "--lang=en-US",
                    format!("--user-data-dir={}", profile.display()),
                    "--no-first-run",
                    "--no-default-browser-check",
                ],
                "prefs": {"intl.accept_languages": "en-US"},
            },
        });
        let capabilities = capabilities.as_object().cloned().unwrap_or_default();
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://{addr}"))
            .await
            .map_err(|e| {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                format!("no WebDriver session: {e}; chromedriver said: {said}")
            })?;
        client
            .update_timeouts(TimeoutConfiguration::new(
                Some(WAIT),
                Some(Duration::from_secs(30)),
                Some(Duration::ZERO),
            ))
            .await
            .map_err(|e| e.to_string())?;
        browser.client = Some(client);
        browser.resize(width, height).await;
        Ok(browser)
    }

    /// The WebDriver client, for what the helpers do not cover.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("browser already closed")
    }

    /// Loads `url` and waits for it to load. A dialog opened while loading does not fail here: the
    /// next helper, or [`Browser::assert_no_alert`], reports it.
    pub async fn goto(&self, url: &str) {
        match self.client().goto(url).await {
            Ok(()) => {}
            Err(e) if e.is_unexpected_alert_open() => {}
            Err(e) => panic!("goto {url}: {e}"),
        }
    }

    /// The URL of the page shown now.
    pub async fn url(&self) -> String {
        let url = self.client().current_url().await;
        self.ok(url, "current URL").to_string()
    }

    /// Makes the viewport `width` × `height` CSS pixels (what media queries see), whatever the
    /// window's frame takes.
    pub async fn resize(&self, width: u32, height: u32) {
        let (mut w, mut h) = (width, height);
        for _ in 0..3 {
            let set = self.client().set_window_size(w, h).await;
            self.ok(set, "resize the window");
            let (inner_w, inner_h) = self.viewport().await;
            if (inner_w, inner_h) == (width, height) {
                return;
            }
            // The frame's size is the difference; ask for that much more.
            w = (w + width).saturating_sub(inner_w);
            h = (h + height).saturating_sub(inner_h);
        }
        let now = self.viewport().await;
        panic!("the viewport is {now:?}, not ({width}, {height})");
    }

    /// The viewport's size in CSS pixels (`innerWidth`, `innerHeight`).
    pub async fn viewport(&self) -> (u32, u32) {
        let size = self
            .script("return [window.innerWidth, window.innerHeight]", vec![])
            .await;
        let dim = |i: usize| size[i].as_u64().and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
        (dim(0), dim(1))
    }

    /// The first element matching `css`, once there is one (up to [`WAIT`]). On timeout, panics
    /// with the selector and the page's text.
    pub async fn wait_for(&self, css: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.client().find(Locator::Css(css)).await {
                Ok(element) => return element,
                Err(e) if e.is_no_such_element() && Instant::now() < deadline => {}
                Err(e) if e.is_no_such_element() => {
                    panic!(
                        "no `{css}` within {WAIT:?}; the page says:\n{}",
                        self.page_text().await
                    )
                }
                Err(e) => self.fail(e, &format!("find `{css}`")),
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits (up to [`WAIT`]) until the first element matching `css` exists and its visible text
    /// contains `contains`; that text.
    pub async fn wait_text(&self, css: &str, contains: &str) -> String {
        let deadline = Instant::now() + WAIT;
        let mut seen = String::new();
        while Instant::now() < deadline {
            if let Ok(element) = self.client().find(Locator::Css(css)).await {
                match element.text().await {
                    Ok(text) if text.contains(contains) => return text,
                    Ok(text) => seen = text,
                    Err(e) if e.is_stale_element_reference() => {}
                    Err(e) => self.fail(e, &format!("read the text of `{css}`")),
                }
            }
            tokio::time::sleep(POLL).await;
        }
        panic!(
            "`{css}` never said {contains:?} within {WAIT:?}; it said {seen:?}; the page says:\n{}",
            self.page_text().await
        );
    }

    /// The visible text of the first element matching `css` (waiting for it to exist).
    pub async fn text(&self, css: &str) -> String {
        let text = self.wait_for(css).await.text().await;
        self.ok(text, &format!("read the text of `{css}`"))
    }

    /// Whether an element matching `css` exists now (no waiting: for checking absence).
    pub async fn exists(&self, css: &str) -> bool {
        match self.client().find(Locator::Css(css)).await {
            Ok(_) => true,
            Err(e) if e.is_no_such_element() => false,
            Err(e) => self.fail(e, &format!("find `{css}`")),
        }
    }

    /// Clicks the first element matching `css` (waiting for it to exist).
    pub async fn click(&self, css: &str) {
        let clicked = self.wait_for(css).await.click().await;
        self.ok(clicked, &format!("click `{css}`"));
    }

    /// Replaces the value of the field matching `css` with `value`, typed as keys (so input events
    /// fire as they would for a person).
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.wait_for(css).await;
        let cleared = field.clear().await;
        self.ok(cleared, &format!("clear `{css}`"));
        let typed = field.send_keys(value).await;
        self.ok(typed, &format!("type into `{css}`"));
    }

    /// Presses and releases one key (e.g. `Key::Tab`, `Key::Enter`, `Key::Escape`) wherever the
    /// focus is, as a keyboard would.
    pub async fn press_key(&self, key: Key) {
        let value = char::from(key);
        let keys = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down { value })
            .then(KeyAction::Up { value });
        let pressed = self.client().perform_actions(keys).await;
        self.ok(pressed, &format!("press {key:?}"));
    }

    /// Presses Tab: moves the focus to the next element, as keyboard navigation does.
    pub async fn tab(&self) {
        self.press_key(Key::Tab).await;
    }

    /// Presses Shift+Tab: moves the focus to the previous element.
    pub async fn shift_tab(&self) {
        let (shift, tab) = (char::from(Key::Shift), char::from(Key::Tab));
        let keys = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down { value: shift })
            .then(KeyAction::Down { value: tab })
            .then(KeyAction::Up { value: tab })
            .then(KeyAction::Up { value: shift });
        let pressed = self.client().perform_actions(keys).await;
        self.ok(pressed, "press Shift+Tab");
    }

    /// What has the keyboard focus now (`document.activeElement`).
    pub async fn active_element_info(&self) -> Focused {
        let info = self
            .script(
                "const e = document.activeElement || document.body;
                 const label = e.getAttribute('aria-label')
                     || (e.labels && e.labels.length ? e.labels[0].textContent : '')
                     || e.textContent || '';
                 return [e.tagName.toLowerCase(), e.id || '', label.trim().slice(0, 80)];",
                vec![],
            )
            .await;
        let part = |i: usize| info[i].as_str().unwrap_or_default().to_owned();
        Focused {
            tag: part(0),
            id: part(1),
            label: part(2),
        }
    }

    /// The text of the JavaScript dialog open now (`alert`, `confirm`, `prompt`), if any.
    pub async fn alert_text(&self) -> Option<String> {
        match self.client().get_alert_text().await {
            Ok(text) => Some(text),
            Err(e) if e.is_no_such_alert() => None,
            Err(e) => panic!("ask whether a dialog is open: {e}"),
        }
    }

    /// Fails if a JavaScript dialog is open: the console never opens one, so one means a script
    /// ran that should not have (an injection). Checks at this instant: call it after the page
    /// has shown what it loads (after a `wait_*`).
    pub async fn assert_no_alert(&self) {
        if let Some(text) = self.alert_text().await {
            panic!(
                "a JavaScript dialog is open ({text:?}) on {}: a script ran that should not have",
                self.client()
                    .current_url()
                    .await
                    .map(|u| u.to_string())
                    .unwrap_or_default()
            );
        }
    }

    /// Closes the open JavaScript dialog (after a test saw it on purpose).
    pub async fn dismiss_alert(&self) {
        let dismissed = self.client().dismiss_alert().await;
        self.ok(dismissed, "dismiss the dialog");
    }

    /// Sets `sessionStorage[key]` of the page shown now (a page of the origin must be loaded:
    /// `data:` and `about:blank` pages have none).
    pub async fn set_session_storage(&self, key: &str, value: &str) {
        self.script(
            "sessionStorage.setItem(arguments[0], arguments[1])",
            vec![Value::from(key), Value::from(value)],
        )
        .await;
    }

    /// `sessionStorage[key]` of the page shown now.
    pub async fn get_session_storage(&self, key: &str) -> Option<String> {
        let value = self
            .script(
                "return sessionStorage.getItem(arguments[0])",
                vec![Value::from(key)],
            )
            .await;
        value.as_str().map(str::to_owned)
    }

    /// Runs `script` (a function body: `return` gives its result, `arguments[i]` its arguments).
    pub async fn script(&self, script: &str, args: Vec<Value>) -> Value {
        let result = self.client().execute(script, args).await;
        self.ok(result, &format!("run script {script:?}"))
    }

    /// The visible text of the whole page (for failure messages; empty when it cannot be read).
    pub async fn page_text(&self) -> String {
        match self
            .client()
            .execute("return document.body ? document.body.innerText : ''", vec![])
            .await
        {
            Ok(text) => text.as_str().unwrap_or_default().to_owned(),
            Err(e) if e.is_unexpected_alert_open() => "(hidden behind an open JavaScript dialog)".to_owned(),
            Err(e) => format!("(unreadable: {e})"),
        }
    }

    /// Saves what the viewport shows as a PNG at `path` (creating its directories).
    pub async fn screenshot(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        let png = self.client().screenshot().await;
        let png = self.ok(png, "take a screenshot");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("screenshot directory");
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Ends the session (Chromium exits); drop then stops chromedriver.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            client.close().await.expect("end the WebDriver session");
        }
    }

    /// The value of a WebDriver call, or a panic that says what was being done.
    fn ok<T>(&self, result: Result<T, CmdError>, doing: &str) -> T {
        result.unwrap_or_else(|e| self.fail(e, doing))
    }

    fn fail(&self, e: CmdError, doing: &str) -> ! {
        if e.is_unexpected_alert_open() {
            panic!("{doing}: a JavaScript dialog is open, so a script ran that should not have: {e}");
        }
        panic!("{doing}: {e}");
    }
}
