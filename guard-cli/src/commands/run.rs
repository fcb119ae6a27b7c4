//! `zdd-guard run [OPTIONS] -- <terraform args>`: a locked, leased, watched terraform run.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use md5::{Digest, Md5};
use tokio::sync::watch;

use super::CommonArgs;
use super::context::{Remote, resolve_backend, workspace};
use super::lease::{Acquired, Held, LeaseLost, acquire, this_owner};
use super::private_dir::PrivateDir;
use super::progress_feed::{EventsChannel, Feed};
use super::supervise::{Signals, supervise};
use super::terraform_locks::{remove_locks_left_by, remove_locks_our_terraform_left};
use super::watcher::{Watcher, check_lock_table};
use crate::core::argv::redacted_command;
use crate::core::backend::{self, Backend, Locking};
use crate::core::limits::{AwsTimeouts, RunLimits};
use crate::core::plan;
use crate::core::progress_view::ViewSettings;
use crate::core::watch::lock_may_be_left;
use crate::exit::{LockingError, Outcome};
use crate::output::Reporter;
use crate::runner::{StdoutTo, Terraform, chdir_and_subcommand};
use crate::timings::mark;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// How long a lease lives without a heartbeat before another run may take it over.
    #[arg(long, default_value = "2m", value_parser = zdd_duration::parse)]
    pub lease_ttl: Duration,
    /// How long to wait for a lease held by someone else before giving up (exit 3).
    #[arg(long, default_value = "0s", value_parser = zdd_duration::parse)]
    pub wait: Duration,
    /// How often to check the state object, Terraform's lock and the lease while terraform runs.
    #[arg(long, default_value = "2s", value_parser = zdd_duration::parse)]
    pub watch_interval: Duration,
    /// Run even when the backend has no state locking (no lease, no watch).
    #[arg(long)]
    pub allow_unlocked: bool,
    /// After a successful apply, `plan -refresh-only -detailed-exitcode` must find nothing (else 5).
    #[arg(long)]
    pub verify_drift: bool,
    /// The longest a waiting `zdd_rollout` goes without a progress line in the live view
    /// (health, weight, time left); `0s`: no progress lines, only phases.
    #[arg(long, default_value = "30s", value_parser = zdd_duration::parse)]
    pub progress_every: Duration,
    /// The terraform command line, after `--`.
    #[arg(last = true, required = true, num_args = 1..)]
    pub terraform_args: Vec<String>,
}

/// Options of `apply` that are still valid when applying a saved plan.
const APPLY_PLANFILE_OPTIONS: &[&str] = &[
    "-lock",
    "-lock-timeout",
    "-input",
    "-no-color",
    "-parallelism",
    "-compact-warnings",
    "-json",
];

pub async fn run(args: &RunArgs) -> anyhow::Result<Outcome> {
    // Every value is checked before anything is taken or started (exit 6).
    RunLimits {
        lease_ttl: args.lease_ttl,
        wait: args.wait,
        watch_interval: args.watch_interval,
    }
    .validate()?;
    let timeouts = AwsTimeouts::from_env(|name| std::env::var(name).ok())?;
    let reporter = Reporter::new(args.common.json);
    let (chdir, subcommand_index) = chdir_and_subcommand(&args.terraform_args);
    let dir = chdir.map_or_else(|| args.common.chdir.clone(), |d| args.common.chdir.join(d));
    let mut terraform = Terraform::new(args.common.terraform.as_deref(), &dir);
    // Terraform runs with `current_dir = dir`, so its own -chdir must not apply twice.
    let tf_args: Vec<String> = args
        .terraform_args
        .iter()
        .filter(|a| !a.starts_with("-chdir="))
        .cloned()
        .collect();
    let subcommand = subcommand_index
        .map(|i| args.terraform_args[i].clone())
        .unwrap_or_default();
    let stdout_to = if args.common.json {
        StdoutTo::Stderr
    } else {
        StdoutTo::Stdout
    };
    let mut signals = Signals::install()?;
    mark("arguments checked, signals installed");
    // The provider's live events: a file named to every terraform this run starts, read from
    // just before the first one starts (not while this run waits for another run's lease).
    let channel = EventsChannel::open(std::env::var_os(zdd_events::EVENTS_FILE_ENV), &dir)?;
    if let Some(file) = channel.own_file() {
        terraform = terraform.with_env(zdd_events::EVENTS_FILE_ENV, file);
    }
    let view = ViewSettings {
        progress_every: args.progress_every,
    };
    mark("events file made");

    let backend = resolve_backend(&dir)?;
    let locking = backend::locking(&backend, args.allow_unlocked).map_err(|r| {
        LockingError::NotConfigured {
            reason: r.reason,
            fix: r.fix,
        }
    })?;
    mark("backend resolved");
    let (Backend::S3(s3), Locking::S3 { .. }) = (&backend, &locking) else {
        reporter.warn(
            "unlocked",
            "running terraform without locking, lease or watch (--allow-unlocked)",
        );
        let feed = channel.start(view, reporter.clone())?;
        let running = terraform.spawn(&tf_args, stdout_to)?;
        let (_stop, mut lost) = watch::channel(None);
        let code = supervise(
            running,
            None,
            args.watch_interval,
            &mut signals,
            &mut lost,
            &reporter,
        )
        .await;
        feed.stop(&reporter).await;
        return Ok(Outcome::from_terraform(code?));
    };
    for warning in backend::warnings(s3) {
        reporter.warn("backend", &warning);
    }
    let remote = Remote::connect(s3.clone(), &workspace(&dir), &timeouts).await?;
    mark("AWS config loaded");
    // The lease record is stored in AWS and shown by `lock status`: option names, no values.
    let owner = this_owner(redacted_command(&args.terraform_args));
    let poll = args.watch_interval.min(Duration::from_secs(1));
    // Only the lease stands between the guard and terraform's start: the lease write into the
    // lock table also proves the table is usable (a put fails unless its key is a string
    // `LockID`), and the other checks run once terraform is starting (`Watcher::first_look`).
    let acquired = acquire(
        &remote.lease,
        owner,
        args.lease_ttl,
        args.wait,
        poll,
        &reporter,
        &mut signals,
    )
    .await;
    mark("lease acquired");
    let held = match acquired {
        Ok(Acquired { held, took_over }) => {
            if let Some(expired) = took_over
                && let Err(error) = remove_locks_left_by(&remote, &expired, &reporter).await
            {
                // Terraform then meets the lock and says so; the lease is ours either way.
                reporter.warn(
                    "terraform_lock_held",
                    &format!("could not check the expired lease's Terraform locks: {error:#}"),
                );
            }
            held
        }
        Err(error) => {
            // A table Terraform cannot lock with explains a failed write better (exit 3); a
            // table that cannot be read (no DescribeTable permission, say) explains nothing:
            // the acquire's own error stands.
            return match check_lock_table(&remote).await {
                Err(table) if table.downcast_ref::<LockingError>().is_some() => Err(table),
                _ => Err(error),
            };
        }
    };
    // The lease is ours: what the events file gets from now on is this run's terraform's.
    let feed = match channel.start(view, reporter.clone()) {
        Ok(feed) => feed,
        Err(error) => {
            // No terraform started: the lease goes back rather than blocking others until it
            // expires.
            release(&held, &remote, args.lease_ttl, &reporter).await;
            return Err(error);
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let (lost_tx, mut lost_rx) = watch::channel(None);
    let heartbeat = held.spawn_heartbeat(stop_rx, lost_tx);
    let mut watcher = Watcher::new(remote.clone(), Some(held.clone()));
    mark("tail and heartbeat started");

    let result = guarded(
        args,
        &terraform,
        &tf_args,
        &subcommand,
        &remote,
        &mut watcher,
        &mut signals,
        &mut lost_rx,
        &reporter,
        stdout_to,
        &feed,
    )
    .await;
    let ended = SystemTime::now();
    let last_started = watcher.process_started();
    let lock_may_be_left = lock_may_be_left(watcher.last_terraform_end());
    // Every terraform has exited. Three things at once, none waiting for another's round
    // trips: the tail's end (the rollouts' last lines were read by `Feed::drain` before the
    // verdict; this removes the run's events file and reports skipped lines); one last look at
    // the state (writes between the last tick and terraform's exit); the end of the lease: a
    // lock terraform left would block every later run, so it is removed while the lease is
    // still ours, then the heartbeat stops and the lease goes. After a clean exit terraform
    // released its lock itself (`lock_may_be_left`): the lease goes at once.
    let ((), last_look, (lock_left, lease_kept)) = tokio::join!(
        async {
            feed.stop(&reporter).await;
            mark("  tail stopped");
        },
        async {
            let look = watcher.tick(&reporter, None).await;
            mark("  last look");
            look
        },
        async {
            let lock_left = if lock_may_be_left {
                let left = match remove_locks_our_terraform_left(
                    &remote,
                    &held,
                    last_started,
                    ended,
                    &reporter,
                )
                .await
                {
                    Ok(left) => left,
                    Err(error) => {
                        reporter.warn(
                            "terraform_lock_left",
                            &format!(
                                "could not check for a Terraform lock this run's terraform \
                                 left: {error:#}"
                            ),
                        );
                        false
                    }
                };
                mark("  terraform locks left checked");
                left
            } else {
                false
            };
            let _ = stop_tx.send(true);
            let _ = heartbeat.await;
            let kept = release(&held, &remote, args.lease_ttl, &reporter).await;
            mark("  lease released");
            (lock_left, kept)
        }
    );
    mark("last look and release");
    let result = result.map(|outcome| {
        if lock_left {
            outcome.combine(Outcome::Error)
        } else {
            outcome
        }
    });
    if let Err(error) = last_look {
        reporter.warn(
            "watch_error",
            &format!("last look at the state failed: {error:#}"),
        );
    }
    result.map(|outcome| {
        // Losing the lease is interference even when the watcher did not see it happen.
        if watcher.interference || !lease_kept {
            outcome.combine(Outcome::StateChangedByOthers)
        } else {
            outcome
        }
    })
}

/// Releases the lease; false when it was no longer ours (taken over or broken by someone else).
async fn release(held: &Held, remote: &Remote, ttl: Duration, reporter: &Reporter) -> bool {
    match held.release().await {
        Ok(true) => {
            reporter.info(
                "lease_released",
                &format!("lease {} released", remote.lease.location()),
            );
            true
        }
        Ok(false) => {
            reporter.emit(
                crate::output::Level::Error,
                "lease_lost",
                &format!(
                    "the lease {} was no longer ours at the end of the run (taken over or broken); left it alone",
                    remote.lease.location()
                ),
                serde_json::Value::Null,
            );
            false
        }
        Err(error) => {
            reporter.warn(
                "lease_released",
                &format!(
                    "could not release the lease ({error:#}); it expires after {}",
                    zdd_duration::format(ttl)
                ),
            );
            true
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn guarded(
    args: &RunArgs,
    terraform: &Terraform,
    tf_args: &[String],
    subcommand: &str,
    remote: &Remote,
    watcher: &mut Watcher,
    signals: &mut Signals,
    lost: &mut watch::Receiver<Option<LeaseLost>>,
    reporter: &Reporter,
    stdout_to: StdoutTo,
    feed: &Feed,
) -> anyhow::Result<Outcome> {
    let is_apply = matches!(subcommand, "apply" | "destroy");
    let mut outcome = Outcome::Ok;
    let mut expect_changes = false;
    // The saved plan holds every variable's value: a private directory, deleted at the end.
    let mut plan_dir: Option<PrivateDir> = None;

    let final_args: Vec<String> = if is_apply {
        let sub_at = tf_args.iter().position(|a| a == subcommand).unwrap_or(0);
        let (before, after) = tf_args.split_at(sub_at + 1);
        let after = crate::runner::join_option_values(after);
        let options: Vec<&String> = after.iter().filter(|a| a.starts_with('-')).collect();
        let given_plan = after.iter().find(|a| !a.starts_with('-')).cloned();
        let plan_file = match given_plan {
            Some(file) => file,
            None => {
                let private = plan_dir.insert(PrivateDir::create()?);
                let file = private.path().join("zdd-guard.tfplan");
                let mut plan_args: Vec<String> = before[..sub_at].to_vec();
                plan_args.push("plan".into());
                plan_args.push(format!("-out={}", file.display()));
                plan_args.push("-input=false".into());
                if subcommand == "destroy" {
                    plan_args.push("-destroy".into());
                }
                plan_args.extend(
                    options
                        .iter()
                        .filter(|a| !a.starts_with("-auto-approve") && !a.starts_with("-input"))
                        .map(|a| a.to_string()),
                );
                reporter.info(
                    "plan",
                    &format!(
                        "planning to a saved plan first, so this run knows what it may change \
                         (saved plan in {}, deleted at exit)",
                        private.path().display()
                    ),
                );
                let running = terraform.spawn(&plan_args, stdout_to)?;
                // Terraform is starting meanwhile; it reads the state only after taking its lock.
                outcome = outcome.combine(watcher.first_look(reporter).await);
                let code = supervise(
                    running,
                    Some(&mut *watcher),
                    args.watch_interval,
                    signals,
                    lost,
                    reporter,
                )
                .await?;
                if code != Some(0) || signals.received > 0 {
                    return Ok(Outcome::from_terraform(code).combine(Outcome::Error));
                }
                file.display().to_string()
            }
        };
        let shown = terraform.capture(&["show", "-json", &plan_file]).await?;
        anyhow::ensure!(
            shown.code == Some(0),
            "terraform show -json {plan_file} failed: {}",
            shown.stderr
        );
        let summary = plan::summarize(&shown.stdout)?;
        expect_changes = !summary.changes.is_empty();
        let change_set: BTreeSet<String> = summary.change_set();
        reporter.emit(
            crate::output::Level::Info,
            "change_set",
            &format!(
                "this run may change {} resource(s): {}",
                change_set.len(),
                change_set.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
            serde_json::json!({"addresses": change_set}),
        );
        watcher.set_change_set(change_set);
        let mut apply_args: Vec<String> = before[..sub_at].to_vec();
        apply_args.push("apply".into());
        apply_args.extend(
            options
                .iter()
                .filter(|a| {
                    APPLY_PLANFILE_OPTIONS
                        .iter()
                        .any(|o| a.split('=').next() == Some(o))
                })
                .map(|a| a.to_string()),
        );
        if !apply_args.iter().any(|a| a.starts_with("-input")) {
            apply_args.push("-input=false".into());
        }
        apply_args.push(plan_file);
        apply_args
    } else {
        tf_args.to_vec()
    };

    let running = terraform.spawn(&final_args, stdout_to)?;
    mark("terraform spawned");
    outcome = outcome.combine(watcher.first_look(reporter).await);
    mark("first look");
    let baseline_serial = watcher.baseline_serial();
    let code = supervise(
        running,
        Some(&mut *watcher),
        args.watch_interval,
        signals,
        lost,
        reporter,
    )
    .await;
    mark("terraform exited");
    // Its provider's last event lines (a rollout's `finished`) before this run's verdict.
    feed.drain().await;
    mark("tail drained");
    let code = code?;
    outcome = outcome.combine(Outcome::from_terraform(code));
    // Terraform is done with the saved plan (whatever its exit): delete it now. Every earlier
    // way out of this function deletes it when `plan_dir` is dropped.
    if let Some(private) = plan_dir.take()
        && let Err(error) = private.remove()
    {
        reporter.warn("plan", &format!("{error:#}"));
    }

    if is_apply && code == Some(0) {
        outcome = outcome
            .combine(verify_after_apply(remote, baseline_serial, expect_changes, reporter).await?);
        if args.verify_drift {
            let drift = terraform
                .capture(&[
                    "plan",
                    "-refresh-only",
                    "-detailed-exitcode",
                    "-input=false",
                    "-no-color",
                ])
                .await?;
            watcher.unwatched_terraform_exited(drift.code);
            match drift.code {
                Some(0) => reporter.info("drift", "no drift after apply"),
                Some(2) => {
                    reporter.error(
                        "drift",
                        "plan -refresh-only found drift right after apply (run `zdd-guard drift`)",
                    );
                    outcome = outcome.combine(Outcome::Drift);
                }
                other => {
                    reporter.error(
                        "drift",
                        &format!("plan -refresh-only failed ({other:?}): {}", drift.stderr),
                    );
                    outcome = outcome.combine(Outcome::Error);
                }
            }
        }
    }
    Ok(outcome)
}

/// Serial advanced, digest matches, no lock left behind.
async fn verify_after_apply(
    remote: &Remote,
    baseline: Option<u64>,
    expect_changes: bool,
    reporter: &Reporter,
) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::Ok;
    let digest_id = remote.backend.digest_id(&remote.state_key);
    let lock_id = remote.backend.lock_id(&remote.state_key);
    // Four independent reads at once: the state, the digest item, the lock item, the lockfile.
    let (state, stored_digest, lock, lockfile) = tokio::try_join!(
        remote.s3.get(&remote.state_key, None),
        async {
            match &remote.dynamodb {
                Some(locks) => locks.get_attribute(&digest_id, "Digest").await,
                None => Ok(None),
            }
        },
        async {
            match &remote.dynamodb {
                Some(locks) => locks.lock(&lock_id).await,
                None => Ok(None),
            }
        },
        async {
            if remote.backend.use_lockfile {
                remote.s3.lockfile(&remote.state_key).await
            } else {
                Ok(None)
            }
        },
    )?;
    let Some((_, bytes)) = state else {
        reporter.error(
            "verify",
            &format!("{} is missing after apply", remote.state_location()),
        );
        return Ok(Outcome::Error);
    };
    let digest = hex::encode(Md5::digest(&bytes));
    let after = crate::core::snapshot::Snapshot::parse(&remote.state_location(), bytes)?;
    if expect_changes && baseline.is_some_and(|b| after.serial <= b) {
        reporter.error(
            "verify",
            &format!(
                "state serial did not advance ({baseline:?} -> {})",
                after.serial
            ),
        );
        outcome = Outcome::Error;
    }
    if remote.dynamodb.is_some() && stored_digest.as_deref() != Some(digest.as_str()) {
        reporter.error(
            "verify",
            &format!("digest item {digest_id} is {stored_digest:?}, the state's MD5 is {digest}"),
        );
        outcome = Outcome::Error;
    }
    if let Some((_, info)) = lock {
        reporter.error(
            "verify",
            &format!("a Terraform lock was left behind: {}", info.describe()),
        );
        outcome = Outcome::Error;
    }
    if let Some((_, info)) = lockfile {
        reporter.error(
            "verify",
            &format!("a Terraform lockfile was left behind: {}", info.describe()),
        );
        outcome = Outcome::Error;
    }
    if outcome == Outcome::Ok {
        reporter.info(
            "verify",
            &format!(
                "verified: state serial {}, no lock left behind",
                after.serial
            ),
        );
    }
    Ok(outcome)
}
