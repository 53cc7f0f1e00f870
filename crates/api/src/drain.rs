//! Graceful shutdown of the HTTP side (design.md principle 9, issue 18 part 7). When the
//! process is asked to stop it first *drains*: requests already running finish, `/health`
//! answers 503 `"status": "draining"` so a load balancer takes the instance out, and any
//! new API request is refused with 503 `SERVICE_UNAVAILABLE` and `Retry-After` (another
//! instance, or this one after its restart, will take it). Only when nothing is in flight
//! (or the grace period ends) does the listener close.

use crate::error::{error_response, with_cause};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use peakreel_types::{ApiError, Code};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Seconds a client refused during a drain is told to wait.
pub const DRAIN_RETRY_AFTER_SECS: u64 = 5;

/// The drain state shared by the router and the shutdown sequence.
#[derive(Debug, Default)]
pub struct Drain {
    draining: AtomicBool,
    in_flight: AtomicUsize,
    idle: tokio::sync::Notify,
}

impl Drain {
    /// Begin draining: from now on `/health` answers 503 and new requests are refused.
    pub fn start(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.idle.notify_waiters();
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Requests being answered now (`/health` is not counted).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Wait until no request is in flight, at most `limit`; `false` when time ran out.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        tokio::time::timeout(limit, async {
            loop {
                let notified = self.idle.notified();
                if self.in_flight() == 0 {
                    return;
                }
                notified.await;
            }
        })
        .await
        .is_ok()
    }
}

/// Counts a request while it runs; dropped when it ends (or its client goes away).
struct InFlight<'a>(&'a Drain);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Middleware: count every request but `/health`, and refuse new ones while draining.
pub async fn drain_layer(State(drain): State<Arc<Drain>>, req: Request, next: Next) -> Response {
    if req.uri().path() == "/health" {
        return next.run(req).await;
    }
    // Counted before the check, so `wait_idle` can never miss a request that got past it.
    drain.in_flight.fetch_add(1, Ordering::SeqCst);
    let guard = InFlight(&drain);
    if drain.is_draining() {
        drop(guard);
        let err = ApiError::new(
            Code::ServiceUnavailable,
            "The server is shutting down and accepts no new requests. Retry shortly.",
        )
        .with_retry_after(DRAIN_RETRY_AFTER_SECS);
        return error_response(&with_cause(err, "refused while draining for shutdown"));
    }
    let response = next.run(req).await;
    drop(guard);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wait_idle_returns_when_the_last_request_ends() {
        let drain = Arc::new(Drain::default());
        assert!(drain.wait_idle(Duration::from_millis(10)).await);
        drain.in_flight.fetch_add(1, Ordering::SeqCst);
        drain.start();
        assert!(!drain.wait_idle(Duration::from_millis(50)).await);
        let d = drain.clone();
        let waiter = tokio::spawn(async move { d.wait_idle(Duration::from_secs(30)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(InFlight(&drain));
        assert!(waiter.await.unwrap());
        assert_eq!(drain.in_flight(), 0);
    }
}
