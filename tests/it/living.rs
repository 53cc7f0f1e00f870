//! Living property videos end to end over HTTP (api.md §4, §8.3, §10): 1, 3 and 9 images
//! rendered by a real worker, the narration rule, camera motion in the frames, pricing,
//! and virtual staging through a stand-in provider (success, failure, none configured).

use crate::living_support::*;
use crate::support::LIVING;
use serde_json::json;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(600);

#[tokio::test]
async fn one_three_and_nine_images_move_and_follow_the_narration_rule() {
    let (s, _) = start_living(false).await;
    let key = s.account("Max", 100).await.live.key;
    let out = tempfile::tempdir().unwrap();

    // No provider: change_decoration / furnish are refused and nothing is charged.
    for mode in ["change_decoration", "furnish"] {
        let mut body = s.living_listing(1, 70);
        body["modification_mode"] = json!(mode);
        let r = s.post(LIVING, &key, &body).await;
        assert_eq!(r.status, 400, "{:?}", r.json);
        assert_eq!(r.json["error"]["code"], "VALIDATION_ERROR", "{:?}", r.json);
        let text = r.json.to_string();
        assert!(text.contains("modification_mode"), "{text}");
        assert!(text.contains("not enabled"), "{text}");
    }
    assert_eq!(s.credits(&key).await, 100);

    let mut tasks = Vec::new();
    for n in [1usize, 3, 9] {
        let r = s.post(LIVING, &key, &s.living_listing(n, 66)).await;
        assert_eq!(r.status, 202, "{:?}", r.json);
        assert_eq!(r.json["credits_charged"], 2 * n as i64, "{:?}", r.json);
        tasks.push((n, r.json["task_id"].as_str().unwrap().to_string()));
    }
    assert_eq!(s.credits(&key).await, 100 - 2 * 13);

    for (n, id) in tasks {
        let started = Instant::now();
        let t = s.wait_done(&key, &id, LIMIT).await;
        assert_eq!(t["status"], "completed", "{t}\n{}", s.log());
        assert_eq!(t["type"], "living_property");
        let video = s.download(&t, out.path()).await;
        let d = duration(&video);
        let speech = speech_end(&video);
        eprintln!(
            "living {n} images: {d:.2} s video, speech ends at {speech:.2} s, waited {:.1} s",
            started.elapsed().as_secs_f64()
        );
        // About 3 s per image, stretched to the narration + its 1.5 s tail.
        let want = (3.0 * n as f64).max(speech + 1.5);
        assert!(
            (d - want).abs() < 0.5,
            "{n} images: {d} s, expected {want} (speech ends {speech})"
        );
        assert!(d >= 3.0 * n as f64 - 0.1);

        // Motion: in every scene consecutive frames differ through its middle, and the
        // framing at the start and end of the scene differs.
        let frames = grey_frames(&video);
        let per = frames.len() / n;
        for scene in 0..n {
            let a = scene * per;
            let (lo, hi) = (a + per / 3, a + 2 * per / 3);
            for i in lo..hi {
                let m = mad(&frames[i], &frames[i + 1]);
                assert!(
                    m > 0.02,
                    "{n} images, scene {scene}: frames {i}/{} equal",
                    i + 1
                );
            }
            // Body of the scene, clear of the half-second dissolves.
            let (first, last) = (a + if scene == 0 { 1 } else { 12 }, a + per - 12);
            let span = mad(&frames[first], &frames[last]);
            assert!(
                span > 1.5,
                "{n} images, scene {scene}: framing barely changes ({span})"
            );
        }
    }
    assert_eq!(
        s.credits(&key).await,
        100 - 2 * 13,
        "completed tasks keep their charge"
    );
}

#[tokio::test]
async fn staging_provider_changes_the_picture_and_its_failure_is_refunded() {
    let (s, stager) = start_living(true).await;
    let stager = stager.unwrap();
    stager.route(
        "/v1/stage",
        peakreel_testkit::Reply::Full {
            status: 200,
            content_type: "image/png",
            body: bytes::Bytes::from(tinted(PHOTOS[0])),
        },
    );
    let key = s.account("Max", 100).await.live.key;
    let out = tempfile::tempdir().unwrap();

    let mut body = s.living_listing(1, 66);
    body["modification_mode"] = json!("furnish");
    let r = s.post(LIVING, &key, &body).await;
    assert_eq!(r.status, 202, "{:?}", r.json);
    assert_eq!(r.json["credits_charged"], 4, "2 per image + 2 for staging");
    let id = r.json["task_id"].as_str().unwrap().to_string();
    let t = s.wait_done(&key, &id, LIMIT).await;
    assert_eq!(t["status"], "completed", "{t}\n{}", s.log());

    // The provider got the documented call.
    let seen = stager.state.last_request.lock().unwrap().clone().unwrap();
    let (method, path, headers, req_body) = seen;
    assert_eq!((method.as_str(), path.as_str()), ("POST", "/v1/stage"));
    let auth = headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.clone());
    assert_eq!(auth.as_deref(), Some(&*format!("Bearer {STAGING_KEY}")));
    let sent: serde_json::Value = serde_json::from_slice(&req_body).unwrap();
    assert_eq!(sent["room_type"], "exterior");
    assert_eq!(sent["mode"], "furnish");
    assert_eq!(sent["image_type"], "image/jpeg");
    assert!(
        sent["image"].as_str().unwrap().starts_with("/9j/"),
        "base64 JPEG"
    );

    // The staged (magenta) picture is what the video shows.
    let video = s.download(&t, out.path()).await;
    let [r_, g, b] = mean_rgb(&video, 1.5);
    assert!(
        r_ > g + 60.0 && b > g + 60.0,
        "the frame is not the staged image: mean rgb {r_:.0} {g:.0} {b:.0}"
    );

    // A failing provider: the task fails with SERVICE_ERROR and the credits come back.
    stager.route(
        "/v1/stage",
        peakreel_testkit::Reply::Full {
            status: 500,
            content_type: "application/json",
            body: bytes::Bytes::from_static(b"{\"error\":\"model overloaded\"}"),
        },
    );
    let before = s.credits(&key).await;
    let mut body = s.living_listing(3, 66);
    body["modification_mode"] = json!("change_decoration");
    let r = s.post(LIVING, &key, &body).await;
    assert_eq!(r.status, 202, "{:?}", r.json);
    assert_eq!(r.json["credits_charged"], 12);
    assert_eq!(s.credits(&key).await, before - 12);
    let id = r.json["task_id"].as_str().unwrap().to_string();
    let t = s.wait_done(&key, &id, LIMIT).await;
    assert_eq!(t["status"], "failed", "{t}");
    assert_eq!(t["error"]["code"], "SERVICE_ERROR", "{t}");
    let msg = t["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("HTTP 500") && msg.contains("refunded"),
        "{msg}"
    );
    assert!(
        !msg.contains("127.0.0.1"),
        "no provider address in the message: {msg}"
    );
    assert_eq!(s.credits(&key).await, before, "refunded");
}
