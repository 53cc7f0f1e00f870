//! Image bodies on disk. A creation request may name 15 photos of up to 25 MiB each and
//! several arrive at once; holding them in memory until they are stored would cost
//! hundreds of MiB per request. A fetched image is written to a temporary file as it
//! streams in (one network frame in memory at a time); the decode check reads it back
//! inside its decode slot, and storing copies the file in chunks.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::Response;
use tokio::io::AsyncWriteExt;

use crate::error::FetchError;

/// The bytes of an image: in memory (uploads, which arrive whole) or in a temporary
/// file (fetched images). Cheap to clone; a spooled file is deleted when the last clone
/// is dropped.
#[derive(Debug, Clone)]
pub enum ImageBody {
    Memory(Bytes),
    Spooled(Arc<SpooledFile>),
}

/// A temporary file holding one body; removed on drop.
#[derive(Debug)]
pub struct SpooledFile {
    path: tempfile::TempPath,
    len: u64,
}

impl SpooledFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl ImageBody {
    /// Size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            ImageBody::Memory(b) => b.len() as u64,
            ImageBody::Spooled(f) => f.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole body in memory (a spooled one is read back). For callers that need the
    /// bytes themselves; storing should use the file where there is one.
    pub async fn to_bytes(&self) -> io::Result<Bytes> {
        match self {
            ImageBody::Memory(b) => Ok(b.clone()),
            ImageBody::Spooled(f) => tokio::fs::read(f.path()).await.map(Bytes::from),
        }
    }

    /// [`ImageBody::to_bytes`] for blocking contexts.
    pub fn to_bytes_blocking(&self) -> io::Result<Bytes> {
        match self {
            ImageBody::Memory(b) => Ok(b.clone()),
            ImageBody::Spooled(f) => std::fs::read(f.path()).map(Bytes::from),
        }
    }
}

/// Streams `resp`'s body into a new file in `dir`, giving up the moment it would exceed
/// `max` bytes (the partial file is removed).
pub(crate) async fn spool_capped(
    resp: Response<Incoming>,
    max: u64,
    dir: &Path,
) -> Result<ImageBody, FetchError> {
    let too_large = || FetchError::TooLarge { limit_bytes: max };
    let declared = crate::client::declared_length(&resp);
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let local = |e: io::Error| FetchError::Spool {
        reason: e.to_string(),
    };
    let (file, path) = tempfile::Builder::new()
        .prefix("fetch-")
        .tempfile_in(dir)
        .map_err(local)?
        .into_parts();
    let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, tokio::fs::File::from_std(file));
    let mut len = 0u64;
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(crate::client::protocol)?;
        if let Ok(data) = frame.into_data() {
            len += data.len() as u64;
            if len > max {
                return Err(too_large());
            }
            out.write_all(&data).await.map_err(local)?;
        }
    }
    out.flush().await.map_err(local)?;
    Ok(ImageBody::Spooled(Arc::new(SpooledFile { path, len })))
}

/// A new, empty spooled body in `dir` for a caller that has the bytes from elsewhere (a
/// stored upload): write them to the file, then [`SpoolWriter::finish`]. Dropped before
/// that, the file is removed.
pub struct SpoolWriter {
    file: tokio::io::BufWriter<tokio::fs::File>,
    path: tempfile::TempPath,
    len: u64,
}

impl SpoolWriter {
    pub(crate) fn create(dir: &Path) -> io::Result<SpoolWriter> {
        let (file, path) = tempfile::Builder::new()
            .prefix("fetch-")
            .tempfile_in(dir)?
            .into_parts();
        Ok(SpoolWriter {
            file: tokio::io::BufWriter::with_capacity(256 * 1024, tokio::fs::File::from_std(file)),
            path,
            len: 0,
        })
    }

    /// Appends `chunk`.
    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.file.write_all(chunk).await?;
        self.len += chunk.len() as u64;
        Ok(())
    }

    /// The complete body.
    pub async fn finish(mut self) -> io::Result<ImageBody> {
        self.file.flush().await?;
        Ok(ImageBody::Spooled(Arc::new(SpooledFile {
            path: self.path,
            len: self.len,
        })))
    }
}

/// Deletes the spooled bodies (`fetch-*` files) in `dir` last written more than `age`
/// ago: a process killed while it held some leaves them behind, and a live body is never
/// that old (it lives for one creation request). Returns how many were deleted; files it
/// cannot read or delete are skipped.
pub fn sweep_spool(dir: &Path, age: std::time::Duration) -> io::Result<usize> {
    let now = std::time::SystemTime::now();
    let mut deleted = 0;
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        if !entry.file_name().to_string_lossy().starts_with("fetch-") {
            continue;
        }
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).is_ok_and(|d| d > age));
        if stale && std::fs::remove_file(entry.path()).is_ok() {
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Where spooled bodies go: `configured`, else the system's temporary directory.
pub(crate) fn spool_dir(configured: &Option<PathBuf>) -> PathBuf {
    configured.clone().unwrap_or_else(std::env::temp_dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[tokio::test]
    async fn a_written_body_reads_back_and_an_unfinished_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SpoolWriter::create(dir.path()).unwrap();
        w.write(b"hello ").await.unwrap();
        w.write(b"spool").await.unwrap();
        let body = w.finish().await.unwrap();
        assert_eq!(&body.to_bytes_blocking().unwrap()[..], b"hello spool");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        drop(body);
        let mut abandoned = SpoolWriter::create(dir.path()).unwrap();
        abandoned.write(b"half").await.unwrap();
        drop(abandoned);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn only_old_spooled_bodies_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("fetch-old");
        let fresh = dir.path().join("fetch-fresh");
        let other = dir.path().join("keep-me");
        for p in [&old, &fresh, &other] {
            std::fs::write(p, b"x").unwrap();
        }
        let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
        for p in [&old, &other] {
            std::fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(two_hours_ago)
                .unwrap();
        }
        assert_eq!(
            sweep_spool(dir.path(), Duration::from_secs(3600)).unwrap(),
            1
        );
        assert!(!old.exists());
        assert!(fresh.exists() && other.exists());
    }
}
