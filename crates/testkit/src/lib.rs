//! Test fixtures shared by the suites. A real HTTPS server on loopback with its own
//! CA (rcgen), a hand-written HTTP/1.1 responder so each route can misbehave
//! exactly as a test needs (drip, lie about sizes, redirect anywhere), and a
//! plain TCP listener that only counts connections, to prove the SSRF guard
//! never connects; and a real S3-compatible server ([`s3`]).

pub mod s3;

pub mod postgres;

pub mod odd_images;

use std::collections::HashMap;
use std::io::Cursor;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A CA and a server certificate it signed.
pub struct TestCa {
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
}

/// Names and addresses the server certificate is valid for.
pub const CERT_NAMES: &[&str] = &[
    "images.test",
    "rebind.test",
    "localhost",
    "127.0.0.2",
    "127.0.0.1",
];

pub fn make_ca() -> TestCa {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "PeakReel test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();

    let leaf_key = KeyPair::generate().unwrap();
    let names: Vec<String> = CERT_NAMES.iter().map(|s| s.to_string()).collect();
    let mut leaf_params = CertificateParams::new(names).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "images.test");
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
    TestCa {
        ca_pem: ca.pem(),
        server_config: Arc::new(server_config),
    }
}

/// What the server does for one path.
#[derive(Clone)]
pub enum Reply {
    Full {
        status: u16,
        content_type: &'static str,
        body: bytes::Bytes,
    },
    Redirect(String),
    /// Announces `len` bytes, then sends one byte per `every`.
    Drip {
        len: usize,
        every: Duration,
    },
    /// Sends `total` bytes in 64 KiB chunks, with or without Content-Length.
    Stream {
        total: u64,
        declare_length: bool,
    },
    Delayed(Duration, Box<Reply>),
}

/// (method, path, lower-cased headers, body) of one request.
pub type SeenRequest = (String, String, Vec<(String, String)>, Vec<u8>);

#[derive(Default)]
pub struct State {
    pub routes: Mutex<HashMap<String, Reply>>,
    /// Body bytes written by `Stream` replies (to see when a client hung up).
    pub stream_bytes_sent: AtomicU64,
    pub requests: AtomicUsize,
    /// (method, path, headers, body) of the last request.
    pub last_request: Mutex<Option<SeenRequest>>,
}

pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<State>,
}

impl Server {
    pub fn route(&self, path: &str, reply: Reply) {
        self.state
            .routes
            .lock()
            .unwrap()
            .insert(path.to_string(), reply);
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}{}", self.addr, path)
    }
}

/// Starts the HTTPS server on `ip` (port chosen by the kernel).
pub async fn start_server(ip: IpAddr, ca: &TestCa) -> Server {
    let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(State::default());
    let acceptor = TlsAcceptor::from(ca.server_config.clone());
    let st = state.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let st = st.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let _ = serve_one(tls, st).await;
                }
            });
        }
    });
    Server { addr, state }
}

/// The head of an HTTP/1.1 request read off a test connection.
pub struct RequestHead {
    pub method: String,
    pub path: String,
    /// Names lower-cased, values trimmed, in order.
    pub headers: Vec<(String, String)>,
    /// Bytes read past the head: the start of the body.
    pub rest: Vec<u8>,
}

/// Reads a request head (up to 64 KiB). `None` when the peer closes first or the head
/// is too long.
pub async fn read_request_head<S: AsyncRead + Unpin>(
    s: &mut S,
) -> std::io::Result<Option<RequestHead>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > 64 * 1024 {
            return Ok(None);
        }
    };
    let text = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("/").to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Some(RequestHead {
        method,
        path,
        headers,
        rest: buf[end..].to_vec(),
    }))
}

async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    st: Arc<State>,
) -> std::io::Result<()> {
    let Some(RequestHead {
        method,
        path,
        headers,
        rest,
    }) = read_request_head(&mut s).await?
    else {
        return Ok(());
    };
    let mut byte = [0u8; 1024];
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = rest;
    while body.len() < len {
        let n = s.read(&mut byte).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&byte[..n]);
    }
    st.requests.fetch_add(1, Ordering::SeqCst);
    *st.last_request.lock().unwrap() = Some((method, path.clone(), headers, body));

    let reply = if let Some(n) = path.strip_prefix("/hops/") {
        // /hops/N: N redirects, then the JPEG.
        match n.parse::<u32>() {
            Ok(0) | Err(_) => st.routes.lock().unwrap().get("/photo.jpg").cloned(),
            Ok(n) => Some(Reply::Redirect(format!("/hops/{}", n - 1))),
        }
    } else {
        st.routes.lock().unwrap().get(&path).cloned()
    };
    let reply = reply.unwrap_or(Reply::Full {
        status: 404,
        content_type: "text/plain",
        body: bytes::Bytes::from_static(b"not found"),
    });
    write_reply(&mut s, reply, &st).await?;
    s.shutdown().await
}

async fn write_reply<S: AsyncWrite + Unpin>(
    s: &mut S,
    mut reply: Reply,
    st: &State,
) -> std::io::Result<()> {
    while let Reply::Delayed(d, inner) = reply {
        tokio::time::sleep(d).await;
        reply = *inner;
    }
    match reply {
        Reply::Full {
            status,
            content_type,
            body,
        } => {
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nX-Test: yes\r\nConnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).await?;
            s.write_all(&body).await?;
        }
        Reply::Redirect(location) => {
            let head = format!(
                "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            s.write_all(head.as_bytes()).await?;
        }
        Reply::Drip { len, every } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
            );
            s.write_all(head.as_bytes()).await?;
            s.flush().await?;
            for _ in 0..len {
                tokio::time::sleep(every).await;
                s.write_all(&[0xFF]).await?;
                s.flush().await?;
            }
        }
        Reply::Stream {
            total,
            declare_length,
        } => {
            let length = if declare_length {
                format!("Content-Length: {total}\r\n")
            } else {
                String::new()
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n{length}Connection: close\r\n\r\n"
            );
            s.write_all(head.as_bytes()).await?;
            let chunk = vec![0xABu8; 64 * 1024];
            let mut sent = 0u64;
            while sent < total {
                let n = chunk.len().min((total - sent) as usize);
                s.write_all(&chunk[..n]).await?;
                sent += n as u64;
                st.stream_bytes_sent.fetch_add(n as u64, Ordering::SeqCst);
            }
        }
        Reply::Delayed(..) => unreachable!(),
    }
    s.flush().await
}

/// Plain TCP listeners on 127.0.0.1:`port` (and [::1]:`port` where IPv6
/// works) that only count accepted connections.
pub struct Counter {
    pub port: u16,
    pub count: Arc<AtomicUsize>,
}

impl Counter {
    pub fn get(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

pub async fn start_counter(port: u16) -> Counter {
    let count = Arc::new(AtomicUsize::new(0));
    let v4 = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the counter must own 127.0.0.1:port");
    let port = v4.local_addr().unwrap().port();
    let mut listeners = vec![v4];
    if let Ok(v6) = TcpListener::bind(("::1", port)).await {
        listeners.push(v6);
    }
    for l in listeners {
        let c = count.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = l.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                drop(sock);
            }
        });
    }
    Counter { port, count }
}

/// The shared test photos, found from the crate upwards (the repository's
/// `shared/` sits beside the checkout), or `PEAKREEL_TESTDATA`.
pub fn photos_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("PEAKREEL_TESTDATA") {
        return Some(PathBuf::from(p).join("photos"));
    }
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let cand = dir.join("shared/testdata/photos");
        if cand.is_dir() {
            return Some(cand);
        }
        if !dir.pop() {
            break;
        }
    }
    let fixed = PathBuf::from("/work/shared/testdata/photos");
    fixed.is_dir().then_some(fixed)
}

/// A real photo as JPEG bytes (a generated one if the photos are missing).
pub fn photo_jpeg(name: &str) -> Vec<u8> {
    if let Some(dir) = photos_dir() {
        if let Ok(b) = std::fs::read(dir.join(name)) {
            return b;
        }
    }
    let img = image::RgbImage::from_fn(800, 600, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    encode(
        &image::DynamicImage::ImageRgb8(img),
        image::ImageFormat::Jpeg,
    )
}

pub fn encode(img: &image::DynamicImage, fmt: image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, fmt).unwrap();
    out.into_inner()
}

/// A PNG whose header claims `w`×`h` with almost no data behind it: the
/// classic decompression bomb shape.
pub fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    png_chunk(&mut out, b"IHDR", &ihdr);
    // A tiny zlib stream (stored, empty) is enough: the size check must
    // fire before anyone reads it.
    png_chunk(
        &mut out,
        b"IDAT",
        &[
            0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01,
        ],
    );
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// Appends one PNG chunk (length, type, data, CRC) to `out`.
pub fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc_input);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// Peak resident set size of this process, in KiB (Linux `VmHWM`).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Where tests leave files for a person to look at (contact sheets of test renders):
/// `target/test-artefacts` of the workspace, or of `CARGO_TARGET_DIR`.
pub fn artefact_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("test-artefacts");
    std::fs::create_dir_all(&dir).expect("create the test artefact directory");
    dir
}

/// A contact sheet of `video`: one frame every half second, tiled 6 across, written to
/// [`artefact_dir`] as `NAME.png`. Returns its path.
pub fn contact_sheet(video: &std::path::Path, name: &str) -> PathBuf {
    let out = artefact_dir().join(format!("{name}.png"));
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(video)
        .args([
            "-vf",
            "fps=2,scale=240:-2,tile=6x8:padding=4:color=white",
            "-frames:v",
            "1",
            "-update",
            "1",
        ])
        .arg(&out)
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "contact sheet of {}", video.display());
    out
}
