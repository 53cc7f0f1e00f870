//! The remote provider against a local stand-in for the ElevenLabs TTS endpoint: a real
//! HTTP server on loopback that answers with real audio made by espeak-ng, and can be
//! told to fail, stall, or refuse the key.

use peakreel_fetch::{FetchPolicy, SafeClient};
use peakreel_speech::breaker::BreakerState;
use peakreel_speech::{
    Breakers, EngineKind, EspeakEngine, NarrationOptions, RemoteConfig, RemoteEngine, Speech,
    SpeechError, VoiceProfile,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Ok,
    /// 404 for the with-timestamps variant, audio from the plain one.
    PlainOnly,
    Fail500,
    Unauthorized,
    Stall,
}

struct StandIn {
    url: String,
    mode: Arc<Mutex<Vec<Mode>>>, // consumed front to back; the last one repeats
    requests: Arc<AtomicUsize>,
    last: Arc<Mutex<(String, String, String)>>, // path, xi-api-key, body
    /// Word onsets (seconds) of each with-timestamps answer, in order.
    onsets: Arc<Mutex<Vec<Vec<f64>>>>,
}

/// A with-timestamps answer made of real speech: each word spoken by espeak-ng on its
/// own and the pieces joined, so the server knows exactly where every word's sound
/// begins (first sample above 1 % of full scale); every character of a word gets that
/// time.
async fn timed_answer(text: &str) -> (Vec<u8>, Vec<f64>) {
    use base64::Engine as _;
    let mut pcm: Vec<u8> = Vec::new();
    let mut char_times = Vec::new();
    let mut onsets = Vec::new();
    for (i, word) in text.split(' ').enumerate() {
        let piece = espeak_pcm(word).await;
        let first_loud = piece
            .chunks_exact(2)
            .position(|c| i16::from_le_bytes([c[0], c[1]]).unsigned_abs() > 328)
            .unwrap_or(0);
        let onset = (pcm.len() / 2 + first_loud) as f64 / 22_050.0;
        onsets.push(onset);
        if i > 0 {
            char_times.push(onset); // the space before the word
        }
        char_times.extend(std::iter::repeat_n(onset, word.chars().count()));
        pcm.extend_from_slice(&piece);
    }
    let body = serde_json::json!({
        "audio_base64": base64::engine::general_purpose::STANDARD.encode(&pcm),
        "alignment": {
            "characters": text.chars().map(|c| c.to_string()).collect::<Vec<_>>(),
            "character_start_times_seconds": char_times,
            "character_end_times_seconds": char_times,
        },
    });
    (body.to_string().into_bytes(), onsets)
}

/// Raw little-endian PCM at 22050 Hz from espeak-ng (its native rate).
async fn espeak_pcm(text: &str) -> Vec<u8> {
    // A file, not --stdout: a streamed WAV header carries no lengths.
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("s.wav");
    let status = tokio::process::Command::new("espeak-ng")
        .arg("-w")
        .arg(&wav)
        .arg(text)
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let mut reader = hound::WavReader::open(&wav).unwrap();
    assert_eq!(reader.spec().sample_rate, 22_050);
    reader
        .samples::<i16>()
        .flat_map(|s| s.unwrap().to_le_bytes())
        .collect()
}

async fn start(modes: Vec<Mode>) -> StandIn {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mode = Arc::new(Mutex::new(modes));
    let requests = Arc::new(AtomicUsize::new(0));
    let last = Arc::new(Mutex::new(Default::default()));
    let onsets: Arc<Mutex<Vec<Vec<f64>>>> = Arc::default();
    let (m, r, l, o) = (mode.clone(), requests.clone(), last.clone(), onsets.clone());
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let (m, r, l, o) = (m.clone(), r.clone(), l.clone(), o.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, body_start) = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break (String::from_utf8_lossy(&buf[..i]).to_string(), i + 4);
                    }
                };
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                while buf.len() < body_start + len {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = String::from_utf8_lossy(&buf[body_start..body_start + len]).to_string();
                let path = head
                    .lines()
                    .next()
                    .unwrap_or("")
                    .split(' ')
                    .nth(1)
                    .unwrap_or("")
                    .to_string();
                let key = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("xi-api-key:")
                            .map(|v| v.trim().to_string())
                    })
                    .unwrap_or_default();
                r.fetch_add(1, Ordering::SeqCst);
                *l.lock().unwrap() = (path.clone(), key, body.clone());
                let mode = {
                    let mut modes = m.lock().unwrap();
                    if modes.len() > 1 {
                        modes.remove(0)
                    } else {
                        modes[0]
                    }
                };
                let timestamps = path.contains("/with-timestamps?");
                let text = || {
                    serde_json::from_str::<serde_json::Value>(&body).unwrap()["text"]
                        .as_str()
                        .unwrap()
                        .to_string()
                };
                let (status, payload) = match mode {
                    Mode::Ok if timestamps => {
                        let (answer, times) = timed_answer(&text()).await;
                        o.lock().unwrap().push(times);
                        ("200 OK", answer)
                    }
                    Mode::PlainOnly if timestamps => ("404 Not Found", b"no such route".to_vec()),
                    Mode::Ok | Mode::PlainOnly => ("200 OK", espeak_pcm(&text()).await),
                    Mode::Fail500 => ("500 Internal Server Error", b"overloaded".to_vec()),
                    Mode::Unauthorized => ("401 Unauthorized", b"invalid api key".to_vec()),
                    Mode::Stall => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                };
                let head = format!("HTTP/1.1 {status}\r\ncontent-type: audio/pcm\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", payload.len());
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&payload).await;
            });
        }
    });
    StandIn {
        url,
        mode,
        requests,
        last,
        onsets,
    }
}

fn speech_for(stand_in: &StandIn, timeout: Duration) -> Speech {
    let policy = FetchPolicy {
        allow_http: true,
        allow_networks: vec!["127.0.0.0/8".parse().unwrap()],
        ..FetchPolicy::default()
    };
    let client = SafeClient::with_system_resolver(policy).unwrap();
    let mut cfg = RemoteConfig::new(&stand_in.url, "xi-test-key");
    cfg.timeout = timeout;
    cfg.backoff = Duration::from_millis(50);
    let mut speech = Speech::new(None, EspeakEngine::default());
    speech.remote = Some(RemoteEngine::new(cfg, client));
    speech.breakers = Breakers::with_policy(5, Duration::from_millis(500));
    speech
}

fn remote_voice() -> VoiceProfile {
    // As the catalogue maps it: `Auto`, with the provider's voice id.
    VoiceProfile {
        engine: EngineKind::Auto,
        remote_voice: Some("EXAVITQu4vr4xnSDxMaL".into()),
        ..VoiceProfile::espeak("en-us")
    }
}

async fn say(
    speech: &Speech,
    dir: &std::path::Path,
    n: usize,
) -> Result<peakreel_speech::Narration, SpeechError> {
    let out = dir.join(format!("n{n}"));
    std::fs::create_dir_all(&out).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    speech
        .narrate(
            "Welcome home. The garden is lovely.",
            &remote_voice(),
            NarrationOptions::default(),
            &out,
            deadline,
        )
        .await
}

#[tokio::test]
async fn speaks_through_the_provider_with_its_key_and_voice() {
    let s = start(vec![Mode::Ok]).await;
    let speech = speech_for(&s, Duration::from_secs(5));
    assert_eq!(speech.engine_for(&remote_voice()).unwrap().name(), "remote");
    let dir = tempfile::tempdir().unwrap();
    let n = say(&speech, dir.path(), 0).await.unwrap();
    assert_eq!(n.engine, "remote");
    assert_eq!(n.sentences.len(), 2);
    assert!(n.speech_duration > 1.0, "{}", n.speech_duration);
    assert_eq!(
        s.requests.load(Ordering::SeqCst),
        2,
        "one request per sentence"
    );
    let (path, key, body) = s.last.lock().unwrap().clone();
    assert_eq!(
        path,
        "/v1/text-to-speech/EXAVITQu4vr4xnSDxMaL/with-timestamps?output_format=pcm_22050"
    );
    // Every word starts where the provider said its sound begins (relative to the
    // sentence's first word, which starts the sentence).
    let onsets = s.onsets.lock().unwrap().clone();
    assert_eq!(onsets.len(), 2);
    for (sentence, onsets) in n.sentences.iter().zip(&onsets) {
        assert_eq!(sentence.words.len(), onsets.len());
        for (w, t) in sentence.words.iter().zip(onsets).skip(1) {
            let ours = w.start - sentence.words[0].start;
            let theirs = t - onsets[0];
            assert!(
                (ours - theirs).abs() < 0.035,
                "{}: {ours} vs {theirs}",
                w.word
            );
        }
    }
    assert_eq!(key, "xi-test-key");
    assert!(body.contains("\"model_id\":\"eleven_multilingual_v2\""));
    // A voice without a provider id stays local even with a provider configured.
    assert_eq!(
        speech
            .engine_for(&VoiceProfile::espeak("en-us"))
            .unwrap()
            .name(),
        "espeak-ng"
    );
    let forced = VoiceProfile {
        engine: EngineKind::Remote,
        ..VoiceProfile::espeak("en-us")
    };
    assert!(speech.engine_for(&forced).is_err());
}

#[tokio::test]
async fn a_provider_without_timestamps_gets_plain_requests() {
    let s = start(vec![Mode::PlainOnly]).await;
    let speech = speech_for(&s, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let n = say(&speech, dir.path(), 0).await.unwrap();
    assert_eq!(n.sentences.len(), 2);
    assert!(n.speech_duration > 1.0, "{}", n.speech_duration);
    assert_eq!(
        s.requests.load(Ordering::SeqCst),
        3,
        "one refused with-timestamps request, then plain audio for each sentence"
    );
    let (path, _, _) = s.last.lock().unwrap().clone();
    assert_eq!(
        path,
        "/v1/text-to-speech/EXAVITQu4vr4xnSDxMaL?output_format=pcm_22050"
    );
}

#[tokio::test]
async fn transient_errors_are_retried_and_a_bad_key_is_not() {
    let s = start(vec![Mode::Fail500, Mode::Fail500, Mode::Ok]).await;
    let speech = speech_for(&s, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    say(&speech, dir.path(), 0)
        .await
        .expect("two 500s then success");
    assert_eq!(
        s.requests.load(Ordering::SeqCst),
        4,
        "3 for the first sentence, 1 for the second"
    );

    let s = start(vec![Mode::Unauthorized]).await;
    let speech = speech_for(&s, Duration::from_secs(5));
    let err = say(&speech, dir.path(), 1).await.unwrap_err();
    assert_eq!(err.code(), peakreel_types::Code::TtsError);
    assert!(err.to_string().contains("401"), "{err}");
    assert_eq!(
        s.requests.load(Ordering::SeqCst),
        1,
        "a refused key is not retried"
    );
}

#[tokio::test]
async fn a_stalled_provider_times_out() {
    let s = start(vec![Mode::Stall]).await;
    let speech = speech_for(&s, Duration::from_millis(400));
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let err = say(&speech, dir.path(), 0).await.unwrap_err();
    assert_eq!(err.code(), peakreel_types::Code::TtsError);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_breaker_opens_on_a_failing_provider_fails_fast_and_recovers() {
    let s = start(vec![Mode::Unauthorized]).await;
    let speech = speech_for(&s, Duration::from_secs(5));
    let dir = tempfile::tempdir().unwrap();
    for n in 0..5 {
        assert!(say(&speech, dir.path(), n).await.is_err());
    }
    assert_eq!(
        speech.breakers.states(),
        vec![("remote", BreakerState::Open)]
    );
    let before = s.requests.load(Ordering::SeqCst);
    let err = say(&speech, dir.path(), 9).await.unwrap_err();
    assert!(matches!(err, SpeechError::CircuitOpen { .. }), "{err}");
    assert_eq!(
        s.requests.load(Ordering::SeqCst),
        before,
        "open: no request reaches the provider"
    );

    *s.mode.lock().unwrap() = vec![Mode::Ok];
    tokio::time::sleep(Duration::from_millis(600)).await;
    say(&speech, dir.path(), 10)
        .await
        .expect("the half-open probe succeeds");
    assert_eq!(
        speech.breakers.states(),
        vec![("remote", BreakerState::Closed)]
    );
}
