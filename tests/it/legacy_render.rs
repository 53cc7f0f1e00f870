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

/// The tints of the long render's photos: far apart, so every frame tells which photo
/// it shows by its mean colour alone, however the camera moves over it.
const TONES: [[f64; 3]; 5] = [
    [220.0, 40.0, 40.0],
    [40.0, 200.0, 40.0],
    [40.0, 40.0, 220.0],
    [220.0, 210.0, 40.0],
    [40.0, 210.0, 210.0],
];

/// A listing photo (its detail drives the camera) washed in tone `i`, served at
/// `/tone/{i}.jpg`.
fn serve_toned(s: &crate::support::Proc, i: usize) -> String {
    let img = image::load_from_memory(&peakreel_testkit::photo_jpeg(PHOTOS[i]))
        .unwrap()
        .to_rgb8();
    let tone = TONES[i];
    let out = image::RgbImage::from_fn(img.width(), img.height(), |x, y| {
        let p = img.get_pixel(x, y);
        image::Rgb([0, 1, 2].map(|c| (f64::from(p[c]) / 4.0 + tone[c] * 0.75) as u8))
    });
    let path = format!("/tone/{i}.jpg");
    s.images().route(
        &path,
        Reply::Full {
            status: 200,
            content_type: "image/jpeg",
            body: bytes::Bytes::from(peakreel_testkit::encode(
                &image::DynamicImage::ImageRgb8(out),
                image::ImageFormat::Jpeg,
            )),
        },
    );
    s.images().url(&path)
}

/// Which tone each half second of the video shows (nearest mean colour).
fn tone_every_half_second(p: &Path) -> Vec<usize> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(p)
        .args([
            "-vf",
            "fps=2,scale=32:18",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
        .chunks_exact(32 * 18 * 3)
        .map(|frame| {
            let mut mean = [0.0; 3];
            for px in frame.chunks_exact(3) {
                for c in 0..3 {
                    mean[c] += f64::from(px[c]) / (32.0 * 18.0);
                }
            }
            let dist = |t: &[f64; 3]| (0..3).map(|c| (t[c] - mean[c]).powi(2)).sum::<f64>();
            (0..TONES.len())
                .min_by(|&a, &b| dist(&TONES[a]).total_cmp(&dist(&TONES[b])))
                .unwrap()
        })
        .collect()
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
        // The narration plus its tail, unless that would make `standard` scenes shorter
        // than 3 s: then the video is lengthened (README, "Scene lengths and loudness").
        let expected = (speech + 1.5).max(n as f64 * 3.0);
        assert!(
            (d - expected).abs() < 0.5,
            "{n} images: {d} s, speech ends {speech}, expected {expected}"
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
    let mut body = legacy_body(&s, 5, 4000, "do-not-modify");
    body["images"] = json!((0..5).map(|i| serve_toned(&s, i)).collect::<Vec<_>>());
    let (t, video) = render_ok(&s, &key, &body, out.path()).await;
    let (d, speech) = (duration(&video), speech_end(&video));
    eprintln!("legacy 4000 characters: {d:.1} s video, speech ends at {speech:.1} s");
    assert!(d > 120.0, "4,000 characters take minutes to say: {d} s");
    assert!(
        (d - (speech + 1.5)).abs() < 0.5,
        "{d} s video, speech ends {speech}"
    );
    assert!((t["result"]["duration_seconds"].as_f64().unwrap() - d).abs() < 0.5);
    // Runs of one photo on screen, in half seconds.
    let tones = tone_every_half_second(&video);
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &t in &tones {
        match runs.last_mut() {
            Some((tone, len)) if *tone == t => *len += 1,
            _ => runs.push((t, 1)),
        }
    }
    let longest = runs.iter().map(|r| r.1).max().unwrap() as f64 / 2.0;
    assert!(longest <= 7.5, "a photo held {longest} s: {runs:?}");
    for tone in 0..TONES.len() {
        let shown = runs.iter().filter(|r| r.0 == tone && r.1 >= 4).count();
        assert!(
            shown as f64 >= d / 7.0 / 5.0 - 1.0,
            "photo {tone} shown {shown} times: {runs:?}"
        );
    }
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
