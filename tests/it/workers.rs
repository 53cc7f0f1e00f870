//! Render workers, end to end (api.md §2, §6, §7; errors.md task-level codes; design.md
//! principles 3, 4, 9): real renders by `peakreel serve --workers N` and `peakreel worker`
//! processes sharing one data directory, crashed (SIGKILL), frozen (SIGSTOP), stopped
//! (SIGTERM) and restarted, with the money checked in the ledger after every ending.
//!
//! Live renders are the slow part (20–40 s each here), so each test renders at most one
//! task to completion and several scenarios share it.

use crate::support::{
    assert_error, is_timestamp, now_timestamp, unix_now, Acct, Launch, Proc, Site, PUBLIC_AVATARS,
};
use crate::worker_support::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Generous: a live render takes 20–40 s on a quiet 2-core machine, and the suite runs
/// two tests at a time.
const RENDER_LIMIT: Duration = Duration::from_secs(360);

const LEASE_3S: (&str, &str) = ("PEAKREEL__TASKS__LEASE_SECS", "3");

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// The shape of a `processing` task (api.md §6); returns `(progress, stage)`.
#[track_caller]
fn assert_processing(t: &Value) -> (u64, String) {
    assert_eq!(t["status"], "processing", "{t}");
    assert!(is_timestamp(s(&t["started_at"])), "started_at: {t}");
    let progress = t["progress"]
        .as_u64()
        .unwrap_or_else(|| panic!("progress: {t}"));
    assert!(progress <= 100, "{t}");
    let stage = s(&t["stage"]).to_string();
    assert!(STAGES.contains(&stage.as_str()), "stage {stage:?}: {t}");
    for absent in ["result", "error", "completed_at", "queue_position"] {
        assert!(t.get(absent).is_none(), "{absent} while processing: {t}");
    }
    (progress, stage)
}

/// Poll until the task is `processing` (checking the `queued` shape on the way).
async fn wait_processing(api: &Proc, key: &str, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let t = api.task(key, id).await;
        match s(&t["status"]) {
            "queued" => {
                assert!(t["queue_position"].as_u64().unwrap_or(0) >= 1, "{t}");
                assert!(is_timestamp(s(&t["estimated_completion"])), "{t}");
            }
            "processing" => {
                assert_processing(&t);
                return t;
            }
            _ => panic!("task ended before it was seen processing: {t}"),
        }
        assert!(start.elapsed() < RENDER_LIMIT, "never processing: {t}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// A completed live task seen over HTTP: the result's shape (api.md §6), the MP4 and the
/// cover through their signed URLs with no key (§7). Returns the video bytes.
async fn assert_completed_live(c: &Site, api: &Proc, acct: &Acct, id: &str) -> Vec<u8> {
    let t = api.task(&acct.live.key, id).await;
    assert_eq!(t["status"], "completed", "{t}");
    assert_eq!(t["livemode"], true);
    assert_eq!(t["type"], "narrated_slideshow");
    for field in ["created_at", "started_at", "completed_at"] {
        assert!(is_timestamp(s(&t[field])), "{field}: {t}");
    }
    assert!(s(&t["started_at"]) <= s(&t["completed_at"]), "{t}");
    for absent in ["error", "progress", "stage", "queue_position"] {
        assert!(t.get(absent).is_none(), "{absent} on a completed task: {t}");
    }
    let r = &t["result"];
    let mut keys: Vec<&str> = r
        .as_object()
        .expect("result")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "captions",
            "cover_image_url",
            "duration_seconds",
            "expires_at",
            "height",
            "resolution",
            "video_url",
            "width"
        ],
        "{r}"
    );
    assert_eq!(r["resolution"], "1080p");
    assert_eq!(
        (r["width"].as_u64(), r["height"].as_u64()),
        (Some(1920), Some(1080))
    );
    // Retention: completion + 7 days (api.md §6).
    let expires = s(&r["expires_at"]);
    assert!(is_timestamp(expires), "{r}");
    let six_days = time::OffsetDateTime::now_utc() + time::Duration::days(6);
    let six_days = six_days
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap();
    assert!(expires > six_days.as_str(), "expires_at {expires}");
    let duration = r["duration_seconds"].as_f64().expect("duration_seconds");
    assert!(duration > 5.0, "{r}");

    let video = c.get_url(s(&r["video_url"]), None).await;
    assert_eq!(video.status, 200, "video download: {}", video.json);
    let probed = assert_mp4(&video.bytes, 1920, 1080, c.data_dir()).await;
    assert!(
        (probed - duration).abs() <= 0.5,
        "duration_seconds {duration} vs the file's {probed}"
    );
    let cover = c.get_url(s(&r["cover_image_url"]), None).await;
    assert_eq!(cover.status, 200, "cover download: {}", cover.json);
    assert_jpeg(&cover.bytes, 1920, 1080, c.data_dir()).await;
    video.bytes
}

/// A live task ended well: exactly one charge of 5, no refund (api.md §2).
async fn assert_charged_once(c: &Site, api: &Proc, acct: &Acct, id: &str) {
    assert_eq!(c.ledger_of(id).await, "charge|-5", "ledger of {id}");
    let a = api.account_view(acct).await;
    assert_eq!(a["credits"], 95, "{a}");
    assert_eq!(a["in_flight"], json!({ "live": 0, "test": 0 }), "{a}");
}

/// 1 (and 7, default grace). Create → queued → processing with progress and stage →
/// SIGTERM mid-render: the process stops taking requests but lets the render finish,
/// then exits 0. A fresh API process on the same data directory then serves the result:
/// the MP4 and cover by signed URL with no key, a Range request, a tampered signature.
#[tokio::test]
async fn workers_live_render_end_to_end_survives_sigterm() {
    let c = Site::new().await;
    let acct = c.account("Max", 100).await;
    let mut p = c.launch(Launch::serve(1)).await;
    let key = acct.live.key.clone();

    let (id, created) = p.create(&key, &c.shortest_slideshow()).await;
    assert_eq!(created["status"], "queued", "{created}");
    assert_eq!(created["livemode"], true);
    assert_eq!(created["credits_charged"], 5);

    // Watch it work: started_at fixed, progress never backwards, known stages only.
    let start = Instant::now();
    let mut stages = BTreeSet::new();
    let mut last_progress = 0;
    let mut started_at: Option<String> = None;
    loop {
        let t = p.task(&key, &id).await;
        match s(&t["status"]) {
            "queued" => assert!(started_at.is_none(), "back to queued: {t}"),
            "processing" => {
                let (progress, stage) = assert_processing(&t);
                let at = s(&t["started_at"]).to_string();
                assert_eq!(
                    started_at.get_or_insert(at.clone()),
                    &at,
                    "started_at moved"
                );
                assert!(progress >= last_progress, "progress went back: {t}");
                last_progress = progress;
                stages.insert(stage.clone());
                // Late in the encoding: SIGTERM interrupts real work, and what is left
                // fits the default 60 s grace even on a loaded machine.
                if progress >= 80 {
                    break;
                }
            }
            _ => panic!("the render ended before SIGTERM could interrupt it: {t}"),
        }
        assert!(start.elapsed() < RENDER_LIMIT, "stuck: {t}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(last_progress > 0, "progress never moved; stages {stages:?}");

    // SIGTERM to the server only (not its ffmpeg): it must wait for the render.
    p.signal("TERM");
    let status = p.wait_exit(RENDER_LIMIT).await;
    assert_eq!(status.code(), Some(0), "exit status; log:\n{}", p.log());
    assert_eq!(
        c.sql(&format!("SELECT status FROM tasks WHERE id = '{id}'"))
            .await,
        "completed",
        "the render should finish within the default grace before the process exits \
         (a release here means it needed more than 60 s after SIGTERM); log:\n{}",
        p.log()
    );
    assert!(p.log().contains("shutting down"), "{}", p.log());
    assert_eq!(c.render_job(&id).await, "1|done");

    let api = c.launch(Launch::serve(0)).await;
    let t = api.task(&key, &id).await;
    assert_eq!(Some(s(&t["started_at"])), started_at.as_deref(), "{t}");
    let video = assert_completed_live(&c, &api, &acct, &id).await;
    let video_url = s(&t["result"]["video_url"]).to_string();

    // A byte range of the same file.
    let part = c.get_url(&video_url, Some("bytes=0-99")).await;
    assert_eq!(part.status, 206, "{:?}", part.headers);
    assert_eq!(part.bytes, video[..100], "range body");
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 0-99/{}", video.len()).as_str())
    );

    // A tampered signature, and a changed expiry under the right signature: 403.
    let sig_at = video_url.find("signature=").expect("signature param") + "signature=".len();
    let mut tampered = video_url.clone();
    let flip = if &video_url[sig_at..sig_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    tampered.replace_range(sig_at..sig_at + 1, flip);
    let r = c.get_url(&tampered, None).await;
    assert_error(&r, 403, "FORBIDDEN");
    let exp_at = video_url.find("expires=").expect("expires param") + "expires=".len();
    let exp_end = exp_at
        + video_url[exp_at..]
            .find('&')
            .unwrap_or(video_url.len() - exp_at);
    let expires: i64 = video_url[exp_at..exp_end].parse().expect("expires");
    let mut later = video_url.clone();
    later.replace_range(exp_at..exp_end, &(expires + 60).to_string());
    let r = c.get_url(&later, None).await;
    assert_error(&r, 403, "FORBIDDEN");

    assert_charged_once(&c, &api, &acct, &id).await;
}

/// 7 (short grace) and 2. SIGTERM with a 1 s grace releases the running render (task back
/// to `queued`, the attempt handed back); a restarted server takes it, is SIGKILLed mid-
/// render; the next start reclaims the expired lease as attempt 2 and completes it,
/// charged once, never refunded.
#[tokio::test]
async fn workers_short_grace_releases_then_crash_is_recovered() {
    let c = Site::new().await;
    let acct = c.account("Max", 100).await;
    let key = acct.live.key.clone();

    // Short grace: released.
    let mut p1 = c
        .launch(Launch::serve(1).envs(&[LEASE_3S, ("PEAKREEL__TASKS__SHUTDOWN_GRACE_SECS", "1")]))
        .await;
    let (id, _) = p1.create(&key, &c.shortest_slideshow()).await;
    wait_processing(&p1, &key, &id).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    p1.signal("TERM");
    let status = p1.wait_exit(Duration::from_secs(60)).await;
    assert_eq!(status.code(), Some(0), "log:\n{}", p1.log());
    assert!(
        p1.log().contains("released"),
        "no release logged:\n{}",
        p1.log()
    );
    assert_eq!(
        c.sql(&format!(
            "SELECT status || '|' || IFNULL(progress, '-') || '|' || IFNULL(stage, '-') FROM tasks WHERE id = '{id}'"
        ))
        .await,
        "queued|-|-"
    );
    assert_eq!(
        c.sql(&format!(
            "SELECT attempt || '|' || status || '|' || IFNULL(lease_owner, '-') FROM jobs WHERE kind = 'render' AND task_id = '{id}'"
        ))
        .await,
        "0|queued|-",
        "the release hands the attempt back"
    );
    assert_eq!(c.ledger_of(&id).await, "charge|-5");

    // Restart, then crash mid-render.
    let mut p2 = c.launch(Launch::serve(1).envs(&[LEASE_3S])).await;
    let t = p2.task(&key, &id).await;
    assert!(
        matches!(s(&t["status"]), "queued" | "processing"),
        "released task: {t}"
    );
    wait_processing(&p2, &key, &id).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(c.render_job(&id).await, "1|running");
    p2.signal_group("KILL");
    let status = p2.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    assert_eq!(
        c.sql(&format!("SELECT status FROM tasks WHERE id = '{id}'"))
            .await,
        "processing"
    );

    // The next start reclaims it once the 3 s lease has run out.
    let p3 = c.launch(Launch::serve(1).envs(&[LEASE_3S])).await;
    let t = p3.wait_done(&key, &id, RENDER_LIMIT).await;
    assert_eq!(t["status"], "completed", "{t}\nlog:\n{}", p3.log());
    assert_eq!(
        c.render_job(&id).await,
        "2|done",
        "one crashed attempt, one good"
    );
    assert_completed_live(&c, &p3, &acct, &id).await;
    assert_charged_once(&c, &p3, &acct, &id).await;
}

/// 3. A worker frozen (SIGSTOP) past its lease loses the job to a second worker, which
/// completes it as attempt 2. Thawed (SIGCONT), the first must write nothing: the
/// task's result, completion time and files stay the second worker's.
#[tokio::test]
async fn workers_lost_lease_result_is_discarded() {
    let c = Site::new().await;
    let acct = c.account("Max", 100).await;
    let key = acct.live.key.clone();
    let api = c.launch(Launch::serve(0)).await;
    let w1 = c.launch(Launch::worker(1).envs(&[LEASE_3S])).await;

    let (id, _) = api.create(&key, &c.shortest_slideshow()).await;
    wait_processing(&api, &key, &id).await;
    // Let it get into the render, then freeze it and its children.
    let start = Instant::now();
    loop {
        let t = api.task(&key, &id).await;
        let (progress, _) = assert_processing(&t);
        if progress >= 10 {
            break;
        }
        assert!(start.elapsed() < RENDER_LIMIT, "no progress: {t}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Frozen, but never in the middle of a database write (that would block everyone).
    let mut tries = 0;
    loop {
        w1.signal_group("STOP");
        if c.db_writable(1500).await {
            break;
        }
        w1.signal_group("CONT");
        tries += 1;
        assert!(tries < 20, "the first worker always holds the write lock");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(c.render_job(&id).await, "1|running");

    let w2 = c.launch(Launch::worker(1).envs(&[LEASE_3S])).await;
    let t = api.wait_done(&key, &id, RENDER_LIMIT).await;
    assert_eq!(t["status"], "completed", "{t}\nlog:\n{}", w2.log());
    assert_eq!(c.render_job(&id).await, "2|done");
    assert!(
        w2.log().contains("attempt=2"),
        "the second worker ran attempt 2:\n{}",
        w2.log()
    );
    let row_sql = format!(
        "SELECT status, completed_at, result_json, IFNULL(error_json, '-') FROM tasks WHERE id = '{id}'"
    );
    let row = c.sql(&row_sql).await;
    // The result names its files (outputs are kept per attempt).
    let video_key = c
        .sql(&format!(
            "SELECT json_extract(result_json, '$.video_key') FROM tasks WHERE id = '{id}'"
        ))
        .await;
    assert_eq!(
        video_key.trim(),
        format!("tasks/{id}/output/2/video.mp4"),
        "the winning attempt's files"
    );
    let video_path = c.data_dir().join("media").join(video_key.trim());
    let meta = std::fs::metadata(&video_path).expect("stored video");
    let video = std::fs::read(&video_path).unwrap();

    // Thaw the first worker: its late work must be discarded.
    w1.signal_group("CONT");
    let said = w1
        .wait_log(&["lease lost", "discarded"], Duration::from_secs(60))
        .await;
    eprintln!("first worker after SIGCONT: {said:?}");
    // Anything it might still write would land within a few more seconds.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(c.sql(&row_sql).await, row, "task row changed ({said})");
    assert_eq!(c.render_job(&id).await, "2|done");
    let meta2 = std::fs::metadata(&video_path).expect("stored video");
    assert_eq!(
        (meta2.len(), meta2.modified().unwrap()),
        (meta.len(), meta.modified().unwrap()),
        "the stale worker rewrote the stored video"
    );
    assert_eq!(std::fs::read(&video_path).unwrap(), video);
    assert_completed_live(&c, &api, &acct, &id).await;
    assert_charged_once(&c, &api, &acct, &id).await;
}

// ---------------------------------------------------------------------------------------
// 4. Every task-level failure is refunded in full (api.md §2, errors.md).
// ---------------------------------------------------------------------------------------

async fn insert_voice(c: &Site, id: &str, acct: &Acct, espeak: &str, expires_at: Option<i64>) {
    let expires = expires_at.map_or("NULL".to_string(), |t| t.to_string());
    c.sql(&format!(
        "INSERT INTO voices (id, account_id, mode, name, gender, accent, languages, provider, engine_json, created_at, expires_at)
         VALUES ('{id}', '{}', 'live', 'Custom', 'female', 'american', '[\"en\"]', 'local',
                 '{{\"espeak_voice\":\"{espeak}\",\"rate\":1.0,\"pitch\":0}}', strftime('%s','now'), {expires})",
        acct.id
    ))
    .await;
}

/// An input image corrupted in storage after acceptance: IMAGE_PROCESSING_FAILED
/// naming it, at the first attempt (an input's fault is never retried).
#[tokio::test]
async fn workers_refund_image_processing_failed() {
    let c = Site::new().await;
    let acct = c.account("Max", 100).await;
    let api = c.launch(Launch::serve(0)).await;
    let (id, _) = api.create(&acct.live.key, &c.shortest_slideshow()).await;
    let input = c.data_dir().join(format!("media/tasks/{id}/input/00.jpg"));
    assert!(
        input.is_file(),
        "stored input {} missing; inputs: {:?}",
        input.display(),
        std::fs::read_dir(input.parent().unwrap())
            .map(|d| d.map(|e| e.unwrap().file_name()).collect::<Vec<_>>())
    );
    std::fs::write(&input, b"this is not an image at all").unwrap();
    let _w = c.launch(Launch::worker(1)).await;
    let err = assert_failed_and_refunded(&c, &api, &acct, &id, "IMAGE_PROCESSING_FAILED").await;
    assert_eq!(err["details"]["index"], 0, "{err}");
    assert!(err["details"]["reason"].is_string(), "{err}");
    assert_eq!(
        c.render_job(&id).await,
        "1|failed",
        "the input's fault is final: no second attempt"
    );
}

/// A render over its time limit: SERVICE_TIMEOUT.
#[tokio::test]
async fn workers_refund_service_timeout() {
    let c = Site::new().await;
    let acct = c.account("Max", 100).await;
    let api = c
        .launch(Launch::serve(1).envs(&[("PEAKREEL__TASKS__RENDER_TIME_LIMIT_SECS", "1")]))
        .await;
    let (id, _) = api.create(&acct.live.key, &c.shortest_slideshow()).await;
    assert_failed_and_refunded(&c, &api, &acct, &id, "SERVICE_TIMEOUT").await;
    assert_eq!(
        c.render_job(&id).await,
        "1|failed",
        "a timeout is not retried"
    );
}

/// ffmpeg failing every time: retried (`max_attempts` 2), then SERVICE_ERROR; charged
/// once, refunded once.
#[tokio::test]
async fn workers_refund_service_error_after_retries() {
    let c = Site::new().await;
    let acct = c.account("Max", 100).await;
    let calls = c.data_dir().join("ffmpeg-calls");
    let fake = c.data_dir().join("failing-ffmpeg");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\necho call >> '{}'\necho 'fake ffmpeg: simulated failure' >&2\nexit 1\n",
            calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let fake = fake.to_str().unwrap().to_string();
    let api = c
        .launch(Launch::serve(1).envs(&[
            ("PEAKREEL__PROGRAMS__FFMPEG", fake.as_str()),
            ("PEAKREEL__TASKS__MAX_ATTEMPTS", "2"),
            ("PEAKREEL__TASKS__RETRY_BACKOFF_SECS", "1"),
        ]))
        .await;
    let (id, _) = api.create(&acct.live.key, &c.shortest_slideshow()).await;
    let err = assert_failed_and_refunded(&c, &api, &acct, &id, "SERVICE_ERROR").await;
    assert!(err.get("details").is_none(), "{err}");
    assert_eq!(
        c.render_job(&id).await,
        "2|failed",
        "retried once, then given up"
    );
    assert!(
        api.log().contains("render will be retried"),
        "{}",
        api.log()
    );
    let n = std::fs::read_to_string(&calls)
        .unwrap_or_default()
        .lines()
        .count();
    assert!(
        n >= 2,
        "the fake ffmpeg ran {n} times, expected one per attempt"
    );
}

/// A voice whose engine cannot speak (espeak-ng has no such voice, Piper is not
/// available): TTS_ERROR.
#[tokio::test]
async fn workers_refund_tts_error() {
    let c = Site::new().await;
    let acct = c.account("Max", 100).await;
    let voice = "WorkerTtsVoice000001";
    insert_voice(&c, voice, &acct, "zz-nonexistent", None).await;
    let piper = c.data_dir().join("no-such-piper");
    let api = c
        .launch(Launch::serve(1).envs(&[("PEAKREEL_PIPER_BIN", piper.to_str().unwrap())]))
        .await;
    let mut body = c.shortest_slideshow();
    body["voice"]["voice_id"] = json!(voice);
    let (id, _) = api.create(&acct.live.key, &body).await;
    assert_failed_and_refunded(&c, &api, &acct, &id, "TTS_ERROR").await;
    assert_eq!(c.render_job(&id).await, "1|failed", "not retried");
}

/// A custom voice that expires while the task waits in the queue: VOICE_EXPIRED with
/// `{voice_id, expired_at}`.
#[tokio::test]
async fn workers_refund_voice_expired_while_queued() {
    let c = Site::new().await;
    let acct = c.account("Max", 100).await;
    let voice = "WorkerExpVoice000001";
    let expires_at = unix_now() + 4;
    insert_voice(&c, voice, &acct, "en-us+f3", Some(expires_at)).await;
    let api = c.launch(Launch::serve(0)).await;
    let mut body = c.shortest_slideshow();
    body["voice"]["voice_id"] = json!(voice);
    let (id, _) = api.create(&acct.live.key, &body).await;
    while unix_now() <= expires_at {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let _w = c.launch(Launch::worker(1)).await;
    let err = assert_failed_and_refunded(&c, &api, &acct, &id, "VOICE_EXPIRED").await;
    let stamp = time::OffsetDateTime::from_unix_timestamp(expires_at)
        .unwrap()
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap();
    assert_eq!(
        err["details"],
        json!({ "voice_id": voice, "expired_at": stamp }),
        "{err}"
    );
}

/// The public avatar's image missing from storage when the render starts:
/// AVATAR_URL_ERROR. (Every start re-creates missing public avatar images, so the file
/// is removed after the worker has started, while its job is held back.)
#[tokio::test]
async fn workers_refund_avatar_url_error() {
    let c = Site::new().await;
    let acct = c.account("Max", 100).await;
    let api = c.launch(Launch::serve(0)).await;
    let avatar = PUBLIC_AVATARS[0];
    let mut body = c.shortest_slideshow();
    body["avatar_id"] = json!(avatar);
    let (id, _) = api.create(&acct.live.key, &body).await;
    let hold = format!(
        "UPDATE jobs SET run_at = {} WHERE task_id = '{id}'",
        unix_now() + 3600
    );
    c.sql(&hold).await;
    let _w = c.launch(Launch::worker(1)).await;
    let png = c
        .data_dir()
        .join(format!("media/avatars/public/{avatar}.png"));
    assert!(png.is_file(), "{} missing", png.display());
    std::fs::remove_file(&png).unwrap();
    c.sql(&format!(
        "UPDATE jobs SET run_at = 0 WHERE task_id = '{id}'"
    ))
    .await;
    let err = assert_failed_and_refunded(&c, &api, &acct, &id, "AVATAR_URL_ERROR").await;
    // errors.md: AVATAR_URL_ERROR carries `{avatar_id}`.
    assert_eq!(err["details"], json!({ "avatar_id": avatar }), "{err}");
}

// ---------------------------------------------------------------------------------------
// 5, 6. Test mode, and two worker processes on one queue.
// ---------------------------------------------------------------------------------------

/// Test keys: the shared 640×360 sample (rendered once), `livemode: false`, each
/// `test_scenario` failing with its code, and no money moving at all.
#[tokio::test]
async fn workers_test_mode_sample_and_scenarios() {
    let c = Site::new().await;
    let acct = c.account("Max", 100).await;
    let api = c.launch(Launch::serve(1)).await;
    let key = acct.test.key.clone();

    let (first, created) = api.create(&key, &c.shortest_slideshow()).await;
    assert_eq!(created["livemode"], false, "{created}");
    assert_eq!(created["credits_charged"], 0, "{created}");
    let t = api.wait_done(&key, &first, RENDER_LIMIT).await;
    assert_eq!(t["status"], "completed", "{t}");

    // With the sample rendered, a test task finishes within seconds.
    let started = Instant::now();
    let (second, _) = api.create(&key, &c.shortest_slideshow()).await;
    let t = api.wait_done(&key, &second, Duration::from_secs(30)).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "test task took {took:?}");
    assert_eq!(t["status"], "completed", "{t}");
    assert_eq!(t["livemode"], false);
    let r = &t["result"];
    assert_eq!(r["resolution"], "360p", "{r}");
    assert_eq!(
        (r["width"].as_u64(), r["height"].as_u64()),
        (Some(640), Some(360))
    );
    assert!(is_timestamp(s(&r["expires_at"])), "{r}");
    assert!(s(&r["expires_at"]) > now_timestamp().as_str(), "{r}");
    assert!(r.get("sample").is_none(), "internal field leaked: {r}");
    let video = c.get_url(s(&r["video_url"]), None).await;
    assert_eq!(video.status, 200);
    let probed = assert_mp4(&video.bytes, 640, 360, c.data_dir()).await;
    let duration = r["duration_seconds"].as_f64().expect("duration");
    assert!((probed - duration).abs() <= 0.5, "{duration} vs {probed}");
    let cover = c.get_url(s(&r["cover_image_url"]), None).await;
    assert_eq!(cover.status, 200);
    assert_jpeg(&cover.bytes, 640, 360, c.data_dir()).await;

    let mut ids = vec![first, second];
    for scenario in ["image_processing_failed", "tts_error", "service_timeout"] {
        let mut body = c.shortest_slideshow();
        body["test_scenario"] = json!(scenario);
        let (id, _) = api.create(&key, &body).await;
        let t = api.wait_done(&key, &id, Duration::from_secs(30)).await;
        assert_eq!(t["status"], "failed", "{t}");
        assert_eq!(t["livemode"], false);
        assert_eq!(t["error"]["code"], scenario.to_ascii_uppercase(), "{t}");
        assert!(s(&t["error"]["message"]).len() > 10, "{t}");
        ids.push(id);
    }

    let list = ids
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        c.sql(&format!(
            "SELECT COUNT(*) FROM credit_ledger WHERE task_id IN ({list})"
        ))
        .await,
        "0",
        "test tasks never touch the ledger"
    );
    let a = api.account_view(&acct).await;
    assert_eq!(a["credits"], 100, "{a}");
    assert_eq!(a["in_flight"], json!({ "live": 0, "test": 0 }), "{a}");
}

/// Two worker processes (two workers each) start together on twelve queued test tasks:
/// every task is started once and completed once, every render job in one attempt.
#[tokio::test]
async fn workers_two_processes_never_share_a_task() {
    let c = Site::new().await;
    let (a, b) = (c.account("Max", 100).await, c.account("Max", 100).await);
    let api = c.launch(Launch::serve(0)).await;
    let mut ids = Vec::new();
    for acct in [&a, &b] {
        for _ in 0..6 {
            ids.push(api.create(&acct.test.key, &c.shortest_slideshow()).await.0);
        }
    }
    let (w1, w2) = futures::join!(c.launch(Launch::worker(2)), c.launch(Launch::worker(2)));
    let owner = |id: &String| if ids[..6].contains(id) { &a } else { &b };
    for id in &ids {
        let t = api.wait_done(&owner(id).test.key, id, RENDER_LIMIT).await;
        assert_eq!(t["status"], "completed", "{t}");
    }

    let jobs = c
        .sql("SELECT task_id || '|' || attempt || '|' || status FROM jobs WHERE kind = 'render' ORDER BY task_id")
        .await;
    let mut want: Vec<String> = ids.iter().map(|id| format!("{id}|1|done")).collect();
    want.sort();
    assert_eq!(jobs, want.join("\n"), "one job per task, one attempt each");
    let tasks = c
        .sql("SELECT COUNT(*) FROM tasks WHERE status = 'completed' AND started_at IS NOT NULL AND completed_at >= started_at")
        .await;
    assert_eq!(tasks, "12");

    // Each task was started by exactly one worker, once.
    let (l1, l2) = (w1.log(), w2.log());
    let mut starts: BTreeMap<&str, usize> = BTreeMap::new();
    for line in l1.lines().chain(l2.lines()) {
        if line.contains("render started") {
            for id in &ids {
                if line.contains(id.as_str()) {
                    *starts.entry(id.as_str()).or_default() += 1;
                }
            }
        }
    }
    for id in &ids {
        assert_eq!(
            starts.get(id.as_str()),
            Some(&1),
            "starts of {id}\nw1:\n{l1}\nw2:\n{l2}"
        );
    }
}
