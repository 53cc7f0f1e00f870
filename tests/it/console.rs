//! The web console in a real browser: headless Chromium from Debian driven over WebDriver
//! (chromium-driver, installed by scripts/install-deps.sh) against the real binary. One
//! user's path from sign-in to a played video, a failed test task, a redelivered webhook
//! and a refused key, with screenshots of every page under
//! `target/console-screenshots/` and no error in the browser's console.

use crate::support::*;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

const RENDER_LIMIT: Duration = Duration::from_secs(420);

/// chromedriver on a free loopback port, killed with the test.
struct Driver {
    child: tokio::process::Child,
    url: String,
}

impl Driver {
    async fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver is not installed: run scripts/install-deps.sh (Debian chromium-driver)");
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let start = Instant::now();
        while client.get(format!("{url}/status")).send().await.is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Driver { child, url }
    }

    async fn browser(&self, profile: &std::path::Path) -> Client {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--autoplay-policy=no-user-gesture-required",
            "--window-size=1280,800",
        ];
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let caps = json!({
            "goog:chromeOptions": { "args": args, "binary": "/usr/bin/chromium" },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let caps = caps.as_object().unwrap().clone();
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("start a headless Chromium session")
    }

    /// The browser console's entries since the last call (chromedriver's log endpoint).
    async fn console_log(&self, c: &Client) -> Vec<Value> {
        let session = c.session_id().await.unwrap().expect("session id");
        let r = reqwest::Client::new()
            .post(format!("{}/session/{session}/se/log", self.url))
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .expect("log endpoint");
        let v: Value = r.json().await.expect("log json");
        v["value"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn shots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("console-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(shots_dir().join(format!("{name}.png")), png).expect("write screenshot");
}

/// Evaluate `expr` in the page until it is truthy; returns its value.
async fn wait_js(c: &Client, expr: &str, limit: Duration, what: &str) -> Value {
    let start = Instant::now();
    loop {
        let v = c
            .execute(&format!("return ({expr});"), vec![])
            .await
            .unwrap_or(Value::Null);
        let truthy = match &v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => !s.is_empty(),
            _ => true,
        };
        if truthy {
            return v;
        }
        if start.elapsed() > limit {
            let text = c
                .execute("return document.body.innerText;", vec![])
                .await
                .unwrap_or_default();
            panic!("timed out waiting for {what} ({expr}); page text:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn fill(c: &Client, css: &str, text: &str) {
    let e = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"));
    e.clear().await.ok();
    e.send_keys(text).await.expect("type");
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

async fn select(c: &Client, css: &str, value: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"))
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
}

async fn sign_in(c: &Client, base: &str, key: &str) {
    c.goto(&format!("{base}/console#/tasks"))
        .await
        .expect("open console");
    wait_js(
        c,
        "document.querySelector('#api-key') || document.querySelector('#sign-out:not([hidden])')",
        Duration::from_secs(20),
        "the console",
    )
    .await;
    let signed_in: bool = c
        .execute("return !document.getElementById('top').hidden;", vec![])
        .await
        .unwrap()
        .as_bool()
        .unwrap();
    if signed_in {
        click(c, "#sign-out").await;
    }
    fill(c, "#api-key", key).await;
    click(c, "form.signin button[type=submit]").await;
}

/// Every severe browser-console entry is a failure (script errors, CSP violations,
/// failed loads) except the 401 answers to refused keys, which the page handles and shows.
#[track_caller]
fn assert_no_console_errors(entries: &[Value], step: &str) {
    let severe: Vec<&Value> = entries
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .filter(|e| {
            !e["message"]
                .as_str()
                .unwrap_or("")
                .contains("status of 401")
        })
        .collect();
    assert!(
        severe.is_empty(),
        "browser console errors after {step}: {severe:#?}"
    );
}

#[tokio::test]
async fn console_from_sign_in_to_a_played_video() {
    let driver = Driver::start().await;
    let c = Site::new().await;
    let acct = c.account("Max", 100).await;
    let p = c.launch(Launch::serve(1)).await;
    p.images().route(
        "/webhook",
        peakreel_testkit::Reply::Full {
            status: 200,
            content_type: "application/json",
            body: bytes::Bytes::from_static(b"{}"),
        },
    );
    let base = p.base().to_string();
    let profile = tempfile::tempdir().expect("profile dir");
    let b = driver.browser(profile.path()).await;

    // The page's own headers: a strict policy on every console file.
    let r = p.get("/console", None).await;
    assert_eq!(r.status, 200);
    let csp = r.header("content-security-policy").expect("CSP header");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );

    // A wrong key returns to sign-in with the API's own message.
    let wrong = format!("vpk_live_{}", "Z".repeat(32));
    let api_answer = p.get("/v1/account", Some(&wrong)).await;
    let expected = api_answer.json["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    sign_in(&b, &base, &wrong).await;
    let shown = wait_js(
        &b,
        "document.getElementById('key-error') && document.getElementById('key-error').textContent",
        Duration::from_secs(10),
        "the refusal",
    )
    .await;
    assert_eq!(shown.as_str().unwrap(), expected);
    shot(&b, "01-sign-in-refused").await;

    // Sign in; the key is in session storage only, never in the URL.
    sign_in(&b, &base, &acct.live.key).await;
    wait_js(
        &b,
        "document.getElementById('task-rows')",
        Duration::from_secs(20),
        "the task list",
    )
    .await;
    let url = b.current_url().await.unwrap().to_string();
    assert!(!url.contains(&acct.live.key), "{url}");
    let stored = b.execute("return [sessionStorage.getItem('peakreel.key'), localStorage.length, document.cookie];", vec![]).await.unwrap();
    assert_eq!(stored, json!([acct.live.key, 0, ""]));

    // New video: six photos through the file input (what a drop does too), a script.
    click(&b, "a[data-nav=new]").await;
    wait_js(
        &b,
        "document.getElementById('photo-input')",
        Duration::from_secs(10),
        "the new-video form",
    )
    .await;
    let photos = tempfile::tempdir().unwrap();
    let rooms = [
        "frontal", "kitchen", "bedroom", "bathroom", "frontal", "kitchen",
    ];
    let paths: Vec<String> = (0..6)
        .map(|i| {
            let path = photos.path().join(format!("photo{i}.jpg"));
            std::fs::write(
                &path,
                peakreel_testkit::photo_jpeg(&format!("house10{}_{}.jpg", 4 + i / 4, rooms[i])),
            )
            .unwrap();
            path.display().to_string()
        })
        .collect();
    b.find(Locator::Css("#photo-input"))
        .await
        .unwrap()
        .send_keys(&paths.join("\n"))
        .await
        .expect("choose files");
    wait_js(&b, "[...document.querySelectorAll('#photo-list li .hint')].filter(n => n.textContent.includes('×')).length === 6", Duration::from_secs(60), "six uploads").await;
    // A refused request: the API's message appears beside the field it names.
    fill(&b, "#script", "Three bedrooms.").await;
    click(&b, "#plan").await;
    let beside = wait_js(
        &b,
        "document.querySelector('[data-error=script]').textContent",
        Duration::from_secs(30),
        "the script error",
    )
    .await;
    assert_eq!(
        beside,
        "The script has 15 characters; 6 images need at least 240. Lengthen the script or use fewer images."
    );
    // Chromium logs the refused request (400) as a failed load; that one entry, and
    // nothing else, is expected so far.
    let entries: Vec<Value> = driver
        .console_log(&b)
        .await
        .into_iter()
        .filter(|e| {
            !e["message"].as_str().unwrap_or("").contains(
                "/plan - Failed to load resource: the server responded with a status of 400",
            )
        })
        .collect();
    assert_no_console_errors(&entries, "the refused storyboard");
    let script = "Welcome to this bright family home with a sunny garden. The open kitchen flows into a calm living room with tall windows. Upstairs, three quiet bedrooms and a modern bathroom wait for you. Book a visit today and picture your next chapter here.";
    fill(&b, "#script", script).await;
    let count = b
        .find(Locator::Css("#script-count"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(count.contains("240–300"), "{count}");
    select(&b, "#orchestration", "sequential").await;
    select(&b, "#subtitle", "classic").await;
    fill(&b, "#webhook", &c.webhook_url()).await;
    // Reorder: the last photo first, with the keyboard-usable buttons.
    for k in (2..=6).rev() {
        click(
            &b,
            &format!("#photo-list li:nth-child({k}) .tools button:first-child"),
        )
        .await;
    }
    let first_alt = wait_js(
        &b,
        "document.querySelector('#photo-list li img').alt",
        Duration::from_secs(5),
        "the reordered list",
    )
    .await;
    assert!(
        first_alt.as_str().unwrap().contains("photo5.jpg"),
        "{first_alt}"
    );

    // The storyboard before paying.
    click(&b, "#plan").await;
    wait_js(
        &b,
        "document.querySelectorAll('#storyboard-strip figure').length === 6",
        Duration::from_secs(60),
        "the storyboard",
    )
    .await;
    let captions = b
        .find(Locator::Css("#storyboard-strip"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        captions.contains("photo 1") && captions.contains("Welcome to this bright family home"),
        "{captions}"
    );
    assert_eq!(
        p.sql("SELECT COUNT(*) FROM tasks").await,
        "0",
        "the storyboard stored a task"
    );
    shot(&b, "02-new-video-storyboard").await;
    b.set_window_size(390, 844).await.unwrap();
    shot(&b, "03-new-video-390px").await;
    let overflow = b
        .execute("return document.documentElement.scrollWidth;", vec![])
        .await
        .unwrap();
    assert!(
        overflow.as_u64().unwrap() <= 390,
        "horizontal overflow at 390 px: {overflow}"
    );
    b.set_window_size(1280, 800).await.unwrap();

    // Create, then watch the list without reloading the page.
    click(&b, "#create").await;
    let hash = wait_js(
        &b,
        "location.hash.startsWith('#/tasks/task_') && location.hash",
        Duration::from_secs(60),
        "the task page",
    )
    .await;
    let task_id = hash
        .as_str()
        .unwrap()
        .trim_start_matches("#/tasks/")
        .to_string();
    b.execute("window.__noReload = true;", vec![])
        .await
        .unwrap();
    click(&b, "a[data-nav=tasks]").await;
    let row = format!("tr[data-task='{task_id}']");
    wait_js(
        &b,
        &format!("document.querySelector(\"{row}\")"),
        Duration::from_secs(20),
        "the task row",
    )
    .await;
    shot(&b, "04-tasks-in-progress").await;
    wait_js(
        &b,
        &format!("document.querySelector(\"{row}[data-status=completed]\")"),
        RENDER_LIMIT,
        "the task to complete in the list",
    )
    .await;
    assert_eq!(
        b.execute("return window.__noReload === true;", vec![])
            .await
            .unwrap(),
        json!(true),
        "the page was reloaded"
    );
    shot(&b, "05-tasks-completed").await;

    // The task page: the video plays, seeks (range requests), and has the right length.
    let task = p.task(&acct.live.key, &task_id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let expected_duration = task["result"]["duration_seconds"].as_f64().unwrap();
    click(&b, &format!("{row} a")).await;
    wait_js(
        &b,
        "document.getElementById('task-video')",
        Duration::from_secs(20),
        "the player",
    )
    .await;
    let played = b
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const v = document.getElementById('task-video');
             v.muted = true;
             const fail = (e) => done({error: String(e)});
             v.addEventListener('error', () => fail(v.error && v.error.message));
             v.play().then(() => {
               v.addEventListener('seeked', () => done({duration: v.duration, readyState: v.readyState, time: v.currentTime}), {once: true});
               v.currentTime = v.duration / 2;
             }).catch(fail);",
            vec![],
        )
        .await
        .expect("play the video");
    assert!(played.get("error").is_none(), "{played}");
    let duration = played["duration"].as_f64().unwrap();
    assert!(
        (duration - expected_duration).abs() <= 0.5,
        "player {duration} s vs result {expected_duration} s"
    );
    assert!(played["readyState"].as_u64().unwrap() >= 2, "{played}");
    assert!(
        (played["time"].as_f64().unwrap() - duration / 2.0).abs() < 1.0,
        "{played}"
    );
    let facts = b
        .find(Locator::Css("#task-facts"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        facts.contains(&format!(
            "{}×{}",
            task["result"]["width"], task["result"]["height"]
        )),
        "{facts}"
    );

    b.execute("window.scrollTo(0, 0);", vec![]).await.unwrap();
    shot(&b, "06-task-page").await;

    // Webhook deliveries, and a redelivery shown without a reload.
    wait_js(
        &b,
        "document.querySelectorAll('#delivery-rows tr').length >= 1",
        Duration::from_secs(60),
        "the first delivery",
    )
    .await;
    let before = p
        .get(
            &format!("/v1/tasks/{task_id}/webhook-deliveries"),
            Some(&acct.live.key),
        )
        .await
        .json["data"]
        .as_array()
        .unwrap()
        .len();
    click(&b, "#redeliver").await;
    wait_js(
        &b,
        "document.getElementById('redeliver-note').textContent.includes('Sent again')",
        Duration::from_secs(20),
        "the redelivery",
    )
    .await;
    let after = p
        .get(
            &format!("/v1/tasks/{task_id}/webhook-deliveries"),
            Some(&acct.live.key),
        )
        .await
        .json["data"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(after, before + 1);
    shot(&b, "07-task-redelivered").await;
    assert_no_console_errors(&driver.console_log(&b).await, "the live task");

    // Account and catalogue pages.
    click(&b, "a[data-nav=account]").await;
    wait_js(
        &b,
        "document.querySelectorAll('#ledger-rows tr').length >= 2",
        Duration::from_secs(20),
        "the ledger",
    )
    .await;
    let ledger = b
        .find(Locator::Css("#ledger-rows"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        ledger.contains("-5") && ledger.contains(&task_id),
        "{ledger}"
    );
    shot(&b, "08-account").await;
    click(&b, "a[data-nav=catalog]").await;
    wait_js(
        &b,
        "document.querySelectorAll('#voice-cards .card').length >= 1",
        Duration::from_secs(20),
        "the voices",
    )
    .await;
    shot(&b, "09-voices-avatars").await;

    // A failed test-mode task, read in the console with the test key.
    let mut body = c.shortest_slideshow();
    body["test_scenario"] = json!("image_processing_failed");
    let (failed_id, _) = p.create(&acct.test.key, &body).await;
    let failed = p.wait_done(&acct.test.key, &failed_id, RENDER_LIMIT).await;
    assert_eq!(failed["status"], "failed");
    sign_in(&b, &base, &acct.test.key).await;
    wait_js(
        &b,
        "document.getElementById('task-rows')",
        Duration::from_secs(20),
        "the test task list",
    )
    .await;
    b.goto(&format!("{base}/console#/tasks/{failed_id}"))
        .await
        .unwrap();
    let code = wait_js(&b, "document.getElementById('task-error-code') && document.getElementById('task-error-code').textContent", Duration::from_secs(20), "the error code").await;
    assert_eq!(code, failed["error"]["code"]);
    let message = b
        .find(Locator::Css("#task-error-message"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(message, failed["error"]["message"].as_str().unwrap());
    shot(&b, "10-task-failed").await;

    // A revoked key: back to sign-in with the API's message.
    p.admin_ok(&["key", "revoke", &acct.test.id]).await;
    let revoked = p.get("/v1/account", Some(&acct.test.key)).await;
    b.goto(&format!("{base}/console#/account")).await.unwrap();
    let shown = wait_js(
        &b,
        "document.getElementById('key-error') && document.getElementById('key-error').textContent",
        Duration::from_secs(20),
        "the revoked-key message",
    )
    .await;
    assert_eq!(shown, revoked.json["error"]["message"]);
    assert_eq!(
        b.execute("return sessionStorage.getItem('peakreel.key');", vec![])
            .await
            .unwrap(),
        Value::Null
    );
    shot(&b, "11-sign-in-revoked").await;

    assert_no_console_errors(
        &driver.console_log(&b).await,
        "the test task and the revoked key",
    );
    b.close().await.ok();
}
