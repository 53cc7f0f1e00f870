//! Custom voices and avatars (api.md §5, §5b, errors.md voice and avatar rows), against
//! the real binary: shapes, preview samples, ownership across accounts and key modes,
//! expiry at task creation, validation, the face-following avatar crop and the SSRF
//! guard on avatar images.

use crate::support::*;
use reqwest::Method;
use serde_json::{json, Value};

/// Rachel: a public voice that speaks English only.
const ENGLISH_ONLY: &str = "21m00Tcm4TlvDq8ikWAM";
/// The colour of the face-like region of the generated portrait.
const SKIN: [u8; 3] = [224, 172, 140];
const BACKGROUND: [u8; 3] = [70, 90, 110];

/// Unix seconds in the wire timestamp format.
fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .expect("unix time")
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .expect("format")
}

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

fn is_voice_id(s: &str) -> bool {
    s.len() == 20 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

async fn delete(s: &Server, path: &str, key: &str) -> Resp {
    s.send(s.request(Method::DELETE, path).bearer_auth(key))
        .await
}

/// `data` of a list answer.
fn data(r: &Resp) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.json);
    assert_request_id(r);
    r.json["data"].as_array().expect("data array").clone()
}

fn ids(list: &[Value], key: &str) -> Vec<String> {
    list.iter()
        .map(|v| v[key].as_str().expect("id").to_string())
        .collect()
}

/// A tuned variant of `base` speaking `language`; insists on 201 and returns the body.
async fn create_voice(s: &Server, key: &str, base: &str, language: &str, extra: Value) -> Value {
    let mut body = json!({ "name": "Calm variant", "base_voice_id": base, "language": language });
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    let r = s.post("/v1/voices", key, &body).await;
    assert_eq!(r.status, 201, "create voice: {}", r.json);
    assert_request_id(&r);
    r.json
}

/// A slideshow request narrated by `voice` (a `voice` object).
fn slideshow_with(s: &Server, voice: Value) -> Value {
    let mut body = s.slideshow(6);
    body["voice"] = voice;
    body
}

/// Seconds of audio in a file, by ffprobe.
async fn duration_seconds(bytes: &[u8], dir: &std::path::Path, name: &str) -> f64 {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write media");
    let out = tokio::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .await
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("duration {text:?}: {e}"))
}

#[tokio::test]
async fn a_custom_voice_is_a_tuned_variant_with_a_preview_listed_for_its_owner() {
    let s = Server::start().await;
    let a = s.account("Pro", 100).await;
    let b = s.account("Pro", 100).await;
    let base = s
        .get(&format!("/v1/voices/{VOICE}"), Some(&a.live.key))
        .await;
    assert_eq!(base.status, 200, "{}", base.json);

    let before = now_timestamp();
    let v = create_voice(
        &s,
        &a.live.key,
        VOICE,
        "fr",
        json!({ "name": "Calm Sarah", "rate": 0.9, "pitch": -2, "expires_in_days": 30 }),
    )
    .await;
    assert_keys(
        &v,
        &[
            "voice_id",
            "name",
            "languages",
            "gender",
            "accent",
            "provider",
            "owner",
            "preview_url",
            "created_at",
            "expires_at",
            "engine",
            "neural",
        ],
    );
    // A French variant of Sarah: her English engine voice cannot speak French.
    assert_eq!(
        (&v["engine"], &v["neural"]),
        (&json!("espeak-ng"), &json!(false))
    );
    let id = v["voice_id"].as_str().unwrap().to_string();
    assert!(is_voice_id(&id), "{id}");
    assert_ne!(id, VOICE);
    assert_eq!(v["name"], "Calm Sarah");
    assert_eq!(v["languages"], json!(["fr"]));
    assert_eq!(v["gender"], base.json["gender"]);
    assert_eq!(v["gender"], "female");
    assert_eq!(v["accent"], base.json["accent"]);
    assert_eq!(v["provider"], base.json["provider"]);
    assert_eq!(v["owner"], "account");
    let created = v["created_at"].as_str().unwrap();
    assert!(is_timestamp(created), "{created}");
    assert!(created >= before.as_str() && created <= now_timestamp().as_str());
    // expires_at is exactly 30 days after creation, as stored.
    let stored = s
        .sql(&format!(
            "SELECT created_at || ' ' || expires_at || ' ' || account_id || ' ' || mode FROM voices WHERE id = '{id}'"
        ))
        .await;
    let parts: Vec<&str> = stored.split(' ').collect();
    let (c, e): (i64, i64) = (parts[0].parse().unwrap(), parts[1].parse().unwrap());
    assert_eq!(e - c, 30 * 86_400);
    assert_eq!(v["created_at"], json!(rfc3339(c)));
    assert_eq!(v["expires_at"], json!(rfc3339(e)));
    assert_eq!((parts[2], parts[3]), (a.id.as_str(), "live"));

    // The preview: a WAV of real speech, downloadable without a key.
    let url = v["preview_url"].as_str().unwrap();
    assert!(url.contains("signature="), "{url}");
    let wav = s.send(s.client.get(url)).await;
    assert_eq!(
        wav.status,
        200,
        "{url}: {}",
        String::from_utf8_lossy(&wav.bytes)
    );
    assert!(
        wav.bytes.len() > 44 && &wav.bytes[..4] == b"RIFF" && &wav.bytes[8..12] == b"WAVE",
        "not a WAV: {:?}",
        &wav.bytes[..wav.bytes.len().min(16)]
    );
    let secs = duration_seconds(&wav.bytes, s.data_dir(), "preview-check.wav").await;
    assert!(secs > 0.5, "preview lasts {secs} s");

    // One voice, by id: the same object.
    let one = s.get(&format!("/v1/voices/{id}"), Some(&a.live.key)).await;
    assert_eq!(one.status, 200, "{}", one.json);
    let strip = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("preview_url");
        v
    };
    assert_eq!(strip(&one.json), strip(&v));
    assert!(one.json["preview_url"].is_string());

    // Listed for the owner in the same mode, next to the public voices.
    let list = data(&s.get("/v1/voices", Some(&a.live.key)).await);
    let listed = ids(&list, "voice_id");
    assert!(listed.contains(&id) && listed.contains(&VOICE.to_string()));
    let own: Vec<&Value> = list.iter().filter(|v| v["owner"] == "account").collect();
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(strip(own[0]), strip(&v));
    // Filters: it speaks French only, and it is female.
    for (query, present) in [
        ("language=fr", true),
        ("language=en", false),
        ("language=sv", false),
        ("gender=female", true),
        ("gender=male", false),
        ("language=fr&gender=female", true),
    ] {
        let list = data(
            &s.get(&format!("/v1/voices?{query}"), Some(&a.live.key))
                .await,
        );
        assert_eq!(
            ids(&list, "voice_id").contains(&id),
            present,
            "{query}: {list:?}"
        );
        assert!(!list.is_empty(), "{query}");
        if let Some(lang) = query.strip_prefix("language=").map(|l| &l[..2]) {
            assert!(
                list.iter()
                    .all(|v| v["languages"].as_array().unwrap().iter().any(|l| l == lang)),
                "{query}: {list:?}"
            );
        }
    }
    let fr = data(&s.get("/v1/voices?language=fr", Some(&a.live.key)).await);
    assert!(ids(&fr, "voice_id").contains(&VOICE.to_string()));

    // Not listed for the same account's test key, nor for another account.
    for key in [&a.test.key, &b.live.key, &b.test.key] {
        let list = data(&s.get("/v1/voices", Some(key)).await);
        assert!(!ids(&list, "voice_id").contains(&id));
        assert!(list.iter().all(|v| v["owner"] == "public"), "{list:?}");
    }

    // The tuning is real: the same base voice at half and at double speed.
    let mut lengths = Vec::new();
    for rate in [0.5, 2.0] {
        let v = create_voice(&s, &a.test.key, VOICE, "en", json!({ "rate": rate })).await;
        let wav = s
            .send(
                s.client
                    .get(v["preview_url"].as_str().expect("preview_url")),
            )
            .await;
        assert_eq!(wav.status, 200);
        lengths.push(duration_seconds(&wav.bytes, s.data_dir(), &format!("rate-{rate}.wav")).await);
    }
    assert!(
        lengths[0] > 1.8 * lengths[1],
        "rate 0.5 lasts {} s, rate 2.0 lasts {} s",
        lengths[0],
        lengths[1]
    );

    // The voice narrates a task in its own language.
    let r = s
        .post(
            SLIDESHOW,
            &a.live.key,
            &slideshow_with(&s, json!({ "voice_id": id, "language": "fr" })),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    assert_eq!(s.assert_ledger_consistent(&a).await, 95);
}

#[tokio::test]
async fn custom_voices_belong_to_one_account_and_one_mode() {
    let s = Server::start().await;
    let a = s.account("Pro", 100).await;
    let b = s.account("Pro", 100).await;
    let v = create_voice(&s, &a.live.key, VOICE, "en", json!({})).await;
    let id = v["voice_id"].as_str().unwrap().to_string();
    let path = format!("/v1/voices/{id}");
    let task = slideshow_with(&s, json!({ "voice_id": id }));

    // Another account: 403 VOICE_ACCESS_DENIED, in either of its modes.
    for key in [&b.live.key, &b.test.key] {
        let r = s.post(SLIDESHOW, key, &task).await;
        let d = assert_error(&r, 403, "VOICE_ACCESS_DENIED");
        assert_eq!(d, json!({ "voice_id": id }));
        let r = s.get(&path, Some(key)).await;
        let d = assert_error(&r, 403, "VOICE_ACCESS_DENIED");
        assert_eq!(d, json!({ "voice_id": id }));
        let r = delete(&s, &path, key).await;
        let d = assert_error(&r, 403, "VOICE_ACCESS_DENIED");
        assert_eq!(d, json!({ "voice_id": id }));
    }
    // The owner's other mode: as if it did not exist.
    let r = s.get(&path, Some(&a.test.key)).await;
    assert_eq!(
        assert_error(&r, 404, "VOICE_NOT_FOUND"),
        json!({ "voice_id": id })
    );
    let r = s.post(SLIDESHOW, &a.test.key, &task).await;
    assert_eq!(
        assert_error(&r, 404, "VOICE_NOT_FOUND"),
        json!({ "voice_id": id })
    );
    let r = delete(&s, &path, &a.test.key).await;
    assert_eq!(
        assert_error(&r, 404, "VOICE_NOT_FOUND"),
        json!({ "voice_id": id })
    );
    // Still there for its owner, and usable.
    let r = s.get(&path, Some(&a.live.key)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let r = s.post(SLIDESHOW, &a.live.key, &task).await;
    assert_eq!(r.status, 202, "{}", r.json);

    // Public voices cannot be deleted.
    let r = delete(&s, &format!("/v1/voices/{VOICE}"), &a.live.key).await;
    assert_eq!(
        assert_error(&r, 403, "VOICE_ACCESS_DENIED"),
        json!({ "voice_id": VOICE })
    );
    let r = s
        .get(&format!("/v1/voices/{VOICE}"), Some(&a.live.key))
        .await;
    assert_eq!(r.status, 200, "{}", r.json);

    // The owner deletes it: 204, then it is gone everywhere.
    let r = delete(&s, &path, &a.live.key).await;
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.bytes));
    assert!(r.bytes.is_empty());
    assert_request_id(&r);
    let r = s.get(&path, Some(&a.live.key)).await;
    assert_eq!(
        assert_error(&r, 404, "VOICE_NOT_FOUND"),
        json!({ "voice_id": id })
    );
    let r = delete(&s, &path, &a.live.key).await;
    assert_eq!(
        assert_error(&r, 404, "VOICE_NOT_FOUND"),
        json!({ "voice_id": id })
    );
    let r = s.post(SLIDESHOW, &a.live.key, &task).await;
    assert_eq!(
        assert_error(&r, 404, "VOICE_NOT_FOUND"),
        json!({ "voice_id": id })
    );
    let list = data(&s.get("/v1/voices", Some(&a.live.key)).await);
    assert!(!ids(&list, "voice_id").contains(&id));
    // Not even another account learns more than "not found" now.
    let r = s.get(&path, Some(&b.live.key)).await;
    assert_error(&r, 404, "VOICE_NOT_FOUND");

    // Only the one accepted task was charged.
    assert_eq!(s.assert_ledger_consistent(&a).await, 95);
    assert_eq!(s.assert_ledger_consistent(&b).await, 100);
}

#[tokio::test]
async fn an_expired_voice_is_refused_at_task_creation_and_nothing_is_charged() {
    let s = Server::start().await;
    let a = s.account("Pro", 100).await;
    let v = create_voice(
        &s,
        &a.live.key,
        VOICE,
        "en",
        json!({ "expires_in_days": 1 }),
    )
    .await;
    let id = v["voice_id"].as_str().unwrap().to_string();
    let expired: i64 = s
        .sql(&format!(
            "UPDATE voices SET expires_at = CAST(strftime('%s','now') AS INTEGER) - 3600 WHERE id = '{id}'; SELECT expires_at FROM voices WHERE id = '{id}'"
        ))
        .await
        .parse()
        .expect("expires_at");

    let r = s
        .post(
            SLIDESHOW,
            &a.live.key,
            &slideshow_with(&s, json!({ "voice_id": id })),
        )
        .await;
    let d = assert_error(&r, 403, "VOICE_EXPIRED");
    assert_keys(&d, &["voice_id", "expired_at"]);
    assert_eq!(d["voice_id"], json!(id));
    assert_eq!(d["expired_at"], json!(rfc3339(expired)));
    assert!(d["expired_at"].as_str().unwrap() < now_timestamp().as_str());
    // The living-property route refuses it the same way.
    let mut living = s.living(2);
    living["voice"] = json!({ "voice_id": id });
    let r = s.post(LIVING, &a.live.key, &living).await;
    assert_eq!(
        assert_error(&r, 403, "VOICE_EXPIRED"),
        json!({ "voice_id": id, "expired_at": rfc3339(expired) })
    );
    // Nor can it be the base of a new variant.
    let r = s
        .post(
            "/v1/voices",
            &a.live.key,
            &json!({ "name": "Again", "base_voice_id": id, "language": "en" }),
        )
        .await;
    assert_error(&r, 403, "VOICE_EXPIRED");

    // Nothing charged, no task.
    assert_eq!(s.assert_ledger_consistent(&a).await, 100);
    let tasks = s
        .sql(&format!(
            "SELECT COUNT(*) FROM tasks WHERE account_id = '{}'",
            a.id
        ))
        .await;
    assert_eq!(tasks, "0");

    // It can still be read (showing when it expired) and deleted.
    let r = s.get(&format!("/v1/voices/{id}"), Some(&a.live.key)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["expires_at"], json!(rfc3339(expired)));
    let r = delete(&s, &format!("/v1/voices/{id}"), &a.live.key).await;
    assert_eq!(r.status, 204, "{}", r.json);
}

#[tokio::test]
async fn custom_voice_requests_are_validated() {
    let s = Server::start().await;
    let a = s.account("Pro", 100).await;
    // Test mode throughout: no credits involved.
    let v = create_voice(&s, &a.test.key, VOICE, "fr", json!({})).await;
    let id = v["voice_id"].as_str().unwrap().to_string();

    // voice.language the voice does not speak.
    let r = s
        .post(
            SLIDESHOW,
            &a.test.key,
            &slideshow_with(&s, json!({ "voice_id": id, "language": "en" })),
        )
        .await;
    let errors = assert_validation(&r, &[]);
    assert_eq!(fields(&errors), ["voice.language"]);
    assert!(errors[0].1.contains("fr"), "{}", errors[0].1);
    // Its own language, given or by default, is accepted.
    for voice in [
        json!({ "voice_id": id, "language": "fr" }),
        json!({ "voice_id": id }),
    ] {
        let r = s
            .post(SLIDESHOW, &a.test.key, &slideshow_with(&s, voice))
            .await;
        assert_eq!(r.status, 202, "{}", r.json);
    }

    // A language the base voice lacks.
    let r = s
        .post(
            "/v1/voices",
            &a.test.key,
            &json!({ "name": "Spanish Rachel", "base_voice_id": ENGLISH_ONLY, "language": "es" }),
        )
        .await;
    let errors = assert_validation(&r, &[]);
    assert_eq!(fields(&errors), ["language"]);
    assert!(errors[0].1.contains("en"), "{}", errors[0].1);

    // Every field error together, unknown fields included.
    let r = s
        .post(
            "/v1/voices",
            &a.test.key,
            &json!({
                "name": "",
                "language": "english",
                "rate": 9,
                "pitch": -20,
                "expires_in_days": 0,
                "colour": "blue",
            }),
        )
        .await;
    let errors = assert_validation(&r, &[]);
    let mut got = fields(&errors);
    got.sort_unstable();
    assert_eq!(
        got,
        [
            "base_voice_id",
            "colour",
            "expires_in_days",
            "language",
            "name",
            "pitch",
            "rate"
        ],
        "{errors:?}"
    );
    // An unknown field alone.
    let r = s
        .post(
            "/v1/voices",
            &a.test.key,
            &json!({ "name": "X", "base_voice_id": VOICE, "language": "en", "speed": 2 }),
        )
        .await;
    let errors = assert_validation(&r, &[]);
    assert_eq!(fields(&errors), ["speed"]);
    assert!(errors[0].1.contains("not a known field"), "{}", errors[0].1);
    // A malformed and an unknown base voice.
    let r = s
        .post(
            "/v1/voices",
            &a.test.key,
            &json!({ "name": "X", "base_voice_id": "short", "language": "en" }),
        )
        .await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["base_voice_id"]);
    let missing = "ZZZZZZZZZZZZZZZZZZZZ";
    let r = s
        .post(
            "/v1/voices",
            &a.test.key,
            &json!({ "name": "X", "base_voice_id": missing, "language": "en" }),
        )
        .await;
    assert_eq!(
        assert_error(&r, 404, "VOICE_NOT_FOUND"),
        json!({ "voice_id": missing })
    );
    // Cloning from samples: refused, with the reason and the alternative.
    let r = s
        .post(
            "/v1/voices",
            &a.test.key,
            &json!({ "name": "Me", "samples": [s.image_url(0)] }),
        )
        .await;
    let errors = assert_validation(&r, &[]);
    assert_eq!(fields(&errors), ["samples"]);
    let msg = &errors[0].1;
    assert!(
        msg.contains("cloning") && msg.contains("not enabled") && msg.contains("base_voice_id"),
        "{msg}"
    );
    // Samples exclude the variant fields.
    let r = s
        .post(
            "/v1/voices",
            &a.test.key,
            &json!({ "name": "Me", "samples": [s.image_url(0)], "base_voice_id": VOICE }),
        )
        .await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["base_voice_id"]);
    // Not JSON.
    let r = s
        .post_raw("/v1/voices", &a.test.key, b"{name:".to_vec())
        .await;
    assert_error(&r, 400, "INVALID_JSON");

    // Nothing but the first voice was created.
    let list = data(&s.get("/v1/voices", Some(&a.test.key)).await);
    let own: Vec<String> = list
        .iter()
        .filter(|v| v["owner"] == "account")
        .map(|v| v["voice_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(own, [id]);
}

/// A wide picture with a skin-toned disc at the centre of the upper part, where the crop
/// of a picture without a detectable face centres (the disc is no face to BlazeFace).
fn portrait_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(1500, 500, |x, y| {
        let d = (f64::from(x) - 750.0).hypot(f64::from(y) - 200.0);
        if d < 110.0 {
            image::Rgb(SKIN)
        } else {
            image::Rgb(BACKGROUND)
        }
    });
    peakreel_testkit::encode(
        &image::DynamicImage::ImageRgb8(img),
        image::ImageFormat::Png,
    )
}

/// A real face, far right of centre in a wide picture: the face region of the sample
/// photo that ships in the vision package (`@vladmandic/human`'s `assets/`, installed by
/// scripts/install-deps.sh; nothing personal is committed), pasted at (750..1050,
/// 150..450) of a 1200×600 plain background. Also the picture's pixel at (x, y).
fn face_portrait() -> (Vec<u8>, image::RgbImage) {
    let sample = peakreel_vision::SidecarConfig::default_dir()
        .join("node_modules/@vladmandic/human/assets/screenshot-facedetect.jpg");
    let sample = image::open(&sample)
        .unwrap_or_else(|e| panic!("the vision package's sample {}: {e}", sample.display()))
        .to_rgb8();
    let mut canvas = image::RgbImage::from_pixel(1200, 600, image::Rgb(BACKGROUND));
    let face = image::imageops::crop_imm(&sample, 93, 267, 300, 300).to_image();
    image::imageops::replace(&mut canvas, &face, 750, 150);
    let png = peakreel_testkit::encode(
        &image::DynamicImage::ImageRgb8(canvas.clone()),
        image::ImageFormat::Png,
    );
    (png, canvas)
}

/// `IMAGE_PROCESSING_FAILED` for an avatar image: `reason`, and no `index` (there is no
/// `images` array). `field` is tolerated (see the report: the fetch path leaves it out,
/// the decode path in custom.rs puts it in).
#[track_caller]
fn assert_processing_details(d: &Value, reason: &str) {
    assert_eq!(d["reason"], json!(reason), "{d}");
    for (k, v) in d.as_object().expect("details object") {
        match k.as_str() {
            "reason" => {}
            "field" => assert_eq!(v, "image_url", "{d}"),
            other => panic!("unexpected key {other} in {d}"),
        }
    }
}

fn near(p: [u8; 3], want: [u8; 3], tolerance: i32) -> bool {
    p.iter()
        .zip(want)
        .all(|(&a, b)| (i32::from(a) - i32::from(b)).abs() <= tolerance)
}

#[tokio::test]
async fn custom_avatars_are_face_centred_owned_and_guarded() {
    // Only the image server's own address (127.0.0.2) is let through the SSRF guard.
    let s = Server::start_guarded().await;
    let a = s.account("Pro", 100).await;
    let b = s.account("Pro", 100).await;
    let (face_png, face_canvas) = face_portrait();
    let images = s.images();
    images.route(
        "/portrait.png",
        peakreel_testkit::Reply::Full {
            status: 200,
            content_type: "image/png",
            body: bytes::Bytes::from(face_png.clone()),
        },
    );
    images.route(
        "/page.png",
        peakreel_testkit::Reply::Full {
            status: 200,
            content_type: "image/png",
            body: bytes::Bytes::from_static(
                b"<!doctype html><html><body><h1>Not an image</h1></body></html>",
            ),
        },
    );
    let mut cut = face_png.clone();
    cut.truncate(cut.len() / 3);
    images.route(
        "/cut.png",
        peakreel_testkit::Reply::Full {
            status: 200,
            content_type: "image/png",
            body: bytes::Bytes::from(cut),
        },
    );
    let portrait = images.url("/portrait.png");

    let before = now_timestamp();
    let r = s
        .post(
            "/v1/avatars",
            &a.live.key,
            &json!({ "name": "Ann", "image_url": portrait }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_request_id(&r);
    let av = r.json.clone();
    assert_keys(
        &av,
        &["avatar_id", "name", "owner", "image_url", "created_at"],
    );
    let id = av["avatar_id"].as_str().unwrap().to_string();
    assert!(is_uuid_v4(&id), "{id}");
    assert_eq!(av["name"], "Ann");
    assert_eq!(av["owner"], "account");
    let created = av["created_at"].as_str().unwrap();
    assert!(is_timestamp(created) && created >= before.as_str());

    // The stored image: a 512×512 PNG centred on the face, downloadable without a key.
    let url = av["image_url"].as_str().unwrap();
    assert!(
        url.contains("signature=") && url.contains("expires="),
        "{url}"
    );
    let img = s.send(s.client.get(url)).await;
    assert_eq!(img.status, 200, "{url}");
    assert_eq!(img.header("content-type"), Some("image/png"));
    assert!(img.bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    let decoded = image::load_from_memory(&img.bytes)
        .expect("decodable")
        .to_rgb8();
    assert_eq!(decoded.dimensions(), (512, 512));
    // The face's middle is the crop's middle (BlazeFace finds it within a few pixels of
    // the pasted region's (899, 300)); a centred crop would show the background there.
    let scale = 600.0 / 512.0;
    let centre = patch_mean(&decoded, 256, 256, 12);
    let want = patch_mean(&face_canvas, 899, 300, (12.0 * scale) as u32);
    assert!(
        distance(centre, want) <= 60 && distance(centre, BACKGROUND) > 60,
        "crop centre {centre:?}, the face's middle {want:?}"
    );
    // The crop is the 600-px square around the face: its left quarter is background.
    let corner = decoded.get_pixel(5, 5).0;
    assert!(near(corner, BACKGROUND, 6), "corner pixel {corner:?}");

    // Listed and readable for its owner in its mode only.
    let list = data(&s.get("/v1/avatars", Some(&a.live.key)).await);
    assert_eq!(list.len(), PUBLIC_AVATARS.len() + 1);
    assert!(ids(&list, "avatar_id").contains(&id));
    for key in [&a.test.key, &b.live.key] {
        let list = data(&s.get("/v1/avatars", Some(key)).await);
        assert_eq!(list.len(), PUBLIC_AVATARS.len());
        assert!(!ids(&list, "avatar_id").contains(&id));
    }
    let path = format!("/v1/avatars/{id}");
    let r = s.get(&path, Some(&a.live.key)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["avatar_id"], json!(id));

    let mut task = s.slideshow(6);
    task["avatar_id"] = json!(id);
    // Another account: AVATAR_ACCESS_DENIED.
    let r = s.post(SLIDESHOW, &b.live.key, &task).await;
    assert_eq!(
        assert_error(&r, 403, "AVATAR_ACCESS_DENIED"),
        json!({ "avatar_id": id })
    );
    let r = s.get(&path, Some(&b.live.key)).await;
    assert_eq!(
        assert_error(&r, 403, "AVATAR_ACCESS_DENIED"),
        json!({ "avatar_id": id })
    );
    let r = delete(&s, &path, &b.live.key).await;
    assert_eq!(
        assert_error(&r, 403, "AVATAR_ACCESS_DENIED"),
        json!({ "avatar_id": id })
    );
    // The owner's other mode: not found.
    let r = s.post(SLIDESHOW, &a.test.key, &task).await;
    assert_eq!(
        assert_error(&r, 404, "AVATAR_NOT_FOUND"),
        json!({ "avatar_id": id })
    );
    let r = s.get(&path, Some(&a.test.key)).await;
    assert_eq!(
        assert_error(&r, 404, "AVATAR_NOT_FOUND"),
        json!({ "avatar_id": id })
    );
    // The owner uses it.
    let r = s.post(SLIDESHOW, &a.live.key, &task).await;
    assert_eq!(r.status, 202, "{}", r.json);

    // An image at a non-public address: SSRF_BLOCKED naming the field. 127.0.0.1 is the
    // image server's port on a loopback address outside the allow-list.
    let port = images.addr.port();
    for blocked in [
        format!("https://127.0.0.1:{port}/portrait.png"),
        "https://10.1.2.3/portrait.png".to_string(),
        "https://169.254.169.254/latest/meta-data".to_string(),
    ] {
        let r = s
            .post(
                "/v1/avatars",
                &a.live.key,
                &json!({ "name": "Ann", "image_url": blocked }),
            )
            .await;
        let d = assert_error(&r, 400, "SSRF_BLOCKED");
        assert_eq!(d, json!({ "url": blocked, "field": "image_url" }));
    }
    // HTML served as an image.
    let r = s
        .post(
            "/v1/avatars",
            &a.live.key,
            &json!({ "name": "Ann", "image_url": images.url("/page.png") }),
        )
        .await;
    let d = assert_error(&r, 400, "IMAGE_PROCESSING_FAILED");
    assert_processing_details(&d, "unsupported_format");
    // A PNG cut short: the right magic bytes, but it does not decode.
    let r = s
        .post(
            "/v1/avatars",
            &a.live.key,
            &json!({ "name": "Ann", "image_url": images.url("/cut.png") }),
        )
        .await;
    let d = assert_error(&r, 400, "IMAGE_PROCESSING_FAILED");
    assert_processing_details(&d, "decode_failed");
    // Talking avatars need a provider; styles are an enum; all errors together.
    let r = s
        .post(
            "/v1/avatars",
            &a.live.key,
            &json!({ "name": "Ann", "image_url": portrait, "style": "talking" }),
        )
        .await;
    let errors = assert_validation(&r, &[]);
    assert_eq!(fields(&errors), ["style"]);
    assert!(
        errors[0].1.contains("talking-avatar provider") && errors[0].1.contains("static"),
        "{}",
        errors[0].1
    );
    let r = s
        .post(
            "/v1/avatars",
            &a.live.key,
            &json!({ "name": "", "image_url": "http://x.example/a.png", "style": "3d", "size": 1 }),
        )
        .await;
    let mut got = fields(&assert_validation(&r, &[]))
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    got.sort_unstable();
    assert_eq!(got, ["image_url", "name", "size", "style"]);
    // An explicit static style is the default.
    let r = s
        .post(
            "/v1/avatars",
            &a.live.key,
            &json!({ "name": "Static Ann", "image_url": portrait, "style": "static" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let second = r.json["avatar_id"].as_str().unwrap().to_string();

    // Deleting: public avatars are refused, own ones go.
    let public = PUBLIC_AVATARS[0];
    let r = delete(&s, &format!("/v1/avatars/{public}"), &a.live.key).await;
    assert_eq!(
        assert_error(&r, 403, "AVATAR_ACCESS_DENIED"),
        json!({ "avatar_id": public })
    );
    let r = delete(&s, &path, &a.live.key).await;
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.bytes));
    assert!(r.bytes.is_empty());
    let r = s.get(&path, Some(&a.live.key)).await;
    assert_eq!(
        assert_error(&r, 404, "AVATAR_NOT_FOUND"),
        json!({ "avatar_id": id })
    );
    let r = s.post(SLIDESHOW, &a.live.key, &task).await;
    assert_eq!(
        assert_error(&r, 404, "AVATAR_NOT_FOUND"),
        json!({ "avatar_id": id })
    );
    let list = data(&s.get("/v1/avatars", Some(&a.live.key)).await);
    assert_eq!(
        ids(&list, "avatar_id")
            .into_iter()
            .filter(|i| !PUBLIC_AVATARS.contains(&i.as_str()))
            .collect::<Vec<_>>(),
        [second]
    );

    // Only the one accepted task was charged.
    assert_eq!(s.assert_ledger_consistent(&a).await, 95);
    assert_eq!(s.assert_ledger_consistent(&b).await, 100);
}

/// Download a completed task's video and return one frame at `at` (fraction of the
/// duration) as RGB, with the duration.
async fn frame_at(s: &Server, task: &Value, at: f64, name: &str) -> (image::RgbImage, f64) {
    assert_eq!(task["status"], "completed", "{task}");
    let url = task["result"]["video_url"].as_str().expect("video_url");
    let video = s.send(s.client.get(url)).await;
    assert_eq!(video.status, 200, "{url}");
    let secs = duration_seconds(&video.bytes, s.data_dir(), &format!("{name}.mp4")).await;
    let png = s.data_dir().join(format!("{name}.png"));
    let out = tokio::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-ss",
            &format!("{:.3}", secs * at),
            "-i",
        ])
        .arg(s.data_dir().join(format!("{name}.mp4")))
        .args(["-frames:v", "1", "-f", "image2", "-c:v", "png"])
        .arg(&png)
        .output()
        .await
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frame = image::open(&png).expect("frame").to_rgb8();
    (frame, secs)
}

/// Mean colour of the square of half-side `r` around (`x`, `y`).
fn patch_mean(img: &image::RgbImage, x: u32, y: u32, r: u32) -> [u8; 3] {
    let mut sum = [0u64; 3];
    let mut n = 0u64;
    for yy in y - r..=y + r {
        for xx in x - r..=x + r {
            let p = img.get_pixel(xx, yy).0;
            for c in 0..3 {
                sum[c] += u64::from(p[c]);
            }
            n += 1;
        }
    }
    sum.map(|v| (v / n) as u8)
}

fn distance(a: [u8; 3], b: [u8; 3]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, y)| (i32::from(x) - i32::from(y)).abs())
        .sum()
}

/// api.md §8.4: the custom avatar is drawn in a lower corner of the render. Two real
/// renders of the same request, with and without the avatar, by one worker: at a late
/// frame the avatar's face region shows the portrait's skin colour where the plain render
/// shows the photo, and elsewhere the two frames agree.
#[tokio::test]
async fn a_render_shows_the_custom_avatar_in_the_lower_left_corner() {
    let s = Server::start().await;
    let a = s.account("Pro", 100).await;
    s.images().route(
        "/portrait.png",
        peakreel_testkit::Reply::Full {
            status: 200,
            content_type: "image/png",
            body: bytes::Bytes::from(portrait_png()),
        },
    );
    let r = s
        .post(
            "/v1/avatars",
            &a.live.key,
            &json!({ "name": "Ann", "image_url": s.images().url("/portrait.png") }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let avatar_id = r.json["avatar_id"].as_str().unwrap().to_string();

    // The shortest valid request, rendered twice: without and with the avatar.
    let plain = s.shortest_slideshow();
    let mut with_avatar = plain.clone();
    with_avatar["avatar_id"] = json!(avatar_id);
    let t1 = s.create_ok(SLIDESHOW, &a.live.key, &plain).await;
    let t2 = s.create_ok(SLIDESHOW, &a.live.key, &with_avatar).await;
    let _worker = s.site().launch(Launch::worker(1)).await;
    let limit = std::time::Duration::from_secs(900);
    let id1 = t1["task_id"].as_str().unwrap();
    let id2 = t2["task_id"].as_str().unwrap();
    let done1 = s.wait_done(&a.live.key, id1, limit).await;
    let done2 = s.wait_done(&a.live.key, id2, limit).await;
    let (f1, d1) = frame_at(&s, &done1, 0.7, "plain").await;
    let (f2, d2) = frame_at(&s, &done2, 0.7, "avatar").await;
    assert!((d1 - d2).abs() < 0.2, "durations {d1} vs {d2}");
    assert_eq!(f1.dimensions(), f2.dimensions());

    // Where render.rs puts it: a circle of 22 % of the short side, 4 % from the
    // lower-left edges, lifted by at most 8 % of its size with the voice. The portrait's
    // face sits at (0.5, 0.4) of the avatar with a radius of 0.22 of it.
    let (w, h) = f2.dimensions();
    let short = f64::from(w.min(h));
    let d = ((short * 0.22) as u32) & !1;
    let mg = (short * 0.04).round() as u32;
    let (x, y) = (mg + d / 2, h - mg - d + d * 2 / 5);
    let r = d / 20;
    let face = patch_mean(&f2, x, y, r);
    let photo = patch_mean(&f1, x, y, r);
    assert!(
        near(face, SKIN, 30),
        "avatar render at ({x},{y}): {face:?}, want about {SKIN:?}"
    );
    assert!(
        distance(face, photo) > 40,
        "the avatar region {face:?} looks like the plain render's {photo:?}"
    );
    // Away from the avatar (the upper-right quarter), the two renders agree.
    for (cx, cy) in [(w * 3 / 4, h / 4), (w / 2, h / 3)] {
        let (p1, p2) = (patch_mean(&f1, cx, cy, r), patch_mean(&f2, cx, cy, r));
        assert!(
            distance(p1, p2) <= 24,
            "renders differ away from the avatar at ({cx},{cy}): {p1:?} vs {p2:?}"
        );
    }
    assert_eq!(s.assert_ledger_consistent(&a).await, 90);
}

/// A task accepted with a custom voice that expires, or with a custom avatar that is
/// deleted, before a worker takes it: the task fails with that reason and is refunded.
#[tokio::test]
async fn a_voice_expiring_or_an_avatar_deleted_while_queued_fails_the_task_with_a_refund() {
    let s = Server::start().await;
    let a = s.account("Pro", 100).await;
    s.images().route(
        "/portrait.png",
        peakreel_testkit::Reply::Full {
            status: 200,
            content_type: "image/png",
            body: bytes::Bytes::from(portrait_png()),
        },
    );
    let expiring = create_voice(
        &s,
        &a.live.key,
        VOICE,
        "en",
        json!({ "expires_in_days": 1 }),
    )
    .await["voice_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s
        .post(
            "/v1/avatars",
            &a.live.key,
            &json!({ "name": "Ann", "image_url": s.images().url("/portrait.png") }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let avatar_id = r.json["avatar_id"].as_str().unwrap().to_string();

    let mut t1 = s.slideshow(6);
    t1["script"] = json!(script(240));
    t1["voice"] = json!({ "voice_id": expiring });
    let mut t2 = s.slideshow(6);
    t2["script"] = json!(script(240));
    t2["avatar_id"] = json!(avatar_id);
    let t1 = s.create_ok(SLIDESHOW, &a.live.key, &t1).await;
    let t2 = s.create_ok(SLIDESHOW, &a.live.key, &t2).await;
    assert_eq!(s.assert_ledger_consistent(&a).await, 90);

    let expired: i64 = s
        .sql(&format!(
            "UPDATE voices SET expires_at = CAST(strftime('%s','now') AS INTEGER) - 60 WHERE id = '{expiring}'; SELECT expires_at FROM voices WHERE id = '{expiring}'"
        ))
        .await
        .parse()
        .expect("expires_at");
    let r = delete(&s, &format!("/v1/avatars/{avatar_id}"), &a.live.key).await;
    assert_eq!(r.status, 204, "{}", r.json);

    let _worker = s.site().launch(Launch::worker(1)).await;
    let limit = std::time::Duration::from_secs(600);
    let done1 = s
        .wait_done(&a.live.key, t1["task_id"].as_str().unwrap(), limit)
        .await;
    let done2 = s
        .wait_done(&a.live.key, t2["task_id"].as_str().unwrap(), limit)
        .await;
    assert_eq!(done1["status"], "failed", "{done1}");
    assert_eq!(done1["error"]["code"], "VOICE_EXPIRED", "{done1}");
    assert!(done1["result"].is_null(), "{done1}");
    // If the task error carries details, they are those of errors.md.
    if let Some(d) = done1["error"].get("details") {
        assert_eq!(
            d,
            &json!({ "voice_id": expiring, "expired_at": rfc3339(expired) })
        );
    }
    assert_eq!(done2["status"], "failed", "{done2}");
    assert_eq!(done2["error"]["code"], "AVATAR_URL_ERROR", "{done2}");
    for done in [&done1, &done2] {
        assert!(
            done["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("refunded")),
            "{done}"
        );
        assert!(is_timestamp(done["completed_at"].as_str().unwrap()));
    }
    // Both refunded.
    assert_eq!(s.assert_ledger_consistent(&a).await, 100);
}
