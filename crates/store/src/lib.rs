//! Persistence behind traits (design.md: `store`). Handlers and workers see only these
//! traits; `sqlite::SqliteStore` is the embedded default and `postgres::PgStore` serves
//! several processes on several machines. Both pass one conformance suite
//! (`tests/conformance`).

mod billing;
mod idempotency;
mod model;
pub mod open;
pub mod postgres;
pub mod sqlite;
mod uploads;

pub use idempotency::{
    Begin, CompletedRequest, Idempotency, IdempotencyScope, RecordedRequest, RecordedResponse,
    Reservation,
};
pub use model::*;
pub use uploads::{InsertUploadError, UploadRecord, Uploads};

use async_trait::async_trait;
use peakreel_types::ids::Mode;
use peakreel_types::{ApiError, Code};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    /// The database cannot be reached right now (connection refused or lost, pool
    /// exhausted): the request may succeed when it is retried.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict: {0}")]
    Conflict(String),
}

impl StoreError {
    pub fn code(&self) -> Code {
        match self {
            StoreError::Database(_) => Code::ServiceError,
            StoreError::Unavailable(_) => Code::ServiceUnavailable,
            StoreError::NotFound(_) | StoreError::Conflict(_) => Code::InternalError,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        // The cause is logged by the caller under the request id, never sent to clients.
        match e.code() {
            Code::ServiceError => ApiError::service(),
            Code::ServiceUnavailable => ApiError::new(
                Code::ServiceUnavailable,
                "The service cannot reach its database right now. Retry with exponential backoff.",
            )
            .with_retry_after(5),
            _ => ApiError::internal(),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Accounts: Send + Sync {
    /// Create an account; `initial_credits` is granted as the first ledger row.
    async fn create_account(
        &self,
        name: &str,
        plan: &str,
        initial_credits: i64,
    ) -> StoreResult<Account>;
    /// Deleted accounts are returned too (with `deleted_at`), so auth can say `USER_NOT_FOUND`.
    async fn get_account(&self, id: &str) -> StoreResult<Option<Account>>;
    async fn set_plan(&self, id: &str, plan: &str) -> StoreResult<()>;
    async fn delete_account(&self, id: &str) -> StoreResult<()>;
    async fn grant_credits(&self, id: &str, amount: i64, note: &str) -> StoreResult<i64>;
    /// Balance after applying a due monthly refresh.
    async fn balance(&self, id: &str) -> StoreResult<i64>;
    async fn ledger(&self, id: &str) -> StoreResult<Vec<LedgerEntry>>;
    async fn in_flight(&self, id: &str, mode: Mode) -> StoreResult<u32>;
}

#[async_trait]
pub trait Keys: Send + Sync {
    async fn create_key(&self, key: NewKey) -> StoreResult<KeyRecord>;
    async fn find_key_by_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<AuthRecord>>;
    /// Record use; callers rate-limit this so it is not a write per request.
    async fn touch_key(&self, key_id: &str, at: i64) -> StoreResult<()>;
    async fn list_keys(&self, account_id: &str) -> StoreResult<Vec<KeyRecord>>;
    async fn revoke_key(&self, key_id: &str) -> StoreResult<()>;
}

#[async_trait]
pub trait Catalog: Send + Sync {
    /// Insert or refresh the public voices and avatars that ship with the server.
    async fn seed_public(
        &self,
        voices: Vec<VoiceRecord>,
        avatars: Vec<AvatarRecord>,
    ) -> StoreResult<()>;
    async fn get_voice(&self, id: &str) -> StoreResult<Option<VoiceRecord>>;
    async fn list_voices(
        &self,
        owner: &Owner,
        filter: &VoiceFilter,
    ) -> StoreResult<Vec<VoiceRecord>>;
    async fn get_avatar(&self, id: &str) -> StoreResult<Option<AvatarRecord>>;
    async fn list_avatars(&self, owner: &Owner) -> StoreResult<Vec<AvatarRecord>>;
    /// Insert an account's custom voice (`owner` must be set).
    async fn insert_voice(&self, voice: VoiceRecord) -> StoreResult<()>;
    /// Soft-delete; tasks already queued with it then fail (refunded).
    async fn delete_voice(&self, id: &str) -> StoreResult<()>;
    async fn set_voice_preview(&self, id: &str, preview_path: &str) -> StoreResult<()>;
    async fn insert_avatar(&self, avatar: AvatarRecord) -> StoreResult<()>;
    async fn delete_avatar(&self, id: &str) -> StoreResult<()>;
}

#[async_trait]
pub trait Tasks: Send + Sync {
    /// Credit check, concurrency check, charge, task insert and render-job insert in one
    /// transaction: two simultaneous requests can never overspend or exceed the limit.
    async fn create_task(&self, task: NewTask) -> Result<TaskRecord, CreateTaskError>;
    /// A task visible to `owner` (same account and same mode), else `None`.
    async fn get_task(&self, id: &str, owner: &Owner) -> StoreResult<Option<TaskRecord>>;
    async fn list_tasks(&self, owner: &Owner, query: &TaskQuery) -> StoreResult<TaskPage>;
    /// 1-based position among queued tasks (oldest first).
    async fn queue_position(&self, task_id: &str) -> StoreResult<Option<u32>>;
    /// The renders running and queued before `task_id`, when it is queued (else `None`).
    async fn queue_ahead(&self, task_id: &str) -> StoreResult<Option<QueueAhead>>;
    /// The most recent completed renders (every mode and kind), newest first.
    async fn recent_renders(&self, limit: u32) -> StoreResult<Vec<RenderSample>>;
    /// Every queued task in queue order and every running render, read together (close
    /// to one moment: a task claimed in between may show in both lists or neither, which
    /// an estimate tolerates).
    async fn queue_snapshot(&self) -> StoreResult<QueueSnapshot>;
}

#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn enqueue(&self, job: NewJob) -> StoreResult<i64>;
    /// Claim the oldest runnable job of `kinds` (queued and due, or running with an expired
    /// lease) for `owner`, incrementing its attempt.
    async fn claim(&self, kinds: &[&str], owner: &str, lease_secs: i64)
        -> StoreResult<Option<Job>>;
    /// Extend the lease; `false` means the lease was lost and the work must stop.
    async fn heartbeat(&self, lease: &Lease, lease_secs: i64) -> StoreResult<bool>;
    /// `false` means the lease was lost and the result was discarded.
    async fn complete(&self, lease: &Lease) -> StoreResult<bool>;
    /// Retry at `retry_at`, or fail for good when `None`. Fenced like `complete`.
    async fn fail(&self, lease: &Lease, error: &str, retry_at: Option<i64>) -> StoreResult<bool>;
    /// Give the job back untouched (graceful shutdown): runnable again at once.
    async fn release(&self, lease: &Lease) -> StoreResult<bool>;
    async fn get_job(&self, id: i64) -> StoreResult<Option<Job>>;
    /// `(kind, status, count)` of every job, sorted by kind then status (for metrics).
    async fn job_counts(&self) -> StoreResult<Vec<(String, String, i64)>>;
}

/// How workers move a task through its lifecycle. Every call is one transaction fenced
/// by the render job's lease: `Ok(false)` means the lease was lost (another worker owns
/// the task now) and nothing was written.
#[async_trait]
pub trait TaskLifecycle: Send + Sync {
    /// Any task by id (workers act for every account).
    async fn task_by_id(&self, id: &str) -> StoreResult<Option<TaskRecord>>;
    /// `queued` → `processing`, setting `started_at` on the first attempt.
    async fn start_task(&self, task_id: &str, lease: &Lease) -> StoreResult<bool>;
    async fn set_progress(
        &self,
        task_id: &str,
        lease: &Lease,
        progress: u8,
        stage: &str,
    ) -> StoreResult<bool>;
    /// → `completed` with `result`; the job is done; a webhook job is queued when the
    /// task has a webhook URL.
    async fn complete_task(&self, task_id: &str, lease: &Lease, result: Value)
        -> StoreResult<bool>;
    /// → `failed` with `error`, refunding the charge in the same transaction (at most
    /// once per task); the job fails; a webhook job is queued when the task has one.
    async fn fail_task(&self, task_id: &str, lease: &Lease, error: Value) -> StoreResult<bool>;
    /// Back to `queued`, to be retried at `retry_at` (a transient failure).
    async fn retry_task(
        &self,
        task_id: &str,
        lease: &Lease,
        error: &str,
        retry_at: i64,
    ) -> StoreResult<bool>;
    /// Back to `queued` at once, the attempt handed back (graceful shutdown).
    async fn release_task(&self, task_id: &str, lease: &Lease) -> StoreResult<bool>;
    /// Completed tasks whose files passed `expires_at` and are not yet marked expired.
    async fn tasks_with_expired_results(
        &self,
        now: i64,
        limit: u32,
    ) -> StoreResult<Vec<TaskRecord>>;
    /// Set `result.expired = true` after the files were deleted.
    async fn mark_result_expired(&self, task_id: &str) -> StoreResult<()>;
}

/// Webhook deliveries (api.md §11): one per event, every attempt recorded.
#[async_trait]
pub trait Webhooks: Send + Sync {
    /// The creating key's webhook secret (the signing key of a task's events).
    async fn webhook_secret(&self, key_id: &str) -> StoreResult<Option<String>>;
    async fn delivery(&self, delivery_id: &str) -> StoreResult<Option<Delivery>>;
    /// Every delivery of a task, oldest first, each with its attempts.
    async fn deliveries_for_task(&self, task_id: &str) -> StoreResult<Vec<Delivery>>;
    /// Send a finished task's event again: a new delivery (new id) and its job.
    async fn redeliver(&self, task_id: &str) -> StoreResult<Delivery>;
    /// Record one attempt and its consequence, fenced by the delivery job's lease, in one
    /// transaction: `false` means the lease was lost and nothing was written.
    async fn record_attempt(
        &self,
        lease: &Lease,
        attempt: NewAttempt,
        next: NextStep,
    ) -> StoreResult<bool>;
}

/// Named server secrets every process of one installation must agree on (the
/// file-signing key): stored in the database, so processes with different data
/// directories share them.
#[async_trait]
pub trait SharedSecrets: Send + Sync {
    /// The secret called `name`. The first caller's `initial` bytes are stored and
    /// returned; every later caller (in any process) gets those stored bytes and its own
    /// `initial` is discarded. Atomic: two processes starting at once agree.
    async fn shared_secret(&self, name: &str, initial: Vec<u8>) -> StoreResult<Vec<u8>>;
}

#[async_trait]
pub trait Store:
    Accounts
    + Keys
    + Catalog
    + Tasks
    + JobQueue
    + TaskLifecycle
    + Webhooks
    + SharedSecrets
    + Uploads
    + Idempotency
{
    async fn ping(&self) -> StoreResult<()>;
    /// Forward "a job of `kind` was queued" from other processes to `wake`, until the
    /// returned task is aborted. `None` when the backend has no such signal (SQLite:
    /// workers poll).
    fn spawn_job_listener(
        &self,
        _kind: &'static str,
        _wake: std::sync::Arc<tokio::sync::Notify>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        None
    }
}
