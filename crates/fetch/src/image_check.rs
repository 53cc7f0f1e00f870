//! Deciding whether bytes are an image we accept: format from magic bytes
//! (never from a Content-Type or a file name), dimensions from the header,
//! the pixel limit before the decoder allocates a bitmap, then a full decode.

use std::io::Cursor;
use std::path::Path;

use image::{ImageDecoder, ImageReader, Limits};

use crate::error::FetchError;

/// The formats accepted by api.md §9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Jpeg,
    Png,
    Webp,
}

impl ImageFormat {
    pub fn mime(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::Webp => "image/webp",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Png => "png",
            ImageFormat::Webp => "webp",
        }
    }

    /// The inverse of [`ImageFormat::extension`].
    pub fn from_extension(ext: &str) -> Option<ImageFormat> {
        [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Webp]
            .into_iter()
            .find(|f| f.extension() == ext)
    }

    fn to_image(self) -> image::ImageFormat {
        match self {
            ImageFormat::Jpeg => image::ImageFormat::Jpeg,
            ImageFormat::Png => image::ImageFormat::Png,
            ImageFormat::Webp => image::ImageFormat::WebP,
        }
    }
}

/// What the decode check learnt about an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    pub format: ImageFormat,
    /// Stored width and height, as in the file header.
    pub width: u32,
    pub height: u32,
    /// EXIF orientation tag (1..=8; 1 when absent). Phones store portrait
    /// photos as landscape pixels with tag 6 or 8.
    pub exif_orientation: u8,
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

/// The format by magic bytes, or `None`.
pub fn sniff_format(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::Webp)
    } else {
        None
    }
}

/// Full check of an in-memory image. CPU-heavy (a full decode): call it from
/// a blocking context (the client does so on `spawn_blocking`).
pub fn inspect_image(bytes: &[u8], max_pixels: u64) -> Result<ImageInfo, FetchError> {
    let format = sniff_format(bytes).ok_or(FetchError::UnsupportedFormat)?;
    let undecodable = |e: image::ImageError| FetchError::Undecodable {
        reason: e.to_string(),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.to_image());
    // Until the header has been read the size is unknown; keep the header
    // parsers on a short leash.
    let mut header_limits = Limits::default();
    header_limits.max_alloc = Some(64 * 1024 * 1024);
    reader.limits(header_limits);
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(FetchError::Undecodable {
            reason: "zero width or height".into(),
        });
    }
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(FetchError::TooManyPixels {
            width,
            height,
            max_pixels,
        });
    }
    let exif_orientation = decoder.orientation().map(orientation_tag).unwrap_or(1);
    // Now that the size is known and acceptable, allow exactly the bitmap
    // plus decoder working space, and no more.
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(decoder.total_bytes().saturating_add(64 * 1024 * 1024));
    decoder.set_limits(limits).map_err(undecodable)?;
    let mut buf = vec![0u8; usize::try_from(decoder.total_bytes()).unwrap_or(usize::MAX)];
    decoder.read_image(&mut buf).map_err(undecodable)?;
    if format == ImageFormat::Jpeg && !jpeg_has_end(bytes) {
        // The JPEG decoder pads a cut-off scan with grey instead of failing;
        // a file without its end-of-image marker was truncated in transit.
        return Err(FetchError::Undecodable {
            reason: "the JPEG data is truncated (no end-of-image marker)".into(),
        });
    }
    Ok(ImageInfo {
        format,
        width,
        height,
        exif_orientation,
    })
}

/// The same check for a local file (`peakreel render` accepts paths).
pub fn inspect_image_file(path: &Path, max_pixels: u64) -> Result<ImageInfo, FetchError> {
    let bytes = std::fs::read(path).map_err(|e| FetchError::Undecodable {
        reason: format!("cannot read the file: {e}"),
    })?;
    inspect_image(&bytes, max_pixels)
}

/// An EOI marker (FF D9) near the end; cameras sometimes append a few
/// bytes of padding or trailers after it, so look at the last 64 KiB.
fn jpeg_has_end(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(64 * 1024)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
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
    fn sniffing_ignores_names() {
        assert_eq!(sniff_format(b"<html>"), None);
        assert_eq!(
            sniff_format(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(
            sniff_format(b"\x89PNG\r\n\x1a\nxxxx"),
            Some(ImageFormat::Png)
        );
        assert_eq!(
            sniff_format(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageFormat::Webp)
        );
        assert_eq!(sniff_format(b"RIFF\0\0\0\0WAVEfmt "), None);
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
        };
        assert_eq!(info.display_size(), (3000, 4000));
    }
}
