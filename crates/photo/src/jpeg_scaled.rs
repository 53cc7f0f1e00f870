//! JPEG decoded straight to a reduced size (DCT scaling). A JPEG stores 8×8 blocks of
//! frequencies; an inverse transform of only the lowest 4×4, 2×2 or 1×1 of them gives the
//! block at 1/2, 1/4 or 1/8 of its size, so a 99-megapixel photo wanted as a thumbnail
//! never exists at full size (300 MB as RGB): the creation check holds 1/64 of it and a
//! 1080p render's copy 1/16. Every byte of entropy-coded data is still read, so damaged
//! data is found exactly as by a full decode.
//!
//! Only the common cases take this path (8-bit grey or YCbCr/RGB, sequential or
//! progressive); CMYK, 16-bit and lossless JPEGs return `None` and go through the full
//! decode under the [`crate::budget`].

use std::io::Cursor;

use image::{DynamicImage, GrayImage, RgbImage};
use jpeg_decoder::{CodingProcess, Decoder, PixelFormat};

use crate::{budget, PhotoError};

/// The stored `width`×`height` JPEG in `bytes`, decoded at the smallest of 1/8, 1/4, 1/2
/// that still covers `cover` (given as stored, i.e. already swapped for a sideways
/// orientation). `None` when the reduction would gain nothing or the JPEG is of a kind
/// this path does not handle; the caller then decodes at full size.
pub(crate) fn decode_reduced(
    bytes: &[u8],
    (width, height): (u32, u32),
    cover: (u32, u32),
) -> Option<Result<DynamicImage, PhotoError>> {
    let denominator = denominator(width, height, cover)?;
    let (w16, h16) = (u16::try_from(width).ok()?, u16::try_from(height).ok()?);
    // The decoder panics on a few malformed headers (a two-component frame) instead of
    // answering an error; such a file is undecodable, not a crash.
    let outcome = std::panic::catch_unwind(|| {
        let mut decoder = Decoder::new(Cursor::new(bytes));
        decoder.read_info().ok()?;
        let info = decoder.info()?;
        let channels: u64 = match info.pixel_format {
            PixelFormat::L8 => 1,
            PixelFormat::RGB24 => 3,
            PixelFormat::L16 | PixelFormat::CMYK32 => return None,
        };
        if info.coding_process == CodingProcess::Lossless || (info.width, info.height) != (w16, h16)
        {
            return None;
        }
        let (sw, sh) = decoder
            .scale(scaled(w16, denominator), scaled(h16, denominator))
            .ok()?;
        let out = u64::from(sw) * u64::from(sh) * channels;
        // A progressive JPEG keeps every coefficient (2 bytes per sample, before
        // subsampling) until its last scan; a sequential one only the reduced rows.
        let coefficients = match info.coding_process {
            CodingProcess::DctProgressive => u64::from(width) * u64::from(height) * channels * 2,
            _ => 0,
        };
        let _permit = budget::acquire(out.saturating_mul(2).saturating_add(coefficients));
        Some(match decoder.decode() {
            Ok(pixels) => to_image(pixels, u32::from(sw), u32::from(sh), channels),
            Err(e) => Err(PhotoError::Undecodable {
                reason: e.to_string(),
            }),
        })
    });
    match outcome {
        Ok(result) => result,
        Err(_) => Some(Err(PhotoError::Undecodable {
            reason: "the JPEG headers are malformed".into(),
        })),
    }
}

fn to_image(pixels: Vec<u8>, w: u32, h: u32, channels: u64) -> Result<DynamicImage, PhotoError> {
    let short = || PhotoError::Undecodable {
        reason: "the JPEG decoder returned too few pixels".into(),
    };
    if channels == 1 {
        GrayImage::from_raw(w, h, pixels)
            .map(DynamicImage::ImageLuma8)
            .ok_or_else(short)
    } else {
        RgbImage::from_raw(w, h, pixels)
            .map(DynamicImage::ImageRgb8)
            .ok_or_else(short)
    }
}

/// `len` at 1/`denominator`, rounded up as the decoder does.
fn scaled(len: u16, denominator: u32) -> u16 {
    u32::from(len).div_ceil(denominator) as u16
}

/// The largest of 8, 4, 2 whose reduction of `width`×`height` still covers `cover`.
fn denominator(width: u32, height: u32, (cw, ch): (u32, u32)) -> Option<u32> {
    [8, 4, 2]
        .into_iter()
        .find(|&d| width.div_ceil(d) >= cw.max(1) && height.div_ceil(d) >= ch.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reduction_is_the_largest_that_still_covers() {
        // The creation check's thumbnail: 1/8 of anything larger than 512 pixels.
        assert_eq!(denominator(12150, 8150, (64, 64)), Some(8));
        // A 1080p render's copy (1.5x the frame): 1/4 of a 99-megapixel photo.
        assert_eq!(denominator(12150, 8150, (2880, 1620)), Some(4));
        assert_eq!(denominator(6000, 4000, (2880, 1620)), Some(2));
        // Nothing to gain: the caller decodes at full size.
        assert_eq!(denominator(3000, 2000, (2880, 1620)), None);
        // A tall photo is judged on both sides.
        assert_eq!(denominator(4000, 12000, (2880, 1620)), None);
    }
}
