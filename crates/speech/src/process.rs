//! The one door to external programs (design.md principle 5). ffmpeg, ffprobe, espeak-ng
//! and piper all run through [`Cmd`], so every run gets the same guarantees:
//!
//! - a timeout that kills the whole process group, not only the direct child (piper is a
//!   Python launcher; ffmpeg may spawn helpers), then reaps it;
//! - the group is also killed when the future is dropped (a cancelled render must not leave
//!   an encoder burning the CPU);
//! - the last [`STDERR_TAIL`] bytes of stderr travel with every error;
//! - a process-wide semaphore sized to the cores bounds how many programs run at once.
//!
//! It lives in the speech crate because both speech and media need it and media already
//! depends on speech; `peakreel_media::process` re-exports it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::Semaphore;

/// How much of a failing program's stderr is kept for the error message.
pub const STDERR_TAIL: usize = 4096;

/// Why a supervised program did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("could not start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} did not finish within {:.1} s and was killed; stderr: {stderr_tail}", timeout.as_secs_f64())]
    Timeout {
        program: String,
        timeout: Duration,
        stderr_tail: String,
    },
    #[error("{program} failed ({status}); stderr: {stderr_tail}")]
    Failed {
        program: String,
        status: String,
        stderr_tail: String,
    },
    #[error("i/o error while talking to {program}: {source}")]
    Io {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

impl ProcessError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, ProcessError::Timeout { .. })
    }

    /// The kept stderr bytes, empty when the program never started.
    pub fn stderr_tail(&self) -> &str {
        match self {
            ProcessError::Timeout { stderr_tail, .. }
            | ProcessError::Failed { stderr_tail, .. } => stderr_tail,
            _ => "",
        }
    }
}

/// What a successful run produced.
#[derive(Debug, Default)]
pub struct ProcOutput {
    pub stdout: Vec<u8>,
    pub stderr_tail: String,
    pub elapsed: Duration,
}

/// One of the door's slots, for work done by a program that was started earlier and
/// kept running (a warm Piper). `None` if none frees up before `deadline`.
pub async fn slot(deadline: Instant) -> Option<tokio::sync::OwnedSemaphorePermit> {
    tokio::time::timeout_at(deadline.into(), semaphore().acquire_owned())
        .await
        .ok()?
        .ok()
}

fn semaphore() -> Arc<Semaphore> {
    static SEM: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SEM.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Arc::new(Semaphore::new(cores))
    })
    .clone()
}

/// A program invocation. Build it, then [`Cmd::run`], [`Cmd::run_lines`] or
/// [`Cmd::run_records`].
#[derive(Debug, Clone)]
pub struct Cmd {
    program: PathBuf,
    args: Vec<OsString>,
    timeout: Duration,
    stdin: Option<Vec<u8>>,
    cwd: Option<PathBuf>,
    envs: Vec<(OsString, OsString)>,
}

impl Cmd {
    /// A command with a default timeout of ten minutes; callers with a deadline should set
    /// a tighter one.
    pub fn new(program: impl AsRef<Path>) -> Self {
        Cmd {
            program: program.as_ref().to_path_buf(),
            args: Vec::new(),
            timeout: Duration::from_secs(600),
            stdin: None,
            cwd: None,
            envs: Vec::new(),
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time left until `deadline` (at least a millisecond, so an expired deadline still
    /// yields a prompt `Timeout` rather than a panic).
    pub fn deadline(self, deadline: Instant) -> Self {
        let left = deadline.saturating_duration_since(Instant::now());
        self.timeout(left.max(Duration::from_millis(1)))
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    pub fn program_name(&self) -> String {
        self.program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.program.display().to_string())
    }

    /// Run to completion, collecting stdout.
    pub async fn run(self) -> Result<ProcOutput, ProcessError> {
        self.run_inner(Stdout::Collect).await
    }

    /// Run to completion, handing every stdout line to `on_line` as it arrives (used for
    /// ffmpeg's `-progress pipe:1`). Stdout is not collected.
    pub async fn run_lines(
        self,
        on_line: &mut (dyn FnMut(&str) + Send),
    ) -> Result<ProcOutput, ProcessError> {
        self.run_inner(Stdout::Lines(on_line)).await
    }

    /// Run to completion, handing stdout to `on_record` in records of exactly `len` bytes
    /// (raw video frames, say) as each one is complete, so a long output never has to be
    /// held whole. Trailing bytes short of a record are dropped. Stdout is not collected.
    pub async fn run_records(
        self,
        len: usize,
        on_record: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<ProcOutput, ProcessError> {
        self.run_inner(Stdout::Records(len.max(1), on_record)).await
    }

    async fn run_inner(self, on_stdout: Stdout<'_>) -> Result<ProcOutput, ProcessError> {
        let program = self.program_name();
        let started = Instant::now();
        let deadline = started + self.timeout;
        // Waiting for a permit counts against the timeout: a render that cannot even start
        // in time has timed out as far as its caller is concerned.
        let sem = semaphore();
        let _permit = match tokio::time::timeout_at(deadline.into(), sem.acquire_owned()).await {
            Ok(p) => p.expect("the semaphore is never closed"),
            Err(_) => {
                return Err(ProcessError::Timeout {
                    program,
                    timeout: self.timeout,
                    stderr_tail: "(still waiting for a free process slot)".into(),
                })
            }
        };

        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&self.args)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // A fresh process group, so a timeout or a drop can kill grandchildren too.
            .process_group(0);
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|source| ProcessError::Spawn {
            program: program.clone(),
            source,
        })?;
        let mut group = GroupGuard {
            pgid: child.id().map(|id| id as i32),
        };

        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let input = self.stdin;

        let work = async {
            let feed = async {
                if let (Some(mut pipe), Some(bytes)) = (stdin, input) {
                    // A program that exits early closes its stdin; that is its business,
                    // and its exit status tells the story.
                    let _ = pipe.write_all(&bytes).await;
                    let _ = pipe.shutdown().await;
                }
            };
            let (_, out, err, status) = tokio::join!(
                feed,
                read_stdout(stdout, on_stdout),
                read_tail(stderr),
                child.wait()
            );
            (out, err, status)
        };

        match tokio::time::timeout_at(deadline.into(), work).await {
            Err(_) => {
                group.kill();
                let _ = child.wait().await;
                Err(ProcessError::Timeout {
                    program,
                    timeout: self.timeout,
                    stderr_tail: String::new(),
                })
            }
            Ok((out, err, status)) => {
                let status = status.map_err(|source| ProcessError::Io {
                    program: program.clone(),
                    source,
                })?;
                // The leader is reaped; anything left in its group is an orphan to clear.
                group.kill();
                let stdout = out.map_err(|source| ProcessError::Io {
                    program: program.clone(),
                    source,
                })?;
                let stderr_tail = err;
                if status.success() {
                    Ok(ProcOutput {
                        stdout,
                        stderr_tail,
                        elapsed: started.elapsed(),
                    })
                } else {
                    Err(ProcessError::Failed {
                        program,
                        status: status.to_string(),
                        stderr_tail,
                    })
                }
            }
        }
    }
}

/// Kills the process group when the run ends in any way, including a dropped future.
struct GroupGuard {
    pgid: Option<i32>,
}

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // SAFETY: killpg has no memory-safety preconditions; a stale group id yields
            // ESRCH, which is ignored.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a run does with the program's standard output.
enum Stdout<'a> {
    Collect,
    Lines(&'a mut (dyn FnMut(&str) + Send)),
    Records(usize, &'a mut (dyn FnMut(&[u8]) + Send)),
}

async fn read_stdout(
    mut stdout: impl AsyncRead + Unpin,
    use_: Stdout<'_>,
) -> std::io::Result<Vec<u8>> {
    match use_ {
        Stdout::Collect => {
            let mut buf = Vec::new();
            stdout.read_to_end(&mut buf).await?;
            Ok(buf)
        }
        Stdout::Lines(f) => {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(line) = lines.next_line().await? {
                f(&line);
            }
            Ok(Vec::new())
        }
        Stdout::Records(len, f) => {
            let mut record = vec![0u8; len];
            loop {
                match stdout.read_exact(&mut record).await {
                    Ok(_) => f(&record),
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(e),
                }
            }
            Ok(Vec::new())
        }
    }
}

/// Reads stderr to the end, keeping only the last `STDERR_TAIL` bytes so a chatty program
/// cannot grow memory without bound.
async fn read_tail(mut stderr: impl AsyncRead + Unpin) -> String {
    let mut tail: Vec<u8> = Vec::with_capacity(STDERR_TAIL * 2);
    let mut chunk = [0u8; 8192];
    loop {
        match stderr.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                tail.extend_from_slice(&chunk[..n]);
                if tail.len() > STDERR_TAIL * 2 {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
            }
        }
    }
    if tail.len() > STDERR_TAIL {
        tail.drain(..tail.len() - STDERR_TAIL);
    }
    String::from_utf8_lossy(&tail).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn collects_stdout_and_succeeds() {
        let out = Cmd::new("sh")
            .args(["-c", "echo hello"])
            .run()
            .await
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello");
    }

    #[tokio::test]
    async fn failure_carries_the_end_of_stderr() {
        // 10 000 lines of noise, then the real cause: only the tail must survive.
        let script = "i=0; while [ $i -lt 10000 ]; do echo noise-$i >&2; i=$((i+1)); done; echo the-real-cause >&2; exit 3";
        let err = Cmd::new("sh").args(["-c", script]).run().await.unwrap_err();
        match &err {
            ProcessError::Failed {
                status,
                stderr_tail,
                ..
            } => {
                assert!(status.contains('3'), "{status}");
                assert!(stderr_tail.ends_with("the-real-cause"), "{stderr_tail}");
                assert!(stderr_tail.len() <= STDERR_TAIL);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild.pid");
        // The grandchild writes its pid and sleeps; the timeout must take it down too.
        let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let started = Instant::now();
        let err = Cmd::new("sh")
            .args(["-c", &script])
            .timeout(Duration::from_millis(500))
            .run()
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // A killed orphan may linger as a zombie until init reaps it; that is dead too.
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z") && !s.contains(") X"))
            .unwrap_or(false);
        assert!(!alive, "grandchild {pid} survived the timeout");
    }

    #[tokio::test]
    async fn missing_program_is_a_spawn_error() {
        let err = Cmd::new("/nonexistent/peakreel-no-such-program")
            .run()
            .await
            .unwrap_err();
        assert!(matches!(err, ProcessError::Spawn { .. }));
    }

    #[tokio::test]
    async fn lines_are_streamed_and_stdin_is_fed() {
        let mut seen = Vec::new();
        Cmd::new("cat")
            .stdin("a\nb\nc\n")
            .run_lines(&mut |l| seen.push(l.to_string()))
            .await
            .unwrap();
        assert_eq!(seen, ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn records_arrive_whole_and_a_short_tail_is_dropped() {
        let mut seen = Vec::new();
        // 10 bytes in records of 4: two whole records, two bytes left over.
        Cmd::new("cat")
            .stdin("abcdefghij")
            .run_records(4, &mut |r| {
                seen.push(String::from_utf8_lossy(r).into_owned())
            })
            .await
            .unwrap();
        assert_eq!(seen, ["abcd", "efgh"]);
    }
}
