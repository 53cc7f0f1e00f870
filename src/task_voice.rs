//! Which voice profile a task is rendered with (the worker's voice lookup).

use crate::job::VoiceSpec;
use crate::task_error::TaskError;
use crate::worker::unix_now;
use peakreel_domain::TaskSpec;
use peakreel_store::{Store, VoiceRecord};
use peakreel_types::{ApiError, Code};
use serde_json::json;

/// The voice a task is spoken with: its record (gone: `TTS_ERROR`; expired while queued:
/// `VOICE_EXPIRED`, both final and refunded), a custom variant following its public base
/// voice's engine.
pub(crate) async fn profile(
    store: &dyn Store,
    spec: &TaskSpec,
) -> Result<peakreel_media::VoiceProfile, TaskError> {
    let voice_id = &spec.request.voice_id;
    let record = store
        .get_voice(voice_id)
        .await
        .map_err(|e| TaskError::Transient(e.to_string()))?;
    let record = record.ok_or_else(|| {
        TaskError::Final(ApiError::new(
            Code::TtsError,
            "The task's voice was deleted before the render. The credits were refunded.",
        ))
    })?;
    if let Some(expired_at) = record.expires_at.filter(|&t| t <= unix_now()) {
        return Err(TaskError::Final(
            ApiError::new(
                Code::VoiceExpired,
                "The task's custom voice expired while the task was queued. The credits were refunded.",
            )
            .with_details(json!({ "voice_id": voice_id, "expired_at": peakreel_api::views::rfc3339(expired_at) })),
        ));
    }
    let base = public_base(store, &record).await?;
    let spec_voice = VoiceSpec::from_record(&record).ok_or_else(|| {
        TaskError::Final(ApiError::new(
            Code::TtsError,
            "The voice has no local engine mapping.",
        ))
    })?;
    let spec_voice = match &base {
        Some(b) => spec_voice.with_base_engine(b),
        None => spec_voice,
    };
    Ok(spec_voice.profile(spec.request.language.as_deref()))
}

/// The public voice a custom variant was made from, whose engine it speaks with.
async fn public_base(
    store: &dyn Store,
    record: &VoiceRecord,
) -> Result<Option<VoiceRecord>, TaskError> {
    let Some(base_id) = record
        .owner
        .as_ref()
        .and(record.engine.get("remote_voice_id"))
        .and_then(|v| v.as_str())
    else {
        return Ok(None);
    };
    let base = store
        .get_voice(base_id)
        .await
        .map_err(|e| TaskError::Transient(e.to_string()))?;
    Ok(base.filter(|b| b.owner.is_none()))
}
