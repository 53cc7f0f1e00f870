//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes and
//! the schema types below (which describe the wire shapes the handlers produce).

#![allow(dead_code)] // schema types exist for the document only

use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// One of the codes of errors.md.
    code: String,
    message: String,
    request_id: String,
    details: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Serialize, ToSchema)]
pub struct VoiceSelection {
    /// 20 characters of [0-9A-Za-z].
    voice_id: String,
    /// ISO 639-1 code the voice speaks; default its first language.
    language: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Subtitle {
    /// classic, modern, bold or karaoke.
    subtitle_style_preset: String,
}

#[derive(Serialize, ToSchema)]
pub struct WatermarkElement {
    url: String,
    /// top-left, top-center, top-right, center, bottom-left, bottom-center, bottom-right.
    position: Option<String>,
    /// 1–100, percent of the frame width (default 15).
    size: Option<u8>,
    /// 0–100 (default 80).
    opacity: Option<u8>,
}

#[derive(Serialize, ToSchema)]
pub struct TextElement {
    /// At most 100 characters.
    content: String,
    /// #RRGGBB (default #FFFFFF).
    color: Option<String>,
    /// Inter, Roboto, Open Sans, Montserrat, Lato, Poppins, Playfair Display, Merriweather.
    font: Option<String>,
    /// 8–200 px at 1080p (default 48).
    size: Option<u16>,
    position: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ElementsConfig {
    enabled: Option<bool>,
    watermark: Option<WatermarkElement>,
    text: Option<TextElement>,
}

#[derive(Serialize, ToSchema)]
pub struct NarratedSlideshowRequest {
    /// 6 to 15 distinct https URLs.
    images: Vec<String>,
    voice: VoiceSelection,
    /// 40 to 50 characters per image; letters, spaces and . , ! ? ; : ' " - ( ).
    script: String,
    /// landscape or portrait.
    orientation: Option<String>,
    /// standard, artistic (default) or sequential.
    orchestration_mode: Option<String>,
    webhook_url: Option<String>,
    /// UUID v4.
    avatar_id: Option<String>,
    background_music: Option<bool>,
    subtitle: Option<Subtitle>,
    elements_config: Option<ElementsConfig>,
    /// Test keys only: success, image_processing_failed, tts_error, service_timeout.
    test_scenario: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LivingPropertyImage {
    url: String,
    /// living_room, kitchen, bedroom, bathroom, dining_room, office, exterior, garden, pool, hallway, other.
    room_type: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LivingPropertyRequest {
    /// 1 to 9 images.
    images: Vec<LivingPropertyImage>,
    voice: VoiceSelection,
    /// 65 to 85 characters per image.
    script: String,
    /// no_modify (default), change_decoration, furnish.
    modification_mode: Option<String>,
    orientation: Option<String>,
    background_music: Option<bool>,
    webhook_url: Option<String>,
    subtitle: Option<Subtitle>,
    elements_config: Option<ElementsConfig>,
    test_scenario: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TaskLinks {
    #[serde(rename = "self")]
    self_: String,
    poll_interval_seconds: u32,
}

#[derive(Serialize, ToSchema)]
pub struct TaskAccepted {
    task_id: String,
    status: String,
    queue_position: u32,
    estimated_completion: String,
    created_at: String,
    livemode: bool,
    credits_charged: i64,
    request_id: String,
    _links: TaskLinks,
}

#[derive(Serialize, ToSchema)]
pub struct TaskResult {
    video_url: String,
    cover_image_url: String,
    duration_seconds: f64,
    resolution: String,
    width: u32,
    height: u32,
    expires_at: String,
    expired: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct TaskError {
    code: String,
    message: String,
}

#[derive(Serialize, ToSchema)]
pub struct Task {
    task_id: String,
    /// narrated_slideshow or living_property.
    #[serde(rename = "type")]
    kind: String,
    /// queued, processing, completed, failed.
    status: String,
    livemode: bool,
    created_at: String,
    queue_position: Option<u32>,
    estimated_completion: Option<String>,
    started_at: Option<String>,
    /// 0–100 while processing (Extension).
    progress: Option<u8>,
    /// fetching, narration, rendering, encoding, uploading (Extension).
    stage: Option<String>,
    completed_at: Option<String>,
    result: Option<TaskResult>,
    error: Option<TaskError>,
}

#[derive(Serialize, ToSchema)]
pub struct TaskList {
    data: Vec<Task>,
    has_more: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Voice {
    voice_id: String,
    name: String,
    languages: Vec<String>,
    gender: String,
    accent: String,
    provider: String,
    /// public or account.
    owner: String,
    preview_url: Option<String>,
    created_at: String,
    expires_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreateVoiceRequest {
    name: String,
    /// A voice from GET /v1/voices to tune (public or your own).
    base_voice_id: Option<String>,
    /// ISO 639-1; one of the base voice's languages.
    language: Option<String>,
    /// Multiplies the base voice's speed, 0.5–2.0 (default 1).
    rate: Option<f32>,
    /// Semitones added to the base voice's pitch, −12 to 12 (default 0).
    pitch: Option<f32>,
    /// 1–3650; after it the voice answers VOICE_EXPIRED.
    expires_in_days: Option<u32>,
    /// https URLs of recordings, for a cloned voice (needs a cloning provider).
    samples: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct CreateAvatarRequest {
    name: String,
    /// https URL of a portrait (fetched through the SSRF guard, must decode).
    image_url: String,
    /// static (default) or talking (needs a talking-avatar provider).
    style: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct VoiceList {
    data: Vec<Voice>,
}

#[derive(Serialize, ToSchema)]
pub struct Avatar {
    avatar_id: String,
    name: String,
    owner: String,
    /// Signed, expiring URL of the portrait.
    image_url: String,
    created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct AvatarList {
    data: Vec<Avatar>,
}

#[derive(Serialize, ToSchema)]
pub struct InFlight {
    live: u32,
    test: u32,
}

#[derive(Serialize, ToSchema)]
pub struct AccountView {
    account_id: String,
    name: String,
    plan: String,
    credits: i64,
    concurrency_limit: u32,
    in_flight: InFlight,
    renews_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct HealthChecks {
    database: String,
    storage: String,
    ffmpeg: String,
    speech: String,
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: String,
    version: String,
    checks: HealthChecks,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("vpk_live_… / vpk_test_…")
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "PeakReel API", description = "VibePeak-compatible real-estate video API."),
    paths(
        crate::routes::create::narrated_slideshow,
        crate::routes::create::living_property,
        crate::routes::tasks::get_task,
        crate::routes::tasks::list_tasks,
        crate::routes::catalog::list_voices,
        crate::routes::catalog::get_voice,
        crate::routes::catalog::list_avatars,
        crate::routes::catalog::get_avatar,
        crate::routes::account::get_account,
        crate::routes::health::health,
        crate::routes::files::download,
        crate::routes::webhooks::list_deliveries,
        crate::routes::webhooks::redeliver,
        crate::routes::custom::create_voice,
        crate::routes::custom::delete_voice,
        crate::routes::custom::create_avatar,
        crate::routes::custom::delete_avatar,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// The whole document: the compatible routes plus PeakReel's extensions.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::openapi_extensions::ExtensionsDoc::openapi());
    doc
}
