//! The legacy slideshow route rendered by a real worker (640×360 test profile): 5 and 9
//! images, a 4,000-character script whose video follows the narration with photos
//! returning within the mode's scene limit, and each `style` with and without the
//! stand-in staging provider, with the credits charged once and refunded on failure.

use crate::legacy::LEGACY;
use crate::living_support::*;
use peakreel_testkit::Reply;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(900);

fn legacy_body(s: &crate::support::Proc, n: usize, chars: usize, style: &str) -> Value {
    json!({
        "images": (0..n).map(|i| s.image_url(i)).collect::<Vec<_>>(),
        "style": style,
        "voice": { "voice_id": crate::support::VOICE },
        "script": words(chars),
    })
}

/// One grey 160×90 frame per second of the video.
fn frames_per_second(p: &Path) -> Vec<Vec<u8>> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(p)
        .args([
            "-vf",
            "fps=1,scale=160:90",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
        .chunks_exact(160 * 90)
        .map(<[u8]>::to_vec)
        .collect()
}

/// Seconds at which the picture changes to another photo: a second-to-second change far
/// above a pan's (adjacent flagged seconds are one change, a dissolve split in two).
fn photo_changes(frames: &[Vec<u8>]) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::new();
    let mut last_flagged = None;
    for i in 1..frames.len() {
        if mad(&frames[i - 1], &frames[i]) > 10.0 {
            if last_flagged != Some(i - 1) {
                out.push(i as f64);
            }
            last_flagged = Some(i);
        }
    }
    out
}

async fn render_ok(
    s: &crate::support::Proc,
    key: &str,
    body: &Value,
    out: &Path,
) -> (Value, std::path::PathBuf) {
    let r = s.post(LEGACY, key, body).await;
    assert_eq!(r.status, 202, "{:?}", r.json);
    let t = s
        .wait_done(key, r.json["task_id"].as_str().unwrap(), LIMIT)
        .await;
    assert_eq!(t["status"], "completed", "{t}\n{}", s.log());
    assert_eq!(t["type"], "slideshow");
    let video = s.download(&t, out).await;
    (t, video)
}

#[tokio::test]
async fn legacy_slideshows_render_and_a_long_script_makes_a_longer_video() {
    let (s, _) = start_living(false).await;
    let key = s.account("Max", 100).await.live.key;
    let out = tempfile::tempdir().unwrap();

    for n in [5usize, 9] {
        let (t, video) = render_ok(
            &s,
            &key,
            &legacy_body(&s, n, 60, "do-not-modify"),
            out.path(),
        )
        .await;
        let (d, speech) = (duration(&video), speech_end(&video));
        assert!(
            (d - (speech + 1.5)).abs() < 0.5,
            "{n} images: {d} s, speech ends {speech}"
        );
        let shown = t["result"]["duration_seconds"].as_f64().unwrap();
        assert!((shown - d).abs() < 0.5, "{shown} vs {d}");
        assert_eq!(
            (t["result"]["width"].clone(), t["result"]["height"].clone()),
            (json!(640), json!(360))
        );
    }

    // 4,000 characters over five photos (standard mode, 3–7 s scenes): minutes of
    // narration, so the photos come back rather than holding one for most of a minute.
    let (t, video) = render_ok(
        &s,
        &key,
        &legacy_body(&s, 5, 4000, "do-not-modify"),
        out.path(),
    )
    .await;
    let (d, speech) = (duration(&video), speech_end(&video));
    eprintln!("legacy 4000 characters: {d:.1} s video, speech ends at {speech:.1} s");
    assert!(d > 120.0, "4,000 characters take minutes to say: {d} s");
    assert!(
        (d - (speech + 1.5)).abs() < 0.5,
        "{d} s video, speech ends {speech}"
    );
    assert!((t["result"]["duration_seconds"].as_f64().unwrap() - d).abs() < 0.5);
    let changes = photo_changes(&frames_per_second(&video));
    let mut bounds = vec![0.0];
    bounds.extend(&changes);
    bounds.push(d);
    let longest = bounds.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    assert!(
        longest <= 8.0,
        "a photo held {longest} s (changes at {changes:?})"
    );
    assert!(
        changes.len() as f64 >= d / 7.0 - 1.0,
        "{} changes in {d} s",
        changes.len()
    );

    assert_eq!(s.credits(&key).await, 100 - 3 * 5, "each task charged once");
}

#[tokio::test]
async fn legacy_styles_use_the_staging_provider_at_the_staging_price() {
    let (s, stager) = start_living(true).await;
    let stager = stager.unwrap();
    let key = s.account("Max", 100).await.live.key;
    let out = tempfile::tempdir().unwrap();

    // do-not-modify never calls the provider (here failing on every call).
    stager.route(
        "/v1/stage",
        Reply::Full {
            status: 500,
            content_type: "application/json",
            body: bytes::Bytes::from_static(b"{}"),
        },
    );
    let (t, _) = render_ok(
        &s,
        &key,
        &legacy_body(&s, 5, 60, "do-not-modify"),
        out.path(),
    )
    .await;
    assert_eq!(stager.state.requests.load(Ordering::SeqCst), 0, "{t}");

    // furnish-it: every photo staged (mode furnish), the staged picture on screen, the
    // route's price plus the staging price per image.
    stager.route(
        "/v1/stage",
        Reply::Full {
            status: 200,
            content_type: "image/png",
            body: bytes::Bytes::from(tinted(PHOTOS[0])),
        },
    );
    let body = legacy_body(&s, 5, 60, "furnish-it");
    let r = s.post(LEGACY, &key, &body).await;
    assert_eq!(r.status, 202, "{:?}", r.json);
    assert_eq!(r.json["credits_charged"], 5 + 2 * 5);
    let t = s
        .wait_done(&key, r.json["task_id"].as_str().unwrap(), LIMIT)
        .await;
    assert_eq!(t["status"], "completed", "{t}\n{}", s.log());
    assert_eq!(stager.state.requests.load(Ordering::SeqCst), 5);
    let seen = stager.state.last_request.lock().unwrap().clone().unwrap();
    let sent: Value = serde_json::from_slice(&seen.3).unwrap();
    assert_eq!(
        (sent["mode"].as_str(), sent["room_type"].as_str()),
        (Some("furnish"), Some("other"))
    );
    let [r_, g, b] = mean_rgb(&s.download(&t, out.path()).await, 1.5);
    assert!(
        r_ > g + 60.0 && b > g + 60.0,
        "not the staged picture: {r_:.0} {g:.0} {b:.0}"
    );
    assert_eq!(s.credits(&key).await, 100 - 5 - 15);

    // change-decoration with the provider failing: the task fails, refunded in full.
    stager.route(
        "/v1/stage",
        Reply::Full {
            status: 500,
            content_type: "application/json",
            body: bytes::Bytes::from_static(b"{}"),
        },
    );
    let r = s
        .post(LEGACY, &key, &legacy_body(&s, 5, 60, "change-decoration"))
        .await;
    assert_eq!(r.status, 202, "{:?}", r.json);
    assert_eq!(r.json["credits_charged"], 15);
    assert_eq!(s.credits(&key).await, 100 - 20 - 15);
    let t = s
        .wait_done(&key, r.json["task_id"].as_str().unwrap(), LIMIT)
        .await;
    assert_eq!(t["status"], "failed", "{t}");
    assert_eq!(t["error"]["code"], "SERVICE_ERROR", "{t}");
    let sent: Value =
        serde_json::from_slice(&stager.state.last_request.lock().unwrap().clone().unwrap().3)
            .unwrap();
    assert_eq!(sent["mode"], "change_decoration");
    assert_eq!(s.credits(&key).await, 100 - 20, "refunded");
}
