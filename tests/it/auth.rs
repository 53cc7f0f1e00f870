//! Authentication, plans and the request rate (api.md §2; errors.md 401/403/404/429 rows).

use crate::support::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn missing_api_key() {
    let s = Server::start().await;
    // No header at all, on a GET and on a create.
    let r = s.get("/v1/account", None).await;
    assert_error_no_details(&r, 401, "MISSING_API_KEY");
    let r = s
        .send(
            s.request(Method::POST, SLIDESHOW)
                .header("content-type", "application/json")
                .body(s.slideshow(6).to_string()),
        )
        .await;
    assert_error_no_details(&r, 401, "MISSING_API_KEY");
    // `Bearer ` with nothing after it, another scheme, a bare key.
    for value in [
        "Bearer ",
        "Bearer    ",
        "Basic x",
        "vpk_live_0123456789abcdef0123456789abcdef",
    ] {
        let r = s
            .send(
                s.request(Method::GET, "/v1/account")
                    .header("authorization", value),
            )
            .await;
        assert_error_no_details(&r, 401, "MISSING_API_KEY");
    }
}

#[tokio::test]
async fn invalid_api_key() {
    let s = Server::start().await;
    for key in [
        "vpk_live_short",
        "vpk_prod_0123456789abcdef0123456789abcdef",
        "vpk_live_0123456789abcdef0123456789abcde!",
        "sk_live_whatever",
        // Well-formed, but no such key.
        "vpk_live_0123456789abcdef0123456789abcdef",
        "vpk_test_0123456789abcdef0123456789abcdef",
    ] {
        let r = s.get("/v1/account", Some(key)).await;
        assert_error_no_details(&r, 401, "INVALID_API_KEY");
    }
}

#[tokio::test]
async fn revoked_key() {
    let s = Server::start().await;
    let a = s.account("Pro", 100).await;
    // Each key has its own webhook secret.
    assert_ne!(a.live.webhook_secret, a.test.webhook_secret);
    assert_eq!(s.get("/v1/account", Some(&a.live.key)).await.status, 200);
    s.admin_ok(&["key", "revoke", &a.live.id]).await;
    let r = s.get("/v1/account", Some(&a.live.key)).await;
    assert_error_no_details(&r, 401, "API_KEY_REVOKED");
    let r = s.post(SLIDESHOW, &a.live.key, &s.slideshow(6)).await;
    assert_error_no_details(&r, 401, "API_KEY_REVOKED");
    // The account's other key is unaffected.
    assert_eq!(s.get("/v1/account", Some(&a.test.key)).await.status, 200);
}

/// `--expires-in-days 0` sets `expires_at` to the moment of creation, and a key whose
/// expiry is at or before now is expired, so no SQL is needed for this rule.
#[tokio::test]
async fn expired_key() {
    let s = Server::start().await;
    let id = s.create_account("Pro", 100).await;
    let key = s.create_key(&id, "live", &["--expires-in-days", "0"]).await;
    let r = s.get("/v1/account", Some(&key.key)).await;
    let details = assert_error(&r, 401, "API_KEY_EXPIRED");
    assert_keys(&details, &["expired_at"]);
    let expired_at = details["expired_at"].as_str().unwrap();
    assert!(is_timestamp(expired_at), "{expired_at}");
    assert!(expired_at <= now_timestamp().as_str());
    // It matches the key's stored expiry.
    let unix: i64 = s
        .sql(&format!(
            "SELECT expires_at FROM api_keys WHERE id = '{}'",
            key.id
        ))
        .await
        .parse()
        .unwrap();
    let stored = time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap()
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap();
    assert_eq!(expired_at, stored);

    // A key with days left works.
    let fresh = s
        .create_key(&id, "live", &["--expires-in-days", "30"])
        .await;
    assert_eq!(s.get("/v1/account", Some(&fresh.key)).await.status, 200);
}

#[tokio::test]
async fn deleted_account_is_user_not_found() {
    let s = Server::start().await;
    let a = s.account("Pro", 100).await;
    assert_eq!(s.get("/v1/account", Some(&a.live.key)).await.status, 200);
    s.admin_ok(&["account", "delete", &a.id]).await;
    for key in [&a.live.key, &a.test.key] {
        let r = s.get("/v1/account", Some(key)).await;
        assert_error_no_details(&r, 404, "USER_NOT_FOUND");
        let r = s.post(SLIDESHOW, key, &s.slideshow(6)).await;
        assert_error_no_details(&r, 404, "USER_NOT_FOUND");
    }
}

#[tokio::test]
async fn plan_not_allowed() {
    let s = Server::start().await;
    let a = s.account("Starter", 20).await;
    let expected = json!({ "current_plan": "Starter", "required_plans": ["Plus", "Pro", "Max"] });
    // Every /v1 route.
    for path in [
        "/v1/account",
        "/v1/tasks",
        "/v1/tasks/task_0123456789abcdefghijklmn",
        "/v1/voices",
        "/v1/avatars",
    ] {
        let r = s.get(path, Some(&a.live.key)).await;
        assert_eq!(
            assert_error(&r, 403, "PLAN_NOT_ALLOWED"),
            expected,
            "{path}"
        );
    }
    for (path, body) in [(SLIDESHOW, s.slideshow(6)), (LIVING, s.living(2))] {
        let r = s.post(path, &a.live.key, &body).await;
        assert_eq!(assert_error(&r, 403, "PLAN_NOT_ALLOWED"), expected);
        let r = s.post(path, &a.test.key, &body).await;
        assert_eq!(assert_error(&r, 403, "PLAN_NOT_ALLOWED"), expected);
    }
    // The plan gate comes before JSON syntax (validation order, api.md §3).
    let r = s
        .post_raw(SLIDESHOW, &a.live.key, b"{\"images\": [".to_vec())
        .await;
    assert_error(&r, 403, "PLAN_NOT_ALLOWED");

    // Free has no API access either; upgrading opens the door, nothing else changes.
    let free = s.account("Free", 0).await;
    let r = s.get("/v1/account", Some(&free.live.key)).await;
    assert_eq!(
        assert_error(&r, 403, "PLAN_NOT_ALLOWED")["current_plan"],
        "Free"
    );
    s.admin_ok(&["account", "set-plan", &a.id, "Plus"]).await;
    let r = s.get("/v1/account", Some(&a.live.key)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["plan"], "Plus");
    assert_eq!(r.json["concurrency_limit"], 1);
}

#[tokio::test]
async fn rate_limited() {
    let s = Server::start_with_rate(1, 2).await;
    let a = s.account("Pro", 100).await;
    let mut limited = None;
    for _ in 0..6 {
        let r = s.get("/v1/account", Some(&a.live.key)).await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status, 200, "{}", r.json);
    }
    let r = limited.expect("a burst of 2 at 1/s must be limited within 6 requests");
    let details = assert_error(&r, 429, "RATE_LIMITED");
    assert_eq!(details, json!({ "limit_per_second": 1 }));
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("Retry-After seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");

    // The quota is per key: the account's test key is not limited.
    assert_eq!(s.get("/v1/account", Some(&a.test.key)).await.status, 200);
    // /health is never limited.
    for _ in 0..10 {
        assert_eq!(s.get("/health", None).await.status, 200);
    }
}
