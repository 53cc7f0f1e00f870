//! Local data stays private to the service's user (issue 18 part 6): the database holds
//! every webhook secret and all customer data, and stored media are customers' listings.
//! Every file the server creates is made owner-only by the process umask, so no code path
//! (SQLite's WAL and SHM files, the blob store's staging files, secrets) can forget; and
//! at start the server warns about anything looser left by an older version or an
//! operator's copy.

use crate::config::Config;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Bits no one but the owner may hold on anything under the data directory.
const GROUP_AND_OTHER: u32 = 0o077;

/// Make every file and directory this process creates from now on owner-only (files
/// 0600, directories 0700), whatever the caller's umask.
pub fn restrict_new_files() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(GROUP_AND_OTHER));
}

/// Create `dir` (and missing parents) as 0700.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// A path whose mode lets its group or others in.
#[derive(Debug, PartialEq, Eq)]
pub struct LoosePath {
    pub path: PathBuf,
    /// Permission bits, e.g. `0o644`.
    pub mode: u32,
}

/// Entries the scan looks at before it stops: a start-up check must stay quick however
/// much media is stored.
const SCAN_LIMIT: usize = 20_000;

/// Every path PeakReel keeps whose mode grants group or other access: the data directory
/// itself, the database with its `-wal` and `-shm` files, and everything under the
/// secrets directory and local media storage (other files an operator keeps in the data
/// directory are theirs). Symbolic links are not followed; missing paths are skipped.
pub fn loose_paths(config: &Config) -> Vec<LoosePath> {
    // (path, whether to look inside it)
    let mut stack = vec![
        (config.data_dir.clone(), false),
        (config.data_dir.join("secrets"), true),
    ];
    if let Ok(peakreel_blobs::StorageUrl::Local(media)) = config.storage_url() {
        stack.push((media, true));
    }
    // A PostgreSQL database keeps its files on its own server.
    if let peakreel_store::open::DatabaseUrl::Sqlite(db) = config.database() {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = db.clone().into_os_string();
            name.push(suffix);
            stack.push((PathBuf::from(name), false));
        }
    }
    let mut seen = std::collections::HashSet::new();
    let mut loose = Vec::new();
    let mut scanned = 0;
    while let Some((path, descend)) = stack.pop() {
        if scanned >= SCAN_LIMIT || !seen.insert(path.clone()) {
            continue;
        }
        scanned += 1;
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o7777;
        if !meta.file_type().is_symlink() && mode & GROUP_AND_OTHER != 0 {
            loose.push(LoosePath {
                path: path.clone(),
                mode,
            });
        }
        if descend && meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(entries.filter_map(|e| e.ok().map(|e| (e.path(), true))));
            }
        }
    }
    loose.sort_by(|a, b| a.path.cmp(&b.path));
    loose
}

/// Log one warning naming the loose paths (the first few) and the fix.
pub fn warn_about_loose_modes(config: &Config) {
    let loose = loose_paths(config);
    if loose.is_empty() {
        return;
    }
    let shown: Vec<String> = loose
        .iter()
        .take(5)
        .map(|l| format!("{} ({:o})", l.path.display(), l.mode))
        .collect();
    tracing::warn!(
        count = loose.len(),
        paths = %shown.join(", "),
        data_dir = %config.data_dir.display(),
        "data readable by other users: the database holds webhook secrets and customer data; run `chmod -R go-rwx` on these paths"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_files_and_directories_are_found_and_private_ones_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        create_private_dir(&data.join("media/tasks")).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("media/tasks")), 0o700);
        let set = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        std::fs::write(data.join("peakreel.db"), b"x").unwrap();
        set(&data.join("peakreel.db"), 0o600);
        std::fs::write(data.join("peakreel.db-wal"), b"x").unwrap();
        set(&data.join("peakreel.db-wal"), 0o640);
        std::fs::write(data.join("media/tasks/a.jpg"), b"x").unwrap();
        set(&data.join("media/tasks/a.jpg"), 0o604);
        set(&data.join("media"), 0o755);
        // Not PeakReel's: an operator's own file beside the data.
        std::fs::write(data.join("notes.txt"), b"x").unwrap();
        set(&data.join("notes.txt"), 0o644);
        let config = Config {
            data_dir: data.clone(),
            ..Config::default()
        };
        let found: Vec<(PathBuf, u32)> = loose_paths(&config)
            .into_iter()
            .map(|l| (l.path, l.mode))
            .collect();
        assert_eq!(
            found,
            [
                (data.join("media"), 0o755),
                (data.join("media/tasks/a.jpg"), 0o604),
                (data.join("peakreel.db-wal"), 0o640),
            ]
        );
    }
}
