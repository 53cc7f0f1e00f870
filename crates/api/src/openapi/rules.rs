//! Schemas built from the server's own rule constants (enumerations from the domain's
//! `WIRE` lists, bounds from `bounds` modules), for fields whose rules a derive attribute
//! could only repeat as literals. The drift test in `mod.rs` checks the finished document
//! against the same constants.

use peakreel_domain::catalog_requests::bounds as voice_bounds;
use peakreel_domain::request::bounds;
use peakreel_domain::{
    FontFamily, ModificationMode, OrchestrationMode, Orientation, Position, RequestKind, RoomType,
    SubtitlePreset, TestScenario,
};
use serde_json::Value;
use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::Array;

/// Ids and formats as regular expressions (ECMA-262 and Python compatible).
pub const VOICE_ID_PATTERN: &str = "^[0-9A-Za-z]{20}$";
pub const TASK_ID_PATTERN: &str = "^task_[0-9A-Za-z]{24}$";
pub const REQUEST_ID_PATTERN: &str = "^req_[0-9A-Za-z]{24}$";
pub const UUID_PATTERN: &str =
    "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$";
pub const LANGUAGE_PATTERN: &str = "^[a-z]{2}$";
/// Stated as a literal on `TextElement.color`; the drift test compares the two.
#[cfg(test)]
pub const COLOR_PATTERN: &str = "^#[0-9A-Fa-f]{6}$";
/// Absolute https with a host and no `user:password@` (api.md §3).
pub const HTTPS_URL_PATTERN: &str = "^https://[^\\s/?#@]+([/?#]\\S*)?$";
/// At least one character that is not white space (names are trimmed).
pub const NOT_BLANK_PATTERN: &str = "\\S";

fn typed(ty: Type, nullable: bool) -> ObjectBuilder {
    if nullable {
        ObjectBuilder::new().schema_type(SchemaType::from_iter([ty, Type::Null]))
    } else {
        ObjectBuilder::new().schema_type(ty)
    }
}

/// A closed set of strings; an optional field also admits `null` (read as absent).
pub fn string_enum(values: &[&str], nullable: bool) -> Object {
    let mut all: Vec<Value> = values.iter().map(|v| Value::from(*v)).collect();
    if nullable {
        all.push(Value::Null);
    }
    typed(Type::String, nullable).enum_values(Some(all)).build()
}

pub fn https_url(max_chars: Option<usize>, nullable: bool, description: &str) -> Object {
    typed(Type::String, nullable)
        .pattern(Some(HTTPS_URL_PATTERN))
        .max_length(max_chars)
        .description(Some(description))
        .build()
}

fn int_range((lo, hi): (i64, i64), nullable: bool, description: &str) -> Object {
    typed(Type::Integer, nullable)
        .minimum(Some(lo as f64))
        .maximum(Some(hi as f64))
        .description(Some(description))
        .build()
}

fn number_range((lo, hi): (f64, f64), nullable: bool, description: &str) -> Object {
    typed(Type::Number, nullable)
        .minimum(Some(lo))
        .maximum(Some(hi))
        .description(Some(description))
        .build()
}

fn images_of(kind: RequestKind, item: impl Into<utoipa::openapi::schema::ArrayItems>) -> Array {
    let (lo, hi) = kind.image_range();
    ArrayBuilder::new()
        .items(item)
        .min_items(Some(lo))
        .max_items(Some(hi))
        .unique_items(true)
        .build()
}

pub fn slideshow_images() -> Array {
    images_of(
        RequestKind::NarratedSlideshow,
        https_url(None, false, "A listing photo (JPEG, PNG or WebP)."),
    )
}

pub fn living_images() -> Array {
    images_of(
        RequestKind::LivingProperty,
        utoipa::openapi::Ref::from_schema_name("LivingPropertyImage"),
    )
}

fn script_of(kind: RequestKind) -> Object {
    let (images_lo, images_hi) = kind.image_range();
    let (lo, hi) = kind
        .script_per_image()
        .expect("the per-image routes have per-image script bounds");
    typed(Type::String, false)
        .min_length(Some(lo * images_lo))
        .max_length(Some(hi * images_hi))
        .description(Some(format!(
            "{lo} to {hi} characters per image after trimming (SCRIPT_TOO_SHORT / SCRIPT_TOO_LONG): \
             letters of any alphabet with their combining marks, white space and . , ! ? ; : ' \" - ( ) with \
             typographic quotes (“ ” ‘ ’ « » ‹ › „ ‚) and dashes; \
             no digits (spell numbers out). At least one letter, and (Extension) only letters of writing systems \
             the voice's languages use, else VALIDATION_ERROR on `script` naming the voice's languages. \
             Abbreviations (Dr., St., e.g., z. B., Sra., Mme, …) are spoken in full in the voice's language and \
             do not end a sentence; subtitles keep them as written. The per-image bound and the character rules \
             cannot be stated in JSON Schema; the lengths here are the bounds over every image count."
        )))
        .build()
}

pub fn slideshow_script() -> Object {
    script_of(RequestKind::NarratedSlideshow)
}

pub fn living_script() -> Object {
    script_of(RequestKind::LivingProperty)
}

pub fn orientation() -> Object {
    string_enum(Orientation::WIRE, true)
}

pub fn orchestration_mode() -> Object {
    string_enum(OrchestrationMode::WIRE, true)
}

pub fn modification_mode() -> Object {
    string_enum(ModificationMode::WIRE, true)
}

pub fn subtitle_preset() -> Object {
    string_enum(SubtitlePreset::WIRE, false)
}

pub fn test_scenario() -> Object {
    string_enum(TestScenario::WIRE, true)
}

pub fn room_type() -> Object {
    string_enum(RoomType::WIRE, true)
}

pub fn position() -> Object {
    string_enum(Position::WIRE, true)
}

pub fn font() -> Object {
    string_enum(FontFamily::WIRE, true)
}

pub fn avatar_style() -> Object {
    string_enum(voice_bounds::AVATAR_STYLES, true)
}

pub fn webhook_url() -> Object {
    https_url(
        Some(bounds::WEBHOOK_URL_MAX_CHARS),
        true,
        "Receives task.completed / task.failed; must resolve to a public address (SSRF_BLOCKED).",
    )
}

pub fn watermark_url() -> Object {
    https_url(None, false, "Logo image, fetched at creation.")
}

pub fn watermark_size() -> Object {
    int_range(
        bounds::WATERMARK_SIZE_PERCENT,
        true,
        "Percent of the frame width (default 15).",
    )
}

pub fn watermark_opacity() -> Object {
    int_range(bounds::WATERMARK_OPACITY, true, "Percent (default 80).")
}

pub fn text_content() -> Object {
    let (lo, hi) = bounds::TEXT_CONTENT_CHARS;
    typed(Type::String, false)
        .min_length(Some(lo))
        .max_length(Some(hi))
        .build()
}

pub fn text_size() -> Object {
    int_range(bounds::TEXT_SIZE_PX, true, "Pixels at 1080p (default 48).")
}

pub fn name() -> Object {
    let (lo, hi) = voice_bounds::NAME_CHARS;
    typed(Type::String, false)
        .min_length(Some(lo))
        .max_length(Some(hi))
        .pattern(Some(NOT_BLANK_PATTERN))
        .description(Some("Trimmed; not blank."))
        .build()
}

pub fn rate() -> Object {
    number_range(
        voice_bounds::RATE,
        true,
        "Multiplies the base voice's speed (default 1).",
    )
}

pub fn pitch() -> Object {
    number_range(
        voice_bounds::PITCH_SEMITONES,
        true,
        "Semitones added to the base voice's pitch (default 0).",
    )
}

pub fn expires_in_days() -> Object {
    int_range(
        voice_bounds::EXPIRES_IN_DAYS,
        true,
        "After this many days the voice answers VOICE_EXPIRED.",
    )
}

pub fn samples() -> Array {
    let (lo, hi) = voice_bounds::SAMPLES;
    ArrayBuilder::new()
        .items(https_url(None, false, "A recording of the voice."))
        .min_items(Some(lo))
        .max_items(Some(hi))
        .build()
}

pub fn avatar_image_url() -> Object {
    https_url(
        None,
        false,
        "A portrait (JPEG, PNG or WebP), fetched through the SSRF guard; it must decode.",
    )
}
