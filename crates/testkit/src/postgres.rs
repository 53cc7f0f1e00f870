//! A throwaway PostgreSQL server for tests and benchmarks: Debian's `postgresql`
//! binaries, a cluster in a temporary directory, a free loopback port, the socket in the
//! same directory. A missing installation panics with what to install; nothing is
//! skipped.
//!
//! `initdb` refuses to run as root, so as root every server command runs as the
//! `postgres` user (`runuser`) on a directory owned by that user. A watchdog process
//! stops the server and removes the directory when the test process exits, however it
//! exits, so even the process-wide [`Postgres::shared`] instance never outlives its tests.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The superuser of every throwaway cluster (trust authentication on loopback only).
pub const SUPERUSER: &str = "peakreel";

pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    options: Vec<String>,
}

/// Settings for a server whose durability across an OS crash does not matter: no disk
/// flushes. Commits stay synchronous, so a server stopped with `-m immediate` (as the
/// outage tests do) keeps every acknowledged transaction.
pub const TEST_OPTIONS: &[&str] = &["fsync=off", "full_page_writes=off"];

static NEXT_DB: AtomicU64 = AtomicU64::new(0);

impl Postgres {
    /// One server for the whole test process (started on first use).
    pub fn shared() -> &'static Postgres {
        static SHARED: OnceLock<Postgres> = OnceLock::new();
        SHARED.get_or_init(|| Postgres::start(TEST_OPTIONS))
    }

    /// A server of its own (stopped and removed when dropped), with `options` as
    /// `name=value` server settings.
    pub fn start(options: &[&str]) -> Postgres {
        let bin = server_bin_dir();
        let as_postgres = is_root();
        // As root the server runs as `postgres`, which must be able to reach the
        // directory: `/tmp` itself, not a private `TMPDIR` (often mode 0700).
        let base = if as_postgres {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!(
            "peakreel-pg-{}-{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the PostgreSQL directory");
        let pg = Postgres {
            dir,
            bin,
            port: 0,
            as_postgres,
            options: options.iter().map(|s| s.to_string()).collect(),
        };
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&pg.dir)
                .status()
                .expect("run chown");
            assert!(status.success(), "chown of {} failed", pg.dir.display());
        }
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data().to_string_lossy(),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        pg.spawn_watchdog();
        let mut pg = pg;
        pg.port = free_port();
        pg.resume();
        pg
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL of the database `name` for the superuser.
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@127.0.0.1:{}/{name}?connect_timeout=5",
            self.port
        )
    }

    /// Create an empty database and return its URL: one per test keeps tests apart.
    pub fn fresh_database(&self) -> String {
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        );
        self.sql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// Run SQL with `psql` in `database`; panics with psql's message on failure.
    /// Returns the output as unaligned rows.
    pub fn sql(&self, database: &str, sql: &str) -> String {
        let out = self.try_sql(database, sql);
        match out {
            Ok(text) => text,
            Err(e) => panic!("psql failed on `{sql}`: {e}"),
        }
    }

    /// Like [`Postgres::sql`], returning psql's error message instead of panicking.
    pub fn try_sql(&self, database: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", SUPERUSER, "-d", database, "-c", sql])
            .output()
            .expect("run psql");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    /// Stop the server at once (as a crash or a lost network would look to clients).
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    /// Start the (stopped) server again on the same port.
    pub fn resume(&self) {
        let mut opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300",
            self.port,
            self.dir.display()
        );
        for o in &self.options {
            opts.push_str(&format!(" -c {o}"));
        }
        let log = self.dir.join("server.log");
        let ok = self.try_run(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-o",
                &opts,
                "-l",
                &log.to_string_lossy(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        if !ok {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("PostgreSQL did not start on port {}:\n{log}", self.port);
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn try_run(&self, program: &str, args: &[&str]) -> bool {
        self.command(program)
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
            .success()
    }

    fn run(&self, program: &str, args: &[&str]) {
        assert!(self.try_run(program, args), "{program} {args:?} failed");
    }

    /// A shell that waits for this process to end, then stops the server and removes
    /// its directory.
    // Never waited for on purpose: it must outlive this process (init reaps it).
    #[allow(clippy::zombie_processes)]
    fn spawn_watchdog(&self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = if self.as_postgres {
            format!("runuser -u postgres -- {}", pg_ctl.display())
        } else {
            pg_ctl.display().to_string()
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {stop} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            data = self.data().display(),
            dir = self.dir.display()
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the PostgreSQL watchdog");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.try_run(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `PEAKREEL_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin` with `initdb`.
fn server_bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PEAKREEL_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    found.sort_by_key(|p| version_of(p));
    found.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: install \
             Debian's `postgresql` package (scripts/install-deps.sh does) or set PEAKREEL_PG_BIN"
        )
    })
}

fn version_of(bin: &Path) -> u32 {
    bin.parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
