//! `zdd-guard lock status|release|break --if-stale`.

use std::time::SystemTime;

use serde_json::json;

use super::CommonArgs;
use super::context::Remote;
use super::lease::this_owner;
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
    /// Release the lease (and Terraform locks) held by this user on this host / CI job.
    Release,
    /// Remove Terraform's lock(s) and the lease, only when the lease's heartbeat has expired.
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
        LockAction::Release => release(&remote, &reporter).await,
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
        reporter.emit(
            Level::Info,
            "lease",
            &format!(
                "lease {} {}",
                remote.lease.location(),
                stored.lease.describe(now)
            ),
            json!({"lease": stored.lease, "expired": stored.lease.is_expired(now)}),
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

async fn release(remote: &Remote, reporter: &Reporter) -> anyhow::Result<Outcome> {
    let me = this_owner(String::new());
    let mut released = 0;
    if let Some(stored) = remote.lease.read().await? {
        let owner = &stored.lease.owner;
        let ours = owner.user == me.user && owner.host == me.host && owner.ci_job == me.ci_job;
        if !ours {
            return Err(LockingError::NotObtained(format!(
                "the lease {} belongs to {}, not to {}; refusing (see `lock break --if-stale`)",
                remote.lease.location(),
                owner.describe(),
                me.describe()
            ))
            .into());
        }
        if remote.lease.delete(&stored.token).await?.is_ok() {
            released += 1;
            reporter.info(
                "lease_released",
                &format!("released lease {}", remote.lease.location()),
            );
        }
    }
    let who = format!("{}@{}", me.user, me.host);
    if let Some(locks) = &remote.dynamodb {
        let lock_id = remote.backend.lock_id(&remote.state_key);
        if let Some((raw, info)) = locks.lock(&lock_id).await?
            && info.who == who
            && locks
                .delete_conditional(&lock_id, "Info", &raw)
                .await?
                .is_ok()
        {
            released += 1;
            reporter.info(
                "lock_released",
                &format!("released Terraform lock {}", info.describe()),
            );
        }
    }
    if remote.backend.use_lockfile
        && let Some((head, info)) = remote.s3.lockfile(&remote.state_key).await?
    {
        let key = format!("{}.tflock", remote.state_key);
        if info.who == who
            && remote
                .s3
                .delete_conditional(&key, &head.etag)
                .await?
                .is_ok()
        {
            released += 1;
            reporter.info(
                "lock_released",
                &format!("released Terraform lockfile {}", info.describe()),
            );
        }
    }
    if released == 0 {
        reporter.info("nothing_released", "nothing held by this user on this host");
    }
    Ok(Outcome::Ok)
}

async fn break_if_stale(remote: &Remote, reporter: &Reporter) -> anyhow::Result<Outcome> {
    let now = SystemTime::now();
    let Some(stored) = remote.lease.read().await? else {
        return Err(LockingError::NotObtained(format!(
            "no zdd-guard lease for {}: cannot tell whether its lock is stale; refusing \
             (use `terraform force-unlock` if you know the holder is gone)",
            remote.state_location()
        ))
        .into());
    };
    if !stored.lease.is_expired(now) {
        return Err(LockingError::NotObtained(format!(
            "refusing to break: the lease {} is live, {}",
            remote.lease.location(),
            stored.lease.describe(now)
        ))
        .into());
    }
    if let Some(locks) = &remote.dynamodb {
        let lock_id = remote.backend.lock_id(&remote.state_key);
        if let Some((raw, info)) = locks.lock(&lock_id).await? {
            match locks.delete_conditional(&lock_id, "Info", &raw).await? {
                Ok(()) => reporter.warn(
                    "lock_broken",
                    &format!("broke stale Terraform lock {}", info.describe()),
                ),
                Err(_) => {
                    return Err(LockingError::NotObtained(
                        "the Terraform lock changed while breaking it; left it alone".into(),
                    )
                    .into());
                }
            }
        }
    }
    if remote.backend.use_lockfile
        && let Some((head, info)) = remote.s3.lockfile(&remote.state_key).await?
    {
        let key = format!("{}.tflock", remote.state_key);
        match remote.s3.delete_conditional(&key, &head.etag).await? {
            Ok(()) => reporter.warn(
                "lock_broken",
                &format!("broke stale Terraform lockfile {}", info.describe()),
            ),
            Err(_) => {
                return Err(LockingError::NotObtained(
                    "the Terraform lockfile changed while breaking it; left it alone".into(),
                )
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
