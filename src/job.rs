//! From a validated request to the renderer's `RenderJob`: the one mapping shared by the
//! workers and `peakreel render`, so a task renders the same on a server and locally.

use peakreel_domain::request::{
    FontFamily as WireFont, OrchestrationMode, Orientation as WireOrientation,
    Position as WirePosition, RequestKind, RoomType as WireRoom, SubtitlePreset as WirePreset,
};
use peakreel_domain::CreateRequest;
use peakreel_media::{
    EngineKind, FontFamily, Mode, Orientation, Position, Profile, RenderJob, RenderKind, RoomType,
    SubtitlePreset, TextOverlay, VoiceProfile, Watermark,
};
use std::path::PathBuf;
use std::time::Duration;

/// How a voice is spoken: a catalogue record's `engine` JSON (see
/// `crate::voices::catalogue`) plus the voice's languages.
pub struct VoiceSpec<'a> {
    pub espeak_voice: &'a str,
    /// Multiplier of the engine's normal speed.
    pub rate: f32,
    /// Semitones from the engine default.
    pub pitch: f32,
    pub languages: Vec<&'a str>,
    /// The Piper model or flite voice chosen for the voice, and the one language it
    /// speaks.
    pub piper_model: Option<&'a str>,
    pub flite_voice: Option<&'a str>,
    pub model_language: Option<&'a str>,
    /// The remote provider's id for this voice (spoken remotely when one is configured).
    pub remote_voice: Option<&'a str>,
    /// The voice's gender, for the espeak-ng voice of a language `espeak_voice` does not
    /// speak (`None` for a record with another word there).
    pub gender: Option<peakreel_speech::Gender>,
    /// The speakers of the voice's further languages (`engine.by_language`, see
    /// `crate::voices::catalogue`): language → `{engine, neural, model}`.
    pub by_language: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

impl<'a> VoiceSpec<'a> {
    /// From a stored voice's `engine` JSON.
    pub fn from_record(v: &'a peakreel_store::VoiceRecord) -> Option<Self> {
        let text = |k: &str| v.engine.get(k).and_then(|x| x.as_str());
        let pack = v.engine.get("pack").and_then(|p| p.as_bool()) == Some(true);
        Some(VoiceSpec {
            espeak_voice: text("espeak_voice")?,
            rate: v.engine.get("rate").and_then(|r| r.as_f64()).unwrap_or(1.0) as f32,
            pitch: v
                .engine
                .get("pitch")
                .and_then(|p| p.as_f64())
                .unwrap_or(0.0) as f32,
            languages: v.languages.iter().map(String::as_str).collect(),
            piper_model: text("piper_model"),
            flite_voice: text("flite_voice"),
            model_language: speaker_language(&v.engine),
            // Public voices carry the provider's premade ids; custom variants inherit
            // their base voice's id in `engine.remote_voice_id`; pack voices (and their
            // variants) are local.
            remote_voice: match &v.owner {
                _ if pack => None,
                None => Some(v.id.as_str()),
                Some(_) => text("remote_voice_id"),
            },
            gender: peakreel_speech::Gender::parse(&v.gender),
            by_language: by_language(&v.engine),
        })
    }

    /// A custom variant speaks with its public base voice's engine as this server maps it
    /// now (the mapping copied when the variant was made may be stale: a pack added or
    /// removed since, or a variant made before engines were recorded).
    pub fn with_base_engine(self, base: &'a peakreel_store::VoiceRecord) -> Self {
        let text = |k: &str| base.engine.get(k).and_then(|x| x.as_str());
        VoiceSpec {
            piper_model: text("piper_model"),
            flite_voice: text("flite_voice"),
            model_language: speaker_language(&base.engine),
            espeak_voice: text("espeak_voice").unwrap_or(self.espeak_voice),
            by_language: by_language(&base.engine),
            ..self
        }
    }

    pub fn profile(&self, language: Option<&str>) -> VoiceProfile {
        // espeak-ng pitch is 0–99 around 50; four steps per semitone sounds natural.
        let pitch = (50.0 + self.pitch * 4.0).round().clamp(0.0, 99.0) as u8;
        let language = language.or(self.languages.first().copied()).unwrap_or("en");
        // The chosen Piper model or flite voice speaks its one language; the others go to
        // espeak-ng.
        let own = |m: Option<&str>| {
            m.filter(|_| self.model_language == Some(language))
                .map(str::to_string)
        };
        // A further language's Piper model, when the catalogue found one for it.
        let other_piper = self
            .by_language
            .and_then(|m| m.get(language))
            .filter(|s| s["engine"] == "piper" && self.model_language != Some(language))
            .and_then(|s| s["model"].as_str());
        VoiceProfile {
            engine: EngineKind::Auto,
            espeak_voice: self.espeak_voice_in(language),
            piper_model: own(self.piper_model).or(other_piper.map(str::to_string)),
            flite_voice: own(self.flite_voice),
            language: language.to_string(),
            rate: self.rate.clamp(0.5, 2.0),
            pitch,
            remote_voice: self.remote_voice.map(str::to_string),
        }
    }
}

impl VoiceSpec<'_> {
    /// The espeak-ng voice that speaks `language` (ISO 639-1): the record's own when it is
    /// a voice of that language (`en-us+f3` for English) or of no language we know, else
    /// the variant of the voice's gender in that language (`es+f2`). espeak-ng reads every
    /// word with the phonemes of the voice's language, so a Spanish script given to
    /// `en-us+f2` came out as English sounds.
    fn espeak_voice_in(&self, language: &str) -> String {
        let (name, variant) = self
            .espeak_voice
            .split_once('+')
            .unwrap_or((self.espeak_voice, ""));
        let own_language = name.split('-').next().unwrap_or(name).to_ascii_lowercase();
        // A voice named for no language we know is the operator's to name (an mbrola
        // voice, or one that fails loudly with TTS_ERROR): never replaced.
        if own_language == language
            || !peakreel_domain::writing_systems::is_known_language(&own_language)
        {
            return self.espeak_voice.to_string();
        }
        match self.gender {
            Some(gender) => peakreel_speech::choice::espeak_voice_for(gender, language),
            None if variant.is_empty() => language.to_string(),
            None => format!("{language}+{variant}"),
        }
    }
}

/// A record's speakers of its further languages (`engine.by_language`).
fn by_language(engine: &serde_json::Value) -> Option<&serde_json::Map<String, serde_json::Value>> {
    engine.get("by_language")?.as_object()
}

/// The language of the engine voice a record names (`engine.speaker.language`).
fn speaker_language(engine: &serde_json::Value) -> Option<&str> {
    engine.get("speaker")?.get("language")?.as_str()
}

/// Local files of one task's inputs.
pub struct JobFiles {
    pub images: Vec<PathBuf>,
    pub logo: Option<PathBuf>,
    pub avatar: Option<PathBuf>,
    pub output: PathBuf,
    pub cover: PathBuf,
}

pub struct JobOptions {
    pub orientation: WireOrientation,
    pub voice: VoiceProfile,
    pub seed: u64,
    pub profile: Profile,
    pub time_limit: Duration,
}

pub fn render_job(req: &CreateRequest, files: JobFiles, opts: JobOptions) -> RenderJob {
    let elements = req.elements.as_ref();
    let watermark = elements
        .and_then(|e| e.watermark.as_ref())
        .zip(files.logo)
        .map(|(w, path)| Watermark {
            path,
            position: position(w.position),
            size_pct: w.size,
            opacity_pct: w.opacity,
        });
    let text = elements.and_then(|e| e.text.as_ref()).map(|t| TextOverlay {
        content: t.content.clone(),
        color: parse_hex(&t.color),
        font: font(t.font),
        size_px: u32::from(t.size),
        position: position(t.position),
    });
    let kind = match req.kind {
        RequestKind::NarratedSlideshow | RequestKind::Slideshow => RenderKind::Slideshow,
        RequestKind::LivingProperty => RenderKind::Living {
            room_types: req.images.iter().map(|i| i.room_type.map(room)).collect(),
        },
    };
    RenderJob {
        room_hints: kind.room_hints(files.images.len()),
        kind,
        images: files.images,
        script: req.script.clone(),
        voice: opts.voice,
        orientation: orientation(opts.orientation),
        mode: match req.orchestration_mode {
            OrchestrationMode::Sequential => Mode::Sequential,
            OrchestrationMode::Standard => Mode::Standard,
            OrchestrationMode::Artistic => Mode::Artistic,
        },
        subtitle: req.subtitle.map(subtitle),
        watermark,
        text,
        avatar: files.avatar,
        music: req.background_music,
        seed: opts.seed,
        profile: opts.profile,
        time_limit: opts.time_limit,
        output: files.output,
        cover: files.cover,
    }
}

pub fn orientation(o: WireOrientation) -> Orientation {
    match o {
        WireOrientation::Landscape => Orientation::Landscape,
        WireOrientation::Portrait => Orientation::Portrait,
    }
}

fn room(r: WireRoom) -> RoomType {
    RoomType::from_name(r.as_str()).expect("the wire room types are the renderer's")
}

fn subtitle(p: WirePreset) -> SubtitlePreset {
    match p {
        WirePreset::Classic => SubtitlePreset::Classic,
        WirePreset::Modern => SubtitlePreset::Modern,
        WirePreset::Bold => SubtitlePreset::Bold,
        WirePreset::Karaoke => SubtitlePreset::Karaoke,
    }
}

fn position(p: WirePosition) -> Position {
    Position::from_name(p.as_str()).expect("the wire positions are the renderer's")
}

fn font(f: WireFont) -> FontFamily {
    FontFamily::from_name(f.as_str()).expect("the wire fonts are the renderer's")
}

/// `#RRGGBB` (validated by the domain rules).
fn parse_hex(s: &str) -> [u8; 3] {
    let hex = s.trim_start_matches('#');
    let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("FF"), 16).unwrap_or(255);
    [byte(0), byte(2), byte(4)]
}

/// Same request, same video: the music and artistic choices are seeded by it.
pub fn seed_of(bytes: &[u8]) -> u64 {
    // FNV-1a: stable across builds and platforms, unlike the std hasher.
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use peakreel_domain::voices::PUBLIC_VOICES;

    #[test]
    fn every_public_voice_maps_to_a_valid_profile_of_its_gender() {
        let joe = peakreel_speech::packs::PiperVoice {
            id: "x".into(),
            name: "Joe".into(),
            gender: peakreel_speech::Gender::Male,
            accent: "american".into(),
            language: "en".into(),
            stem: "en_US-joe-medium".into(),
            model: "/nonexistent/en_US-joe-medium.onnx".into(),
            from_pack: false,
        };
        let engines = peakreel_speech::choice::Engines {
            remote: false,
            piper: std::slice::from_ref(&joe),
            flite: true,
        };
        for v in PUBLIC_VOICES {
            let gender = peakreel_speech::Gender::parse(v.gender).unwrap();
            let speaker = engines.speaker_for(peakreel_speech::VoiceTraits {
                gender,
                accent: v.accent,
                language: v.languages[0],
                remote_known: true,
            });
            match gender {
                peakreel_speech::Gender::Male => {
                    assert_eq!(speaker.model.as_deref(), Some("en_US-joe-medium"))
                }
                peakreel_speech::Gender::Female => {
                    assert_eq!(speaker.model.as_deref(), Some("slt"))
                }
            }
        }
    }

    #[test]
    fn engine_voices_speak_only_their_language() {
        let record = |languages: &[&str]| peakreel_store::VoiceRecord {
            id: "EXAVITQu4vr4xnSDxMaL".into(),
            owner: None,
            name: "Sarah".into(),
            gender: "female".into(),
            accent: "american".into(),
            languages: languages.iter().map(|l| l.to_string()).collect(),
            provider: "local".into(),
            engine: serde_json::json!({"espeak_voice": "en-us+f2", "flite_voice": "slt",
                "speaker": {"engine": "flite", "neural": false, "language": "en"}}),
            preview_path: None,
            created_at: 0,
            expires_at: None,
        };
        let sarah = record(&["en", "fr"]);
        let spec = VoiceSpec::from_record(&sarah).unwrap();
        assert_eq!(spec.profile(None).flite_voice.as_deref(), Some("slt"));
        assert_eq!(spec.profile(Some("fr")).flite_voice, None);
        // espeak-ng speaks the other languages, with a voice of that language and of the
        // voice's gender (the English one would read French words as English sounds).
        assert_eq!(spec.profile(None).espeak_voice, "en-us+f2");
        assert_eq!(spec.profile(Some("fr")).espeak_voice, "fr+f2");
        let mut adam = record(&["en", "de"]);
        adam.gender = "male".into();
        adam.engine["espeak_voice"] = serde_json::json!("en-us+m3");
        let adam_de = VoiceSpec::from_record(&adam).unwrap().profile(Some("de"));
        assert_eq!(adam_de.espeak_voice, "de+m3");
        assert_eq!(adam_de.piper_model, None);
        // A Piper model the catalogue found for a further language speaks it.
        adam.engine["by_language"] = serde_json::json!({
            "de": {"engine": "piper", "neural": true, "model": "de_DE-karl-medium"},
            "fr": {"engine": "espeak-ng", "neural": false, "model": "fr+m3"},
        });
        let spec = VoiceSpec::from_record(&adam).unwrap();
        assert_eq!(
            spec.profile(Some("de")).piper_model.as_deref(),
            Some("de_DE-karl-medium")
        );
        assert_eq!(spec.profile(Some("fr")).piper_model, None);
        assert_eq!(spec.profile(None).piper_model, None);
        // A voice named for no language is the operator's own and stays (a broken one must
        // fail with TTS_ERROR, not be replaced by a working one).
        let mut odd = record(&["en", "fr"]);
        odd.engine["espeak_voice"] = serde_json::json!("zz-nonexistent");
        let odd = VoiceSpec::from_record(&odd).unwrap();
        assert_eq!(odd.profile(None).espeak_voice, "zz-nonexistent");
        assert_eq!(odd.profile(Some("fr")).espeak_voice, "zz-nonexistent");
        let french_variant = record(&["fr"]);
        assert_eq!(
            VoiceSpec::from_record(&french_variant)
                .unwrap()
                .profile(None)
                .flite_voice,
            None
        );
        assert_eq!(
            VoiceSpec::from_record(&french_variant)
                .unwrap()
                .profile(None)
                .espeak_voice,
            "fr+f2"
        );
    }

    #[test]
    fn every_wire_room_type_has_a_camera_move() {
        for name in WireRoom::WIRE {
            let wire = WireRoom::parse(name).unwrap();
            assert_eq!(room(wire).name(), *name);
        }
    }

    /// A living request's room types become the job's room hints, one per image in
    /// order (`other`, also the default, says nothing); a slideshow's job has none.
    #[test]
    fn living_room_types_are_the_jobs_room_hints() {
        use peakreel_media::Room;
        let job_of = |kind: RequestKind, body: serde_json::Value| {
            let req = peakreel_domain::request::parse_create_request(
                kind,
                body.to_string().as_bytes(),
                true,
                &Default::default(),
            )
            .unwrap();
            let n = req.images.len();
            let files = JobFiles {
                images: (0..n).map(|i| PathBuf::from(format!("{i}.jpg"))).collect(),
                logo: None,
                avatar: None,
                output: "out.mp4".into(),
                cover: "cover.jpg".into(),
            };
            let opts = JobOptions {
                orientation: WireOrientation::Landscape,
                voice: VoiceProfile::espeak("en-us"),
                seed: 1,
                profile: Profile::Test,
                time_limit: Duration::from_secs(1),
            };
            render_job(&req, files, opts)
        };
        let url = |i: usize| format!("https://photos.example.com/{i}.jpg");
        let living = job_of(
            RequestKind::LivingProperty,
            serde_json::json!({
                "images": [
                    {"url": url(0), "room_type": "bathroom"},
                    {"url": url(1)},
                    {"url": url(2), "room_type": "pool"},
                    {"url": url(3), "room_type": "kitchen"},
                ],
                "voice": {"voice_id": "EXAVITQu4vr4xnSDxMaL"},
                "script": "Bright rooms and a calm garden make this home feel warm. ".repeat(5),
            }),
        );
        assert_eq!(
            living.room_hints,
            [
                Some(Room::Bathroom),
                None,
                Some(Room::GardenPool),
                Some(Room::Kitchen)
            ]
        );
        let slideshow = job_of(
            RequestKind::NarratedSlideshow,
            serde_json::json!({
                "images": (0..6).map(url).collect::<Vec<_>>(),
                "voice": {"voice_id": "EXAVITQu4vr4xnSDxMaL"},
                "script": "Bright rooms and a calm garden make this home feel warm. ".repeat(5),
            }),
        );
        assert_eq!(slideshow.room_hints, [None; 6]);
    }

    #[test]
    fn hex_colours_and_seeds() {
        assert_eq!(parse_hex("#FF8000"), [255, 128, 0]);
        assert_eq!(seed_of(b"a"), seed_of(b"a"));
        assert_ne!(seed_of(b"a"), seed_of(b"b"));
    }
}
