//! The deploy-long lease: who holds a state, since when, until when, and which Terraform lock
//! its terraform took.
//!
//! Terraform's own lock has no TTL, so a cancelled CI job leaves it forever. The lease lives beside
//! it with an expiry renewed by a heartbeat; once the heartbeat has stopped for a TTL (plus the
//! clock-skew allowance: expiry is written by the holder's clock and read by another machine's),
//! another run may take it over (with a conditional write done by the adapter). The holder renews
//! every third of the TTL and gives the lease up as lost when it could not renew before
//! `expires_at` minus the allowance. While its terraform holds Terraform's lock, the lease records
//! that lock (ID, Who, Created), so `lock break --if-stale` and `lock release` touch only a lock
//! the guard's own run took. Pure: `now` is a parameter.
//!
//! # Taking over a dead run's Terraform lock
//!
//! A run that takes over an expired lease also removes the Terraform locks that lease recorded
//! ([`judge_left_lock`]; `lock break --if-stale` makes the same check, asked by a human), so a
//! CI job killed with `kill -9` blocks the next one only for the lease's TTL. That is safe only
//! if the old terraform can no longer write the state, which holds because a guard's terraform
//! never outlives its lease (the lease says so: [`Lease::terraform_dies_with_guard`]; a lease
//! that does not, from another OS or an older guard, leaves its lock to `lock break`):
//! - the guard starts terraform with a parent-death signal (Linux `PR_SET_PDEATHSIG`, SIGKILL):
//!   when the guard dies, however (a `kill -9` of it or of its process group, an OOM kill),
//!   terraform dies with it, within the TTL by far;
//! - a guard that cannot renew in time counts the lease lost at `expires_at` minus the
//!   allowance, stops terraform as a Ctrl-C would, and kills terraform's process group at
//!   `expires_at` if it is still running; a reader takes over only at `expires_at` plus the
//!   allowance by its own clock, which is after `expires_at` by the holder's as long as the
//!   clocks disagree by less than the allowance.
//!
//! Limits, said in the README too: a guard that is stopped, not dead (SIGSTOP, a frozen VM or
//! container), neither renews nor kills, and its terraform, in another process group, may go on
//! writing after another run took over (that run's watcher reports the write: exit 4). A lock
//! taken by terraform after the last renewal that recorded locks (the watcher records a lock at
//! the next tick and heartbeat: about one watch interval) is not recorded, so a kill in that
//! window leaves a lock no run removes (`terraform force-unlock` after checking). The
//! parent-death signal is Linux only. A write terraform had sent just before it died may still
//! land; a provider process terraform started is not killed by it (it writes no state).

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::lockinfo::LockInfo;

/// How far two machines' clocks may disagree before a lease decision could go wrong: a reader
/// takes over only this long after the holder's `expires_at`, and the holder counts its lease as
/// lost this long before it. Capped at a quarter of the lease's TTL (see
/// [`Lease::skew_allowance`]), so that short test TTLs still leave room to renew.
pub const CLOCK_SKEW_ALLOWANCE: Duration = Duration::from_secs(30);

/// Where Terraform keeps a lock: the DynamoDB lock item or the S3 `<key>.tflock` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockStore {
    Dynamodb,
    Lockfile,
}

/// A Terraform lock that the lease holder's terraform took, as the lease records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedLock {
    pub store: LockStore,
    pub id: String,
    pub who: String,
    pub created: String,
    #[serde(default)]
    pub operation: String,
}

impl RecordedLock {
    pub fn new(store: LockStore, info: &LockInfo) -> RecordedLock {
        RecordedLock {
            store,
            id: info.id.clone(),
            who: info.who.clone(),
            created: info.created.clone(),
            operation: info.operation.clone(),
        }
    }

    /// The same lock: same store, ID, holder and creation time (an ID alone could be forged
    /// or reused by hand; all three together are what Terraform wrote).
    pub fn matches(&self, store: LockStore, info: &LockInfo) -> bool {
        self.store == store
            && self.id == info.id
            && self.who == info.who
            && self.created == info.created
    }
}

/// Who runs zdd-guard: enough for a human to find the job that holds a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// CI job id or URL when known (GitHub Actions, GitLab CI, generic `CI_JOB_URL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_job: Option<String>,
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub command: String,
}

impl Owner {
    /// Builds an owner from an environment lookup (so tests pass a map, not the process env).
    pub fn from_env(
        env: impl Fn(&str) -> Option<String>,
        host: String,
        pid: u32,
        command: String,
    ) -> Owner {
        let non_empty = |name: &str| env(name).filter(|v| !v.is_empty());
        let github = match (
            non_empty("GITHUB_SERVER_URL"),
            non_empty("GITHUB_REPOSITORY"),
            non_empty("GITHUB_RUN_ID"),
        ) {
            (Some(server), Some(repo), Some(run)) => {
                let attempt = non_empty("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".to_string());
                Some(format!(
                    "{server}/{repo}/actions/runs/{run}/attempts/{attempt}"
                ))
            }
            _ => None,
        };
        let ci_job = github
            .or_else(|| non_empty("CI_JOB_URL"))
            .or_else(|| non_empty("CI_JOB_ID").map(|id| format!("job {id}")))
            .or_else(|| non_empty("BUILD_URL"));
        let user = non_empty("GITHUB_ACTOR")
            .or_else(|| non_empty("GITLAB_USER_LOGIN"))
            .or_else(|| non_empty("USER"))
            .or_else(|| non_empty("LOGNAME"))
            .unwrap_or_else(|| "unknown".to_string());
        Owner {
            ci_job,
            user,
            host,
            pid,
            command,
        }
    }

    /// One line for messages: `alice@build-7 pid 42 (https://.../runs/1)`.
    pub fn describe(&self) -> String {
        let mut text = format!("{}@{} pid {}", self.user, self.host, self.pid);
        if let Some(job) = &self.ci_job {
            text.push_str(&format!(" ({job})"));
        }
        text
    }
}

/// A lease record as stored (JSON) in DynamoDB or S3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Random per run; a lease is "ours" only when this matches.
    pub lease_id: String,
    pub owner: Owner,
    #[serde(with = "rfc3339")]
    pub created: SystemTime,
    #[serde(with = "rfc3339")]
    pub heartbeat: SystemTime,
    #[serde(with = "rfc3339")]
    pub expires_at: SystemTime,
    /// The TTL each heartbeat extends `expires_at` by, in milliseconds.
    pub ttl_ms: u64,
    /// Terraform's locks that the holder's terraform took (newest per store), written at the
    /// heartbeat after the watcher first sees each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub terraform_locks: Vec<RecordedLock>,
    /// The holder's terraform dies with its guard (a parent-death signal: Linux), so once this
    /// lease can be taken over its terraform is gone. Absent (false) in a lease written by a
    /// guard without it (another OS, an older version): its terraform may outlive it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub terraform_dies_with_guard: bool,
}

/// Records `lock` in `locks`, replacing an earlier lock of the same store: a lease keeps the
/// newest lock per store (a later terraform process of the same run takes a new one).
pub fn record_lock(locks: &mut Vec<RecordedLock>, lock: RecordedLock) {
    locks.retain(|l| l.store != lock.store);
    locks.push(lock);
}

/// What to do about the lease currently stored (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcquireDecision {
    /// No lease: create one (the write must fail if one appeared meanwhile).
    Create,
    /// The holder's heartbeat stopped for its TTL: replace it (conditional on it being unchanged).
    TakeOver { expired: Box<Lease> },
    /// Someone holds a live lease.
    Held { holder: Box<Lease> },
}

/// A malformed stored lease.
#[derive(Debug, thiserror::Error)]
#[error(
    "lease record {location} is malformed ({message}); inspect it, then remove it by hand if it is not a zdd-guard lease"
)]
pub struct LeaseParseError {
    pub location: String,
    pub message: String,
}

impl Lease {
    pub fn new(lease_id: String, owner: Owner, now: SystemTime, ttl: Duration) -> Lease {
        Lease {
            lease_id,
            owner,
            created: now,
            heartbeat: now,
            expires_at: now + ttl,
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            terraform_locks: Vec::new(),
            terraform_dies_with_guard: false,
        }
    }

    pub fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms)
    }

    /// [`CLOCK_SKEW_ALLOWANCE`], or a quarter of the TTL when that is shorter. Derived from the
    /// record itself, so the holder and every reader agree on it without configuration.
    pub fn skew_allowance(&self) -> Duration {
        CLOCK_SKEW_ALLOWANCE.min(self.ttl() / 4)
    }

    /// From when (reader's clock) another run may take the lease over: expiry plus the
    /// allowance, so a reader whose clock runs ahead by up to the allowance never takes over a
    /// lease its holder still believes live.
    pub fn takeover_at(&self) -> SystemTime {
        self.expires_at + self.skew_allowance()
    }

    pub fn can_be_taken_over(&self, now: SystemTime) -> bool {
        now >= self.takeover_at()
    }

    /// The holder's deadline (its own clock): a lease not renewed by then counts as lost, as a
    /// reader whose clock runs behind ours by up to the allowance may take it over at expiry.
    pub fn lost_at(&self) -> SystemTime {
        self.expires_at
            .checked_sub(self.skew_allowance())
            .unwrap_or(self.expires_at)
    }

    /// When the holder renews next: a third of the TTL after the last heartbeat, well before
    /// [`Lease::lost_at`] (three quarters of the TTL at the latest).
    pub fn renew_at(&self) -> SystemTime {
        self.heartbeat + self.ttl() / 3
    }

    /// The same lease recording `lock` (replacing an earlier lock of the same store).
    pub fn with_lock(&self, lock: RecordedLock) -> Lease {
        let mut lease = self.clone();
        record_lock(&mut lease.terraform_locks, lock);
        lease
    }

    /// Whether this lease recorded `info` as its terraform's lock in `store`.
    pub fn recorded(&self, store: LockStore, info: &LockInfo) -> bool {
        self.terraform_locks.iter().any(|l| l.matches(store, info))
    }

    /// Whether `stored` (read back after a conditional write reported a conflict) is exactly
    /// what we wrote: then the write succeeded and the conflict came from the SDK retrying it
    /// (the record holds our lease id and this write's heartbeat, so no one else wrote it).
    /// Compared as stored text: the record keeps times to the millisecond.
    pub fn is_same_write(&self, stored: &Lease) -> bool {
        self.to_json() == stored.to_json()
    }

    /// The same lease with a fresh heartbeat at `now`.
    pub fn renewed(&self, now: SystemTime) -> Lease {
        Lease {
            heartbeat: now,
            expires_at: now + Duration::from_millis(self.ttl_ms),
            ..self.clone()
        }
    }

    /// Past `expires_at` (by the reader's clock); see [`Lease::can_be_taken_over`] for when
    /// that may be acted on.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.expires_at
    }

    pub fn to_json(&self) -> String {
        // Serializing plain strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(location: &str, json: &str) -> Result<Lease, LeaseParseError> {
        serde_json::from_str(json).map_err(|e| LeaseParseError {
            location: location.to_string(),
            message: e.to_string(),
        })
    }

    /// `held by alice@ci pid 4 since 2026-...Z (heartbeat 3s ago, expires in 1m57s)`.
    pub fn describe(&self, now: SystemTime) -> String {
        let ago = age(self.heartbeat, now);
        let expiry = match self.expires_at.duration_since(now) {
            Ok(left) => format!("expires in {}", human(left)),
            Err(_) => format!("expired {} ago", human(age(self.expires_at, now))),
        };
        format!(
            "held by {} since {} (heartbeat {} ago, {expiry})",
            self.owner.describe(),
            humantime::format_rfc3339_seconds(self.created),
            human(ago),
        )
    }
}

/// Decides whether a run can take the lease given what is stored.
pub fn decide(existing: Option<&Lease>, now: SystemTime) -> AcquireDecision {
    match existing {
        None => AcquireDecision::Create,
        Some(lease) if lease.can_be_taken_over(now) => AcquireDecision::TakeOver {
            expired: Box::new(lease.clone()),
        },
        Some(lease) => AcquireDecision::Held {
            holder: Box::new(lease.clone()),
        },
    }
}

/// What the holder's heartbeat does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// Renew at `at`; give up the attempt (and the lease) at `lost_at`.
    RenewAt { at: SystemTime, lost_at: SystemTime },
    /// The lease could not be renewed before it could be taken over: it is lost.
    Lost,
}

/// The holder's next step for `held` (the last lease it wrote successfully) at `now`; `retrying`
/// after a failed renewal, which is retried soon (a twelfth of the TTL, between 100 ms and 5 s)
/// instead of at the regular third.
pub fn next_beat(held: &Lease, now: SystemTime, retrying: bool) -> Beat {
    let lost_at = held.lost_at();
    if now >= lost_at {
        return Beat::Lost;
    }
    let at = if retrying {
        now + (held.ttl() / 12).clamp(Duration::from_millis(100), Duration::from_secs(5))
    } else {
        held.renew_at()
    };
    Beat::RenewAt {
        at: at.min(lost_at),
        lost_at,
    }
}

/// Why `lock break --if-stale` leaves things alone.
#[derive(Debug, Clone, PartialEq)]
pub enum BreakRefusal {
    /// The lease can still be renewed by its holder (not past expiry plus the allowance).
    Live { lease: Box<Lease> },
    /// A Terraform lock the expired lease never recorded: someone else's (a terraform run
    /// outside the guard, or a run that took the lock after the lease expired).
    NotRecorded {
        store: LockStore,
        lock: Box<LockInfo>,
        lease: Box<Lease>,
    },
}

impl BreakRefusal {
    /// `lock_name` names a store's lock for messages (`dynamodb:table/id`, `s3://b/k.tflock`).
    pub fn describe(&self, now: SystemTime, lock_name: impl Fn(LockStore) -> String) -> String {
        match self {
            BreakRefusal::Live { lease } => {
                let margin = if lease.is_expired(now) {
                    format!(
                        "; it may be taken over {} after expiry (clock-skew allowance)",
                        human_ms(lease.skew_allowance())
                    )
                } else {
                    String::new()
                };
                format!(
                    "refusing to break: the lease is live, {}{margin}",
                    lease.describe(now)
                )
            }
            BreakRefusal::NotRecorded { store, lock, lease } => format!(
                "refusing to break the Terraform lock {}: {}; the expired lease ({}) never \
                 recorded it as its terraform's lock, so it belongs to someone else (a terraform \
                 run without zdd-guard?). Left it alone; `terraform force-unlock {}` removes it \
                 once you know its holder is gone",
                lock_name(*store),
                lock.describe_age(now),
                lease.owner.describe(),
                lock.id
            ),
        }
    }
}

/// Whether `lock break --if-stale` may remove `locks` (each with its store) and the lease:
/// only once the lease can be taken over, and only locks it recorded. Anything else is refused
/// whole (nothing is broken).
pub fn judge_break(
    lease: &Lease,
    locks: &[(LockStore, &LockInfo)],
    now: SystemTime,
) -> Result<(), BreakRefusal> {
    if !lease.can_be_taken_over(now) {
        return Err(BreakRefusal::Live {
            lease: Box::new(lease.clone()),
        });
    }
    match locks
        .iter()
        .find(|(store, info)| !lease.recorded(*store, info))
    {
        Some((store, info)) => Err(BreakRefusal::NotRecorded {
            store: *store,
            lock: Box::new((*info).clone()),
            lease: Box::new(lease.clone()),
        }),
        None => Ok(()),
    }
}

/// What a run that took over `expired` does about a Terraform lock it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftLock {
    /// The lock the dead run's terraform took: that terraform is gone, remove the lock.
    Remove,
    /// The lease never recorded it: someone else's (a plain `terraform apply`, say).
    NotRecorded,
    /// Recorded, but by a guard whose terraform may outlive it (no parent-death signal), or
    /// the lease is not past its takeover time: left alone.
    TerraformMayLive,
}

/// Whether a run that took over `expired` may remove the Terraform lock `info` in `store`: only
/// a lock that lease recorded as its terraform's, only once the lease can be taken over, and
/// only if its guard's terraform dies with it (see the module docs for why it is gone then).
pub fn judge_left_lock(
    expired: &Lease,
    store: LockStore,
    info: &LockInfo,
    now: SystemTime,
) -> LeftLock {
    if !expired.recorded(store, info) {
        LeftLock::NotRecorded
    } else if expired.terraform_dies_with_guard && expired.can_be_taken_over(now) {
        LeftLock::Remove
    } else {
        LeftLock::TerraformMayLive
    }
}

/// Whether the stored lease is the caller's own for `lock release`: the one named by
/// `--lease-id` when given; else the lease taken by this user on this host in this CI job (or
/// outside CI). The CI job alone is not enough: a GitHub Actions run id is shared by every job
/// of the run, and a sibling job's live lease must not be released; another job names the lease
/// with `--lease-id`.
pub fn owns(lease: &Lease, me: &Owner, lease_id: Option<&str>) -> bool {
    match lease_id {
        Some(id) => lease.lease_id == id,
        None => {
            lease.owner.ci_job == me.ci_job
                && lease.owner.user == me.user
                && lease.owner.host == me.host
        }
    }
}

/// Whether a lock the watcher saw can be this process's terraform's: taken (by its own
/// `Created`) no earlier than terraform was started, by a terraform on this host. A lock that
/// was already there (a plain `terraform apply` our terraform waits for) is never recorded as
/// ours. Same host, same clock: no skew allowance applies.
pub fn taken_by_our_terraform(info: &LockInfo, started: SystemTime, host: &str) -> bool {
    let on_this_host = info
        .who
        .rsplit_once('@')
        .is_some_and(|(_, who_host)| who_host == host);
    on_this_host && info.created_at().is_some_and(|created| created >= started)
}

/// How long after `since` it is at `now` (zero if the clock went back).
pub fn age(since: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(since).unwrap_or_default()
}

/// Milliseconds, for short durations such as a short lease's skew allowance: `750ms`,
/// `1m30s`. Written in Terraform's grammar, the one the guard's flags read.
pub fn human_ms(duration: Duration) -> String {
    let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    zdd_duration::format(Duration::from_millis(millis))
}

/// Whole seconds, in Terraform's grammar: `1m57s`.
pub fn human(duration: Duration) -> String {
    zdd_duration::format(Duration::from_secs(duration.as_secs()))
}

mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_rfc3339_millis(*time).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
