//! The wire shapes, for the document only: request bodies refuse unknown fields
//! (`deny_unknown_fields` becomes `additionalProperties: false`, as the strict JSON reader
//! does); response bodies stay open, so a field added later never breaks a client that
//! validates answers. Every bounded or closed field takes its schema from `rules`.

#![allow(dead_code)] // the fields exist for their schemas only

use super::rules;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

fn error_code() -> utoipa::openapi::schema::Object {
    let codes: Vec<&str> = peakreel_types::Code::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    rules::string_enum(&codes, false)
}

fn task_status() -> utoipa::openapi::schema::Object {
    rules::string_enum(super::TASK_STATUSES, false)
}

fn task_kind() -> utoipa::openapi::schema::Object {
    rules::string_enum(super::TASK_KINDS, false)
}

fn owner() -> utoipa::openapi::schema::Object {
    rules::string_enum(&["public", "account"], false)
}

fn health_status() -> utoipa::openapi::schema::Object {
    rules::string_enum(&["ok", "degraded", "draining"], false)
}

fn check_state() -> utoipa::openapi::schema::Object {
    rules::string_enum(&["ok", "failing"], false)
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// One of the codes of errors.md.
    #[schema(schema_with = error_code)]
    code: String,
    /// What went wrong and what to do, for a person.
    message: String,
    #[schema(pattern = "^req_[0-9A-Za-z]{24}$")]
    request_id: String,
    /// Shape per code (errors.md).
    details: Option<serde_json::Value>,
}

/// Every error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
/// Name a voice with `voice_id`, or (Extension, for older clients) leave it out and
/// describe one: `gender`, `accent` and `language` must be met (else 400 VOICE_NOT_FOUND
/// with `details.unmet`), `age` and `style` are preferences. `voice_id` wins when both
/// are sent.
pub struct VoiceSelection {
    /// A voice from GET /v1/voices (INVALID_VOICE_ID when malformed, VOICE_NOT_FOUND when
    /// unknown); required unless gender, accent or language is given.
    #[schema(pattern = "^[0-9A-Za-z]{20}$", example = "EXAVITQu4vr4xnSDxMaL")]
    voice_id: Option<String>,
    /// ISO 639-1 code the voice speaks; default its first language.
    #[schema(pattern = "^[a-z]{2}$")]
    language: Option<String>,
    gender: Option<crate::openapi_compat::VoiceGender>,
    /// american, british, australian, swedish (also US, UK, en-GB, "British English", …).
    #[schema(max_length = 40)]
    accent: Option<String>,
    age: Option<crate::openapi_compat::VoiceAge>,
    /// Up to 8 words such as "warm professional" (a string or an array of strings).
    style: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Subtitle {
    #[schema(schema_with = rules::subtitle_preset)]
    subtitle_style_preset: String,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WatermarkElement {
    #[schema(schema_with = rules::watermark_url)]
    url: String,
    /// Default bottom-right.
    #[schema(schema_with = rules::position)]
    position: Option<String>,
    #[schema(schema_with = rules::watermark_size)]
    size: Option<u8>,
    #[schema(schema_with = rules::watermark_opacity)]
    opacity: Option<u8>,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextElement {
    #[schema(schema_with = rules::text_content)]
    content: String,
    /// #RRGGBB (default #FFFFFF).
    #[schema(pattern = "^#[0-9A-Fa-f]{6}$")]
    color: Option<String>,
    /// Default Inter.
    #[schema(schema_with = rules::font)]
    font: Option<String>,
    #[schema(schema_with = rules::text_size)]
    size: Option<u16>,
    /// Default top-left.
    #[schema(schema_with = rules::position)]
    position: Option<String>,
}

/// Validated even when `enabled` is false; only enabled elements are drawn.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ElementsConfig {
    enabled: Option<bool>,
    watermark: Option<WatermarkElement>,
    text: Option<TextElement>,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NarratedSlideshowRequest {
    /// Distinct https URLs of listing photos, fetched at creation.
    #[schema(schema_with = rules::slideshow_images)]
    images: Vec<String>,
    voice: VoiceSelection,
    #[schema(schema_with = rules::slideshow_script)]
    script: String,
    /// Default: the first image's orientation (MIXED_ORIENTATIONS when they differ).
    #[schema(schema_with = rules::orientation)]
    orientation: Option<String>,
    /// Default artistic.
    #[schema(schema_with = rules::orchestration_mode)]
    orchestration_mode: Option<String>,
    #[schema(schema_with = rules::webhook_url)]
    webhook_url: Option<String>,
    /// A UUID of any version (INVALID_AVATAR_ID otherwise) naming a public avatar or one of yours.
    #[schema(
        pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
    )]
    avatar_id: Option<String>,
    background_music: Option<bool>,
    subtitle: Option<Subtitle>,
    elements_config: Option<ElementsConfig>,
    /// Test keys only (VALIDATION_ERROR with a live key); default success.
    #[schema(schema_with = rules::test_scenario)]
    test_scenario: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LivingPropertyImage {
    #[schema(schema_with = rules::watermark_url)]
    url: String,
    /// Chooses the camera move (default other).
    #[schema(schema_with = rules::room_type)]
    room_type: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LivingPropertyRequest {
    /// One scene per image, in order; distinct URLs.
    #[schema(schema_with = rules::living_images)]
    images: Vec<LivingPropertyImage>,
    voice: VoiceSelection,
    #[schema(schema_with = rules::living_script)]
    script: String,
    /// Default no_modify; the others need a virtual-staging provider.
    #[schema(schema_with = rules::modification_mode)]
    modification_mode: Option<String>,
    #[schema(schema_with = rules::orientation)]
    orientation: Option<String>,
    background_music: Option<bool>,
    #[schema(schema_with = rules::webhook_url)]
    webhook_url: Option<String>,
    subtitle: Option<Subtitle>,
    elements_config: Option<ElementsConfig>,
    #[schema(schema_with = rules::test_scenario)]
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
    #[schema(pattern = "^task_[0-9A-Za-z]{24}$")]
    task_id: String,
    #[schema(schema_with = task_status)]
    status: String,
    queue_position: Option<u32>,
    #[schema(format = DateTime)]
    estimated_completion: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    livemode: bool,
    credits_charged: i64,
    #[schema(pattern = "^req_[0-9A-Za-z]{24}$")]
    request_id: String,
    _links: TaskLinks,
}

#[derive(Serialize, ToSchema)]
pub struct TaskResult {
    /// Signed, expiring link.
    video_url: String,
    cover_image_url: String,
    duration_seconds: f64,
    resolution: String,
    width: u32,
    height: u32,
    #[schema(format = DateTime)]
    expires_at: String,
    /// Present (true) once the files passed their retention.
    expired: Option<bool>,
    /// (Extension) Caption files of the narration; absent on results stored before
    /// PeakReel wrote them.
    captions: Option<TaskCaptions>,
}

/// (Extension) The narration's caption files: signed URLs, valid like `video_url` and
/// expiring with the video. Their cues are those burned into the video (the `classic`
/// layout when no subtitles were requested); the WebVTT cues carry each word's start as a
/// `<hh:mm:ss.mmm>` timestamp tag. Test-mode samples carry the captions of the sample's
/// own narration.
#[derive(Serialize, ToSchema)]
pub struct TaskCaptions {
    /// WebVTT (`text/vtt`).
    vtt_url: String,
    /// SubRip (`application/x-subrip`).
    srt_url: String,
}

/// Why an item failed or cannot be shown whole.
#[derive(Serialize, ToSchema)]
pub struct ItemError {
    #[schema(schema_with = error_code)]
    code: String,
    message: String,
    details: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct Task {
    #[schema(pattern = "^task_[0-9A-Za-z]{24}$")]
    task_id: String,
    #[serde(rename = "type")]
    #[schema(schema_with = task_kind)]
    kind: String,
    #[schema(schema_with = task_status)]
    status: String,
    livemode: bool,
    #[schema(format = DateTime)]
    created_at: String,
    queue_position: Option<u32>,
    #[schema(format = DateTime)]
    estimated_completion: Option<String>,
    #[schema(format = DateTime)]
    started_at: Option<String>,
    /// 0–100 while processing (Extension).
    #[schema(minimum = 0, maximum = 100)]
    progress: Option<u8>,
    /// What a processing task is doing (Extension).
    stage: Option<String>,
    #[schema(format = DateTime)]
    completed_at: Option<String>,
    result: Option<TaskResult>,
    error: Option<ItemError>,
    /// The voice the task is spoken with (Extension).
    voice: Option<crate::openapi_compat::TaskVoice>,
}

#[derive(Serialize, ToSchema)]
pub struct TaskList {
    data: Vec<Task>,
    has_more: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Voice {
    #[schema(pattern = "^[0-9A-Za-z]{20}$")]
    voice_id: String,
    name: String,
    languages: Vec<String>,
    gender: String,
    accent: String,
    provider: String,
    #[schema(schema_with = owner)]
    owner: String,
    /// A short spoken sample (signed link); absent when the voice has none.
    preview_url: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    /// Present only when the voice cannot be shown whole (its preview is missing).
    error: Option<ItemError>,
    /// Extension: the engine speaking this voice on this server: `remote`, `piper`,
    /// `flite` or `espeak-ng`.
    engine: Option<String>,
    /// Extension: whether that engine is neural (remote provider, Piper).
    neural: Option<bool>,
}

/// A tuned variant of a voice you can use.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVoiceVariant {
    #[schema(schema_with = rules::name)]
    name: String,
    /// A voice from GET /v1/voices (public or your own).
    #[schema(pattern = "^[0-9A-Za-z]{20}$", example = "EXAVITQu4vr4xnSDxMaL")]
    base_voice_id: String,
    /// ISO 639-1; one of the base voice's languages.
    #[schema(pattern = "^[a-z]{2}$", example = "en")]
    language: String,
    #[schema(schema_with = rules::rate)]
    rate: Option<f32>,
    #[schema(schema_with = rules::pitch)]
    pitch: Option<f32>,
    #[schema(schema_with = rules::expires_in_days)]
    expires_in_days: Option<u32>,
}

/// A cloned voice from recordings (needs a cloning provider).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVoiceClone {
    #[schema(schema_with = rules::name)]
    name: String,
    #[schema(schema_with = rules::samples)]
    samples: Vec<String>,
    #[schema(schema_with = rules::expires_in_days)]
    expires_in_days: Option<u32>,
}

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum CreateVoiceRequest {
    Variant(CreateVoiceVariant),
    Clone(CreateVoiceClone),
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAvatarRequest {
    #[schema(schema_with = rules::name)]
    name: String,
    #[schema(schema_with = rules::avatar_image_url)]
    image_url: String,
    /// Default static; talking needs a talking-avatar provider.
    #[schema(schema_with = rules::avatar_style)]
    style: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct VoiceList {
    data: Vec<Voice>,
}

#[derive(Serialize, ToSchema)]
pub struct Avatar {
    #[schema(
        pattern = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
    )]
    avatar_id: String,
    name: String,
    #[schema(schema_with = owner)]
    owner: String,
    /// Signed, expiring URL of the portrait; null when it cannot be read (see `error`).
    #[schema(required = true)]
    image_url: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    /// Present only when the avatar cannot be shown whole (AVATAR_URL_ERROR).
    error: Option<ItemError>,
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
    #[schema(format = DateTime)]
    renews_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct HealthChecks {
    #[schema(schema_with = check_state)]
    database: String,
    #[schema(schema_with = check_state)]
    storage: String,
    #[schema(schema_with = check_state)]
    ffmpeg: String,
    #[schema(schema_with = check_state)]
    speech: String,
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// 200 ok; 503 degraded (a check fails) or draining (shutting down).
    #[schema(schema_with = health_status)]
    status: String,
    version: String,
    checks: HealthChecks,
    /// Circuit-breaker state of each speech engine: closed, half-open or open.
    speech_breakers: Option<BTreeMap<String, String>>,
    /// (Extension) Whether photos get room labels and presenter crops find faces. Never
    /// makes the server unhealthy: without the vision sidecar photos stay unlabelled and
    /// crops are centred.
    vision: Option<VisionHealth>,
}

/// (Extension) The vision sidecar's state in `/health`.
#[derive(Serialize, ToSchema)]
pub struct VisionHealth {
    /// `ok` or `unavailable`.
    room_labels: String,
    /// `ok` or `unavailable`.
    faces: String,
    /// Why it is unavailable (switched off, node or the detector packages not installed).
    reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryAttempt {
    attempt: i64,
    #[schema(format = DateTime)]
    attempted_at: String,
    /// The receiver's HTTP status; null when it could not be reached.
    status: Option<i64>,
    latency_ms: Option<i64>,
    /// The first KiB of the receiver's answer.
    response_body: Option<String>,
    error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Delivery {
    delivery_id: String,
    event: String,
    status: String,
    redelivery_of: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    next_attempt_at: Option<String>,
    attempts: Vec<DeliveryAttempt>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    data: Vec<Delivery>,
}
