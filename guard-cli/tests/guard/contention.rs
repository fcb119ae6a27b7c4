//! Guard contention (issue #15, suite 3): eight `zdd-guard run -- apply` start at once on one
//! state, trial after trial. Each applies its own resource (`-target` of one `for_each`
//! instance, so it writes exactly one new resource and leaves the others alone). An observer
//! outside the guard (the guard's `$TERRAFORM` is a wrapper script that logs when each terraform
//! process starts and ends, with its pid and its parent's, the guard) shows that:
//! - no two guards' terraform processes overlap, applies least of all;
//! - no state write is lost: every resource whose run exited 0 is in the final state, none of a
//!   run that exited 3, and the serial rose by exactly what the applies that ran add;
//! - every run exits 0 or 3 (half of them wait for the lease, half give up at once), or 1 when
//!   terraform itself failed on its own lock (its lock write landed unanswered and the AWS SDK's
//!   retry met it, seen once in 100 trials under load) and the guard removed that lock and said
//!   so (`guard_lock_left` forces it);
//! - no Terraform lock and no lease is left after any trial (a failure names the trial and shows
//!   the lock's record, every terraform process's span and every run's exit code and stderr).
//!
//! `make test` runs a few trials; `ZDD_STRESS_TRIALS=100` (`make stress`) runs 100 per locking
//! kind. Each batch publishes a `Record` (suite "guard contention").

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use crate::guard_support::{Bed, Locking, text};
use zdd_test_support::{Record, stress_trials, terraform_bin, wait_with_timeout};

const GUARDS: usize = 8;

/// How long one guard may take, waiting for the seven others included.
const RUN_LIMIT: Duration = Duration::from_secs(600);

/// One resource per guard and trial; a targeted apply creates only its own instance (earlier
/// trials' instances are outside `for_each` now, and a targeted plan leaves them alone).
const CONFIG: &str = r#"
variable "trial" {
  type    = number
  default = 0
}

resource "terraform_data" "r" {
  for_each = toset([for i in range(8) : "t${var.trial}-g${i}"])
  input    = each.key
}
"#;

/// The observer: logs `start <pid> <guard pid> <unix ns> <args>` and `end <pid> <guard pid>
/// <unix ns> <exit code>` around the real terraform (one `echo`, one line: appends of a line
/// are atomic).
fn observer_script(log: &Path, terraform: &Path) -> String {
    format!(
        "#!/bin/sh\n\
         echo \"start $$ $PPID $(date +%s%N) $*\" >> '{log}'\n\
         '{terraform}' \"$@\"\n\
         code=$?\n\
         echo \"end $$ $PPID $(date +%s%N) $code\" >> '{log}'\n\
         exit $code\n",
        log = log.display(),
        terraform = terraform.display()
    )
}

/// One terraform process as the observer saw it.
#[derive(Debug, Clone)]
struct Invocation {
    guard: u32,
    start: u128,
    end: u128,
    args: String,
    code: i32,
}

impl Invocation {
    fn is_apply(&self) -> bool {
        self.args.split_whitespace().next() == Some("apply")
    }

    fn overlaps(&self, other: &Invocation) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// The observer's log read back; an unfinished process (a start without an end) fails the test.
fn read_log(log: &Path) -> Vec<Invocation> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut open: BTreeMap<u32, (u32, u128, String)> = BTreeMap::new();
    let mut done = Vec::new();
    for line in text.lines() {
        let mut fields = line.splitn(5, ' ');
        let kind = fields.next().unwrap();
        let pid: u32 = fields.next().unwrap().parse().unwrap();
        let guard: u32 = fields.next().unwrap().parse().unwrap();
        let at: u128 = fields.next().unwrap().parse().unwrap();
        let rest = fields.next().unwrap_or("").to_string();
        match kind {
            "start" => {
                open.insert(pid, (guard, at, rest));
            }
            "end" => {
                let (guard, start, args) = open.remove(&pid).expect("an end without a start");
                done.push(Invocation {
                    guard,
                    start,
                    end: at,
                    args,
                    code: rest.trim().parse().unwrap(),
                });
            }
            other => panic!("observer line {other:?}: {line}"),
        }
    }
    assert!(open.is_empty(), "terraform processes never ended: {open:?}");
    done
}

/// The state's serial and the `terraform_data.r` instance keys it holds.
fn state_summary(bytes: &[u8]) -> (u64, BTreeSet<String>) {
    let state: serde_json::Value = serde_json::from_slice(bytes).expect("the state is JSON");
    let serial = state["serial"].as_u64().expect("a serial");
    let keys = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "terraform_data" && r["name"] == "r")
        .flat_map(|r| r["instances"].as_array().unwrap().iter())
        .map(|i| i["index_key"].as_str().unwrap().to_string())
        .collect();
    (serial, keys)
}

fn key(trial: u32, guard: usize) -> String {
    format!("t{trial}-g{guard}")
}

/// What one batch of trials saw.
#[derive(Debug, Default)]
struct Tally {
    overlaps: u64,
    run_overlaps: u64,
    lost_writes: u64,
    exits: BTreeMap<i32, u32>,
    applies: u64,
    /// Runs that exited 1 because terraform left its own lock, which the guard then removed.
    locks_removed: u64,
    trial_times: Vec<Duration>,
    failures: Vec<String>,
}

struct Contention {
    bed: Bed,
    observer: PathBuf,
    log: PathBuf,
    /// What one apply that creates one resource adds to the serial (measured by the warm-up).
    serial_per_apply: u64,
}

impl Contention {
    async fn new(name: &str, locking: Locking) -> Contention {
        let bed = Bed::new(name, locking, CONFIG).await;
        let root = bed.tf.path().parent().unwrap().to_path_buf();
        let log = root.join("terraform-runs.log");
        let observer = root.join("terraform-observer.sh");
        std::fs::write(&observer, observer_script(&log, &terraform_bin().unwrap())).unwrap();
        let mut permissions = std::fs::metadata(&observer).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&observer, permissions).unwrap();
        let mut contention = Contention {
            bed,
            observer,
            log,
            serial_per_apply: 0,
        };
        contention.warm_up().await;
        contention
    }

    fn guard(&self, trial: u32, guard: usize, wait: &str) -> Child {
        let target = format!("-target=terraform_data.r[\"{}\"]", key(trial, guard));
        let trial_var = format!("trial={trial}");
        self.bed
            .guard(&[
                "run",
                "--watch-interval",
                "1s",
                "--lease-ttl",
                "30s",
                "--wait",
                wait,
                "--",
                "apply",
                "-auto-approve",
                "-no-color",
                "-var",
                &trial_var,
                &target,
            ])
            .env("TERRAFORM", &self.observer)
            .spawn()
            .unwrap()
    }

    async fn serial_and_keys(&self) -> (u64, BTreeSet<String>) {
        match self.bed.state_bytes().await {
            Some(bytes) => state_summary(&bytes),
            None => (0, BTreeSet::new()),
        }
    }

    /// One guarded apply alone (trial 0): measures what an apply that creates one resource adds
    /// to the serial. Terraform writes the state once at the end of an apply this short (it also
    /// persists every 20 s during a longer one): 1.
    async fn warm_up(&mut self) {
        let (before, _) = self.serial_and_keys().await;
        let output = wait_with_timeout(self.guard(0, 0, "0s"), RUN_LIMIT).unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        let (after, keys) = self.serial_and_keys().await;
        assert!(keys.contains(&key(0, 0)), "{keys:?}");
        self.serial_per_apply = after - before;
        assert_eq!(
            self.serial_per_apply, 1,
            "one apply of one new resource writes the state once"
        );
        std::fs::remove_file(&self.log).unwrap();
    }

    /// Eight guards at once: even ones wait for the lease, odd ones give up at once. Returns
    /// false when the trial left a lock or a lease behind (every later trial would only wait on
    /// it): the failure names this trial and says whose it is.
    async fn trial(&self, trial: u32, tally: &mut Tally) -> bool {
        let (serial_before, keys_before) = self.serial_and_keys().await;
        let started = Instant::now();
        let children: Vec<(usize, Child)> = (0..GUARDS)
            .map(|g| {
                (
                    g,
                    self.guard(trial, g, if g % 2 == 0 { "5m" } else { "0s" }),
                )
            })
            .collect();
        let outputs: Vec<(usize, u32, Output)> = children
            .into_iter()
            .map(|(g, child)| {
                let pid = child.id();
                (g, pid, wait_with_timeout(child, RUN_LIMIT).unwrap())
            })
            .collect();
        tally.trial_times.push(started.elapsed());
        let runs = read_log(&self.log);
        std::fs::remove_file(&self.log).unwrap();
        let (serial_after, keys_after) = self.serial_and_keys().await;

        let mut succeeded = BTreeSet::new();
        for (g, pid, output) in &outputs {
            let code = output.status.code().unwrap_or(-1);
            *tally.exits.entry(code).or_default() += 1;
            let ran: Vec<&Invocation> = runs.iter().filter(|r| r.guard == *pid).collect();
            match code {
                0 => {
                    succeeded.insert(key(trial, *g));
                }
                3 => {
                    if !ran.is_empty() {
                        tally.failures.push(format!(
                            "trial {trial} guard {g} exited 3 but ran terraform: {ran:?}"
                        ));
                    }
                }
                // Terraform's own failure to take its lock (its lock write landed unanswered
                // and the SDK's retry met it): the guard removed the lock and said so.
                1 if String::from_utf8_lossy(&output.stderr)
                    .contains("terraform exited and left its lock") =>
                {
                    tally.locks_removed += 1;
                }
                other => tally.failures.push(format!(
                    "trial {trial} guard {g} exited {other}:\n{}",
                    text(output)
                )),
            }
        }
        let applies: Vec<&Invocation> = runs.iter().filter(|r| r.is_apply()).collect();
        let applied = applies.iter().filter(|r| r.code == 0).count() as u64;
        tally.applies += applied;
        for (i, a) in applies.iter().enumerate() {
            for b in &applies[i + 1..] {
                if a.overlaps(b) {
                    tally.overlaps += 1;
                    tally
                        .failures
                        .push(format!("trial {trial}: applies overlap: {a:?} {b:?}"));
                }
            }
        }
        // Every terraform process of a run (plan, show, apply) runs under its lease: the whole
        // spans of two runs never overlap either.
        let mut spans: BTreeMap<u32, (u128, u128)> = BTreeMap::new();
        for run in &runs {
            let span = spans.entry(run.guard).or_insert((run.start, run.end));
            span.0 = span.0.min(run.start);
            span.1 = span.1.max(run.end);
        }
        let spans: Vec<(u128, u128)> = spans.into_values().collect();
        for (i, a) in spans.iter().enumerate() {
            for b in &spans[i + 1..] {
                if a.0 < b.1 && b.0 < a.1 {
                    tally.run_overlaps += 1;
                    tally
                        .failures
                        .push(format!("trial {trial}: two runs' terraform overlap"));
                }
            }
        }
        if applied != succeeded.len() as u64 {
            tally.failures.push(format!(
                "trial {trial}: {applied} applies exited 0 but {} runs did",
                succeeded.len()
            ));
        }
        let missing: Vec<&String> = succeeded.difference(&keys_after).collect();
        let lost_before: Vec<&String> = keys_before.difference(&keys_after).collect();
        let expected_serial = serial_before + applied * self.serial_per_apply;
        let short_serial = expected_serial.saturating_sub(serial_after);
        tally.lost_writes += (missing.len() + lost_before.len()) as u64 + short_serial;
        if !missing.is_empty() || !lost_before.is_empty() || serial_after != expected_serial {
            tally.failures.push(format!(
                "trial {trial}: missing {missing:?}, lost from earlier {lost_before:?}, serial \
                 {serial_before} -> {serial_after} after {applied} applies (expected \
                 {expected_serial})"
            ));
        }
        let new_keys: BTreeSet<String> = keys_after.difference(&keys_before).cloned().collect();
        if new_keys != succeeded {
            tally.failures.push(format!(
                "trial {trial}: new resources {new_keys:?}, runs that exited 0 {succeeded:?}"
            ));
        }
        let held = self.bed.held().await;
        if !held.is_empty() {
            tally.failures.push(format!(
                "trial {trial} left {}\n{}",
                held.join("\n"),
                trial_evidence(&runs, &outputs)
            ));
        }
        held.is_empty()
    }
}

/// A Unix time in nanoseconds as RFC 3339, to compare with the lock's `Created`.
fn at(unix_ns: u128) -> String {
    let time = std::time::UNIX_EPOCH + Duration::from_nanos(unix_ns as u64);
    humantime::format_rfc3339_nanos(time).to_string()
}

/// How many of a run's last stderr lines a failure shows (the guard's events and terraform's
/// lock messages are at the end).
const STDERR_TAIL: usize = 40;

/// Who did what in a trial: every terraform process the observer saw (its guard's pid, span,
/// arguments, exit code) and every run's exit code and stderr tail.
fn trial_evidence(runs: &[Invocation], outputs: &[(usize, u32, Output)]) -> String {
    let mut evidence = vec!["terraform processes (observer):".to_string()];
    let mut runs: Vec<&Invocation> = runs.iter().collect();
    runs.sort_by_key(|r| r.start);
    for run in runs {
        let guard = outputs
            .iter()
            .find(|(_, pid, _)| *pid == run.guard)
            .map_or("?".to_string(), |(g, _, _)| g.to_string());
        evidence.push(format!(
            "  guard {guard} (pid {}): {} .. {} exit {}: {}",
            run.guard,
            at(run.start),
            at(run.end),
            run.code,
            run.args
        ));
    }
    for (g, pid, output) in outputs {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = &lines[lines.len().saturating_sub(STDERR_TAIL)..];
        evidence.push(format!(
            "guard {g} (pid {pid}) exited {:?}; stderr tail:\n    {}",
            output.status.code(),
            tail.join("\n    ")
        ));
    }
    evidence.join("\n")
}

async fn contention(name: &str, locking: Locking, scenario: &str, default_trials: u32) {
    let trials = stress_trials(default_trials);
    let contention = Contention::new(name, locking).await;
    let mut tally = Tally::default();
    let mut ran = 0;
    for trial in 1..=trials {
        ran = trial;
        if !contention.trial(trial, &mut tally).await {
            break;
        }
    }
    let total: Duration = tally.trial_times.iter().sum();
    let slowest = tally.trial_times.iter().max().copied().unwrap_or_default();
    let histogram: Vec<String> = tally
        .exits
        .iter()
        .map(|(code, n)| format!("{code}×{n}"))
        .collect();
    let record = Record {
        trials: ran,
        violations: tally.overlaps + tally.run_overlaps,
        lost_writes: tally.lost_writes,
        convergence: total / ran.max(1),
        converged: tally.failures.is_empty(),
        notes: format!(
            "exit codes: {}; terraform left its own lock (removed by the guard): {}; applies: \
             {}; serial +{} per apply; overlapping applies: {}, overlapping runs: {}; wall time \
             per trial: mean {:.1} s, max {:.1} s",
            histogram.join(", "),
            tally.locks_removed,
            tally.applies,
            contention.serial_per_apply,
            tally.overlaps,
            tally.run_overlaps,
            (total / ran.max(1)).as_secs_f64(),
            slowest.as_secs_f64()
        ),
        ..Record::new(
            "guard contention",
            &format!("{GUARDS} guards at once, {scenario}"),
        )
    };
    record.publish().unwrap();
    // A lock or lease left is one of the failures, reported with its trial's evidence.
    assert!(
        tally.failures.is_empty(),
        "{} failure(s) in {ran} of {trials} trials:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
    assert!(
        tally.exits.get(&0).copied().unwrap_or(0) >= ran,
        "every trial applies at least once: {:?}",
        tally.exits
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_guards_at_once_never_overlap_and_lose_no_write_dynamodb() {
    contention(
        "contention-ddb",
        Locking::DynamoDb,
        "DynamoDB lock table",
        2,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_guards_at_once_never_overlap_and_lose_no_write_lockfile() {
    contention("contention-lf", Locking::Lockfile, "S3 lockfile", 1).await;
}

/// The observer's check is not vacuous: two processes whose lifetimes cross are an overlap,
/// back-to-back ones are not, and a process that never ended fails the read.
#[test]
fn the_observer_log_tells_overlapping_terraforms_apart() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("runs.log");
    std::fs::write(
        &log,
        "start 10 1 100 apply -auto-approve\nstart 20 2 150 apply -auto-approve\n\
         end 10 1 200 0\nend 20 2 300 0\nstart 30 3 300 plan -out=x\nend 30 3 400 0\n",
    )
    .unwrap();
    let runs = read_log(&log);
    assert_eq!(runs.len(), 3);
    assert!(runs[0].is_apply() && runs[1].is_apply() && !runs[2].is_apply());
    assert!(runs[0].overlaps(&runs[1]), "100..200 and 150..300 cross");
    assert!(
        !runs[1].overlaps(&runs[2]),
        "300..400 starts as 150..300 ends"
    );
    std::fs::write(&log, "start 10 1 100 apply\n").unwrap();
    assert!(std::panic::catch_unwind(|| read_log(&log)).is_err());
}
