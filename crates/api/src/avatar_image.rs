//! The stored form of a custom avatar: a square portrait centred on the face.
//!
//! No face detector ships with PeakReel, so "the face" is located by skin-toned pixels
//! (a classic YCbCr range) in the upper two thirds of the picture, where presenter
//! photos put it; with too few such pixels the crop centres on the upper middle.

use image::{imageops::FilterType, DynamicImage, GenericImageView};

pub const AVATAR_SIZE: u32 = 512;

fn is_skin(r: u8, g: u8, b: u8) -> bool {
    let (r, g, b) = (f32::from(r), f32::from(g), f32::from(b));
    let cb = 128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b;
    let cr = 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b;
    (77.0..=127.0).contains(&cb) && (133.0..=173.0).contains(&cr)
}

/// Centre of the face estimate, in image coordinates.
pub fn face_centre(img: &DynamicImage) -> (u32, u32) {
    let (w, h) = img.dimensions();
    // Measure on a small copy: the centroid does not need full resolution.
    let small = img.resize(128, 128, FilterType::Triangle).to_rgb8();
    let (sw, sh) = small.dimensions();
    let (mut sx, mut sy, mut n) = (0u64, 0u64, 0u64);
    for (x, y, p) in small.enumerate_pixels() {
        if y * 3 <= sh * 2 && is_skin(p[0], p[1], p[2]) {
            sx += u64::from(x);
            sy += u64::from(y);
            n += 1;
        }
    }
    let enough = n * 100 >= u64::from(sw * sh); // at least 1 % of the picture
    if !enough {
        return (w / 2, h * 2 / 5);
    }
    let cx = (sx as f64 / n as f64 + 0.5) * f64::from(w) / f64::from(sw);
    let cy = (sy as f64 / n as f64 + 0.5) * f64::from(h) / f64::from(sh);
    (cx as u32, cy as u32)
}

/// The largest square around the face that fits, scaled to `AVATAR_SIZE`, as PNG bytes.
pub fn square_portrait(img: &DynamicImage) -> Result<Vec<u8>, image::ImageError> {
    let (w, h) = img.dimensions();
    let side = w.min(h);
    let (cx, cy) = face_centre(img);
    let x = cx.saturating_sub(side / 2).min(w - side);
    let y = cy.saturating_sub(side / 2).min(h - side);
    let square =
        img.crop_imm(x, y, side, side)
            .resize_exact(AVATAR_SIZE, AVATAR_SIZE, FilterType::Lanczos3);
    let mut out = std::io::Cursor::new(Vec::new());
    square.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    #[test]
    fn the_crop_follows_a_skin_toned_region() {
        // A wide grey picture with a skin-toned disc on the right.
        let img = RgbImage::from_fn(1200, 600, |x, y| {
            let d = (f64::from(x) - 900.0).hypot(f64::from(y) - 250.0);
            if d < 120.0 {
                Rgb([224, 172, 140])
            } else {
                Rgb([90, 90, 100])
            }
        });
        let img = DynamicImage::ImageRgb8(img);
        let (cx, cy) = face_centre(&img);
        assert!(
            (cx as i64 - 900).abs() < 30 && (cy as i64 - 250).abs() < 30,
            "{cx},{cy}"
        );
        let png = square_portrait(&img).unwrap();
        let out = image::load_from_memory(&png).unwrap();
        assert_eq!(out.dimensions(), (AVATAR_SIZE, AVATAR_SIZE));
        // The disc is inside the crop: the centre pixel is skin-toned.
        let p = out.to_rgb8().get_pixel(AVATAR_SIZE / 2, AVATAR_SIZE / 2).0;
        assert!(is_skin(p[0], p[1], p[2]), "{p:?}");
    }

    #[test]
    fn without_a_face_the_crop_centres_on_the_upper_middle() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(400, 800, Rgb([30, 60, 200])));
        assert_eq!(face_centre(&img), (200, 320));
        assert!(square_portrait(&img).is_ok());
    }
}
