//! Helpers shared by the render test suites: the test photos, an espeak-only render
//! environment, a job with every option off, and frame, colour and loudness probes.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use image::{Rgb, RgbImage};
use peakreel_media::probe::Probe;
use peakreel_media::{Mode, Orientation, Profile, RenderEnv, RenderJob, VoiceProfile};
use peakreel_speech::{EspeakEngine, Speech};

/// The shared test photos: `PEAKREEL_TESTDATA` or `shared/testdata` beside the repository.
pub fn photos() -> Vec<PathBuf> {
    let dir =
        peakreel_testkit::photos_dir().expect("the shared test photos (set PEAKREEL_TESTDATA)");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("test photos in {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "jpg") && !p.to_string_lossy().contains("portrait")
        })
        .collect();
    v.sort();
    v
}

pub fn solid(dir: &Path, name: &str, rgb: [u8; 3], w: u32, h: u32) -> PathBuf {
    let p = dir.join(name);
    RgbImage::from_pixel(w, h, Rgb(rgb)).save(&p).unwrap();
    p
}

/// espeak-ng only, so the suite behaves the same with or without Piper installed.
pub fn env_espeak(temp_root: &Path) -> RenderEnv {
    RenderEnv {
        speech: Speech::new(None, EspeakEngine::default()),
        ffmpeg: "ffmpeg".into(),
        ffprobe: "ffprobe".into(),
        temp_root: Some(temp_root.to_path_buf()),
        vision: None,
    }
}

pub fn job(images: Vec<PathBuf>, script: &str, out_dir: &Path) -> RenderJob {
    RenderJob {
        kind: peakreel_media::RenderKind::Slideshow,
        room_hints: Vec::new(),
        images,
        script: script.into(),
        voice: VoiceProfile::espeak("en-us+f3"),
        orientation: Orientation::Landscape,
        mode: Mode::Sequential,
        subtitle: None,
        watermark: None,
        text: None,
        avatar: None,
        music: false,
        seed: 7,
        profile: Profile::Test,
        time_limit: Duration::from_secs(300),
        output: out_dir.join("out.mp4"),
        cover: out_dir.join("cover.jpg"),
    }
}

pub fn probe(p: &Path) -> Probe {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(p)
        .output()
        .unwrap();
    assert!(out.status.success());
    Probe::parse(&out.stdout).unwrap()
}

/// One RGB frame at `t` seconds.
pub fn frame(p: &Path, t: f64, w: u32, h: u32) -> RgbImage {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-ss", &format!("{t:.3}"), "-i"])
        .arg(p)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    RgbImage::from_raw(w, h, out.stdout).expect("one full frame")
}

pub fn mean(img: &RgbImage, x0: u32, y0: u32, x1: u32, y1: u32) -> [f64; 3] {
    let mut s = [0.0; 3];
    let mut n = 0.0;
    for y in y0..y1 {
        for x in x0..x1 {
            let p = img.get_pixel(x, y);
            for c in 0..3 {
                s[c] += p[c] as f64;
            }
            n += 1.0;
        }
    }
    s.map(|v| v / n)
}

pub fn close(a: [f64; 3], b: [u8; 3], tol: f64) -> bool {
    (0..3).all(|i| (a[i] - b[i] as f64).abs() <= tol)
}

/// Integrated loudness (LUFS) and true peak (dBTP) by ffmpeg's EBU R128 meter.
pub fn loudness(p: &Path) -> (f64, f64) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(p)
        .args(["-map", "0:a", "-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let summary = &err[err.rfind("Summary:").expect("ebur128 summary")..];
    let grab = |key: &str| -> f64 {
        let i = summary.find(key).unwrap() + key.len();
        summary[i..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (grab("I:"), grab("Peak:"))
}

pub fn audio_rms(p: &Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(p)
        .args(["-map", "0:a", "-ac", "1", "-f", "s16le", "-"])
        .output()
        .unwrap();
    let s: Vec<f64> = out
        .stdout
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]) as f64 / 32768.0)
        .collect();
    (s.iter().map(|v| v * v).sum::<f64>() / s.len() as f64).sqrt()
}
