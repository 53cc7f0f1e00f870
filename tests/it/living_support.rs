//! Harness for the living-property suite (`living.rs`): `peakreel serve` with one render
//! worker (640×360 renders through `PEAKREEL_RENDER_PROFILE=test`), listing photos from a
//! local HTTPS server, and optionally a stand-in virtual-staging provider: a second local
//! HTTPS server whose `/v1/stage` answers whatever the test routes there.

use crate::support::{Resp, BIN, VOICE};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

pub struct LivingServer {
    child: Child,
    dir: tempfile::TempDir,
    images: peakreel_testkit::Server,
    /// The stand-in staging provider, when the server was started with one.
    pub stager: Option<peakreel_testkit::Server>,
    pub base: String,
    pub client: reqwest::Client,
}

impl Drop for LivingServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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

impl LivingServer {
    pub async fn start(with_staging: bool) -> LivingServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = peakreel_testkit::make_ca();
        let ca_file = dir.path().join("test-ca.pem");
        std::fs::write(&ca_file, &ca.ca_pem).expect("write CA");
        let images = peakreel_testkit::start_server([127, 0, 0, 1].into(), &ca).await;
        for (i, name) in PHOTOS.iter().enumerate() {
            images.route(
                &format!("/listing/{i}.jpg"),
                peakreel_testkit::Reply::Full {
                    status: 200,
                    content_type: "image/jpeg",
                    body: bytes::Bytes::from(peakreel_testkit::photo_jpeg(name)),
                },
            );
        }
        let stager = if with_staging {
            Some(peakreel_testkit::start_server([127, 0, 0, 1].into(), &ca).await)
        } else {
            None
        };
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let mut cmd = Command::new(BIN);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PEAKREEL") {
                cmd.env_remove(name);
            }
        }
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--listen", "127.0.0.1:0", "--workers", "1"])
            .args(["--allow-network", "127.0.0.0/8"])
            .env("SSL_CERT_FILE", &ca_file)
            .env("PEAKREEL_RENDER_PROFILE", "test")
            .env("PEAKREEL__TASKS__RETRY_BACKOFF_SECS", "1")
            .env("PEAKREEL_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        if let Some(s) = &stager {
            cmd.env("PEAKREEL__STAGING__URL", s.url(""))
                .env("PEAKREEL__STAGING__API_KEY", STAGING_KEY)
                .env("PEAKREEL__STAGING__TIMEOUT_SECS", "20");
        }
        let mut child = cmd.spawn().expect("spawn peakreel serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("peakreel listening on http://") {
                    let _ = tx.send(addr.trim().to_string());
                    break;
                }
            }
            for _ in lines {}
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(90))
            .unwrap_or_else(|_| {
                let log =
                    std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
                panic!("peakreel serve did not start; log:\n{log}")
            });
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        LivingServer {
            child,
            dir,
            images,
            stager,
            base: format!("http://{addr}"),
            client,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// A living request with `n` images of the suite's rooms and `chars_per_image`.
    pub fn living(&self, n: usize, chars_per_image: usize) -> Value {
        let images: Vec<Value> = (0..n)
            .map(|i| {
                json!({ "url": self.images.url(&format!("/listing/{i}.jpg")), "room_type": ROOMS[i] })
            })
            .collect();
        json!({
            "images": images,
            "voice": { "voice_id": VOICE },
            "script": words(chars_per_image * n),
        })
    }

    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.expect("body").to_vec();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            bytes,
            json,
        }
    }

    pub async fn post(&self, path: &str, key: &str, body: &Value) -> Resp {
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .bearer_auth(key)
                .json(body),
        )
        .await
    }

    pub async fn get(&self, path: &str, key: &str) -> Resp {
        self.send(
            self.client
                .get(format!("{}{path}", self.base))
                .bearer_auth(key),
        )
        .await
    }

    pub async fn credits(&self, key: &str) -> i64 {
        let r = self.get("/v1/account", key).await;
        assert_eq!(r.status, 200, "{:?}", r.json);
        r.json["credits"].as_i64().expect("credits")
    }

    /// Poll the task until it is `completed` or `failed`.
    pub async fn wait_done(&self, key: &str, id: &str, limit: Duration) -> Value {
        let started = Instant::now();
        loop {
            let r = self.get(&format!("/v1/tasks/{id}"), key).await;
            assert_eq!(r.status, 200, "{:?}", r.json);
            let status = r.json["status"].as_str().unwrap_or_default().to_string();
            if status == "completed" || status == "failed" {
                return r.json;
            }
            assert!(
                started.elapsed() < limit,
                "task {id} still {status} after {limit:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// A `Max` account with `credits` and its live key.
    pub async fn live_key(&self, credits: i64) -> String {
        let acct = self
            .admin_json(&[
                "account",
                "create",
                "--name",
                "living-it",
                "--plan",
                "Max",
                "--credits",
                &credits.to_string(),
                "--json",
            ])
            .await;
        let id = acct["account_id"].as_str().expect("account_id").to_string();
        let key = self
            .admin_json(&[
                "key",
                "create",
                "--account",
                &id,
                "--mode",
                "live",
                "--json",
            ])
            .await;
        key["key"].as_str().expect("key").to_string()
    }

    async fn admin_json(&self, args: &[&str]) -> Value {
        crate::support::admin_json_in(self.dir.path(), args).await
    }

    /// Download a completed task's video into `dir`.
    pub async fn download(&self, task: &Value, dir: &Path) -> std::path::PathBuf {
        let url = task["result"]["video_url"].as_str().expect("video_url");
        let r = self.send(self.client.get(url)).await;
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

/// Mean RGB of the frame at `t` seconds (scaled to 64×36).
pub fn mean_rgb(p: &Path, t: f64) -> [f64; 3] {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-ss", &format!("{t:.2}"), "-i"])
        .arg(p)
        .args([
            "-frames:v",
            "1",
            "-vf",
            "scale=64:36",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut s = [0.0; 3];
    for px in out.stdout.chunks_exact(3) {
        for c in 0..3 {
            s[c] += px[c] as f64;
        }
    }
    let n = (out.stdout.len() / 3) as f64;
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
