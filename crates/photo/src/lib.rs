//! The one decode path for listing photos, logos and avatars (issue 13, part 2).
//!
//! Creation (`peakreel-fetch`'s image check) and the renderer (`peakreel-media`) both call
//! [`decode`], so what a photo is judged to be at creation (its shown size, whether it
//! decodes) is exactly what the renderer draws. The result is plain upright sRGB pixels:
//!
//! - the format is decided by the bytes (JPEG, PNG, WebP), never by a name or header;
//! - the pixel limit is checked from the header, before any bitmap is allocated;
//! - an animated WebP or APNG gives its first frame (the image shown by viewers that do
//!   not animate);
//! - the EXIF orientation (JPEG APP1, PNG `eXIf`, WebP `EXIF`) is applied;
//! - an embedded ICC profile with RGB data is converted to sRGB by Little CMS
//!   (perceptual intent); a profile that does not parse or does not describe the pixels
//!   (a CMYK profile on a JPEG the decoder already turned into RGB, a grey profile) is
//!   ignored, as browsers do;
//! - transparency is composited onto [`BACKGROUND`] (or kept, for logos), so hidden
//!   colour under transparent pixels never shows.
//!
//! Memory: the full-size bitmap exists once, only while it is reduced to the requested
//! size; every full-size decode in the process shares one [`budget`] of bytes, so fifteen
//! 100-megapixel photos decoded at once wait for each other instead of exhausting memory.

pub mod budget;
mod colour;
mod format;
mod jpeg_scaled;

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage, RgbaImage};

pub use format::{sniff_format, ImageFormat};

/// What transparent pixels become: black, the colour of "nothing" in a video frame, and
/// the one colour every RGB profile maps to black (so compositing before the colour
/// conversion cannot tint it).
pub const BACKGROUND: [u8; 3] = [0, 0, 0];

/// Why bytes are not a usable photo. Every variant is the input's fault: callers map them
/// to `IMAGE_PROCESSING_FAILED`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PhotoError {
    #[error("not a JPEG, PNG or WebP image")]
    UnsupportedFormat,
    #[error("{width}x{height} pixels is more than the {max_pixels} allowed")]
    TooManyPixels {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
    #[error("{reason}")]
    Undecodable { reason: String },
}

/// What to do with transparency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpha {
    /// Composite onto [`BACKGROUND`]: photos, avatars.
    Flatten,
    /// Keep the alpha channel: logos drawn over the video.
    Keep,
}

/// How to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Refused above this many pixels (stored width × height).
    pub max_pixels: u64,
    /// When set, the upright picture is reduced (never enlarged, aspect kept) to the
    /// smallest size that still covers this width × height: the renderer asks for what
    /// its largest still needs, the creation check for a thumbnail.
    pub cover: Option<(u32, u32)>,
    pub alpha: Alpha,
}

impl Options {
    /// Full size, alpha flattened, the api.md §9 limit of 100 megapixels.
    pub fn full() -> Options {
        Options {
            max_pixels: 100_000_000,
            cover: None,
            alpha: Alpha::Flatten,
        }
    }
}

/// A decoded, upright sRGB picture.
#[derive(Debug, Clone)]
pub struct Photo {
    pub format: ImageFormat,
    /// Width and height as stored in the file (before the orientation).
    pub stored: (u32, u32),
    /// EXIF orientation tag, 1..=8 (1 when absent).
    pub orientation: u8,
    /// Whether the file held more than one frame (only the first is used).
    pub animated: bool,
    /// Whether an ICC profile was applied.
    pub colour_managed: bool,
    /// RGB, or RGBA with [`Alpha::Keep`] and a source with alpha.
    pub image: DynamicImage,
}

impl Photo {
    /// Width and height as shown (after the orientation), at full size: portrait or
    /// landscape is decided from this.
    pub fn display_size(&self) -> (u32, u32) {
        let (w, h) = self.stored;
        if matches!(self.orientation, 5..=8) {
            (h, w)
        } else {
            (w, h)
        }
    }

    /// The pixels as RGB (alpha, if kept, dropped).
    pub fn into_rgb(self) -> RgbImage {
        self.image.into_rgb8()
    }

    /// The pixels as RGBA (opaque unless alpha was kept).
    pub fn into_rgba(self) -> RgbaImage {
        self.image.into_rgba8()
    }
}

/// Decodes `bytes` into an upright sRGB picture (see the crate docs). CPU-heavy: call it
/// from a blocking context.
pub fn decode(bytes: &[u8], options: &Options) -> Result<Photo, PhotoError> {
    let format = sniff_format(bytes).ok_or(PhotoError::UnsupportedFormat)?;
    let undecodable = |e: image::ImageError| PhotoError::Undecodable {
        reason: e.to_string(),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.to_image());
    // Until the header has been read the size is unknown; keep the header parsers on a
    // short leash.
    let mut header_limits = Limits::default();
    header_limits.max_alloc = Some(64 * 1024 * 1024);
    reader.limits(header_limits);
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(PhotoError::Undecodable {
            reason: "zero width or height".into(),
        });
    }
    if u64::from(width) * u64::from(height) > options.max_pixels {
        return Err(PhotoError::TooManyPixels {
            width,
            height,
            max_pixels: options.max_pixels,
        });
    }
    // Metadata that cannot be read is treated as absent: a photo is not refused for a
    // damaged EXIF block or profile, it is shown as stored.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let animated = format::is_animated(format, bytes);
    let mut image = match options
        .cover
        .and_then(|cover| jpeg_scaled_candidate(format, bytes, (width, height), cover, orientation))
    {
        Some(reduced) => {
            let reduced = reduced?;
            check_jpeg_end(format, bytes)?;
            flatten_and_reduce(reduced, false, options.cover, orientation)
        }
        None => decode_full(decoder, format, bytes, options, orientation)?,
    };
    let colour_managed = match &icc {
        Some(profile) => colour::to_srgb(&mut image, profile),
        None => false,
    };
    image.apply_orientation(orientation);
    Ok(Photo {
        format,
        stored: (width, height),
        orientation: orientation_tag(orientation),
        animated,
        colour_managed,
        image,
    })
}

/// A JPEG wanted at a reduced size is decoded at that size (see [`jpeg_scaled`]).
fn jpeg_scaled_candidate(
    format: ImageFormat,
    bytes: &[u8],
    stored: (u32, u32),
    cover: (u32, u32),
    orientation: image::metadata::Orientation,
) -> Option<Result<DynamicImage, PhotoError>> {
    if format != ImageFormat::Jpeg {
        return None;
    }
    jpeg_scaled::decode_reduced(bytes, stored, stored_box(cover, orientation))
}

/// The whole bitmap, under the [`budget`], then flattened and reduced.
fn decode_full(
    mut decoder: impl ImageDecoder,
    format: ImageFormat,
    bytes: &[u8],
    options: &Options,
    orientation: image::metadata::Orientation,
) -> Result<DynamicImage, PhotoError> {
    let undecodable = |e: image::ImageError| PhotoError::Undecodable {
        reason: e.to_string(),
    };
    let (width, height) = decoder.dimensions();
    // Now that the size is known and acceptable, allow exactly the bitmap plus decoder
    // working space, and no more.
    let total = decoder.total_bytes();
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(total.saturating_add(64 * 1024 * 1024));
    decoder.set_limits(limits).map_err(undecodable)?;
    // The decoded bitmap and, at most, one full-size 8-bit copy of it (alpha flattening).
    let permit = budget::acquire(total.saturating_mul(2));
    let full = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    check_jpeg_end(format, bytes)?;
    let keep_alpha = options.alpha == Alpha::Keep && full.color().has_alpha();
    let image = flatten_and_reduce(full, keep_alpha, options.cover, orientation);
    drop(permit);
    Ok(image)
}

/// The JPEG decoders pad a cut-off scan with grey instead of failing; a file without its
/// end-of-image marker was truncated in transit.
fn check_jpeg_end(format: ImageFormat, bytes: &[u8]) -> Result<(), PhotoError> {
    if format == ImageFormat::Jpeg && !format::jpeg_has_end(bytes) {
        return Err(PhotoError::Undecodable {
            reason: "the JPEG data is truncated (no end-of-image marker)".into(),
        });
    }
    Ok(())
}

/// The box `cover` (given as shown) in stored pixels: swapped for a sideways orientation.
fn stored_box(cover: (u32, u32), orientation: image::metadata::Orientation) -> (u32, u32) {
    use image::metadata::Orientation::*;
    match orientation {
        Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH => (cover.1, cover.0),
        _ => cover,
    }
}

/// [`decode`] of a local file.
pub fn decode_file(path: &Path, options: &Options) -> Result<Photo, PhotoError> {
    let bytes = std::fs::read(path).map_err(|e| PhotoError::Undecodable {
        reason: format!("cannot read the file: {e}"),
    })?;
    decode(&bytes, options)
}

/// To 8-bit RGB (or RGBA when `keep_alpha`), alpha composited at full size (so a reduced
/// picture never averages colour hidden under transparent pixels into its edges), then
/// reduced to cover `cover` as shown.
fn flatten_and_reduce(
    full: DynamicImage,
    keep_alpha: bool,
    cover: Option<(u32, u32)>,
    orientation: image::metadata::Orientation,
) -> DynamicImage {
    let full = if keep_alpha {
        DynamicImage::ImageRgba8(full.into_rgba8())
    } else if full.color().has_alpha() {
        let mut rgba = full.into_rgba8();
        for p in rgba.pixels_mut() {
            let a = u32::from(p[3]);
            for c in 0..3 {
                let v = u32::from(p[c]) * a + u32::from(BACKGROUND[c]) * (255 - a);
                p[c] = ((v + 127) / 255) as u8;
            }
            p[3] = 255;
        }
        DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba).into_rgb8())
    } else {
        DynamicImage::ImageRgb8(full.into_rgb8())
    };
    let Some((cw, ch)) = cover else { return full };
    // The box is given as shown; the pixels are still as stored.
    let (cw, ch) = stored_box((cw, ch), orientation);
    match reduced_size(full.width(), full.height(), cw.max(1), ch.max(1)) {
        Some((w, h)) => full.thumbnail_exact(w, h),
        None => full,
    }
}

/// The smallest size of aspect `w`:`h` covering `cw`×`ch`, when that is smaller than
/// `w`×`h`.
fn reduced_size(w: u32, h: u32, cw: u32, ch: u32) -> Option<(u32, u32)> {
    let scale = (f64::from(cw) / f64::from(w)).max(f64::from(ch) / f64::from(h));
    if scale >= 1.0 {
        return None;
    }
    let nw = ((f64::from(w) * scale).ceil() as u32).clamp(cw.min(w), w);
    let nh = ((f64::from(h) * scale).ceil() as u32).clamp(ch.min(h), h);
    Some((nw, nh))
}

fn orientation_tag(o: image::metadata::Orientation) -> u8 {
    use image::metadata::Orientation::*;
    match o {
        NoTransforms => 1,
        FlipHorizontal => 2,
        Rotate180 => 3,
        FlipVertical => 4,
        Rotate90FlipH => 5,
        Rotate90 => 6,
        Rotate270FlipH => 7,
        Rotate270 => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduction_covers_the_box_and_never_enlarges() {
        assert_eq!(reduced_size(4000, 3000, 960, 540), Some((960, 720)));
        assert_eq!(reduced_size(3000, 4000, 960, 540), Some((960, 1280)));
        assert_eq!(reduced_size(800, 600, 960, 540), None);
        // A panorama keeps its width so its height still covers the box.
        assert_eq!(reduced_size(20000, 1000, 960, 540), Some((10800, 540)));
    }
}
