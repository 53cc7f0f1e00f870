//! Which engine speaks a catalogue voice (issue 14, part 1): the configured remote
//! provider; else an installed Piper model of the same gender and language, preferring
//! the same accent; else the best non-neural engine measured for that gender by
//! `bench/voice_candidates.sh`. Never a voice of the other gender.

use crate::packs::PiperVoice;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gender {
    Female,
    Male,
}

impl Gender {
    /// `female` / `male` (the catalogue's words); anything else is `None`.
    pub fn parse(s: &str) -> Option<Gender> {
        match s {
            "female" => Some(Gender::Female),
            "male" => Some(Gender::Male),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Female => "female",
            Gender::Male => "male",
        }
    }
}

/// What a catalogue voice asks of its speaker.
#[derive(Debug, Clone, Copy)]
pub struct VoiceTraits<'a> {
    pub gender: Gender,
    /// `american`, `british`, …
    pub accent: &'a str,
    /// ISO 639-1 code of the language to be spoken.
    pub language: &'a str,
    /// Whether the remote provider knows this voice (public premade ids and their
    /// variants do; operator pack voices do not).
    pub remote_known: bool,
}

/// The engine chosen for a voice, as reported by `GET /v1/voices` and `peakreel voices`.
#[derive(Debug, Clone, PartialEq)]
pub struct Speaker {
    /// `remote`, `piper`, `flite` or `espeak-ng`.
    pub engine: &'static str,
    /// Whether the engine is a neural one (remote provider, Piper).
    pub neural: bool,
    /// The engine's own voice: Piper model stem, flite voice, espeak-ng voice; `None`
    /// for the remote provider (it uses the catalogue id).
    pub model: Option<String>,
}

/// The non-neural voice for a gender when no neural model fits, English only: flite's
/// `slt` and `rms` were the most intelligible voices of their gender among every flite
/// voice and espeak-ng variant measured (bench/voice_candidates.sh: slt 173 Hz, WER 0.33;
/// rms 106 Hz, WER 0.10; the best espeak-ng female, en-us+f2, 200 Hz, WER 0.70).
pub fn flite_voice_for(gender: Gender) -> &'static str {
    match gender {
        Gender::Female => "slt",
        Gender::Male => "rms",
    }
}

/// The espeak-ng voice for a gender and language, the last resort (any language espeak-ng
/// speaks). British variants (`en-gb+f3`) were measured at a male pitch (104 Hz): the
/// variant does not apply to that voice, so English female voices use the US variant.
pub fn espeak_voice_for(gender: Gender, language: &str) -> String {
    let base = match language {
        "en" => "en-us",
        other => other,
    };
    match gender {
        Gender::Female => format!("{base}+f2"),
        Gender::Male => format!("{base}+m3"),
    }
}

/// The engines one server has, for choosing.
#[derive(Debug, Clone, Default)]
pub struct Engines<'a> {
    pub remote: bool,
    pub piper: &'a [PiperVoice],
    pub flite: bool,
}

impl Engines<'_> {
    /// The engine for a voice (see the module docs for the order).
    pub fn speaker_for(&self, voice: VoiceTraits<'_>) -> Speaker {
        if self.remote && voice.remote_known {
            return Speaker {
                engine: "remote",
                neural: true,
                model: None,
            };
        }
        if let Some(p) = best_piper(self.piper, voice) {
            return Speaker {
                engine: "piper",
                neural: true,
                model: Some(p.stem.clone()),
            };
        }
        if self.flite && voice.language == "en" {
            return Speaker {
                engine: "flite",
                neural: false,
                model: Some(flite_voice_for(voice.gender).into()),
            };
        }
        Speaker {
            engine: "espeak-ng",
            neural: false,
            model: Some(espeak_voice_for(voice.gender, voice.language)),
        }
    }
}

/// The Piper model of the voice's gender and language, the one of its accent first, a
/// pack model before the packaged one, then by stem (so the choice is stable).
pub fn best_piper<'a>(models: &'a [PiperVoice], voice: VoiceTraits<'_>) -> Option<&'a PiperVoice> {
    models
        .iter()
        .filter(|m| m.gender == voice.gender && m.language == voice.language)
        .min_by_key(|m| (m.accent != voice.accent, !m.from_pack, m.stem.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn model(stem: &str, gender: Gender, accent: &str, from_pack: bool) -> PiperVoice {
        PiperVoice {
            id: crate::packs::pack_voice_id(stem),
            name: stem.into(),
            gender,
            accent: accent.into(),
            language: "en".into(),
            stem: stem.into(),
            model: PathBuf::from(format!("{stem}.onnx")),
            from_pack,
        }
    }

    fn traits(gender: Gender, accent: &str, language: &str) -> VoiceTraits<'static> {
        VoiceTraits {
            gender,
            accent: if accent == "british" {
                "british"
            } else {
                "american"
            },
            language: if language == "en" { "en" } else { "es" },
            remote_known: true,
        }
    }

    #[test]
    fn gender_is_never_crossed_and_accent_preferred() {
        let models = [
            model("joe", Gender::Male, "american", false),
            model("alba", Gender::Female, "british", true),
        ];
        let e = Engines {
            remote: false,
            piper: &models,
            flite: true,
        };
        let f_us = e.speaker_for(traits(Gender::Female, "american", "en"));
        assert_eq!(
            (f_us.engine, f_us.model.as_deref()),
            ("piper", Some("alba"))
        );
        let m_gb = e.speaker_for(traits(Gender::Male, "british", "en"));
        assert_eq!(m_gb.model.as_deref(), Some("joe"));
        // Spanish: no Piper model, no flite; espeak-ng with the gender's variant.
        let f_es = e.speaker_for(traits(Gender::Female, "american", "es"));
        assert_eq!(
            (f_es.engine, f_es.model.as_deref()),
            ("espeak-ng", Some("es+f2"))
        );

        let only_joe = Engines {
            piper: &models[..1],
            ..e.clone()
        };
        let f = only_joe.speaker_for(traits(Gender::Female, "british", "en"));
        assert_eq!(
            (f.engine, f.neural, f.model.as_deref()),
            ("flite", false, Some("slt"))
        );
        let remote = Engines { remote: true, ..e };
        assert_eq!(
            remote
                .speaker_for(traits(Gender::Male, "american", "en"))
                .engine,
            "remote"
        );
    }

    #[test]
    fn same_accent_beats_pack_beats_packaged() {
        let models = [
            model("joe", Gender::Male, "american", false),
            model("us-pack", Gender::Male, "american", true),
            model("gb-pack", Gender::Male, "british", true),
        ];
        let pick = |accent| {
            best_piper(&models, traits(Gender::Male, accent, "en")).map(|m| m.stem.as_str())
        };
        assert_eq!(pick("american"), Some("us-pack"));
        assert_eq!(pick("british"), Some("gb-pack"));
    }
}
