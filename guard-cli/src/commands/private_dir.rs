//! A private directory for the saved plans the guard makes: a saved plan holds every variable's
//! value, sensitive ones included, so it lives outside the working directory (which CI may
//! cache or upload), readable by this user only (mode 0700), and is deleted on every way out:
//! [`PrivateDir::remove`] on the normal paths (success, terraform's failure, a forwarded signal,
//! an error), `Drop` on the rest (an early `?`, a panic) and as a retry when `remove` failed.
//! The commands that make one install SIGINT/SIGTERM handlers first (a signal's default action
//! would skip `Drop`); only a SIGKILL leaves it, in the system's temporary directory.

use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context as _;

#[derive(Debug)]
pub struct PrivateDir {
    path: PathBuf,
    removed: bool,
}

impl PrivateDir {
    /// Creates `<tmp>/zdd-guard-<pid>-<nanos>` with mode 0700 (never an existing directory).
    pub fn create() -> anyhow::Result<PrivateDir> {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let path = std::env::temp_dir().join(format!("zdd-guard-{}-{nanos:x}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("cannot create a private directory {}", path.display()))?;
        Ok(PrivateDir {
            path,
            removed: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Deletes the directory and everything in it; on failure, `Drop` tries once more.
    pub fn remove(mut self) -> anyhow::Result<()> {
        std::fs::remove_dir_all(&self.path)
            .with_context(|| format!("cannot delete {}", self.path.display()))?;
        self.removed = true;
        Ok(())
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        if !self.removed {
            // Nothing to report to on this path; the explicit `remove` reports its errors.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn private_and_removed_explicitly_or_on_drop() {
        let dir = PrivateDir::create().unwrap();
        let path = dir.path().to_path_buf();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::write(path.join("plan.tfplan"), "secret").unwrap();
        dir.remove().unwrap();
        assert!(!path.exists());

        let dir = PrivateDir::create().unwrap();
        let path = dir.path().to_path_buf();
        std::fs::create_dir(path.join("nested")).unwrap();
        std::fs::write(path.join("nested/plan"), "secret").unwrap();
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn removed_when_a_panic_unwinds() {
        let path = std::panic::catch_unwind(|| {
            let dir = PrivateDir::create().unwrap();
            std::fs::write(dir.path().join("plan"), "secret").unwrap();
            let path = dir.path().to_path_buf();
            std::panic::panic_any(path);
        })
        .unwrap_err();
        let path = path.downcast::<PathBuf>().unwrap();
        assert!(!path.exists(), "{}", path.display());
    }
}
