//! Without the test bed, everything that needs it fails with the hint "run `make setup`":
//! never a skip, never a bare "No such file or directory".

// Test helpers outside #[test] fns are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use zdd_test_support::{INSTALL_HINT, venv_dir_at};

#[test]
fn the_demo_fails_with_the_install_hint_when_the_venv_is_missing() {
    let empty = tempfile::tempdir().unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_zdd-demo"))
        .env("ZDD_VENV", empty.path())
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the demo ran without a test bed");
    assert!(stderr.contains("run `make setup`"), "stderr: {stderr}");
    assert!(
        stderr.contains(&empty.path().join("bin/python").display().to_string()),
        "the error should name what is missing: {stderr}"
    );
}

#[test]
fn an_empty_venv_names_the_missing_python_and_the_hint() {
    let empty = tempfile::tempdir().unwrap();

    let error = venv_dir_at(empty.path()).unwrap_err().to_string();

    assert!(error.contains(INSTALL_HINT), "{error}");
    assert!(error.contains("bin/python"), "{error}");
}

#[test]
fn the_installed_test_bed_is_found() {
    // `make test` runs `make setup` first; a missing venv here must fail, not skip.
    let venv = zdd_test_support::venv_dir().unwrap();
    assert!(venv.join("bin/python").exists());
    assert!(zdd_test_support::terraform_bin().unwrap().exists());
}
