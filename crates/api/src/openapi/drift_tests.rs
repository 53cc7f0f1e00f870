//! The document against the server's own constants: every closed set, bound and shared
//! answer the server enforces must be stated exactly, so the two cannot drift apart.

use super::ApiDoc;
use peakreel_domain::catalog_requests::bounds as voice_bounds;
use peakreel_domain::request::bounds;
use peakreel_domain::{
    FontFamily, ModificationMode, OrchestrationMode, Orientation, Position, RequestKind, RoomType,
    SubtitlePreset, TestScenario,
};
use peakreel_types::Code;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use utoipa::OpenApi;

fn doc() -> Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap()
}

fn property<'a>(doc: &'a Value, schema: &str, field: &str) -> &'a Value {
    let p = &doc["components"]["schemas"][schema]["properties"][field];
    assert!(p.is_object(), "{schema}.{field} is missing");
    p
}

/// The non-null values of an `enum`.
fn enum_of(v: &Value) -> Vec<String> {
    v["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("no enum in {v}"))
        .iter()
        .filter_map(|e| e.as_str().map(String::from))
        .collect()
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_closed_set_is_the_servers_own() {
    let d = doc();
    let cases: &[(&str, &str, &[&str])] = &[
        ("NarratedSlideshowRequest", "orientation", Orientation::WIRE),
        (
            "NarratedSlideshowRequest",
            "orchestration_mode",
            OrchestrationMode::WIRE,
        ),
        (
            "NarratedSlideshowRequest",
            "test_scenario",
            TestScenario::WIRE,
        ),
        ("LivingPropertyRequest", "orientation", Orientation::WIRE),
        (
            "LivingPropertyRequest",
            "modification_mode",
            ModificationMode::WIRE,
        ),
        ("LivingPropertyRequest", "test_scenario", TestScenario::WIRE),
        ("LivingPropertyImage", "room_type", RoomType::WIRE),
        ("Subtitle", "subtitle_style_preset", SubtitlePreset::WIRE),
        ("WatermarkElement", "position", Position::WIRE),
        ("TextElement", "position", Position::WIRE),
        ("TextElement", "font", FontFamily::WIRE),
        ("CreateAvatarRequest", "style", voice_bounds::AVATAR_STYLES),
        ("Task", "status", super::TASK_STATUSES),
        ("Task", "type", super::TASK_KINDS),
        ("TaskAccepted", "status", super::TASK_STATUSES),
    ];
    for (schema, field, wire) in cases {
        assert_eq!(
            enum_of(property(&d, schema, field)),
            strings(wire),
            "{schema}.{field}"
        );
    }
    let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(enum_of(property(&d, "ErrorBody", "code")), strings(&codes));
    assert_eq!(enum_of(property(&d, "ItemError", "code")), strings(&codes));
    // The status and kind lists are the store's and the domain's, in full.
    use peakreel_store::TaskStatus;
    let all = [
        TaskStatus::Queued,
        TaskStatus::Processing,
        TaskStatus::Completed,
        TaskStatus::Failed,
    ];
    assert_eq!(all.map(TaskStatus::as_str).to_vec(), super::TASK_STATUSES);
    for s in super::TASK_STATUSES {
        assert_eq!(TaskStatus::parse(s).map(TaskStatus::as_str), Some(*s));
    }
    let kinds = [
        RequestKind::NarratedSlideshow,
        RequestKind::LivingProperty,
        RequestKind::Slideshow,
    ];
    assert_eq!(kinds.map(RequestKind::as_str).to_vec(), super::TASK_KINDS);
    // Optional enumerations admit null, which the server reads as absent.
    let orientation = property(&d, "NarratedSlideshowRequest", "orientation");
    assert!(orientation["enum"]
        .as_array()
        .unwrap()
        .contains(&Value::Null));
}

fn range(v: &Value, lo: &str, hi: &str) -> (f64, f64) {
    (
        v[lo].as_f64().unwrap_or_else(|| panic!("no {lo} in {v}")),
        v[hi].as_f64().unwrap_or_else(|| panic!("no {hi} in {v}")),
    )
}

fn usize_pair((a, b): (usize, usize)) -> (f64, f64) {
    (a as f64, b as f64)
}

fn i64_pair((a, b): (i64, i64)) -> (f64, f64) {
    (a as f64, b as f64)
}

#[test]
fn every_bound_is_the_servers_own() {
    let d = doc();
    for (schema, kind) in [
        ("NarratedSlideshowRequest", RequestKind::NarratedSlideshow),
        ("LivingPropertyRequest", RequestKind::LivingProperty),
    ] {
        let images = property(&d, schema, "images");
        assert_eq!(
            range(images, "minItems", "maxItems"),
            usize_pair(kind.image_range())
        );
        assert_eq!(images["uniqueItems"], true);
        let (lo, hi) = kind.script_per_image().expect("per-image bounds");
        let (n_lo, n_hi) = kind.image_range();
        assert_eq!(
            range(property(&d, schema, "script"), "minLength", "maxLength"),
            usize_pair((lo * n_lo, hi * n_hi)),
            "{schema}.script"
        );
        assert_eq!(
            property(&d, schema, "webhook_url")["maxLength"],
            json!(bounds::WEBHOOK_URL_MAX_CHARS)
        );
    }
    let numeric: &[(&str, &str, (f64, f64))] = &[
        (
            "WatermarkElement",
            "size",
            i64_pair(bounds::WATERMARK_SIZE_PERCENT),
        ),
        (
            "WatermarkElement",
            "opacity",
            i64_pair(bounds::WATERMARK_OPACITY),
        ),
        ("TextElement", "size", i64_pair(bounds::TEXT_SIZE_PX)),
        ("CreateVoiceVariant", "rate", voice_bounds::RATE),
        ("CreateVoiceVariant", "pitch", voice_bounds::PITCH_SEMITONES),
        (
            "CreateVoiceVariant",
            "expires_in_days",
            i64_pair(voice_bounds::EXPIRES_IN_DAYS),
        ),
        (
            "CreateVoiceClone",
            "expires_in_days",
            i64_pair(voice_bounds::EXPIRES_IN_DAYS),
        ),
    ];
    for (schema, field, want) in numeric {
        assert_eq!(
            range(property(&d, schema, field), "minimum", "maximum"),
            *want,
            "{schema}.{field}"
        );
    }
    let lengths: &[(&str, &str, (usize, usize))] = &[
        ("TextElement", "content", bounds::TEXT_CONTENT_CHARS),
        ("CreateVoiceVariant", "name", voice_bounds::NAME_CHARS),
        ("CreateVoiceClone", "name", voice_bounds::NAME_CHARS),
        ("CreateAvatarRequest", "name", voice_bounds::NAME_CHARS),
    ];
    for (schema, field, want) in lengths {
        assert_eq!(
            range(property(&d, schema, field), "minLength", "maxLength"),
            usize_pair(*want),
            "{schema}.{field}"
        );
    }
    assert_eq!(
        range(
            property(&d, "CreateVoiceClone", "samples"),
            "minItems",
            "maxItems"
        ),
        usize_pair(voice_bounds::SAMPLES)
    );
    let limit = d["paths"]["/v1/tasks"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .expect("limit parameter");
    let (lo, hi) = crate::routes::tasks::LIST_LIMIT;
    assert_eq!(
        range(&limit["schema"], "minimum", "maximum"),
        (lo as f64, hi as f64)
    );
}

/// Every schema reachable from `v` through `$ref`, `properties`, `items` and `oneOf`.
fn reachable(d: &Value, v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                let name = r.trim_start_matches("#/components/schemas/").to_string();
                if out.insert(name.clone()) {
                    reachable(d, &d["components"]["schemas"][&name], out);
                }
            }
            for value in map.values() {
                reachable(d, value, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| reachable(d, i, out)),
        _ => {}
    }
}

#[test]
fn request_bodies_refuse_unknown_fields_at_every_depth() {
    let d = doc();
    let mut bodies = BTreeSet::new();
    for item in d["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            reachable(&d, &op["requestBody"], &mut bodies);
        }
    }
    assert!(bodies.len() >= 12, "{bodies:?}");
    for name in &bodies {
        let schema = &d["components"]["schemas"][name];
        if schema.get("oneOf").is_some() {
            continue; // its variants are checked themselves
        }
        if schema.get("enum").is_some() {
            continue; // a closed set of strings has no fields
        }
        assert_eq!(
            schema["additionalProperties"], false,
            "{name} accepts unknown fields"
        );
    }
}

#[test]
fn every_operation_declares_the_shared_answers() {
    let d = doc();
    let envelope = json!({ "$ref": "#/components/schemas/ErrorEnvelope" });
    let mut operations = 0;
    for (path, item) in d["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let responses = op["responses"].as_object().unwrap();
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            let mut want = vec!["405", "500", "503"];
            if secured {
                want.extend(["401", "403", "429"]);
            }
            for status in want {
                let r = responses
                    .get(status)
                    .unwrap_or_else(|| panic!("{method} {path} does not declare {status}"));
                if path != "/health" || status != "503" {
                    assert_eq!(
                        r["content"]["application/json"]["schema"], envelope,
                        "{method} {path} {status}"
                    );
                }
            }
            if secured {
                assert!(
                    responses["429"]["headers"]["Retry-After"].is_object(),
                    "{method} {path}"
                );
            }
            for (status, r) in responses {
                assert!(
                    r["headers"]["X-Request-Id"].is_object(),
                    "{method} {path} {status}"
                );
            }
            assert!(
                !responses.contains_key("4XX"),
                "{method} {path}: name each status"
            );
        }
    }
    assert!(operations >= 17);
    // Path ids have their formats wherever they appear.
    let task = &d["paths"]["/v1/tasks/{task_id}"]["get"]["parameters"][0];
    assert_eq!(task["schema"]["pattern"], super::rules::TASK_ID_PATTERN);
}

#[test]
fn id_patterns_match_the_ids_the_server_mints_and_refuses_others() {
    use super::rules;
    use peakreel_types::ids;
    let d = doc();
    let stated: &[(&str, &str, &str)] = &[
        ("VoiceSelection", "voice_id", rules::VOICE_ID_PATTERN),
        (
            "CreateVoiceVariant",
            "base_voice_id",
            rules::VOICE_ID_PATTERN,
        ),
        ("Voice", "voice_id", rules::VOICE_ID_PATTERN),
        ("NarratedSlideshowRequest", "avatar_id", rules::UUID_PATTERN),
        ("Avatar", "avatar_id", rules::UUID_PATTERN),
        ("Task", "task_id", rules::TASK_ID_PATTERN),
        ("TaskAccepted", "task_id", rules::TASK_ID_PATTERN),
        ("ErrorBody", "request_id", rules::REQUEST_ID_PATTERN),
        ("TextElement", "color", rules::COLOR_PATTERN),
        ("VoiceSelection", "language", rules::LANGUAGE_PATTERN),
    ];
    for (schema, field, pattern) in stated {
        assert_eq!(
            property(&d, schema, field)["pattern"],
            *pattern,
            "{schema}.{field}"
        );
    }
    let re = |p: &str| regex::Regex::new(p).unwrap();
    for _ in 0..50 {
        assert!(re(rules::TASK_ID_PATTERN).is_match(&ids::new_task_id()));
        assert!(re(rules::REQUEST_ID_PATTERN).is_match(&ids::new_request_id()));
        assert!(re(rules::VOICE_ID_PATTERN).is_match(&ids::new_voice_id()));
        assert!(re(rules::UUID_PATTERN).is_match(&uuid::Uuid::new_v4().to_string()));
    }
    // The avatar pattern accepts exactly what the server's UUID rule accepts.
    for id in [
        "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
        "A1B2C3D4-E5F6-7890-ABCD-EF1234567890",
        "3f1c2a9e7b4d4c1a9e2f5a6b7c8d9e01",
        "{3f1c2a9e-7b4d-4c1a-9e2f-5a6b7c8d9e01}",
        "3f1c2a9e-7b4d-4c1a-9e2f-5a6b7c8d9e0g",
    ] {
        assert_eq!(
            re(rules::UUID_PATTERN).is_match(id),
            peakreel_domain::request::is_uuid(id),
            "{id}"
        );
    }
    // The URL pattern keeps out what the URL rule refuses before any fetch.
    let url = re(rules::HTTPS_URL_PATTERN);
    let policy = peakreel_domain::UrlPolicy::default();
    for u in [
        "https://img.example.com/a.jpg",
        "http://img.example.com/a.jpg",
        "https://user:pw@img.example.com/a.jpg",
        "https://user@img.example.com/a.jpg",
        "ftp://img.example.com/a.jpg",
        "https:///a.jpg",
    ] {
        if url.is_match(u) {
            assert!(
                peakreel_domain::request::check_media_url(u, &policy).is_ok(),
                "{u}"
            );
        }
    }
    assert!(url.is_match("https://img.example.com/a.jpg"));
}

#[test]
fn creating_operations_and_only_they_take_an_idempotency_key() {
    use crate::idempotency::{self as idem, CREATING_ROUTES};
    // The served document: the extensions (uploads) included.
    let d = serde_json::to_value(super::document()).unwrap();
    let envelope = json!({ "$ref": "#/components/schemas/ErrorEnvelope" });
    for (path, item) in d["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let header = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == idem::HEADER_NAME);
            let creating = method == "post" && CREATING_ROUTES.contains(&path.as_str());
            assert_eq!(header.is_some(), creating, "{method} {path}");
            let Some(header) = header else { continue };
            assert_eq!(header["in"], "header");
            assert_eq!(header["required"], false, "{path}");
            assert_eq!(header["schema"]["pattern"], idem::PATTERN);
            assert_eq!(header["schema"]["minLength"], 1);
            assert_eq!(header["schema"]["maxLength"], idem::MAX_LEN);
            let conflict = &op["responses"]["409"];
            assert_eq!(conflict["content"]["application/json"]["schema"], envelope);
            assert!(conflict["headers"]["Retry-After"].is_object(), "{path}");
            assert!(conflict["headers"]["X-Request-Id"].is_object(), "{path}");
            let success = op["responses"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(s, _)| s.starts_with('2'))
                .map(|(_, r)| r)
                .unwrap_or_else(|| panic!("{path} has no success answer"));
            assert!(
                success["headers"]["idempotent-replayed"].is_object(),
                "{path}"
            );
        }
    }
    // Every route the layer acts on is in the document.
    for path in CREATING_ROUTES {
        assert!(d["paths"][path]["post"].is_object(), "{path}");
    }
}

/// The storyboard's scene `room` lists exactly the labels the planner knows.
#[test]
fn scene_rooms_are_the_planners_room_labels() {
    let d = serde_json::to_value(super::document()).unwrap();
    let room = &d["components"]["schemas"]["SceneRoom"];
    assert!(room.is_object(), "SceneRoom is not in the document");
    let want: Vec<String> = peakreel_media::Room::ALL
        .iter()
        .map(|r| r.as_str().to_string())
        .collect();
    assert_eq!(enum_of(room), want);
}
