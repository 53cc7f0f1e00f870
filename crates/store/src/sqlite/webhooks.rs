//! Webhook deliveries and their attempts.

use super::{now, SqliteStore};
use crate::{
    Attempt, Delivery, Lease, NewAttempt, NextStep, StoreError, StoreResult, Webhooks,
    DELIVERY_MAX_ATTEMPTS, WEBHOOK_JOB,
};
use peakreel_types::ids::random_alphanumeric;
use r2d2_sqlite::rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

/// Create a delivery for `task_id` and queue its job (inside the caller's transaction).
pub(crate) fn queue_delivery(
    tx: &Transaction,
    task_id: &str,
    event: &str,
    redelivery_of: Option<&str>,
) -> StoreResult<String> {
    let id = format!("whd_{}", random_alphanumeric(24));
    let at = now();
    tx.execute(
        "INSERT INTO webhook_deliveries (id, task_id, event, status, redelivery_of, created_at, next_attempt_at)
         VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?5)",
        params![id, task_id, event, redelivery_of, at],
    )?;
    tx.execute(
        "INSERT INTO jobs (kind, task_id, payload, status, max_attempts, run_at, created_at)
         VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?5)",
        params![
            WEBHOOK_JOB,
            task_id,
            serde_json::json!({ "delivery_id": id }).to_string(),
            DELIVERY_MAX_ATTEMPTS,
            at
        ],
    )?;
    Ok(id)
}

const DELIVERY_COLUMNS: &str =
    "id, task_id, event, status, redelivery_of, created_at, first_attempt_at, next_attempt_at, finished_at";

fn delivery_from_row(r: &Row) -> r2d2_sqlite::rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: r.get(0)?,
        task_id: r.get(1)?,
        event: r.get(2)?,
        status: r.get(3)?,
        redelivery_of: r.get(4)?,
        created_at: r.get(5)?,
        first_attempt_at: r.get(6)?,
        next_attempt_at: r.get(7)?,
        finished_at: r.get(8)?,
        attempts: Vec::new(),
    })
}

fn with_attempts(c: &Connection, mut d: Delivery) -> StoreResult<Delivery> {
    let mut stmt = c.prepare_cached(
        "SELECT attempt, attempted_at, status_code, latency_ms, response_body, error
         FROM webhook_attempts WHERE delivery_id = ?1 ORDER BY attempt, id",
    )?;
    let rows = stmt.query_map([&d.id], |r| {
        Ok(Attempt {
            attempt: r.get(0)?,
            attempted_at: r.get(1)?,
            status_code: r.get(2)?,
            latency_ms: r.get(3)?,
            response_body: r.get(4)?,
            error: r.get(5)?,
        })
    })?;
    d.attempts = rows.collect::<Result<Vec<_>, _>>()?;
    Ok(d)
}

#[async_trait::async_trait]
impl Webhooks for SqliteStore {
    async fn webhook_secret(&self, key_id: &str) -> StoreResult<Option<String>> {
        let key_id = key_id.to_string();
        self.with_conn(move |c| {
            Ok(c.query_row(
                "SELECT webhook_secret FROM api_keys WHERE id = ?1",
                [key_id],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }

    async fn delivery(&self, delivery_id: &str) -> StoreResult<Option<Delivery>> {
        let id = delivery_id.to_string();
        self.with_conn(move |c| {
            let d = c
                .query_row(
                    &format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ?1"),
                    [id],
                    delivery_from_row,
                )
                .optional()?;
            d.map(|d| with_attempts(c, d)).transpose()
        })
        .await
    }

    async fn deliveries_for_task(&self, task_id: &str) -> StoreResult<Vec<Delivery>> {
        let task_id = task_id.to_string();
        self.with_conn(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE task_id = ?1 ORDER BY created_at, rowid"
            ))?;
            let rows = stmt.query_map([task_id], delivery_from_row)?;
            let deliveries = rows.collect::<Result<Vec<_>, _>>()?;
            deliveries.into_iter().map(|d| with_attempts(c, d)).collect()
        })
        .await
    }

    async fn redeliver(&self, task_id: &str) -> StoreResult<Delivery> {
        let task_id = task_id.to_string();
        let id = self
            .with_tx(move |tx| {
                let status: Option<String> = tx
                    .query_row("SELECT status FROM tasks WHERE id = ?1 AND webhook_url IS NOT NULL", [&task_id], |r| r.get(0))
                    .optional()?;
                let event = match status.as_deref() {
                    Some("completed") => "task.completed",
                    Some("failed") => "task.failed",
                    _ => return Err(StoreError::Conflict("the task has not ended or has no webhook URL".into())),
                };
                let previous: Option<String> = tx
                    .query_row(
                        "SELECT id FROM webhook_deliveries WHERE task_id = ?1 ORDER BY created_at DESC, rowid DESC LIMIT 1",
                        [&task_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                queue_delivery(tx, &task_id, event, previous.as_deref())
            })
            .await?;
        self.delivery(&id)
            .await?
            .ok_or(StoreError::NotFound("delivery"))
    }

    async fn record_attempt(
        &self,
        lease: &Lease,
        attempt: NewAttempt,
        next: NextStep,
    ) -> StoreResult<bool> {
        let lease = lease.clone();
        self.with_tx(move |tx| {
            let held = tx
                .query_row(
                    "SELECT 1 FROM jobs WHERE id = ?1 AND attempt = ?2 AND lease_owner = ?3 AND status = 'running'",
                    params![lease.job_id, lease.attempt, lease.owner],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if !held {
                return Ok(false);
            }
            let at = attempt.attempted_at;
            tx.execute(
                "INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, status_code, latency_ms, response_body, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![attempt.delivery_id, lease.attempt, at, attempt.status_code, attempt.latency_ms, attempt.response_body, attempt.error],
            )?;
            tx.execute(
                "UPDATE webhook_deliveries SET first_attempt_at = COALESCE(first_attempt_at, ?2) WHERE id = ?1",
                params![attempt.delivery_id, at],
            )?;
            let job_update = |status: &str, run_at: Option<i64>| {
                tx.execute(
                    "UPDATE jobs SET status = ?2, run_at = COALESCE(?3, run_at), finished_at = CASE WHEN ?2 = 'queued' THEN NULL ELSE ?4 END,
                            last_error = ?5, lease_owner = NULL, lease_expires_at = NULL WHERE id = ?1",
                    params![lease.job_id, status, run_at, now(), attempt.error],
                )
            };
            match next {
                NextStep::Succeeded => {
                    tx.execute(
                        "UPDATE webhook_deliveries SET status = 'succeeded', next_attempt_at = NULL, finished_at = ?2 WHERE id = ?1",
                        params![attempt.delivery_id, at],
                    )?;
                    job_update("done", None)?;
                }
                NextStep::RetryAt(when) => {
                    tx.execute(
                        "UPDATE webhook_deliveries SET next_attempt_at = ?2 WHERE id = ?1",
                        params![attempt.delivery_id, when],
                    )?;
                    job_update("queued", Some(when))?;
                }
                NextStep::GiveUp => {
                    tx.execute(
                        "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, finished_at = ?2 WHERE id = ?1",
                        params![attempt.delivery_id, at],
                    )?;
                    job_update("failed", None)?;
                }
            }
            Ok::<_, StoreError>(true)
        })
        .await
    }
}
