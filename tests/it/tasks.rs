//! Reading tasks: visibility per account and mode, and the cursor-paginated list (api.md §6).

use crate::support::*;
use serde_json::{json, Value};

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data array: {list}"))
        .iter()
        .map(|t| t["task_id"].as_str().unwrap().to_string())
        .collect()
}

async fn create(s: &Server, key: &str) -> String {
    s.create_ok(SLIDESHOW, key, &s.slideshow(6)).await["task_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn task_not_found_and_isolation() {
    let s = Server::start().await;
    let (a, b) = futures::join!(s.account("Pro", 100), s.account("Pro", 100));
    let a_live = create(&s, &a.live.key).await;
    let a_test = create(&s, &a.test.key).await;
    let b_live = create(&s, &b.live.key).await;

    // Each key sees its own task.
    for (id, key) in [
        (&a_live, &a.live.key),
        (&a_test, &a.test.key),
        (&b_live, &b.live.key),
    ] {
        let r = s.get(&format!("/v1/tasks/{id}"), Some(key)).await;
        assert_eq!(r.status, 200, "{}", r.json);
    }
    // Another account's task, or the same account's task of the other mode, is missing.
    for (id, key) in [
        (&a_live, &b.live.key),
        (&a_live, &b.test.key),
        (&b_live, &a.live.key),
        (&a_live, &a.test.key),
        (&a_test, &a.live.key),
        (&a_test, &b.test.key),
    ] {
        let r = s.get(&format!("/v1/tasks/{id}"), Some(key)).await;
        assert_eq!(
            assert_error(&r, 404, "TASK_NOT_FOUND"),
            json!({ "task_id": id })
        );
    }
    // Malformed and unknown ids answer the same way.
    for id in [
        "task_123",
        "nope",
        "task_0123456789abcdefghijklmn",
        "task_01234567890123456789012!",
    ] {
        let r = s.get(&format!("/v1/tasks/{id}"), Some(&a.live.key)).await;
        assert_eq!(
            assert_error(&r, 404, "TASK_NOT_FOUND"),
            json!({ "task_id": id })
        );
    }

    // Lists hold only the caller's tasks of the key's mode.
    let list = |key: String| {
        let s = &s;
        async move {
            let r = s.get("/v1/tasks", Some(&key)).await;
            assert_eq!(r.status, 200, "{}", r.json);
            assert_keys(&r.json, &["data", "has_more"]);
            assert_eq!(r.json["has_more"], false);
            ids(&r.json)
        }
    };
    assert_eq!(list(a.live.key.clone()).await, vec![a_live.clone()]);
    assert_eq!(list(a.test.key.clone()).await, vec![a_test.clone()]);
    assert_eq!(list(b.live.key.clone()).await, vec![b_live.clone()]);
    assert!(list(b.test.key.clone()).await.is_empty());
    // Another account's task id as a cursor leaks nothing.
    let r = s
        .get(
            &format!("/v1/tasks?starting_after={b_live}"),
            Some(&a.live.key),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(ids(&r.json).is_empty(), "{}", r.json);

    // In-flight counts per mode.
    let acct = s.get("/v1/account", Some(&a.test.key)).await;
    assert_eq!(acct.json["in_flight"], json!({ "live": 1, "test": 1 }));
    let acct = s.get("/v1/account", Some(&b.live.key)).await;
    assert_eq!(acct.json["in_flight"], json!({ "live": 1, "test": 0 }));
    s.assert_ledger_consistent(&a).await;
    s.assert_ledger_consistent(&b).await;
}

#[tokio::test]
async fn pagination_walks_every_task_once_newest_first() {
    let s = Server::start().await;
    let a = s.account("Max", 100).await;
    let mut created = Vec::new();
    for _ in 0..7 {
        created.push(create(&s, &a.live.key).await);
    }
    // A test-mode task must not appear in the live list.
    create(&s, &a.test.key).await;
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let path = match &cursor {
            None => "/v1/tasks?limit=3".to_string(),
            Some(c) => format!("/v1/tasks?limit=3&starting_after={c}"),
        };
        let r = s.get(&path, Some(&a.live.key)).await;
        assert_eq!(r.status, 200, "{}", r.json);
        let page = ids(&r.json);
        assert!(page.len() <= 3);
        for t in r.json["data"].as_array().unwrap() {
            assert_eq!(t["status"], "queued");
            assert_eq!(t["livemode"], true);
            assert_eq!(t["type"], "narrated_slideshow");
        }
        pages.push((page.len(), r.json["has_more"].as_bool().unwrap()));
        seen.extend(page.iter().cloned());
        if !r.json["has_more"].as_bool().unwrap() {
            break;
        }
        cursor = page.last().cloned();
        assert!(pages.len() < 10, "pagination does not end");
    }
    assert_eq!(pages, [(3, true), (3, true), (1, false)]);
    assert_eq!(seen, newest_first);

    // Default limit, and the status filter.
    let r = s.get("/v1/tasks", Some(&a.live.key)).await;
    assert_eq!(ids(&r.json), newest_first);
    let r = s
        .get("/v1/tasks?status=queued&limit=100", Some(&a.live.key))
        .await;
    assert_eq!(ids(&r.json), newest_first);
    for status in ["completed", "failed", "processing"] {
        let r = s
            .get(&format!("/v1/tasks?status={status}"), Some(&a.live.key))
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert!(ids(&r.json).is_empty(), "{status}: {}", r.json);
        assert_eq!(r.json["has_more"], false);
    }
    // Exactly a full page: no more.
    let r = s.get("/v1/tasks?limit=7", Some(&a.live.key)).await;
    assert_eq!(r.json["has_more"], false);
    assert_eq!(ids(&r.json).len(), 7);

    // Bad parameters.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("status=done", "status"),
        ("starting_after=task_1", "starting_after"),
        ("colour=red", "colour"),
    ] {
        let r = s
            .get(&format!("/v1/tasks?{query}"), Some(&a.live.key))
            .await;
        assert_eq!(fields(&assert_validation(&r, &[])), [field], "{query}");
    }
    // Several at once are all reported.
    let r = s
        .get("/v1/tasks?limit=0&status=done", Some(&a.live.key))
        .await;
    assert_eq!(fields(&assert_validation(&r, &[])), ["limit", "status"]);
    assert_eq!(s.assert_ledger_consistent(&a).await, 65);
}
