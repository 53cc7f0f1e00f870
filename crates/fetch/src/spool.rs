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

/// Where spooled bodies go: `configured`, else the system's temporary directory.
pub(crate) fn spool_dir(configured: &Option<PathBuf>) -> PathBuf {
    configured.clone().unwrap_or_else(std::env::temp_dir)
}
