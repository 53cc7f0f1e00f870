//! Tasks. Creation is the one place money moves on the way in, so it is one transaction.

use super::accounts::{balance_tx, refresh_if_due};
use super::{mode_str, now, parse_json, parse_mode, SqliteStore};
use crate::{
    CreateTaskError, NewTask, Owner, QueueAhead, QueueSnapshot, QueuedRenders, QueuedTask,
    RenderSample, RunningRender, StoreResult, TaskPage, TaskQuery, TaskRecord, TaskStatus, Tasks,
    RENDER_JOB,
};
use r2d2_sqlite::rusqlite::{params, Connection, OptionalExtension, Row};

pub(crate) const TASK_COLUMNS: &str =
    "id, account_id, mode, key_id, type, status, request_json, credits_charged,
     webhook_url, progress, stage, result_json, error_json, created_at, started_at, completed_at";

pub(crate) fn task_from_row(r: &Row) -> r2d2_sqlite::rusqlite::Result<TaskRecord> {
    let status: String = r.get(5)?;
    Ok(TaskRecord {
        id: r.get(0)?,
        owner: Owner {
            account_id: r.get(1)?,
            mode: parse_mode(&r.get::<_, String>(2)?)?,
        },
        key_id: r.get(3)?,
        kind: r.get(4)?,
        status: TaskStatus::parse(&status).unwrap_or(TaskStatus::Failed),
        request: r.get(6)?,
        credits_charged: r.get(7)?,
        webhook_url: r.get(8)?,
        progress: r.get(9)?,
        stage: r.get(10)?,
        result: parse_json(r.get(11)?)?,
        error: parse_json(r.get(12)?)?,
        created_at: r.get(13)?,
        started_at: r.get(14)?,
        completed_at: r.get(15)?,
        queue_position: None,
    })
}

/// Photos in a task's stored request (`TaskSpec.inputs.images`), at least 1: the unit
/// render times are measured in (see `queue_ahead`).
const PHOTOS: &str = "MAX(COALESCE(json_array_length(request_json, '$.inputs.images'), 1), 1)";

#[async_trait::async_trait]
impl Tasks for SqliteStore {
    async fn create_task(&self, task: NewTask) -> Result<TaskRecord, CreateTaskError> {
        let plans = self.plans.clone();
        self.with_tx(move |tx| {
            let at = now();
            let account = &task.owner.account_id;
            let mode = mode_str(task.owner.mode);
            if task.price > 0 {
                refresh_if_due(tx, &plans, account, at)?;
                let balance = balance_tx(tx, account)?;
                if balance < task.price {
                    return Err(CreateTaskError::InsufficientCredits { required: task.price, balance });
                }
            }
            let in_flight: u32 = tx.query_row(
                "SELECT COUNT(*) FROM tasks WHERE account_id = ?1 AND mode = ?2 AND status IN ('queued', 'processing')",
                params![account, mode],
                |r| r.get(0),
            ).map_err(crate::StoreError::from)?;
            if in_flight >= task.concurrency_limit {
                return Err(CreateTaskError::ConcurrencyLimit { limit: task.concurrency_limit, in_flight });
            }
            tx.execute(
                "INSERT INTO tasks (id, account_id, mode, key_id, type, status, request_json, credits_charged, webhook_url, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7, ?8, ?9)",
                params![task.id, account, mode, task.key_id, task.kind, task.request.to_string(), task.price, task.webhook_url, at],
            ).map_err(crate::StoreError::from)?;
            if task.price > 0 {
                tx.execute(
                    "INSERT INTO credit_ledger (account_id, kind, amount, task_id, created_at) VALUES (?1, 'charge', ?2, ?3, ?4)",
                    params![account, -task.price, task.id, at],
                ).map_err(crate::StoreError::from)?;
            }
            tx.execute(
                "INSERT INTO jobs (kind, task_id, status, max_attempts, run_at, created_at) VALUES (?1, ?2, 'queued', ?3, ?4, ?4)",
                params![RENDER_JOB, task.id, task.max_attempts, at],
            ).map_err(crate::StoreError::from)?;
            let queue_position: u32 = tx.query_row(
                "SELECT COUNT(*) FROM tasks WHERE status = 'queued' AND seq <= (SELECT seq FROM tasks WHERE id = ?1)",
                [&task.id],
                |r| r.get(0),
            ).map_err(crate::StoreError::from)?;
            Ok(TaskRecord {
                id: task.id,
                owner: task.owner,
                key_id: task.key_id,
                kind: task.kind,
                status: TaskStatus::Queued,
                request: task.request.to_string(),
                credits_charged: task.price,
                webhook_url: task.webhook_url,
                progress: None,
                stage: None,
                result: None,
                error: None,
                created_at: at,
                started_at: None,
                completed_at: None,
                queue_position: Some(queue_position),
            })
        })
        .await
    }

    async fn get_task(&self, id: &str, owner: &Owner) -> StoreResult<Option<TaskRecord>> {
        let (id, owner) = (id.to_string(), owner.clone());
        self.with_conn(move |c| get_task(c, &id, &owner)).await
    }

    async fn list_tasks(&self, owner: &Owner, query: &TaskQuery) -> StoreResult<TaskPage> {
        let (owner, query) = (owner.clone(), query.clone());
        self.with_conn(move |c| {
            let mode = mode_str(owner.mode);
            // The cursor must be one of the caller's own tasks; anyone else's id acts as
            // "no such cursor" and yields an empty page rather than leaking its position.
            let cursor: Option<i64> = match &query.starting_after {
                None => None,
                Some(id) => Some(
                    c.query_row(
                        "SELECT seq FROM tasks WHERE id = ?1 AND account_id = ?2 AND mode = ?3",
                        params![id, owner.account_id, mode],
                        |r| r.get(0),
                    )
                    .optional()?
                    .unwrap_or(i64::MIN),
                ),
            };
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {TASK_COLUMNS},
                        CASE WHEN status = 'queued' THEN
                          (SELECT COUNT(*) FROM tasks q WHERE q.status = 'queued' AND q.seq <= tasks.seq)
                        END
                 FROM tasks
                 WHERE account_id = ?1 AND mode = ?2 AND (?3 IS NULL OR seq < ?3) AND (?4 IS NULL OR status = ?4)
                 ORDER BY seq DESC LIMIT ?5"
            ))?;
            let limit = query.limit.max(1);
            // Queued tasks carry their position, as a single read does.
            let rows = stmt.query_map(
                params![owner.account_id, mode, cursor, query.status.map(|s| s.as_str()), limit + 1],
                |r| {
                    let mut task = task_from_row(r)?;
                    task.queue_position = r.get(16)?;
                    Ok(task)
                },
            )?;
            let mut tasks = rows.collect::<Result<Vec<_>, _>>()?;
            let has_more = tasks.len() > limit as usize;
            tasks.truncate(limit as usize);
            Ok(TaskPage { tasks, has_more })
        })
        .await
    }

    async fn queue_position(&self, task_id: &str) -> StoreResult<Option<u32>> {
        let task_id = task_id.to_string();
        self.with_conn(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT (SELECT COUNT(*) FROM tasks q WHERE q.status = 'queued' AND q.seq <= t.seq)
                 FROM tasks t WHERE t.id = ?1 AND t.status = 'queued'",
            )?;
            Ok(stmt.query_row([task_id], |r| r.get(0)).optional()?)
        })
        .await
    }

    async fn queue_ahead(&self, task_id: &str) -> StoreResult<Option<QueueAhead>> {
        let task_id = task_id.to_string();
        self.with_conn(move |c| queue_ahead(c, &task_id)).await
    }

    async fn queue_snapshot(&self) -> StoreResult<QueueSnapshot> {
        self.with_conn(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT id, mode, type, {PHOTOS} FROM tasks WHERE status = 'queued' ORDER BY seq"
            ))?;
            let mut rows = stmt.query([])?;
            let mut snapshot = QueueSnapshot::default();
            while let Some(r) = rows.next()? {
                snapshot.queued.push(QueuedTask {
                    id: r.get(0)?,
                    mode: parse_mode(&r.get::<_, String>(1)?)?,
                    kind: r.get(2)?,
                    photos: r.get(3)?,
                });
            }
            snapshot.running = running_renders(c)?;
            Ok(snapshot)
        })
        .await
    }

    async fn recent_renders(&self, limit: u32) -> StoreResult<Vec<RenderSample>> {
        self.with_conn(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT mode, type, completed_at - started_at, {PHOTOS} FROM tasks
                 WHERE status = 'completed' AND started_at IS NOT NULL AND completed_at IS NOT NULL
                 ORDER BY completed_at DESC LIMIT ?1"
            ))?;
            let rows = stmt.query_map([limit], |r| {
                Ok(RenderSample {
                    mode: parse_mode(&r.get::<_, String>(0)?)?,
                    kind: r.get(1)?,
                    seconds: r.get(2)?,
                    photos: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}

/// [`Tasks::get_task`] on `c`.
fn get_task(c: &Connection, id: &str, owner: &Owner) -> StoreResult<Option<TaskRecord>> {
    // The queue position rides along: one round trip per task read.
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {TASK_COLUMNS},
                CASE WHEN status = 'queued' THEN
                  (SELECT COUNT(*) FROM tasks q WHERE q.status = 'queued' AND q.seq <= tasks.seq)
                END
         FROM tasks WHERE id = ?1 AND account_id = ?2 AND mode = ?3"
    ))?;
    Ok(stmt
        .query_row(params![id, owner.account_id, mode_str(owner.mode)], |r| {
            let mut task = task_from_row(r)?;
            task.queue_position = r.get(16)?;
            Ok(task)
        })
        .optional()?)
}

/// [`Tasks::queue_ahead`] on `c`.
fn queue_ahead(c: &Connection, task_id: &str) -> StoreResult<Option<QueueAhead>> {
    let seq: Option<i64> = c
        .prepare_cached("SELECT seq FROM tasks WHERE id = ?1 AND status = 'queued'")?
        .query_row([task_id], |r| r.get(0))
        .optional()?;
    let Some(seq) = seq else { return Ok(None) };
    let mut ahead = QueueAhead::default();
    let mut stmt = c.prepare_cached(&format!(
        "SELECT mode, type, COUNT(*), SUM({PHOTOS}) FROM tasks
         WHERE status = 'queued' AND seq < ?1 GROUP BY mode, type"
    ))?;
    let mut rows = stmt.query([seq])?;
    while let Some(r) = rows.next()? {
        let group = QueuedRenders {
            mode: parse_mode(&r.get::<_, String>(0)?)?,
            kind: r.get(1)?,
            tasks: r.get(2)?,
            photos: r.get(3)?,
        };
        ahead.position += group.tasks;
        ahead.queued.push(group);
    }
    ahead.position += 1;
    ahead.running = running_renders(c)?;
    Ok(Some(ahead))
}

/// Every render in `processing` that has started.
fn running_renders(c: &Connection) -> StoreResult<Vec<RunningRender>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT mode, type, {PHOTOS}, started_at FROM tasks
         WHERE status = 'processing' AND started_at IS NOT NULL"
    ))?;
    let mut rows = stmt.query([])?;
    let mut running = Vec::new();
    while let Some(r) = rows.next()? {
        running.push(RunningRender {
            mode: parse_mode(&r.get::<_, String>(0)?)?,
            kind: r.get(1)?,
            photos: r.get(2)?,
            started_at: r.get(3)?,
        });
    }
    Ok(running)
}
