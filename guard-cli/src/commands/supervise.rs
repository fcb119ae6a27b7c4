//! Running terraform under watch: forward signals, watch the state object, Terraform's locks and
//! the lease every interval, and report interference at once.
//!
//! Signals, terraform's exit and a lost lease are each their own branch of the supervise loop;
//! a watch tick's reads run as one more branch beside them, bounded by a timeout, so an AWS read
//! that hangs never delays forwarding a Ctrl-C (or stopping terraform when the lease is lost).
//! A terraform stopped for a lost lease that still runs when the lease expires is killed, its
//! whole process group, so that no run taking the lease over meets a live terraform.

use std::time::{Duration, SystemTime};

use serde_json::json;
use tokio::signal::unix::{Signal as UnixSignal, SignalKind, signal};
use tokio::sync::watch;

use super::lease::LeaseLost;
use super::watcher::{Observation, PendingObservation, Watcher};
use crate::core::watch::TerraformEnd;
use crate::output::{Level, Reporter};
use crate::runner::{OUTPUT_END_LIMIT, Running, Signal, kill_group, send_signal};

/// SIGINT and SIGTERM, installed once per process.
pub struct Signals {
    interrupt: UnixSignal,
    terminate: UnixSignal,
    pub received: u32,
}

impl Signals {
    /// The next SIGINT or SIGTERM.
    pub async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.interrupt.recv() => Signal::Interrupt,
            _ = self.terminate.recv() => Signal::Terminate,
        }
    }

    pub fn install() -> anyhow::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            received: 0,
        })
    }
}

/// What woke the supervise loop.
enum Wake {
    Signal(Signal),
    LeaseLost(LeaseLost),
    /// A terraform stopped for a lost lease still runs at the lease's expiry.
    KillDeadline,
    Observed(Box<anyhow::Result<Observation>>),
    Tick,
    Nothing,
}

/// Waits for terraform while watching; forwards SIGINT/SIGTERM (the second forwarded as well,
/// which Terraform treats as "stop now"; a third kills it). A lost lease (the heartbeat could not
/// renew it in time, or a tick saw it taken) stops terraform the same way as a Ctrl-C, and kills
/// its process group if it still runs when the lease expires. Once terraform exited, its output
/// is read to its end before the watch's verdict (which needs what it said about its lock).
/// Returns terraform's exit code.
pub async fn supervise(
    terraform: impl Into<Running>,
    watcher: Option<&mut Watcher>,
    interval: Duration,
    signals: &mut Signals,
    lease_lost: &mut watch::Receiver<Option<LeaseLost>>,
    reporter: &Reporter,
) -> anyhow::Result<Option<i32>> {
    let Running { mut child, output } = terraform.into();
    let pid = child.id();
    let mut watcher = watcher;
    if let Some(w) = watcher.as_deref_mut() {
        w.new_process();
    }
    // The first look is one interval in: at start the baseline was just read, and terraform's
    // own start-up should not compete with the watch for the backend.
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pending: Option<PendingObservation> = None;
    let mut lease_channel_open = true;
    // A lease lost before this process started (between two terraform runs) stops it at once.
    let from_heartbeat = lease_lost.borrow().clone();
    let mut stop_for_lease = match (from_heartbeat, watcher.as_deref()) {
        (Some(lost), _) => Some(lost),
        (None, Some(w)) if w.lease_lost() => Some(LeaseLost {
            reason: "the lease was lost earlier in this run".to_string(),
            terraform_gone_by: w.lease_expiry().await,
        }),
        _ => None,
    };
    let mut stopped_for_lease = false;
    // When a terraform stopped for a lost lease is killed if it still runs.
    let mut kill_at: Option<tokio::time::Instant> = None;
    loop {
        if let Some(lost) = stop_for_lease.take()
            && !std::mem::replace(&mut stopped_for_lease, true)
        {
            if let Some(w) = watcher.as_deref_mut() {
                w.report_interference(reporter, "lease_lost", &lost.reason, json!(null));
            }
            forward(
                signals,
                watcher.as_deref_mut(),
                pid,
                Signal::Interrupt,
                &stop_message(lost.terraform_gone_by),
                reporter,
            );
            kill_at = Some(instant_of(lost.terraform_gone_by));
        }
        let watching = watcher.is_some();
        let wake = tokio::select! {
            // An exit that is ready is judged before another look.
            biased;
            status = child.wait() => {
                let code = status?.code();
                let said = output.finish(OUTPUT_END_LIMIT).await;
                if said.still_open {
                    reporter.warn(
                        "terraform_output",
                        &format!(
                            "terraform exited but its output was still open {} later (a \
                             process it started still runs?): judged by what it wrote until then",
                            crate::core::lease::human(OUTPUT_END_LIMIT)
                        ),
                    );
                }
                if let Some(w) = watcher.as_deref_mut() {
                    w.terraform_exited(
                        reporter,
                        TerraformEnd {
                            exit_code: code,
                            release_failed: said.release_failed,
                        },
                    );
                }
                return Ok(code);
            }
            Some(()) = signals.interrupt.recv() => Wake::Signal(Signal::Interrupt),
            Some(()) = signals.terminate.recv() => Wake::Signal(Signal::Terminate),
            changed = lease_lost.changed(), if lease_channel_open && lease_lost.borrow().is_none() => {
                match changed {
                    Ok(()) => lease_lost.borrow().clone().map_or(Wake::Nothing, Wake::LeaseLost),
                    // The heartbeat ended (the run is ending): nothing more to hear from it.
                    Err(_) => {
                        lease_channel_open = false;
                        Wake::Nothing
                    }
                }
            }
            observed = async {
                match pending.as_mut() {
                    Some(reads) => reads.await,
                    None => std::future::pending().await,
                }
            }, if pending.is_some() => {
                Wake::Observed(Box::new(observed))
            }
            _ = ticker.tick(), if watching && pending.is_none() => Wake::Tick,
            _ = sleep_until_some(kill_at), if kill_at.is_some() => Wake::KillDeadline,
        };
        match wake {
            Wake::Signal(signal) => {
                let why = format!("received {signal:?} ({})", signals.received + 1);
                forward(signals, watcher.as_deref_mut(), pid, signal, &why, reporter);
            }
            Wake::LeaseLost(lost) => stop_for_lease = Some(lost),
            Wake::KillDeadline => {
                kill_at = None;
                kill_for_lease(pid, reporter);
            }
            Wake::Observed(observed) => {
                pending = None;
                if let Some(w) = watcher.as_deref_mut() {
                    match *observed {
                        Ok(observation) => {
                            w.apply_observation(reporter, observation, Some(&mut child));
                            if std::mem::take(&mut w.stop_for_lease) && !stopped_for_lease {
                                // Reported by the tick already: only the stop is left to do.
                                stopped_for_lease = true;
                                let gone_by = w.lease_expiry().await;
                                forward(
                                    signals,
                                    Some(w),
                                    pid,
                                    Signal::Interrupt,
                                    &stop_message(gone_by),
                                    reporter,
                                );
                                kill_at = Some(instant_of(gone_by));
                            }
                        }
                        Err(error) => reporter
                            .warn("watch_error", &format!("watch failed this tick: {error:#}")),
                    }
                }
            }
            Wake::Tick => {
                if let Some(w) = watcher.as_deref() {
                    pending = Some(w.start_observation(true));
                }
            }
            Wake::Nothing => {}
        }
    }
}

/// Why terraform is being stopped for a lost lease, and when it will be killed.
fn stop_message(gone_by: SystemTime) -> String {
    format!(
        "the lease is lost: stopping terraform as on Ctrl-C (killed at {}, the lease's expiry, \
         if it still runs then)",
        humantime::format_rfc3339_millis(gone_by)
    )
}

/// The monotonic instant of the wall-clock time `at` (now if it has passed).
fn instant_of(at: SystemTime) -> tokio::time::Instant {
    tokio::time::Instant::now() + at.duration_since(SystemTime::now()).unwrap_or_default()
}

async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Kills terraform's process group: it did not stop by the lost lease's expiry, from which
/// another run may take the lease over and remove the lock terraform holds.
fn kill_for_lease(pid: Option<u32>, reporter: &Reporter) {
    let Some(pid) = pid else {
        return;
    };
    reporter.emit(
        Level::Error,
        "terraform_killed",
        &format!(
            "terraform (pid {pid}) still runs at the lost lease's expiry, after which another \
             run may take the lease over: killed its process group (SIGKILL)"
        ),
        json!({"pid": pid}),
    );
    if let Err(error) = kill_group(pid) {
        reporter.warn("signal", &format!("{error:#}"));
    }
}

/// Forwards `signal` to terraform (a third stop request is sent as SIGKILL), as a Ctrl-C does;
/// `why` says what asked for it.
fn forward(
    signals: &mut Signals,
    watcher: Option<&mut Watcher>,
    pid: Option<u32>,
    signal: Signal,
    why: &str,
    reporter: &Reporter,
) {
    let Some(pid) = pid else {
        return;
    };
    signals.received += 1;
    if let Some(w) = watcher {
        w.terraform_stopping();
    }
    let sent = if signals.received >= 3 {
        Signal::Kill
    } else {
        signal
    };
    reporter.warn(
        "signal",
        &format!(
            "{why}, forwarding {sent:?} to terraform (pid {pid}); {}",
            if signals.received == 1 {
                "terraform stops gracefully and releases its lock"
            } else {
                "escalating"
            }
        ),
    );
    if let Err(error) = send_signal(pid, sent) {
        reporter.warn("signal", &format!("{error:#}"));
    }
}
