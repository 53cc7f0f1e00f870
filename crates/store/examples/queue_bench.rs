//! Queue throughput benchmark (bench/queue.sh), SQLite and PostgreSQL side by side: a
//! fresh database per backend, 10,000 empty jobs enqueued one by one, then N workers
//! spread over P worker *processes* (this program started again in child mode), each
//! worker looping `claim → complete` until the queue is empty. Prints the enqueue time,
//! claim+complete jobs/s, p50/p99 of claim and complete latencies, and checks that
//! exactly the enqueued jobs were completed, each once, at attempt 1 (exit status 1
//! otherwise).
//!
//! PostgreSQL is a throwaway server started here (crates/testkit) with its default,
//! durable settings (fsync and synchronous commit on), one fresh database per run.
//!
//! Usage: queue_bench [--jobs N] [--workers N[,N...]] [--processes P]
//!                    [--backends sqlite,postgres]
//! (defaults: 10000 jobs, 4 workers, 2 processes, both backends)

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use peakreel_domain::PlanTable;
use peakreel_store::open::{open, DatabaseUrl};
use peakreel_store::sqlite::SqliteStore;
use peakreel_store::{NewJob, Store};
use peakreel_testkit::postgres::Postgres;
use r2d2_sqlite::rusqlite::Connection;
use serde_json::{json, Value};

const KIND: &str = "bench";
const LEASE_SECS: i64 = 60;

struct Args {
    jobs: usize,
    workers: Vec<usize>,
    processes: usize,
    backends: Vec<String>,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Args {
    let mut args = Args {
        jobs: 10_000,
        workers: vec![4],
        processes: 2,
        backends: vec!["sqlite".into(), "postgres".into()],
    };
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let list = |v: &str| v.split(',').map(str::to_string).collect::<Vec<_>>();
        match flag.as_str() {
            "--jobs" => args.jobs = value.parse().unwrap_or_else(|_| usage("bad --jobs")),
            "--workers" => {
                args.workers = list(&value)
                    .iter()
                    .map(|w| w.parse().unwrap_or_else(|_| usage("bad --workers")))
                    .collect()
            }
            "--processes" => {
                args.processes = value.parse().unwrap_or_else(|_| usage("bad --processes"))
            }
            "--backends" => args.backends = list(&value),
            _ => usage(&format!("unknown argument {flag}")),
        }
    }
    if args.jobs == 0 || args.workers.contains(&0) || args.processes == 0 {
        usage("--jobs, --processes and every --workers value must be positive");
    }
    if args
        .backends
        .iter()
        .any(|b| b != "sqlite" && b != "postgres")
    {
        usage("--backends takes sqlite and/or postgres");
    }
    args
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "queue_bench: {msg}\nusage: queue_bench [--jobs N] [--workers N[,N...]] [--processes P] \
         [--backends sqlite,postgres]"
    );
    std::process::exit(2);
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ---------------------------------------------------------------------------------------
// Child mode: one worker process.

/// `queue_bench --child URL WORKERS NAME`: open the store, say `ready`, wait for `go` on
/// stdin, drain with WORKERS concurrent workers, print one JSON line of what was done.
async fn child(url: &str, workers: usize, name: &str) {
    let url = DatabaseUrl::parse(url).expect("database URL");
    let store = open(&url, PlanTable::default())
        .await
        .expect("open the store");
    println!("ready");
    std::io::stdout().flush().expect("stdout");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).expect("stdin");
    let mut handles = Vec::with_capacity(workers);
    for w in 0..workers {
        let (store, owner) = (store.clone(), format!("{name}-w{w}"));
        handles.push(tokio::spawn(async move { drain(store, owner).await }));
    }
    let mut out = json!({"done": [], "claim_ms": [], "complete_ms": [], "lost": 0});
    for h in handles {
        let log = h.await.expect("worker task");
        for key in ["done", "claim_ms", "complete_ms"] {
            let items = log[key].as_array().expect("array").clone();
            out[key].as_array_mut().expect("array").extend(items);
        }
        out["lost"] = json!(out["lost"].as_u64().unwrap_or(0) + log["lost"].as_u64().unwrap_or(0));
    }
    println!("{out}");
}

/// One worker: claim → complete until the queue is empty.
async fn drain(store: Arc<dyn Store>, owner: String) -> Value {
    let (mut done, mut claim, mut complete, mut lost) = (vec![], vec![], vec![], 0u64);
    loop {
        let t = Instant::now();
        let job = store.claim(&[KIND], &owner, LEASE_SECS).await;
        claim.push(ms(t.elapsed()));
        let Some(job) = job.expect("claim") else {
            break;
        };
        let lease = job.lease().expect("a claimed job has a lease");
        let t = Instant::now();
        let ok = store.complete(&lease).await.expect("complete");
        complete.push(ms(t.elapsed()));
        if ok {
            done.push(json!([job.id, job.attempt]));
        } else {
            lost += 1;
        }
    }
    json!({"done": done, "claim_ms": claim, "complete_ms": complete, "lost": lost})
}

// ---------------------------------------------------------------------------------------
// Parent mode.

/// Start `processes` children sharing `workers` between them; returns them once each is
/// connected and waiting.
fn spawn_children(url: &str, workers: usize, processes: usize) -> Vec<Child> {
    let exe = std::env::current_exe().expect("own path");
    (0..processes)
        .map(|p| {
            // Workers spread as evenly as they go: 4 over 2 processes is 2 + 2.
            let share = workers / processes + usize::from(p < workers % processes);
            let mut child = Command::new(&exe)
                .args(["--child", url, &share.to_string(), &format!("p{p}")])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("start a worker process");
            let mut line = String::new();
            BufReader::new(child.stdout.as_mut().expect("stdout"))
                .read_line(&mut line)
                .expect("child output");
            assert_eq!(line.trim(), "ready", "worker process {p} did not start");
            child
        })
        .collect()
}

/// One full run on a fresh database. Returns the problems found (empty = passed).
async fn run(
    backend: &str,
    url: &str,
    jobs: usize,
    workers: usize,
    processes: usize,
) -> Vec<String> {
    let store = open(&DatabaseUrl::parse(url).expect("URL"), PlanTable::default())
        .await
        .expect("open the store");

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
                payload: json!({}),
                run_at,
                max_attempts: 3,
            })
            .await
            .expect("enqueue");
        enqueue.push(ms(t.elapsed()));
        ids.insert(id);
    }
    let enqueue_total = started.elapsed();
    enqueue.sort_by(f64::total_cmp);

    let processes = processes.min(workers);
    let mut children = spawn_children(url, workers, processes);
    let started = Instant::now();
    for c in &mut children {
        writeln!(c.stdin.as_mut().expect("stdin"), "go").expect("start signal");
    }
    let logs: Vec<Value> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("worker process");
            assert!(out.status.success(), "a worker process failed");
            let text = String::from_utf8_lossy(&out.stdout);
            serde_json::from_str(text.lines().last().unwrap_or("")).expect("worker report")
        })
        .collect();
    let drain_total = started.elapsed();

    let floats = |key: &str| {
        let mut v: Vec<f64> = logs
            .iter()
            .flat_map(|l| l[key].as_array().cloned().unwrap_or_default())
            .filter_map(|x| x.as_f64())
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let (claim, complete) = (floats("claim_ms"), floats("complete_ms"));
    let done: Vec<(i64, u64)> = logs
        .iter()
        .flat_map(|l| l["done"].as_array().cloned().unwrap_or_default())
        .map(|d| (d[0].as_i64().unwrap_or(-1), d[1].as_u64().unwrap_or(0)))
        .collect();
    let lost: u64 = logs.iter().map(|l| l["lost"].as_u64().unwrap_or(0)).sum();
    let per_process: Vec<String> = logs
        .iter()
        .map(|l| l["done"].as_array().map_or(0, Vec::len).to_string())
        .collect();

    println!("--- {backend}: {workers} worker(s) in {processes} process(es), {jobs} jobs");
    println!(
        "enqueue:  {:8.2} s total  {:9.0} jobs/s   p50 {:6.3} ms  p99 {:6.3} ms",
        enqueue_total.as_secs_f64(),
        jobs as f64 / enqueue_total.as_secs_f64(),
        pct(&enqueue, 50.0),
        pct(&enqueue, 99.0)
    );
    println!(
        "drain:    {:8.2} s total  {:9.0} jobs/s (claim+complete)   per process [{}]",
        drain_total.as_secs_f64(),
        done.len() as f64 / drain_total.as_secs_f64(),
        per_process.join(", ")
    );
    println!(
        "claim:    p50 {:7.3} ms  p99 {:7.3} ms  max {:7.3} ms  ({} calls incl. the final empty ones)",
        pct(&claim, 50.0),
        pct(&claim, 99.0),
        claim.last().copied().unwrap_or(f64::NAN),
        claim.len()
    );
    println!(
        "complete: p50 {:7.3} ms  p99 {:7.3} ms  max {:7.3} ms  ({} calls)",
        pct(&complete, 50.0),
        pct(&complete, 99.0),
        complete.last().copied().unwrap_or(f64::NAN),
        complete.len()
    );

    // Checks: every enqueued id completed exactly once, at attempt 1, and the table agrees.
    let mut problems = Vec::new();
    let distinct: HashSet<i64> = done.iter().map(|(id, _)| *id).collect();
    if done.len() != jobs {
        problems.push(format!("{} completions, expected {jobs}", done.len()));
    }
    if distinct != ids {
        problems.push(format!(
            "{} distinct job ids completed, not exactly the {jobs} enqueued",
            distinct.len()
        ));
    }
    let retried = done.iter().filter(|(_, a)| *a != 1).count();
    if retried > 0 {
        problems.push(format!("{retried} jobs completed with attempt != 1"));
    }
    if lost > 0 {
        problems.push(format!("{lost} completes reported a lost lease"));
    }
    let counts: Vec<(String, String, i64)> = store
        .job_counts()
        .await
        .expect("count jobs")
        .into_iter()
        .filter(|(kind, _, _)| kind == KIND)
        .collect();
    if counts != vec![(KIND.to_string(), "done".to_string(), jobs as i64)] {
        problems.push(format!("table: {counts:?}; expected {jobs} done"));
    }
    println!(
        "check:    {} distinct ids completed, all at attempt 1: {}; table {counts:?}",
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
    let mut argv = std::env::args().skip(1);
    let first = argv.next();
    if first.as_deref() == Some("--child") {
        let url = argv.next().expect("URL");
        let workers = argv.next().and_then(|w| w.parse().ok()).expect("workers");
        let name = argv.next().expect("name");
        return child(&url, workers, &name).await;
    }
    let args = parse_args(first.into_iter().chain(argv));
    let dir = tempfile::tempdir().expect("temporary directory");
    println!(
        "queue_bench: {} jobs, worker counts {:?} over {} process(es), {} cores",
        args.jobs,
        args.workers,
        args.processes,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let postgres = args
        .backends
        .iter()
        .any(|b| b == "postgres")
        .then(|| Postgres::start(&[]));
    let mut failed = false;
    for backend in &args.backends {
        if backend == "sqlite" {
            println!("{}", claim_plan(dir.path()));
        }
        for (i, &workers) in args.workers.iter().enumerate() {
            let url = match (backend.as_str(), &postgres) {
                ("postgres", Some(pg)) => pg.fresh_database(),
                _ => format!(
                    "sqlite://{}",
                    dir.path().join(format!("queue-{i}.db")).display()
                ),
            };
            let problems = run(backend, &url, args.jobs, workers, args.processes).await;
            for p in &problems {
                eprintln!("FAIL ({backend}, {workers} workers): {p}");
            }
            failed |= !problems.is_empty();
        }
    }
    if failed {
        std::process::exit(1);
    }
    println!("all checks passed");
}
