//! A burst (issue 18, fault-injection suite): 50 creations at once from 10 accounts, each
//! account already at or near its plan's concurrency limit (one also near the end of its
//! credits). Exactly the allowed number is accepted per account, every other answer is
//! its documented 4xx (never a 5xx such as a `database is locked` turned into
//! `SERVICE_ERROR`), and every ledger equals its balance: on SQLite with its default
//! configuration and on PostgreSQL.

use super::{assert_books_balance, Books};
use crate::support::*;
use peakreel_testkit::postgres::Postgres;
use serde_json::json;
use std::collections::BTreeMap;

/// Creations each account sends in the burst (10 accounts: 50 in all).
const PER_ACCOUNT: usize = 5;
const PRICE: i64 = 5;

/// One account of the burst and what the rules allow it.
struct Case {
    plan: &'static str,
    limit: usize,
    /// Live tasks already in flight before the burst.
    before: usize,
    credits: i64,
}

impl Case {
    /// How many of its burst creations may be accepted: the free slots under the plan's
    /// limit, and no more than its credits pay for.
    fn allowed(&self) -> usize {
        let slots = self.limit - self.before;
        let paid = (self.credits / PRICE) as usize - self.before;
        slots.min(paid).min(PER_ACCOUNT)
    }

    /// The refusal every other creation gets: out of credits once the credits run out
    /// before the slots do, else the concurrency limit.
    fn refusal(&self) -> (u16, &'static str) {
        let slots = self.limit - self.before;
        let paid = (self.credits / PRICE) as usize - self.before;
        if paid < slots {
            (403, "INSUFFICIENT_CREDITS")
        } else {
            (429, "CONCURRENCY_LIMIT_EXCEEDED")
        }
    }
}

/// Plans of the default table (README: Plus 1, Pro 3, Max 10 concurrent tasks).
fn cases() -> Vec<Case> {
    let case = |plan, limit, before, credits| Case {
        plan,
        limit,
        before,
        credits,
    };
    vec![
        case("Plus", 1, 0, 100),
        case("Plus", 1, 0, 100),
        case("Plus", 1, 0, 100),
        case("Pro", 3, 0, 100),
        case("Pro", 3, 1, 100),
        case("Pro", 3, 2, 100),
        case("Max", 10, 6, 100),
        case("Max", 10, 7, 100),
        case("Max", 10, 9, 100),
        // Credits for two more tasks while four slots are free.
        case("Max", 10, 6, 40),
    ]
}

/// Sets the accounts up on `s` (their earlier tasks created one by one), fires the burst
/// and checks every account.
async fn burst(s: &Server) {
    let cases = cases();
    let body = s.slideshow(6);
    let mut accounts = Vec::new();
    for case in &cases {
        let acct = s.account(case.plan, case.credits).await;
        for _ in 0..case.before {
            s.create(&acct.live.key, &body).await;
        }
        accounts.push(acct);
    }
    let requests = accounts.iter().flat_map(|a| {
        (0..PER_ACCOUNT)
            .map(|_| async { (a.id.clone(), s.post(SLIDESHOW, &a.live.key, &body).await) })
    });
    let answers: Vec<(String, Resp)> = futures::future::join_all(requests).await;
    assert_eq!(answers.len(), 50);
    let mut by_account: BTreeMap<String, Vec<Resp>> = BTreeMap::new();
    for (id, r) in answers {
        assert!(
            r.status < 500,
            "a 5xx in the burst: {} {}\n{}",
            r.status,
            String::from_utf8_lossy(&r.bytes),
            s.log()
        );
        by_account.entry(id).or_default().push(r);
    }
    for (case, acct) in cases.iter().zip(&accounts) {
        let answers = &by_account[&acct.id];
        let accepted: Vec<&Resp> = answers.iter().filter(|r| r.status == 202).collect();
        assert_eq!(
            accepted.len(),
            case.allowed(),
            "{} with {} in flight and {} credits: {:?}",
            case.plan,
            case.before,
            case.credits,
            answers.iter().map(|r| &r.json).collect::<Vec<_>>()
        );
        for r in &accepted {
            assert_eq!(r.json["credits_charged"], PRICE, "{}", r.json);
            assert!(is_task_id(r.json["task_id"].as_str().unwrap_or("")));
        }
        let (status, code) = case.refusal();
        let in_flight = case.before + case.allowed();
        for r in answers.iter().filter(|r| r.status != 202) {
            let details = assert_error(r, status, code);
            let want = if code == "INSUFFICIENT_CREDITS" {
                json!({ "required": PRICE, "balance": case.credits - PRICE * in_flight as i64 })
            } else {
                json!({ "limit": case.limit, "in_flight": case.limit, "plan": case.plan })
            };
            assert_eq!(details, want, "{}", r.json);
        }
        let books = assert_books_balance(s, acct).await;
        assert_eq!(
            books,
            Books {
                balance: case.credits - PRICE * in_flight as i64,
                charges: in_flight,
                refunds: 0,
            },
            "{} account {}",
            case.plan,
            acct.id
        );
        let account = s.get("/v1/account", Some(&acct.live.key)).await;
        assert_eq!(
            account.json["in_flight"],
            json!({ "live": in_flight, "test": 0 }),
            "{}",
            account.json
        );
        // Every accepted task exists, and no refused request left one behind.
        let listed = s.get("/v1/tasks?limit=100", Some(&acct.live.key)).await;
        assert_eq!(listed.status, 200, "{}", listed.json);
        let tasks = listed.json["data"].as_array().expect("data");
        assert_eq!(tasks.len(), in_flight, "{}", listed.json);
        for r in &accepted {
            assert!(
                tasks.iter().any(|t| t["task_id"] == r.json["task_id"]),
                "accepted task missing from the list: {}",
                r.json
            );
        }
    }
    assert!(
        !s.log().contains("database is locked"),
        "the database's lock surfaced:\n{}",
        s.log()
    );
}

#[tokio::test]
async fn burst_of_creations_at_concurrency_limits_on_sqlite() {
    let s = Server::start().await;
    burst(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn burst_of_creations_at_concurrency_limits_on_postgres() {
    let url = Postgres::shared().fresh_database();
    let s = Site::on_database(&url).await.launch(Launch::serve(0)).await;
    burst(&s).await;
}
