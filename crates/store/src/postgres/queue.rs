//! The job queue on PostgreSQL (design.md principle 3). A claim picks the oldest runnable
//! job with `FOR UPDATE SKIP LOCKED` (concurrent claimers skip each other's row instead
//! of waiting) and leases it in the same statement. Every later write is fenced by
//! `(id, attempt, lease_owner)`; zero rows changed means the lease was lost.

use super::{narrow, now, parse_json, PgStore};
use crate::{Job, JobQueue, Lease, NewJob, StoreResult};
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

pub(crate) const JOB_COLUMNS: &str =
    "id, kind, task_id, payload, status, attempt, max_attempts, run_at, lease_owner, lease_expires_at, last_error";

fn job_from_row(r: &Row) -> StoreResult<Job> {
    Ok(Job {
        id: r.get(0),
        kind: r.get(1),
        task_id: r.get(2),
        payload: parse_json(Some(r.get(3)))?.unwrap_or_default(),
        status: r.get(4),
        attempt: narrow(r.get::<_, i64>(5)),
        max_attempts: narrow(r.get::<_, i64>(6)),
        run_at: r.get(7),
        lease_owner: r.get(8),
        lease_expires_at: r.get(9),
        last_error: r.get(10),
    })
}

/// `$1..$3` are the lease; statements add their own values from `$4`.
pub(crate) const FENCE: &str =
    "id = $1 AND attempt = $2 AND lease_owner = $3 AND status = 'running'";

/// `FENCE` plus a row lock, for transactions that check the lease and then write.
pub(crate) async fn holds(c: &impl GenericClient, lease: &Lease) -> StoreResult<bool> {
    Ok(c.query_opt(
        &format!("SELECT 1 FROM jobs WHERE {FENCE} FOR UPDATE"),
        &[&lease.job_id, &i64::from(lease.attempt), &lease.owner],
    )
    .await?
    .is_some())
}

impl PgStore {
    async fn fenced_update(
        &self,
        sql: &str,
        lease: &Lease,
        extra: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<bool> {
        let client = self.lease_client().await?;
        let stmt = client.prepare_cached(sql).await?;
        let attempt = i64::from(lease.attempt);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&lease.job_id, &attempt, &lease.owner];
        params.extend_from_slice(extra);
        Ok(client.execute(&stmt, &params).await? == 1)
    }
}

#[async_trait::async_trait]
impl JobQueue for PgStore {
    async fn enqueue(&self, job: NewJob) -> StoreResult<i64> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO jobs (kind, task_id, payload, status, max_attempts, run_at, created_at)
                 VALUES ($1, $2, $3, 'queued', $4, $5, $6) RETURNING id",
            )
            .await?;
        Ok(client
            .query_one(
                &stmt,
                &[
                    &job.kind,
                    &job.task_id,
                    &job.payload.to_string(),
                    &i64::from(job.max_attempts),
                    &job.run_at,
                    &now(),
                ],
            )
            .await?
            .get(0))
    }

    async fn claim(
        &self,
        kinds: &[&str],
        owner: &str,
        lease_secs: i64,
    ) -> StoreResult<Option<Job>> {
        let client = self.lease_client().await?;
        // One kind (every caller today) is `kind = $1`, which walks the index in claim
        // order and stops at the first free row; `= ANY` over several kinds loses that
        // order and sorts every open job of those kinds on each claim.
        let (filter, kinds_param): (&str, Box<dyn ToSql + Sync + Send>) = match kinds {
            [one] => ("kind = $1", Box::new(one.to_string())),
            many => (
                "kind = ANY($1)",
                Box::new(many.iter().map(|k| k.to_string()).collect::<Vec<_>>()),
            ),
        };
        // The CTE's row lock is re-checked against the latest row version, so a job
        // another claimer leased meanwhile no longer matches and is skipped.
        let stmt = client
            .prepare_cached(&format!(
                "WITH next AS (
                   SELECT id FROM jobs
                   WHERE {filter} AND finished_at IS NULL
                     AND ((status = 'queued' AND run_at <= $2) OR (status = 'running' AND lease_expires_at < $2))
                   ORDER BY run_at, id LIMIT 1
                   FOR UPDATE SKIP LOCKED)
                 UPDATE jobs SET status = 'running', attempt = jobs.attempt + 1,
                        lease_owner = $3, lease_expires_at = $4
                 FROM next WHERE jobs.id = next.id
                 RETURNING {}",
                JOB_COLUMNS
                    .split(", ")
                    .map(|c| format!("jobs.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .await?;
        let at = now();
        client
            .query_opt(&stmt, &[&*kinds_param, &at, &owner, &(at + lease_secs)])
            .await?
            .as_ref()
            .map(job_from_row)
            .transpose()
    }

    async fn heartbeat(&self, lease: &Lease, lease_secs: i64) -> StoreResult<bool> {
        let sql = format!("UPDATE jobs SET lease_expires_at = $4 WHERE {FENCE}");
        self.fenced_update(&sql, lease, &[&(now() + lease_secs)])
            .await
    }

    async fn complete(&self, lease: &Lease) -> StoreResult<bool> {
        let sql = format!(
            "UPDATE jobs SET status = 'done', finished_at = $4, lease_owner = NULL, lease_expires_at = NULL WHERE {FENCE}"
        );
        self.fenced_update(&sql, lease, &[&now()]).await
    }

    async fn fail(&self, lease: &Lease, error: &str, retry_at: Option<i64>) -> StoreResult<bool> {
        match retry_at {
            Some(at) => {
                let sql = format!(
                    "UPDATE jobs SET status = 'queued', run_at = $5, last_error = $4, lease_owner = NULL, lease_expires_at = NULL WHERE {FENCE}"
                );
                self.fenced_update(&sql, lease, &[&error, &at]).await
            }
            None => {
                let sql = format!(
                    "UPDATE jobs SET status = 'failed', finished_at = $5, last_error = $4, lease_owner = NULL, lease_expires_at = NULL WHERE {FENCE}"
                );
                self.fenced_update(&sql, lease, &[&error, &now()]).await
            }
        }
    }

    async fn release(&self, lease: &Lease) -> StoreResult<bool> {
        // The attempt is handed back too: a shutdown is not the job's fault.
        let sql = format!(
            "UPDATE jobs SET status = 'queued', attempt = attempt - 1, lease_owner = NULL, lease_expires_at = NULL WHERE {FENCE}"
        );
        self.fenced_update(&sql, lease, &[]).await
    }

    async fn get_job(&self, id: i64) -> StoreResult<Option<Job>> {
        self.client()
            .await?
            .query_opt(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
                &[&id],
            )
            .await?
            .as_ref()
            .map(job_from_row)
            .transpose()
    }

    async fn job_counts(&self) -> StoreResult<Vec<(String, String, i64)>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT kind, status, COUNT(*) FROM jobs GROUP BY kind, status
                 ORDER BY kind COLLATE \"C\", status COLLATE \"C\"",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }
}
