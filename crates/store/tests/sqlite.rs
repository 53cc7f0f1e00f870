//! The conformance suite against `SqliteStore`, one fresh database file per test.

mod conformance;

use async_trait::async_trait;
use conformance::Hooks;
use peakreel_domain::PlanTable;
use peakreel_store::sqlite::SqliteStore;
use peakreel_store::{Accounts, AvatarRecord, Store, StoreResult, TaskStatus, VoiceRecord};
use r2d2_sqlite::rusqlite::{self, params, Connection};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

struct Sqlite {
    store: SqliteStore,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sqlite {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("peakreel.db");
        let store = SqliteStore::open(&path, PlanTable::default()).expect("open store");
        Sqlite {
            store,
            path,
            _dir: dir,
        }
    }

    fn store(&self) -> &dyn Store {
        &self.store
    }

    fn shared(&self) -> Arc<dyn Store> {
        Arc::new(self.store.clone())
    }

    /// A separate raw connection to the same file, as an operator's `sqlite3` shell would be.
    fn raw(&self) -> Connection {
        let c = Connection::open(&self.path).expect("raw connection");
        c.busy_timeout(Duration::from_secs(10)).unwrap();
        c
    }
}

#[async_trait]
impl Hooks for Sqlite {
    async fn refresh_credits_at(&self, account_id: &str, at: i64) -> StoreResult<i64> {
        self.store.refresh_credits_at(account_id, at).await
    }

    async fn insert_custom_voice(&self, v: VoiceRecord) -> StoreResult<()> {
        self.store.insert_custom_voice(v).await
    }

    async fn insert_custom_avatar(&self, a: AvatarRecord) -> StoreResult<()> {
        self.store.insert_custom_avatar(a).await
    }

    async fn set_task_status(&self, task_id: &str, status: TaskStatus) {
        let n = self
            .raw()
            .execute(
                "UPDATE tasks SET status = ?2 WHERE id = ?1",
                params![task_id, status.as_str()],
            )
            .expect("set task status");
        assert_eq!(n, 1, "task {task_id} exists");
    }

    async fn tamper_ledger(
        &self,
        account_id: &str,
    ) -> (Result<usize, String>, Result<usize, String>) {
        let c = self.raw();
        let err = |e: rusqlite::Error| e.to_string();
        let update = c
            .execute(
                "UPDATE credit_ledger SET amount = amount + 1000 WHERE account_id = ?1",
                [account_id],
            )
            .map_err(err);
        let delete = c
            .execute(
                "DELETE FROM credit_ledger WHERE account_id = ?1",
                [account_id],
            )
            .map_err(err);
        (update, delete)
    }
}

macro_rules! store_tests {
    ($($name:ident => |$db:ident| $call:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let $db = Sqlite::new();
            $call.await;
        }
    )*};
}

store_tests! {
    queue_claim_and_heartbeat => |db| conformance::queue_claim_and_heartbeat(db.store());
    queue_complete_is_fenced => |db| conformance::queue_complete_is_fenced(db.store());
    queue_fail_with_retry => |db| conformance::queue_fail_with_retry(db.store());
    queue_fail_for_good => |db| conformance::queue_fail_for_good(db.store());
    queue_release_hands_attempt_back => |db| conformance::queue_release_hands_attempt_back(db.store());
    queue_expired_lease_is_reclaimed => |db| conformance::queue_expired_lease_is_reclaimed(db.store());
    queue_run_at_and_kinds => |db| conformance::queue_run_at_and_kinds(db.store());
    queue_fifo_by_run_at_then_id => |db| conformance::queue_fifo_by_run_at_then_id(db.store());
    queue_concurrent_claims_are_exclusive => |db| conformance::queue_concurrent_claims_are_exclusive(db.shared());
    accounts_initial_credits_and_grants => |db| conformance::accounts_initial_credits_and_grants(db.store());
    tasks_create_charges_once_and_enqueues => |db| conformance::tasks_create_charges_once_and_enqueues(db.store());
    tasks_insufficient_credits_writes_nothing => |db| conformance::tasks_insufficient_credits_writes_nothing(db.store());
    tasks_concurrency_limit => |db| conformance::tasks_concurrency_limit(db.store());
    tasks_finished_tasks_free_the_slot => |db| conformance::tasks_finished_tasks_free_the_slot(db.store(), &db);
    tasks_test_mode_is_free_and_counted_apart => |db| conformance::tasks_test_mode_is_free_and_counted_apart(db.store());
    tasks_race_concurrency_limit => |db| conformance::tasks_race_concurrency_limit(db.shared());
    tasks_race_credits => |db| conformance::tasks_race_credits(db.shared());
    ledger_is_append_only => |db| conformance::ledger_is_append_only(db.store(), &db);
    tasks_get_is_owner_and_mode_scoped => |db| conformance::tasks_get_is_owner_and_mode_scoped(db.store());
    tasks_list_pagination_and_filters => |db| conformance::tasks_list_pagination_and_filters(db.store(), &db);
    tasks_queue_position => |db| conformance::tasks_queue_position(db.store(), &db);
    tasks_queue_ahead_and_recent_renders => |db| conformance::tasks_queue_ahead_and_recent_renders(db.store(), &db);
    credits_monthly_refresh => |db| conformance::credits_monthly_refresh(db.store(), &db);
    credits_refresh_never_goes_back => |db| conformance::credits_refresh_never_goes_back(db.store(), &db);
    keys_round_trip_revoke_and_delete => |db| conformance::keys_round_trip_revoke_and_delete(db.store());
    catalog_seed_is_idempotent => |db| conformance::catalog_seed_is_idempotent(db.store());
    catalog_voice_round_trip => |db| conformance::catalog_voice_round_trip(db.store(), &db);
    catalog_lists_public_and_own_of_the_same_mode => |db| conformance::catalog_lists_public_and_own_of_the_same_mode(db.store(), &db);
    lifecycle_complete_and_fail => |db| conformance::lifecycle_complete_and_fail(db.store());
    lifecycle_retry_and_release => |db| conformance::lifecycle_retry_and_release(db.store());
    lifecycle_result_expiry => |db| conformance::lifecycle_result_expiry(db.store());
    webhooks_attempts_and_redelivery => |db| conformance::webhooks_attempts_and_redelivery(db.store());
    secrets_first_writer_wins => |db| conformance::secrets_first_writer_wins(db.shared());
    uploads_quota_round_trip_and_expiry => |db| conformance::uploads_quota_round_trip_and_expiry(db.store());
    idempotency_reserve_complete_and_replay => |db| conformance::idempotency::idempotency_reserve_complete_and_replay(db.store());
    idempotency_expiry_takeover_and_sweep => |db| conformance::idempotency::idempotency_expiry_takeover_and_sweep(db.store());
    idempotency_simultaneous_reservations => |db| conformance::idempotency::idempotency_simultaneous_reservations(db.shared());
}

/// The database is migrated once: reopening an existing file keeps its rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reopen_keeps_data_and_schema_version() {
    let db = Sqlite::new();
    let account = db.store.create_account("persist", "Pro", 7).await.unwrap();
    let again = SqliteStore::open(&db.path, PlanTable::default()).expect("reopen");
    assert_eq!(again.balance(&account.id).await.unwrap(), 7);
    again.ping().await.unwrap();
    let version: i64 = db
        .raw()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, peakreel_store::sqlite::SCHEMA_VERSION);
}
