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

/// Whose fault a render failure is, which decides what the task does next (errors.md:
/// a failure caused by the task's own inputs is final; only infrastructure faults are
/// retried).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// What the user sent cannot be rendered (a photo, the logo, the avatar): the task
    /// fails once with the input's code and is refunded; another attempt would fail the
    /// same way.
    Input,
    /// Not the inputs, but another attempt would end the same way: the render's time
    /// limit, a speech engine that cannot speak this script or voice (which has its own
    /// retries and circuit breaker). Final, with [`RenderError::code`].
    Final,
    /// Our side: ffmpeg crashed or was killed, a missing font, a full disk, a bad output.
    /// Worth another attempt.
    Infrastructure,
}

impl RenderError {
    /// The one place render failures are told apart; the worker acts on it.
    pub fn fault(&self) -> Fault {
        match self {
            RenderError::Image { .. } | RenderError::Overlay { .. } => Fault::Input,
            RenderError::Speech(_) | RenderError::TimedOut(_) => Fault::Final,
            RenderError::Ffmpeg { source, .. } if source.is_timeout() => Fault::Final,
            RenderError::MissingFont { .. }
            | RenderError::Ffmpeg { .. }
            | RenderError::InvalidJob(_)
            | RenderError::BadOutput(_)
            | RenderError::Io(_) => Fault::Infrastructure,
        }
    }

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
