//! Memory stays bounded with hostile but valid inputs (issue 18): 8 creations at once,
//! each naming 15 JPEGs of about 99 megapixels (12150×8150, ~16 MiB each) on a loopback
//! HTTPS server, must all be accepted while the server's peak resident memory (VmHWM)
//! stays under 1 GiB. Fully decoded, one such photo is 300 MB of RGB, and the 120 bodies
//! together are about 2 GiB: only reduced decodes and bodies kept on disk fit.
//! `bench/memory.sh` prints the same figure against a release build.

use crate::support::*;
use bytes::Bytes;
use peakreel_testkit::Reply;
use serde_json::json;
use std::process::Command;

const GIB_KIB: u64 = 1024 * 1024;

/// A 12150×8150 JPEG of a test pattern with grain, so it compresses like a sharp photo.
fn big_jpeg(seed: u32, dir: &std::path::Path) -> Bytes {
    let path = dir.join(format!("big{seed}.jpg"));
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=12150x8150:rate=1")
        .arg("-vf")
        .arg(format!("noise=alls=12:allf=t:all_seed={seed}"))
        .args(["-frames:v", "1", "-q:v", "4"])
        .arg(&path)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Bytes::from(std::fs::read(&path).unwrap())
}

/// `VmHWM` of process `pid`, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

#[tokio::test]
async fn eight_creations_of_fifteen_99_megapixel_photos_stay_under_a_gibibyte() {
    let s = Proc::start().await;
    let dir = tempfile::tempdir().unwrap();
    let photos: Vec<Bytes> = (1..=3).map(|seed| big_jpeg(seed, dir.path())).collect();
    for p in &photos {
        assert!(p.len() > 8 << 20, "the photo is only {} bytes", p.len());
    }
    let urls: Vec<String> = (0..15)
        .map(|i| {
            let path = format!("/big/{i}.jpg");
            s.images().route(
                &path,
                Reply::Full {
                    status: 200,
                    content_type: "image/jpeg",
                    body: photos[i % photos.len()].clone(),
                },
            );
            s.images().url(&path)
        })
        .collect();
    let mut keys = Vec::new();
    for _ in 0..8 {
        keys.push(s.account("Pro", 100).await.live.key);
    }
    let body = json!({
        "images": urls,
        "voice": { "voice_id": VOICE },
        "script": script(45 * 15),
    });
    let before = peak_rss_kib(s.pid());

    let answers = futures::future::join_all(keys.iter().map(|key| {
        s.send(
            s.request(reqwest::Method::POST, SLIDESHOW)
                .bearer_auth(key)
                .timeout(std::time::Duration::from_secs(1800))
                .json(&body),
        )
    }))
    .await;
    let peak = peak_rss_kib(s.pid());
    eprintln!(
        "8 creations x 15 photos of 99 MP: server VmHWM {} MiB (before them: {} MiB)",
        peak / 1024,
        before / 1024
    );
    for r in &answers {
        assert_eq!(r.status, 202, "{}", r.json);
        assert_eq!(r.json["status"], "queued");
    }
    let queued = s
        .sql("SELECT COUNT(*) FROM tasks WHERE status = 'queued'")
        .await;
    assert_eq!(queued, "8");
    // Every accepted task holds its 15 photos whole (streamed from disk to storage).
    let sizes: Vec<u64> = photos.iter().map(|p| p.len() as u64).collect();
    let mut inputs = 0;
    for entry in walk(s.data_dir()) {
        if entry.to_string_lossy().contains("/input/") {
            let len = std::fs::metadata(&entry).unwrap().len();
            assert!(sizes.contains(&len), "{} has {len} bytes", entry.display());
            inputs += 1;
        }
    }
    assert_eq!(inputs, 8 * 15);
    // Nothing is left behind in the spool directory.
    assert_eq!(walk(&s.data_dir().join("spool")).len(), 0);
    assert!(
        peak < GIB_KIB,
        "peak resident memory {} MiB (before the requests: {} MiB)",
        peak / 1024,
        before / 1024
    );
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
