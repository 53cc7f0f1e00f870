//! Create-request validation (api.md §1, §3, §4; errors.md 400 rows).

use crate::support::*;
use reqwest::Method;
use serde_json::{json, Value};

/// Max: a concurrency limit of 10 per mode, so the few accepted creates never collide.
async fn max(s: &Server) -> Acct {
    s.account("Max", 1000).await
}

#[tokio::test]
async fn invalid_json() {
    let s = Server::start().await;
    let a = max(&s).await;
    // Truncated: the end of input is at line 1.
    let r = s
        .post_raw(SLIDESHOW, &a.live.key, b"{\"images\": [".to_vec())
        .await;
    let d = assert_error(&r, 400, "INVALID_JSON");
    assert_keys(&d, &["line", "column"]);
    assert_eq!(d["line"], 1);
    assert!(d["column"].as_u64().unwrap() >= 1, "{d}");
    // A syntax error on the third line.
    let r = s
        .post_raw(
            LIVING,
            &a.live.key,
            b"{\n  \"a\": 1,\n  \"b\" 2\n}".to_vec(),
        )
        .await;
    let d = assert_error(&r, 400, "INVALID_JSON");
    assert_eq!(d, json!({ "line": 3, "column": 7 }));
    // Valid JSON that is not an object.
    for body in [&b"[1, 2]"[..], b"\"text\"", b"42", b"null", b""] {
        let r = s.post_raw(SLIDESHOW, &a.live.key, body.to_vec()).await;
        let d = assert_error(&r, 400, "INVALID_JSON");
        assert_keys(&d, &["line", "column"]);
    }
    // Nothing was charged.
    assert_eq!(s.assert_ledger_consistent(&a).await, 1000);
}

#[tokio::test]
async fn validation_reports_every_error_at_once() {
    let s = Server::start().await;
    let a = max(&s).await;
    let body = json!({
        "images": ["https://img.example.com/a.jpg", "https://img.example.com/b.jpg"],
        "voice": { "voice_id": VOICE, "language": "english" },
        "script": script(100),
        "orientation": "diagonal",
        "orchestration_mode": "random",
        "oriantation": "portrait",
        "background_music": "yes",
        "subtitle": { "subtitle_style_preset": "comic" },
        "webhook_url": "http://hooks.example.com/x",
    });
    let r = s.post(SLIDESHOW, &a.live.key, &body).await;
    let errors = assert_validation(&r, &[]);
    let mut got = fields(&errors);
    got.sort_unstable();
    let mut want = vec![
        "images",
        "voice.language",
        "orientation",
        "orchestration_mode",
        "oriantation",
        "background_music",
        "subtitle.subtitle_style_preset",
        "webhook_url",
    ];
    want.sort_unstable();
    assert_eq!(got, want, "{errors:?}");
    // The message counts the errors when there are several.
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&want.len().to_string()));

    // Missing required fields are each named.
    let r = s.post(SLIDESHOW, &a.live.key, &json!({})).await;
    let mut got = fields(&assert_validation(&r, &[]))
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    got.sort();
    assert_eq!(got, ["images", "script", "voice"]);

    // Nested unknown fields and types carry their JSON path.
    let mut body = s.living(2);
    body["images"][1]["colour"] = json!("red");
    body["images"][0]["room_type"] = json!("garage");
    body["voice"]["speed"] = json!(2);
    let r = s.post(LIVING, &a.live.key, &body).await;
    let mut got = fields(&assert_validation(&r, &[]))
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    got.sort();
    assert_eq!(
        got,
        ["images[0].room_type", "images[1].colour", "voice.speed"]
    );

    // Duplicate images (after normalising scheme/host case) name the duplicate's index.
    let mut body = s.slideshow(6);
    body["images"][4] = json!(s.image_url(1).replace("https://", "HTTPS://"));
    let r = s.post(SLIDESHOW, &a.live.key, &body).await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["images[4]"]);

    // Too many images for each route.
    let mut body = s.slideshow(6);
    body["images"] = json!(s.image_urls(16));
    let r = s.post(SLIDESHOW, &a.live.key, &body).await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["images"]);
    let r = s
        .post(
            LIVING,
            &a.live.key,
            &json!({"images": [], "voice": {"voice_id": VOICE}, "script": script(80)}),
        )
        .await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["images"]);

    assert_eq!(s.assert_ledger_consistent(&a).await, 1000);
}

#[tokio::test]
async fn unknown_field_typo() {
    let s = Server::start().await;
    let a = max(&s).await;
    let mut body = s.slideshow(6);
    body["oriantation"] = json!("portrait");
    let r = s.post(SLIDESHOW, &a.live.key, &body).await;
    let errors = assert_validation(&r, &[]);
    assert_eq!(fields(&errors), ["oriantation"]);
    // A single error is named in the message.
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("oriantation"));
}

#[tokio::test]
async fn content_type_and_body_size() {
    let s = Server::start().await;
    let a = max(&s).await;
    let body = s.slideshow(6).to_string();
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut rb = s
            .request(Method::POST, SLIDESHOW)
            .bearer_auth(&a.live.key)
            .body(body.clone());
        if let Some(ct) = ct {
            rb = rb.header("content-type", ct);
        }
        let r = s.send(rb).await;
        let errors = assert_validation(&r, &[]);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].0.eq_ignore_ascii_case("content-type"),
            "field names the header: {errors:?}"
        );
    }
    // Parameters on the media type are fine.
    let r = s
        .send(
            s.request(Method::POST, SLIDESHOW)
                .bearer_auth(&a.live.key)
                .header("content-type", "application/json; charset=utf-8")
                .body(body.clone()),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.json);

    // Over 1 MiB: rejected with the limit, whatever the content, before the body is read.
    let r = s
        .raw_head(&format!(
            "POST {SLIDESHOW} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}",
            a.live.key,
            1024 * 1024 + 1
        ))
        .await;
    assert_validation(&r, &["limit_bytes"]);
    assert_eq!(r.json["error"]["details"]["limit_bytes"], 1024 * 1024);
    // Exactly at the limit is not "over" it: it is judged on its content.
    let padding = 1024 * 1024 - 2;
    let at_limit = format!("[{}]", " ".repeat(padding));
    assert_eq!(at_limit.len(), 1024 * 1024);
    let r = s
        .post_raw(SLIDESHOW, &a.live.key, at_limit.into_bytes())
        .await;
    assert_error(&r, 400, "INVALID_JSON");
}

#[tokio::test]
async fn test_scenario_only_with_test_keys() {
    let s = Server::start().await;
    let a = max(&s).await;
    let mut body = s.slideshow(6);
    body["test_scenario"] = json!("tts_error");
    let r = s.post(SLIDESHOW, &a.live.key, &body).await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["test_scenario"]);
    let r = s.post(SLIDESHOW, &a.test.key, &body).await;
    assert_eq!(r.status, 202, "{}", r.json);
    assert_eq!(r.json["livemode"], false);
    body["test_scenario"] = json!("explode");
    let r = s.post(SLIDESHOW, &a.test.key, &body).await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["test_scenario"]);
}

#[tokio::test]
async fn script_characters() {
    let s = Server::start().await;
    let a = max(&s).await;
    // A digit at character 11 (1-based) of a script of valid length.
    let mut text = script(270);
    text.replace_range(10..11, "3");
    let mut body = s.slideshow(6);
    body["script"] = json!(text);
    let r = s.post(SLIDESHOW, &a.live.key, &body).await;
    let errors = assert_validation(&r, &[]);
    assert_eq!(errors[0].0, "script");
    let msg = &errors[0].1;
    assert!(
        msg.contains("'3'") || msg.contains("\"3\""),
        "names the digit: {msg}"
    );
    assert!(msg.contains("11"), "names the position: {msg}");
    assert!(
        msg.to_lowercase().contains("spell"),
        "tells to spell numbers out: {msg}"
    );
    // Another symbol.
    let mut text = script(270);
    text.replace_range(0..1, "$");
    body["script"] = json!(text);
    let r = s.post(SLIDESHOW, &a.live.key, &body).await;
    let errors = assert_validation(&r, &[]);
    assert_eq!(errors[0].0, "script");
    assert!(errors[0].1.contains('$'), "{}", errors[0].1);
    // Letters of any alphabet, typographic quotes and dashes are fine.
    let base = "Ça brille – “lumière”, dit l’agent; c’est très joli, n’est-ce pas? Ünïcödé äöü ß. ";
    let mut text = base
        .chars()
        .cycle()
        .take(270)
        .collect::<String>()
        .trim()
        .to_string();
    while text.chars().count() < 270 {
        text.push('x');
    }
    let mut body_ok = s.slideshow(6);
    body_ok["script"] = json!(text);
    let r = s.post(SLIDESHOW, &a.live.key, &body_ok).await;
    assert_eq!(r.status, 202, "{}", r.json);
}

#[tokio::test]
async fn script_length() {
    let s = Server::start().await;
    let a = max(&s).await;
    let mut body = s.slideshow(6);
    body["script"] = json!(script(212));
    let r = s.post(SLIDESHOW, &a.live.key, &body).await;
    let d = assert_error(&r, 400, "SCRIPT_TOO_SHORT");
    assert_eq!(
        d,
        json!({ "min": 240, "max": 300, "actual": 212, "images": 6 })
    );
    body["script"] = json!(script(301));
    let r = s.post(SLIDESHOW, &a.live.key, &body).await;
    let d = assert_error(&r, 400, "SCRIPT_TOO_LONG");
    assert_eq!(
        d,
        json!({ "min": 240, "max": 300, "actual": 301, "images": 6 })
    );
    // Surrounding whitespace does not count; the bounds are inclusive.
    body["script"] = json!(format!("   {}  \n", script(240)));
    assert_eq!(s.post(SLIDESHOW, &a.live.key, &body).await.status, 202);
    body["script"] = json!(script(300));
    assert_eq!(s.post(SLIDESHOW, &a.test.key, &body).await.status, 202);
    // Characters, not bytes: 240 two-byte letters are enough.
    body["script"] = json!("é".repeat(240));
    assert_eq!(s.post(SLIDESHOW, &a.test.key, &body).await.status, 202);
    // Living property: 65 to 85 per image.
    let mut body = s.living(3);
    body["script"] = json!(script(194));
    let r = s.post(LIVING, &a.live.key, &body).await;
    let d = assert_error(&r, 400, "SCRIPT_TOO_SHORT");
    assert_eq!(
        d,
        json!({ "min": 195, "max": 255, "actual": 194, "images": 3 })
    );
    body["script"] = json!(script(256));
    let r = s.post(LIVING, &a.live.key, &body).await;
    let d = assert_error(&r, 400, "SCRIPT_TOO_LONG");
    assert_eq!(
        d,
        json!({ "min": 195, "max": 255, "actual": 256, "images": 3 })
    );
}

#[tokio::test]
async fn invalid_voice_and_avatar_ids() {
    let s = Server::start().await;
    let a = max(&s).await;
    for bad in ["short", "EXAVITQu4vr4xnSDxMa-", "EXAVITQu4vr4xnSDxMaLX", ""] {
        let mut body = s.slideshow(6);
        body["voice"]["voice_id"] = json!(bad);
        let r = s.post(SLIDESHOW, &a.live.key, &body).await;
        assert_eq!(
            assert_error(&r, 400, "INVALID_VOICE_ID"),
            json!({ "voice_id": bad })
        );
    }
    for bad in [
        "not-a-uuid",
        // Version 4 without hyphens, braced, and as a URN: not the canonical form.
        "3f1c2a9e7b4d4c1a9e2f5a6b7c8d9e01",
        "{3f1c2a9e-7b4d-4c1a-9e2f-5a6b7c8d9e01}",
        "urn:uuid:3f1c2a9e-7b4d-4c1a-9e2f-5a6b7c8d9e01",
        "3f1c2a9e-7b4d-4c1a-9e2f-5a6b7c8d9e0g",
    ] {
        let mut body = s.slideshow(6);
        body["avatar_id"] = json!(bad);
        let r = s.post(SLIDESHOW, &a.live.key, &body).await;
        assert_eq!(
            assert_error(&r, 400, "INVALID_AVATAR_ID"),
            json!({ "avatar_id": bad })
        );
    }
    // A generic field error wins over a specific code (all field errors together).
    let mut body = s.slideshow(6);
    body["voice"]["voice_id"] = json!("short");
    body["orientation"] = json!("diagonal");
    let r = s.post(SLIDESHOW, &a.live.key, &body).await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["orientation"]);
}

#[tokio::test]
async fn invalid_image_urls() {
    let s = Server::start().await;
    let a = max(&s).await;
    for bad in [
        "http://img.example.com/x.jpg",
        "ftp://img.example.com/x.jpg",
        "https://user:pass@img.example.com/x.jpg",
        "https://user@img.example.com/x.jpg",
        "not a url",
        "/relative/x.jpg",
        "file:///etc/passwd",
    ] {
        let mut body = s.slideshow(6);
        body["images"][2] = json!(bad);
        let r = s.post(SLIDESHOW, &a.live.key, &body).await;
        let d = assert_error(&r, 400, "INVALID_IMAGE_URL");
        // Credentials are never echoed back.
        let shown = bad.replace("user:pass@", "").replace("user@", "");
        assert_eq!(d, json!({ "index": 2, "url": shown }), "{bad}");
        // The same rule for living-property image objects.
        let mut body = s.living(4);
        body["images"][3]["url"] = json!(bad);
        let r = s.post(LIVING, &a.live.key, &body).await;
        assert_eq!(
            assert_error(&r, 400, "INVALID_IMAGE_URL"),
            json!({ "index": 3, "url": shown })
        );
    }
    // The first bad image is the one reported.
    let mut body = s.slideshow(6);
    body["images"][1] = json!("http://a.example.com/1.jpg");
    body["images"][4] = json!("ftp://a.example.com/4.jpg");
    let r = s.post(SLIDESHOW, &a.live.key, &body).await;
    assert_eq!(assert_error(&r, 400, "INVALID_IMAGE_URL")["index"], 1);
    assert_eq!(s.assert_ledger_consistent(&a).await, 1000);
}

#[tokio::test]
async fn elements_config_rules() {
    let s = Server::start().await;
    let a = max(&s).await;
    let with_text = |text: Value| {
        let mut body = s.slideshow(6);
        body["elements_config"] = json!({ "enabled": true, "text": text });
        body
    };
    let r = s
        .post(
            SLIDESHOW,
            &a.live.key,
            &with_text(json!({"content": "Open house", "color": "red"})),
        )
        .await;
    assert_eq!(
        fields(&assert_validation(&r, &[])),
        ["elements_config.text.color"]
    );
    let r = s
        .post(
            SLIDESHOW,
            &a.live.key,
            &with_text(json!({"content": "Open house", "color": "#12345G"})),
        )
        .await;
    assert_eq!(
        fields(&assert_validation(&r, &[])),
        ["elements_config.text.color"]
    );
    let r = s
        .post(
            SLIDESHOW,
            &a.live.key,
            &with_text(json!({"content": "Open house", "font": "Comic Sans MS"})),
        )
        .await;
    assert_eq!(
        fields(&assert_validation(&r, &[])),
        ["elements_config.text.font"]
    );
    let r = s
        .post(
            SLIDESHOW,
            &a.live.key,
            &with_text(json!({"content": "x".repeat(101), "size": 7, "position": "middle"})),
        )
        .await;
    let mut got = fields(&assert_validation(&r, &[]))
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    got.sort();
    assert_eq!(
        got,
        [
            "elements_config.text.content",
            "elements_config.text.position",
            "elements_config.text.size"
        ]
    );
    // A valid overlay in every documented font is accepted.
    for font in [
        "Inter",
        "Roboto",
        "Open Sans",
        "Montserrat",
        "Lato",
        "Poppins",
        "Playfair Display",
        "Merriweather",
    ] {
        let body = with_text(
            json!({"content": "Open house", "color": "#ffcc00", "font": font, "size": 48, "position": "bottom-center"}),
        );
        let r = s.post(SLIDESHOW, &a.test.key, &body).await;
        assert_eq!(r.status, 202, "{font}: {}", r.json);
    }
}

#[tokio::test]
async fn staging_modes_refused_without_provider() {
    let s = Server::start().await;
    let a = max(&s).await;
    for mode in ["change_decoration", "furnish"] {
        let mut body = s.living(3);
        body["modification_mode"] = json!(mode);
        let r = s.post(LIVING, &a.live.key, &body).await;
        let errors = assert_validation(&r, &[]);
        assert_eq!(fields(&errors), ["modification_mode"]);
        assert!(errors[0].1.contains("not enabled"), "{}", errors[0].1);
    }
    let mut body = s.living(3);
    body["modification_mode"] = json!("repaint");
    let r = s.post(LIVING, &a.live.key, &body).await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["modification_mode"]);
    // `orchestration_mode` belongs to the slideshow only.
    let mut body = s.living(3);
    body["orchestration_mode"] = json!("standard");
    let r = s.post(LIVING, &a.live.key, &body).await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["orchestration_mode"]);
    // Nothing was charged.
    assert_eq!(s.assert_ledger_consistent(&a).await, 1000);
    body = s.living(3);
    body["modification_mode"] = json!("no_modify");
    let r = s.post(LIVING, &a.live.key, &body).await;
    assert_eq!(r.status, 202, "{}", r.json);
    assert_eq!(r.json["credits_charged"], 6);
}
