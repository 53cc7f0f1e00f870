//! The one way every suite runs `peakreel`. A `Site` is a data directory with the CA its
//! processes trust (through `SSL_CERT_FILE`) and the local HTTPS server the listing photos
//! come from; `Launch` says which process to start on it and how; a `Proc` is one running
//! process, driven over HTTP, signalled like an operator or a crash would, and killed
//! with its children when dropped. Several processes may share one site, as they share a
//! data directory in production, and a site outlives its processes so a test can restart
//! on the same data.

use crate::support::{Acct, Key, Resp, IMAGE_ROUTES, SLIDESHOW};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_peakreel");

/// What the suites let through the SSRF guard unless a test wants it closer: their own
/// HTTPS servers on loopback.
const LOOPBACK: &str = "127.0.0.0/8";

/// Which `peakreel` process to start, and how.
#[derive(Debug)]
pub struct Launch {
    role: &'static str,
    workers: Option<u32>,
    allow_network: Option<String>,
    env: Vec<(String, String)>,
}

impl Launch {
    /// `peakreel serve --workers N`: the API and N render workers (0: API only).
    pub fn serve(workers: u32) -> Launch {
        Launch::role("serve", Some(workers))
    }

    /// `peakreel api`: the API and no render workers.
    pub fn api() -> Launch {
        Launch::role("api", None)
    }

    /// `peakreel worker --workers N`: render workers and no API.
    pub fn worker(workers: u32) -> Launch {
        Launch::role("worker", Some(workers))
    }

    fn role(role: &'static str, workers: Option<u32>) -> Launch {
        Launch {
            role,
            workers,
            allow_network: Some(LOOPBACK.to_string()),
            env: Vec::new(),
        }
    }

    /// Let only `cidr` through the SSRF guard.
    pub fn allow_network(mut self, cidr: &str) -> Launch {
        self.allow_network = Some(cidr.to_string());
        self
    }

    /// No `--allow-network`: the production guard, which refuses even the suite's own
    /// servers.
    pub fn production_guard(mut self) -> Launch {
        self.allow_network = None;
        self
    }

    /// One more environment variable; a later one of the same name wins.
    pub fn env(mut self, name: &str, value: &str) -> Launch {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    pub fn envs(self, vars: &[(&str, &str)]) -> Launch {
        vars.iter().fold(self, |l, (k, v)| l.env(k, v))
    }
}

/// One data directory and the fixtures its processes talk to.
pub struct Site {
    dir: tempfile::TempDir,
    pub ca: peakreel_testkit::TestCa,
    ca_file: PathBuf,
    images: peakreel_testkit::Server,
    pub client: reqwest::Client,
    launched: AtomicUsize,
    /// `--database-url` of every process and admin command; `None`: SQLite in `dir`.
    database_url: Option<String>,
}

/// One `peakreel` process on a site. It keeps its site alive: the data directory goes
/// only after the last process on it is dead.
pub struct Proc {
    site: Arc<Site>,
    child: Child,
    name: String,
    /// `http://addr`, for a process that serves the API.
    base: Option<String>,
    log: PathBuf,
}

impl std::ops::Deref for Proc {
    type Target = Site;

    fn deref(&self) -> &Site {
        &self.site
    }
}

impl Site {
    /// A site whose image server listens on 127.0.0.1.
    pub async fn new() -> Arc<Site> {
        Site::with_images_on([127, 0, 0, 1]).await
    }

    /// A site whose image server listens on `ip` (a test that narrows the SSRF guard to
    /// that one address).
    pub async fn with_images_on(ip: [u8; 4]) -> Arc<Site> {
        Site::build(ip, None).await
    }

    /// A site whose processes and admin commands use the PostgreSQL database at `url`.
    pub async fn on_database(url: &str) -> Arc<Site> {
        Site::build([127, 0, 0, 1], Some(url.to_string())).await
    }

    async fn build(ip: [u8; 4], database_url: Option<String>) -> Arc<Site> {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = peakreel_testkit::make_ca();
        let ca_file = dir.path().join("test-ca.pem");
        std::fs::write(&ca_file, &ca.ca_pem).expect("write CA");
        let images = peakreel_testkit::start_server(ip.into(), &ca).await;
        let photo = bytes::Bytes::from(peakreel_testkit::photo_jpeg("generated-landscape.jpg"));
        let paths = (0..IMAGE_ROUTES).map(|i| format!("/listing/{i}.jpg"));
        for path in paths.chain(["/logo.jpg".to_string()]) {
            images.route(
                &path,
                peakreel_testkit::Reply::Full {
                    status: 200,
                    content_type: "image/jpeg",
                    body: photo.clone(),
                },
            );
        }
        // Generous: renders on a loaded 2-core machine slow every answer down.
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        Arc::new(Site {
            dir,
            ca,
            ca_file,
            images,
            client,
            launched: AtomicUsize::new(0),
            database_url,
        })
    }

    /// Start a process and wait until it is ready: it printed the address it serves on,
    /// or that its workers run.
    pub async fn launch(self: &Arc<Site>, launch: Launch) -> Proc {
        let (mut cmd, name, log) = self.command(&launch);
        let mut child = cmd.spawn().expect("spawn peakreel");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("peakreel listening on http://") {
                    let _ = tx.send(Some(format!("http://{}", addr.trim())));
                    break;
                }
                if line.starts_with("peakreel worker running") {
                    let _ = tx.send(None);
                    break;
                }
            }
            // Keep draining so the child never blocks on a full pipe.
            for _ in lines {}
        });
        let ready = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(90)))
            .await
            .expect("join");
        let mut proc = Proc {
            site: self.clone(),
            child,
            name,
            base: None,
            log,
        };
        match ready {
            Ok(base) => {
                proc.base = base;
                proc
            }
            Err(_) => {
                let log = proc.log();
                drop(proc);
                panic!("peakreel {} did not become ready; log:\n{log}", launch.role);
            }
        }
    }

    fn database_args(&self, cmd: &mut Command) {
        if let Some(url) = &self.database_url {
            cmd.args(["--database-url", url]);
        }
    }

    /// Start a process that must fail to start: it exits, non-zero, within `limit`
    /// without ever becoming ready. Returns its exit code and what it wrote on stderr.
    pub async fn launch_fails(self: &Arc<Site>, launch: Launch, limit: Duration) -> (i32, String) {
        let (cmd, name, log) = self.command(&launch);
        let mut child = tokio::process::Command::from(cmd)
            .spawn()
            .expect("spawn peakreel");
        let status = tokio::time::timeout(limit, child.wait()).await;
        let stderr = std::fs::read_to_string(&log).unwrap_or_default();
        let Ok(status) = status else {
            let _ = child.kill().await;
            panic!("{name} still running after {limit:?}; log:\n{stderr}");
        };
        let code = status.expect("wait").code();
        assert!(
            code.is_some_and(|c| c != 0),
            "{name} exited {code:?}; log:\n{stderr}"
        );
        (code.unwrap_or_default(), stderr)
    }

    /// The command line and environment of one process on this site, its name and the
    /// file its stderr goes to.
    fn command(&self, launch: &Launch) -> (Command, String, PathBuf) {
        let n = self.launched.fetch_add(1, Ordering::SeqCst);
        let name = format!("{}{n}", launch.role);
        let log = self.dir.path().join(format!("{name}.log"));
        // Scratch files of renders (and of renders a test kills) stay inside the data
        // directory, removed with it.
        let tmp = self.dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).expect("tmp dir");
        let mut cmd = Command::new(BIN);
        clean_env(&mut cmd);
        cmd.arg(launch.role)
            .arg("--data-dir")
            .arg(self.dir.path())
            // A worker binds nothing, but its default public URL is made from this.
            .args(["--listen", "127.0.0.1:0"]);
        self.database_args(&mut cmd);
        if let Some(n) = launch.workers {
            cmd.args(["--workers", &n.to_string()]);
        }
        if let Some(cidr) = &launch.allow_network {
            cmd.args(["--allow-network", cidr]);
        }
        cmd.env("SSL_CERT_FILE", &self.ca_file)
            // Far above anything a test sends, unless the test sets its own quota.
            .env("PEAKREEL__LIMITS__RATE_PER_SECOND", "1000")
            .env("PEAKREEL__LIMITS__RATE_BURST", "2000")
            .env("PEAKREEL_LOG", "info")
            .env("TMPDIR", &tmp)
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&log).expect("log file")))
            // Its own process group: signals reach its ffmpeg and speech children too.
            .process_group(0);
        (cmd, name, log)
    }

    /// The local HTTPS image server, to register more routes (`images().route(..)`).
    pub fn images(&self) -> &peakreel_testkit::Server {
        &self.images
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("peakreel.db")
    }

    /// The logs of every process the site started, for failures whose cause may be in
    /// another process than the one a test was talking to.
    pub fn logs(&self) -> String {
        let mut logs: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        logs.retain(|p| p.extension().is_some_and(|e| e == "log"));
        logs.sort();
        logs.iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).unwrap_or_default();
                format!("--- {}\n{text}", p.display())
            })
            .collect()
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

    /// GET an absolute URL without any key (signed file URLs).
    pub async fn get_url(&self, url: &str, range: Option<&str>) -> Resp {
        let mut rb = self.client.get(url);
        if let Some(range) = range {
            rb = rb.header("range", range);
        }
        self.send(rb).await
    }

    // ----- admin CLI, sqlite3 -----

    /// Run `peakreel admin ARGS --data-dir DIR`.
    pub async fn admin(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = Command::new(BIN);
        clean_env(&mut cmd);
        cmd.arg("admin")
            .args(args)
            .arg("--data-dir")
            .arg(self.dir.path())
            .env("PEAKREEL_LOG", "warn");
        self.database_args(&mut cmd);
        tokio::process::Command::from(cmd)
            .output()
            .await
            .expect("run peakreel admin")
    }

    /// Run an admin command that must succeed; returns its stdout.
    pub async fn admin_ok(&self, args: &[&str]) -> String {
        let out = self.admin(args).await;
        assert!(
            out.status.success(),
            "peakreel admin {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// An admin command that must succeed and print JSON.
    pub async fn admin_json(&self, args: &[&str]) -> Value {
        let text = self.admin_ok(args).await;
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
    }

    pub async fn create_account(&self, plan: &str, credits: i64) -> String {
        let v = self
            .admin_json(&[
                "account",
                "create",
                "--name",
                "it",
                "--plan",
                plan,
                "--credits",
                &credits.to_string(),
                "--json",
            ])
            .await;
        v["account_id"].as_str().expect("account_id").to_string()
    }

    pub async fn create_key(&self, account: &str, mode: &str, extra: &[&str]) -> Key {
        let mut args = vec![
            "key",
            "create",
            "--account",
            account,
            "--mode",
            mode,
            "--json",
        ];
        args.extend_from_slice(extra);
        let v = self.admin_json(&args).await;
        Key {
            id: v["key_id"].as_str().expect("key_id").to_string(),
            key: v["key"].as_str().expect("key").to_string(),
            webhook_secret: v["webhook_secret"].as_str().expect("secret").to_string(),
        }
    }

    /// An account on `plan` with `credits`, and one live and one test key.
    pub async fn account(&self, plan: &str, credits: i64) -> Acct {
        let id = self.create_account(plan, credits).await;
        let (live, test) = futures::join!(
            self.create_key(&id, "live", &[]),
            self.create_key(&id, "test", &[])
        );
        Acct { id, live, test }
    }

    /// Run SQL with the `sqlite3` tool on the site's database (waiting up to 10 s for
    /// locks); returns stdout trimmed.
    pub async fn sql(&self, sql: &str) -> String {
        let out = self.sqlite3(10_000, sql).await;
        assert!(
            out.status.success(),
            "sqlite3 {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Run SQL with the `sqlite3` tool, waiting up to `timeout_ms` for locks, whatever
    /// comes of it.
    pub async fn sqlite3(&self, timeout_ms: u32, sql: &str) -> std::process::Output {
        tokio::process::Command::new("sqlite3")
            .arg("-cmd")
            .arg(format!(".timeout {timeout_ms}"))
            .arg(self.db_path())
            .arg(sql)
            .output()
            .await
            .expect("run sqlite3")
    }
}

/// The test run's own `PEAKREEL*` settings must not leak into the processes under test.
fn clean_env(cmd: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PEAKREEL") {
            cmd.env_remove(name);
        }
    }
}

impl Proc {
    /// The site this process runs on, to start more processes beside it.
    pub fn site(&self) -> &Arc<Site> {
        &self.site
    }

    /// `http://addr` of the API this process serves.
    pub fn base(&self) -> &str {
        self.base
            .as_deref()
            .unwrap_or_else(|| panic!("{} serves no API", self.name))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    // ----- HTTP -----

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> Resp {
        let mut rb = self.request(Method::GET, path);
        if let Some(key) = key {
            rb = rb.bearer_auth(key);
        }
        self.send(rb).await
    }

    pub async fn post(&self, path: &str, key: &str, body: &Value) -> Resp {
        self.post_raw(path, key, body.to_string().into_bytes())
            .await
    }

    /// POST bytes as `application/json`.
    pub async fn post_raw(&self, path: &str, key: &str, body: Vec<u8>) -> Resp {
        let rb = self
            .request(Method::POST, path)
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body);
        self.send(rb).await
    }

    /// Send the head of a raw HTTP/1.1 request (`head` without the blank line) and no body
    /// bytes, then read the answer. For answers the server gives before reading a body
    /// (an oversized declared `Content-Length`): sending the body would race the server's
    /// close and lose the answer to a connection reset.
    pub async fn raw_head(&self, head: &str) -> Resp {
        let addr = self.base().trim_start_matches("http://").to_string();
        let head = format!("{}\r\n\r\n", head.trim_end());
        tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut conn = std::net::TcpStream::connect(&addr).expect("connect");
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            conn.write_all(head.as_bytes()).expect("write head");
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                if let Some(resp) = parse_response(&buf) {
                    return resp;
                }
                match conn.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) => panic!(
                        "reading the answer: {e}; got {:?}",
                        String::from_utf8_lossy(&buf)
                    ),
                }
            }
            parse_response(&buf)
                .unwrap_or_else(|| panic!("incomplete answer {:?}", String::from_utf8_lossy(&buf)))
        })
        .await
        .expect("raw request")
    }

    /// Create a task and insist on 202; returns the body.
    pub async fn create_ok(&self, path: &str, key: &str, body: &Value) -> Value {
        let r = self.post(path, key, body).await;
        assert_eq!(r.status, 202, "create failed: {}", r.json);
        r.json
    }

    /// Create a narrated slideshow and insist on 202; returns the task id and the body.
    pub async fn create(&self, key: &str, body: &Value) -> (String, Value) {
        let created = self.create_ok(SLIDESHOW, key, body).await;
        let id = created["task_id"].as_str().expect("task_id").to_string();
        (id, created)
    }

    /// `GET /v1/tasks/{id}`, insisting on 200.
    pub async fn task(&self, key: &str, id: &str) -> Value {
        let r = self.get(&format!("/v1/tasks/{id}"), Some(key)).await;
        assert_eq!(r.status, 200, "GET task {id}: {}", r.json);
        r.json
    }

    /// Poll the task until its status is `completed` or `failed`.
    pub async fn wait_done(&self, key: &str, id: &str, limit: Duration) -> Value {
        let start = Instant::now();
        loop {
            let t = self.task(key, id).await;
            if matches!(t["status"].as_str(), Some("completed" | "failed")) {
                return t;
            }
            assert!(
                start.elapsed() < limit,
                "task {id} still {} after {limit:?}: {t}\nlogs:\n{}",
                t["status"],
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    // ----- the process -----

    pub fn pid(&self) -> u32 {
        self.child.id()
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

    /// `kill -9` of the process alone: no shutdown, no lease released.
    pub fn kill9(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap");
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
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until the log contains one of `needles`; returns the one found.
    pub async fn wait_log(&self, needles: &[&str], limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let log = self.log();
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

/// A complete HTTP/1.1 answer with a `Content-Length` body, if `buf` holds one.
fn parse_response(buf: &[u8]) -> Option<Resp> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        headers.append(
            reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()).ok()?,
            reqwest::header::HeaderValue::from_str(value.trim()).ok()?,
        );
    }
    let len: usize = headers.get("content-length")?.to_str().ok()?.parse().ok()?;
    let body = buf.get(end + 4..end + 4 + len)?.to_vec();
    Some(Resp {
        status,
        headers,
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        bytes: body,
    })
}
