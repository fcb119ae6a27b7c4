//! Holding a terraform apply open until the test says so, so that "mid-apply" is a fact and
//! not a sleep: a `local-exec` provisioner running [`HOLD_OPEN_COMMAND`] touches
//! [`STARTED_FILE`] in terraform's working directory, then waits for [`RELEASE_FILE`].

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use anyhow::Context;

use crate::process::wait_for_path;

/// Written by the provisioner once the apply is under way.
pub const STARTED_FILE: &str = "started";
/// Written by the test to let the provisioner (and the apply) finish.
pub const RELEASE_FILE: &str = "release";
/// The provisioner's shell command; it removes both files at the end, so the same directory
/// can hold open the next apply too.
pub const HOLD_OPEN_COMMAND: &str =
    "touch started; while [ ! -f release ]; do sleep 0.05; done; rm -f started release";

/// Waits (up to `limit`) until the apply run by `child` in `dir` is held open; fails early with
/// the child's output when it exits first.
pub fn wait_until_held_open(dir: &Path, child: &mut Child, limit: Duration) -> anyhow::Result<()> {
    wait_for_path(&dir.join(STARTED_FILE), child, limit)
}

/// Lets the held-open apply in `dir` go on.
pub fn release_held_open(dir: &Path) -> anyhow::Result<()> {
    let release = dir.join(RELEASE_FILE);
    std::fs::write(&release, "").with_context(|| format!("writing {}", release.display()))
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};

    use super::*;
    use crate::process::wait_with_timeout;

    #[test]
    fn the_command_holds_until_released_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("sh")
            .args(["-c", HOLD_OPEN_COMMAND])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_until_held_open(dir.path(), &mut child, Duration::from_secs(30)).unwrap();
        assert!(child.try_wait().unwrap().is_none(), "released too early");
        release_held_open(dir.path()).unwrap();
        let output = wait_with_timeout(child, Duration::from_secs(30)).unwrap();
        assert!(output.status.success());
        assert!(!dir.path().join(STARTED_FILE).exists());
        assert!(!dir.path().join(RELEASE_FILE).exists());
    }
}
