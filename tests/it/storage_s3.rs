//! `--storage s3://BUCKET/PREFIX` against a real S3-compatible server (moto, started by
//! each test on a free port, a fresh bucket per test): what a task, an avatar and a voice
//! store lands in the bucket and nowhere else; results download through presigned URLs
//! or, proxied, through `/v1/files` streamed from the bucket, with ranges; a store that is
//! unreachable stops the start and fails `/health`. The bucket is read with boto3, a
//! client independent of the code under test.

use crate::support::{assert_error, Launch, Proc, Site, VOICE};
use crate::worker_support::{assert_jpeg, assert_mp4};
use peakreel_testkit::s3::S3Server;
use serde_json::{json, Value};
use std::time::Duration;

const RENDER_LIMIT: Duration = Duration::from_secs(360);

/// `launch` storing into `s3://{bucket}/{prefix}` on `server`, rendering at the test
/// profile (640×360) to spare the shared CPU.
pub(crate) fn on_s3(launch: Launch, server: &S3Server, bucket: &str, prefix: &str) -> Launch {
    let env = server.env();
    let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    launch
        .envs(&vars)
        .env("PEAKREEL_STORAGE", &format!("s3://{bucket}/{prefix}"))
        .env("PEAKREEL_RENDER_PROFILE", "test")
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// The keys under `prefix` in the bucket.
async fn keys(server: &S3Server, bucket: &str, prefix: &str) -> Vec<String> {
    server
        .objects(bucket, prefix)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

/// Nothing was written to the data directory's own media folder: another process could
/// not have read it.
fn assert_no_local_media(c: &Site) {
    let media = c.data_dir().join("media");
    assert!(
        !media.exists(),
        "{} exists with S3 storage",
        media.display()
    );
}

/// A live render, an avatar and a voice on S3 storage with presigned downloads: every
/// file is in the bucket under the prefix, the links are the bucket's presigned URLs, and
/// the MP4 downloads whole and by range and probes as valid.
#[tokio::test]
async fn s3_live_render_avatar_and_preview_land_in_the_bucket() {
    let s3 = S3Server::start().await;
    let bucket = s3.create_bucket().await;
    let c = Site::new().await;
    let acct = c.account("Max", 100).await;
    let key = acct.live.key.clone();
    let p = c
        .launch(on_s3(Launch::serve(1), &s3, &bucket, "reels/eu"))
        .await;
    let (id, created) = p.create(&key, &c.shortest_slideshow()).await;
    assert_eq!(created["credits_charged"], 5, "{created}");
    // The inputs were stored at creation, before any worker ran.
    let inputs = keys(&s3, &bucket, &format!("reels/eu/tasks/{id}/input/")).await;
    assert_eq!(inputs.len(), 6, "{inputs:?}");

    // While it renders: a custom avatar and a custom voice (its preview is made at once).
    let r = p
        .post(
            "/v1/avatars",
            &key,
            &json!({ "name": "Ann", "image_url": c.image_url(0) }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let avatar_id = s(&r.json["avatar_id"]).to_string();
    let avatar = c.get_url(s(&r.json["image_url"]), None).await;
    assert_eq!(
        avatar.status,
        200,
        "{}",
        String::from_utf8_lossy(&avatar.bytes)
    );
    assert!(avatar.bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    let avatar_key = format!("reels/eu/avatars/{}/{avatar_id}.png", acct.id);
    assert_eq!(s3.object(&bucket, &avatar_key).await, avatar.bytes);

    let r = p
        .post(
            "/v1/voices",
            &key,
            &json!({ "name": "Calm", "base_voice_id": VOICE, "language": "en" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let voice_id = s(&r.json["voice_id"]).to_string();
    let preview_url = s(&r.json["preview_url"]).to_string();
    assert!(
        preview_url.starts_with(&format!(
            "{}/{bucket}/reels/eu/voices/{voice_id}/preview.wav?",
            s3.endpoint()
        )),
        "{preview_url}"
    );
    let preview = c.get_url(&preview_url, None).await;
    assert_eq!(preview.status, 200);
    assert!(preview.bytes.starts_with(b"RIFF"), "not a WAV");
    assert!(
        preview.bytes.len() > 10_000,
        "{} bytes",
        preview.bytes.len()
    );

    let t = p.wait_done(&key, &id, RENDER_LIMIT).await;
    assert_eq!(t["status"], "completed", "{t}\n{}", c.logs());
    let result = &t["result"];
    let video_url = s(&result["video_url"]);
    let video_key = format!("reels/eu/tasks/{id}/output/1/video.mp4");
    assert!(
        video_url.starts_with(&format!("{}/{bucket}/{video_key}?", s3.endpoint()))
            && video_url.contains("X-Amz-Signature="),
        "not a presigned URL of the bucket: {video_url}"
    );

    let video = c.get_url(video_url, None).await;
    assert_eq!(
        video.status,
        200,
        "{}",
        String::from_utf8_lossy(&video.bytes)
    );
    let probed = assert_mp4(&video.bytes, 640, 360, c.data_dir()).await;
    let duration = result["duration_seconds"].as_f64().expect("duration");
    assert!((probed - duration).abs() <= 0.5, "{probed} vs {duration}");
    let part = c.get_url(video_url, Some("bytes=100-1099")).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.bytes, video.bytes[100..1100]);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 100-1099/{}", video.bytes.len()).as_str())
    );
    let cover = c.get_url(s(&result["cover_image_url"]), None).await;
    assert_eq!(cover.status, 200);
    assert_jpeg(&cover.bytes, 640, 360, c.data_dir()).await;

    // In the bucket, as the API said: the same bytes, and the cover beside the video.
    let objects = s3
        .objects(&bucket, &format!("reels/eu/tasks/{id}/output/"))
        .await;
    let caption_size = |name: &str| {
        let key = format!("reels/eu/tasks/{id}/output/1/{name}");
        objects
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, size)| *size)
            .filter(|size| *size > 0)
            .unwrap_or_else(|| panic!("{key} missing or empty: {objects:?}"))
    };
    assert_eq!(
        objects,
        vec![
            (
                format!("reels/eu/tasks/{id}/output/1/captions.srt"),
                caption_size("captions.srt")
            ),
            (
                format!("reels/eu/tasks/{id}/output/1/captions.vtt"),
                caption_size("captions.vtt")
            ),
            (
                format!("reels/eu/tasks/{id}/output/1/cover.jpg"),
                cover.bytes.len() as u64
            ),
            (video_key.clone(), video.bytes.len() as u64),
        ]
    );
    assert_eq!(s3.object(&bucket, &video_key).await, video.bytes);
    // The public catalogue's avatars were seeded into the bucket too.
    assert_eq!(
        keys(&s3, &bucket, "reels/eu/avatars/public/").await.len(),
        crate::support::PUBLIC_AVATARS.len()
    );
    // Nothing outside the prefix.
    let all = keys(&s3, &bucket, "").await;
    assert!(all.iter().all(|k| k.starts_with("reels/eu/")), "{all:?}");
    assert_no_local_media(&c);
    assert_eq!(c.ledger_of(&id).await, "charge|-5");
}

/// Proxied downloads (`file_downloads = "proxied"`): links point at this API, which
/// streams the bucket's object with single ranges (206 + Content-Range, 416); the
/// test-mode sample is rendered into the bucket and shared from there.
#[tokio::test]
async fn s3_proxied_downloads_stream_from_the_bucket() {
    let s3 = S3Server::start().await;
    let bucket = s3.create_bucket().await;
    let c = Site::new().await;
    let acct = c.account("Max", 100).await;
    let key = acct.test.key.clone();
    let p = c
        .launch(
            on_s3(Launch::serve(1), &s3, &bucket, "proxied")
                .env("PEAKREEL__FILE_DOWNLOADS", "proxied"),
        )
        .await;
    let (id, _) = p.create(&key, &c.shortest_slideshow()).await;
    let t = p.wait_done(&key, &id, RENDER_LIMIT).await;
    assert_eq!(t["status"], "completed", "{t}\n{}", c.logs());
    let video_url = s(&t["result"]["video_url"]);
    assert!(
        video_url.starts_with(&format!("{}/v1/files/samples/", p.base())),
        "{video_url}"
    );

    // The sample lives in the bucket; the API serves exactly its bytes.
    let sample_keys = keys(&s3, &bucket, "proxied/samples/").await;
    let video_key = sample_keys
        .iter()
        .find(|k| k.ends_with("/video.mp4"))
        .unwrap_or_else(|| panic!("no sample video in the bucket: {sample_keys:?}"));
    assert!(sample_keys.iter().any(|k| k.ends_with("/meta.json")));
    let stored = s3.object(&bucket, video_key).await;
    let video = c.get_url(video_url, None).await;
    assert_eq!(video.status, 200, "{}", video.json);
    assert_eq!(video.header("content-type"), Some("video/mp4"));
    assert_eq!(video.header("accept-ranges"), Some("bytes"));
    assert_eq!(
        video.header("content-length"),
        Some(stored.len().to_string().as_str())
    );
    assert_eq!(video.bytes, stored);
    // The sample is rendered at the test profile whatever the task asked.
    assert_mp4(&video.bytes, 640, 360, c.data_dir()).await;

    let size = stored.len();
    for (range, first, last) in [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-", 1000, size - 1),
        ("bytes=-500", size - 500, size - 1),
        (
            &*format!("bytes={}-{}", size - 10, size + 100),
            size - 10,
            size - 1,
        ),
    ] {
        let part = c.get_url(video_url, Some(range)).await;
        assert_eq!(part.status, 206, "{range}");
        assert_eq!(part.bytes, stored[first..=last], "{range}");
        assert_eq!(
            part.header("content-range"),
            Some(format!("bytes {first}-{last}/{size}").as_str()),
            "{range}"
        );
    }
    for unsatisfiable in [format!("bytes={size}-"), "bytes=50-10".to_string()] {
        let r = c.get_url(video_url, Some(&unsatisfiable)).await;
        assert_eq!(r.status, 416, "{unsatisfiable}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes */{size}").as_str())
        );
    }
    // The link's signature still guards the bucket.
    let tampered = video_url.replace("signature=", "signature=0");
    assert_error(&c.get_url(&tampered, None).await, 403, "FORBIDDEN");
    // An object gone from the bucket under a valid link: 404 NOT_FOUND.
    s3.delete_object(&bucket, video_key).await;
    assert_error(&c.get_url(video_url, None).await, 404, "NOT_FOUND");
    assert_no_local_media(&c);
}

/// A bucket that cannot be used at start: the process says which storage and why, and
/// exits non-zero. Both a store that does not answer and a bucket that does not exist.
#[tokio::test]
async fn s3_unusable_at_start_stops_the_process() {
    let mut s3 = S3Server::start().await;
    let bucket = s3.create_bucket().await;
    let c = Site::new().await;

    let (code, log) = c
        .launch_fails(
            on_s3(Launch::serve(0), &s3, "no-such-bucket", "x"),
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(code, 1);
    assert!(
        log.contains("storage s3://no-such-bucket/x cannot be used")
            && log.contains("NoSuchBucket"),
        "{log}"
    );

    s3.stop();
    let (code, log) = c
        .launch_fails(
            on_s3(Launch::api(), &s3, &bucket, "x"),
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(code, 1);
    assert!(
        log.contains(&format!("storage s3://{bucket}/x cannot be used"))
            && log.contains("Connection refused"),
        "{log}"
    );
}

async fn health(p: &Proc) -> (u16, Value) {
    let r = p.get("/health", None).await;
    (r.status, r.json)
}

/// `/health` names storage as failing while the S3 server is down, and recovers when it
/// is back.
#[tokio::test]
async fn s3_health_fails_while_the_store_is_down() {
    let mut s3 = S3Server::start().await;
    let bucket = s3.create_bucket().await;
    let c = Site::new().await;
    let p = c.launch(on_s3(Launch::serve(0), &s3, &bucket, "h")).await;
    let (status, body) = health(&p).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["storage"], "ok");

    s3.stop();
    // The storage check is cached for a second: wait it out.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = health(&p).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["storage"], "failing");
    assert_eq!(body["checks"]["database"], "ok");

    s3.restart().await;
    s3.create_bucket_named(&bucket).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = health(&p).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["storage"], "ok");
}

/// `peakreel api` and `peakreel worker` with separate data directories (one database
/// file, named by `--database-url`, and one bucket): the worker renders from the inputs
/// the API stored, and the API hands out links to what the worker stored. Neither data
/// directory gets a `media/` folder.
#[tokio::test]
async fn s3_api_and_worker_with_separate_data_directories() {
    let s3 = S3Server::start().await;
    let bucket = s3.create_bucket().await;
    let front = Site::new().await;
    let back = Site::new().await;
    let acct = front.account("Max", 100).await;
    let key = acct.live.key.clone();
    let api = front
        .launch(on_s3(Launch::api(), &s3, &bucket, "shared"))
        .await;
    let database = format!("sqlite://{}", front.db_path().display());
    let _worker = back
        .launch(
            on_s3(Launch::worker(1), &s3, &bucket, "shared")
                .env("PEAKREEL_DATABASE_URL", &database),
        )
        .await;

    let (id, _) = api.create(&key, &front.shortest_slideshow()).await;
    let t = api.wait_done(&key, &id, RENDER_LIMIT).await;
    assert_eq!(
        t["status"],
        "completed",
        "{t}\n{}\n{}",
        front.logs(),
        back.logs()
    );
    assert!(
        back.logs().contains(&id),
        "the worker process rendered {id}: {}",
        back.logs()
    );
    let video = front.get_url(s(&t["result"]["video_url"]), None).await;
    assert_eq!(video.status, 200);
    assert_mp4(&video.bytes, 640, 360, front.data_dir()).await;
    assert_eq!(
        s3.object(&bucket, &format!("shared/tasks/{id}/output/1/video.mp4"))
            .await,
        video.bytes
    );
    assert_no_local_media(&front);
    assert_no_local_media(&back);
}

/// The console's Content-Security-Policy lets media and images load from the bucket
/// when result links are its presigned URLs, and from this origin only when they are
/// proxied; scripts and fetches stay on this origin either way.
#[tokio::test]
async fn s3_console_policy_admits_the_bucket_only_for_presigned_links() {
    let s3 = S3Server::start().await;
    let bucket = s3.create_bucket().await;
    let c = Site::new().await;
    let presigned = c.launch(on_s3(Launch::api(), &s3, &bucket, "csp")).await;
    let proxied = c
        .launch(
            on_s3(Launch::api(), &s3, &bucket, "csp").env("PEAKREEL__FILE_DOWNLOADS", "proxied"),
        )
        .await;
    let csp_of = |r: &crate::support::Resp| {
        assert_eq!(r.status, 200);
        r.header("content-security-policy")
            .expect("CSP header")
            .to_string()
    };
    let endpoint = s3.endpoint();
    for path in ["/console", "/console/console.js"] {
        let csp = csp_of(&presigned.get(path, None).await);
        assert!(
            csp.contains(&format!("media-src 'self' blob: {endpoint};"))
                && csp.contains(&format!("img-src 'self' blob: {endpoint};")),
            "{path}: {csp}"
        );
        assert!(
            csp.contains("connect-src 'self';") && csp.contains("script-src 'self';"),
            "{csp}"
        );
        let csp = csp_of(&proxied.get(path, None).await);
        assert!(
            csp.contains("media-src 'self' blob:;") && !csp.contains(&endpoint),
            "{path}: {csp}"
        );
    }
}
