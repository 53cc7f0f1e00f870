//! Simultaneous creates (api.md §2): the charge, the concurrency check and the insert are
//! one transaction, so no race overspends or exceeds the limit.

use crate::support::*;
use serde_json::json;

/// Fire `n` creates at once with `key`; returns the answers.
async fn burst(s: &Server, key: &str, n: usize) -> Vec<Resp> {
    let body = s.slideshow(6);
    futures::future::join_all((0..n).map(|_| s.post(SLIDESHOW, key, &body))).await
}

fn count(rs: &[Resp], status: u16) -> usize {
    rs.iter().filter(|r| r.status == status).count()
}

#[tokio::test]
async fn simultaneous_creates_at_concurrency_limit_one() {
    let s = Server::start().await;
    for n in [2, 10] {
        let a = s.account("Plus", 100).await;
        let rs = burst(&s, &a.live.key, n).await;
        assert_eq!(
            count(&rs, 202),
            1,
            "{n}: exactly one accepted: {:?}",
            rs.iter().map(|r| &r.json).collect::<Vec<_>>()
        );
        for r in rs.iter().filter(|r| r.status != 202) {
            let d = assert_error(r, 429, "CONCURRENCY_LIMIT_EXCEEDED");
            assert_eq!(d, json!({ "limit": 1, "in_flight": 1, "plan": "Plus" }));
            assert_eq!(r.header("retry-after"), Some("30"));
        }
        // The same in test mode, independently.
        let rs = burst(&s, &a.test.key, n).await;
        assert_eq!(count(&rs, 202), 1);
        assert_eq!(count(&rs, 429), n - 1);
        let acct = s.get("/v1/account", Some(&a.live.key)).await;
        assert_eq!(acct.json["in_flight"], json!({ "live": 1, "test": 1 }));
        assert_eq!(s.assert_ledger_consistent(&a).await, 95);
    }
}

#[tokio::test]
async fn simultaneous_creates_with_credits_for_one() {
    let s = Server::start().await;
    let a = s.account("Max", 5).await;
    let rs = burst(&s, &a.live.key, 10).await;
    assert_eq!(
        count(&rs, 202),
        1,
        "{:?}",
        rs.iter().map(|r| &r.json).collect::<Vec<_>>()
    );
    for r in rs.iter().filter(|r| r.status != 202) {
        let d = assert_error(r, 403, "INSUFFICIENT_CREDITS");
        assert_eq!(d, json!({ "required": 5, "balance": 0 }));
    }
    assert_eq!(s.assert_ledger_consistent(&a).await, 0);
    let charges = s
        .sql(&format!(
            "SELECT COUNT(*) FROM credit_ledger WHERE account_id = '{}' AND kind = 'charge'",
            a.id
        ))
        .await;
    assert_eq!(charges, "1");

    // Mixed prices: 11 credits, three living-property tasks of 3 images (6 each) and
    // three slideshows (5 each) at once: never below zero, and the ledger agrees.
    let b = s.account("Max", 11).await;
    let slide = s.slideshow(6);
    let liv = s.living(3);
    let rs = futures::future::join_all((0..6).map(|i| {
        if i % 2 == 0 {
            s.post(SLIDESHOW, &b.live.key, &slide)
        } else {
            s.post(LIVING, &b.live.key, &liv)
        }
    }))
    .await;
    let spent: i64 = rs
        .iter()
        .filter(|r| r.status == 202)
        .map(|r| r.json["credits_charged"].as_i64().unwrap())
        .sum();
    for r in rs.iter().filter(|r| r.status != 202) {
        assert_error(r, 403, "INSUFFICIENT_CREDITS");
    }
    assert!((10..=11).contains(&spent), "spent {spent} of 11");
    let balance = s.assert_ledger_consistent(&b).await;
    assert_eq!(balance, 11 - spent);
    assert!(balance >= 0);
}
