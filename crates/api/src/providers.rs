//! Capabilities that need a provider the operator configures (api.md §10). The API holds
//! them as optional trait objects: absent means the feature answers with a clear
//! `VALIDATION_ERROR` instead of pretending.

use async_trait::async_trait;
use bytes::Bytes;
use peakreel_store::VoiceRecord;

/// A short spoken sample of a voice, for `preview_url`.
#[async_trait]
pub trait VoicePreviewer: Send + Sync {
    /// WAV bytes of a sentence or two in this voice.
    async fn preview(&self, voice: &VoiceRecord) -> Result<Bytes, String>;
}

/// Creates a provider-side voice from recorded samples (`POST /v1/voices` with `samples`).
#[async_trait]
pub trait VoiceCloningProvider: Send + Sync {
    /// The provider's id of the new voice.
    async fn clone_voice(&self, name: &str, samples: Vec<Bytes>) -> Result<String, String>;
}

/// Animates a presenter portrait to speak (a "talking" avatar).
#[async_trait]
pub trait TalkingAvatarProvider: Send + Sync {
    /// Registers the portrait with the provider; returns its id there.
    async fn register(&self, name: &str, portrait_png: Bytes) -> Result<String, String>;
}
