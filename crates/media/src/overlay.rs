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
