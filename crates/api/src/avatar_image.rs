//! The stored form of a custom avatar: a square portrait centred on the face (issue 13
//! §8). The face is found by BlazeFace through the vision sidecar (`peakreel-vision`);
//! without a face, or without the sidecar, the crop is centred on the image.

use image::{imageops::FilterType, DynamicImage, GenericImageView};
use peakreel_vision::{Detection, Detector};

pub const AVATAR_SIZE: u32 = 512;

/// Faces less sure than this are not followed (BlazeFace's own cut is 0.3; a presenter
/// photo's face scores above 0.7 when it is there).
const MIN_FACE_SCORE: f32 = 0.5;

/// The faces `detector` sees in `img`; none when there is no detector or it fails (the
/// crop then centres, which is what an upload got before faces were detected).
pub async fn faces(detector: Option<&dyn Detector>, img: &DynamicImage) -> Vec<Detection> {
    let Some(detector) = detector.filter(|d| d.availability().is_ok()) else {
        return Vec::new();
    };
    let copy = peakreel_media::labels::label_copy(img);
    detector.faces(&copy).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "avatar cropped without face detection");
        Vec::new()
    })
}

/// Where the crop centres, in pixels of a `width`×`height` image: the centre of the
/// largest confident face of `faces` (boxes in 0..1), else the image centre.
pub fn crop_centre(faces: &[Detection], (width, height): (u32, u32)) -> (u32, u32) {
    let face = faces
        .iter()
        .filter(|f| f.score >= MIN_FACE_SCORE)
        .max_by(|a, b| a.area().total_cmp(&b.area()));
    let Some(face) = face else {
        return (width / 2, height / 2);
    };
    let (cx, cy) = face.centre();
    let px = |v: f32, size: u32| ((v.clamp(0.0, 1.0) * size as f32) as u32).min(size - 1);
    (px(cx, width), px(cy, height))
}

/// The largest square around `centre` that fits, scaled to `AVATAR_SIZE`, as PNG bytes.
pub fn square_portrait(
    img: &DynamicImage,
    (cx, cy): (u32, u32),
) -> Result<Vec<u8>, image::ImageError> {
    let (w, h) = img.dimensions();
    let side = w.min(h);
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

    fn face(score: f32, bbox: [f32; 4]) -> Detection {
        Detection {
            label: "face".into(),
            score,
            bbox,
        }
    }

    #[test]
    fn the_crop_centres_on_the_largest_confident_face() {
        let faces = [
            face(0.9, [0.70, 0.20, 0.10, 0.10]),
            face(0.8, [0.05, 0.30, 0.20, 0.25]),
            // Largest, but not a face the detector is sure of.
            face(0.35, [0.40, 0.40, 0.50, 0.50]),
        ];
        assert_eq!(crop_centre(&faces, (2000, 1000)), (300, 425));
        assert_eq!(crop_centre(&[], (2000, 1000)), (1000, 500));
        assert_eq!(crop_centre(&faces[2..], (2000, 1000)), (1000, 500));
    }

    #[test]
    fn the_square_holds_the_face_even_at_the_edge() {
        // A wide grey picture with a red square where the "face" is, at the right edge.
        let img = RgbImage::from_fn(1200, 600, |x, y| {
            if (1100..1180).contains(&x) && (200..280).contains(&y) {
                Rgb([220, 30, 30])
            } else {
                Rgb([90, 90, 100])
            }
        });
        let img = DynamicImage::ImageRgb8(img);
        let faces = [face(
            0.9,
            [1100.0 / 1200.0, 200.0 / 600.0, 80.0 / 1200.0, 80.0 / 600.0],
        )];
        let png = square_portrait(&img, crop_centre(&faces, (1200, 600))).unwrap();
        let out = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(out.dimensions(), (AVATAR_SIZE, AVATAR_SIZE));
        // The crop is the right-most 600 px: the face sits at x 500..580 → 427..495 of 512.
        let p = out.get_pixel(460, face_row()).0;
        assert!(p[0] > 180 && p[1] < 80, "{p:?}");
        // The crop's left edge is grey (the picture's x = 600).
        assert_eq!(out.get_pixel(2, 2).0, [90, 90, 100]);
    }

    /// Row 240 of 600 in the 512-px square.
    fn face_row() -> u32 {
        240 * AVATAR_SIZE / 600
    }

    #[test]
    fn without_a_face_the_crop_is_the_centre() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_fn(400, 800, |_, y| {
            Rgb([(y / 4) as u8, 60, 200])
        }));
        let png = square_portrait(&img, crop_centre(&[], (400, 800))).unwrap();
        let out = image::load_from_memory(&png).unwrap().to_rgb8();
        // Rows 200..600 of the picture: the top row's red is 50.
        assert_eq!(out.get_pixel(0, 0).0[0], 50);
    }
}
