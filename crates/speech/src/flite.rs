//! flite (Debian `flite`): the non-neural engine that measured most intelligible for the
//! voices no neural model fills (see `choice`). Run once per sentence; it starts in
//! milliseconds and writes 16 kHz mono WAV. Its command line reports no word times, so
//! narration aligns its sentences afterwards (`align`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::engines::{BoxFuture, Clip, SpeechEngine};
use crate::process::Cmd;
use crate::{SpeechError, VoiceProfile};

#[derive(Debug, Clone)]
pub struct FliteEngine {
    program: PathBuf,
}

impl FliteEngine {
    pub fn with_program(program: impl Into<PathBuf>) -> Self {
        FliteEngine {
            program: program.into(),
        }
    }

    /// The program this engine runs.
    pub(crate) fn program(&self) -> &Path {
        &self.program
    }

    /// `flite` from `PATH`, when installed.
    pub fn detect() -> Option<FliteEngine> {
        crate::engines::find_on_path("flite").map(FliteEngine::with_program)
    }
}

impl SpeechEngine for FliteEngine {
    fn name(&self) -> &'static str {
        "flite"
    }

    fn synthesize<'a>(
        &'a self,
        sentences: &'a [String],
        voice: &'a VoiceProfile,
        dir: &'a Path,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Vec<Clip>, SpeechError>> {
        Box::pin(async move {
            let name = voice
                .flite_voice
                .as_deref()
                .ok_or(SpeechError::Unavailable {
                    engine: "flite",
                    reason: "the voice has no flite voice".into(),
                })?;
            // flite's speed control stretches durations: 1/rate.
            let stretch = 1.0 / voice.rate.clamp(0.5, 2.0);
            let mut out = Vec::with_capacity(sentences.len());
            for (i, sentence) in sentences.iter().enumerate() {
                let wav = dir.join(format!("flite-{i:03}.wav"));
                let text = dir.join(format!("flite-{i:03}.txt"));
                // A file, so no sentence is ever read as an option or a file name.
                tokio::fs::write(&text, sentence).await?;
                Cmd::new(&self.program)
                    .arg("-voice")
                    .arg(name)
                    .arg("--setf")
                    .arg(format!("duration_stretch={stretch:.3}"))
                    .arg("-f")
                    .arg(&text)
                    .arg("-o")
                    .arg(&wav)
                    .deadline(deadline)
                    .run()
                    .await
                    .map_err(|source| SpeechError::Engine {
                        engine: "flite",
                        source,
                    })?;
                out.push(Clip::untimed(wav));
            }
            Ok(out)
        })
    }
}
