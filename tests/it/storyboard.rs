//! The storyboard dry run and the ledger route (Extensions) over HTTP: the create
//! route's validation, a plan of the real photos, and nothing stored or charged.

use crate::support::*;
use serde_json::json;

fn photo(i: usize) -> Vec<u8> {
    let rooms = ["frontal", "kitchen", "bedroom", "bathroom"];
    peakreel_testkit::photo_jpeg(&format!("house{}_{}.jpg", 110 + i / 4, rooms[i % 4]))
}

async fn upload(p: &Proc, key: &str, bytes: Vec<u8>) -> String {
    let rb = p
        .request(reqwest::Method::POST, "/v1/uploads")
        .bearer_auth(key)
        .header("content-type", "image/jpeg")
        .body(bytes);
    let r = p.send(rb).await;
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["url"].as_str().unwrap().to_string()
}

const PLAN: &str = "/v1/real-estate/narrated-slideshow/plan";

#[tokio::test]
async fn storyboard_plans_the_photos_validates_like_create_and_charges_nothing() {
    let p = Proc::start().await;
    let acct = p.account("Pro", 50).await;
    let other = p.account("Pro", 50).await;
    let key = &acct.live.key;
    let mut refs = Vec::new();
    for i in 0..6 {
        refs.push(upload(&p, key, photo(i)).await);
    }
    let script = "Welcome to this bright family home with a sunny garden. The open kitchen flows into a calm living room with tall windows. Upstairs, three quiet bedrooms and a modern bathroom wait for you. Book a visit today and picture your next chapter here, close to parks and schools.";
    let body = json!({
        "images": refs,
        "voice": {"voice_id": VOICE},
        "script": script,
        "orchestration_mode": "sequential",
    });
    let r = p.post(PLAN, key, &body).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let b = &r.json;
    assert_eq!(b["narration_timing"], "estimated");
    assert_eq!(
        (b["credits_required"].as_i64(), b["balance"].as_i64()),
        (Some(5), Some(50))
    );
    assert_eq!(b["orientation"], "landscape");
    let scenes = b["scenes"].as_array().unwrap();
    let order: Vec<u64> = scenes
        .iter()
        .map(|s| s["image_index"].as_u64().unwrap())
        .collect();
    assert_eq!(order, [0, 1, 2, 3, 4, 5], "sequential keeps the order: {b}");
    // Each scene names its photo's room, as the vision sidecar labelled it (issue 13 §1).
    let rooms: Vec<&str> = scenes
        .iter()
        .map(|s| s["room"].as_str().unwrap_or("(none)"))
        .collect();
    assert_eq!(
        rooms,
        ["exterior", "kitchen", "bedroom", "bathroom", "exterior", "kitchen"],
        "{b}"
    );
    assert_eq!(scenes[2]["image_url"], json!(refs[2]));
    let total = b["estimated_duration_seconds"].as_f64().unwrap();
    assert_eq!(scenes[0]["start_seconds"], 0.0);
    assert!(
        (scenes[5]["end_seconds"].as_f64().unwrap() - total).abs() < 0.02,
        "{b}"
    );
    let sentences = b["sentences"].as_array().unwrap();
    assert_eq!(sentences.len(), 4, "{b}");
    assert_eq!(
        sentences[1]["text"],
        "The open kitchen flows into a calm living room with tall windows."
    );
    // Every sentence is heard over some scene; the first over the first.
    let mut heard: Vec<u64> = scenes
        .iter()
        .flat_map(|s| {
            s["sentences"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
        })
        .collect();
    heard.sort_unstable();
    heard.dedup();
    assert_eq!(heard, [0, 1, 2, 3]);
    assert!(scenes[0]["sentences"]
        .as_array()
        .unwrap()
        .contains(&json!(0)));
    // ~270 characters at 16 a second, plus 0.5 s lead, three 0.3 s gaps and 1.5 s tail.
    assert!((19.0..21.0).contains(&total), "{total}");

    // Nothing stored or charged.
    assert_eq!(p.sql("SELECT COUNT(*) FROM tasks").await, "0");
    assert_eq!(p.assert_ledger_consistent(&acct).await, 50);

    // The create route's refusals, with its codes.
    let mut short = body.clone();
    short["script"] = json!("Too short.");
    assert_error(&p.post(PLAN, key, &short).await, 400, "SCRIPT_TOO_SHORT");
    let d = assert_error(
        &p.post(PLAN, &other.live.key, &body).await,
        400,
        "IMAGE_INACCESSIBLE",
    );
    assert_eq!(d["index"], 0);
    let mut bad_voice = body.clone();
    bad_voice["voice"]["voice_id"] = json!("AAAAAAAAAAAAAAAAAAAA");
    assert_error(&p.post(PLAN, key, &bad_voice).await, 404, "VOICE_NOT_FOUND");
    let r = p
        .send(
            p.request(reqwest::Method::POST, PLAN)
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await;
    assert_error(&r, 401, "MISSING_API_KEY");

    // A test key plans for free.
    let test_refs: Vec<String> = {
        let mut v = Vec::new();
        for i in 0..6 {
            v.push(upload(&p, &acct.test.key, photo(i)).await);
        }
        v
    };
    let mut test_body = body.clone();
    test_body["images"] = json!(test_refs);
    let r = p.post(PLAN, &acct.test.key, &test_body).await;
    assert_eq!(
        (r.status, r.json["credits_required"].as_i64()),
        (200, Some(0)),
        "{}",
        r.json
    );
}

#[tokio::test]
async fn ledger_lists_the_callers_grants_and_charges_newest_first() {
    let p = Proc::start().await;
    let acct = p.account("Pro", 20).await;
    let other = p.account("Pro", 7).await;
    let (task, _) = p.create(&acct.live.key, &p.slideshow(6)).await;
    let r = p.get("/v1/account/ledger", Some(&acct.live.key)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let entries = r.json["entries"].as_array().unwrap();
    let sum: i64 = entries.iter().map(|e| e["amount"].as_i64().unwrap()).sum();
    assert_eq!((r.json["balance"].as_i64(), sum), (Some(15), 15));
    assert_eq!(entries[0]["kind"], "charge");
    assert_eq!(entries[0]["amount"], -5);
    assert_eq!(entries[0]["task_id"], json!(task));
    assert_eq!(entries.last().unwrap()["kind"], "grant");
    assert!(is_timestamp(entries[0]["created_at"].as_str().unwrap()));
    // The other account sees only its own grant; a test key sees the same account ledger.
    let r = p.get("/v1/account/ledger", Some(&other.live.key)).await;
    assert_eq!(r.json["entries"].as_array().unwrap().len(), 1, "{}", r.json);
    assert_eq!(r.json["balance"], 7);
    let r = p.get("/v1/account/ledger", Some(&acct.test.key)).await;
    assert_eq!(r.json["balance"], 15);
    assert_error(
        &p.get("/v1/account/ledger", None).await,
        401,
        "MISSING_API_KEY",
    );
}

/// The Extensions are in the generated OpenAPI document with their answers' schemas.
#[tokio::test]
async fn extensions_are_in_the_openapi_document() {
    let p = Proc::start().await;
    let doc = p.get("/openapi.json", None).await.json;
    for (method, path, status) in [
        ("post", "/v1/uploads", "201"),
        ("post", "/v1/real-estate/narrated-slideshow/plan", "200"),
        ("post", "/v1/real-estate/living-property/plan", "200"),
        ("get", "/v1/account/ledger", "200"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} missing");
        let schema = &op["responses"][status]["content"]["application/json"]["schema"]["$ref"];
        assert!(
            schema.is_string(),
            "{method} {path} has no {status} schema: {op}"
        );
    }
    for name in ["UploadView", "StoryboardView", "LedgerView"] {
        assert!(doc["components"]["schemas"][name].is_object(), "{name}");
    }
}
