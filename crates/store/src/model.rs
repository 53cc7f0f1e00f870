//! Records passed across the store traits. Times are unix seconds (UTC).

use peakreel_types::ids::Mode;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub plan: String,
    pub renewal_day: u8,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub id: i64,
    pub kind: String,
    pub amount: i64,
    pub task_id: Option<String>,
    pub note: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewKey {
    pub id: String,
    pub account_id: String,
    pub mode: Mode,
    pub key_hash: [u8; 32],
    pub key_hint: String,
    pub name: String,
    pub webhook_secret: String,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: String,
    pub account_id: String,
    pub mode: Mode,
    pub key_hint: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What authentication needs in one lookup: the key, its hash and secret, its account.
#[derive(Debug, Clone)]
pub struct AuthRecord {
    pub key: KeyRecord,
    pub key_hash: [u8; 32],
    pub webhook_secret: String,
    pub account: Account,
}

/// Whose rows a caller may see: one account, in one key mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub account_id: String,
    pub mode: Mode,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VoiceRecord {
    pub id: String,
    /// `None` for public voices.
    pub owner: Option<Owner>,
    pub name: String,
    pub gender: String,
    pub accent: String,
    pub languages: Vec<String>,
    pub provider: String,
    /// How the speech engines speak this voice (engine-specific JSON).
    pub engine: Value,
    pub preview_path: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct VoiceFilter {
    pub language: Option<String>,
    pub gender: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarRecord {
    pub id: String,
    pub owner: Option<Owner>,
    pub name: String,
    pub image_path: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    Queued,
    Processing,
    Completed,
    Failed,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Processing => "processing",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(TaskStatus::Queued),
            "processing" => Some(TaskStatus::Processing),
            "completed" => Some(TaskStatus::Completed),
            "failed" => Some(TaskStatus::Failed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewTask {
    pub id: String,
    pub owner: Owner,
    pub key_id: String,
    /// `narrated_slideshow` or `living_property`.
    pub kind: String,
    pub request: Value,
    pub webhook_url: Option<String>,
    /// Credits to charge; 0 for test keys.
    pub price: i64,
    pub concurrency_limit: u32,
    /// Attempts the render job gets before the task fails.
    pub max_attempts: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    pub id: String,
    pub owner: Owner,
    pub key_id: String,
    pub kind: String,
    pub status: TaskStatus,
    /// The stored request as raw JSON: parsed only by the worker that renders it, not
    /// on every read of the task.
    pub request: String,
    pub credits_charged: i64,
    pub webhook_url: Option<String>,
    pub progress: Option<u8>,
    pub stage: Option<String>,
    pub result: Option<Value>,
    pub error: Option<Value>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    /// 1-based position among queued tasks (only from reads that compute it).
    pub queue_position: Option<u32>,
}

/// What stands before a queued task, for its `estimated_completion`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueAhead {
    /// 1-based position among queued tasks (every mode and kind: one queue serves all).
    pub position: u32,
    /// Tasks being rendered now.
    pub running: Vec<RunningRender>,
    /// Queued tasks before this one, one entry per (mode, kind).
    pub queued: Vec<QueuedRenders>,
}

/// A task in `processing`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningRender {
    pub mode: Mode,
    pub kind: String,
    /// Photos in its request (1 when the request names none).
    pub photos: u32,
    /// Unix seconds of its first start.
    pub started_at: i64,
}

/// Queued tasks of one (mode, kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRenders {
    pub mode: Mode,
    pub kind: String,
    pub tasks: u32,
    /// Photos in all their requests together.
    pub photos: u32,
}

/// Every queued render (in queue order) and every running one, read together. A process
/// keeps one for a moment and answers the estimates of all its task reads from it, so a
/// client polling a queued task costs one task lookup, not a scan of the queue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueSnapshot {
    pub queued: Vec<QueuedTask>,
    pub running: Vec<RunningRender>,
}

/// One queued task of a [`QueueSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedTask {
    pub id: String,
    pub mode: Mode,
    pub kind: String,
    /// Photos in its request (1 when the request names none).
    pub photos: u32,
}

impl QueueSnapshot {
    /// What stood before task `id` when the snapshot was taken: the queued tasks before
    /// it (all of them when it is not in the snapshot, being newer), one entry per (mode,
    /// kind) in order of first appearance, and every running render. `position` is the
    /// task's own, read with it (the snapshot may be a moment older).
    pub fn ahead_of(&self, id: &str, position: u32) -> QueueAhead {
        let before = self
            .queued
            .iter()
            .position(|t| t.id == id)
            .unwrap_or(self.queued.len());
        let mut queued: Vec<QueuedRenders> = Vec::new();
        for t in &self.queued[..before] {
            match queued
                .iter_mut()
                .find(|g| g.mode == t.mode && g.kind == t.kind)
            {
                Some(g) => {
                    g.tasks += 1;
                    g.photos += t.photos;
                }
                None => queued.push(QueuedRenders {
                    mode: t.mode,
                    kind: t.kind.clone(),
                    tasks: 1,
                    photos: t.photos,
                }),
            }
        }
        QueueAhead {
            position: position.max(1),
            running: self.running.clone(),
            queued,
        }
    }
}

/// One completed render: how long it took (`completed_at - started_at`, seconds) for
/// how many photos.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderSample {
    pub mode: Mode,
    pub kind: String,
    pub seconds: i64,
    pub photos: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateTaskError {
    #[error("insufficient credits: {required} required, {balance} available")]
    InsufficientCredits { required: i64, balance: i64 },
    #[error("concurrency limit {limit} reached ({in_flight} in flight)")]
    ConcurrencyLimit { limit: u32, in_flight: u32 },
    #[error(transparent)]
    Store(#[from] crate::StoreError),
}

#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    pub limit: u32,
    pub starting_after: Option<String>,
    pub status: Option<TaskStatus>,
}

#[derive(Debug, Clone)]
pub struct TaskPage {
    pub tasks: Vec<TaskRecord>,
    pub has_more: bool,
}

#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub task_id: Option<String>,
    pub payload: Value,
    pub run_at: i64,
    pub max_attempts: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub task_id: Option<String>,
    pub payload: Value,
    pub status: String,
    pub attempt: u32,
    pub max_attempts: u32,
    pub run_at: i64,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub last_error: Option<String>,
}

impl Job {
    pub fn lease(&self) -> Option<Lease> {
        Some(Lease {
            job_id: self.id,
            attempt: self.attempt,
            owner: self.lease_owner.clone()?,
        })
    }
}

/// Proof of a claim: every write about a claimed job is fenced by all three fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub job_id: i64,
    pub attempt: u32,
    pub owner: String,
}

/// The job kind that renders a task.
pub const RENDER_JOB: &str = "render";
pub const WEBHOOK_JOB: &str = "webhook";

/// Attempts a delivery's job may take. The sender decides when to give up from its
/// schedule; this only bounds the job.
pub const DELIVERY_MAX_ATTEMPTS: u32 = 32;

#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub task_id: String,
    /// `task.completed` or `task.failed`.
    pub event: String,
    /// `pending`, `succeeded` or `failed` (given up).
    pub status: String,
    pub redelivery_of: Option<String>,
    pub created_at: i64,
    pub first_attempt_at: Option<i64>,
    pub next_attempt_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub attempts: Vec<Attempt>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub attempt: u32,
    pub attempted_at: i64,
    pub status_code: Option<u16>,
    pub latency_ms: Option<i64>,
    pub response_body: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewAttempt {
    pub delivery_id: String,
    pub attempted_at: i64,
    pub status_code: Option<u16>,
    pub latency_ms: Option<i64>,
    pub response_body: Option<String>,
    pub error: Option<String>,
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Succeeded,
    RetryAt(i64),
    GiveUp,
}

#[cfg(test)]
mod queue_snapshot_tests {
    use super::*;

    fn queued(id: &str, mode: Mode, kind: &str, photos: u32) -> QueuedTask {
        QueuedTask {
            id: id.into(),
            mode,
            kind: kind.into(),
            photos,
        }
    }

    #[test]
    fn ahead_of_groups_the_tasks_before_the_position_in_order() {
        let running = RunningRender {
            mode: Mode::Live,
            kind: "living_property".into(),
            photos: 4,
            started_at: 100,
        };
        let snapshot = QueueSnapshot {
            queued: vec![
                queued("a", Mode::Live, "narrated_slideshow", 6),
                queued("b", Mode::Test, "narrated_slideshow", 8),
                queued("c", Mode::Live, "narrated_slideshow", 9),
                queued("d", Mode::Live, "living_property", 3),
            ],
            running: vec![running.clone()],
        };
        let first = snapshot.ahead_of("a", 1);
        assert_eq!((first.position, first.queued.len()), (1, 0));
        assert_eq!(first.running, vec![running]);
        let fourth = snapshot.ahead_of("d", 4);
        assert_eq!(
            fourth.queued,
            vec![
                QueuedRenders {
                    mode: Mode::Live,
                    kind: "narrated_slideshow".into(),
                    tasks: 2,
                    photos: 15
                },
                QueuedRenders {
                    mode: Mode::Test,
                    kind: "narrated_slideshow".into(),
                    tasks: 1,
                    photos: 8
                },
            ]
        );
        // The work ahead is found by id, whatever the (fresher) position says: "a" has
        // started since the snapshot, so "c" is now second, but what the snapshot shows
        // before it is still "a" and "b".
        let moved = snapshot.ahead_of("c", 2);
        assert_eq!(moved.position, 2);
        assert_eq!(moved.queued.iter().map(|g| g.tasks).sum::<u32>(), 2);
        // A task queued after the snapshot was taken has the whole snapshot ahead of it.
        let late = snapshot.ahead_of("new", 9);
        assert_eq!(late.position, 9);
        assert_eq!(late.queued.iter().map(|g| g.tasks).sum::<u32>(), 4);
    }
}
