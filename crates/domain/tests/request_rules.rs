use peakreel_domain::request::{parse_create_request, RequestKind, UrlPolicy};
use peakreel_domain::{ModificationMode, OrchestrationMode, Prices, TestScenario};
use peakreel_types::Code;
use serde_json::{json, Value};

fn images(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("https://img.example.com/{i}.jpg"))
        .collect()
}

/// A valid script of exactly `len` characters (no leading or trailing space to trim).
fn script(len: usize) -> String {
    let body: String = "Sunny rooms ".chars().cycle().take(len - 1).collect();
    let s = format!("{}x", body.trim_end()).chars().collect::<String>();
    let pad = len - s.chars().count();
    format!("{}{}", "a".repeat(pad), s)
}

fn slideshow(
    body: Value,
    live: bool,
) -> Result<peakreel_domain::CreateRequest, peakreel_types::ApiError> {
    parse_create_request(
        RequestKind::NarratedSlideshow,
        body.to_string().as_bytes(),
        live,
        &UrlPolicy::default(),
    )
}

fn valid() -> Value {
    json!({ "images": images(6), "voice": {"voice_id": "EXAVITQu4vr4xnSDxMaL"}, "script": script(260) })
}

#[test]
fn a_minimal_request_gets_the_documented_defaults() {
    let req = slideshow(valid(), true).unwrap();
    assert_eq!(req.orchestration_mode, OrchestrationMode::Artistic);
    assert_eq!(req.test_scenario, TestScenario::Success);
    assert_eq!(req.modification_mode, ModificationMode::NoModify);
    assert_eq!(req.price(&Prices::default()), 5);
    assert!(req.orientation.is_none() && req.subtitle.is_none() && req.elements.is_none());
}

#[test]
fn script_bounds_are_inclusive_and_reported_with_details() {
    let mut body = valid();
    body["script"] = json!(script(240));
    assert!(slideshow(body.clone(), true).is_ok());
    body["script"] = json!(script(300));
    assert!(slideshow(body.clone(), true).is_ok());
    body["script"] = json!(script(212));
    let err = slideshow(body.clone(), true).unwrap_err();
    assert_eq!(err.code, Code::ScriptTooShort);
    assert_eq!(
        err.details.unwrap(),
        json!({"min":240,"max":300,"actual":212,"images":6})
    );
    body["script"] = json!(format!("   {}   ", script(301)));
    assert_eq!(slideshow(body, true).unwrap_err().code, Code::ScriptTooLong);
}

#[test]
fn digits_in_the_script_name_the_character_and_position() {
    let mut body = valid();
    body["script"] = json!(format!("Has 3 rooms {}", script(250)));
    let err = slideshow(body, true).unwrap_err();
    assert_eq!(err.code, Code::ValidationError);
    let first = &err.details.unwrap()["errors"][0];
    assert_eq!(first["field"], "script");
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("'3' at character 5"),
        "{first}"
    );
}

#[test]
fn every_field_error_is_reported_together_and_wins_over_specific_codes() {
    let body = json!({
        "images": images(3), "voice": {"voice_id": "short"}, "script": 5,
        "oriantation": "portrait", "orientation": "sideways", "test_scenario": "success"
    });
    let err = slideshow(body, true).unwrap_err();
    assert_eq!(err.code, Code::ValidationError);
    let fields: Vec<String> = err.details.unwrap()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        fields,
        [
            "images",
            "script",
            "orientation",
            "test_scenario",
            "oriantation"
        ]
    );
}

#[test]
fn specific_codes_follow_field_order() {
    let mut body = valid();
    body["voice"]["voice_id"] = json!("bad");
    body["avatar_id"] = json!("not-a-uuid");
    assert_eq!(
        slideshow(body.clone(), true).unwrap_err().code,
        Code::InvalidVoiceId
    );
    body["images"][2] = json!("http://img.example.com/x.jpg");
    let err = slideshow(body, true).unwrap_err();
    assert_eq!(err.code, Code::InvalidImageUrl);
    assert_eq!(
        err.details.unwrap(),
        json!({"index": 2, "url": "http://img.example.com/x.jpg"})
    );
}

#[test]
fn credentials_other_schemes_and_duplicates_are_refused() {
    for (url, code) in [
        (
            "https://user:pass@img.example.com/a.jpg",
            Code::InvalidImageUrl,
        ),
        ("ftp://img.example.com/a.jpg", Code::InvalidImageUrl),
        ("not a url", Code::InvalidImageUrl),
        ("HTTPS://IMG.EXAMPLE.COM/0.jpg", Code::ValidationError),
    ] {
        let mut body = valid();
        body["images"][5] = json!(url);
        assert_eq!(slideshow(body, true).unwrap_err().code, code, "{url}");
    }
}

#[test]
fn test_scenario_needs_a_test_key() {
    let mut body = valid();
    body["test_scenario"] = json!("tts_error");
    assert_eq!(
        slideshow(body.clone(), true).unwrap_err().code,
        Code::ValidationError
    );
    assert_eq!(
        slideshow(body, false).unwrap().test_scenario,
        TestScenario::TtsError
    );
}

#[test]
fn living_property_prices_per_image_and_refuses_staging_without_a_provider() {
    let imgs: Vec<Value> = (0..3)
        .map(|i| json!({"url": format!("https://h.example/{i}.jpg"), "room_type": "kitchen"}))
        .collect();
    let mut body = json!({"images": imgs, "voice": {"voice_id": "EXAVITQu4vr4xnSDxMaL"}, "script": script(210)});
    let parse = |b: &Value, staging| {
        parse_create_request(
            RequestKind::LivingProperty,
            b.to_string().as_bytes(),
            true,
            &UrlPolicy {
                staging_enabled: staging,
                ..UrlPolicy::default()
            },
        )
    };
    assert_eq!(parse(&body, false).unwrap().price(&Prices::default()), 6);
    body["modification_mode"] = json!("furnish");
    let err = parse(&body, false).unwrap_err();
    assert_eq!(
        err.details.unwrap()["errors"][0]["field"],
        "modification_mode"
    );
    assert_eq!(parse(&body, true).unwrap().price(&Prices::default()), 12);
}
