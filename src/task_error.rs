//! How a render attempt ends when it does not complete: final (the task fails with a
//! code and is refunded) or transient (the job is retried), decided from the renderer's
//! typed [`Fault`].

use peakreel_media::{Fault, RenderError};
use peakreel_types::ApiError;
use serde_json::json;

pub(crate) enum TaskError {
    /// The task fails with this error (and is refunded).
    Final(ApiError),
    /// Worth another attempt (a killed ffmpeg, a storage hiccup).
    Transient(String),
}

/// What a render failure does to the task, by [`RenderError::fault`]: the inputs' faults
/// and final faults end it (refunded), infrastructure faults are retried. Messages shown
/// to the client name the cause without internal paths.
pub(crate) fn classify(e: RenderError) -> TaskError {
    let code = e.code();
    match (e.fault(), e) {
        (Fault::Input, RenderError::Image { index, reason, .. }) => TaskError::Final(
            ApiError::new(
                code,
                format!("images[{index}] could not be processed: {reason}. The credits were refunded; send another copy of the photo."),
            )
            .with_details(json!({ "index": index, "reason": reason })),
        ),
        (Fault::Input, RenderError::Overlay { what, reason, .. }) => {
            let field = match what {
                "watermark" => "elements_config.watermark.url",
                _ => "avatar_id",
            };
            TaskError::Final(
                ApiError::new(
                    code,
                    format!("The {what} image could not be processed: {reason}. The credits were refunded."),
                )
                .with_details(json!({ "field": field, "reason": reason })),
            )
        }
        (_, RenderError::TimedOut(limit)) => TaskError::Final(ApiError::new(code, format!(
            "The render exceeded its time limit of {} s. The credits were refunded; try fewer images or a shorter script.",
            limit.as_secs()
        ))),
        (_, RenderError::Speech(err)) => {
            tracing::warn!(error = %err, "speech failed");
            TaskError::Final(ApiError::new(code, "Speech synthesis failed for this script and voice. The credits were refunded."))
        }
        (Fault::Infrastructure, other) => {
            tracing::warn!(error = %other, "render failed");
            TaskError::Transient(other.to_string())
        }
        (_, other) => {
            tracing::warn!(error = %other, "render failed");
            TaskError::Final(ApiError::new(code, "The render failed. The credits were refunded; retry the request later."))
        }
    }
}
