//! Voice and avatar visibility rules shared by the create routes and the catalogue routes.

use crate::auth::Caller;
use crate::error::{with_cause, Failure};
use crate::state::AppState;
use crate::views::{rfc3339, unix_now};
use peakreel_domain::{CreateRequest, VoiceCandidate};
use peakreel_store::{AvatarRecord, VoiceFilter, VoiceRecord};
use peakreel_types::{ApiError, Code};
use serde_json::json;

fn voice_not_found(voice_id: &str) -> ApiError {
    ApiError::new(
        Code::VoiceNotFound,
        format!("No voice {voice_id} exists. List voices with GET /v1/voices."),
    )
    .with_details(json!({ "voice_id": voice_id }))
}

/// A voice the caller may use: public, or its own account's in the same key mode.
/// Another mode's voice of the same account is invisible (not found), another account's
/// is `VOICE_ACCESS_DENIED`, and an expired one `VOICE_EXPIRED`.
pub async fn check_voice(
    state: &AppState,
    caller: &Caller,
    voice_id: &str,
) -> Result<VoiceRecord, Failure> {
    let voice = visible_voice(state, caller, voice_id).await?;
    if let Some(expired_at) = voice.expires_at.filter(|&t| t <= unix_now()) {
        return Err(ApiError::new(
            Code::VoiceExpired,
            "This custom voice has expired. Create it again or choose another voice.",
        )
        .with_details(json!({ "voice_id": voice_id, "expired_at": rfc3339(expired_at) }))
        .into());
    }
    Ok(voice)
}

/// The ownership rules alone: an expired voice can still be read and deleted.
pub async fn visible_voice(
    state: &AppState,
    caller: &Caller,
    voice_id: &str,
) -> Result<VoiceRecord, Failure> {
    let voice = state
        .store
        .get_voice(voice_id)
        .await?
        .ok_or_else(|| voice_not_found(voice_id))?;
    if let Some(owner) = &voice.owner {
        if owner.account_id != caller.account.id {
            return Err(ApiError::new(
                Code::VoiceAccessDenied,
                "This voice belongs to another account; use a public voice or one of yours.",
            )
            .with_details(json!({ "voice_id": voice_id }))
            .into());
        }
        if owner.mode != caller.key.mode {
            return Err(voice_not_found(voice_id).into());
        }
    }
    Ok(voice)
}

/// Choose the voice of a request that asked by attributes (api: voice by attributes),
/// among the voices the caller may use: public ones and its own of the key's mode that
/// have not expired. A request that named its voice is left as it is.
pub async fn choose_voice(
    state: &AppState,
    caller: &Caller,
    request: &mut CreateRequest,
) -> Result<(), Failure> {
    if !request.voice_pending() {
        return Ok(());
    }
    let now = unix_now();
    let voices = state
        .store
        .list_voices(&caller.owner(), &VoiceFilter::default())
        .await?;
    let candidates: Vec<VoiceCandidate> = voices
        .iter()
        .filter(|v| v.expires_at.is_none_or(|t| t > now))
        .map(candidate)
        .collect();
    request.choose_voice(&candidates)?;
    Ok(())
}

/// A stored voice as a candidate for a request that asks by attributes (shared with
/// `peakreel render`, which chooses among the catalogue of its machine).
pub fn candidate(v: &VoiceRecord) -> VoiceCandidate {
    VoiceCandidate {
        voice_id: v.id.clone(),
        gender: v.gender.clone(),
        accent: v.accent.clone(),
        languages: v.languages.clone(),
        own: v.owner.is_some(),
        // A custom variant of a public voice records that voice as its remote voice.
        public_base: match &v.owner {
            None => Some(v.id.clone()),
            Some(_) => v
                .engine
                .get("remote_voice_id")
                .and_then(|r| r.as_str())
                .map(str::to_string),
        },
        // What the catalogue says speaks it on this server (engine choice, voice packs).
        neural: crate::views::voice_speaker(v).map(|(_, neural)| neural),
    }
}

fn avatar_not_found(avatar_id: &str) -> ApiError {
    ApiError::new(
        Code::AvatarNotFound,
        format!("No avatar {avatar_id} exists. List avatars with GET /v1/avatars."),
    )
    .with_details(json!({ "avatar_id": avatar_id }))
}

pub async fn check_avatar(
    state: &AppState,
    caller: &Caller,
    avatar_id: &str,
) -> Result<AvatarRecord, Failure> {
    // Ids are stored lower-case; a UUID's hex digits mean the same in either case.
    let avatar = state
        .store
        .get_avatar(&avatar_id.to_ascii_lowercase())
        .await?
        .ok_or_else(|| avatar_not_found(avatar_id))?;
    if let Some(owner) = &avatar.owner {
        if owner.account_id != caller.account.id {
            return Err(ApiError::new(
                Code::AvatarAccessDenied,
                "This avatar belongs to another account; use a public avatar or one of yours.",
            )
            .with_details(json!({ "avatar_id": avatar_id }))
            .into());
        }
        if owner.mode != caller.key.mode {
            return Err(avatar_not_found(avatar_id).into());
        }
    }
    Ok(avatar)
}

/// `AVATAR_URL_ERROR` for an avatar whose image cannot be served.
pub fn avatar_url_error(avatar_id: &str) -> ApiError {
    ApiError::new(
        Code::AvatarUrlError,
        "The avatar's image could not be read from storage. Retry later or choose another avatar.",
    )
    .with_details(json!({ "avatar_id": avatar_id }))
}

/// A signed URL for the avatar's stored image, or why there is none (for the logs): the
/// image is missing, empty or unreadable.
pub async fn signed_avatar_image(
    state: &AppState,
    avatar: &AvatarRecord,
) -> Result<String, String> {
    match state.blobs.size(&avatar.image_path).await {
        Ok(size) if size > 0 => state
            .signer
            .link(
                &avatar.image_path,
                unix_now() + state.config.file_url_ttl_secs,
            )
            .await
            .map_err(|e| format!("avatar {} image link failed: {e}", avatar.id)),
        Ok(_) => Err(format!(
            "avatar {} image {} is empty",
            avatar.id, avatar.image_path
        )),
        Err(e) => Err(format!("avatar {} image unreadable: {e}", avatar.id)),
    }
}

/// A signed URL for the avatar's stored image; `AVATAR_URL_ERROR` when the image is not
/// in storage (so a task is never accepted with a presenter that cannot be drawn).
pub async fn avatar_image_url(state: &AppState, avatar: &AvatarRecord) -> Result<String, Failure> {
    signed_avatar_image(state, avatar)
        .await
        .map_err(|cause| with_cause(avatar_url_error(&avatar.id), cause).into())
}
