//! Uploads in PostgreSQL. The quota check and the insert share one transaction that holds
//! the account's row lock, so uploads racing through several API processes cannot
//! overshoot the quota together (the same lock task creation takes).

use super::{parse_mode, PgStore};
use crate::{InsertUploadError, Owner, StoreError, StoreResult, UploadRecord, Uploads};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

const COLUMNS: &str = "id, account_id, mode, blob_key, format, width, height, exif_orientation, size_bytes, created_at, expires_at";

fn from_row(r: &Row) -> StoreResult<UploadRecord> {
    let small = |i: usize| -> StoreResult<u32> {
        u32::try_from(r.get::<_, i64>(i))
            .map_err(|_| StoreError::Database(format!("upload column {i} out of range")))
    };
    Ok(UploadRecord {
        id: r.get(0),
        owner: Owner {
            account_id: r.get(1),
            mode: parse_mode(r.get(2))?,
        },
        blob_key: r.get(3),
        format: r.get(4),
        width: small(5)?,
        height: small(6)?,
        exif_orientation: small(7)?.min(8) as u8,
        size_bytes: r.get::<_, i64>(8).max(0) as u64,
        created_at: r.get(9),
        expires_at: r.get(10),
    })
}

async fn bytes_used(c: &impl GenericClient, account_id: &str, now: i64) -> StoreResult<u64> {
    let used: i64 = c
        .query_one(
            "SELECT COALESCE(SUM(size_bytes), 0)::BIGINT FROM uploads
             WHERE account_id = $1 AND expires_at > $2",
            &[&account_id, &now],
        )
        .await?
        .get(0);
    Ok(used.max(0) as u64)
}

#[async_trait::async_trait]
impl Uploads for PgStore {
    async fn insert_upload(
        &self,
        u: UploadRecord,
        quota_bytes: u64,
    ) -> Result<(), InsertUploadError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(StoreError::from)?;
        let locked = tx
            .query_opt(
                "SELECT id FROM accounts WHERE id = $1 FOR UPDATE",
                &[&u.owner.account_id],
            )
            .await
            .map_err(StoreError::from)?;
        if locked.is_none() {
            return Err(StoreError::NotFound("account").into());
        }
        let used = bytes_used(&tx, &u.owner.account_id, u.created_at).await?;
        if used.saturating_add(u.size_bytes) > quota_bytes {
            return Err(InsertUploadError::Quota {
                quota_bytes,
                used_bytes: used,
            });
        }
        tx.execute(
            &format!(
                "INSERT INTO uploads ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ),
            &[
                &u.id,
                &u.owner.account_id,
                &u.owner.mode.as_str(),
                &u.blob_key,
                &u.format,
                &i64::from(u.width),
                &i64::from(u.height),
                &i64::from(u.exif_orientation),
                &i64::try_from(u.size_bytes).unwrap_or(i64::MAX),
                &u.created_at,
                &u.expires_at,
            ],
        )
        .await
        .map_err(StoreError::from)?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(())
    }

    async fn get_upload(&self, id: &str) -> StoreResult<Option<UploadRecord>> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM uploads WHERE id = $1"),
                &[&id],
            )
            .await?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    async fn upload_bytes_used(&self, account_id: &str, now: i64) -> StoreResult<u64> {
        let client = self.client().await?;
        bytes_used(&client, account_id, now).await
    }

    async fn expired_uploads(&self, now: i64, limit: u32) -> StoreResult<Vec<UploadRecord>> {
        let client = self.client().await?;
        client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM uploads WHERE expires_at <= $1
                     ORDER BY expires_at, id LIMIT $2"
                ),
                &[&now, &i64::from(limit)],
            )
            .await?
            .iter()
            .map(from_row)
            .collect()
    }

    async fn delete_upload(&self, id: &str) -> StoreResult<()> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM uploads WHERE id = $1", &[&id])
            .await?;
        Ok(())
    }
}
