//! The PostgreSQL store: one database shared by every API and worker process of an
//! installation. tokio-postgres (async, no blocking pool hand-off) behind a
//! deadpool-postgres pool with a per-connection statement cache.
//!
//! Concurrency rules (design.md principle 3), as on SQLite but without a global write
//! lock:
//! - Anything that reads the balance or the in-flight count and then writes locks the
//!   account row first (`SELECT … FOR UPDATE`), so requests for one account are
//!   serialised across processes while different accounts proceed in parallel (READ
//!   COMMITTED sees the previous holder's committed rows after the lock is granted).
//! - Claims pick a row with `FOR UPDATE SKIP LOCKED`, so concurrent claimers never wait
//!   on each other or take the same job; every later write is fenced by the lease.
//! - Worker transitions lock the job row while they check the lease.
//! - Lease bookkeeping alone (claim, heartbeat, and `complete`/`fail`/`release` of a
//!   bare job) commits asynchronously (`synchronous_commit = off`, on a pool of its
//!   own): a server crash may forget the last fraction of a second of those writes, and
//!   the fences make that safe. A forgotten claim leaves the job runnable, and the worker
//!   holding it is refused at its next fenced write; a forgotten completion runs the job
//!   again, which finds its task already finished. Everything that moves money or ends
//!   a task (task creation, `complete_task`, `fail_task`, webhook attempts, enqueues)
//!   waits for the flush as usual.

mod accounts;
mod catalog;
mod error;
mod idempotency;
mod lifecycle;
mod listen;
mod queue;
mod tasks;
mod uploads;
mod webhooks;

use crate::{StoreError, StoreResult};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use peakreel_domain::PlanTable;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::NoTls;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_uploads.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_idempotency.sql"),
    ),
];

/// The schema version a fully migrated database has.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Serialises migrations of concurrently starting processes (an arbitrary, fixed key).
const MIGRATION_LOCK: i64 = 0x7065_616b_7265_656c; // "peakreel"

/// Connections per process: enough for the API's concurrent requests and the workers'
/// heartbeats; PostgreSQL's default limit of 100 leaves room for several processes.
const POOL_SIZE: usize = 16;
/// Connections per process for claims and heartbeats (short single statements).
const LEASE_POOL_SIZE: usize = 8;

fn build_pool(config: tokio_postgres::Config, size: usize) -> StoreResult<Pool> {
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        // A lost database must fail requests in bounded time, not queue them.
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .build()
        .map_err(|e| StoreError::Database(format!("connection pool: {e}")))
}

#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// Connections with `synchronous_commit = off`, for lease bookkeeping only.
    lease_pool: Pool,
    config: tokio_postgres::Config,
    plans: Arc<PlanTable>,
}

pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl PgStore {
    /// Connect to `url` (`postgres://user:password@host:port/database`, or any
    /// libpq-style URL tokio-postgres accepts) and apply pending migrations.
    ///
    /// Errors: `StoreError::Unavailable` when the server cannot be reached or refuses
    /// the login, `StoreError::Database` for a malformed URL or a failed migration.
    pub async fn connect(url: &str, plans: PlanTable) -> StoreResult<Self> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Database(format!("invalid PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("peakreel");
        }
        let pool = build_pool(config.clone(), POOL_SIZE)?;
        let mut lease_config = config.clone();
        let options = format!(
            "{} -c synchronous_commit=off",
            config.get_options().unwrap_or_default()
        );
        lease_config.options(options.trim());
        let lease_pool = build_pool(lease_config, LEASE_POOL_SIZE)?;
        let store = PgStore {
            pool,
            lease_pool,
            config,
            plans: Arc::new(plans),
        };
        store.migrate().await?;
        Ok(store)
    }

    pub fn plans(&self) -> &PlanTable {
        &self.plans
    }

    /// A pooled connection.
    pub(crate) async fn client(&self) -> StoreResult<Object> {
        Ok(self.pool.get().await?)
    }

    /// A pooled connection whose commits do not wait for the disk: only for writes the
    /// lease fences make safe to lose (see the module docs).
    pub(crate) async fn lease_client(&self) -> StoreResult<Object> {
        Ok(self.lease_pool.get().await?)
    }

    /// Apply every migration newer than the recorded version, all in one transaction
    /// under an advisory lock, so processes starting together migrate once.
    async fn migrate(&self) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .await?;
        let current: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )
            .await?
            .get(0);
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            tx.batch_execute(sql).await.map_err(|e| {
                StoreError::Database(format!("migration {version} failed: {}", error::text(&e)))
            })?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[version, &now()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl crate::SharedSecrets for PgStore {
    async fn shared_secret(&self, name: &str, initial: Vec<u8>) -> StoreResult<Vec<u8>> {
        let client = self.client().await?;
        // Under READ COMMITTED a conflicting insert waits for the other transaction and
        // the following SELECT (a new snapshot) sees its committed row.
        client
            .execute(
                "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO NOTHING",
                &[&name, &initial, &now()],
            )
            .await?;
        Ok(client
            .query_one("SELECT value FROM server_secrets WHERE name = $1", &[&name])
            .await?
            .get(0))
    }
}

#[async_trait::async_trait]
impl crate::Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        self.client().await?.batch_execute("SELECT 1").await?;
        Ok(())
    }

    fn spawn_job_listener(
        &self,
        kind: &'static str,
        wake: Arc<tokio::sync::Notify>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        Some(tokio::spawn(listen::forward_notifications(
            self.config.clone(),
            kind,
            wake,
        )))
    }
}

pub(crate) fn parse_mode(s: &str) -> StoreResult<peakreel_types::ids::Mode> {
    peakreel_types::ids::Mode::parse(s)
        .ok_or_else(|| StoreError::Database(format!("bad mode {s} in the database")))
}

pub(crate) fn parse_json(s: Option<String>) -> StoreResult<Option<serde_json::Value>> {
    s.map(|s| {
        serde_json::from_str(&s)
            .map_err(|e| StoreError::Database(format!("bad JSON in the database: {e}")))
    })
    .transpose()
}

/// Counts and small numbers are BIGINT in the schema; the records use narrower types.
/// A value outside `T`'s range (never written by this store) reads as 0.
pub(crate) fn narrow<T: TryFrom<i64> + Default>(v: i64) -> T {
    T::try_from(v).unwrap_or_default()
}
