//! The circuit breaker around a real engine process: espeak-ng behind a wrapper that
//! fails while a flag file exists and counts how often it was started.

use peakreel_speech::breaker::BreakerState;
use peakreel_speech::{
    Breakers, EspeakEngine, NarrationOptions, Speech, SpeechError, VoiceProfile,
};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

fn wrapper(dir: &std::path::Path) -> std::path::PathBuf {
    let script = dir.join("espeak-wrapper.sh");
    let body = format!(
        "#!/bin/sh\necho run >> {runs}\nif [ -e {flag} ]; then echo 'engine down' >&2; exit 1; fi\nexec espeak-ng \"$@\"\n",
        runs = dir.join("runs").display(),
        flag = dir.join("fail").display()
    );
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

async fn say(
    speech: &Speech,
    dir: &std::path::Path,
    n: usize,
) -> Result<peakreel_speech::Narration, SpeechError> {
    let out = dir.join(format!("out{n}"));
    std::fs::create_dir_all(&out).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let voice = VoiceProfile::espeak("en-us");
    speech
        .narrate(
            "Hello there.",
            &voice,
            NarrationOptions::default(),
            &out,
            deadline,
        )
        .await
}

fn runs(dir: &std::path::Path) -> usize {
    std::fs::read_to_string(dir.join("runs"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[tokio::test]
async fn the_breaker_opens_fails_fast_and_recovers_through_a_probe() {
    let dir = tempfile::tempdir().unwrap();
    let mut speech = Speech::new(None, EspeakEngine::with_program(wrapper(dir.path())));
    speech.breakers = Breakers::with_policy(5, Duration::from_millis(600));

    std::fs::write(dir.path().join("fail"), "").unwrap();
    for n in 0..5 {
        let err = say(&speech, dir.path(), n).await.unwrap_err();
        assert!(matches!(err, SpeechError::Engine { .. }), "{err}");
        assert_eq!(err.code(), peakreel_types::Code::TtsError);
    }
    let started = runs(dir.path());
    assert!(started >= 5);
    assert_eq!(
        speech.breakers.states(),
        vec![("espeak-ng", BreakerState::Open)]
    );

    // Open: fail fast with TTS_ERROR, and the engine is not started at all.
    let err = say(&speech, dir.path(), 5).await.unwrap_err();
    assert!(matches!(err, SpeechError::CircuitOpen { .. }), "{err}");
    assert_eq!(err.code(), peakreel_types::Code::TtsError);
    assert_eq!(runs(dir.path()), started, "no process while open");

    // The engine recovers; after the open period one probe goes through and closes it.
    std::fs::remove_file(dir.path().join("fail")).unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let narration = say(&speech, dir.path(), 6)
        .await
        .expect("the half-open probe succeeds");
    assert!(narration.speech_duration > 0.3);
    assert_eq!(
        speech.breakers.states(),
        vec![("espeak-ng", BreakerState::Closed)]
    );
}
