//! Acquiring, renewing and releasing the deploy-long lease against a [`LeaseStore`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{Mutex, watch};

use crate::aws::{LeaseStore, StoredLease};
use crate::core::lease::{self, AcquireDecision, Lease, Owner};
use crate::exit::LockingError;
use crate::output::Reporter;

/// Our lease while we hold it: the current record and the token our next write must present.
#[derive(Debug, Clone)]
pub struct Held {
    pub store: LeaseStore,
    pub current: Arc<Mutex<StoredLease>>,
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

/// Takes the lease, waiting up to `wait` while someone else holds a live one.
pub async fn acquire(
    store: &LeaseStore,
    owner: Owner,
    ttl: Duration,
    wait: Duration,
    poll: Duration,
    reporter: &Reporter,
    signals: &mut super::supervise::Signals,
) -> anyhow::Result<Held> {
    let started = std::time::Instant::now();
    let lease_id = new_lease_id(SystemTime::now());
    let mut last_holder: Option<String> = None;
    // The common case is a free lease: try to create it before reading anything (one round trip
    // instead of two). The write is conditional on absence, so it cannot take a held lease.
    let now = SystemTime::now();
    let lease = Lease::new(lease_id.clone(), owner.clone(), now, ttl);
    if let Ok(token) = store.write(&lease, None).await? {
        return Ok(acquired(store, lease, token, ttl, reporter));
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
        let lease = Lease::new(lease_id.clone(), owner.clone(), now, ttl);
        match store.write(&lease, expected.as_deref()).await? {
            Ok(token) => {
                if let Some(expired) = takeover {
                    reporter.warn(
                        "lease_takeover",
                        &format!("took over an expired lease {}", expired.describe(now)),
                    );
                }
                return Ok(acquired(store, lease, token, ttl, reporter));
            }
            // Someone wrote between our read and write: read again.
            Err(_conflict) => continue,
        }
    }
}

fn acquired(
    store: &LeaseStore,
    lease: Lease,
    token: String,
    ttl: Duration,
    reporter: &Reporter,
) -> Held {
    reporter.info(
        "lease_acquired",
        &format!(
            "lease {} acquired (ttl {})",
            store.location(),
            lease::human(ttl)
        ),
    );
    Held {
        store: store.clone(),
        current: Arc::new(Mutex::new(StoredLease { lease, token })),
    }
}

impl Held {
    /// Renews the lease every `ttl / 3` until `stop` flips; reports a lost lease on `lost`.
    pub fn spawn_heartbeat(
        &self,
        mut stop: watch::Receiver<bool>,
        lost: watch::Sender<Option<String>>,
    ) -> tokio::task::JoinHandle<()> {
        let held = self.clone();
        tokio::spawn(async move {
            loop {
                let ttl = { Duration::from_millis(held.current.lock().await.lease.ttl_ms) };
                let period = (ttl / 3).max(Duration::from_millis(100));
                tokio::select! {
                    _ = tokio::time::sleep(period) => {}
                    _ = stop.changed() => return,
                }
                if *stop.borrow() {
                    return;
                }
                let mut current = held.current.lock().await;
                let renewed = current.lease.renewed(SystemTime::now());
                match held.store.write(&renewed, Some(&current.token)).await {
                    Ok(Ok(token)) => {
                        *current = StoredLease {
                            lease: renewed,
                            token,
                        }
                    }
                    Ok(Err(_conflict)) => {
                        let _ = lost.send(Some(format!(
                            "the lease {} was taken or removed by someone else",
                            held.store.location()
                        )));
                        return;
                    }
                    // A transient error: the next beat retries before the TTL runs out.
                    Err(_) => {}
                }
            }
        })
    }

    /// Whether the stored lease is still ours (for the watcher).
    pub async fn still_ours(&self) -> anyhow::Result<bool> {
        let stored = self.store.read().await?;
        let current = self.current.lock().await;
        Ok(stored.is_some_and(|s| s.lease.lease_id == current.lease.lease_id))
    }

    /// Deletes the lease if it is still ours.
    pub async fn release(&self) -> anyhow::Result<bool> {
        let current = self.current.lock().await;
        Ok(self.store.delete(&current.token).await?.is_ok())
    }
}
