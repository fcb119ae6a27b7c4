//! `zdd-guard drift` cancelled by CI: a SIGTERM or SIGINT to the guard while terraform plans
//! stops terraform, deletes the private directory holding the saved plan (it holds every
//! variable's value) and exits 1 ("terraform failed"). A fake terraform stands in: no AWS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::Pid;
use zdd_test_support::{send_signal, wait_with_timeout};

/// `plan ... -out=PATH` writes PATH, then `$MARKER` (its pid and PATH), then sleeps as itself.
const FAKE_TERRAFORM: &str = r#"#!/bin/sh
out=""
for arg in "$@"; do
  case "$arg" in -out=*) out="${arg#-out=}" ;; esac
done
case "$1" in
  plan)
    echo "secret" > "$out"
    printf '%s\n%s\n' "$$" "$out" > "$MARKER.tmp"
    mv "$MARKER.tmp" "$MARKER"
    exec sleep 30
    ;;
  show) echo '{"format_version":"1.2"}' ;;
  version) echo "Terraform v1.9.0" ;;
esac
exit 0
"#;

/// Whether process `pid` exists (kill(2) with signal 0; a zombie counts until reaped).
fn alive(pid: &str) -> bool {
    let pid = Pid::from_raw(pid.parse().unwrap()).unwrap();
    rustix::process::test_kill_process(pid).is_ok()
}

fn leftovers(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect()
}

fn cancelled_drift_leaves_no_plan(signal: &str) {
    let root = tempfile::tempdir().unwrap();
    let bin = root.path().join("bin");
    let tmp = root.path().join("tmp");
    let work = root.path().join("work");
    for dir in [&bin, &tmp, &work] {
        std::fs::create_dir(dir).unwrap();
    }
    let terraform = bin.join("terraform");
    std::fs::write(&terraform, FAKE_TERRAFORM).unwrap();
    std::fs::set_permissions(&terraform, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(work.join("main.tf"), "terraform {}\n").unwrap();
    let marker = root.path().join("planning");

    let guard = Command::new(env!("CARGO_BIN_EXE_zdd-guard"))
        .arg("drift")
        .current_dir(&work)
        .env("TERRAFORM", &terraform)
        .env("TMPDIR", &tmp)
        .env("MARKER", &marker)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = guard.id();

    let started = Instant::now();
    while !marker.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "terraform plan never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let planning = std::fs::read_to_string(&marker).unwrap();
    let (terraform_pid, plan) = planning.trim().split_once('\n').unwrap();
    let plan = PathBuf::from(plan);
    assert!(plan.starts_with(&tmp), "{}", plan.display());
    assert!(plan.exists(), "{}", plan.display());

    send_signal(pid, signal).unwrap();
    let output = wait_with_timeout(guard, Duration::from_secs(20)).unwrap();
    let terraform_left = alive(terraform_pid);
    if terraform_left {
        let _ = send_signal(terraform_pid.parse().unwrap(), "KILL");
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        leftovers(&tmp),
        Vec::<PathBuf>::new(),
        "the saved plan was left in TMPDIR after SIG{signal}; stderr:\n{stderr}"
    );
    assert!(!terraform_left, "terraform still runs after SIG{signal}");
    assert_eq!(
        output.status.code(),
        Some(1),
        "exit status {} after SIG{signal}; stderr:\n{stderr}",
        output.status
    );
}

#[test]
fn sigterm_during_drift_stops_terraform_and_deletes_the_saved_plan() {
    cancelled_drift_leaves_no_plan("TERM");
}

#[test]
fn sigint_during_drift_stops_terraform_and_deletes_the_saved_plan() {
    cancelled_drift_leaves_no_plan("INT");
}
