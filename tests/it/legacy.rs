//! The compatibility additions over HTTP, on an API-only server (tasks stay queued): the
//! legacy `POST /v1/real-estate/slideshow` field rules and codes, what it charges, the
//! task it makes, and the voice chosen by attributes on every create route.
//! Renders and staging are in `legacy_render.rs`.

use crate::support::*;
use serde_json::{json, Value};

pub const LEGACY: &str = "/v1/real-estate/slideshow";
const GEORGE: &str = "JBFqnCBsd6RMkjVDRZzb";

impl Site {
    /// A valid legacy slideshow request with `n` images and a `chars`-character script.
    pub fn legacy(&self, n: usize, chars: usize) -> Value {
        json!({
            "images": self.image_urls(n),
            "style": "do-not-modify",
            "voice": { "voice_id": VOICE },
            "script": script(chars),
        })
    }
}

async fn voice(s: &Server, key: &str, id: &str) -> Value {
    let r = s.get(&format!("/v1/voices/{id}"), Some(key)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json
}

#[tokio::test]
async fn legacy_route_shares_the_create_pipeline_and_refuses_what_it_does_not_take() {
    let s = Server::start().await;
    let acct = s.account("Max", 100).await;
    let key = acct.live.key.clone();

    // 5 and 9 images are accepted, at the configured price (default 5), and the task is
    // a `slideshow` like any other task.
    for n in [5, 9] {
        let r = s.post(LEGACY, &key, &s.legacy(n, 300)).await;
        assert_eq!(r.status, 202, "{}", r.json);
        assert_eq!(r.json["credits_charged"], 5);
        assert_eq!(r.json["status"], "queued");
        assert_eq!(
            r.header("location"),
            Some(&*format!(
                "/v1/tasks/{}",
                r.json["task_id"].as_str().unwrap()
            ))
        );
        let t = s.task(&key, r.json["task_id"].as_str().unwrap()).await;
        assert_eq!(t["type"], "slideshow", "{t}");
        assert_eq!(t["status"], "queued");
        assert_eq!(
            t["voice"],
            json!({ "voice_id": VOICE, "selected_by": "voice_id" })
        );
    }
    // The longest script allowed, and the other orchestration modes.
    let mut body = s.legacy(5, 5000);
    body["orchestration_mode"] = json!("artistic");
    assert_eq!(s.post(LEGACY, &key, &body).await.status, 202);
    assert_eq!(s.credits(&key).await, 85);

    // Each field rule with its code; nothing below is charged.
    let cases: Vec<(Value, &str, u16, &str)> = vec![
        (
            json!({ "images": s.image_urls(4) }),
            "images",
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({ "images": s.image_urls(10) }),
            "images",
            400,
            "VALIDATION_ERROR",
        ),
        (json!({ "style": null }), "style", 400, "VALIDATION_ERROR"),
        (
            json!({ "style": "furnish" }),
            "style",
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({ "style": "change-decoration" }),
            "style",
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({ "style": "furnish-it" }),
            "style",
            400,
            "VALIDATION_ERROR",
        ),
        (json!({ "script": null }), "script", 400, "VALIDATION_ERROR"),
        (json!({ "voice": null }), "voice", 400, "VALIDATION_ERROR"),
        (
            json!({ "script": "Three bedrooms, 2 bathrooms and a garden with old apple trees." }),
            "script",
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({ "orchestration_mode": "cinematic" }),
            "orchestration_mode",
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({ "webhook_url": "ftp://example.com/hook" }),
            "webhook_url",
            400,
            "VALIDATION_ERROR",
        ),
        (json!({ "script": script(49) }), "", 400, "SCRIPT_TOO_SHORT"),
        (
            json!({ "script": script(5001) }),
            "",
            400,
            "SCRIPT_TOO_LONG",
        ),
        (
            json!({ "voice": { "voice_id": "short" } }),
            "",
            400,
            "INVALID_VOICE_ID",
        ),
        (
            json!({ "voice": { "voice_id": "AAAAAAAAAAAAAAAAAAAA" } }),
            "",
            404,
            "VOICE_NOT_FOUND",
        ),
    ];
    for (patch, field, status, code) in cases {
        let mut body = s.legacy(5, 300);
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        let r = s.post(LEGACY, &key, &body).await;
        let details = assert_error(&r, status, code);
        if code == "VALIDATION_ERROR" {
            let errors = assert_validation(&r, &[]);
            assert_eq!(fields(&errors), [field], "{patch}: {}", r.json);
            if ["change-decoration", "furnish-it"].contains(&patch["style"].as_str().unwrap_or(""))
            {
                assert!(errors[0].1.contains("not enabled"), "{}", errors[0].1);
            }
        }
        if code.starts_with("SCRIPT_TOO") {
            let actual = if code == "SCRIPT_TOO_SHORT" { 49 } else { 5001 };
            assert_eq!(
                details,
                json!({ "min": 50, "max": 5000, "actual": actual, "images": 5 })
            );
        }
    }
    // An image URL that is not https: its own code, with its index.
    let mut body = s.legacy(5, 300);
    body["images"][2] = json!("http://example.com/a.jpg");
    let d = assert_error(&s.post(LEGACY, &key, &body).await, 400, "INVALID_IMAGE_URL");
    assert_eq!(d["index"], 2);

    // The narrated slideshow's presentation fields are unknown here, all named at once;
    // and `style` is unknown on the routes that never had it.
    let mut body = s.legacy(5, 300);
    for (k, v) in [
        ("orientation", json!("portrait")),
        ("avatar_id", json!(PUBLIC_AVATARS[0])),
        ("background_music", json!(true)),
        ("subtitle", json!({ "subtitle_style_preset": "classic" })),
        ("elements_config", json!({ "enabled": false })),
        ("modification_mode", json!("no_modify")),
    ] {
        body[k] = v;
    }
    let errors = assert_validation(&s.post(LEGACY, &key, &body).await, &[]);
    let mut named = fields(&errors);
    named.sort_unstable();
    assert_eq!(
        named,
        [
            "avatar_id",
            "background_music",
            "elements_config",
            "modification_mode",
            "orientation",
            "subtitle"
        ]
    );
    for (path, mut body) in [(SLIDESHOW, s.slideshow(6)), (LIVING, s.living(2))] {
        body["style"] = json!("do-not-modify");
        let errors = assert_validation(&s.post(path, &key, &body).await, &[]);
        assert_eq!(fields(&errors), ["style"], "{path}");
        assert!(errors[0].1.contains("not a known field"));
    }

    // Photos are fetched and checked as on the other routes; with no `orientation` field
    // here, mixed orientations are refused with advice this route can follow.
    let portrait = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        300,
        500,
        image::Rgb([90, 120, 150]),
    ));
    s.images().route(
        "/portrait.jpg",
        peakreel_testkit::Reply::Full {
            status: 200,
            content_type: "image/jpeg",
            body: bytes::Bytes::from(peakreel_testkit::encode(
                &portrait,
                image::ImageFormat::Jpeg,
            )),
        },
    );
    let mut body = s.legacy(5, 300);
    body["images"][4] = json!(s.images().url("/portrait.jpg"));
    let r = s.post(LEGACY, &key, &body).await;
    let d = assert_error(&r, 400, "MIXED_ORIENTATIONS");
    assert_eq!(d["orientations"][4], "portrait");
    let message = r.json["error"]["message"].as_str().unwrap();
    assert!(message.contains("one orientation"), "{message}");

    // Credits come before fetching: too few is refused and stores nothing.
    let poor = s.account("Max", 3).await;
    let d = assert_error(
        &s.post(LEGACY, &poor.live.key, &s.legacy(5, 300)).await,
        403,
        "INSUFFICIENT_CREDITS",
    );
    assert_eq!(d, json!({ "required": 5, "balance": 3 }));

    // A test key: same rules, same task, nothing charged.
    let r = s.post(LEGACY, &acct.test.key, &s.legacy(5, 300)).await;
    assert_eq!(r.status, 202, "{}", r.json);
    assert_eq!(
        (
            r.json["credits_charged"].clone(),
            r.json["livemode"].clone()
        ),
        (json!(0), json!(false))
    );

    assert_eq!(
        s.credits(&key).await,
        85,
        "only the three accepted live tasks were charged"
    );
    assert_eq!(s.assert_ledger_consistent(&acct).await, 85);
    assert_eq!(s.assert_ledger_consistent(&poor).await, 3);
}

#[tokio::test]
async fn a_voice_is_chosen_by_attributes_on_every_route_and_shown_on_the_task() {
    let s = Server::start().await;
    let acct = s.account("Max", 100).await;
    let key = acct.live.key.clone();
    let routes = [
        (SLIDESHOW, s.slideshow(6)),
        (LIVING, s.living(2)),
        (LEGACY, s.legacy(5, 300)),
    ];
    for (path, mut body) in routes {
        // female / en: a female voice that speaks English.
        body["voice"] = json!({ "gender": "female", "language": "en" });
        let r = s.post(path, &key, &body).await;
        assert_eq!(r.status, 202, "{path}: {}", r.json);
        let t = s.task(&key, r.json["task_id"].as_str().unwrap()).await;
        assert_eq!(t["voice"]["selected_by"], "attributes", "{t}");
        assert_eq!(
            t["voice"]["attributes"],
            json!({ "gender": "female", "language": "en" })
        );
        assert_eq!(t["voice"]["language"], "en");
        let v = voice(&s, &key, t["voice"]["voice_id"].as_str().unwrap()).await;
        assert_eq!(v["gender"], "female", "{path}: {v}");
        assert!(
            v["languages"].as_array().unwrap().contains(&json!("en")),
            "{v}"
        );

        // male / British (as a client spells it): a British male voice.
        body["voice"] = json!({ "gender": "Male", "accent": "British English" });
        let r = s.post(path, &key, &body).await;
        assert_eq!(r.status, 202, "{path}: {}", r.json);
        let t = s.task(&key, r.json["task_id"].as_str().unwrap()).await;
        let v = voice(&s, &key, t["voice"]["voice_id"].as_str().unwrap()).await;
        assert_eq!(
            (v["gender"].as_str(), v["accent"].as_str()),
            (Some("male"), Some("british")),
            "{v}"
        );
        assert_eq!(
            t["voice"]["attributes"],
            json!({ "gender": "male", "accent": "british" })
        );
    }

    // Male English with a style word: a neural (Piper) voice comes first, so an American
    // male one; among those, the style word decides.
    let mut body = s.slideshow(6);
    body["voice"] = json!({ "gender": "male", "language": "en", "style": "crisp professional", "age": "middle-aged" });
    let r = s.post(SLIDESHOW, &key, &body).await;
    assert_eq!(r.status, 202, "{}", r.json);
    let t = s.task(&key, r.json["task_id"].as_str().unwrap()).await;
    let v = voice(&s, &key, t["voice"]["voice_id"].as_str().unwrap()).await;
    assert_eq!(
        (v["name"].as_str(), v["accent"].as_str()),
        (Some("Arnold"), Some("american")),
        "{v}"
    );

    // voice_id wins over attributes.
    body["voice"] = json!({ "voice_id": VOICE, "gender": "male", "accent": "british" });
    let r = s.post(SLIDESHOW, &key, &body).await;
    assert_eq!(r.status, 202, "{}", r.json);
    let t = s.task(&key, r.json["task_id"].as_str().unwrap()).await;
    assert_eq!(
        t["voice"],
        json!({ "voice_id": VOICE, "selected_by": "voice_id" })
    );
    let charged = s.credits(&key).await;

    // Nothing speaks the language: 400 VOICE_NOT_FOUND naming what could not be met,
    // with what is on offer; nothing charged.
    body["voice"] = json!({ "gender": "female", "language": "xh", "accent": "australian" });
    let r = s.post(SLIDESHOW, &key, &body).await;
    let d = assert_error(&r, 400, "VOICE_NOT_FOUND");
    assert_keys(&d, &["unmet", "requested"]);
    assert_eq!(d["unmet"][0]["attribute"], "language");
    assert_eq!(d["unmet"][0]["requested"], "xh");
    assert!(
        d["unmet"][0]["available"]
            .as_array()
            .unwrap()
            .contains(&json!("en")),
        "{d}"
    );
    assert_eq!(d["unmet"][1]["attribute"], "accent");
    assert_eq!(d["unmet"].as_array().unwrap().len(), 2, "{d}");
    assert_eq!(
        d["requested"],
        json!({ "gender": "female", "language": "xh", "accent": "australian" })
    );

    // Field rules of the attributes stay VALIDATION_ERROR, unknown ones included.
    for (v, field) in [
        (json!({}), "voice.voice_id"),
        (json!({ "style": "warm" }), "voice.voice_id"),
        (json!({ "gender": "robot" }), "voice.gender"),
        (json!({ "gender": "female", "age": "ancient" }), "voice.age"),
        (
            json!({ "gender": "female", "style": ["warm", 3] }),
            "voice.style[1]",
        ),
        (json!({ "gender": "female", "pitch": 3 }), "voice.pitch"),
    ] {
        body["voice"] = v.clone();
        let errors = assert_validation(&s.post(SLIDESHOW, &key, &body).await, &[]);
        assert_eq!(fields(&errors), [field], "{v}");
    }
    assert_eq!(s.credits(&key).await, charged);

    // The caller's own voices take part (and win a tie); another account's do not.
    let r = s
        .post("/v1/voices", &key, &json!({ "name": "Our George", "base_voice_id": GEORGE, "language": "en", "rate": 0.9 }))
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let own = r.json["voice_id"].as_str().unwrap().to_string();
    body["voice"] = json!({ "gender": "male", "accent": "uk" });
    let r = s.post(SLIDESHOW, &key, &body).await;
    let t = s.task(&key, r.json["task_id"].as_str().unwrap()).await;
    assert_eq!(t["voice"]["voice_id"], json!(own));
    let other = s.account("Max", 100).await;
    let r = s.post(SLIDESHOW, &other.live.key, &body).await;
    let t = s
        .task(&other.live.key, r.json["task_id"].as_str().unwrap())
        .await;
    assert_eq!(t["voice"]["voice_id"], GEORGE);
}
