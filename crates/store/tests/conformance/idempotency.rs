//! Idempotency keys: reservation, recorded answers, fencing by token, expiry, the
//! take-over of abandoned reservations, the sweep, and simultaneous reservations.

use super::{unique, unix_now};
use peakreel_store::{
    Begin, IdempotencyScope, RecordedRequest, RecordedResponse, Reservation, Store,
};
use std::sync::Arc;

const DAY: i64 = 86_400;
const STALE: i64 = 300;

fn scope(key_id: &str, key: &str) -> IdempotencyScope {
    IdempotencyScope {
        key_id: key_id.to_string(),
        idempotency_key: key.to_string(),
    }
}

fn reservation(scope: &IdempotencyScope, token: &str, now: i64, ttl: i64) -> Reservation {
    Reservation {
        scope: scope.clone(),
        method: "POST".into(),
        path: "/v1/real-estate/narrated-slideshow".into(),
        token: token.to_string(),
        now,
        ttl_secs: ttl,
        stale_after_secs: STALE,
    }
}

fn request(byte: u8, len: u64) -> RecordedRequest {
    RecordedRequest {
        body_sha256: [byte; 32],
        body_len: len,
    }
}

fn response(status: u16, body: &str) -> RecordedResponse {
    RecordedResponse {
        status,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("location".into(), "/v1/tasks/task_x".into()),
        ],
        // Binary-safe: a NUL and a byte that is not UTF-8 survive the round trip.
        body: [body.as_bytes(), &[0, 0xff]].concat(),
    }
}

pub async fn idempotency_reserve_complete_and_replay(store: &dyn Store) {
    let now = unix_now();
    let key_id = unique("key");
    let s = scope(&key_id, "order-1 \"quoted\" ~!");

    assert_eq!(
        store
            .begin_idempotent(reservation(&s, "t1", now, DAY))
            .await
            .unwrap(),
        Begin::Reserved { taken_over: false }
    );
    // While it runs, everyone else is told so, with when it started.
    assert_eq!(
        store
            .begin_idempotent(reservation(&s, "t2", now + 5, DAY))
            .await
            .unwrap(),
        Begin::InFlight { started_at: now }
    );
    // Only the holder's token records or releases.
    assert!(!store
        .complete_idempotent(&s, "t2", request(7, 10), response(202, "{}"))
        .await
        .unwrap());
    assert!(!store.release_idempotent(&s, "t2").await.unwrap());
    assert!(store
        .complete_idempotent(&s, "t1", request(7, 10), response(202, "{\"task_id\":1}"))
        .await
        .unwrap());
    // Recorded once: the token is spent.
    assert!(!store
        .complete_idempotent(&s, "t1", request(8, 10), response(400, "{}"))
        .await
        .unwrap());
    assert!(!store.release_idempotent(&s, "t1").await.unwrap());

    match store
        .begin_idempotent(reservation(&s, "t3", now + 60, DAY))
        .await
        .unwrap()
    {
        Begin::Completed(done) => {
            assert_eq!(done.method, "POST");
            assert_eq!(done.path, "/v1/real-estate/narrated-slideshow");
            assert_eq!(done.request, request(7, 10));
            assert_eq!(done.response, response(202, "{\"task_id\":1}"));
            assert_eq!(done.expires_at, now + DAY);
        }
        other => panic!("expected the recorded answer, got {other:?}"),
    }

    // The same key value under another API key is another key.
    let other = scope(&unique("key"), &s.idempotency_key);
    assert_eq!(
        store
            .begin_idempotent(reservation(&other, "o1", now, DAY))
            .await
            .unwrap(),
        Begin::Reserved { taken_over: false }
    );
    // Released: the next request holds it afresh.
    assert!(store.release_idempotent(&other, "o1").await.unwrap());
    assert_eq!(
        store
            .begin_idempotent(reservation(&other, "o2", now, DAY))
            .await
            .unwrap(),
        Begin::Reserved { taken_over: false }
    );
    assert!(store
        .complete_idempotent(&other, "o2", request(1, 0), response(400, ""))
        .await
        .unwrap());
    // The first key's answer is untouched by the second's.
    match store
        .begin_idempotent(reservation(&s, "t4", now, DAY))
        .await
        .unwrap()
    {
        Begin::Completed(done) => assert_eq!(done.response.status, 202),
        other => panic!("{other:?}"),
    }
}

pub async fn idempotency_expiry_takeover_and_sweep(store: &dyn Store) {
    let now = unix_now();
    let key_id = unique("key");

    // An answer past its expiry is forgotten: the key is free again.
    let expired = scope(&key_id, "expired");
    store
        .begin_idempotent(reservation(&expired, "a", now - 100, 50))
        .await
        .unwrap();
    assert!(store
        .complete_idempotent(&expired, "a", request(1, 1), response(202, "old"))
        .await
        .unwrap());
    assert_eq!(
        store
            .begin_idempotent(reservation(&expired, "b", now, DAY))
            .await
            .unwrap(),
        Begin::Reserved { taken_over: false }
    );
    assert!(store
        .complete_idempotent(&expired, "b", request(2, 2), response(201, "new"))
        .await
        .unwrap());
    match store
        .begin_idempotent(reservation(&expired, "c", now, DAY))
        .await
        .unwrap()
    {
        Begin::Completed(done) => {
            assert_eq!(done.response, response(201, "new"));
            assert_eq!(done.expires_at, now + DAY);
        }
        other => panic!("{other:?}"),
    }

    // A reservation left by a crashed request is taken over once it is older than the
    // bound; its late answer is then refused.
    let abandoned = scope(&key_id, "abandoned");
    store
        .begin_idempotent(reservation(&abandoned, "crashed", now - STALE - 1, DAY))
        .await
        .unwrap();
    assert_eq!(
        store
            .begin_idempotent(reservation(&abandoned, "next", now, DAY))
            .await
            .unwrap(),
        Begin::Reserved { taken_over: true }
    );
    assert!(!store
        .complete_idempotent(&abandoned, "crashed", request(3, 3), response(202, "late"))
        .await
        .unwrap());
    assert!(store
        .complete_idempotent(&abandoned, "next", request(4, 4), response(202, "kept"))
        .await
        .unwrap());
    match store
        .begin_idempotent(reservation(&abandoned, "x", now, DAY))
        .await
        .unwrap()
    {
        Begin::Completed(done) => assert_eq!(done.response, response(202, "kept")),
        other => panic!("{other:?}"),
    }
    // A younger reservation is still running.
    let young = scope(&key_id, "young");
    store
        .begin_idempotent(reservation(&young, "y1", now - STALE + 30, DAY))
        .await
        .unwrap();
    assert_eq!(
        store
            .begin_idempotent(reservation(&young, "y2", now, DAY))
            .await
            .unwrap(),
        Begin::InFlight {
            started_at: now - STALE + 30
        }
    );

    // The sweep deletes exactly the rows expired at `now`, in batches of `limit`.
    for i in 0..3 {
        let s = scope(&key_id, &format!("sweep-{i}"));
        store
            .begin_idempotent(reservation(&s, "s", now - 20, 10))
            .await
            .unwrap();
    }
    assert_eq!(store.delete_expired_idempotency(now, 2).await.unwrap(), 2);
    assert_eq!(store.delete_expired_idempotency(now, 100).await.unwrap(), 1);
    assert_eq!(store.delete_expired_idempotency(now, 100).await.unwrap(), 0);
    // Unexpired rows are kept.
    match store
        .begin_idempotent(reservation(&expired, "d", now, DAY))
        .await
        .unwrap()
    {
        Begin::Completed(_) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store
            .begin_idempotent(reservation(&young, "y3", now, DAY))
            .await
            .unwrap(),
        Begin::InFlight {
            started_at: now - STALE + 30
        }
    );
}

pub async fn idempotency_simultaneous_reservations(store: Arc<dyn Store>) {
    let now = unix_now();
    let s = scope(&unique("key"), "burst");
    let mut set = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (store, s) = (store.clone(), s.clone());
        set.spawn(async move {
            let token = format!("t{i}");
            let outcome = store
                .begin_idempotent(reservation(&s, &token, now, DAY))
                .await
                .unwrap();
            (token, outcome)
        });
    }
    let mut holders = Vec::new();
    while let Some(r) = set.join_next().await {
        let (token, outcome) = r.unwrap();
        match outcome {
            Begin::Reserved { taken_over: false } => holders.push(token),
            Begin::InFlight { started_at } => assert_eq!(started_at, now),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(holders.len(), 1, "exactly one holder: {holders:?}");
    assert!(store
        .complete_idempotent(&s, &holders[0], request(9, 9), response(202, "one"))
        .await
        .unwrap());

    // Everyone after the answer gets the same answer.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (store, s) = (store.clone(), s.clone());
        set.spawn(async move {
            store
                .begin_idempotent(reservation(&s, &format!("late{i}"), now + 1, DAY))
                .await
                .unwrap()
        });
    }
    while let Some(r) = set.join_next().await {
        match r.unwrap() {
            Begin::Completed(done) => assert_eq!(done.response, response(202, "one")),
            other => panic!("unexpected {other:?}"),
        }
    }
}
