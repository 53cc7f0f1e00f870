//! Public voices and avatars that ship with every server (api.md §5, §5b). The voice ids
//! are those of the well-known premade voices VibePeak clients copy from examples, each
//! mapped to a local engine voice of matching gender and accent.

/// How a public voice is spoken by the local engines. `espeak_voice` is an espeak-ng voice
/// name with variant (`en-us+f3`); `rate` multiplies the engine's normal speed and `pitch`
/// shifts it (0.0 = engine default, in semitones). Piper, when installed, speaks every
/// English voice with its one model and the same rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineVoice {
    pub espeak_voice: &'static str,
    pub rate: f32,
    pub pitch: f32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublicVoice {
    pub voice_id: &'static str,
    pub name: &'static str,
    pub gender: &'static str,
    pub accent: &'static str,
    pub languages: &'static [&'static str],
    pub engine: EngineVoice,
}

#[allow(clippy::too_many_arguments)] // one row of the catalogue table
const fn voice(
    voice_id: &'static str,
    name: &'static str,
    gender: &'static str,
    accent: &'static str,
    languages: &'static [&'static str],
    espeak_voice: &'static str,
    rate: f32,
    pitch: f32,
) -> PublicVoice {
    PublicVoice {
        voice_id,
        name,
        gender,
        accent,
        languages,
        engine: EngineVoice {
            espeak_voice,
            rate,
            pitch,
        },
    }
}

pub const PUBLIC_VOICES: &[PublicVoice] = &[
    voice(
        "21m00Tcm4TlvDq8ikWAM",
        "Rachel",
        "female",
        "american",
        &["en"],
        "en-us+f3",
        1.0,
        0.0,
    ),
    voice(
        "EXAVITQu4vr4xnSDxMaL",
        "Sarah",
        "female",
        "american",
        &["en", "es", "fr", "de"],
        "en-us+f2",
        0.95,
        1.0,
    ),
    voice(
        "AZnzlk1XvdvUeBnXmlld",
        "Domi",
        "female",
        "american",
        &["en"],
        "en-us+f4",
        1.05,
        2.0,
    ),
    voice(
        "MF3mGyEYCl7XYWbV9V9O",
        "Elli",
        "female",
        "american",
        &["en"],
        "en-us+f5",
        1.0,
        3.0,
    ),
    voice(
        "pNInz6obpgDQGcFmaJgB",
        "Adam",
        "male",
        "american",
        &["en", "es", "fr", "de"],
        "en-us+m3",
        0.95,
        -2.0,
    ),
    voice(
        "ErXwobaYiN019PjWvBEj",
        "Antoni",
        "male",
        "american",
        &["en"],
        "en-us+m1",
        1.0,
        0.0,
    ),
    voice(
        "TxGEqnHWrfWFTfGW9XjX",
        "Josh",
        "male",
        "american",
        &["en"],
        "en-us+m2",
        1.05,
        -1.0,
    ),
    voice(
        "VR6AewLTigWG4xSOukaG",
        "Arnold",
        "male",
        "american",
        &["en"],
        "en-us+m4",
        0.9,
        -3.0,
    ),
    voice(
        "ThT5KcBeYPX3keUQqHPh",
        "Dorothy",
        "female",
        "british",
        &["en"],
        "en-gb+f3",
        1.0,
        1.0,
    ),
    voice(
        "JBFqnCBsd6RMkjVDRZzb",
        "George",
        "male",
        "british",
        &["en"],
        "en-gb+m3",
        0.95,
        -2.0,
    ),
    voice(
        "IKne3meq5aSn9XLyUdCD",
        "Charlie",
        "male",
        "australian",
        &["en"],
        "en-gb-x-rp+m1",
        1.0,
        0.0,
    ),
    voice(
        "XB0fDUnXU5powFXDhCwa",
        "Charlotte",
        "female",
        "swedish",
        &["en", "sv"],
        "en+f4",
        1.0,
        1.0,
    ),
];

pub fn public_voice(voice_id: &str) -> Option<&'static PublicVoice> {
    PUBLIC_VOICES.iter().find(|v| v.voice_id == voice_id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicAvatar {
    pub avatar_id: &'static str,
    pub name: &'static str,
    /// Colour of the generated placeholder portrait's background (RGB).
    pub background: [u8; 3],
}

pub const PUBLIC_AVATARS: &[PublicAvatar] = &[
    PublicAvatar {
        avatar_id: "3f1c2a9e-7b4d-4c1a-9e2f-5a6b7c8d9e01",
        name: "Ava",
        background: [64, 110, 160],
    },
    PublicAvatar {
        avatar_id: "8d2e4b6a-1c3f-4e5a-8b7c-9d0e1f2a3b02",
        name: "Marcus",
        background: [150, 90, 60],
    },
    PublicAvatar {
        avatar_id: "c4a7e9b1-2d5f-4a8c-b3e6-7f9a1c2e4d03",
        name: "Lena",
        background: [90, 140, 100],
    },
    PublicAvatar {
        avatar_id: "e6b8d0f2-3a5c-4e7a-9c1e-2b4d6f8a0c04",
        name: "Noah",
        background: [120, 100, 160],
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn catalogue_ids_are_well_formed_and_unique() {
        assert!(PUBLIC_VOICES.len() >= 8);
        let ids: HashSet<_> = PUBLIC_VOICES.iter().map(|v| v.voice_id).collect();
        assert_eq!(ids.len(), PUBLIC_VOICES.len());
        for v in PUBLIC_VOICES {
            assert!(
                peakreel_types::ids::is_voice_id(v.voice_id),
                "{}",
                v.voice_id
            );
            assert!(!v.languages.is_empty());
        }
        assert!(public_voice("EXAVITQu4vr4xnSDxMaL").is_some());
        for a in PUBLIC_AVATARS {
            let id = uuid::Uuid::parse_str(a.avatar_id).unwrap();
            assert_eq!(id.get_version_num(), 4, "{}", a.avatar_id);
        }
    }
}
