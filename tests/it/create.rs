//! Creating tasks: the 202 answer, prices, credits, concurrency, and the voice and avatar
//! lookups (api.md §2–§5b).

use crate::support::*;
use reqwest::Method;
use serde_json::{json, Value};

/// The 202 body and headers of api.md §3. Returns the task id.
#[track_caller]
fn assert_accepted(r: &Resp, livemode: bool, charged: i64, before: &str) -> String {
    assert_eq!(r.status, 202, "{}", r.json);
    let b = &r.json;
    assert_keys(
        b,
        &[
            "task_id",
            "status",
            "queue_position",
            "estimated_completion",
            "created_at",
            "livemode",
            "credits_charged",
            "request_id",
            "_links",
        ],
    );
    let id = b["task_id"].as_str().unwrap().to_string();
    assert!(is_task_id(&id), "{id}");
    assert_eq!(b["status"], "queued");
    assert!(b["queue_position"].as_u64().unwrap() >= 1, "{b}");
    let created = b["created_at"].as_str().unwrap();
    let eta = b["estimated_completion"].as_str().unwrap();
    assert!(is_timestamp(created) && is_timestamp(eta), "{b}");
    let after = now_timestamp();
    assert!(
        before <= created && created <= after.as_str(),
        "{before} <= {created} <= {after}"
    );
    assert!(
        eta >= created,
        "estimated_completion {eta} before created_at {created}"
    );
    assert_eq!(b["livemode"], livemode);
    assert_eq!(b["credits_charged"], charged);
    assert_eq!(b["request_id"], json!(assert_request_id(r)));
    assert_eq!(
        b["_links"],
        json!({ "self": format!("/v1/tasks/{id}"), "poll_interval_seconds": 30 })
    );
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/tasks/{id}").as_str())
    );
    assert_eq!(r.header("retry-after"), Some("30"));
    id
}

/// The task object of a queued task (api.md §6).
#[track_caller]
fn assert_queued_task(t: &Value, id: &str, kind: &str, livemode: bool, created: &Value) {
    assert_keys(
        t,
        &[
            "task_id",
            "type",
            "status",
            "livemode",
            "created_at",
            "queue_position",
            "estimated_completion",
            "voice",
        ],
    );
    // Extension: the voice the task is spoken with (named by voice_id here).
    assert_eq!(t["voice"]["voice_id"], VOICE);
    assert_eq!(t["voice"]["selected_by"], "voice_id");
    assert_eq!(t["task_id"], id);
    assert_eq!(t["type"], kind);
    assert_eq!(t["status"], "queued");
    assert_eq!(t["livemode"], livemode);
    assert_eq!(&t["created_at"], created);
    assert!(t["queue_position"].as_u64().unwrap() >= 1);
    assert!(is_timestamp(t["estimated_completion"].as_str().unwrap()));
}

#[tokio::test]
async fn accepted_narrated_slideshow() {
    let s = Server::start().await;
    let a = s.account("Pro", 100).await;
    let before = now_timestamp();
    // A client's X-Request-Id is never trusted.
    let client_id = "req_AAAAAAAAAAAAAAAAAAAAAAAA";
    let r = s
        .send(
            s.request(Method::POST, SLIDESHOW)
                .bearer_auth(&a.live.key)
                .header("content-type", "application/json")
                .header("x-request-id", client_id)
                .body(s.slideshow(6).to_string()),
        )
        .await;
    let live_id = assert_accepted(&r, true, 5, &before);
    assert_ne!(assert_request_id(&r), client_id);
    let live_created = r.json["created_at"].clone();
    let live_pos = r.json["queue_position"].as_u64().unwrap();
    assert_eq!(s.assert_ledger_consistent(&a).await, 95);

    // Test keys never charge.
    let r = s.post(SLIDESHOW, &a.test.key, &s.slideshow(15)).await;
    let test_id = assert_accepted(&r, false, 0, &before);
    assert!(r.json["queue_position"].as_u64().unwrap() > live_pos);
    assert_eq!(s.assert_ledger_consistent(&a).await, 95);

    let t = s
        .get(&format!("/v1/tasks/{live_id}"), Some(&a.live.key))
        .await;
    assert_eq!(t.status, 200, "{}", t.json);
    assert_request_id(&t);
    assert_queued_task(&t.json, &live_id, "narrated_slideshow", true, &live_created);
    let t = s
        .get(&format!("/v1/tasks/{test_id}"), Some(&a.test.key))
        .await;
    assert_eq!(t.status, 200, "{}", t.json);
    assert_queued_task(
        &t.json,
        &test_id,
        "narrated_slideshow",
        false,
        &r.json["created_at"],
    );

    // Every optional field at once is accepted too.
    let mut body = s.slideshow(8);
    let extra = json!({
        "voice": { "voice_id": VOICE, "language": "fr" },
        "orientation": "portrait",
        "orchestration_mode": "sequential",
        "webhook_url": s.webhook_url(),
        "avatar_id": PUBLIC_AVATARS[0],
        "background_music": true,
        "subtitle": { "subtitle_style_preset": "karaoke" },
        "elements_config": {
            "enabled": true,
            "watermark": { "url": s.logo_url(), "position": "top-right", "size": 10, "opacity": 50 },
            "text": { "content": "Open house on Sunday", "color": "#FFFFFF", "font": "Lato", "size": 40, "position": "top-left" }
        },
        "test_scenario": "success",
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = s.post(SLIDESHOW, &a.test.key, &body).await;
    assert_accepted(&r, false, 0, &before);
}

#[tokio::test]
async fn living_property_charges_per_image() {
    let s = Server::start().await;
    let a = s.account("Max", 20).await;
    let before = now_timestamp();
    let r = s.post(LIVING, &a.live.key, &s.living(3)).await;
    let id = assert_accepted(&r, true, 6, &before);
    assert_eq!(s.assert_ledger_consistent(&a).await, 14);
    let t = s.get(&format!("/v1/tasks/{id}"), Some(&a.live.key)).await;
    assert_queued_task(&t.json, &id, "living_property", true, &r.json["created_at"]);
    // One image costs 2; nine cost 18 (more than is left).
    let r = s.post(LIVING, &a.live.key, &s.living(1)).await;
    assert_accepted(&r, true, 2, &before);
    let r = s.post(LIVING, &a.live.key, &s.living(9)).await;
    assert_eq!(
        assert_error(&r, 403, "INSUFFICIENT_CREDITS"),
        json!({ "required": 18, "balance": 12 })
    );
    // Room types default to `other`; an image object needs its url.
    let mut body = s.living(2);
    body["images"][0] = json!({ "url": s.image_url(0) });
    body["images"][1] = json!({ "room_type": "kitchen" });
    let r = s.post(LIVING, &a.live.key, &body).await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["images[1].url"]);
    // The ledger has one charge row per task, of the task's price.
    let charges = s
        .sql(&format!(
            "SELECT amount FROM credit_ledger WHERE account_id = '{}' AND kind = 'charge' ORDER BY id",
            a.id
        ))
        .await;
    assert_eq!(charges, "-6\n-2");
    assert_eq!(s.assert_ledger_consistent(&a).await, 12);
}

#[tokio::test]
async fn insufficient_credits() {
    let s = Server::start().await;
    let a = s.account("Plus", 3).await;
    let r = s.post(SLIDESHOW, &a.live.key, &s.slideshow(6)).await;
    assert_eq!(
        assert_error(&r, 403, "INSUFFICIENT_CREDITS"),
        json!({ "required": 5, "balance": 3 })
    );
    let r = s.post(LIVING, &a.live.key, &s.living(2)).await;
    assert_eq!(
        assert_error(&r, 403, "INSUFFICIENT_CREDITS"),
        json!({ "required": 4, "balance": 3 })
    );
    assert_eq!(s.assert_ledger_consistent(&a).await, 3);
    // Test mode does not need credits.
    let before = now_timestamp();
    let r = s.post(SLIDESHOW, &a.test.key, &s.slideshow(6)).await;
    assert_accepted(&r, false, 0, &before);
    // After a grant the same request passes and spends the balance exactly.
    s.admin_ok(&["credits", "grant", &a.id, "2"]).await;
    let r = s.post(SLIDESHOW, &a.live.key, &s.slideshow(6)).await;
    assert_accepted(&r, true, 5, &before);
    assert_eq!(s.assert_ledger_consistent(&a).await, 0);
}

#[tokio::test]
async fn concurrency_limit() {
    let s = Server::start().await;
    let a = s.account("Plus", 100).await;
    let before = now_timestamp();
    assert_accepted(
        &s.post(SLIDESHOW, &a.live.key, &s.slideshow(6)).await,
        true,
        5,
        &before,
    );
    let expected = json!({ "limit": 1, "in_flight": 1, "plan": "Plus" });
    for (path, body) in [(SLIDESHOW, s.slideshow(6)), (LIVING, s.living(2))] {
        let r = s.post(path, &a.live.key, &body).await;
        assert_eq!(
            assert_error(&r, 429, "CONCURRENCY_LIMIT_EXCEEDED"),
            expected
        );
        assert_eq!(r.header("retry-after"), Some("30"));
    }
    // Live and test are counted separately, each against the plan's limit.
    assert_accepted(
        &s.post(SLIDESHOW, &a.test.key, &s.slideshow(6)).await,
        false,
        0,
        &before,
    );
    let r = s.post(SLIDESHOW, &a.test.key, &s.slideshow(6)).await;
    assert_eq!(
        assert_error(&r, 429, "CONCURRENCY_LIMIT_EXCEEDED"),
        expected
    );
    assert_eq!(r.header("retry-after"), Some("30"));

    let acct = s.get("/v1/account", Some(&a.live.key)).await;
    assert_eq!(acct.status, 200);
    assert_keys(
        &acct.json,
        &[
            "account_id",
            "name",
            "plan",
            "credits",
            "concurrency_limit",
            "in_flight",
            "renews_at",
        ],
    );
    assert_eq!(acct.json["account_id"], json!(a.id));
    assert_eq!(acct.json["plan"], "Plus");
    assert_eq!(acct.json["concurrency_limit"], 1);
    assert_eq!(acct.json["in_flight"], json!({ "live": 1, "test": 1 }));
    assert!(is_timestamp(acct.json["renews_at"].as_str().unwrap()));
    assert!(acct.json["renews_at"].as_str().unwrap() > now_timestamp().as_str());
    // Only the accepted live task was charged.
    assert_eq!(s.assert_ledger_consistent(&a).await, 95);
}

/// Insert an account-owned voice with the sqlite3 tool (custom voices have no route yet).
async fn insert_voice(s: &Server, id: &str, account: &str, mode: &str, expires_at: Option<i64>) {
    let expires = expires_at.map_or("NULL".to_string(), |t| t.to_string());
    s.sql(&format!(
        "INSERT INTO voices (id, account_id, mode, name, gender, accent, languages, provider, engine_json, created_at, expires_at)
         VALUES ('{id}', '{account}', '{mode}', 'Custom', 'female', 'american', '[\"en\"]', 'local',
                 '{{\"espeak_voice\":\"en-us+f3\",\"rate\":1.0,\"pitch\":0.0}}', strftime('%s','now'), {expires})"
    ))
    .await;
}

#[tokio::test]
async fn voice_lookup_and_ownership() {
    let s = Server::start().await;
    let (a, b) = futures::join!(s.account("Max", 100), s.account("Max", 100));
    let theirs = "CustomVoiceOfB000001";
    let expired = "CustomVoiceExpired01";
    let mine = "CustomVoiceOfA000001";
    let expired_at = unix_now() - 3600;
    insert_voice(&s, theirs, &b.id, "live", None).await;
    insert_voice(&s, expired, &a.id, "live", Some(expired_at)).await;
    insert_voice(&s, mine, &a.id, "live", Some(unix_now() + 86_400)).await;
    let with_voice = |id: &str| {
        let mut body = s.slideshow(6);
        body["voice"]["voice_id"] = json!(id);
        body
    };

    let unknown = "ZZZZZZZZZZZZZZZZZZZZ";
    let r = s.post(SLIDESHOW, &a.live.key, &with_voice(unknown)).await;
    assert_eq!(
        assert_error(&r, 404, "VOICE_NOT_FOUND"),
        json!({ "voice_id": unknown })
    );
    let r = s
        .get(&format!("/v1/voices/{unknown}"), Some(&a.live.key))
        .await;
    assert_eq!(
        assert_error(&r, 404, "VOICE_NOT_FOUND"),
        json!({ "voice_id": unknown })
    );

    let r = s.post(SLIDESHOW, &a.live.key, &with_voice(theirs)).await;
    assert_eq!(
        assert_error(&r, 403, "VOICE_ACCESS_DENIED"),
        json!({ "voice_id": theirs })
    );
    let r = s
        .get(&format!("/v1/voices/{theirs}"), Some(&a.live.key))
        .await;
    assert_eq!(
        assert_error(&r, 403, "VOICE_ACCESS_DENIED"),
        json!({ "voice_id": theirs })
    );

    let stamp = time::OffsetDateTime::from_unix_timestamp(expired_at)
        .unwrap()
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap();
    let r = s.post(SLIDESHOW, &a.live.key, &with_voice(expired)).await;
    assert_eq!(
        assert_error(&r, 403, "VOICE_EXPIRED"),
        json!({ "voice_id": expired, "expired_at": stamp })
    );

    // An account's own voice is invisible to its keys of the other mode.
    let r = s.post(SLIDESHOW, &a.test.key, &with_voice(mine)).await;
    assert_eq!(
        assert_error(&r, 404, "VOICE_NOT_FOUND"),
        json!({ "voice_id": mine })
    );
    // ...and usable in its own mode, listed with owner "account".
    let before = now_timestamp();
    assert_accepted(
        &s.post(SLIDESHOW, &a.live.key, &with_voice(mine)).await,
        true,
        5,
        &before,
    );
    let r = s
        .get(&format!("/v1/voices/{mine}"), Some(&a.live.key))
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["owner"], "account");
    let list = s.get("/v1/voices", Some(&a.live.key)).await;
    let ids: Vec<&str> = list.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["voice_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&mine) && !ids.contains(&theirs), "{ids:?}");

    // voice.language must be one the voice speaks.
    let mut body = s.slideshow(6);
    body["voice"]["language"] = json!("it");
    let r = s.post(SLIDESHOW, &a.live.key, &body).await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["voice.language"]);
    body["voice"]["language"] = json!("es");
    assert_accepted(
        &s.post(SLIDESHOW, &a.live.key, &body).await,
        true,
        5,
        &before,
    );
    assert_eq!(s.assert_ledger_consistent(&a).await, 90);
}

#[tokio::test]
async fn avatar_lookup_and_ownership() {
    let s = Server::start().await;
    let (a, b) = futures::join!(s.account("Max", 100), s.account("Max", 100));
    let with_avatar = |id: &str| {
        let mut body = s.slideshow(6);
        body["avatar_id"] = json!(id);
        body
    };
    let before = now_timestamp();
    assert_accepted(
        &s.post(SLIDESHOW, &a.live.key, &with_avatar(PUBLIC_AVATARS[1]))
            .await,
        true,
        5,
        &before,
    );

    let unknown = "0b7e6a52-3c1d-4f8e-9a2b-1c3d5e7f9a0b";
    let r = s.post(SLIDESHOW, &a.live.key, &with_avatar(unknown)).await;
    assert_eq!(
        assert_error(&r, 404, "AVATAR_NOT_FOUND"),
        json!({ "avatar_id": unknown })
    );
    let r = s
        .get(&format!("/v1/avatars/{unknown}"), Some(&a.live.key))
        .await;
    assert_eq!(
        assert_error(&r, 404, "AVATAR_NOT_FOUND"),
        json!({ "avatar_id": unknown })
    );

    // Custom avatars of B (with a real image in storage) and of A.
    let png = std::fs::read(
        s.data_dir()
            .join(format!("media/avatars/public/{}.png", PUBLIC_AVATARS[0])),
    )
    .expect("public avatar image");
    let theirs = "5d6e7f80-1a2b-4c3d-8e4f-a0b1c2d3e4f5";
    let mine = "7a8b9c0d-1e2f-4a3b-9c4d-e5f6a7b8c9d0";
    for (id, acct) in [(theirs, &b.id), (mine, &a.id)] {
        let rel = format!("avatars/{acct}/{id}.png");
        let path = s.data_dir().join("media").join(&rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &png).unwrap();
        s.sql(&format!(
            "INSERT INTO avatars (id, account_id, mode, name, image_path, created_at)
             VALUES ('{id}', '{acct}', 'live', 'Custom', '{rel}', strftime('%s','now'))"
        ))
        .await;
    }
    let r = s.post(SLIDESHOW, &a.live.key, &with_avatar(theirs)).await;
    assert_eq!(
        assert_error(&r, 403, "AVATAR_ACCESS_DENIED"),
        json!({ "avatar_id": theirs })
    );
    let r = s
        .get(&format!("/v1/avatars/{theirs}"), Some(&a.live.key))
        .await;
    assert_eq!(
        assert_error(&r, 403, "AVATAR_ACCESS_DENIED"),
        json!({ "avatar_id": theirs })
    );
    // Own avatar: usable in its mode, not found from the other mode.
    assert_accepted(
        &s.post(SLIDESHOW, &a.live.key, &with_avatar(mine)).await,
        true,
        5,
        &before,
    );
    let r = s.post(SLIDESHOW, &a.test.key, &with_avatar(mine)).await;
    assert_eq!(
        assert_error(&r, 404, "AVATAR_NOT_FOUND"),
        json!({ "avatar_id": mine })
    );
    let list = s.get("/v1/avatars", Some(&b.live.key)).await;
    assert_eq!(list.status, 200, "{}", list.json);
    assert_eq!(
        list.json["data"].as_array().unwrap().len(),
        5,
        "4 public + B's own"
    );
    assert_eq!(s.assert_ledger_consistent(&a).await, 90);
}

#[tokio::test]
async fn avatar_url_error() {
    let s = Server::start().await;
    let a = s.account("Max", 100).await;
    let id = PUBLIC_AVATARS[2];
    std::fs::remove_file(s.data_dir().join(format!("media/avatars/public/{id}.png")))
        .expect("remove the avatar image");
    let mut body = s.slideshow(6);
    body["avatar_id"] = json!(id);
    let r = s.post(SLIDESHOW, &a.live.key, &body).await;
    assert_eq!(
        assert_error(&r, 500, "AVATAR_URL_ERROR"),
        json!({ "avatar_id": id })
    );
    let r = s.get(&format!("/v1/avatars/{id}"), Some(&a.live.key)).await;
    assert_eq!(
        assert_error(&r, 500, "AVATAR_URL_ERROR"),
        json!({ "avatar_id": id })
    );
    // The 500 exposes no internals (no storage path).
    let text = String::from_utf8_lossy(&r.bytes);
    assert!(
        !text.contains(&s.data_dir().display().to_string()) && !text.contains(".png"),
        "{text}"
    );
    // Nothing was charged and nothing is in flight.
    assert_eq!(s.assert_ledger_consistent(&a).await, 100);
    let acct = s.get("/v1/account", Some(&a.live.key)).await;
    assert_eq!(acct.json["in_flight"], json!({ "live": 0, "test": 0 }));
    // Other avatars still work.
    body["avatar_id"] = json!(PUBLIC_AVATARS[3]);
    assert_eq!(s.post(SLIDESHOW, &a.live.key, &body).await.status, 202);
}
