//! Image fetching at creation (api.md §3 validation order and orientation **Decision**,
//! §9, errors.md, design.md principle 6), through the HTTP API: every image, the
//! watermark logo and the webhook URL go through the SSRF guard; a refused request leaves
//! nothing stored and charges nothing; an accepted one stores exactly the served bytes.

use crate::support::*;
use bytes::Bytes;
use peakreel_testkit::{png_bomb, start_counter, Reply};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------

fn full(content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    Reply::Full {
        status: 200,
        content_type,
        body: body.into(),
    }
}

fn status(code: u16) -> Reply {
    Reply::Full {
        status: code,
        content_type: "text/html",
        body: Bytes::from_static(b"<html><body>nope</body></html>"),
    }
}

/// A `w`×`h` picture, different for every `seed`, encoded as `fmt`.
fn picture(w: u32, h: u32, seed: u8, fmt: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x % 251) as u8 ^ seed,
            (y % 241) as u8,
            ((x + y) % 239) as u8 ^ seed.rotate_left(3),
        ])
    });
    peakreel_testkit::encode(&image::DynamicImage::ImageRgb8(img), fmt)
}

fn jpeg(w: u32, h: u32, seed: u8) -> Vec<u8> {
    picture(w, h, seed, image::ImageFormat::Jpeg)
}

/// Serve `body` at `path` on the test image server; returns its URL.
fn serve(s: &Server, path: &str, reply: Reply) -> String {
    s.images().route(path, reply);
    s.images().url(path)
}

/// HTTP requests the image server has answered so far.
fn image_requests(s: &Server) -> usize {
    s.images()
        .state
        .requests
        .load(std::sync::atomic::Ordering::SeqCst)
}

/// Every file and directory under `dir`, sorted (empty when `dir` does not exist).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

fn tasks_dir(s: &Server) -> PathBuf {
    s.data_dir().join("media").join("tasks")
}

/// What a request may leave behind: stored inputs, task rows, ledger charges, credits.
#[derive(Debug, PartialEq)]
struct Kept {
    stored: Vec<PathBuf>,
    tasks: String,
    charges: String,
    credits: i64,
}

async fn kept(s: &Server, a: &Acct) -> Kept {
    Kept {
        stored: walk(&tasks_dir(s)),
        tasks: s.sql("SELECT COUNT(*) FROM tasks").await,
        charges: s
            .sql("SELECT COUNT(*) FROM credit_ledger WHERE kind = 'charge'")
            .await,
        // Also checks that GET /v1/account, the admin CLI and the ledger agree.
        credits: s.assert_ledger_consistent(a).await,
    }
}

/// A refused request stored nothing, created no task and charged nothing.
async fn assert_nothing_kept(s: &Server, a: &Acct, before: &Kept) {
    assert_eq!(
        &kept(s, a).await,
        before,
        "a refused request left something"
    );
}

/// The task row's stored spec (`request_json`).
async fn spec(s: &Server, task_id: &str) -> Value {
    let text = s
        .sql(&format!(
            "SELECT request_json FROM tasks WHERE id = '{task_id}'"
        ))
        .await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("request_json {e}: {text}"))
}

/// The accepted task stored exactly `served` (in order, with extensions `exts`) and
/// `spec.inputs` points at them with the right sizes; returns the spec.
async fn assert_stored(
    s: &Server,
    task_id: &str,
    served: &[(Vec<u8>, &str, (u32, u32))],
    orientation: &str,
) -> Value {
    let spec = spec(s, task_id).await;
    let inputs = &spec["inputs"];
    assert_eq!(inputs["orientation"], orientation, "{inputs}");
    let images = inputs["images"].as_array().expect("inputs.images");
    assert_eq!(images.len(), served.len(), "{inputs}");
    for (i, (m, (bytes, ext, (w, h)))) in images.iter().zip(served).enumerate() {
        let key = format!("tasks/{task_id}/input/{i:02}.{ext}");
        assert_eq!(
            m,
            &json!({ "key": key, "format": ext, "width": w, "height": h }),
            "inputs.images[{i}]"
        );
        let on_disk = std::fs::read(s.data_dir().join("media").join(&key))
            .unwrap_or_else(|e| panic!("stored input {key}: {e}"));
        assert!(
            on_disk == *bytes,
            "{key}: stored {} bytes differ from the {} served",
            on_disk.len(),
            bytes.len()
        );
    }
    spec
}

/// A slideshow body whose image `i` is `url` for each `(i, url)`.
fn slideshow_with(s: &Server, n: usize, urls: &[(usize, &str)]) -> Value {
    let mut body = s.slideshow(n);
    for (i, url) in urls {
        body["images"][*i] = json!(url);
    }
    body
}

fn living_with(s: &Server, n: usize, urls: &[(usize, &str)]) -> Value {
    let mut body = s.living(n);
    for (i, url) in urls {
        body["images"][*i]["url"] = json!(url);
    }
    body
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------------------
// INVALID_IMAGE_URL: a syntax refusal, before any network work.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn invalid_image_urls_are_refused_without_fetching() {
    let s = Server::start().await;
    let a = s.account("Max", 1000).await;
    let before = kept(&s, &a).await;
    let host = s.images().addr;
    let bad = [
        format!("http://{host}/listing/0.jpg"),
        format!("ftp://{host}/listing/0.jpg"),
        format!("https://user:secret@{host}/listing/0.jpg"),
    ];
    for url in &bad {
        let r = s
            .post(SLIDESHOW, &a.live.key, &slideshow_with(&s, 6, &[(3, url)]))
            .await;
        // Credentials are never echoed back.
        let shown = url.replace("user:secret@", "");
        assert_eq!(
            assert_error(&r, 400, "INVALID_IMAGE_URL"),
            json!({ "index": 3, "url": shown }),
            "{url}"
        );
        let r = s
            .post(LIVING, &a.test.key, &living_with(&s, 3, &[(1, url)]))
            .await;
        assert_eq!(
            assert_error(&r, 400, "INVALID_IMAGE_URL"),
            json!({ "index": 1, "url": shown }),
            "{url}"
        );
    }
    assert_eq!(image_requests(&s), 0, "a refused URL set was fetched");
    assert_nothing_kept(&s, &a, &before).await;
}

// ---------------------------------------------------------------------------------------
// SSRF_BLOCKED.
// ---------------------------------------------------------------------------------------

/// Internal addresses in every image position and spelling are refused without a
/// connection, on a server whose allow-list holds only the image server's 127.0.0.2.
#[tokio::test]
async fn blocked_image_addresses_are_never_connected() {
    let s = Server::start_guarded().await;
    let counter = start_counter(0).await;
    let p = counter.port;
    let a = s.account("Max", 1000).await;
    let before = kept(&s, &a).await;
    let blocked = [
        format!("https://127.0.0.1:{p}/a.jpg"),
        format!("https://[::1]:{p}/a.jpg"),
        format!("https://localhost:{p}/a.jpg"),
        format!("https://2130706433:{p}/a.jpg"),
        format!("https://[::ffff:127.0.0.1]:{p}/a.jpg"),
        "https://10.0.0.1/a.jpg".to_string(),
        "https://169.254.169.254/latest/meta-data/a.jpg".to_string(),
        "https://192.168.1.1/a.jpg".to_string(),
    ];
    for url in &blocked {
        // SSRF_BLOCKED (not IMAGE_INACCESSIBLE or IMAGE_TIMEOUT) means refused before
        // any connection; the counter below proves it for the loopback forms.
        let r = s
            .post(SLIDESHOW, &a.live.key, &slideshow_with(&s, 6, &[(2, url)]))
            .await;
        assert_eq!(
            assert_error(&r, 400, "SSRF_BLOCKED"),
            json!({ "index": 2, "url": url, "field": "images[2]" }),
            "{url}"
        );
        let r = s
            .post(LIVING, &a.test.key, &living_with(&s, 4, &[(3, url)]))
            .await;
        assert_eq!(
            assert_error(&r, 400, "SSRF_BLOCKED"),
            json!({ "index": 3, "url": url, "field": "images[3]" }),
            "{url}"
        );
    }

    // A redirect from the allowed image server to a blocked address is checked again.
    let to_loopback = serve(
        &s,
        "/to-loopback.jpg",
        Reply::Redirect(format!("https://127.0.0.1:{p}/a.jpg")),
    );
    let to_metadata = serve(
        &s,
        "/to-metadata.jpg",
        Reply::Redirect("https://169.254.169.254/latest/meta-data/".into()),
    );
    let two_hops = serve(
        &s,
        "/two-hops.jpg",
        Reply::Redirect("/to-loopback.jpg".into()),
    );
    for url in [&to_loopback, &to_metadata, &two_hops] {
        let r = s
            .post(SLIDESHOW, &a.live.key, &slideshow_with(&s, 6, &[(4, url)]))
            .await;
        assert_eq!(
            assert_error(&r, 400, "SSRF_BLOCKED"),
            json!({ "index": 4, "url": url, "field": "images[4]" }),
            "{url}"
        );
    }
    assert_eq!(counter.get(), 0, "the guard connected to a blocked address");
    assert_nothing_kept(&s, &a, &before).await;
}

/// Without `--allow-network` (production), even the suite's own loopback image server is
/// refused, and never contacted.
#[tokio::test]
async fn without_allow_list_loopback_images_are_blocked() {
    let s = Server::start_strict().await;
    let counter = start_counter(0).await;
    let a = s.account("Max", 1000).await;
    let before = kept(&s, &a).await;

    let r = s.post(SLIDESHOW, &a.live.key, &s.slideshow(6)).await;
    assert_eq!(
        assert_error(&r, 400, "SSRF_BLOCKED"),
        json!({ "index": 0, "url": s.image_url(0), "field": "images[0]" })
    );
    let r = s.post(LIVING, &a.test.key, &s.living(2)).await;
    assert_eq!(
        assert_error(&r, 400, "SSRF_BLOCKED"),
        json!({ "index": 0, "url": s.image_url(0), "field": "images[0]" })
    );
    for url in [
        format!("https://127.0.0.1:{}/a.jpg", counter.port),
        format!("https://[::1]:{}/a.jpg", counter.port),
        "https://10.0.0.1/a.jpg".to_string(),
        "https://169.254.169.254/latest/meta-data/a.jpg".to_string(),
    ] {
        let r = s
            .post(SLIDESHOW, &a.live.key, &slideshow_with(&s, 6, &[(0, &url)]))
            .await;
        assert_eq!(
            assert_error(&r, 400, "SSRF_BLOCKED"),
            json!({ "index": 0, "url": url, "field": "images[0]" }),
        );
    }
    assert_eq!(counter.get(), 0, "the guard connected to a blocked address");
    assert_eq!(image_requests(&s), 0, "the guard fetched from loopback");
    assert_nothing_kept(&s, &a, &before).await;

    // Validation order (§3): credits are checked before any fetching.
    let poor = s.account("Max", 0).await;
    let r = s.post(SLIDESHOW, &poor.live.key, &s.slideshow(6)).await;
    assert_error(&r, 403, "INSUFFICIENT_CREDITS");
}

// ---------------------------------------------------------------------------------------
// IMAGE_TIMEOUT, IMAGE_INACCESSIBLE, IMAGE_PROCESSING_FAILED.
// ---------------------------------------------------------------------------------------

/// The one slow test (the per-image timeout is 15 s and the server has no knob for it).
/// It also shows that the lowest failing index wins even when a higher one fails first.
#[tokio::test]
async fn slow_image_times_out_and_lowest_index_wins() {
    let s = Server::start().await;
    let a = s.account("Max", 1000).await;
    let before = kept(&s, &a).await;
    let slow = serve(
        &s,
        "/slow.jpg",
        Reply::Drip {
            len: 10_000,
            every: Duration::from_millis(50),
        },
    );
    let missing = s.images().url("/missing.jpg");
    let t = Instant::now();
    let r = s
        .post(
            SLIDESHOW,
            &a.live.key,
            &slideshow_with(&s, 6, &[(1, &slow), (4, &missing)]),
        )
        .await;
    let took = t.elapsed();
    assert_eq!(
        assert_error(&r, 400, "IMAGE_TIMEOUT"),
        json!({ "index": 1, "url": slow, "timeout_ms": 15000 })
    );
    assert!(
        // The client gives up at 30 s; a loaded machine may add a few seconds.
        took >= Duration::from_secs(14) && took < Duration::from_secs(29),
        "answered after {took:?}"
    );
    assert_nothing_kept(&s, &a, &before).await;
}

#[tokio::test]
async fn inaccessible_images() {
    let s = Server::start().await;
    let a = s.account("Max", 1000).await;
    let before = kept(&s, &a).await;
    let missing = s.images().url("/missing.jpg");
    let broken = serve(&s, "/broken.jpg", status(500));
    let forbidden = serve(&s, "/forbidden.jpg", status(403));
    let refused = format!("https://127.0.0.1:{}/a.jpg", closed_port());
    s.images()
        .route("/photo.jpg", full("image/jpeg", jpeg(800, 600, 7)));
    let loop6 = s.images().url("/hops/6");

    let cases: [(&str, usize, Value); 5] = [
        (
            &missing,
            0,
            json!({ "status": 404, "reason": "http_status" }),
        ),
        (
            &broken,
            5,
            json!({ "status": 500, "reason": "http_status" }),
        ),
        (
            &forbidden,
            2,
            json!({ "status": 403, "reason": "http_status" }),
        ),
        (&refused, 3, json!({ "reason": "connection_failed" })),
        (&loop6, 1, json!({ "reason": "too_many_redirects" })),
    ];
    for (url, i, extra) in &cases {
        let mut want = json!({ "index": i, "url": url });
        want.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let r = s
            .post(SLIDESHOW, &a.live.key, &slideshow_with(&s, 6, &[(*i, url)]))
            .await;
        assert_eq!(assert_error(&r, 400, "IMAGE_INACCESSIBLE"), want, "{url}");
    }
    // Living property, and test keys fetch too.
    let r = s
        .post(LIVING, &a.test.key, &living_with(&s, 5, &[(4, &missing)]))
        .await;
    assert_eq!(
        assert_error(&r, 400, "IMAGE_INACCESSIBLE"),
        json!({ "index": 4, "url": missing, "status": 404, "reason": "http_status" })
    );
    let r = s
        .post(
            SLIDESHOW,
            &a.test.key,
            &slideshow_with(&s, 6, &[(5, &missing)]),
        )
        .await;
    assert_eq!(
        assert_error(&r, 400, "IMAGE_INACCESSIBLE"),
        json!({ "index": 5, "url": missing, "status": 404, "reason": "http_status" })
    );
    assert_nothing_kept(&s, &a, &before).await;

    // Five redirects are followed (the sixth is one too many, above).
    let loop5 = s.images().url("/hops/5");
    let r = s
        .post(
            SLIDESHOW,
            &a.test.key,
            &slideshow_with(&s, 6, &[(0, &loop5)]),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
}

/// Bodies over 25 MiB are refused, without reading far past the limit.
#[tokio::test]
async fn oversized_images() {
    let s = Server::start().await;
    let a = s.account("Max", 1000).await;
    let before = kept(&s, &a).await;
    const MIB: u64 = 1024 * 1024;
    let sent = || {
        s.images()
            .state
            .stream_bytes_sent
            .swap(0, std::sync::atomic::Ordering::SeqCst)
    };
    for (path, declare_length) in [("/huge-declared.jpg", true), ("/huge-chunked.jpg", false)] {
        let url = serve(
            &s,
            path,
            Reply::Stream {
                total: 200 * MIB,
                declare_length,
            },
        );
        sent();
        let r = s
            .post(SLIDESHOW, &a.live.key, &slideshow_with(&s, 6, &[(2, &url)]))
            .await;
        assert_eq!(
            assert_error(&r, 400, "IMAGE_INACCESSIBLE"),
            json!({ "index": 2, "url": url, "reason": "too_large" }),
            "{path}"
        );
        // Socket buffers hold a few MiB; the client must have stopped reading near 25 MiB.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let n = sent();
        assert!(n < 60 * MIB, "{path}: the server sent {} MiB", n / MIB);
    }
    let r = s
        .post(
            LIVING,
            &a.test.key,
            &living_with(&s, 2, &[(1, &s.images().url("/huge-chunked.jpg"))]),
        )
        .await;
    assert_eq!(assert_error(&r, 400, "IMAGE_INACCESSIBLE")["index"], 1);
    assert_nothing_kept(&s, &a, &before).await;
}

#[tokio::test]
async fn undecodable_images() {
    let s = Server::start().await;
    let a = s.account("Max", 1000).await;
    let before = kept(&s, &a).await;
    let html = serve(
        &s,
        "/page.jpg",
        full(
            "image/jpeg",
            &b"<!doctype html><html><body>Listing</body></html>"[..],
        ),
    );
    let photo = jpeg(800, 600, 1);
    let truncated = serve(
        &s,
        "/truncated.jpg",
        full("image/jpeg", photo[..photo.len() / 2].to_vec()),
    );
    let bomb = serve(&s, "/bomb.png", full("image/png", png_bomb(50_000, 50_000)));
    let gif = serve(
        &s,
        "/anim.jpg",
        full("image/jpeg", &b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"[..]),
    );
    for (url, i, reason) in [
        (&html, 2, "unsupported_format"),
        (&truncated, 4, "decode_failed"),
        (&bomb, 0, "too_many_pixels"),
        (&gif, 5, "unsupported_format"),
    ] {
        let r = s
            .post(SLIDESHOW, &a.live.key, &slideshow_with(&s, 6, &[(i, url)]))
            .await;
        assert_eq!(
            assert_error(&r, 400, "IMAGE_PROCESSING_FAILED"),
            json!({ "index": i, "reason": reason }),
            "{url}"
        );
    }
    let r = s
        .post(LIVING, &a.test.key, &living_with(&s, 3, &[(2, &bomb)]))
        .await;
    assert_eq!(
        assert_error(&r, 400, "IMAGE_PROCESSING_FAILED"),
        json!({ "index": 2, "reason": "too_many_pixels" })
    );
    assert_nothing_kept(&s, &a, &before).await;
}

/// Several failing images: the lowest index is reported whatever fails first or how.
#[tokio::test]
async fn lowest_failing_index_wins() {
    let s = Server::start_guarded().await;
    let a = s.account("Max", 1000).await;
    let before = kept(&s, &a).await;
    let slow_missing = serve(
        &s,
        "/slow-missing.jpg",
        Reply::Delayed(Duration::from_millis(800), Box::new(status(404))),
    );
    let html = serve(&s, "/page.jpg", full("image/jpeg", &b"<html></html>"[..]));
    let blocked = "https://10.0.0.1/a.jpg";
    // Index 1 fails last (slowly), 3 and 5 fail at once.
    let r = s
        .post(
            SLIDESHOW,
            &a.live.key,
            &slideshow_with(&s, 6, &[(1, &slow_missing), (3, blocked), (5, &html)]),
        )
        .await;
    assert_eq!(
        assert_error(&r, 400, "IMAGE_INACCESSIBLE"),
        json!({ "index": 1, "url": slow_missing, "status": 404, "reason": "http_status" })
    );
    let r = s
        .post(
            SLIDESHOW,
            &a.live.key,
            &slideshow_with(&s, 6, &[(3, &html), (4, blocked)]),
        )
        .await;
    assert_eq!(
        assert_error(&r, 400, "IMAGE_PROCESSING_FAILED"),
        json!({ "index": 3, "reason": "unsupported_format" })
    );
    let r = s
        .post(
            LIVING,
            &a.live.key,
            &living_with(&s, 4, &[(2, blocked), (3, &slow_missing)]),
        )
        .await;
    assert_eq!(
        assert_error(&r, 400, "SSRF_BLOCKED"),
        json!({ "index": 2, "url": blocked, "field": "images[2]" })
    );
    assert_nothing_kept(&s, &a, &before).await;
}

// ---------------------------------------------------------------------------------------
// Orientation (api.md §3 Decision).
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn orientation_is_decided_from_the_fetched_images() {
    let s = Server::start().await;
    let a = s.account("Max", 1000).await;
    let portrait = jpeg(600, 900, 11);
    let square = jpeg(700, 700, 12);
    let landscape = jpeg(900, 600, 13);
    let p: Vec<String> = (0..6)
        .map(|i| {
            serve(
                &s,
                &format!("/p/{i}.jpg"),
                full("image/jpeg", portrait.clone()),
            )
        })
        .collect();
    let sq: Vec<String> = (0..6)
        .map(|i| {
            serve(
                &s,
                &format!("/sq/{i}.jpg"),
                full("image/jpeg", square.clone()),
            )
        })
        .collect();
    let l: Vec<String> = (0..6)
        .map(|i| {
            serve(
                &s,
                &format!("/l/{i}.jpg"),
                full("image/jpeg", landscape.clone()),
            )
        })
        .collect();
    let body = |urls: [&String; 6], orientation: Option<&str>| {
        let mut b = s.slideshow(6);
        b["images"] = json!(urls);
        if let Some(o) = orientation {
            b["orientation"] = json!(o);
        }
        b
    };

    // Landscape photos and one portrait, no orientation: refused, nothing kept.
    let before = kept(&s, &a).await;
    let mixed = [&l[0], &l[1], &l[2], &p[0], &sq[0], &l[3]];
    let r = s.post(SLIDESHOW, &a.live.key, &body(mixed, None)).await;
    let d = assert_error(&r, 400, "MIXED_ORIENTATIONS");
    assert_eq!(
        d,
        json!({ "orientations": ["landscape", "landscape", "landscape", "portrait", "square", "landscape"] })
    );
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("orientation"),
        "the message says to pass `orientation`: {}",
        r.json
    );
    assert_nothing_kept(&s, &a, &before).await;
    // The real portrait photo of the shared test data, among landscape ones.
    if let Some(dir) = peakreel_testkit::photos_dir() {
        if let Ok(bytes) = std::fs::read(dir.join("portrait_bathroom.jpg")) {
            let real = serve(&s, "/portrait_bathroom.jpg", full("image/jpeg", bytes));
            let r = s
                .post(
                    SLIDESHOW,
                    &a.live.key,
                    &slideshow_with(&s, 6, &[(5, &real)]),
                )
                .await;
            let d = assert_error(&r, 400, "MIXED_ORIENTATIONS");
            assert_eq!(d["orientations"][5], "portrait", "{d}");
            assert_nothing_kept(&s, &a, &before).await;
        }
    }

    // The same set with an orientation is accepted and cropped to it.
    let sizes = [
        (900, 600),
        (900, 600),
        (900, 600),
        (600, 900),
        (700, 700),
        (900, 600),
    ];
    let bytes = [
        &landscape, &landscape, &landscape, &portrait, &square, &landscape,
    ];
    let served: Vec<(Vec<u8>, &str, (u32, u32))> = bytes
        .iter()
        .zip(sizes)
        .map(|(b, size)| ((*b).clone(), "jpg", size))
        .collect();
    for o in ["portrait", "landscape"] {
        let id = s
            .create_ok(SLIDESHOW, &a.live.key, &body(mixed, Some(o)))
            .await["task_id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_stored(&s, &id, &served, o).await;
    }

    // Without orientation: the first decided image rules; squares match either.
    let cases: [([&String; 6], &str); 4] = [
        ([&p[0], &p[1], &p[2], &p[3], &p[4], &p[5]], "portrait"),
        ([&sq[0], &sq[1], &p[0], &sq[2], &p[1], &sq[3]], "portrait"),
        ([&sq[0], &l[0], &sq[1], &l[1], &l[2], &l[3]], "landscape"),
        (
            [&sq[0], &sq[1], &sq[2], &sq[3], &sq[4], &sq[5]],
            "landscape",
        ),
    ];
    for (urls, want) in cases {
        let id = s.create_ok(SLIDESHOW, &a.live.key, &body(urls, None)).await["task_id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            spec(&s, &id).await["inputs"]["orientation"],
            want,
            "{urls:?}"
        );
    }

    // Living property: the same rule for image objects.
    let mut liv = s.living(3);
    liv["images"][1]["url"] = json!(p[0]);
    let before = kept(&s, &a).await;
    let r = s.post(LIVING, &a.live.key, &liv).await;
    assert_eq!(
        assert_error(&r, 400, "MIXED_ORIENTATIONS"),
        json!({ "orientations": ["landscape", "portrait", "landscape"] })
    );
    assert_nothing_kept(&s, &a, &before).await;
    liv["orientation"] = json!("portrait");
    let id = s.create_ok(LIVING, &a.live.key, &liv).await["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(spec(&s, &id).await["inputs"]["orientation"], "portrait");
}

// ---------------------------------------------------------------------------------------
// The watermark logo and the webhook URL.
// ---------------------------------------------------------------------------------------

fn with_logo(mut body: Value, url: &str) -> Value {
    body["elements_config"] = json!({
        "enabled": true,
        "watermark": { "url": url, "position": "bottom-right" },
    });
    body
}

#[tokio::test]
async fn watermark_logo_and_webhook_go_through_the_guard() {
    let s = Server::start_guarded().await;
    let counter = start_counter(0).await;
    let p = counter.port;
    let a = s.account("Max", 1000).await;
    let before = kept(&s, &a).await;
    const LOGO: &str = "elements_config.watermark.url";

    for url in [
        format!("https://127.0.0.1:{p}/logo.png"),
        format!("https://localhost:{p}/logo.png"),
        "https://169.254.169.254/logo.png".to_string(),
    ] {
        let r = s
            .post(SLIDESHOW, &a.live.key, &with_logo(s.slideshow(6), &url))
            .await;
        assert_eq!(
            assert_error(&r, 400, "SSRF_BLOCKED"),
            json!({ "url": url, "field": LOGO }),
            "{url}"
        );
        let r = s
            .post(LIVING, &a.test.key, &with_logo(s.living(2), &url))
            .await;
        assert_eq!(
            assert_error(&r, 400, "SSRF_BLOCKED"),
            json!({ "url": url, "field": LOGO }),
            "{url}"
        );
    }
    let redirect = serve(
        &s,
        "/logo-redirect.png",
        Reply::Redirect(format!("https://127.0.0.1:{p}/logo.png")),
    );
    let r = s
        .post(
            SLIDESHOW,
            &a.live.key,
            &with_logo(s.slideshow(6), &redirect),
        )
        .await;
    assert_eq!(
        assert_error(&r, 400, "SSRF_BLOCKED"),
        json!({ "url": redirect, "field": LOGO })
    );

    let html = serve(
        &s,
        "/logo.html",
        full("image/png", &b"<html><body>logo</body></html>"[..]),
    );
    let r = s
        .post(SLIDESHOW, &a.live.key, &with_logo(s.slideshow(6), &html))
        .await;
    let d = assert_error(&r, 400, "IMAGE_PROCESSING_FAILED");
    assert_eq!(d, json!({ "field": LOGO, "reason": "unsupported_format" }));
    assert!(
        r.json["error"]["message"].as_str().unwrap().contains(LOGO),
        "{}",
        r.json
    );
    let missing = s.images().url("/no-logo.png");
    let r = s
        .post(SLIDESHOW, &a.live.key, &with_logo(s.slideshow(6), &missing))
        .await;
    assert_eq!(
        assert_error(&r, 400, "IMAGE_INACCESSIBLE"),
        json!({ "field": LOGO, "url": missing, "status": 404, "reason": "http_status" })
    );
    // Images are judged before the logo.
    let bad_image = s.images().url("/missing.jpg");
    let r = s
        .post(
            SLIDESHOW,
            &a.live.key,
            &with_logo(slideshow_with(&s, 6, &[(5, &bad_image)]), &html),
        )
        .await;
    assert_eq!(assert_error(&r, 400, "IMAGE_INACCESSIBLE")["index"], 5);

    // webhook_url resolving to, or being, an internal address.
    for url in [
        format!("https://localhost:{p}/hook"),
        format!("https://127.0.0.1:{p}/hook"),
        "https://10.0.0.1/hook".to_string(),
        "https://[fd00::1]/hook".to_string(),
    ] {
        let mut body = s.slideshow(6);
        body["webhook_url"] = json!(url);
        let r = s.post(SLIDESHOW, &a.live.key, &body).await;
        assert_eq!(
            assert_error(&r, 400, "SSRF_BLOCKED"),
            json!({ "url": url, "field": "webhook_url" }),
            "{url}"
        );
        let mut body = s.living(1);
        body["webhook_url"] = json!(url);
        let r = s.post(LIVING, &a.test.key, &body).await;
        assert_eq!(
            assert_error(&r, 400, "SSRF_BLOCKED"),
            json!({ "url": url, "field": "webhook_url" }),
            "{url}"
        );
    }
    assert_eq!(counter.get(), 0, "the guard connected to a blocked address");
    assert_nothing_kept(&s, &a, &before).await;

    // A public (allow-listed) logo and webhook are accepted; the logo is stored too.
    let logo = picture(200, 80, 3, image::ImageFormat::Png);
    let logo_url = serve(&s, "/brand.png", full("image/png", logo.clone()));
    let mut body = with_logo(s.slideshow(6), &logo_url);
    body["webhook_url"] = json!(s.webhook_url());
    let id = s.create_ok(SLIDESHOW, &a.live.key, &body).await["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    let spec = spec(&s, &id).await;
    let key = format!("tasks/{id}/input/logo.png");
    assert_eq!(
        spec["inputs"]["logo"],
        json!({ "key": key, "format": "png", "width": 200, "height": 80 })
    );
    assert!(std::fs::read(s.data_dir().join("media").join(&key)).unwrap() == logo);
}

// ---------------------------------------------------------------------------------------
// Accepted requests: stored verbatim, charged once.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn accepted_inputs_are_stored_byte_for_byte() {
    let s = Server::start().await;
    let a = s.account("Max", 1000).await;
    // Every image different, in several formats; the extension follows the bytes, not
    // the URL or the Content-Type.
    let served: Vec<(Vec<u8>, &str, (u32, u32))> = (0..8u32)
        .map(|i| {
            let (w, h) = (640 + 16 * i, 480);
            match i {
                2 => (
                    picture(w, h, i as u8, image::ImageFormat::Png),
                    "png",
                    (w, h),
                ),
                5 => (
                    picture(w, h, i as u8, image::ImageFormat::WebP),
                    "webp",
                    (w, h),
                ),
                _ => (jpeg(w, h, i as u8), "jpg", (w, h)),
            }
        })
        .collect();
    let urls: Vec<String> = served
        .iter()
        .enumerate()
        .map(|(i, (b, _, _))| {
            serve(
                &s,
                &format!("/distinct/{i}.jpg"),
                full("image/jpeg", b.clone()),
            )
        })
        .collect();
    let mut body = s.slideshow(8);
    body["images"] = json!(urls);
    let r = s.post(SLIDESHOW, &a.live.key, &body).await;
    assert_eq!(r.status, 202, "{}", r.json);
    let id = r.json["task_id"].as_str().unwrap().to_string();
    let spec = assert_stored(&s, &id, &served, "landscape").await;
    assert_eq!(
        spec["request"]["images"][0]["url"],
        json!(urls[0]),
        "{spec}"
    );
    assert_eq!(spec["inputs"]["logo"], Value::Null);
    // Exactly this task's inputs are on disk.
    let mut want: Vec<PathBuf> = vec![
        tasks_dir(&s).join(&id),
        tasks_dir(&s).join(&id).join("input"),
    ];
    want.extend(
        served
            .iter()
            .enumerate()
            .map(|(i, (_, ext, _))| tasks_dir(&s).join(&id).join(format!("input/{i:02}.{ext}"))),
    );
    want.sort();
    assert_eq!(walk(&tasks_dir(&s)), want);
    // One charge, for this task.
    let charge = s
        .sql(&format!(
            "SELECT amount FROM credit_ledger WHERE kind = 'charge' AND task_id = '{id}'"
        ))
        .await;
    assert_eq!(charge, "-5");
    assert_eq!(s.assert_ledger_consistent(&a).await, 995);

    // Living property with a test key: stored the same way, nothing charged.
    let mut liv = s.living(3);
    for (i, url) in urls.iter().take(3).enumerate() {
        liv["images"][i]["url"] = json!(url);
    }
    let r = s.post(LIVING, &a.test.key, &liv).await;
    assert_eq!(r.status, 202, "{}", r.json);
    assert_eq!(r.json["credits_charged"], 0);
    let id = r.json["task_id"].as_str().unwrap().to_string();
    let spec = assert_stored(&s, &id, &served[..3], "landscape").await;
    assert_eq!(
        spec["request"]["images"][2]["room_type"], "bedroom",
        "{spec}"
    );
    assert_eq!(s.assert_ledger_consistent(&a).await, 995);
}

/// Requests that pass the pre-check but lose the race in the charging transaction have
/// fetched and stored their inputs; those are removed again.
#[tokio::test]
async fn inputs_of_requests_refused_at_enqueue_are_removed() {
    let s = Server::start().await;
    let a = s.account("Plus", 100).await;
    // Slow images keep every request in the fetch stage together, past the pre-check.
    let photo = jpeg(800, 600, 21);
    let urls: Vec<String> = (0..6)
        .map(|i| {
            serve(
                &s,
                &format!("/slow/{i}.jpg"),
                Reply::Delayed(
                    Duration::from_millis(500),
                    Box::new(full("image/jpeg", photo.clone())),
                ),
            )
        })
        .collect();
    let mut body = s.slideshow(6);
    body["images"] = json!(urls);
    let rs = futures::future::join_all((0..4).map(|_| s.post(SLIDESHOW, &a.live.key, &body))).await;
    let accepted: Vec<&Resp> = rs.iter().filter(|r| r.status == 202).collect();
    assert_eq!(
        accepted.len(),
        1,
        "{:?}",
        rs.iter().map(|r| &r.json).collect::<Vec<_>>()
    );
    for r in rs.iter().filter(|r| r.status != 202) {
        assert_error(r, 429, "CONCURRENCY_LIMIT_EXCEEDED");
    }
    let id = accepted[0].json["task_id"].as_str().unwrap();
    let left: Vec<PathBuf> = std::fs::read_dir(tasks_dir(&s))
        .expect("tasks dir")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        left,
        vec![tasks_dir(&s).join(id)],
        "only the accepted task's inputs remain"
    );
    assert_eq!(s.assert_ledger_consistent(&a).await, 95);
}
