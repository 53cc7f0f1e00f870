//! The soundtrack: narration and ducked music mixed, measured, brought to −16 LUFS with
//! true peaks under −1.5 dBTP, and encoded to AAC. Runs beside the video encode (the
//! video does not need it), so its cost mostly hides in the encoder's idle core time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use peakreel_speech::process::{Cmd, ProcessError};

use crate::{music, RenderError};

/// Integrated loudness target (api.md §8.1).
const TARGET_LUFS: f64 = -16.0;
/// The limiter's ceiling in dBFS (sample peak). Half a decibel under the spec's −1.5 dBTP
/// leaves room for inter-sample peaks and for the AAC encoder's overshoot.
const CEILING_DBFS: f64 = -2.0;

/// What the EBU R128 meter reported for the mix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Measured {
    /// Integrated loudness, LUFS.
    pub integrated: f64,
    /// True peak, dBFS.
    pub true_peak: f64,
}

/// Everything the soundtrack needs from the render.
pub(crate) struct Soundtrack<'a> {
    pub ffmpeg: &'a Path,
    pub dir: &'a Path,
    /// Music under the voice, seeded.
    pub music: Option<u64>,
    /// Length of the video: the music is generated to this length, and with `pad` the
    /// narration is padded with silence to it.
    pub seconds: f64,
    pub pad: bool,
    pub deadline: Instant,
}

/// Builds `audio.m4a` in the work directory and returns its path.
pub(crate) async fn soundtrack(s: Soundtrack<'_>) -> Result<PathBuf, RenderError> {
    if let Some(seed) = s.music {
        let path = s.dir.join("music.wav");
        let seconds = s.seconds;
        tokio::task::spawn_blocking(move || music::write_wav(&path, seed, seconds))
            .await
            .map_err(|e| RenderError::Io(std::io::Error::other(e)))??;
    }
    let measured = mix_and_measure(&s).await?;
    normalize(&s, measured).await
}

/// Pass 1: narration and ducked music mixed into `mix.wav`, and the mix measured with
/// ffmpeg's EBU R128 meter (true peak by oversampling).
async fn mix_and_measure(s: &Soundtrack<'_>) -> Result<Measured, RenderError> {
    let mut voice = "aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo".to_string();
    if s.pad {
        // Silence after the narration's tail up to the video's length.
        let _ = write!(voice, ",apad=whole_dur={:.3}", s.seconds);
    }
    let graph = if s.music.is_some() {
        // The music sits well under the voice, and the voice's own level pushes it further
        // down while someone speaks (sidechain), then amix adds them without rescaling.
        format!(
            "[0:a]{voice},asplit=2[voice][key];\
             [1:a]aformat=sample_fmts=fltp:channel_layouts=stereo,volume=0.3[bg];\
             [bg][key]sidechaincompress=threshold=0.02:ratio=8:attack=40:release=600[duck];\
             [voice][duck]amix=inputs=2:normalize=0:duration=first,asplit=2[mix][meas];\
             [meas]ebur128=peak=true[m]"
        )
    } else {
        format!("[0:a]{voice},asplit=2[mix][meas];[meas]ebur128=peak=true[m]")
    };
    let mut cmd = Cmd::new(s.ffmpeg)
        .args(["-hide_banner", "-nostdin", "-nostats", "-y"])
        .args(["-i", "narration.wav"])
        .current_dir(s.dir);
    if s.music.is_some() {
        cmd = cmd.args(["-i", "music.wav"]);
    }
    let out = cmd
        .args(["-filter_complex", &graph])
        .args(["-map", "[mix]", "-c:a", "pcm_f32le", "mix.wav"])
        .args(["-map", "[m]", "-f", "null", "-"])
        .deadline(s.deadline)
        .run()
        .await
        .map_err(|source| RenderError::Ffmpeg {
            stage: "mixing the audio",
            source,
        })?;
    parse_ebur128(&out.stderr_tail).ok_or_else(|| RenderError::Ffmpeg {
        stage: "measuring loudness",
        source: ProcessError::Failed {
            program: "ffmpeg".into(),
            status: "no loudness measurement (silent mix?)".into(),
            stderr_tail: out.stderr_tail.clone(),
        },
    })
}

/// Pass 2: one gain for the whole mix to reach the target (the way a mastering engineer
/// would, so the voice keeps its dynamics), a look-ahead limiter catching the few peaks
/// the gain pushes over the ceiling, then AAC. Measured on a 20 s mix: 0.27 CPU-s, against
/// 1.7 CPU-s for loudnorm (which works at 192 kHz) followed by the default AAC coder.
async fn normalize(s: &Soundtrack<'_>, m: Measured) -> Result<PathBuf, RenderError> {
    let filter = normalize_filter(m);
    let out = s.dir.join("audio.m4a");
    Cmd::new(s.ffmpeg)
        .args(["-hide_banner", "-nostdin", "-nostats", "-v", "error", "-y"])
        .args(["-i", "mix.wav", "-af", &filter])
        .args(["-c:a", "aac", "-aac_coder", "fast", "-b:a", "160k"])
        .args(["-ar", "48000", "-ac", "2"])
        .arg(&out)
        .current_dir(s.dir)
        .deadline(s.deadline)
        .run()
        .await
        .map_err(|source| RenderError::Ffmpeg {
            stage: "normalising loudness",
            source,
        })?;
    Ok(out)
}

fn normalize_filter(m: Measured) -> String {
    // A mix far from the target (a whisper, or clipping) is not boosted without bound.
    let gain = (TARGET_LUFS - m.integrated).clamp(-30.0, 30.0);
    let ceiling = 10f64.powf(CEILING_DBFS / 20.0);
    format!(
        "volume={gain:.2}dB,alimiter=limit={ceiling:.4}:level=0:attack=5:release=50:latency=1,\
         aformat=sample_fmts=fltp:channel_layouts=stereo"
    )
}

/// Reads the summary ffmpeg's `ebur128` filter logs at the end of a run. `None` when it
/// is missing or the mix was silent (no finite loudness).
pub(crate) fn parse_ebur128(stderr: &str) -> Option<Measured> {
    let summary = &stderr[stderr.rfind("Summary:")?..];
    let value_after = |section: &str, key: &str| -> Option<f64> {
        let rest = &summary[summary.find(section)? + section.len()..];
        let rest = &rest[rest.find(key)? + key.len()..];
        let v: f64 = rest.split_whitespace().next()?.parse().ok()?;
        v.is_finite().then_some(v)
    };
    let integrated = value_after("Integrated loudness:", "I:")?;
    let true_peak = value_after("True peak:", "Peak:")?;
    // The meter's floor: everything was gated out, i.e. silence.
    (integrated > -69.0).then_some(Measured {
        integrated,
        true_peak,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUMMARY: &str = "[Parsed_ebur128_5 @ 0x55] Summary:\n\n  Integrated loudness:\n    I:         -21.0 LUFS\n    Threshold: -31.4 LUFS\n\n  Loudness range:\n    LRA:         1.5 LU\n    Threshold: -41.1 LUFS\n    LRA low:   -22.0 LUFS\n    LRA high:  -20.5 LUFS\n\n  True peak:\n    Peak:       -4.7 dBFS\n";

    #[test]
    fn ebur128_summary_is_read() {
        let m = parse_ebur128(&format!("noise before\n{SUMMARY}")).unwrap();
        assert_eq!(
            m,
            Measured {
                integrated: -21.0,
                true_peak: -4.7
            }
        );
    }

    #[test]
    fn silence_and_missing_summaries_are_refused() {
        assert!(parse_ebur128("no summary here").is_none());
        let silent = SUMMARY
            .replace("-21.0 LUFS", "-70.0 LUFS")
            .replace("-4.7 dBFS", "-inf dBFS");
        assert!(parse_ebur128(&silent).is_none());
    }

    #[test]
    fn gain_reaches_the_target_and_is_bounded() {
        let f = normalize_filter(Measured {
            integrated: -21.0,
            true_peak: -4.7,
        });
        assert!(f.starts_with("volume=5.00dB,alimiter=limit=0.7943"), "{f}");
        let f = normalize_filter(Measured {
            integrated: -60.0,
            true_peak: -40.0,
        });
        assert!(f.starts_with("volume=30.00dB"), "{f}");
    }
}
