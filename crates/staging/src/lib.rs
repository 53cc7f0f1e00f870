//! Virtual staging (api.md §4 `modification_mode`, §10): a listing photo, its room type
//! and a mode in; the restyled (`change_decoration`) or furnished (`furnish`) photo out.
//! There is no local default: a server stages only when an HTTP provider is configured.
//!
//! # The HTTP contract ([`HttpStaging`])
//!
//! ```text
//! POST {base}/v1/stage
//! Authorization: Bearer {api_key}            (omitted when no key is configured)
//! Content-Type: application/json
//! Accept: image/jpeg, image/png, image/webp
//!
//! {"image": "<base64 of the photo's bytes>", "image_type": "image/jpeg",
//!  "room_type": "living_room", "mode": "furnish"}
//! ```
//!
//! - `room_type`: one of api.md §4's room types; `mode`: `change_decoration` or `furnish`.
//! - Success: `200` with the staged image as the body (`image/jpeg`, `image/png` or
//!   `image/webp`; the bytes are checked, not the header), at most 25 MiB.
//! - Anything else is a failure: a non-2xx status (the first 512 bytes of the body are
//!   logged), a body that is not an image, a connection or TLS error, or no complete
//!   answer within the timeout (default 60 s, connection 5 s). The provider URL is
//!   operator configuration and trusted: no SSRF guard, system resolver, redirects are
//!   not followed (a 3xx is a failure). HTTPS trusts the Mozilla roots and the system
//!   store (or `SSL_CERT_FILE`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use peakreel_types::Code;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use url::Url;

/// The two modes that need a provider (`no_modify` never reaches one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StagingMode {
    ChangeDecoration,
    Furnish,
}

impl StagingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StagingMode::ChangeDecoration => "change_decoration",
            StagingMode::Furnish => "furnish",
        }
    }
}

/// One image to stage.
#[derive(Debug, Clone)]
pub struct StageRequest {
    pub image: Bytes,
    /// api.md §4 wire name (`living_room`, …).
    pub room_type: String,
    pub mode: StagingMode,
}

#[derive(Debug, thiserror::Error)]
pub enum StagingError {
    #[error("the staging provider answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the staging provider did not answer within {} s", .0.as_secs())]
    Timeout(Duration),
    #[error("cannot reach the staging provider: {0}")]
    Connect(String),
    #[error("the staging provider's answer is not a usable image: {0}")]
    BadResponse(String),
    #[error("the staging provider is misconfigured: {0}")]
    Config(String),
}

impl StagingError {
    /// The task error code (errors.md): a timeout is `SERVICE_TIMEOUT`, anything else
    /// `SERVICE_ERROR`.
    pub fn code(&self) -> Code {
        match self {
            StagingError::Timeout(_) => Code::ServiceTimeout,
            _ => Code::ServiceError,
        }
    }

    /// Whether the same call may succeed later (overload, outage), as opposed to a
    /// refusal of this image or a broken configuration.
    pub fn is_transient(&self) -> bool {
        match self {
            StagingError::Status { status, .. } => *status == 429 || *status >= 500,
            StagingError::Timeout(_) | StagingError::Connect(_) => true,
            StagingError::BadResponse(_) | StagingError::Config(_) => false,
        }
    }
}

pub type StageFuture<'a> = Pin<Box<dyn Future<Output = Result<Bytes, StagingError>> + Send + 'a>>;

/// A virtual-staging provider.
pub trait StagingProvider: Send + Sync {
    /// The staged image's bytes (JPEG, PNG or WebP).
    fn stage(&self, req: StageRequest) -> StageFuture<'_>;

    /// For logs and `config print`.
    fn name(&self) -> &str;
}

/// Settings of [`HttpStaging`].
#[derive(Debug, Clone)]
pub struct HttpStagingConfig {
    /// Base URL; the call goes to `{base}/v1/stage`.
    pub url: String,
    pub api_key: Option<String>,
    /// The whole call: connection, upload, answer.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_bytes: usize,
}

impl HttpStagingConfig {
    pub fn new(url: impl Into<String>, api_key: Option<String>) -> Self {
        HttpStagingConfig {
            url: url.into(),
            api_key,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            max_bytes: 25 * 1024 * 1024,
        }
    }
}

/// The HTTP provider (contract in the module documentation). One connection per call:
/// staging calls are seconds long and few, so pooling would buy nothing.
#[derive(Clone)]
pub struct HttpStaging {
    endpoint: Url,
    config: HttpStagingConfig,
    tls: TlsConnector,
}

impl std::fmt::Debug for HttpStaging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpStaging")
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

impl HttpStaging {
    pub fn new(config: HttpStagingConfig) -> Result<Self, StagingError> {
        let base = Url::parse(&config.url)
            .map_err(|e| StagingError::Config(format!("staging.url {}: {e}", config.url)))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(StagingError::Config(format!(
                "staging.url {} must be an http(s) URL",
                config.url
            )));
        }
        let endpoint = Url::parse(&format!("{}/v1/stage", base.as_str().trim_end_matches('/')))
            .map_err(|e| StagingError::Config(e.to_string()))?;
        Ok(HttpStaging {
            endpoint,
            tls: TlsConnector::from(Arc::new(tls_config()?)),
            config,
        })
    }

    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    async fn call(&self, req: StageRequest) -> Result<Bytes, StagingError> {
        let url = &self.endpoint;
        let host = url.host_str().unwrap_or_default().to_string();
        let port = url.port_or_known_default().unwrap_or(443);
        let connect = async {
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| StagingError::Connect(e.to_string()))?;
            let _ = tcp.set_nodelay(true);
            let io: Box<dyn Io> = if url.scheme() == "https" {
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| StagingError::Config(e.to_string()))?;
                Box::new(
                    self.tls
                        .connect(name, tcp)
                        .await
                        .map_err(|e| StagingError::Connect(format!("TLS: {e}")))?,
                )
            } else {
                Box::new(tcp)
            };
            Ok::<_, StagingError>(io)
        };
        let io = tokio::time::timeout(self.config.connect_timeout, connect)
            .await
            .map_err(|_| StagingError::Connect("connection timed out".into()))??;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(io))
                .await
                .map_err(|e| StagingError::Connect(e.to_string()))?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let _abort = AbortOnDrop(driver);

        let body = serde_json::json!({
            "image": base64::engine::general_purpose::STANDARD.encode(&req.image),
            "image_type": sniff(&req.image).unwrap_or("application/octet-stream"),
            "room_type": req.room_type,
            "mode": req.mode.as_str(),
        })
        .to_string();
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(&url[url::Position::BeforePath..url::Position::AfterQuery])
            .header(
                HOST,
                &url[url::Position::BeforeHost..url::Position::AfterPort],
            )
            .header(CONTENT_TYPE, "application/json")
            .header(CONTENT_LENGTH, body.len())
            .header(ACCEPT, "image/jpeg, image/png, image/webp")
            .header(USER_AGENT, concat!("PeakReel/", env!("CARGO_PKG_VERSION")));
        if let Some(key) = self.config.api_key.as_deref().filter(|k| !k.is_empty()) {
            builder = builder.header(AUTHORIZATION, format!("Bearer {key}"));
        }
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| StagingError::Config(e.to_string()))?;
        let resp = sender
            .send_request(request)
            .await
            .map_err(|e| StagingError::Connect(e.to_string()))?;
        let status = resp.status();
        let mut incoming = resp.into_body();
        let mut data = Vec::new();
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|e| StagingError::Connect(e.to_string()))?;
            if let Ok(chunk) = frame.into_data() {
                data.extend_from_slice(&chunk);
                if data.len() > self.config.max_bytes {
                    return Err(StagingError::BadResponse(format!(
                        "the answer exceeds {} bytes",
                        self.config.max_bytes
                    )));
                }
            }
            if !status.is_success() && data.len() >= 512 {
                break;
            }
        }
        if !status.is_success() {
            let end = data.len().min(512);
            return Err(StagingError::Status {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&data[..end]).trim().to_string(),
            });
        }
        if sniff(&data).is_none() {
            return Err(StagingError::BadResponse(format!(
                "{} bytes that are not JPEG, PNG or WebP",
                data.len()
            )));
        }
        Ok(Bytes::from(data))
    }
}

impl StagingProvider for HttpStaging {
    fn stage(&self, req: StageRequest) -> StageFuture<'_> {
        Box::pin(async move {
            let limit = self.config.timeout;
            match tokio::time::timeout(limit, self.call(req)).await {
                Ok(r) => r,
                Err(_) => Err(StagingError::Timeout(limit)),
            }
        })
    }

    fn name(&self) -> &str {
        "http"
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The image type by its first bytes.
pub fn sniff(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn tls_config() -> Result<rustls::ClientConfig, StagingError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // The system store, or the bundle named by SSL_CERT_FILE when that is set.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StagingError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_transience() {
        let s = |status| StagingError::Status {
            status,
            body: String::new(),
        };
        assert_eq!(s(500).code(), Code::ServiceError);
        assert!(s(503).is_transient() && s(429).is_transient());
        assert!(!s(400).is_transient());
        let t = StagingError::Timeout(Duration::from_secs(1));
        assert_eq!(t.code(), Code::ServiceTimeout);
        assert!(t.is_transient());
        assert_eq!(
            StagingError::BadResponse("x".into()).code(),
            Code::ServiceError
        );
    }

    #[test]
    fn endpoint_and_config_checks() {
        let h =
            HttpStaging::new(HttpStagingConfig::new("https://stage.example/api/", None)).unwrap();
        assert_eq!(h.endpoint().as_str(), "https://stage.example/api/v1/stage");
        assert!(HttpStaging::new(HttpStagingConfig::new("ftp://x", None)).is_err());
        assert!(HttpStaging::new(HttpStagingConfig::new("not a url", None)).is_err());
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nxxxx"), Some("image/png"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"<html>"), None);
    }
}
