//! Local secrets stay private (issue 18 part 6): the data directory, the database with
//! its WAL files, secrets and stored media are owner-only, and `serve` warns at start
//! about anything looser.

use crate::support::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Every entry under `dir`, depth first; nothing for a directory that does not exist
/// (the signing secret now lives in the database, so `secrets/` is made only by older
/// installations) or that a render removed while it was walked.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

const WARNING: &str = "data readable by other users";

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn private(dir: &Path) {
    set_mode(dir, 0o700);
}

#[tokio::test]
async fn a_new_data_directory_and_everything_in_it_is_owner_only() {
    // `migrate` on a directory that does not exist yet creates it, and its parent, 0700,
    // whatever umask the operator's shell has (this test's is inherited).
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("fresh/data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_peakreel"))
        .args(["migrate", "--data-dir"])
        .arg(&data)
        .env("PEAKREEL_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&root.path().join("fresh")), 0o700);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("peakreel.db")), 0o600);

    // A server that stores a voice preview and a task's inputs, on a data directory
    // the suite created (made owner-only here, as `serve` would have made it).
    let site = Site::new().await;
    private(site.data_dir());
    let s = site.launch(Launch::serve(0)).await;
    let a = s.account("Max", 100).await;
    let voice = serde_json::json!({ "name": "Calm", "base_voice_id": VOICE, "language": "en" });
    let r = s.post("/v1/voices", &a.live.key, &voice).await;
    assert_eq!(r.status, 201, "{}", r.json);
    let (task_id, _) = s.create(&a.live.key, &s.slideshow(6)).await;
    let dir = s.data_dir();
    // While the server runs, SQLite's WAL and shared-memory files exist.
    for name in ["peakreel.db", "peakreel.db-wal", "peakreel.db-shm"] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    let media = dir.join("media");
    let stored = walk(&media);
    assert!(
        stored
            .iter()
            .any(|p| p.to_string_lossy().contains(&task_id)),
        "the task's inputs are stored: {stored:?}"
    );
    for path in stored.iter().chain(walk(&dir.join("secrets")).iter()) {
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(path), want, "{}", path.display());
    }
    assert_eq!(mode(&media), 0o700);
    assert!(!s.log().contains(WARNING), "{}", s.log());
}

#[tokio::test]
async fn serve_warns_at_start_about_looser_modes() {
    let site = Site::new().await;
    private(site.data_dir());
    let first = site.launch(Launch::serve(0)).await;
    assert!(!first.log().contains(WARNING), "{}", first.log());
    drop(first);
    let db = site.db_path();
    set_mode(&db, 0o644);
    set_mode(&site.data_dir().join("media"), 0o755);
    let second = site.launch(Launch::serve(0)).await;
    let log = second.log();
    let line = log
        .lines()
        .find(|l| l.contains(WARNING))
        .unwrap_or_else(|| panic!("no warning in:\n{log}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains(&format!("{} (644)", db.display())), "{line}");
    assert!(line.contains("media (755)"), "{line}");
    assert!(line.contains("count=2"), "{line}");
    // The warning changes nothing: the operator decides.
    assert_eq!(mode(&db), 0o644);
    // The server still serves.
    let r = second.get("/health", None).await;
    assert!(r.status == 200 || r.status == 503, "{}", r.status);
}
