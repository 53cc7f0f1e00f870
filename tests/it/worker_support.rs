//! What the worker suite (`workers.rs`) adds to the launcher: the queries that show where
//! a task's render job and money stand in the shared database, and the checks of the
//! rendered MP4 and cover.

use crate::support::{is_timestamp, Acct, Proc, Site};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The stages a processing task may report (api.md §6).
pub const STAGES: [&str; 5] = [
    "fetching",
    "narration",
    "rendering",
    "encoding",
    "uploading",
];

impl Site {
    /// Whether a write transaction can be taken within `timeout_ms` (no process holds
    /// the database's write lock).
    pub async fn db_writable(&self, timeout_ms: u32) -> bool {
        let out = self.sqlite3(timeout_ms, "BEGIN IMMEDIATE; ROLLBACK;").await;
        out.status.success() && out.stderr.is_empty()
    }

    /// The ledger rows of one task as `kind|amount` lines, in order.
    pub async fn ledger_of(&self, task_id: &str) -> String {
        self.sql(&format!(
            "SELECT kind || '|' || amount FROM credit_ledger WHERE task_id = '{task_id}' ORDER BY id"
        ))
        .await
    }

    /// `attempt|status` of the task's render job.
    pub async fn render_job(&self, task_id: &str) -> String {
        self.sql(&format!(
            "SELECT attempt || '|' || status FROM jobs WHERE kind = 'render' AND task_id = '{task_id}'"
        ))
        .await
    }
}

impl Proc {
    /// The account as `GET /v1/account` shows it, after checking that the balance equals
    /// the ledger's sum (api.md §2).
    pub async fn account_view(&self, acct: &Acct) -> Value {
        let r = self.get("/v1/account", Some(&acct.live.key)).await;
        assert_eq!(r.status, 200, "{}", r.json);
        let sum = self
            .sql(&format!(
                "SELECT COALESCE(SUM(amount), 0) FROM credit_ledger WHERE account_id = '{}'",
                acct.id
            ))
            .await;
        assert_eq!(r.json["credits"].to_string(), sum, "balance vs ledger sum");
        r.json
    }
}

impl Proc {
    /// Wait for the live task to fail with `code`; check the error's shape and that the
    /// task's ledger rows are one charge and one refund of the same amount. Returns the
    /// task's `error`.
    pub async fn assert_task_refunded(&self, c: &Site, key: &str, id: &str, code: &str) -> Value {
        let t = self.wait_done(key, id, Duration::from_secs(180)).await;
        assert_eq!(t["status"], "failed", "{t}");
        let err = &t["error"];
        assert_eq!(err["code"], code, "{t}");
        assert!(err["message"].as_str().is_some_and(|m| m.len() > 10), "{t}");
        for k in err.as_object().expect("error object").keys() {
            assert!(
                ["code", "message", "details"].contains(&k.as_str()),
                "unexpected {k} in {err}"
            );
        }
        assert!(t["completed_at"].as_str().is_some_and(is_timestamp), "{t}");
        assert!(t.get("result").is_none(), "{t}");
        assert_eq!(
            c.ledger_of(id).await,
            "charge|-5\nrefund|5",
            "one charge and one refund of the same amount"
        );
        err.clone()
    }
}

/// [`Proc::assert_task_refunded`] for the only task of an account that started with 100
/// credits: the balance is whole again and nothing is in flight.
pub async fn assert_failed_and_refunded(
    c: &Site,
    api: &Proc,
    acct: &Acct,
    id: &str,
    code: &str,
) -> Value {
    let err = api.assert_task_refunded(c, &acct.live.key, id, code).await;
    let a = api.account_view(acct).await;
    assert_eq!(a["credits"], 100, "balance restored: {a}");
    assert_eq!(a["in_flight"], json!({ "live": 0, "test": 0 }), "{a}");
    err
}

// ---------------------------------------------------------------------------------------
// Media checks.
// ---------------------------------------------------------------------------------------

/// `ffprobe -show_streams -show_format` of a file, as JSON.
pub async fn ffprobe(path: &Path) -> Value {
    let out = tokio::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
        ])
        .arg(path)
        .output()
        .await
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "ffprobe {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe JSON")
}

/// The names of the top-level MP4 boxes, in file order.
pub fn mp4_top_boxes(bytes: &[u8]) -> Vec<String> {
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size32 = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as u64;
        let name = String::from_utf8_lossy(&bytes[at + 4..at + 8]).to_string();
        let size = match size32 {
            1 if at + 16 <= bytes.len() => {
                u64::from_be_bytes(bytes[at + 8..at + 16].try_into().unwrap())
            }
            0 => (bytes.len() - at) as u64,
            n => n,
        };
        boxes.push(name);
        if size < 8 {
            break;
        }
        at += size as usize;
    }
    boxes
}

/// Check an MP4 against api.md §7 (H.264 High, yuv420p, 30 fps, AAC 48 kHz stereo,
/// `+faststart`) at `width`×`height`; returns its duration in seconds.
pub async fn assert_mp4(bytes: &[u8], width: u64, height: u64, dir: &Path) -> f64 {
    let boxes = mp4_top_boxes(bytes);
    let moov = boxes.iter().position(|b| b == "moov");
    let mdat = boxes.iter().position(|b| b == "mdat");
    assert!(
        matches!((moov, mdat), (Some(m), Some(d)) if m < d),
        "faststart: moov before mdat, got boxes {boxes:?}"
    );
    let path = dir.join(format!("probe-{}.mp4", rand_suffix()));
    std::fs::write(&path, bytes).expect("write mp4");
    let probe = ffprobe(&path).await;
    let _ = std::fs::remove_file(&path);
    let streams = probe["streams"].as_array().expect("streams");
    let video: Vec<&Value> = streams
        .iter()
        .filter(|s| s["codec_type"] == "video")
        .collect();
    let audio: Vec<&Value> = streams
        .iter()
        .filter(|s| s["codec_type"] == "audio")
        .collect();
    assert_eq!((video.len(), audio.len()), (1, 1), "streams: {probe}");
    let v = video[0];
    assert_eq!(v["codec_name"], "h264", "{v}");
    assert_eq!(v["profile"], "High", "{v}");
    assert_eq!(v["pix_fmt"], "yuv420p", "{v}");
    assert_eq!(v["avg_frame_rate"], "30/1", "{v}");
    assert_eq!(v["r_frame_rate"], "30/1", "{v}");
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(width), Some(height))
    );
    let a = audio[0];
    assert_eq!(a["codec_name"], "aac", "{a}");
    assert_eq!(a["sample_rate"], "48000", "{a}");
    assert_eq!(a["channels"], 2, "{a}");
    probe["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse::<f64>().ok())
        .expect("format.duration")
}

/// Check a JPEG cover: JPEG magic and, by ffprobe, `width`×`height`.
pub async fn assert_jpeg(bytes: &[u8], width: u64, height: u64, dir: &Path) {
    assert!(
        bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "cover is not a JPEG: {:?}",
        &bytes[..bytes.len().min(8)]
    );
    let path = dir.join(format!("cover-{}.jpg", rand_suffix()));
    std::fs::write(&path, bytes).expect("write jpeg");
    let probe = ffprobe(&path).await;
    let _ = std::fs::remove_file(&path);
    let s = &probe["streams"][0];
    assert_eq!(s["codec_name"], "mjpeg", "{probe}");
    assert_eq!(
        (s["width"].as_u64(), s["height"].as_u64()),
        (Some(width), Some(height))
    );
}

fn rand_suffix() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}
