//! A remote speech provider speaking the ElevenLabs text-to-speech HTTP interface
//! (`POST {base}/v1/text-to-speech/{voice_id}?output_format=pcm_22050`, header
//! `xi-api-key`, JSON `{text, model_id, voice_settings}` → raw 16-bit mono PCM). Requests
//! go through the SSRF-guarded client like every other outgoing URL; transient failures
//! (5xx, 429, timeouts, refused connections) are retried with backoff inside the engine's
//! circuit breaker, so the breaker counts a narration, not each retry.

use crate::engines::{BoxFuture, Clip, SpeechEngine};
use crate::{SpeechError, VoiceProfile};
use bytes::Bytes;
use peakreel_fetch::{HeaderMap, HeaderName, HeaderValue, SafeClient};
use std::path::Path;
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
        RemoteEngine { config, client }
    }

    fn unavailable(reason: String) -> SpeechError {
        SpeechError::Unavailable {
            engine: "remote",
            reason,
        }
    }

    /// One sentence as PCM bytes, with retries for transient failures.
    async fn speak(
        &self,
        voice_id: &str,
        text: &str,
        rate: f32,
        deadline: Instant,
    ) -> Result<Bytes, SpeechError> {
        let url = format!(
            "{}/v1/text-to-speech/{voice_id}?output_format=pcm_{SAMPLE_RATE}",
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
            HeaderValue::from_static("audio/pcm"),
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
                    return Ok(resp.body);
                }
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
                let pcm = self.speak(voice_id, sentence, voice.rate, deadline).await?;
                let path = dir.join(format!("remote-{i:03}.wav"));
                write_wav(&path, &pcm)?;
                out.push(Clip::untimed(path));
            }
            Ok(out)
        })
    }
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
