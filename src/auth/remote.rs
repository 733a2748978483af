//! An IdP's JWKS fetched from its URL (`SCIMGATE_IDP_JWKS_URL`), cached, and re-fetched so that
//! the IdP's key rollover needs no restart, without letting the IdP's endpoint (or a token's
//! header) hang, bloat or flood the process.
//!
//! Contract of [`RemoteJwks`]:
//! - **What is trusted**: the last JWKS fetched successfully that [`KeySet::from_jwks`] accepts (the
//!   same key policy as a JWKS file). A failed fetch never replaces or empties it.
//! - **Staleness bound**: a verification never uses keys fetched more than
//!   [`RemoteSettings::max_age`] ago (default 10 min) while the IdP answers: it re-fetches first.
//!   A key the IdP stops publishing is therefore no longer trusted after at most `max_age` plus one
//!   fetch (bounded by [`RemoteSettings::timeout`]). While the IdP does not answer, the last good
//!   keys stay in use.
//! - **Rollover**: a token whose key is not in the cache (an unknown `kid`) triggers a re-fetch
//!   before it is judged, so a new key works from its first token.
//! - **Fetch budget**: fetches are single-flight (however many verifications want one at once, one
//!   request is made and the others wait for its outcome) and no two fetch attempts start within
//!   [`RemoteSettings::min_interval`] (default 30 s), whatever asks for them: tokens naming made-up
//!   `kid`s cost the IdP at most one request per interval.
//! - **Errors**: [`RemoteError::Token`] is the token's fault (401). [`RemoteError::Unavailable`]
//!   means the token needed keys the cache lacks and the latest fetch failed, or no fetch ever
//!   succeeded (503, never 401: the IdP's outage is not the user's bad token). A token whose `kid`
//!   is still unknown after a successful fetch is [`AuthError::UnknownKey`], a 401.
//! - **Hostile endpoint**: one fetch (connect, TLS, headers and body) is bounded by
//!   [`RemoteSettings::timeout`] (default 5 s) and its body by [`RemoteSettings::max_body_bytes`]
//!   (default 256 KiB); redirects are not followed and no compression is offered.
//! - **Transport**: `https` with the Mozilla root certificates (webpki-roots), or plain `http` to a
//!   loopback address only (tests, a local sidecar). URLs carrying credentials are refused.
//! - **Observability**: each failed fetch logs a warning naming the URL and the reason, and
//!   increments `scimgate_jwks_fetch_failures_total{reason}`, whose reasons are [`FetchFailure`]'s
//!   fixed labels.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;

use super::keys::KeySet;
use super::verify::{AuthError, Expectations, verify};

/// How the cache of a [`RemoteJwks`] is kept fresh and how one fetch is bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSettings {
    /// Keys older than this are re-fetched before they verify a token.
    pub max_age: Duration,
    /// No two fetch attempts start closer together than this.
    pub min_interval: Duration,
    /// The whole of one fetch: connect, TLS, headers and body.
    pub timeout: Duration,
    /// A larger JWKS body is refused (real ones are a few KiB; Entra's with certificates ~20 KiB).
    pub max_body_bytes: usize,
}

impl Default for RemoteSettings {
    fn default() -> Self {
        RemoteSettings {
            max_age: Duration::from_secs(600),
            min_interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            max_body_bytes: 256 * 1024,
        }
    }
}

/// Why a verification through a [`RemoteJwks`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// The token is refused: answer 401.
    #[error(transparent)]
    Token(#[from] AuthError),
    /// The token needs keys that could not be fetched: answer 503, and tell the client nothing more.
    #[error("the IdP's signing keys are unavailable ({0})")]
    Unavailable(FetchFailure),
}

/// Why one fetch of the JWKS failed; [`FetchFailure::reason`] is the metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FetchFailure {
    /// No fetch has been attempted yet (seen only before the first attempt completes).
    #[error("no fetch has completed yet")]
    NotFetched,
    /// DNS, TCP or TLS failed, or the connection broke before the answer's headers.
    #[error("cannot connect")]
    Connect,
    /// The whole fetch took longer than the timeout.
    #[error("timed out")]
    Timeout,
    /// The answer's status was not 200 (redirects included: they are not followed).
    #[error("the answer's status was not 200")]
    Status,
    /// The body was larger than the limit.
    #[error("the answer's body is too large")]
    TooLarge,
    /// The connection broke while the body was read.
    #[error("the answer's body could not be read")]
    Read,
    /// The body is not JSON.
    #[error("the answer is not JSON")]
    Unparsable,
    /// JSON, but not a JWKS the key policy accepts (see [`KeySet::from_jwks`]).
    #[error("the JWKS is refused by the key policy")]
    Refused,
}

impl FetchFailure {
    /// The `reason` label of `scimgate_jwks_fetch_failures_total`: a fixed set.
    pub fn reason(self) -> &'static str {
        match self {
            FetchFailure::NotFetched => "not_fetched",
            FetchFailure::Connect => "connect",
            FetchFailure::Timeout => "timeout",
            FetchFailure::Status => "status",
            FetchFailure::TooLarge => "too_large",
            FetchFailure::Read => "read",
            FetchFailure::Unparsable => "unparsable",
            FetchFailure::Refused => "refused",
        }
    }
}

/// The IdP's keys, fetched from a URL and cached (see the module's contract). Cloning is cheap
/// and clones share one cache.
#[derive(Clone)]
pub struct RemoteJwks {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("url", &self.inner.url)
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

struct Inner {
    /// Where the JWKS lives, as configured (checked: no credentials in it, so it may be logged).
    url: String,
    uri: Uri,
    /// The setting that named the URL, for log lines.
    source: String,
    settings: RemoteSettings,
    client: HttpClient,
    /// The last good keys and when they were fetched; `None` until a fetch succeeds. Held only to
    /// copy the `Arc` out (a std lock: never across an `.await`).
    keys: RwLock<Option<Cached>>,
    /// Held for the whole of a fetch: this is what makes fetches single-flight.
    fetch: Arc<tokio::sync::Mutex<Attempts>>,
    /// Counts completed fetch attempts (written under `fetch`), so a verification that asks for a
    /// fetch can tell one completed since it looked, without waiting for the lock to look.
    generation: AtomicU64,
}

#[derive(Clone)]
struct Cached {
    keys: Arc<KeySet>,
    fetched_at: Instant,
}

/// What the fetches so far came to; only read or written under the fetch lock.
struct Attempts {
    /// When the latest attempt started.
    started_at: Option<Instant>,
    /// The latest attempt's outcome.
    outcome: Result<(), FetchFailure>,
}

/// Why a verification asks for a fetch.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// The cache is older than `max_age`: refresh, but the cached keys may still serve.
    Fresh,
    /// The cache lacks the token's key: only a successful fetch can help.
    Key,
}

impl RemoteJwks {
    /// A key source for the JWKS at `url`, named `source` in messages (e.g. its setting). Nothing is
    /// fetched yet: the first verification (or [`RemoteJwks::refresh`]) fetches. Refuses a URL that
    /// is not `https` (or `http` to a loopback address), or that carries credentials.
    pub fn new(url: &str, source: &str, settings: RemoteSettings) -> Result<RemoteJwks, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("{source}: not a valid URL: {e}"))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(format!("{source}: the URL must not carry credentials"));
        }
        match parsed.scheme() {
            "https" => {}
            "http" if is_loopback(&parsed) => {}
            "http" => {
                return Err(format!(
                    "{source}: plain http is allowed only to a loopback address; use https"
                ));
            }
            other => return Err(format!("{source}: unsupported scheme \"{other}\"; use https")),
        }
        let uri: Uri = parsed
            .as_str()
            .parse()
            .map_err(|e| format!("{source}: not a valid URL: {e}"))?;
        Ok(RemoteJwks {
            inner: Arc::new(Inner {
                url: parsed.to_string(),
                uri,
                source: source.to_owned(),
                client: http_client(&settings)?,
                settings,
                keys: RwLock::new(None),
                fetch: Arc::new(tokio::sync::Mutex::new(Attempts {
                    started_at: None,
                    outcome: Err(FetchFailure::NotFetched),
                })),
                generation: AtomicU64::new(0),
            }),
        })
    }

    /// The URL the keys are fetched from.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Verifies `token` with the IdP's keys and `expect` (as [`verify`] does), fetching the keys
    /// first when the cache lacks the token's key or is older than `max_age`.
    pub async fn verify<C: DeserializeOwned>(
        &self,
        token: &str,
        expect: &Expectations,
    ) -> Result<C, RemoteError> {
        let inner = &self.inner;
        // Read before the cache, so a fetch that completes in between is not repeated.
        let mut seen = inner.generation();
        if inner
            .cached()
            .is_some_and(|c| c.fetched_at.elapsed() >= inner.settings.max_age)
        {
            // A failed refresh keeps the cached keys: they still verify below.
            let _ = inner.fetch_once(seen, Need::Fresh).await;
            seen = inner.generation();
        }
        if let Some(cached) = inner.cached() {
            match verify::<C>(token, &cached.keys, expect) {
                Err(AuthError::UnknownKey) => {}
                done => return done.map_err(RemoteError::Token),
            }
        }
        // No keys yet, or not the token's: the IdP may have rolled its keys over.
        inner
            .fetch_once(seen, Need::Key)
            .await
            .map_err(RemoteError::Unavailable)?;
        match inner.cached() {
            // After a successful fetch, a key still unknown is the token's fault.
            Some(cached) => verify::<C>(token, &cached.keys, expect).map_err(RemoteError::Token),
            None => Err(RemoteError::Unavailable(FetchFailure::NotFetched)),
        }
    }

    /// Fetches the JWKS now (subject to the single flight and the minimum interval, so it may
    /// only wait for, or report, the latest attempt); e.g. at start, so the first login does not
    /// wait. A failure is logged and counted like any other, and the last good keys stay.
    pub async fn refresh(&self) -> Result<(), FetchFailure> {
        self.inner.fetch_once(self.inner.generation(), Need::Key).await
    }

    /// Whether keys have been fetched successfully at least once (e.g. for a readiness report).
    pub fn has_keys(&self) -> bool {
        self.inner.cached().is_some()
    }
}

impl Inner {
    /// How many fetch attempts have completed.
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn cached(&self) -> Option<Cached> {
        // A poisoned lock still holds a consistent value: it is only ever replaced whole.
        match self.keys.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn store(&self, keys: KeySet) {
        let cached = Cached {
            keys: Arc::new(keys),
            fetched_at: Instant::now(),
        };
        match self.keys.write() {
            Ok(mut guard) => *guard = Some(cached),
            Err(poisoned) => *poisoned.into_inner() = Some(cached),
        }
    }

    /// Fetches unless an attempt completed since generation `seen` (its outcome answers) or the
    /// latest attempt started less than `min_interval` ago (the latest outcome answers, except
    /// that a `Fresh` refresh then simply keeps the cache). Single-flight: the lock is held for
    /// the whole fetch. The fetch runs in a task of its own that holds the lock, so a caller that
    /// gives up (its client went away) neither abandons the fetch half-way nor leaves the next
    /// caller rate-limited on an attempt that never completed.
    async fn fetch_once(self: &Arc<Self>, seen: u64, need: Need) -> Result<(), FetchFailure> {
        let mut attempts = Arc::clone(&self.fetch).lock_owned().await;
        if self.generation() != seen {
            return attempts.outcome;
        }
        if let Some(started) = attempts.started_at
            && started.elapsed() < self.settings.min_interval
        {
            return match need {
                Need::Key => attempts.outcome,
                Need::Fresh => Ok(()),
            };
        }
        attempts.started_at = Some(Instant::now());
        let inner = Arc::clone(self);
        let attempt = tokio::spawn(async move {
            let outcome = inner.attempt().await;
            attempts.outcome = outcome;
            inner.generation.fetch_add(1, Ordering::Release);
            outcome
        });
        // The task only awaits I/O under a timeout: it ends, and a panic in it is a bug, not an
        // answer from the IdP, so it is reported as no fetch at all.
        attempt.await.unwrap_or(Err(FetchFailure::NotFetched))
    }

    /// One fetch: stores the keys, or logs and counts the failure.
    async fn attempt(&self) -> Result<(), FetchFailure> {
        match self.fetch().await {
            Ok(keys) => {
                self.store(keys);
                Ok(())
            }
            Err((failure, detail)) => {
                tracing::warn!(
                    url = %self.url,
                    reason = failure.reason(),
                    detail = %detail,
                    "{}: fetching the JWKS failed; keeping the last good keys",
                    self.source
                );
                metrics::counter!("scimgate_jwks_fetch_failures_total", "reason" => failure.reason())
                    .increment(1);
                Err(failure)
            }
        }
    }

    /// One bounded GET of the JWKS, parsed under the key policy.
    async fn fetch(&self) -> Result<KeySet, (FetchFailure, String)> {
        let body = tokio::time::timeout(self.settings.timeout, self.fetch_body())
            .await
            .map_err(|_| {
                (
                    FetchFailure::Timeout,
                    format!("no complete answer within {:?}", self.settings.timeout),
                )
            })??;
        let text = std::str::from_utf8(&body)
            .map_err(|_| (FetchFailure::Unparsable, "the body is not UTF-8".to_owned()))?;
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
            return Err((FetchFailure::Unparsable, format!("not JSON: {e}")));
        }
        let keys = KeySet::from_jwks(text, &self.source).map_err(|e| (FetchFailure::Refused, e))?;
        let kids = format!("{keys:?}");
        tracing::info!(url = %self.url, keys = %kids, "{}: fetched the JWKS", self.source);
        Ok(keys)
    }

    async fn fetch_body(&self) -> Result<Bytes, (FetchFailure, String)> {
        let request = Request::get(self.uri.clone())
            .header(
                hyper::header::ACCEPT,
                "application/jwk-set+json, application/json",
            )
            .body(Empty::<Bytes>::new())
            .map_err(|e| (FetchFailure::Connect, format!("cannot build the request: {e}")))?;
        let answer = self
            .client
            .request(request)
            .await
            .map_err(|e| (FetchFailure::Connect, error_chain(&e)))?;
        let status = answer.status();
        if status != StatusCode::OK {
            return Err((FetchFailure::Status, format!("status {status}")));
        }
        let limit = self.settings.max_body_bytes;
        let declared = answer
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err((
                FetchFailure::TooLarge,
                format!("Content-Length {} exceeds {limit} bytes", declared.unwrap_or(0)),
            ));
        }
        match Limited::new(answer.into_body(), limit).collect().await {
            Ok(body) => Ok(body.to_bytes()),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                Err((FetchFailure::TooLarge, format!("the body exceeds {limit} bytes")))
            }
            Err(e) => Err((FetchFailure::Read, e.to_string())),
        }
    }
}

/// The client of one key source: no connection pool (a fetch happens at most every
/// `min_interval`, and an idle connection would only go stale), TLS through rustls with ring and
/// the Mozilla roots, HTTP/1.1 only.
fn http_client(settings: &RemoteSettings) -> Result<HttpClient, String> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    // The scheme is checked by the TLS wrapper and by `RemoteJwks::new`.
    http.enforce_http(false);
    http.set_connect_timeout(Some(settings.timeout));
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(https))
}

/// Whether `url` names a loopback address (`localhost` included).
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// An error and its sources on one line: hyper-util's client error alone says only "client error".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    use axum::Router;
    use axum::body::Body;
    use axum::extract::State;
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use futures::StreamExt as _;
    use serde_json::{Value, json};

    use super::*;
    use crate::auth::test_support::*;

    /// What the test IdP answers.
    #[derive(Clone)]
    enum Answer {
        /// This JWKS, after this delay.
        Jwks(Value, Duration),
        /// This status, with an empty body.
        Status(u16),
        /// This body, as given, with status 200.
        Text(String),
        /// 200 with this many bytes streamed in chunks, with no Content-Length.
        Stream(usize),
        /// 200, the first byte of a body, then nothing ever again.
        Stall,
    }

    #[derive(Clone)]
    struct Idp {
        hits: Arc<AtomicUsize>,
        answer: Arc<Mutex<Answer>>,
    }

    impl Idp {
        fn answer(&self, answer: Answer) {
            *self.answer.lock().expect("answer lock") = answer;
        }

        fn serve(&self, jwks: Value) {
            self.answer(Answer::Jwks(jwks, Duration::ZERO));
        }

        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }
    }

    async fn jwks_route(State(idp): State<Idp>) -> Response {
        idp.hits.fetch_add(1, Ordering::SeqCst);
        let answer = idp.answer.lock().expect("answer lock").clone();
        match answer {
            Answer::Jwks(doc, delay) => {
                tokio::time::sleep(delay).await;
                axum::Json(doc).into_response()
            }
            Answer::Status(code) => StatusCode::from_u16(code)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response(),
            Answer::Text(text) => text.into_response(),
            Answer::Stream(total) => {
                let chunks = futures::stream::iter(
                    (0..total.div_ceil(1024)).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b' '; 1024]))),
                );
                Body::from_stream(chunks).into_response()
            }
            Answer::Stall => {
                let first =
                    futures::stream::once(async { Ok::<_, std::io::Error>(Bytes::from_static(b"{")) });
                Body::from_stream(first.chain(futures::stream::pending())).into_response()
            }
        }
    }

    /// A JWKS endpoint on loopback, serving `first` until told otherwise.
    async fn start_idp(first: Answer) -> (Idp, String) {
        let idp = Idp {
            hits: Arc::new(AtomicUsize::new(0)),
            answer: Arc::new(Mutex::new(first)),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = Router::new()
            .route("/jwks", get(jwks_route))
            .with_state(idp.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (idp, format!("http://{addr}/jwks"))
    }

    /// Settings for tests: no minimum interval unless a test sets one, short timeout.
    fn quick() -> RemoteSettings {
        RemoteSettings {
            max_age: Duration::from_secs(600),
            min_interval: Duration::ZERO,
            timeout: Duration::from_secs(2),
            max_body_bytes: 64 * 1024,
        }
    }

    fn remote(url: &str, settings: RemoteSettings) -> RemoteJwks {
        RemoteJwks::new(url, "SCIMGATE_IDP_JWKS_URL", settings).expect("valid URL")
    }

    #[derive(Debug, serde::Deserialize)]
    struct Subject {
        sub: String,
    }

    async fn check(jwks: &RemoteJwks, token: &str) -> Result<String, RemoteError> {
        jwks.verify::<Subject>(token, &expecting(Some(ISSUER)))
            .await
            .map(|c| c.sub)
    }

    fn rs_token(kid: &str) -> String {
        token(
            json!({"alg": "RS256", "kid": kid}),
            claims(),
            Signer::Rs(&rsa_pair()),
        )
    }

    fn es_token(pair: &ring::signature::EcdsaKeyPair, kid: &str) -> String {
        token(json!({"alg": "ES256", "kid": kid}), claims(), Signer::Es(pair))
    }

    /// The current value of `scimgate_jwks_fetch_failures_total{reason}` in the process's recorder.
    fn failures(reason: &str) -> u64 {
        let wanted = format!("scimgate_jwks_fetch_failures_total{{reason=\"{reason}\"}} ");
        crate::app::metrics_handle()
            .render()
            .lines()
            .find_map(|line| line.strip_prefix(wanted.as_str()))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn keys_are_fetched_once_and_then_served_from_the_cache() {
        let (idp, url) = start_idp(Answer::Jwks(json!({"keys": [rsa_jwk("k1")]}), Duration::ZERO)).await;
        let jwks = remote(&url, quick());
        assert!(!jwks.has_keys(), "nothing is fetched before it is needed");
        for _ in 0..3 {
            assert_eq!(check(&jwks, &rs_token("k1")).await, Ok("alice".into()));
        }
        assert_eq!(idp.hits(), 1);
        assert!(jwks.has_keys());
        // A bad token with a known key is the token's fault, and costs no fetch.
        let other_aud = token(
            json!({"alg": "RS256", "kid": "k1"}),
            with(claims(), "aud", json!("elsewhere")),
            Signer::Rs(&rsa_pair()),
        );
        assert_eq!(
            check(&jwks, &other_aud).await,
            Err(RemoteError::Token(AuthError::Audience))
        );
        // alg none never verifies, whatever the keys.
        let unsigned = token(json!({"alg": "none", "kid": "k1"}), claims(), Signer::Unsigned);
        assert_eq!(
            check(&jwks, &unsigned).await,
            Err(RemoteError::Token(AuthError::Algorithm))
        );
        assert_eq!(
            check(&jwks, "not.a-token").await,
            Err(RemoteError::Token(AuthError::InvalidToken))
        );
        assert_eq!(idp.hits(), 1);
    }

    #[tokio::test]
    async fn a_rolled_over_key_verifies_after_exactly_one_refetch() {
        let (idp, url) = start_idp(Answer::Jwks(json!({"keys": [rsa_jwk("k1")]}), Duration::ZERO)).await;
        let jwks = remote(&url, quick());
        assert_eq!(check(&jwks, &rs_token("k1")).await, Ok("alice".into()));
        assert_eq!(idp.hits(), 1);

        // The IdP publishes a new key beside the old one and starts signing with it.
        let ec = ec_pair();
        idp.serve(json!({"keys": [rsa_jwk("k1"), ec_jwk(&ec, "k2")]}));
        assert_eq!(check(&jwks, &es_token(&ec, "k2")).await, Ok("alice".into()));
        assert_eq!(idp.hits(), 2, "one refetch for the new kid");
        assert_eq!(check(&jwks, &es_token(&ec, "k2")).await, Ok("alice".into()));
        assert_eq!(check(&jwks, &rs_token("k1")).await, Ok("alice".into()));
        assert_eq!(idp.hits(), 2, "both keys now come from the cache");

        // A kid the IdP does not publish, even right after a refetch, is a bad token (401).
        assert_eq!(
            check(&jwks, &rs_token("k9")).await,
            Err(RemoteError::Token(AuthError::UnknownKey))
        );
        assert_eq!(idp.hits(), 3);

        // The old key is retired: once a refetch has seen that, it no longer verifies.
        idp.serve(json!({"keys": [ec_jwk(&ec, "k2")]}));
        assert_eq!(
            check(&jwks, &rs_token("k8")).await,
            Err(RemoteError::Token(AuthError::UnknownKey))
        );
        assert_eq!(
            check(&jwks, &rs_token("k1")).await,
            Err(RemoteError::Token(AuthError::UnknownKey))
        );
        assert_eq!(check(&jwks, &es_token(&ec, "k2")).await, Ok("alice".into()));
    }

    #[tokio::test]
    async fn keys_older_than_max_age_are_refetched_before_they_verify() {
        let settings = RemoteSettings {
            max_age: Duration::from_millis(300),
            // Shorter than the sleeps below, longer than any one fetch on loopback.
            min_interval: Duration::from_millis(400),
            ..quick()
        };
        let (idp, url) = start_idp(Answer::Jwks(json!({"keys": [rsa_jwk("k1")]}), Duration::ZERO)).await;
        let jwks = remote(&url, settings);
        assert_eq!(check(&jwks, &rs_token("k1")).await, Ok("alice".into()));

        // While the IdP fails, the stale keys stay in use.
        idp.answer(Answer::Status(500));
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(check(&jwks, &rs_token("k1")).await, Ok("alice".into()));
        assert_eq!(idp.hits(), 2, "the stale keys were refetched first");

        // Once the IdP answers again without k1, the next stale check drops it.
        let ec = ec_pair();
        idp.serve(json!({"keys": [ec_jwk(&ec, "k2")]}));
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(
            check(&jwks, &rs_token("k1")).await,
            Err(RemoteError::Token(AuthError::UnknownKey))
        );
        assert_eq!(
            idp.hits(),
            3,
            "one refresh; the unknown kid right after it is rate-limited"
        );
    }

    #[tokio::test]
    async fn a_failed_fetch_keeps_the_keys_and_makes_a_new_kid_unavailable() {
        let (idp, url) = start_idp(Answer::Jwks(json!({"keys": [rsa_jwk("k1")]}), Duration::ZERO)).await;
        let jwks = remote(&url, quick());
        assert_eq!(check(&jwks, &rs_token("k1")).await, Ok("alice".into()));

        idp.answer(Answer::Status(500));
        let before = failures("status");
        let ec = ec_pair();
        assert_eq!(
            check(&jwks, &es_token(&ec, "k2")).await,
            Err(RemoteError::Unavailable(FetchFailure::Status))
        );
        assert!(failures("status") > before, "the failure is counted");
        assert_eq!(
            check(&jwks, &rs_token("k1")).await,
            Ok("alice".into()),
            "the last good keys stay"
        );

        // The IdP recovers: the new key works without a restart.
        idp.serve(json!({"keys": [rsa_jwk("k1"), ec_jwk(&ec, "k2")]}));
        assert_eq!(check(&jwks, &es_token(&ec, "k2")).await, Ok("alice".into()));
    }

    #[tokio::test]
    async fn every_kind_of_failed_fetch_is_unavailable_and_counted() {
        let oct = json!({"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]});
        let cases = [
            (Answer::Status(500), FetchFailure::Status),
            (Answer::Status(404), FetchFailure::Status),
            (Answer::Status(302), FetchFailure::Status),
            (
                Answer::Text("<html>maintenance</html>".into()),
                FetchFailure::Unparsable,
            ),
            (Answer::Text("{\"keys\": 5}".into()), FetchFailure::Refused),
            (Answer::Jwks(oct, Duration::ZERO), FetchFailure::Refused),
            (
                Answer::Jwks(
                    json!({"keys": [with(rsa_jwk("k1"), "d", json!("AQAB"))]}),
                    Duration::ZERO,
                ),
                FetchFailure::Refused,
            ),
        ];
        for (answer, failure) in cases {
            let (idp, url) = start_idp(answer).await;
            let jwks = remote(&url, quick());
            let before = failures(failure.reason());
            assert_eq!(
                check(&jwks, &rs_token("k1")).await,
                Err(RemoteError::Unavailable(failure)),
                "{failure:?}"
            );
            assert_eq!(idp.hits(), 1);
            assert!(failures(failure.reason()) > before, "{failure:?} is counted");
            assert!(!jwks.has_keys());
        }

        // Nobody listening.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let jwks = remote(&format!("http://127.0.0.1:{port}/jwks"), quick());
        let before = failures("connect");
        assert_eq!(
            check(&jwks, &rs_token("k1")).await,
            Err(RemoteError::Unavailable(FetchFailure::Connect))
        );
        assert!(failures("connect") > before);
        assert_eq!(jwks.refresh().await, Err(FetchFailure::Connect));

        // https is TLS, checked against the Mozilla roots: a plain-http server does not pass.
        let (idp, url) = start_idp(Answer::Jwks(json!({"keys": [rsa_jwk("k1")]}), Duration::ZERO)).await;
        let jwks = remote(&url.replacen("http://", "https://", 1), quick());
        assert_eq!(
            check(&jwks, &rs_token("k1")).await,
            Err(RemoteError::Unavailable(FetchFailure::Connect))
        );
        assert_eq!(idp.hits(), 0);
    }

    #[tokio::test]
    async fn a_failure_is_logged_with_the_url_and_the_reason() {
        #[derive(Clone, Default)]
        struct Lines(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().expect("log lock").extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let (_idp, url) = start_idp(Answer::Status(503)).await;
        let jwks = remote(&url, quick());
        assert!(check(&jwks, &rs_token("k1")).await.is_err());
        let text = String::from_utf8(lines.0.lock().expect("log lock").clone()).expect("utf-8");
        let line = text
            .lines()
            .find(|l| l.contains("fetching the JWKS failed"))
            .unwrap_or_else(|| panic!("no warning in {text:?}"));
        assert!(line.contains("WARN"), "{line}");
        assert!(line.contains(&url), "{line}");
        assert!(line.contains("reason=\"status\""), "{line}");
        assert!(line.contains("SCIMGATE_IDP_JWKS_URL"), "{line}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_tokens_with_a_new_kid_cause_one_fetch() {
        let (idp, url) = start_idp(Answer::Jwks(json!({"keys": [rsa_jwk("k1")]}), Duration::ZERO)).await;
        // No minimum interval: the single flight alone must hold the line.
        let jwks = remote(&url, quick());
        assert_eq!(check(&jwks, &rs_token("k1")).await, Ok("alice".into()));
        let ec = Arc::new(ec_pair());
        idp.answer(Answer::Jwks(
            json!({"keys": [rsa_jwk("k1"), ec_jwk(&ec, "k2")]}),
            Duration::from_millis(300),
        ));
        let new_token = es_token(&ec, "k2");
        let logins: Vec<_> = (0..1000)
            .map(|_| {
                let (jwks, token) = (jwks.clone(), new_token.clone());
                tokio::spawn(async move { check(&jwks, &token).await })
            })
            .collect();
        for login in logins {
            assert_eq!(login.await.expect("task"), Ok("alice".into()));
        }
        assert_eq!(idp.hits(), 2, "one fetch for the 1,000 logins");
    }

    #[tokio::test]
    async fn a_caller_that_gives_up_does_not_abandon_the_fetch() {
        let settings = RemoteSettings {
            min_interval: Duration::from_secs(30),
            ..quick()
        };
        let (idp, url) = start_idp(Answer::Jwks(json!({"keys": [rsa_jwk("k1")]}), Duration::ZERO)).await;
        let jwks = remote(&url, settings);
        let ec = ec_pair();
        idp.answer(Answer::Jwks(
            json!({"keys": [rsa_jwk("k1"), ec_jwk(&ec, "k2")]}),
            Duration::from_millis(600),
        ));
        // The first login's client goes away while its fetch is in flight.
        let gave_up =
            tokio::time::timeout(Duration::from_millis(100), check(&jwks, &es_token(&ec, "k2"))).await;
        assert!(gave_up.is_err(), "the caller gave up: {gave_up:?}");
        // The next login waits for that same fetch instead of being rate-limited on it.
        assert_eq!(check(&jwks, &es_token(&ec, "k2")).await, Ok("alice".into()));
        assert_eq!(idp.hits(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn made_up_kids_cost_at_most_one_fetch_per_interval() {
        let settings = RemoteSettings {
            min_interval: Duration::from_secs(30),
            ..quick()
        };
        let (idp, url) = start_idp(Answer::Jwks(json!({"keys": [rsa_jwk("k1")]}), Duration::ZERO)).await;
        let jwks = remote(&url, settings.clone());
        assert_eq!(check(&jwks, &rs_token("k1")).await, Ok("alice".into()));
        let forged: Vec<_> = (0..200)
            .map(|i| {
                let jwks = jwks.clone();
                tokio::spawn(async move { check(&jwks, &rs_token(&format!("made-up-{i}"))).await })
            })
            .collect();
        for forged in forged {
            assert_eq!(
                forged.await.expect("task"),
                Err(RemoteError::Token(AuthError::UnknownKey))
            );
        }
        assert_eq!(idp.hits(), 1, "the latest fetch is recent: no new one");

        // After a failure, the interval holds too: the outage answers 503 without a new request.
        let (idp, url) = start_idp(Answer::Status(500)).await;
        let jwks = remote(&url, settings);
        for _ in 0..5 {
            assert_eq!(
                check(&jwks, &rs_token("k1")).await,
                Err(RemoteError::Unavailable(FetchFailure::Status))
            );
        }
        assert_eq!(idp.hits(), 1);
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out() {
        let settings = RemoteSettings {
            timeout: Duration::from_millis(300),
            ..quick()
        };
        // Accepts connections and never writes a byte.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let jwks = remote(&format!("http://{addr}/jwks"), settings.clone());
        let before = failures("timeout");
        let started = Instant::now();
        assert_eq!(
            check(&jwks, &rs_token("k1")).await,
            Err(RemoteError::Unavailable(FetchFailure::Timeout))
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(failures("timeout") > before);

        // Headers, then a body that never ends: the same bound holds.
        let (_idp, url) = start_idp(Answer::Stall).await;
        let jwks = remote(&url, settings);
        let started = Instant::now();
        assert_eq!(
            check(&jwks, &rs_token("k1")).await,
            Err(RemoteError::Unavailable(FetchFailure::Timeout))
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn an_oversize_body_is_refused() {
        let settings = RemoteSettings {
            max_body_bytes: 4096,
            ..quick()
        };
        // Declared up front by Content-Length.
        let padded = json!({"keys": [rsa_jwk("k1")], "padding": "x".repeat(8192)});
        let (_idp, url) = start_idp(Answer::Jwks(padded, Duration::ZERO)).await;
        let jwks = remote(&url, settings.clone());
        let before = failures("too_large");
        assert_eq!(
            check(&jwks, &rs_token("k1")).await,
            Err(RemoteError::Unavailable(FetchFailure::TooLarge))
        );
        assert!(failures("too_large") > before);

        // Streamed without a length: cut off at the limit, not read to the end.
        let (_idp, url) = start_idp(Answer::Stream(16 * 1024 * 1024)).await;
        let jwks = remote(&url, settings.clone());
        assert_eq!(
            check(&jwks, &rs_token("k1")).await,
            Err(RemoteError::Unavailable(FetchFailure::TooLarge))
        );

        // The positive control: the same JWKS without padding fits.
        let (_idp, url) = start_idp(Answer::Jwks(json!({"keys": [rsa_jwk("k1")]}), Duration::ZERO)).await;
        assert_eq!(
            check(&remote(&url, settings), &rs_token("k1")).await,
            Ok("alice".into())
        );
    }

    #[test]
    fn only_https_or_loopback_http_urls_are_accepted() {
        for ok in [
            "https://login.example.com/.well-known/jwks.json",
            "http://127.0.0.1:8080/jwks",
            "http://[::1]:8080/jwks",
            "http://localhost/jwks",
        ] {
            assert!(
                RemoteJwks::new(ok, "S", RemoteSettings::default()).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "http://login.example.com/jwks",
            "http://10.0.0.1/jwks",
            "ftp://login.example.com/jwks",
            "https://user:secret@login.example.com/jwks",
            "https://user@login.example.com/jwks",
            "not a url",
            "",
        ] {
            let e = RemoteJwks::new(bad, "SCIMGATE_IDP_JWKS_URL", RemoteSettings::default()).expect_err(bad);
            assert!(e.starts_with("SCIMGATE_IDP_JWKS_URL"), "{e}");
            assert!(!e.contains("secret"), "{e}");
        }
    }
}
