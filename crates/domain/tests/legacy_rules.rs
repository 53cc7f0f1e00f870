//! The legacy slideshow route's rules as `parse_create_request` applies them, its price,
//! and stored requests written before voices could be chosen by attributes.

use peakreel_domain::request::{parse_create_request, RequestKind, UrlPolicy};
use peakreel_domain::voices::PUBLIC_VOICES;
use peakreel_domain::{CreateRequest, ModificationMode, OrchestrationMode, Prices, VoiceCandidate};
use peakreel_types::Code;
use serde_json::{json, Value};

fn body(n: usize, style: &str) -> Value {
    json!({
        "images": (0..n).map(|i| format!("https://img.example.com/{i}.jpg")).collect::<Vec<_>>(),
        "style": style,
        "voice": { "gender": "male", "accent": "british" },
        "script": "Welcome home. Bright rooms open onto a quiet garden, and the kitchen gleams.",
    })
}

fn parse(body: &Value, staging: bool) -> Result<CreateRequest, peakreel_types::ApiError> {
    let policy = UrlPolicy {
        staging_enabled: staging,
        ..UrlPolicy::default()
    };
    parse_create_request(
        RequestKind::Slideshow,
        body.to_string().as_bytes(),
        true,
        &policy,
    )
}

#[test]
fn styles_are_staging_modes_priced_like_living_property_staging() {
    let prices = Prices::default();
    for (style, mode, price) in [
        ("do-not-modify", ModificationMode::NoModify, 5),
        (
            "change-decoration",
            ModificationMode::ChangeDecoration,
            5 + 2 * 7,
        ),
        ("furnish-it", ModificationMode::Furnish, 5 + 2 * 7),
    ] {
        let req = parse(&body(7, style), true).unwrap();
        assert_eq!(req.kind.as_str(), "slideshow");
        assert_eq!(req.modification_mode, mode, "{style}");
        assert_eq!(req.price(&prices), price, "{style}");
        assert_eq!(req.orchestration_mode, OrchestrationMode::Standard);
    }
    let custom = Prices {
        slideshow: 9,
        ..Prices::default()
    };
    assert_eq!(
        parse(&body(5, "do-not-modify"), false)
            .unwrap()
            .price(&custom),
        9
    );
    let err = parse(&body(5, "furnish-it"), false).unwrap_err();
    assert_eq!(err.code, Code::ValidationError);
    assert_eq!(err.details.unwrap()["errors"][0]["field"], "style");
}

#[test]
fn the_voice_is_chosen_once_and_kept_in_the_stored_request() {
    let mut req = parse(&body(5, "do-not-modify"), false).unwrap();
    assert!(req.voice_pending());
    let catalogue: Vec<VoiceCandidate> = PUBLIC_VOICES.iter().map(VoiceCandidate::public).collect();
    req.choose_voice(&catalogue).unwrap();
    assert_eq!(req.voice_id, "JBFqnCBsd6RMkjVDRZzb");
    assert!(!req.voice_pending());
    let stored = serde_json::to_value(&req).unwrap();
    assert_eq!(
        stored["voice_attributes"],
        json!({ "gender": "male", "accent": "british" })
    );
    let back: CreateRequest = serde_json::from_value(stored.clone()).unwrap();
    assert_eq!(back, req);

    // A request stored before this field existed still reads (tasks queued across an
    // upgrade), as named by voice_id.
    let mut old = stored;
    old.as_object_mut().unwrap().remove("voice_attributes");
    let old: CreateRequest = serde_json::from_value(old).unwrap();
    assert!(old.voice_attributes.is_none());
    assert_eq!(old.voice_id, "JBFqnCBsd6RMkjVDRZzb");
}

#[test]
fn the_script_bounds_are_for_the_whole_request() {
    let mut b = body(9, "do-not-modify");
    b["script"] = json!("a".repeat(49));
    let err = parse(&b, false).unwrap_err();
    assert_eq!(err.code, Code::ScriptTooShort);
    assert_eq!(
        err.details.unwrap(),
        json!({ "min": 50, "max": 5000, "actual": 49, "images": 9 })
    );
    b["script"] = json!("a".repeat(5000));
    assert!(parse(&b, false).is_ok());
}
