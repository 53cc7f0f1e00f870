//! Wire shapes of tasks, voices, avatars (api.md §5, §5b, §6).

use crate::error::Failure;
use crate::state::AppState;
use peakreel_blobs::{BlobError, UrlSigner};
use peakreel_store::{
    AvatarRecord, QueueAhead, QueueSnapshot, StoreResult, TaskRecord, TaskStatus, VoiceRecord,
};
use peakreel_types::ApiError;
use serde_json::{json, Map, Value};
use std::sync::Arc;

use crate::estimate::{seconds_to_completion, RenderRates};

/// RFC 3339 UTC with `Z`, second precision (api.md §1).
pub fn rfc3339(unix: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .unwrap_or_default()
}

pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Seconds per photo of recent renders per (mode, kind) (see `estimate`). Recomputed at
/// most every 10 s: it moves slowly and every queued-task read needs it.
pub async fn render_rates(state: &AppState) -> StoreResult<Arc<RenderRates>> {
    const FRESH: std::time::Duration = std::time::Duration::from_secs(10);
    // Enough rows for every kind in both modes to reach its HISTORY most of the time.
    const SAMPLES: u32 = 200;
    let cache = || {
        state
            .cached_render_rates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    };
    if let Some((at, rates)) = &*cache() {
        if at.elapsed() < FRESH {
            return Ok(rates.clone());
        }
    }
    let rates = Arc::new(RenderRates::from_samples(
        &state.store.recent_renders(SAMPLES).await?,
    ));
    *cache() = Some((std::time::Instant::now(), rates.clone()));
    Ok(rates)
}

/// The whole queue as it was at most [`QUEUE_FRESH`] ago (see `QueueSnapshot`): task
/// reads of queued tasks share one queue scan per process and interval.
async fn queue_snapshot(state: &AppState) -> StoreResult<Arc<QueueSnapshot>> {
    let cache = || state.cached_queue.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((at, snapshot)) = &*cache() {
        if at.elapsed() < QUEUE_FRESH {
            return Ok(snapshot.clone());
        }
    }
    let snapshot = Arc::new(state.store.queue_snapshot().await?);
    *cache() = Some((std::time::Instant::now(), snapshot.clone()));
    Ok(snapshot)
}

/// How old the queue an estimate of a task read comes from may be: a render takes tens
/// of seconds, so a second changes no estimate noticeably.
const QUEUE_FRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// `(queue_position, estimated_completion)` of a task read: the position is the task's
/// own (exact, read with it); the work ahead comes from the shared queue snapshot.
async fn read_estimate(state: &AppState, task: &TaskRecord) -> StoreResult<Option<(u32, i64)>> {
    let Some(position) = task.queue_position else {
        return queue_estimate(state, task).await;
    };
    let ahead = queue_snapshot(state).await?.ahead_of(&task.id, position);
    Ok(Some(estimate_of(state, task, &ahead).await?))
}

/// `(queue_position, estimated_completion)` of `task` while it is queued, else `None`,
/// from the queue as it is now (creation answers with this).
pub async fn queue_estimate(
    state: &AppState,
    task: &TaskRecord,
) -> StoreResult<Option<(u32, i64)>> {
    match state.store.queue_ahead(&task.id).await? {
        Some(ahead) => Ok(Some(estimate_of(state, task, &ahead).await?)),
        None => Ok(None),
    }
}

/// `(queue_position, estimated_completion)` of queued `task` with `ahead` in front of it.
async fn estimate_of(
    state: &AppState,
    task: &TaskRecord,
    ahead: &QueueAhead,
) -> StoreResult<(u32, i64)> {
    let rates = render_rates(state).await?;
    let now = unix_now();
    let this = (
        task.owner.mode,
        task.kind.as_str(),
        request_photos(&task.request),
    );
    let seconds = seconds_to_completion(&rates, ahead, this, state.config.workers, now);
    Ok((ahead.position, now + seconds))
}

/// Photos of a stored task request (`TaskSpec.inputs.images`), at least 1.
fn request_photos(request: &str) -> u32 {
    serde_json::from_str::<Value>(request)
        .ok()
        .and_then(|v| {
            v.pointer("/inputs/images")
                .and_then(Value::as_array)
                .map(Vec::len)
        })
        .map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX).max(1))
}

pub async fn task_view(state: &AppState, task: &TaskRecord) -> Result<Value, Failure> {
    let mut v = Map::new();
    v.insert("task_id".into(), json!(task.id));
    v.insert("type".into(), json!(task.kind));
    v.insert("status".into(), json!(task.status.as_str()));
    v.insert(
        "livemode".into(),
        json!(task.owner.mode == peakreel_types::ids::Mode::Live),
    );
    v.insert("created_at".into(), json!(rfc3339(task.created_at)));
    if let Some(voice) = task_voice_view(&task.request) {
        v.insert("voice".into(), voice);
    }
    match task.status {
        TaskStatus::Queued => {
            if let Some((position, eta)) = read_estimate(state, task).await? {
                v.insert("queue_position".into(), json!(position));
                v.insert("estimated_completion".into(), json!(rfc3339(eta)));
            }
        }
        TaskStatus::Processing => {
            if let Some(t) = task.started_at {
                v.insert("started_at".into(), json!(rfc3339(t)));
            }
            v.insert("progress".into(), json!(task.progress.unwrap_or(0)));
            if let Some(stage) = &task.stage {
                v.insert("stage".into(), json!(stage));
            }
        }
        TaskStatus::Completed | TaskStatus::Failed => {
            if let Some(t) = task.started_at {
                v.insert("started_at".into(), json!(rfc3339(t)));
            }
            if let Some(t) = task.completed_at {
                v.insert("completed_at".into(), json!(rfc3339(t)));
            }
            if let Some(result) = &task.result {
                v.insert(
                    "result".into(),
                    result_view(&state.signer, state.config.file_url_ttl_secs, result).await?,
                );
            }
            if let Some(error) = &task.error {
                v.insert("error".into(), error.clone());
            }
        }
    }
    Ok(Value::Object(v))
}

/// The voice a task is spoken with, and how it was chosen (**Extension** `voice`), from
/// the stored request: `{voice_id, language?, selected_by: "voice_id" | "attributes",
/// attributes?}`. Only the voice fields of the request are decoded.
fn task_voice_view(request: &str) -> Option<Value> {
    #[derive(serde::Deserialize)]
    struct Stored {
        request: VoiceFields,
    }
    #[derive(serde::Deserialize)]
    struct VoiceFields {
        voice_id: String,
        language: Option<String>,
        voice_attributes: Option<peakreel_domain::VoiceAttributes>,
    }
    let stored: Stored = serde_json::from_str(request).ok()?;
    let r = stored.request;
    let mut v = json!({
        "voice_id": r.voice_id,
        "selected_by": if r.voice_attributes.is_some() { "attributes" } else { "voice_id" },
    });
    if let Some(lang) = &r.language {
        v["language"] = json!(lang);
    }
    if let Some(attrs) = &r.voice_attributes {
        v["attributes"] =
            peakreel_domain::voice_choice::requested_view(attrs, r.language.as_deref());
    }
    Some(v)
}

/// The stored result names blobs; the wire result carries links minted now, valid for
/// the configured time but never past the files' own expiry. Fails only when the links
/// cannot be presigned.
pub async fn result_view(
    signer: &UrlSigner,
    link_ttl_secs: i64,
    stored: &Value,
) -> Result<Value, BlobError> {
    let expires_at = stored
        .get("expires_at")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let link_expiry = (unix_now() + link_ttl_secs).min(expires_at);
    let mut links = [None, None, None, None];
    let fields = [
        "video_key",
        "cover_key",
        "captions_vtt_key",
        "captions_srt_key",
    ];
    for (link, field) in links.iter_mut().zip(fields) {
        if let Some(key) = stored.get(field).and_then(Value::as_str) {
            *link = Some(signer.link(key, link_expiry).await?);
        }
    }
    let [video_url, cover_image_url, vtt_url, srt_url] = links;
    let width = stored.get("width").and_then(Value::as_u64).unwrap_or(0);
    let height = stored.get("height").and_then(Value::as_u64).unwrap_or(0);
    let mut v = json!({
        "video_url": video_url,
        "cover_image_url": cover_image_url,
        "duration_seconds": stored.get("duration_seconds").cloned().unwrap_or(Value::Null),
        "resolution": format!("{}p", width.min(height)),
        "width": width,
        "height": height,
        "expires_at": rfc3339(expires_at),
    });
    // Extension (issue 14): the narration's caption files, stored with the video.
    if let (Some(vtt_url), Some(srt_url)) = (vtt_url, srt_url) {
        v["captions"] = json!({ "vtt_url": vtt_url, "srt_url": srt_url });
    }
    if stored.get("expired").and_then(Value::as_bool) == Some(true) {
        v["expired"] = json!(true);
    }
    Ok(v)
}

/// The engine speaking a voice (in its first language) on this server and whether it is
/// neural (Extension), as the catalogue chose it at start (`engine.speaker` of the
/// record: `{engine, neural, language}`). A variant in a language its base's engine voice
/// does not speak is spoken by the speaker the catalogue chose for that language
/// (`engine.by_language`), else by espeak-ng. `None` for a record stored before engines
/// were recorded.
pub fn voice_speaker(voice: &VoiceRecord) -> Option<(&str, bool)> {
    let s = voice.engine.get("speaker")?;
    let engine = s.get("engine")?.as_str()?;
    let language = s.get("language").and_then(Value::as_str);
    let first = voice.languages.first().map(String::as_str);
    if engine != "remote" && language.is_some() && first != language {
        let other = first
            .and_then(|l| voice.engine.get("by_language")?.get(l))
            .and_then(|o| Some((o.get("engine")?.as_str()?, o.get("neural")?.as_bool()?)));
        return Some(other.unwrap_or(("espeak-ng", false)));
    }
    Some((engine, s.get("neural")?.as_bool()?))
}

pub fn voice_view(voice: &VoiceRecord, preview_url: Option<String>) -> Value {
    let mut v = json!({
        "voice_id": voice.id,
        "name": voice.name,
        "languages": voice.languages,
        "gender": voice.gender,
        "accent": voice.accent,
        "provider": voice.provider,
        "owner": if voice.owner.is_some() { "account" } else { "public" },
        "created_at": rfc3339(voice.created_at),
    });
    if let Some(t) = voice.expires_at {
        v["expires_at"] = json!(rfc3339(t));
    }
    if let Some(url) = preview_url {
        v["preview_url"] = json!(url);
    }
    if let Some((engine, neural)) = voice_speaker(voice) {
        v["engine"] = json!(engine);
        v["neural"] = json!(neural);
    }
    v
}

/// Mark a list item that cannot be shown whole (its stored file is missing): it carries
/// `error: {code, message}`, the code a task using it would fail with. The rest of the
/// list is unaffected.
pub fn mark_unavailable(item: &mut Value, err: &ApiError) {
    item["error"] = json!({ "code": err.code.as_str(), "message": err.message });
}

pub fn avatar_view(avatar: &AvatarRecord, image_url: Option<String>) -> Value {
    json!({
        "avatar_id": avatar.id,
        "name": avatar.name,
        "owner": if avatar.owner.is_some() { "account" } else { "public" },
        "image_url": image_url,
        "created_at": rfc3339(avatar.created_at),
    })
}

/// The body of a webhook event (api.md §11): the task's own fields, exactly as the task
/// object shows them.
pub async fn event_body(
    signer: &UrlSigner,
    link_ttl_secs: i64,
    event: &str,
    task: &TaskRecord,
) -> Result<Value, BlobError> {
    let mut v = json!({
        "event": event,
        "task_id": task.id,
        "status": task.status.as_str(),
        "created_at": rfc3339(task.created_at),
        "completed_at": task.completed_at.map(rfc3339),
        "livemode": task.owner.mode == peakreel_types::ids::Mode::Live,
    });
    if let Some(result) = &task.result {
        v["result"] = result_view(signer, link_ttl_secs, result).await?;
    }
    if let Some(error) = &task.error {
        v["error"] = error.clone();
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_second_precision_utc() {
        assert_eq!(super::rfc3339(1_767_528_000), "2026-01-04T12:00:00Z");
    }
}
