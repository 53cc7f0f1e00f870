//! How a render attempt ends, written to the store so that a database outage cannot
//! lose it. A finished render is minutes of CPU: when the database is unreachable at
//! the moment its result is written, the worker keeps the result and retries the
//! (fenced, idempotent) write until the database is back, instead of dropping it and
//! leaving the task to be rendered again once its lease expires. The lease is not
//! lost by waiting: the fence checks the owner and attempt, and while the database is
//! down no other worker can claim the job.

use crate::worker::{unix_now, Worker};
use anyhow::Result;
use peakreel_store::{Job, Lease, StoreError, StoreResult};
use peakreel_types::{ApiError, Code};
use serde_json::json;
use std::future::Future;
use std::time::Duration;

/// How one attempt ended, from the worker's point of view.
pub(crate) enum Outcome {
    Completed(serde_json::Value),
    Failed(ApiError),
    Retry(String),
}

/// First and longest pause between two tries of a write while the database is down.
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

impl Worker {
    /// Record `outcome` for `job`'s task under `lease`: completed, failed (refunded) or
    /// re-queued after a backoff. A lease lost meanwhile discards the outcome (another
    /// attempt owns the task). Errors: a database error other than an outage, or an
    /// outage still going on at shutdown (the lease then expires and another worker
    /// renders the task again).
    pub(crate) async fn end_attempt(
        &self,
        job: &Job,
        task_id: &str,
        lease: &Lease,
        outcome: Outcome,
    ) -> Result<()> {
        let written = match outcome {
            Outcome::Completed(result) => {
                self.durably("complete", || {
                    self.store.complete_task(task_id, lease, result.clone())
                })
                .await?
            }
            Outcome::Failed(err) => {
                tracing::warn!(task_id = %task_id, code = %err.code, "task failed");
                self.fail(task_id, lease, &err).await?
            }
            Outcome::Retry(_) if job.attempt >= job.max_attempts => {
                let err = ApiError::new(
                    Code::ServiceError,
                    "The render failed after several attempts. The credits were refunded; retry the request later.",
                );
                self.fail(task_id, lease, &err).await?
            }
            Outcome::Retry(reason) => {
                let backoff =
                    self.settings.retry_backoff.as_secs().max(1) << (job.attempt - 1).min(6);
                tracing::warn!(task_id = %task_id, attempt = job.attempt, reason = %reason, "render will be retried");
                let run_at = unix_now() + backoff as i64;
                self.durably("retry", || {
                    self.store.retry_task(task_id, lease, &reason, run_at)
                })
                .await?
            }
        };
        if !written {
            tracing::warn!(task_id = %task_id, "lease lost before the result was written; discarded");
        }
        Ok(())
    }

    /// Fail the task with `err` (the store refunds its credits).
    pub(crate) async fn fail(&self, task_id: &str, lease: &Lease, err: &ApiError) -> Result<bool> {
        let error = error_json(err);
        Ok(self
            .durably("fail", || {
                self.store.fail_task(task_id, lease, error.clone())
            })
            .await?)
    }

    /// Run the store write `op` until it gets through: an unreachable database
    /// (`StoreError::Unavailable`) is waited out with growing pauses, up to shutdown;
    /// any other answer is returned as it is. `what` names the write in the log.
    async fn durably<T, F, Fut>(&self, what: &str, mut op: F) -> StoreResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = StoreResult<T>>,
    {
        let mut pause = FIRST_PAUSE;
        let mut shutdown = self.shutdown.clone();
        loop {
            match op().await {
                Err(StoreError::Unavailable(e)) if !*shutdown.borrow() => {
                    tracing::warn!(write = what, error = %e, retry_in_ms = pause.as_millis() as u64,
                        "database unavailable; the attempt's end is kept and written when it returns");
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = shutdown.changed() => {}
                    }
                    pause = (pause * 2).min(LONGEST_PAUSE);
                }
                other => return other,
            }
        }
    }
}

/// A task's stored `error` object: `code`, `message` and `details` when present.
pub(crate) fn error_json(err: &ApiError) -> serde_json::Value {
    let mut v = json!({ "code": err.code.as_str(), "message": err.message });
    if let Some(d) = &err.details {
        v["details"] = d.clone();
    }
    v
}
