//! Running terraform under watch: forward signals, watch the state object, Terraform's locks and
//! the lease every interval, and report interference at once.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;
use tokio::process::Child;
use tokio::signal::unix::{Signal as UnixSignal, SignalKind, signal};
use tokio::sync::watch;

use super::context::Remote;
use super::lease::Held;
use crate::aws::ObjectHead;
use crate::core::render::render_state_diff;
use crate::core::snapshot::{Assessment, Snapshot, assess};
use crate::core::watch::LockWatch;
use crate::output::{Level, Reporter};
use crate::runner::{Signal, send_signal};

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

/// Watches one state object, Terraform's locks on it, and our lease.
pub struct Watcher {
    remote: Remote,
    held: Option<Held>,
    change_set: BTreeSet<String>,
    last_head: Option<ObjectHead>,
    last_snapshot: Option<Snapshot>,
    dynamodb_lock: LockWatch,
    lockfile: LockWatch,
    lease_reported: bool,
    started: std::time::Instant,
    lock_grace: Duration,
    pub interference: bool,
}

impl Watcher {
    /// Reads the current state as the baseline.
    /// `lock_grace`: how long this run's Terraform lock may be missing while terraform still runs
    /// before it counts as force-unlocked.
    pub async fn start(
        remote: Remote,
        held: Option<Held>,
        lock_grace: Duration,
    ) -> anyhow::Result<Watcher> {
        let mut watcher = Watcher {
            remote,
            held,
            change_set: BTreeSet::new(),
            last_head: None,
            last_snapshot: None,
            dynamodb_lock: LockWatch::new(lock_grace),
            lockfile: LockWatch::new(lock_grace),
            lease_reported: false,
            started: std::time::Instant::now(),
            lock_grace,
            interference: false,
        };
        if let Some((head, bytes)) = watcher
            .remote
            .s3
            .get(&watcher.remote.state_key, None)
            .await?
        {
            watcher.last_snapshot = Some(Snapshot::parse(&watcher.remote.state_location(), bytes)?);
            watcher.last_head = Some(head);
        }
        Ok(watcher)
    }

    pub fn set_change_set(&mut self, change_set: BTreeSet<String>) {
        self.change_set = change_set;
    }

    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.last_snapshot.as_ref()
    }

    /// Starts watching a new terraform process's lock (each process takes its own).
    pub fn new_process(&mut self) {
        self.dynamodb_lock = LockWatch::new(self.lock_grace);
        self.lockfile = LockWatch::new(self.lock_grace);
    }

    /// One observation of everything; `locks` is false once terraform has exited.
    pub async fn tick(&mut self, reporter: &Reporter, locks: bool) -> anyhow::Result<()> {
        self.check_state(reporter).await?;
        if locks {
            self.check_locks(reporter).await?;
        }
        if let Some(held) = &self.held
            && !self.lease_reported
            && !held.still_ours().await?
        {
            self.lease_reported = true;
            self.report_interference(
                reporter,
                "lease_lost",
                &format!(
                    "the lease {} is no longer ours (taken over or broken)",
                    held.store.location()
                ),
                json!(null),
            );
        }
        Ok(())
    }

    async fn check_state(&mut self, reporter: &Reporter) -> anyhow::Result<()> {
        let key = self.remote.state_key.clone();
        let Some(head) = self.remote.s3.head(&key).await? else {
            return Ok(());
        };
        if self.last_head.as_ref() == Some(&head) {
            return Ok(());
        }
        let Some((head, bytes)) = self.remote.s3.get(&key, head.version_id.as_deref()).await?
        else {
            return Ok(());
        };
        let location = format!(
            "{} (version {})",
            self.remote.state_location(),
            head.version_id.as_deref().unwrap_or("-")
        );
        let snapshot = match Snapshot::parse(&location, bytes) {
            Ok(snapshot) => snapshot,
            Err(error) => {
                self.last_head = Some(head);
                self.report_interference(
                    reporter,
                    "state_malformed",
                    &format!("someone wrote a state that is not Terraform state: {error}"),
                    json!(null),
                );
                return Ok(());
            }
        };
        let before = self
            .last_snapshot
            .take()
            .unwrap_or_else(|| Snapshot::empty(&snapshot.lineage));
        if let Assessment::Foreign { reasons, diff } = assess(&before, &snapshot, &self.change_set)
        {
            let rendered = render_state_diff(&diff, reporter.colour());
            let message = format!(
                "the state {location} was changed by someone else during this run: {}\n{rendered}",
                reasons.join("; ")
            );
            self.report_interference(
                reporter,
                "state_changed",
                &message,
                serde_json::to_value(&diff).unwrap_or_default(),
            );
        }
        self.last_head = Some(head);
        self.last_snapshot = Some(snapshot);
        Ok(())
    }

    async fn check_locks(&mut self, reporter: &Reporter) -> anyhow::Result<()> {
        if let Some(locks) = &self.remote.dynamodb {
            let lock_id = self.remote.backend.lock_id(&self.remote.state_key);
            let current = locks.lock(&lock_id).await?.map(|(_, info)| info);
            if let Some(finding) = self.dynamodb_lock.observe(current, self.started.elapsed()) {
                let message = finding.describe(&format!("dynamodb:{}/{lock_id}", locks.table()));
                self.report_interference(reporter, "terraform_lock_lost", &message, json!(null));
            }
        }
        if self.remote.backend.use_lockfile {
            let current = self
                .remote
                .s3
                .lockfile(&self.remote.state_key)
                .await?
                .map(|(_, info)| info);
            if let Some(finding) = self.lockfile.observe(current, self.started.elapsed()) {
                let message = finding.describe(&format!("{}.tflock", self.remote.state_location()));
                self.report_interference(reporter, "terraform_lock_lost", &message, json!(null));
            }
        }
        Ok(())
    }

    fn report_interference(
        &mut self,
        reporter: &Reporter,
        event: &str,
        message: &str,
        data: serde_json::Value,
    ) {
        self.interference = true;
        reporter.emit(Level::Error, event, message, data);
    }
}

/// Waits for terraform while watching; forwards SIGINT/SIGTERM (the second forwarded as well,
/// which Terraform treats as "stop now"; a third kills it). Returns terraform's exit code.
pub async fn supervise(
    mut child: Child,
    watcher: Option<&mut Watcher>,
    interval: Duration,
    signals: &mut Signals,
    lease_lost: &mut watch::Receiver<Option<String>>,
    reporter: &Reporter,
) -> anyhow::Result<Option<i32>> {
    let pid = child.id();
    let mut watcher = watcher;
    if let Some(w) = watcher.as_deref_mut() {
        w.new_process();
    }
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let forwarded = tokio::select! {
            status = child.wait() => {
                let status = status?;
                return Ok(status.code());
            }
            _ = ticker.tick() => {
                if let Some(w) = watcher.as_deref_mut() && let Err(error) = w.tick(reporter, true).await {
                    reporter.warn("watch_error", &format!("watch failed this tick: {error:#}"));
                }
                None
            }
            Some(()) = signals.interrupt.recv() => Some(Signal::Interrupt),
            Some(()) = signals.terminate.recv() => Some(Signal::Terminate),
            changed = lease_lost.changed(), if lease_lost.borrow().is_none() => {
                if changed.is_ok() && let Some(message) = lease_lost.borrow().clone() && let Some(w) = watcher.as_deref_mut() {
                    w.report_interference(reporter, "lease_lost", &message, json!(null));
                }
                None
            }
        };
        if let (Some(signal), Some(pid)) = (forwarded, pid) {
            signals.received += 1;
            let sent = if signals.received >= 3 {
                Signal::Kill
            } else {
                signal
            };
            reporter.warn(
                "signal",
                &format!(
                    "received {signal:?} ({}), forwarding {sent:?} to terraform (pid {pid}); {}",
                    signals.received,
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
    }
}
