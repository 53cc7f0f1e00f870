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
/// `retention_secs` from now. Errors are storage failures, worth another attempt; what
/// the attempt had stored before one is removed.
pub async fn store(
    blobs: &Blobs,
    out: &RenderOutput,
    subtitle: Option<SubtitlePreset>,
    prefix: &str,
    retention_secs: i64,
) -> Result<Value, String> {
    let result = store_files(blobs, out, subtitle, prefix, retention_secs).await;
    if result.is_err() {
        // No result will ever name these files, so nothing would serve or sweep them; on
        // a full disk they are also the space the next attempt needs.
        if let Err(e) = blobs.delete_prefix(prefix).await {
            tracing::warn!(prefix, error = %e, "could not remove a failed attempt's files");
        }
    }
    result
}

async fn store_files(
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The cover cannot be stored (a directory stands where it goes) after the video was:
    /// the error comes back and the attempt's video is gone too.
    #[tokio::test]
    async fn a_failed_store_leaves_nothing_of_the_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("media");
        let blobs = Blobs::local(&root).unwrap();
        let prefix = "tasks/task_1/output/1";
        std::fs::create_dir_all(root.join(prefix).join("cover.jpg")).unwrap();
        let (video, cover) = (dir.path().join("v.mp4"), dir.path().join("c.jpg"));
        std::fs::write(&video, vec![7u8; 4096]).unwrap();
        std::fs::write(&cover, [0xFF, 0xD8, 0xFF]).unwrap();
        let out = RenderOutput {
            video_path: video,
            cover_path: cover,
            duration_seconds: 1.0,
            width: 640,
            height: 360,
            size_bytes: 4096,
            speech_engine: "espeak-ng",
            sentences: Vec::new(),
            timeline: Vec::new(),
        };
        let err = store(&blobs, &out, None, prefix, 60).await.unwrap_err();
        assert!(err.contains("storing the render"), "{err}");
        assert!(!blobs.exists(&format!("{prefix}/video.mp4")).await.unwrap());
        assert_eq!(blobs.list(prefix).await.unwrap(), Vec::new());

        // Nothing in the way: every file is stored and named.
        std::fs::remove_dir(root.join(prefix).join("cover.jpg")).unwrap();
        let result = store(&blobs, &out, None, prefix, 60).await.unwrap();
        assert_eq!(result["video_key"], format!("{prefix}/video.mp4"));
        assert_eq!(
            blobs.size(&format!("{prefix}/video.mp4")).await.unwrap(),
            4096
        );
    }
}
