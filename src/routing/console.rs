//! The owner console (design §2 "Owner console"): static assets compiled into the binary and
//! served under `/console/`. The pages are plain ES modules that call the admin API from the
//! browser; nothing here reads a token or the database, so the console adds no server-side path
//! to the data that the admin API does not already guard.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::AppState;
use super::error::admin_error_response;

/// One compiled-in file: its name under `/console/`, media type and bytes.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    body: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file the console is made of; `index.html` is also `/console/`.
const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        media_type: HTML,
        body: include_str!("console/index.html"),
    },
    Asset {
        name: "console.css",
        media_type: CSS,
        body: include_str!("console/console.css"),
    },
    Asset {
        name: "app.js",
        media_type: JS,
        body: include_str!("console/app.js"),
    },
    Asset {
        name: "api.js",
        media_type: JS,
        body: include_str!("console/api.js"),
    },
    Asset {
        name: "dom.js",
        media_type: JS,
        body: include_str!("console/dom.js"),
    },
    Asset {
        name: "groups.js",
        media_type: JS,
        body: include_str!("console/groups.js"),
    },
    Asset {
        name: "teams.js",
        media_type: JS,
        body: include_str!("console/teams.js"),
    },
    Asset {
        name: "audit.js",
        media_type: JS,
        body: include_str!("console/audit.js"),
    },
    Asset {
        name: "instance.js",
        media_type: JS,
        body: include_str!("console/instance.js"),
    },
];

/// Scripts and styles only from this origin, none inline; no framing (clickjacking), no
/// plugins, no `<base>` rewriting, forms post nowhere; the admin API is the only thing fetched.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The headers every console answer carries.
const SECURITY_HEADERS: [(HeaderName, &str); 5] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    // For browsers that predate `frame-ancestors`.
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    // The console's URLs carry no secret, but nothing about the console needs to leave it.
    (header::REFERRER_POLICY, "no-referrer"),
    // A new release must reach an open tab on reload: revalidate every time (the files are small).
    (header::CACHE_CONTROL, "no-cache"),
];

/// The console's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { Redirect::permanent("/console/") }))
        .route("/console/", get(|| async { serve("index.html") }))
        .route(
            "/console/{file}",
            get(|Path(file): Path<String>| async move { serve(&file) }),
        )
}

/// The named asset with the console's headers, or a 404 (with the same headers).
fn serve(name: &str) -> Response {
    let mut response = match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, asset.media_type)],
            asset.body,
        )
            .into_response(),
        None => admin_error_response(StatusCode::NOT_FOUND, "no such console file", None),
    };
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
