//! The files of one render: its temporary work directory, the half-written output, and
//! the optional copy of the work files for inspection (`PEAKREEL_RENDER_KEEP`).

use std::path::{Path, PathBuf};

/// The render's temporary directory, removed on every exit path. A render that ends early
/// drops its futures, but work already handed to a blocking thread (generating the
/// music, a file write) runs on and may write into the directory while it is being
/// removed; the removal is then tried again once such work has had time to finish.
pub(crate) struct WorkDir(pub Option<tempfile::TempDir>);

impl WorkDir {
    pub fn path(&self) -> &Path {
        self.0.as_ref().expect("present until dropped").path()
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let Some(dir) = self.0.take() else { return };
        let path = dir.path().to_path_buf();
        if dir.close().is_ok() && !path.exists() {
            return;
        }
        std::thread::spawn(move || {
            for _ in 0..40 {
                std::thread::sleep(std::time::Duration::from_millis(250));
                if std::fs::remove_dir_all(&path).is_ok() || !path.exists() {
                    return;
                }
            }
        });
    }
}

/// The half-written output. Removed when dropped: after an error, and also when the
/// render future itself is dropped mid-encode (time limit, cancelled task). After the
/// rename it no longer exists and the removal is a no-op.
pub(crate) struct PartFile(pub PathBuf);

impl Drop for PartFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(crate) fn part_path(output: &Path) -> PathBuf {
    let mut name = output.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    output.with_file_name(name)
}

/// `PEAKREEL_RENDER_KEEP=DIR`: a copy of the work directory (graph, ASS, audio) to
/// inspect or re-run by hand. The temporary directory itself is still removed.
pub(crate) fn keep_work_files(dir: &Path) -> std::io::Result<()> {
    let Some(keep) = std::env::var_os("PEAKREEL_RENDER_KEEP") else {
        return Ok(());
    };
    let keep = PathBuf::from(keep);
    std::fs::create_dir_all(&keep)?;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_file() {
            std::fs::copy(e.path(), keep.join(e.file_name()))?;
        }
    }
    Ok(())
}
