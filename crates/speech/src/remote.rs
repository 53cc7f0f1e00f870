//! A remote speech provider speaking the ElevenLabs text-to-speech HTTP interface
//! (`POST {base}/v1/text-to-speech/{voice_id}/with-timestamps?output_format=pcm_22050`,
//! header `xi-api-key`, JSON `{text, model_id, voice_settings}` → JSON with the audio in
//! base64 and each character's start time; a provider without that variant (404/405)
//! gets the plain `…/{voice_id}?output_format=pcm_22050` → raw 16-bit mono PCM, and its
//! words are aligned afterwards). Requests
//! go through the SSRF-guarded client like every other outgoing URL; transient failures
//! (5xx, 429, timeouts, refused connections) are retried with backoff inside the engine's
//! circuit breaker, so the breaker counts a narration, not each retry.

use crate::engines::{BoxFuture, Clip, SpeechEngine};
use crate::{SpeechError, VoiceProfile};
use bytes::Bytes;
use peakreel_fetch::{HeaderMap, HeaderName, HeaderValue, SafeClient};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SAMPLE_RATE: u32 = 22_050;

#[derive(Clone)]
pub struct RemoteConfig {
    /// e.g. `https://api.elevenlabs.io`
    pub base_url: String,
    pub api_key: String,
    pub model_id: String,
    /// Per request.
    pub timeout: Duration,
    /// Attempts per sentence (1 = no retry).
    pub attempts: u32,
    /// First retry delay; doubled per retry.
    pub backoff: Duration,
}

impl RemoteConfig {
    pub fn new(base_url: &str, api_key: &str) -> Self {
        RemoteConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            model_id: "eleven_multilingual_v2".into(),
            timeout: Duration::from_secs(20),
            attempts: 3,
            backoff: Duration::from_millis(500),
        }
    }
}

#[derive(Clone)]
pub struct RemoteEngine {
    config: RemoteConfig,
    client: SafeClient,
    /// Set once the provider answered that it has no with-timestamps variant.
    no_timestamps: Arc<AtomicBool>,
}

impl std::fmt::Debug for RemoteEngine {
    // The API key stays out of logs and debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteEngine")
            .field("base_url", &self.config.base_url)
            .field("model_id", &self.config.model_id)
            .finish_non_exhaustive()
    }
}

impl RemoteEngine {
    pub fn new(config: RemoteConfig, client: SafeClient) -> Self {
        RemoteEngine {
            config,
            client,
            no_timestamps: Arc::default(),
        }
    }

    fn unavailable(reason: String) -> SpeechError {
        SpeechError::Unavailable {
            engine: "remote",
            reason,
        }
    }

    /// One sentence: the answer's body (raw PCM, or with `timestamps` the JSON of the
    /// with-timestamps variant), with retries for transient failures. `None`: the
    /// provider has no with-timestamps variant (404 or 405).
    async fn speak(
        &self,
        voice_id: &str,
        text: &str,
        rate: f32,
        timestamps: bool,
        deadline: Instant,
    ) -> Result<Option<Bytes>, SpeechError> {
        let variant = if timestamps { "/with-timestamps" } else { "" };
        let url = format!(
            "{}/v1/text-to-speech/{voice_id}{variant}?output_format=pcm_{SAMPLE_RATE}",
            self.config.base_url
        );
        let body = serde_json::json!({
            "text": text,
            "model_id": self.config.model_id,
            "voice_settings": { "stability": 0.5, "similarity_boost": 0.75, "speed": rate },
        });
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&self.config.api_key) {
            headers.insert(HeaderName::from_static("xi-api-key"), v);
        }
        headers.insert(
            HeaderName::from_static("accept"),
            HeaderValue::from_static(if timestamps {
                "application/json"
            } else {
                "audio/pcm"
            }),
        );
        let body = Bytes::from(body.to_string());
        let mut delay = self.config.backoff;
        let mut last = String::new();
        for attempt in 1..=self.config.attempts.max(1) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let timeout = self.config.timeout.min(left);
            let transient = match self
                .client
                .post_json_for_body(&url, &headers, body.clone(), timeout)
                .await
            {
                Ok(resp) if (200..300).contains(&resp.status) => {
                    if resp.body.len() < 2 {
                        return Err(SpeechError::BadAudio {
                            engine: "remote",
                            reason: "the provider returned no audio".into(),
                        });
                    }
                    return Ok(Some(resp.body));
                }
                Ok(resp) if timestamps && matches!(resp.status, 404 | 405) => return Ok(None),
                Ok(resp) => {
                    last = format!("the provider answered {}", resp.status);
                    resp.status == 429 || resp.status >= 500
                }
                Err(e) => {
                    last = e.to_string();
                    // Refused, timed out, TLS hiccups: worth another try; a blocked or
                    // malformed URL is not.
                    !matches!(
                        e.code(),
                        peakreel_types::Code::SsrfBlocked | peakreel_types::Code::InvalidImageUrl
                    )
                }
            };
            if !transient || attempt == self.config.attempts {
                break;
            }
            tokio::time::sleep(delay.min(deadline.saturating_duration_since(Instant::now()))).await;
            delay *= 2;
        }
        Err(Self::unavailable(last))
    }
}

impl SpeechEngine for RemoteEngine {
    fn name(&self) -> &'static str {
        "remote"
    }

    fn synthesize<'a>(
        &'a self,
        sentences: &'a [String],
        voice: &'a VoiceProfile,
        dir: &'a Path,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Vec<Clip>, SpeechError>> {
        Box::pin(async move {
            let voice_id = voice.remote_voice.as_deref().ok_or_else(|| {
                Self::unavailable("this voice is not mapped to the remote provider".into())
            })?;
            let mut out = Vec::with_capacity(sentences.len());
            for (i, sentence) in sentences.iter().enumerate() {
                let path = dir.join(format!("remote-{i:03}.wav"));
                let mut timed = None;
                if !self.no_timestamps.load(Ordering::Relaxed) {
                    match self
                        .speak(voice_id, sentence, voice.rate, true, deadline)
                        .await?
                    {
                        Some(body) => timed = Some(parse_timed(&body, sentence)?),
                        // Remembered, so later sentences ask for plain audio at once.
                        None => self.no_timestamps.store(true, Ordering::Relaxed),
                    }
                }
                let (pcm, starts) = match timed {
                    Some(t) => t,
                    None => {
                        let pcm = self
                            .speak(voice_id, sentence, voice.rate, false, deadline)
                            .await?;
                        (pcm.unwrap_or_default().to_vec(), None)
                    }
                };
                write_wav(&path, &pcm)?;
                out.push(Clip {
                    wav: path,
                    word_starts: starts,
                });
            }
            Ok(out)
        })
    }
}

/// The with-timestamps answer: `{audio_base64, alignment: {characters,
/// character_start_times_seconds, …}}` → PCM bytes and the sentence's word starts (the
/// characters are those of the text sent, so character `i` is the sentence's).
fn parse_timed(body: &[u8], sentence: &str) -> Result<(Vec<u8>, Option<Vec<f64>>), SpeechError> {
    use base64::Engine as _;
    let bad = |reason: &str| SpeechError::BadAudio {
        engine: "remote",
        reason: format!("with-timestamps answer: {reason}"),
    };
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| bad("not JSON"))?;
    let audio = v
        .get("audio_base64")
        .and_then(|a| a.as_str())
        .ok_or_else(|| bad("no audio_base64"))?;
    let pcm = base64::engine::general_purpose::STANDARD
        .decode(audio)
        .map_err(|_| bad("audio_base64 is not base64"))?;
    if pcm.len() < 2 {
        return Err(bad("no audio"));
    }
    let starts = v.get("alignment").and_then(|a| {
        let times = a.get("character_start_times_seconds")?.as_array()?;
        let events: Vec<(usize, f64)> = times
            .iter()
            .enumerate()
            .filter_map(|(i, t)| Some((i, t.as_f64()?)))
            .collect();
        crate::word_times::starts_from_char_events(sentence, &events)
    });
    Ok((pcm, starts))
}

/// Wrap raw little-endian 16-bit mono PCM in a WAV file.
fn write_wav(path: &Path, pcm: &[u8]) -> Result<(), SpeechError> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let bad = |e: hound::Error| SpeechError::BadAudio {
        engine: "remote",
        reason: e.to_string(),
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(bad)?;
    for chunk in pcm.chunks_exact(2) {
        w.write_sample(i16::from_le_bytes([chunk[0], chunk[1]]))
            .map_err(bad)?;
    }
    w.finalize().map_err(bad)
}
