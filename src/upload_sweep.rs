//! Deleting expired uploads (Extension `POST /v1/uploads`): the blob first, then the row,
//! so a crash between the two leaves a row the next sweep finishes, never an orphan blob.
//! Tasks made from an upload own a copy of its bytes, so sweeping never touches them.

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
            match blobs.delete_prefix(&upload.blob_key).await {
                Ok(()) | Err(BlobError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
            store.delete_upload(&upload.id).await?;
            deleted += 1;
        }
    }
}
