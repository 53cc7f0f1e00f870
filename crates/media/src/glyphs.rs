//! The installed fonts as one text stack (cosmic-text: HarfBuzz-compatible shaping,
//! per-character font fallback, bidi, line breaking), shared by the creation check and
//! the renderer so that what is accepted is exactly what can be drawn.
//!
//! The font set is the system's fontconfig directories, the same files libass falls back
//! through for subtitles (`scripts/install-deps.sh` installs the Noto families covering
//! Latin, Greek, Cyrillic, CJK, Arabic, Hebrew, Devanagari, Thai and more).

use std::sync::{LazyLock, Mutex, MutexGuard};

use cosmic_text::{Attrs, Buffer, Family, FontSystem, Metrics, Shaping, SwashCache, Weight};
use unicode_properties::{EmojiStatus, UnicodeEmoji};

use crate::fonts::FontFamily;

/// The font database and the glyph raster cache, loaded once per process (loading reads
/// every installed font's tables: a few hundred milliseconds).
pub(crate) struct Stack {
    pub fonts: FontSystem,
    pub raster: SwashCache,
}

static STACK: LazyLock<Mutex<Stack>> = LazyLock::new(|| {
    let mut db = cosmic_text::fontdb::Database::new();
    db.load_system_fonts();
    // A fixed locale: the fallback choice between Chinese, Japanese and Korean forms of
    // the same Han character must not depend on the machine's settings.
    Mutex::new(Stack {
        fonts: FontSystem::new_with_locale_and_db("en-US".into(), db),
        raster: SwashCache::new(),
    })
});

/// The shared text stack. Shaping is quick; the lock is held only while laying out one text.
pub(crate) fn stack() -> MutexGuard<'static, Stack> {
    // A panic while shaping leaves nothing half-written that later callers could see.
    STACK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The attributes that select a contract font (its installed substitute) in a weight.
pub(crate) fn attrs(family: FontFamily, bold: bool) -> Attrs<'static> {
    Attrs::new()
        .family(Family::Name(family.installed_family()))
        .weight(if bold { Weight::BOLD } else { Weight::NORMAL })
}

/// Why a text cannot be drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undrawable {
    /// An emoji (a character shown as a colour picture by default, or asked to be one
    /// with U+FE0F): the renderer draws no colour glyphs.
    Emoji(char),
    /// No installed font has a glyph for this character (or cluster of characters).
    NoGlyph(String),
}

impl Undrawable {
    /// A message for the `VALIDATION_ERROR` entry, naming the character and its code point.
    pub fn message(&self) -> String {
        let name = |s: &str| {
            let points: Vec<String> = s.chars().map(|c| format!("U+{:04X}", c as u32)).collect();
            format!("`{s}` ({})", points.join(" "))
        };
        match self {
            Undrawable::Emoji(c) => format!(
                "contains the emoji {}; emoji cannot be drawn, remove it",
                name(&c.to_string())
            ),
            Undrawable::NoGlyph(s) => {
                format!("contains {}, which no installed font can draw", name(s))
            }
        }
    }
}

fn is_emoji_presentation(c: char) -> bool {
    matches!(
        c.emoji_status(),
        EmojiStatus::EmojiPresentation
            | EmojiStatus::EmojiPresentationAndModifierBase
            | EmojiStatus::EmojiPresentationAndEmojiComponent
            | EmojiStatus::EmojiPresentationAndModifierAndEmojiComponent
    )
}

/// The first thing in `text` the renderer could not draw in `family`: an emoji, or a
/// character that shapes to the missing glyph (.notdef) after per-character fallback
/// through every installed font. `None` when everything draws.
pub fn undrawable(text: &str, family: FontFamily, bold: bool) -> Option<Undrawable> {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let asks_picture = chars.peek() == Some(&'\u{FE0F}') && c.is_emoji_char();
        if is_emoji_presentation(c) || asks_picture {
            return Some(Undrawable::Emoji(c));
        }
    }
    let mut stack = stack();
    let fonts = &mut stack.fonts;
    // The size does not change which glyphs exist; no width: one line per paragraph.
    let mut buffer = Buffer::new(fonts, Metrics::new(32.0, 40.0));
    buffer.set_size(None, None);
    buffer.set_text(text, &attrs(family, bold), Shaping::Advanced, None);
    buffer.shape_until_scroll(fonts, false);
    buffer.layout_runs().find_map(|run| {
        run.glyphs
            .iter()
            .find(|g| g.glyph_id == 0)
            .map(|g| Undrawable::NoGlyph(run.text[g.start..g.end].to_string()))
    })
}

/// The advance width in pixels of `text` on one line in `family` at an em size of
/// `em_px`, with fallback fonts for what `family` lacks.
pub fn line_width(text: &str, family: FontFamily, bold: bool, em_px: f32) -> f32 {
    let mut stack = stack();
    let fonts = &mut stack.fonts;
    let mut buffer = Buffer::new(fonts, Metrics::new(em_px, em_px * 1.25));
    buffer.set_size(None, None);
    buffer.set_text(text, &attrs(family, bold), Shaping::Advanced, None);
    buffer.shape_until_scroll(fonts, false);
    buffer.layout_runs().map(|r| r.line_w).fold(0.0, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_script_draws_and_emoji_and_unassigned_do_not() {
        for sample in [
            "Ça coûte déjà 12 € — naïve façade, Ångström, Łódź, Đà Nẵng",
            "Καλωσορίσατε στο σπίτι",
            "Добро пожаловать домой",
            "欢迎回家，阳光明媚的厨房",
            "ようこそ、明るいキッチン",
            "환영합니다",
            "مرحبا بكم في منزلكم الجديد",
            "ברוכים הבאים הביתה",
            "आपका नए घर में स्वागत है",
            "ยินดีต้อนรับสู่บ้านใหม่",
        ] {
            for family in FontFamily::ALL {
                assert_eq!(
                    undrawable(sample, family, false),
                    None,
                    "{sample} in {family:?}"
                );
            }
        }
        assert_eq!(
            undrawable("Welcome 🏡 home", FontFamily::Inter, false),
            Some(Undrawable::Emoji('🏡'))
        );
        // A text-default symbol asked to show as a picture.
        assert_eq!(
            undrawable("Sunny \u{2600}\u{FE0F}", FontFamily::Inter, false),
            Some(Undrawable::Emoji('\u{2600}'))
        );
        // An unassigned code point: no installed font has it.
        let missing = undrawable("Home \u{0378} sweet", FontFamily::Lato, true);
        assert_eq!(missing, Some(Undrawable::NoGlyph("\u{0378}".into())));
        assert!(missing.unwrap().message().contains("U+0378"));
    }

    /// Missing glyphs and the ink mask of `text` laid out by `fonts`.
    fn shaped(fonts: &mut FontSystem, text: &str) -> (usize, Vec<u8>) {
        let mut raster = SwashCache::new();
        let mut buffer = Buffer::new(fonts, Metrics::new(40.0, 50.0));
        buffer.set_size(Some(2000.0), None);
        buffer.set_text(
            text,
            &attrs(FontFamily::Inter, false),
            Shaping::Advanced,
            None,
        );
        buffer.shape_until_scroll(fonts, false);
        let missing = buffer
            .layout_runs()
            .flat_map(|r| r.glyphs.iter())
            .filter(|g| g.glyph_id == 0)
            .count();
        let mut mask = vec![0u8; 2000 * 100];
        buffer.draw(
            fonts,
            &mut raster,
            cosmic_text::Color::rgb(255, 255, 255),
            |x, y, w, h, c| {
                for yy in y.max(0)..(y + h as i32).min(100) {
                    for xx in x.max(0)..(x + w as i32).min(2000) {
                        let cell = &mut mask[yy as usize * 2000 + xx as usize];
                        *cell = (*cell).max(c.a());
                    }
                }
            },
        );
        (missing, mask)
    }

    /// With only the requested font, other scripts are .notdef boxes; with the installed
    /// fonts as fallback, every glyph is real and the picture differs from the boxes.
    #[test]
    fn fallback_fonts_replace_the_boxes() {
        let sample = "Дом Ωραίο 阳光 منزل בית घर บ้าน";
        let mut only_inter = cosmic_text::fontdb::Database::new();
        only_inter
            .load_font_file(FontFamily::Inter.file(false))
            .unwrap();
        let mut alone = FontSystem::new_with_locale_and_db("en-US".into(), only_inter);
        let (missing_alone, boxes) = shaped(&mut alone, sample);
        let mut stack = stack();
        let (missing, drawn) = shaped(&mut stack.fonts, sample);
        // Inter has Cyrillic and Greek but none of the other five scripts.
        assert!(
            missing_alone >= 15,
            "{missing_alone} boxes without fallback"
        );
        assert_eq!(missing, 0);
        let differing = boxes
            .iter()
            .zip(&drawn)
            .filter(|(a, b)| (**a > 128) != (**b > 128))
            .count();
        assert!(differing > 2000, "{differing} pixels differ");
    }

    #[test]
    fn widths_grow_with_size_and_text() {
        let w = line_width("Sunny kitchen", FontFamily::Inter, false, 40.0);
        assert!(w > 100.0 && w < 500.0, "{w}");
        let twice = line_width("Sunny kitchen", FontFamily::Inter, false, 80.0);
        assert!((twice / w - 2.0).abs() < 0.05, "{twice} vs {w}");
        assert!(line_width("Sunny kitchen", FontFamily::Inter, true, 40.0) > w);
    }
}
