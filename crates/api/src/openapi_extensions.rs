//! The OpenAPI part of PeakReel's own additions made for the console (uploads, the
//! storyboard dry run, the credit ledger), merged into the main document by
//! [`crate::openapi::document`]. Kept apart so the compatible routes' document is unchanged.

#![allow(dead_code)] // schema types exist for the document only

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

/// An uploaded image (`POST /v1/uploads`).
#[derive(Serialize, ToSchema)]
pub struct UploadView {
    /// `upl_` + 24 alphanumerics.
    upload_id: String,
    /// `upload://{upload_id}`: pass it wherever a request takes an image URL (`images[].url`
    /// or `image_urls[]`, `elements_config.watermark.url`, the avatar `image_url`).
    url: String,
    /// Pixels as the image is shown (after its EXIF rotation).
    width: u32,
    height: u32,
    /// `landscape`, `portrait` or `square` (aspect within 1 ± 0.05).
    orientation: String,
    /// `jpg`, `png` or `webp`, judged by the bytes.
    format: String,
    size_bytes: u64,
    created_at: String,
    /// After this the reference is refused with `IMAGE_INACCESSIBLE` (`reason: upload_expired`).
    expires_at: String,
}

/// One planned scene of a storyboard.
#[derive(Serialize, ToSchema)]
pub struct StoryboardScene {
    /// Index into the request's `images` (a photo may appear more than once).
    image_index: usize,
    /// The request's URL (or `upload://` reference) of that photo.
    image_url: String,
    /// What the photo shows, as the planner saw it; `null` when unknown. A living
    /// property's `room_type` sets it (`garden` and `pool` are `garden_pool`, `office` and
    /// `hallway` are `other`, `other` says nothing); otherwise the vision sidecar's label,
    /// `null` when the sidecar is unavailable (see `/health`'s `vision`) or saw nothing
    /// decisive.
    #[schema(nullable)]
    room: Option<SceneRoom>,
    /// When the photo is the main picture, in seconds, measured at transition midpoints.
    start_seconds: f64,
    end_seconds: f64,
    /// Indices into `sentences` heard over this scene for at least 0.25 s.
    sentences: Vec<usize>,
}

/// A scene's room label (issue 13's rooms, `peakreel_rooms::Room`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SceneRoom {
    Exterior,
    LivingRoom,
    Kitchen,
    DiningRoom,
    Bedroom,
    Bathroom,
    GardenPool,
    Other,
}

/// One sentence of the script with its estimated times.
#[derive(Serialize, ToSchema)]
pub struct StoryboardSentence {
    index: usize,
    text: String,
    start_seconds: f64,
    end_seconds: f64,
}

/// The storyboard dry run's answer (`POST …/plan`): nothing is stored or charged.
#[derive(Serialize, ToSchema)]
pub struct StoryboardView {
    /// `narrated_slideshow` or `living_property`.
    kind: String,
    /// `landscape` or `portrait`, decided from the photos as creation would.
    orientation: String,
    orchestration_mode: String,
    estimated_duration_seconds: f64,
    /// Always `estimated`: narration times come from the script's length and the voice's
    /// rate (16 characters per second at rate 1), not from synthesis.
    narration_timing: String,
    /// What creating the task would charge (0 with a test key), and the current balance.
    credits_required: i64,
    balance: i64,
    livemode: bool,
    scenes: Vec<StoryboardScene>,
    sentences: Vec<StoryboardSentence>,
}

/// One row of the credit ledger.
#[derive(Serialize, ToSchema)]
pub struct LedgerEntryView {
    id: i64,
    /// `grant`, `charge`, `refund` or `monthly_refresh`.
    kind: String,
    /// Credits: positive for grants and refunds, negative for charges.
    amount: i64,
    task_id: Option<String>,
    note: Option<String>,
    created_at: String,
}

/// `GET /v1/account/ledger`: the balance (the sum of every entry) and the entries, newest first.
#[derive(Serialize, ToSchema)]
pub struct LedgerView {
    balance: i64,
    entries: Vec<LedgerEntryView>,
}

#[derive(OpenApi)]
#[openapi(
    paths(
        crate::routes::uploads::create_upload,
        crate::routes::plan::narrated_slideshow_plan,
        crate::routes::plan::living_property_plan,
        crate::routes::ledger::get_ledger,
    ),
    components(schemas(
        UploadView,
        StoryboardView,
        StoryboardScene,
        StoryboardSentence,
        LedgerView,
        LedgerEntryView
    ))
)]
pub struct ExtensionsDoc;
