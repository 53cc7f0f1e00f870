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
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::NarratedSlideshow => "narrated_slideshow",
            RequestKind::LivingProperty => "living_property",
        }
    }

    fn image_range(self) -> (usize, usize) {
        match self {
            RequestKind::NarratedSlideshow => (6, 15),
            RequestKind::LivingProperty => (1, 9),
        }
    }

    /// Script characters allowed per image, inclusive.
    fn script_per_image(self) -> (usize, usize) {
        match self {
            RequestKind::NarratedSlideshow => (40, 50),
            RequestKind::LivingProperty => (65, 85),
        }
    }
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
    pub room_type: RoomType,
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
    pub voice_id: String,
    pub language: Option<String>,
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
        match self.kind {
            RequestKind::NarratedSlideshow => prices.narrated_slideshow,
            RequestKind::LivingProperty => {
                let n = self.images.len() as i64;
                let staging = match self.modification_mode {
                    ModificationMode::NoModify => 0,
                    _ => prices.staging_per_image,
                };
                n * (prices.living_property_per_image + staging)
            }
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
    let (voice_id, language) = read_voice(&mut root, &mut errors, &mut specific);
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
    let orientation = root.opt_enum(
        "orientation",
        Orientation::WIRE,
        Orientation::parse,
        &mut errors,
    );
    let orchestration_mode = if kind == RequestKind::NarratedSlideshow {
        root.opt_enum(
            "orchestration_mode",
            OrchestrationMode::WIRE,
            OrchestrationMode::parse,
            &mut errors,
        )
    } else {
        None
    };
    let modification_mode = if kind == RequestKind::LivingProperty {
        read_modification_mode(&mut root, policy, &mut errors)
    } else {
        None
    };
    let webhook_url = root
        .opt_str("webhook_url", &mut errors)
        .and_then(|url| check_webhook_url(url, policy, &mut errors));
    let avatar_id = root.opt("avatar_id").and_then(|v| {
        let id = json::expect_str(v, "avatar_id".into(), &mut errors)?;
        if !is_uuid_v4(id) {
            specific.avatar_id = Some(
                ApiError::new(
                    Code::InvalidAvatarId,
                    "avatar_id must be a UUID v4 (for example 3f1c2a9e-7b4d-4c1a-9e2f-5a6b7c8d9e01); list avatars with GET /v1/avatars.",
                )
                .with_details(json!({ "avatar_id": id })),
            );
        }
        Some(id.to_string())
    });
    let background_music = root
        .opt_bool("background_music", &mut errors)
        .unwrap_or(false);
    let subtitle = root.opt("subtitle").and_then(|v| {
        let mut obj = Obj::at("subtitle".into(), v, &mut errors)?;
        obj.req("subtitle_style_preset", &mut errors)?;
        let preset = obj.opt_enum(
            "subtitle_style_preset",
            SubtitlePreset::WIRE,
            SubtitlePreset::parse,
            &mut errors,
        );
        obj.finish(&mut errors);
        preset
    });
    let elements = root
        .opt("elements_config")
        .and_then(|v| read_elements(v, policy, &mut errors, &mut specific));
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
    let (Some(images), Some(voice_id), Some(script)) = (images, voice_id, script) else {
        return Err(ApiError::internal());
    };
    Ok(CreateRequest {
        kind,
        images,
        voice_id,
        language,
        script: script.to_string(),
        orientation,
        orchestration_mode: orchestration_mode.unwrap_or(OrchestrationMode::Artistic),
        modification_mode: modification_mode.unwrap_or(ModificationMode::NoModify),
        webhook_url,
        avatar_id,
        background_music,
        subtitle,
        elements: elements.flatten(),
        test_scenario: test_scenario.unwrap_or(TestScenario::Success),
    })
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
            RequestKind::NarratedSlideshow => (json::expect_str(item, path.clone(), errors), None),
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
            room_type: room_type.unwrap_or(RoomType::Other),
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

fn read_voice(
    root: &mut Obj,
    errors: &mut Errors,
    specific: &mut Specific,
) -> (Option<String>, Option<String>) {
    let Some(value) = root.req("voice", errors) else {
        return (None, None);
    };
    let Some(mut obj) = Obj::at("voice".into(), value, errors) else {
        return (None, None);
    };
    let voice_id = obj.req_str("voice_id", errors).map(|id| {
        if !peakreel_types::ids::is_voice_id(id) {
            specific.voice_id = Some(
                ApiError::new(
                    Code::InvalidVoiceId,
                    "voice.voice_id must be 20 letters or digits; list voices with GET /v1/voices.",
                )
                .with_details(json!({ "voice_id": id })),
            );
        }
        id.to_string()
    });
    let language = obj.opt_str("language", errors).and_then(|lang| {
        if lang.len() == 2 && lang.bytes().all(|b| b.is_ascii_lowercase()) {
            Some(lang.to_string())
        } else {
            errors.push(
                "voice.language",
                "must be a two-letter ISO 639-1 code such as \"en\"",
            );
            None
        }
    });
    obj.finish(errors);
    (voice_id, language)
}

/// Letters of any alphabet, whitespace and the punctuation of api.md §3.
fn is_script_char(c: char) -> bool {
    c.is_alphabetic()
        || c.is_whitespace()
        || matches!(
            c,
            '.' | ',' | '!' | '?' | ';' | ':' | '\'' | '"' | '-' | '(' | ')'
                | '\u{2018}' | '\u{2019}' | '\u{201C}' | '\u{201D}' | '\u{2013}' | '\u{2014}'
                | '\u{2010}' | '\u{2011}' | '\u{2026}'
        )
        // Combining marks belong to the letters they follow (accents, Indic vowel signs).
        || ('\u{0300}'..='\u{036F}').contains(&c)
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
    }
}

fn check_script_length(kind: RequestKind, script: &str, images: usize) -> Option<ApiError> {
    let (lo, hi) = kind.script_per_image();
    let (min, max, actual) = (lo * images, hi * images, script.chars().count());
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

fn read_modification_mode(
    root: &mut Obj,
    policy: &UrlPolicy,
    errors: &mut Errors,
) -> Option<ModificationMode> {
    let mode = root.opt_enum(
        "modification_mode",
        ModificationMode::WIRE,
        ModificationMode::parse,
        errors,
    )?;
    if mode != ModificationMode::NoModify && !policy.staging_enabled {
        errors.push(
            "modification_mode",
            format!(
                "`{}` needs virtual staging, which is not enabled on this server; use `no_modify`",
                mode.as_str()
            ),
        );
    }
    Some(mode)
}

fn check_webhook_url(url: &str, policy: &UrlPolicy, errors: &mut Errors) -> Option<String> {
    if url.chars().count() > 2048 {
        errors.push("webhook_url", "must be at most 2048 characters");
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

pub fn is_uuid_v4(s: &str) -> bool {
    // Only the hyphenated form is accepted: it is what the API returns.
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok_and(|u| u.get_version_num() == 4)
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
        let size = wm.opt_int("size", 1, 100, errors);
        let opacity = wm.opt_int("opacity", 0, 100, errors);
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
            let n = c.chars().count();
            if n == 0 || n > 100 {
                errors.push(
                    "elements_config.text.content",
                    "must be 1 to 100 characters",
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
        let size = t.opt_int("size", 8, 200, errors);
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
