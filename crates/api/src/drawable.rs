//! Creation refuses text the renderer could not draw (issue 13 §5): the overlay's
//! `content`, and the script when subtitles show it. The check is the renderer's own
//! ([`peakreel_media::glyphs::undrawable`]: the same font stack, fallback and emoji rule),
//! so what is accepted always draws.

use peakreel_domain::CreateRequest;
use peakreel_media::fonts::FontFamily;
use peakreel_media::glyphs::undrawable;
use peakreel_media::SubtitlePreset;
use peakreel_types::{ApiError, FieldError};

use crate::error::with_cause;

/// Every text of `request` that would be drawn, with its field and font: (field, text,
/// font, bold).
fn drawn_texts(request: &CreateRequest) -> Vec<(&'static str, String, FontFamily, bool)> {
    let mut texts = Vec::new();
    if let Some(t) = request.elements.as_ref().and_then(|e| e.text.as_ref()) {
        let font =
            FontFamily::from_name(t.font.as_str()).expect("the wire fonts are the renderer's");
        texts.push((
            "elements_config.text.content",
            t.content.clone(),
            font,
            false,
        ));
    }
    if let Some(p) = request.subtitle {
        let preset =
            SubtitlePreset::from_name(p.as_str()).expect("the wire presets are the renderer's");
        let (font, bold) = preset.font();
        texts.push(("script", request.script.clone(), font, bold));
    }
    texts
}

/// `VALIDATION_ERROR` naming the field and the first character that cannot be drawn in
/// each drawn text. Runs on a blocking thread: the first call loads the installed fonts.
pub async fn check_drawable(request: &CreateRequest) -> Result<(), ApiError> {
    let texts = drawn_texts(request);
    if texts.is_empty() {
        return Ok(());
    }
    let errors = tokio::task::spawn_blocking(move || {
        texts
            .into_iter()
            .filter_map(|(field, text, font, bold)| {
                undrawable(&text, font, bold).map(|why| FieldError::new(field, why.message()))
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| with_cause(ApiError::internal(), format_args!("glyph check: {e}")))?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}
