//! Narration for PeakReel (api.md §8.1): the script is split into sentences, each sentence
//! is synthesised by a local engine (Piper or espeak-ng, both run as supervised external
//! programs), and the pieces are joined into one WAV with exact sentence timings.
//!
//! Word timings come from the engines where they report them (espeak-ng's library word
//! events, Piper's phoneme alignments); other audio (flite, a wrapped program) is
//! force-aligned with pocketsphinx (`align`). Only when no aligner is installed are a
//! sentence's words given times in proportion to their length
//! ([`text::estimate_word_spans`]).

mod piper_warm;
pub mod process;
pub mod speakable;
pub mod text;

pub mod align;
pub mod breaker;
pub mod choice;
mod engines;
mod espeak;
mod flite;
mod narrate;
pub mod numbers;
pub mod packs;
mod remote;
pub mod word_times;

pub use choice::{Gender, Speaker, VoiceTraits};
pub use engines::{Breakers, Clip, PiperEngine, Speech, SpeechEngine};
pub use espeak::EspeakEngine;
pub use flite::FliteEngine;
pub use narrate::{
    narrate_with, untimed_sentences, Narration, NarrationOptions, SentenceTiming, WordTiming,
};
pub use remote::{RemoteConfig, RemoteEngine};

use peakreel_types::Code;
use process::ProcessError;

/// Which local engine speaks a voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EngineKind {
    /// Piper when it is installed and has the voice's `piper_model`, otherwise espeak-ng.
    #[default]
    Auto,
    /// Piper only; a render fails with `TTS_ERROR` if Piper or the model is missing.
    Piper,
    /// espeak-ng only.
    Espeak,
    /// flite only (the voice's `flite_voice`).
    Flite,
    /// The configured remote (ElevenLabs-compatible) provider only.
    Remote,
}

/// How one public or custom voice is spoken by the local engines. Plain data, so the voice
/// catalogue can build it.
///
/// Valid values:
/// - `engine`: see [`EngineKind`]; `Auto` is the right choice for catalogue voices.
/// - `espeak_voice`: an espeak-ng voice name, optionally with a variant after `+`, e.g.
///   `en-us`, `en-gb`, `en-us+f3`, `en-gb-x-rp+m3` (`espeak-ng --voices` and
///   `espeak-ng --voices=variant` list them). Always required: it is the fallback.
/// - `piper_model`: file stem of a Piper model in the configured model directory, e.g.
///   `en_US-joe-medium` (expects `en_US-joe-medium.onnx` and `.onnx.json`), or `None` for
///   voices no installed Piper model fits (Piper has no pitch or gender control, so a
///   female voice must not map to a male model).
/// - `flite_voice`: a flite voice (`slt`, `rms`, `awb`, `kal16`; `flite -lv`), used by
///   `Auto` when no Piper model fits and flite is installed.
/// - `language`: ISO 639-1 code, e.g. `en` (informational for the engines; the espeak voice
///   decides pronunciation).
/// - `rate`: speaking-rate multiplier, 0.5 to 2.0, 1.0 = the engine's natural pace
///   (espeak-ng: 165 words per minute × rate; Piper: `length_scale = 1 / rate`).
/// - `pitch`: espeak-ng base pitch 0 to 99, 50 = neutral; Piper ignores it.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceProfile {
    pub engine: EngineKind,
    pub espeak_voice: String,
    pub piper_model: Option<String>,
    pub flite_voice: Option<String>,
    pub language: String,
    pub rate: f32,
    pub pitch: u8,
    /// The provider's voice id, when this voice may be spoken by the remote provider
    /// (`Auto` prefers the remote provider for such voices when one is configured).
    pub remote_voice: Option<String>,
}

impl VoiceProfile {
    /// A plain espeak-ng voice at natural rate and pitch.
    pub fn espeak(voice: &str) -> Self {
        VoiceProfile {
            engine: EngineKind::Espeak,
            espeak_voice: voice.to_string(),
            piper_model: None,
            flite_voice: None,
            language: "en".into(),
            rate: 1.0,
            pitch: 50,
            remote_voice: None,
        }
    }

    /// Whether `s` may name an engine voice or model file: letters, digits, `-_+.`.
    pub fn is_name(s: &str) -> bool {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '.'))
    }

    /// Checks the documented ranges, so a bad catalogue entry fails loudly and early.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.5..=2.0).contains(&self.rate) {
            return Err(format!("rate {} is outside 0.5..=2.0", self.rate));
        }
        if self.pitch > 99 {
            return Err(format!("pitch {} is outside 0..=99", self.pitch));
        }
        let ok = Self::is_name;
        if !ok(&self.espeak_voice) {
            return Err(format!(
                "espeak voice {:?} is not a voice name",
                self.espeak_voice
            ));
        }
        if let Some(f) = &self.flite_voice {
            if !ok(f) || f.starts_with('.') {
                return Err(format!("flite voice {f:?} is not a voice name"));
            }
        }
        if let Some(m) = &self.piper_model {
            if !ok(m) || m.starts_with('.') {
                return Err(format!("piper model {m:?} is not a model file stem"));
            }
        }
        Ok(())
    }
}

/// Why narration failed.
#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    #[error("the script has no sentence to speak")]
    EmptyScript,
    #[error("invalid voice profile: {0}")]
    BadVoice(String),
    #[error("speech engine {engine} is not available: {reason}")]
    Unavailable {
        engine: &'static str,
        reason: String,
    },
    #[error("speech synthesis with {engine} failed: {source}")]
    Engine {
        engine: &'static str,
        #[source]
        source: ProcessError,
    },
    #[error("speech engine {engine} produced unusable audio: {reason}")]
    BadAudio {
        engine: &'static str,
        reason: String,
    },
    #[error("could not write the narration audio: {0}")]
    Io(#[from] std::io::Error),
    #[error("speech engine {engine} is failing repeatedly; its circuit breaker is open for another {} s", retry_in.as_secs().max(1))]
    CircuitOpen {
        engine: &'static str,
        retry_in: std::time::Duration,
    },
}

impl SpeechError {
    /// Whether this failure says something about the engine's health (and so counts
    /// towards opening its circuit), as opposed to a bad request.
    pub fn is_engine_failure(&self) -> bool {
        matches!(
            self,
            SpeechError::Unavailable { .. }
                | SpeechError::Engine { .. }
                | SpeechError::BadAudio { .. }
        )
    }
}

impl SpeechError {
    /// The task error code (errors.md): an engine that ran out of time is a timeout, every
    /// other failure of narration is `TTS_ERROR`.
    pub fn code(&self) -> Code {
        match self {
            SpeechError::Engine { source, .. } if source.is_timeout() => Code::ServiceTimeout,
            _ => Code::TtsError,
        }
    }
}
