//! Task transitions made by workers on PostgreSQL, each one transaction whose first
//! statement checks (and row-locks) the render job's lease; when the lease is lost the
//! transaction is dropped (rolled back) and the caller learns it from `false`.

use super::queue::FENCE;
use super::tasks::{task_from_row, TASK_COLUMNS};
use super::{now, PgStore};
use crate::{Lease, StoreResult, TaskLifecycle, TaskRecord};
use deadpool_postgres::GenericClient;
use serde_json::Value;

/// Whether `lease` still holds the running render job of `task_id` (row-locked until
/// the transaction ends, so no reclaim can interleave).
async fn holds(c: &impl GenericClient, task_id: &str, lease: &Lease) -> StoreResult<bool> {
    Ok(c.query_opt(
        &format!("SELECT 1 FROM jobs WHERE {FENCE} AND task_id = $4 FOR UPDATE"),
        &[
            &lease.job_id,
            &i64::from(lease.attempt),
            &lease.owner,
            &task_id,
        ],
    )
    .await?
    .is_some())
}

/// Finish the job and, when the task has a webhook URL, create its delivery and queue it
/// in the same transaction, so a crash can never end a task without its event.
async fn finish_job(
    c: &impl GenericClient,
    task_id: &str,
    lease: &Lease,
    job_status: &str,
    error: Option<&str>,
    event: &str,
) -> StoreResult<()> {
    c.execute(
        "UPDATE jobs SET status = $2, finished_at = $3, last_error = COALESCE($4, last_error),
                lease_owner = NULL, lease_expires_at = NULL WHERE id = $1",
        &[&lease.job_id, &job_status, &now(), &error],
    )
    .await?;
    let webhook: Option<String> = c
        .query_one("SELECT webhook_url FROM tasks WHERE id = $1", &[&task_id])
        .await?
        .get(0);
    if webhook.is_some() {
        super::webhooks::queue_delivery(c, task_id, event, None).await?;
    }
    Ok(())
}

/// Put the task back in the queue and its job with it (`attempt_back` hands the attempt
/// back: a shutdown is not the job's fault).
async fn requeue(
    c: &impl GenericClient,
    task_id: &str,
    lease: &Lease,
    run_at: Option<i64>,
    error: Option<&str>,
    attempt_back: bool,
) -> StoreResult<()> {
    c.execute(
        "UPDATE tasks SET status = 'queued', progress = NULL, stage = NULL WHERE id = $1",
        &[&task_id],
    )
    .await?;
    c.execute(
        "UPDATE jobs SET status = 'queued', run_at = COALESCE($2, run_at),
                last_error = COALESCE($3, last_error),
                attempt = attempt - CASE WHEN $4 THEN 1 ELSE 0 END,
                lease_owner = NULL, lease_expires_at = NULL WHERE id = $1",
        &[&lease.job_id, &run_at, &error, &attempt_back],
    )
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl TaskLifecycle for PgStore {
    async fn task_by_id(&self, id: &str) -> StoreResult<Option<TaskRecord>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1"))
            .await?;
        client
            .query_opt(&stmt, &[&id])
            .await?
            .as_ref()
            .map(task_from_row)
            .transpose()
    }

    async fn start_task(&self, task_id: &str, lease: &Lease) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if !holds(&tx, task_id, lease).await? {
            return Ok(false);
        }
        tx.execute(
            "UPDATE tasks SET status = 'processing', started_at = COALESCE(started_at, $2),
                    progress = 0, stage = 'fetching'
             WHERE id = $1 AND status IN ('queued', 'processing')",
            &[&task_id, &now()],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_progress(
        &self,
        task_id: &str,
        lease: &Lease,
        progress: u8,
        stage: &str,
    ) -> StoreResult<bool> {
        // A single statement (no transaction needed): the fence is in its WHERE clause.
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE tasks SET progress = $2, stage = $3
                 WHERE id = $1 AND status = 'processing'
                   AND EXISTS (SELECT 1 FROM jobs WHERE id = $4 AND attempt = $5 AND lease_owner = $6 AND status = 'running')",
                &[
                    &task_id,
                    &i64::from(progress.min(100)),
                    &stage,
                    &lease.job_id,
                    &i64::from(lease.attempt),
                    &lease.owner,
                ],
            )
            .await?;
        Ok(n == 1)
    }

    async fn complete_task(
        &self,
        task_id: &str,
        lease: &Lease,
        result: Value,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if !holds(&tx, task_id, lease).await? {
            return Ok(false);
        }
        tx.execute(
            "UPDATE tasks SET status = 'completed', progress = 100, stage = NULL,
                    result_json = $2, error_json = NULL, completed_at = $3
             WHERE id = $1",
            &[&task_id, &result.to_string(), &now()],
        )
        .await?;
        finish_job(&tx, task_id, lease, "done", None, "task.completed").await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn fail_task(&self, task_id: &str, lease: &Lease, error: Value) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if !holds(&tx, task_id, lease).await? {
            return Ok(false);
        }
        let at = now();
        let row = tx
            .query_one(
                "SELECT account_id, credits_charged FROM tasks WHERE id = $1",
                &[&task_id],
            )
            .await?;
        let (account, charged): (String, i64) = (row.get(0), row.get(1));
        tx.execute(
            "UPDATE tasks SET status = 'failed', stage = NULL, error_json = $2, completed_at = $3 WHERE id = $1",
            &[&task_id, &error.to_string(), &at],
        )
        .await?;
        if charged > 0 {
            // The unique (task_id, kind) index makes a second refund impossible.
            tx.execute(
                "INSERT INTO credit_ledger (account_id, kind, amount, task_id, note, created_at)
                 VALUES ($1, 'refund', $2, $3, 'task failed', $4)",
                &[&account, &charged, &task_id, &at],
            )
            .await?;
        }
        let code = error.get("code").and_then(Value::as_str);
        finish_job(&tx, task_id, lease, "failed", code, "task.failed").await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn retry_task(
        &self,
        task_id: &str,
        lease: &Lease,
        error: &str,
        retry_at: i64,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if !holds(&tx, task_id, lease).await? {
            return Ok(false);
        }
        requeue(&tx, task_id, lease, Some(retry_at), Some(error), false).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn release_task(&self, task_id: &str, lease: &Lease) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if !holds(&tx, task_id, lease).await? {
            return Ok(false);
        }
        requeue(&tx, task_id, lease, None, None, true).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn tasks_with_expired_results(
        &self,
        now: i64,
        limit: u32,
    ) -> StoreResult<Vec<TaskRecord>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {TASK_COLUMNS} FROM tasks
                     WHERE status = 'completed' AND result_json IS NOT NULL
                       AND (result_json::jsonb ->> 'expires_at')::BIGINT <= $1
                       AND (result_json::jsonb -> 'expired') IS DISTINCT FROM 'true'::jsonb
                     ORDER BY seq LIMIT $2"
                ),
                &[&now, &i64::from(limit)],
            )
            .await?;
        rows.iter().map(task_from_row).collect()
    }

    async fn mark_result_expired(&self, task_id: &str) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "UPDATE tasks SET result_json = jsonb_set(result_json::jsonb, '{expired}', 'true')::TEXT
                 WHERE id = $1",
                &[&task_id],
            )
            .await?;
        Ok(())
    }
}
