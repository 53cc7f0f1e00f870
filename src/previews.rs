//! Voice preview samples (api.md §5 `preview_url`): one short sentence spoken by the
//! voice's own engine mapping, the same way a render would speak it.

use crate::job::VoiceSpec;
use async_trait::async_trait;
use bytes::Bytes;
use peakreel_api::providers::VoicePreviewer;
use peakreel_media::RenderEnv;
use peakreel_speech::NarrationOptions;
use peakreel_store::VoiceRecord;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The preview sentence in the voice's first language: a voice speaks other languages
/// with that language's phonemes, so English words would come out garbled. English for
/// a language without a sentence here.
fn preview_text(language: Option<&str>) -> &'static str {
    match language.unwrap_or("en") {
        "es" => "Bienvenido a casa. Esta casa luminosa y tranquila le está esperando.",
        "fr" => "Bienvenue chez vous. Cette maison claire et calme vous attend.",
        "de" => "Willkommen zu Hause. Dieses helle, ruhige Haus wartet auf Sie.",
        "sv" => "Välkommen hem. Det här ljusa, lugna huset väntar på dig.",
        _ => "Welcome home. This bright, quiet house is ready for you.",
    }
}

pub struct SpeechPreviewer {
    pub env: Arc<RenderEnv>,
}

#[async_trait]
impl VoicePreviewer for SpeechPreviewer {
    async fn preview(&self, voice: &VoiceRecord) -> Result<Bytes, String> {
        let spec = VoiceSpec::from_record(voice).ok_or("the voice has no local engine mapping")?;
        let language = voice.languages.first().map(String::as_str);
        let profile = spec.profile(language);
        let dir = tempfile::Builder::new()
            .prefix("peakreel-preview-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let options = NarrationOptions {
            lead: 0.1,
            tail: 0.3,
            align_words: false,
            ..NarrationOptions::default()
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let narration = self
            .env
            .speech
            .narrate(
                preview_text(language),
                &profile,
                options,
                dir.path(),
                deadline,
            )
            .await
            .map_err(|e| e.to_string())?;
        let wav = tokio::fs::read(&narration.wav)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Bytes::from(wav))
    }
}

/// How long after a pass that could not store some previews the next one starts,
/// doubling up to [`RETRY_MAX`]: an outage of the storage or the database at start costs
/// the public voices their previews only until it ends, not until the next restart.
const RETRY_FIRST: Duration = Duration::from_secs(10);
const RETRY_MAX: Duration = Duration::from_secs(600);

/// Makes the missing previews of the public voices `ids`, pass after pass, until every
/// one is stored or `shutdown` turns true.
pub async fn keep_public_previews(
    store: &dyn peakreel_store::Store,
    blobs: &peakreel_blobs::Blobs,
    previewer: &SpeechPreviewer,
    mut ids: Vec<String>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut wait = RETRY_FIRST;
    loop {
        ids = fill_public_previews(store, blobs, previewer, ids).await;
        if ids.is_empty() || *shutdown.borrow() {
            return;
        }
        tracing::info!(
            missing = ids.len(),
            retry_in_secs = wait.as_secs(),
            "voice previews will be made again"
        );
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        wait = (wait * 2).min(RETRY_MAX);
    }
}

/// Make the missing previews of the public voices `ids` (once per engine; they are
/// stored under a key naming the engine, so a voice whose engine changed gets a new one).
/// Returns the ids whose preview was made but could not be stored.
async fn fill_public_previews(
    store: &dyn peakreel_store::Store,
    blobs: &peakreel_blobs::Blobs,
    previewer: &SpeechPreviewer,
    ids: Vec<String>,
) -> Vec<String> {
    let mut missing = Vec::new();
    for id in ids {
        let record = match store.get_voice(&id).await {
            Ok(Some(record)) => record,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(voice_id = %id, error = %e, "no preview for this voice");
                missing.push(id);
                continue;
            }
        };
        let engine = peakreel_api::views::voice_speaker(&record).map_or("local", |s| s.0);
        let key = format!("voices/{}/preview-{engine}.wav", record.id);
        if record.preview_path.as_deref() == Some(key.as_str()) {
            continue;
        }
        let wav = match previewer.preview(&record).await {
            Ok(wav) => wav,
            // The voice's engine cannot speak it here: another pass would not either.
            Err(e) => {
                tracing::warn!(voice_id = %record.id, error = %e, "no preview for this voice");
                continue;
            }
        };
        let recorded = match blobs.put(&key, wav).await {
            Ok(()) => store
                .set_voice_preview(&record.id, &key)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = recorded {
            tracing::warn!(voice_id = %record.id, error = %e, "no preview for this voice");
            missing.push(id);
        }
    }
    missing
}
