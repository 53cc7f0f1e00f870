//! The conformance suite against `PgStore`: one throwaway PostgreSQL server for this test
//! process (crates/testkit), one fresh database per test.

mod conformance;

use async_trait::async_trait;
use conformance::Hooks;
use peakreel_domain::PlanTable;
use peakreel_store::postgres::PgStore;
use peakreel_store::{
    Accounts, AvatarRecord, JobQueue, NewJob, SharedSecrets, Store, StoreError, StoreResult,
    TaskStatus, VoiceRecord,
};
use peakreel_testkit::postgres::Postgres;
use std::sync::Arc;
use std::time::Duration;

struct Pg {
    store: PgStore,
    url: String,
}

impl Pg {
    async fn new() -> Self {
        let url = Postgres::shared().fresh_database();
        let store = PgStore::connect(&url, PlanTable::default())
            .await
            .expect("connect to the test database");
        Pg { store, url }
    }

    fn store(&self) -> &dyn Store {
        &self.store
    }

    fn shared(&self) -> Arc<dyn Store> {
        Arc::new(self.store.clone())
    }

    /// A separate connection to the same database, as an operator's `psql` would be.
    async fn raw(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .expect("raw connection");
        tokio::spawn(connection);
        client
    }
}

fn db_message(e: tokio_postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |d| d.message().to_string())
}

#[async_trait]
impl Hooks for Pg {
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
            .await
            .execute(
                "UPDATE tasks SET status = $2 WHERE id = $1",
                &[&task_id, &status.as_str()],
            )
            .await
            .expect("set task status");
        assert_eq!(n, 1, "task {task_id} exists");
    }

    async fn tamper_ledger(
        &self,
        account_id: &str,
    ) -> (Result<usize, String>, Result<usize, String>) {
        let c = self.raw().await;
        let update = c
            .execute(
                "UPDATE credit_ledger SET amount = amount + 1000 WHERE account_id = $1",
                &[&account_id],
            )
            .await
            .map(|n| n as usize)
            .map_err(db_message);
        let delete = c
            .execute(
                "DELETE FROM credit_ledger WHERE account_id = $1",
                &[&account_id],
            )
            .await
            .map(|n| n as usize)
            .map_err(db_message);
        (update, delete)
    }
}

macro_rules! store_tests {
    ($($name:ident => |$db:ident| $call:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let $db = Pg::new().await;
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

/// Processes starting together migrate once; reconnecting keeps the rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_start_migrates_once_and_keeps_data() {
    let url = Postgres::shared().fresh_database();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let url = url.clone();
        set.spawn(async move { PgStore::connect(&url, PlanTable::default()).await });
    }
    let mut stores = Vec::new();
    while let Some(r) = set.join_next().await {
        stores.push(r.unwrap().expect("every process starts"));
    }
    let account = stores[0].create_account("persist", "Pro", 7).await.unwrap();
    let again = PgStore::connect(&url, PlanTable::default()).await.unwrap();
    assert_eq!(again.balance(&account.id).await.unwrap(), 7);
    let db = Pg { store: again, url };
    let versions: Vec<i64> = db
        .raw()
        .await
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let expected: Vec<i64> = (1..=peakreel_store::postgres::SCHEMA_VERSION).collect();
    assert_eq!(versions, expected);
}

/// A job queued through one store (another process) wakes the listener of another.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queued_work_wakes_listeners_in_other_processes() {
    let db = Pg::new().await;
    let other = PgStore::connect(&db.url, PlanTable::default())
        .await
        .unwrap();
    let wake = Arc::new(tokio::sync::Notify::new());
    let listener = db
        .store
        .spawn_job_listener("render", wake.clone())
        .expect("PostgreSQL forwards notifications");
    let now = conformance::unix_now();
    // The listener connects in the background: queue until one wake-up arrives. The
    // listener never wakes by itself while connected, so the wake-up is the NOTIFY.
    let mut woken = false;
    for _ in 0..100 {
        other
            .enqueue(NewJob {
                kind: "render".into(),
                task_id: None,
                payload: serde_json::json!({}),
                run_at: now,
                max_attempts: 1,
            })
            .await
            .unwrap();
        if tokio::time::timeout(Duration::from_millis(300), wake.notified())
            .await
            .is_ok()
        {
            woken = true;
            break;
        }
    }
    listener.abort();
    assert!(woken, "no notification reached the listener");
}

/// A server that is not there: `Unavailable`, naming the cause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://nobody@127.0.0.1:{port}/none?connect_timeout=2");
    match PgStore::connect(&url, PlanTable::default()).await {
        Err(StoreError::Unavailable(why)) => {
            assert!(why.to_lowercase().contains("connect"), "{why}")
        }
        Err(e) => panic!("expected Unavailable, got {e:?}"),
        Ok(_) => panic!("connected to a closed port"),
    }
}

/// The server goes away and comes back: calls fail as `Unavailable` meanwhile (nothing
/// written), and the same store works again afterwards without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_server_is_unavailable_then_recovers() {
    let pg = Postgres::start(peakreel_testkit::postgres::TEST_OPTIONS);
    let url = pg.fresh_database();
    let store = PgStore::connect(&url, PlanTable::default()).await.unwrap();
    let account = store.create_account("outage", "Pro", 10).await.unwrap();
    store.ping().await.unwrap();

    pg.stop();
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.grant_credits(&account.id, 5, "during outage").await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.shared_secret("s", b"x".to_vec()).await,
        Err(StoreError::Unavailable(_))
    ));

    pg.resume();
    let mut back = false;
    for _ in 0..50 {
        if store.ping().await.is_ok() {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(back, "the store reconnects once the server is back");
    assert_eq!(
        store.balance(&account.id).await.unwrap(),
        10,
        "the failed grant wrote nothing"
    );
}
