//! Terraform's own locks on the state (the DynamoDB item, the S3 lockfile) as `lock` and `run`
//! read and remove them: always by a conditional delete of the record as it was read, and only
//! when the caller decided it may (a lock its lease recorded; see `core::lease`).

use std::time::SystemTime;

use super::context::Remote;
use super::lease::Held;
use crate::aws::WriteConflict;
use crate::core::lease::{self, Lease, LeftLock, LockStore, RecordedLock};
use crate::core::lockinfo::LockInfo;
use crate::output::Reporter;

/// Terraform's locks on the state as they are now: each with its store, the raw record a
/// conditional delete must present (the DynamoDB `Info` text, the lockfile's ETag), and its name.
pub struct CurrentLock {
    pub store: LockStore,
    pub token: String,
    pub info: LockInfo,
    pub name: String,
}

pub async fn current_locks(remote: &Remote) -> anyhow::Result<Vec<CurrentLock>> {
    let mut locks = Vec::new();
    if let Some(table) = &remote.dynamodb {
        let lock_id = remote.backend.lock_id(&remote.state_key);
        if let Some((raw, info)) = table.lock(&lock_id).await? {
            locks.push(CurrentLock {
                store: LockStore::Dynamodb,
                token: raw,
                info,
                name: lock_name(remote, LockStore::Dynamodb),
            });
        }
    }
    if remote.backend.use_lockfile
        && let Some((head, info)) = remote.s3.lockfile(&remote.state_key).await?
    {
        locks.push(CurrentLock {
            store: LockStore::Lockfile,
            token: head.etag,
            info,
            name: lock_name(remote, LockStore::Lockfile),
        });
    }
    Ok(locks)
}

pub fn lock_name(remote: &Remote, store: LockStore) -> String {
    match (store, &remote.dynamodb) {
        (LockStore::Dynamodb, Some(table)) => format!(
            "dynamodb:{}/{}",
            table.table(),
            remote.backend.lock_id(&remote.state_key)
        ),
        _ => format!("{}.tflock", remote.state_location()),
    }
}

/// Deletes `lock` only while it is unchanged.
pub async fn delete_lock(
    remote: &Remote,
    lock: &CurrentLock,
) -> anyhow::Result<Result<(), WriteConflict>> {
    match (lock.store, &remote.dynamodb) {
        (LockStore::Dynamodb, Some(table)) => {
            let lock_id = remote.backend.lock_id(&remote.state_key);
            table
                .delete_conditional(&lock_id, "Info", &lock.token)
                .await
        }
        _ => {
            let key = format!("{}.tflock", remote.state_key);
            remote.s3.delete_conditional(&key, &lock.token).await
        }
    }
}

/// After `run` took over `expired` (a lease whose holder stopped renewing it for its TTL plus
/// the clock-skew allowance), removes the Terraform locks that lease recorded as its
/// terraform's, loudly: that terraform is gone (it dies with its guard, and a guard that lost
/// its lease kills it by the lease's expiry), so its lock only blocks this run. Any other lock
/// stays; terraform then waits for it or fails.
pub async fn remove_locks_left_by(
    remote: &Remote,
    expired: &Lease,
    reporter: &Reporter,
) -> anyhow::Result<()> {
    let now = SystemTime::now();
    for lock in current_locks(remote).await? {
        let left_alone = |why: &str| {
            format!(
                "the Terraform lock {} is held: {}; {why}, so it is left alone (`zdd-guard lock \
                 break --if-stale` or `terraform force-unlock {}` once you know its holder is \
                 gone)",
                lock.name,
                lock.info.describe_age(now),
                lock.info.id
            )
        };
        match lease::judge_left_lock(expired, lock.store, &lock.info, now) {
            LeftLock::NotRecorded => reporter.warn(
                "terraform_lock_held",
                &left_alone(&format!(
                    "the expired lease ({}) never recorded it as its terraform's",
                    expired.owner.describe()
                )),
            ),
            LeftLock::TerraformMayLive => reporter.warn(
                "terraform_lock_held",
                &left_alone(&format!(
                    "the expired lease ({}) recorded it, but was written by a guard whose \
                     terraform may outlive it (no parent-death signal: not Linux, or an older \
                     zdd-guard)",
                    expired.owner.describe()
                )),
            ),
            LeftLock::Remove => match delete_lock(remote, &lock).await? {
                Ok(()) => reporter.warn(
                    "lock_taken_over",
                    &format!(
                        "removed the Terraform lock {} ({}) that the expired lease of {} \
                         recorded as its terraform's: that guard stopped renewing its lease at \
                         {}, and a guard's terraform does not outlive its lease (it dies with \
                         the guard; a guard that loses its lease kills it by the lease's expiry)",
                        lock.name,
                        lock.info.describe(),
                        expired.owner.describe(),
                        humantime::format_rfc3339_seconds(expired.heartbeat),
                    ),
                ),
                Err(_conflict) => reporter.warn(
                    "terraform_lock_held",
                    &format!(
                        "the Terraform lock {} changed while removing it; left it alone",
                        lock.name
                    ),
                ),
            },
        }
    }
    Ok(())
}

/// Once this run's terraform has exited (none of its processes runs any more), removes the
/// Terraform locks it recorded as its terraform's that are still there, loudly. Terraform
/// leaves its lock when its release fails, and also when its lock write landed but the answer
/// was lost: the AWS SDK retries the write, the retry meets the lock that write took, and
/// terraform reports "Error acquiring the state lock" naming its own lock ID and exits without
/// removing it. The lease is still ours, so no other guarded run waits on it yet. Returns
/// whether a lock was left (removed or not): the run then failed even if terraform said 0.
///
/// Ours are the locks the lease recorded, and a lock the watch never saw (terraform took it
/// and failed between two looks) taken on this host while the last terraform process ran
/// (`last_started` to `ended`): the criterion by which the watch records a lock as ours.
/// Called only when that terraform did not exit cleanly (`core::watch::lock_may_be_left`):
/// after a clean exit, a lock found by that criterion is someone else's.
pub async fn remove_locks_our_terraform_left(
    remote: &Remote,
    held: &Held,
    last_started: SystemTime,
    ended: SystemTime,
    reporter: &Reporter,
) -> anyhow::Result<bool> {
    let recorded = held.recorded_locks();
    let mut left = false;
    for lock in current_locks(remote).await? {
        let taken_meanwhile = lease::taken_by_our_terraform(&lock.info, last_started, held.host())
            && lock
                .info
                .created_at()
                .is_some_and(|created| created <= ended);
        if !taken_meanwhile && !recorded_by_us(&recorded, &lock) {
            continue;
        }
        left = true;
        let removed = delete_lock(remote, &lock).await?.is_ok();
        let message = if removed {
            format!(
                "terraform exited and left its lock {} ({}); removed it (terraform's own \
                 release failed, or its lock write landed while the answer was lost and the \
                 SDK's retry met it: see terraform's output above)",
                lock.name,
                lock.info.describe()
            )
        } else {
            format!(
                "terraform exited and left its lock {} ({}); it changed while removing it, so \
                 it is left alone",
                lock.name,
                lock.info.describe()
            )
        };
        reporter.error("terraform_lock_left", &message);
    }
    Ok(left)
}

fn recorded_by_us(recorded: &[RecordedLock], lock: &CurrentLock) -> bool {
    recorded.iter().any(|r| r.matches(lock.store, &lock.info))
}
