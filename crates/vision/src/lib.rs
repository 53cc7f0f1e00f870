//! What a listing photo shows (issue 13 §1 and §8): the objects and faces a detector sees,
//! and the room those objects and the picture's pixel measures point to.
//!
//! The detectors are the COCO object detector and BlazeFace that ship inside the npm
//! package `@vladmandic/human`; they run offline in one long-lived node process
//! ([`sidecar::NodeSidecar`]) behind the [`Detector`] trait. Turning objects into a room
//! is [`rooms::room_of`], a pure function.

pub mod rooms;
pub mod sidecar;

use image::RgbImage;

pub use rooms::{room_of, PixelCues};
pub use sidecar::{NodeSidecar, SidecarConfig};

/// One thing a detector found.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct Detection {
    /// COCO class name (`"oven"`, `"dining table"`, …) or `"face"`.
    pub label: String,
    /// Confidence, 0..1.
    pub score: f32,
    /// `[x, y, width, height]` in 0..1 of the picture, origin top left.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
}

impl Detection {
    /// Centre of the box, in 0..1 of the picture.
    pub fn centre(&self) -> (f32, f32) {
        let [x, y, w, h] = self.bbox;
        (x + w / 2.0, y + h / 2.0)
    }

    /// Area of the box as a share of the picture.
    pub fn area(&self) -> f32 {
        self.bbox[2] * self.bbox[3]
    }
}

/// Why a detector gave no answer. Callers fall back to the behaviour without a detector
/// (no room label, the image centre): none of these fails a request.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    /// The sidecar is switched off or not installed; the reason is for `/health`.
    #[error("vision is unavailable: {0}")]
    Unavailable(String),
    /// The process could not be started, died, or wrote something that is not an answer.
    #[error("vision sidecar failed: {0}")]
    Sidecar(String),
    /// No answer within the time limit (the process is killed and restarted on next use).
    #[error("vision sidecar gave no answer within {0:?}")]
    TimedOut(std::time::Duration),
    /// The detector refused this picture (its message).
    #[error("vision sidecar refused the picture: {0}")]
    Refused(String),
}

/// The detectors, as the renderer and the avatar upload use them.
#[async_trait::async_trait]
pub trait Detector: Send + Sync + std::fmt::Debug {
    /// COCO objects in `image` (sRGB), most confident first.
    async fn objects(&self, image: &RgbImage) -> Result<Vec<Detection>, VisionError>;
    /// Faces in `image` (sRGB), most confident first.
    async fn faces(&self, image: &RgbImage) -> Result<Vec<Detection>, VisionError>;
    /// `Ok` when the detector can be used; else why not (for `/health`).
    fn availability(&self) -> Result<(), String>;
    /// Gets ready to answer at once: a worker calls it when it starts, so that no
    /// render waits for the models to load (about 1.5 s) or for a first, slower answer.
    async fn warm(&self) -> Result<(), VisionError> {
        Ok(())
    }
}
