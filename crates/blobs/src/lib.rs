//! Where task inputs (fetched photos, logos), results (MP4, cover), avatars, voice
//! previews and test-mode samples live. A thin layer over the `object_store` crate so a
//! local directory (the default), an S3-compatible bucket and memory (tests) all look the
//! same to callers; plus the file download URLs of api.md §7.

mod location;
mod s3;
mod signing;

pub use location::{StorageUrl, StorageUrlError};
pub use signing::UrlSigner;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::signer::Signer;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use peakreel_types::Code;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

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
            other => BlobError::Backend(describe(&other)),
        }
    }
}

/// An error and every cause under it, on one line: object_store's own message often
/// says only "Generic S3 error", and the reason (refused connection, bad credentials,
/// missing bucket) is further down the chain.
pub(crate) fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
}

/// The bytes of a blob (or of a range of it), as they arrive from the backend.
pub type ByteStream = BoxStream<'static, Result<Bytes, BlobError>>;

/// The longest validity an S3 presigned URL may have (SigV4's limit: 7 days).
pub const MAX_PRESIGNED_SECS: u64 = 7 * 24 * 3600;

#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    /// Files external programs (ffmpeg) can read directly.
    Local(PathBuf),
    Memory,
    /// The bucket client itself (for presigning) and the prefix every key is under.
    S3 {
        client: Arc<AmazonS3>,
        prefix: String,
        url: String,
    },
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blobs")
            .field("storage", &self.describe_location())
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
    /// The backend a `--storage` URL names. Opening touches nothing remote: call
    /// [`Blobs::probe`] to learn whether the bucket answers.
    pub fn open(url: &StorageUrl) -> Result<Self, BlobError> {
        match url {
            StorageUrl::Local(dir) => Blobs::local(dir),
            StorageUrl::S3 { bucket, prefix } => Blobs::s3(bucket, prefix),
        }
    }

    /// A local directory (created if missing).
    pub fn local(root: &Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(root)
            .map_err(|e| BlobError::Backend(format!("cannot create storage directory: {e}")))?;
        let store = LocalFileSystem::new_with_prefix(root)?.with_automatic_cleanup(true);
        Ok(Blobs {
            store: Arc::new(store),
            backend: Backend::Local(root.to_path_buf()),
        })
    }

    /// A bucket of an S3-compatible store, configured by the `AWS_*` environment
    /// variables; every key is stored under `prefix/` (none when empty).
    pub fn s3(bucket: &str, prefix: &str) -> Result<Self, BlobError> {
        Blobs::s3_with(bucket, prefix, &[])
    }

    /// [`Blobs::s3`] with `AWS_*` settings (same names as the variables) that win over
    /// the environment's: for a process that talks to more than one store, and tests.
    pub fn s3_with(
        bucket: &str,
        prefix: &str,
        vars: &[(String, String)],
    ) -> Result<Self, BlobError> {
        let client = Arc::new(s3::build(bucket, vars.iter().cloned())?);
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            client.clone()
        } else {
            Arc::new(PrefixStore::new(client.clone(), prefix))
        };
        let url = StorageUrl::S3 {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        };
        Ok(Blobs {
            store,
            backend: Backend::S3 {
                client,
                prefix: prefix.to_string(),
                url: url.to_string(),
            },
        })
    }

    pub fn memory() -> Self {
        Blobs {
            store: Arc::new(InMemory::new()),
            backend: Backend::Memory,
        }
    }

    /// `file://DIR`, `s3://BUCKET/PREFIX` or `memory`: for logs and error messages.
    pub fn describe_location(&self) -> String {
        match &self.backend {
            Backend::Local(root) => format!("file://{}", root.display()),
            Backend::Memory => "memory".into(),
            Backend::S3 { url, .. } => url.clone(),
        }
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), BlobError> {
        // The local backend writes to a temporary file and renames it, and S3 stores an
        // object whole: a reader never sees half a blob, and a crash leaves none.
        self.store
            .put(&object_path(key)?, PutPayload::from_bytes(bytes))
            .await?;
        Ok(())
    }

    /// Stores the file at `path` under `key`, streaming it in parts (one 5 MiB part, the
    /// S3 minimum, being read while at most two are in flight), so a large body is never
    /// held whole in memory. Atomic like [`Blobs::put`]: an upload that fails is aborted
    /// and leaves no blob.
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<(), BlobError> {
        const PART: usize = 5 * 1024 * 1024;
        let upload = self.store.put_multipart(&object_path(key)?).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let copied = async {
            let mut file = tokio::fs::File::open(path).await?;
            let mut buf = vec![0u8; 1024 * 1024];
            loop {
                let n = file.read(&mut buf).await?;
                if n == 0 {
                    return Ok::<_, std::io::Error>(());
                }
                writer
                    .wait_for_capacity(2)
                    .await
                    .map_err(std::io::Error::other)?;
                writer.write(&buf[..n]);
            }
        }
        .await;
        match copied {
            Ok(()) => {
                writer.finish().await?;
                Ok(())
            }
            Err(e) => {
                // Best effort: the error that matters is the read's.
                let _ = writer.abort().await;
                Err(BlobError::Backend(format!(
                    "cannot read the file to store: {e}"
                )))
            }
        }
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, BlobError> {
        Ok(self.store.get(&object_path(key)?).await?.bytes().await?)
    }

    /// Bytes `start..end` of a blob.
    pub async fn get_range(&self, key: &str, start: u64, end: u64) -> Result<Bytes, BlobError> {
        Ok(self.store.get_range(&object_path(key)?, start..end).await?)
    }

    /// A blob, or the bytes `range` of it, as a stream (for downloads: nothing is held
    /// in memory beyond the chunk in flight).
    pub async fn read(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, BlobError> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let result = self.store.get_opts(&object_path(key)?, options).await?;
        Ok(result.into_stream().map_err(BlobError::from).boxed())
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

    /// Every blob under `prefix/` as `(key, size in bytes)`, sorted by key.
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>, BlobError> {
        let prefix = object_path(prefix)?;
        let mut found: Vec<(String, u64)> = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| (meta.location.to_string(), meta.size))
            .try_collect()
            .await?;
        found.sort();
        Ok(found)
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
        let Backend::Local(root) = &self.backend else {
            return None;
        };
        object_path(key).ok()?;
        Some(root.join(key))
    }

    /// Whether this backend can hand out its own download URLs (S3 presigning).
    pub fn can_presign(&self) -> bool {
        matches!(self.backend, Backend::S3 { .. })
    }

    /// A presigned `GET` URL for `key`, valid for `valid_for` (at most
    /// [`MAX_PRESIGNED_SECS`]); `None` on a backend without presigning.
    pub async fn presigned_get(
        &self,
        key: &str,
        valid_for: Duration,
    ) -> Option<Result<String, BlobError>> {
        let Backend::S3 { client, prefix, .. } = &self.backend else {
            return None;
        };
        let signed = async {
            object_path(key)?;
            let full = if prefix.is_empty() {
                ObjectPath::parse(key)
            } else {
                ObjectPath::parse(format!("{prefix}/{key}"))
            }
            .map_err(|_| BlobError::InvalidKey(key.to_string()))?;
            let valid_for = valid_for.clamp(
                Duration::from_secs(1),
                Duration::from_secs(MAX_PRESIGNED_SECS),
            );
            let url = client
                .signed_url(object_store::signer::Method::GET, &full, valid_for)
                .await?;
            Ok(url.to_string())
        };
        Some(signed.await)
    }

    /// The origin (`scheme://host[:port]`) every presigned URL of this backend starts
    /// with, for a browser policy that must let them load; `None` on a backend without
    /// presigning. Presigning is local (no request is sent); it fails only when the
    /// credentials cannot be loaded.
    pub async fn presigned_origin(&self) -> Option<Result<String, BlobError>> {
        let url = self
            .presigned_get("origin", Duration::from_secs(60))
            .await?;
        Some(url.and_then(|url| {
            reqwest::Url::parse(&url)
                .map(|u| u.origin().ascii_serialization())
                .map_err(|e| BlobError::Backend(format!("presigned URL {url}: {e}")))
        }))
    }

    /// Write and read back a small probe blob: the backend answers and lets this
    /// process write. The error says why not (refused connection, missing bucket,
    /// denied credentials, …).
    pub async fn probe(&self) -> Result<(), BlobError> {
        let probe = ObjectPath::from("health/probe");
        // Described whole, not mapped: a 404 here means a missing bucket, not a blob.
        let failed = |e: object_store::Error| BlobError::Backend(describe(&e));
        self.store
            .put(&probe, PutPayload::from_static(b"ok"))
            .await
            .map_err(failed)?;
        self.store
            .get(&probe)
            .await
            .map_err(failed)?
            .bytes()
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// Whether the backend answers (for `/health`).
    pub async fn check(&self) -> bool {
        self.probe().await.is_ok()
    }
}
