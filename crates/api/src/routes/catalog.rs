//! Voices and avatars (api.md §5, §5b): public ones plus the caller's own.

use crate::auth::Caller;
use crate::catalog_access::{avatar_image_url, check_avatar, visible_voice};
use crate::error::Failure;
use crate::path_param::PathParam;
use crate::state::AppState;
use crate::views::{avatar_view, voice_view};
use axum::extract::{RawQuery, State};
use axum::Json;
use peakreel_store::VoiceFilter;
use peakreel_types::{ApiError, FieldError};
use serde_json::{json, Value};

#[utoipa::path(get, path = "/v1/voices", tag = "voices",
    params(("language" = Option<String>, Query), ("gender" = Option<String>, Query)),
    responses((status = 200, body = crate::openapi::VoiceList)), security(("bearer" = [])))]
pub async fn list_voices(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Failure> {
    let mut filter = VoiceFilter::default();
    let mut errors = Vec::new();
    for (key, value) in url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "language" => filter.language = Some(value.into_owned()),
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
    for v in &voices {
        data.push(voice_view(v, preview_url(&state, v).await?));
    }
    Ok(Json(json!({ "data": data })))
}

#[utoipa::path(get, path = "/v1/voices/{voice_id}", tag = "voices",
    params(("voice_id" = String, Path)),
    responses((status = 200, body = crate::openapi::Voice), (status = 404, body = crate::openapi::ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get_voice(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(voice_id): PathParam,
) -> Result<Json<Value>, Failure> {
    let voice = visible_voice(&state, &caller, &voice_id).await?;
    Ok(Json(voice_view(&voice, preview_url(&state, &voice).await?)))
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
        data.push(avatar_view(avatar, avatar_image_url(&state, avatar).await?));
    }
    Ok(Json(json!({ "data": data })))
}

#[utoipa::path(get, path = "/v1/avatars/{avatar_id}", tag = "avatars",
    params(("avatar_id" = String, Path)),
    responses((status = 200, body = crate::openapi::Avatar), (status = 404, body = crate::openapi::ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get_avatar(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(avatar_id): PathParam,
) -> Result<Json<Value>, Failure> {
    let avatar = check_avatar(&state, &caller, &avatar_id).await?;
    let url = avatar_image_url(&state, &avatar).await?;
    Ok(Json(avatar_view(&avatar, url)))
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
