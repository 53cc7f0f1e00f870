//! Webhooks (api.md §11, §6 test mode): real `peakreel` processes POST signed events to a
//! real HTTPS receiver; the signature is recomputed with `ring`, not PeakReel's code.
//! Every process runs the retry schedule `[1, 2, 2]` s without jitter.

use crate::support::{assert_error, assert_validation, fields, Launch, Site};
use crate::webhook_support::{
    account, assert_body_matches_task, assert_signed, fast_retries, hooked_slideshow,
    seconds_between, Answer, Receiver,
};
use serde_json::{json, Value};
use std::time::Duration;

/// How long a test-mode task may take to end.
const ENDED: Duration = Duration::from_secs(120);

fn attempts(delivery: &Value) -> &Vec<Value> {
    delivery["attempts"].as_array().expect("attempts array")
}

/// One delivery whose status is no longer `pending`.
fn one_finished(d: &[Value]) -> bool {
    d.len() == 1 && d[0]["status"] != "pending"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_and_failed_events_are_signed_and_match_the_task() {
    let site = Site::new().await;
    let receiver = Receiver::start(&site.ca, vec![]).await;
    let server = site.launch(fast_retries(Launch::serve(1))).await;
    let acct = account(&site).await;
    let key = &acct.test;

    let (ok, _) = server
        .create(
            &key.key,
            &hooked_slideshow(&site, Some(&receiver.url()), None),
        )
        .await;
    let (failed, _) = server
        .create(
            &key.key,
            &hooked_slideshow(&site, Some(&receiver.url()), Some("tts_error")),
        )
        .await;
    let ok_task = server.wait_done(&key.key, &ok, ENDED).await;
    let failed_task = server.wait_done(&key.key, &failed, ENDED).await;
    assert_eq!(ok_task["status"], "completed", "{ok_task}");
    assert_eq!(ok_task["livemode"], false);
    assert!(ok_task["result"].is_object(), "{ok_task}");
    assert_eq!(failed_task["status"], "failed", "{failed_task}");
    assert_eq!(failed_task["error"]["code"], "TTS_ERROR", "{failed_task}");

    let hits = receiver.wait_hits(2, Duration::from_secs(30)).await;
    assert_eq!(hits.len(), 2, "one request per event");
    for (task_id, task, event) in [
        (&ok, &ok_task, "task.completed"),
        (&failed, &failed_task, "task.failed"),
    ] {
        let hit = hits
            .iter()
            .find(|h| h.json()["task_id"] == json!(task_id))
            .unwrap_or_else(|| panic!("no event for {task_id}"));
        let body = assert_signed(hit, &key.webhook_secret, event);
        assert_body_matches_task(&body, task, event);
        assert_eq!(body["livemode"], false);
        if event == "task.completed" {
            assert!(body["result"]["video_url"].is_string(), "{body}");
            assert!(body.get("error").is_none(), "{body}");
        } else {
            let error = body["error"].as_object().expect("error object");
            assert_eq!(error["code"], "TTS_ERROR");
            assert!(
                error["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{body}"
            );
            assert!(body.get("result").is_none(), "{body}");
        }

        // The attempt is recorded under the id the receiver saw.
        let d = server
            .wait_deliveries(&key.key, task_id, Duration::from_secs(10), one_finished)
            .await;
        assert_eq!(d[0]["delivery_id"], json!(hit.delivery_id()));
        assert_eq!(d[0]["event"], event);
        assert_eq!(d[0]["status"], "succeeded", "{}", d[0]);
        assert_eq!(d[0]["redelivery_of"], Value::Null);
        let a = attempts(&d[0]);
        assert_eq!(a.len(), 1, "{}", d[0]);
        assert_eq!(a[0]["status"], 200);
        assert_eq!(a[0]["response_body"], "ok");
        assert_eq!(a[0]["error"], Value::Null);
        assert!(a[0]["latency_ms"].is_u64(), "{}", d[0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_receiver_is_retried_on_schedule_under_one_delivery_id() {
    let site = Site::new().await;
    let receiver = Receiver::start(
        &site.ca,
        vec![
            Answer::Status(500, "boom one"),
            Answer::Status(500, "boom two"),
        ],
    )
    .await;
    let server = site.launch(fast_retries(Launch::serve(1))).await;
    let acct = account(&site).await;
    let key = &acct.test;
    let (task_id, _) = server
        .create(
            &key.key,
            &hooked_slideshow(&site, Some(&receiver.url()), Some("tts_error")),
        )
        .await;
    let task = server.wait_done(&key.key, &task_id, ENDED).await;

    let hits = receiver.wait_hits(3, Duration::from_secs(20)).await;
    let d = server
        .wait_deliveries(&key.key, &task_id, Duration::from_secs(10), one_finished)
        .await;
    assert_eq!(hits.len(), 3, "two failures, then one success: no more");
    let delivery_id = d[0]["delivery_id"].as_str().expect("delivery_id");
    for hit in &hits {
        assert_eq!(hit.delivery_id(), delivery_id, "the same id on every retry");
        let body = assert_signed(hit, &key.webhook_secret, "task.failed");
        assert_body_matches_task(&body, &task, "task.failed");
    }
    assert_eq!(d[0]["status"], "succeeded", "{}", d[0]);
    assert_eq!(d[0]["next_attempt_at"], Value::Null, "{}", d[0]);
    let a = attempts(&d[0]);
    assert_eq!(a.len(), 3, "{}", d[0]);
    let statuses: Vec<&Value> = a.iter().map(|a| &a["status"]).collect();
    assert_eq!(statuses, [&json!(500), &json!(500), &json!(200)]);
    let bodies: Vec<&Value> = a.iter().map(|a| &a["response_body"]).collect();
    assert_eq!(
        bodies,
        [&json!("boom one"), &json!("boom two"), &json!("ok")]
    );
    for (i, attempt) in a.iter().enumerate() {
        assert_eq!(attempt["attempt"], json!(i + 1), "{attempt}");
        assert!(attempt["latency_ms"].is_u64(), "{attempt}");
        assert_eq!(
            attempt["error"].is_null(),
            i == 2,
            "only failures carry an error: {attempt}"
        );
    }

    // The schedule counts from the first attempt: +1 s, then +2 s (the database keeps
    // whole seconds and a sender polls once a second, so allow one second late).
    let r1 = seconds_between(&a[0]["attempted_at"], &a[1]["attempted_at"]);
    let r2 = seconds_between(&a[0]["attempted_at"], &a[2]["attempted_at"]);
    assert!((1..=2).contains(&r1), "retry 1 at +{r1} s: {}", d[0]);
    assert!((2..=3).contains(&r2), "retry 2 at +{r2} s: {}", d[0]);
    let seen1 = hits[1].at.duration_since(hits[0].at).as_secs_f64();
    let seen2 = hits[2].at.duration_since(hits[0].at).as_secs_f64();
    assert!(seen1 <= 2.5, "retry 1 arrived {seen1:.2} s after the first");
    assert!(
        (1.0..=3.5).contains(&seen2) && seen2 > seen1,
        "retry 2 arrived {seen2:.2} s after the first (retry 1 at {seen1:.2} s)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_hanging_past_30_s_is_a_timeout_and_is_retried() {
    let site = Site::new().await;
    let receiver = Receiver::start(&site.ca, vec![Answer::Hang(Duration::from_secs(45))]).await;
    let server = site.launch(fast_retries(Launch::serve(1))).await;
    let acct = account(&site).await;
    let key = &acct.test;
    let (task_id, _) = server
        .create(
            &key.key,
            &hooked_slideshow(&site, Some(&receiver.url()), Some("tts_error")),
        )
        .await;
    server.wait_done(&key.key, &task_id, ENDED).await;

    let hits = receiver.wait_hits(2, Duration::from_secs(50)).await;
    let waited = hits[1].at.duration_since(hits[0].at).as_secs_f64();
    assert!(
        (29.0..40.0).contains(&waited),
        "the sender gave up after {waited:.1} s, not 30 s"
    );
    assert_eq!(hits[0].delivery_id(), hits[1].delivery_id());
    let d = server
        .wait_deliveries(&key.key, &task_id, Duration::from_secs(10), one_finished)
        .await;
    assert_eq!(d[0]["status"], "succeeded", "{}", d[0]);
    let a = attempts(&d[0]);
    assert_eq!(a.len(), 2, "{}", d[0]);
    assert_eq!(
        a[0]["status"],
        Value::Null,
        "no answer within 30 s: {}",
        a[0]
    );
    let error = a[0]["error"].as_str().unwrap_or_default().to_lowercase();
    assert!(
        error.contains("timeout") || error.contains("timed out"),
        "the first attempt's error names the timeout: {}",
        a[0]
    );
    assert_eq!(a[1]["status"], 200, "{}", a[1]);
    assert_eq!(a[1]["error"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssrf_guard_blocks_the_delivery_at_send_time() {
    // The task is created through an API process whose guard lets loopback through (so
    // creation accepts the receiver's URL); it ends in a worker process on the same data
    // directory whose guard is the production one, so its webhook sender must refuse the
    // same URL when it delivers.
    let site = Site::new().await;
    let receiver = Receiver::start(&site.ca, vec![]).await;
    let api = site.launch(fast_retries(Launch::api())).await;
    let acct = account(&site).await;
    let key = &acct.test;
    let (task_id, _) = api
        .create(
            &key.key,
            &hooked_slideshow(&site, Some(&receiver.url()), Some("tts_error")),
        )
        .await;
    let _worker = site
        .launch(fast_retries(Launch::worker(1).production_guard()))
        .await;
    let task = api.wait_done(&key.key, &task_id, ENDED).await;
    assert_eq!(
        task["error"]["code"], "TTS_ERROR",
        "a blocked delivery never changes the task: {task}"
    );

    // 1 + 3 retries of the schedule, every one blocked, then given up.
    let d = api
        .wait_deliveries(&key.key, &task_id, Duration::from_secs(20), one_finished)
        .await;
    assert_eq!(d[0]["status"], "failed", "{}", d[0]);
    let a = attempts(&d[0]);
    assert_eq!(a.len(), 4, "first attempt and three retries: {}", d[0]);
    for attempt in a {
        assert_eq!(attempt["status"], Value::Null, "{attempt}");
        assert!(
            attempt["error"]
                .as_str()
                .is_some_and(|e| e.contains("SSRF_BLOCKED")),
            "the attempt names the SSRF guard: {attempt}"
        );
    }
    assert_eq!(receiver.connections(), 0, "nothing reached the receiver");
    assert!(receiver.hits().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_survives_kill_9_and_arrives_after_restart() {
    let site = Site::new().await;
    // An address nothing listens on yet: the first attempt is refused.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("https://{addr}/hook");
    // A long second retry, so the delivery is certainly queued (not leased) when killed.
    let env = [("PEAKREEL__WEBHOOKS__SCHEDULE_SECS", "[2, 60]")];
    let mut server = site.launch(fast_retries(Launch::serve(1)).envs(&env)).await;
    let acct = account(&site).await;
    let key = &acct.test;
    let (task_id, _) = server
        .create(
            &key.key,
            &hooked_slideshow(&site, Some(&url), Some("tts_error")),
        )
        .await;
    let task = server.wait_done(&key.key, &task_id, ENDED).await;
    let d = server
        .wait_deliveries(&key.key, &task_id, Duration::from_secs(15), |d| {
            d.len() == 1 && !attempts(&d[0]).is_empty()
        })
        .await;
    server.kill9();
    assert_eq!(d[0]["status"], "pending", "{}", d[0]);
    assert!(d[0]["next_attempt_at"].is_string(), "{}", d[0]);
    let a = attempts(&d[0]);
    assert_eq!(a.len(), 1, "{}", d[0]);
    assert_eq!(a[0]["status"], Value::Null, "{}", a[0]);
    assert!(a[0]["error"].is_string(), "connection refused: {}", a[0]);
    let delivery_id = d[0]["delivery_id"].as_str().unwrap().to_string();

    let receiver = Receiver::start_at(addr, &site.ca, vec![]).await;
    let server = site.launch(fast_retries(Launch::serve(1)).envs(&env)).await;
    let hits = receiver.wait_hits(1, Duration::from_secs(15)).await;
    assert_eq!(hits[0].delivery_id(), delivery_id, "the same delivery");
    let body = assert_signed(&hits[0], &key.webhook_secret, "task.failed");
    assert_body_matches_task(&body, &task, "task.failed");
    let d = server
        .wait_deliveries(&key.key, &task_id, Duration::from_secs(10), one_finished)
        .await;
    assert_eq!(d[0]["delivery_id"], json!(delivery_id));
    assert_eq!(d[0]["status"], "succeeded", "{}", d[0]);
    let a = attempts(&d[0]);
    assert_eq!(a.len(), 2, "{}", d[0]);
    assert_eq!(a[1]["status"], 200);
    assert_eq!(receiver.hits().len(), 1, "delivered once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeliver_sends_a_new_delivery_to_the_owner_only() {
    let site = Site::new().await;
    let receiver = Receiver::start(&site.ca, vec![]).await;
    let server = site.launch(fast_retries(Launch::serve(1))).await;
    let acct = account(&site).await;
    let other = account(&site).await;
    let key = &acct.test;
    let (with_hook, _) = server
        .create(
            &key.key,
            &hooked_slideshow(&site, Some(&receiver.url()), Some("tts_error")),
        )
        .await;
    let (without_hook, _) = server
        .create(&key.key, &hooked_slideshow(&site, None, Some("tts_error")))
        .await;
    let task = server.wait_done(&key.key, &with_hook, ENDED).await;
    server.wait_done(&key.key, &without_hook, ENDED).await;
    let first = server
        .wait_deliveries(&key.key, &with_hook, Duration::from_secs(10), one_finished)
        .await;
    let first_id = first[0]["delivery_id"].as_str().unwrap().to_string();
    receiver.wait_hits(1, Duration::from_secs(5)).await;

    let list = format!("/v1/tasks/{with_hook}/webhook-deliveries");
    let redeliver = format!("{list}/redeliver");
    let r = server.post(&redeliver, &key.key, &json!({})).await;
    assert_eq!(r.status, 202, "{}", r.json);
    let new_id = r.json["delivery_id"].as_str().expect("delivery_id");
    assert!(new_id.starts_with("whd_"), "{}", r.json);
    assert_ne!(new_id, first_id, "a new delivery");
    assert_eq!(r.json["redelivery_of"], json!(first_id));
    assert_eq!(r.json["event"], "task.failed");

    let hits = receiver.wait_hits(2, Duration::from_secs(10)).await;
    assert_eq!(hits[1].delivery_id(), new_id);
    let body = assert_signed(&hits[1], &key.webhook_secret, "task.failed");
    assert_body_matches_task(&body, &task, "task.failed");
    assert_eq!(body, hits[0].json(), "the same event");
    let d = server
        .wait_deliveries(&key.key, &with_hook, Duration::from_secs(10), |d| {
            d.len() == 2 && d.iter().all(|d| d["status"] == "succeeded")
        })
        .await;
    assert_eq!(d[0]["delivery_id"], json!(first_id));
    assert_eq!(d[1]["delivery_id"], json!(new_id));
    assert_eq!(d[1]["redelivery_of"], json!(first_id));

    // Another account's key and the other mode's key see no such task, on both routes.
    for stranger in [&other.test.key, &other.live.key, &acct.live.key] {
        let r = server.get(&list, Some(stranger)).await;
        assert_error(&r, 404, "TASK_NOT_FOUND");
        let r = server.post(&redeliver, stranger, &json!({})).await;
        assert_error(&r, 404, "TASK_NOT_FOUND");
    }
    // Nothing to redeliver for a task created without a webhook URL.
    let r = server
        .post(
            &format!("/v1/tasks/{without_hook}/webhook-deliveries/redeliver"),
            &key.key,
            &json!({}),
        )
        .await;
    let errors = assert_validation(&r, &[]);
    assert_eq!(fields(&errors), ["webhook_url"], "{}", r.json);
    let none = server.deliveries(&key.key, &without_hook).await;
    assert!(none.is_empty(), "{}", json!(none));

    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        receiver.hits().len(),
        2,
        "refused redeliveries send nothing"
    );
}
