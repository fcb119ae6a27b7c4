//! `zdd-guard lock status|release|break --if-stale`.

use std::time::SystemTime;

use serde_json::json;

use super::CommonArgs;
use super::context::Remote;
use super::lease::this_owner;
use super::terraform_locks::{current_locks, delete_lock, lock_name};
use crate::core::lease::{self, LockStore};
use crate::core::lockinfo::LockInfo;
use crate::exit::{LockingError, Outcome};
use crate::output::{Level, Reporter};

#[derive(Debug, clap::Args)]
pub struct LockArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub action: LockAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum LockAction {
    /// Show Terraform's lock(s) and the zdd-guard lease: holder, operation, age, heartbeat.
    Status,
    /// Release what this job's own zdd-guard lease holds: the Terraform locks that lease
    /// recorded (its terraform took them) and the lease itself. A lock the lease never
    /// recorded is someone else's and is left alone (exit 3).
    ///
    /// "Own" lease: the one `--lease-id` names (printed by `run` when it takes the lease, and
    /// in its `lease_acquired` JSON event), so a cleanup job can release what a cancelled job
    /// left; without it, the lease this user took on this host in this CI job (GitHub Actions
    /// run and attempt, `CI_JOB_URL`, `CI_JOB_ID` or `BUILD_URL`; or outside CI).
    Release {
        /// The lease to release (as `run` printed it); also `$ZDD_GUARD_LEASE_ID`.
        #[arg(long, env = "ZDD_GUARD_LEASE_ID")]
        lease_id: Option<String>,
    },
    /// Remove Terraform's lock(s) and the lease of a run that is gone: only once the lease has
    /// expired (plus the clock-skew allowance), and only the locks that lease recorded as its
    /// terraform's. A lock it never recorded (say a plain `terraform apply`) is refused with
    /// exit 3, naming its holder and age.
    Break {
        /// Required: only break a lock whose holder's lease heartbeat has expired.
        #[arg(long)]
        if_stale: bool,
    },
}

pub async fn run(args: &LockArgs) -> anyhow::Result<Outcome> {
    let reporter = Reporter::new(args.common.json);
    let remote = Remote::for_dir(&args.common.chdir).await?;
    match &args.action {
        LockAction::Status => status(&remote, &reporter).await,
        LockAction::Release { lease_id } => release(&remote, lease_id.as_deref(), &reporter).await,
        LockAction::Break { if_stale } => {
            if !if_stale {
                anyhow::bail!(
                    "`lock break` needs --if-stale (use `terraform force-unlock` to remove a live lock)"
                );
            }
            break_if_stale(&remote, &reporter).await
        }
    }
}

async fn status(remote: &Remote, reporter: &Reporter) -> anyhow::Result<Outcome> {
    let now = SystemTime::now();
    let mut any = false;
    if let Some(locks) = &remote.dynamodb {
        let lock_id = remote.backend.lock_id(&remote.state_key);
        if let Some((_, info)) = locks.lock(&lock_id).await? {
            any = true;
            reporter.emit(
                Level::Info,
                "terraform_lock",
                &format!("dynamodb:{}/{lock_id}: {}", locks.table(), info.describe()),
                json!(info),
            );
        }
    }
    if remote.backend.use_lockfile
        && let Some((_, info)) = remote.s3.lockfile(&remote.state_key).await?
    {
        any = true;
        reporter.emit(
            Level::Info,
            "terraform_lock",
            &format!("{}.tflock: {}", remote.state_location(), info.describe()),
            json!(info),
        );
    }
    if let Some(stored) = remote.lease.read().await? {
        any = true;
        let recorded: Vec<String> = stored
            .lease
            .terraform_locks
            .iter()
            .map(|l| format!("; its terraform took lock {} ({:?})", l.id, l.store))
            .collect();
        reporter.emit(
            Level::Info,
            "lease",
            &format!(
                "lease {} {}{}",
                remote.lease.location(),
                stored.lease.describe(now),
                recorded.concat()
            ),
            json!({
                "lease": stored.lease,
                "expired": stored.lease.is_expired(now),
                "can_be_taken_over": stored.lease.can_be_taken_over(now),
                "takeover_at": humantime::format_rfc3339_millis(stored.lease.takeover_at()).to_string(),
            }),
        );
    }
    if !any {
        reporter.info(
            "unlocked",
            &format!("{}: no Terraform lock, no lease", remote.state_location()),
        );
    }
    Ok(Outcome::Ok)
}

/// Releases what this job's own lease holds: the Terraform locks that lease recorded (its
/// terraform took them), then the lease. A lock the lease never recorded is someone else's and
/// is left alone (exit 3).
async fn release(
    remote: &Remote,
    lease_id: Option<&str>,
    reporter: &Reporter,
) -> anyhow::Result<Outcome> {
    let me = this_owner(String::new());
    let now = SystemTime::now();
    let stored = remote.lease.read().await?;
    if let Some(stored) = &stored
        && !lease::owns(&stored.lease, &me, lease_id)
    {
        let whose = match lease_id {
            Some(id) => format!("lease id {id}"),
            None => me.describe(),
        };
        return Err(LockingError::NotObtained(format!(
            "the lease {} belongs to {} (lease id {}), not to {whose}; refusing \
             (`lock release --lease-id` names a lease; see `lock break --if-stale`)",
            remote.lease.location(),
            stored.lease.owner.describe(),
            stored.lease.lease_id,
        ))
        .into());
    }
    let mut released = 0;
    let mut refused = Vec::new();
    for lock in current_locks(remote).await? {
        let ours = stored
            .as_ref()
            .is_some_and(|s| s.lease.recorded(lock.store, &lock.info));
        if !ours {
            refused.push(format!(
                "the Terraform lock {} is not one this job's lease recorded: {}; left it alone \
                 (`terraform force-unlock {}` once you know its holder is gone)",
                lock.name,
                lock.info.describe_age(now),
                lock.info.id
            ));
            continue;
        }
        match delete_lock(remote, &lock).await? {
            Ok(()) => {
                released += 1;
                reporter.info(
                    "lock_released",
                    &format!(
                        "released Terraform lock {}: {}",
                        lock.name,
                        lock.info.describe()
                    ),
                );
            }
            Err(_) => refused.push(format!(
                "the Terraform lock {} changed while releasing it; left it alone",
                lock.name
            )),
        }
    }
    if let Some(stored) = &stored
        && remote.lease.delete(&stored.token).await?.is_ok()
    {
        released += 1;
        reporter.info(
            "lease_released",
            &format!("released lease {}", remote.lease.location()),
        );
    }
    if !refused.is_empty() {
        return Err(LockingError::NotObtained(refused.join("\n")).into());
    }
    if released == 0 {
        reporter.info("nothing_released", "nothing held by this job's lease");
    }
    Ok(Outcome::Ok)
}

/// Breaks the Terraform locks and the lease of a run that is gone: only once its lease can be
/// taken over (expiry plus the clock-skew allowance), and only locks that lease recorded as its
/// terraform's. Anything else refuses the whole break (exit 3), naming the holder.
async fn break_if_stale(remote: &Remote, reporter: &Reporter) -> anyhow::Result<Outcome> {
    let now = SystemTime::now();
    let (stored, locks) = tokio::try_join!(remote.lease.read(), current_locks(remote))?;
    let Some(stored) = stored else {
        let holders: Vec<String> = locks
            .iter()
            .map(|l| format!("; {}: {}", l.name, l.info.describe_age(now)))
            .collect();
        return Err(LockingError::NotObtained(format!(
            "no zdd-guard lease for {}: cannot tell whether its lock is stale; refusing \
             (use `terraform force-unlock` if you know the holder is gone){}",
            remote.state_location(),
            holders.concat()
        ))
        .into());
    };
    let judged: Vec<(LockStore, &LockInfo)> = locks.iter().map(|l| (l.store, &l.info)).collect();
    if let Err(refusal) = lease::judge_break(&stored.lease, &judged, now) {
        return Err(LockingError::NotObtained(format!(
            "{} (lease {})",
            refusal.describe(now, |store| lock_name(remote, store)),
            remote.lease.location()
        ))
        .into());
    }
    for lock in &locks {
        match delete_lock(remote, lock).await? {
            Ok(()) => reporter.warn(
                "lock_broken",
                &format!(
                    "broke stale Terraform lock {}: {}",
                    lock.name,
                    lock.info.describe()
                ),
            ),
            Err(_) => {
                return Err(LockingError::NotObtained(format!(
                    "the Terraform lock {} changed while breaking it; left it alone",
                    lock.name
                ))
                .into());
            }
        }
    }
    match remote.lease.delete(&stored.token).await? {
        Ok(()) => reporter.warn(
            "lease_broken",
            &format!("removed expired lease: {}", stored.lease.describe(now)),
        ),
        Err(_) => {
            return Err(LockingError::NotObtained(
                "the lease changed while breaking it (someone took it over)".into(),
            )
            .into());
        }
    }
    Ok(Outcome::Ok)
}
