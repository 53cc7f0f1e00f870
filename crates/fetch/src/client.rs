//! The guarded client. Every request goes through [`SafeClient::open`]:
//! syntax rules → one resolution → every address checked → TCP to a checked
//! address → TLS with the URL's host name → HTTP/1.1 on that one connection.
//! Redirects are never followed by the HTTP layer; [`SafeClient::get`] walks
//! them itself and sends each hop through the same path again.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{
    HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION, USER_AGENT,
};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;
use url::{Host, Position, Url};

use crate::error::{FetchError, TimeoutStage};
use crate::image_check::{inspect_image, ImageInfo};
use crate::ip::check_addr;
use crate::policy::FetchPolicy;
use crate::resolve::{Resolver, SystemResolver};
use crate::spool::{spool_capped, spool_dir, ImageBody};
use crate::url_check::{check_url_syntax, loggable_url};

/// A problem with the client's own configuration (found at start-up).
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    #[error("cannot read trusted certificates: {0}")]
    Certificates(String),
    #[error("no trusted root certificates are configured")]
    NoRoots,
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
}

/// A fetched and checked image.
#[derive(Debug, Clone)]
pub struct FetchedImage {
    /// Spooled to a temporary file when fetched; in memory when it came from an upload.
    pub body: ImageBody,
    pub info: ImageInfo,
    /// The URL the bytes came from after redirects.
    pub final_url: Url,
}

/// A fetched body that has not been interpreted.
#[derive(Debug, Clone)]
pub struct FetchedBody {
    pub bytes: Bytes,
    /// The server's `Content-Type`, for information only.
    pub content_type: Option<String>,
    pub final_url: Url,
}

/// A complete answer (see [`SafeClient::post_json_for_body`]).
#[derive(Debug, Clone)]
pub struct FullResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// What a webhook receiver answered.
#[derive(Debug, Clone)]
pub struct PostResponse {
    pub status: u16,
    pub headers: HeaderMap,
    /// At most the first 1 KiB of the body (for the delivery log).
    pub body_prefix: Bytes,
    /// From the start of the call until the response head arrived.
    pub latency: Duration,
}

/// The SSRF-guarded HTTP(S) client. Cheap to clone (shared inside).
#[derive(Clone)]
pub struct SafeClient {
    inner: Arc<Inner>,
}

struct Inner {
    policy: FetchPolicy,
    resolver: Arc<dyn Resolver>,
    tls: TlsConnector,
    decodes: Semaphore,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Stops the task driving a connection when the request is done or
/// abandoned (timeout, size cap), so nothing keeps reading behind our back.
struct ConnGuard(tokio::task::JoinHandle<()>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

const BODY_PREFIX: usize = 1024;

impl SafeClient {
    /// A client with `policy`, resolving names through `resolver`.
    pub fn new(policy: FetchPolicy, resolver: Arc<dyn Resolver>) -> Result<Self, ClientBuildError> {
        let tls = TlsConnector::from(Arc::new(tls_config(&policy)?));
        let decodes = match policy.max_concurrent_decodes {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        Ok(SafeClient {
            inner: Arc::new(Inner {
                policy,
                resolver,
                tls,
                decodes: Semaphore::new(decodes),
            }),
        })
    }

    /// A client using the operating system's resolver.
    pub fn with_system_resolver(policy: FetchPolicy) -> Result<Self, ClientBuildError> {
        Self::new(policy, Arc::new(SystemResolver))
    }

    pub fn policy(&self) -> &FetchPolicy {
        &self.inner.policy
    }

    /// Syntax, scheme, one resolution and the address check, without any
    /// request: for `webhook_url` at task creation.
    pub async fn check_public_url(&self, url: &str) -> Result<Url, FetchError> {
        let url = check_url_syntax(url, self.inner.policy.allow_http)?;
        let timeout = self.inner.policy.connect_timeout;
        tokio::time::timeout(timeout, self.resolve_checked(&url))
            .await
            .map_err(|_| timeout_err(timeout, TimeoutStage::Connect))??;
        Ok(url)
    }

    /// Fetches one image (the network part within `item_timeout`) and runs the full
    /// check. Waiting for a decode slot and decoding are our own work, so they are not
    /// charged to the remote host's timeout.
    pub async fn fetch_image(&self, url: &str) -> Result<FetchedImage, FetchError> {
        let (body, final_url) = self.fetch_image_body(url).await?;
        self.decode(body, final_url).await
    }

    /// A new spooled body in this client's spool directory, for image bytes that come
    /// from somewhere else than a fetch (stored uploads), so they too wait on disk.
    pub fn spool_writer(&self) -> std::io::Result<crate::SpoolWriter> {
        crate::SpoolWriter::create(&spool_dir(&self.inner.policy.spool_dir))
    }

    /// One image's body, spooled to a file, within `item_timeout`.
    async fn fetch_image_body(&self, url: &str) -> Result<(ImageBody, Url), FetchError> {
        let url = check_url_syntax(url, self.inner.policy.allow_http)?;
        let timeout = self.inner.policy.item_timeout;
        let dir = spool_dir(&self.inner.policy.spool_dir);
        let max = self.inner.policy.max_bytes;
        let work = async {
            let (resp, guard, final_url) = self.get_response(url).await?;
            let body = spool_capped(resp, max, &dir).await?;
            drop(guard);
            Ok((body, final_url))
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| timeout_err(timeout, TimeoutStage::Item))?
    }

    async fn decode(&self, body: ImageBody, final_url: Url) -> Result<FetchedImage, FetchError> {
        let info = self.inspect_body(&body).await?;
        Ok(FetchedImage {
            body,
            info,
            final_url,
        })
    }

    /// The checks a fetched image gets (size limit, format by its bytes, pixel limit
    /// from the header, full decode), for bytes that arrived another way (uploads).
    /// Shares this client's decode slots, so uploads and fetches together hold at most
    /// one decoded bitmap per slot.
    pub async fn inspect_bytes(&self, bytes: Bytes) -> Result<ImageInfo, FetchError> {
        self.inspect_body(&ImageBody::Memory(bytes)).await
    }

    /// [`SafeClient::inspect_bytes`] of a body in memory or spooled. A spooled body is
    /// read back only inside a decode slot, so at most one file per slot is in memory.
    pub async fn inspect_body(&self, body: &ImageBody) -> Result<ImageInfo, FetchError> {
        let limit_bytes = self.inner.policy.max_bytes;
        if body.len() > limit_bytes {
            return Err(FetchError::TooLarge { limit_bytes });
        }
        let max_pixels = self.inner.policy.max_pixels;
        // One decode per CPU at a time: the decoder's working set is a few times the file.
        let _permit = self
            .inner
            .decodes
            .acquire()
            .await
            .expect("the decode semaphore is never closed");
        let body = body.clone();
        tokio::task::spawn_blocking(move || {
            let bytes = body.to_bytes_blocking().map_err(|e| FetchError::Spool {
                reason: e.to_string(),
            })?;
            inspect_image(&bytes, max_pixels)
        })
        .await
        .map_err(|e| FetchError::Undecodable {
            reason: format!("the decoder stopped unexpectedly: {e}"),
        })?
    }

    /// Fetches every URL in parallel (the network part under `total_timeout`), then
    /// checks the images. On failure the error of the lowest failing index is returned,
    /// the same whatever order the work finishes in. When the set runs out of time, the
    /// lowest unfinished index gets `IMAGE_TIMEOUT`.
    pub async fn fetch_images(
        &self,
        urls: &[String],
    ) -> Result<Vec<FetchedImage>, (usize, FetchError)> {
        // Syntax errors need no network; report the first one right away.
        for (i, u) in urls.iter().enumerate() {
            check_url_syntax(u, self.inner.policy.allow_http).map_err(|e| (i, e))?;
        }
        let (bodies, network_error) = self.fetch_bodies(urls).await;
        // Every body before the network failure (if any) arrived; a decode failure at a
        // lower index wins over the network failure.
        let mut set = JoinSet::new();
        for (i, (body, final_url)) in bodies.into_iter().enumerate() {
            let client = self.clone();
            set.spawn(async move { (i, client.decode(body, final_url).await) });
        }
        let mut images: Vec<Option<FetchedImage>> = (0..set.len()).map(|_| None).collect();
        let mut first_error: Option<(usize, FetchError)> = None;
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, Ok(img))) => images[i] = Some(img),
                Ok((i, Err(e))) => {
                    if first_error.as_ref().is_none_or(|(j, _)| i < *j) {
                        first_error = Some((i, e));
                    }
                }
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => unreachable!("decode tasks are never cancelled"),
            }
        }
        if let Some(err) = first_error.or(network_error) {
            return Err(err);
        }
        Ok(images
            .into_iter()
            .map(|i| i.expect("every image decoded"))
            .collect())
    }

    /// The bodies of `urls`, in order, up to the lowest index whose fetch failed (that
    /// failure is returned beside them).
    async fn fetch_bodies(
        &self,
        urls: &[String],
    ) -> (Vec<(ImageBody, Url)>, Option<(usize, FetchError)>) {
        let mut results: Vec<Option<Result<(ImageBody, Url), FetchError>>> =
            (0..urls.len()).map(|_| None).collect();
        // Dropping the JoinSet (on any return) aborts the fetches still running.
        let mut set = JoinSet::new();
        for (i, u) in urls.iter().enumerate() {
            let client = self.clone();
            let u = u.clone();
            set.spawn(async move { (i, client.fetch_image_body(&u).await) });
        }
        let total = self.inner.policy.total_timeout;
        let deadline = tokio::time::sleep(total);
        tokio::pin!(deadline);
        let take_ok = |results: &mut Vec<Option<Result<(ImageBody, Url), FetchError>>>,
                       upto: usize| {
            results
                .drain(..upto)
                .map(|r| match r {
                    Some(Ok(body)) => body,
                    _ => unreachable!("every entry before `upto` is Ok"),
                })
                .collect::<Vec<_>>()
        };
        loop {
            match results.iter().position(|r| !matches!(r, Some(Ok(_)))) {
                None => {
                    let n = results.len();
                    return (take_ok(&mut results, n), None);
                }
                Some(i) if matches!(results[i], Some(Err(_))) => {
                    let Some(Err(e)) = results[i].take() else {
                        unreachable!()
                    };
                    return (take_ok(&mut results, i), Some((i, e)));
                }
                Some(_) => {}
            }
            tokio::select! {
                joined = set.join_next() => match joined {
                    Some(Ok((i, r))) => results[i] = Some(r),
                    Some(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    Some(Err(_)) | None => unreachable!("tasks are only cancelled by dropping the set"),
                },
                _ = &mut deadline => {
                    let i = results.iter().position(|r| !matches!(r, Some(Ok(_)))).unwrap_or(0);
                    return (take_ok(&mut results, i), Some((i, timeout_err(total, TimeoutStage::Set))));
                }
            }
        }
    }

    /// GET with redirects and the size cap, without interpreting the body
    /// (within `item_timeout`).
    pub async fn fetch_bytes(&self, url: &str) -> Result<FetchedBody, FetchError> {
        let url = check_url_syntax(url, self.inner.policy.allow_http)?;
        let timeout = self.inner.policy.item_timeout;
        tokio::time::timeout(timeout, self.get(url))
            .await
            .map_err(|_| timeout_err(timeout, TimeoutStage::Item))?
    }

    /// POSTs a JSON body (webhook delivery) through the same guarded path.
    /// Redirects are not followed (a 3xx is returned like any status); the
    /// whole call, connection included, is bounded by `timeout`.
    /// POST a JSON body through the same guarded connection path and read the whole
    /// answer (capped at the policy's `max_bytes`), whatever its status: for provider APIs
    /// whose responses are the payload (speech audio), unlike webhook receivers.
    pub async fn post_json_for_body(
        &self,
        url: &str,
        headers: &HeaderMap,
        body: Bytes,
        timeout: Duration,
    ) -> Result<FullResponse, FetchError> {
        let url = check_url_syntax(url, self.inner.policy.allow_http)?;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut extra = headers.clone();
        extra.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let max = self.inner.policy.max_bytes;
        let work = async {
            let (resp, _guard) = self.open(&url, Method::POST, &extra, body).await?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let bytes = read_capped(resp, max).await?;
            Ok::<_, FetchError>(FullResponse {
                status,
                headers,
                body: bytes,
            })
        };
        tokio::time::timeout_at(deadline, work)
            .await
            .map_err(|_| timeout_err(timeout, TimeoutStage::Item))?
    }

    pub async fn post_json(
        &self,
        url: &str,
        headers: &HeaderMap,
        body: Bytes,
        timeout: Duration,
    ) -> Result<PostResponse, FetchError> {
        let url = check_url_syntax(url, self.inner.policy.allow_http)?;
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut extra = headers.clone();
        extra.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let (resp, _guard) =
            tokio::time::timeout_at(deadline, self.open(&url, Method::POST, &extra, body))
                .await
                .map_err(|_| timeout_err(timeout, TimeoutStage::Item))??;
        let latency = started.elapsed();
        let status = resp.status().as_u16();
        let resp_headers = resp.headers().clone();
        let mut incoming = resp.into_body();
        let mut prefix = BytesMut::new();
        // The status decides a delivery; the body is only kept for the log,
        // so a receiver that is slow after its status line costs at most the
        // rest of the timeout and never turns a 2xx into a failure.
        while prefix.len() < BODY_PREFIX {
            match tokio::time::timeout_at(deadline, incoming.frame()).await {
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        let take = (BODY_PREFIX - prefix.len()).min(data.len());
                        prefix.extend_from_slice(&data[..take]);
                    }
                }
                _ => break,
            }
        }
        Ok(PostResponse {
            status,
            headers: resp_headers,
            body_prefix: prefix.freeze(),
            latency,
        })
    }

    /// GET following at most `max_redirects` redirects, each hop checked
    /// from scratch, then the body under the size cap.
    async fn get(&self, first: Url) -> Result<FetchedBody, FetchError> {
        let (resp, guard, final_url) = self.get_response(first).await?;
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = read_capped(resp, self.inner.policy.max_bytes).await?;
        drop(guard);
        Ok(FetchedBody {
            bytes,
            content_type,
            final_url,
        })
    }

    /// GET following redirects (each hop checked from scratch) up to a successful
    /// answer, whose body is left unread; the guard keeps its connection alive.
    async fn get_response(
        &self,
        first: Url,
    ) -> Result<(Response<Incoming>, ConnGuard, Url), FetchError> {
        let policy = &self.inner.policy;
        let mut url = first;
        let mut redirects = 0u32;
        loop {
            let (resp, guard) = self
                .open(&url, Method::GET, &HeaderMap::new(), Bytes::new())
                .await?;
            let status = resp.status();
            if matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
                let next = redirect_target(&url, &resp, policy.allow_http)?;
                drop(guard);
                redirects += 1;
                if redirects > policy.max_redirects {
                    return Err(FetchError::TooManyRedirects {
                        max: policy.max_redirects,
                    });
                }
                tracing::debug!(from = %loggable_url(&url), to = %loggable_url(&next), "following redirect");
                url = next;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::HttpStatus {
                    status: status.as_u16(),
                });
            }
            return Ok((resp, guard, url));
        }
    }

    /// Resolves the URL's host once and checks every address. IP literals
    /// never reach the resolver; `localhost` names are answered here (RFC
    /// 6761) so they cannot be handed to a DNS server that might say
    /// otherwise.
    async fn resolve_checked(&self, url: &Url) -> Result<Vec<SocketAddr>, FetchError> {
        let port = url
            .port_or_known_default()
            .ok_or_else(|| FetchError::InvalidUrl {
                reason: "no port".into(),
            })?;
        let (host_name, addrs): (String, Vec<IpAddr>) = match url.host() {
            Some(Host::Ipv4(ip)) => (ip.to_string(), vec![IpAddr::V4(ip)]),
            Some(Host::Ipv6(ip)) => (ip.to_string(), vec![IpAddr::V6(ip)]),
            Some(Host::Domain(d)) => {
                let name = d.trim_end_matches('.').to_ascii_lowercase();
                let addrs = if name == "localhost" || name.ends_with(".localhost") {
                    vec![
                        IpAddr::from([127, 0, 0, 1]),
                        IpAddr::from([0, 0, 0, 0, 0, 0, 0, 1]),
                    ]
                } else if let Ok(ip) = name.parse::<IpAddr>() {
                    // Cannot happen for http(s) after WHATWG parsing, but a
                    // numeric string must never be handed to getaddrinfo.
                    vec![ip]
                } else {
                    self.inner
                        .resolver
                        .resolve(&name)
                        .await
                        .map_err(|_| FetchError::Resolve { host: name.clone() })?
                };
                (name, addrs)
            }
            None => {
                return Err(FetchError::InvalidUrl {
                    reason: "no host".into(),
                })
            }
        };
        if addrs.is_empty() {
            return Err(FetchError::Resolve { host: host_name });
        }
        // Every address must pass, not just the one we would pick: a name
        // that also points inside is an attack (or a mistake) either way.
        for ip in &addrs {
            if let Err(range) = check_addr(*ip, &self.inner.policy.allow_networks) {
                tracing::info!(url = %loggable_url(url), %range, "SSRF guard refused a URL");
                return Err(FetchError::Blocked {
                    host: host_name,
                    range,
                });
            }
        }
        Ok(addrs
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect())
    }

    /// Resolve + check + connect + TLS + one request on a fresh connection.
    async fn open(
        &self,
        url: &Url,
        method: Method,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<(Response<Incoming>, ConnGuard), FetchError> {
        let policy = &self.inner.policy;
        let connect_timeout = policy.connect_timeout;
        let io =
            tokio::time::timeout(connect_timeout, async {
                let addrs = self.resolve_checked(url).await?;
                let tcp = connect_any(&addrs).await?;
                let io: Box<dyn Io> =
                    if url.scheme() == "https" {
                        let name = server_name(url)?;
                        let tls = self.inner.tls.connect(name, tcp).await.map_err(|e| {
                            FetchError::Tls {
                                reason: e.to_string(),
                            }
                        })?;
                        Box::new(tls)
                    } else {
                        Box::new(tcp)
                    };
                Ok::<_, FetchError>(io)
            })
            .await
            .map_err(|_| timeout_err(connect_timeout, TimeoutStage::Connect))??;

        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(io))
                .await
                .map_err(protocol)?;
        let guard = ConnGuard(tokio::spawn(async move {
            let _ = conn.await;
        }));

        let mut req = Request::builder()
            .method(method)
            .uri(&url[Position::BeforePath..Position::AfterQuery]);
        let req_headers = req.headers_mut().expect("builder has no error yet");
        for (name, value) in headers {
            req_headers.append(name, value.clone());
        }
        let host = &url[Position::BeforeHost..Position::AfterPort];
        req_headers.insert(HOST, HeaderValue::from_str(host).map_err(protocol)?);
        req_headers.insert(
            USER_AGENT,
            HeaderValue::from_str(&policy.user_agent).map_err(protocol)?,
        );
        if !body.is_empty() {
            req_headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        let req = req.body(Full::new(body)).map_err(protocol)?;
        let resp = sender.send_request(req).await.map_err(protocol)?;
        Ok((resp, guard))
    }
}

fn timeout_err(d: Duration, stage: TimeoutStage) -> FetchError {
    FetchError::Timeout {
        timeout_ms: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
        stage,
    }
}

pub(crate) fn protocol(e: impl std::fmt::Display) -> FetchError {
    FetchError::Protocol {
        reason: e.to_string(),
    }
}

/// Connects to the first checked address that accepts.
async fn connect_any(addrs: &[SocketAddr]) -> Result<TcpStream, FetchError> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(FetchError::Connect {
        reason: last.map_or_else(|| "no address".to_string(), |e| e.to_string()),
    })
}

fn server_name(url: &Url) -> Result<ServerName<'static>, FetchError> {
    match url.host() {
        Some(Host::Ipv4(ip)) => Ok(ServerName::IpAddress(IpAddr::V4(ip).into())),
        Some(Host::Ipv6(ip)) => Ok(ServerName::IpAddress(IpAddr::V6(ip).into())),
        Some(Host::Domain(d)) => {
            ServerName::try_from(d.trim_end_matches('.').to_string()).map_err(|e| {
                FetchError::InvalidUrl {
                    reason: e.to_string(),
                }
            })
        }
        None => Err(FetchError::InvalidUrl {
            reason: "no host".into(),
        }),
    }
}

/// The next hop of a redirect, with the same syntax rules as a URL from the
/// client. A bad target is the remote server's fault, so it is reported as
/// an unusable redirect (IMAGE_INACCESSIBLE), not as an invalid request URL.
fn redirect_target(
    current: &Url,
    resp: &Response<Incoming>,
    allow_http: bool,
) -> Result<Url, FetchError> {
    let location = resp
        .headers()
        .get(LOCATION)
        .ok_or_else(|| FetchError::BadRedirect {
            reason: "no Location header".into(),
        })?
        .to_str()
        .map_err(|_| FetchError::BadRedirect {
            reason: "Location is not text".into(),
        })?;
    let next = current
        .join(location)
        .map_err(|e| FetchError::BadRedirect {
            reason: e.to_string(),
        })?;
    check_url_syntax(next.as_str(), allow_http).map_err(|e| FetchError::BadRedirect {
        reason: format!("the target {e}"),
    })
}

/// Reads the body, giving up the moment it would exceed `max` bytes: the
/// buffer never holds more than `max`.
async fn read_capped(resp: Response<Incoming>, max: u64) -> Result<Bytes, FetchError> {
    let too_large = || FetchError::TooLarge { limit_bytes: max };
    let declared = declared_length(&resp);
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    // Trust the declared size only for an up-front reservation of a sane size.
    let reserve = declared
        .unwrap_or(256 * 1024)
        .min(max)
        .min(32 * 1024 * 1024);
    let mut buf = BytesMut::with_capacity(reserve as usize);
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(protocol)?;
        if let Ok(data) = frame.into_data() {
            if (buf.len() + data.len()) as u64 > max {
                return Err(too_large());
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// The `Content-Length` the server announced, if it is a number.
pub(crate) fn declared_length(resp: &Response<Incoming>) -> Option<u64> {
    resp.headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

fn tls_config(policy: &FetchPolicy) -> Result<rustls::ClientConfig, ClientBuildError> {
    let mut roots = rustls::RootCertStore::empty();
    if policy.system_roots {
        // Compiled-in Mozilla roots keep public hosts working in minimal
        // containers without a CA bundle...
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        // ...plus the machine's store, which rustls-native-certs replaces by
        // the PEM bundle named in SSL_CERT_FILE when that is set.
        let native = rustls_native_certs::load_native_certs();
        if std::env::var_os("SSL_CERT_FILE").is_some() {
            if let Some(e) = native.errors.first() {
                return Err(ClientBuildError::Certificates(format!(
                    "SSL_CERT_FILE: {e}"
                )));
            }
        }
        for cert in native.certs {
            // A malformed certificate in the system store should not stop
            // the server; it just is not trusted.
            let _ = roots.add(cert);
        }
    }
    for pem in &policy.extra_roots_pem {
        let mut found = 0;
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| ClientBuildError::Certificates(e.to_string()))?;
            roots.add(cert)?;
            found += 1;
        }
        if found == 0 {
            return Err(ClientBuildError::Certificates(
                "an extra root PEM holds no certificate".into(),
            ));
        }
    }
    if roots.is_empty() {
        return Err(ClientBuildError::NoRoots);
    }
    // The provider is named explicitly so another crate enabling aws-lc-rs
    // in the same build cannot make the default ambiguous.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
