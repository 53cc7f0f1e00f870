//! `Idempotency-Key` on every creating route (Extension, README "Idempotent creation"),
//! over HTTP against the real binary: a repeated request gets the first answer byte for
//! byte and is charged once, simultaneous repeats create one task (in one process, and in
//! two processes sharing PostgreSQL), another body is refused, 4xx answers are replayed
//! while 429 and 5xx answers are not, keys belong to one API key, survive a restart and
//! expire.

use crate::support::*;
use peakreel_testkit::postgres::Postgres;
use peakreel_testkit::Reply;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;

const LEGACY: &str = "/v1/real-estate/slideshow";
const UPLOADS: &str = "/v1/uploads";

/// POST `body` (JSON) with an `Idempotency-Key`.
async fn post_keyed(p: &Proc, path: &str, key: &str, idem: &str, body: &Value) -> Resp {
    post_bytes(
        p,
        path,
        key,
        idem,
        "application/json",
        body.to_string().into_bytes(),
    )
    .await
}

async fn post_bytes(
    p: &Proc,
    path: &str,
    key: &str,
    idem: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Resp {
    let rb = p
        .request(Method::POST, path)
        .bearer_auth(key)
        .header("content-type", content_type)
        .header("idempotency-key", idem)
        .body(body);
    p.send(rb).await
}

/// The answer is a replay of `first`: the same status, body bytes and answer headers,
/// marked as replayed, under the retry's own request id.
#[track_caller]
fn assert_replay(first: &Resp, again: &Resp) {
    assert_eq!(again.status, first.status, "{}", again.json);
    assert_eq!(
        String::from_utf8_lossy(&again.bytes),
        String::from_utf8_lossy(&first.bytes)
    );
    for name in ["content-type", "location", "retry-after"] {
        assert_eq!(again.header(name), first.header(name), "{name}");
    }
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.header("idempotent-replayed"), None);
    let (a, b) = (assert_request_id(first), assert_request_id(again));
    assert_ne!(a, b, "the retry has its own X-Request-Id");
}

/// `(balance, number of charge rows)` from `GET /v1/account/ledger`.
async fn ledger(p: &Proc, key: &str) -> (i64, usize) {
    let r = p.get("/v1/account/ledger", Some(key)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let charges = r.json["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["kind"] == "charge")
        .count();
    (r.json["balance"].as_i64().expect("balance"), charges)
}

/// Task ids `GET /v1/tasks` lists for `key`.
async fn task_ids(p: &Proc, key: &str) -> Vec<String> {
    let r = p.get("/v1/tasks?limit=100", Some(key)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|t| t["task_id"].as_str().expect("task_id").to_string())
        .collect()
}

fn landscape_jpeg() -> Vec<u8> {
    peakreel_testkit::photo_jpeg("house100_kitchen.jpg")
}

#[tokio::test]
async fn a_repeated_creation_is_replayed_and_charged_once() {
    let s = Server::start().await;
    let a = s.account("Max", 100).await;
    let key = &a.live.key;
    let body = s.slideshow(6);

    let first = post_keyed(&s, SLIDESHOW, key, "order-7f3a", &body).await;
    assert_eq!(first.status, 202, "{}", first.json);
    let task = first.json["task_id"].as_str().unwrap().to_string();
    let again = post_keyed(&s, SLIDESHOW, key, "order-7f3a", &body).await;
    assert_replay(&first, &again);
    assert_eq!(again.json["task_id"], task.as_str());
    assert_eq!(ledger(&s, key).await, (95, 1));
    assert_eq!(task_ids(&s, key).await, vec![task.clone()]);

    // The same key with another body, or on another route, is another request.
    let mut other = body.clone();
    other["script"] = json!(script(280));
    for (path, body) in [(SLIDESHOW, &other), (LEGACY, &body)] {
        let r = post_keyed(&s, path, key, "order-7f3a", body).await;
        let d = assert_error(&r, 400, "IDEMPOTENCY_KEY_REUSED");
        assert_eq!(d, json!({ "idempotency_key": "order-7f3a" }));
    }
    // One more byte (white space the JSON parser would ignore) is another body too.
    let mut spaced = body.to_string().into_bytes();
    spaced.push(b' ');
    let r = post_bytes(&s, SLIDESHOW, key, "order-7f3a", "application/json", spaced).await;
    assert_error(&r, 400, "IDEMPOTENCY_KEY_REUSED");

    // Another API key of the same account has keys of its own.
    let second = s.create_key(&a.id, "live", &["--name", "second"]).await;
    let r = post_keyed(&s, SLIDESHOW, &second.key, "order-7f3a", &body).await;
    assert_eq!(r.status, 202, "{}", r.json);
    assert_ne!(r.json["task_id"], task.as_str());
    assert_eq!(ledger(&s, key).await, (90, 2));

    // A refusal is an answer too: replayed, and the key stays bound to that body.
    let mut short = body.clone();
    short["script"] = json!(script(100));
    let refused = post_keyed(&s, SLIDESHOW, key, "order-short", &short).await;
    assert_error(&refused, 400, "SCRIPT_TOO_SHORT");
    let again = post_keyed(&s, SLIDESHOW, key, "order-short", &short).await;
    assert_replay(&refused, &again);
    let r = post_keyed(&s, SLIDESHOW, key, "order-short", &body).await;
    assert_error(&r, 400, "IDEMPOTENCY_KEY_REUSED");

    // A malformed key is refused before anything runs, naming the header.
    let long = "k".repeat(256);
    for bad in ["", long.as_str(), "tab\there", "caf\u{e9}"] {
        let rb = s
            .request(Method::POST, SLIDESHOW)
            .bearer_auth(key)
            .header("content-type", "application/json")
            .header(
                "idempotency-key",
                reqwest::header::HeaderValue::from_bytes(bad.as_bytes()).unwrap(),
            )
            .body(body.to_string());
        let r = s.send(rb).await;
        let errors = assert_validation(&r, &[]);
        assert_eq!(fields(&errors), vec!["Idempotency-Key"], "{bad:?}");
    }
    // The key is checked after the API key: no key, no idempotency.
    let r = post_keyed(&s, SLIDESHOW, "vpk_live_nope", "order-7f3a", &body).await;
    assert_error(&r, 401, "INVALID_API_KEY");

    assert_eq!(ledger(&s, key).await, (90, 2));
    assert_eq!(s.assert_ledger_consistent(&a).await, 90);
    assert!(!s.log().contains("server-side failure"), "{}", s.log());
}

#[tokio::test]
async fn every_creating_route_replays_and_creates_once() {
    let s = Server::start().await;
    let a = s.account("Max", 100).await;
    let key = &a.live.key;

    // The legacy slideshow and living property routes: one task each, charged once.
    for (path, body) in [(LEGACY, s.legacy(6, 300)), (LIVING, s.living(3))] {
        let first = post_keyed(&s, path, key, path, &body).await;
        assert_eq!(first.status, 202, "{path}: {}", first.json);
        assert_replay(&first, &post_keyed(&s, path, key, path, &body).await);
    }
    assert_eq!(task_ids(&s, key).await.len(), 2);
    assert_eq!(ledger(&s, key).await, (100 - 5 - 6, 2));

    // A custom voice: one row, one id.
    let voice = json!({ "name": "Calm", "base_voice_id": VOICE, "language": "en", "rate": 0.9 });
    let first = post_keyed(&s, "/v1/voices", key, "voice-1", &voice).await;
    assert_eq!(first.status, 201, "{}", first.json);
    assert_replay(
        &first,
        &post_keyed(&s, "/v1/voices", key, "voice-1", &voice).await,
    );
    let custom = |acct: &str| format!("SELECT COUNT(*) FROM voices WHERE account_id = '{acct}'");
    assert_eq!(s.sql(&custom(&a.id)).await, "1");

    // A custom avatar (its image is fetched once).
    let avatar = json!({ "name": "Ann", "image_url": s.image_url(3) });
    let first = post_keyed(&s, "/v1/avatars", key, "avatar-1", &avatar).await;
    assert_eq!(first.status, 201, "{}", first.json);
    assert_replay(
        &first,
        &post_keyed(&s, "/v1/avatars", key, "avatar-1", &avatar).await,
    );
    let avatars = format!("SELECT COUNT(*) FROM avatars WHERE account_id = '{}'", a.id);
    assert_eq!(s.sql(&avatars).await, "1");

    // An upload, raw and multipart: the body is hashed as it streams to the handler.
    let photo = landscape_jpeg();
    let first = post_bytes(&s, UPLOADS, key, "up-1", "image/jpeg", photo.clone()).await;
    assert_eq!(first.status, 201, "{}", first.json);
    let again = post_bytes(&s, UPLOADS, key, "up-1", "image/jpeg", photo.clone()).await;
    assert_replay(&first, &again);
    let mut other = photo.clone();
    other.truncate(photo.len() - 1);
    let r = post_bytes(&s, UPLOADS, key, "up-1", "image/jpeg", other).await;
    assert_error(&r, 400, "IDEMPOTENCY_KEY_REUSED");
    let (ct, form) = multipart_file(&photo);
    let first = post_bytes(&s, UPLOADS, key, "up-2", &ct, form.clone()).await;
    assert_eq!(first.status, 201, "{}", first.json);
    assert_replay(
        &first,
        &post_bytes(&s, UPLOADS, key, "up-2", &ct, form).await,
    );
    assert_eq!(s.sql("SELECT COUNT(*) FROM uploads").await, "2");

    // Without the header nothing changes: two requests, two voices.
    for _ in 0..2 {
        assert_eq!(s.post("/v1/voices", key, &voice).await.status, 201);
    }
    assert_eq!(s.sql(&custom(&a.id)).await, "3");
    assert_eq!(s.assert_ledger_consistent(&a).await, 89);
}

fn multipart_file(bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "idem-boundary-4c1e";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Image-server paths of the six photos `slow_slideshow` uses for `delay`.
fn slow_paths(delay: Duration) -> Vec<String> {
    (0..6)
        .map(|i| format!("/slow-{}/{i}.jpg", delay.as_millis()))
        .collect()
}

/// Serve the listing photo at `paths`, after `delay` when there is one.
fn serve_photo(site: &Site, paths: &[String], delay: Option<Duration>) {
    let photo = bytes::Bytes::from(landscape_jpeg());
    for path in paths {
        let reply = Reply::Full {
            status: 200,
            content_type: "image/jpeg",
            body: photo.clone(),
        };
        let reply = match delay {
            Some(d) => Reply::Delayed(d, Box::new(reply)),
            None => reply,
        };
        site.images().route(path, reply);
    }
}

/// A valid slideshow whose photos the image server answers only after `delay`.
fn slow_slideshow(site: &Site, delay: Duration) -> Value {
    let paths = slow_paths(delay);
    serve_photo(site, &paths, Some(delay));
    let mut body = site.slideshow(6);
    body["images"] = json!(paths
        .iter()
        .map(|p| site.images().url(p))
        .collect::<Vec<_>>());
    body
}

/// Twenty identical requests at once: one creates, the others get its answer or 409.
fn burst_is_one_creation(answers: &[Resp]) -> String {
    let created: Vec<&Resp> = answers
        .iter()
        .filter(|r| r.status == 202 && r.header("idempotent-replayed").is_none())
        .collect();
    assert_eq!(
        created.len(),
        1,
        "{:?}",
        answers
            .iter()
            .map(|r| (r.status, &r.json))
            .collect::<Vec<_>>()
    );
    let first = created[0];
    for r in answers {
        if std::ptr::eq(r, first) {
            continue;
        }
        match r.status {
            202 => assert_eq!(r.bytes, first.bytes, "a replay is the first answer"),
            409 => {
                let d = assert_error(r, 409, "IDEMPOTENCY_REQUEST_IN_PROGRESS");
                assert_eq!(d, json!({ "idempotency_key": "burst" }));
                assert_eq!(r.header("retry-after"), Some("2"));
            }
            other => panic!("unexpected {other}: {}", r.json),
        }
    }
    first.json["task_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn simultaneous_repeats_create_one_task_and_a_running_one_answers_409() {
    let s = Server::start().await;
    let a = s.account("Max", 100).await;
    let key = &a.live.key;
    let body = s.slideshow(6);
    let answers =
        futures::future::join_all((0..20).map(|_| post_keyed(&s, SLIDESHOW, key, "burst", &body)))
            .await;
    let task = burst_is_one_creation(&answers);
    assert_eq!(task_ids(&s, key).await, vec![task]);
    assert_eq!(ledger(&s, key).await, (95, 1));

    // A creation whose photos take seconds to fetch: a repeat meanwhile is told to wait.
    let images = s.images();
    let slow_body = slow_slideshow(&s, Duration::from_secs(4));
    let before = images.state.requests.load(Ordering::SeqCst);
    let running = post_keyed(&s, SLIDESHOW, key, "slow", &slow_body);
    let probe = async {
        // The first request is fetching (so it holds the key) once the server sees it.
        while images.state.requests.load(Ordering::SeqCst) == before {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        post_keyed(&s, SLIDESHOW, key, "slow", &slow_body).await
    };
    let (first, busy) = tokio::join!(running, probe);
    assert_eq!(first.status, 202, "{}", first.json);
    let d = assert_error(&busy, 409, "IDEMPOTENCY_REQUEST_IN_PROGRESS");
    assert_eq!(d, json!({ "idempotency_key": "slow" }));
    assert_eq!(busy.header("retry-after"), Some("2"));
    assert_replay(
        &first,
        &post_keyed(&s, SLIDESHOW, key, "slow", &slow_body).await,
    );
    assert_eq!(ledger(&s, key).await, (90, 2));
    assert_eq!(s.assert_ledger_consistent(&a).await, 90);
}

#[tokio::test]
async fn retryable_answers_are_not_recorded() {
    let s = Server::start().await;
    let a = s.account("Plus", 100).await;
    let key = &a.live.key;

    // 5xx: the storage cannot take the upload (its folder is a file), then it can.
    let media = s.data_dir().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let blocker = media.join("uploads");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let photo = landscape_jpeg();
    let r = post_bytes(&s, UPLOADS, key, "up-5xx", "image/jpeg", photo.clone()).await;
    assert_error_no_details(&r, 503, "SERVICE_ERROR");
    std::fs::remove_file(&blocker).unwrap();
    let first = post_bytes(&s, UPLOADS, key, "up-5xx", "image/jpeg", photo.clone()).await;
    assert_eq!(first.status, 201, "the retry runs again: {}", first.json);
    let again = post_bytes(&s, UPLOADS, key, "up-5xx", "image/jpeg", photo).await;
    assert_replay(&first, &again);

    // 429: at the plan's concurrency limit (Plus: one task), then with the slot free.
    let body = s.slideshow(6);
    let (queued, _) = s.create(key, &body).await;
    let r = post_keyed(&s, SLIDESHOW, key, "after-429", &body).await;
    assert_error(&r, 429, "CONCURRENCY_LIMIT_EXCEEDED");
    s.sql(&format!(
        "UPDATE tasks SET status = 'completed' WHERE id = '{queued}'"
    ))
    .await;
    let r = post_keyed(&s, SLIDESHOW, key, "after-429", &body).await;
    assert_eq!(r.status, 202, "the retry runs again: {}", r.json);
    assert_eq!(ledger(&s, key).await, (90, 2));
}

#[tokio::test]
async fn keys_survive_a_restart_and_expire() {
    let site = Site::new().await;
    let first_run = site.launch(Launch::serve(0)).await;
    let a = first_run.account("Max", 100).await;
    let body = first_run.slideshow(6);
    let first = post_keyed(&first_run, SLIDESHOW, &a.test.key, "kept", &body).await;
    assert_eq!(first.status, 202, "{}", first.json);
    drop(first_run); // killed, as by a crash

    // A short lifetime, and the sweep every second (it runs beside render workers).
    let s = site
        .launch(Launch::serve(1).envs(&[
            ("PEAKREEL__IDEMPOTENCY__TTL_SECS", "2"),
            ("PEAKREEL__TASKS__RETENTION_SWEEP_SECS", "1"),
        ]))
        .await;
    // Reserved before the restart with the lifetime of that time (24 h).
    assert_replay(
        &first,
        &post_keyed(&s, SLIDESHOW, &a.test.key, "kept", &body).await,
    );

    let short = post_keyed(&s, SLIDESHOW, &a.test.key, "short", &body).await;
    assert_eq!(short.status, 202, "{}", short.json);
    let rows = "SELECT COUNT(*) FROM idempotency_keys WHERE idempotency_key = 'short'";
    let mut swept = false;
    for _ in 0..100 {
        if s.sql(rows).await == "0" {
            swept = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(swept, "the expired key was not swept");
    let later = post_keyed(&s, SLIDESHOW, &a.test.key, "short", &body).await;
    assert_eq!(later.status, 202, "{}", later.json);
    assert_eq!(later.header("idempotent-replayed"), None);
    assert_ne!(later.json["task_id"], short.json["task_id"]);
    // The key reserved before the restart is still there.
    assert_eq!(
        s.sql("SELECT COUNT(*) FROM idempotency_keys WHERE idempotency_key = 'kept'")
            .await,
        "1"
    );
}

/// Two `peakreel api` processes on one PostgreSQL database: the reservation is a row, so
/// twenty simultaneous repeats spread over both still make one task and one charge.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_api_processes_on_postgres_create_once() {
    let pg = Postgres::shared();
    let site = Site::on_database(&pg.fresh_database()).await;
    let apis = [
        site.launch(Launch::api()).await,
        site.launch(Launch::api()).await,
    ];
    let a = apis[0].account("Max", 100).await;
    let body = apis[0].slideshow(6);
    let answers = futures::future::join_all(
        (0..20).map(|i| post_keyed(&apis[i % 2], SLIDESHOW, &a.live.key, "burst", &body)),
    )
    .await;
    let task = burst_is_one_creation(&answers);
    for api in &apis {
        let again = post_keyed(api, SLIDESHOW, &a.live.key, "burst", &body).await;
        assert_eq!(again.status, 202);
        assert_eq!(again.json["task_id"], task.as_str());
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(task_ids(api, &a.live.key).await, vec![task.clone()]);
        assert_eq!(ledger(api, &a.live.key).await, (95, 1));
    }
}

/// A process killed while it holds a key (its creation fetching photos) leaves an
/// unanswered reservation: repeats get 409 until it is `stale_after_secs` old, then the
/// next one runs the creation, which is charged once.
#[tokio::test]
async fn a_key_held_by_a_crashed_process_is_taken_over() {
    let site = Site::new().await;
    let mut crashed = site.launch(Launch::serve(0)).await;
    let a = crashed.account("Max", 100).await;
    let body = slow_slideshow(&site, Duration::from_secs(30));
    let images = site.images();
    let before = images.state.requests.load(Ordering::SeqCst);
    let pending = tokio::spawn(
        crashed
            .request(Method::POST, SLIDESHOW)
            .bearer_auth(&a.live.key)
            .header("content-type", "application/json")
            .header("idempotency-key", "cut-short")
            .body(body.to_string())
            .send(),
    );
    while images.state.requests.load(Ordering::SeqCst) == before {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    crashed.kill9();
    assert!(
        pending.await.unwrap().is_err(),
        "the client lost its answer"
    );

    // The photos answer at once from now on, so the retry that takes over is quick.
    serve_photo(&site, &slow_paths(Duration::from_secs(30)), None);
    let s = site
        .launch(Launch::serve(0).env("PEAKREEL__IDEMPOTENCY__STALE_AFTER_SECS", "3"))
        .await;
    let mut other = body.clone();
    other["images"] = json!(s.image_urls(6));
    let mut waited = 0;
    let created = loop {
        let r = post_keyed(&s, SLIDESHOW, &a.live.key, "cut-short", &body).await;
        if r.status != 409 {
            break r;
        }
        assert_error(&r, 409, "IDEMPOTENCY_REQUEST_IN_PROGRESS");
        waited += 1;
        assert!(waited < 60, "the reservation was never taken over");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(created.status, 202, "{}", created.json);
    assert_eq!(created.header("idempotent-replayed"), None);
    assert_eq!(ledger(&s, &a.live.key).await, (95, 1));
    let r = post_keyed(&s, SLIDESHOW, &a.live.key, "cut-short", &other).await;
    assert_error(&r, 400, "IDEMPOTENCY_KEY_REUSED");
    assert!(s.log().contains("taken over"), "{}", s.log());
}
