//! Choosing the backend from a database URL, so every command opens the store the same
//! way: `sqlite://PATH` (the embedded default) or `postgres://…` / `postgresql://…`.

use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::{Store, StoreError, StoreResult};
use peakreel_domain::PlanTable;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A database file (created with its directory if missing).
    Sqlite(PathBuf),
    /// A libpq-style URL, password included: never log it unmasked.
    Postgres(String),
}

impl DatabaseUrl {
    /// Errors: a scheme other than `sqlite://`, `postgres://` or `postgresql://`
    /// (the message names the accepted ones).
    pub fn parse(url: &str) -> Result<Self, String> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(url.to_string()))
        } else {
            Err("use sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE".into())
        }
    }
}

/// Open (creating and migrating as needed) the store at `url`.
///
/// Errors: `StoreError::Unavailable` when PostgreSQL cannot be reached,
/// `StoreError::Database` for a file that cannot be opened or a failed migration.
pub async fn open(url: &DatabaseUrl, plans: PlanTable) -> StoreResult<Arc<dyn Store>> {
    match url {
        DatabaseUrl::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Database(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            Ok(Arc::new(SqliteStore::open(path, plans)?))
        }
        DatabaseUrl::Postgres(url) => Ok(Arc::new(PgStore::connect(url, plans).await?)),
    }
}
