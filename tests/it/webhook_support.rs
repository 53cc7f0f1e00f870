//! Fixtures of the webhook tests (api.md §11): a programmable HTTPS receiver that records
//! every request (headers and raw body bytes, arrival time) and answers from a script
//! (fail N times, hang past the 30 s limit, then succeed); an HMAC check that does not
//! use PeakReel's code (`ring::hmac`, not the product's `hmac`/`sha2`); and what the
//! suite's processes share beyond the launcher's defaults: a fast retry schedule, and
//! helpers that read the delivery log.

use crate::support::{unix_now, Acct, Launch, Proc, Site};
use peakreel_testkit::TestCa;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The retry schedule every process of these tests runs with unless a test says
/// otherwise: retries 1 s, 2 s and 2 s after the first attempt, without jitter.
pub const FAST_SCHEDULE: &str = "[1, 2, 2]";

// ---------------------------------------------------------------------------------------
// The receiver.
// ---------------------------------------------------------------------------------------

/// What the receiver does with one request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Answer this status with this body at once.
    Status(u16, &'static str),
    /// Read the request, then say nothing for this long (the sender must give up first).
    Hang(Duration),
}

/// One request the receiver read in full.
#[derive(Debug, Clone)]
pub struct Hit {
    /// When the request was read (monotonic), to measure the retry schedule.
    pub at: Instant,
    pub method: String,
    pub path: String,
    /// Lower-cased names, values as sent, in order.
    pub headers: Vec<(String, String)>,
    /// The raw body bytes, exactly as received (the signature is over these).
    pub body: Vec<u8>,
}

impl Hit {
    /// The single value of a header; panics when it is repeated.
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut values = self.headers.iter().filter(|(k, _)| k == name);
        let first = values.next().map(|(_, v)| v.as_str());
        assert!(values.next().is_none(), "header {name} sent twice");
        first
    }

    pub fn delivery_id(&self) -> &str {
        self.header("x-vibepeak-delivery")
            .expect("X-VibePeak-Delivery header")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "webhook body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

#[derive(Default)]
struct ReceiverState {
    script: Mutex<VecDeque<Answer>>,
    hits: Mutex<Vec<Hit>>,
    connections: AtomicUsize,
}

/// An HTTPS webhook receiver on loopback whose certificate the `peakreel` processes
/// trust (the site's CA through `SSL_CERT_FILE`). Answers from its script in order,
/// then `200 ok` to everything.
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<ReceiverState>,
}

impl Receiver {
    /// A receiver on 127.0.0.1, port chosen by the kernel.
    pub async fn start(ca: &TestCa, script: Vec<Answer>) -> Receiver {
        Receiver::start_at("127.0.0.1:0".parse().unwrap(), ca, script).await
    }

    /// A receiver on a given address (to come up where a sender was refused before).
    pub async fn start_at(addr: SocketAddr, ca: &TestCa, script: Vec<Answer>) -> Receiver {
        let listener = TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("bind the receiver on {addr}: {e}"));
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ReceiverState {
            script: Mutex::new(script.into()),
            ..ReceiverState::default()
        });
        let acceptor = TlsAcceptor::from(ca.server_config.clone());
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                st.connections.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                let st = st.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = serve(tls, st).await;
                    }
                });
            }
        });
        Receiver { addr, state }
    }

    /// Where tasks send their events.
    pub fn url(&self) -> String {
        format!("https://{}/hook", self.addr)
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.state.hits.lock().unwrap().clone()
    }

    /// TCP connections accepted (0 proves nothing ever reached the receiver).
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Wait until at least `n` requests arrived; returns all of them.
    pub async fn wait_hits(&self, n: usize, within: Duration) -> Vec<Hit> {
        let deadline = Instant::now() + within;
        loop {
            let hits = self.hits();
            if hits.len() >= n {
                return hits;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver got {} requests within {within:?}, expected {n}",
                hits.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A `Transfer-Encoding: chunked` body, decoded; `None` while incomplete.
fn dechunk(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = raw;
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if rest.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    st: Arc<ReceiverState>,
) -> std::io::Result<()> {
    let Some(peakreel_testkit::RequestHead {
        method,
        path,
        headers,
        rest: mut buf,
    }) = peakreel_testkit::read_request_head(&mut s).await?
    else {
        return Ok(());
    };
    let mut chunk = [0u8; 4096];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let body = loop {
        let raw = &buf[..];
        if chunked {
            if let Some(body) = dechunk(raw) {
                break body;
            }
        } else if raw.len() >= len {
            break raw[..len].to_vec();
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    st.hits.lock().unwrap().push(Hit {
        at: Instant::now(),
        method,
        path,
        headers,
        body,
    });
    let answer = st
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Answer::Status(200, "ok"));
    let (status, text) = match answer {
        Answer::Status(status, text) => (status, text),
        Answer::Hang(d) => {
            tokio::time::sleep(d).await;
            (200, "too late")
        }
    };
    let reply = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    s.write_all(reply.as_bytes()).await?;
    s.flush().await?;
    s.shutdown().await
}

// ---------------------------------------------------------------------------------------
// The signature, checked without PeakReel's code.
// ---------------------------------------------------------------------------------------

/// Lowercase hex HMAC-SHA256 of `"{timestamp}.{body}"`, computed with `ring`.
pub fn reference_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(timestamp.as_bytes());
    ctx.update(b".");
    ctx.update(body);
    ctx.sign()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Everything api.md §11 says about one request: `POST` with `Content-Type:
/// application/json`, the event header, a fresh timestamp, a `whd_` delivery id, and a
/// signature that matches the raw body under `secret`. Returns the parsed body.
#[track_caller]
pub fn assert_signed(hit: &Hit, secret: &str, event: &str) -> Value {
    assert_eq!(hit.method, "POST");
    assert_eq!(hit.path, "/hook");
    let ct = hit.header("content-type").expect("Content-Type");
    assert!(
        ct.starts_with("application/json"),
        "Content-Type {ct:?} (headers {:?})",
        hit.headers
    );
    assert_eq!(hit.header("x-vibepeak-event"), Some(event));
    let ts = hit
        .header("x-vibepeak-timestamp")
        .expect("X-VibePeak-Timestamp");
    let ts_value: i64 = ts
        .parse()
        .unwrap_or_else(|_| panic!("timestamp {ts:?} is not unix seconds"));
    let skew = unix_now() - ts_value;
    assert!(
        (-2..=10).contains(&skew),
        "timestamp {ts} is {skew} s from now (received {:?} ago)",
        hit.at.elapsed()
    );
    let id = hit.delivery_id();
    assert!(
        id.strip_prefix("whd_")
            .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric())),
        "delivery id {id:?}"
    );
    let sig = hit
        .header("x-vibepeak-signature")
        .expect("X-VibePeak-Signature");
    assert!(
        sig.len() == 64 && sig.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "signature {sig:?} is not 64 lowercase hex digits"
    );
    assert_eq!(
        sig,
        reference_signature(secret, ts, &hit.body),
        "signature over {ts}.{}",
        String::from_utf8_lossy(&hit.body)
    );
    // The key's secret, not another one.
    assert_ne!(sig, reference_signature("whsec_wrong", ts, &hit.body));
    hit.json()
}

/// A URL without its query (result links are signed when each answer is made).
fn without_query(v: &Value) -> Value {
    match v.as_str() {
        Some(s) => json!(s.split('?').next().unwrap()),
        None => v.clone(),
    }
}

/// The body is exactly `{event, task_id, status, created_at, completed_at, livemode,
/// result | error}`, each as `GET /v1/tasks/{id}` (`task`) shows it.
#[track_caller]
pub fn assert_body_matches_task(body: &Value, task: &Value, event: &str) {
    let outcome = if task["status"] == "completed" {
        "result"
    } else {
        "error"
    };
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap_or_else(|| panic!("body is not an object: {body}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut want = vec![
        "event",
        "task_id",
        "status",
        "created_at",
        "completed_at",
        "livemode",
        outcome,
    ];
    want.sort_unstable();
    assert_eq!(keys, want, "keys of the event body {body}");
    assert_eq!(body["event"], json!(event));
    for field in [
        "task_id",
        "status",
        "created_at",
        "completed_at",
        "livemode",
    ] {
        assert!(!task[field].is_null(), "task has no {field}: {task}");
        assert_eq!(
            body[field], task[field],
            "{field}: event {body} vs task {task}"
        );
    }
    if outcome == "error" {
        assert_eq!(body["error"], task["error"], "error: event vs task");
        return;
    }
    let (got, shown) = (&body["result"], &task["result"]);
    let got_map = got.as_object().expect("result object");
    let shown_map = shown.as_object().expect("task result object");
    let mut got_keys: Vec<_> = got_map.keys().collect();
    let mut shown_keys: Vec<_> = shown_map.keys().collect();
    got_keys.sort_unstable();
    shown_keys.sort_unstable();
    assert_eq!(
        got_keys, shown_keys,
        "result keys: event {got} vs task {shown}"
    );
    for (k, v) in got_map {
        if k.ends_with("_url") {
            let url = v
                .as_str()
                .unwrap_or_else(|| panic!("{k} is not a URL: {v}"));
            assert!(url.starts_with("http"), "{k} = {url}");
            assert_eq!(without_query(v), without_query(&shown[k]), "result.{k}");
        } else if let Some(links) = v.as_object() {
            // Nested signed links (`captions`): minted per answer, so compare without the
            // expiry and signature.
            for (name, link) in links {
                assert_eq!(
                    without_query(link),
                    without_query(&shown[k][name]),
                    "result.{k}.{name}"
                );
            }
        } else {
            assert_eq!(v, &shown[k], "result.{k}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// The processes.
// ---------------------------------------------------------------------------------------

/// Every process of these tests retries on the fast schedule, so a test waits seconds,
/// not minutes, to see the retries.
pub fn fast_retries(launch: Launch) -> Launch {
    launch
        .env("PEAKREEL__WEBHOOKS__SCHEDULE_SECS", FAST_SCHEDULE)
        .env("PEAKREEL__WEBHOOKS__JITTER", "0")
}

/// A valid test-mode slideshow request (api.md §4) with `webhook_url` and
/// `test_scenario` when given.
pub fn hooked_slideshow(site: &Site, webhook_url: Option<&str>, scenario: Option<&str>) -> Value {
    let mut body = site.slideshow(6);
    if let Some(url) = webhook_url {
        body["webhook_url"] = json!(url);
    }
    if let Some(s) = scenario {
        body["test_scenario"] = json!(s);
    }
    body
}

/// A Pro account with credits and one live and one test key.
pub async fn account(site: &Site) -> Acct {
    let acct = site.account("Pro", 100).await;
    assert!(
        acct.test.webhook_secret.starts_with("whsec_"),
        "webhook secret {:?}",
        acct.test.webhook_secret
    );
    acct
}

impl Proc {
    /// `GET /v1/tasks/{id}/webhook-deliveries`, insisting on 200; returns `data`.
    pub async fn deliveries(&self, key: &str, task_id: &str) -> Vec<Value> {
        let r = self
            .get(
                &format!("/v1/tasks/{task_id}/webhook-deliveries"),
                Some(key),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        r.json["data"].as_array().expect("data array").clone()
    }

    /// Poll the deliveries until `done` holds for them; returns them.
    pub async fn wait_deliveries(
        &self,
        key: &str,
        task_id: &str,
        within: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let d = self.deliveries(key, task_id).await;
            if done(&d) {
                return d;
            }
            assert!(
                Instant::now() < deadline,
                "deliveries of {task_id} did not reach the expected state within {within:?}: {}\nlog:\n{}",
                json!(d),
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Seconds between two wire timestamps (`2026-01-04T12:00:07Z`), same or next day.
pub fn seconds_between(earlier: &Value, later: &Value) -> i64 {
    let secs = |v: &Value| -> i64 {
        let s = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
        assert!(crate::support::is_timestamp(s), "bad timestamp {s:?}");
        let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap();
        n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
    };
    (secs(later) - secs(earlier)).rem_euclid(86_400)
}
