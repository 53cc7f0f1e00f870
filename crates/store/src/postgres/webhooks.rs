//! Webhook deliveries and their attempts on PostgreSQL.

use super::queue::holds;
use super::{narrow, now, PgStore};
use crate::{
    Attempt, Delivery, Lease, NewAttempt, NextStep, StoreError, StoreResult, Webhooks,
    DELIVERY_MAX_ATTEMPTS, WEBHOOK_JOB,
};
use deadpool_postgres::GenericClient;
use peakreel_types::ids::random_alphanumeric;
use tokio_postgres::Row;

/// Create a delivery for `task_id` and queue its job (inside the caller's transaction).
pub(crate) async fn queue_delivery(
    c: &impl GenericClient,
    task_id: &str,
    event: &str,
    redelivery_of: Option<&str>,
) -> StoreResult<String> {
    let id = format!("whd_{}", random_alphanumeric(24));
    let at = now();
    c.execute(
        "INSERT INTO webhook_deliveries (id, task_id, event, status, redelivery_of, created_at, next_attempt_at)
         VALUES ($1, $2, $3, 'pending', $4, $5, $5)",
        &[&id, &task_id, &event, &redelivery_of, &at],
    )
    .await?;
    c.execute(
        "INSERT INTO jobs (kind, task_id, payload, status, max_attempts, run_at, created_at)
         VALUES ($1, $2, $3, 'queued', $4, $5, $5)",
        &[
            &WEBHOOK_JOB,
            &task_id,
            &serde_json::json!({ "delivery_id": id }).to_string(),
            &i64::from(DELIVERY_MAX_ATTEMPTS),
            &at,
        ],
    )
    .await?;
    Ok(id)
}

const DELIVERY_COLUMNS: &str =
    "id, task_id, event, status, redelivery_of, created_at, first_attempt_at, next_attempt_at, finished_at";

fn delivery_from_row(r: &Row) -> Delivery {
    Delivery {
        id: r.get(0),
        task_id: r.get(1),
        event: r.get(2),
        status: r.get(3),
        redelivery_of: r.get(4),
        created_at: r.get(5),
        first_attempt_at: r.get(6),
        next_attempt_at: r.get(7),
        finished_at: r.get(8),
        attempts: Vec::new(),
    }
}

async fn with_attempts(c: &impl GenericClient, mut d: Delivery) -> StoreResult<Delivery> {
    let stmt = c
        .prepare_cached(
            "SELECT attempt, attempted_at, status_code, latency_ms, response_body, error
             FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt, id",
        )
        .await?;
    d.attempts = c
        .query(&stmt, &[&d.id])
        .await?
        .iter()
        .map(|r| Attempt {
            attempt: narrow(r.get::<_, i64>(0)),
            attempted_at: r.get(1),
            status_code: r.get::<_, Option<i64>>(2).map(narrow),
            latency_ms: r.get(3),
            response_body: r.get(4),
            error: r.get(5),
        })
        .collect();
    Ok(d)
}

#[async_trait::async_trait]
impl Webhooks for PgStore {
    async fn webhook_secret(&self, key_id: &str) -> StoreResult<Option<String>> {
        Ok(self
            .client()
            .await?
            .query_opt(
                "SELECT webhook_secret FROM api_keys WHERE id = $1",
                &[&key_id],
            )
            .await?
            .map(|r| r.get(0)))
    }

    async fn delivery(&self, delivery_id: &str) -> StoreResult<Option<Delivery>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"),
                &[&delivery_id],
            )
            .await?;
        match row {
            Some(r) => Ok(Some(with_attempts(&client, delivery_from_row(&r)).await?)),
            None => Ok(None),
        }
    }

    async fn deliveries_for_task(&self, task_id: &str) -> StoreResult<Vec<Delivery>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE task_id = $1
                     ORDER BY created_at, seq"
                ),
                &[&task_id],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(with_attempts(&client, delivery_from_row(r)).await?);
        }
        Ok(out)
    }

    async fn redeliver(&self, task_id: &str) -> StoreResult<Delivery> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Locked: two redeliveries at once each name the delivery before them.
        let status: Option<String> = tx
            .query_opt(
                "SELECT status FROM tasks WHERE id = $1 AND webhook_url IS NOT NULL FOR UPDATE",
                &[&task_id],
            )
            .await?
            .map(|r| r.get(0));
        let event = match status.as_deref() {
            Some("completed") => "task.completed",
            Some("failed") => "task.failed",
            _ => {
                return Err(StoreError::Conflict(
                    "the task has not ended or has no webhook URL".into(),
                ))
            }
        };
        let previous: Option<String> = tx
            .query_opt(
                "SELECT id FROM webhook_deliveries WHERE task_id = $1
                 ORDER BY created_at DESC, seq DESC LIMIT 1",
                &[&task_id],
            )
            .await?
            .map(|r| r.get(0));
        let id = queue_delivery(&tx, task_id, event, previous.as_deref()).await?;
        tx.commit().await?;
        drop(client);
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
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if !holds(&tx, lease).await? {
            return Ok(false);
        }
        let at = attempt.attempted_at;
        let delivery = &attempt.delivery_id;
        tx.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, status_code, latency_ms, response_body, error)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                delivery,
                &i64::from(lease.attempt),
                &at,
                &attempt.status_code.map(i64::from),
                &attempt.latency_ms,
                &attempt.response_body,
                &attempt.error,
            ],
        )
        .await?;
        tx.execute(
            "UPDATE webhook_deliveries SET first_attempt_at = COALESCE(first_attempt_at, $2) WHERE id = $1",
            &[delivery, &at],
        )
        .await?;
        let (delivery_sql, job_status, run_at) = match next {
            NextStep::Succeeded => (
                "UPDATE webhook_deliveries SET status = 'succeeded', next_attempt_at = NULL, finished_at = $2 WHERE id = $1",
                "done",
                None,
            ),
            NextStep::RetryAt(when) => (
                "UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE id = $1",
                "queued",
                Some(when),
            ),
            NextStep::GiveUp => (
                "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, finished_at = $2 WHERE id = $1",
                "failed",
                None,
            ),
        };
        tx.execute(delivery_sql, &[delivery, &run_at.unwrap_or(at)])
            .await?;
        tx.execute(
            "UPDATE jobs SET status = $2, run_at = COALESCE($3, run_at),
                    finished_at = CASE WHEN $2::TEXT = 'queued' THEN NULL ELSE $4::BIGINT END,
                    last_error = $5, lease_owner = NULL, lease_expires_at = NULL WHERE id = $1",
            &[&lease.job_id, &job_status, &run_at, &now(), &attempt.error],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
