//! ffmpeg or the speech engine vanishes from `PATH` while the server runs (issue 18,
//! fault-injection suite). The server is started with `PATH` holding only a directory of
//! symlinks to the real programs; the test removes one and puts it back. `/health` names
//! the failing check (503), renders fail with the documented code and are refunded once,
//! and the same process recovers when the program is back.

use super::{assert_books_balance, Books};
use crate::support::*;
use crate::worker_support::assert_mp4;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The programs a render runs, linked into the server's `PATH`. Each must be installed
/// (scripts/install-deps.sh): a missing one fails the test.
const PROGRAMS: [&str; 4] = ["ffmpeg", "ffprobe", "flite", "espeak-ng"];

/// A directory of symlinks to the real programs, the server's whole `PATH`.
struct Programs {
    dir: PathBuf,
}

impl Programs {
    fn link(dir: &Path) -> Programs {
        std::fs::create_dir_all(dir).expect("bin dir");
        let programs = Programs {
            dir: dir.to_path_buf(),
        };
        for name in PROGRAMS {
            programs.restore(name);
        }
        programs
    }

    fn remove(&self, name: &str) {
        std::fs::remove_file(self.dir.join(name)).expect("remove the link");
    }

    fn restore(&self, name: &str) {
        let real = which(name).unwrap_or_else(|| panic!("{name} is not installed"));
        std::os::unix::fs::symlink(real, self.dir.join(name)).expect("link");
    }
}

/// Where `name` is on the test's own `PATH`.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// `/health` until the check `name` says `want`; returns the answer.
async fn wait_check(s: &Server, name: &str, want: &str) -> Resp {
    let start = Instant::now();
    loop {
        let h = s.get("/health", None).await;
        if h.json["checks"][name] == want {
            return h;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{name} check never {want}: {}",
            h.json
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// `/health` is 503 `degraded` with exactly the check `failing` failing.
#[track_caller]
fn assert_only_failing(h: &Resp, failing: &str) {
    assert_eq!(h.status, 503, "{}", h.json);
    assert_eq!(h.json["status"], "degraded", "{}", h.json);
    for check in ["database", "storage", "ffmpeg", "speech"] {
        let want = if check == failing { "failing" } else { "ok" };
        assert_eq!(h.json["checks"][check], want, "{check}: {}", h.json);
    }
}

#[tokio::test]
async fn ffmpeg_or_speech_engine_leaving_path_fails_health_and_renders_then_recovers() {
    let c = Site::new().await;
    let programs = Programs::link(&c.data_dir().join("bin"));
    let path = programs.dir.to_str().unwrap().to_string();
    let api = c
        .launch(Launch::serve(1).envs(&[
            ("PATH", path.as_str()),
            ("PEAKREEL_RENDER_PROFILE", "test"),
            ("PEAKREEL__TASKS__MAX_ATTEMPTS", "2"),
            ("PEAKREEL__TASKS__RETRY_BACKOFF_SECS", "1"),
        ]))
        .await;
    let acct = c.account("Max", 100).await;
    let key = &acct.live.key;
    let body = c.shortest_slideshow();
    assert_eq!(wait_check(&api, "ffmpeg", "ok").await.status, 200);

    // ffmpeg gone: the check fails, a render is retried and then refunded.
    programs.remove("ffmpeg");
    assert_only_failing(&wait_check(&api, "ffmpeg", "failing").await, "ffmpeg");
    let (no_ffmpeg, _) = api.create(key, &body).await;
    api.assert_task_refunded(&c, key, &no_ffmpeg, "SERVICE_ERROR")
        .await;
    assert_eq!(c.render_job(&no_ffmpeg).await, "2|failed");
    programs.restore("ffmpeg");
    assert_eq!(wait_check(&api, "ffmpeg", "ok").await.status, 200);

    // The program that speaks the voice gone: the speech check fails, and the render
    // fails once with TTS_ERROR (the engine's own retries and breaker decide, not the
    // job's), refunded.
    let speaker = speech_program(&api, key).await;
    programs.remove(&speaker);
    assert_only_failing(&wait_check(&api, "speech", "failing").await, "speech");
    let (no_speech, _) = api.create(key, &body).await;
    api.assert_task_refunded(&c, key, &no_speech, "TTS_ERROR")
        .await;
    assert_eq!(c.render_job(&no_speech).await, "1|failed");
    programs.restore(&speaker);
    assert_eq!(wait_check(&api, "speech", "ok").await.status, 200);

    // Both back: the same process renders again.
    let (ok, _) = api.create(key, &body).await;
    let done = api.wait_done(key, &ok, Duration::from_secs(300)).await;
    assert_eq!(done["status"], "completed", "{done}\n{}", c.logs());
    let video = api
        .get_url(done["result"]["video_url"].as_str().unwrap(), None)
        .await;
    assert_mp4(&video.bytes, 640, 360, c.data_dir()).await;
    assert_eq!(
        assert_books_balance(&api, &acct).await,
        Books {
            balance: 95,
            charges: 3,
            refunds: 2
        }
    );
}

/// The program that narrates the suite's voice on this server: the voice's `engine` in
/// the catalogue (Extension), which with only the programs above on `PATH` is flite (the
/// espeak-ng library runs no program, so it cannot leave `PATH`).
async fn speech_program(api: &Server, key: &str) -> String {
    let voice = api.get(&format!("/v1/voices/{VOICE}"), Some(key)).await;
    assert_eq!(voice.status, 200, "{}", voice.json);
    let engine = voice.json["engine"].as_str().expect("engine").to_string();
    assert_eq!(engine, "flite", "{}", voice.json);
    engine
}
