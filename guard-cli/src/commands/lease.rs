//! Acquiring, renewing and releasing the deploy-long lease against a [`LeaseStore`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;
use tokio::sync::{Mutex, Notify, watch};

use crate::aws::{LeaseStore, StoredLease};
use crate::core::lease::{self, AcquireDecision, Beat, Lease, Owner, RecordedLock};
use crate::exit::LockingError;
use crate::output::{Level, Reporter};

/// Our lease while we hold it: the current record and the token our next write must present,
/// and the Terraform locks our terraform took, for the heartbeat to record in it.
#[derive(Debug, Clone)]
pub struct Held {
    pub store: LeaseStore,
    pub current: Arc<Mutex<StoredLease>>,
    host: String,
    locks: Arc<std::sync::Mutex<Vec<RecordedLock>>>,
    renew_now: Arc<Notify>,
    reporter: Reporter,
}

/// A fresh random-enough lease id: pid, time and address of a stack value.
fn new_lease_id(now: SystemTime) -> String {
    let nanos = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let marker = 0u8;
    format!(
        "{:x}-{:x}-{:x}",
        std::process::id(),
        nanos,
        std::ptr::addr_of!(marker) as usize
    )
}

pub fn this_owner(command: String) -> Owner {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_string());
    Owner::from_env(|k| std::env::var(k).ok(), host, std::process::id(), command)
}

/// The lease is lost (not renewed in time, or taken or removed by someone else): why, and by
/// when its terraform must be gone. That is the lease's expiry as last written: another run may
/// take the lease over (and remove the Terraform lock it recorded) from then on, plus the
/// clock-skew allowance, by its own clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseLost {
    pub reason: String,
    pub terraform_gone_by: SystemTime,
}

/// A lease just taken, and the expired lease it replaced, if any (whose recorded Terraform
/// locks the run may remove: `terraform_locks::remove_locks_left_by`).
#[derive(Debug)]
pub struct Acquired {
    pub held: Held,
    pub took_over: Option<Box<Lease>>,
}

/// Takes the lease, waiting up to `wait` while someone else holds a live one.
pub async fn acquire(
    store: &LeaseStore,
    owner: Owner,
    ttl: Duration,
    wait: Duration,
    poll: Duration,
    reporter: &Reporter,
    signals: &mut super::supervise::Signals,
) -> anyhow::Result<Acquired> {
    let started = std::time::Instant::now();
    let lease_id = new_lease_id(SystemTime::now());
    let mut last_holder: Option<String> = None;
    // The common case is a free lease: try to create it before reading anything (one round trip
    // instead of two). The write is conditional on absence, so it cannot take a held lease.
    let now = SystemTime::now();
    let lease = new_lease(&lease_id, &owner, now, ttl);
    if let Ok(token) = store.write(&lease, None).await? {
        return Ok(Acquired {
            held: acquired(store, lease, token, ttl, reporter),
            took_over: None,
        });
    }
    loop {
        let now = SystemTime::now();
        let stored = store.read().await?;
        let (expected, takeover) = match lease::decide(stored.as_ref().map(|s| &s.lease), now) {
            AcquireDecision::Create => (None, None),
            AcquireDecision::TakeOver { expired } => {
                (stored.as_ref().map(|s| s.token.clone()), Some(expired))
            }
            AcquireDecision::Held { holder } => {
                let message = format!("lease {} {}", store.location(), holder.describe(now));
                if started.elapsed() >= wait {
                    return Err(LockingError::NotObtained(format!(
                        "{message}; gave up after waiting {} (raise --wait, or `zdd-guard lock status`)",
                        lease::human(wait)
                    ))
                    .into());
                }
                if last_holder.as_deref() != Some(holder.lease_id.as_str()) {
                    reporter.info("lease_wait", &format!("waiting: {message}"));
                    last_holder = Some(holder.lease_id.clone());
                }
                let pause = poll
                    .min(wait.saturating_sub(started.elapsed()))
                    .max(Duration::from_millis(50));
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    signal = signals.next() => {
                        return Err(LockingError::NotObtained(format!(
                            "{signal:?} received while waiting for the lease; terraform was not started"
                        )).into());
                    }
                }
                continue;
            }
        };
        let lease = new_lease(&lease_id, &owner, now, ttl);
        match store.write(&lease, expected.as_deref()).await? {
            Ok(token) => {
                if let Some(expired) = &takeover {
                    reporter.warn(
                        "lease_takeover",
                        &format!("took over an expired lease {}", expired.describe(now)),
                    );
                }
                return Ok(Acquired {
                    held: acquired(store, lease, token, ttl, reporter),
                    took_over: takeover,
                });
            }
            // Someone wrote between our read and write: read again.
            Err(_conflict) => continue,
        }
    }
}

/// Our lease record, saying whether our terraform dies with us (see `runner`).
fn new_lease(lease_id: &str, owner: &Owner, now: SystemTime, ttl: Duration) -> Lease {
    Lease {
        terraform_dies_with_guard: crate::runner::TERRAFORM_DIES_WITH_GUARD,
        ..Lease::new(lease_id.to_string(), owner.clone(), now, ttl)
    }
}

fn acquired(
    store: &LeaseStore,
    lease: Lease,
    token: String,
    ttl: Duration,
    reporter: &Reporter,
) -> Held {
    reporter.emit(
        Level::Info,
        "lease_acquired",
        &format!(
            "lease {} acquired (id {}, ttl {}); if this job is cancelled, \
             `zdd-guard lock release --lease-id {}` releases what it holds",
            store.location(),
            lease.lease_id,
            lease::human(ttl),
            lease.lease_id
        ),
        json!({"location": store.location(), "lease_id": lease.lease_id, "ttl_ms": lease.ttl_ms}),
    );
    Held {
        store: store.clone(),
        host: lease.owner.host.clone(),
        current: Arc::new(Mutex::new(StoredLease { lease, token })),
        locks: Arc::new(std::sync::Mutex::new(Vec::new())),
        renew_now: Arc::new(Notify::new()),
        reporter: reporter.clone(),
    }
}

impl Held {
    /// Records a Terraform lock that this run's terraform took; the heartbeat writes it into
    /// the lease at once (and with every renewal after), conditionally as always.
    pub fn record_lock(&self, lock: RecordedLock) {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        lease::record_lock(&mut locks, lock);
        drop(locks);
        self.renew_now.notify_one();
    }

    /// The Terraform locks this run's terraform took, as recorded so far.
    pub fn recorded_locks(&self) -> Vec<RecordedLock> {
        self.locks.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The host this lease's owner runs on (terraform's `Who` names the same host).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Renews the lease every third of its TTL (and at once when a lock is recorded) until
    /// `stop` flips. Every failed renewal is reported and retried soon; a renewal refused
    /// because the record changed, or none succeeding before the lease could be taken over
    /// (its expiry minus the clock-skew allowance), reports the lease lost on `lost`.
    pub fn spawn_heartbeat(
        &self,
        mut stop: watch::Receiver<bool>,
        lost: watch::Sender<Option<LeaseLost>>,
    ) -> tokio::task::JoinHandle<()> {
        let held = self.clone();
        tokio::spawn(async move {
            let location = held.store.location();
            let mut retrying = false;
            loop {
                let last = held.current.lock().await.clone();
                let now = SystemTime::now();
                let (at, lost_at) = match lease::next_beat(&last.lease, now, retrying) {
                    Beat::RenewAt { at, lost_at } => (at, lost_at),
                    Beat::Lost => {
                        let _ = lost.send(Some(LeaseLost {
                            reason: format!(
                                "could not renew the lease {location} before {} (its expiry \
                                 minus the {} clock-skew allowance), after which another run \
                                 may take it over: the lease is lost",
                                humantime::format_rfc3339_millis(last.lease.lost_at()),
                                lease::human_ms(last.lease.skew_allowance())
                            ),
                            terraform_gone_by: last.lease.expires_at,
                        }));
                        return;
                    }
                };
                let pause = at.duration_since(now).unwrap_or_default();
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = held.renew_now.notified() => {}
                    changed = stop.changed() => if changed.is_err() || *stop.borrow() {
                        return;
                    },
                }
                let now = SystemTime::now();
                let Ok(budget) = lost_at.duration_since(now) else {
                    continue;
                };
                let renewed = Lease {
                    terraform_locks: held.recorded_locks(),
                    ..last.lease.renewed(now)
                };
                let write =
                    tokio::time::timeout(budget, held.store.write(&renewed, Some(&last.token)));
                let result = tokio::select! {
                    result = write => result,
                    // A renewal cut short may still land; `release` finds it by the lease id.
                    changed = stop.changed() => if changed.is_err() || *stop.borrow() {
                        return;
                    } else {
                        continue;
                    },
                };
                match result {
                    Ok(Ok(Ok(token))) => {
                        if retrying {
                            held.reporter.info(
                                "lease_renewed",
                                &format!("renewed the lease {location} again"),
                            );
                        }
                        retrying = false;
                        *held.current.lock().await = StoredLease {
                            lease: renewed,
                            token,
                        };
                    }
                    Ok(Ok(Err(_conflict))) => match held.store.read().await {
                        // An earlier renewal that timed out on our side landed after all: the
                        // record still carries our lease id (no one else writes it), so it is
                        // ours; renew from it.
                        Ok(Some(stored)) if stored.lease.lease_id == last.lease.lease_id => {
                            *held.current.lock().await = stored;
                        }
                        Ok(_) => {
                            let _ = lost.send(Some(LeaseLost {
                                reason: format!(
                                    "the lease {location} was taken or removed by someone else: \
                                     the lease is lost"
                                ),
                                terraform_gone_by: last.lease.expires_at,
                            }));
                            return;
                        }
                        Err(error) => {
                            retrying = true;
                            held.reporter.warn(
                                "lease_heartbeat",
                                &format!(
                                    "could not renew the lease {location} (a conflict, then \
                                     {error:#}); retrying until {}, when it counts as lost",
                                    humantime::format_rfc3339_millis(lost_at)
                                ),
                            );
                        }
                    },
                    Ok(Err(error)) => {
                        retrying = true;
                        held.reporter.warn(
                            "lease_heartbeat",
                            &format!(
                                "could not renew the lease {location} ({error:#}); retrying until \
                                 {}, when it counts as lost",
                                humantime::format_rfc3339_millis(lost_at)
                            ),
                        );
                    }
                    Err(_elapsed) => {
                        retrying = true;
                        held.reporter.warn(
                            "lease_heartbeat",
                            &format!(
                                "could not renew the lease {location}: the write did not finish \
                                 by {}",
                                humantime::format_rfc3339_millis(lost_at)
                            ),
                        );
                    }
                }
            }
        })
    }

    /// The expiry of the lease as we last wrote it.
    pub async fn expires_at(&self) -> SystemTime {
        self.current.lock().await.lease.expires_at
    }

    /// Whether the stored lease is still ours (for the watcher).
    pub async fn still_ours(&self) -> anyhow::Result<bool> {
        let stored = self.store.read().await?;
        let lease_id = self.current.lock().await.lease.lease_id.clone();
        Ok(stored.is_some_and(|s| s.lease.lease_id == lease_id))
    }

    /// Deletes the lease if it is still ours. A renewal cut short by the end of the run may have
    /// landed with a token we never saw: the record read back with our lease id is still ours.
    pub async fn release(&self) -> anyhow::Result<bool> {
        let current = self.current.lock().await.clone();
        if self.store.delete(&current.token).await?.is_ok() {
            return Ok(true);
        }
        match self.store.read().await? {
            Some(stored) if stored.lease.lease_id == current.lease.lease_id => {
                Ok(self.store.delete(&stored.token).await?.is_ok())
            }
            _ => Ok(false),
        }
    }
}
