//! The configured blob storage (`--storage`, cli.md), opened and checked at start, and
//! the download links it hands out (api.md §7).

use crate::config::{Config, FileDownloads};
use anyhow::{Context, Result};
use peakreel_blobs::{Blobs, UrlSigner};

/// Open the storage and make sure it answers and takes writes: a bucket that is
/// unreachable, missing or refuses the credentials stops the process here, with the
/// storage URL and the reason, instead of failing every task later.
pub async fn open(config: &Config) -> Result<Blobs> {
    let url = config.storage_url()?;
    let blobs = Blobs::open(&url).with_context(|| format!("cannot open storage {url}"))?;
    blobs
        .probe()
        .await
        .with_context(|| format!("storage {url} cannot be used"))?;
    tracing::info!(storage = %url, "storage ready");
    Ok(blobs)
}

/// This server's signer, presigning through the bucket when S3 storage and presigned
/// downloads are configured.
pub fn links(signer: UrlSigner, blobs: &Blobs, config: &Config) -> UrlSigner {
    let signer = match config.file_downloads {
        FileDownloads::Presigned => signer.presigning_with(blobs.clone()),
        FileDownloads::Proxied => signer,
    };
    if signer.presigns() {
        tracing::info!("file links are presigned URLs of the bucket");
    } else {
        tracing::info!("file links point at this API's /v1/files route");
    }
    signer
}
