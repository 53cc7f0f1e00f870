//! Photos as users really send them, rendered (issue 13, part 2): each input is generated
//! here, rendered as one scene of a sequential slideshow, and checked on the pixels of
//! the frame in the middle of its scene. A contact sheet of the render is kept in
//! `target/test-artefacts/odd_photos.png`.

use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use peakreel_media::render;
use peakreel_testkit::odd_images::*;

mod common;
use common::*;

const RED: [u8; 3] = [220, 30, 30];
const BLUE: [u8; 3] = [30, 30, 220];
const GREEN: [u8; 3] = [30, 200, 30];

/// 400×300 as shown, red in the top half and blue in the bottom, stored so that only
/// orientation `o` shows it that way.
fn upright_only_with(o: u8) -> RgbImage {
    let (w, h) = if matches!(o, 6 | 8) {
        (300, 400)
    } else {
        (400, 300)
    };
    RgbImage::from_fn(w, h, |x, y| {
        let red = match o {
            3 => y >= h / 2,
            6 => x < w / 2,
            8 => x >= w / 2,
            _ => y < h / 2,
        };
        Rgb(if red { RED } else { BLUE })
    })
}

fn write(dir: &Path, name: &str, bytes: Vec<u8>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// What a scene must show.
enum Expect {
    /// Red over blue (an orientation case).
    Upright,
    /// This colour across the middle.
    Colour([u8; 3]),
    /// The left half is the background (black), the right half grey.
    Flattened,
}

#[tokio::test]
async fn odd_photos_render_as_taken() {
    let tmp = tempfile::tempdir().unwrap();
    let temp_root = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let solid = |c: [u8; 3]| RgbImage::from_pixel(400, 300, Rgb(c));
    // Left half fully transparent over bright magenta; right half opaque grey.
    let transparent = RgbaImage::from_fn(400, 300, |x, _| {
        if x < 200 {
            Rgba([255, 0, 255, 0])
        } else {
            Rgba([128, 128, 128, 255])
        }
    });
    let cases: Vec<(&str, PathBuf, Expect)> = vec![
        (
            "transparent PNG",
            write(
                d,
                "alpha.png",
                peakreel_testkit::encode(&DynamicImage::ImageRgba8(transparent), ImageFormat::Png),
            ),
            Expect::Flattened,
        ),
        (
            "animated WebP",
            write(d, "anim.webp", animated_webp(&[solid(RED), solid(GREEN)])),
            Expect::Colour(RED),
        ),
        (
            "APNG",
            write(d, "anim.png", apng(&[solid(BLUE), solid(GREEN)])),
            Expect::Colour(BLUE),
        ),
        (
            "PNG orientation 6",
            write(d, "o6.png", png_with_exif(&upright_only_with(6), 6)),
            Expect::Upright,
        ),
        (
            "PNG orientation 3",
            write(d, "o3.png", png_with_exif(&upright_only_with(3), 3)),
            Expect::Upright,
        ),
        (
            "WebP orientation 8",
            write(d, "o8.webp", webp_with_exif(&upright_only_with(8), 8)),
            Expect::Upright,
        ),
        (
            "WebP orientation 6",
            write(d, "o6.webp", webp_with_exif(&upright_only_with(6), 6)),
            Expect::Upright,
        ),
        (
            // Stored red, green once the profile is applied.
            "JPEG with a swapped-primaries ICC profile",
            write(
                d,
                "icc.jpg",
                jpeg_with_icc(&solid([200, 30, 30]), icc_red_green_swapped()),
            ),
            Expect::Colour([30, 200, 30]),
        ),
    ];
    let images = cases.iter().map(|c| c.1.clone()).collect();
    let script = "Welcome home. The hall is bright. The kitchen is new. The garden is green. The rooms are calm. The bath is clean. The view is wide. Come and see it soon.";
    let j = job(images, script, d);
    let out = render(&j, &env_espeak(temp_root.path()), &|_, _| {})
        .await
        .expect("every odd photo renders");
    let sheet = peakreel_testkit::contact_sheet(&out.video_path, "odd_photos");
    eprintln!("contact sheet: {}", sheet.display());

    let n = cases.len() as f64;
    for (k, (name, _, expect)) in cases.iter().enumerate() {
        let t = (k as f64 + 0.5) * out.duration_seconds / n;
        let f = frame(&out.video_path, t, 640, 360);
        match expect {
            Expect::Upright => {
                let top = mean(&f, 100, 20, 540, 120);
                let bottom = mean(&f, 100, 240, 540, 340);
                assert!(
                    close(top, RED, 40.0) && close(bottom, BLUE, 40.0),
                    "{name} at {t:.2}s: top {top:?}, bottom {bottom:?}"
                );
            }
            Expect::Colour(c) => {
                let m = mean(&f, 200, 100, 440, 260);
                assert!(
                    close(m, *c, 35.0),
                    "{name} at {t:.2}s shows {m:?}, expected {c:?}"
                );
            }
            Expect::Flattened => {
                let left = mean(&f, 20, 60, 200, 300);
                let right = mean(&f, 440, 60, 620, 300);
                assert!(
                    close(left, [0, 0, 0], 12.0),
                    "{name}: hidden colour shows: {left:?}"
                );
                assert!(close(right, [128, 128, 128], 12.0), "{name}: {right:?}");
            }
        }
    }
}
