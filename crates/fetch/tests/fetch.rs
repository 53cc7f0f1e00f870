//! The client against real servers on loopback: good images, every way an
//! image host can misbehave, redirects, TLS trust, and the SSRF battery that
//! proves blocked URLs never open a connection.

mod common;

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use peakreel_fetch::*;
use peakreel_types::Code;

struct Images {
    jpg: Vec<u8>,
    png: Vec<u8>,
    webp: Vec<u8>,
}

fn images() -> &'static Images {
    static IMAGES: OnceLock<Images> = OnceLock::new();
    IMAGES.get_or_init(|| {
        let jpg = photo_jpeg("house100_frontal.jpg");
        let img = image::load_from_memory(&jpg).unwrap();
        Images {
            png: encode(&img, image::ImageFormat::Png),
            webp: encode(&img, image::ImageFormat::WebP),
            jpg,
        }
    })
}

struct Env {
    ca: TestCa,
    server: Server,
    /// Counts connections to 127.0.0.1 on the server's port.
    counter: Counter,
    port: u16,
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The image server listens on 127.0.0.2 (the only allowed network in these
/// tests) and the connection counter on 127.0.0.1 with the same port, so any
/// URL that wrongly reaches "127.0.0.1" lands on the counter.
async fn env() -> Env {
    let ca = make_ca();
    for _ in 0..50 {
        let server = start_server(ip("127.0.0.2"), &ca).await;
        let port = server.addr.port();
        if tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .is_err()
        {
            continue;
        }
        let counter = start_counter(port).await;
        let img = images();
        let full = |status, ct, body: Vec<u8>| Reply::Full {
            status,
            content_type: ct,
            body: Bytes::from(body),
        };
        server.route("/photo.jpg", full(200, "image/jpeg", img.jpg.clone()));
        server.route(
            "/photo.png",
            full(200, "application/octet-stream", img.png.clone()),
        );
        server.route("/photo.webp", full(200, "image/webp", img.webp.clone()));
        server.route(
            "/html",
            full(
                200,
                "image/jpeg",
                b"<!doctype html><html><body>Not an image</body></html>".to_vec(),
            ),
        );
        server.route(
            "/bomb.png",
            full(200, "image/png", png_bomb(50_000, 50_000)),
        );
        server.route(
            "/truncated.jpg",
            full(200, "image/jpeg", img.jpg[..img.jpg.len() / 2].to_vec()),
        );
        server.route("/500", full(500, "text/plain", b"boom".to_vec()));
        server.route(
            "/slow",
            Reply::Drip {
                len: 10_000,
                every: Duration::from_millis(100),
            },
        );
        server.route(
            "/slow-404",
            Reply::Delayed(
                Duration::from_millis(400),
                Box::new(full(404, "text/plain", b"gone".to_vec())),
            ),
        );
        server.route(
            "/huge-declared",
            Reply::Stream {
                total: 30 << 20,
                declare_length: true,
            },
        );
        server.route(
            "/huge",
            Reply::Stream {
                total: 30 << 20,
                declare_length: false,
            },
        );
        server.route(
            "/endless",
            Reply::Stream {
                total: 400 << 20,
                declare_length: false,
            },
        );
        server.route(
            "/to-loopback",
            Reply::Redirect(format!("https://127.0.0.1:{port}/x.jpg")),
        );
        server.route(
            "/to-private-name",
            Reply::Redirect(format!("https://private.test:{port}/x.jpg")),
        );
        server.route(
            "/to-http",
            Reply::Redirect(format!("http://127.0.0.2:{port}/photo.jpg")),
        );
        server.route("/to-file", Reply::Redirect("file:///etc/passwd".into()));
        server.route("/hook", full(202, "application/json", vec![b'x'; 3000]));
        return Env {
            ca,
            server,
            counter,
            port,
        };
    }
    panic!("could not find a port free on both 127.0.0.2 and 127.0.0.1");
}

fn resolver() -> StaticResolver {
    StaticResolver::new()
        .with("images.test", [ip("127.0.0.2")])
        .with("private.test", [ip("127.0.0.1")])
        .with("mixed.test", [ip("8.8.8.8"), ip("127.0.0.1")])
        .with("half-allowed.test", [ip("127.0.0.2"), ip("127.0.0.1")])
        .with("public.test", [ip("8.8.8.8"), ip("2606:4700:4700::1111")])
}

fn test_policy(env: &Env) -> FetchPolicy {
    FetchPolicy {
        allow_networks: vec!["127.0.0.2/32".parse().unwrap()],
        system_roots: false,
        extra_roots_pem: vec![env.ca.ca_pem.clone()],
        connect_timeout: Duration::from_secs(2),
        item_timeout: Duration::from_secs(5),
        total_timeout: Duration::from_secs(10),
        ..FetchPolicy::default()
    }
}

fn client_with(policy: FetchPolicy, r: impl Resolver) -> SafeClient {
    SafeClient::new(policy, Arc::new(r)).unwrap()
}

fn allowed_client(env: &Env) -> SafeClient {
    client_with(test_policy(env), resolver())
}

#[tokio::test]
async fn fetches_jpeg_png_webp_by_content() {
    let env = env().await;
    let c = allowed_client(&env);
    for (path, fmt) in [
        ("/photo.jpg", ImageFormat::Jpeg),
        ("/photo.png", ImageFormat::Png),
        ("/photo.webp", ImageFormat::Webp),
    ] {
        let got = c.fetch_image(&env.server.url(path)).await.unwrap();
        assert_eq!(got.info.format, fmt, "{path}");
        assert_eq!((got.info.width, got.info.height), (1024, 683), "{path}");
        assert_eq!(got.final_url.path(), path);
        assert!(!got.body.is_empty());
    }
    // By host name, through the injected resolver.
    let url = format!("https://images.test:{}/photo.jpg", env.port);
    let got = c.fetch_image(&url).await.unwrap();
    assert_eq!(
        got.body.to_bytes().await.unwrap().as_ref(),
        images().jpg.as_slice()
    );
    assert_eq!(env.counter.get(), 0);
}

#[tokio::test]
async fn fetch_images_keeps_order_and_reports_lowest_failing_index() {
    let env = env().await;
    let c = allowed_client(&env);
    let ok: Vec<String> = ["/photo.jpg", "/photo.png", "/photo.webp", "/hops/2"]
        .iter()
        .map(|p| env.server.url(p))
        .collect();
    let got = c.fetch_images(&ok).await.unwrap();
    let formats: Vec<_> = got.iter().map(|g| g.info.format).collect();
    assert_eq!(
        formats,
        [
            ImageFormat::Jpeg,
            ImageFormat::Png,
            ImageFormat::Webp,
            ImageFormat::Jpeg
        ]
    );

    // Index 3 fails at once, index 1 only after 400 ms: index 1 is reported.
    let urls: Vec<String> = ["/photo.jpg", "/slow-404", "/photo.jpg", "/404"]
        .iter()
        .map(|p| env.server.url(p))
        .collect();
    for _ in 0..3 {
        let (i, e) = c.fetch_images(&urls).await.unwrap_err();
        assert_eq!(i, 1);
        assert!(matches!(e, FetchError::HttpStatus { status: 404 }), "{e:?}");
        let api = e.into_api_error(&Target::image(i, &urls[i]));
        assert_eq!(api.code, Code::ImageInaccessible);
        assert_eq!(api.details.as_ref().unwrap()["index"], 1);
        assert_eq!(api.details.as_ref().unwrap()["status"], 404);
    }

    // A syntax error anywhere wins without any network traffic.
    let mut bad = urls.clone();
    bad[2] = "ftp://example.com/a.jpg".into();
    let (i, e) = c.fetch_images(&bad).await.unwrap_err();
    assert_eq!((i, e.code()), (2, Code::InvalidImageUrl));
}

#[tokio::test]
async fn slow_body_times_out() {
    let env = env().await;
    let mut p = test_policy(&env);
    p.item_timeout = Duration::from_secs(1);
    let c = client_with(p, resolver());
    let t = Instant::now();
    let e = c.fetch_image(&env.server.url("/slow")).await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(3));
    assert!(
        matches!(
            e,
            FetchError::Timeout {
                timeout_ms: 1000,
                stage: TimeoutStage::Item
            }
        ),
        "{e:?}"
    );
    let api = e.into_api_error(&Target::image(0, env.server.url("/slow")));
    assert_eq!(api.code, Code::ImageTimeout);
    assert_eq!(api.details.unwrap()["timeout_ms"], 1000);

    // The whole-set limit applies even when each item would still have time.
    let mut p = test_policy(&env);
    p.item_timeout = Duration::from_secs(20);
    p.total_timeout = Duration::from_secs(1);
    let c = client_with(p, resolver());
    let urls = vec![
        env.server.url("/photo.jpg"),
        env.server.url("/slow"),
        env.server.url("/photo.png"),
    ];
    let t = Instant::now();
    let (i, e) = c.fetch_images(&urls).await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(i, 1);
    assert!(
        matches!(
            e,
            FetchError::Timeout {
                stage: TimeoutStage::Set,
                timeout_ms: 1000
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn bodies_over_the_cap_are_abandoned() {
    let env = env().await;
    let c = allowed_client(&env);
    for path in ["/huge-declared", "/huge"] {
        let e = c.fetch_image(&env.server.url(path)).await.unwrap_err();
        assert!(
            matches!(e, FetchError::TooLarge { limit_bytes } if limit_bytes == 25 << 20),
            "{path}: {e:?}"
        );
        assert_eq!(e.code(), Code::ImageInaccessible);
    }
    // With a declared length nothing of the body needs reading; without one
    // the client must hang up right after the cap, long before 400 MiB.
    env.server
        .state
        .stream_bytes_sent
        .store(0, Ordering::SeqCst);
    let e = c
        .fetch_image(&env.server.url("/endless"))
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::TooLarge { .. }), "{e:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = env.server.state.stream_bytes_sent.load(Ordering::SeqCst);
    eprintln!(
        "endless stream: server wrote {} MiB before the client hung up",
        sent >> 20
    );
    assert!(sent < 64 << 20, "server wrote {sent} bytes");
}

#[tokio::test]
async fn content_is_judged_by_bytes_and_size() {
    let env = env().await;
    let c = allowed_client(&env);

    let e = c.fetch_image(&env.server.url("/html")).await.unwrap_err();
    assert!(matches!(e, FetchError::UnsupportedFormat), "{e:?}");
    let api = e.into_api_error(&Target::image(4, env.server.url("/html")));
    assert_eq!(api.code, Code::ImageProcessingFailed);
    assert_eq!(
        api.details.unwrap(),
        serde_json::json!({"index": 4, "reason": "unsupported_format"})
    );

    let t = Instant::now();
    let e = c
        .fetch_image(&env.server.url("/bomb.png"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            FetchError::TooManyPixels {
                width: 50_000,
                height: 50_000,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "the bomb must be refused from its header"
    );

    let e = c
        .fetch_image(&env.server.url("/truncated.jpg"))
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::Undecodable { .. }), "{e:?}");
    assert_eq!(e.code(), Code::ImageProcessingFailed);
}

#[tokio::test]
async fn error_statuses_and_refused_connections() {
    let env = env().await;
    let c = allowed_client(&env);
    for (path, status) in [("/404", 404), ("/500", 500)] {
        let e = c.fetch_image(&env.server.url(path)).await.unwrap_err();
        assert_eq!(e.status(), Some(status));
        let api = e.into_api_error(&Target::image(0, env.server.url(path)));
        assert_eq!(api.code, Code::ImageInaccessible);
        assert_eq!(api.details.unwrap()["status"], status);
    }
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = c
        .fetch_image(&format!("https://127.0.0.2:{closed}/a.jpg"))
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::Connect { .. }), "{e:?}");
    assert_eq!(e.code(), Code::ImageInaccessible);

    let e = c
        .fetch_image(&format!("https://nxdomain.test:{}/a.jpg", env.port))
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::Resolve { .. }), "{e:?}");
}

#[tokio::test]
async fn redirects_are_followed_and_checked_per_hop() {
    let env = env().await;
    let c = allowed_client(&env);

    let got = c.fetch_image(&env.server.url("/hops/5")).await.unwrap();
    assert_eq!(got.final_url.path(), "/hops/0");

    let e = c.fetch_image(&env.server.url("/hops/6")).await.unwrap_err();
    assert!(
        matches!(e, FetchError::TooManyRedirects { max: 5 }),
        "{e:?}"
    );
    assert_eq!(e.code(), Code::ImageInaccessible);

    let e = c
        .fetch_image(&env.server.url("/to-loopback"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            FetchError::Blocked {
                range: BlockedRange::Loopback,
                ..
            }
        ),
        "{e:?}"
    );
    let api = e.into_api_error(&Target::image(2, env.server.url("/to-loopback")));
    assert_eq!(api.code, Code::SsrfBlocked);
    assert_eq!(api.details.as_ref().unwrap()["field"], "images[2]");

    let e = c
        .fetch_image(&env.server.url("/to-private-name"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::SsrfBlocked, "{e:?}");

    for path in ["/to-http", "/to-file"] {
        let e = c.fetch_image(&env.server.url(path)).await.unwrap_err();
        assert!(matches!(e, FetchError::BadRedirect { .. }), "{path}: {e:?}");
    }
    assert_eq!(env.counter.get(), 0, "a redirect reached 127.0.0.1");
}

#[tokio::test]
async fn tls_needs_a_trusted_root() {
    let env = env().await;
    if std::env::var_os("SSL_CERT_FILE").is_some() {
        eprintln!("SSL_CERT_FILE is set; skipping the untrusted-CA case");
        return;
    }
    let mut p = test_policy(&env);
    p.extra_roots_pem.clear();
    p.system_roots = true;
    let c = client_with(p, resolver());
    let e = c
        .fetch_image(&env.server.url("/photo.jpg"))
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::Tls { .. }), "{e:?}");
    assert_eq!(e.code(), Code::ImageInaccessible);
    assert_eq!(e.reason(), "tls_failed");

    // A policy with no roots at all is a configuration error at start-up.
    let mut p = test_policy(&env);
    p.extra_roots_pem.clear();
    assert!(matches!(
        SafeClient::new(p, Arc::new(resolver())),
        Err(ClientBuildError::NoRoots)
    ));
}

/// Answers `first` on the first lookup and `then` on every later one: a DNS
/// rebinding attacker.
struct FlipResolver {
    calls: AtomicUsize,
    first: IpAddr,
    then: IpAddr,
}

impl Resolver for FlipResolver {
    fn resolve<'a>(&'a self, _host: &'a str) -> ResolveFuture<'a> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let ip = if n == 0 { self.first } else { self.then };
        Box::pin(async move { Ok(vec![ip]) })
    }
}

#[tokio::test]
async fn dns_rebinding_cannot_switch_the_address() {
    let env = env().await;
    let flip = || FlipResolver {
        calls: AtomicUsize::new(0),
        first: ip("127.0.0.2"),
        then: ip("127.0.0.1"),
    };
    // One lookup per hop: the checked answer is the one connected to.
    let r = Arc::new(flip());
    let c = SafeClient::new(test_policy(&env), r.clone()).unwrap();
    let got = c
        .fetch_image(&format!("https://rebind.test:{}/photo.jpg", env.port))
        .await
        .unwrap();
    assert_eq!(got.info.format, ImageFormat::Jpeg);
    assert_eq!(r.calls.load(Ordering::SeqCst), 1);

    // A redirect to the same name is resolved and checked again.
    let r = Arc::new(flip());
    let c = SafeClient::new(test_policy(&env), r.clone()).unwrap();
    let e = c
        .fetch_image(&format!("https://rebind.test:{}/hops/1", env.port))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::SsrfBlocked, "{e:?}");
    assert_eq!(r.calls.load(Ordering::SeqCst), 2);

    // An answer with one allowed and one private address is refused whole.
    let c = allowed_client(&env);
    let e = c
        .fetch_image(&format!("https://half-allowed.test:{}/photo.jpg", env.port))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::SsrfBlocked, "{e:?}");

    assert_eq!(env.counter.get(), 0, "a connection reached 127.0.0.1");
}

#[tokio::test]
async fn ssrf_battery_never_connects() {
    let env = env().await;
    let p = env.port;
    // Production policy: no allow-list, no http; only our CA added so a
    // (wrong) connection would not even fail on TLS first.
    let policy = FetchPolicy {
        system_roots: false,
        extra_roots_pem: vec![env.ca.ca_pem.clone()],
        connect_timeout: Duration::from_secs(2),
        item_timeout: Duration::from_secs(3),
        ..FetchPolicy::default()
    };
    let c = client_with(policy, resolver());
    let cases: Vec<String> = vec![
        format!("https://127.0.0.1:{p}/a.jpg"),
        format!("https://localhost:{p}/a.jpg"),
        format!("https://LOCALHOST.:{p}/a.jpg"),
        format!("https://img.localhost:{p}/a.jpg"),
        format!("https://0.0.0.0:{p}/a.jpg"),
        format!("https://0:{p}/a.jpg"),
        format!("https://[::1]:{p}/a.jpg"),
        format!("https://[::]:{p}/a.jpg"),
        format!("https://[::ffff:127.0.0.1]:{p}/a.jpg"),
        format!("https://[::ffff:7f00:1]:{p}/a.jpg"),
        format!("https://[::127.0.0.1]:{p}/a.jpg"),
        format!("https://2130706433:{p}/a.jpg"),
        format!("https://0x7f000001:{p}/a.jpg"),
        format!("https://017700000001:{p}/a.jpg"),
        format!("https://127.1:{p}/a.jpg"),
        format!("https://0x7f.0.0.1:{p}/a.jpg"),
        format!("https://127.0.0.1.:{p}/a.jpg"),
        format!("https://10.0.0.1:{p}/a.jpg"),
        format!("https://172.16.0.1:{p}/a.jpg"),
        format!("https://192.168.1.1:{p}/a.jpg"),
        format!("https://169.254.169.254:{p}/latest/meta-data/"),
        format!("https://100.64.0.1:{p}/a.jpg"),
        format!("https://198.18.0.1:{p}/a.jpg"),
        format!("https://192.0.2.1:{p}/a.jpg"),
        format!("https://[fd00::1]:{p}/a.jpg"),
        format!("https://[fe80::1]:{p}/a.jpg"),
        format!("https://[64:ff9b::7f00:1]:{p}/a.jpg"),
        format!("https://[2002:7f00:1::1]:{p}/a.jpg"),
        format!("https://224.0.0.1:{p}/a.jpg"),
        format!("https://255.255.255.255:{p}/a.jpg"),
        format!("https://private.test:{p}/a.jpg"),
        format!("https://mixed.test:{p}/a.jpg"),
        format!("https://user:pass@127.0.0.1:{p}/a.jpg"),
        format!("https://user:pass@images.test:{p}/a.jpg"),
        format!("http://127.0.0.1:{p}/a.jpg"),
        format!("http://images.test:{p}/a.jpg"),
        "file:///etc/passwd".to_string(),
        format!("ftp://127.0.0.1:{p}/a.jpg"),
        format!("gopher://127.0.0.1:{p}/_GET%20/"),
        "data:image/png;base64,iVBORw0KGgo=".to_string(),
    ];
    let mut blocked = 0;
    let mut failures = Vec::new();
    for url in &cases {
        // The same URL through every entry point: image fetch, the webhook
        // check and a webhook delivery.
        let results = [
            c.fetch_image(url).await.map(|_| ()),
            c.check_public_url(url).await.map(|_| ()),
            c.post_json(
                url,
                &HeaderMap::new(),
                Bytes::from_static(b"{}"),
                Duration::from_secs(2),
            )
            .await
            .map(|_| ()),
        ];
        let ok = results.iter().all(|r| {
            matches!(r, Err(e) if matches!(e.code(), Code::SsrfBlocked | Code::InvalidImageUrl))
        });
        if ok {
            blocked += 1;
        } else {
            failures.push(format!("{url}: {results:?}"));
        }
    }
    eprintln!("SSRF battery: {blocked}/{} blocked", cases.len());
    assert!(failures.is_empty(), "not blocked: {failures:#?}");
    assert_eq!(blocked, 40);
    assert_eq!(env.counter.get(), 0, "a blocked URL opened a connection");

    // Even with http allowed, the address check still applies.
    let mut policy = test_policy(&env);
    policy.allow_http = true;
    policy.allow_networks.clear();
    let c = client_with(policy, resolver());
    let e = c
        .fetch_image(&format!("http://127.0.0.1:{p}/a.jpg"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::SsrfBlocked);
    assert_eq!(env.counter.get(), 0);
}

#[tokio::test]
async fn check_public_url_resolves_without_requesting() {
    let env = env().await;
    let c = client_with(
        FetchPolicy {
            system_roots: false,
            extra_roots_pem: vec![env.ca.ca_pem.clone()],
            ..FetchPolicy::default()
        },
        resolver(),
    );
    // Public answers pass; nothing is connected to.
    let url = c
        .check_public_url("https://public.test/hook")
        .await
        .unwrap();
    assert_eq!(url.host_str(), Some("public.test"));
    let e = c
        .check_public_url("https://private.test/hook")
        .await
        .unwrap_err();
    let api = e.into_api_error(&Target::field("webhook_url", "https://private.test/hook"));
    assert_eq!(api.code, Code::SsrfBlocked);
    assert_eq!(
        api.details.unwrap(),
        serde_json::json!({"url": "https://private.test/hook", "field": "webhook_url"})
    );
}

#[tokio::test]
async fn post_json_delivers_and_reports() {
    let env = env().await;
    let c = allowed_client(&env);
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-vibepeak-event",
        HeaderValue::from_static("task.completed"),
    );
    let body = Bytes::from_static(br#"{"event":"task.completed"}"#);
    let resp = c
        .post_json(
            &env.server.url("/hook"),
            &headers,
            body.clone(),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 202);
    assert_eq!(resp.body_prefix.len(), 1024);
    assert_eq!(resp.headers.get("x-test").unwrap(), "yes");
    let (method, path, got_headers, got_body) = env
        .server
        .state
        .last_request
        .lock()
        .unwrap()
        .clone()
        .unwrap();
    assert_eq!((method.as_str(), path.as_str()), ("POST", "/hook"));
    assert_eq!(got_body, body.to_vec());
    let has = |k: &str, v: &str| got_headers.iter().any(|(hk, hv)| hk == k && hv == v);
    assert!(has("x-vibepeak-event", "task.completed"));
    assert!(has("content-type", "application/json"));

    // Redirects are answers, not instructions, for a webhook.
    let resp = c
        .post_json(
            &env.server.url("/to-loopback"),
            &headers,
            body.clone(),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 302);

    // The drip route sends its status at once and then a byte per 100 ms:
    // the delivery counts (status 200) and returns when the timeout is up,
    // with the few body bytes that arrived.
    let t = Instant::now();
    let resp = c
        .post_json(
            &env.server.url("/slow"),
            &headers,
            body.clone(),
            Duration::from_millis(500),
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert!(resp.body_prefix.len() < 10);
    assert!(t.elapsed() < Duration::from_secs(2));

    // A receiver that never answers within the timeout is a timeout.
    let e = c
        .post_json(
            &env.server.url("/slow-404"),
            &headers,
            body,
            Duration::from_millis(100),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            FetchError::Timeout {
                timeout_ms: 100,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(env.counter.get(), 0);
}

#[test]
fn inspect_image_file_checks_local_files() {
    let dir = std::env::temp_dir().join(format!("peakreel-fetch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.jpg");
    std::fs::write(&good, &images().jpg).unwrap();
    let info = inspect_image_file(&good, 100_000_000).unwrap();
    assert_eq!(
        (info.format, info.width, info.height),
        (ImageFormat::Jpeg, 1024, 683)
    );
    let bomb = dir.join("bomb.png");
    std::fs::write(&bomb, png_bomb(20_000, 20_000)).unwrap();
    assert!(matches!(
        inspect_image_file(&bomb, 100_000_000),
        Err(FetchError::TooManyPixels { .. })
    ));
    // Small enough by pixels, so it goes on to the decoder, which finds no data.
    let small_bomb = dir.join("small.png");
    std::fs::write(&small_bomb, png_bomb(100, 100)).unwrap();
    assert!(matches!(
        inspect_image_file(&small_bomb, 100_000_000),
        Err(FetchError::Undecodable { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn silent_host_hits_the_connect_timeout() {
    let env = env().await;
    // Accepts TCP, then never says a word: the TLS handshake cannot finish.
    let mute = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let port = mute.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = mute.accept().await {
            held.push(s);
        }
    });
    let mut p = test_policy(&env);
    p.connect_timeout = Duration::from_millis(500);
    let c = client_with(p, resolver());
    let t = Instant::now();
    let e = c
        .fetch_image(&format!("https://127.0.0.2:{port}/a.jpg"))
        .await
        .unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(
            e,
            FetchError::Timeout {
                timeout_ms: 500,
                stage: TimeoutStage::Connect
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.code(), Code::ImageTimeout);
}
