//! Subtitle lines kept inside the frame (issue 13 §4): a cue whose widest line, measured
//! with the shared text stack, would pass the side margins is drawn smaller (an ASS
//! `\fscx\fscy` override for that cue only).

use crate::fonts::FontFamily;
use crate::glyphs;

/// The em size, in pixels, libass draws an ASS `Fontsize` of `font_size` at: like
/// VSFilter it scales the font so that its Windows ascent plus descent (OS/2
/// `usWinAscent + usWinDescent`) is the font size. `font_size` itself when the font
/// file cannot be read (the render checks the files exist first).
pub(crate) fn libass_em(family: FontFamily, bold: bool, font_size: f64) -> f64 {
    let ratio = std::fs::read(family.file(bold)).ok().and_then(|data| {
        let face = ttf_parser::Face::parse(&data, 0).ok()?;
        let os2 = face.tables().os2?;
        let height = os2.windows_ascender() as f64 + os2.windows_descender().unsigned_abs() as f64;
        (height > 0.0).then(|| face.units_per_em() as f64 / height)
    });
    font_size * ratio.unwrap_or(1.0)
}

/// The percentage (below 100) at which the widest of `lines` fits in `avail` px, or
/// `None` when every line fits as it is. Widths are advances with fallback fonts, plus a
/// small allowance for ink that overhangs the advance and for rounding in libass.
pub(crate) fn shrink_percent(
    lines: &[String],
    family: FontFamily,
    bold: bool,
    font_size: f64,
    avail: f64,
) -> Option<u32> {
    let em = libass_em(family, bold, font_size) as f32;
    let widest = lines
        .iter()
        .map(|l| glyphs::line_width(l, family, bold, em))
        .fold(0.0f32, f32::max) as f64
        * 1.04;
    (widest > avail).then(|| ((avail / widest * 100.0).floor() as u32).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libass_em_is_smaller_than_the_font_size_for_tall_fonts() {
        let em = libass_em(FontFamily::Inter, true, 100.0);
        assert!(em > 60.0 && em < 100.0, "{em}");
    }

    #[test]
    fn only_lines_wider_than_the_space_shrink() {
        let fits = ["SUNNY HOME".to_string()];
        assert_eq!(
            shrink_percent(&fits, FontFamily::Inter, true, 92.0, 950.0),
            None
        );
        let long = ["GRUNDSTÜCKSVERKEHRSGENEHMIGUNGSZUSTÄNDIGKEIT".to_string()];
        let p = shrink_percent(&long, FontFamily::Inter, true, 92.0, 950.0).unwrap();
        assert!(p < 50, "{p}");
    }
}
