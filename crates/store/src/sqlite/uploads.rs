//! Uploads in SQLite: plain rows, and the quota check inside the insert's transaction.

use super::{mode_str, parse_mode, SqliteStore};
use crate::{InsertUploadError, Owner, StoreResult, UploadRecord, Uploads};
use r2d2_sqlite::rusqlite::{params, Connection, OptionalExtension, Row};

const COLUMNS: &str = "id, account_id, mode, blob_key, format, width, height, exif_orientation, size_bytes, created_at, expires_at";

fn from_row(r: &Row) -> r2d2_sqlite::rusqlite::Result<UploadRecord> {
    Ok(UploadRecord {
        id: r.get(0)?,
        owner: Owner {
            account_id: r.get(1)?,
            mode: parse_mode(&r.get::<_, String>(2)?)?,
        },
        blob_key: r.get(3)?,
        format: r.get(4)?,
        width: r.get(5)?,
        height: r.get(6)?,
        exif_orientation: r.get(7)?,
        size_bytes: r.get::<_, i64>(8)?.max(0) as u64,
        created_at: r.get(9)?,
        expires_at: r.get(10)?,
    })
}

fn bytes_used(c: &Connection, account_id: &str, now: i64) -> r2d2_sqlite::rusqlite::Result<u64> {
    let used: i64 = c.query_row(
        "SELECT COALESCE(SUM(size_bytes), 0) FROM uploads WHERE account_id = ?1 AND expires_at > ?2",
        params![account_id, now],
        |r| r.get(0),
    )?;
    Ok(used.max(0) as u64)
}

#[async_trait::async_trait]
impl Uploads for SqliteStore {
    async fn insert_upload(
        &self,
        u: UploadRecord,
        quota_bytes: u64,
    ) -> Result<(), InsertUploadError> {
        self.with_tx(move |tx| {
            let used = bytes_used(tx, &u.owner.account_id, u.created_at).map_err(crate::StoreError::from)?;
            if used.saturating_add(u.size_bytes) > quota_bytes {
                return Err(InsertUploadError::Quota {
                    quota_bytes,
                    used_bytes: used,
                });
            }
            tx.execute(
                &format!("INSERT INTO uploads ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
                params![
                    u.id,
                    u.owner.account_id,
                    mode_str(u.owner.mode),
                    u.blob_key,
                    u.format,
                    u.width,
                    u.height,
                    u.exif_orientation,
                    i64::try_from(u.size_bytes).unwrap_or(i64::MAX),
                    u.created_at,
                    u.expires_at
                ],
            )
            .map_err(crate::StoreError::from)?;
            Ok(())
        })
        .await
    }

    async fn get_upload(&self, id: &str) -> StoreResult<Option<UploadRecord>> {
        let id = id.to_string();
        self.with_conn(move |c| {
            Ok(c.query_row(
                &format!("SELECT {COLUMNS} FROM uploads WHERE id = ?1"),
                [id],
                from_row,
            )
            .optional()?)
        })
        .await
    }

    async fn upload_bytes_used(&self, account_id: &str, now: i64) -> StoreResult<u64> {
        let account_id = account_id.to_string();
        self.with_conn(move |c| Ok(bytes_used(c, &account_id, now)?))
            .await
    }

    async fn expired_uploads(&self, now: i64, limit: u32) -> StoreResult<Vec<UploadRecord>> {
        self.with_conn(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM uploads WHERE expires_at <= ?1 ORDER BY expires_at, id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![now, limit], from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn delete_upload(&self, id: &str) -> StoreResult<()> {
        let id = id.to_string();
        self.with_conn(move |c| {
            c.execute("DELETE FROM uploads WHERE id = ?1", [id])?;
            Ok(())
        })
        .await
    }
}
