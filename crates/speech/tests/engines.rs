//! Real synthesis with the installed engines.

use std::time::{Duration, Instant};

use peakreel_speech::{
    narrate_with, EspeakEngine, NarrationOptions, Speech, SpeechError, VoiceProfile,
};
use peakreel_types::Code;

const SCRIPT: &str = "Welcome to this bright family home. The kitchen opens onto a quiet garden!";

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

#[tokio::test]
async fn espeak_narration_has_exact_sentence_timings() {
    let dir = tempfile::tempdir().unwrap();
    let opts = NarrationOptions::default();
    let voice = VoiceProfile::espeak("en-us+f3");
    let n = narrate_with(
        &EspeakEngine::default(),
        SCRIPT,
        &voice,
        opts,
        dir.path(),
        deadline(),
    )
    .await
    .unwrap();
    assert_eq!(n.sentences.len(), 2);
    let first = &n.sentences[0];
    let second = &n.sentences[1];
    assert!((first.start - opts.lead).abs() < 1e-3, "{first:?}");
    assert!((second.start - first.end - opts.gap).abs() < 0.01);
    assert!(
        first.end - first.start > 0.8,
        "a sentence of six words takes time"
    );
    assert!((n.total_duration - (second.end + opts.tail)).abs() < 0.01);

    // The WAV on disk is exactly as long as the timeline says.
    let r = hound::WavReader::open(&n.wav).unwrap();
    let secs = r.duration() as f64 / r.spec().sample_rate as f64;
    assert!((secs - n.total_duration).abs() < 0.001);

    // Words tile each sentence.
    assert_eq!(first.words.len(), 6);
    assert_eq!(first.words[0].start, first.start);
    assert_eq!(first.words.last().unwrap().end, first.end);
    assert!(n.envelope.iter().any(|&v| v > 0.99));
}

#[tokio::test]
async fn faster_rate_speaks_faster() {
    let dir = tempfile::tempdir().unwrap();
    let slow = VoiceProfile {
        rate: 0.8,
        ..VoiceProfile::espeak("en-us")
    };
    let fast = VoiceProfile {
        rate: 1.6,
        ..VoiceProfile::espeak("en-us")
    };
    let e = EspeakEngine::default();
    let o = NarrationOptions::default();
    std::fs::create_dir_all(dir.path().join("a")).unwrap();
    std::fs::create_dir_all(dir.path().join("b")).unwrap();
    let a = narrate_with(&e, SCRIPT, &slow, o, &dir.path().join("a"), deadline())
        .await
        .unwrap();
    let b = narrate_with(&e, SCRIPT, &fast, o, &dir.path().join("b"), deadline())
        .await
        .unwrap();
    assert!(
        b.speech_duration < a.speech_duration * 0.8,
        "{} vs {}",
        b.speech_duration,
        a.speech_duration
    );
}

#[tokio::test]
async fn a_failing_engine_is_a_tts_error() {
    let dir = tempfile::tempdir().unwrap();
    let broken = EspeakEngine::with_program("/bin/false");
    let err = narrate_with(
        &broken,
        SCRIPT,
        &VoiceProfile::espeak("en-us"),
        NarrationOptions::default(),
        dir.path(),
        deadline(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::TtsError);
    assert!(err.to_string().contains("espeak-ng"), "{err}");
}

#[tokio::test]
async fn an_unknown_espeak_voice_fails() {
    let dir = tempfile::tempdir().unwrap();
    let v = VoiceProfile::espeak("xx-nonexistent-voice");
    let r = narrate_with(
        &EspeakEngine::default(),
        SCRIPT,
        &v,
        NarrationOptions::default(),
        dir.path(),
        deadline(),
    )
    .await;
    assert_eq!(r.unwrap_err().code(), Code::TtsError);
}

#[tokio::test]
async fn explicit_piper_without_piper_is_a_tts_error() {
    let speech = Speech::new(None, EspeakEngine::default());
    let v = VoiceProfile {
        engine: peakreel_speech::EngineKind::Piper,
        piper_model: Some("en_US-joe-medium".into()),
        ..VoiceProfile::espeak("en-us")
    };
    let err = speech.engine_for(&v).err().expect("no piper configured");
    assert!(matches!(err, SpeechError::Unavailable { .. }));
    assert_eq!(err.code(), Code::TtsError);
    // Auto falls back to espeak-ng.
    let auto = VoiceProfile {
        engine: peakreel_speech::EngineKind::Auto,
        ..v
    };
    assert_eq!(speech.engine_for(&auto).unwrap().name(), "espeak-ng");
}

/// Runs only where Piper is installed (`PEAKREEL_PIPER_BIN`/`PATH`); prints why otherwise.
#[tokio::test]
async fn piper_narration_when_installed() {
    let Some(piper) = peakreel_speech::PiperEngine::detect().await else {
        eprintln!("piper not installed: skipping the Piper check");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let v = VoiceProfile {
        engine: peakreel_speech::EngineKind::Auto,
        piper_model: Some("en_US-joe-medium".into()),
        ..VoiceProfile::espeak("en-us")
    };
    let speech = Speech::new(Some(piper), EspeakEngine::default());
    assert_eq!(speech.engine_for(&v).unwrap().name(), "piper");
    let n = speech
        .narrate(
            SCRIPT,
            &v,
            NarrationOptions::default(),
            dir.path(),
            deadline(),
        )
        .await
        .unwrap();
    assert_eq!(n.engine, "piper");
    assert_eq!(n.sentences.len(), 2);
    assert!(n.sentences[0].end - n.sentences[0].start > 0.8);
    assert!(n.sentences[1].start > n.sentences[0].end);
}
