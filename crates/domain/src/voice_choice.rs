//! The `voice` object of every create route (api.md §3, §5) and choosing a voice by its
//! attributes (**Extension**, for older VibePeak clients): instead of `voice_id` a client
//! may send `gender`, `accent` and `language` (required matches) and `age` and `style`
//! words (preferences). The field rules live here; the choice itself needs the voices the
//! caller may use, which the API reads from the store and `peakreel render` from the
//! public catalogue, so both pass them in as [`VoiceCandidate`]s.

use crate::json::{self, Errors, Obj};
use crate::request::CreateRequest;
use crate::voice_traits::{neural_model, public_voice_traits, Age};
use peakreel_types::{ApiError, Code};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// What a voice was asked for by, when it was not named by `voice_id`. Stored with the
/// task so `GET /v1/tasks/{id}` can show what was asked and what was chosen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceAttributes {
    /// `male` or `female`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// Canonical accent name (`american`, `british`, …; see [`canonical_accent`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<Age>,
    /// Lower-case style words such as `warm` or `professional`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub style: Vec<String>,
}

/// The `voice` object after its field rules.
#[derive(Debug, Default)]
pub struct VoiceField {
    pub voice_id: Option<String>,
    pub language: Option<String>,
    /// Present only when no `voice_id` was sent: `voice_id` wins over attributes.
    pub attributes: Option<VoiceAttributes>,
}

const GENDERS: &[&str] = &["male", "female"];
const MAX_STYLE_WORDS: usize = 8;

/// Read `voice`: `voice_id` (20 letters or digits, else `INVALID_VOICE_ID` into
/// `invalid_id`), `language` (ISO 639-1), and the attributes `gender`, `accent`, `age`,
/// `style`. Either `voice_id` or at least one of `gender`, `accent`, `language` is required.
pub fn read_voice(
    root: &mut Obj,
    errors: &mut Errors,
    invalid_id: &mut Option<ApiError>,
) -> VoiceField {
    let Some(value) = root.req("voice", errors) else {
        return VoiceField::default();
    };
    let Some(mut obj) = Obj::at("voice".into(), value, errors) else {
        return VoiceField::default();
    };
    let voice_id = obj.opt_str("voice_id", errors).map(|id| {
        if !peakreel_types::ids::is_voice_id(id) {
            *invalid_id = Some(
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
        if crate::request::is_language_code(lang) {
            Some(lang.to_string())
        } else {
            errors.push(
                "voice.language",
                "must be a two-letter ISO 639-1 code such as \"en\"",
            );
            None
        }
    });
    let gender = obj.opt_str("gender", errors).and_then(|g| {
        let g = g.trim().to_ascii_lowercase();
        if GENDERS.contains(&g.as_str()) {
            Some(g)
        } else {
            errors.push(
                "voice.gender",
                format!("must be one of: {}", GENDERS.join(", ")),
            );
            None
        }
    });
    let accent = obj.opt_str("accent", errors).and_then(|a| {
        let ok = (1..=40).contains(&a.trim().chars().count())
            && a.chars()
                .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '_'));
        if !ok {
            errors.push(
                "voice.accent",
                "must be an accent name such as \"american\" or \"british\" (letters, at most 40)",
            );
        }
        ok.then(|| canonical_accent(a))
    });
    let age = obj.opt_str("age", errors).and_then(|a| {
        let age = Age::parse(a);
        if age.is_none() {
            errors.push(
                "voice.age",
                format!("must be one of: {}", Age::WIRE.join(", ")),
            );
        }
        age
    });
    let style = obj
        .opt("style")
        .map(|v| read_style(v, errors))
        .unwrap_or_default();
    obj.finish(errors);

    let attributes = VoiceAttributes {
        gender,
        accent,
        age,
        style,
    };
    let chooses = attributes.gender.is_some() || attributes.accent.is_some() || language.is_some();
    if voice_id.is_none() && !chooses && !errors.0.iter().any(|e| e.field.starts_with("voice.")) {
        errors.push(
            "voice.voice_id",
            "is required, unless the voice is chosen by attributes (gender, accent, language; optionally age and style)",
        );
    }
    VoiceField {
        attributes: (voice_id.is_none() && chooses).then_some(attributes),
        voice_id,
        language,
    }
}

/// `style`: a string of words (`"warm professional"`, `"warm, calm"`) or an array of them.
fn read_style(value: &Value, errors: &mut Errors) -> Vec<String> {
    let texts: Vec<&str> = match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| json::expect_str(v, json::index("voice.style", i), errors))
            .collect(),
        _ => {
            errors.push(
                "voice.style",
                "must be a string of words or an array of strings",
            );
            return Vec::new();
        }
    };
    let mut words: Vec<String> = Vec::new();
    for word in texts
        .iter()
        .flat_map(|t| t.split(|c: char| c.is_whitespace() || c == ','))
        .filter(|w| !w.is_empty())
    {
        if word.chars().count() > 30 || !word.chars().all(|c| c.is_alphabetic() || c == '-') {
            errors.push(
                "voice.style",
                format!("{word:?} is not a style word (letters only, such as \"warm\")"),
            );
            return Vec::new();
        }
        let word = word.to_lowercase();
        if !words.contains(&word) {
            words.push(word);
        }
    }
    if words.len() > MAX_STYLE_WORDS {
        errors.push(
            "voice.style",
            format!("has {} words; at most {MAX_STYLE_WORDS}", words.len()),
        );
        return Vec::new();
    }
    words
}

/// The catalogue's name for an accent, from the spellings clients use: case is ignored,
/// and country codes and "X English" mean the same accent (`UK`, `en-GB`, `British
/// English` → `british`). Anything else is kept, lower-cased, and matches only itself.
pub fn canonical_accent(accent: &str) -> String {
    let a = accent.trim().to_lowercase().replace(['_', '-'], " ");
    let a = a.strip_suffix(" english").unwrap_or(&a).trim().to_string();
    let name = match a.as_str() {
        "us" | "usa" | "en us" | "america" => "american",
        "uk" | "gb" | "en gb" | "britain" | "english" => "british",
        "au" | "en au" | "australia" | "aussie" => "australian",
        "se" | "sweden" => "swedish",
        other => other,
    };
    name.to_string()
}

/// A voice the caller may use, as the choice sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceCandidate {
    pub voice_id: String,
    pub gender: String,
    pub accent: String,
    pub languages: Vec<String>,
    /// The caller's own custom voice (preferred over a public one when otherwise equal).
    pub own: bool,
    /// The public voice it is (or is a variant of), whose age and style words it has.
    pub public_base: Option<String>,
    /// Whether this server speaks it with a neural engine, when the catalogue knows
    /// (voice packs, a remote provider); `None` falls back to the built-in model table.
    pub neural: Option<bool>,
}

impl VoiceCandidate {
    /// A public voice of the built-in catalogue.
    pub fn public(v: &crate::voices::PublicVoice) -> Self {
        VoiceCandidate {
            voice_id: v.voice_id.to_string(),
            gender: v.gender.to_string(),
            accent: v.accent.to_string(),
            languages: v.languages.iter().map(|l| l.to_string()).collect(),
            own: false,
            public_base: Some(v.voice_id.to_string()),
            neural: None,
        }
    }
}

/// The three attributes a voice must match, in the order they narrow the choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Required {
    Language,
    Gender,
    Accent,
}

impl Required {
    fn name(self) -> &'static str {
        match self {
            Required::Language => "language",
            Required::Gender => "gender",
            Required::Accent => "accent",
        }
    }

    fn values(self, c: &VoiceCandidate) -> Vec<&str> {
        match self {
            Required::Language => c.languages.iter().map(String::as_str).collect(),
            Required::Gender => vec![c.gender.as_str()],
            Required::Accent => vec![c.accent.as_str()],
        }
    }
}

/// The best voice for `attrs` (and `language`, when given) among `candidates`, by
/// `voice_id`. Deterministic: the required attributes narrow the set (language, then
/// gender, then accent); among what is left a voice spoken by a neural engine comes
/// first, then the most preferences met (age counts one, each style word one), then the
/// caller's own voices, then the smallest `voice_id`.
///
/// Errors: `VOICE_NOT_FOUND` (400) when a required attribute cannot be met, with
/// `details.unmet` listing each such attribute, what was asked and the values on offer.
pub fn choose_voice(
    attrs: &VoiceAttributes,
    language: Option<&str>,
    candidates: &[VoiceCandidate],
) -> Result<String, ApiError> {
    let wanted = [
        (Required::Language, language),
        (Required::Gender, attrs.gender.as_deref()),
        (Required::Accent, attrs.accent.as_deref()),
    ];
    let mut pool: Vec<&VoiceCandidate> = candidates.iter().collect();
    let mut unmet = Vec::new();
    for (attr, want) in wanted {
        let Some(want) = want else { continue };
        let kept: Vec<&VoiceCandidate> = pool
            .iter()
            .copied()
            .filter(|c| attr.values(c).contains(&want))
            .collect();
        if kept.is_empty() {
            // Not applied, so the attributes after it are judged on their own and every
            // unmet one is reported in one answer.
            let mut available: Vec<&str> = pool.iter().flat_map(|c| attr.values(c)).collect();
            available.sort_unstable();
            available.dedup();
            unmet.push(
                json!({ "attribute": attr.name(), "requested": want, "available": available }),
            );
        } else {
            pool = kept;
        }
    }
    if !unmet.is_empty() || pool.is_empty() {
        return Err(no_match(attrs, language, unmet));
    }
    let best = pool
        .into_iter()
        .max_by(|a, b| {
            rank(a, attrs, language)
                .cmp(&rank(b, attrs, language))
                // Smallest id wins a tie: reversed, since `max_by` keeps the greatest.
                .then_with(|| b.voice_id.cmp(&a.voice_id))
        })
        .expect("pool is not empty");
    Ok(best.voice_id.clone())
}

/// (neural, preferences met, own): greater is better.
fn rank(
    c: &VoiceCandidate,
    attrs: &VoiceAttributes,
    language: Option<&str>,
) -> (bool, usize, bool) {
    let spoken = language
        .or(c.languages.first().map(String::as_str))
        .unwrap_or("en");
    let neural = c
        .neural
        .unwrap_or_else(|| neural_model(&c.gender, &c.accent, spoken).is_some());
    let traits = c.public_base.as_deref().and_then(public_voice_traits);
    let age = traits.is_some_and(|t| Some(t.age) == attrs.age) as usize;
    let styles = attrs
        .style
        .iter()
        .filter(|w| traits.is_some_and(|t| t.styles.contains(&w.as_str())))
        .count();
    (neural, age + styles, c.own)
}

fn no_match(attrs: &VoiceAttributes, language: Option<&str>, unmet: Vec<Value>) -> ApiError {
    let named: Vec<String> = unmet
        .iter()
        .map(|u| {
            format!(
                "{} `{}`",
                u["attribute"].as_str().unwrap_or(""),
                u["requested"].as_str().unwrap_or("")
            )
        })
        .collect();
    ApiError::new(
        Code::VoiceNoMatch,
        format!(
            "No voice you may use has {}. Choose other attributes (details.unmet lists the values on offer) or a voice_id from GET /v1/voices.",
            named.join(" and ")
        ),
    )
    .with_details(json!({ "unmet": unmet, "requested": requested_view(attrs, language) }))
}

/// The attributes as the client asked for them (canonical spellings), for errors and the
/// task view.
pub fn requested_view(attrs: &VoiceAttributes, language: Option<&str>) -> Value {
    let mut v = serde_json::to_value(attrs).unwrap_or_else(|_| json!({}));
    if let Some(lang) = language {
        v["language"] = json!(lang);
    }
    v
}

impl CreateRequest {
    /// Whether the voice is still to be chosen by attributes (`voice_id` is empty until
    /// [`CreateRequest::choose_voice`] fills it).
    pub fn voice_pending(&self) -> bool {
        self.voice_id.is_empty() && self.voice_attributes.is_some()
    }

    /// Fill `voice_id` from the attributes, among `candidates` (the voices the caller may
    /// use). A request that named its voice is left as it is.
    pub fn choose_voice(&mut self, candidates: &[VoiceCandidate]) -> Result<(), ApiError> {
        if let (true, Some(attrs)) = (self.voice_pending(), &self.voice_attributes) {
            self.voice_id = choose_voice(attrs, self.language.as_deref(), candidates)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voices::PUBLIC_VOICES;

    fn catalogue() -> Vec<VoiceCandidate> {
        PUBLIC_VOICES.iter().map(VoiceCandidate::public).collect()
    }

    fn attrs(gender: Option<&str>, accent: Option<&str>, style: &[&str]) -> VoiceAttributes {
        VoiceAttributes {
            gender: gender.map(Into::into),
            accent: accent.map(canonical_accent),
            age: None,
            style: style.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn name(id: &str) -> &'static str {
        PUBLIC_VOICES
            .iter()
            .find(|v| v.voice_id == id)
            .unwrap()
            .name
    }

    #[test]
    fn required_attributes_are_met_and_neural_voices_come_first() {
        let c = catalogue();
        let id = choose_voice(&attrs(Some("female"), None, &[]), Some("en"), &c).unwrap();
        let v = c.iter().find(|v| v.voice_id == id).unwrap();
        assert_eq!(v.gender, "female");
        assert!(v.languages.contains(&"en".into()));
        let id = choose_voice(&attrs(Some("male"), Some("UK"), &[]), None, &c).unwrap();
        assert_eq!(name(&id), "George");
        // Male English: the US male voices are spoken by Piper, so one of them wins even
        // against a style word only George (espeak-ng) has.
        let id = choose_voice(&attrs(Some("male"), None, &["raspy"]), Some("en"), &c).unwrap();
        let v = c.iter().find(|v| v.voice_id == id).unwrap();
        assert_eq!((v.gender.as_str(), v.accent.as_str()), ("male", "american"));
        // Among the neural ones, style words decide.
        let id = choose_voice(&attrs(Some("male"), None, &["crisp"]), Some("en"), &c).unwrap();
        assert_eq!(name(&id), "Arnold");
        let id = choose_voice(&attrs(Some("female"), None, &["storytelling"]), None, &c).unwrap();
        assert_eq!(name(&id), "Dorothy");
    }

    #[test]
    fn the_choice_is_deterministic_and_prefers_own_voices_on_a_tie() {
        let mut c = catalogue();
        let a = attrs(Some("female"), Some("british"), &[]);
        let first = choose_voice(&a, None, &c).unwrap();
        c.reverse();
        assert_eq!(choose_voice(&a, None, &c).unwrap(), first);
        c.push(VoiceCandidate {
            voice_id: "zzzzzzzzzzzzzzzzzzzz".into(),
            gender: "female".into(),
            accent: "british".into(),
            languages: vec!["en".into()],
            own: true,
            public_base: Some("ThT5KcBeYPX3keUQqHPh".into()),
            neural: None,
        });
        assert_eq!(choose_voice(&a, None, &c).unwrap(), "zzzzzzzzzzzzzzzzzzzz");
    }

    /// An operator's neural pack voice (the catalogue says so) beats every voice the
    /// built-in table knows as non-neural, own voices included.
    #[test]
    fn a_voice_the_catalogue_marks_neural_is_preferred() {
        let mut c = catalogue();
        let a = attrs(Some("female"), Some("british"), &[]);
        c.push(VoiceCandidate {
            voice_id: "zzPackFemaleGB000000".into(),
            gender: "female".into(),
            accent: "british".into(),
            languages: vec!["en".into()],
            own: false,
            public_base: None,
            neural: Some(true),
        });
        assert_eq!(choose_voice(&a, None, &c).unwrap(), "zzPackFemaleGB000000");
        c.last_mut().unwrap().neural = Some(false);
        assert_ne!(choose_voice(&a, None, &c).unwrap(), "zzPackFemaleGB000000");
    }

    #[test]
    fn unmet_attributes_are_all_listed_with_what_is_on_offer() {
        let c = catalogue();
        let err = choose_voice(
            &attrs(Some("female"), Some("australian"), &[]),
            Some("xx"),
            &c,
        )
        .unwrap_err();
        assert_eq!(err.code, Code::VoiceNoMatch);
        assert_eq!(err.status(), 400);
        assert_eq!(err.code.as_str(), "VOICE_NOT_FOUND");
        let d = err.details.unwrap();
        let unmet: Vec<&str> = d["unmet"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["attribute"].as_str().unwrap())
            .collect();
        assert_eq!(unmet, ["language", "accent"]);
        assert_eq!(d["unmet"][0]["requested"], "xx");
        assert!(d["unmet"][0]["available"]
            .as_array()
            .unwrap()
            .contains(&json!("en")));
        // Female voices exist in american, british and swedish accents only.
        assert_eq!(
            d["unmet"][1]["available"],
            json!(["american", "british", "swedish"])
        );
        assert_eq!(d["requested"]["gender"], "female");
        assert!(choose_voice(&attrs(Some("male"), None, &[]), None, &[]).is_err());
    }

    #[test]
    fn accents_are_read_in_the_spellings_clients_use() {
        for (given, want) in [
            ("British", "british"),
            ("en-GB", "british"),
            ("UK", "british"),
            ("American English", "american"),
            ("US", "american"),
            ("australian", "australian"),
            ("Irish", "irish"),
        ] {
            assert_eq!(canonical_accent(given), want, "{given}");
        }
    }
}
