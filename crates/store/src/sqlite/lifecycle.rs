//! Task transitions made by workers, each in one `BEGIN IMMEDIATE` transaction whose first
//! statement checks the job's lease; when the lease is lost the transaction is rolled
//! back and the caller learns it from `false`.

use super::tasks::{task_from_row, TASK_COLUMNS};
use super::{now, SqliteStore};
use crate::{Lease, StoreError, StoreResult, TaskLifecycle, TaskRecord};
use r2d2_sqlite::rusqlite::{params, OptionalExtension, Transaction};
use serde_json::Value;

/// Whether `lease` still holds the running render job of `task_id`.
fn holds(tx: &Transaction, task_id: &str, lease: &Lease) -> StoreResult<bool> {
    Ok(tx
        .query_row(
            "SELECT 1 FROM jobs WHERE id = ?1 AND attempt = ?2 AND lease_owner = ?3
               AND status = 'running' AND task_id = ?4",
            params![lease.job_id, lease.attempt, lease.owner, task_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Finish the job and, when the task has a webhook URL, create its delivery and queue it
/// in the same transaction, so a crash can never end a task without its event.
fn finish_job(
    tx: &Transaction,
    task_id: &str,
    lease: &Lease,
    job_status: &str,
    error: Option<&str>,
    event: &str,
) -> StoreResult<()> {
    tx.execute(
        "UPDATE jobs SET status = ?2, finished_at = ?3, last_error = COALESCE(?4, last_error),
                lease_owner = NULL, lease_expires_at = NULL WHERE id = ?1",
        params![lease.job_id, job_status, now(), error],
    )?;
    let webhook: Option<String> = tx.query_row(
        "SELECT webhook_url FROM tasks WHERE id = ?1",
        [task_id],
        |r| r.get(0),
    )?;
    if webhook.is_some() {
        super::webhooks::queue_delivery(tx, task_id, event, None)?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl TaskLifecycle for SqliteStore {
    async fn task_by_id(&self, id: &str) -> StoreResult<Option<TaskRecord>> {
        let id = id.to_string();
        self.with_conn(move |c| {
            Ok(c.query_row(
                &format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?1"),
                [id],
                task_from_row,
            )
            .optional()?)
        })
        .await
    }

    async fn start_task(&self, task_id: &str, lease: &Lease) -> StoreResult<bool> {
        let (task_id, lease) = (task_id.to_string(), lease.clone());
        self.with_tx(move |tx| {
            if !holds(tx, &task_id, &lease)? {
                return Ok(false);
            }
            tx.execute(
                "UPDATE tasks SET status = 'processing', started_at = COALESCE(started_at, ?2),
                        progress = 0, stage = 'fetching'
                 WHERE id = ?1 AND status IN ('queued', 'processing')",
                params![task_id, now()],
            )?;
            Ok::<_, StoreError>(true)
        })
        .await
    }

    async fn set_progress(
        &self,
        task_id: &str,
        lease: &Lease,
        progress: u8,
        stage: &str,
    ) -> StoreResult<bool> {
        let (task_id, lease, stage) = (task_id.to_string(), lease.clone(), stage.to_string());
        // A single statement (no transaction needed): the fence is in its WHERE clause.
        self.with_conn(move |c| {
            let n = c.execute(
                "UPDATE tasks SET progress = ?2, stage = ?3
                 WHERE id = ?1 AND status = 'processing'
                   AND EXISTS (SELECT 1 FROM jobs WHERE id = ?4 AND attempt = ?5 AND lease_owner = ?6 AND status = 'running')",
                params![task_id, progress.min(100), stage, lease.job_id, lease.attempt, lease.owner],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn complete_task(
        &self,
        task_id: &str,
        lease: &Lease,
        result: Value,
    ) -> StoreResult<bool> {
        let (task_id, lease) = (task_id.to_string(), lease.clone());
        self.with_tx(move |tx| {
            if !holds(tx, &task_id, &lease)? {
                return Ok(false);
            }
            tx.execute(
                "UPDATE tasks SET status = 'completed', progress = 100, stage = NULL,
                        result_json = ?2, error_json = NULL, completed_at = ?3
                 WHERE id = ?1",
                params![task_id, result.to_string(), now()],
            )?;
            finish_job(tx, &task_id, &lease, "done", None, "task.completed")?;
            Ok::<_, StoreError>(true)
        })
        .await
    }

    async fn fail_task(&self, task_id: &str, lease: &Lease, error: Value) -> StoreResult<bool> {
        let (task_id, lease) = (task_id.to_string(), lease.clone());
        self.with_tx(move |tx| {
            if !holds(tx, &task_id, &lease)? {
                return Ok(false);
            }
            let at = now();
            let (account, charged): (String, i64) = tx.query_row(
                "SELECT account_id, credits_charged FROM tasks WHERE id = ?1",
                [&task_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            tx.execute(
                "UPDATE tasks SET status = 'failed', stage = NULL, error_json = ?2, completed_at = ?3 WHERE id = ?1",
                params![task_id, error.to_string(), at],
            )?;
            if charged > 0 {
                // The unique (task_id, kind) index makes a second refund impossible.
                tx.execute(
                    "INSERT INTO credit_ledger (account_id, kind, amount, task_id, note, created_at)
                     VALUES (?1, 'refund', ?2, ?3, 'task failed', ?4)",
                    params![account, charged, task_id, at],
                )?;
            }
            let code = error.get("code").and_then(Value::as_str).map(str::to_string);
            finish_job(tx, &task_id, &lease, "failed", code.as_deref(), "task.failed")?;
            Ok::<_, StoreError>(true)
        })
        .await
    }

    async fn retry_task(
        &self,
        task_id: &str,
        lease: &Lease,
        error: &str,
        retry_at: i64,
    ) -> StoreResult<bool> {
        let (task_id, lease, error) = (task_id.to_string(), lease.clone(), error.to_string());
        self.with_tx(move |tx| {
            if !holds(tx, &task_id, &lease)? {
                return Ok(false);
            }
            tx.execute(
                "UPDATE tasks SET status = 'queued', progress = NULL, stage = NULL WHERE id = ?1",
                [&task_id],
            )?;
            tx.execute(
                "UPDATE jobs SET status = 'queued', run_at = ?2, last_error = ?3,
                        lease_owner = NULL, lease_expires_at = NULL WHERE id = ?1",
                params![lease.job_id, retry_at, error],
            )?;
            Ok::<_, StoreError>(true)
        })
        .await
    }

    async fn release_task(&self, task_id: &str, lease: &Lease) -> StoreResult<bool> {
        let (task_id, lease) = (task_id.to_string(), lease.clone());
        self.with_tx(move |tx| {
            if !holds(tx, &task_id, &lease)? {
                return Ok(false);
            }
            tx.execute(
                "UPDATE tasks SET status = 'queued', progress = NULL, stage = NULL WHERE id = ?1",
                [&task_id],
            )?;
            tx.execute(
                "UPDATE jobs SET status = 'queued', attempt = attempt - 1,
                        lease_owner = NULL, lease_expires_at = NULL WHERE id = ?1",
                [lease.job_id],
            )?;
            Ok::<_, StoreError>(true)
        })
        .await
    }

    async fn tasks_with_expired_results(
        &self,
        now: i64,
        limit: u32,
    ) -> StoreResult<Vec<TaskRecord>> {
        self.with_conn(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {TASK_COLUMNS} FROM tasks
                 WHERE status = 'completed' AND result_json IS NOT NULL
                   AND json_extract(result_json, '$.expires_at') <= ?1
                   AND COALESCE(json_extract(result_json, '$.expired'), 0) = 0
                 ORDER BY seq LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![now, limit], task_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn mark_result_expired(&self, task_id: &str) -> StoreResult<()> {
        let task_id = task_id.to_string();
        self.with_conn(move |c| {
            c.execute(
                "UPDATE tasks SET result_json = json_set(result_json, '$.expired', json('true')) WHERE id = ?1",
                [task_id],
            )?;
            Ok(())
        })
        .await
    }
}
