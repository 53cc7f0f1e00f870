//! What the client is allowed to do. `Default` is the production contract of
//! api.md §9; the development switches (`--allow-http`, `--allow-network`)
//! map onto `allow_http` and `allow_networks`.

use std::time::Duration;

use ipnet::IpNet;

#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// Accept `http://` URLs too (development flag `--allow-http`).
    pub allow_http: bool,
    /// Networks that pass the SSRF guard although they are not public
    /// (development flag `--allow-network CIDR`, e.g. `127.0.0.0/8`).
    pub allow_networks: Vec<IpNet>,
    /// Resolving, TCP connect and TLS handshake of one hop.
    pub connect_timeout: Duration,
    /// One image in all: every hop, the body and the decode check.
    pub item_timeout: Duration,
    /// A whole `fetch_images` call.
    pub total_timeout: Duration,
    /// Largest body accepted; the stream is abandoned as soon as it exceeds.
    pub max_bytes: u64,
    /// Redirects followed per URL (each hop is checked again).
    pub max_redirects: u32,
    /// Largest image, in pixels (width × height), checked from the header
    /// before anything of that size is allocated.
    pub max_pixels: u64,
    /// Trust the built-in Mozilla roots, the operating system's store, and
    /// the PEM bundle named by `SSL_CERT_FILE`. Off only in tests that must
    /// prove trust comes from `extra_roots_pem`.
    pub system_roots: bool,
    /// More trusted roots, each a PEM text holding one or more certificates.
    pub extra_roots_pem: Vec<String>,
    /// `User-Agent` sent with every request.
    pub user_agent: String,
    /// At most this many image decode checks run at once in this client, so
    /// many concurrent requests cannot hold many decoded bitmaps in memory.
    /// `0` means the number of CPUs.
    pub max_concurrent_decodes: usize,
    /// Where fetched image bodies are written while they are checked and until they
    /// are stored (see `spool`); `None` is the system's temporary directory.
    pub spool_dir: Option<std::path::PathBuf>,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            allow_http: false,
            allow_networks: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            item_timeout: Duration::from_secs(15),
            total_timeout: Duration::from_secs(30),
            max_bytes: 25 * 1024 * 1024,
            max_redirects: 5,
            max_pixels: 100_000_000,
            system_roots: true,
            extra_roots_pem: Vec::new(),
            user_agent: concat!("PeakReel/", env!("CARGO_PKG_VERSION")).to_string(),
            max_concurrent_decodes: 0,
            spool_dir: None,
        }
    }
}
