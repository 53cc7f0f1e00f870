//! Forced alignment for clips no engine timed (flite, a wrapped espeak-ng program, a
//! provider without timestamps): pocketsphinx (PyPI, ships its US English model) finds
//! where each word of the known text is spoken. Run once per narration for all its
//! untimed clips, with the Python of the Piper environment.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::process::Cmd;
use crate::word_times::starts_from_aligned_words;

const SCRIPT: &str = include_str!("../python/sphinx.py");

/// The Python that can import pocketsphinx, found once: `PEAKREEL_ALIGN_PYTHON`, else the
/// `python` beside `PEAKREEL_PIPER_BIN` or `piper` on `PATH`, else the default Piper
/// environment of scripts/install-deps.sh.
fn python() -> Option<&'static Path> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let candidates = [
                std::env::var_os("PEAKREEL_ALIGN_PYTHON").map(PathBuf::from),
                std::env::var_os("PEAKREEL_PIPER_BIN")
                    .map(PathBuf::from)
                    .or_else(|| crate::engines::find_on_path("piper"))
                    .and_then(|p| Some(p.parent()?.join("python"))),
                std::env::var_os("HOME")
                    .map(|h| PathBuf::from(h).join(".local/share/peakreel/piper-venv/bin/python")),
            ];
            candidates.into_iter().flatten().find(|p| {
                p.is_file()
                    && std::process::Command::new(p)
                        .args(["-c", "import importlib.util as u, sys; sys.exit(not u.find_spec('pocketsphinx'))"])
                        .output()
                        .is_ok_and(|o| o.status.success())
            })
        })
        .as_deref()
}

/// Whether forced alignment is available on this machine.
pub fn available() -> bool {
    python().is_some()
}

/// Word starts (seconds from each file's start) of `(wav, sentence)` pairs; `None` for a
/// clip that could not be aligned, and for all when the aligner is missing or fails (the
/// caller then estimates).
pub async fn align(clips: &[(PathBuf, String)], deadline: Instant) -> Vec<Option<Vec<f64>>> {
    let none = || vec![None; clips.len()];
    let Some(py) = python() else { return none() };
    let request: Vec<_> = clips
        .iter()
        .map(|(wav, text)| serde_json::json!({"wav": wav, "text": text}))
        .collect();
    // Alignment is an improvement, never a reason to miss the deadline.
    let limit = deadline
        .saturating_duration_since(Instant::now())
        .min(Duration::from_secs(60));
    let out = Cmd::new(py)
        .args(["-c", SCRIPT, "align-many"])
        .stdin(serde_json::Value::from(request).to_string())
        .timeout(limit)
        .run()
        .await;
    let Ok(out) = out else { return none() };
    let Ok(results) = serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout) else {
        return none();
    };
    clips
        .iter()
        .zip(results.iter().map(Some).chain(std::iter::repeat(None)))
        .map(|((_, text), r)| {
            let words: Vec<(String, f64)> = r?
                .get("words")?
                .as_array()?
                .iter()
                .filter_map(|w| {
                    Some((
                        w.get("word")?.as_str()?.to_string(),
                        w.get("start")?.as_f64()?,
                    ))
                })
                .collect();
            starts_from_aligned_words(text, &words)
        })
        .collect()
}
