//! Validation of `POST /v1/voices` and `POST /v1/avatars` bodies (api.md §5, §5b), with
//! the same strictness as the create routes: all field errors together, unknown fields
//! refused.

use crate::json::{self, Errors, Obj};
use crate::request::{check_media_url, UrlPolicy};
use peakreel_types::ApiError;
use serde_json::Value;

/// Field bounds of the voice and avatar bodies (inclusive); the OpenAPI document states
/// the same numbers, and a test in the API crate compares the two.
pub mod bounds {
    pub const NAME_CHARS: (usize, usize) = (1, 100);
    pub const RATE: (f64, f64) = (0.5, 2.0);
    pub const PITCH_SEMITONES: (f64, f64) = (-12.0, 12.0);
    pub const EXPIRES_IN_DAYS: (i64, i64) = (1, 3650);
    pub const SAMPLES: (usize, usize) = (1, 25);
    pub const AVATAR_STYLES: &[&str] = &["static", "talking"];
}

/// A custom voice: a named, tuned variant of a base voice, or a clone from samples.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateVoice {
    Variant {
        name: String,
        base_voice_id: String,
        language: String,
        /// Multiplies the base voice's speed (0.5–2.0).
        rate: f32,
        /// Semitones added to the base voice's pitch (−12 to 12).
        pitch: f32,
        expires_in_days: Option<u32>,
    },
    Clone {
        name: String,
        samples: Vec<String>,
        expires_in_days: Option<u32>,
    },
}

fn read_name(obj: &mut Obj, errors: &mut Errors) -> Option<String> {
    let name = obj.req_str("name", errors)?.trim();
    let (lo, hi) = bounds::NAME_CHARS;
    if !(lo..=hi).contains(&name.chars().count()) {
        errors.push("name", format!("must be {lo} to {hi} characters"));
        return None;
    }
    Some(name.to_string())
}

fn read_number(
    obj: &mut Obj,
    key: &'static str,
    min: f64,
    max: f64,
    errors: &mut Errors,
) -> Option<f64> {
    let value = obj.opt(key)?;
    match value.as_f64() {
        Some(n) if (min..=max).contains(&n) => Some(n),
        _ => {
            errors.push(key, format!("must be a number from {min} to {max}"));
            None
        }
    }
}

pub fn parse_create_voice(body: &[u8], policy: &UrlPolicy) -> Result<CreateVoice, ApiError> {
    let map = json::parse_object(body)?;
    let mut errors = Errors::default();
    let mut obj = Obj::root(&map);
    let name = read_name(&mut obj, &mut errors);
    let expires_in_days = obj
        .opt_int(
            "expires_in_days",
            bounds::EXPIRES_IN_DAYS.0,
            bounds::EXPIRES_IN_DAYS.1,
            &mut errors,
        )
        .map(|d| d as u32);
    let samples = obj.opt("samples");
    let voice = if let Some(samples) = samples {
        let mut urls = Vec::new();
        match samples {
            Value::Array(items)
                if (bounds::SAMPLES.0..=bounds::SAMPLES.1).contains(&items.len()) =>
            {
                for (i, item) in items.iter().enumerate() {
                    let path = json::index("samples", i);
                    if let Some(url) = json::expect_str(item, path.clone(), &mut errors) {
                        match check_media_url(url, policy) {
                            Ok(_) => urls.push(url.to_string()),
                            Err(reason) => {
                                errors.push(path, format!("is not a usable URL: {reason}"))
                            }
                        }
                    }
                }
            }
            _ => errors.push(
                "samples",
                format!(
                    "must be an array of {} to {} https URLs",
                    bounds::SAMPLES.0,
                    bounds::SAMPLES.1
                ),
            ),
        }
        for key in ["base_voice_id", "language", "rate", "pitch"] {
            if map.contains_key(key) {
                errors.push(
                    key,
                    "cannot be combined with samples (a cloned voice has no base voice)",
                );
            }
        }
        obj.opt("base_voice_id");
        obj.opt("language");
        obj.opt("rate");
        obj.opt("pitch");
        name.clone().map(|name| CreateVoice::Clone {
            name,
            samples: urls,
            expires_in_days,
        })
    } else {
        let base = obj.req_str("base_voice_id", &mut errors).and_then(|id| {
            if peakreel_types::ids::is_voice_id(id) {
                Some(id.to_string())
            } else {
                errors.push(
                    "base_voice_id",
                    "must be 20 letters or digits (a voice id from GET /v1/voices)",
                );
                None
            }
        });
        let language = obj.req_str("language", &mut errors).and_then(|l| {
            if crate::request::is_language_code(l) {
                Some(l.to_string())
            } else {
                errors.push(
                    "language",
                    "must be a two-letter ISO 639-1 code such as \"en\"",
                );
                None
            }
        });
        let (lo, hi) = bounds::RATE;
        let rate = read_number(&mut obj, "rate", lo, hi, &mut errors).unwrap_or(1.0) as f32;
        let (lo, hi) = bounds::PITCH_SEMITONES;
        let pitch = read_number(&mut obj, "pitch", lo, hi, &mut errors).unwrap_or(0.0) as f32;
        match (name.clone(), base, language) {
            (Some(name), Some(base_voice_id), Some(language)) => Some(CreateVoice::Variant {
                name,
                base_voice_id,
                language,
                rate,
                pitch,
                expires_in_days,
            }),
            _ => None,
        }
    };
    obj.finish(&mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors.0));
    }
    voice.ok_or_else(ApiError::internal)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateAvatar {
    pub name: String,
    pub image_url: String,
    /// `static` (default) or `talking` (needs a talking-avatar provider).
    pub talking: bool,
}

pub fn parse_create_avatar(body: &[u8], policy: &UrlPolicy) -> Result<CreateAvatar, ApiError> {
    let map = json::parse_object(body)?;
    let mut errors = Errors::default();
    let mut obj = Obj::root(&map);
    let name = read_name(&mut obj, &mut errors);
    let image_url =
        obj.req_str("image_url", &mut errors)
            .and_then(|url| match check_media_url(url, policy) {
                Ok(_) => Some(url.to_string()),
                Err(reason) => {
                    errors.push("image_url", format!("is not a usable image URL: {reason}"));
                    None
                }
            });
    let style = obj.opt_enum(
        "style",
        bounds::AVATAR_STYLES,
        |s| match s {
            "static" => Some(false),
            "talking" => Some(true),
            _ => None,
        },
        &mut errors,
    );
    obj.finish(&mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors.0));
    }
    match (name, image_url) {
        (Some(name), Some(image_url)) => Ok(CreateAvatar {
            name,
            image_url,
            talking: style.unwrap_or(false),
        }),
        _ => Err(ApiError::internal()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peakreel_types::Code;

    #[test]
    fn a_variant_needs_a_base_voice_and_a_language_and_reports_all_errors() {
        let ok = parse_create_voice(br#"{"name":"Calm Sarah","base_voice_id":"EXAVITQu4vr4xnSDxMaL","language":"en","rate":0.9,"expires_in_days":3}"#, &UrlPolicy::default()).unwrap();
        assert!(
            matches!(ok, CreateVoice::Variant { rate, expires_in_days: Some(3), .. } if (rate - 0.9).abs() < 1e-6)
        );
        let err = parse_create_voice(
            br#"{"name":"","language":"english","rate":9,"colour":1}"#,
            &UrlPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(err.code, Code::ValidationError);
        let fields: Vec<String> = err.details.unwrap()["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            fields,
            ["name", "base_voice_id", "language", "rate", "colour"]
        );
    }

    #[test]
    fn samples_make_a_clone_request_and_exclude_variant_fields() {
        let c = parse_create_voice(
            br#"{"name":"Me","samples":["https://x.example/a.wav"]}"#,
            &UrlPolicy::default(),
        )
        .unwrap();
        assert!(matches!(c, CreateVoice::Clone { .. }));
        let err = parse_create_voice(br#"{"name":"Me","samples":["https://x.example/a.wav"],"base_voice_id":"EXAVITQu4vr4xnSDxMaL"}"#, &UrlPolicy::default()).unwrap_err();
        assert_eq!(err.details.unwrap()["errors"][0]["field"], "base_voice_id");
    }

    #[test]
    fn avatars_need_an_https_image() {
        assert!(parse_create_avatar(
            br#"{"name":"Ann","image_url":"https://x.example/a.jpg"}"#,
            &UrlPolicy::default()
        )
        .is_ok());
        let err = parse_create_avatar(
            br#"{"name":"Ann","image_url":"http://x.example/a.jpg","style":"3d"}"#,
            &UrlPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(err.details.unwrap()["errors"].as_array().unwrap().len(), 2);
    }
}
