//! `--database-url postgres://…` end to end (issue 15, the PostgreSQL half): the admin
//! CLI, an API process and a worker process on one PostgreSQL database (started by the
//! test, crates/testkit), the start-up error of an unreachable database, and `/health`
//! and task creation while the database is down and after it returns.

use crate::support::{assert_error, Acct, Launch, Proc, Site};
use crate::worker_support::assert_mp4;
use peakreel_testkit::postgres::{Postgres, TEST_OPTIONS};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_peakreel");

/// The database name inside a `postgres://…/NAME?…` URL.
pub(crate) fn db_name(url: &str) -> &str {
    let tail = url.rsplit('/').next().expect("a path");
    tail.split('?').next().expect("a name")
}

/// `SUM(amount)` of the account's ledger, read with psql.
pub(crate) fn ledger_sum(pg: &Postgres, url: &str, acct: &Acct) -> i64 {
    pg.sql(
        db_name(url),
        &format!(
            "SELECT COALESCE(SUM(amount), 0) FROM credit_ledger WHERE account_id = '{}'",
            acct.id
        ),
    )
    .parse()
    .expect("ledger sum")
}

/// Admin CLI, `peakreel api` and `peakreel worker` as separate processes on one
/// PostgreSQL database: the task is created by one, rendered by the other, charged once,
/// and its MP4 is served (whole and by range) through a signed URL. The signing secret
/// lives in the database, not in the data directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn api_and_worker_processes_share_one_postgres() {
    let pg = Postgres::shared();
    let url = pg.fresh_database();
    let site = Site::on_database(&url).await;

    // Every admin command against PostgreSQL.
    let acct = site.account("Pro", 20).await;
    let granted = site.admin_ok(&["credits", "grant", &acct.id, "5"]).await;
    assert!(granted.contains("balance 25"), "{granted}");
    let extra = site
        .create_key(&acct.id, "live", &["--name", "spare"])
        .await;
    site.admin_ok(&["key", "revoke", &extra.id]).await;
    let listed = site.admin_ok(&["key", "list", &acct.id]).await;
    assert!(
        listed.contains(&extra.id) && listed.contains(&acct.test.id),
        "{listed}"
    );
    let shown = site
        .admin_json(&["account", "show", &acct.id, "--json"])
        .await;
    assert_eq!(shown["credits"], 25, "{shown}");
    assert_eq!(ledger_sum(pg, &url, &acct), 25);

    let api = site.launch(Launch::api()).await;
    let revoked = api.get("/v1/account", Some(&extra.key)).await;
    assert_error(&revoked, 401, "API_KEY_REVOKED");
    let worker = site
        .launch(Launch::worker(1).env("PEAKREEL_RENDER_PROFILE", "test"))
        .await;
    let health = api.get("/health", None).await;
    assert_eq!(health.json["checks"]["database"], "ok", "{}", health.json);

    let body = api.slideshow(6);
    let (id, created) = api.create(&acct.live.key, &body).await;
    assert_eq!(created["credits_charged"], 5, "{created}");
    let done = api
        .wait_done(&acct.live.key, &id, Duration::from_secs(360))
        .await;
    assert_eq!(done["status"], "completed", "{done}\n{}", site.logs());
    let video_url = done["result"]["video_url"].as_str().expect("video_url");
    let video = api.get_url(video_url, None).await;
    assert_eq!(video.status, 200);
    assert_mp4(&video.bytes, 640, 360, site.data_dir()).await;
    let part = api.get_url(video_url, Some("bytes=0-99")).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.bytes, video.bytes[..100]);

    // Charged exactly once, and the balance everyone shows is the ledger's sum.
    let db = db_name(&url);
    assert_eq!(
        pg.sql(
            db,
            &format!("SELECT kind || '|' || amount FROM credit_ledger WHERE task_id = '{id}'")
        ),
        "charge|-5"
    );
    assert_eq!(ledger_sum(pg, &url, &acct), 20);
    let account = api.get("/v1/account", Some(&acct.live.key)).await;
    assert_eq!(account.json["credits"], 20, "{}", account.json);
    assert_eq!(
        pg.sql(
            db,
            &format!("SELECT attempt || '|' || status FROM jobs WHERE kind = 'render' AND task_id = '{id}'")
        ),
        "1|done"
    );
    assert_eq!(
        pg.sql(
            db,
            "SELECT octet_length(value) FROM server_secrets WHERE name = 'file_signing'"
        ),
        "64"
    );
    assert!(
        !site.data_dir().join("secrets").exists(),
        "no secret is written to the data directory"
    );
    drop(worker);
}

/// A database that cannot be reached at start: a non-zero exit and an error naming the
/// database (password masked) and the reason, for the server and for `migrate`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_database_at_start_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://app:s3cret@127.0.0.1:{port}/peakreel?connect_timeout=2");
    let dir = tempfile::tempdir().unwrap();
    for command in ["serve", "migrate", "worker"] {
        let out = tokio::process::Command::from({
            let mut c = Command::new(BIN);
            c.args([command, "--database-url", &url, "--listen", "127.0.0.1:0"])
                .arg("--data-dir")
                .arg(dir.path())
                .env_remove("PEAKREEL_DATABASE_URL");
            c
        })
        .output()
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{command} must fail: {stderr}");
        assert!(
            stderr.contains(&format!(
                "cannot open the database postgres://app:****@127.0.0.1:{port}/peakreel"
            )),
            "{command}: {stderr}"
        );
        assert!(
            stderr.contains("database unavailable"),
            "{command}: {stderr}"
        );
        assert!(
            stderr.to_lowercase().contains("connect"),
            "{command}: {stderr}"
        );
        assert!(
            !stderr.contains("s3cret"),
            "{command}: the password leaked: {stderr}"
        );
    }
}

/// The database stops while the API runs: `/health` says the database check fails,
/// requests answer 503 `SERVICE_UNAVAILABLE` and charge nothing; when it is back the
/// same process recovers by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_database_fails_health_and_requests_then_recovers() {
    let pg = Postgres::start(TEST_OPTIONS);
    let url = pg.fresh_database();
    let site = Site::on_database(&url).await;
    let acct = site.account("Pro", 20).await;
    let api = site.launch(Launch::serve(0)).await;
    let body = api.slideshow(6);
    assert_eq!(api.get("/health", None).await.status, 200);

    pg.stop();
    let health = api.get("/health", None).await;
    assert_eq!(health.status, 503, "{}", health.json);
    assert_eq!(
        health.json["checks"]["database"], "failing",
        "{}",
        health.json
    );
    assert_eq!(health.json["status"], "degraded");
    let refused = api
        .post(crate::support::SLIDESHOW, &acct.live.key, &body)
        .await;
    let err = assert_error(&refused, 503, "SERVICE_UNAVAILABLE");
    assert!(refused.header("retry-after").is_some(), "{err}");
    let read = api.get("/v1/account", Some(&acct.live.key)).await;
    assert_error(&read, 503, "SERVICE_UNAVAILABLE");

    pg.resume();
    let mut healthy: Option<Value> = None;
    for _ in 0..100 {
        let h = api.get("/health", None).await;
        if h.status == 200 {
            healthy = Some(h.json);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let healthy = healthy.unwrap_or_else(|| panic!("never healthy again:\n{}", api.log()));
    assert_eq!(healthy["checks"]["database"], "ok");
    // Nothing was charged for the refused request; the next one goes through.
    assert_eq!(ledger_sum(&pg, &url, &acct), 20);
    assert_eq!(
        pg.sql(db_name(&url), "SELECT COUNT(*) FROM tasks"),
        "0",
        "the refused request stored no task"
    );
    let (_, created) = api.create(&acct.live.key, &body).await;
    assert_eq!(created["credits_charged"], 5);
    assert_eq!(ledger_sum(&pg, &url, &acct), 15);
}

/// Two `peakreel api` processes on one database take simultaneous requests for one
/// account: credits for one task admit exactly one, a concurrency limit of one admits
/// exactly one, and the ledger matches.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_api_processes_never_overspend_or_exceed_the_limit() {
    let pg = Postgres::shared();
    let url = pg.fresh_database();
    let site = Site::on_database(&url).await;
    let apis = [
        site.launch(Launch::api()).await,
        site.launch(Launch::api()).await,
    ];
    assert_races_admit_one(pg, &url, &apis).await;
}

/// Six simultaneous creations for one account, alternating between the two API
/// processes (on one site, sharing the database at `url`): credits for one task admit
/// exactly one (the others 403 `INSUFFICIENT_CREDITS`), a concurrency limit of one admits
/// exactly one (the others 429 `CONCURRENCY_LIMIT_EXCEEDED`), and each account ends with
/// one task, one job and one charge.
pub(crate) async fn assert_races_admit_one(pg: &Postgres, url: &str, apis: &[Proc; 2]) {
    let site = apis[0].site();
    let body = apis[0].slideshow(6);
    let race = |acct: Acct| {
        let body = body.clone();
        async move {
            let sends = (0..6).map(|i| {
                let (api, key, body) = (&apis[i % 2], acct.live.key.clone(), body.clone());
                async move { api.post(crate::support::SLIDESHOW, &key, &body).await }
            });
            futures::future::join_all(sends).await
        }
    };

    let poor = site.account("Pro", 5).await;
    let answers = race(poor.clone()).await;
    let admitted = answers.iter().filter(|r| r.status == 202).count();
    assert_eq!(
        admitted,
        1,
        "{:?}",
        answers.iter().map(|r| &r.json).collect::<Vec<_>>()
    );
    for r in answers.iter().filter(|r| r.status != 202) {
        assert_error(r, 403, "INSUFFICIENT_CREDITS");
    }
    assert_eq!(ledger_sum(pg, url, &poor), 0);

    let limited = site.account("Plus", 100).await;
    let answers = race(limited.clone()).await;
    let admitted = answers.iter().filter(|r| r.status == 202).count();
    assert_eq!(
        admitted,
        1,
        "{:?}",
        answers.iter().map(|r| &r.json).collect::<Vec<_>>()
    );
    for r in answers.iter().filter(|r| r.status != 202) {
        assert_error(r, 429, "CONCURRENCY_LIMIT_EXCEEDED");
    }
    assert_eq!(ledger_sum(pg, url, &limited), 95);
    let db = db_name(url);
    for acct in [&poor, &limited] {
        assert_eq!(
            pg.sql(
                db,
                &format!(
                    "SELECT COUNT(*) FROM tasks WHERE account_id = '{}'",
                    acct.id
                )
            ),
            "1"
        );
        assert_eq!(
            pg.sql(db, &format!(
                "SELECT COUNT(*) FROM jobs j JOIN tasks t ON t.id = j.task_id WHERE t.account_id = '{}'",
                acct.id
            )),
            "1"
        );
    }
}

/// `migrate` and `config print` name the PostgreSQL database with its password masked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_and_config_print_mask_the_password() {
    let pg = Postgres::shared();
    let bare = pg.fresh_database();
    // Trust authentication ignores the password, which only has to stay hidden.
    let url = bare.replacen("postgres://peakreel@", "postgres://peakreel:pa55word@", 1);
    let dir = tempfile::tempdir().unwrap();
    for args in [vec!["migrate"], vec!["config", "print"]] {
        let out = Command::new(BIN)
            .args(&args)
            .args(["--database-url", &url])
            .arg("--data-dir")
            .arg(dir.path())
            .env_remove("PEAKREEL_DATABASE_URL")
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(
            stdout.contains("postgres://peakreel:****@127.0.0.1:"),
            "{args:?}: {stdout}"
        );
        assert!(
            !stdout.contains("pa55word") && !stderr.contains("pa55word"),
            "{args:?}"
        );
    }
    assert_eq!(
        pg.sql(db_name(&url), "SELECT MAX(version) FROM schema_migrations"),
        peakreel_store::postgres::SCHEMA_VERSION.to_string()
    );
}
