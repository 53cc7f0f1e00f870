//! Several machines, one system (issue 15): `peakreel api` and `peakreel worker`
//! processes with data directories of their own, sharing one PostgreSQL database and
//! one S3 bucket (moto), both started by the test. A worker is killed mid-render and
//! started again; a worker loses the database mid-render and resumes; two API processes
//! take racing requests.

use crate::postgres::{assert_races_admit_one, db_name, ledger_sum};
use crate::storage_s3::on_s3;
use crate::support::{Acct, Launch, Proc, Site};
use crate::worker_support::assert_mp4;
use peakreel_testkit::postgres::{Postgres, TEST_OPTIONS};
use peakreel_testkit::s3::S3Server;
use serde_json::Value;
use std::time::{Duration, Instant};

const RENDER_LIMIT: Duration = Duration::from_secs(300);
/// Short enough that the killed worker's task is taken over soon, long enough for a
/// heartbeat (every lease/3) on a loaded machine.
const LEASE: (&str, &str) = ("PEAKREEL__TASKS__LEASE_SECS", "6");
/// Links point at the API, which streams from the bucket: the download goes through
/// the API's own signature check and range handling.
const PROXIED: (&str, &str) = ("PEAKREEL__FILE_DOWNLOADS", "proxied");
const PREFIX: &str = "cluster";

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// The id of a task that the process `pid` has leased and that is `processing`, once
/// there is one.
async fn task_leased_by(pg: &Postgres, db: &str, pid: u32, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        // Lease owners are `HOST-PID-wN-RANDOM` (src/main.rs).
        let found = pg.sql(
            db,
            &format!(
                "SELECT t.id FROM jobs j JOIN tasks t ON t.id = j.task_id \
                 WHERE j.kind = 'render' AND j.status = 'running' AND t.status = 'processing' \
                 AND j.lease_owner LIKE '%-{pid}-w%' LIMIT 1"
            ),
        );
        if !found.is_empty() {
            return found;
        }
        assert!(
            start.elapsed() < limit,
            "process {pid} leased no task within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `attempt|status` of the task's render job.
fn render_job(pg: &Postgres, db: &str, id: &str) -> String {
    pg.sql(
        db,
        &format!(
            "SELECT attempt || '|' || status FROM jobs WHERE kind = 'render' AND task_id = '{id}'"
        ),
    )
}

/// The task's ledger rows as `kind|amount` lines.
fn ledger_of(pg: &Postgres, db: &str, id: &str) -> String {
    pg.sql(
        db,
        &format!(
            "SELECT kind || '|' || amount FROM credit_ledger WHERE task_id = '{id}' ORDER BY id"
        ),
    )
}

/// Every account's balance, as both API processes show it, is its ledger's sum, and
/// that sum is what it started with less 5 credits per task.
async fn assert_balances(pg: &Postgres, url: &str, apis: &[Proc], accts: &[(Acct, i64)]) {
    for (acct, expected) in accts {
        assert_eq!(
            ledger_sum(pg, url, acct),
            *expected,
            "ledger of {}",
            acct.id
        );
        for api in apis {
            let shown = api.get("/v1/account", Some(&acct.live.key)).await;
            assert_eq!(shown.json["credits"], *expected, "{}", shown.json);
        }
    }
}

/// A completed task's MP4, downloaded through the signed link `from` handed out but
/// from the API process `via` (the signing secret is shared through the database): a
/// range first (206, the bucket's bytes), then whole; it probes as a valid 640×360 MP4
/// as long as the task says, and it is the only video of the task in the bucket, stored
/// under the attempt that completed it.
async fn assert_video(s3: &S3Server, bucket: &str, from: &Proc, via: &Proc, task: &Value) {
    let id = s(&task["task_id"]);
    let link = s(&task["result"]["video_url"]);
    let path = link
        .strip_prefix(from.base())
        .unwrap_or_else(|| panic!("not a link to {}: {link}", from.base()));
    let link = via.url(path);

    let videos: Vec<(String, u64)> = s3
        .objects(bucket, &format!("{PREFIX}/tasks/{id}/output/"))
        .await
        .into_iter()
        .filter(|(k, _)| k.ends_with("/video.mp4"))
        .collect();
    assert_eq!(
        videos.len(),
        1,
        "one video of {id} in the bucket: {videos:?}"
    );
    let (key, size) = &videos[0];
    let stored = s3.object(bucket, key).await;
    assert_eq!(stored.len() as u64, *size);

    let part = via.get_url(&link, Some("bytes=1000-4999")).await;
    assert_eq!(part.status, 206, "{}", String::from_utf8_lossy(&part.bytes));
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 1000-4999/{size}").as_str())
    );
    assert_eq!(part.bytes, stored[1000..5000]);

    let whole = via.get_url(&link, None).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.bytes, stored, "the API serves the bucket's object");
    let probed = assert_mp4(&whole.bytes, 640, 360, via.data_dir()).await;
    let duration = task["result"]["duration_seconds"]
        .as_f64()
        .expect("duration_seconds");
    assert!(
        (probed - duration).abs() <= 0.5,
        "{probed} s vs {duration} s"
    );
}

/// One `api` pair and two `worker` processes, each with its own data directory, on one
/// database and one bucket; 8 live renders for two accounts; one worker is `kill -9`ed
/// (with its ffmpeg) while it renders and started again. Every task completes once
/// (its render job done, retried only for the killed one), every account is charged
/// once per task and its balance is its ledger's sum, every MP4 downloads by range
/// through a signed link of one API from the other, and the bucket holds exactly one
/// video per task.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn api_and_two_workers_share_postgres_and_s3_through_a_worker_crash() {
    let pg = Postgres::shared();
    let url = pg.fresh_database();
    let db = db_name(&url);
    let s3 = S3Server::start().await;
    let bucket = s3.create_bucket().await;
    let cluster = |l: Launch| on_s3(l, &s3, &bucket, PREFIX).envs(&[LEASE, PROXIED]);

    let front = Site::on_database(&url).await;
    let back = [Site::on_database(&url).await, Site::on_database(&url).await];
    let apis = [
        front.launch(cluster(Launch::api())).await,
        front.launch(cluster(Launch::api())).await,
    ];
    let mut workers = [
        back[0].launch(cluster(Launch::worker(1))).await,
        back[1].launch(cluster(Launch::worker(1))).await,
    ];

    let accts = [
        front.account("Max", 100).await,
        front.account("Max", 60).await,
    ];
    let body = front.shortest_slideshow();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let acct = &accts[i % 2];
        let (id, created) = apis[i % 2].create(&acct.live.key, &body).await;
        assert_eq!(created["credits_charged"], 5, "{created}");
        tasks.push((id, acct.clone(), i % 2));
    }

    // Kill the first worker, with its render processes, in the middle of a render.
    let doomed = workers[0].pid();
    let killed = task_leased_by(pg, db, doomed, RENDER_LIMIT).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(render_job(pg, db, &killed), "1|running");
    workers[0].signal_group("KILL");
    let status = workers[0].wait_exit(Duration::from_secs(30)).await;
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    workers[0] = back[0].launch(cluster(Launch::worker(1))).await;

    for (id, acct, api) in &tasks {
        let t = apis[*api].wait_done(&acct.live.key, id, RENDER_LIMIT).await;
        assert_eq!(
            t["status"],
            "completed",
            "{t}\n{}\n{}\n{}",
            front.logs(),
            back[0].logs(),
            back[1].logs()
        );
        let expected_job = if *id == killed { "2|done" } else { "1|done" };
        assert_eq!(render_job(pg, db, id), expected_job, "task {id}");
        assert_eq!(ledger_of(pg, db, id), "charge|-5", "task {id}");
        assert_video(&s3, &bucket, &apis[*api], &apis[1 - *api], &t).await;
    }
    assert!(
        back[0].logs().contains(&killed),
        "the killed worker had started {killed}"
    );
    // Both machines rendered: the queue spread the work.
    for site in &back {
        let rendered = tasks
            .iter()
            .filter(|(id, _, _)| {
                site.logs()
                    .contains(&format!("render finished task_id={id}"))
            })
            .count();
        assert!(rendered > 0, "a worker rendered nothing:\n{}", site.logs());
    }
    assert_balances(
        pg,
        &url,
        &apis,
        &[(accts[0].clone(), 100 - 20), (accts[1].clone(), 60 - 20)],
    )
    .await;
    // Nothing of the cluster's was kept only on one machine.
    for site in back.iter().chain([&front]) {
        assert!(!site.data_dir().join("media").exists());
    }
}

/// The race tests of postgres.rs with S3 storage: two API processes on one database and
/// one bucket never admit more than the credits or the concurrency limit allow.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_api_processes_on_s3_never_overspend_or_exceed_the_limit() {
    let pg = Postgres::shared();
    let url = pg.fresh_database();
    let s3 = S3Server::start().await;
    let bucket = s3.create_bucket().await;
    let site = Site::on_database(&url).await;
    let apis = [
        site.launch(on_s3(Launch::api(), &s3, &bucket, PREFIX))
            .await,
        site.launch(on_s3(Launch::api(), &s3, &bucket, PREFIX))
            .await,
    ];
    assert_races_admit_one(pg, &url, &apis).await;
    // The one admitted task of each race stored its inputs in the bucket.
    let inputs = s3.objects(&bucket, &format!("{PREFIX}/tasks/")).await;
    assert_eq!(inputs.len(), 2 * 6, "{inputs:?}");
}

/// A worker loses the database in the middle of a render (the server stops and stays
/// down until the render has finished, so the result's write meets the outage). The
/// API's `/health` answers 503 naming the database, a creation answers 503
/// `SERVICE_UNAVAILABLE` and charges and stores nothing; when the database returns the
/// worker writes the result it kept: the task completes on its first attempt, charged
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn worker_keeps_its_render_through_a_database_outage() {
    let pg = Postgres::start(TEST_OPTIONS);
    let url = pg.fresh_database();
    let db = db_name(&url);
    let site = Site::on_database(&url).await;
    let acct = site.account("Max", 100).await;
    let api = site.launch(Launch::api()).await;
    let worker = site
        .launch(Launch::worker(1).env("PEAKREEL_RENDER_PROFILE", "test"))
        .await;
    let body = site.shortest_slideshow();
    let (id, _) = api.create(&acct.live.key, &body).await;
    task_leased_by(&pg, db, worker.pid(), RENDER_LIMIT).await;

    pg.stop();
    let health = api.get("/health", None).await;
    assert_eq!(health.status, 503, "{}", health.json);
    assert_eq!(
        health.json["checks"]["database"], "failing",
        "{}",
        health.json
    );
    let refused = api
        .post(crate::support::SLIDESHOW, &acct.live.key, &body)
        .await;
    let code = refused.json["error"]["code"].as_str().unwrap_or_default();
    assert!(
        refused.status == 503 && ["SERVICE_UNAVAILABLE", "QUEUE_ERROR"].contains(&code),
        "{} {}",
        refused.status,
        refused.json
    );
    crate::support::assert_error(&refused, 503, code);
    worker
        .wait_log(&[&format!("render finished task_id={id}")], RENDER_LIMIT)
        .await;
    worker
        .wait_log(
            &["database unavailable; the attempt's end is kept"],
            RENDER_LIMIT,
        )
        .await;

    pg.resume();
    let done = api.wait_done(&acct.live.key, &id, RENDER_LIMIT).await;
    assert_eq!(done["status"], "completed", "{done}\n{}", site.logs());
    assert_eq!(
        render_job(&pg, db, &id),
        "1|done",
        "kept, not rendered again"
    );
    assert_eq!(ledger_of(&pg, db, &id), "charge|-5");
    assert_eq!(
        pg.sql(db, "SELECT COUNT(*) FROM tasks"),
        "1",
        "the refused request stored no task"
    );
    assert_balances(&pg, &url, std::slice::from_ref(&api), &[(acct, 95)]).await;
    let video = site
        .get_url(s(&done["result"]["video_url"]), Some("bytes=0-99"))
        .await;
    assert_eq!(video.status, 206);
    assert_eq!(video.bytes.len(), 100);
}
