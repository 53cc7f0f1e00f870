//! Health, the OpenAPI document, routing errors, the admin CLI's machine output, and a
//! burst of malformed requests (api.md §1, §12; cli.md).

use crate::launcher::{Launch, Site};
use crate::support::*;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn health() {
    let s = Server::start().await;
    let r = s.get("/health", None).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_request_id(&r);
    assert_eq!(r.json["status"], "ok");
    assert!(r.json["version"].as_str().is_some_and(|v| !v.is_empty()));
    assert_eq!(
        r.json["checks"],
        json!({ "database": "ok", "storage": "ok", "ffmpeg": "ok", "speech": "ok" })
    );
    // The vision sidecar is installed by scripts/install-deps.sh: the suite needs it.
    assert_eq!(
        r.json["vision"],
        json!({ "room_labels": "ok", "faces": "ok" }),
        "{}",
        r.json
    );
}

/// Without the detectors installed the server stays healthy, says what is missing, and
/// plans photos without room labels (issue 13 §1).
#[tokio::test]
async fn health_reports_a_missing_vision_sidecar_and_plans_go_on_unlabelled() {
    let empty = tempfile::tempdir().unwrap();
    let s = Site::new()
        .await
        .launch(Launch::serve(0).env("PEAKREEL__VISION__DIR", &empty.path().to_string_lossy()))
        .await;
    let r = s.get("/health", None).await;
    assert_eq!(
        (r.status, &r.json["status"]),
        (200, &json!("ok")),
        "{}",
        r.json
    );
    let vision = &r.json["vision"];
    assert_eq!(
        (&vision["room_labels"], &vision["faces"]),
        (&json!("unavailable"), &json!("unavailable")),
        "{}",
        r.json
    );
    let reason = vision["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&*empty.path().to_string_lossy()) && reason.contains("missing"),
        "{reason}"
    );

    let off = Site::new()
        .await
        .launch(Launch::serve(0).env("PEAKREEL__VISION__ENABLED", "false"))
        .await;
    let r = off.get("/health", None).await;
    assert_eq!(r.json["vision"]["room_labels"], "unavailable", "{}", r.json);
    assert!(r.json["vision"]["reason"]
        .as_str()
        .is_some_and(|why| why.contains("switched off")));

    let acct = s.account("Pro", 50).await;
    let mut refs = Vec::new();
    for name in [
        "house100_kitchen.jpg",
        "house100_bedroom.jpg",
        "house100_bathroom.jpg",
        "house101_kitchen.jpg",
        "house101_bedroom.jpg",
        "house101_bathroom.jpg",
    ] {
        let rb = s
            .request(Method::POST, "/v1/uploads")
            .bearer_auth(&acct.live.key)
            .header("content-type", "image/jpeg")
            .body(peakreel_testkit::photo_jpeg(name));
        let up = s.send(rb).await;
        assert_eq!(up.status, 201, "{}", up.json);
        refs.push(up.json["url"].clone());
    }
    let body = json!({
        "images": refs,
        "voice": {"voice_id": VOICE},
        "script": "Welcome to this bright family home with a sunny garden. The open kitchen flows into a calm living room with tall windows. Upstairs, three quiet bedrooms and a modern bathroom wait for you. Book a visit today and picture your next chapter here, close to parks and schools.",
        "orchestration_mode": "sequential",
    });
    let plan = s
        .post(
            "/v1/real-estate/narrated-slideshow/plan",
            &acct.live.key,
            &body,
        )
        .await;
    assert_eq!(plan.status, 200, "{}", plan.json);
    for scene in plan.json["scenes"].as_array().unwrap() {
        assert_eq!(scene["room"], serde_json::Value::Null, "{}", plan.json);
    }
}

/// `GET /metrics` answers on the admin listener and nowhere else: Prometheus text with the
/// speech breakers and the queue by job kind and status (api.md §12).
#[tokio::test]
async fn metrics_on_the_admin_listener_only() {
    let s = Site::new()
        .await
        .launch(Launch::serve(0).env("PEAKREEL__ADMIN_LISTEN", "127.0.0.1:0"))
        .await;
    let needle = "metrics on the admin listener";
    s.wait_log(&[needle], Duration::from_secs(30)).await;
    let log = s.log();
    let addr = log
        .lines()
        .find(|l| l.contains(needle))
        .and_then(|l| l.split("addr=").nth(1))
        .and_then(|a| a.split_whitespace().next())
        .expect("the admin address in the log")
        .to_string();
    let a = s.site().account("Pro", 100).await;
    let body = s.site().slideshow(6);
    s.create(&a.live.key, &body).await;
    s.create(&a.live.key, &body).await;

    let metrics = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("GET /metrics");
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.expect("body");
    assert!(
        text.contains("# TYPE peakreel_speech_breaker_state gauge"),
        "{text}"
    );
    for line in text
        .lines()
        .filter(|l| l.starts_with("peakreel_speech_breaker_state{"))
    {
        let value = line.rsplit(' ').next().unwrap();
        assert!(["0", "1", "2"].contains(&value), "{line}");
    }
    // No workers: both renders wait in the queue.
    assert!(text.contains("# TYPE peakreel_jobs gauge"), "{text}");
    assert!(
        text.lines()
            .any(|l| l == "peakreel_jobs{kind=\"render\",status=\"queued\"} 2"),
        "{text}"
    );

    // Operators' numbers are not on the public listener.
    let r = s.get("/metrics", None).await;
    assert_error(&r, 404, "NOT_FOUND");
}

/// Every `/v1` route the router serves.
const V1_ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/real-estate/narrated-slideshow"),
    ("post", "/v1/real-estate/living-property"),
    ("get", "/v1/tasks"),
    ("get", "/v1/tasks/{task_id}"),
    ("get", "/v1/voices"),
    ("get", "/v1/voices/{voice_id}"),
    ("get", "/v1/avatars"),
    ("get", "/v1/avatars/{avatar_id}"),
    ("get", "/v1/account"),
];

#[tokio::test]
async fn openapi_document() {
    let s = Server::start().await;
    let r = s.get("/openapi.json", None).await;
    assert_eq!(r.status, 200);
    assert_request_id(&r);
    let version = r.json["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1."), "{version}");
    let paths = r.json["paths"].as_object().expect("paths");
    for (method, path) in V1_ROUTES {
        assert!(
            paths.get(*path).is_some_and(|p| p.get(*method).is_some()),
            "{method} {path} missing from /openapi.json"
        );
    }
    assert!(paths.contains_key("/health"));
    // The signed download route (api.md §7) is a route of the API too.
    assert!(
        paths.keys().any(|p| p.starts_with("/v1/files/")),
        "GET /v1/files/{{path}} missing from /openapi.json; paths: {:?}",
        paths.keys().collect::<Vec<_>>()
    );
    // Bearer auth is declared.
    assert!(r.json["components"]["securitySchemes"].is_object());
}

#[tokio::test]
async fn unknown_route_and_wrong_method() {
    let s = Server::start().await;
    let a = s.account("Plus", 0).await;
    for path in [
        "/",
        "/v1",
        "/v2/tasks",
        "/v1/nope",
        "/v1/tasks/x/y/z",
        "/health/x",
    ] {
        let r = s.get(path, Some(&a.live.key)).await;
        assert_error_no_details(&r, 404, "NOT_FOUND");
        let r = s.get(path, None).await;
        assert_error_no_details(&r, 404, "NOT_FOUND");
    }
    for (method, path, allowed) in [
        (Method::GET, SLIDESHOW, "POST"),
        (Method::DELETE, LIVING, "POST"),
        (Method::POST, "/v1/tasks", "GET"),
        (Method::PUT, "/v1/account", "GET"),
        (Method::POST, "/health", "GET"),
        (
            Method::PATCH,
            "/v1/tasks/task_0123456789abcdefghijklmn",
            "GET",
        ),
    ] {
        let r = s
            .send(s.request(method.clone(), path).bearer_auth(&a.live.key))
            .await;
        let d = assert_error(&r, 405, "METHOD_NOT_ALLOWED");
        assert_keys(&d, &["allowed"]);
        let listed: Vec<&str> = d["allowed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        assert!(listed.contains(&allowed), "{method} {path}: {listed:?}");
        assert!(
            !listed.contains(&method.as_str()),
            "{method} {path}: {listed:?}"
        );
        let header: Vec<String> = r
            .header("allow")
            .expect("Allow header")
            .split(',')
            .map(|m| m.trim().to_string())
            .collect();
        assert_eq!(header, listed, "Allow header matches details.allowed");
    }
}

#[tokio::test]
async fn admin_cli_json() {
    let s = Server::start().await;
    let v = s
        .admin_json(&[
            "account",
            "create",
            "--name",
            "Demo",
            "--plan",
            "pro",
            "--credits",
            "100",
            "--json",
        ])
        .await;
    assert_keys(&v, &["account_id", "plan", "credits"]);
    assert_eq!(v["plan"], "Pro", "the plan's canonical name");
    assert_eq!(v["credits"], 100);
    let id = v["account_id"].as_str().unwrap().to_string();
    // Without --credits: the plan's monthly credits.
    let v = s
        .admin_json(&[
            "account", "create", "--name", "Demo", "--plan", "Max", "--json",
        ])
        .await;
    assert_eq!(v["credits"], 1500);

    let mut full_keys = Vec::new();
    for mode in ["live", "test"] {
        let k = s
            .admin_json(&["key", "create", "--account", &id, "--mode", mode, "--json"])
            .await;
        assert_keys(&k, &["key_id", "key", "webhook_secret"]);
        let key = k["key"].as_str().unwrap();
        full_keys.push(key.to_string());
        let rest = key
            .strip_prefix(&format!("vpk_{mode}_"))
            .unwrap_or_else(|| panic!("{key}"));
        assert!(
            rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_alphanumeric()),
            "{key}"
        );
        let secret = k["webhook_secret"].as_str().unwrap();
        let rest = secret
            .strip_prefix("whsec_")
            .unwrap_or_else(|| panic!("{secret}"));
        assert!(
            rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_alphanumeric()),
            "{secret}"
        );
        // The key works against the running server.
        let r = s.get("/v1/account", Some(key)).await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json["account_id"], json!(id));
        assert_eq!(r.json["credits"], 100);
    }
    // The key itself is never stored; only its SHA-256.
    let keys = s
        .sql("SELECT COUNT(*) FROM api_keys WHERE length(key_hash) = 32")
        .await;
    assert_eq!(keys, "2");

    let shown = s.admin_json(&["account", "show", &id, "--json"]).await;
    assert_eq!(shown["account_id"], json!(id));
    assert_eq!(shown["credits"], 100);
    assert_eq!(shown["keys"].as_array().unwrap().len(), 2);
    for key in &full_keys {
        assert!(
            !shown.to_string().contains(key.as_str()),
            "show never prints a key"
        );
    }

    // Failures: non-zero exit, a message on stderr, nothing on stdout.
    let bad: &[&[&str]] = &[
        &[
            "account",
            "create",
            "--name",
            "x",
            "--plan",
            "Enterprise",
            "--json",
        ],
        &["account", "show", "acct_doesnotexist", "--json"],
        &[
            "key",
            "create",
            "--account",
            "acct_doesnotexist",
            "--mode",
            "live",
            "--json",
        ],
        &[
            "key",
            "create",
            "--account",
            &id,
            "--mode",
            "prod",
            "--json",
        ],
        &["account", "set-plan", &id, "Gold"],
        &["account", "set-plan", "acct_doesnotexist", "Pro"],
        &["credits", "grant", "acct_doesnotexist", "5"],
        &["account", "delete", "acct_doesnotexist"],
        &["key", "revoke", "key_doesnotexist"],
    ];
    for args in bad {
        let out = s.admin(args).await;
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(
            out.stdout.is_empty(),
            "{args:?} printed on stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.trim().is_empty(), "{args:?}: no message on stderr");
    }
    let out = s
        .admin(&[
            "account",
            "create",
            "--name",
            "x",
            "--plan",
            "Enterprise",
            "--json",
        ])
        .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Enterprise") && stderr.contains("Pro"),
        "{stderr}"
    );
}

/// Path parameters that are not UTF-8 after percent-decoding still get the error envelope
/// of errors.md (the route's own "not found" code), not the framework's plain-text 400.
#[tokio::test]
async fn path_parameters_that_are_not_utf8() {
    let s = Server::start().await;
    let a = s.account("Plus", 0).await;
    let mut wrong = Vec::new();
    for (path, status, code) in [
        ("/v1/tasks/task_%ff", 404, "TASK_NOT_FOUND"),
        ("/v1/voices/%ff%fe", 404, "VOICE_NOT_FOUND"),
        ("/v1/avatars/%ff", 404, "AVATAR_NOT_FOUND"),
        ("/v1/files/%ff.png?expires=1&signature=00", 403, "FORBIDDEN"),
    ] {
        let r = s.get(path, Some(&a.live.key)).await;
        if (r.status, r.json["error"]["code"].as_str()) != (status, Some(code)) {
            wrong.push(format!(
                "{path}: {} {}",
                r.status,
                String::from_utf8_lossy(&r.bytes)
            ));
            continue;
        }
        assert_error(&r, status, code);
    }
    assert!(
        wrong.is_empty(),
        "answers outside the envelope:\n{}",
        wrong.join("\n")
    );
}

/// A tiny deterministic generator for the random bodies.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Codes a malformed request may get (errors.md), by status.
fn documented(r: &Resp) -> bool {
    let code = r.json["error"]["code"].as_str().unwrap_or("");
    matches!(
        (r.status, code),
        (400, "INVALID_JSON" | "VALIDATION_ERROR")
            | (401, "MISSING_API_KEY" | "INVALID_API_KEY")
            | (404, "NOT_FOUND" | "TASK_NOT_FOUND")
            | (405, "METHOD_NOT_ALLOWED")
    )
}

#[tokio::test]
async fn malformed_requests_never_crash_the_server() {
    let s = Server::start().await;
    let a = s.account("Max", 100).await;
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut bodies: Vec<Vec<u8>> = (0..40).map(|i| rng.bytes(1 + i * 37)).collect();
    bodies.push(vec![b'['; 10_000]);
    bodies.push(vec![b'{'; 10_000]);
    bodies.push([&b"{\"images\":"[..], &vec![b'['; 10_000]].concat());
    bodies.push(b"{\"script\": \"\xff\xfe\xfd\"}".to_vec());
    bodies.push(b"\xef\xbb\xbf{}".to_vec());
    bodies.push(b"{\"images\": [\"https://a.example.com/\x00.jpg\"]}".to_vec());
    bodies.push(b"\x00\x00\x00\x00".to_vec());
    bodies.push(b"{\"script\": \"\\u0000\\ud800\"}".to_vec());
    bodies.push(format!("{{\"a\": 1{}}}", "0".repeat(5000)).into_bytes());
    bodies.push(b"{\"a\": 1e999999}".to_vec());
    bodies.push(b"{\"a\":1,\"a\":2}".to_vec());

    let requests = bodies.into_iter().enumerate().map(|(i, body)| {
        let path = if i % 2 == 0 { SLIDESHOW } else { LIVING };
        s.post_raw(path, &a.live.key, body)
    });
    let answers = futures::future::join_all(requests).await;
    for r in &answers {
        assert!(
            documented(r),
            "undocumented answer {} {}",
            r.status,
            String::from_utf8_lossy(&r.bytes)
        );
        assert_error(r, r.status, r.json["error"]["code"].as_str().unwrap());
    }

    // Odd headers and paths.
    let odd = [
        s.request(Method::GET, "/v1/account").header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        ),
        s.request(Method::GET, "/v1/account")
            .header("authorization", format!("Bearer {}", "k".repeat(8000))),
        s.request(Method::GET, "/v1/tasks/%00")
            .bearer_auth(&a.live.key),
        s.request(Method::GET, "/v1/tasks?limit=%ff%00&status=%00")
            .bearer_auth(&a.live.key),
        s.request(Method::GET, &format!("/v1/{}", "a/".repeat(2000))),
        s.request(Method::POST, SLIDESHOW)
            .bearer_auth(&a.live.key)
            .header("content-type", "application/json;;;=\"\"; x"),
    ];
    for rb in odd {
        let r = s.send(rb).await;
        if r.status == 431 {
            continue; // hyper's own limit on header size, before any route
        }
        assert!(
            documented(&r),
            "undocumented answer {} {}",
            r.status,
            String::from_utf8_lossy(&r.bytes)
        );
        assert_error(&r, r.status, r.json["error"]["code"].as_str().unwrap());
    }

    // Garbage below HTTP: the connection is answered or dropped, the server lives on.
    let addr = s.base().trim_start_matches("http://").to_string();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        for garbage in [
            &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
            b"GET / HTTP/9.9\r\n\r\n",
            b"POST /v1/real-estate/narrated-slideshow HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"\x00\x00\x00\x00\r\n\r\n",
        ] {
            let mut conn = std::net::TcpStream::connect(&addr).expect("connect");
            conn.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
            let _ = conn.write_all(garbage);
            let _ = conn.shutdown(std::net::Shutdown::Write);
            let mut buf = Vec::new();
            let _ = conn.read_to_end(&mut buf);
        }
    })
    .await
    .unwrap();

    // Still healthy, still serving, nothing charged.
    let r = s.get("/health", None).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let r = s.post(SLIDESHOW, &a.live.key, &s.slideshow(6)).await;
    assert_eq!(r.status, 202, "{}", r.json);
    assert_eq!(s.assert_ledger_consistent(&a).await, 95);
    assert!(
        !s.log().contains("panicked"),
        "a handler panicked:\n{}",
        s.log()
    );
}
