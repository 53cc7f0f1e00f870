//! A real S3-compatible server for tests: moto in server mode (PyPI `moto[server]`,
//! installed by `scripts/install-deps.sh` into its own virtualenv) on a free loopback
//! port, one server per test and fresh buckets in it. Buckets are made and listed with
//! boto3 (installed with moto), an S3 client independent of the code under test.
//!
//! A missing moto fails the test that needs it, with the command that installs it:
//! nothing is skipped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The credentials and region every test server is used with (moto accepts any).
pub const ACCESS_KEY_ID: &str = "peakreel-test";
pub const SECRET_ACCESS_KEY: &str = "peakreel-test-secret";
pub const REGION: &str = "us-east-1";

/// `moto_server`: `PEAKREEL_MOTO_SERVER`, else the virtualenv install-deps.sh makes
/// (`PEAKREEL_MOTO_VENV`, default `~/.local/share/peakreel/moto-venv`), else `PATH`.
pub fn moto_program() -> PathBuf {
    if let Some(p) = std::env::var_os("PEAKREEL_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let venv = std::env::var_os("PEAKREEL_MOTO_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".local/share/peakreel/moto-venv"))
        });
    if let Some(program) = venv.map(|v| v.join("bin/moto_server")) {
        if program.is_file() {
            return program;
        }
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("moto_server"))
            .find(|p| p.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "moto_server (PyPI moto[server]) is not installed: the S3 tests need it. \
             Run ./scripts/install-deps.sh, or set PEAKREEL_MOTO_SERVER"
        )
    })
}

/// The Python beside `moto_server` (its virtualenv's, with boto3).
fn python_beside(program: &Path) -> PathBuf {
    let beside = program.with_file_name("python3");
    if beside.is_file() {
        beside
    } else {
        PathBuf::from("python3")
    }
}

/// One running moto server; killed when dropped.
pub struct S3Server {
    program: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl S3Server {
    /// Start a server on a free loopback port and wait until it listens.
    pub async fn start() -> S3Server {
        let program = moto_program();
        let (child, port) = spawn(&program, 0).await;
        S3Server {
            program,
            port,
            child: Some(child),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `AWS_*` variables that point a client at this server (path-style requests
    /// over plain HTTP, fixed test credentials).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_string()),
            ("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "false".to_string()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_string()),
            ("AWS_REGION", REGION.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Create a bucket with a name no other test uses; returns the name.
    pub async fn create_bucket(&self) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "peakreel-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        self.create_bucket_named(&name).await;
        name
    }

    /// Create the bucket `name` (again, after a restart).
    pub async fn create_bucket_named(&self, name: &str) {
        self.boto(&format!("s3.create_bucket(Bucket={name:?})"))
            .await;
    }

    pub async fn delete_object(&self, bucket: &str, key: &str) {
        self.boto(&format!("s3.delete_object(Bucket={bucket:?}, Key={key:?})"))
            .await;
    }

    /// Every object under `prefix` in `bucket` as `(key, size)`, sorted, as boto3 lists
    /// them.
    pub async fn objects(&self, bucket: &str, prefix: &str) -> Vec<(String, u64)> {
        let out = self
            .boto(&format!(
                "pages = s3.get_paginator('list_objects_v2').paginate(Bucket={bucket:?}, Prefix={prefix:?})\n\
                 for page in pages:\n    \
                     for o in page.get('Contents', []):\n        \
                         print(o['Size'], o['Key'])"
            ))
            .await;
        let mut found: Vec<(String, u64)> = out
            .lines()
            .filter_map(|l| {
                let (size, key) = l.split_once(' ')?;
                Some((key.to_string(), size.parse().ok()?))
            })
            .collect();
        found.sort();
        found
    }

    /// The bytes of one object, fetched by boto3.
    pub async fn object(&self, bucket: &str, key: &str) -> Vec<u8> {
        let hex = self
            .boto(&format!(
                "print(s3.get_object(Bucket={bucket:?}, Key={key:?})['Body'].read().hex())"
            ))
            .await;
        (0..hex.trim().len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex.trim()[i..i + 2], 16).expect("hex from boto3"))
            .collect()
    }

    /// Kill the server (a store that went down). Its buckets are gone with it: moto
    /// keeps them in memory.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start it again on the same port (empty: create the buckets again).
    pub async fn restart(&mut self) {
        self.stop();
        let (child, _) = spawn(&self.program, self.port).await;
        self.child = Some(child);
    }

    /// Run a boto3 snippet against this server with `s3` bound to a client; returns
    /// stdout, panicking with stderr when it fails.
    async fn boto(&self, body: &str) -> String {
        let script = format!(
            "import boto3\n\
             s3 = boto3.client('s3', endpoint_url={endpoint:?}, region_name={REGION:?}, \
             aws_access_key_id={ACCESS_KEY_ID:?}, aws_secret_access_key={SECRET_ACCESS_KEY:?})\n\
             {body}\n",
            endpoint = self.endpoint()
        );
        let out = tokio::process::Command::new(python_beside(&self.program))
            .arg("-c")
            .arg(&script)
            .output()
            .await
            .expect("run boto3");
        assert!(
            out.status.success(),
            "boto3 failed:\n{script}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Start `moto_server` on `port` (0: any free one) and wait for the address it prints.
async fn spawn(program: &Path, port: u16) -> (Child, u16) {
    let mut child = Command::new(program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            if let Some(port) = line
                .split("Running on http://127.0.0.1:")
                .nth(1)
                .and_then(|p| p.trim().parse::<u16>().ok())
            {
                let _ = tx.send(Ok(port));
                break;
            }
            seen.push(line);
        }
        let _ = tx.send(Err(seen.join("\n")));
        // Keep draining: moto logs every request, and a full pipe would stall it.
        for _ in lines {}
    });
    let ready = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
        .await
        .expect("join");
    match ready {
        Ok(Ok(port)) => (child, port),
        other => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("moto_server did not start: {other:?}");
        }
    }
}
