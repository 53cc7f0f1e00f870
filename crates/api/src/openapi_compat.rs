//! OpenAPI schemas of the compatibility additions: the legacy slideshow route and the
//! voice chosen by attributes (shown on the task as `voice`). Kept beside `openapi/` so
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
#[serde(deny_unknown_fields)]
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

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};
    use utoipa::OpenApi;

    fn doc() -> Value {
        serde_json::to_value(crate::openapi::ApiDoc::openapi()).unwrap()
    }

    #[test]
    fn the_legacy_route_and_its_constraints_are_documented() {
        let d = doc();
        let op = &d["paths"]["/v1/real-estate/slideshow"]["post"];
        assert!(op.is_object(), "route missing");
        let schema = &d["components"]["schemas"]["LegacySlideshowRequest"];
        let p = &schema["properties"];
        assert_eq!(
            (
                p["images"]["minItems"].clone(),
                p["images"]["maxItems"].clone()
            ),
            (json!(5), json!(9))
        );
        assert_eq!(
            (
                p["script"]["minLength"].clone(),
                p["script"]["maxLength"].clone()
            ),
            (json!(50), json!(5000))
        );
        let mut required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        required.sort_unstable();
        assert_eq!(required, ["images", "script", "style", "voice"]);
        let style = &d["components"]["schemas"]["LegacyStyle"]["enum"];
        assert_eq!(
            style,
            &json!(["do-not-modify", "change-decoration", "furnish-it"])
        );
    }

    #[test]
    fn voice_attributes_and_the_task_voice_are_documented() {
        let d = doc();
        let voice = &d["components"]["schemas"]["VoiceSelection"];
        for field in ["voice_id", "language", "gender", "accent", "age", "style"] {
            assert!(voice["properties"][field].is_object(), "{field}: {voice}");
        }
        assert!(
            voice["required"].as_array().is_none_or(|r| r.is_empty()),
            "{voice}"
        );
        assert_eq!(
            d["components"]["schemas"]["VoiceAge"]["enum"],
            json!(["young", "middle_aged", "old"])
        );
        assert!(d["components"]["schemas"]["Task"]["properties"]["voice"].is_object());
    }
}
