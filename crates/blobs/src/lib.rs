//! Where task inputs (fetched photos, logos) and results (MP4, cover) live. A thin layer
//! over the `object_store` crate so the local directory (default), memory (tests) and, in
//! a later issue, S3 all look the same to callers; plus the signed URLs of api.md §7.

mod signing;

pub use signing::UrlSigner;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use peakreel_types::Code;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("no blob at {0}")]
    NotFound(String),
    #[error("invalid blob key {0}")]
    InvalidKey(String),
    #[error("storage backend failed: {0}")]
    Backend(String),
}

impl BlobError {
    pub fn code(&self) -> Code {
        match self {
            BlobError::NotFound(_) => Code::NotFound,
            BlobError::InvalidKey(_) | BlobError::Backend(_) => Code::ServiceError,
        }
    }
}

impl From<object_store::Error> for BlobError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { path, .. } => BlobError::NotFound(path),
            other => BlobError::Backend(other.to_string()),
        }
    }
}

#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// Set for the local backend, whose files external programs (ffmpeg) can read directly.
    local_root: Option<PathBuf>,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blobs")
            .field("local_root", &self.local_root)
            .finish()
    }
}

/// Keys are relative, `/`-separated, with no empty, `.` or `..` segments.
fn object_path(key: &str) -> Result<ObjectPath, BlobError> {
    let valid = !key.is_empty()
        && key
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    if !valid {
        return Err(BlobError::InvalidKey(key.to_string()));
    }
    ObjectPath::parse(key).map_err(|_| BlobError::InvalidKey(key.to_string()))
}

impl Blobs {
    /// A local directory (created if missing).
    pub fn local(root: &Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(root)
            .map_err(|e| BlobError::Backend(format!("cannot create storage directory: {e}")))?;
        let store = LocalFileSystem::new_with_prefix(root)?.with_automatic_cleanup(true);
        Ok(Blobs {
            store: Arc::new(store),
            local_root: Some(root.to_path_buf()),
        })
    }

    pub fn memory() -> Self {
        Blobs {
            store: Arc::new(InMemory::new()),
            local_root: None,
        }
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), BlobError> {
        // The local backend writes to a temporary file and renames it: a reader never
        // sees half a file, and a crash leaves no partial blob under the key.
        self.store
            .put(&object_path(key)?, PutPayload::from_bytes(bytes))
            .await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, BlobError> {
        Ok(self.store.get(&object_path(key)?).await?.bytes().await?)
    }

    /// Bytes `start..end` of a blob (for HTTP range requests).
    pub async fn get_range(&self, key: &str, start: u64, end: u64) -> Result<Bytes, BlobError> {
        Ok(self.store.get_range(&object_path(key)?, start..end).await?)
    }

    /// Size in bytes, or `NotFound`.
    pub async fn size(&self, key: &str) -> Result<u64, BlobError> {
        Ok(self.store.head(&object_path(key)?).await?.size)
    }

    pub async fn exists(&self, key: &str) -> Result<bool, BlobError> {
        match self.size(key).await {
            Ok(_) => Ok(true),
            Err(BlobError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Delete every blob under `prefix/` (missing blobs are not an error).
    pub async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError> {
        let prefix = object_path(prefix)?;
        let keys: Vec<ObjectPath> = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await?;
        for key in keys {
            match self.store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The file behind `key` on the local backend (external programs read it directly).
    pub fn local_path(&self, key: &str) -> Option<PathBuf> {
        let root = self.local_root.as_ref()?;
        object_path(key).ok()?;
        Some(root.join(key))
    }

    /// Whether the backend answers (for `/health`).
    pub async fn check(&self) -> bool {
        let probe = "health/probe";
        self.put(probe, Bytes::from_static(b"ok")).await.is_ok() && self.get(probe).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn round_trip(blobs: Blobs) {
        blobs
            .put("tasks/t1/input/00.jpg", Bytes::from_static(b"abcdef"))
            .await
            .unwrap();
        blobs
            .put("tasks/t1/input/01.jpg", Bytes::from_static(b"xyz"))
            .await
            .unwrap();
        blobs
            .put("tasks/t2/input/00.jpg", Bytes::from_static(b"keep"))
            .await
            .unwrap();
        assert_eq!(
            blobs.get("tasks/t1/input/00.jpg").await.unwrap(),
            Bytes::from_static(b"abcdef")
        );
        assert_eq!(
            blobs
                .get_range("tasks/t1/input/00.jpg", 1, 3)
                .await
                .unwrap(),
            Bytes::from_static(b"bc")
        );
        assert_eq!(blobs.size("tasks/t1/input/01.jpg").await.unwrap(), 3);
        blobs.delete_prefix("tasks/t1").await.unwrap();
        assert!(!blobs.exists("tasks/t1/input/00.jpg").await.unwrap());
        assert!(matches!(
            blobs.get("tasks/t1/input/01.jpg").await,
            Err(BlobError::NotFound(_))
        ));
        assert!(blobs.exists("tasks/t2/input/00.jpg").await.unwrap());
        for bad in ["", "../etc/passwd", "a//b", "a/./b"] {
            assert!(
                matches!(
                    blobs.put(bad, Bytes::new()).await,
                    Err(BlobError::InvalidKey(_))
                ),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn local_and_memory_backends_behave_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let local = Blobs::local(dir.path()).unwrap();
        round_trip(local.clone()).await;
        assert_eq!(
            std::fs::read(local.local_path("tasks/t2/input/00.jpg").unwrap()).unwrap(),
            b"keep"
        );
        round_trip(Blobs::memory()).await;
    }
}
