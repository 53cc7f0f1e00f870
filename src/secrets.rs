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

#[cfg(test)]
mod tests {
    use super::*;
    use peakreel_store::sqlite::SqliteStore;

    fn store(dir: &Path) -> SqliteStore {
        SqliteStore::open(&dir.join("peakreel.db"), Default::default()).unwrap()
    }

    #[tokio::test]
    async fn a_legacy_key_file_is_imported_once_and_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets");
        std::fs::create_dir_all(&secrets).unwrap();
        let legacy = b"the key that signed last week's links".to_vec();
        std::fs::write(secrets.join("signing.key"), hex::encode(&legacy) + "\n").unwrap();
        let store = store(dir.path());
        assert_eq!(signing_secret(&store, dir.path()).await.unwrap(), legacy);
        // Later starts read the database: the file no longer matters.
        std::fs::remove_file(secrets.join("signing.key")).unwrap();
        assert_eq!(signing_secret(&store, dir.path()).await.unwrap(), legacy);
        let elsewhere = tempfile::tempdir().unwrap();
        assert_eq!(
            signing_secret(&store, elsewhere.path()).await.unwrap(),
            legacy
        );
    }

    #[tokio::test]
    async fn a_new_installation_gets_one_random_secret() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = signing_secret(&store(a.path()), a.path()).await.unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(
            signing_secret(&store(a.path()), a.path()).await.unwrap(),
            first
        );
        assert!(!a.path().join("secrets").exists());
        let other = signing_secret(&store(b.path()), b.path()).await.unwrap();
        assert_ne!(other, first, "each installation has its own");
    }

    #[tokio::test]
    async fn a_corrupt_key_file_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
        std::fs::write(dir.path().join("secrets/signing.key"), "not hex").unwrap();
        let err = signing_secret(&store(dir.path()), dir.path())
            .await
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("corrupt secret file"),
            "{err:#}"
        );
    }
}
