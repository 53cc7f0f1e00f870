//! Room labels for the render's photos (issue 13 §1): the object detector's view of each
//! photo combined with the pixel measures already taken. Without a detector, or when it
//! fails, photos stay unlabelled and the plan is what it was before labels existed: a
//! label improves a video, its absence never fails one.

use std::sync::Arc;

use image::{imageops::FilterType, DynamicImage, RgbImage};
use peakreel_rooms::Room;
use peakreel_vision::{room_of, Detector, PixelCues};

use crate::analysis::ImageMetrics;

/// Longest side of the copy a photo is labelled from: the detector works at 512 px.
pub const LABEL_SIDE: u32 = 640;

/// The detector a render uses, shared by every render of a process.
pub type SharedDetector = Arc<dyn Detector>;

/// The reduced sRGB copy of `img` that [`label`] looks at.
pub fn label_copy(img: &DynamicImage) -> RgbImage {
    if img.width().max(img.height()) > LABEL_SIDE {
        img.resize(LABEL_SIDE, LABEL_SIDE, FilterType::Triangle)
            .to_rgb8()
    } else {
        img.to_rgb8()
    }
}

/// The room `copy` shows, judged with `metrics`' pixel measures; `None` when the
/// detector failed (logged) or saw nothing decisive.
pub async fn label(
    detector: &dyn Detector,
    copy: &RgbImage,
    metrics: &ImageMetrics,
) -> Option<Room> {
    match detector.objects(copy).await {
        Ok(objects) => room_of(
            &objects,
            PixelCues {
                outdoor: metrics.is_exterior(),
                greenery: metrics.greenery,
            },
        ),
        Err(e) => {
            tracing::warn!(error = %e, "photo left without a room label");
            None
        }
    }
}

/// Fills `metrics[i].room` from `copies[i]`, one photo after another (the sidecar answers
/// one question at a time). Skipped at once when the detector is unavailable.
pub async fn label_all(
    detector: Option<&SharedDetector>,
    copies: &[RgbImage],
    metrics: &mut [ImageMetrics],
) {
    let Some(detector) = detector.filter(|d| d.availability().is_ok()) else {
        return;
    };
    for (copy, m) in copies.iter().zip(metrics.iter_mut()) {
        m.room = label(detector.as_ref(), copy, m).await;
    }
}
