//! Custom voices and avatars (api.md §5, §5b Extensions): create and delete, each owned
//! by one account in one key mode.

use crate::auth::Caller;
use crate::avatar_image::{crop_centre, faces, square_portrait, AVATAR_SIZE};
use crate::body::read_json_body;
use crate::catalog_access::{avatar_image_url, check_avatar, check_voice, visible_voice};
use crate::error::{current_request_id, with_cause, Failure};
use crate::path_param::PathParam;
use crate::routes::catalog::preview_url;
use crate::state::AppState;
use crate::upload_refs::image_from_url;
use crate::views::{avatar_view, unix_now, voice_view};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use bytes::Bytes;
use image::GenericImageView;
use peakreel_domain::catalog_requests::{parse_create_avatar, parse_create_voice, CreateVoice};
use peakreel_fetch::Target;
use peakreel_media::analysis::decode_bytes_covering;
use peakreel_store::{AvatarRecord, VoiceRecord};
use peakreel_types::{ApiError, Code};
use serde_json::{json, Value};

#[utoipa::path(post, path = "/v1/voices", tag = "voices",
    description = "Rules JSON Schema cannot state: language must be one the base voice speaks (VALIDATION_ERROR); a clone (samples) needs a cloning provider, and this server refuses it with VALIDATION_ERROR when none is configured.",
    request_body(content = crate::openapi::CreateVoiceRequest),
    responses((status = 201, body = crate::openapi::Voice),
        (status = 400, body = crate::openapi::ErrorEnvelope),
        (status = 403, body = crate::openapi::ErrorEnvelope, description = "VOICE_ACCESS_DENIED, VOICE_EXPIRED (the base voice)"),
        (status = 404, body = crate::openapi::ErrorEnvelope, description = "VOICE_NOT_FOUND (the base voice)")),
    security(("bearer" = [])))]
pub async fn create_voice(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), Failure> {
    let bytes = read_json_body(&headers, body).await?;
    let request = parse_create_voice(&bytes, &state.config.url_policy)?;
    let (name, base_voice_id, language, rate, pitch, expires_in_days) = match request {
        CreateVoice::Clone { .. } if state.voice_cloner.is_none() => {
            return Err(ApiError::field(
                "samples",
                "voice cloning is not enabled on this server (no cloning provider is configured); create a tuned variant with base_voice_id, language, rate and pitch instead",
            )
            .into())
        }
        CreateVoice::Clone { .. } => {
            return Err(ApiError::field("samples", "voice cloning through the configured provider is not available in this build").into())
        }
        CreateVoice::Variant { name, base_voice_id, language, rate, pitch, expires_in_days } => {
            (name, base_voice_id, language, rate, pitch, expires_in_days)
        }
    };
    let base = check_voice(&state, &caller, &base_voice_id).await?;
    if !base.languages.contains(&language) {
        return Err(ApiError::field(
            "language",
            format!(
                "the base voice {} does not speak `{language}`; it speaks: {}",
                base.id,
                base.languages.join(", ")
            ),
        )
        .into());
    }
    let base_rate = base
        .engine
        .get("rate")
        .and_then(Value::as_f64)
        .unwrap_or(1.0);
    let base_pitch = base
        .engine
        .get("pitch")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let mut engine = base.engine.clone();
    if base.owner.is_none() {
        // A variant of a public voice is spoken by the same remote voice, when remote.
        engine["remote_voice_id"] = json!(base.id);
    }
    engine["rate"] = json!((base_rate * f64::from(rate)).clamp(0.5, 2.0));
    engine["pitch"] = json!((base_pitch + f64::from(pitch)).clamp(-12.0, 12.0));
    let now = unix_now();
    let mut voice = VoiceRecord {
        id: peakreel_types::ids::new_voice_id(),
        owner: Some(caller.owner()),
        name,
        gender: base.gender.clone(),
        accent: base.accent.clone(),
        languages: vec![language],
        provider: base.provider.clone(),
        engine,
        preview_path: None,
        created_at: now,
        expires_at: expires_in_days.map(|d| now + i64::from(d) * 86_400),
    };
    state.store.insert_voice(voice.clone()).await?;
    // A preview is a convenience: the voice is usable even if the sample could not be
    // made now, so a speech failure is logged, not returned.
    if let Some(previewer) = &state.voice_previewer {
        match previewer.preview(&voice).await {
            Ok(wav) => {
                let key = format!("voices/{}/preview.wav", voice.id);
                match state.blobs.put(&key, wav).await {
                    Ok(()) => {
                        state.store.set_voice_preview(&voice.id, &key).await?;
                        voice.preview_path = Some(key);
                    }
                    Err(e) => {
                        tracing::warn!(request_id = %current_request_id(), error = %e, "could not store a voice preview")
                    }
                }
            }
            Err(e) => {
                tracing::warn!(request_id = %current_request_id(), error = %e, "could not synthesise a voice preview")
            }
        }
    }
    let url = preview_url(&state, &voice).await?;
    Ok((StatusCode::CREATED, Json(voice_view(&voice, url))))
}

#[utoipa::path(delete, path = "/v1/voices/{voice_id}", tag = "voices",
    params(("voice_id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 403, body = crate::openapi::ErrorEnvelope, description = "the item is public or another account's"), (status = 404, body = crate::openapi::ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn delete_voice(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(voice_id): PathParam,
) -> Result<StatusCode, Failure> {
    let voice = visible_voice(&state, &caller, &voice_id).await?;
    if voice.owner.is_none() {
        return Err(ApiError::new(
            Code::VoiceAccessDenied,
            "Public voices cannot be deleted; only your own custom voices can.",
        )
        .with_details(json!({ "voice_id": voice_id }))
        .into());
    }
    state.store.delete_voice(&voice.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/avatars", tag = "avatars",
    description = "Rules JSON Schema cannot state: image_url must be fetchable over https from a public address and decode as an image (IMAGE_INACCESSIBLE, IMAGE_TIMEOUT, SSRF_BLOCKED, IMAGE_PROCESSING_FAILED); style talking needs a talking-avatar provider (VALIDATION_ERROR without one).",
    request_body(content = crate::openapi::CreateAvatarRequest),
    responses((status = 201, body = crate::openapi::Avatar), (status = 400, body = crate::openapi::ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn create_avatar(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), Failure> {
    let bytes = read_json_body(&headers, body).await?;
    let request = parse_create_avatar(&bytes, &state.config.url_policy)?;
    if request.talking && state.talking_avatars.is_none() {
        return Err(ApiError::field(
            "style",
            "talking avatars are not enabled on this server (no talking-avatar provider is configured); use \"static\"",
        )
        .into());
    }
    let target = Target::field("image_url", request.image_url.clone());
    let fetched = image_from_url(&state, &caller.owner(), &request.image_url, &target).await?;
    let encoded = fetched.body.to_bytes().await.map_err(|e| {
        with_cause(
            ApiError::service(),
            format_args!("could not read a fetched portrait back: {e}"),
        )
    })?;
    let portrait = async {
        // The one decode path (EXIF orientation, colour profile) so the face is found
        // where it is shown.
        // Reduced while decoding to what the square needs: a huge portrait never exists
        // at full size.
        let cover = (AVATAR_SIZE, AVATAR_SIZE);
        let img = tokio::task::spawn_blocking(move || decode_bytes_covering(&encoded, cover))
            .await
            .map_err(|e| e.to_string())??;
        let faces = faces(state.vision.as_deref(), &img).await;
        let centre = crop_centre(&faces, img.dimensions());
        tokio::task::spawn_blocking(move || square_portrait(&img, centre))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    };
    let png = portrait.await.map_err(|reason| {
        ApiError::new(
            Code::ImageProcessingFailed,
            "image_url could not be decoded as a portrait image.",
        )
        .with_details(json!({ "field": "image_url", "reason": reason }))
    })?;
    let id = uuid::Uuid::new_v4().to_string();
    let key = format!("avatars/{}/{id}.png", caller.account.id);
    state.blobs.put(&key, Bytes::from(png)).await.map_err(|e| {
        with_cause(
            ApiError::service(),
            format_args!("could not store an avatar: {e}"),
        )
    })?;
    let avatar = AvatarRecord {
        id,
        owner: Some(caller.owner()),
        name: request.name,
        image_path: key,
        created_at: unix_now(),
    };
    state.store.insert_avatar(avatar.clone()).await?;
    let url = avatar_image_url(&state, &avatar).await?;
    Ok((StatusCode::CREATED, Json(avatar_view(&avatar, Some(url)))))
}

#[utoipa::path(delete, path = "/v1/avatars/{avatar_id}", tag = "avatars",
    params(("avatar_id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 403, body = crate::openapi::ErrorEnvelope, description = "the item is public or another account's"), (status = 404, body = crate::openapi::ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn delete_avatar(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(avatar_id): PathParam,
) -> Result<StatusCode, Failure> {
    let avatar = check_avatar(&state, &caller, &avatar_id).await?;
    if avatar.owner.is_none() {
        return Err(ApiError::new(
            Code::AvatarAccessDenied,
            "Public avatars cannot be deleted; only your own avatars can.",
        )
        .with_details(json!({ "avatar_id": avatar_id }))
        .into());
    }
    state.store.delete_avatar(&avatar.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
