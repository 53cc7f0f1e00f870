//! The harness of the API suites: a `Server` (one `peakreel` process started through
//! `launcher.rs` on a fresh data directory), the request-body builders every suite uses,
//! and the assertions every error answer must pass (errors.md).

pub use crate::launcher::{Launch, Proc, Site};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

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
// suite comes from `Site::image_url`: a local HTTPS server (its own CA, trusted by the
// child through `SSL_CERT_FILE`, its address let through the SSRF guard with
// `--allow-network 127.0.0.0/8`) that serves one landscape JPEG at any of the paths below.
// ---------------------------------------------------------------------------------------

/// How many distinct image paths the image server answers.
pub const IMAGE_ROUTES: usize = 20;

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

impl Site {
    /// The `i`-th distinct listing photo URL (`i` < 20).
    pub fn image_url(&self, i: usize) -> String {
        assert!(i < IMAGE_ROUTES);
        self.images().url(&format!("/listing/{i}.jpg"))
    }

    /// A watermark logo URL.
    pub fn logo_url(&self) -> String {
        self.images().url("/logo.jpg")
    }

    /// A webhook URL that resolves to a public-for-this-test address (the image server).
    pub fn webhook_url(&self) -> String {
        self.images().url("/webhook")
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

    /// The quickest narrated slideshow to render: 6 images, a 240-character script, the
    /// `sequential` mode.
    pub fn shortest_slideshow(&self) -> Value {
        let mut body = self.slideshow(6);
        body["script"] = json!(script(240));
        body["orchestration_mode"] = json!("sequential");
        body
    }
}

pub const SLIDESHOW: &str = "/v1/real-estate/narrated-slideshow";
pub const LIVING: &str = "/v1/real-estate/living-property";

// ---------------------------------------------------------------------------------------
// The API suites' server.
// ---------------------------------------------------------------------------------------

/// The API suites talk to one process for the whole test.
pub type Server = Proc;

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

pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// API only (`serve --workers 0`): tasks stay `queued`, so in-flight counts are stable for
/// the concurrency and isolation rules whatever the workers do.
fn api_only() -> Launch {
    Launch::serve(0)
}

impl Proc {
    /// A server whose request-rate quota is far above anything a test sends.
    pub async fn start() -> Server {
        Site::new().await.launch(api_only()).await
    }

    /// A server with the given per-key quota (`limits.rate_per_second`, `rate_burst`).
    pub async fn start_with_rate(per_second: u32, burst: u32) -> Server {
        let launch = api_only()
            .env("PEAKREEL__LIMITS__RATE_PER_SECOND", &per_second.to_string())
            .env("PEAKREEL__LIMITS__RATE_BURST", &burst.to_string());
        Site::new().await.launch(launch).await
    }

    /// A server whose SSRF allow-list holds only `127.0.0.2/32`, with the image server on
    /// 127.0.0.2: every other loopback address (127.0.0.1, ::1, `localhost`) and every
    /// private range is refused as in production, while the suite's images still load.
    pub async fn start_guarded() -> Server {
        let launch = api_only().allow_network("127.0.0.2/32");
        Site::with_images_on([127, 0, 0, 2])
            .await
            .launch(launch)
            .await
    }

    /// A server started without `--allow-network`: the production SSRF guard, under
    /// which even the suite's own image server (on 127.0.0.1) is refused.
    pub async fn start_strict() -> Server {
        Site::new()
            .await
            .launch(api_only().production_guard())
            .await
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
