//! The store conformance suite (design.md principle 3: "both backends pass one conformance
//! test suite"). Every check is a generic async function over `&dyn Store` (or
//! `Arc<dyn Store>` where it spawns concurrent callers); what no trait exposes yet
//! (forcing a task's status, the billing clock, custom catalogue rows, raw ledger writes)
//! goes through the backend's [`Hooks`].

#![allow(dead_code)]

pub mod idempotency;

use async_trait::async_trait;
use peakreel_store::{
    Account, AvatarRecord, CreateTaskError, Job, Lease, NewJob, NewKey, NewTask, NextStep, Owner,
    QueueAhead, QueuedRenders, RunningRender, Store, StoreResult, TaskQuery, TaskRecord,
    TaskStatus, VoiceFilter, VoiceRecord,
};
use peakreel_types::ids::Mode;
use serde_json::json;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Backend-specific operations the suite needs beyond the `Store` traits.
#[async_trait]
pub trait Hooks: Send + Sync {
    /// Apply a due monthly refresh as if the clock read `at`; returns the balance.
    async fn refresh_credits_at(&self, account_id: &str, at: i64) -> StoreResult<i64>;
    async fn insert_custom_voice(&self, v: VoiceRecord) -> StoreResult<()>;
    async fn insert_custom_avatar(&self, a: AvatarRecord) -> StoreResult<()>;
    /// Force a task's status behind the store's back (no trait method moves tasks yet).
    async fn set_task_status(&self, task_id: &str, status: TaskStatus);
    /// Try to `UPDATE` and then `DELETE` the account's ledger rows with raw SQL; both
    /// results are returned (`Err` carries the database's message).
    async fn tamper_ledger(
        &self,
        account_id: &str,
    ) -> (Result<usize, String>, Result<usize, String>);
}

// ---------------------------------------------------------------------------------------
// Helpers

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

static SEQ: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// A stand-in for SHA-256 of a key: the id's bytes, which are unique and short.
fn hash_of(s: &str) -> [u8; 32] {
    assert!(s.len() < 32, "id too long for the test hash: {s}");
    let mut h = [0u8; 32];
    h[..s.len()].copy_from_slice(s.as_bytes());
    h[31] = s.len() as u8;
    h
}

/// An account with one live and one test key.
pub struct Fixture {
    pub account: Account,
    pub live_key: String,
    pub test_key: String,
}

impl Fixture {
    pub fn live(&self) -> Owner {
        Owner {
            account_id: self.account.id.clone(),
            mode: Mode::Live,
        }
    }
    pub fn test(&self) -> Owner {
        Owner {
            account_id: self.account.id.clone(),
            mode: Mode::Test,
        }
    }
    pub fn key_for(&self, mode: Mode) -> String {
        match mode {
            Mode::Live => self.live_key.clone(),
            Mode::Test => self.test_key.clone(),
        }
    }
}

pub fn new_key(account_id: &str, mode: Mode) -> NewKey {
    let id = unique("key");
    NewKey {
        key_hash: hash_of(&id),
        key_hint: format!(
            "{}…{}",
            mode.key_prefix(),
            &id[id.len().saturating_sub(4)..]
        ),
        name: format!("key {id}"),
        webhook_secret: format!("whsec_{id}"),
        id,
        account_id: account_id.to_string(),
        mode,
        expires_at: None,
    }
}

pub async fn fixture(store: &dyn Store, plan: &str, credits: i64) -> Fixture {
    let account = store
        .create_account(&unique("acct"), plan, credits)
        .await
        .expect("create_account");
    let live_key = store
        .create_key(new_key(&account.id, Mode::Live))
        .await
        .expect("live key")
        .id;
    let test_key = store
        .create_key(new_key(&account.id, Mode::Test))
        .await
        .expect("test key")
        .id;
    Fixture {
        account,
        live_key,
        test_key,
    }
}

pub fn new_task(fx: &Fixture, mode: Mode, price: i64, limit: u32) -> NewTask {
    NewTask {
        id: unique("task"),
        owner: Owner {
            account_id: fx.account.id.clone(),
            mode,
        },
        key_id: fx.key_for(mode),
        kind: "narrated_slideshow".into(),
        request: json!({"images": ["https://example.com/a.jpg"], "script": "hello"}),
        webhook_url: Some("https://example.com/hook".into()),
        price,
        concurrency_limit: limit,
        max_attempts: 3,
    }
}

pub fn job(kind: &str, run_at: i64) -> NewJob {
    NewJob {
        kind: kind.into(),
        task_id: None,
        payload: json!({"k": kind}),
        run_at,
        max_attempts: 3,
    }
}

/// The balance equals the ledger's sum (api.md §2).
pub async fn assert_ledger_consistent(store: &dyn Store, account_id: &str) -> i64 {
    let balance = store.balance(account_id).await.expect("balance");
    let sum: i64 = store
        .ledger(account_id)
        .await
        .expect("ledger")
        .iter()
        .map(|e| e.amount)
        .sum();
    assert_eq!(
        sum, balance,
        "ledger sum must equal balance for {account_id}"
    );
    balance
}

/// Claim every runnable job of `kind` and return them (leases held by `owner`).
async fn drain(store: &dyn Store, kind: &str, owner: &str) -> Vec<Job> {
    let mut out = Vec::new();
    while let Some(j) = store.claim(&[kind], owner, 300).await.expect("claim") {
        out.push(j);
        assert!(out.len() <= 10_000, "claim never ran dry");
    }
    out
}

fn lease(j: &Job) -> Lease {
    j.lease().expect("a claimed job has a lease")
}

// ---------------------------------------------------------------------------------------
// Job queue

pub async fn queue_claim_and_heartbeat(store: &dyn Store) {
    let now = unix_now();
    let id = store.enqueue(job("q", now - 5)).await.unwrap();
    let queued = store
        .get_job(id)
        .await
        .unwrap()
        .expect("enqueued job exists");
    assert_eq!(queued.status, "queued");
    assert_eq!(queued.attempt, 0);
    assert_eq!(queued.lease_owner, None);
    assert_eq!(queued.payload, json!({"k": "q"}));

    let j = store
        .claim(&["q"], "worker-a", 60)
        .await
        .unwrap()
        .expect("claimable");
    assert_eq!(j.id, id);
    assert_eq!(j.kind, "q");
    assert_eq!(j.status, "running");
    assert_eq!(j.attempt, 1);
    assert_eq!(j.max_attempts, 3);
    assert_eq!(j.lease_owner.as_deref(), Some("worker-a"));
    let exp = j.lease_expires_at.expect("lease expiry set");
    assert!(
        (now + 59..=unix_now() + 61).contains(&exp),
        "lease expiry {exp} ~ now+60"
    );
    assert_eq!(j.payload, json!({"k": "q"}));
    assert_eq!(
        store.get_job(id).await.unwrap().unwrap(),
        j,
        "get_job shows the claim"
    );

    assert!(
        store.claim(&["q"], "worker-b", 60).await.unwrap().is_none(),
        "a leased job is not claimable"
    );

    let l = lease(&j);
    assert_eq!(
        l,
        Lease {
            job_id: id,
            attempt: 1,
            owner: "worker-a".into()
        }
    );
    assert!(
        store.heartbeat(&l, 600).await.unwrap(),
        "right lease heartbeats"
    );
    let after = store.get_job(id).await.unwrap().unwrap();
    assert!(
        after.lease_expires_at.unwrap() >= now + 599,
        "heartbeat extended the lease"
    );

    let wrong_owner = Lease {
        owner: "worker-b".into(),
        ..l.clone()
    };
    let wrong_attempt = Lease {
        attempt: 2,
        ..l.clone()
    };
    let wrong_job = Lease {
        job_id: id + 1000,
        ..l.clone()
    };
    assert!(!store.heartbeat(&wrong_owner, 600).await.unwrap());
    assert!(!store.heartbeat(&wrong_attempt, 600).await.unwrap());
    assert!(!store.heartbeat(&wrong_job, 600).await.unwrap());
    assert!(store.get_job(id + 1000).await.unwrap().is_none());
}

pub async fn queue_complete_is_fenced(store: &dyn Store) {
    let id = store.enqueue(job("c", unix_now() - 1)).await.unwrap();
    let j = store.claim(&["c"], "w1", 60).await.unwrap().unwrap();
    let l = lease(&j);
    let before = store.get_job(id).await.unwrap().unwrap();

    for bad in [
        Lease {
            owner: "w2".into(),
            ..l.clone()
        },
        Lease {
            attempt: 0,
            ..l.clone()
        },
        Lease {
            attempt: 2,
            ..l.clone()
        },
    ] {
        assert!(
            !store.complete(&bad).await.unwrap(),
            "complete with {bad:?} must be refused"
        );
        assert!(
            !store.fail(&bad, "nope", None).await.unwrap(),
            "fail with {bad:?} must be refused"
        );
        assert!(
            !store.release(&bad).await.unwrap(),
            "release with {bad:?} must be refused"
        );
        assert_eq!(
            store.get_job(id).await.unwrap().unwrap(),
            before,
            "row unchanged after {bad:?}"
        );
    }

    assert!(store.complete(&l).await.unwrap());
    let done = store.get_job(id).await.unwrap().unwrap();
    assert_eq!(done.status, "done");
    assert_eq!(done.attempt, 1);
    assert_eq!(done.lease_owner, None);
    assert!(
        !store.complete(&l).await.unwrap(),
        "completing twice is refused"
    );
    assert!(
        !store.heartbeat(&l, 60).await.unwrap(),
        "no heartbeat on a finished job"
    );
    assert!(
        !store.fail(&l, "late", None).await.unwrap(),
        "no fail after done"
    );
    assert!(!store.release(&l).await.unwrap(), "no release after done");
    assert_eq!(store.get_job(id).await.unwrap().unwrap().status, "done");
    assert!(
        store.claim(&["c"], "w3", 60).await.unwrap().is_none(),
        "a done job is never claimed"
    );
}

pub async fn queue_fail_with_retry(store: &dyn Store) {
    let now = unix_now();
    let later = store.enqueue(job("r", now - 20)).await.unwrap();
    let soon = store.enqueue(job("r", now - 10)).await.unwrap();

    // The first job fails and is retried in an hour: queued again, not claimable yet.
    let j = store.claim(&["r"], "w", 60).await.unwrap().unwrap();
    assert_eq!(j.id, later);
    assert!(store
        .fail(&lease(&j), "boom 1", Some(now + 3600))
        .await
        .unwrap());
    let row = store.get_job(later).await.unwrap().unwrap();
    assert_eq!(row.status, "queued");
    assert_eq!(row.run_at, now + 3600);
    assert_eq!(row.last_error.as_deref(), Some("boom 1"));
    assert_eq!(row.lease_owner, None);
    assert_eq!(row.lease_expires_at, None);
    assert_eq!(row.attempt, 1, "a failure keeps the attempt it used");
    assert!(
        !store.complete(&lease(&j)).await.unwrap(),
        "the failed attempt's lease is gone"
    );

    // The second job fails with a retry time already due: claimable again, attempt 2.
    let k = store.claim(&["r"], "w", 60).await.unwrap().unwrap();
    assert_eq!(k.id, soon, "the job retried in an hour is not due");
    assert!(store
        .fail(&lease(&k), "boom 2", Some(now - 1))
        .await
        .unwrap());
    let k2 = store
        .claim(&["r"], "w2", 60)
        .await
        .unwrap()
        .expect("due retry is claimable");
    assert_eq!(k2.id, soon);
    assert_eq!(k2.attempt, 2);
    assert_eq!(k2.lease_owner.as_deref(), Some("w2"));
    assert_eq!(k2.last_error.as_deref(), Some("boom 2"));
    assert!(
        store.claim(&["r"], "w3", 60).await.unwrap().is_none(),
        "nothing else is due"
    );
}

pub async fn queue_fail_for_good(store: &dyn Store) {
    let id = store.enqueue(job("f", unix_now())).await.unwrap();
    let j = store.claim(&["f"], "w", 60).await.unwrap().unwrap();
    assert!(store
        .fail(&lease(&j), "fatal: no such voice", None)
        .await
        .unwrap());
    let row = store.get_job(id).await.unwrap().unwrap();
    assert_eq!(row.status, "failed");
    assert_eq!(row.last_error.as_deref(), Some("fatal: no such voice"));
    assert_eq!(row.lease_owner, None);
    assert!(
        store.claim(&["f"], "w", 60).await.unwrap().is_none(),
        "a failed job is never claimed"
    );
    assert!(!store.fail(&lease(&j), "again", None).await.unwrap());
    assert!(!store.complete(&lease(&j)).await.unwrap());
}

pub async fn queue_release_hands_attempt_back(store: &dyn Store) {
    let id = store.enqueue(job("rel", unix_now())).await.unwrap();
    let j = store.claim(&["rel"], "w", 60).await.unwrap().unwrap();
    assert_eq!(j.attempt, 1);
    assert!(store.release(&lease(&j)).await.unwrap());
    let row = store.get_job(id).await.unwrap().unwrap();
    assert_eq!(row.status, "queued");
    assert_eq!(row.attempt, 0, "a released attempt is handed back");
    assert_eq!(row.lease_owner, None);
    assert_eq!(row.lease_expires_at, None);
    assert!(
        !store.release(&lease(&j)).await.unwrap(),
        "releasing twice is refused"
    );
    assert!(
        !store.complete(&lease(&j)).await.unwrap(),
        "the released lease is gone"
    );

    let again = store
        .claim(&["rel"], "w2", 60)
        .await
        .unwrap()
        .expect("released job is runnable at once");
    assert_eq!(again.id, id);
    assert_eq!(again.attempt, 1);
    assert_eq!(again.lease_owner.as_deref(), Some("w2"));
}

/// design.md principle 3: an expired lease is re-claimed, and the worker that lost it can
/// write nothing about the job any more.
pub async fn queue_expired_lease_is_reclaimed(store: &dyn Store) {
    let id = store.enqueue(job("x", unix_now() - 1)).await.unwrap();
    let first = store.claim(&["x"], "crashed", -1).await.unwrap().unwrap();
    assert_eq!(first.attempt, 1);
    let second = store
        .claim(&["x"], "rescuer", 60)
        .await
        .unwrap()
        .expect("expired lease is re-claimable");
    assert_eq!(second.id, id);
    assert_eq!(second.attempt, 2);
    assert_eq!(second.lease_owner.as_deref(), Some("rescuer"));
    assert!(
        store.claim(&["x"], "third", 60).await.unwrap().is_none(),
        "the fresh lease holds"
    );

    let lost = lease(&first);
    assert!(
        !store.heartbeat(&lost, 60).await.unwrap(),
        "lost lease cannot heartbeat"
    );
    assert!(
        !store.complete(&lost).await.unwrap(),
        "lost lease cannot complete"
    );
    assert!(
        !store.fail(&lost, "late failure", None).await.unwrap(),
        "lost lease cannot fail"
    );
    assert!(
        !store.release(&lost).await.unwrap(),
        "lost lease cannot release"
    );
    let row = store.get_job(id).await.unwrap().unwrap();
    assert_eq!(row, second, "the lost worker changed nothing");

    assert!(store.heartbeat(&lease(&second), 60).await.unwrap());
    assert!(store.complete(&lease(&second)).await.unwrap());
    assert_eq!(store.get_job(id).await.unwrap().unwrap().status, "done");

    // The same worker id re-claiming its own expired job (a restarted process): the old
    // attempt is fenced off by the attempt number alone.
    let id = store.enqueue(job("x", unix_now() - 1)).await.unwrap();
    let old = store.claim(&["x"], "same", -1).await.unwrap().unwrap();
    let new = store.claim(&["x"], "same", 60).await.unwrap().unwrap();
    assert_eq!((new.id, new.attempt), (id, 2));
    assert!(!store.heartbeat(&lease(&old), 60).await.unwrap());
    assert!(!store.complete(&lease(&old)).await.unwrap());
    assert!(!store.release(&lease(&old)).await.unwrap());
    assert_eq!(store.get_job(id).await.unwrap().unwrap(), new);
    assert!(store.complete(&lease(&new)).await.unwrap());
}

pub async fn queue_run_at_and_kinds(store: &dyn Store) {
    let now = unix_now();
    let future = store.enqueue(job("a", now + 3600)).await.unwrap();
    assert!(
        store.claim(&["a"], "w", 60).await.unwrap().is_none(),
        "a job is not claimable before run_at"
    );
    let a = store.enqueue(job("a", now - 1)).await.unwrap();
    let b = store.enqueue(job("b", now - 1)).await.unwrap();

    assert!(
        store.claim(&["c"], "w", 60).await.unwrap().is_none(),
        "no job of kind c"
    );
    assert!(
        store.claim(&[], "w", 60).await.unwrap().is_none(),
        "no kinds claims nothing"
    );
    let got = store.claim(&["b"], "w", 60).await.unwrap().unwrap();
    assert_eq!((got.id, got.kind.as_str()), (b, "b"));
    let got = store.claim(&["c", "a"], "w", 60).await.unwrap().unwrap();
    assert_eq!((got.id, got.kind.as_str()), (a, "a"));
    assert!(store
        .claim(&["a", "b", "c"], "w", 60)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.get_job(future).await.unwrap().unwrap().status,
        "queued"
    );
}

pub async fn queue_fifo_by_run_at_then_id(store: &dyn Store) {
    let now = unix_now();
    let j1 = store.enqueue(job("o", now - 10)).await.unwrap();
    let j2 = store.enqueue(job("o", now - 30)).await.unwrap();
    let j3 = store.enqueue(job("o", now - 30)).await.unwrap();
    let j4 = store.enqueue(job("o", now - 20)).await.unwrap();
    let _not_yet = store.enqueue(job("o", now + 3600)).await.unwrap();
    let order: Vec<i64> = drain(store, "o", "w").await.iter().map(|j| j.id).collect();
    assert_eq!(order, vec![j2, j3, j4, j1]);
}

/// Four workers racing over 200 jobs: every job claimed exactly once.
pub async fn queue_concurrent_claims_are_exclusive(store: Arc<dyn Store>) {
    let now = unix_now();
    let mut enqueued = HashSet::new();
    for i in 0..200 {
        enqueued.insert(store.enqueue(job("many", now - 1000 + i)).await.unwrap());
    }
    assert_eq!(enqueued.len(), 200);

    let mut set = tokio::task::JoinSet::new();
    for w in 0..4 {
        let store = store.clone();
        set.spawn(async move {
            let owner = format!("worker-{w}");
            let mut mine = Vec::new();
            while let Some(j) = store.claim(&["many"], &owner, 300).await.expect("claim") {
                assert_eq!(j.lease_owner.as_deref(), Some(owner.as_str()));
                assert_eq!(j.attempt, 1, "no job is claimed twice");
                mine.push(j.id);
            }
            mine
        });
    }
    let mut all = Vec::new();
    let mut per_worker = Vec::new();
    while let Some(r) = set.join_next().await {
        let mine = r.expect("worker panicked");
        per_worker.push(mine.len());
        all.extend(mine);
    }
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(
        all.len(),
        200,
        "every job claimed (per worker: {per_worker:?})"
    );
    assert_eq!(unique.len(), 200, "no job claimed twice");
    assert_eq!(unique, enqueued);
    assert!(store.claim(&["many"], "late", 60).await.unwrap().is_none());
}

// ---------------------------------------------------------------------------------------
// Accounts, credits and task creation

pub async fn accounts_initial_credits_and_grants(store: &dyn Store) {
    let fx = fixture(store, "Pro", 40).await;
    let got = store
        .get_account(&fx.account.id)
        .await
        .unwrap()
        .expect("account exists");
    assert_eq!(got, fx.account);
    assert!((1..=28).contains(&got.renewal_day));
    assert_eq!(store.balance(&fx.account.id).await.unwrap(), 40);
    let ledger = store.ledger(&fx.account.id).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!((ledger[0].kind.as_str(), ledger[0].amount), ("grant", 40));

    assert_eq!(
        store
            .grant_credits(&fx.account.id, 15, "bonus")
            .await
            .unwrap(),
        55
    );
    assert_eq!(store.balance(&fx.account.id).await.unwrap(), 55);
    let last = store.ledger(&fx.account.id).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.kind.as_str(), last.amount, last.note.as_deref()),
        ("grant", 15, Some("bonus"))
    );
    assert_ledger_consistent(store, &fx.account.id).await;

    let empty = store.create_account("zero", "Free", 0).await.unwrap();
    assert_eq!(store.balance(&empty.id).await.unwrap(), 0);
    assert!(
        store.ledger(&empty.id).await.unwrap().is_empty(),
        "no row for zero initial credits"
    );

    store.set_plan(&fx.account.id, "Max").await.unwrap();
    assert_eq!(
        store
            .get_account(&fx.account.id)
            .await
            .unwrap()
            .unwrap()
            .plan,
        "Max"
    );
    assert!(store.get_account("acct_missing").await.unwrap().is_none());
    assert!(store.set_plan("acct_missing", "Pro").await.is_err());
    assert!(store.grant_credits("acct_missing", 5, "x").await.is_err());
}

pub async fn tasks_create_charges_once_and_enqueues(store: &dyn Store) {
    let fx = fixture(store, "Pro", 12).await;
    let nt = new_task(&fx, Mode::Live, 5, 3);
    let created = store.create_task(nt.clone()).await.expect("create_task");
    assert_eq!(created.id, nt.id);
    assert_eq!(created.status, TaskStatus::Queued);
    assert_eq!(created.credits_charged, 5);
    assert_eq!(created.owner, fx.live());
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&created.request).unwrap(),
        nt.request
    );

    assert_eq!(store.balance(&fx.account.id).await.unwrap(), 7);
    let charges: Vec<_> = store
        .ledger(&fx.account.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "charge")
        .collect();
    assert_eq!(charges.len(), 1, "charged exactly once");
    assert_eq!(charges[0].amount, -5);
    assert_eq!(charges[0].task_id.as_deref(), Some(nt.id.as_str()));
    assert_eq!(
        store.in_flight(&fx.account.id, Mode::Live).await.unwrap(),
        1
    );
    assert_eq!(
        store.in_flight(&fx.account.id, Mode::Test).await.unwrap(),
        0
    );

    let jobs = drain(store, "render", "w").await;
    assert_eq!(jobs.len(), 1, "one render job per task");
    assert_eq!(jobs[0].task_id.as_deref(), Some(nt.id.as_str()));
    assert_eq!(jobs[0].max_attempts, 3);
    assert_eq!(jobs[0].attempt, 1);

    // Same id again: refused, and nothing more charged.
    assert!(
        store.create_task(nt.clone()).await.is_err(),
        "a task id is unique"
    );
    assert_eq!(store.balance(&fx.account.id).await.unwrap(), 7);
    assert!(drain(store, "render", "w").await.is_empty());
    assert_ledger_consistent(store, &fx.account.id).await;
}

pub async fn tasks_insufficient_credits_writes_nothing(store: &dyn Store) {
    let fx = fixture(store, "Pro", 3).await;
    let ledger_before = store.ledger(&fx.account.id).await.unwrap();
    let nt = new_task(&fx, Mode::Live, 5, 3);
    match store.create_task(nt.clone()).await {
        Err(CreateTaskError::InsufficientCredits { required, balance }) => {
            assert_eq!((required, balance), (5, 3));
        }
        other => panic!("expected InsufficientCredits, got {other:?}"),
    }
    assert!(
        store.get_task(&nt.id, &fx.live()).await.unwrap().is_none(),
        "no task"
    );
    assert_eq!(
        store.ledger(&fx.account.id).await.unwrap(),
        ledger_before,
        "no ledger row"
    );
    assert!(
        store.claim(&["render"], "w", 60).await.unwrap().is_none(),
        "no job"
    );
    assert_eq!(
        store.in_flight(&fx.account.id, Mode::Live).await.unwrap(),
        0
    );
    assert_eq!(assert_ledger_consistent(store, &fx.account.id).await, 3);

    // Exactly enough is enough.
    store
        .grant_credits(&fx.account.id, 2, "top up")
        .await
        .unwrap();
    store
        .create_task(new_task(&fx, Mode::Live, 5, 3))
        .await
        .expect("balance == price is enough");
    assert_eq!(assert_ledger_consistent(store, &fx.account.id).await, 0);
}

pub async fn tasks_concurrency_limit(store: &dyn Store) {
    let fx = fixture(store, "Pro", 100).await;
    store
        .create_task(new_task(&fx, Mode::Live, 5, 2))
        .await
        .unwrap();
    store
        .create_task(new_task(&fx, Mode::Live, 5, 2))
        .await
        .unwrap();
    let third = new_task(&fx, Mode::Live, 5, 2);
    match store.create_task(third.clone()).await {
        Err(CreateTaskError::ConcurrencyLimit { limit, in_flight }) => {
            assert_eq!((limit, in_flight), (2, 2))
        }
        other => panic!("expected ConcurrencyLimit, got {other:?}"),
    }
    assert!(store
        .get_task(&third.id, &fx.live())
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.balance(&fx.account.id).await.unwrap(),
        90,
        "only two charges"
    );
    assert_eq!(
        drain(store, "render", "w").await.len(),
        2,
        "only two render jobs"
    );
    assert_eq!(
        store.in_flight(&fx.account.id, Mode::Live).await.unwrap(),
        2
    );
    // A limit of 0 (plans without API access) admits nothing.
    assert!(matches!(
        store.create_task(new_task(&fx, Mode::Test, 0, 0)).await,
        Err(CreateTaskError::ConcurrencyLimit {
            limit: 0,
            in_flight: 0
        })
    ));
    assert_ledger_consistent(store, &fx.account.id).await;
}

/// A finished task no longer counts against the limit.
pub async fn tasks_finished_tasks_free_the_slot(store: &dyn Store, hooks: &dyn Hooks) {
    let fx = fixture(store, "Plus", 100).await;
    let first = store
        .create_task(new_task(&fx, Mode::Live, 5, 1))
        .await
        .unwrap();
    assert!(matches!(
        store.create_task(new_task(&fx, Mode::Live, 5, 1)).await,
        Err(CreateTaskError::ConcurrencyLimit {
            limit: 1,
            in_flight: 1
        })
    ));
    hooks
        .set_task_status(&first.id, TaskStatus::Processing)
        .await;
    assert_eq!(
        store.in_flight(&fx.account.id, Mode::Live).await.unwrap(),
        1,
        "processing counts"
    );
    assert!(store
        .create_task(new_task(&fx, Mode::Live, 5, 1))
        .await
        .is_err());
    hooks
        .set_task_status(&first.id, TaskStatus::Completed)
        .await;
    assert_eq!(
        store.in_flight(&fx.account.id, Mode::Live).await.unwrap(),
        0,
        "completed does not count"
    );
    store
        .create_task(new_task(&fx, Mode::Live, 5, 1))
        .await
        .expect("slot freed");
    assert_eq!(assert_ledger_consistent(store, &fx.account.id).await, 90);
}

pub async fn tasks_test_mode_is_free_and_counted_apart(store: &dyn Store) {
    let fx = fixture(store, "Plus", 10).await;
    // Test tasks cost nothing.
    let t1 = store
        .create_task(new_task(&fx, Mode::Test, 0, 1))
        .await
        .expect("test task");
    assert_eq!(t1.credits_charged, 0);
    assert_eq!(
        store.in_flight(&fx.account.id, Mode::Test).await.unwrap(),
        1
    );
    assert_eq!(
        store.in_flight(&fx.account.id, Mode::Live).await.unwrap(),
        0
    );
    assert!(matches!(
        store.create_task(new_task(&fx, Mode::Test, 0, 1)).await,
        Err(CreateTaskError::ConcurrencyLimit {
            limit: 1,
            in_flight: 1
        })
    ));
    // The test task does not take the live slot.
    let l1 = store
        .create_task(new_task(&fx, Mode::Live, 5, 1))
        .await
        .expect("live task beside a test task");
    assert!(matches!(
        store.create_task(new_task(&fx, Mode::Live, 5, 1)).await,
        Err(CreateTaskError::ConcurrencyLimit {
            limit: 1,
            in_flight: 1
        })
    ));
    assert_eq!(
        store.in_flight(&fx.account.id, Mode::Test).await.unwrap(),
        1
    );
    assert_eq!(
        store.in_flight(&fx.account.id, Mode::Live).await.unwrap(),
        1
    );

    let ledger = store.ledger(&fx.account.id).await.unwrap();
    assert!(
        ledger
            .iter()
            .all(|e| e.task_id.as_deref() != Some(t1.id.as_str())),
        "no ledger row for a test task"
    );
    assert_eq!(
        ledger
            .iter()
            .filter(|e| e.task_id.as_deref() == Some(l1.id.as_str()))
            .count(),
        1
    );
    assert_eq!(assert_ledger_consistent(store, &fx.account.id).await, 5);

    // Both tasks got a render job.
    let mut task_ids: Vec<String> = drain(store, "render", "w")
        .await
        .into_iter()
        .filter_map(|j| j.task_id)
        .collect();
    task_ids.sort();
    let mut expected = vec![t1.id, l1.id];
    expected.sort();
    assert_eq!(task_ids, expected);
}

async fn race(
    store: Arc<dyn Store>,
    tasks: Vec<NewTask>,
) -> Vec<Result<TaskRecord, CreateTaskError>> {
    let mut set = tokio::task::JoinSet::new();
    for t in tasks {
        let store = store.clone();
        set.spawn(async move { store.create_task(t).await });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.expect("create_task panicked"));
    }
    out
}

/// api.md §2: two simultaneous requests can never exceed the limit.
pub async fn tasks_race_concurrency_limit(store: Arc<dyn Store>) {
    let fx = fixture(&*store, "Plus", 100).await;
    let results = race(
        store.clone(),
        (0..10).map(|_| new_task(&fx, Mode::Live, 5, 1)).collect(),
    )
    .await;
    let ok: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(ok.len(), 1, "exactly one task admitted: {results:?}");
    for r in &results {
        match r {
            Ok(_) => {}
            Err(CreateTaskError::ConcurrencyLimit {
                limit: 1,
                in_flight: 1,
            }) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(
        store.in_flight(&fx.account.id, Mode::Live).await.unwrap(),
        1
    );
    assert_eq!(assert_ledger_consistent(&*store, &fx.account.id).await, 95);
    let jobs = drain(&*store, "render", "w").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].task_id.as_deref(), Some(ok[0].id.as_str()));
}

/// api.md §2: two simultaneous requests can never overspend.
pub async fn tasks_race_credits(store: Arc<dyn Store>) {
    let fx = fixture(&*store, "Max", 5).await;
    let results = race(
        store.clone(),
        (0..10).map(|_| new_task(&fx, Mode::Live, 5, 10)).collect(),
    )
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "exactly one task paid for: {results:?}");
    for r in &results {
        match r {
            Ok(_) => {}
            Err(CreateTaskError::InsufficientCredits {
                required: 5,
                balance: 0,
            }) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(assert_ledger_consistent(&*store, &fx.account.id).await, 0);
    let charges = store
        .ledger(&fx.account.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "charge")
        .count();
    assert_eq!(charges, 1);
    assert_eq!(drain(&*store, "render", "w").await.len(), 1);
}

/// The ledger is append-only: the database itself refuses updates and deletes.
pub async fn ledger_is_append_only(store: &dyn Store, hooks: &dyn Hooks) {
    let fx = fixture(store, "Pro", 20).await;
    store
        .create_task(new_task(&fx, Mode::Live, 5, 3))
        .await
        .unwrap();
    let before = store.ledger(&fx.account.id).await.unwrap();
    assert_eq!(before.len(), 2);
    let (update, delete) = hooks.tamper_ledger(&fx.account.id).await;
    let update_err = update.expect_err("UPDATE on credit_ledger must fail");
    let delete_err = delete.expect_err("DELETE on credit_ledger must fail");
    assert!(update_err.contains("append-only"), "{update_err}");
    assert!(delete_err.contains("append-only"), "{delete_err}");
    assert_eq!(store.ledger(&fx.account.id).await.unwrap(), before);
    assert_eq!(assert_ledger_consistent(store, &fx.account.id).await, 15);
}

// ---------------------------------------------------------------------------------------
// Reading tasks

pub async fn tasks_get_is_owner_and_mode_scoped(store: &dyn Store) {
    let a = fixture(store, "Pro", 50).await;
    let b = fixture(store, "Pro", 50).await;
    let nt = new_task(&a, Mode::Live, 5, 3);
    let created = store.create_task(nt.clone()).await.unwrap();
    let got = store
        .get_task(&nt.id, &a.live())
        .await
        .unwrap()
        .expect("owner sees it");
    assert_eq!(got, created, "stored task equals the created record");
    assert_eq!(got.webhook_url.as_deref(), Some("https://example.com/hook"));
    assert_eq!(got.key_id, a.live_key);
    assert_eq!(got.kind, "narrated_slideshow");
    assert!(
        store.get_task(&nt.id, &b.live()).await.unwrap().is_none(),
        "other account: none"
    );
    assert!(
        store.get_task(&nt.id, &a.test()).await.unwrap().is_none(),
        "same account, other mode: none"
    );
    assert!(store
        .get_task("task_missing", &a.live())
        .await
        .unwrap()
        .is_none());

    let t = store
        .create_task(new_task(&a, Mode::Test, 0, 3))
        .await
        .unwrap();
    assert!(store.get_task(&t.id, &a.test()).await.unwrap().is_some());
    assert!(store.get_task(&t.id, &a.live()).await.unwrap().is_none());
}

async fn walk(
    store: &dyn Store,
    owner: &Owner,
    limit: u32,
    status: Option<TaskStatus>,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let q = TaskQuery {
            limit,
            starting_after: cursor.clone(),
            status,
        };
        let page = store.list_tasks(owner, &q).await.unwrap();
        assert!(page.tasks.len() <= limit as usize);
        let ids: Vec<String> = page.tasks.iter().map(|t| t.id.clone()).collect();
        for t in &page.tasks {
            assert_eq!(&t.owner, owner, "list_tasks shows only the caller's tasks");
            if let Some(s) = status {
                assert_eq!(t.status, s);
            }
        }
        cursor = ids.last().cloned();
        pages.push(ids);
        if !page.has_more {
            break;
        }
        assert!(cursor.is_some(), "has_more with an empty page");
        assert!(pages.len() <= 100, "pagination never ends");
    }
    pages
}

pub async fn tasks_list_pagination_and_filters(store: &dyn Store, hooks: &dyn Hooks) {
    let a = fixture(store, "Max", 0).await;
    let b = fixture(store, "Max", 0).await;
    let mut mine = Vec::new();
    for i in 0..7 {
        mine.push(
            store
                .create_task(new_task(&a, Mode::Live, 0, 100))
                .await
                .unwrap()
                .id,
        );
        // Interleave other owners' tasks, which must never show up.
        if i % 2 == 0 {
            store
                .create_task(new_task(&b, Mode::Live, 0, 100))
                .await
                .unwrap();
            store
                .create_task(new_task(&a, Mode::Test, 0, 100))
                .await
                .unwrap();
        }
    }
    let newest_first: Vec<String> = mine.iter().rev().cloned().collect();

    let all = store
        .list_tasks(
            &a.live(),
            &TaskQuery {
                limit: 20,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!all.has_more);
    assert_eq!(
        all.tasks.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        newest_first
    );

    let exact = store
        .list_tasks(
            &a.live(),
            &TaskQuery {
                limit: 7,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (exact.tasks.len(), exact.has_more),
        (7, false),
        "limit == count: no more"
    );
    let short = store
        .list_tasks(
            &a.live(),
            &TaskQuery {
                limit: 6,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((short.tasks.len(), short.has_more), (6, true));

    let pages = walk(store, &a.live(), 3, None).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![3, 3, 1]
    );
    assert_eq!(
        pages.concat(),
        newest_first,
        "pages walk every task once, newest first"
    );

    let test_pages = walk(store, &a.test(), 2, None).await;
    assert_eq!(test_pages.concat().len(), 4, "test-mode tasks listed apart");

    // Status filter (also across pages).
    hooks.set_task_status(&mine[1], TaskStatus::Failed).await;
    hooks.set_task_status(&mine[4], TaskStatus::Failed).await;
    hooks.set_task_status(&mine[5], TaskStatus::Completed).await;
    let failed = walk(store, &a.live(), 1, Some(TaskStatus::Failed)).await;
    assert_eq!(failed.concat(), vec![mine[4].clone(), mine[1].clone()]);
    let queued = walk(store, &a.live(), 2, Some(TaskStatus::Queued))
        .await
        .concat();
    let expected: Vec<String> = newest_first
        .iter()
        .filter(|id| ![&mine[1], &mine[4], &mine[5]].contains(id))
        .cloned()
        .collect();
    assert_eq!(queued, expected);
    let processing = store
        .list_tasks(
            &a.live(),
            &TaskQuery {
                limit: 10,
                status: Some(TaskStatus::Processing),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(processing.tasks.is_empty() && !processing.has_more);

    // A cursor the caller does not own yields nothing.
    let foreign = store
        .list_tasks(
            &b.live(),
            &TaskQuery {
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let foreign_id = foreign.tasks[0].id.clone();
    let page = store
        .list_tasks(
            &a.live(),
            &TaskQuery {
                limit: 10,
                starting_after: Some(foreign_id),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        page.tasks.is_empty() && !page.has_more,
        "another account's cursor yields nothing"
    );
    let other_mode = walk(store, &a.test(), 1, None).await.concat();
    let page = store
        .list_tasks(
            &a.live(),
            &TaskQuery {
                limit: 10,
                starting_after: other_mode.first().cloned(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        page.tasks.is_empty(),
        "a cursor from the other mode yields nothing"
    );
    let page = store
        .list_tasks(
            &a.live(),
            &TaskQuery {
                limit: 10,
                starting_after: Some("task_missing".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(page.tasks.is_empty(), "an unknown cursor yields nothing");
}

pub async fn tasks_queue_position(store: &dyn Store, hooks: &dyn Hooks) {
    let a = fixture(store, "Max", 0).await;
    let b = fixture(store, "Max", 0).await;
    let a1 = store
        .create_task(new_task(&a, Mode::Live, 0, 10))
        .await
        .unwrap()
        .id;
    let b1 = store
        .create_task(new_task(&b, Mode::Live, 0, 10))
        .await
        .unwrap()
        .id;
    let a2 = store
        .create_task(new_task(&a, Mode::Test, 0, 10))
        .await
        .unwrap()
        .id;
    let b2 = store
        .create_task(new_task(&b, Mode::Live, 0, 10))
        .await
        .unwrap()
        .id;
    for (id, pos) in [(&a1, 1), (&b1, 2), (&a2, 3), (&b2, 4)] {
        assert_eq!(
            store.queue_position(id).await.unwrap(),
            Some(pos),
            "position of {id}"
        );
    }
    hooks.set_task_status(&a1, TaskStatus::Processing).await;
    hooks.set_task_status(&a2, TaskStatus::Completed).await;
    assert_eq!(
        store.queue_position(&a1).await.unwrap(),
        None,
        "processing: no position"
    );
    assert_eq!(
        store.queue_position(&a2).await.unwrap(),
        None,
        "completed: no position"
    );
    assert_eq!(store.queue_position(&b1).await.unwrap(), Some(1));
    assert_eq!(store.queue_position(&b2).await.unwrap(), Some(2));
    assert_eq!(store.queue_position("task_missing").await.unwrap(), None);
}

/// What `estimated_completion` is computed from (issue 18, part 5): the renders running
/// and queued before a task, by mode and kind with their photo counts, and completed
/// renders with their durations.
pub async fn tasks_queue_ahead_and_recent_renders(store: &dyn Store, _hooks: &dyn Hooks) {
    let fx = fixture(store, "Max", 0).await;
    let task_of = |mode: Mode, kind: &str, photos: usize| {
        let mut t = new_task(&fx, mode, 0, 10);
        t.kind = kind.into();
        t.request = json!({"request": {}, "inputs": {"images": vec![json!({"key": "k"}); photos]}});
        t
    };
    let mut ids = Vec::new();
    for (mode, kind, photos) in [
        (Mode::Live, "narrated_slideshow", 6),
        (Mode::Test, "narrated_slideshow", 8),
        (Mode::Live, "living_property", 3),
        (Mode::Live, "narrated_slideshow", 15),
        (Mode::Live, "narrated_slideshow", 7),
    ] {
        ids.push(
            store
                .create_task(task_of(mode, kind, photos))
                .await
                .unwrap()
                .id,
        );
    }
    // A request without `inputs.images` counts as one photo.
    let bare = store
        .create_task(new_task(&fx, Mode::Live, 0, 10))
        .await
        .unwrap()
        .id;

    let first = claim_render(store, &ids[0], "w1").await;
    assert!(store.start_task(&ids[0], &first).await.unwrap());
    let started = task(store, &ids[0]).await.started_at.unwrap();

    assert_eq!(store.queue_ahead(&ids[0]).await.unwrap(), None, "running");
    let ahead = store.queue_ahead(&ids[4]).await.unwrap().expect("queued");
    assert_eq!(ahead.position, 4);
    assert_eq!(
        ahead.running,
        vec![RunningRender {
            mode: Mode::Live,
            kind: "narrated_slideshow".into(),
            photos: 6,
            started_at: started,
        }]
    );
    let mut queued = ahead.queued.clone();
    queued.sort_by(|a, b| {
        (a.kind.as_str(), a.mode.as_str()).cmp(&(b.kind.as_str(), b.mode.as_str()))
    });
    let group = |mode, kind: &str, tasks, photos| QueuedRenders {
        mode,
        kind: kind.into(),
        tasks,
        photos,
    };
    assert_eq!(
        queued,
        vec![
            group(Mode::Live, "living_property", 1, 3),
            group(Mode::Live, "narrated_slideshow", 1, 15),
            group(Mode::Test, "narrated_slideshow", 1, 8),
        ]
    );
    let next = store.queue_ahead(&ids[1]).await.unwrap().expect("queued");
    assert_eq!((next.position, next.queued.len()), (1, 0));
    let last = store.queue_ahead(&bare).await.unwrap().expect("queued");
    assert_eq!(last.position, 5);
    assert_eq!(store.queue_ahead("task_missing").await.unwrap(), None);

    // A listed queued task carries its position as a single read does.
    let page = store
        .list_tasks(
            &fx.live(),
            &TaskQuery {
                limit: 100,
                ..TaskQuery::default()
            },
        )
        .await
        .unwrap();
    for t in &page.tasks {
        let single = store.get_task(&t.id, &fx.live()).await.unwrap().unwrap();
        assert_eq!(t.queue_position, single.queue_position, "{}", t.id);
        assert_eq!(t.queue_position.is_some(), t.status == TaskStatus::Queued);
    }
    assert!(page.tasks.iter().any(|t| t.queue_position == Some(5)));

    // A snapshot of the whole queue answers what `queue_ahead` answers, for every
    // queued task's position.
    let snapshot = store.queue_snapshot().await.unwrap();
    assert_eq!(snapshot.queued.len(), 5);
    assert_eq!(snapshot.running, ahead.running);
    let sorted = |mut a: QueueAhead| {
        a.queued.sort_by(|x, y| {
            (x.kind.as_str(), x.mode.as_str()).cmp(&(y.kind.as_str(), y.mode.as_str()))
        });
        a
    };
    for id in ids[1..].iter().chain([&bare]) {
        let exact = store.queue_ahead(id).await.unwrap().expect("queued");
        assert_eq!(
            sorted(snapshot.ahead_of(id, exact.position)),
            sorted(exact),
            "{id}"
        );
    }

    assert!(store.recent_renders(10).await.unwrap().is_empty());
    assert!(store
        .complete_task(&ids[0], &first, json!({}))
        .await
        .unwrap());
    let second = claim_render(store, &ids[1], "w1").await;
    assert!(store.start_task(&ids[1], &second).await.unwrap());
    assert!(store
        .complete_task(&ids[1], &second, json!({}))
        .await
        .unwrap());
    let done = [task(store, &ids[0]).await, task(store, &ids[1]).await];
    let mut recent = store.recent_renders(10).await.unwrap();
    assert_eq!(recent.len(), 2);
    recent.sort_by_key(|r| r.photos);
    for (sample, (t, photos)) in recent.iter().zip(done.iter().zip([6, 8])) {
        assert_eq!(sample.mode, t.owner.mode);
        assert_eq!(sample.kind, "narrated_slideshow");
        assert_eq!(sample.photos, photos);
        assert_eq!(
            sample.seconds,
            t.completed_at.unwrap() - t.started_at.unwrap()
        );
    }
    assert_eq!(store.recent_renders(1).await.unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------------
// Monthly refresh (api.md §2 Decision)

/// Noon UTC on `day` of the month `months_ahead` after the month of `from`.
fn day_in_month(from: i64, months_ahead: i32, day: u8) -> i64 {
    let d = time::OffsetDateTime::from_unix_timestamp(from).unwrap();
    let total = d.year() * 12 + (u8::from(d.month()) as i32 - 1) + months_ahead;
    let (year, month) = (total / 12, (total % 12 + 1) as u8);
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).unwrap(), day).unwrap();
    date.with_hms(12, 0, 0)
        .unwrap()
        .assume_utc()
        .unix_timestamp()
}

pub async fn credits_monthly_refresh(store: &dyn Store, hooks: &dyn Hooks) {
    let fx = fixture(store, "Pro", 400).await;
    let id = fx.account.id.clone();
    let day = fx.account.renewal_day;
    let now = unix_now();
    // Same period as creation: nothing happens.
    assert_eq!(hooks.refresh_credits_at(&id, now).await.unwrap(), 400);
    store
        .create_task(new_task(&fx, Mode::Live, 5, 10))
        .await
        .unwrap();
    store
        .create_task(new_task(&fx, Mode::Live, 5, 10))
        .await
        .unwrap();
    assert_eq!(store.balance(&id).await.unwrap(), 390);

    // The renewal day two months on is certainly a later period: topped up to 400.
    let next = day_in_month(now, 2, day);
    assert_eq!(hooks.refresh_credits_at(&id, next).await.unwrap(), 400);
    let refreshes: Vec<_> = store
        .ledger(&id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "monthly_refresh")
        .collect();
    assert_eq!(refreshes.len(), 1);
    assert_eq!(
        refreshes[0].amount, 10,
        "tops up, does not add a full month"
    );

    // Again in the same period (same instant, and five days on): unchanged, no new row.
    assert_eq!(hooks.refresh_credits_at(&id, next).await.unwrap(), 400);
    assert_eq!(
        hooks
            .refresh_credits_at(&id, next + 5 * 86_400)
            .await
            .unwrap(),
        400
    );
    let count = |l: &Vec<peakreel_store::LedgerEntry>| {
        l.iter().filter(|e| e.kind == "monthly_refresh").count()
    };
    assert_eq!(count(&store.ledger(&id).await.unwrap()), 1);

    // The period after: spent down to 380 first, topped up to 400 again (never 420).
    store.grant_credits(&id, -20, "adjustment").await.unwrap();
    let after = day_in_month(now, 3, day);
    assert_eq!(hooks.refresh_credits_at(&id, after).await.unwrap(), 400);
    let ledger = store.ledger(&id).await.unwrap();
    assert_eq!(count(&ledger), 2);
    assert_eq!(ledger.iter().map(|e| e.amount).sum::<i64>(), 400);

    // A balance above the monthly amount is left alone: no row.
    let rich = fixture(store, "Pro", 500).await;
    let next = day_in_month(now, 2, rich.account.renewal_day);
    assert_eq!(
        hooks
            .refresh_credits_at(&rich.account.id, next)
            .await
            .unwrap(),
        500
    );
    assert_eq!(count(&store.ledger(&rich.account.id).await.unwrap()), 0);

    // A plan without monthly credits never gets a refresh row.
    let free = fixture(store, "Free", 0).await;
    assert_eq!(
        hooks
            .refresh_credits_at(&free.account.id, day_in_month(now, 2, 1))
            .await
            .unwrap(),
        0
    );
    assert!(store.ledger(&free.account.id).await.unwrap().is_empty());
}

/// A refresh happens once per billing period even when calls arrive out of clock order
/// (a clock stepped back, or two servers with skewed clocks): an earlier instant after a
/// later period was refreshed must not reopen the earlier period and top up twice.
pub async fn credits_refresh_never_goes_back(store: &dyn Store, hooks: &dyn Hooks) {
    let fx = fixture(store, "Pro", 400).await;
    let id = fx.account.id.clone();
    let now = unix_now();
    let next = day_in_month(now, 2, fx.account.renewal_day);
    store.grant_credits(&id, -100, "spent").await.unwrap();
    assert_eq!(hooks.refresh_credits_at(&id, next).await.unwrap(), 400);
    // Spend at "now" (an earlier period than `next`): no refresh, 395 left.
    store
        .create_task(new_task(&fx, Mode::Live, 5, 10))
        .await
        .unwrap();
    assert_eq!(store.balance(&id).await.unwrap(), 395);
    // Back in the refreshed period: still refreshed, so still 395.
    assert_eq!(
        hooks.refresh_credits_at(&id, next + 86_400).await.unwrap(),
        395
    );
    let refreshes = store
        .ledger(&id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "monthly_refresh")
        .count();
    assert_eq!(refreshes, 1, "one refresh for one period");
    assert_ledger_consistent(store, &id).await;
}

// ---------------------------------------------------------------------------------------
// Keys

pub async fn keys_round_trip_revoke_and_delete(store: &dyn Store) {
    let a = store.create_account("Key Holder", "Pro", 0).await.unwrap();
    let b = store.create_account("Other", "Pro", 0).await.unwrap();
    let nk = NewKey {
        expires_at: Some(unix_now() + 86_400),
        ..new_key(&a.id, Mode::Live)
    };
    let created = store.create_key(nk.clone()).await.unwrap();
    assert_eq!(created.id, nk.id);
    assert_eq!(created.mode, Mode::Live);
    assert_eq!(created.revoked_at, None);
    assert_eq!(created.last_used_at, None);

    let auth = store
        .find_key_by_hash(&nk.key_hash)
        .await
        .unwrap()
        .expect("found by hash");
    assert_eq!(auth.key, created);
    assert_eq!(auth.key_hash, nk.key_hash);
    assert_eq!(auth.webhook_secret, nk.webhook_secret);
    assert_eq!(auth.account, a);
    assert!(
        store.find_key_by_hash(&[7u8; 32]).await.unwrap().is_none(),
        "unknown hash"
    );

    // The hash is unique.
    let dup = NewKey {
        id: "key_dup".into(),
        ..new_key(&a.id, Mode::Test)
    };
    let dup = NewKey {
        key_hash: nk.key_hash,
        ..dup
    };
    assert!(
        store.create_key(dup).await.is_err(),
        "duplicate key hash refused"
    );
    assert!(
        store
            .create_key(new_key("acct_missing", Mode::Live))
            .await
            .is_err(),
        "unknown account"
    );

    let test_key = store.create_key(new_key(&a.id, Mode::Test)).await.unwrap();
    let other = store.create_key(new_key(&b.id, Mode::Live)).await.unwrap();
    let listed: Vec<String> = store
        .list_keys(&a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&created.id) && listed.contains(&test_key.id));
    assert!(!listed.contains(&other.id));

    store.touch_key(&created.id, 1_800_000_000).await.unwrap();
    let auth = store.find_key_by_hash(&nk.key_hash).await.unwrap().unwrap();
    assert_eq!(auth.key.last_used_at, Some(1_800_000_000));

    let t0 = unix_now();
    store.revoke_key(&created.id).await.unwrap();
    let revoked_at = store
        .find_key_by_hash(&nk.key_hash)
        .await
        .unwrap()
        .unwrap()
        .key
        .revoked_at;
    assert!(
        revoked_at.is_some_and(|t| t >= t0 && t <= unix_now()),
        "revoked_at set: {revoked_at:?}"
    );
    assert!(store.revoke_key("key_missing").await.is_err());
    let listed = store.list_keys(&a.id).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .find(|k| k.id == created.id)
            .unwrap()
            .revoked_at,
        revoked_at
    );
    assert_eq!(
        listed
            .iter()
            .find(|k| k.id == test_key.id)
            .unwrap()
            .revoked_at,
        None
    );

    // A deleted account's key is still found, so auth can answer USER_NOT_FOUND.
    store.delete_account(&a.id).await.unwrap();
    let auth = store
        .find_key_by_hash(&nk.key_hash)
        .await
        .unwrap()
        .expect("still found after delete");
    assert!(auth.account.deleted_at.is_some());
    assert!(store
        .get_account(&a.id)
        .await
        .unwrap()
        .unwrap()
        .deleted_at
        .is_some());
    assert!(store.delete_account(&a.id).await.is_err(), "deleting twice");
    assert!(
        store.create_key(new_key(&a.id, Mode::Live)).await.is_err(),
        "no keys for a deleted account"
    );
    assert!(store
        .find_key_by_hash(&hash_of(&other.id))
        .await
        .unwrap()
        .unwrap()
        .account
        .deleted_at
        .is_none());
}

// ---------------------------------------------------------------------------------------
// Catalogue

fn voice(
    id: &str,
    name: &str,
    gender: &str,
    languages: &[&str],
    owner: Option<Owner>,
) -> VoiceRecord {
    VoiceRecord {
        id: id.into(),
        owner,
        name: name.into(),
        gender: gender.into(),
        accent: "american".into(),
        languages: languages.iter().map(|s| s.to_string()).collect(),
        provider: "piper".into(),
        engine: json!({"piper": {"model": format!("{id}.onnx")}}),
        preview_path: None,
        created_at: 1_700_000_000,
        expires_at: None,
    }
}

fn avatar(id: &str, name: &str, owner: Option<Owner>) -> AvatarRecord {
    AvatarRecord {
        id: id.into(),
        owner,
        name: name.into(),
        image_path: format!("avatars/{id}.png"),
        created_at: 1_700_000_000,
    }
}

fn ids_v(v: &[VoiceRecord]) -> Vec<&str> {
    v.iter().map(|v| v.id.as_str()).collect()
}

pub async fn catalog_seed_is_idempotent(store: &dyn Store) {
    let voices = vec![
        voice("v_anna", "Anna", "female", &["en", "fr"], None),
        voice("v_bert", "Bert", "male", &["en"], None),
        voice("v_clara", "Clara", "female", &["de"], None),
    ];
    let avatars = vec![avatar("av_1", "One", None), avatar("av_2", "Two", None)];
    let fx = fixture(store, "Pro", 0).await;
    store
        .seed_public(voices.clone(), avatars.clone())
        .await
        .unwrap();
    store
        .seed_public(voices.clone(), avatars.clone())
        .await
        .unwrap();
    let listed = store
        .list_voices(&fx.live(), &VoiceFilter::default())
        .await
        .unwrap();
    assert_eq!(ids_v(&listed), vec!["v_anna", "v_bert", "v_clara"]);
    assert_eq!(store.list_avatars(&fx.live()).await.unwrap().len(), 2);
    assert_eq!(store.get_voice("v_anna").await.unwrap().unwrap(), voices[0]);
    assert_eq!(store.get_avatar("av_2").await.unwrap().unwrap(), avatars[1]);
    assert!(store.get_voice("v_missing").await.unwrap().is_none());
    assert!(store.get_avatar("av_missing").await.unwrap().is_none());

    // Re-seeding refreshes a changed row in place.
    let mut renamed = voices.clone();
    renamed[1].name = "Bertram".into();
    renamed[1].languages = vec!["en".into(), "nl".into()];
    store
        .seed_public(renamed.clone(), vec![avatar("av_1", "Uno", None)])
        .await
        .unwrap();
    assert_eq!(
        store.get_voice("v_bert").await.unwrap().unwrap(),
        renamed[1]
    );
    assert_eq!(store.get_avatar("av_1").await.unwrap().unwrap().name, "Uno");
    assert_eq!(
        store
            .list_voices(&fx.live(), &VoiceFilter::default())
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(store.list_avatars(&fx.live()).await.unwrap().len(), 2);
}

/// Every field of a voice survives the store, including the preview path.
pub async fn catalog_voice_round_trip(store: &dyn Store, hooks: &dyn Hooks) {
    let fx = fixture(store, "Pro", 0).await;
    let public = VoiceRecord {
        preview_path: Some("previews/v_pub.mp3".into()),
        ..voice("v_pub", "Pub", "male", &["en"], None)
    };
    store
        .seed_public(vec![public.clone()], vec![])
        .await
        .unwrap();
    assert_eq!(store.get_voice("v_pub").await.unwrap().unwrap(), public);
    let custom = VoiceRecord {
        preview_path: Some("previews/v_own.mp3".into()),
        expires_at: Some(1_900_000_000),
        ..voice("v_own", "Own", "female", &["es"], Some(fx.live()))
    };
    hooks.insert_custom_voice(custom.clone()).await.unwrap();
    assert_eq!(store.get_voice("v_own").await.unwrap().unwrap(), custom);
}

pub async fn catalog_lists_public_and_own_of_the_same_mode(store: &dyn Store, hooks: &dyn Hooks) {
    let a = fixture(store, "Pro", 0).await;
    let b = fixture(store, "Pro", 0).await;
    store
        .seed_public(
            vec![
                voice("v_anna", "Anna", "female", &["en", "fr"], None),
                voice("v_bert", "Bert", "male", &["en"], None),
                voice("v_clara", "Clara", "female", &["de"], None),
            ],
            vec![avatar("av_pub", "Public", None)],
        )
        .await
        .unwrap();
    hooks
        .insert_custom_voice(voice("v_a_live", "A live", "male", &["fr"], Some(a.live())))
        .await
        .unwrap();
    hooks
        .insert_custom_voice(voice(
            "v_a_test",
            "A test",
            "female",
            &["fr"],
            Some(a.test()),
        ))
        .await
        .unwrap();
    hooks
        .insert_custom_voice(voice(
            "v_b_live",
            "B live",
            "female",
            &["en"],
            Some(b.live()),
        ))
        .await
        .unwrap();
    hooks
        .insert_custom_avatar(avatar("av_a_live", "A live", Some(a.live())))
        .await
        .unwrap();
    hooks
        .insert_custom_avatar(avatar("av_a_test", "A test", Some(a.test())))
        .await
        .unwrap();
    hooks
        .insert_custom_avatar(avatar("av_b_live", "B live", Some(b.live())))
        .await
        .unwrap();

    let none = VoiceFilter::default();
    let f = |language: Option<&str>, gender: Option<&str>| VoiceFilter {
        language: language.map(Into::into),
        gender: gender.map(Into::into),
    };
    let ids = |v: Vec<VoiceRecord>| v.into_iter().map(|v| v.id).collect::<HashSet<_>>();
    let set = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<HashSet<_>>();

    assert_eq!(
        ids(store.list_voices(&a.live(), &none).await.unwrap()),
        set(&["v_anna", "v_bert", "v_clara", "v_a_live"])
    );
    assert_eq!(
        ids(store.list_voices(&a.test(), &none).await.unwrap()),
        set(&["v_anna", "v_bert", "v_clara", "v_a_test"])
    );
    assert_eq!(
        ids(store.list_voices(&b.live(), &none).await.unwrap()),
        set(&["v_anna", "v_bert", "v_clara", "v_b_live"])
    );
    assert_eq!(
        ids(store.list_voices(&b.test(), &none).await.unwrap()),
        set(&["v_anna", "v_bert", "v_clara"])
    );

    assert_eq!(
        ids(store
            .list_voices(&a.live(), &f(Some("fr"), None))
            .await
            .unwrap()),
        set(&["v_anna", "v_a_live"])
    );
    assert_eq!(
        ids(store
            .list_voices(&a.live(), &f(None, Some("female")))
            .await
            .unwrap()),
        set(&["v_anna", "v_clara"])
    );
    assert_eq!(
        ids(store
            .list_voices(&a.live(), &f(Some("en"), Some("male")))
            .await
            .unwrap()),
        set(&["v_bert"])
    );
    assert_eq!(
        ids(store
            .list_voices(&b.live(), &f(Some("en"), Some("female")))
            .await
            .unwrap()),
        set(&["v_anna", "v_b_live"])
    );
    assert!(store
        .list_voices(&a.live(), &f(Some("ja"), None))
        .await
        .unwrap()
        .is_empty());
    // "e" is not a language of "en": the filter matches whole codes, not substrings.
    assert!(store
        .list_voices(&a.live(), &f(Some("e"), None))
        .await
        .unwrap()
        .is_empty());

    // Public rows first.
    let listed = store.list_voices(&a.live(), &none).await.unwrap();
    assert!(listed[..3].iter().all(|v| v.owner.is_none()));
    assert_eq!(listed[3].owner, Some(a.live()));

    let avatars = |o: Owner| async move {
        store
            .list_avatars(&o)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect::<HashSet<_>>()
    };
    assert_eq!(avatars(a.live()).await, set(&["av_pub", "av_a_live"]));
    assert_eq!(avatars(a.test()).await, set(&["av_pub", "av_a_test"]));
    assert_eq!(avatars(b.live()).await, set(&["av_pub", "av_b_live"]));
    assert_eq!(
        store.get_avatar("av_a_test").await.unwrap().unwrap().owner,
        Some(a.test())
    );
}

// ---------------------------------------------------------------------------------------
// Worker transitions, webhook deliveries, shared secrets

/// Claim the next render job (FIFO) and check it belongs to `task_id`.
async fn claim_render(store: &dyn Store, task_id: &str, owner: &str) -> Lease {
    let job = store
        .claim(&["render"], owner, 300)
        .await
        .unwrap()
        .expect("a render job");
    assert_eq!(job.task_id.as_deref(), Some(task_id));
    lease(&job)
}

fn stale(l: &Lease) -> Lease {
    Lease {
        owner: "someone-else".into(),
        ..l.clone()
    }
}

async fn task(store: &dyn Store, id: &str) -> TaskRecord {
    store.task_by_id(id).await.unwrap().expect("task exists")
}

/// Every transition is fenced by the lease; completion queues the webhook event in the
/// same transaction; failure refunds exactly once.
pub async fn lifecycle_complete_and_fail(store: &dyn Store) {
    let fx = fixture(store, "Pro", 20).await;
    let t1 = store
        .create_task(new_task(&fx, Mode::Live, 5, 3))
        .await
        .unwrap();
    let mut quiet = new_task(&fx, Mode::Live, 5, 3);
    quiet.webhook_url = None;
    let t2 = store.create_task(quiet).await.unwrap();

    let l1 = claim_render(store, &t1.id, "w1").await;
    assert!(!store.start_task(&t1.id, &stale(&l1)).await.unwrap());
    assert_eq!(task(store, &t1.id).await.status, TaskStatus::Queued);
    assert!(store.start_task(&t1.id, &l1).await.unwrap());
    let started = task(store, &t1.id).await;
    assert_eq!(started.status, TaskStatus::Processing);
    assert!(started.started_at.is_some());
    assert!(store
        .set_progress(&t1.id, &l1, 40, "rendering")
        .await
        .unwrap());
    assert!(!store
        .set_progress(&t1.id, &stale(&l1), 90, "x")
        .await
        .unwrap());
    let progressed = task(store, &t1.id).await;
    assert_eq!(
        (progressed.progress, progressed.stage.as_deref()),
        (Some(40), Some("rendering"))
    );

    let result = json!({"video_url": "https://files/v.mp4", "duration": 21.5});
    assert!(!store
        .complete_task(&t1.id, &stale(&l1), json!({}))
        .await
        .unwrap());
    assert!(store
        .complete_task(&t1.id, &l1, result.clone())
        .await
        .unwrap());
    // The job is done: the same lease cannot write again.
    assert!(!store.complete_task(&t1.id, &l1, json!({})).await.unwrap());
    let done = task(store, &t1.id).await;
    assert_eq!(done.status, TaskStatus::Completed);
    assert_eq!(done.result, Some(result));
    assert_eq!(done.progress, Some(100));
    assert!(done.completed_at.is_some());
    assert_eq!(
        store.get_job(l1.job_id).await.unwrap().unwrap().status,
        "done"
    );
    let deliveries = store.deliveries_for_task(&t1.id).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(
        (deliveries[0].event.as_str(), deliveries[0].status.as_str()),
        ("task.completed", "pending")
    );
    let hook = store.claim(&["webhook"], "s", 60).await.unwrap().unwrap();
    assert_eq!(hook.payload["delivery_id"], json!(deliveries[0].id));

    let l2 = claim_render(store, &t2.id, "w2").await;
    assert!(store.start_task(&t2.id, &l2).await.unwrap());
    let error = json!({"code": "SERVICE_ERROR", "message": "boom"});
    assert!(store.fail_task(&t2.id, &l2, error.clone()).await.unwrap());
    assert!(!store.fail_task(&t2.id, &l2, error.clone()).await.unwrap());
    let failed = task(store, &t2.id).await;
    assert_eq!(failed.status, TaskStatus::Failed);
    assert_eq!(failed.error, Some(error));
    let job = store.get_job(l2.job_id).await.unwrap().unwrap();
    assert_eq!(
        (job.status.as_str(), job.last_error.as_deref()),
        ("failed", Some("SERVICE_ERROR"))
    );
    assert!(store.deliveries_for_task(&t2.id).await.unwrap().is_empty());
    // 20 − 5 − 5 + 5: one refund, for the failed task only.
    assert_eq!(assert_ledger_consistent(store, &fx.account.id).await, 15);
    let refunds: Vec<_> = store
        .ledger(&fx.account.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "refund")
        .collect();
    assert_eq!(refunds.len(), 1);
    assert_eq!(
        (refunds[0].amount, refunds[0].task_id.as_deref()),
        (5, Some(t2.id.as_str()))
    );
    let counts = store.job_counts().await.unwrap();
    assert!(
        counts.contains(&("render".into(), "done".into(), 1)),
        "{counts:?}"
    );
    assert!(
        counts.contains(&("render".into(), "failed".into(), 1)),
        "{counts:?}"
    );
    assert!(
        counts.contains(&("webhook".into(), "running".into(), 1)),
        "{counts:?}"
    );
}

/// A retry keeps the attempt and waits for `retry_at`; a release hands the attempt back.
pub async fn lifecycle_retry_and_release(store: &dyn Store) {
    let fx = fixture(store, "Pro", 20).await;
    let t = store
        .create_task(new_task(&fx, Mode::Live, 5, 3))
        .await
        .unwrap();
    let l1 = claim_render(store, &t.id, "w1").await;
    assert!(store.start_task(&t.id, &l1).await.unwrap());
    assert!(!store
        .retry_task(&t.id, &stale(&l1), "TTS_ERROR", 0)
        .await
        .unwrap());
    assert!(store
        .retry_task(&t.id, &l1, "TTS_ERROR", unix_now() + 3600)
        .await
        .unwrap());
    assert_eq!(task(store, &t.id).await.status, TaskStatus::Queued);
    let job = store.get_job(l1.job_id).await.unwrap().unwrap();
    assert_eq!(
        (job.status.as_str(), job.attempt, job.last_error.as_deref()),
        ("queued", 1, Some("TTS_ERROR"))
    );
    assert!(store.claim(&["render"], "w2", 60).await.unwrap().is_none());

    // Not due for an hour: no claim. Another task is claimed and released on shutdown.
    let t2 = store
        .create_task(new_task(&fx, Mode::Live, 5, 3))
        .await
        .unwrap();
    let l2 = claim_render(store, &t2.id, "w2").await;
    assert!(store.start_task(&t2.id, &l2).await.unwrap());
    assert!(store.release_task(&t2.id, &l2).await.unwrap());
    assert!(!store.release_task(&t2.id, &l2).await.unwrap());
    assert_eq!(task(store, &t2.id).await.status, TaskStatus::Queued);
    let again = store.claim(&["render"], "w3", 60).await.unwrap().unwrap();
    assert_eq!(
        (again.id, again.attempt),
        (l2.job_id, 1),
        "the released attempt was handed back"
    );
}

/// Attempts are recorded under the delivery job's lease; a retry re-queues the job, a
/// success ends it; a redelivery is a new delivery naming the previous one.
pub async fn webhooks_attempts_and_redelivery(store: &dyn Store) {
    let fx = fixture(store, "Pro", 20).await;
    let t = store
        .create_task(new_task(&fx, Mode::Live, 5, 3))
        .await
        .unwrap();
    assert_eq!(
        store.webhook_secret(&fx.live_key).await.unwrap(),
        Some(format!("whsec_{}", fx.live_key))
    );
    assert!(matches!(
        store.redeliver(&t.id).await,
        Err(peakreel_store::StoreError::Conflict(_))
    ));
    let l = claim_render(store, &t.id, "w").await;
    assert!(store.complete_task(&t.id, &l, json!({})).await.unwrap());
    let first = store.deliveries_for_task(&t.id).await.unwrap().remove(0);

    let hook = lease(&store.claim(&["webhook"], "s1", 60).await.unwrap().unwrap());
    let at = unix_now();
    let attempt = |status: u16| peakreel_store::NewAttempt {
        delivery_id: first.id.clone(),
        attempted_at: at,
        status_code: Some(status),
        latency_ms: Some(12),
        response_body: Some(format!("answer {status}")),
        error: (status >= 300).then(|| format!("HTTP {status}")),
    };
    let retry_at = at - 1;
    assert!(!store
        .record_attempt(&stale(&hook), attempt(500), NextStep::RetryAt(retry_at))
        .await
        .unwrap());
    assert!(store
        .record_attempt(&hook, attempt(500), NextStep::RetryAt(retry_at))
        .await
        .unwrap());
    let pending = store.delivery(&first.id).await.unwrap().unwrap();
    assert_eq!(pending.status, "pending");
    assert_eq!(pending.next_attempt_at, Some(retry_at));
    assert_eq!(pending.first_attempt_at, Some(at));
    assert_eq!(pending.attempts.len(), 1);
    assert_eq!(pending.attempts[0].status_code, Some(500));
    assert_eq!(
        pending.attempts[0].response_body.as_deref(),
        Some("answer 500")
    );

    let hook2 = lease(&store.claim(&["webhook"], "s2", 60).await.unwrap().unwrap());
    assert_eq!((hook2.job_id, hook2.attempt), (hook.job_id, 2));
    assert!(store
        .record_attempt(&hook2, attempt(200), NextStep::Succeeded)
        .await
        .unwrap());
    let ok = store.delivery(&first.id).await.unwrap().unwrap();
    assert_eq!(ok.status, "succeeded");
    assert_eq!(
        ok.attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(ok.finished_at.is_some() && ok.next_attempt_at.is_none());
    assert_eq!(
        store.get_job(hook.job_id).await.unwrap().unwrap().status,
        "done"
    );

    let again = store.redeliver(&t.id).await.unwrap();
    assert_ne!(again.id, first.id);
    assert_eq!(again.redelivery_of.as_deref(), Some(first.id.as_str()));
    assert_eq!(
        (again.status.as_str(), again.event.as_str()),
        ("pending", "task.completed")
    );
    let all: Vec<String> = store
        .deliveries_for_task(&t.id)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(all, vec![first.id.clone(), again.id.clone()]);
    let third = store.redeliver(&t.id).await.unwrap();
    assert_eq!(third.redelivery_of.as_deref(), Some(again.id.as_str()));
}

/// Completed tasks are listed once their files expire, and not again once marked.
pub async fn lifecycle_result_expiry(store: &dyn Store) {
    let fx = fixture(store, "Pro", 20).await;
    let now = unix_now();
    let mut ids = Vec::new();
    for expires_at in [now - 10, now + 3600] {
        let t = store
            .create_task(new_task(&fx, Mode::Live, 5, 3))
            .await
            .unwrap();
        let l = claim_render(store, &t.id, "w").await;
        let result = json!({"video_url": "https://files/v.mp4", "expires_at": expires_at});
        assert!(store.complete_task(&t.id, &l, result).await.unwrap());
        ids.push(t.id);
    }
    let listed = |tasks: Vec<TaskRecord>| tasks.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(
        listed(store.tasks_with_expired_results(now, 10).await.unwrap()),
        vec![ids[0].clone()]
    );
    store.mark_result_expired(&ids[0]).await.unwrap();
    let marked = task(store, &ids[0]).await.result.unwrap();
    assert_eq!(marked["expired"], json!(true));
    assert_eq!(marked["video_url"], json!("https://files/v.mp4"));
    assert!(store
        .tasks_with_expired_results(now, 10)
        .await
        .unwrap()
        .is_empty());
}

/// A shared secret is whatever its first writer stored, for concurrent and later callers.
pub async fn secrets_first_writer_wins(store: Arc<dyn Store>) {
    let name = unique("signing");
    let mut set = tokio::task::JoinSet::new();
    for i in 0..8u8 {
        let (store, name) = (store.clone(), name.clone());
        set.spawn(async move { store.shared_secret(&name, vec![i; 32]).await.unwrap() });
    }
    let mut seen = HashSet::new();
    while let Some(r) = set.join_next().await {
        seen.insert(r.unwrap());
    }
    assert_eq!(seen.len(), 1, "every caller got the same secret");
    let secret = seen.into_iter().next().unwrap();
    assert_eq!(secret.len(), 32);
    assert!(secret.iter().all(|b| *b == secret[0] && *b < 8));
    assert_eq!(
        store.shared_secret(&name, b"later".to_vec()).await.unwrap(),
        secret
    );
    assert_eq!(
        store
            .shared_secret(&unique("other"), b"own".to_vec())
            .await
            .unwrap(),
        b"own".to_vec()
    );
}

// ---------------------------------------------------------------------------------------
// Uploads

fn upload(
    fx: &Fixture,
    mode: Mode,
    size_bytes: u64,
    created_at: i64,
    ttl: i64,
) -> peakreel_store::UploadRecord {
    let id = unique("upl");
    peakreel_store::UploadRecord {
        blob_key: format!("uploads/{}/{id}/image.jpg", fx.account.id),
        id,
        owner: Owner {
            account_id: fx.account.id.clone(),
            mode,
        },
        format: "jpg".into(),
        width: 640,
        height: 480,
        exif_orientation: 6,
        size_bytes,
        created_at,
        expires_at: created_at + ttl,
    }
}

/// The quota counts both modes of one account and only unexpired uploads; a refused
/// insert writes nothing; rows round-trip whole and the sweeper's query finds the expired.
pub async fn uploads_quota_round_trip_and_expiry(store: &dyn Store) {
    use peakreel_store::InsertUploadError;
    let fx = fixture(store, "Pro", 0).await;
    let other = fixture(store, "Pro", 0).await;
    let now = unix_now();
    let quota = 1000;

    let first = upload(&fx, Mode::Live, 600, now, 3600);
    store
        .insert_upload(first.clone(), quota)
        .await
        .expect("first fits");
    assert_eq!(
        store.get_upload(&first.id).await.unwrap(),
        Some(first.clone())
    );

    // 600 + 500 > 1000, whichever mode the second one is in.
    let refused = upload(&fx, Mode::Test, 500, now, 3600);
    match store.insert_upload(refused.clone(), quota).await {
        Err(InsertUploadError::Quota {
            quota_bytes,
            used_bytes,
        }) => {
            assert_eq!((quota_bytes, used_bytes), (1000, 600));
        }
        other => panic!("expected the quota refusal, got {other:?}"),
    }
    assert_eq!(store.get_upload(&refused.id).await.unwrap(), None);
    // Exactly up to the quota is allowed; another account has its own.
    store
        .insert_upload(upload(&fx, Mode::Test, 400, now, 3600), quota)
        .await
        .expect("fills the quota");
    store
        .insert_upload(upload(&other, Mode::Live, 1000, now, 3600), quota)
        .await
        .expect("own quota");
    assert_eq!(
        store.upload_bytes_used(&fx.account.id, now).await.unwrap(),
        1000
    );

    // An expired upload no longer counts, and is what the sweeper finds.
    let old = upload(&other, Mode::Live, 999, now - 7200, 3600);
    store
        .insert_upload(old.clone(), u64::MAX)
        .await
        .expect("old");
    assert_eq!(
        store
            .upload_bytes_used(&other.account.id, now)
            .await
            .unwrap(),
        1000
    );
    let expired = store.expired_uploads(now, 100).await.unwrap();
    assert!(expired.iter().any(|u| u.id == old.id));
    assert!(expired.iter().all(|u| u.expires_at <= now));
    assert!(!expired.iter().any(|u| u.id == first.id));
    store.delete_upload(&old.id).await.unwrap();
    store
        .delete_upload(&old.id)
        .await
        .expect("deleting twice is fine");
    assert_eq!(store.get_upload(&old.id).await.unwrap(), None);
}
