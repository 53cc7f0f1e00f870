//! The server's file-signing secret, shared through the database so every API process
//! signs and checks the same URLs, whatever its data directory.
//!
//! Installations from before the shared store kept it in `{data-dir}/secrets/signing.key`
//! (hex). That file, when present, is offered as the initial value: the first process
//! to start after the upgrade stores it, so links already handed out stay valid. The file
//! is left in place and no longer written.

use anyhow::{Context, Result};
use peakreel_store::Store;
use std::path::Path;

/// Name of the signing secret in the store.
pub const SIGNING: &str = "file_signing";

/// The signing secret: the stored one, else the legacy file's, else a fresh random one.
pub async fn signing_secret(store: &dyn Store, data_dir: &Path) -> Result<Vec<u8>> {
    let legacy = data_dir.join("secrets").join("signing.key");
    let initial = match std::fs::read_to_string(&legacy) {
        Ok(text) => hex::decode(text.trim())
            .with_context(|| format!("corrupt secret file {}", legacy.display()))?,
        Err(_) => peakreel_types::ids::random_alphanumeric(64).into_bytes(),
    };
    store
        .shared_secret(SIGNING, initial)
        .await
        .context("cannot read the file-signing secret from the database")
}
