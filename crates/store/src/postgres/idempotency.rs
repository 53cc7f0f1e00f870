//! Idempotency keys in PostgreSQL. `begin_idempotent` is one transaction: an
//! `INSERT … ON CONFLICT DO NOTHING` (a concurrent inserter of the same key waits for the
//! other's commit, under READ COMMITTED), then, when the key existed, the row locked with
//! `FOR UPDATE` while the shared decision is taken. So of simultaneous requests, in one
//! API process or several, exactly one holds the key.

use super::PgStore;
use crate::idempotency::{decide, headers_to_json, RawRow, COLUMNS};
use crate::{
    Begin, Idempotency, IdempotencyScope, RecordedRequest, RecordedResponse, Reservation,
    StoreError, StoreResult,
};
use tokio_postgres::Row;

fn raw_row(r: &Row) -> RawRow {
    RawRow {
        method: r.get(0),
        path: r.get(1),
        started_at: r.get(2),
        expires_at: r.get(3),
        request_sha256: r.get(4),
        request_bytes: r.get(5),
        response_status: r.get(6),
        response_headers: r.get(7),
        response_body: r.get(8),
    }
}

#[async_trait::async_trait]
impl Idempotency for PgStore {
    async fn begin_idempotent(&self, r: Reservation) -> StoreResult<Begin> {
        let scope = &r.scope;
        let expires_at = r.now.saturating_add(r.ttl_secs);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // A row deleted (released or swept) between the insert and the select is gone
        // for good: inserting again settles it, so a few rounds always suffice.
        for _ in 0..5 {
            let inserted = tx
                .execute(
                    "INSERT INTO idempotency_keys
                         (key_id, idempotency_key, method, path, token, started_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (key_id, idempotency_key) DO NOTHING",
                    &[
                        &scope.key_id,
                        &scope.idempotency_key,
                        &r.method,
                        &r.path,
                        &r.token,
                        &r.now,
                        &expires_at,
                    ],
                )
                .await?;
            if inserted == 1 {
                tx.commit().await?;
                return Ok(Begin::Reserved { taken_over: false });
            }
            let Some(row) = tx
                .query_opt(
                    &format!(
                        "SELECT {COLUMNS} FROM idempotency_keys
                         WHERE key_id = $1 AND idempotency_key = $2 FOR UPDATE"
                    ),
                    &[&scope.key_id, &scope.idempotency_key],
                )
                .await?
            else {
                continue;
            };
            let outcome = decide(
                Some(raw_row(&row).into_existing()?),
                r.now,
                r.stale_after_secs,
            );
            if let Begin::Reserved { .. } = outcome {
                tx.execute(
                    "UPDATE idempotency_keys
                     SET method = $3, path = $4, token = $5, started_at = $6, expires_at = $7,
                         request_sha256 = NULL, request_bytes = NULL, response_status = NULL,
                         response_headers = NULL, response_body = NULL
                     WHERE key_id = $1 AND idempotency_key = $2",
                    &[
                        &scope.key_id,
                        &scope.idempotency_key,
                        &r.method,
                        &r.path,
                        &r.token,
                        &r.now,
                        &expires_at,
                    ],
                )
                .await?;
            }
            tx.commit().await?;
            return Ok(outcome);
        }
        Err(StoreError::Conflict(
            "idempotency key kept changing while being reserved".into(),
        ))
    }

    async fn complete_idempotent(
        &self,
        scope: &IdempotencyScope,
        token: &str,
        request: RecordedRequest,
        response: RecordedResponse,
    ) -> StoreResult<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE idempotency_keys
                 SET token = NULL, request_sha256 = $4, request_bytes = $5,
                     response_status = $6, response_headers = $7, response_body = $8
                 WHERE key_id = $1 AND idempotency_key = $2 AND token = $3",
                &[
                    &scope.key_id,
                    &scope.idempotency_key,
                    &token,
                    &request.body_sha256.as_slice(),
                    &i64::try_from(request.body_len).unwrap_or(i64::MAX),
                    &i64::from(response.status),
                    &headers_to_json(&response.headers),
                    &response.body,
                ],
            )
            .await?;
        Ok(n == 1)
    }

    async fn release_idempotent(&self, scope: &IdempotencyScope, token: &str) -> StoreResult<bool> {
        let client = self.client().await?;
        let n = client
            .execute(
                "DELETE FROM idempotency_keys
                 WHERE key_id = $1 AND idempotency_key = $2 AND token = $3",
                &[&scope.key_id, &scope.idempotency_key, &token],
            )
            .await?;
        Ok(n == 1)
    }

    async fn delete_expired_idempotency(&self, now: i64, limit: u32) -> StoreResult<u64> {
        let client = self.client().await?;
        Ok(client
            .execute(
                "DELETE FROM idempotency_keys WHERE (key_id, idempotency_key) IN (
                     SELECT key_id, idempotency_key FROM idempotency_keys
                     WHERE expires_at <= $1 LIMIT $2)",
                &[&now, &i64::from(limit)],
            )
            .await?)
    }
}
