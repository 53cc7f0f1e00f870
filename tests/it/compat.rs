//! Compatibility details of issue 18 part 4: avatar ids in any UUID version, duplicate
//! JSON keys refused at every depth, and a UTF-8 byte-order mark before a body ignored.

use crate::support::*;
use serde_json::{json, Value};

/// Splice `extra` (a `"key": value` fragment) into the JSON object text `object` right
/// after its opening brace: the only way to send a key twice, since `Value` cannot hold it.
fn with_extra_member(object: &Value, extra: &str) -> Vec<u8> {
    let text = object.to_string();
    assert!(text.starts_with('{'));
    format!("{{{extra},{}", &text[1..]).into_bytes()
}

/// Any tasks the account's key can see.
async fn task_count(s: &Server, key: &str) -> usize {
    let r = s.get("/v1/tasks?limit=100", Some(key)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["data"].as_array().expect("data").len()
}

#[tokio::test]
async fn avatar_ids_of_every_uuid_version_are_looked_up() {
    let s = Server::start().await;
    let a = s.account("Max", 1000).await;
    for id in [
        // The public error page's own example (version 7 nibble, RFC 4122 variant).
        "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
        // Version 1, version 3, the nil UUID, and upper-case hex.
        "6fa459ea-ee8a-11ca-8d3f-0800200c9a66",
        "a3bb189e-8bf9-3888-9912-ace4e6543002",
        "00000000-0000-0000-0000-000000000000",
        "A1B2C3D4-E5F6-4890-ABCD-EF1234567890",
    ] {
        let mut body = s.slideshow(6);
        body["avatar_id"] = json!(id);
        let r = s.post(SLIDESHOW, &a.live.key, &body).await;
        let d = assert_error(&r, 404, "AVATAR_NOT_FOUND");
        assert_eq!(d, json!({ "avatar_id": id.to_ascii_lowercase() }), "{id}");
        let r = s.get(&format!("/v1/avatars/{id}"), Some(&a.live.key)).await;
        assert_error(&r, 404, "AVATAR_NOT_FOUND");
    }
    assert_eq!(task_count(&s, &a.live.key).await, 0);
    // A public avatar written in upper case is the same avatar.
    let upper = PUBLIC_AVATARS[0].to_ascii_uppercase();
    let r = s
        .get(&format!("/v1/avatars/{upper}"), Some(&a.test.key))
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["avatar_id"], PUBLIC_AVATARS[0]);
    let mut body = s.slideshow(6);
    body["avatar_id"] = json!(upper);
    let created = s.create_ok(SLIDESHOW, &a.test.key, &body).await;
    assert!(
        is_task_id(created["task_id"].as_str().unwrap()),
        "{created}"
    );
}

#[tokio::test]
async fn duplicate_keys_are_refused_at_every_depth_and_nothing_is_created() {
    let s = Server::start().await;
    let a = s.account("Max", 1000).await;
    let slideshow = s.slideshow(6);
    let mut nested = slideshow.clone();
    nested["elements_config"] = json!({ "enabled": true, "text": { "content": "Open house" } });
    let nested_text = nested.to_string().replace(
        r#""content":"Open house""#,
        r##""content":"Open house","color":"#FFFFFF","color":"#000000""##,
    );
    let living = s.living(2).to_string().replace(
        r#""room_type":"kitchen""#,
        r#""room_type":"kitchen","room_type":"garden""#,
    );
    let voice = slideshow.to_string().replace(
        &format!(r#""voice_id":"{VOICE}""#),
        &format!(r#""voice_id":"{VOICE}","voice_id":"{VOICE}""#),
    );
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        // Top level, even with the same value twice.
        (
            SLIDESHOW,
            with_extra_member(&slideshow, &format!("\"script\": {}", json!(script(270)))),
            vec!["script"],
        ),
        (SLIDESHOW, voice.into_bytes(), vec!["voice.voice_id"]),
        (
            SLIDESHOW,
            nested_text.into_bytes(),
            vec!["elements_config.text.color"],
        ),
        (LIVING, living.into_bytes(), vec!["images[1].room_type"]),
        // Two duplicates: both are named. An escaped key is the same key.
        (
            SLIDESHOW,
            with_extra_member(
                &slideshow,
                r#""orientation": "portrait", "\u006frientation": "landscape", "background_music": true, "background_music": false"#,
            ),
            vec!["orientation", "background_music"],
        ),
    ];
    for (path, body, want) in cases {
        let r = s.post_raw(path, &a.live.key, body.clone()).await;
        let errors = assert_validation(&r, &[]);
        assert_eq!(fields(&errors), want, "{}", String::from_utf8_lossy(&body));
        assert!(errors[0].1.contains("more than once"), "{errors:?}");
    }
    let voice_body = json!({ "name": "Calm", "base_voice_id": VOICE, "language": "en" });
    let r = s
        .post_raw(
            "/v1/voices",
            &a.live.key,
            with_extra_member(&voice_body, r#""name": "Other""#),
        )
        .await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["name"]);
    let avatar_body = json!({ "name": "Ann", "image_url": s.image_url(0) });
    let r = s
        .post_raw(
            "/v1/avatars",
            &a.live.key,
            with_extra_member(&avatar_body, r#""style": "static", "style": "static""#),
        )
        .await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["style"]);
    // Nothing was created or charged.
    assert_eq!(task_count(&s, &a.live.key).await, 0);
    assert_eq!(s.assert_ledger_consistent(&a).await, 1000);
    let voices = s.get("/v1/voices", Some(&a.live.key)).await;
    assert!(
        voices.json["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["owner"] == "public"),
        "{}",
        voices.json
    );
}

#[tokio::test]
async fn a_byte_order_mark_before_the_body_is_ignored() {
    let s = Server::start().await;
    let a = s.account("Max", 1000).await;
    let with_bom = |v: &Value| [&b"\xEF\xBB\xBF"[..], v.to_string().as_bytes()].concat();
    let r = s
        .post_raw(SLIDESHOW, &a.live.key, with_bom(&s.slideshow(6)))
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    assert_eq!(r.json["credits_charged"], 5);
    let r = s
        .post_raw(LIVING, &a.test.key, with_bom(&s.living(1)))
        .await;
    assert_eq!(r.status, 202, "{}", r.json);
    let voice = json!({ "name": "Calm", "base_voice_id": VOICE, "language": "en" });
    let r = s
        .post_raw("/v1/voices", &a.live.key, with_bom(&voice))
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["name"], "Calm");
    // Only one mark, and only first: two marks, or one after whitespace, are not JSON.
    let twice = [&b"\xEF\xBB\xBF"[..], &with_bom(&voice)].concat();
    let r = s.post_raw("/v1/voices", &a.live.key, twice).await;
    assert_error(&r, 400, "INVALID_JSON");
    let late = [&b" "[..], &with_bom(&voice)].concat();
    let r = s.post_raw("/v1/voices", &a.live.key, late).await;
    assert_error(&r, 400, "INVALID_JSON");
}

/// Found by the fuzzer: a malformed `language` filter listed nothing instead of saying
/// the filter was wrong.
#[tokio::test]
async fn a_malformed_language_filter_is_refused() {
    let s = Server::start().await;
    let a = s.account("Max", 10).await;
    for bad in ["", "english", "EN", "e", "e1"] {
        let r = s
            .get(&format!("/v1/voices?language={bad}"), Some(&a.live.key))
            .await;
        assert_eq!(fields(&assert_validation(&r, &[])), ["language"], "{bad:?}");
    }
    let r = s.get("/v1/voices?language=en", Some(&a.live.key)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(!r.json["data"].as_array().unwrap().is_empty());
}
