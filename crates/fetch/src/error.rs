//! The typed error of this crate and its mapping onto the wire catalogue
//! (errors.md): every variant knows its [`Code`], and [`FetchError::into_api_error`]
//! builds the `details` shape of that code for one request field.

use peakreel_types::{ApiError, Code};
use serde_json::{json, Map, Value};

use crate::ip::BlockedRange;
use crate::url_check::redact_url;

/// Which stage ran out of time (all map to `IMAGE_TIMEOUT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutStage {
    /// Resolving, connecting or the TLS handshake of one hop.
    Connect,
    /// One URL in all (`item_timeout`, or the timeout given to `post_json`).
    Item,
    /// The whole `fetch_images` set.
    Set,
}

/// Everything that can go wrong with one remote URL. Display texts are the
/// middle of a user-facing sentence: lower-case, no URL, no addresses.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    #[error("is not a valid absolute URL ({reason})")]
    InvalidUrl { reason: String },
    #[error("uses the `{scheme}` scheme, but only {} URLs are accepted", if *allow_http { "https and http" } else { "https" })]
    UnsupportedScheme { scheme: String, allow_http: bool },
    #[error("contains credentials (user:password@), which are not accepted")]
    Credentials,
    #[error("points to a {range} address (host `{host}`), which is never fetched")]
    Blocked { host: String, range: BlockedRange },
    #[error("has a host name (`{host}`) that could not be resolved")]
    Resolve { host: String },
    #[error("did not answer within {timeout_ms} ms")]
    Timeout {
        timeout_ms: u64,
        stage: TimeoutStage,
    },
    #[error("was answered with HTTP status {status}")]
    HttpStatus { status: u16 },
    #[error("could not be connected to ({reason})")]
    Connect { reason: String },
    #[error("failed the TLS handshake ({reason})")]
    Tls { reason: String },
    #[error("returned a body larger than {limit_bytes} bytes")]
    TooLarge { limit_bytes: u64 },
    #[error("redirected more than {max} times")]
    TooManyRedirects { max: u32 },
    #[error("sent an unusable redirect ({reason})")]
    BadRedirect { reason: String },
    #[error("sent a malformed HTTP answer ({reason})")]
    Protocol { reason: String },
    #[error("is not a JPEG, PNG or WebP image (judged by its bytes)")]
    UnsupportedFormat,
    #[error("is {width}×{height} pixels, more than the {} megapixel limit", max_pixels / 1_000_000)]
    TooManyPixels {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
    #[error("could not be decoded ({reason})")]
    Undecodable { reason: String },
    /// Our side: the body could not be written to or read from the spool directory.
    /// Never the client's fault, so it is a `SERVICE_ERROR`.
    #[error("could not be kept while it was checked ({reason})")]
    Spool { reason: String },
}

impl FetchError {
    /// The catalogue code this error is reported as.
    pub fn code(&self) -> Code {
        use FetchError::*;
        match self {
            InvalidUrl { .. } | UnsupportedScheme { .. } | Credentials => Code::InvalidImageUrl,
            Blocked { .. } => Code::SsrfBlocked,
            Timeout { .. } => Code::ImageTimeout,
            Resolve { .. }
            | HttpStatus { .. }
            | Connect { .. }
            | Tls { .. }
            | TooLarge { .. }
            | TooManyRedirects { .. }
            | BadRedirect { .. }
            | Protocol { .. } => Code::ImageInaccessible,
            UnsupportedFormat | TooManyPixels { .. } | Undecodable { .. } => {
                Code::ImageProcessingFailed
            }
            Spool { .. } => Code::ServiceError,
        }
    }

    /// A stable machine token for `details.reason` (and logs).
    pub fn reason(&self) -> &'static str {
        use FetchError::*;
        match self {
            InvalidUrl { .. } => "invalid_url",
            UnsupportedScheme { .. } => "unsupported_scheme",
            Credentials => "credentials_in_url",
            Blocked { .. } => "blocked_address",
            Resolve { .. } => "dns_failed",
            Timeout { .. } => "timeout",
            HttpStatus { .. } => "http_status",
            Connect { .. } => "connection_failed",
            Tls { .. } => "tls_failed",
            TooLarge { .. } => "too_large",
            TooManyRedirects { .. } => "too_many_redirects",
            BadRedirect { .. } => "bad_redirect",
            Protocol { .. } => "protocol_error",
            UnsupportedFormat => "unsupported_format",
            TooManyPixels { .. } => "too_many_pixels",
            Undecodable { .. } => "decode_failed",
            Spool { .. } => "local_storage",
        }
    }

    /// The HTTP status the remote server answered with, where there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::HttpStatus { status } => Some(*status),
            _ => None,
        }
    }

    fn advice(&self) -> &'static str {
        use FetchError::*;
        match self {
            InvalidUrl { .. } | UnsupportedScheme { .. } | Credentials => {
                "Use an absolute https URL without user:password; put access tokens in the query string instead."
            }
            Blocked { .. } => {
                "Use a URL on a public host; loopback, private, link-local and other internal addresses are refused."
            }
            Timeout { .. } => "Make sure the host answers quickly, or host the file somewhere faster.",
            HttpStatus { .. } => {
                "Make sure the URL is publicly readable without a login and still exists."
            }
            Resolve { .. } | Connect { .. } | Protocol { .. } => {
                "Make sure the host is online and reachable from the internet."
            }
            Tls { .. } => "The host must serve https with a certificate from a trusted authority.",
            TooLarge { .. } => "Use a smaller file (at most 25 MiB).",
            TooManyRedirects { .. } | BadRedirect { .. } => {
                "Use the final, direct URL of the file (at most 5 https redirects are followed)."
            }
            UnsupportedFormat | Undecodable { .. } => {
                "Use a complete JPEG, PNG or WebP file."
            }
            TooManyPixels { .. } => "Resize the image to at most 100 megapixels.",
            Spool { .. } => "Retry the request.",
        }
    }

    /// Builds the wire error for the URL described by `target`, with the
    /// `details` shape errors.md gives for this code.
    pub fn into_api_error(self, target: &Target) -> ApiError {
        if let FetchError::Spool { reason } = &self {
            // A fault of this server: the cause goes to the log, the client gets the
            // retryable service error without any local detail.
            tracing::error!(field = %target.field, cause = %reason, "could not spool a fetched image");
            return ApiError::service();
        }
        let url = redact_url(&target.url);
        let message = format!("`{}` {}. {}", target.field, self, self.advice());
        let mut d = Map::new();
        // Images are named by their index; other URLs (logo, avatar, webhook) by their
        // field, so every answer says which URL failed.
        match target.index {
            Some(i) => {
                d.insert("index".into(), json!(i));
            }
            None => {
                d.insert("field".into(), json!(target.field));
            }
        }
        match self.code() {
            Code::InvalidImageUrl => {
                d.insert("url".into(), json!(url));
            }
            Code::SsrfBlocked => {
                d.insert("url".into(), json!(url));
                d.insert("field".into(), json!(target.field));
            }
            Code::ImageTimeout => {
                d.insert("url".into(), json!(url));
                if let FetchError::Timeout { timeout_ms, .. } = &self {
                    d.insert("timeout_ms".into(), json!(timeout_ms));
                }
            }
            Code::ImageInaccessible => {
                d.insert("url".into(), json!(url));
                if let Some(status) = self.status() {
                    d.insert("status".into(), json!(status));
                }
                d.insert("reason".into(), json!(self.reason()));
            }
            _ => {
                d.insert("reason".into(), json!(self.reason()));
            }
        }
        ApiError::new(self.code(), message).with_details(Value::Object(d))
    }
}

/// Where a URL came from in the request, so an error can name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// JSON path of the field, e.g. `images[3]`, `webhook_url`,
    /// `elements_config.logo.url`. Used in the message and in
    /// `SSRF_BLOCKED`'s `details.field`.
    pub field: String,
    /// Position in `images` (goes to `details.index`); `None` elsewhere.
    pub index: Option<usize>,
    /// The URL as the client sent it (credentials are removed before it is
    /// echoed).
    pub url: String,
}

impl Target {
    /// The `index`-th entry of the `images` array.
    pub fn image(index: usize, url: impl Into<String>) -> Self {
        Target {
            field: format!("images[{index}]"),
            index: Some(index),
            url: url.into(),
        }
    }

    /// A single URL field such as `webhook_url` or a logo URL.
    pub fn field(field: impl Into<String>, url: impl Into<String>) -> Self {
        Target {
            field: field.into(),
            index: None,
            url: url.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_shapes_follow_the_catalogue() {
        let t = Target::image(3, "https://u:p@example.com/a.jpg");
        let e = FetchError::Credentials.into_api_error(&t);
        assert_eq!(e.code, Code::InvalidImageUrl);
        assert_eq!(
            e.details.unwrap(),
            json!({"index": 3, "url": "https://example.com/a.jpg"})
        );
        assert!(!e.message.contains("u:p"));

        let e = FetchError::Blocked {
            host: "internal".into(),
            range: BlockedRange::Private,
        }
        .into_api_error(&Target::field("webhook_url", "https://internal/x"));
        assert_eq!(e.code, Code::SsrfBlocked);
        assert_eq!(
            e.details.unwrap(),
            json!({"url": "https://internal/x", "field": "webhook_url"})
        );

        let e = FetchError::HttpStatus { status: 404 }.into_api_error(&t);
        assert_eq!(e.code, Code::ImageInaccessible);
        assert_eq!(
            e.details.unwrap(),
            json!({"index": 3, "url": "https://example.com/a.jpg", "status": 404, "reason": "http_status"})
        );

        let e = FetchError::Timeout {
            timeout_ms: 15000,
            stage: TimeoutStage::Item,
        }
        .into_api_error(&t);
        assert_eq!(
            e.details.unwrap(),
            json!({"index": 3, "url": "https://example.com/a.jpg", "timeout_ms": 15000})
        );

        let e = FetchError::UnsupportedFormat.into_api_error(&t);
        assert_eq!(e.code, Code::ImageProcessingFailed);
        assert_eq!(
            e.details.unwrap(),
            json!({"index": 3, "reason": "unsupported_format"})
        );
        assert!(e.message.starts_with("`images[3]` is not a JPEG"));
    }
}
