//! The narration shows the room it names (issue 13 §1), rendered for real: four test
//! photos whose rooms come through the job's room hints, a script that names the
//! bedroom, the kitchen and the bathroom in an order the photos do not follow, in the
//! default `artistic` mode and in `standard`, espeak-ng's voice. At the midpoint of each room-naming
//! sentence (its time from the narration itself) a frame is taken from the video and
//! matched to the input photo it looks most like. The frames, each over the photo it had
//! to show, are kept in `target/test-artefacts/narration_rooms_{artistic,standard}.png`.

use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};
use peakreel_media::{render, Mode};
use peakreel_rooms::Room;

mod common;
use common::*;

/// Side of the thumbnails frames and photos are compared at: coarse enough that the pan
/// and the crop to 16:9 do not matter, fine enough to tell rooms apart.
const THUMB: (u32, u32) = (48, 27);

fn thumb(img: &RgbImage) -> RgbImage {
    // The render crops every photo to the frame's aspect around its centre before it
    // pans; the comparison does the same.
    let (w, h) = img.dimensions();
    let (cw, ch) = if w * 9 > h * 16 {
        (h * 16 / 9, h)
    } else {
        (w, w * 9 / 16)
    };
    let cropped = imageops::crop_imm(img, (w - cw) / 2, (h - ch) / 2, cw, ch).to_image();
    imageops::resize(&cropped, THUMB.0, THUMB.1, FilterType::Triangle)
}

/// Mean absolute difference per channel, 0..255.
fn mad(a: &RgbImage, b: &RgbImage) -> f64 {
    let sum: u64 = a
        .pixels()
        .zip(b.pixels())
        .flat_map(|(p, q)| (0..3).map(move |c| (p[c] as i64 - q[c] as i64).unsigned_abs()))
        .sum();
    sum as f64 / (a.width() * a.height() * 3) as f64
}

fn test_photo(name: &str) -> PathBuf {
    let dir = peakreel_testkit::photos_dir().expect("the shared test photos");
    dir.join(format!("{name}.jpg"))
}

/// Frames (top row) over the photos they had to show (bottom row).
fn sheet(frames: &[RgbImage], wanted: &[RgbImage], out: &Path) {
    let (w, h) = (320u32, 180u32);
    let mut canvas = RgbImage::from_pixel(
        (w + 8) * frames.len() as u32 + 8,
        (h + 8) * 2 + 8,
        Rgb([255, 255, 255]),
    );
    for (i, (f, p)) in frames.iter().zip(wanted).enumerate() {
        let x = 8 + i as u32 * (w + 8);
        let small = |img: &RgbImage| imageops::resize(img, w, h, FilterType::Triangle);
        imageops::replace(&mut canvas, &small(f), x as i64, 8);
        imageops::replace(&mut canvas, &small(p), x as i64, (16 + h) as i64);
    }
    canvas.save(out).unwrap();
}

#[tokio::test]
async fn each_named_room_is_on_screen_while_its_sentence_is_spoken() {
    let tmp = tempfile::tempdir().unwrap();
    let temp_root = tempfile::tempdir().unwrap();
    // The photos' order: exterior, bathroom, kitchen, bedroom.
    let inputs = [
        ("house100_frontal", Room::Exterior),
        ("house100_bathroom", Room::Bathroom),
        ("house100_kitchen", Room::Kitchen),
        ("house100_bedroom", Room::Bedroom),
    ];
    // The script's order: bedroom, kitchen, bathroom.
    let script = "Welcome to this bright family home on a quiet street. \
        Upstairs, the bedroom is calm and quiet, with soft morning light. \
        The kitchen offers generous counters and a long island for breakfast. \
        The bathroom has a deep tub and a walk in shower. \
        Book a visit today and picture your next chapter here.";
    let named = [(1, Room::Bedroom), (2, Room::Kitchen), (3, Room::Bathroom)];

    let mut failures = Vec::new();
    for mode in [Mode::Artistic, Mode::Standard] {
        let out_dir = tmp.path().join(format!("{mode:?}"));
        std::fs::create_dir_all(&out_dir).unwrap();
        let mut j = job(
            inputs.iter().map(|(n, _)| test_photo(n)).collect(),
            script,
            &out_dir,
        );
        j.mode = mode;
        j.room_hints = inputs.iter().map(|(_, r)| Some(*r)).collect();
        let out = render(&j, &env_espeak(temp_root.path()), &|_, _| {})
            .await
            .unwrap();
        eprintln!(
            "contact sheet: {}",
            peakreel_testkit::contact_sheet(
                &out.video_path,
                &format!("narration_rooms_video_{mode:?}").to_lowercase()
            )
            .display()
        );
        assert_eq!(out.sentences.len(), 5, "{:?}", out.sentences);

        let photos: Vec<RgbImage> = inputs
            .iter()
            .map(|(n, _)| image::open(test_photo(n)).unwrap().to_rgb8())
            .collect();
        let thumbs: Vec<RgbImage> = photos.iter().map(thumb).collect();
        let (mut frames, mut wanted) = (Vec::new(), Vec::new());
        for (sentence, room) in named {
            let s = &out.sentences[sentence];
            let mid = (s.start + s.end) / 2.0;
            let frame = frame(&out.video_path, mid, out.width, out.height);
            let f = thumb(&frame);
            let distances: Vec<f64> = thumbs.iter().map(|t| mad(&f, t)).collect();
            let nearest = (0..thumbs.len())
                .min_by(|&a, &b| distances[a].total_cmp(&distances[b]))
                .unwrap();
            let want = inputs.iter().position(|(_, r)| *r == room).unwrap();
            eprintln!(
                "{mid:.2} s `{}`: nearest photo {nearest} ({}), distances {distances:.1?}",
                s.text, inputs[nearest].0
            );
            if nearest != want {
                failures.push(format!(
                "{mode:?}: at {mid:.2} s (`{}`) photo {nearest} ({}) is on screen, not the {room:?}",
                s.text, inputs[nearest].0
            ));
            }
            frames.push(frame);
            wanted.push(photos[want].clone());
        }
        let artefact = peakreel_testkit::artefact_dir()
            .join(format!("narration_rooms_{mode:?}.png").to_lowercase());
        sheet(&frames, &wanted, &artefact);
        eprintln!(
            "frames over the photos they must show: {}",
            artefact.display()
        );
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
