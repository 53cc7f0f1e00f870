//! Room labels for the render's photos (issue 13 §1): the object detector's view of each
//! photo combined with the pixel measures already taken. Without a detector, or when it
//! fails, photos stay unlabelled and the plan is what it was before labels existed: a
//! label improves a video, its absence never fails one.

use std::sync::Arc;

use image::{imageops::FilterType, DynamicImage, RgbImage};
use peakreel_rooms::Room;
use peakreel_vision::{room_of, Detector, PixelCues};

use crate::analysis::ImageMetrics;
use crate::plan::Mode;
use crate::{RenderJob, RenderKind};

/// Longest side of the copy a photo is labelled from: the detector works at 512 px.
pub const LABEL_SIDE: u32 = 640;

/// The detector a render uses, shared by every render of a process.
pub type SharedDetector = Arc<dyn Detector>;

/// Which of `job`'s photos (`[i]` for `images[i]`) a render must label: only those whose
/// label can change the video, so a render that needs none pays nothing for the
/// detector (about 0.1 CPU-s a photo). See [`wanted_for`].
pub fn wanted(job: &RenderJob) -> Vec<bool> {
    wanted_for(
        &job.kind,
        &job.room_hints,
        job.mode,
        &job.script,
        &job.voice.language,
        job.images.len(),
    )
}

/// [`wanted`] from a job's parts (the storyboard dry run has no job): `images` photos,
/// `hints[i]` the room the request gave for photo `i`, `language` the voice's.
/// - A living property: the photos without a `room_type` (the label picks their camera
///   move; a given type always wins, `other` included).
/// - A slideshow, every photo without a room hint when labels can move a scene:
///   `standard` always (labels tell which photos are exteriors, which open and close
///   it), `artistic` when the script names a room in the voice's language
///   ([`peakreel_rooms::mentions`]), `sequential` never.
pub fn wanted_for(
    kind: &RenderKind,
    hints: &[Option<Room>],
    mode: Mode,
    script: &str,
    language: &str,
    images: usize,
) -> Vec<bool> {
    let hinted = |i: usize| hints.get(i).is_some_and(Option::is_some);
    match kind {
        RenderKind::Living { room_types } => (0..images)
            .map(|i| room_types.get(i).is_none_or(Option::is_none) && !hinted(i))
            .collect(),
        RenderKind::Slideshow => {
            let moves = match mode {
                Mode::Standard => true,
                Mode::Artistic => !peakreel_rooms::mentions(script, language).is_empty(),
                Mode::Sequential => false,
            };
            (0..images).map(|i| moves && !hinted(i)).collect()
        }
    }
}

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

/// Fills `metrics[i].room` from `copies[i]` where there is a copy (see [`wanted_for`]),
/// one photo after another (the sidecar answers one question at a time). Skipped at once
/// when the detector is unavailable.
pub async fn label_all(
    detector: Option<&SharedDetector>,
    copies: &[Option<RgbImage>],
    metrics: &mut [ImageMetrics],
) {
    let Some(detector) = detector.filter(|d| d.availability().is_ok()) else {
        return;
    };
    for (copy, m) in copies.iter().zip(metrics.iter_mut()) {
        if let Some(copy) = copy {
            m.room = label(detector.as_ref(), copy, m).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Orientation, Profile, RoomType};
    use peakreel_speech::VoiceProfile;
    use std::time::Duration;

    fn job(kind: RenderKind, mode: Mode, script: &str, hints: Vec<Option<Room>>) -> RenderJob {
        RenderJob {
            kind,
            images: (0..3).map(|i| format!("{i}.png").into()).collect(),
            room_hints: hints,
            script: script.into(),
            voice: VoiceProfile::espeak("en-us"),
            orientation: Orientation::Landscape,
            mode,
            subtitle: None,
            watermark: None,
            text: None,
            avatar: None,
            music: false,
            seed: 1,
            profile: Profile::Test,
            time_limit: Duration::from_secs(60),
            output: "out.mp4".into(),
            cover: "cover.jpg".into(),
        }
    }

    #[test]
    fn slideshows_label_only_where_labels_can_move_a_scene() {
        let naming = "Welcome home. The kitchen has a long island.";
        let plain = "Welcome home. It is bright and calm, close to the park.";
        for mode in [Mode::Standard, Mode::Artistic] {
            let j = job(RenderKind::Slideshow, mode, naming, vec![]);
            assert_eq!(wanted(&j), [true, true, true], "{mode:?}");
            // A photo whose room is already known is not sent to the detector.
            let hints = vec![None, Some(Room::Kitchen)];
            let j = job(RenderKind::Slideshow, mode, naming, hints);
            assert_eq!(wanted(&j), [true, false, true], "{mode:?}");
        }
        // `standard` opens and closes on exteriors, which labels tell: always labelled.
        let j = job(RenderKind::Slideshow, Mode::Standard, plain, vec![]);
        assert_eq!(wanted(&j), [true; 3]);
        // `artistic` moves scenes for the narration only.
        let j = job(RenderKind::Slideshow, Mode::Artistic, plain, vec![]);
        assert_eq!(wanted(&j), [false; 3]);
        // Room words of another language than the voice's name nothing.
        let spanish = "La cocina es amplia.";
        let j = job(RenderKind::Slideshow, Mode::Artistic, spanish, vec![]);
        assert_eq!(wanted(&j), [false; 3]);
        let j = job(RenderKind::Slideshow, Mode::Sequential, naming, vec![]);
        assert_eq!(wanted(&j), [false; 3]);
    }

    #[test]
    fn living_properties_label_the_photos_without_a_room_type() {
        let kind = RenderKind::Living {
            room_types: vec![Some(RoomType::Kitchen), None, Some(RoomType::Other)],
        };
        let hints = kind.room_hints(3);
        let j = job(kind, Mode::Standard, "Welcome home.", hints);
        assert_eq!(wanted(&j), [false, true, false]);
    }
}
