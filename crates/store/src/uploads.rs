//! Uploaded images (Extension `POST /v1/uploads`): who owns each, its checked size, and
//! the per-account storage quota, which is enforced in the insert's own transaction.

use crate::{Owner, StoreError, StoreResult};
use async_trait::async_trait;

/// One stored upload. Times are unix seconds (UTC); sizes in bytes and pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    /// `upl_` + 24 alphanumerics.
    pub id: String,
    pub owner: Owner,
    /// Where the bytes are in the blob store (`uploads/{account}/{id}/image.{ext}`).
    pub blob_key: String,
    /// File extension of the format found in the bytes: `jpg`, `png` or `webp`.
    pub format: String,
    /// Stored pixel size, as in the file header (before the EXIF rotation).
    pub width: u32,
    pub height: u32,
    /// EXIF orientation tag, 1..=8 (1 when absent).
    pub exif_orientation: u8,
    pub size_bytes: u64,
    pub created_at: i64,
    /// After this the upload can no longer be used, no longer counts against the quota,
    /// and the sweeper deletes it.
    pub expires_at: i64,
}

/// Why an upload was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum InsertUploadError {
    /// The account's unexpired uploads plus this one would pass `quota_bytes`.
    #[error("upload quota exceeded: {used_bytes} of {quota_bytes} bytes in use")]
    Quota { quota_bytes: u64, used_bytes: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait Uploads: Send + Sync {
    /// Record `upload` unless the account's uploads still unexpired at `upload.created_at`
    /// (both key modes) plus this one exceed `quota_bytes`; check and insert are one
    /// transaction, so concurrent uploads cannot overshoot the quota together.
    async fn insert_upload(
        &self,
        upload: UploadRecord,
        quota_bytes: u64,
    ) -> Result<(), InsertUploadError>;
    /// Any upload by id, expired or not (the caller checks owner and expiry).
    async fn get_upload(&self, id: &str) -> StoreResult<Option<UploadRecord>>;
    /// Bytes of the account's uploads unexpired at `now`, both key modes.
    async fn upload_bytes_used(&self, account_id: &str, now: i64) -> StoreResult<u64>;
    /// Uploads whose `expires_at` is at or before `now`, oldest first.
    async fn expired_uploads(&self, now: i64, limit: u32) -> StoreResult<Vec<UploadRecord>>;
    /// Remove the row (after its blob was deleted); a missing row is not an error.
    async fn delete_upload(&self, id: &str) -> StoreResult<()>;
}
