//! OpenAPI schemas of the compatibility additions: the legacy slideshow route and the
//! voice chosen by attributes (shown on the task as `voice`). Kept beside `openapi.rs` so
//! the constraints of these older shapes read in one place.

#![allow(dead_code)] // schema types exist for the document only

use serde::Serialize;
use utoipa::ToSchema;

/// How the photos are treated: as they are, or virtually staged (needs a staging
/// provider; otherwise VALIDATION_ERROR on `style`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LegacyStyle {
    DoNotModify,
    ChangeDecoration,
    FurnishIt,
}

/// Scene planning (api.md §8.2); the legacy route defaults to `standard`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrchestrationMode {
    Standard,
    Artistic,
    Sequential,
}

/// Compatibility route (VibePeak's older documentation; superseded by narrated-slideshow).
/// Any other field, including the narrated slideshow's `orientation`, `avatar_id`,
/// `background_music`, `subtitle` and `elements_config`, is an unknown field.
#[derive(Serialize, ToSchema)]
pub struct LegacySlideshowRequest {
    /// 5 to 9 distinct https image URLs (JPEG, PNG or WebP), fetched through the SSRF guard.
    #[schema(min_items = 5, max_items = 9)]
    images: Vec<String>,
    style: LegacyStyle,
    voice: crate::openapi::VoiceSelection,
    /// 50 to 5,000 characters in all (not per image); letters, spaces and
    /// . , ! ? ; : ' " - ( ). A longer script makes a longer video.
    #[schema(min_length = 50, max_length = 5000)]
    script: String,
    /// Default `standard`.
    orchestration_mode: Option<OrchestrationMode>,
    /// https URL, at most 2048 characters.
    #[schema(max_length = 2048)]
    webhook_url: Option<String>,
    /// Test keys only: success, image_processing_failed, tts_error, service_timeout.
    test_scenario: Option<String>,
}

/// Age group a voice chosen by attributes should have (a preference).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VoiceAge {
    Young,
    MiddleAged,
    Old,
}

/// `gender` of a voice chosen by attributes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VoiceGender {
    Male,
    Female,
}

/// The voice of a task (Extension): the one it is spoken with, and how it was chosen.
#[derive(Serialize, ToSchema)]
pub struct TaskVoice {
    voice_id: String,
    /// The language asked for, if any (otherwise the voice's first language is spoken).
    language: Option<String>,
    /// `voice_id` (named by the client) or `attributes` (chosen by PeakReel).
    selected_by: String,
    /// The attributes asked for, when chosen by them (canonical spellings).
    attributes: Option<serde_json::Value>,
}
