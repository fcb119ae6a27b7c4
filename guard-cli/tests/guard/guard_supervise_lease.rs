//! A lease lost while terraform runs stops terraform the way a Ctrl-C does (issue #11, item 2):
//! the supervise loop forwards SIGINT to it and counts a stop request, without any AWS. A
//! terraform that has not stopped by the lease's expiry is killed with its process group (issue
//! #15: from then on another run may take the lease over and remove terraform's lock), in the
//! supervise loop and through the binary, with a lease taken by someone else mid-apply.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use zdd_guard::commands::lease::LeaseLost;
use zdd_guard::commands::supervise::{Signals, supervise};
use zdd_guard::output::Reporter;
use zdd_test_support::{Signal, signal_group, terraform_bin, wait_with_timeout};

use crate::guard_support::{Bed, Locking, children_of, expired_lease, held_open, text};

fn lost_with_deadline_in(delay: Duration) -> Option<LeaseLost> {
    Some(LeaseLost {
        reason: "the lease is gone (test)".to_string(),
        terraform_gone_by: SystemTime::now() + delay,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_lease_forwards_sigint_to_terraform() {
    let mut signals = Signals::install().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let child = tokio::process::Command::new("sh")
        .args([
            "-c",
            &format!(
                "trap 'exit 7' INT; touch '{}'; while :; do sleep 0.05; done",
                ready.display()
            ),
        ])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    while !ready.exists() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let reporter = Reporter::new(false);
    let (lost_sender, mut lost) = watch::channel(None);
    let supervised = supervise(
        child,
        None,
        Duration::from_millis(20),
        &mut signals,
        &mut lost,
        &reporter,
    );
    let lose = async {
        lost_sender
            .send(lost_with_deadline_in(Duration::from_secs(3600)))
            .unwrap();
    };
    // The bound only turns a hang into a failure.
    let (code, ()) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(supervised, lose)
    })
    .await
    .expect("terraform was not stopped when the lease was lost");
    assert_eq!(code.unwrap(), Some(7), "terraform's stand-in got SIGINT");
    assert_eq!(
        signals.received, 1,
        "counted as a stop request, as a Ctrl-C is"
    );
}

/// Whether `pid` still runs (a zombie waiting for its reaper does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terraform_that_ignores_the_stop_is_killed_at_the_lost_leases_expiry() {
    let mut signals = Signals::install().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    // Its own process group, as the runner starts terraform.
    let child = tokio::process::Command::new("sh")
        .args([
            "-c",
            &format!(
                "trap '' INT; touch '{}'; while :; do sleep 0.05; done",
                ready.display()
            ),
        ])
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    while !ready.exists() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let reporter = Reporter::new(false);
    let (lost_sender, mut lost) = watch::channel(None);
    lost_sender
        .send(lost_with_deadline_in(Duration::from_millis(300)))
        .unwrap();
    // The bound only turns a hang into a failure.
    let code = tokio::time::timeout(
        Duration::from_secs(60),
        supervise(
            child,
            None,
            Duration::from_millis(20),
            &mut signals,
            &mut lost,
            &reporter,
        ),
    )
    .await
    .expect("a terraform ignoring SIGINT was never killed");
    assert_eq!(
        code.unwrap(),
        None,
        "ended by a signal (SIGKILL), no exit code"
    );
    assert_eq!(signals.received, 1, "one stop request, then the kill");
}

/// Someone takes the lease while the apply runs, and terraform does not stop when asked (here a
/// wrapper that ignores the forwarded SIGINT; in life a provider that takes its time): by the
/// lease's expiry (4 s TTL) the guard kills terraform's process group and exits 4.
#[tokio::test(flavor = "multi_thread")]
async fn a_guard_whose_lease_is_taken_kills_a_terraform_that_does_not_stop() {
    let bed = Bed::new("lost-kill", Locking::DynamoDb, &held_open()).await;
    let wrapper = bed.tf.path().parent().unwrap().join("deaf-terraform.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\ntrap '' INT\n'{}' \"$@\"\n",
            terraform_bin().unwrap().display()
        ),
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&wrapper).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&wrapper, permissions).unwrap();
    let mut child = bed
        .guard(&[
            "run",
            "--watch-interval",
            "200ms",
            "--lease-ttl",
            "4s",
            "--",
            "apply",
            "-auto-approve",
            "-no-color",
        ])
        .env("TERRAFORM", &wrapper)
        .spawn()
        .unwrap();
    bed.wait_until_held_open(&mut child);
    bed.wait_until_lease_records_lock(Duration::from_secs(30))
        .await;
    let terraform = children_of(child.id());
    bed.put_lease(&expired_lease("taker", "other", "job 9", "[]"))
        .await;
    let output = wait_with_timeout(child, Duration::from_secs(60));
    for pid in &terraform {
        // Cleans up after a failure too (the held-open provisioner waits for ever).
        let _ = signal_group(*pid, Signal::KILL);
    }
    let output = output.expect("the guard never ended: its terraform was not killed");
    let all = text(&output);
    assert_eq!(output.status.code(), Some(4), "{all}");
    assert!(all.contains("forwarding Interrupt"), "{all}");
    assert!(all.contains("killed its process group"), "{all}");
    for pid in &terraform {
        assert!(!alive(*pid), "terraform {pid} survived: {all}");
    }
}
