//! Deleting expired uploads (Extension `POST /v1/uploads`): the blob first, then the row,
//! so a crash between the two leaves a row the next sweep finishes, never an orphan blob.
//! Tasks made from an upload own a copy of its bytes, so sweeping never touches them.
//! Expired idempotency keys (rows only) go in the same sweep.

use peakreel_blobs::{BlobError, Blobs};
use peakreel_store::Store;

/// Delete uploads expired at `now`, in batches; returns how many were deleted.
pub async fn sweep_uploads(store: &dyn Store, blobs: &Blobs, now: i64) -> anyhow::Result<usize> {
    let mut deleted = 0;
    loop {
        let batch = store.expired_uploads(now, 100).await?;
        if batch.is_empty() {
            return Ok(deleted);
        }
        for upload in batch {
            // The upload route keeps each upload in its own folder.
            let folder = upload
                .blob_key
                .rsplit_once('/')
                .map_or(upload.blob_key.as_str(), |(dir, _)| dir);
            match blobs.delete_prefix(folder).await {
                Ok(()) | Err(BlobError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
            store.delete_upload(&upload.id).await?;
            deleted += 1;
        }
    }
}

/// Delete idempotency keys expired at `now`, in batches; returns how many were deleted.
/// (Expired keys are already ignored when a request arrives; this only frees the rows.)
pub async fn sweep_idempotency_keys(store: &dyn Store, now: i64) -> anyhow::Result<u64> {
    let mut deleted = 0;
    loop {
        let n = store.delete_expired_idempotency(now, 500).await?;
        deleted += n;
        if n < 500 {
            return Ok(deleted);
        }
    }
}
