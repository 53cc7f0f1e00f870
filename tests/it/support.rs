//! The harness: the real `peakreel` binary as a child process on a fresh data directory,
//! the admin CLI and the `sqlite3` tool against the same directory, an HTTP client, the
//! request-body builders, and the assertions every error answer must pass (errors.md).

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_peakreel");

/// A public voice every server ships with (api.md §5).
pub const VOICE: &str = "EXAVITQu4vr4xnSDxMaL";
/// The public avatars every server ships with (crates/domain/src/voices.rs).
pub const PUBLIC_AVATARS: [&str; 4] = [
    "3f1c2a9e-7b4d-4c1a-9e2f-5a6b7c8d9e01",
    "8d2e4b6a-1c3f-4e5a-8b7c-9d0e1f2a3b02",
    "c4a7e9b1-2d5f-4a8c-b3e6-7f9a1c2e4d03",
    "e6b8d0f2-3a5c-4e7a-9c1e-2b4d6f8a0c04",
];

// ---------------------------------------------------------------------------------------
// Request bodies. Creation fetches every image (api.md §9), so every image URL of the
// suite comes from `Server::image_url`: a local HTTPS server (its own CA, trusted by the
// child through `SSL_CERT_FILE`, its address let through the SSRF guard with
// `--allow-network 127.0.0.0/8`) that serves one landscape JPEG at any of the paths below.
// ---------------------------------------------------------------------------------------

/// How many distinct image paths the image server answers.
const IMAGE_ROUTES: usize = 20;

/// A valid script (letters, spaces, `.` and `,`) of exactly `chars` characters after
/// trimming.
pub fn script(chars: usize) -> String {
    const TEXT: &str = "Sunlit rooms open onto a quiet garden, and the kitchen gleams. ";
    let mut s: String = TEXT.chars().cycle().take(chars).collect();
    if s.ends_with(' ') {
        s.pop();
        s.push('.');
    }
    if s.starts_with(' ') {
        s.replace_range(0..1, "A");
    }
    assert_eq!(s.trim().chars().count(), chars);
    s
}

impl Server {
    /// The `i`-th distinct listing photo URL (`i` < 20).
    pub fn image_url(&self, i: usize) -> String {
        assert!(i < IMAGE_ROUTES);
        self.images.url(&format!("/listing/{i}.jpg"))
    }

    /// A watermark logo URL.
    pub fn logo_url(&self) -> String {
        self.images.url("/logo.jpg")
    }

    /// A webhook URL that resolves to a public-for-this-test address (the image server).
    pub fn webhook_url(&self) -> String {
        self.images.url("/webhook")
    }

    pub fn image_urls(&self, n: usize) -> Vec<String> {
        (0..n).map(|i| self.image_url(i)).collect()
    }

    /// A valid narrated-slideshow request with `n` images (6–15) and a script in range.
    pub fn slideshow(&self, n: usize) -> Value {
        json!({
            "images": self.image_urls(n),
            "voice": { "voice_id": VOICE },
            "script": script(45 * n),
        })
    }

    /// A valid living-property request with `n` images (1–9) and a script in range.
    pub fn living(&self, n: usize) -> Value {
        let rooms = ["living_room", "kitchen", "bedroom", "bathroom", "exterior"];
        let images: Vec<Value> = (0..n)
            .map(|i| json!({ "url": self.image_url(i), "room_type": rooms[i % rooms.len()] }))
            .collect();
        json!({
            "images": images,
            "voice": { "voice_id": VOICE },
            "script": script(75 * n),
        })
    }
}

pub const SLIDESHOW: &str = "/v1/real-estate/narrated-slideshow";
pub const LIVING: &str = "/v1/real-estate/living-property";

// ---------------------------------------------------------------------------------------
// The server process.
// ---------------------------------------------------------------------------------------

pub struct Server {
    child: Child,
    images: peakreel_testkit::Server,
    dir: tempfile::TempDir,
    pub base: String,
    pub client: reqwest::Client,
}

#[derive(Debug, Clone)]
pub struct Key {
    pub id: String,
    pub key: String,
    pub webhook_secret: String,
}

#[derive(Debug, Clone)]
pub struct Acct {
    pub id: String,
    pub live: Key,
    pub test: Key,
}

/// One HTTP answer, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
    /// The body as JSON, `Null` when it is not JSON.
    pub json: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Remove every `PEAKREEL*` variable of the test environment from a child's environment.
pub fn clean_env(cmd: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PEAKREEL") {
            cmd.env_remove(name);
        }
    }
}

/// Run `peakreel admin ARGS --data-dir DIR` (shared by every harness).
pub async fn admin_in(data_dir: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    clean_env(&mut cmd);
    cmd.arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("PEAKREEL_LOG", "warn");
    tokio::process::Command::from(cmd)
        .output()
        .await
        .expect("run peakreel admin")
}

/// An admin command that must succeed and print JSON.
pub async fn admin_json_in(data_dir: &Path, args: &[&str]) -> Value {
    let out = admin_in(data_dir, args).await;
    assert!(
        out.status.success(),
        "peakreel admin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
}

/// Run SQL with the `sqlite3` tool (waiting up to 10 s for locks); stdout trimmed.
pub async fn sql_in(db: &Path, sql: &str) -> String {
    let out = tokio::process::Command::new("sqlite3")
        .arg("-cmd")
        .arg(".timeout 10000")
        .arg(db)
        .arg(sql)
        .output()
        .await
        .expect("run sqlite3");
    assert!(
        out.status.success(),
        "sqlite3 {sql:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Server {
    /// A server whose request-rate quota is far above anything a test sends.
    pub async fn start() -> Server {
        Server::start_with_rate(1000, 2000).await
    }

    /// A server with the given per-key quota (`limits.rate_per_second`, `rate_burst`).
    pub async fn start_with_rate(per_second: u32, burst: u32) -> Server {
        Server::start_inner(per_second, burst, [127, 0, 0, 1], Some("127.0.0.0/8")).await
    }

    /// A server whose SSRF allow-list holds only `127.0.0.2/32`, with the image server on
    /// 127.0.0.2: every other loopback address (127.0.0.1, ::1, `localhost`) and every
    /// private range is refused as in production, while the suite's images still load.
    pub async fn start_guarded() -> Server {
        Server::start_inner(1000, 2000, [127, 0, 0, 2], Some("127.0.0.2/32")).await
    }

    /// A server started without `--allow-network`: the production SSRF guard, under
    /// which even the suite's own image server (on 127.0.0.1) is refused.
    pub async fn start_strict() -> Server {
        Server::start_inner(1000, 2000, [127, 0, 0, 1], None).await
    }

    async fn start_inner(
        per_second: u32,
        burst: u32,
        image_ip: [u8; 4],
        allow_network: Option<&str>,
    ) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = peakreel_testkit::make_ca();
        let ca_file = dir.path().join("test-ca.pem");
        std::fs::write(&ca_file, &ca.ca_pem).expect("write CA");
        let images = peakreel_testkit::start_server(image_ip.into(), &ca).await;
        let photo = bytes::Bytes::from(peakreel_testkit::photo_jpeg("generated-landscape.jpg"));
        let paths = (0..IMAGE_ROUTES).map(|i| format!("/listing/{i}.jpg"));
        for path in paths.chain(["/logo.jpg".to_string()]) {
            images.route(
                &path,
                peakreel_testkit::Reply::Full {
                    status: 200,
                    content_type: "image/jpeg",
                    body: photo.clone(),
                },
            );
        }
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let mut cmd = Command::new(BIN);
        clean_env(&mut cmd);
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--listen", "127.0.0.1:0"])
            // API only: tasks stay `queued`, so in-flight counts are stable for the
            // concurrency and isolation rules whatever the workers do.
            .args(["--workers", "0"]);
        if let Some(cidr) = allow_network {
            cmd.args(["--allow-network", cidr]);
        }
        cmd.env("SSL_CERT_FILE", &ca_file)
            .env("PEAKREEL__LIMITS__RATE_PER_SECOND", per_second.to_string())
            .env("PEAKREEL__LIMITS__RATE_BURST", burst.to_string())
            .env("PEAKREEL_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        let mut child = cmd.spawn().expect("spawn peakreel serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("peakreel listening on http://") {
                    let _ = tx.send(addr.trim().to_string());
                    break;
                }
            }
            // Keep draining so the child never blocks on a full pipe.
            for _ in lines {}
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let log =
                    std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
                panic!("peakreel serve did not report its address; log:\n{log}");
            }
        };
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        Server {
            child,
            images,
            dir,
            base: format!("http://{addr}"),
            client,
        }
    }

    /// The local HTTPS image server, to register more routes (`images().route(..)`).
    pub fn images(&self) -> &peakreel_testkit::Server {
        &self.images
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("peakreel.db")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    // ----- HTTP -----

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let r = rb.send().await.expect("request failed");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.expect("body").to_vec();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            bytes,
            json,
        }
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> Resp {
        let mut rb = self.request(Method::GET, path);
        if let Some(key) = key {
            rb = rb.bearer_auth(key);
        }
        self.send(rb).await
    }

    pub async fn post(&self, path: &str, key: &str, body: &Value) -> Resp {
        self.post_raw(path, key, body.to_string().into_bytes())
            .await
    }

    /// POST bytes as `application/json`.
    pub async fn post_raw(&self, path: &str, key: &str, body: Vec<u8>) -> Resp {
        let rb = self
            .request(Method::POST, path)
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body);
        self.send(rb).await
    }

    /// Send the head of a raw HTTP/1.1 request (`head` without the blank line) and no body
    /// bytes, then read the answer. For answers the server gives before reading a body
    /// (an oversized declared `Content-Length`): sending the body would race the server's
    /// close and lose the answer to a connection reset.
    pub async fn raw_head(&self, head: &str) -> Resp {
        let addr = self.base.trim_start_matches("http://").to_string();
        let head = format!("{}\r\n\r\n", head.trim_end());
        tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut conn = std::net::TcpStream::connect(&addr).expect("connect");
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            conn.write_all(head.as_bytes()).expect("write head");
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                if let Some(resp) = parse_response(&buf) {
                    return resp;
                }
                match conn.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) => panic!(
                        "reading the answer: {e}; got {:?}",
                        String::from_utf8_lossy(&buf)
                    ),
                }
            }
            parse_response(&buf)
                .unwrap_or_else(|| panic!("incomplete answer {:?}", String::from_utf8_lossy(&buf)))
        })
        .await
        .expect("raw request")
    }

    /// Create a task and insist on 202; returns the body.
    pub async fn create_ok(&self, path: &str, key: &str, body: &Value) -> Value {
        let r = self.post(path, key, body).await;
        assert_eq!(r.status, 202, "create failed: {}", r.json);
        r.json
    }

    // ----- admin CLI, sqlite3 -----

    /// Run `peakreel admin ARGS --data-dir DIR`.
    pub async fn admin(&self, args: &[&str]) -> std::process::Output {
        admin_in(self.dir.path(), args).await
    }

    /// Run an admin command that must succeed; returns its stdout.
    pub async fn admin_ok(&self, args: &[&str]) -> String {
        let out = self.admin(args).await;
        assert!(
            out.status.success(),
            "peakreel admin {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    pub async fn admin_json(&self, args: &[&str]) -> Value {
        admin_json_in(self.dir.path(), args).await
    }

    pub async fn create_account(&self, plan: &str, credits: i64) -> String {
        let v = self
            .admin_json(&[
                "account",
                "create",
                "--name",
                "it",
                "--plan",
                plan,
                "--credits",
                &credits.to_string(),
                "--json",
            ])
            .await;
        v["account_id"].as_str().expect("account_id").to_string()
    }

    pub async fn create_key(&self, account: &str, mode: &str, extra: &[&str]) -> Key {
        let mut args = vec![
            "key",
            "create",
            "--account",
            account,
            "--mode",
            mode,
            "--json",
        ];
        args.extend_from_slice(extra);
        let v = self.admin_json(&args).await;
        Key {
            id: v["key_id"].as_str().expect("key_id").to_string(),
            key: v["key"].as_str().expect("key").to_string(),
            webhook_secret: v["webhook_secret"].as_str().expect("secret").to_string(),
        }
    }

    /// An account on `plan` with `credits`, and one live and one test key.
    pub async fn account(&self, plan: &str, credits: i64) -> Acct {
        let id = self.create_account(plan, credits).await;
        let (live, test) = futures::join!(
            self.create_key(&id, "live", &[]),
            self.create_key(&id, "test", &[])
        );
        Acct { id, live, test }
    }

    /// Run SQL with the `sqlite3` tool on the server's database; returns stdout trimmed.
    pub async fn sql(&self, sql: &str) -> String {
        sql_in(&self.db_path(), sql).await
    }

    /// The money invariant (api.md §2): the balance equals the ledger's sum, and the
    /// admin CLI, the database and `GET /v1/account` agree. Returns the balance.
    pub async fn assert_ledger_consistent(&self, acct: &Acct) -> i64 {
        let shown = self
            .admin_json(&["account", "show", &acct.id, "--json"])
            .await;
        let admin_balance = shown["credits"].as_i64().expect("credits");
        let sum: i64 = self
            .sql(&format!(
                "SELECT COALESCE(SUM(amount), 0) FROM credit_ledger WHERE account_id = '{}'",
                acct.id
            ))
            .await
            .parse()
            .expect("ledger sum");
        let api = self.get("/v1/account", Some(&acct.live.key)).await;
        assert_eq!(api.status, 200, "{}", api.json);
        assert_eq!(admin_balance, sum, "admin balance vs ledger sum");
        assert_eq!(api.json["credits"], json!(sum), "GET /v1/account vs ledger");
        sum
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

/// A complete HTTP/1.1 answer with a `Content-Length` body, if `buf` holds one.
fn parse_response(buf: &[u8]) -> Option<Resp> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        headers.append(
            reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()).ok()?,
            reqwest::header::HeaderValue::from_str(value.trim()).ok()?,
        );
    }
    let len: usize = headers.get("content-length")?.to_str().ok()?.parse().ok()?;
    let body = buf.get(end + 4..end + 4 + len)?.to_vec();
    Some(Resp {
        status,
        headers,
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        bytes: body,
    })
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// Assertions.
// ---------------------------------------------------------------------------------------

fn is_alnum(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub fn is_request_id(s: &str) -> bool {
    s.strip_prefix("req_")
        .is_some_and(|r| r.len() == 24 && is_alnum(r))
}

pub fn is_task_id(s: &str) -> bool {
    s.strip_prefix("task_")
        .is_some_and(|r| r.len() == 24 && is_alnum(r))
}

/// RFC 3339 UTC with `Z`, second precision: `2026-01-04T12:00:00Z`.
pub fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Now, in the wire timestamp format (comparable as text with `is_timestamp` strings).
pub fn now_timestamp() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .expect("format")
}

/// The `X-Request-Id` of every answer: present and well-formed. Returns it.
#[track_caller]
pub fn assert_request_id(r: &Resp) -> String {
    let id = r
        .header("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-Id header (status {})", r.status));
    assert!(is_request_id(id), "bad X-Request-Id {id:?}");
    id.to_string()
}

/// The error envelope of errors.md: status, code, a message, `request_id` equal to the
/// header, no other keys. Returns `details` (`Null` when absent).
#[track_caller]
pub fn assert_error(r: &Resp, status: u16, code: &str) -> Value {
    assert_eq!(
        (r.status, r.json["error"]["code"].as_str()),
        (status, Some(code)),
        "expected {status} {code}, got {} {}",
        r.status,
        String::from_utf8_lossy(&r.bytes)
    );
    let ct = r.header("content-type").unwrap_or("");
    assert!(ct.starts_with("application/json"), "content-type {ct:?}");
    let top = r.json.as_object().expect("object body");
    assert_eq!(top.len(), 1, "only `error` at top level: {}", r.json);
    let err = r.json["error"].as_object().expect("error object");
    for key in err.keys() {
        assert!(
            ["code", "message", "request_id", "details"].contains(&key.as_str()),
            "unexpected key {key} in {}",
            r.json
        );
    }
    let message = err["message"].as_str().expect("message");
    assert!(message.len() > 10, "message too thin: {message:?}");
    let id = assert_request_id(r);
    assert_eq!(err["request_id"], json!(id), "request_id vs header");
    err.get("details").cloned().unwrap_or(Value::Null)
}

/// An error whose row in errors.md has no `details`.
#[track_caller]
pub fn assert_error_no_details(r: &Resp, status: u16, code: &str) {
    let details = assert_error(r, status, code);
    assert!(details.is_null(), "{code} carries no details: {details}");
}

/// `details` has exactly these keys.
#[track_caller]
pub fn assert_keys(v: &Value, keys: &[&str]) {
    let mut got: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    got.sort_unstable();
    let mut want = keys.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "keys of {v}");
}

/// A `VALIDATION_ERROR`; returns its `details.errors` as `(field, message)` pairs after
/// checking the shape `{errors: [{field, message}]}` (plus any extra keys allowed).
#[track_caller]
pub fn assert_validation(r: &Resp, extra_keys: &[&str]) -> Vec<(String, String)> {
    let details = assert_error(r, 400, "VALIDATION_ERROR");
    let mut keys = vec!["errors"];
    keys.extend_from_slice(extra_keys);
    assert_keys(&details, &keys);
    let errors = details["errors"].as_array().expect("errors array");
    assert!(!errors.is_empty(), "details.errors is empty");
    errors
        .iter()
        .map(|e| {
            assert_keys(e, &["field", "message"]);
            (
                e["field"].as_str().expect("field").to_string(),
                e["message"].as_str().expect("message").to_string(),
            )
        })
        .collect()
}

/// The fields named in a `VALIDATION_ERROR`.
pub fn fields(errors: &[(String, String)]) -> Vec<&str> {
    errors.iter().map(|(f, _)| f.as_str()).collect()
}
