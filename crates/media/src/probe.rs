//! Typed `ffprobe -print_format json -show_format -show_streams` output.

use std::path::Path;
use std::time::Instant;

use peakreel_speech::process::{Cmd, ProcessError};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Probe {
    #[serde(default)]
    pub streams: Vec<Stream>,
    pub format: Format,
}

/// The fields PeakReel checks; ffprobe prints many more, which are ignored. Numbers that
/// ffprobe prints as strings stay strings here and are parsed by the accessors.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Stream {
    pub index: u32,
    pub codec_type: String,
    pub codec_name: Option<String>,
    pub profile: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub pix_fmt: Option<String>,
    pub r_frame_rate: Option<String>,
    pub avg_frame_rate: Option<String>,
    pub sample_rate: Option<String>,
    pub channels: Option<u32>,
    pub channel_layout: Option<String>,
    pub duration: Option<String>,
    pub nb_frames: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Format {
    pub format_name: String,
    pub duration: Option<String>,
    pub size: Option<String>,
    pub bit_rate: Option<String>,
}

impl Probe {
    pub fn parse(json: &[u8]) -> Result<Probe, serde_json::Error> {
        serde_json::from_slice(json)
    }

    pub fn duration_seconds(&self) -> Option<f64> {
        self.format.duration.as_deref()?.parse().ok()
    }

    pub fn size_bytes(&self) -> Option<u64> {
        self.format.size.as_deref()?.parse().ok()
    }

    pub fn video(&self) -> Option<&Stream> {
        self.streams.iter().find(|s| s.codec_type == "video")
    }

    pub fn audio(&self) -> Option<&Stream> {
        self.streams.iter().find(|s| s.codec_type == "audio")
    }
}

impl Stream {
    /// `r_frame_rate` as a number ("30/1" → 30.0).
    pub fn frame_rate(&self) -> Option<f64> {
        let (n, d) = self.r_frame_rate.as_deref()?.split_once('/')?;
        let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
        (d != 0.0).then(|| n / d)
    }

    pub fn sample_rate_hz(&self) -> Option<u32> {
        self.sample_rate.as_deref()?.parse().ok()
    }

    pub fn frames(&self) -> Option<u64> {
        self.nb_frames.as_deref()?.parse().ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error("ffprobe printed JSON this parser does not understand: {0}")]
    Json(#[from] serde_json::Error),
}

/// Runs ffprobe on `path`.
pub async fn probe(ffprobe: &Path, path: &Path, deadline: Instant) -> Result<Probe, ProbeError> {
    let out = Cmd::new(ffprobe)
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(path)
        .deadline(deadline)
        .run()
        .await?;
    Ok(Probe::parse(&out.stdout)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real output of ffprobe 5.1 on a PeakReel render.
    #[test]
    fn parses_a_render() {
        let p = Probe::parse(include_bytes!("../tests/fixtures/ffprobe_render.json")).unwrap();
        let v = p.video().unwrap();
        assert_eq!(v.codec_name.as_deref(), Some("h264"));
        assert_eq!(v.profile.as_deref(), Some("High"));
        assert_eq!(v.pix_fmt.as_deref(), Some("yuv420p"));
        assert_eq!(v.frame_rate(), Some(30.0));
        let a = p.audio().unwrap();
        assert_eq!(a.codec_name.as_deref(), Some("aac"));
        assert_eq!(a.sample_rate_hz(), Some(48_000));
        assert_eq!(a.channels, Some(2));
        assert!(p.duration_seconds().unwrap() > 1.0);
        assert!(p.size_bytes().unwrap() > 1000);
        assert!(p.format.format_name.contains("mp4"));
    }

    /// Real output of ffprobe 5.1 on a JPEG photo: one video stream, no audio.
    #[test]
    fn parses_a_still_image() {
        let p = Probe::parse(include_bytes!("../tests/fixtures/ffprobe_jpeg.json")).unwrap();
        assert_eq!(p.streams.len(), 1);
        let v = p.video().unwrap();
        assert_eq!(v.codec_name.as_deref(), Some("mjpeg"));
        assert!(v.width.unwrap() > 0 && v.height.unwrap() > 0);
        assert!(p.audio().is_none());
        assert_eq!(p.format.format_name, "image2");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(Probe::parse(b"{\"streams\": 3}").is_err());
    }
}
