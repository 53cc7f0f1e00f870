//! The fault-injection suite (issue 18): real `peakreel` processes while their storage
//! fills up, while ffmpeg or the speech engine vanishes from `PATH`, and under a burst of
//! simultaneous creations. Each test checks that nothing accepted is lost and nothing is
//! charged twice: every accepted task ends `completed` or `failed` with a documented code,
//! each failed one refunded exactly once, and the balance equals the ledger's sum.

mod burst;
mod programs;
mod storage;

use crate::support::{Acct, Proc};
use serde_json::Value;
use std::time::Duration;

/// The codes a task may fail with (errors.md, task-level codes).
const TASK_CODES: [&str; 6] = [
    "IMAGE_PROCESSING_FAILED",
    "TTS_ERROR",
    "SERVICE_TIMEOUT",
    "SERVICE_ERROR",
    "AVATAR_URL_ERROR",
    "VOICE_EXPIRED",
];

/// An account's books as its own key sees them over HTTP.
#[derive(Debug, PartialEq, Eq)]
pub struct Books {
    pub balance: i64,
    pub charges: usize,
    pub refunds: usize,
}

/// `GET /v1/account` and `GET /v1/account/ledger` agree: the balance both show is the sum
/// of the ledger's rows, and no task has more than one charge or more than one refund.
/// Works on every database backend (it asks only the API).
pub async fn assert_books_balance(s: &Proc, acct: &Acct) -> Books {
    let account = s.get("/v1/account", Some(&acct.live.key)).await;
    assert_eq!(account.status, 200, "{}", account.json);
    let ledger = s.get("/v1/account/ledger", Some(&acct.live.key)).await;
    assert_eq!(ledger.status, 200, "{}", ledger.json);
    let entries = ledger.json["entries"].as_array().expect("entries");
    let sum: i64 = entries.iter().map(|e| e["amount"].as_i64().unwrap()).sum();
    let balance = account.json["credits"].as_i64().expect("credits");
    assert_eq!(ledger.json["balance"], balance, "{}", ledger.json);
    assert_eq!(sum, balance, "balance vs the ledger's sum: {}", ledger.json);
    for kind in ["charge", "refund"] {
        let mut tasks: Vec<&str> = entries
            .iter()
            .filter(|e| e["kind"] == kind)
            .map(|e| e["task_id"].as_str().expect("a task's row"))
            .collect();
        let n = tasks.len();
        tasks.sort_unstable();
        tasks.dedup();
        assert_eq!(
            tasks.len(),
            n,
            "a task with two {kind} rows: {}",
            ledger.json
        );
    }
    Books {
        balance,
        charges: count_kind(entries, "charge"),
        refunds: count_kind(entries, "refund"),
    }
}

/// Waits for an accepted live task to end and checks that it ended well: `completed`
/// with a result and one charge, or `failed` with a documented task code and one charge
/// and one refund of the same amount (the account's ledger, over HTTP). Returns the task.
pub async fn assert_settled(s: &Proc, acct: &Acct, id: &str) -> Value {
    let t = s
        .wait_done(&acct.live.key, id, Duration::from_secs(300))
        .await;
    let ledger = s.get("/v1/account/ledger", Some(&acct.live.key)).await;
    let rows: Vec<(String, i64)> = ledger.json["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["task_id"] == id)
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["amount"].as_i64().unwrap(),
            )
        })
        .collect();
    let charge = ("charge".to_string(), -5);
    match t["status"].as_str() {
        Some("completed") => {
            assert!(t["result"]["video_url"].is_string(), "{t}");
            assert_eq!(rows, [charge], "{id}: charged once, never refunded");
        }
        _ => {
            let code = t["error"]["code"].as_str().unwrap_or_default();
            assert!(TASK_CODES.contains(&code), "undocumented task code: {t}");
            assert!(t.get("result").is_none(), "{t}");
            let mut rows = rows;
            rows.sort();
            assert_eq!(
                rows,
                [charge, ("refund".to_string(), 5)],
                "{id}: refunded once"
            );
        }
    }
    t
}

fn count_kind(entries: &[Value], kind: &str) -> usize {
    entries.iter().filter(|e| e["kind"] == kind).count()
}
