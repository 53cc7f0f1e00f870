//! Idempotent creation (Extension, Stripe's `Idempotency-Key` convention): one row per
//! (API key, idempotency key) records that a creating request is running, and then the
//! answer it gave, so a retry of the same request is answered from the row instead of
//! creating (and charging) again. The reservation is a database row, not process memory,
//! so two API processes on one PostgreSQL database agree on who runs a request.

use crate::{StoreError, StoreResult};
use async_trait::async_trait;

/// The scope of one `Idempotency-Key`: keys are per API key, never shared by two keys of
/// one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyScope {
    /// The id of the API key that sent the request (`KeyRecord::id`).
    pub key_id: String,
    /// The header's value, 1–255 printable ASCII characters (checked by the API).
    pub idempotency_key: String,
}

/// A request asking to run under an idempotency key.
#[derive(Debug, Clone)]
pub struct Reservation {
    pub scope: IdempotencyScope,
    /// `POST`, and the route's path (`/v1/uploads`): a key reused on another route is a
    /// different request.
    pub method: String,
    pub path: String,
    /// Chosen by the caller (random); fences `complete_idempotent` and
    /// `release_idempotent`, so a request whose reservation was taken over cannot record
    /// its answer over the new holder's.
    pub token: String,
    /// Unix seconds.
    pub now: i64,
    /// A key is remembered this long after its reservation (24 h by default).
    pub ttl_secs: i64,
    /// A reservation older than this without an answer is from a crashed process and is
    /// taken over (longer than any creation can take).
    pub stale_after_secs: i64,
}

/// What identifies the request that produced a recorded answer, besides method and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// SHA-256 of the raw body bytes, exactly as received.
    pub body_sha256: [u8; 32],
    /// Length of the body in bytes (a retry of another length is another request).
    pub body_len: u64,
}

/// An answer as it is replayed: status, the headers that belong to it, and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedResponse {
    pub status: u16,
    /// Lower-case header names with their values, in the order they are replayed.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A finished request recorded under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedRequest {
    pub method: String,
    pub path: String,
    pub request: RecordedRequest,
    pub response: RecordedResponse,
    /// Unix seconds after which the key is forgotten.
    pub expires_at: i64,
}

/// The outcome of asking to run under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// The caller holds the key now and must `complete_idempotent` or
    /// `release_idempotent` it with its token. `taken_over`: an abandoned reservation
    /// (older than `stale_after_secs`) was replaced.
    Reserved { taken_over: bool },
    /// Another request holds the key and has not answered yet; it started at
    /// `started_at` (unix seconds).
    InFlight { started_at: i64 },
    /// A request already answered under this key (the caller compares it with its own).
    Completed(CompletedRequest),
}

#[async_trait]
pub trait Idempotency: Send + Sync {
    /// Reserve `r.scope` for this request, atomically across processes: of any number
    /// of simultaneous callers exactly one gets `Reserved`. A row whose `expires_at` has
    /// passed counts as absent; an unanswered row older than `stale_after_secs` is taken
    /// over (a fresh reservation with a new expiry).
    async fn begin_idempotent(&self, r: Reservation) -> StoreResult<Begin>;

    /// Record the answer of the request holding `scope` with `token`. `Ok(false)`: the
    /// reservation is no longer this token's (taken over, or swept) and nothing was written.
    async fn complete_idempotent(
        &self,
        scope: &IdempotencyScope,
        token: &str,
        request: RecordedRequest,
        response: RecordedResponse,
    ) -> StoreResult<bool>;

    /// Give the key back unanswered (a 5xx, a body not read whole), so a retry runs
    /// again. `Ok(false)`: the reservation was not this token's; nothing was deleted.
    async fn release_idempotent(&self, scope: &IdempotencyScope, token: &str) -> StoreResult<bool>;

    /// Delete up to `limit` rows whose `expires_at` is at or before `now`; returns how
    /// many were deleted.
    async fn delete_expired_idempotency(&self, now: i64, limit: u32) -> StoreResult<u64>;
}

/// Recorded headers as stored in the database: a JSON array of `[name, value]` pairs.
pub(crate) fn headers_to_json(headers: &[(String, String)]) -> String {
    serde_json::to_string(headers).unwrap_or_else(|_| "[]".into())
}

/// The columns both backends select, in this order.
pub(crate) const COLUMNS: &str = "method, path, started_at, expires_at, request_sha256, \
    request_bytes, response_status, response_headers, response_body";

/// A row as selected with [`COLUMNS`], before it is checked.
pub(crate) struct RawRow {
    pub method: String,
    pub path: String,
    pub started_at: i64,
    pub expires_at: i64,
    pub request_sha256: Option<Vec<u8>>,
    pub request_bytes: Option<i64>,
    pub response_status: Option<i64>,
    pub response_headers: Option<String>,
    pub response_body: Option<Vec<u8>>,
}

impl RawRow {
    /// Errors: `StoreError::Database` for an answered row whose columns do not hold an
    /// answer (never written by this store).
    pub(crate) fn into_existing(self) -> StoreResult<ExistingRow> {
        let bad = |what: &str| StoreError::Database(format!("idempotency row: bad {what}"));
        let completed = match self.response_status {
            None => None,
            Some(status) => {
                let sha = self.request_sha256.ok_or_else(|| bad("request hash"))?;
                let headers: Vec<(String, String)> =
                    serde_json::from_str(self.response_headers.as_deref().unwrap_or(""))
                        .map_err(|_| bad("headers"))?;
                Some(CompletedRequest {
                    method: self.method,
                    path: self.path,
                    request: RecordedRequest {
                        body_sha256: <[u8; 32]>::try_from(sha.as_slice())
                            .map_err(|_| bad("request hash"))?,
                        body_len: self.request_bytes.unwrap_or(0).max(0) as u64,
                    },
                    response: RecordedResponse {
                        status: u16::try_from(status).map_err(|_| bad("status"))?,
                        headers,
                        body: self.response_body.unwrap_or_default(),
                    },
                    expires_at: self.expires_at,
                })
            }
        };
        Ok(ExistingRow {
            started_at: self.started_at,
            expires_at: self.expires_at,
            completed,
        })
    }
}

/// The decision `begin_idempotent` takes over the row it found (if any), shared by both
/// backends so they cannot disagree. `Reserved` means the caller's reservation replaces
/// the row (or is inserted when there was none).
pub(crate) fn decide(row: Option<ExistingRow>, now: i64, stale_after_secs: i64) -> Begin {
    let Some(row) = row.filter(|r| r.expires_at > now) else {
        return Begin::Reserved { taken_over: false };
    };
    match row.completed {
        Some(done) => Begin::Completed(done),
        None if row.started_at <= now - stale_after_secs => Begin::Reserved { taken_over: true },
        None => Begin::InFlight {
            started_at: row.started_at,
        },
    }
}

/// An existing row as `begin_idempotent` reads it.
pub(crate) struct ExistingRow {
    pub started_at: i64,
    pub expires_at: i64,
    pub completed: Option<CompletedRequest>,
}
