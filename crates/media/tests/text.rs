//! Every text fits inside the frame and draws real glyphs (issue 13 §4–5), checked on the
//! frames of real renders over a uniform photo, where any pixel unlike the photo is text
//! (its letters, outline, shadow or box). A contact sheet of each render is kept in
//! `target/test-artefacts/text-*.png`.

use std::path::Path;
use std::process::Command;

use image::RgbImage;
use peakreel_media::{render, FontFamily, Orientation, Position, SubtitlePreset, TextOverlay};

mod common;
use common::*;

/// The photo's colour, and the overlay's (far from it and from white and black).
const BACKGROUND: [u8; 3] = [40, 90, 160];
const YELLOW: [u8; 3] = [255, 220, 0];

/// 100 characters, the contract's maximum.
const HUNDRED: &str = "Sunlit family home with a walled garden, new kitchens, three bedrooms and a calm street near a park.";

/// 42 letters: longer than a subtitle line in every preset and orientation.
const COMPOUND: &str = "Donaudampfschifffahrtsgesellschaftskapitän";

/// Every frame at `fps` frames per second, decoded once.
fn frames(p: &Path, fps: u32, w: u32, h: u32) -> Vec<RgbImage> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(p)
        .args([
            "-vf",
            &format!("fps={fps}"),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact((w * h * 3) as usize)
        .map(|f| RgbImage::from_raw(w, h, f.to_vec()).unwrap())
        .collect()
}

fn is_text(p: &image::Rgb<u8>) -> bool {
    (0..3).any(|c| (p.0[c] as i32 - BACKGROUND[c] as i32).abs() > 40)
}

/// Pixels unlike the photo within `m` px of an edge: `(x, y)` of the first, and how many.
fn in_margin(f: &RgbImage, m: u32) -> Option<((u32, u32), usize)> {
    let (w, h) = f.dimensions();
    let hits: Vec<(u32, u32)> = f
        .enumerate_pixels()
        .filter(|(x, y, p)| (*x < m || *y < m || *x >= w - m || *y >= h - m) && is_text(p))
        .map(|(x, y, _)| (x, y))
        .collect();
    hits.first().map(|&first| (first, hits.len()))
}

struct Case {
    name: &'static str,
    orientation: Orientation,
    subtitle: Option<SubtitlePreset>,
    script: String,
    text: Option<TextOverlay>,
}

/// Renders `case` over two uniform photos; returns the frames at 4 fps and the size.
async fn render_case(case: &Case) -> (Vec<RgbImage>, (u32, u32)) {
    let tmp = tempfile::tempdir().unwrap();
    let temp_root = tempfile::tempdir().unwrap();
    let (pw, ph) = match case.orientation {
        Orientation::Landscape => (1280, 720),
        Orientation::Portrait => (720, 1280),
    };
    let photos = vec![
        solid(tmp.path(), "a.png", BACKGROUND, pw, ph),
        solid(tmp.path(), "b.png", BACKGROUND, pw, ph),
    ];
    let mut j = job(photos, &case.script, tmp.path());
    j.orientation = case.orientation;
    j.subtitle = case.subtitle;
    j.text = case.text.clone();
    let out = render(&j, &env_espeak(temp_root.path()), &|_, _| {})
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    eprintln!(
        "contact sheet: {}",
        peakreel_testkit::contact_sheet(&out.video_path, &format!("text-{}", case.name)).display()
    );
    let (w, h) = (out.width, out.height);
    (frames(&out.video_path, 4, w, h), (w, h))
}

fn overlay(content: &str, size_px: u32, position: Position) -> TextOverlay {
    TextOverlay {
        content: content.into(),
        color: YELLOW,
        font: FontFamily::Inter,
        size_px,
        position,
    }
}

/// The overlay's pixels (its own colour) in a frame: count and bounding box.
fn yellow(f: &RgbImage) -> (usize, Option<(u32, u32, u32, u32)>) {
    let mut n = 0;
    let mut bbox: Option<(u32, u32, u32, u32)> = None;
    for (x, y, p) in f.enumerate_pixels() {
        if p.0[0] > 200 && p.0[1] > 170 && p.0[2] < 90 {
            n += 1;
            bbox = Some(match bbox {
                None => (x, y, x, y),
                Some((a, b, c, d)) => (a.min(x), b.min(y), c.max(x), d.max(y)),
            });
        }
    }
    (n, bbox)
}

/// The longest overlay at sizes 48 and 120 in both orientations, each at another anchor,
/// and a 42-letter word in the subtitles of every preset in portrait: no pixel of any
/// text within the margin in any frame, and the overlay wrapped across the frame (not
/// one cut line) at its anchor.
#[tokio::test]
async fn long_overlay_text_and_long_words_stay_inside_the_frame() {
    let script = format!("Welcome home. Ein {COMPOUND} wohnt hier.");
    let cases = [
        (
            Orientation::Landscape,
            120,
            Position::BottomRight,
            SubtitlePreset::Classic,
        ),
        (
            Orientation::Landscape,
            48,
            Position::TopLeft,
            SubtitlePreset::Modern,
        ),
        (
            Orientation::Portrait,
            120,
            Position::TopCenter,
            SubtitlePreset::Bold,
        ),
        (
            Orientation::Portrait,
            48,
            Position::BottomLeft,
            SubtitlePreset::Karaoke,
        ),
    ];
    for (orientation, size, position, preset) in cases {
        let case = Case {
            name: Box::leak(
                format!("{orientation:?}-{size}-{preset:?}")
                    .to_lowercase()
                    .into_boxed_str(),
            ),
            orientation,
            subtitle: Some(preset),
            script: script.clone(),
            text: Some(overlay(HUNDRED, size, position)),
        };
        let (frames, (w, h)) = render_case(&case).await;
        let m = (w.min(h) as f64 * 0.04).round() as u32;
        for (i, f) in frames.iter().enumerate() {
            if let Some((first, n)) = in_margin(f, m) {
                panic!(
                    "{}: frame {i}: {n} text pixels within {m} px of the edge, first at {first:?}",
                    case.name
                );
            }
        }
        // The overlay, in the middle frame: several lines wide across the inner frame,
        // on the side of its anchor.
        let mid = &frames[frames.len() / 2];
        let (n, bbox) = yellow(mid);
        let (x0, y0, x1, y1) = bbox.unwrap_or_else(|| panic!("{}: no overlay", case.name));
        // Thin strokes at 360p lose colour to chroma subsampling: a loose floor.
        assert!(
            n > 100 * size as usize / 48,
            "{}: {n} overlay pixels",
            case.name
        );
        assert!(
            (x1 - x0) as f64 > 0.5 * (w - 2 * m) as f64,
            "{}: overlay spans only {x0}..{x1}",
            case.name
        );
        assert!(
            // One line of ink is at most about one em tall; two lines are 1.25 em more.
            (y1 - y0) as f64 > 1.5 * (size * w.min(h)) as f64 / 1080.0,
            "{}: one line only",
            case.name
        );
        match position {
            Position::BottomRight => assert!(x1 > w - m - w / 10 && y1 > h - m - h / 10),
            Position::TopLeft => assert!(x0 < m + w / 10 && y0 < m + h / 10),
            Position::TopCenter => {
                assert!(y0 < m + h / 10 && (x0 + x1) / 2 > w * 2 / 5 && (x0 + x1) / 2 < w * 3 / 5)
            }
            Position::BottomLeft => assert!(x0 < m + w / 10 && y1 > h - m - h / 10),
            _ => unreachable!(),
        }
    }
}

/// Overlay text and subtitles in seven writing systems render with glyphs from
/// the fallback fonts, inside the margin (coverage itself is asserted glyph by glyph in
/// `glyphs`; the contact sheet shows the result).
#[tokio::test]
async fn other_writing_systems_render_inside_the_frame() {
    let case = Case {
        name: "scripts",
        orientation: Orientation::Landscape,
        subtitle: Some(SubtitlePreset::Classic),
        script: "Καλό σπίτι. Хороший дом. בית יפה. بيت جميل. 阳光厨房. सुंदर घर. บ้านสวย.".into(),
        text: Some(overlay(
            "Ωραίο σπίτι · Дом · 阳光厨房 · منزل جميل! · בית יפה. · सुंदर घर · บ้านสวย",
            72,
            Position::Center,
        )),
    };
    let (frames, (w, h)) = render_case(&case).await;
    let m = (w.min(h) as f64 * 0.04).round() as u32;
    for (i, f) in frames.iter().enumerate() {
        assert!(
            in_margin(f, m).is_none(),
            "frame {i}: text within the margin"
        );
    }
    let (n, _) = yellow(&frames[frames.len() / 2]);
    assert!(n > 400, "{n} overlay pixels");
}
