//! Embedded ICC profiles to sRGB, by Little CMS.

use image::DynamicImage;
use lcms2::{ColorSpaceSignature, Flags, Intent, PixelFormat, Profile, Transform};

/// Converts `image` (8-bit RGB or RGBA) from `icc` to sRGB in place. Returns whether it
/// did: a profile that does not parse, or is not an RGB profile, is ignored (the pixels
/// are then taken as sRGB, as browsers do).
pub(crate) fn to_srgb(image: &mut DynamicImage, icc: &[u8]) -> bool {
    let Ok(source) = Profile::new_icc(icc) else {
        return false;
    };
    if source.color_space() != ColorSpaceSignature::RgbData {
        return false;
    }
    let srgb = Profile::new_srgb();
    let (format, buf): (PixelFormat, &mut [u8]) = match image {
        DynamicImage::ImageRgb8(img) => (PixelFormat::RGB_8, img.as_mut()),
        DynamicImage::ImageRgba8(img) => (PixelFormat::RGBA_8, img.as_mut()),
        _ => return false,
    };
    // Alpha (when kept) passes through untouched.
    let Ok(t) = Transform::<u8, u8>::new_flags(
        &source,
        format,
        &srgb,
        format,
        Intent::Perceptual,
        Flags::COPY_ALPHA,
    ) else {
        return false;
    };
    t.transform_in_place(buf);
    true
}
