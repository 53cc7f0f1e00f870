//! Subtitle cues drawn once each, as small transparent images the render lays over the
//! video while the cue is on screen.
//!
//! libass draws every frame when ffmpeg's `subtitles` filter runs in the render, which
//! cost about 0.8 CPU-s per 20 s of 1080p video on the thread that feeds the encoder;
//! an overlay of a ready image costs almost nothing. ffmpeg's `subtitles` filter writes
//! no alpha, so each cue is drawn on black and on white and the image is recovered from
//! the pair: a pixel of colour `c` and opacity `a` gives `a·c` on black and
//! `a·c + (1 − a)·255` on white, so `a = 1 − (white − black)/255` and `c = black / a`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use image::{Rgb, RgbImage, Rgba, RgbaImage};
use peakreel_speech::process::Cmd;

use crate::RenderError;

/// One cue's image in the work directory and where it goes in the frame.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CueImage {
    pub file: PathBuf,
    pub x: u32,
    pub y: u32,
}

/// A cue's image with the time it is on screen.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CaptionStill {
    pub image: CueImage,
    pub start: f64,
    pub end: f64,
}

/// Draws the `n` cues of `script` (an ASS script showing cue `i` from second `i` to
/// `i + 1`): one entry per cue, `None` for a cue with nothing visible.
pub(crate) async fn draw(
    ffmpeg: &Path,
    dir: &Path,
    script: &str,
    n: usize,
    (width, height): (u32, u32),
    deadline: Instant,
) -> Result<Vec<Option<CueImage>>, RenderError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    tokio::fs::write(dir.join("cues.ass"), script).await?;
    // One frame per second, at the middle of each second (time base 1/10 s), the black
    // canvas above the white one, streamed raw: nothing is compressed or written but the
    // small finished images.
    let canvas = |colour: &str| {
        format!("color=c={colour}:s={width}x{height}:r=1:d={n},format=rgb24,settb=1/10,setpts=PTS+5,subtitles=filename=cues.ass")
    };
    let graph = format!(
        "{}[k];{}[w];[k][w]vstack=inputs=2,format=rgb24[o]",
        canvas("black"),
        canvas("white")
    );
    let plane = (width * height * 3) as usize;
    let mut stills = Vec::new();
    let mut failure = None;
    let mut on_frame = |frame: &[u8]| {
        let i = stills.len();
        if failure.is_some() || i >= n {
            return;
        }
        let (black, white) = frame.split_at(plane);
        let image = |bytes: &[u8]| RgbImage::from_raw(width, height, bytes.to_vec());
        let (Some(black), Some(white)) = (image(black), image(white)) else {
            failure = Some(RenderError::BadOutput("short subtitle frame".into()));
            return;
        };
        let file = dir.join(format!("cue-{i:03}.png"));
        match unmix(&black, &white) {
            // A cue with nothing visible (only spaces) needs no overlay.
            None => stills.push(None),
            Some((x, y, img)) => match img.save(&file) {
                Ok(()) => stills.push(Some(CueImage { file, x, y })),
                Err(e) => failure = Some(RenderError::Io(std::io::Error::other(e))),
            },
        }
    };
    Cmd::new(ffmpeg)
        .args(["-hide_banner", "-nostdin", "-nostats", "-v", "error", "-y"])
        .args(["-filter_complex", &graph, "-map", "[o]"])
        .args(["-fps_mode", "passthrough", "-f", "rawvideo", "pipe:1"])
        .current_dir(dir)
        .deadline(deadline)
        .run_records(plane * 2, &mut on_frame)
        .await
        .map_err(|source| RenderError::Ffmpeg {
            stage: "drawing the subtitles",
            source,
        })?;
    if let Some(e) = failure {
        return Err(e);
    }
    if stills.len() != n {
        return Err(RenderError::BadOutput(format!(
            "{} subtitle frames for {n} cues",
            stills.len()
        )));
    }
    Ok(stills)
}

/// Gives each drawn cue its time on screen. The cues were drawn from the script before
/// it was spoken, so their number must match the narration's cues.
pub(crate) fn place(
    images: Vec<Option<CueImage>>,
    spans: &[(f64, f64)],
) -> Result<Vec<CaptionStill>, RenderError> {
    if images.len() != spans.len() {
        return Err(RenderError::BadOutput(format!(
            "{} subtitle images for {} cues",
            images.len(),
            spans.len()
        )));
    }
    Ok(images
        .into_iter()
        .zip(spans)
        .filter_map(|(image, &(start, end))| {
            Some(CaptionStill {
                image: image?,
                start,
                end,
            })
        })
        .collect())
}

/// The straight-alpha image that gives `black` over black and `white` over white,
/// cropped to its visible pixels, with its position. `None` when nothing is visible.
fn unmix(black: &RgbImage, white: &RgbImage) -> Option<(u32, u32, RgbaImage)> {
    let (w, h) = black.dimensions();
    let alpha = |k: &Rgb<u8>, wh: &Rgb<u8>| -> u8 {
        // The three channels carry the same opacity; their mean evens out rounding.
        let diff: u32 = (0..3).map(|c| wh.0[c].saturating_sub(k.0[c]) as u32).sum();
        255 - (diff as f64 / 3.0).round().min(255.0) as u8
    };
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for (x, y, k) in black.enumerate_pixels() {
        if alpha(k, white.get_pixel(x, y)) > 0 {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    if x0 > x1 {
        return None;
    }
    // Even offsets and sizes: whole chroma samples in the yuv420p video.
    let (x0, y0) = (x0 & !1, y0 & !1);
    let cw = ((x1 - x0 + 2) & !1).min(w - x0);
    let ch = ((y1 - y0 + 2) & !1).min(h - y0);
    let img = RgbaImage::from_fn(cw, ch, |x, y| {
        let k = black.get_pixel(x0 + x, y0 + y);
        let a = alpha(k, white.get_pixel(x0 + x, y0 + y));
        if a == 0 {
            return Rgba([0, 0, 0, 0]);
        }
        let c = |v: u8| ((v as u32 * 255 + a as u32 / 2) / a as u32).min(255) as u8;
        Rgba([c(k.0[0]), c(k.0[1]), c(k.0[2]), a])
    });
    Some((x0, y0, img))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `fg` laid over a plain background, the way libass blends.
    fn over(fg: &RgbaImage, bg: u8) -> RgbImage {
        RgbImage::from_fn(fg.width(), fg.height(), |x, y| {
            let p = fg.get_pixel(x, y);
            let a = p.0[3] as f64 / 255.0;
            Rgb([0, 1, 2].map(|c| (p.0[c] as f64 * a + bg as f64 * (1.0 - a)).round() as u8))
        })
    }

    #[test]
    fn unmixing_recovers_colour_opacity_and_place() {
        // A translucent dark box with an opaque white mark inside, on a 64×48 canvas.
        let fg = RgbaImage::from_fn(64, 48, |x, y| match (x, y) {
            (20..=23, 30..=33) => Rgba([255, 255, 255, 255]),
            (11..=40, 25..=38) => Rgba([0, 0, 0, 128]),
            _ => Rgba([0, 0, 0, 0]),
        });
        let (x, y, img) = unmix(&over(&fg, 0), &over(&fg, 255)).unwrap();
        // Even origin at or before the box, covering it.
        assert_eq!((x, y), (10, 24));
        assert!(img.width() >= 31 && img.height() >= 14);
        assert_eq!(img.width() % 2, 0);
        let box_px = img.get_pixel(11 - x, 25 - y);
        assert!((box_px.0[3] as i32 - 128).abs() <= 1, "{box_px:?}");
        assert_eq!(img.get_pixel(21 - x, 31 - y), &Rgba([255, 255, 255, 255]));
        assert_eq!(img.get_pixel(0, 0).0[3], 0, "outside the box is clear");
        // Laid back over any background, it gives what libass would have drawn.
        let again = |bg: u8| {
            let mut full = RgbaImage::new(64, 48);
            image::imageops::overlay(&mut full, &img, x as i64, y as i64);
            over(&full, bg)
        };
        for bg in [0u8, 90, 255] {
            let (want, got) = (over(&fg, bg), again(bg));
            let worst = want
                .pixels()
                .zip(got.pixels())
                .flat_map(|(a, b)| (0..3).map(move |c| (a.0[c] as i32 - b.0[c] as i32).abs()))
                .max()
                .unwrap();
            assert!(worst <= 2, "background {bg}: off by {worst}");
        }
    }

    #[test]
    fn nothing_visible_gives_nothing() {
        let black = RgbImage::new(16, 16);
        let white = RgbImage::from_pixel(16, 16, Rgb([255, 255, 255]));
        assert!(unmix(&black, &white).is_none());
    }
}
