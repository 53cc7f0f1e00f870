//! The text overlay (api.md §8.4 `elements_config.text`), drawn once into a transparent
//! image that the render lays over every frame.
//!
//! Laid out with the shared text stack ([`crate::glyphs`]): per-character font fallback,
//! right-to-left shaping, line wrapping at the frame's inner width. The text shrinks when
//! it must, until its ink, shadow included, fits inside the frame less the margin on
//! every side. Drawing once and overlaying costs less than ffmpeg's drawtext on every
//! frame.

use std::path::{Path, PathBuf};

use cosmic_text::{Align, Buffer, Color, Metrics, Shaping, Wrap};
use image::{Rgba, RgbaImage};

use crate::glyphs::{self, Stack};
use crate::{Position, RenderError, TextOverlay};

/// The drawn overlay in the work directory and its top-left corner in the frame.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OverlayImage {
    pub file: PathBuf,
    pub x: u32,
    pub y: u32,
    /// The em size finally used, in output pixels (less than asked when it had to shrink).
    pub size_px: f32,
}

/// Line height as a multiple of the em size.
const LINE_HEIGHT: f32 = 1.25;
/// Below this share of the asked size a word longer than a line is broken between
/// letters instead of shrinking the whole text further.
const WORD_SHRINK_FLOOR: f32 = 0.6;

/// Draws `text` for a `width`×`height` frame with `margin` px kept clear on every side
/// and writes it to `dir/text.png`. Fails with [`RenderError::InvalidJob`] when the text
/// has a character no installed font draws (creation refuses those first).
pub(crate) fn draw(
    text: &TextOverlay,
    (width, height): (u32, u32),
    margin: u32,
    dir: &Path,
) -> Result<OverlayImage, RenderError> {
    if let Some(why) = glyphs::undrawable(&text.content, text.font, false) {
        return Err(RenderError::InvalidJob(format!("text {}", why.message())));
    }
    // Whole chroma samples: the first even column and row at or inside the margin.
    let inner = |side: u32| side.saturating_sub(2 * ((margin + 1) & !1));
    let (img, size_px) = fit(text, (inner(width), inner(height)), width.min(height))?;
    let (x, y) = place(text.position, (width, height), margin, img.dimensions());
    let file = dir.join("text.png");
    img.save(&file)
        .map_err(|e| RenderError::Io(std::io::Error::other(e)))?;
    Ok(OverlayImage {
        file,
        x,
        y,
        size_px,
    })
}

/// Lays out and draws at the asked size, then smaller until the ink fits `avail`.
/// Returns the image cropped to its ink and the em size used.
fn fit(
    text: &TextOverlay,
    (avail_w, avail_h): (u32, u32),
    short_side: u32,
) -> Result<(RgbaImage, f32), RenderError> {
    let asked = (text.size_px as f32 * short_side as f32 / 1080.0)
        .round()
        .max(4.0);
    let mut size = asked;
    let mut wrap = Wrap::Word;
    let mut stack = glyphs::stack();
    // Each pass scales by the overflow, so a handful of passes settle it.
    for _ in 0..16 {
        let img = rasterise(&mut stack, text, size, wrap, avail_w as f32);
        let (w, h) = img.dimensions();
        if w <= avail_w && h <= avail_h {
            return Ok((img, size));
        }
        let scale = (avail_w as f32 / w as f32)
            .min(avail_h as f32 / h as f32)
            .min(0.97);
        if w > avail_w && wrap == Wrap::Word && size * scale < asked * WORD_SHRINK_FLOOR {
            // A word wider than the frame: break it rather than shrink everything more.
            wrap = Wrap::WordOrGlyph;
            size = size.min(asked * WORD_SHRINK_FLOOR);
        } else {
            size = (size * scale).max(1.0);
        }
    }
    Err(RenderError::BadOutput(format!(
        "the text overlay did not fit in {avail_w}×{avail_h} px"
    )))
}

/// Draws the text (colour, with a half-opaque black drop shadow) laid out at `size` px
/// in lines at most `line_w` wide, cropped to its visible pixels.
fn rasterise(
    stack: &mut Stack,
    text: &TextOverlay,
    size: f32,
    wrap: Wrap,
    line_w: f32,
) -> RgbaImage {
    let Stack { fonts, raster } = stack;
    let mut buffer = Buffer::new(fonts, Metrics::new(size, size * LINE_HEIGHT));
    buffer.set_wrap(wrap);
    buffer.set_size(Some(line_w), None);
    let align = match text.position {
        Position::TopLeft | Position::BottomLeft => Align::Left,
        Position::TopRight | Position::BottomRight => Align::Right,
        _ => Align::Center,
    };
    buffer.set_text(
        &text.content,
        &glyphs::attrs(text.font, false),
        Shaping::Advanced,
        Some(align),
    );
    buffer.shape_until_scroll(fonts, false);
    let lines_h: f32 = buffer.layout_runs().map(|r| r.line_height).sum();
    // Room around the layout box for ink that overhangs it (swashes, accents, shadow).
    let pad = size.ceil() as u32;
    let shadow = (size / 24.0).ceil() as u32;
    let (cw, ch) = (
        line_w.ceil() as u32 + 2 * pad + shadow,
        lines_h.ceil() as u32 + 2 * pad + shadow,
    );
    let mut ink = vec![0u8; (cw * ch) as usize];
    buffer.draw(fonts, raster, Color::rgb(255, 255, 255), |x, y, w, h, c| {
        for yy in y..y + h as i32 {
            for xx in x..x + w as i32 {
                let (px, py) = (xx + pad as i32, yy + pad as i32);
                if px >= 0 && py >= 0 && (px as u32) < cw && (py as u32) < ch {
                    let cell = &mut ink[(py as u32 * cw + px as u32) as usize];
                    *cell = (*cell).max(c.a());
                }
            }
        }
    });
    let [r, g, b] = text.color;
    let full = RgbaImage::from_fn(cw, ch, |x, y| {
        let text_a = ink[(y * cw + x) as usize] as f32 / 255.0;
        let shadow_a = if x >= shadow && y >= shadow {
            ink[((y - shadow) * cw + x - shadow) as usize] as f32 / 255.0 * 0.5
        } else {
            0.0
        };
        // The text over its shadow ("over" compositing, straight alpha).
        let a = text_a + shadow_a * (1.0 - text_a);
        if a <= 0.0 {
            return Rgba([0, 0, 0, 0]);
        }
        let ch = |v: u8| (v as f32 * text_a / a).round() as u8;
        Rgba([ch(r), ch(g), ch(b), (a * 255.0).round() as u8])
    });
    crop_to_ink(&full)
}

/// The smallest even-sized part of `img` holding every visible pixel (the whole image
/// when nothing is visible, which only an all-space text gives).
fn crop_to_ink(img: &RgbaImage) -> RgbaImage {
    let (w, h) = img.dimensions();
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for (x, y, p) in img.enumerate_pixels() {
        if p.0[3] > 0 {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    if x0 > x1 {
        return RgbaImage::new(2, 2);
    }
    let cw = (x1 - x0 + 2) & !1;
    let ch = (y1 - y0 + 2) & !1;
    RgbaImage::from_fn(cw, ch, |x, y| {
        if x0 + x < w && y0 + y < h {
            *img.get_pixel(x0 + x, y0 + y)
        } else {
            Rgba([0, 0, 0, 0])
        }
    })
}

/// The top-left corner of a `w`×`h` image anchored at `position`: even coordinates, at
/// least `margin` from every edge.
fn place(position: Position, (fw, fh): (u32, u32), margin: u32, (w, h): (u32, u32)) -> (u32, u32) {
    let near = (margin + 1) & !1;
    let far = |frame: u32, size: u32| frame.saturating_sub(size + margin) & !1;
    let centre = |frame: u32, size: u32| (frame.saturating_sub(size) / 2) & !1;
    let x = match position {
        Position::TopLeft | Position::BottomLeft => near,
        Position::TopRight | Position::BottomRight => far(fw, w),
        _ => centre(fw, w),
    };
    let y = match position {
        Position::TopLeft | Position::TopCenter | Position::TopRight => near,
        Position::BottomLeft | Position::BottomCenter | Position::BottomRight => far(fh, h),
        Position::Center => centre(fh, h),
    };
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fonts::FontFamily;

    fn overlay(content: &str, size_px: u32, position: Position) -> TextOverlay {
        TextOverlay {
            content: content.into(),
            color: [255, 255, 255],
            font: FontFamily::Inter,
            size_px,
            position,
        }
    }

    const ALL: [Position; 7] = [
        Position::TopLeft,
        Position::TopCenter,
        Position::TopRight,
        Position::Center,
        Position::BottomLeft,
        Position::BottomCenter,
        Position::BottomRight,
    ];

    /// 100 characters, the contract's maximum.
    const HUNDRED: &str = "Sunlit family home with a walled garden, new kitchens, three bedrooms and a calm street near a park.";

    fn ink_count(img: &RgbaImage) -> usize {
        img.pixels().filter(|p| p.0[3] > 0).count()
    }

    /// The text drawn on one line with no width limit, at `size`: nothing can be cut.
    fn unconstrained(text: &TextOverlay, size: f32) -> RgbaImage {
        let line_w = glyphs::line_width(&text.content, text.font, false, size) + size;
        rasterise(&mut glyphs::stack(), text, size, Wrap::None, line_w)
    }

    /// Every size, position and orientation of the longest text: the ink (shadow
    /// included) lies inside the frame less the margin, and all of it is there (as many
    /// ink pixels as the same text drawn on one unlimited line at the size used).
    #[test]
    fn the_longest_text_fits_inside_the_margin_everywhere_and_loses_nothing() {
        assert_eq!(HUNDRED.chars().count(), 100);
        for (fw, fh) in [(1920u32, 1080u32), (1080, 1920)] {
            let m = crate::render::margin(fw, fh);
            let mut sheet = RgbaImage::from_pixel(fw / 4 * 4, fh / 4 * 2, Rgba([40, 90, 160, 255]));
            for size in [48, 120, 200] {
                let mut used = Vec::new();
                // The largest size once: where it is anchored does not change its fit.
                let positions = if size == 200 { &ALL[3..4] } else { &ALL[..] };
                for (i, &position) in positions.iter().enumerate() {
                    let mut text = overlay(HUNDRED, size, position);
                    text.color = [255, 220, 0];
                    let dir = tempfile::tempdir().unwrap();
                    let drawn = draw(&text, (fw, fh), m, dir.path()).unwrap();
                    let img = image::open(&drawn.file).unwrap().to_rgba8();
                    let (w, h) = img.dimensions();
                    let what = format!("{fw}×{fh} size {size} {position:?}");
                    assert!(
                        drawn.x >= m && drawn.y >= m,
                        "{what}: at {},{}",
                        drawn.x,
                        drawn.y
                    );
                    assert!(
                        drawn.x + w <= fw - m && drawn.y + h <= fh - m,
                        "{what}: {w}×{h} at {},{}",
                        drawn.x,
                        drawn.y
                    );
                    let whole = ink_count(&unconstrained(&text, drawn.size_px));
                    let shown = ink_count(&img);
                    assert!(
                        (shown as f64 / whole as f64 - 1.0).abs() < 0.03,
                        "{what}: {shown} ink pixels, {whole} unwrapped"
                    );
                    used.push(drawn.size_px);
                    if size == 120 {
                        // A quarter-size frame of each position, for a person to look at.
                        let mut frame = RgbaImage::from_pixel(fw, fh, Rgba([40, 90, 160, 255]));
                        image::imageops::overlay(&mut frame, &img, drawn.x as i64, drawn.y as i64);
                        let small = image::imageops::thumbnail(&frame, fw / 4, fh / 4);
                        let (tx, ty) = ((i as u32 % 4) * fw / 4, (i as u32 / 4) * fh / 4);
                        image::imageops::replace(&mut sheet, &small, tx as i64, ty as i64);
                    }
                }
                // The size depends on the frame, not on where the text is anchored.
                assert!(used.iter().all(|u| *u == used[0]), "{used:?}");
                let scaled = size as f32 * fw.min(fh) as f32 / 1080.0;
                if size == 48 {
                    assert_eq!(used[0], scaled, "48 px fits without shrinking");
                }
                if size == 200 && fw < fh {
                    assert!(used[0] < scaled, "200 px in portrait must shrink");
                }
            }
            let name = format!(
                "overlay-{}.png",
                if fw > fh { "landscape" } else { "portrait" }
            );
            sheet
                .save(peakreel_testkit::artefact_dir().join(name))
                .unwrap();
        }
    }

    /// Right-to-left text is laid out right to left, punctuation included: the final
    /// full stop of a Hebrew or Arabic sentence is the leftmost ink, and the first
    /// letter is on the right.
    #[test]
    fn right_to_left_text_runs_right_to_left() {
        // The full stop is the run of inked columns, set apart by empty ones, that is
        // small and sits low: nothing else in these words is.
        fn dot_side(img: &RgbaImage) -> Option<&'static str> {
            let (w, h) = img.dimensions();
            let inked = |x: u32| (0..h).filter(move |&y| img.get_pixel(x, y).0[3] > 128);
            let mut runs: Vec<(u32, u32)> = Vec::new();
            for x in (0..w).filter(|&x| inked(x).next().is_some()) {
                match runs.last_mut() {
                    Some(run) if run.1 + 1 == x => run.1 = x,
                    _ => runs.push((x, x)),
                }
            }
            let dot_like = |&(x0, x1): &(u32, u32)| {
                let top = (x0..=x1).filter_map(|x| inked(x).next()).min().unwrap_or(0);
                top > h / 2 && x1 - x0 < h / 3
            };
            match (dot_like(runs.first()?), dot_like(runs.last()?)) {
                (true, false) => Some("left"),
                (false, true) => Some("right"),
                _ => None,
            }
        }
        let plain = |content: &str| {
            let mut t = overlay(content, 120, Position::Center);
            t.color = [255, 255, 255];
            // No shadow in the way: measure the letters alone.
            fit_plain(&t)
        };
        assert_eq!(dot_side(&plain("Home.")), Some("right"), "LTR control");
        assert_eq!(dot_side(&plain("בית.")), Some("left"), "Hebrew");
        assert_eq!(dot_side(&plain("منزل.")), Some("left"), "Arabic");
        // The first logical letter is on the right: "בא" shows alef (drawn first in
        // logical order second) left of bet.
        let ab = plain("אב");
        let ba = plain("בא");
        assert_ne!(ab, ba);
        let (a, b) = (plain("א"), plain("ב"));
        let right_half = |img: &RgbaImage| {
            let (w, h) = img.dimensions();
            image::imageops::crop_imm(img, w - b.width().min(w), 0, b.width().min(w), h).to_image()
        };
        // In "בא" (bet first) the right edge is bet's shape, in "אב" it is alef's.
        let similar = |x: &RgbaImage, y: &RgbaImage| {
            let (w, h) = (x.width().min(y.width()), x.height().min(y.height()));
            let mut same = 0;
            for yy in 0..h {
                for xx in 0..w {
                    same += usize::from(
                        (x.get_pixel(xx, yy).0[3] > 128) == (y.get_pixel(xx, yy).0[3] > 128),
                    );
                }
            }
            same as f64 / (w * h) as f64
        };
        assert!(
            similar(&right_half(&ba), &b) > similar(&right_half(&ba), &a),
            "bet first is on the right"
        );
    }

    /// The letters alone (no shadow), on one line, cropped to their ink.
    fn fit_plain(text: &TextOverlay) -> RgbaImage {
        let mut stack = glyphs::stack();
        let Stack { fonts, raster } = &mut *stack;
        let mut buffer = Buffer::new(fonts, Metrics::new(120.0, 150.0));
        buffer.set_size(Some(1800.0), None);
        buffer.set_text(
            &text.content,
            &glyphs::attrs(text.font, false),
            Shaping::Advanced,
            None,
        );
        let mut img = RgbaImage::new(2000, 400);
        buffer.draw(fonts, raster, Color::rgb(255, 255, 255), |x, y, w, h, c| {
            for yy in y.max(0)..(y + h as i32).min(400) {
                for xx in x.max(0)..(x + w as i32).min(2000) {
                    let p = img.get_pixel_mut(xx as u32, yy as u32);
                    p.0 = [255, 255, 255, p.0[3].max(c.a())];
                }
            }
        });
        crop_to_ink(&img)
    }

    #[test]
    fn placement_keeps_the_margin_and_even_corners() {
        for p in [
            Position::TopLeft,
            Position::TopCenter,
            Position::TopRight,
            Position::Center,
            Position::BottomLeft,
            Position::BottomCenter,
            Position::BottomRight,
        ] {
            let (x, y) = place(p, (1080, 1920), 43, (500, 300));
            assert_eq!((x % 2, y % 2), (0, 0), "{p:?}");
            assert!(x >= 43 && x + 500 <= 1080 - 43, "{p:?} x {x}");
            assert!(y >= 43 && y + 300 <= 1920 - 43, "{p:?} y {y}");
        }
    }

    #[test]
    fn short_text_keeps_its_size_and_long_text_wraps_or_shrinks() {
        let short = fit(
            &overlay("Open house", 48, Position::TopLeft),
            (1834, 994),
            1080,
        )
        .unwrap();
        assert_eq!(short.1, 48.0);
        let long = "Spacious family home with a sunny garden, a new kitchen and three bright bedrooms near the park";
        let wrapped = fit(&overlay(long, 48, Position::Center), (1834, 994), 1080).unwrap();
        assert_eq!(wrapped.1, 48.0, "wraps at the asked size");
        assert!(wrapped.0.height() > 2 * 48, "more than one line");
        assert!(wrapped.0.width() <= 1834);
        // 100 characters at the largest size in portrait: must shrink to fit the height.
        let huge = fit(
            &overlay(&format!("{long}!!!!"), 200, Position::Center),
            (994, 1834),
            1080,
        )
        .unwrap();
        assert!(huge.1 < 200.0);
        assert!(huge.0.width() <= 994 && huge.0.height() <= 1834);
        // One word wider than the frame is broken or shrunk, never cut.
        let word = "Grundstücksverkehrsgenehmigungszuständigkeit";
        let w = fit(&overlay(word, 120, Position::Center), (994, 1834), 1080).unwrap();
        assert!(w.0.width() <= 994);
    }
}
