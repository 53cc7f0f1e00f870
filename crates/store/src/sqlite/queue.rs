//! The job queue on SQLite (design.md principle 3): short statements only, never a
//! transaction held while work happens. Every write about a claimed job is fenced by
//! `(id, attempt, lease_owner)`; zero rows changed means the lease was lost.

use super::{now, parse_json, SqliteStore};
use crate::{Job, JobQueue, Lease, NewJob, StoreResult};
use r2d2_sqlite::rusqlite::{params, params_from_iter, OptionalExtension, Row};

const JOB_COLUMNS: &str =
    "id, kind, task_id, payload, status, attempt, max_attempts, run_at, lease_owner, lease_expires_at, last_error";

fn job_from_row(r: &Row) -> r2d2_sqlite::rusqlite::Result<Job> {
    Ok(Job {
        id: r.get(0)?,
        kind: r.get(1)?,
        task_id: r.get(2)?,
        payload: parse_json(Some(r.get(3)?))?.unwrap_or_default(),
        status: r.get(4)?,
        attempt: r.get(5)?,
        max_attempts: r.get(6)?,
        run_at: r.get(7)?,
        lease_owner: r.get(8)?,
        lease_expires_at: r.get(9)?,
        last_error: r.get(10)?,
    })
}

const FENCE: &str = "id = ?1 AND attempt = ?2 AND lease_owner = ?3 AND status = 'running'";

impl SqliteStore {
    async fn fenced_update(
        &self,
        sql: String,
        lease: &Lease,
        extra: Vec<rusqlite_value::Value>,
    ) -> StoreResult<bool> {
        let lease = lease.clone();
        self.with_conn(move |c| {
            let mut values: Vec<rusqlite_value::Value> = vec![
                lease.job_id.into(),
                i64::from(lease.attempt).into(),
                lease.owner.into(),
            ];
            values.extend(extra);
            Ok(c.execute(&sql, params_from_iter(values))? == 1)
        })
        .await
    }
}

mod rusqlite_value {
    pub use r2d2_sqlite::rusqlite::types::Value;
}

#[async_trait::async_trait]
impl JobQueue for SqliteStore {
    async fn enqueue(&self, job: NewJob) -> StoreResult<i64> {
        self.with_conn(move |c| {
            c.execute(
                "INSERT INTO jobs (kind, task_id, payload, status, max_attempts, run_at, created_at)
                 VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6)",
                params![job.kind, job.task_id, job.payload.to_string(), job.max_attempts, job.run_at, now()],
            )?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    async fn claim(
        &self,
        kinds: &[&str],
        owner: &str,
        lease_secs: i64,
    ) -> StoreResult<Option<Job>> {
        let kinds: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
        let owner = owner.to_string();
        self.with_conn(move |c| {
            let at = now();
            let placeholders = vec!["?"; kinds.len()].join(", ");
            // One statement: pick and lease atomically (SQLite serialises writers).
            let sql = format!(
                "UPDATE jobs SET status = 'running', attempt = attempt + 1, lease_owner = ?, lease_expires_at = ?
                 WHERE id = (SELECT id FROM jobs
                             WHERE kind IN ({placeholders}) AND status IN ('queued', 'running')
                               AND ((status = 'queued' AND run_at <= ?) OR (status = 'running' AND lease_expires_at < ?))
                             ORDER BY run_at, id LIMIT 1)
                 RETURNING {JOB_COLUMNS}"
            );
            let mut values: Vec<rusqlite_value::Value> = vec![owner.into(), (at + lease_secs).into()];
            values.extend(kinds.into_iter().map(Into::into));
            values.push(at.into());
            values.push(at.into());
            let mut stmt = c.prepare_cached(&sql)?;
            Ok(stmt.query_row(params_from_iter(values), job_from_row).optional()?)
        })
        .await
    }

    async fn heartbeat(&self, lease: &Lease, lease_secs: i64) -> StoreResult<bool> {
        let sql = format!("UPDATE jobs SET lease_expires_at = ?4 WHERE {FENCE}");
        self.fenced_update(sql, lease, vec![(now() + lease_secs).into()])
            .await
    }

    async fn complete(&self, lease: &Lease) -> StoreResult<bool> {
        let sql = format!(
            "UPDATE jobs SET status = 'done', finished_at = ?4, lease_owner = NULL, lease_expires_at = NULL WHERE {FENCE}"
        );
        self.fenced_update(sql, lease, vec![now().into()]).await
    }

    async fn fail(&self, lease: &Lease, error: &str, retry_at: Option<i64>) -> StoreResult<bool> {
        // ?5 is the retry time or the finish time: every bound value must be used.
        let (sql, fifth) = match retry_at {
            Some(at) => (
                format!(
                    "UPDATE jobs SET status = 'queued', run_at = ?5, last_error = ?4, lease_owner = NULL, lease_expires_at = NULL WHERE {FENCE}"
                ),
                at,
            ),
            None => (
                format!(
                    "UPDATE jobs SET status = 'failed', finished_at = ?5, last_error = ?4, lease_owner = NULL, lease_expires_at = NULL WHERE {FENCE}"
                ),
                now(),
            ),
        };
        let extra = vec![error.to_string().into(), fifth.into()];
        self.fenced_update(sql, lease, extra).await
    }

    async fn release(&self, lease: &Lease) -> StoreResult<bool> {
        // The attempt is handed back too: a shutdown is not the job's fault.
        let sql = format!(
            "UPDATE jobs SET status = 'queued', attempt = attempt - 1, lease_owner = NULL, lease_expires_at = NULL WHERE {FENCE}"
        );
        self.fenced_update(sql, lease, vec![]).await
    }

    async fn get_job(&self, id: i64) -> StoreResult<Option<Job>> {
        self.with_conn(move |c| {
            Ok(c.query_row(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
                [id],
                job_from_row,
            )
            .optional()?)
        })
        .await
    }

    async fn job_counts(&self) -> StoreResult<Vec<(String, String, i64)>> {
        self.with_conn(|c| {
            let mut stmt = c.prepare_cached("SELECT kind, status, COUNT(*) FROM jobs GROUP BY kind, status ORDER BY kind, status")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}
