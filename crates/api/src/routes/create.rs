//! `POST /v1/real-estate/narrated-slideshow` and `/living-property` (api.md §3, §4), in the
//! validation order of §3: auth → plan (the `Caller` extractor) → JSON syntax → field
//! rules → voice and avatar lookup → credits and concurrency (with the insert, in one
//! transaction) → enqueue.

use crate::auth::Caller;
use crate::body::read_json_body;
use crate::catalog_access::{check_avatar, check_voice, choose_voice};
use crate::error::{current_request_id, with_cause, Failure};
use crate::inputs::fetch_inputs;
use crate::state::AppState;
use crate::views::{queue_estimate, rfc3339};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use peakreel_domain::request::parse_create_request;
use peakreel_domain::writing_systems::check_voice_fit;
use peakreel_domain::{CreateRequest, RequestKind, TaskSpec};
use peakreel_store::{CreateTaskError, NewTask, VoiceRecord};
use peakreel_types::{ApiError, Code};
use serde_json::json;

#[utoipa::path(post, path = "/v1/real-estate/narrated-slideshow", tag = "tasks",
    description = "Rules JSON Schema cannot state (refused with the codes named): every image must be fetchable over https from a public address and decode as a JPEG, PNG or WebP photo (IMAGE_INACCESSIBLE, IMAGE_TIMEOUT, SSRF_BLOCKED, IMAGE_PROCESSING_FAILED, MIXED_ORIENTATIONS); URLs must differ after normalising scheme and host case (VALIDATION_ERROR); the script's length is bounded per image (SCRIPT_TOO_SHORT, SCRIPT_TOO_LONG) and takes letters, white space and the listed punctuation only (VALIDATION_ERROR); overlay text, and the script when subtitles show it, must be drawable by the installed fonts and hold no emoji (VALIDATION_ERROR naming the character); test_scenario is refused with a live key; the voice and avatar must exist and be yours or public (VOICE_NOT_FOUND, AVATAR_NOT_FOUND, *_ACCESS_DENIED, VOICE_EXPIRED); a live key needs the credits (INSUFFICIENT_CREDITS).",
    request_body = crate::openapi::NarratedSlideshowRequest,
    responses(
        (status = 202, body = crate::openapi::TaskAccepted, headers(
            ("Location" = String, description = "/v1/tasks/{task_id}"),
            ("Retry-After" = u32, description = "Seconds until the first poll is useful (30)"))),
        (status = 400, body = crate::openapi::ErrorEnvelope),
        (status = 403, body = crate::openapi::ErrorEnvelope, description = "PLAN_NOT_ALLOWED, INSUFFICIENT_CREDITS, VOICE_ACCESS_DENIED, AVATAR_ACCESS_DENIED, VOICE_EXPIRED"),
        (status = 404, body = crate::openapi::ErrorEnvelope, description = "VOICE_NOT_FOUND, AVATAR_NOT_FOUND"),
    ),
    security(("bearer" = [])))]
pub async fn narrated_slideshow(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    create(state, caller, headers, body, RequestKind::NarratedSlideshow).await
}

#[utoipa::path(post, path = "/v1/real-estate/living-property", tag = "tasks",
    description = "Rules JSON Schema cannot state (refused with the codes named): every image must be fetchable over https from a public address and decode as a JPEG, PNG or WebP photo (IMAGE_INACCESSIBLE, IMAGE_TIMEOUT, SSRF_BLOCKED, IMAGE_PROCESSING_FAILED, MIXED_ORIENTATIONS); URLs must differ after normalising scheme and host case (VALIDATION_ERROR); the script's length is bounded per image (SCRIPT_TOO_SHORT, SCRIPT_TOO_LONG) and takes letters, white space and the listed punctuation only (VALIDATION_ERROR); overlay text, and the script when subtitles show it, must be drawable by the installed fonts and hold no emoji (VALIDATION_ERROR naming the character); test_scenario is refused with a live key; the voice and avatar must exist and be yours or public (VOICE_NOT_FOUND, AVATAR_NOT_FOUND, *_ACCESS_DENIED, VOICE_EXPIRED); a live key needs the credits (INSUFFICIENT_CREDITS). change_decoration and furnish need a virtual-staging provider (VALIDATION_ERROR without one).",
    request_body = crate::openapi::LivingPropertyRequest,
    responses(
        (status = 202, body = crate::openapi::TaskAccepted, headers(
            ("Location" = String, description = "/v1/tasks/{task_id}"),
            ("Retry-After" = u32, description = "Seconds until the first poll is useful (30)"))),
        (status = 400, body = crate::openapi::ErrorEnvelope),
        (status = 403, body = crate::openapi::ErrorEnvelope, description = "PLAN_NOT_ALLOWED, INSUFFICIENT_CREDITS, VOICE_ACCESS_DENIED, VOICE_EXPIRED"),
        (status = 404, body = crate::openapi::ErrorEnvelope, description = "VOICE_NOT_FOUND"),
    ),
    security(("bearer" = [])))]
pub async fn living_property(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    create(state, caller, headers, body, RequestKind::LivingProperty).await
}

/// The legacy slideshow route: a compatibility route for clients of VibePeak's older
/// documentation (superseded by narrated-slideshow), on the same create pipeline.
#[utoipa::path(post, path = "/v1/real-estate/slideshow", tag = "tasks",
    description = "Compatibility route (VibePeak's older documentation). Rules JSON Schema cannot state (refused with the codes named): every image must be fetchable over https from a public address and decode as a JPEG, PNG or WebP photo (IMAGE_INACCESSIBLE, IMAGE_TIMEOUT, SSRF_BLOCKED, IMAGE_PROCESSING_FAILED, MIXED_ORIENTATIONS); URLs must differ after normalising scheme and host case (VALIDATION_ERROR); the script takes letters, white space and the listed punctuation only (VALIDATION_ERROR); overlay text, and the script when subtitles show it, must be drawable by the installed fonts and hold no emoji (VALIDATION_ERROR naming the character); test_scenario is refused with a live key; the voice must exist and be yours or public (VOICE_NOT_FOUND, VOICE_ACCESS_DENIED, VOICE_EXPIRED), or be chosen by attributes (400 VOICE_NOT_FOUND with details.unmet when none matches); change-decoration and furnish-it need a virtual-staging provider (VALIDATION_ERROR without one); a live key needs the credits (INSUFFICIENT_CREDITS).",
    request_body = crate::openapi_compat::LegacySlideshowRequest,
    responses(
        (status = 202, body = crate::openapi::TaskAccepted, headers(
            ("Location" = String, description = "/v1/tasks/{task_id}"),
            ("Retry-After" = u32, description = "Seconds until the first poll is useful (30)"))),
        (status = 400, body = crate::openapi::ErrorEnvelope),
        (status = 403, body = crate::openapi::ErrorEnvelope, description = "PLAN_NOT_ALLOWED, INSUFFICIENT_CREDITS, VOICE_ACCESS_DENIED, VOICE_EXPIRED"),
        (status = 404, body = crate::openapi::ErrorEnvelope, description = "VOICE_NOT_FOUND"),
    ),
    security(("bearer" = [])))]
pub async fn slideshow(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    create(state, caller, headers, body, RequestKind::Slideshow).await
}

async fn create(
    state: AppState,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
    kind: RequestKind,
) -> Result<Response, Failure> {
    let bytes = read_json_body(&headers, body).await?;
    let mut request =
        parse_create_request(kind, &bytes, caller.livemode(), &state.config.url_policy)?;
    choose_voice(&state, &caller, &mut request).await?;
    lookup_voice_and_avatar(&state, &caller, &request).await?;
    let price = if caller.livemode() {
        request.price(&state.config.prices)
    } else {
        0
    };

    // Credits and concurrency are checked before the (slow) fetch so a request that
    // cannot be accepted fails fast, and checked again in the charging transaction,
    // which is what makes them exact under concurrency.
    precheck_credits_and_concurrency(&state, &caller, price).await?;
    let fetched = fetch_inputs(&state, &caller.owner(), &request).await?;

    let task_id = peakreel_types::ids::new_task_id();
    let prefix = format!("tasks/{task_id}");
    let outcome = async {
        let inputs = fetched.store(&state, &request, &task_id).await?;
        let spec = TaskSpec {
            request: request.clone(),
            inputs,
        };
        let task = NewTask {
            id: task_id.clone(),
            owner: caller.owner(),
            key_id: caller.key.id.clone(),
            kind: kind.as_str().to_string(),
            request: serde_json::to_value(&spec)
                .map_err(|e| with_cause(ApiError::internal(), format_args!("task spec: {e}")))?,
            webhook_url: request.webhook_url.clone(),
            price,
            concurrency_limit: caller.plan.concurrent_tasks,
            max_attempts: state.config.max_attempts,
        };
        state
            .store
            .create_task(task)
            .await
            .map_err(|e| create_error(e, &caller))
    }
    .await;
    let task = match outcome {
        Ok(task) => task,
        Err(err) => {
            // A refused request leaves nothing behind: remove the inputs stored for it.
            if let Err(e) = state.blobs.delete_prefix(&prefix).await {
                tracing::error!(request_id = %current_request_id(), error = %e, "could not clean up refused inputs");
            }
            return Err(err.into());
        }
    };

    state.work_notify.notify_one();
    let estimate = queue_estimate(&state, &task).await.ok().flatten();
    let location = format!("/v1/tasks/{}", task.id);
    let mut body = json!({
        "task_id": task.id,
        "status": "queued",
        "created_at": rfc3339(task.created_at),
        "livemode": caller.livemode(),
        "credits_charged": task.credits_charged,
        "request_id": current_request_id(),
        "_links": { "self": location, "poll_interval_seconds": 30 },
    });
    if let Some((position, eta)) = estimate {
        body["queue_position"] = json!(position);
        body["estimated_completion"] = json!(rfc3339(eta));
    }
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    Ok(response)
}

async fn precheck_credits_and_concurrency(
    state: &AppState,
    caller: &Caller,
    price: i64,
) -> Result<(), Failure> {
    let account = &caller.account.id;
    if price > 0 {
        let balance = state.store.balance(account).await?;
        if balance < price {
            return Err(create_error(
                CreateTaskError::InsufficientCredits {
                    required: price,
                    balance,
                },
                caller,
            )
            .into());
        }
    }
    let in_flight = state.store.in_flight(account, caller.key.mode).await?;
    let limit = caller.plan.concurrent_tasks;
    if in_flight >= limit {
        return Err(create_error(
            CreateTaskError::ConcurrencyLimit { limit, in_flight },
            caller,
        )
        .into());
    }
    Ok(())
}

/// The one mapping of task-creation refusals to the wire, for the precheck and the
/// transaction alike.
fn create_error(err: CreateTaskError, caller: &Caller) -> ApiError {
    match err {
        CreateTaskError::InsufficientCredits { required, balance } => ApiError::new(
            Code::InsufficientCredits,
            format!("This task costs {required} credits and the balance is {balance}. Add credits and retry."),
        )
        .with_details(json!({ "required": required, "balance": balance })),
        CreateTaskError::ConcurrencyLimit { limit, in_flight } => ApiError::new(
            Code::ConcurrencyLimitExceeded,
            format!(
                "The {} plan runs at most {limit} tasks at once in this mode. Retry when one finishes.",
                caller.plan.name
            ),
        )
        .with_details(json!({ "limit": limit, "in_flight": in_flight, "plan": caller.plan.name }))
        .with_retry_after(30),
        CreateTaskError::Store(e) => {
            // The transaction rolled back: no task, no charge.
            with_cause(
                ApiError::new(
                    Code::QueueError,
                    "The task could not be queued and nothing was charged. Retry with exponential backoff.",
                ),
                format_args!("could not enqueue task: {e}"),
            )
        }
    }
}

/// The voice and avatar checks of creation (shared with the storyboard dry run); returns
/// the voice.
pub(crate) async fn lookup_voice_and_avatar(
    state: &AppState,
    caller: &Caller,
    request: &CreateRequest,
) -> Result<VoiceRecord, Failure> {
    let voice = check_voice(state, caller, &request.voice_id).await?;
    let languages: Vec<&str> = voice.languages.iter().map(String::as_str).collect();
    check_voice_fit(request, &voice.id, &languages)?;
    crate::drawable::check_drawable(request).await?;
    if let Some(avatar_id) = &request.avatar_id {
        let avatar = check_avatar(state, caller, avatar_id).await?;
        crate::catalog_access::avatar_image_url(state, &avatar).await?;
    }
    Ok(voice)
}
