//! The rules of the legacy `POST /v1/real-estate/slideshow` (a compatibility route for
//! clients written against VibePeak's older documentation; superseded by the narrated
//! slideshow). It shares the create pipeline: `parse_create_request` reads it with these
//! limits, and its fields are the narrated slideshow's minus the presentation ones, plus
//! `style`.

use crate::json::{Errors, Obj};
use crate::request::{read_modification_mode, ModificationMode, UrlPolicy};

/// Images per request, inclusive.
pub const IMAGES: (usize, usize) = (5, 9);

/// Script characters per request (not per image), inclusive.
pub const SCRIPT_CHARS: (usize, usize) = (50, 5000);

/// `style` on the wire, in the order of [`STYLE_MODES`]; the first stages nothing.
pub const STYLES: &[&str] = &["do-not-modify", "change-decoration", "furnish-it"];

/// What each style asks of virtual staging (the living-property provider contract).
const STYLE_MODES: [ModificationMode; 3] = [
    ModificationMode::NoModify,
    ModificationMode::ChangeDecoration,
    ModificationMode::Furnish,
];

pub fn parse_style(s: &str) -> Option<ModificationMode> {
    STYLES.iter().position(|w| *w == s).map(|i| STYLE_MODES[i])
}

/// The required `style`, as the staging mode it asks for. Staging styles are refused
/// (`VALIDATION_ERROR` on `style`) when the server has no staging provider.
pub(crate) fn read_style(
    root: &mut Obj,
    policy: &UrlPolicy,
    errors: &mut Errors,
) -> Option<ModificationMode> {
    root.req("style", errors)?;
    read_modification_mode(root, "style", STYLES, parse_style, policy, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_style_maps_to_a_staging_mode() {
        assert_eq!(
            parse_style("do-not-modify"),
            Some(ModificationMode::NoModify)
        );
        assert_eq!(
            parse_style("change-decoration"),
            Some(ModificationMode::ChangeDecoration)
        );
        assert_eq!(parse_style("furnish-it"), Some(ModificationMode::Furnish));
        assert_eq!(
            parse_style("furnish"),
            None,
            "the living-property name is not a style"
        );
    }
}
