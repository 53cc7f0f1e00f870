//! Idempotency keys in SQLite. `BEGIN IMMEDIATE` takes the write lock before the row is
//! read, so of simultaneous `begin_idempotent` calls exactly one finds the key free.

use super::SqliteStore;
use crate::idempotency::{decide, headers_to_json, RawRow, COLUMNS};
use crate::{
    Begin, Idempotency, IdempotencyScope, RecordedRequest, RecordedResponse, Reservation,
    StoreResult,
};
use r2d2_sqlite::rusqlite::{params, OptionalExtension, Row};

fn raw_row(r: &Row) -> r2d2_sqlite::rusqlite::Result<RawRow> {
    Ok(RawRow {
        method: r.get(0)?,
        path: r.get(1)?,
        started_at: r.get(2)?,
        expires_at: r.get(3)?,
        request_sha256: r.get(4)?,
        request_bytes: r.get(5)?,
        response_status: r.get(6)?,
        response_headers: r.get(7)?,
        response_body: r.get(8)?,
    })
}

#[async_trait::async_trait]
impl Idempotency for SqliteStore {
    async fn begin_idempotent(&self, r: Reservation) -> StoreResult<Begin> {
        self.with_tx(move |tx| {
            let scope = &r.scope;
            let row = tx
                .query_row(
                    &format!(
                        "SELECT {COLUMNS} FROM idempotency_keys
                         WHERE key_id = ?1 AND idempotency_key = ?2"
                    ),
                    params![scope.key_id, scope.idempotency_key],
                    raw_row,
                )
                .optional()?
                .map(RawRow::into_existing)
                .transpose()?;
            let outcome = decide(row, r.now, r.stale_after_secs);
            if let Begin::Reserved { .. } = outcome {
                // A fresh reservation replaces whatever was there (expired or abandoned).
                tx.execute(
                    "INSERT OR REPLACE INTO idempotency_keys
                         (key_id, idempotency_key, method, path, token, started_at, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        scope.key_id,
                        scope.idempotency_key,
                        r.method,
                        r.path,
                        r.token,
                        r.now,
                        r.now.saturating_add(r.ttl_secs)
                    ],
                )?;
            }
            Ok(outcome)
        })
        .await
    }

    async fn complete_idempotent(
        &self,
        scope: &IdempotencyScope,
        token: &str,
        request: RecordedRequest,
        response: RecordedResponse,
    ) -> StoreResult<bool> {
        let (scope, token) = (scope.clone(), token.to_string());
        self.with_conn(move |c| {
            let n = c.execute(
                "UPDATE idempotency_keys
                 SET token = NULL, request_sha256 = ?4, request_bytes = ?5,
                     response_status = ?6, response_headers = ?7, response_body = ?8
                 WHERE key_id = ?1 AND idempotency_key = ?2 AND token = ?3",
                params![
                    scope.key_id,
                    scope.idempotency_key,
                    token,
                    request.body_sha256.as_slice(),
                    i64::try_from(request.body_len).unwrap_or(i64::MAX),
                    i64::from(response.status),
                    headers_to_json(&response.headers),
                    response.body
                ],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn release_idempotent(&self, scope: &IdempotencyScope, token: &str) -> StoreResult<bool> {
        let (scope, token) = (scope.clone(), token.to_string());
        self.with_conn(move |c| {
            let n = c.execute(
                "DELETE FROM idempotency_keys
                 WHERE key_id = ?1 AND idempotency_key = ?2 AND token = ?3",
                params![scope.key_id, scope.idempotency_key, token],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn delete_expired_idempotency(&self, now: i64, limit: u32) -> StoreResult<u64> {
        self.with_conn(move |c| {
            let n = c.execute(
                "DELETE FROM idempotency_keys WHERE rowid IN (
                     SELECT rowid FROM idempotency_keys WHERE expires_at <= ?1 LIMIT ?2)",
                params![now, limit],
            )?;
            Ok(n as u64)
        })
        .await
    }
}
