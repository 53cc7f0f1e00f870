//! The storyboard dry run (Extension): `POST /v1/real-estate/narrated-slideshow/plan` and
//! `/living-property/plan` take the create route's body, run the create route's
//! validation (fields, voice and avatar, every image fetched or read from uploads and
//! checked, orientation, webhook URL), and answer the planned scenes instead of a task.
//! Free: nothing is stored, charged or queued, and credits and concurrency are reported
//! rather than enforced. Narration timing is estimated (see `peakreel_media::storyboard`).

use crate::auth::Caller;
use crate::body::read_json_body;
use crate::error::Failure;
use crate::inputs::fetch_inputs;
use crate::routes::create::lookup_voice_and_avatar;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use peakreel_domain::request::parse_create_request;
use peakreel_domain::{OrchestrationMode, Orientation, RequestKind};
use peakreel_media::analysis::{analyze, decode_bytes_covering};
use peakreel_media::labels;
use peakreel_media::plan::Mode;
use peakreel_media::storyboard::storyboard;
use peakreel_media::{Profile, RenderKind, RoomType};
use peakreel_types::{ApiError, Code};
use serde_json::{json, Value};

#[utoipa::path(post, path = "/v1/real-estate/narrated-slideshow/plan", tag = "storyboard",
    request_body = crate::openapi::NarratedSlideshowRequest,
    responses((status = 200, body = crate::openapi_extensions::StoryboardView), (status = "4XX", body = crate::openapi::ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn narrated_slideshow_plan(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, Failure> {
    dry_run(state, caller, headers, body, RequestKind::NarratedSlideshow).await
}

#[utoipa::path(post, path = "/v1/real-estate/living-property/plan", tag = "storyboard",
    request_body = crate::openapi::LivingPropertyRequest,
    responses((status = 200, body = crate::openapi_extensions::StoryboardView), (status = "4XX", body = crate::openapi::ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn living_property_plan(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, Failure> {
    dry_run(state, caller, headers, body, RequestKind::LivingProperty).await
}

async fn dry_run(
    state: AppState,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
    kind: RequestKind,
) -> Result<Json<Value>, Failure> {
    let bytes = read_json_body(&headers, body).await?;
    let request = parse_create_request(kind, &bytes, caller.livemode(), &state.config.url_policy)?;
    let voice = lookup_voice_and_avatar(&state, &caller, &request).await?;
    let fetched = fetch_inputs(&state, &caller.owner(), &request).await?;
    let orientation = fetched.orientation(&request)?;

    let render_kind = match kind {
        RequestKind::NarratedSlideshow | RequestKind::Slideshow => RenderKind::Slideshow,
        // The request's room types are the render's room hints (room_hints.rs).
        RequestKind::LivingProperty => RenderKind::Living {
            room_types: request
                .images
                .iter()
                .map(|i| i.room_type.and_then(|r| RoomType::from_name(r.as_str())))
                .collect(),
        },
    };
    let mode = match request.orchestration_mode {
        OrchestrationMode::Sequential => Mode::Sequential,
        OrchestrationMode::Standard => Mode::Standard,
        OrchestrationMode::Artistic => Mode::Artistic,
    };
    let language = request
        .language
        .clone()
        .or_else(|| voice.languages.first().cloned())
        .unwrap_or_else(|| "en".into());
    // Every photo is labelled, for the scenes' `room`: the labels a render would not
    // compute (`labels::wanted_for`) are exactly those that cannot change its plan, so
    // the storyboard's scenes are still the render's.
    // Measured at the size the render decodes them to: the same metrics, hence the same
    // plan, and a huge photo never decoded whole.
    let cover = peakreel_media::photo_cover(Profile::Full.size(match orientation {
        Orientation::Landscape => peakreel_media::Orientation::Landscape,
        Orientation::Portrait => peakreel_media::Orientation::Portrait,
    }));
    let images = fetched.image_bodies();
    let (mut metrics, copies): (Vec<_>, Vec<_>) = tokio::task::spawn_blocking(move || {
        // One body in memory at a time: spooled ones are read back as they are measured.
        images
            .iter()
            .enumerate()
            .map(|(i, body)| {
                let bytes = body.to_bytes_blocking().map_err(|e| (i, e.to_string()))?;
                decode_bytes_covering(&bytes, cover)
                    .map(|img| (analyze(&img), Some(labels::label_copy(&img))))
                    .map_err(|r| (i, r))
            })
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|_| ApiError::internal())?
    .map_err(|(index, reason)| {
        ApiError::new(
            Code::ImageProcessingFailed,
            format!("`images[{index}]` could not be decoded ({reason}). Use a complete JPEG, PNG or WebP file."),
        )
        .with_details(json!({ "index": index, "reason": "decode_failed" }))
    })?
    .into_iter()
    .unzip();
    labels::label_all(state.vision.as_ref(), &copies, &mut metrics).await;

    let rate = voice
        .engine
        .get("rate")
        .and_then(Value::as_f64)
        .unwrap_or(1.0);
    // The render seeds its artistic choices with the task id, which a dry run does not
    // have: this is one arrangement the planner can make, not necessarily the render's.
    let board = storyboard(
        &render_kind,
        mode,
        &metrics,
        &request.script,
        &language,
        rate,
        0,
    );

    let price = if caller.livemode() {
        request.price(&state.config.prices)
    } else {
        0
    };
    let balance = state.store.balance(&caller.account.id).await?;
    let round = |s: f64| (s * 100.0).round() / 100.0;
    Ok(Json(json!({
        "kind": kind.as_str(),
        "orientation": orientation,
        "orchestration_mode": request.orchestration_mode,
        "estimated_duration_seconds": round(board.total_seconds),
        "narration_timing": "estimated",
        "credits_required": price,
        "balance": balance,
        "livemode": caller.livemode(),
        "scenes": board.scenes.iter().map(|s| json!({
            "image_index": s.image,
            "image_url": request.images[s.image].url,
            "room": s.room.map(|r| r.as_str()),
            "start_seconds": round(s.start),
            "end_seconds": round(s.end),
            "sentences": s.sentences,
        })).collect::<Vec<_>>(),
        "sentences": board.sentences.iter().enumerate().map(|(i, s)| json!({
            "index": i,
            "text": s.text,
            "start_seconds": round(s.start),
            "end_seconds": round(s.end),
        })).collect::<Vec<_>>(),
    })))
}
