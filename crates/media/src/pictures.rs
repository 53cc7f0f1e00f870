//! The render's pictures: every photo, the logo and the avatar decoded once through
//! `peakreel-photo` (the decode path the creation check uses), measured, and written into
//! the work directory as plain sRGB PNGs. ffmpeg only ever reads these, so it never
//! interprets EXIF, ICC profiles, animation or hidden colour under transparent pixels
//! itself, and a user's file that cannot be drawn fails here, typed, with its index.

use std::path::{Path, PathBuf};

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{DynamicImage, ImageEncoder};
use peakreel_photo::{Alpha, Options};

use crate::analysis::{self, ImageMetrics};
use crate::labels::{self, SharedDetector};
use crate::{RenderError, RenderJob};

/// How much larger than the frame a photo is kept: room for the slideshow's pans (2 px a
/// frame at 1080p: 9 s of vertical travel in a 16:9 photo) and the living moves' 1.12
/// zoom. Larger photos are reduced before ffmpeg sees them, which bounds its memory.
const ROOM: f64 = 1.5;

/// The size a photo is decoded to cover for a `frame` (width, height) render: the frame
/// with [`ROOM`] to spare. The dry run measures photos at this size too, so its plan is
/// the render's.
pub fn photo_cover((width, height): (u32, u32)) -> (u32, u32) {
    (
        (width as f64 * ROOM).ceil() as u32,
        (height as f64 * ROOM).ceil() as u32,
    )
}

/// The pictures ffmpeg draws, in the job's order, and the measures that plan the scenes.
pub(crate) struct Pictures {
    pub metrics: Vec<ImageMetrics>,
    pub images: Vec<PathBuf>,
    pub watermark: Option<PathBuf>,
    pub avatar: Option<PathBuf>,
}

impl Pictures {
    /// `job` with its picture paths replaced by the prepared files.
    pub fn apply(&self, job: &RenderJob) -> RenderJob {
        let mut drawn = job.clone();
        drawn.images = self.images.clone();
        if let (Some(w), Some(path)) = (drawn.watermark.as_mut(), &self.watermark) {
            w.path = path.clone();
        }
        drawn.avatar = self.avatar.clone();
        drawn
    }
}

/// Decodes, measures and writes every picture of `job` into `dir` (all at once, off the
/// async threads; `peakreel-photo`'s budget bounds the memory), and labels each photo's
/// room with `detector` when there is one. The first bad photo, in index order, is the
/// error.
pub(crate) async fn prepare(
    job: &RenderJob,
    dir: &Path,
    (width, height): (u32, u32),
    detector: Option<&SharedDetector>,
) -> Result<Pictures, RenderError> {
    let room = photo_cover((width, height));
    let wanted = match detector {
        Some(d) if d.availability().is_ok() => labels::wanted(job),
        _ => vec![false; job.images.len()],
    };
    let mut photos = Vec::new();
    for (index, src) in job.images.iter().enumerate() {
        let (src, out) = (src.clone(), dir.join(format!("photo{index:02}.png")));
        let label_it = wanted[index];
        let options = Options {
            max_pixels: u64::MAX,
            cover: Some(room),
            alpha: Alpha::Flatten,
        };
        photos.push(tokio::task::spawn_blocking(move || {
            let photo =
                peakreel_photo::decode_file(&src, &options).map_err(|e| RenderError::Image {
                    index,
                    path: src.clone(),
                    reason: e.to_string(),
                })?;
            let metrics = analysis::analyze(&photo.image);
            // The labeller's copy is made while the photo is decoded anyway; it is small.
            let copy = label_it.then(|| labels::label_copy(&photo.image));
            write_png(&photo.image, &out)?;
            Ok::<_, RenderError>((metrics, out, copy))
        }));
    }
    let mut metrics = Vec::with_capacity(photos.len());
    let mut images = Vec::with_capacity(photos.len());
    for task in photos {
        let (mut m, path, copy) = task.await.map_err(joined)??;
        // Each photo is labelled as soon as it is decoded, while the later ones still
        // decode: the sidecar's time overlaps the decoding instead of following it.
        if let (Some(detector), Some(copy)) = (detector, copy) {
            m.room = labels::label(detector.as_ref(), &copy, &m).await;
        }
        metrics.push(m);
        images.push(path);
    }
    crate::room_hints::apply(&job.room_hints, &mut metrics);
    let watermark = match &job.watermark {
        // The logo keeps its alpha and is never drawn wider than the frame.
        Some(w) => Some(overlay("watermark", &w.path, dir, (width, 1), Alpha::Keep).await?),
        None => None,
    };
    let avatar = match &job.avatar {
        Some(a) => Some(overlay("avatar", a, dir, (width, width), Alpha::Flatten).await?),
        None => None,
    };
    Ok(Pictures {
        metrics,
        images,
        watermark,
        avatar,
    })
}

async fn overlay(
    what: &'static str,
    src: &Path,
    dir: &Path,
    cover: (u32, u32),
    alpha: Alpha,
) -> Result<PathBuf, RenderError> {
    let (src, out) = (src.to_path_buf(), dir.join(format!("{what}.png")));
    tokio::task::spawn_blocking(move || {
        let options = Options {
            max_pixels: u64::MAX,
            cover: Some(cover),
            alpha,
        };
        let photo =
            peakreel_photo::decode_file(&src, &options).map_err(|e| RenderError::Overlay {
                what,
                path: src.clone(),
                reason: e.to_string(),
            })?;
        write_png(&photo.image, &out)?;
        Ok(out)
    })
    .await
    .map_err(joined)?
}

/// PNG with the fastest compression: written once and read once by ffmpeg, in the same
/// work directory; size matters less than time.
fn write_png(img: &DynamicImage, path: &Path) -> Result<(), RenderError> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    PngEncoder::new_with_quality(file, CompressionType::Fast, FilterType::Sub)
        .write_image(
            img.as_bytes(),
            img.width(),
            img.height(),
            img.color().into(),
        )
        .map_err(|e| RenderError::Io(std::io::Error::other(e)))
}

fn joined(e: tokio::task::JoinError) -> RenderError {
    RenderError::Io(std::io::Error::other(e))
}
