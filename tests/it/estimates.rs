//! Honest estimates (issue 18, part 5): a queued live task's `estimated_completion`
//! comes from live renders of its kind (test-mode samples, which finish in about a second,
//! never count) and includes the time left on the render already running.

use crate::support::*;
use serde_json::Value;
use std::time::Duration;

/// Unix seconds of an RFC 3339 `…Z` timestamp as the API writes it.
fn unix(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .unix_timestamp()
}

/// One worker; three test-mode samples and one live render done first (the history);
/// then three live renders queued at once. The third one's estimate, read while the
/// first renders, must be within 50 % of when it really completes. Were the samples
/// counted, the estimate would be a few seconds for renders that take far longer.
#[tokio::test]
async fn a_queued_live_estimate_is_within_half_of_the_real_wait() {
    let c = Site::new().await;
    let acct = c.account("Max", 100).await;
    let p = c.launch(Launch::serve(1)).await;
    let body = c.shortest_slideshow();
    let limit = Duration::from_secs(900);

    for _ in 0..3 {
        let (id, _) = p.create(&acct.test.key, &body).await;
        let done = p.wait_done(&acct.test.key, &id, limit).await;
        assert_eq!(done["status"], "completed", "{done}");
    }
    let key = acct.live.key.clone();
    let (warm, _) = p.create(&key, &body).await;
    let done = p.wait_done(&key, &warm, limit).await;
    assert_eq!(done["status"], "completed", "{done}");
    // The rates behind estimates are recomputed at most every 10 s (README).
    tokio::time::sleep(Duration::from_secs(11)).await;

    let mut ids = Vec::new();
    for _ in 0..3 {
        let (id, created) = p.create(&key, &body).await;
        assert_eq!(created["status"], "queued", "{created}");
        ids.push(id);
    }
    let started = std::time::Instant::now();
    loop {
        let first = p.task(&key, &ids[0]).await;
        if first["status"] == "processing" {
            break;
        }
        assert_eq!(first["status"], "queued", "{first}");
        assert!(started.elapsed() < limit, "the first render never started");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let third = p.task(&key, &ids[2]).await;
    let read_at = unix_now();
    assert_eq!(third["status"], "queued", "{third}");
    assert_eq!(third["queue_position"], 2, "{third}");
    let predicted = unix(&third["estimated_completion"]) - read_at;

    let done = p.wait_done(&key, &ids[2], limit).await;
    assert_eq!(done["status"], "completed", "{done}");
    let real = unix(&done["completed_at"]) - read_at;
    assert!(real > 0, "{done}");
    assert!(
        (predicted - real).abs() * 2 <= real,
        "estimated {predicted} s, took {real} s (read at {read_at}): {third}"
    );
}
