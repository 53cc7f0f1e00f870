//! The SQLite store: one file in the data directory, WAL mode, a busy timeout, and a small
//! pool of connections. rusqlite is synchronous, so every call runs on tokio's blocking
//! pool; write transactions use `BEGIN IMMEDIATE` so the check-then-insert of task
//! creation takes the write lock before it reads (no lost-update race between requests).

mod accounts;
mod catalog;
mod idempotency;
mod lifecycle;
mod queue;
mod tasks;
mod uploads;
mod webhooks;

use crate::{StoreError, StoreResult};
use peakreel_domain::PlanTable;
use r2d2_sqlite::rusqlite::{self, Connection};
use r2d2_sqlite::SqliteConnectionManager;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_init.sql")),
    (2, include_str!("../../migrations/0002_webhooks.sql")),
    (3, include_str!("../../migrations/0003_jobs_open.sql")),
    (4, include_str!("../../migrations/0004_server_secrets.sql")),
    (5, include_str!("../../migrations/0005_uploads.sql")),
    (6, include_str!("../../migrations/0006_idempotency.sql")),
];

/// The schema version a fully migrated database has.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

#[derive(Clone)]
pub struct SqliteStore {
    pool: r2d2::Pool<SqliteConnectionManager>,
    plans: Arc<PlanTable>,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        StoreError::Database(format!("connection pool: {e}"))
    }
}

pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl SqliteStore {
    /// Open (creating if needed) and migrate the database file.
    pub fn open(path: &Path, plans: PlanTable) -> StoreResult<Self> {
        let manager = SqliteConnectionManager::file(path).with_init(|c| {
            c.busy_timeout(Duration::from_secs(10))?;
            c.execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
            )
        });
        let pool = r2d2::Pool::builder()
            .max_size(8)
            // A local file cannot go stale like a network connection: checking each
            // connection on every checkout only cost a statement per query.
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(10))
            .build(manager)?;
        migrate(&mut *pool.get()?)?;
        Ok(SqliteStore {
            pool,
            plans: Arc::new(plans),
        })
    }

    pub fn plans(&self) -> &PlanTable {
        &self.plans
    }

    /// Run `f` with a pooled connection on the blocking pool. (Running these short calls
    /// in place with `block_in_place` gave more throughput but tripled p99 latency in
    /// `bench/api.sh`, so the hand-off stays.)
    pub(crate) async fn with_conn<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Database(format!("blocking task failed: {e}")))?
    }

    /// Run `f` inside a `BEGIN IMMEDIATE` transaction, committed only when `f` succeeds.
    pub(crate) async fn with_tx<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&rusqlite::Transaction) -> Result<T, E> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(StoreError::from)?;
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(StoreError::from)?;
            let out = f(&tx)?;
            tx.commit().map_err(StoreError::from)?;
            Ok(out)
        })
        .await
        .map_err(|e| E::from(StoreError::Database(format!("blocking task failed: {e}"))))?
    }
}

/// Apply every migration newer than `PRAGMA user_version`, each in its own transaction.
pub fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl crate::SharedSecrets for SqliteStore {
    async fn shared_secret(&self, name: &str, initial: Vec<u8>) -> StoreResult<Vec<u8>> {
        let name = name.to_string();
        self.with_tx(move |tx| {
            tx.execute(
                "INSERT INTO server_secrets (name, value, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO NOTHING",
                rusqlite::params![name, initial, now()],
            )?;
            Ok(tx.query_row(
                "SELECT value FROM server_secrets WHERE name = ?1",
                [&name],
                |r| r.get(0),
            )?)
        })
        .await
    }
}

#[async_trait::async_trait]
impl crate::Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.with_conn(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
            .await
            .map(|_| ())
    }
}

pub(crate) fn mode_str(mode: peakreel_types::ids::Mode) -> &'static str {
    mode.as_str()
}

pub(crate) fn parse_mode(s: &str) -> rusqlite::Result<peakreel_types::ids::Mode> {
    peakreel_types::ids::Mode::parse(s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("bad mode {s}").into(),
        )
    })
}

pub(crate) fn parse_json(s: Option<String>) -> rusqlite::Result<Option<serde_json::Value>> {
    s.map(|s| {
        serde_json::from_str(&s).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
    })
    .transpose()
}
