//! The decode path on generated odd inputs: every accepted format with EXIF orientations,
//! animations, transparency hiding a bright colour, and embedded ICC profiles.

use image::{DynamicImage, ImageFormat as Fmt, Rgb, RgbImage, Rgba, RgbaImage};
use peakreel_photo::{decode, Alpha, ImageFormat, Options, PhotoError};
use peakreel_testkit::odd_images::*;

const RED: [u8; 3] = [220, 30, 30];
const BLUE: [u8; 3] = [30, 30, 220];

/// 300×200 as stored: the top-left quadrant red, the rest blue.
fn marked() -> RgbImage {
    RgbImage::from_fn(300, 200, |x, y| {
        Rgb(if x < 150 && y < 100 { RED } else { BLUE })
    })
}

fn px(img: &RgbImage, fx: f64, fy: f64) -> [u8; 3] {
    let x = ((img.width() as f64 * fx) as u32).min(img.width() - 1);
    let y = ((img.height() as f64 * fy) as u32).min(img.height() - 1);
    img.get_pixel(x, y).0
}

fn near(a: [u8; 3], b: [u8; 3], tol: i32) -> bool {
    (0..3).all(|i| (a[i] as i32 - b[i] as i32).abs() <= tol)
}

/// Which quadrant (as shown) holds the red mark: (column, row), each 0 or 1.
fn red_quadrant(img: &RgbImage) -> (u32, u32) {
    let mut found = Vec::new();
    for (qx, qy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
        let c = px(img, 0.25 + 0.5 * qx as f64, 0.25 + 0.5 * qy as f64);
        if near(c, RED, 40) {
            found.push((qx, qy));
        } else {
            assert!(near(c, BLUE, 40), "quadrant {qx},{qy} is {c:?}");
        }
    }
    assert_eq!(found.len(), 1, "red in {found:?}");
    found[0]
}

#[test]
fn exif_orientation_is_applied_in_every_format() {
    // Where the stored top-left quadrant ends up once shown, and the shown size.
    let cases = [
        (1, (0, 0), (300, 200)),
        (3, (1, 1), (300, 200)),
        (6, (1, 0), (200, 300)),
        (8, (0, 1), (200, 300)),
    ];
    for (o, quadrant, size) in cases {
        let inputs = [
            ("png", png_with_exif(&marked(), o), ImageFormat::Png),
            ("webp", webp_with_exif(&marked(), o), ImageFormat::Webp),
        ];
        for (name, bytes, format) in inputs {
            let p = decode(&bytes, &Options::full()).unwrap_or_else(|e| panic!("{name} {o}: {e}"));
            assert_eq!(p.format, format);
            assert_eq!(p.orientation, o, "{name}");
            assert_eq!(p.display_size(), size, "{name} orientation {o}");
            let img = p.into_rgb();
            assert_eq!(img.dimensions(), size, "{name} orientation {o}");
            assert_eq!(red_quadrant(&img), quadrant, "{name} orientation {o}");
        }
    }
}

#[test]
fn animations_give_their_first_frame() {
    let red = RgbImage::from_pixel(64, 48, Rgb(RED));
    let green = RgbImage::from_pixel(64, 48, Rgb([30, 200, 30]));
    for (name, bytes) in [
        ("webp", animated_webp(&[red.clone(), green.clone()])),
        ("apng", apng(&[red.clone(), green.clone()])),
    ] {
        let p = decode(&bytes, &Options::full()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(p.animated, "{name}");
        assert_eq!(p.display_size(), (64, 48));
        let img = p.into_rgb();
        assert!(
            near(px(&img, 0.5, 0.5), RED, 2),
            "{name}: {:?}",
            px(&img, 0.5, 0.5)
        );
    }
    // A still is not an animation.
    let still = peakreel_testkit::encode(&DynamicImage::ImageRgb8(red), Fmt::Png);
    assert!(!decode(&still, &Options::full()).unwrap().animated);
}

/// Left half fully transparent over bright magenta, right half opaque grey, a
/// half-transparent white band in the middle rows.
fn transparent_png() -> Vec<u8> {
    let img = RgbaImage::from_fn(200, 100, |x, y| {
        if x < 100 {
            Rgba([255, 0, 255, 0])
        } else if (40..60).contains(&y) {
            Rgba([255, 255, 255, 128])
        } else {
            Rgba([128, 128, 128, 255])
        }
    });
    peakreel_testkit::encode(&DynamicImage::ImageRgba8(img), Fmt::Png)
}

#[test]
fn transparency_is_flattened_onto_the_background_or_kept() {
    let bytes = transparent_png();
    for cover in [None, Some((50, 25))] {
        let o = Options {
            cover,
            ..Options::full()
        };
        let img = decode(&bytes, &o).unwrap().into_rgb();
        assert!(
            near(px(&img, 0.25, 0.5), [0, 0, 0], 0),
            "hidden magenta shows: {:?}",
            px(&img, 0.25, 0.5)
        );
        // Reduced or not, no magenta bleeds into the opaque half's edge.
        let edge = px(&img, 0.52, 0.2);
        assert!(near(edge, [128, 128, 128], 3), "edge {edge:?}");
        assert!(
            near(px(&img, 0.75, 0.5), [128, 128, 128], 3),
            "half-transparent white over black"
        );
        assert!(near(px(&img, 0.75, 0.1), [128, 128, 128], 0));
    }
    let kept = decode(
        &bytes,
        &Options {
            alpha: Alpha::Keep,
            ..Options::full()
        },
    )
    .unwrap()
    .into_rgba();
    assert_eq!(kept.get_pixel(10, 10)[3], 0);
    assert_eq!(kept.get_pixel(150, 50)[3], 128);
}

#[test]
fn icc_profiles_are_converted_to_srgb() {
    // Red and green swapped: stored red is shown green.
    let swapped = jpeg_with_icc(
        &RgbImage::from_pixel(64, 64, Rgb([200, 30, 30])),
        icc_red_green_swapped(),
    );
    let p = decode(&swapped, &Options::full()).unwrap();
    assert!(p.colour_managed);
    let c = px(&p.into_rgb(), 0.5, 0.5);
    assert!(
        c[1] > 150 && c[0] < 90 && c[2] < 90,
        "swapped profile not applied: {c:?}"
    );
    // Display P3's (234, 51, 35) is sRGB red.
    let p3 = jpeg_with_icc(
        &RgbImage::from_pixel(64, 64, Rgb([234, 51, 35])),
        icc_display_p3(),
    );
    let c = px(&decode(&p3, &Options::full()).unwrap().into_rgb(), 0.5, 0.5);
    assert!(near(c, [255, 0, 0], 10), "P3 red became {c:?}");
    // A profile that does not parse is ignored: the pixels are taken as sRGB.
    let broken = jpeg_with_icc(
        &RgbImage::from_pixel(64, 64, Rgb([234, 51, 35])),
        b"not a profile".to_vec(),
    );
    let p = decode(&broken, &Options::full()).unwrap();
    assert!(!p.colour_managed);
    assert!(near(px(&p.into_rgb(), 0.5, 0.5), [234, 51, 35], 6));
}

#[test]
fn reduction_covers_the_box_as_shown() {
    let big = RgbImage::from_pixel(1600, 1200, Rgb([90, 90, 90]));
    let png = peakreel_testkit::encode(&DynamicImage::ImageRgb8(big.clone()), Fmt::Png);
    let p = decode(
        &png,
        &Options {
            cover: Some((640, 360)),
            ..Options::full()
        },
    )
    .unwrap();
    assert_eq!(p.display_size(), (1600, 1200), "the full size is reported");
    assert_eq!(p.image.width(), 640);
    assert_eq!(p.image.height(), 480);
    // Sideways: stored 1600×1200, shown 1200×1600, covering 640×360 as shown.
    let p = decode(
        &webp_with_exif(&big, 6),
        &Options {
            cover: Some((640, 360)),
            ..Options::full()
        },
    )
    .unwrap();
    assert_eq!((p.image.width(), p.image.height()), (640, 854));
}

#[test]
fn bad_inputs_are_typed() {
    assert_eq!(
        decode(b"GIF89a....", &Options::full()).unwrap_err(),
        PhotoError::UnsupportedFormat
    );
    let bomb = peakreel_testkit::png_bomb(20_000, 20_000);
    assert!(matches!(
        decode(&bomb, &Options::full()),
        Err(PhotoError::TooManyPixels { .. })
    ));
    let mut cut = peakreel_testkit::encode(&DynamicImage::ImageRgb8(marked()), Fmt::Jpeg);
    cut.truncate(cut.len() / 2);
    assert!(matches!(
        decode(&cut, &Options::full()),
        Err(PhotoError::Undecodable { .. })
    ));
}
