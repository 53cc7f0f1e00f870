//! Queue throughput benchmark (bench/queue.sh): a fresh SQLite file, 10,000 empty jobs
//! enqueued one by one, then N concurrent workers (tokio tasks) each looping
//! `claim → complete` until the queue is empty. Prints the enqueue time, claim+complete
//! jobs/s, p50/p99 of claim and complete latencies, and checks that exactly the enqueued
//! jobs were completed, each once, at attempt 1 (exit status 1 otherwise).
//!
//! Usage: queue_bench [--jobs N] [--workers N[,N...]]   (default: 10000 jobs, workers 4,1)

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use peakreel_domain::PlanTable;
use peakreel_store::sqlite::SqliteStore;
use peakreel_store::{JobQueue, NewJob};
use r2d2_sqlite::rusqlite::Connection;

const KIND: &str = "bench";
const LEASE_SECS: i64 = 60;

struct Args {
    jobs: usize,
    workers: Vec<usize>,
}

fn parse_args() -> Args {
    let mut args = Args {
        jobs: 10_000,
        workers: vec![4, 1],
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--jobs" => args.jobs = value.parse().unwrap_or_else(|_| usage("bad --jobs")),
            "--workers" => {
                args.workers = value
                    .split(',')
                    .map(|w| w.parse().unwrap_or_else(|_| usage("bad --workers")))
                    .collect()
            }
            _ => usage(&format!("unknown argument {flag}")),
        }
    }
    if args.jobs == 0 || args.workers.is_empty() || args.workers.contains(&0) {
        usage("--jobs and every --workers value must be positive");
    }
    args
}

fn usage(msg: &str) -> ! {
    eprintln!("queue_bench: {msg}\nusage: queue_bench [--jobs N] [--workers N[,N...]]");
    std::process::exit(2);
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// What one worker saw: the completed (job id, attempt) pairs and per-call latencies.
#[derive(Default)]
struct WorkerLog {
    done: Vec<(i64, u32)>,
    claim: Vec<Duration>,
    complete: Vec<Duration>,
    lost: usize,
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One full run on a fresh database file. Returns the problems found (empty = passed).
async fn run(dir: &Path, jobs: usize, workers: usize) -> Vec<String> {
    let path = dir.join(format!("queue-{workers}w.db"));
    let store = Arc::new(SqliteStore::open(&path, PlanTable::default()).expect("open the store"));

    // Enqueue, one statement per job as the API does (sequential: the figure is latency).
    let run_at = unix_now();
    let mut enqueue = Vec::with_capacity(jobs);
    let mut ids = HashSet::with_capacity(jobs);
    let started = Instant::now();
    for _ in 0..jobs {
        let t = Instant::now();
        let id = store
            .enqueue(NewJob {
                kind: KIND.into(),
                task_id: None,
                payload: serde_json::json!({}),
                run_at,
                max_attempts: 3,
            })
            .await
            .expect("enqueue");
        enqueue.push(t.elapsed());
        ids.insert(id);
    }
    let enqueue_total = started.elapsed();
    enqueue.sort();

    // Drain with `workers` concurrent claimers.
    let started = Instant::now();
    let mut handles = Vec::with_capacity(workers);
    for w in 0..workers {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let owner = format!("bench-w{w}");
            let mut log = WorkerLog::default();
            loop {
                let t = Instant::now();
                let job = store.claim(&[KIND], &owner, LEASE_SECS).await;
                log.claim.push(t.elapsed());
                let Some(job) = job.expect("claim") else {
                    break;
                };
                let lease = job.lease().expect("a claimed job has a lease");
                let t = Instant::now();
                let ok = store.complete(&lease).await.expect("complete");
                log.complete.push(t.elapsed());
                if ok {
                    log.done.push((job.id, job.attempt));
                } else {
                    log.lost += 1;
                }
            }
            log
        }));
    }
    let mut logs = Vec::with_capacity(workers);
    for h in handles {
        logs.push(h.await.expect("worker task"));
    }
    let drain_total = started.elapsed();

    let mut claim: Vec<Duration> = logs.iter().flat_map(|l| l.claim.iter().copied()).collect();
    let mut complete: Vec<Duration> = logs
        .iter()
        .flat_map(|l| l.complete.iter().copied())
        .collect();
    claim.sort();
    complete.sort();
    let done: Vec<(i64, u32)> = logs.iter().flat_map(|l| l.done.iter().copied()).collect();
    let lost: usize = logs.iter().map(|l| l.lost).sum();
    let per_worker: Vec<String> = logs.iter().map(|l| l.done.len().to_string()).collect();

    println!("--- {workers} worker(s), {jobs} jobs, {}", path.display());
    println!(
        "enqueue:  {:8.2} s total  {:9.0} jobs/s   p50 {:6.3} ms  p99 {:6.3} ms",
        enqueue_total.as_secs_f64(),
        jobs as f64 / enqueue_total.as_secs_f64(),
        pct(&enqueue, 50.0),
        pct(&enqueue, 99.0)
    );
    println!(
        "drain:    {:8.2} s total  {:9.0} jobs/s (claim+complete)   per worker [{}]",
        drain_total.as_secs_f64(),
        done.len() as f64 / drain_total.as_secs_f64(),
        per_worker.join(", ")
    );
    println!(
        "claim:    p50 {:7.3} ms  p99 {:7.3} ms  max {:7.3} ms  ({} calls incl. the final empty ones)",
        pct(&claim, 50.0),
        pct(&claim, 99.0),
        claim.last().copied().map(ms).unwrap_or(f64::NAN),
        claim.len()
    );
    println!(
        "complete: p50 {:7.3} ms  p99 {:7.3} ms  max {:7.3} ms  ({} calls)",
        pct(&complete, 50.0),
        pct(&complete, 99.0),
        complete.last().copied().map(ms).unwrap_or(f64::NAN),
        complete.len()
    );

    // Checks: every enqueued id completed exactly once, at attempt 1, and the table agrees.
    let mut problems = Vec::new();
    let distinct: HashSet<i64> = done.iter().map(|(id, _)| *id).collect();
    if done.len() != jobs {
        problems.push(format!("{} completions, expected {jobs}", done.len()));
    }
    if distinct.len() != jobs {
        problems.push(format!(
            "{} distinct job ids completed, expected {jobs}",
            distinct.len()
        ));
    }
    if distinct != ids {
        problems.push("completed ids differ from the enqueued ids".into());
    }
    let retried = done.iter().filter(|(_, a)| *a != 1).count();
    if retried > 0 {
        problems.push(format!("{retried} jobs completed with attempt != 1"));
    }
    if lost > 0 {
        problems.push(format!("{lost} completes reported a lost lease"));
    }
    let conn = Connection::open(&path).expect("open for checking");
    let (rows, done_rows, attempt1): (i64, i64, i64) = conn
        .query_row(
            "SELECT count(*), count(*) FILTER (WHERE status = 'done'),
                    count(*) FILTER (WHERE status = 'done' AND attempt = 1) FROM jobs WHERE kind = ?1",
            [KIND],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("count jobs");
    if (rows, done_rows, attempt1) != (jobs as i64, jobs as i64, jobs as i64) {
        problems.push(format!(
            "table: {rows} rows, {done_rows} done, {attempt1} done at attempt 1; expected {jobs} each"
        ));
    }
    println!(
        "check:    {} distinct ids completed, all at attempt 1: {}; table {rows} rows / {done_rows} done",
        distinct.len(),
        if retried == 0 { "yes" } else { "NO" }
    );
    problems
}

/// The plan SQLite (the bundled version the store links) picks for the claim's subquery.
fn claim_plan(dir: &Path) -> String {
    let path = dir.join("plan.db");
    drop(SqliteStore::open(&path, PlanTable::default()).expect("open the store"));
    let conn = Connection::open(&path).expect("open");
    let version: String = conn
        .query_row("SELECT sqlite_version()", [], |r| r.get(0))
        .expect("version");
    let mut stmt = conn
        .prepare(
            "EXPLAIN QUERY PLAN
             UPDATE jobs SET status = 'running', attempt = attempt + 1, lease_owner = ?, lease_expires_at = ?
             WHERE id = (SELECT id FROM jobs
                         WHERE kind IN (?) AND status IN ('queued', 'running')
                           AND ((status = 'queued' AND run_at <= ?) OR (status = 'running' AND lease_expires_at < ?))
                         ORDER BY run_at, id LIMIT 1)",
        )
        .expect("prepare the plan query");
    let lines: Vec<String> = stmt
        .query_map(["o", "1", KIND, "1", "1"], |r| r.get::<_, String>(3))
        .expect("plan")
        .map(|r| format!("  {}", r.expect("plan row")))
        .collect();
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' ORDER BY name")
        .expect("list indexes");
    let indexes: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .expect("indexes")
        .map(|r| r.expect("index row"))
        .collect();
    format!(
        "SQLite {version}, jobs indexes [{}], claim plan (the query of sqlite/queue.rs):\n{}",
        indexes.join(", "),
        lines.join("\n")
    )
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = parse_args();
    let dir = tempfile::tempdir().expect("temporary directory");
    println!(
        "queue_bench: {} jobs, worker counts {:?}, {} cores",
        args.jobs,
        args.workers,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("{}", claim_plan(dir.path()));
    let mut failed = false;
    for &workers in &args.workers {
        let problems = run(dir.path(), args.jobs, workers).await;
        for p in &problems {
            eprintln!("FAIL ({workers} workers): {p}");
        }
        failed |= !problems.is_empty();
    }
    if failed {
        std::process::exit(1);
    }
    println!("all checks passed");
}
