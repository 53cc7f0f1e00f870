//! Deciding whether bytes are an image we accept. The decision is `peakreel-photo`'s
//! decode path, the same one the renderer draws from, so a photo accepted here is one
//! the renderer can draw, and its orientation is judged as it will be shown.

use std::path::Path;

pub use peakreel_photo::{sniff_format, ImageFormat};
use peakreel_photo::{Alpha, Options, PhotoError};

use crate::error::FetchError;

/// The creation check keeps only the facts, so it asks for a small picture: the whole
/// path (first frame, orientation, profile, alpha) runs, on few pixels.
const CHECK_COVER: (u32, u32) = (64, 64);

/// What the decode check learnt about an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    pub format: ImageFormat,
    /// Stored width and height, as in the file header.
    pub width: u32,
    pub height: u32,
    /// EXIF orientation tag (1..=8; 1 when absent), from JPEG, PNG or WebP metadata.
    /// Phones store portrait photos as landscape pixels with tag 6 or 8.
    pub exif_orientation: u8,
    /// An animated WebP or PNG: the first frame is what is rendered.
    pub animated: bool,
}

impl ImageInfo {
    /// Width and height as the image is meant to be shown (after the EXIF
    /// rotation): use this to decide portrait versus landscape.
    pub fn display_size(&self) -> (u32, u32) {
        if matches!(self.exif_orientation, 5..=8) {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }
}

/// Full check of an in-memory image. CPU-heavy (a full decode): call it from
/// a blocking context (the client does so on `spawn_blocking`).
pub fn inspect_image(bytes: &[u8], max_pixels: u64) -> Result<ImageInfo, FetchError> {
    let options = Options {
        max_pixels,
        cover: Some(CHECK_COVER),
        alpha: Alpha::Flatten,
    };
    let photo = peakreel_photo::decode(bytes, &options).map_err(|e| match e {
        PhotoError::UnsupportedFormat => FetchError::UnsupportedFormat,
        PhotoError::TooManyPixels {
            width,
            height,
            max_pixels,
        } => FetchError::TooManyPixels {
            width,
            height,
            max_pixels,
        },
        PhotoError::Undecodable { reason } => FetchError::Undecodable { reason },
    })?;
    Ok(ImageInfo {
        format: photo.format,
        width: photo.stored.0,
        height: photo.stored.1,
        exif_orientation: photo.orientation,
        animated: photo.animated,
    })
}

/// The same check for a local file (`peakreel render` accepts paths).
pub fn inspect_image_file(path: &Path, max_pixels: u64) -> Result<ImageInfo, FetchError> {
    let bytes = std::fs::read(path).map_err(|e| FetchError::Undecodable {
        reason: format!("cannot read the file: {e}"),
    })?;
    inspect_image(&bytes, max_pixels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_formats_are_refused_by_content() {
        assert!(matches!(
            inspect_image(b"GIF89a....", 100),
            Err(FetchError::UnsupportedFormat)
        ));
    }

    #[test]
    fn display_size_swaps_for_rotations() {
        let info = ImageInfo {
            format: ImageFormat::Jpeg,
            width: 4000,
            height: 3000,
            exif_orientation: 6,
            animated: false,
        };
        assert_eq!(info.display_size(), (3000, 4000));
    }

    #[test]
    fn png_and_webp_orientation_decide_the_shown_size() {
        let img = image::RgbImage::from_pixel(40, 30, image::Rgb([9, 9, 9]));
        for bytes in [
            peakreel_testkit::odd_images::png_with_exif(&img, 6),
            peakreel_testkit::odd_images::webp_with_exif(&img, 8),
        ] {
            let info = inspect_image(&bytes, 100_000_000).unwrap();
            assert_eq!(info.display_size(), (30, 40));
        }
    }
}
