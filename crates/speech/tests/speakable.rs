//! Abbreviations over real synthesis: the engine (espeak-ng, recorded on its way in) is
//! given the abbreviations in full in the voice's language, while the narration's
//! sentences, which subtitles and caption files use, keep what the user wrote.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use peakreel_speech::{
    narrate_with, Clip, EspeakEngine, NarrationOptions, SpeechEngine, SpeechError, VoiceProfile,
};

/// The real espeak-ng engine, remembering the sentences it was asked to speak.
#[derive(Default)]
struct Recorded {
    inner: EspeakEngine,
    heard: Mutex<Vec<String>>,
}

impl SpeechEngine for Recorded {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn synthesize<'a>(
        &'a self,
        sentences: &'a [String],
        voice: &'a VoiceProfile,
        dir: &'a Path,
        deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Clip>, SpeechError>> + Send + 'a>> {
        self.heard.lock().unwrap().extend(sentences.iter().cloned());
        self.inner.synthesize(sentences, voice, dir, deadline)
    }
}

async fn narrate(script: &str, voice: VoiceProfile) -> (Vec<String>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Recorded::default();
    let deadline = Instant::now() + Duration::from_secs(60);
    let n = narrate_with(
        &engine,
        script,
        &voice,
        NarrationOptions::default(),
        dir.path(),
        deadline,
    )
    .await
    .unwrap();
    // One clip per sentence, each with real speech in it.
    for s in &n.sentences {
        assert!(s.end - s.start > 0.3, "{s:?}");
    }
    let written = n.sentences.iter().map(|s| s.text.clone()).collect();
    let heard = engine.heard.into_inner().unwrap();
    (written, heard)
}

#[tokio::test]
async fn the_voice_hears_abbreviations_in_full_and_subtitles_keep_them() {
    let script =
        "Dr. Green and Mrs. Hale welcome you to St. Mary Lane. Park on Elm St. The gate is open.";
    let (written, heard) = narrate(script, VoiceProfile::espeak("en-us")).await;
    assert_eq!(
        written,
        [
            "Dr. Green and Mrs. Hale welcome you to St. Mary Lane.",
            "Park on Elm St.",
            "The gate is open."
        ]
    );
    assert_eq!(
        heard,
        [
            "Doctor Green and Missus Hale welcome you to Saint Mary Lane.",
            "Park on Elm Street.",
            "The gate is open."
        ]
    );
}

#[tokio::test]
async fn the_voice_language_picks_the_table() {
    let spanish = VoiceProfile {
        language: "es".into(),
        ..VoiceProfile::espeak("es")
    };
    let (written, heard) = narrate(
        "La Sra. Ruiz le espera en la Avda. del Puerto, aprox. al final.",
        spanish,
    )
    .await;
    assert_eq!(written.len(), 1, "{written:?}");
    assert_eq!(
        heard,
        ["La señora Ruiz le espera en la avenida del Puerto, aproximadamente al final."]
    );
    let german = VoiceProfile {
        language: "de".into(),
        ..VoiceProfile::espeak("de")
    };
    let (written, heard) = narrate("Fr. Vogel zeigt z. B. die Küche.", german).await;
    assert_eq!(written, ["Fr. Vogel zeigt z. B. die Küche."]);
    assert_eq!(heard, ["Frau Vogel zeigt zum Beispiel die Küche."]);
}
