//! Piper kept running between narrations.
//!
//! Starting Piper (Python, then the ONNX model, then the first inference's warm-up) costs
//! about 0.65 s of a 1.5 s narration of five sentences. A worker renders one task after
//! another, so from a voice's second narration on it keeps a Piper process for its model
//! and speed ready: Piper 1.8 reads one sentence per stdin line and logs `Wrote <file>` on
//! stderr when the sentence's WAV is complete. A narration only ever uses a warm process that is idle and healthy; in any
//! other case (none yet, busy with another render, died) the caller runs Piper once as
//! before, so this can make narration faster but never less reliable. A warm process that
//! misbehaves is killed and replaced in the background.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdin};

use crate::engines::Launcher;

/// Warm processes kept at most (each holds its model: about 150 MB).
const MAX_WARM: usize = 2;
/// Speeds and models remembered as used once, so that the second narration with one
/// starts a process: a voice used once (a preview, say) is not worth a warm process,
/// and warming every voice a server previews at start-up would fight its first tasks
/// for the CPU.
const REMEMBERED: usize = 32;
/// Starting and warming up a process must finish within this.
const START_LIMIT: Duration = Duration::from_secs(60);

/// Which process can speak a narration: the model file and the speed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WarmKey {
    pub model: PathBuf,
    /// `--length-scale` in thousandths.
    pub length_scale_milli: u32,
}

type Slot = Arc<tokio::sync::Mutex<Option<WarmPiper>>>;

/// The warm processes of one engine.
#[derive(Default)]
pub(crate) struct WarmPool {
    slots: Mutex<VecDeque<(WarmKey, Slot)>>,
    used_once: Mutex<VecDeque<WarmKey>>,
}

impl std::fmt::Debug for WarmPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.slots.lock().map_or(0, |s| s.len());
        write!(f, "WarmPool({n} slots)")
    }
}

impl WarmPool {
    /// Speaks `sentences` with an idle warm process for `key`, writing `piper-NNN.wav`
    /// files into `dir`. `None` means no warm process could do it (the caller runs Piper
    /// itself); a process is then started in the background for next time.
    pub(crate) async fn speak(
        &self,
        program: &Launcher,
        key: &WarmKey,
        sentences: &[String],
        dir: &Path,
        deadline: Instant,
    ) -> Option<Vec<PathBuf>> {
        let slot = self.slot_if_wanted(program, key)?;
        let mut guard = slot.try_lock().ok()?;
        if guard.as_ref().is_some_and(|w| w.interrupted) {
            // A narration was dropped halfway (time limit, cancelled task): the process
            // may still owe it a file, so it cannot be trusted with this one.
            *guard = None;
            drop(guard);
            self.restart(program, key, &slot);
            return None;
        }
        let warm = guard.as_mut()?;
        // Speaking is work like any other program's: it takes a slot of the process door.
        let _permit = crate::process::slot(deadline).await?;
        match warm.speak_all(sentences, dir, deadline).await {
            Ok(files) => Some(files),
            Err(_) => {
                // Killed (dropped) and replaced; this narration falls back to a cold run.
                *guard = None;
                drop(guard);
                self.restart(program, key, &slot);
                None
            }
        }
    }

    /// The slot for `key` if it has one, or if this is the key's second narration (then
    /// the slot is made and its process started; this narration runs Piper itself).
    fn slot_if_wanted(&self, program: &Launcher, key: &WarmKey) -> Option<Slot> {
        let known = {
            let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.iter().any(|(k, _)| k == key)
        };
        if !known {
            let mut once = self.used_once.lock().unwrap_or_else(|p| p.into_inner());
            match once.iter().position(|k| k == key) {
                Some(i) => {
                    once.remove(i);
                }
                None => {
                    once.push_back(key.clone());
                    if once.len() > REMEMBERED {
                        once.pop_front();
                    }
                    return None;
                }
            }
        }
        Some(self.slot(program, key))
    }

    /// The slot for `key`, created (and its process started) when missing. The oldest
    /// slot goes when there are too many; its process ends once no narration uses it.
    fn slot(&self, program: &Launcher, key: &WarmKey) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = slots.iter().position(|(k, _)| k == key) {
            let entry = slots.remove(i).expect("found");
            let slot = entry.1.clone();
            slots.push_back(entry);
            return slot;
        }
        let slot: Slot = Arc::default();
        slots.push_back((key.clone(), slot.clone()));
        while slots.len() > MAX_WARM {
            slots.pop_front();
        }
        drop(slots);
        self.restart(program, key, &slot);
        slot
    }

    fn restart(&self, program: &Launcher, key: &WarmKey, slot: &Slot) {
        let (program, key, slot) = (program.clone(), key.clone(), slot.clone());
        tokio::spawn(async move {
            let mut guard = slot.lock().await;
            if guard.is_none() {
                *guard = WarmPiper::start(&program, &key).await.ok();
            }
        });
    }
}

/// One running Piper with its own output directory.
pub(crate) struct WarmPiper {
    // Held for its kill-on-drop; declared first so the process is killed before its
    // directory is removed.
    _child: Child,
    stdin: ChildStdin,
    stderr: Lines<BufReader<ChildStderr>>,
    out_dir: OutDir,
    /// Set while a narration is under way, cleared when it ends: still set when a
    /// narration's future was dropped in the middle.
    interrupted: bool,
}

impl WarmPiper {
    async fn start(program: &Launcher, key: &WarmKey) -> std::io::Result<WarmPiper> {
        let out_dir = OutDir::new()?;
        let mut config = key.model.clone().into_os_string();
        config.push(".json");
        let mut child = program
            .command()
            .arg("--model")
            .arg(&key.model)
            .arg("--config")
            .arg(config)
            .arg("--output-dir")
            .arg(&out_dir.0)
            .arg("--length-scale")
            .arg(format!("{:.3}", key.length_scale_milli as f64 / 1000.0))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().expect("piped");
        let stderr = BufReader::new(child.stderr.take().expect("piped")).lines();
        let mut warm = WarmPiper {
            _child: child,
            stdin,
            stderr,
            out_dir,
            interrupted: false,
        };
        // The first inference is slow (the runtime sizes its buffers): pay it now.
        let file = warm.speak("Ready.", Instant::now() + START_LIMIT).await?;
        let _ = std::fs::remove_file(file);
        Ok(warm)
    }

    async fn speak_all(
        &mut self,
        sentences: &[String],
        dir: &Path,
        deadline: Instant,
    ) -> std::io::Result<Vec<PathBuf>> {
        self.interrupted = true;
        let target = dir.join("piper");
        tokio::fs::create_dir_all(&target).await?;
        let mut out = Vec::with_capacity(sentences.len());
        for (i, s) in sentences.iter().enumerate() {
            let written = self.speak(s, deadline).await?;
            let dest = target.join(format!("piper-{i:03}.wav"));
            move_file(&written, &dest).await?;
            let words = written.with_extension("words.json");
            if words.is_file() {
                move_file(&words, &dest.with_extension("words.json")).await?;
            }
            out.push(dest);
        }
        self.interrupted = false;
        Ok(out)
    }

    /// One sentence: a line in, the file Piper reports as written.
    async fn speak(&mut self, sentence: &str, deadline: Instant) -> std::io::Result<PathBuf> {
        let timeout = || std::io::Error::new(std::io::ErrorKind::TimedOut, "piper timed out");
        let mut line = sentence.replace(['\n', '\r'], " ");
        line.push('\n');
        let work = async {
            self.stdin.write_all(line.as_bytes()).await?;
            self.stdin.flush().await?;
            while let Some(l) = self.stderr.next_line().await? {
                if let Some(path) = l.split("Wrote ").nth(1) {
                    let path = PathBuf::from(path.trim());
                    if path.starts_with(&self.out_dir.0) {
                        return Ok(path);
                    }
                }
            }
            Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "piper exited",
            ))
        };
        tokio::time::timeout_at(deadline.into(), work)
            .await
            .map_err(|_| timeout())?
    }

    #[cfg(test)]
    fn id(&self) -> Option<u32> {
        self._child.id()
    }
}

async fn move_file(from: &Path, to: &Path) -> std::io::Result<()> {
    if tokio::fs::rename(from, to).await.is_err() {
        tokio::fs::copy(from, to).await?;
        let _ = tokio::fs::remove_file(from).await;
    }
    Ok(())
}

/// A private directory for one process's WAV files, removed with it.
struct OutDir(PathBuf);

impl OutDir {
    fn new() -> std::io::Result<OutDir> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "peakreel-piper-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(OutDir(dir))
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ready(slot: &Slot) -> Option<u32> {
        // The start-up task holds the lock until the process is warm (or failed).
        tokio::time::sleep(Duration::from_millis(50)).await;
        slot.lock().await.as_ref().and_then(WarmPiper::id)
    }

    /// Runs only where Piper is installed (see `PiperEngine::detect`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn warm_piper_speaks_and_is_replaced_after_a_crash() {
        let Some(engine) = crate::PiperEngine::detect().await else {
            eprintln!("piper not installed: skipping the warm Piper check");
            return;
        };
        let key = WarmKey {
            model: engine.model_path("en_US-joe-medium").expect("model"),
            length_scale_milli: 1000,
        };
        let program = engine.launcher().clone();
        let pool = WarmPool::default();
        let dir = tempfile::tempdir().unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        let sentences = vec!["Welcome home.".to_string(), "The kitchen is bright.".into()];
        // A voice used once never gets a process.
        let other = WarmKey {
            length_scale_milli: 1250,
            ..key.clone()
        };
        assert!(pool
            .speak(&program, &other, &sentences, dir.path(), deadline)
            .await
            .is_none());
        assert!(pool.slots.lock().unwrap().is_empty());

        // A first narration with a voice only notes it; the second starts a process (and
        // still runs Piper itself).
        for _ in 0..2 {
            assert!(pool
                .speak(&program, &key, &sentences, dir.path(), deadline)
                .await
                .is_none());
        }
        assert_eq!(pool.slots.lock().unwrap().len(), 1);
        let slot = pool.slot(&program, &key);
        let first = ready(&slot).await.expect("a warm process");

        let files = pool
            .speak(&program, &key, &sentences, dir.path(), deadline)
            .await
            .expect("spoken by the warm process");
        assert_eq!(files.len(), 2);
        for (f, min) in files.iter().zip([0.4, 0.8]) {
            let r = hound::WavReader::open(f).expect("a WAV file");
            let secs = r.duration() as f64 / r.spec().sample_rate as f64;
            assert!(secs > min, "{} lasts {secs} s", f.display());
        }

        // A crash is noticed at the next narration, which falls back, and the process is
        // replaced.
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(first as i32, libc::SIGKILL);
        }
        assert!(pool
            .speak(&program, &key, &sentences, dir.path(), deadline)
            .await
            .is_none());
        let second = ready(&slot).await.expect("a new warm process");
        assert_ne!(first, second);
        assert!(pool
            .speak(&program, &key, &sentences, dir.path(), deadline)
            .await
            .is_some());

        // A narration dropped halfway leaves the process owing a file: it is not used
        // again but replaced, so no narration ever gets another one's sentence.
        let halfway = pool.speak(&program, &key, &sentences, dir.path(), deadline);
        assert!(
            tokio::time::timeout(Duration::from_millis(30), halfway)
                .await
                .is_err(),
            "a narration takes longer than 30 ms"
        );
        assert!(pool
            .speak(&program, &key, &sentences, dir.path(), deadline)
            .await
            .is_none());
        let third = ready(&slot).await.expect("a replacement");
        assert_ne!(second, third);
    }
}
