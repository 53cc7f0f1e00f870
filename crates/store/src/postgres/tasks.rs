//! Tasks on PostgreSQL. Creation is the one place money moves on the way in: the
//! account row is locked, then balance and in-flight count are checked and the charge,
//! task and render job written, all in one transaction.

use super::accounts::{balance_tx, in_flight_tx, lock_account, refresh_if_due};
use super::{narrow, now, parse_json, parse_mode, PgStore};
use crate::{
    CreateTaskError, NewTask, Owner, QueueAhead, QueueSnapshot, QueuedRenders, QueuedTask,
    RenderSample, RunningRender, StoreError, StoreResult, TaskPage, TaskQuery, TaskRecord,
    TaskStatus, Tasks, RENDER_JOB,
};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

pub(crate) const TASK_COLUMNS: &str =
    "id, account_id, mode, key_id, type, status, request_json, credits_charged,
     webhook_url, progress, stage, result_json, error_json, created_at, started_at, completed_at";

pub(crate) fn task_from_row(r: &Row) -> StoreResult<TaskRecord> {
    let status: String = r.get(5);
    Ok(TaskRecord {
        id: r.get(0),
        owner: Owner {
            account_id: r.get(1),
            mode: parse_mode(r.get(2))?,
        },
        key_id: r.get(3),
        kind: r.get(4),
        status: TaskStatus::parse(&status).unwrap_or(TaskStatus::Failed),
        request: r.get(6),
        credits_charged: r.get(7),
        webhook_url: r.get(8),
        progress: r.get::<_, Option<i64>>(9).map(narrow),
        stage: r.get(10),
        result: parse_json(r.get(11))?,
        error: parse_json(r.get(12))?,
        created_at: r.get(13),
        started_at: r.get(14),
        completed_at: r.get(15),
        queue_position: None,
    })
}

/// 1-based position of a queued task among all queued tasks, oldest first.
const QUEUE_POSITION: &str =
    "(SELECT COUNT(*) FROM tasks q WHERE q.status = 'queued' AND q.seq <= t.seq)";

/// Photos in a task's stored request (`TaskSpec.inputs.images`), at least 1: the unit
/// render times are measured in (see `queue_ahead`).
const PHOTOS: &str =
    "GREATEST(COALESCE(CASE WHEN json_typeof(request_json::json #> '{inputs,images}') = 'array'
     THEN json_array_length(request_json::json #> '{inputs,images}') END, 1), 1)";

#[async_trait::async_trait]
impl Tasks for PgStore {
    async fn create_task(&self, task: NewTask) -> Result<TaskRecord, CreateTaskError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(StoreError::from)?;
        let at = now();
        let account = task.owner.account_id.as_str();
        let mode = task.owner.mode.as_str();
        // The lock is what keeps this exact when several API processes take requests
        // for one account at once: the second waits here, then reads the first's rows.
        if lock_account(&tx, account).await?.is_none() {
            return Err(StoreError::NotFound("account").into());
        }
        if task.price > 0 {
            refresh_if_due(&tx, &self.plans, account, at).await?;
            let balance = balance_tx(&tx, account).await?;
            if balance < task.price {
                return Err(CreateTaskError::InsufficientCredits {
                    required: task.price,
                    balance,
                });
            }
        }
        let in_flight: u32 = narrow(in_flight_tx(&tx, account, task.owner.mode).await?);
        if in_flight >= task.concurrency_limit {
            return Err(CreateTaskError::ConcurrencyLimit {
                limit: task.concurrency_limit,
                in_flight,
            });
        }
        let request = task.request.to_string();
        let seq: i64 = tx
            .query_one(
                "INSERT INTO tasks (id, account_id, mode, key_id, type, status, request_json, credits_charged, webhook_url, created_at)
                 VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $9) RETURNING seq",
                &[&task.id, &account, &mode, &task.key_id, &task.kind, &request, &task.price, &task.webhook_url, &at],
            )
            .await
            .map_err(StoreError::from)?
            .get(0);
        if task.price > 0 {
            tx.execute(
                "INSERT INTO credit_ledger (account_id, kind, amount, task_id, created_at)
                 VALUES ($1, 'charge', $2, $3, $4)",
                &[&account, &-task.price, &task.id, &at],
            )
            .await
            .map_err(StoreError::from)?;
        }
        tx.execute(
            "INSERT INTO jobs (kind, task_id, status, max_attempts, run_at, created_at)
             VALUES ($1, $2, 'queued', $3, $4, $4)",
            &[&RENDER_JOB, &task.id, &i64::from(task.max_attempts), &at],
        )
        .await
        .map_err(StoreError::from)?;
        let queue_position: i64 = tx
            .query_one(
                "SELECT COUNT(*) FROM tasks WHERE status = 'queued' AND seq <= $1",
                &[&seq],
            )
            .await
            .map_err(StoreError::from)?
            .get(0);
        tx.commit().await.map_err(StoreError::from)?;
        Ok(TaskRecord {
            id: task.id,
            owner: task.owner,
            key_id: task.key_id,
            kind: task.kind,
            status: TaskStatus::Queued,
            request,
            credits_charged: task.price,
            webhook_url: task.webhook_url,
            progress: None,
            stage: None,
            result: None,
            error: None,
            created_at: at,
            started_at: None,
            completed_at: None,
            queue_position: Some(narrow(queue_position)),
        })
    }

    async fn get_task(&self, id: &str, owner: &Owner) -> StoreResult<Option<TaskRecord>> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(&get_task_sql()).await?;
        let row = client
            .query_opt(&stmt, &[&id, &owner.account_id, &owner.mode.as_str()])
            .await?;
        row.as_ref().map(task_with_position).transpose()
    }

    async fn list_tasks(&self, owner: &Owner, query: &TaskQuery) -> StoreResult<TaskPage> {
        let client = self.client().await?;
        let mode = owner.mode.as_str();
        // The cursor must be one of the caller's own tasks; anyone else's id acts as
        // "no such cursor" and yields an empty page rather than leaking its position.
        let cursor: Option<i64> = match &query.starting_after {
            None => None,
            Some(id) => Some(
                client
                    .query_opt(
                        "SELECT seq FROM tasks WHERE id = $1 AND account_id = $2 AND mode = $3",
                        &[id, &owner.account_id, &mode],
                    )
                    .await?
                    .map_or(i64::MIN, |r| r.get(0)),
            ),
        };
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {TASK_COLUMNS}, CASE WHEN status = 'queued' THEN {QUEUE_POSITION} END
                 FROM tasks t
                 WHERE account_id = $1 AND mode = $2 AND ($3::BIGINT IS NULL OR seq < $3::BIGINT)
                   AND ($4::TEXT IS NULL OR status = $4::TEXT)
                 ORDER BY seq DESC LIMIT $5"
            ))
            .await?;
        let limit = i64::from(query.limit.max(1));
        let rows = client
            .query(
                &stmt,
                &[
                    &owner.account_id,
                    &mode,
                    &cursor,
                    &query.status.map(|s| s.as_str()),
                    &(limit + 1),
                ],
            )
            .await?;
        // Queued tasks carry their position, as a single read does.
        let mut tasks = rows
            .iter()
            .map(task_with_position)
            .collect::<StoreResult<Vec<_>>>()?;
        let has_more = tasks.len() as i64 > limit;
        tasks.truncate(limit as usize);
        Ok(TaskPage { tasks, has_more })
    }

    async fn queue_position(&self, task_id: &str) -> StoreResult<Option<u32>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {QUEUE_POSITION} FROM tasks t WHERE t.id = $1 AND t.status = 'queued'"
            ))
            .await?;
        Ok(client
            .query_opt(&stmt, &[&task_id])
            .await?
            .map(|r| narrow(r.get::<_, i64>(0))))
    }

    async fn queue_ahead(&self, task_id: &str) -> StoreResult<Option<QueueAhead>> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(&queue_ahead_sql()).await?;
        queue_ahead_from(&client.query(&stmt, &[&task_id]).await?)
    }

    async fn queue_snapshot(&self) -> StoreResult<QueueSnapshot> {
        let client = self.client().await?;
        let queued_sql = format!(
            "SELECT id, mode, type, ({PHOTOS})::BIGINT FROM tasks WHERE status = 'queued' ORDER BY seq"
        );
        let running_sql = format!(
            "SELECT mode, type, ({PHOTOS})::BIGINT, started_at FROM tasks
             WHERE status = 'processing' AND started_at IS NOT NULL"
        );
        let (queued_stmt, running_stmt) = tokio::try_join!(
            client.prepare_cached(&queued_sql),
            client.prepare_cached(&running_sql)
        )?;
        // Both go out together on the one connection (tokio-postgres pipelines
        // concurrent queries) and read the same committed state closely enough for an
        // estimate.
        let (queued, running) = tokio::try_join!(
            client.query(&queued_stmt, &[]),
            client.query(&running_stmt, &[])
        )?;
        Ok(QueueSnapshot {
            queued: queued
                .iter()
                .map(|r| {
                    Ok(QueuedTask {
                        id: r.get(0),
                        mode: parse_mode(r.get(1))?,
                        kind: r.get(2),
                        photos: narrow(r.get::<_, i64>(3)),
                    })
                })
                .collect::<StoreResult<_>>()?,
            running: running
                .iter()
                .map(|r| {
                    Ok(RunningRender {
                        mode: parse_mode(r.get(0))?,
                        kind: r.get(1),
                        photos: narrow(r.get::<_, i64>(2)),
                        started_at: r.get(3),
                    })
                })
                .collect::<StoreResult<_>>()?,
        })
    }

    async fn recent_renders(&self, limit: u32) -> StoreResult<Vec<RenderSample>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT mode, type, completed_at - started_at, ({PHOTOS})::BIGINT FROM tasks
                 WHERE status = 'completed' AND started_at IS NOT NULL AND completed_at IS NOT NULL
                 ORDER BY completed_at DESC LIMIT $1"
            ))
            .await?;
        client
            .query(&stmt, &[&i64::from(limit)])
            .await?
            .iter()
            .map(|r| {
                Ok(RenderSample {
                    mode: parse_mode(r.get(0))?,
                    kind: r.get(1),
                    seconds: r.get(2),
                    photos: narrow(r.get::<_, i64>(3)),
                })
            })
            .collect()
    }
}

/// A task by id, visible to `$2`/`$3` (account, mode), with its queue position riding
/// along in column 16.
fn get_task_sql() -> String {
    format!(
        "SELECT {TASK_COLUMNS}, CASE WHEN status = 'queued' THEN {QUEUE_POSITION} END
         FROM tasks t WHERE id = $1 AND account_id = $2 AND mode = $3"
    )
}

fn task_with_position(r: &Row) -> StoreResult<TaskRecord> {
    let mut task = task_from_row(r)?;
    task.queue_position = r.get::<_, Option<i64>>(16).map(narrow);
    Ok(task)
}

/// What is ahead of task `$1` in one statement: part 0 is the queued work ahead by
/// (mode, type), part 1 each running render, part 2 a marker row saying the task is
/// queued at all (no marker: not queued).
fn queue_ahead_sql() -> String {
    format!(
        "WITH me AS (SELECT seq FROM tasks WHERE id = $1 AND status = 'queued')
         SELECT 0, mode, type, COUNT(*)::BIGINT, SUM({PHOTOS})::BIGINT, NULL::BIGINT
           FROM tasks, me WHERE tasks.status = 'queued' AND tasks.seq < me.seq
           GROUP BY mode, type
         UNION ALL
         SELECT 1, mode, type, 1::BIGINT, ({PHOTOS})::BIGINT, started_at FROM tasks
           WHERE status = 'processing' AND started_at IS NOT NULL
             AND EXISTS (SELECT 1 FROM me)
         UNION ALL
         SELECT 2, NULL, NULL, 0::BIGINT, 0::BIGINT, NULL::BIGINT FROM me"
    )
}

fn queue_ahead_from(rows: &[Row]) -> StoreResult<Option<QueueAhead>> {
    let mut queued = false;
    let mut ahead = QueueAhead::default();
    for r in rows {
        match r.get::<_, i32>(0) {
            0 => {
                let group = QueuedRenders {
                    mode: parse_mode(r.get(1))?,
                    kind: r.get(2),
                    tasks: narrow(r.get::<_, i64>(3)),
                    photos: narrow(r.get::<_, i64>(4)),
                };
                ahead.position += group.tasks;
                ahead.queued.push(group);
            }
            1 => ahead.running.push(RunningRender {
                mode: parse_mode(r.get(1))?,
                kind: r.get(2),
                photos: narrow(r.get::<_, i64>(4)),
                started_at: r.get(5),
            }),
            _ => queued = true,
        }
    }
    if !queued {
        return Ok(None);
    }
    ahead.position += 1;
    Ok(Some(ahead))
}
