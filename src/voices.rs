//! The voice catalogue of this server (issue 14): every public voice mapped to the engine
//! that speaks it best here, the operator's Piper voice packs as public voices of their
//! own, and `peakreel voices`, which prints the mapping.

use peakreel_domain::voices::PUBLIC_VOICES;
use peakreel_speech::packs::PiperVoice;
use peakreel_speech::{Gender, Speaker, Speech, VoiceTraits};
use peakreel_store::VoiceRecord;
use serde_json::{json, Value};
use std::path::Path;

/// A stable creation time for catalogue rows, so their `created_at` never changes.
pub const CATALOGUE_CREATED_AT: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// Adds the Piper models of the operator's voices directory to `speech` (logging each
/// model left out and why). Without Piper installed the packs cannot be spoken and are
/// ignored with a warning.
pub fn add_voice_packs(speech: &mut Speech, dir: Option<&Path>) {
    let Some(dir) = dir else { return };
    let (packs, warnings) = peakreel_speech::packs::scan(dir);
    for w in warnings {
        tracing::warn!("{w}");
    }
    match speech.piper.take() {
        Some(p) => {
            tracing::info!(dir = %dir.display(), models = packs.len(), "voice packs loaded");
            speech.piper = Some(p.with_packs(packs));
        }
        None if !packs.is_empty() => {
            tracing::warn!(dir = %dir.display(), "Piper is not installed: the voice packs are not used");
        }
        None => {}
    }
}

/// The voices directory from the environment, for commands that load no configuration
/// file (`peakreel render`).
pub fn voices_dir_from_env() -> Option<std::path::PathBuf> {
    std::env::var_os("PEAKREEL__SPEECH__VOICES_DIR").map(Into::into)
}

/// The public catalogue on this server: the built-in voices, then one voice per pack
/// model. Each record's `engine` JSON says how it is spoken: `espeak_voice`, `rate`,
/// `pitch`, the chosen `piper_model` or `flite_voice`, `pack` (true for a pack voice,
/// which the remote provider does not know) and `speaker` (`{engine, neural}`, the
/// Extension fields of `GET /v1/voices`), and `by_language`: for each further language
/// of the voice, the speaker chosen for it (`{engine, neural, model}`; a pack's Piper
/// model of that language and gender, else espeak-ng).
pub fn catalogue(speech: &Speech) -> Vec<VoiceRecord> {
    let mut out: Vec<VoiceRecord> = PUBLIC_VOICES
        .iter()
        .map(|v| {
            let gender = Gender::parse(v.gender).expect("catalogue genders are female or male");
            let speaker_in = |language| {
                speech.speaker_for(VoiceTraits {
                    gender,
                    accent: v.accent,
                    language,
                    remote_known: true,
                })
            };
            let language = v.languages[0];
            let mut engine = engine_json(
                &speaker_in(language),
                language,
                v.engine.espeak_voice,
                v.engine.rate,
                v.engine.pitch,
                false,
            );
            let others: serde_json::Map<String, Value> = v.languages[1..]
                .iter()
                .map(|l| {
                    let s = speaker_in(l);
                    let view = json!({"engine": s.engine, "neural": s.neural, "model": s.model});
                    (l.to_string(), view)
                })
                .collect();
            if !others.is_empty() {
                engine["by_language"] = Value::Object(others);
            }
            record(
                v.voice_id,
                v.name,
                gender,
                v.accent,
                v.languages.iter().map(|l| l.to_string()).collect(),
                engine,
            )
        })
        .collect();
    for p in speech.piper_voices().iter().filter(|p| p.from_pack) {
        out.push(pack_record(p));
    }
    out
}

fn pack_record(p: &PiperVoice) -> VoiceRecord {
    let speaker = Speaker {
        engine: "piper",
        neural: true,
        model: Some(p.stem.clone()),
    };
    let espeak = peakreel_speech::choice::espeak_voice_for(p.gender, &p.language);
    record(
        &p.id,
        &p.name,
        p.gender,
        &p.accent,
        vec![p.language.clone()],
        engine_json(&speaker, &p.language, &espeak, 1.0, 0.0, true),
    )
}

fn record(
    id: &str,
    name: &str,
    gender: Gender,
    accent: &str,
    languages: Vec<String>,
    engine: Value,
) -> VoiceRecord {
    VoiceRecord {
        id: id.to_string(),
        owner: None,
        name: name.to_string(),
        gender: gender.as_str().to_string(),
        accent: accent.to_string(),
        languages,
        provider: "local".into(),
        engine,
        preview_path: None,
        created_at: CATALOGUE_CREATED_AT,
        expires_at: None,
    }
}

/// `language`: the one language the chosen Piper model or flite voice speaks (a variant
/// in another language of the voice is spoken by espeak-ng).
fn engine_json(
    speaker: &Speaker,
    language: &str,
    espeak_voice: &str,
    rate: f32,
    pitch: f32,
    pack: bool,
) -> Value {
    let mut e = json!({
        "espeak_voice": espeak_voice,
        "rate": rate,
        "pitch": pitch,
        "pack": pack,
        "speaker": { "engine": speaker.engine, "neural": speaker.neural, "language": language },
    });
    match speaker.engine {
        "piper" => e["piper_model"] = json!(speaker.model),
        "flite" => e["flite_voice"] = json!(speaker.model),
        // espeak-ng's choice replaces the catalogue's variant: some (en-gb+f3) were
        // measured speaking at a male pitch.
        "espeak-ng" => e["espeak_voice"] = json!(speaker.model),
        _ => {}
    }
    e
}

/// `peakreel voices`: the catalogue and each voice's engine, as a table or JSON lines.
pub async fn run_cli(voices_dir: Option<&Path>, json_lines: bool) -> anyhow::Result<()> {
    let mut speech = Speech::detect().await;
    add_voice_packs(&mut speech, voices_dir);
    let rows = catalogue(&speech);
    if !json_lines {
        println!(
            "{:<20}  {:<10}  {:<6}  {:<10}  {:<9}  {:<6}  model",
            "voice_id", "name", "gender", "accent", "engine", "neural"
        );
    }
    for v in &rows {
        let speaker = &v.engine["speaker"];
        let engine = speaker["engine"].as_str().unwrap_or("?");
        let neural = speaker["neural"].as_bool().unwrap_or(false);
        let model = ["piper_model", "flite_voice", "espeak_voice"]
            .iter()
            .find_map(|k| v.engine.get(*k).and_then(Value::as_str))
            .unwrap_or("");
        if json_lines {
            println!(
                "{}",
                json!({"voice_id": v.id, "name": v.name, "gender": v.gender, "accent": v.accent,
                       "languages": v.languages, "engine": engine, "neural": neural, "model": model})
            );
        } else {
            println!(
                "{:<20}  {:<10}  {:<6}  {:<10}  {:<9}  {:<6}  {model}",
                v.id, v.name, v.gender, v.accent, engine, neural
            );
        }
    }
    Ok(())
}
