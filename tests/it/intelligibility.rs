//! Issue 14 over HTTP against the real binary: the narration of a finished video is
//! understood. For one voice of each engine a fresh install speaks English with (flite
//! for the female entries, Piper for the male ones), the 60-word listing paragraph of
//! bench/voices.sh is rendered, the downloaded video's audio is transcribed by a modern
//! offline recogniser (Moonshine base, crates/speech/python/transcribe.py) and compared
//! with the script.

use crate::living_support::{narration_wav, speech_meter, start_living};
use crate::support::{SLIDESHOW, VOICE};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

/// Adam: a male catalogue voice, spoken by Piper on a fresh install.
const ADAM: &str = "pNInz6obpgDQGcFmaJgB";

const PARAGRAPH: &str = include_str!("../../bench/listing-paragraph.txt");

/// A different listing of about the same length: the meter's control.
const OTHER: &str = "Set back from a busy road, this compact flat has one bedroom, a \
    galley kitchen and a balcony facing the railway. Parking is on the street. The \
    building has a shared laundry, a bicycle store and a lift. Rent is paid monthly and \
    pets are not allowed. Contact the office for viewing times next week.";

/// Word error rate and the recogniser's words for `wav` against `script`.
fn transcribed(wav: &Path, script: &str) -> (f64, String) {
    let v = speech_meter(
        "transcribe.py",
        &["wer".as_ref(), wav.as_os_str(), script.as_ref()],
    );
    (
        v["wer"].as_f64().unwrap(),
        v["hyp"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn each_english_engine_narrates_words_a_listener_understands() {
    let (s, _) = start_living(false).await;
    let acct = s.account("Max", 100).await;
    let key = acct.live.key.clone();
    let mut ids = Vec::new();
    for (voice, engine) in [(VOICE, "flite"), (ADAM, "piper")] {
        // Seven photos: the paragraph has 343 characters, 40-50 a photo.
        let body = json!({
            "images": (0..7).map(|i| s.image_url(i)).collect::<Vec<_>>(),
            "voice": { "voice_id": voice },
            "script": PARAGRAPH.trim(),
        });
        let r = s.post(SLIDESHOW, &key, &body).await;
        assert_eq!(r.status, 202, "{}", r.json);
        ids.push((engine, r.json["task_id"].as_str().unwrap().to_string()));
    }
    for (engine, id) in ids {
        let task = s.wait_done(&key, &id, Duration::from_secs(900)).await;
        assert_eq!(task["status"], "completed", "{task}\n{}", s.log());
        let dir = tempfile::tempdir().unwrap();
        let video = s.download(&task, dir.path()).await;
        let wav = narration_wav(&video, dir.path());
        // Measured 0.03-0.08 for both engines (bench/voices.sh, and here over HTTP); a
        // voice reading letters one by one, the wrong language or a garbled track scores
        // far above 0.15.
        let (wer, heard) = transcribed(&wav, PARAGRAPH);
        eprintln!("{engine}: WER {wer}: {heard}");
        assert!(wer <= 0.15, "{engine}: WER {wer}, heard {heard:?}");
        // The control: the same audio against another listing is nowhere near.
        let (other, _) = transcribed(&wav, OTHER);
        assert!(other >= 0.8, "{engine}: WER {other} against another script");
    }
}
