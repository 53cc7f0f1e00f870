use std::path::PathBuf;
use std::time::Duration;

use peakreel_speech::process::ProcessError;
use peakreel_speech::SpeechError;
use peakreel_types::Code;

/// Why a render failed. [`RenderError::code`] gives the task error code (errors.md).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("image {index} ({}) could not be used: {reason}", path.display())]
    Image {
        index: usize,
        path: PathBuf,
        reason: String,
    },
    #[error("the {what} image ({}) could not be used: {reason}", path.display())]
    Overlay {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("font {family} needs {}, which is not installed", path.display())]
    MissingFont { family: String, path: PathBuf },
    #[error("narration failed: {0}")]
    Speech(#[from] SpeechError),
    #[error("ffmpeg failed while {stage}: {source}")]
    Ffmpeg {
        stage: &'static str,
        #[source]
        source: ProcessError,
    },
    #[error("the render exceeded its time limit of {} s", .0.as_secs_f64())]
    TimedOut(Duration),
    #[error("invalid render job: {0}")]
    InvalidJob(String),
    #[error("the rendered file is not what was asked for: {0}")]
    BadOutput(String),
    #[error("i/o error during the render: {0}")]
    Io(#[from] std::io::Error),
}

impl RenderError {
    pub fn code(&self) -> Code {
        match self {
            RenderError::Image { .. } | RenderError::Overlay { .. } => Code::ImageProcessingFailed,
            RenderError::Speech(e) => e.code(),
            RenderError::Ffmpeg { source, .. } if source.is_timeout() => Code::ServiceTimeout,
            RenderError::TimedOut(_) => Code::ServiceTimeout,
            RenderError::MissingFont { .. }
            | RenderError::Ffmpeg { .. }
            | RenderError::InvalidJob(_)
            | RenderError::BadOutput(_)
            | RenderError::Io(_) => Code::ServiceError,
        }
    }
}
