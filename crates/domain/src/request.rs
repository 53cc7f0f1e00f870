//! Create-request validation (api.md §3 and §4). `parse_create_request` runs the
//! "JSON syntax" and "schema and field rules" classes of the validation order: it needs
//! no database and no network, so `peakreel render` uses it unchanged.

use crate::json::{self, Errors, Obj};
use crate::plans::Prices;
use peakreel_types::{ApiError, Code};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    NarratedSlideshow,
    LivingProperty,
    /// The legacy `POST /v1/real-estate/slideshow` (a compatibility route, see `legacy`).
    Slideshow,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::NarratedSlideshow => "narrated_slideshow",
            RequestKind::LivingProperty => "living_property",
            RequestKind::Slideshow => "slideshow",
        }
    }

    /// Images a request of this kind takes, inclusive.
    pub fn image_range(self) -> (usize, usize) {
        match self {
            RequestKind::NarratedSlideshow => (6, 15),
            RequestKind::LivingProperty => (1, 9),
            RequestKind::Slideshow => crate::legacy::IMAGES,
        }
    }

    /// Script characters allowed per image, inclusive; `None` for the legacy route, whose
    /// bounds are for the whole script ([`crate::legacy::SCRIPT_CHARS`]).
    pub fn script_per_image(self) -> Option<(usize, usize)> {
        match self {
            RequestKind::NarratedSlideshow => Some((40, 50)),
            RequestKind::LivingProperty => Some((65, 85)),
            RequestKind::Slideshow => None,
        }
    }

    /// Script characters allowed for `images` images, inclusive.
    fn script_bounds(self, images: usize) -> (usize, usize) {
        let (lo, hi) = match self.script_per_image() {
            Some(per_image) => per_image,
            None => return crate::legacy::SCRIPT_CHARS,
        };
        (lo * images, hi * images)
    }
}

/// Field bounds of the create requests (inclusive). The OpenAPI document states the same
/// numbers; a test in the API crate compares the two.
pub mod bounds {
    pub const WEBHOOK_URL_MAX_CHARS: usize = 2048;
    pub const TEXT_CONTENT_CHARS: (usize, usize) = (1, 100);
    pub const TEXT_SIZE_PX: (i64, i64) = (8, 200);
    pub const WATERMARK_SIZE_PERCENT: (i64, i64) = (1, 100);
    pub const WATERMARK_OPACITY: (i64, i64) = (0, 100);
}

/// Which URLs a caller may pass. The API allows `https` (and `http` with the development
/// flag); `peakreel render` additionally allows local files.
#[derive(Debug, Clone, Copy, Default)]
pub struct UrlPolicy {
    pub allow_http: bool,
    pub allow_local_files: bool,
    /// Whether a virtual-staging provider is configured (`change_decoration`, `furnish`).
    pub staging_enabled: bool,
}

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $wire:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $wire)] $variant),* }

        impl $name {
            pub const WIRE: &'static [&'static str] = &[$($wire),*];

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($wire => Some($name::$variant),)* _ => None }
            }

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),* }
            }
        }
    };
}

wire_enum!(Orientation { Landscape = "landscape", Portrait = "portrait" });
wire_enum!(OrchestrationMode { Standard = "standard", Artistic = "artistic", Sequential = "sequential" });
wire_enum!(ModificationMode { NoModify = "no_modify", ChangeDecoration = "change_decoration", Furnish = "furnish" });
wire_enum!(SubtitlePreset { Classic = "classic", Modern = "modern", Bold = "bold", Karaoke = "karaoke" });
wire_enum!(TestScenario {
    Success = "success",
    ImageProcessingFailed = "image_processing_failed",
    TtsError = "tts_error",
    ServiceTimeout = "service_timeout",
});
wire_enum!(RoomType {
    LivingRoom = "living_room", Kitchen = "kitchen", Bedroom = "bedroom", Bathroom = "bathroom",
    DiningRoom = "dining_room", Office = "office", Exterior = "exterior", Garden = "garden",
    Pool = "pool", Hallway = "hallway", Other = "other",
});
wire_enum!(Position {
    TopLeft = "top-left", TopCenter = "top-center", TopRight = "top-right", Center = "center",
    BottomLeft = "bottom-left", BottomCenter = "bottom-center", BottomRight = "bottom-right",
});
wire_enum!(FontFamily {
    Inter = "Inter", Roboto = "Roboto", OpenSans = "Open Sans", Montserrat = "Montserrat",
    Lato = "Lato", Poppins = "Poppins", PlayfairDisplay = "Playfair Display",
    Merriweather = "Merriweather",
});

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInput {
    pub url: String,
    /// `None` when the request left it out: the renderer then uses the photo's room
    /// label, if a labeller saw one (`other` before labels existed).
    #[serde(default)]
    pub room_type: Option<RoomType>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    pub url: String,
    pub position: Position,
    /// Percent of the frame width, 1–100.
    pub size: u8,
    /// 0–100.
    pub opacity: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextOverlay {
    pub content: String,
    /// `#RRGGBB`, upper-cased.
    pub color: String,
    pub font: FontFamily,
    /// Pixels at 1080p, 8–200.
    pub size: u16,
    pub position: Position,
}

/// `elements_config` after validation; only present when `enabled` was true.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElementsConfig {
    pub watermark: Option<Watermark>,
    pub text: Option<TextOverlay>,
}

/// A create request that passed every field rule. Stored with the task as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRequest {
    pub kind: RequestKind,
    pub images: Vec<ImageInput>,
    /// The voice: as named, or as chosen by attributes (empty until chosen, see
    /// [`CreateRequest::choose_voice`]).
    pub voice_id: String,
    pub language: Option<String>,
    /// What the voice was asked for by, when it was not named (**Extension**).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_attributes: Option<crate::voice_choice::VoiceAttributes>,
    pub script: String,
    pub orientation: Option<Orientation>,
    pub orchestration_mode: OrchestrationMode,
    pub modification_mode: ModificationMode,
    pub webhook_url: Option<String>,
    pub avatar_id: Option<String>,
    pub background_music: bool,
    pub subtitle: Option<SubtitlePreset>,
    pub elements: Option<ElementsConfig>,
    pub test_scenario: TestScenario,
}

impl CreateRequest {
    /// Credits a live key pays for this task (api.md §2).
    pub fn price(&self, prices: &Prices) -> i64 {
        let n = self.images.len() as i64;
        // Virtual staging is paid per image it is asked for, on every route that has it.
        let staging = match self.modification_mode {
            ModificationMode::NoModify => 0,
            _ => n * prices.staging_per_image,
        };
        match self.kind {
            RequestKind::NarratedSlideshow => prices.narrated_slideshow,
            RequestKind::LivingProperty => n * prices.living_property_per_image + staging,
            RequestKind::Slideshow => prices.slideshow + staging,
        }
    }
}

/// Errors of the "schema and field rules" class that have their own code. When generic
/// field errors exist they win (all reported in one `VALIDATION_ERROR`); otherwise the
/// first specific error in field order (images, voice, script, avatar) is the answer.
#[derive(Default)]
struct Specific {
    image_url: Option<ApiError>,
    voice_id: Option<ApiError>,
    script: Option<ApiError>,
    avatar_id: Option<ApiError>,
}

/// Validate a create request body for `kind`. `livemode` is the calling key's mode
/// (`test_scenario` is refused for live keys).
pub fn parse_create_request(
    kind: RequestKind,
    body: &[u8],
    livemode: bool,
    policy: &UrlPolicy,
) -> Result<CreateRequest, ApiError> {
    let map = json::parse_object(body)?;
    let mut errors = Errors::default();
    let mut specific = Specific::default();
    let mut root = Obj::root(&map);

    let images = read_images(kind, &mut root, policy, &mut errors, &mut specific);
    let voice = crate::voice_choice::read_voice(&mut root, &mut errors, &mut specific.voice_id);
    let script = root.req_str("script", &mut errors).map(str::trim);
    if let Some(script) = script {
        check_script_characters(script, &mut errors);
        let (min_n, max_n) = kind.image_range();
        if let Some(images) = images
            .as_ref()
            .filter(|i| (min_n..=max_n).contains(&i.len()))
        {
            specific.script = check_script_length(kind, script, images.len());
        }
    }
    // The legacy route has none of the presentation fields: reading them nowhere leaves
    // them unknown fields (VALIDATION_ERROR), as the compatible routes treat any other.
    let legacy = kind == RequestKind::Slideshow;
    let orientation = if legacy {
        None
    } else {
        root.opt_enum(
            "orientation",
            Orientation::WIRE,
            Orientation::parse,
            &mut errors,
        )
    };
    let orchestration_mode = if kind == RequestKind::LivingProperty {
        None
    } else {
        root.opt_enum(
            "orchestration_mode",
            OrchestrationMode::WIRE,
            OrchestrationMode::parse,
            &mut errors,
        )
    };
    let modification_mode = match kind {
        RequestKind::LivingProperty => read_modification_mode(
            &mut root,
            "modification_mode",
            ModificationMode::WIRE,
            ModificationMode::parse,
            policy,
            &mut errors,
        ),
        RequestKind::Slideshow => crate::legacy::read_style(&mut root, policy, &mut errors),
        RequestKind::NarratedSlideshow => None,
    };
    let webhook_url = root
        .opt_str("webhook_url", &mut errors)
        .and_then(|url| check_webhook_url(url, policy, &mut errors));
    let extras = if legacy {
        Presentation::default()
    } else {
        read_presentation(&mut root, policy, &mut errors, &mut specific)
    };
    let test_scenario = root.opt_enum(
        "test_scenario",
        TestScenario::WIRE,
        TestScenario::parse,
        &mut errors,
    );
    if test_scenario.is_some() && livemode {
        errors.push(
            "test_scenario",
            "is only accepted with a test key (vpk_test_…); remove it for live requests",
        );
    }
    root.finish(&mut errors);

    if !errors.is_empty() {
        return Err(ApiError::validation(errors.0));
    }
    if let Some(err) = [
        specific.image_url,
        specific.voice_id,
        specific.script,
        specific.avatar_id,
    ]
    .into_iter()
    .flatten()
    .next()
    {
        return Err(err);
    }
    // With no errors recorded every required field was read successfully.
    let (Some(images), Some(script)) = (images, script) else {
        return Err(ApiError::internal());
    };
    if voice.voice_id.is_none() && voice.attributes.is_none() {
        return Err(ApiError::internal());
    }
    let default_mode = if legacy {
        OrchestrationMode::Standard
    } else {
        OrchestrationMode::Artistic
    };
    Ok(CreateRequest {
        kind,
        images,
        voice_id: voice.voice_id.unwrap_or_default(),
        language: voice.language,
        voice_attributes: voice.attributes,
        script: script.to_string(),
        orientation,
        orchestration_mode: orchestration_mode.unwrap_or(default_mode),
        modification_mode: modification_mode.unwrap_or(ModificationMode::NoModify),
        webhook_url,
        avatar_id: extras.avatar_id,
        background_music: extras.background_music,
        subtitle: extras.subtitle,
        elements: extras.elements,
        test_scenario: test_scenario.unwrap_or(TestScenario::Success),
    })
}

/// What the narrated-slideshow and living-property routes add to a video: presenter,
/// music, subtitles and overlays.
#[derive(Default)]
struct Presentation {
    avatar_id: Option<String>,
    background_music: bool,
    subtitle: Option<SubtitlePreset>,
    elements: Option<ElementsConfig>,
}

fn read_presentation(
    root: &mut Obj,
    policy: &UrlPolicy,
    errors: &mut Errors,
    specific: &mut Specific,
) -> Presentation {
    let avatar_id = root.opt("avatar_id").and_then(|v| {
        let id = json::expect_str(v, "avatar_id".into(), errors)?;
        if !is_uuid(id) {
            specific.avatar_id = Some(
                ApiError::new(
                    Code::InvalidAvatarId,
                    "avatar_id must be a UUID in the 8-4-4-4-12 hex form (for example 3f1c2a9e-7b4d-4c1a-9e2f-5a6b7c8d9e01); list avatars with GET /v1/avatars.",
                )
                .with_details(json!({ "avatar_id": id })),
            );
        }
        // Stored ids are lower-case; hex case carries no meaning in a UUID.
        Some(id.to_ascii_lowercase())
    });
    let background_music = root.opt_bool("background_music", errors).unwrap_or(false);
    let subtitle = root.opt("subtitle").and_then(|v| {
        let mut obj = Obj::at("subtitle".into(), v, errors)?;
        obj.req("subtitle_style_preset", errors)?;
        let preset = obj.opt_enum(
            "subtitle_style_preset",
            SubtitlePreset::WIRE,
            SubtitlePreset::parse,
            errors,
        );
        obj.finish(errors);
        preset
    });
    let elements = root
        .opt("elements_config")
        .and_then(|v| read_elements(v, policy, errors, specific));
    Presentation {
        avatar_id,
        background_music,
        subtitle,
        elements: elements.flatten(),
    }
}

fn read_images(
    kind: RequestKind,
    root: &mut Obj,
    policy: &UrlPolicy,
    errors: &mut Errors,
    specific: &mut Specific,
) -> Option<Vec<ImageInput>> {
    let value = root.req("images", errors)?;
    let Value::Array(items) = value else {
        errors.push("images", "must be an array");
        return None;
    };
    let (min, max) = kind.image_range();
    if !(min..=max).contains(&items.len()) {
        errors.push(
            "images",
            format!("must contain {min} to {max} images (got {})", items.len()),
        );
    }
    let mut images = Vec::with_capacity(items.len());
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = json::index("images", i);
        let (url, room_type) = match kind {
            RequestKind::NarratedSlideshow | RequestKind::Slideshow => {
                (json::expect_str(item, path.clone(), errors), None)
            }
            RequestKind::LivingProperty => {
                let Some(mut obj) = Obj::at(path.clone(), item, errors) else {
                    continue;
                };
                let url = obj.req_str("url", errors);
                let room = obj.opt_enum("room_type", RoomType::WIRE, RoomType::parse, errors);
                obj.finish(errors);
                (url, room)
            }
        };
        let Some(url) = url else { continue };
        match check_media_url(url, policy) {
            Ok(normalised) => {
                if let Some((_, first)) = seen.iter().find(|(u, _)| *u == normalised) {
                    errors.push(
                        path,
                        format!("duplicates images[{first}]; each image must be different"),
                    );
                } else {
                    seen.push((normalised, i));
                }
            }
            Err(reason) => {
                if specific.image_url.is_none() {
                    specific.image_url = Some(invalid_image_url(i, url, &reason));
                }
            }
        }
        images.push(ImageInput {
            url: url.to_string(),
            room_type,
        });
    }
    Some(images)
}

pub fn invalid_image_url(index: usize, url: &str, reason: &str) -> ApiError {
    ApiError::new(
        Code::InvalidImageUrl,
        format!("images[{index}] is not a usable image URL: {reason}."),
    )
    .with_details(json!({ "index": index, "url": redact_credentials(url) }))
}

/// The URL without any `user:password@`, so an error never echoes a secret back (or
/// into logs).
pub fn redact_credentials(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Syntax rules every fetched URL must pass before any network work: it parses, is
/// absolute `https` (or `http` with the development flag), has a host and no
/// credentials. Returns the normalised form used to detect duplicates.
///
/// An upload reference (`upload://upl_…`, Extension) passes as it is: it is resolved from
/// storage, never fetched.
pub fn check_media_url(url: &str, policy: &UrlPolicy) -> Result<String, String> {
    match crate::upload_ref::parse_upload_ref(url) {
        crate::upload_ref::UploadRef::Upload(_) => return Ok(url.to_string()),
        crate::upload_ref::UploadRef::Malformed => {
            return Err("it is not a valid upload reference (use the `url` that POST /v1/uploads answered, `upload://upl_…`)".into())
        }
        crate::upload_ref::UploadRef::NotUpload => {}
    }
    if policy.allow_local_files && !url.contains("://") {
        return if url.is_empty() {
            Err("the path is empty".into())
        } else {
            Ok(url.to_string())
        };
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("it does not parse as a URL ({e})"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "file" if policy.allow_local_files => return Ok(parsed.to_string()),
        "http" => return Err("only https URLs are accepted".into()),
        other => return Err(format!("the scheme `{other}` is not accepted; use https")),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("URLs with credentials (user:password@) are not accepted".into());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    Ok(parsed.to_string())
}

/// An ISO 639-1 code as the API spells it: two lower-case ASCII letters.
pub fn is_language_code(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_lowercase())
}

/// Letters of any alphabet, whitespace and the punctuation of api.md §3.
fn is_script_char(c: char) -> bool {
    c.is_alphabetic()
        || c.is_whitespace()
        || matches!(
            c,
            '.' | ',' | '!' | '?' | ';' | ':' | '\'' | '"' | '-' | '(' | ')'
                | '\u{2018}' | '\u{2019}' | '\u{201C}' | '\u{201D}' | '\u{2013}' | '\u{2014}'
                // The typographic quotes of the voices' other languages: « » ‹ › (French,
                // Spanish, German's » «), „ ‚ (German).
                | '\u{00AB}' | '\u{00BB}' | '\u{2039}' | '\u{203A}' | '\u{201E}' | '\u{201A}'
                | '\u{2010}' | '\u{2011}' | '\u{2026}'
        )
        // Combining marks belong to the letters they follow: accents written apart
        // (`e` + U+0301), Indic viramas and vowel signs, Thai tone marks, Hebrew points.
        || unicode_normalization::char::is_combining_mark(c)
}

fn check_script_characters(script: &str, errors: &mut Errors) {
    if let Some((pos, c)) = script
        .chars()
        .enumerate()
        .find(|(_, c)| !is_script_char(*c))
    {
        let hint = if c.is_numeric() {
            "digits are read unreliably by the narration voice: spell numbers out (\"three bedrooms\")"
        } else {
            "use letters, spaces and . , ! ? ; : ' \" - ( ) only"
        };
        errors.push(
            "script",
            format!("contains {c:?} at character {}; {hint}", pos + 1),
        );
    } else if crate::writing_systems::has_nothing_to_speak(script) {
        errors.push(
            "script",
            crate::writing_systems::Unspeakable::NothingToSpeak.message(&[]),
        );
    }
}

fn check_script_length(kind: RequestKind, script: &str, images: usize) -> Option<ApiError> {
    let (min, max) = kind.script_bounds(images);
    let actual = script.chars().count();
    let details = json!({ "min": min, "max": max, "actual": actual, "images": images });
    if actual < min {
        Some(ApiError::new(
            Code::ScriptTooShort,
            format!("The script has {actual} characters; {images} images need at least {min}. Lengthen the script or use fewer images."),
        ).with_details(details))
    } else if actual > max {
        Some(ApiError::new(
            Code::ScriptTooLong,
            format!("The script has {actual} characters; {images} images allow at most {max}. Shorten the script or add images."),
        ).with_details(details))
    } else {
        None
    }
}

/// The virtual-staging choice, read from `field` (`modification_mode`, or the legacy
/// route's `style`) with its wire names; staging is refused when no provider is
/// configured. `wire[0]` is the value that stages nothing.
pub(crate) fn read_modification_mode(
    root: &mut Obj,
    field: &'static str,
    wire: &[&str],
    parse: impl Fn(&str) -> Option<ModificationMode>,
    policy: &UrlPolicy,
    errors: &mut Errors,
) -> Option<ModificationMode> {
    let mode = root.opt_enum(field, wire, parse, errors)?;
    let given = root.opt(field).and_then(Value::as_str).unwrap_or_default();
    if mode != ModificationMode::NoModify && !policy.staging_enabled {
        errors.push(
            field,
            format!(
                "`{given}` needs virtual staging, which is not enabled on this server; use `{}`",
                wire[0]
            ),
        );
    }
    Some(mode)
}

fn check_webhook_url(url: &str, policy: &UrlPolicy, errors: &mut Errors) -> Option<String> {
    if url.chars().count() > bounds::WEBHOOK_URL_MAX_CHARS {
        errors.push(
            "webhook_url",
            format!(
                "must be at most {} characters",
                bounds::WEBHOOK_URL_MAX_CHARS
            ),
        );
        return None;
    }
    let api_policy = UrlPolicy {
        allow_local_files: false,
        ..*policy
    };
    if url.starts_with(crate::upload_ref::UPLOAD_SCHEME_PREFIX) {
        errors.push(
            "webhook_url",
            "is not a usable webhook URL: an upload reference names an image, not a receiver",
        );
        return None;
    }
    match check_media_url(url, &api_policy) {
        Ok(_) => Some(url.to_string()),
        Err(reason) => {
            errors.push(
                "webhook_url",
                format!("is not a usable webhook URL: {reason}"),
            );
            None
        }
    }
}

/// A UUID of any version in the canonical 8-4-4-4-12 hex form (api.md §1): ids are minted
/// as v4, but the public reference's own examples use other versions. The length check
/// keeps out the braced, URN and unhyphenated forms the `uuid` parser also accepts.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

fn read_elements(
    value: &Value,
    policy: &UrlPolicy,
    errors: &mut Errors,
    specific: &mut Specific,
) -> Option<Option<ElementsConfig>> {
    let mut obj = Obj::at("elements_config".into(), value, errors)?;
    let enabled = obj.opt_bool("enabled", errors).unwrap_or(false);
    let watermark = obj.opt("watermark").and_then(|v| {
        let mut wm = Obj::at("elements_config.watermark".into(), v, errors)?;
        let url = wm.req_str("url", errors);
        let position = wm.opt_enum("position", Position::WIRE, Position::parse, errors);
        let (lo, hi) = bounds::WATERMARK_SIZE_PERCENT;
        let size = wm.opt_int("size", lo, hi, errors);
        let (lo, hi) = bounds::WATERMARK_OPACITY;
        let opacity = wm.opt_int("opacity", lo, hi, errors);
        wm.finish(errors);
        let url = url?;
        if let Err(reason) = check_media_url(url, policy) {
            if specific.image_url.is_none() {
                specific.image_url = Some(
                    ApiError::new(
                        Code::InvalidImageUrl,
                        format!(
                            "elements_config.watermark.url is not a usable image URL: {reason}."
                        ),
                    )
                    .with_details(json!({ "field": "elements_config.watermark.url", "url": redact_credentials(url) })),
                );
            }
        }
        Some(Watermark {
            url: url.to_string(),
            position: position.unwrap_or(Position::BottomRight),
            size: size.unwrap_or(15) as u8,
            opacity: opacity.unwrap_or(80) as u8,
        })
    });
    let text = obj.opt("text").and_then(|v| {
        let mut t = Obj::at("elements_config.text".into(), v, errors)?;
        let content = t.req_str("content", errors).and_then(|c| {
            let (lo, hi) = bounds::TEXT_CONTENT_CHARS;
            if !(lo..=hi).contains(&c.chars().count()) {
                errors.push(
                    "elements_config.text.content",
                    format!("must be {lo} to {hi} characters"),
                );
                None
            } else {
                Some(c.to_string())
            }
        });
        let color = t.opt_str("color", errors).and_then(|c| {
            let ok =
                c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                errors.push(
                    "elements_config.text.color",
                    "must be a colour in the form #RRGGBB",
                );
            }
            ok.then(|| c.to_ascii_uppercase())
        });
        let font = t.opt_enum("font", FontFamily::WIRE, FontFamily::parse, errors);
        let (lo, hi) = bounds::TEXT_SIZE_PX;
        let size = t.opt_int("size", lo, hi, errors);
        let position = t.opt_enum("position", Position::WIRE, Position::parse, errors);
        t.finish(errors);
        Some(TextOverlay {
            content: content?,
            color: color.unwrap_or_else(|| "#FFFFFF".into()),
            font: font.unwrap_or(FontFamily::Inter),
            size: size.unwrap_or(48) as u16,
            position: position.unwrap_or(Position::TopLeft),
        })
    });
    obj.finish(errors);
    Some(enabled.then_some(ElementsConfig { watermark, text }))
}

#[cfg(test)]
mod tests {
    use super::is_script_char;

    #[test]
    fn combining_marks_of_every_script_belong_to_their_letters() {
        for (text, what) in [
            ("cafe\u{301}", "Latin acute written apart"),
            ("o\u{1DC4}", "Latin mark of the extended block"),
            ("स्वागत", "Devanagari virama"),
            ("สวัสดี่", "Thai vowel and tone marks"),
            ("స్వాగతం", "Telugu virama"),
            ("שָׁלוֹם", "Hebrew points"),
        ] {
            assert!(text.chars().all(is_script_char), "{what}: {text}");
        }
        for c in ['«', '»', '‹', '›', '„', '‚', '“', '”'] {
            assert!(is_script_char(c), "typographic quote {c:?}");
        }
        for c in ['\u{200B}', '\u{1F3E1}', '3', '$', '%', '\u{00A9}', '<'] {
            assert!(!is_script_char(c), "{c:?}");
        }
    }
}
