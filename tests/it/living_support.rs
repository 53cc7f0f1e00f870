//! What the living-property suite (`living.rs`) adds to the launcher: real listing photos,
//! 640×360 renders (`PEAKREEL_RENDER_PROFILE=test`), optionally a stand-in virtual-staging
//! provider (a second local HTTPS server whose `/v1/stage` answers whatever the test
//! routes there), and the checks of the rendered video.

use crate::support::{Launch, Proc, Site, VOICE};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

/// Real listing photos, served under distinct URLs (`/listing/{i}.jpg`, `i` < 9).
pub const PHOTOS: [&str; 9] = [
    "house100_frontal.jpg",
    "house100_kitchen.jpg",
    "house100_bedroom.jpg",
    "house100_bathroom.jpg",
    "house101_bathroom.jpg",
    "house100_frontal.jpg",
    "house100_kitchen.jpg",
    "house100_bedroom.jpg",
    "house100_bathroom.jpg",
];

pub const ROOMS: [&str; 9] = [
    "exterior",
    "kitchen",
    "bedroom",
    "bathroom",
    "garden",
    "living_room",
    "hallway",
    "dining_room",
    "pool",
];

pub const STAGING_KEY: &str = "sk_stage_test_123";

/// A valid script of `chars` characters (letters, spaces, full stops).
pub fn words(chars: usize) -> String {
    const TEXT: &str = "Bright rooms and a calm garden make this home feel warm. ";
    let mut s: String = TEXT.chars().cycle().take(chars).collect();
    if s.ends_with(' ') {
        s.pop();
        s.push('.');
    }
    s
}

/// `serve` with one render worker, the listing photos above, and the stand-in staging
/// provider when `with_staging`.
pub async fn start_living(with_staging: bool) -> (Proc, Option<peakreel_testkit::Server>) {
    let site = Site::new().await;
    for (i, name) in PHOTOS.iter().enumerate() {
        site.images().route(
            &format!("/listing/{i}.jpg"),
            peakreel_testkit::Reply::Full {
                status: 200,
                content_type: "image/jpeg",
                body: bytes::Bytes::from(peakreel_testkit::photo_jpeg(name)),
            },
        );
    }
    let mut launch = Launch::serve(1)
        .env("PEAKREEL_RENDER_PROFILE", "test")
        .env("PEAKREEL__TASKS__RETRY_BACKOFF_SECS", "1");
    let stager = if with_staging {
        let stager = peakreel_testkit::start_server([127, 0, 0, 1].into(), &site.ca).await;
        launch = launch
            .env("PEAKREEL__STAGING__URL", &stager.url(""))
            .env("PEAKREEL__STAGING__API_KEY", STAGING_KEY)
            .env("PEAKREEL__STAGING__TIMEOUT_SECS", "20");
        Some(stager)
    } else {
        None
    };
    (site.launch(launch).await, stager)
}

impl Proc {
    /// A living request with `n` images of the suite's rooms and `chars_per_image`.
    pub fn living_listing(&self, n: usize, chars_per_image: usize) -> Value {
        let images: Vec<Value> = (0..n)
            .map(|i| json!({ "url": self.image_url(i), "room_type": ROOMS[i] }))
            .collect();
        json!({
            "images": images,
            "voice": { "voice_id": VOICE },
            "script": words(chars_per_image * n),
        })
    }

    pub async fn credits(&self, key: &str) -> i64 {
        let r = self.get("/v1/account", Some(key)).await;
        assert_eq!(r.status, 200, "{:?}", r.json);
        r.json["credits"].as_i64().expect("credits")
    }

    /// Download a completed task's video into `dir`.
    pub async fn download(&self, task: &Value, dir: &Path) -> std::path::PathBuf {
        let url = task["result"]["video_url"].as_str().expect("video_url");
        let r = self.get_url(url, None).await;
        assert_eq!(r.status, 200);
        let p = dir.join(format!("{}.mp4", task["task_id"].as_str().unwrap()));
        std::fs::write(&p, &r.bytes).unwrap();
        p
    }
}

/// Duration of a video file (ffprobe).
pub fn duration(p: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(p)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// When the narration ends: the start of the last silence ffmpeg finds in the audio.
pub fn speech_end(p: &Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(p)
        .args([
            "-map",
            "0:a",
            "-af",
            "silencedetect=n=-45dB:d=0.4",
            "-f",
            "null",
            "-",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    err.lines()
        .rev()
        .filter_map(|l| l.split("silence_start: ").nth(1))
        .find_map(|v| v.trim().parse::<f64>().ok())
        .expect("a trailing silence after the narration")
}

/// Every frame as 8-bit grey at 320×180.
pub fn grey_frames(p: &Path) -> Vec<Vec<u8>> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(p)
        .args([
            "-vf",
            "scale=320:180",
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
        .chunks_exact(320 * 180)
        .map(<[u8]>::to_vec)
        .collect()
}

/// The frame at `t` seconds through the filter `vf`, as raw `pix_fmt` bytes.
pub fn raw_frame(p: &Path, t: f64, vf: &str, pix_fmt: &str) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-ss", &format!("{t:.3}"), "-i"])
        .arg(p)
        .args([
            "-frames:v",
            "1",
            "-vf",
            vf,
            "-f",
            "rawvideo",
            "-pix_fmt",
            pix_fmt,
            "-",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "frame at {t} s: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Mean RGB of the frame at `t` seconds (scaled to 64×36).
pub fn mean_rgb(p: &Path, t: f64) -> [f64; 3] {
    let frame = raw_frame(p, t, "scale=64:36", "rgb24");
    let mut s = [0.0; 3];
    for px in frame.chunks_exact(3) {
        for c in 0..3 {
            s[c] += px[c] as f64;
        }
    }
    let n = (frame.len() / 3) as f64;
    s.map(|v| v / n)
}

pub fn mad(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .sum::<f64>()
        / a.len() as f64
}

/// The listing photo strongly tinted magenta, as PNG: what the stand-in provider returns.
pub fn tinted(name: &str) -> Vec<u8> {
    let img = image::load_from_memory(&peakreel_testkit::photo_jpeg(name))
        .expect("photo decodes")
        .to_rgb8();
    let out = image::RgbImage::from_fn(img.width(), img.height(), |x, y| {
        let p = img.get_pixel(x, y);
        image::Rgb([
            (p[0] / 3).saturating_add(170),
            p[1] / 6,
            (p[2] / 3).saturating_add(170),
        ])
    });
    peakreel_testkit::encode(
        &image::DynamicImage::ImageRgb8(out),
        image::ImageFormat::Png,
    )
}

/// The video's audio as 16 kHz mono WAV in `dir` (the rate both recognisers use).
pub fn narration_wav(video: &Path, dir: &Path) -> std::path::PathBuf {
    let wav = dir.join("narration.wav");
    let ok = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(video)
        .args(["-vn", "-ac", "1", "-ar", "16000"])
        .arg(&wav)
        .status()
        .unwrap();
    assert!(ok.success(), "the video has an audio track");
    wav
}

/// The JSON a speech measurement (`crates/speech/python/{meter}` with `args`) prints, run
/// by the Piper environment's Python, where scripts/install-deps.sh installs pocketsphinx
/// and moonshine-cpp.
pub fn speech_meter(meter: &str, args: &[&std::ffi::OsStr]) -> Value {
    let home = std::env::var("HOME").unwrap();
    let python = Path::new(&home).join(".local/share/peakreel/piper-venv/bin/python");
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/speech/python")
        .join(meter);
    let out = Command::new(python).arg(path).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{meter}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
