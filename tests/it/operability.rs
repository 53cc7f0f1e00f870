//! Operability (issue 18 part 7): every 5xx logs its cause on the line that names its
//! request id; one broken avatar or voice never fails a list; a graceful shutdown drains.

use crate::support::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The log line of the 5xx answer `r`: it names the answer's request id.
#[track_caller]
fn failure_line(s: &Server, r: &Resp) -> String {
    let id = assert_request_id(r);
    let log = s.log();
    log.lines()
        .find(|l| l.contains("server-side failure") && l.contains(&id))
        .unwrap_or_else(|| panic!("no failure line for {id} in:\n{log}"))
        .to_string()
}

#[tokio::test]
async fn a_broken_avatar_or_voice_is_marked_in_lists_and_its_5xx_logs_the_cause() {
    let s = Server::start().await;
    let a = s.account("Max", 100).await;
    let broken = PUBLIC_AVATARS[1];
    std::fs::remove_file(
        s.data_dir()
            .join(format!("media/avatars/public/{broken}.png")),
    )
    .expect("remove the avatar image");

    let list = s.get("/v1/avatars", Some(&a.live.key)).await;
    assert_eq!(list.status, 200, "{}", list.json);
    let data = list.json["data"].as_array().unwrap();
    assert_eq!(data.len(), PUBLIC_AVATARS.len());
    for item in data {
        if item["avatar_id"] == broken {
            assert!(item["image_url"].is_null(), "{item}");
            assert_eq!(item["error"]["code"], "AVATAR_URL_ERROR", "{item}");
            assert!(item["error"]["message"].as_str().unwrap().len() > 10);
        } else {
            assert!(item.get("error").is_none(), "{item}");
            let url = item["image_url"].as_str().expect("a signed URL");
            assert_eq!(s.get_url(url, None).await.status, 200, "{url}");
        }
    }

    // The avatar itself answers its documented 500, and the log line of that answer
    // carries the request id, the code and the cause (which the body must not).
    let r = s
        .get(&format!("/v1/avatars/{broken}"), Some(&a.live.key))
        .await;
    assert_error(&r, 500, "AVATAR_URL_ERROR");
    let line = failure_line(&s, &r);
    assert!(line.contains("ERROR"), "{line}");
    assert!(
        line.contains("status=500") && line.contains("code=AVATAR_URL_ERROR"),
        "{line}"
    );
    assert!(
        line.contains(&format!("avatar {broken} image unreadable")),
        "{line}"
    );
    assert!(!String::from_utf8_lossy(&r.bytes).contains("unreadable"));

    // A custom voice whose preview sample is gone: listed and readable, marked, usable.
    let r = s
        .post(
            "/v1/voices",
            &a.live.key,
            &json!({ "name": "Calm", "base_voice_id": VOICE, "language": "en" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let voice_id = r.json["voice_id"].as_str().unwrap().to_string();
    assert!(r.json["preview_url"].is_string(), "{}", r.json);
    std::fs::remove_file(
        s.data_dir()
            .join(format!("media/voices/{voice_id}/preview.wav")),
    )
    .expect("remove the preview");
    let list = s.get("/v1/voices", Some(&a.live.key)).await;
    assert_eq!(list.status, 200, "{}", list.json);
    let mine: Vec<&Value> = list.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["voice_id"] == voice_id.as_str())
        .collect();
    assert_eq!(mine.len(), 1);
    assert!(mine[0].get("preview_url").is_none(), "{}", mine[0]);
    assert_eq!(mine[0]["error"]["code"], "SERVICE_ERROR", "{}", mine[0]);
    let one = s
        .get(&format!("/v1/voices/{voice_id}"), Some(&a.live.key))
        .await;
    assert_eq!(one.status, 200, "{}", one.json);
    assert_eq!(one.json["error"]["code"], "SERVICE_ERROR");
    let mut body = s.slideshow(6);
    body["voice"]["voice_id"] = json!(voice_id);
    s.create_ok(SLIDESHOW, &a.live.key, &body).await;
}

#[tokio::test]
async fn graceful_shutdown_drains_in_flight_requests_and_health_says_so() {
    let s = Server::start().await;
    let a = s.account("Max", 100).await;
    // One photo answers after a delay, so creating a task stays in flight for a while.
    let photo = bytes::Bytes::from(peakreel_testkit::photo_jpeg("generated-landscape.jpg"));
    s.images().route(
        "/slow.jpg",
        peakreel_testkit::Reply::Delayed(
            Duration::from_secs(4),
            Box::new(peakreel_testkit::Reply::Full {
                status: 200,
                content_type: "image/jpeg",
                body: photo,
            }),
        ),
    );
    let mut body = s.slideshow(6);
    body["images"][0] = json!(s.images().url("/slow.jpg"));
    let before = s
        .images()
        .state
        .requests
        .load(std::sync::atomic::Ordering::SeqCst);
    let request = s
        .request(reqwest::Method::POST, SLIDESHOW)
        .bearer_auth(&a.live.key)
        .header("content-type", "application/json")
        .body(body.to_string());
    let in_flight = tokio::spawn(request.send());
    // The creation is in flight once the server asked for every photo.
    let start = Instant::now();
    while s
        .images()
        .state
        .requests
        .load(std::sync::atomic::Ordering::SeqCst)
        < before + 6
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "photos never fetched"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ok = s.get("/health", None).await;
    assert_ne!(ok.json["status"], "draining");

    s.signal("TERM");
    s.wait_log(&["draining"], Duration::from_secs(10)).await;
    let health = s.get("/health", None).await;
    assert_eq!(health.status, 503, "{}", health.json);
    assert_eq!(health.json["status"], "draining", "{}", health.json);
    assert_request_id(&health);
    // A new request is refused with the documented code and a retry hint.
    let refused = s.get("/v1/account", Some(&a.live.key)).await;
    assert_error_no_details(&refused, 503, "SERVICE_UNAVAILABLE");
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!(retry >= 1, "{retry}");
    // Both 503s are logged with their request ids and causes.
    let line = failure_line(&s, &refused);
    assert!(
        line.contains("code=SERVICE_UNAVAILABLE") && line.contains("draining"),
        "{line}"
    );
    let line = failure_line(&s, &health);
    assert!(
        line.contains("status=503") && line.contains("health draining"),
        "{line}"
    );

    // The request in flight completes normally and is charged once.
    let answer = in_flight
        .await
        .unwrap()
        .expect("the in-flight request got an answer");
    assert_eq!(answer.status().as_u16(), 202);
    let created: Value = answer.json().await.unwrap();
    assert_eq!(created["credits_charged"], 5, "{created}");
    let mut s = s;
    let status = s.wait_exit(Duration::from_secs(60)).await;
    assert!(status.success(), "{status:?}\n{}", s.log());
    // The task it accepted is kept for the next start.
    let count = s
        .sql(&format!(
            "SELECT COUNT(*) FROM tasks WHERE id = '{}'",
            created["task_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(count, "1");
    let ledger = s
        .sql(&format!(
            "SELECT SUM(amount) FROM credit_ledger WHERE account_id = '{}'",
            a.id
        ))
        .await;
    assert_eq!(ledger, "95", "charged exactly once");
}
