//! The storage fills up (or turns read-only) while tasks render (issue 18, fault-injection
//! suite): the storage directory is a small tmpfs the test fills to the last byte or
//! remounts read-only. Renders retry, then fail with `SERVICE_ERROR` and are refunded
//! once; no half-written file is left or served; `/health` names the storage check; once
//! writes work again, the same process completes a new task without a restart.

use super::{assert_books_balance, assert_settled, Books};
use crate::support::*;
use crate::worker_support::assert_mp4;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmpfs mounted on a directory for the length of a test. Mounting needs root (the CI
/// machine runs the suite as root): a machine where it fails fails the test, with the
/// reason, rather than skipping it.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size_mib: u32) -> Tmpfs {
        std::fs::create_dir_all(dir).expect("mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size_mib}m,mode=0700"))
            .arg("tmpfs")
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a tmpfs as its storage and needs root with CAP_SYS_ADMIN: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs {
            dir: dir.to_path_buf(),
        }
    }

    /// `mount -o remount,MODE`: `ro` makes every write fail (EROFS), `rw` undoes it.
    fn remount(&self, mode: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.dir)
            .status()
            .expect("run mount")
            .success();
        assert!(ok, "remount {mode} {}", self.dir.display());
    }

    /// Writes a file that takes every byte left; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.dir.join("filler");
        let mut file = std::fs::File::create(&path).expect("create the filler");
        let chunk = vec![0u8; 1 << 20];
        loop {
            if let Err(e) = file.write_all(&chunk) {
                assert_eq!(e.raw_os_error(), Some(28), "expected ENOSPC, got {e}");
                return path;
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: a process of the test may still hold a file in it.
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// `/health` until its storage check says `want` (its slow checks are cached for a second).
async fn wait_storage_check(s: &Server, want: &str) -> Resp {
    let start = Instant::now();
    loop {
        let h = s.get("/health", None).await;
        if h.json["checks"]["storage"] == want {
            return h;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "storage check never {want}: {}",
            h.json
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Every stored file under `dir`, as paths relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                found.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn full_or_read_only_storage_fails_renders_with_refunds_and_recovers() {
    let c = Site::new().await;
    let media = c.data_dir().join("media");
    let tmpfs = Tmpfs::mount(&media, 128);
    let api = c
        .launch(Launch::serve(2).envs(&[
            ("PEAKREEL_RENDER_PROFILE", "test"),
            ("PEAKREEL__TASKS__MAX_ATTEMPTS", "2"),
            ("PEAKREEL__TASKS__RETRY_BACKOFF_SECS", "1"),
        ]))
        .await;
    let acct = c.account("Max", 100).await;
    let key = &acct.live.key;
    assert_eq!(wait_storage_check(&api, "ok").await.status, 200);

    // Two tasks accepted (their photos stored), then the storage fills up under them.
    let body = c.shortest_slideshow();
    let (first, _) = api.create(key, &body).await;
    let (second, _) = api.create(key, &body).await;
    let filler = tmpfs.fill();

    let health = wait_storage_check(&api, "failing").await;
    assert_eq!(health.status, 503, "{}", health.json);
    assert_eq!(health.json["status"], "degraded", "{}", health.json);
    assert_eq!(health.json["checks"]["database"], "ok", "{}", health.json);

    // A creation or an upload cannot store its photos: a documented 503, nothing charged,
    // no task.
    let refused = api.post(SLIDESHOW, key, &body).await;
    assert_error_no_details(&refused, 503, "SERVICE_ERROR");
    let photo = peakreel_testkit::photo_jpeg("generated-landscape.jpg");
    let upload = api
        .send(
            api.request(reqwest::Method::POST, "/v1/uploads")
                .bearer_auth(key)
                .header("content-type", "image/jpeg")
                .body(photo),
        )
        .await;
    assert_error_no_details(&upload, 503, "SERVICE_ERROR");
    // A custom voice is made (its preview sample is a convenience that could not be
    // stored: README, Voices) and narrates once space is back.
    let voice = api
        .post(
            "/v1/voices",
            key,
            &serde_json::json!({ "name": "Full", "base_voice_id": VOICE, "language": "en" }),
        )
        .await;
    assert_eq!(voice.status, 201, "{}", voice.json);
    assert!(voice.json.get("preview_url").is_none(), "{}", voice.json);
    let voice_id = voice.json["voice_id"].as_str().unwrap().to_string();
    assert!(api.log().contains("could not store a voice preview"));

    for id in [&first, &second] {
        api.assert_task_refunded(&c, key, id, "SERVICE_ERROR").await;
        assert_eq!(
            c.render_job(id).await,
            "2|failed",
            "retried once, then given up"
        );
        // Nothing half-written stays behind (or could ever be signed and served).
        let outputs = media.join(format!("tasks/{id}/output"));
        assert_eq!(files_under(&outputs), Vec::<String>::new(), "{id}");
    }
    let staged: Vec<String> = files_under(&media)
        .into_iter()
        .filter(|f| f.contains('#'))
        .collect();
    assert!(staged.is_empty(), "staging files left: {staged:?}");
    assert!(
        api.log().contains("render will be retried"),
        "{}",
        api.log()
    );
    assert_eq!(
        assert_books_balance(&api, &acct).await,
        Books {
            balance: 100,
            charges: 2,
            refunds: 2
        }
    );

    // Space returns: the same process is healthy again and renders a new task.
    std::fs::remove_file(filler).expect("remove the filler");
    assert_eq!(wait_storage_check(&api, "ok").await.status, 200);
    let mut with_voice = body.clone();
    with_voice["voice"]["voice_id"] = serde_json::json!(voice_id);
    let (third, _) = api.create(key, &with_voice).await;
    let done = api.wait_done(key, &third, Duration::from_secs(300)).await;
    assert_eq!(done["status"], "completed", "{done}\n{}", c.logs());
    let video = api
        .get_url(done["result"]["video_url"].as_str().unwrap(), None)
        .await;
    assert_eq!(video.status, 200);
    assert_mp4(&video.bytes, 640, 360, c.data_dir()).await;
    let stored = media.join(format!("tasks/{third}/output/1/video.mp4"));
    assert_eq!(std::fs::read(&stored).expect("stored video"), video.bytes);
    assert_eq!(c.ledger_of(&third).await, "charge|-5");
    assert_eq!(
        assert_books_balance(&api, &acct).await,
        Books {
            balance: 95,
            charges: 3,
            refunds: 2
        }
    );

    // Unwritable rather than full (read-only): the same path. The storage turns read-only
    // once the task (whose photos it took) is rendering.
    let (fourth, _) = api.create(key, &body).await;
    let start = Instant::now();
    while api.task(key, &fourth).await["status"] == "queued" {
        assert!(start.elapsed() < Duration::from_secs(120), "never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tmpfs.remount("ro");
    let health = wait_storage_check(&api, "failing").await;
    assert_eq!(health.status, 503, "{}", health.json);
    api.assert_task_refunded(&c, key, &fourth, "SERVICE_ERROR")
        .await;
    assert_eq!(c.render_job(&fourth).await, "2|failed");
    tmpfs.remount("rw");
    assert_eq!(wait_storage_check(&api, "ok").await.status, 200);
    assert_eq!(
        assert_books_balance(&api, &acct).await,
        Books {
            balance: 95,
            charges: 4,
            refunds: 3
        }
    );
    drop(api);
}

/// `attempt|status` of a task's render job in the SQLite database at `db`.
async fn render_job_in(db: &Path, id: &str) -> String {
    let out = tokio::process::Command::new("sqlite3")
        .arg("-cmd")
        .arg(".timeout 10000")
        .arg(db)
        .arg(format!(
            "SELECT attempt || '|' || status FROM jobs WHERE kind = 'render' AND task_id = '{id}'"
        ))
        .output()
        .await
        .expect("run sqlite3");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The whole disk fills, the database's included (the default layout keeps the SQLite
/// file beside the stored media): renders in flight cannot store their files or even
/// write that they failed, creations are refused, reads still answer. When space returns,
/// the same process finishes every accepted task and takes new ones, each charged once.
#[tokio::test]
async fn a_full_disk_under_the_database_too_loses_no_task_and_recovers() {
    let disk = tempfile::tempdir().expect("disk dir");
    let tmpfs = Tmpfs::mount(disk.path(), 128);
    let db = disk.path().join("peakreel.db");
    let c = Site::on_database(&format!("sqlite://{}", db.display())).await;
    let storage = format!("file://{}", disk.path().join("media").display());
    let api = c
        .launch(Launch::serve(2).envs(&[
            ("PEAKREEL_STORAGE", storage.as_str()),
            ("PEAKREEL_RENDER_PROFILE", "test"),
            ("PEAKREEL__TASKS__MAX_ATTEMPTS", "3"),
            ("PEAKREEL__TASKS__RETRY_BACKOFF_SECS", "1"),
            ("PEAKREEL__TASKS__LEASE_SECS", "3"),
        ]))
        .await;
    let acct = c.account("Max", 100).await;
    let key = &acct.live.key;
    let body = c.shortest_slideshow();
    let (first, _) = api.create(key, &body).await;
    let (second, _) = api.create(key, &body).await;
    for id in [&first, &second] {
        let start = Instant::now();
        while api.task(key, id).await["status"] == "queued" {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "{id} never started"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let filler = tmpfs.fill();

    let health = wait_storage_check(&api, "failing").await;
    assert_eq!(health.status, 503, "{}", health.json);
    // Creations are refused with the documented code and charge nothing; reads answer.
    let refused = api.post(SLIDESHOW, key, &body).await;
    assert_error_no_details(&refused, 503, "SERVICE_ERROR");
    let account = api.get("/v1/account", Some(key)).await;
    assert_eq!(account.status, 200, "{}", account.json);
    assert_eq!(account.json["credits"], 90, "{}", account.json);
    assert_eq!(account.json["in_flight"]["live"], 2, "{}", account.json);
    // Both renders meet the full disk; neither task is lost or ended while it lasts.
    let start = Instant::now();
    while api.log().matches("render will be retried").count() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "renders never met the full disk:\n{}",
            api.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for id in [&first, &second] {
        let t = api.task(key, id).await;
        assert!(
            matches!(t["status"].as_str(), Some("queued" | "processing")),
            "{t}"
        );
    }

    // Space returns: every accepted task ends well, and new work is taken.
    std::fs::remove_file(filler).expect("remove the filler");
    assert_eq!(wait_storage_check(&api, "ok").await.status, 200);
    let mut completed = 0;
    for id in [&first, &second] {
        let t = assert_settled(&api, &acct, id).await;
        completed += usize::from(t["status"] == "completed");
        let job = render_job_in(&db, id).await;
        assert!(job.ends_with("|done") || job.ends_with("|failed"), "{job}");
    }
    let (third, _) = api.create(key, &body).await;
    let done = assert_settled(&api, &acct, &third).await;
    assert_eq!(done["status"], "completed", "{done}\n{}", c.logs());
    let video = api
        .get_url(done["result"]["video_url"].as_str().unwrap(), None)
        .await;
    assert_mp4(&video.bytes, 640, 360, c.data_dir()).await;
    // Public voices whose preview the outage kept from storage get one without a restart.
    for voice in previews_lost_to_storage(&api.log()) {
        let start = Instant::now();
        loop {
            let v = api.get(&format!("/v1/voices/{voice}"), Some(key)).await;
            if v.json["preview_url"].is_string() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "no preview for {voice} after the outage: {}\n{}",
                v.json,
                api.log()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let books = assert_books_balance(&api, &acct).await;
    assert_eq!(
        books,
        Books {
            balance: 100 - 5 * (completed as i64 + 1),
            charges: 3,
            refunds: 2 - completed,
        }
    );
    drop(api);
    drop(c);
}

/// The voices whose preview sample was made but could not be stored, from the log.
fn previews_lost_to_storage(log: &str) -> Vec<String> {
    let mut voices: Vec<String> = log
        .lines()
        .filter(|l| l.contains("no preview for this voice") && l.contains("storage backend failed"))
        .filter_map(|l| l.split("voice_id=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect();
    voices.sort();
    voices.dedup();
    voices
}
