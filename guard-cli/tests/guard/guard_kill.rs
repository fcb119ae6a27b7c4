//! kill -9 of the guard (issue #15, suite 4), at four moments: before the lease (its first
//! write is in flight), while it holds the lease (terraform not started yet), mid-apply (its
//! terraform holds Terraform's lock and the lease recorded it), and at release (the lease's
//! delete is in flight). What a CI hard cancel does varies: a `kill -9` of the guard's pid, of
//! its process group (GitLab's runner), or of the whole process tree (GitHub's runner, a
//! container's cgroup). Terraform runs in a process group of its own, so the first two reach
//! the guard alone: terraform must die with it (the guard starts it with PR_SET_PDEATHSIG), or an
//! orphan would hold the lock and write the state while the next run holds the lease.
//!
//! Required each time: the next `zdd-guard run` proceeds once the lease's TTL is over, with no
//! manual unlock (a Terraform lock the dead run's lease recorded is removed by that run), and
//! the state is intact: the resources of finished applies present, the serial risen, the state
//! readable, a plan with nothing to do.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::guard_support::{Bed, Locking, StderrLines, children_of, held_open, text};
use zdd_test_support::{
    FaultRule, Record, STARTED_FILE, Signal, signal, signal_group, terraform_bin, wait_with_timeout,
};

/// A 4 s lease (skew allowance 1 s): the next run takes over about 5 s after the last heartbeat.
const FAST: &[&str] = &["--watch-interval", "200ms", "--lease-ttl", "4s"];
const LIMIT: Duration = Duration::from_secs(60);

/// How the guard is killed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kill {
    /// `kill -9 <guard pid>`.
    Guard,
    /// `kill -9 -<guard's process group>`: terraform is not in it.
    GuardGroup,
    /// The guard and terraform's process group, as a tree or cgroup kill does.
    Tree,
}

/// When the guard is killed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Moment {
    BeforeLease,
    HoldingLease,
    MidApply,
    AtRelease,
}

/// Whether `pid` still runs (a zombie waiting for its reaper does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
    })
}

fn wait_until_dead(pid: u32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        assert!(
            Instant::now() < deadline,
            "{what} (pid {pid}) outlived the guard's kill -9"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A terraform that waits at a gate before it starts (`exec`: same pid, same death signal),
/// so that a test can kill the guard while it holds the lease and before terraform runs.
fn gated_terraform(dir: &Path) -> std::path::PathBuf {
    let script = dir.join("gated-terraform.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ntouch '{reached}'\nwhile [ ! -f '{open}' ]; do sleep 0.05; done\nexec '{terraform}' \"$@\"\n",
            reached = dir.join("gate-reached").display(),
            open = dir.join("gate-open").display(),
            terraform = terraform_bin().unwrap().display()
        ),
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&script, permissions).unwrap();
    script
}

/// Waits until the fault rule `id` delayed a call (that call is in flight now).
async fn wait_for_hit(bed: &Bed, id: &str) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let rules = bed.aws.faults().unwrap();
        let hits = rules
            .as_array()
            .unwrap()
            .iter()
            .find(|rule| rule["id"] == id)
            .map_or(0, |rule| rule["hits"].as_u64().unwrap_or(0));
        if hits > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "fault {id} never hit: {rules}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn run_args(extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec!["run".into()];
    args.extend(FAST.iter().map(|a| a.to_string()));
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

fn apply(generation: u32) -> Vec<String> {
    vec![
        "--".into(),
        "apply".into(),
        "-auto-approve".into(),
        "-no-color".into(),
        "-var".into(),
        format!("generation={generation}"),
    ]
}

/// A guarded apply of `generation` that the test does not hold open.
fn released_apply(bed: &Bed, generation: u32, wait: &str) -> std::process::Output {
    bed.release();
    let mut args = run_args(&["--wait", wait]);
    args.extend(apply(generation));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = wait_with_timeout(bed.guard(&args).spawn().unwrap(), LIMIT * 2).unwrap();
    // The provisioner removes the release file when it ran; a run that never got that far
    // leaves it, and the next held-open apply would not hold.
    let _ = std::fs::remove_file(bed.path(zdd_test_support::RELEASE_FILE));
    output
}

fn state_serial(bytes: &[u8]) -> u64 {
    let state: serde_json::Value = serde_json::from_slice(bytes).expect("the state is JSON");
    state["serial"].as_u64().expect("a serial")
}

fn held_open_generation(bytes: &[u8]) -> Option<String> {
    let state: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    state["resources"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == "held_open")
        .map(|r| r["instances"][0]["attributes"]["triggers_replace"]["value"].to_string())
}

/// What the killed run left, for the record.
struct Killed {
    terraform_running: bool,
    lock_left: bool,
}

async fn kill_at(bed: &Bed, moment: Moment, kill: Kill) -> Killed {
    let mut args = run_args(&[]);
    args.extend(apply(2));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut command: Command = bed.guard(&args);
    if kill != Kill::Tree {
        // Its own process group, so that killing that group spares the test.
        command.process_group(0);
    }
    let lease_key = format!("{}.zdd-lease", bed.lock_id());
    let mut fault = None;
    match moment {
        Moment::BeforeLease => {
            let rule = FaultRule::latency("dynamodb", Duration::from_secs(3))
                .action("PutItem")
                .matching(&lease_key);
            fault = Some(bed.aws.add_fault_rule(&rule).unwrap());
        }
        Moment::HoldingLease => {
            command.env(
                "TERRAFORM",
                gated_terraform(bed.tf.path().parent().unwrap()),
            );
        }
        Moment::MidApply => {}
        Moment::AtRelease => {
            let rule = FaultRule::latency("dynamodb", Duration::from_secs(3))
                .action("DeleteItem")
                .matching(&lease_key);
            fault = Some(bed.aws.add_fault_rule(&rule).unwrap());
            bed.release();
        }
    }
    let mut child = command.spawn().unwrap();
    let mut stderr = StderrLines::take(&mut child);
    match moment {
        Moment::BeforeLease => wait_for_hit(bed, fault.as_deref().unwrap()).await,
        Moment::HoldingLease => {
            let gate = bed.tf.path().parent().unwrap().join("gate-reached");
            zdd_test_support::wait_for_path(&gate, &mut child, LIMIT).unwrap();
            assert!(bed.lease_exists().await, "the guard holds its lease");
        }
        Moment::MidApply => {
            bed.wait_until_held_open(&mut child);
            bed.wait_until_lease_records_lock(LIMIT).await;
        }
        Moment::AtRelease => {
            stderr.wait_for(&["verified: state serial"], LIMIT);
            wait_for_hit(bed, fault.as_deref().unwrap()).await;
        }
    }
    let terraform = children_of(child.id());
    match kill {
        Kill::Guard => signal(child.id(), Signal::KILL).unwrap(),
        Kill::GuardGroup => signal_group(child.id(), Signal::KILL).unwrap(),
        Kill::Tree => {
            signal(child.id(), Signal::KILL).unwrap();
            for pid in &terraform {
                signal_group(*pid, Signal::KILL).unwrap();
            }
        }
    }
    let _ = child.wait();
    if let Some(id) = &fault {
        bed.aws.clear_faults(Some(id)).unwrap();
    }
    // Terraform (or the gate before it) dies with the guard, however the guard was killed.
    for pid in &terraform {
        wait_until_dead(*pid, "terraform");
        // What terraform started (the held-open provisioner) is left over: cleaned up here.
        let _ = signal_group(*pid, Signal::KILL);
    }
    let _ = std::fs::remove_file(bed.path(STARTED_FILE));
    Killed {
        terraform_running: !terraform.is_empty(),
        lock_left: bed.lock_text().await.is_some(),
    }
}

async fn next_run_proceeds(name: &str, locking: Locking, moment: Moment, kill: Kill) {
    let bed = Bed::new(name, locking, &held_open()).await;
    let first = released_apply(&bed, 1, "0s");
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let serial_before = state_serial(&bed.state_bytes().await.unwrap());

    let killed = kill_at(&bed, moment, kill).await;
    if moment == Moment::MidApply {
        assert!(killed.lock_left, "terraform died holding its lock");
    }
    if moment == Moment::AtRelease {
        let state = bed.state_bytes().await.unwrap();
        assert_eq!(
            held_open_generation(&state).as_deref(),
            Some("2"),
            "the apply finished before the kill"
        );
    }
    let started = Instant::now();
    let next = released_apply(&bed, 3, "60s");
    let waited = started.elapsed();
    let all = text(&next);
    assert_eq!(next.status.code(), Some(0), "{all}");
    if killed.lock_left {
        assert!(all.contains("removed the Terraform lock"), "{all}");
    }
    bed.assert_nothing_held().await;

    let state = bed.state_bytes().await.unwrap();
    let serial_after = state_serial(&state);
    assert!(
        serial_after > serial_before,
        "{serial_before} -> {serial_after}"
    );
    assert_eq!(held_open_generation(&state).as_deref(), Some("3"));
    assert!(String::from_utf8_lossy(&state).contains("constant"));
    let plan = bed
        .tf
        .run(&[
            "plan",
            "-detailed-exitcode",
            "-input=false",
            "-no-color",
            "-var",
            "generation=3",
        ])
        .unwrap();
    assert_eq!(plan.code, 0, "nothing left to do: {plan:?}");

    Record {
        kills: 1,
        converged: true,
        convergence: waited,
        notes: format!(
            "{kill:?} killed; terraform running at the kill: {}; Terraform lock left: {}; next \
             run (4 s lease TTL) exit 0 after {:.1} s, {}; serial {serial_before} -> \
             {serial_after}",
            killed.terraform_running,
            killed.lock_left,
            waited.as_secs_f64(),
            if all.contains("took over an expired lease") {
                "took the lease over"
            } else {
                "found the lease free"
            }
        ),
        ..Record::new(
            "kill -9 of the guard",
            &format!("{moment:?}, {kill:?}, {locking:?}"),
        )
    }
    .publish()
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_before_the_lease_the_next_run_proceeds() {
    next_run_proceeds(
        "kill-before-lease",
        Locking::DynamoDb,
        Moment::BeforeLease,
        Kill::Guard,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_holding_the_lease_terraform_never_starts_and_the_next_run_proceeds() {
    next_run_proceeds(
        "kill-holding-lease",
        Locking::Lockfile,
        Moment::HoldingLease,
        Kill::GuardGroup,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_apply_alone_its_terraform_dies_and_the_next_run_removes_the_lock() {
    next_run_proceeds(
        "kill-mid-apply",
        Locking::DynamoDb,
        Moment::MidApply,
        Kill::Guard,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_apply_with_its_group_the_next_run_removes_the_lock() {
    next_run_proceeds(
        "kill-mid-apply-group",
        Locking::Lockfile,
        Moment::MidApply,
        Kill::GuardGroup,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_apply_with_its_tree_the_next_run_removes_the_lock() {
    next_run_proceeds(
        "kill-mid-apply-tree",
        Locking::DynamoDb,
        Moment::MidApply,
        Kill::Tree,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_at_release_the_applied_state_stays_and_the_next_run_proceeds() {
    next_run_proceeds(
        "kill-at-release",
        Locking::DynamoDb,
        Moment::AtRelease,
        Kill::Guard,
    )
    .await;
}
