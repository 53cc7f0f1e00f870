//! Harness for the worker suite (`workers.rs`): one data directory shared by several
//! `peakreel` processes (`serve` with any `--workers`, `worker`), each started with its own
//! settings, in its own process group so a test can SIGKILL, SIGSTOP, SIGCONT or SIGTERM it
//! (and its ffmpeg children) like an operator or a crash would. Reuses the request
//! helpers, the answer type and the assertions of `support.rs`, and serves the listing
//! photos from the same local HTTPS test server.

use crate::support::{clean_env, script, Acct, Key, Resp, BIN, SLIDESHOW, VOICE};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The stages a processing task may report (api.md §6).
pub const STAGES: [&str; 5] = [
    "fetching",
    "narration",
    "rendering",
    "encoding",
    "uploading",
];

/// One data directory, its image server and an HTTP client.
pub struct Cluster {
    dir: tempfile::TempDir,
    images: peakreel_testkit::Server,
    ca_file: PathBuf,
    pub client: reqwest::Client,
    spawned: AtomicUsize,
}

/// One `peakreel` process on the cluster's data directory.
pub struct Proc {
    child: Child,
    pub name: String,
    /// `http://addr` of a process that serves the API.
    pub base: Option<String>,
    pub log: PathBuf,
}

/// Which half of the binary to run, with how many workers.
#[derive(Clone, Copy)]
pub enum Role {
    /// `peakreel serve --workers N` (N = 0: API only).
    Serve(u32),
    /// `peakreel worker --workers N` (no API).
    Worker(u32),
}

pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Cluster {
    pub async fn new() -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = peakreel_testkit::make_ca();
        let ca_file = dir.path().join("test-ca.pem");
        std::fs::write(&ca_file, &ca.ca_pem).expect("write CA");
        let images = peakreel_testkit::start_server([127, 0, 0, 1].into(), &ca).await;
        let photo = bytes::Bytes::from(peakreel_testkit::photo_jpeg("generated-landscape.jpg"));
        for i in 0..6 {
            images.route(
                &format!("/listing/{i}.jpg"),
                peakreel_testkit::Reply::Full {
                    status: 200,
                    content_type: "image/jpeg",
                    body: photo.clone(),
                },
            );
        }
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        Cluster {
            dir,
            images,
            ca_file,
            client,
            spawned: AtomicUsize::new(0),
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("peakreel.db")
    }

    /// The shortest valid narrated slideshow: 6 images, a 240-character script, the
    /// `sequential` mode.
    pub fn slideshow(&self) -> Value {
        let images: Vec<String> = (0..6)
            .map(|i| self.images.url(&format!("/listing/{i}.jpg")))
            .collect();
        json!({
            "images": images,
            "voice": { "voice_id": VOICE },
            "script": script(240),
            "orchestration_mode": "sequential",
        })
    }

    /// Start a process and wait until it is ready (it printed its address or that its
    /// workers run). `env` holds extra variables such as `PEAKREEL__TASKS__LEASE_SECS`.
    pub async fn spawn(&self, role: Role, env: &[(&str, &str)]) -> Proc {
        let n = self.spawned.fetch_add(1, Ordering::SeqCst);
        let (sub, workers, ready) = match role {
            Role::Serve(w) => ("serve", w, "peakreel listening on http://"),
            Role::Worker(w) => ("worker", w, "peakreel worker running"),
        };
        let name = format!("{sub}{n}");
        let log = self.dir.path().join(format!("{name}.log"));
        let log_file = std::fs::File::create(&log).expect("log file");
        // Scratch files of renders (and of renders a test kills) stay inside the data
        // directory, removed with it.
        let tmp = self.dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).expect("tmp dir");
        let mut cmd = Command::new(BIN);
        clean_env(&mut cmd);
        cmd.arg(sub)
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(["--listen", "127.0.0.1:0"])
            .args(["--workers", &workers.to_string()])
            .args(["--allow-network", "127.0.0.0/8"])
            .env("SSL_CERT_FILE", &self.ca_file)
            .env("PEAKREEL__LIMITS__RATE_PER_SECOND", "1000")
            .env("PEAKREEL__LIMITS__RATE_BURST", "2000")
            .env("PEAKREEL_LOG", "info")
            .env("TMPDIR", &tmp)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            // Its own process group: signals reach its ffmpeg and speech children too.
            .process_group(0);
        let mut child = cmd.spawn().expect("spawn peakreel");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix(ready) {
                    let _ = tx.send(rest.trim().to_string());
                    break;
                }
            }
            for _ in lines {}
        });
        let got = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
            .await
            .expect("join");
        let mut proc = Proc {
            child,
            name,
            base: None,
            log,
        };
        match got {
            Ok(addr) => {
                if matches!(role, Role::Serve(_)) {
                    proc.base = Some(format!("http://{addr}"));
                }
                proc
            }
            Err(_) => {
                let log = proc.log_text();
                drop(proc);
                panic!("peakreel {sub} did not become ready; log:\n{log}");
            }
        }
    }

    // ----- HTTP -----

    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let r = rb.send().await.expect("request failed");
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

    pub async fn get(&self, api: &Proc, path: &str, key: &str) -> Resp {
        self.send(self.client.get(api.url(path)).bearer_auth(key))
            .await
    }

    /// GET an absolute URL without any key (signed file URLs).
    pub async fn get_url(&self, url: &str, range: Option<&str>) -> Resp {
        let mut rb = self.client.get(url);
        if let Some(range) = range {
            rb = rb.header("range", range);
        }
        self.send(rb).await
    }

    /// Create a task with `body` and insist on 202; returns the task id and the answer.
    pub async fn create(&self, api: &Proc, key: &str, body: &Value) -> (String, Value) {
        let r = self
            .send(
                self.client
                    .post(api.url(SLIDESHOW))
                    .bearer_auth(key)
                    .header("content-type", "application/json")
                    .body(body.to_string()),
            )
            .await;
        assert_eq!(r.status, 202, "create failed: {}", r.json);
        let id = r.json["task_id"].as_str().expect("task_id").to_string();
        (id, r.json)
    }

    pub async fn task(&self, api: &Proc, key: &str, id: &str) -> Value {
        let r = self.get(api, &format!("/v1/tasks/{id}"), key).await;
        assert_eq!(r.status, 200, "GET task {id}: {}", r.json);
        r.json
    }

    /// Poll `GET /v1/tasks/{id}` until its status is `completed` or `failed`.
    pub async fn wait_done(&self, api: &Proc, key: &str, id: &str, limit: Duration) -> Value {
        let start = Instant::now();
        loop {
            let t = self.task(api, key, id).await;
            if matches!(t["status"].as_str(), Some("completed" | "failed")) {
                return t;
            }
            assert!(
                start.elapsed() < limit,
                "task {id} still {} after {limit:?}: {t}",
                t["status"]
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    // ----- admin CLI, sqlite3 -----

    pub async fn admin_json(&self, args: &[&str]) -> Value {
        crate::support::admin_json_in(self.dir.path(), args).await
    }

    async fn key(&self, account: &str, mode: &str) -> Key {
        let v = self
            .admin_json(&[
                "key",
                "create",
                "--account",
                account,
                "--mode",
                mode,
                "--json",
            ])
            .await;
        Key {
            id: v["key_id"].as_str().expect("key_id").to_string(),
            key: v["key"].as_str().expect("key").to_string(),
            webhook_secret: v["webhook_secret"].as_str().expect("secret").to_string(),
        }
    }

    /// A `Max` account (10 concurrent tasks per mode) with `credits`, a live and a test key.
    pub async fn account(&self, credits: i64) -> Acct {
        let v = self
            .admin_json(&[
                "account",
                "create",
                "--name",
                "workers-it",
                "--plan",
                "Max",
                "--credits",
                &credits.to_string(),
                "--json",
            ])
            .await;
        let id = v["account_id"].as_str().expect("account_id").to_string();
        let live = self.key(&id, "live").await;
        let test = self.key(&id, "test").await;
        Acct { id, live, test }
    }

    /// Run SQL with the `sqlite3` tool on the shared database; returns stdout trimmed.
    pub async fn sql(&self, sql: &str) -> String {
        crate::support::sql_in(&self.db_path(), sql).await
    }

    /// Whether a write transaction can be taken within `timeout_ms` (no process holds
    /// the database's write lock).
    pub async fn db_writable(&self, timeout_ms: u32) -> bool {
        tokio::process::Command::new("sqlite3")
            .arg("-cmd")
            .arg(format!(".timeout {timeout_ms}"))
            .arg(self.db_path())
            .arg("BEGIN IMMEDIATE; ROLLBACK;")
            .output()
            .await
            .map(|o| o.status.success() && o.stderr.is_empty())
            .unwrap_or(false)
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

    /// The account as `GET /v1/account` shows it, after checking that the balance equals
    /// the ledger's sum (api.md §2).
    pub async fn account_view(&self, api: &Proc, acct: &Acct) -> Value {
        let r = self.get(api, "/v1/account", &acct.live.key).await;
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
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        let base = self
            .base
            .as_ref()
            .unwrap_or_else(|| panic!("{} serves no API", self.name));
        format!("{base}{path}")
    }

    /// Send a signal (`TERM`, `KILL`, `STOP`, `CONT`) to the process only.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args(["-s", sig, &self.pid().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -s {sig} {} failed", self.pid());
    }

    /// Send a signal to the process and its children (its process group).
    pub fn signal_group(&self, sig: &str) {
        let ok = Command::new("kill")
            .args(["-s", sig, "--", &format!("-{}", self.pid())])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -s {sig} -- -{} failed", self.pid());
    }

    /// Wait for the process to exit; panics with its log after `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                start.elapsed() < limit,
                "{} did not exit within {limit:?}; log:\n{}",
                self.name,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until the log contains one of `needles`; returns the one found.
    pub async fn wait_log(&self, needles: &[&str], limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let log = self.log_text();
            if let Some(n) = needles.iter().find(|n| log.contains(**n)) {
                return n.to_string();
            }
            assert!(
                start.elapsed() < limit,
                "{} logged none of {needles:?} within {limit:?}; log:\n{log}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // The whole group: a stopped process or an orphaned ffmpeg must not outlive
            // the test.
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{}", self.child.id())])
                .status();
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
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
