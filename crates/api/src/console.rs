//! The web console (Extension) at `/console`: four static files compiled into the
//! binary (no CDN, nothing fetched at run time), served with a strict
//! Content-Security-Policy. The page is plain JavaScript that calls this server's own
//! `/v1` routes with the key the user typed, kept in the tab's session storage.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const INDEX: &[u8] = include_bytes!("../console/index.html");
const SCRIPT: &[u8] = include_bytes!("../console/console.js");
const STYLE: &[u8] = include_bytes!("../console/console.css");
const ICON: &[u8] = include_bytes!("../console/favicon.svg");

/// Scripts, styles and fetches only from this origin; media and images also from `blob:`
/// (the photos a user drops are previewed from memory before they are uploaded); no
/// inline code, no frames, no plugins, no form posts elsewhere.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' blob:; media-src 'self' blob:; connect-src 'self'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/console",
            get(|| async { asset(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/console/",
            get(|| async { asset(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/console/console.js",
            get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/console/console.css",
            get(|| async { asset(STYLE, "text/css; charset=utf-8") }),
        )
        .route(
            "/console/favicon.svg",
            get(|| async { asset(ICON, "image/svg+xml") }),
        )
}

fn asset(bytes: &'static [u8], content_type: &'static str) -> Response {
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // A new binary may bring new files: revalidate rather than run a stale script.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
