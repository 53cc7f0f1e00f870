//! A finished render's files in the blob store, and the task `result` that names them:
//! the MP4, the cover and the narration's caption files (WebVTT and SRT, issue 14), all
//! under one per-attempt prefix of the task, so they expire together (the retention
//! sweep deletes `tasks/{id}`).

use bytes::Bytes;
use peakreel_blobs::Blobs;
use peakreel_media::{Captions, RenderOutput, SubtitlePreset};
use serde_json::{json, Value};

/// Stores the render's files under `prefix` and returns the stored `result` (blob keys,
/// not URLs: the API signs them when the task is read). `subtitle` is the preset the video
/// was rendered with, so the caption files carry the cues drawn on it. Expires
/// `retention_secs` from now. Errors are storage failures, worth another attempt.
pub async fn store(
    blobs: &Blobs,
    out: &RenderOutput,
    subtitle: Option<SubtitlePreset>,
    prefix: &str,
    retention_secs: i64,
) -> Result<Value, String> {
    let captions = Captions::of(subtitle, &out.sentences, out.width, out.height);
    let video_key = format!("{prefix}/video.mp4");
    let cover_key = format!("{prefix}/cover.jpg");
    let vtt_key = format!("{prefix}/captions.vtt");
    let srt_key = format!("{prefix}/captions.srt");
    for (path, key) in [(&out.video_path, &video_key), (&out.cover_path, &cover_key)] {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| format!("reading the render: {e}"))?;
        put(blobs, key, Bytes::from(bytes)).await?;
    }
    put(blobs, &vtt_key, Bytes::from(captions.vtt)).await?;
    put(blobs, &srt_key, Bytes::from(captions.srt)).await?;
    Ok(json!({
        "video_key": video_key,
        "cover_key": cover_key,
        "captions_vtt_key": vtt_key,
        "captions_srt_key": srt_key,
        "duration_seconds": (out.duration_seconds * 10.0).round() / 10.0,
        "width": out.width,
        "height": out.height,
        "expires_at": crate::worker::unix_now() + retention_secs,
    }))
}

async fn put(blobs: &Blobs, key: &str, bytes: Bytes) -> Result<(), String> {
    blobs
        .put(key, bytes)
        .await
        .map_err(|e| format!("storing the render: {e}"))
}
