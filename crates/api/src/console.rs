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

/// [`CONTENT_SECURITY_POLICY`], with `download_origin` (`scheme://host[:port]`, the
/// bucket presigned result links point at) also allowed for media and images, so the
/// console plays the videos and shows the covers it links to. Nothing else widens:
/// scripts and fetches stay on this origin.
pub fn content_security_policy(download_origin: Option<&str>) -> String {
    match download_origin {
        None => CONTENT_SECURITY_POLICY.to_string(),
        Some(origin) => CONTENT_SECURITY_POLICY
            .replace(
                "img-src 'self' blob:;",
                &format!("img-src 'self' blob: {origin};"),
            )
            .replace(
                "media-src 'self' blob:;",
                &format!("media-src 'self' blob: {origin};"),
            ),
    }
}

/// The console's files, served with the policy of [`content_security_policy`].
/// Panics if `download_origin` is not a valid header value (it comes from a parsed URL).
pub fn routes<S: Clone + Send + Sync + 'static>(download_origin: Option<&str>) -> Router<S> {
    let csp = HeaderValue::from_str(&content_security_policy(download_origin))
        .expect("an origin is a valid header value");
    let page = |bytes: &'static [u8], content_type: &'static str| {
        let csp = csp.clone();
        get(move || async move { asset(bytes, content_type, csp) })
    };
    Router::new()
        .route("/console", page(INDEX, "text/html; charset=utf-8"))
        .route("/console/", page(INDEX, "text/html; charset=utf-8"))
        .route(
            "/console/console.js",
            page(SCRIPT, "text/javascript; charset=utf-8"),
        )
        .route(
            "/console/console.css",
            page(STYLE, "text/css; charset=utf-8"),
        )
        .route("/console/favicon.svg", page(ICON, "image/svg+xml"))
}

fn asset(bytes: &'static [u8], content_type: &'static str, csp: HeaderValue) -> Response {
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_widens_only_media_and_images_for_the_bucket() {
        assert_eq!(content_security_policy(None), CONTENT_SECURITY_POLICY);
        let csp = content_security_policy(Some("https://media.example.com:9000"));
        assert!(
            csp.contains("img-src 'self' blob: https://media.example.com:9000;"),
            "{csp}"
        );
        assert!(
            csp.contains("media-src 'self' blob: https://media.example.com:9000;"),
            "{csp}"
        );
        assert_eq!(csp.matches("media.example.com").count(), 2, "{csp}");
        for fixed in [
            "script-src 'self';",
            "connect-src 'self';",
            "default-src 'none';",
        ] {
            assert!(csp.contains(fixed), "{csp}");
        }
    }
}
