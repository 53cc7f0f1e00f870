//! Voices and avatars (api.md §5, §5b): public ones plus the caller's own.

use crate::auth::Caller;
use crate::catalog_access::{
    avatar_image_url, avatar_url_error, check_avatar, signed_avatar_image, visible_voice,
};
use crate::error::{current_request_id, Failure};
use crate::path_param::PathParam;
use crate::state::AppState;
use crate::views::{avatar_view, mark_unavailable, voice_view};
use axum::extract::{RawQuery, State};
use axum::Json;
use peakreel_store::VoiceFilter;
use peakreel_types::{ApiError, Code, FieldError};
use serde_json::{json, Value};

#[utoipa::path(get, path = "/v1/voices", tag = "voices",
    description = "Public voices and your own (this key mode). Unknown query parameters are refused (VALIDATION_ERROR).",
    params(("language" = Option<String>, Query, description = "ISO 639-1"), ("gender" = Option<String>, Query)),
    responses((status = 200, body = crate::openapi::VoiceList), (status = 400, body = crate::openapi::ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list_voices(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Failure> {
    let mut filter = VoiceFilter::default();
    let mut errors = Vec::new();
    for (key, value) in url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match key.as_ref() {
            // A misspelt language would silently list nothing: refuse it instead.
            "language" if peakreel_domain::request::is_language_code(&value) => {
                filter.language = Some(value.into_owned())
            }
            "language" => errors.push(FieldError::new(
                "language",
                "must be a two-letter ISO 639-1 code such as \"en\"",
            )),
            "gender" => filter.gender = Some(value.into_owned()),
            other => errors.push(FieldError::new(
                other.to_string(),
                "is not a known query parameter",
            )),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors).into());
    }
    let voices = state.store.list_voices(&caller.owner(), &filter).await?;
    let mut data = Vec::with_capacity(voices.len());
    for voice in &voices {
        data.push(voice_entry(&state, voice).await?);
    }
    Ok(Json(json!({ "data": data })))
}

#[utoipa::path(get, path = "/v1/voices/{voice_id}", tag = "voices",
    params(("voice_id" = String, Path)),
    responses((status = 200, body = crate::openapi::Voice),
        (status = 403, body = crate::openapi::ErrorEnvelope, description = "VOICE_ACCESS_DENIED: another account's"),
        (status = 404, body = crate::openapi::ErrorEnvelope, description = "VOICE_NOT_FOUND")),
    security(("bearer" = [])))]
pub async fn get_voice(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(voice_id): PathParam,
) -> Result<Json<Value>, Failure> {
    let voice = visible_voice(&state, &caller, &voice_id).await?;
    Ok(Json(voice_entry(&state, &voice).await?))
}

/// A voice as listed. A custom voice whose preview sample is missing from storage is
/// still usable (narration does not need the sample): it is shown without
/// `preview_url` and marked (`views::mark_unavailable`), never failing the answer.
/// Public voices' samples are remade at every start, so only custom ones are checked.
async fn voice_entry(
    state: &AppState,
    voice: &peakreel_store::VoiceRecord,
) -> Result<Value, Failure> {
    let missing = match (&voice.owner, &voice.preview_path) {
        (Some(_), Some(path)) => match state.blobs.size(path).await {
            Ok(size) if size > 0 => None,
            Ok(_) => Some(format!("preview {path} is empty")),
            Err(e) => Some(format!("preview {path} unreadable: {e}")),
        },
        _ => None,
    };
    let Some(cause) = missing else {
        return Ok(voice_view(voice, preview_url(state, voice).await?));
    };
    tracing::warn!(request_id = %current_request_id(), voice_id = %voice.id, cause = %cause, "voice shown without its preview");
    let mut item = voice_view(voice, None);
    mark_unavailable(
        &mut item,
        &ApiError::new(
            Code::ServiceError,
            "The voice's preview sample is missing from storage; the voice itself can still be used.",
        ),
    );
    Ok(item)
}

#[utoipa::path(get, path = "/v1/avatars", tag = "avatars",
    responses((status = 200, body = crate::openapi::AvatarList)), security(("bearer" = [])))]
pub async fn list_avatars(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, Failure> {
    let avatars = state.store.list_avatars(&caller.owner()).await?;
    let mut data = Vec::with_capacity(avatars.len());
    for avatar in &avatars {
        // One avatar whose image is gone must not hide the others: it is listed with
        // `image_url: null` and marked with the code using it would answer.
        let item = match signed_avatar_image(&state, avatar).await {
            Ok(url) => avatar_view(avatar, Some(url)),
            Err(cause) => {
                tracing::warn!(request_id = %current_request_id(), avatar_id = %avatar.id, cause = %cause, "avatar listed without its image");
                let mut item = avatar_view(avatar, None);
                mark_unavailable(&mut item, &avatar_url_error(&avatar.id));
                item
            }
        };
        data.push(item);
    }
    Ok(Json(json!({ "data": data })))
}

#[utoipa::path(get, path = "/v1/avatars/{avatar_id}", tag = "avatars",
    params(("avatar_id" = String, Path)),
    responses((status = 200, body = crate::openapi::Avatar),
        (status = 403, body = crate::openapi::ErrorEnvelope, description = "AVATAR_ACCESS_DENIED: another account's"),
        (status = 404, body = crate::openapi::ErrorEnvelope, description = "AVATAR_NOT_FOUND")),
    security(("bearer" = [])))]
pub async fn get_avatar(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(avatar_id): PathParam,
) -> Result<Json<Value>, Failure> {
    let avatar = check_avatar(&state, &caller, &avatar_id).await?;
    let url = avatar_image_url(&state, &avatar).await?;
    Ok(Json(avatar_view(&avatar, Some(url))))
}

/// A link to the voice's stored preview sample, when it has one.
pub async fn preview_url(
    state: &AppState,
    voice: &peakreel_store::VoiceRecord,
) -> Result<Option<String>, Failure> {
    let Some(path) = &voice.preview_path else {
        return Ok(None);
    };
    let expires = crate::views::unix_now() + state.config.file_url_ttl_secs;
    Ok(Some(state.signer.link(path, expires).await?))
}
