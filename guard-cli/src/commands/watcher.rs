//! The watch on one state while terraform runs: the state object (a foreign write is
//! interference, shown as a diff), Terraform's locks (recorded in the lease when our terraform
//! took them; replaced or missing ones judged) and whether the lease is still ours. One tick's
//! reads run concurrently, bounded by a timeout; `supervise` runs them as a branch of its loop.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use serde_json::json;
use tokio::process::Child;

use super::context::Remote;
use super::lease::Held;
use crate::aws::ObjectHead;
use crate::aws::TableCheck;
use crate::core::lease::{self, LockStore, RecordedLock};
use crate::core::lockinfo::LockInfo;
use crate::core::render::render_state_diff;
use crate::core::snapshot::{Assessment, Snapshot, assess};
use crate::core::watch::{LockEvent, LockFinding, LockWatch, TerraformEnd};
use crate::exit::{LockingError, Outcome};
use crate::output::{Level, Reporter};

/// The state object as it was before terraform started: its identity and contents.
#[derive(Debug, Default)]
pub struct Baseline {
    head: Option<ObjectHead>,
    snapshot: Option<Snapshot>,
}

impl Baseline {
    /// Reads the current state (none yet is fine); a malformed state is an error.
    pub async fn read(remote: &Remote) -> anyhow::Result<Baseline> {
        let Some((head, bytes)) = remote.s3.get(&remote.state_key, None).await? else {
            return Ok(Baseline::default());
        };
        Ok(Baseline {
            head: Some(head),
            snapshot: Some(Snapshot::parse(&remote.state_location(), bytes)?),
        })
    }
}

/// The lock table exists with a string hash key `LockID` (when the backend uses one).
pub async fn check_lock_table(remote: &Remote) -> anyhow::Result<()> {
    let Some(locks) = &remote.dynamodb else {
        return Ok(());
    };
    match locks.check_table().await {
        Ok(()) => Ok(()),
        // Exit 3: locking is not set up as the backend says.
        Err(TableCheck::NotConfigured(reason)) => Err(LockingError::NotConfigured {
            reason,
            fix: "create the table with a string hash key `LockID`, or fix `dynamodb_table`".into(),
        }
        .into()),
        // Exit 6: the guard could not ask (a timeout is not a missing table).
        Err(TableCheck::Unreadable(error)) => Err(error),
    }
}

/// What one watch tick read, all at once.
pub(super) struct Observation {
    /// The state's identity, and its bytes when it changed since the last tick.
    state: Option<(ObjectHead, Option<Vec<u8>>)>,
    dynamodb_lock: Option<Option<LockInfo>>,
    lockfile: Option<Option<LockInfo>>,
    lease_ours: Option<bool>,
}

/// A watch tick's reads in flight: owns what it reads with, so that it can run as its own
/// branch of the supervise loop.
pub(super) type PendingObservation =
    Pin<Box<dyn Future<Output = anyhow::Result<Observation>> + Send>>;

/// How long one watch tick's reads may take before the tick is given up (and reported).
pub const WATCH_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads the state (its bytes only when its identity changed since `last_head`), Terraform's
/// locks (when `locks`) and whether the lease is still `held`, concurrently.
async fn observe(
    remote: Remote,
    held: Option<Held>,
    last_head: Option<ObjectHead>,
    locks: bool,
) -> anyhow::Result<Observation> {
    let state = async {
        let key = &remote.state_key;
        let Some(head) = remote.s3.head(key).await? else {
            return Ok::<_, anyhow::Error>(None);
        };
        if last_head.as_ref() == Some(&head) {
            return Ok(Some((head, None)));
        }
        Ok(remote
            .s3
            .get(key, head.version_id.as_deref())
            .await?
            .map(|(head, bytes)| (head, Some(bytes))))
    };
    let dynamodb_lock = async {
        match (&remote.dynamodb, locks) {
            (Some(table), true) => {
                let lock_id = remote.backend.lock_id(&remote.state_key);
                Ok::<_, anyhow::Error>(Some(table.lock(&lock_id).await?.map(|(_, i)| i)))
            }
            _ => Ok(None),
        }
    };
    let lockfile = async {
        if locks && remote.backend.use_lockfile {
            let current = remote.s3.lockfile(&remote.state_key).await?;
            Ok::<_, anyhow::Error>(Some(current.map(|(_, i)| i)))
        } else {
            Ok(None)
        }
    };
    let lease_ours = async {
        match &held {
            Some(held) => Ok::<_, anyhow::Error>(Some(held.still_ours().await?)),
            None => Ok(None),
        }
    };
    let (state, dynamodb_lock, lockfile, lease_ours) =
        tokio::try_join!(state, dynamodb_lock, lockfile, lease_ours)?;
    Ok(Observation {
        state,
        dynamodb_lock,
        lockfile,
        lease_ours,
    })
}

/// `read`, or an error naming `what` once `limit` has passed.
async fn bounded<T>(
    limit: Duration,
    what: &str,
    read: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::time::timeout(limit, read).await.unwrap_or_else(|_| {
        Err(anyhow::anyhow!(
            "{what} did not finish within {}",
            lease::human(limit)
        ))
    })
}

/// Watches one state object, Terraform's locks on it, and our lease.
pub struct Watcher {
    remote: Remote,
    held: Option<Held>,
    change_set: BTreeSet<String>,
    last_head: Option<ObjectHead>,
    last_snapshot: Option<Snapshot>,
    /// Whether [`Watcher::first_look`] ran.
    looked: bool,
    /// The baseline could not be read: take the next state seen as the baseline, unassessed.
    adopt_next_state: bool,
    dynamodb_lock: LockWatch,
    lockfile: LockWatch,
    lease_reported: bool,
    /// The lease was seen lost and terraform has not been told to stop for it yet.
    pub(super) stop_for_lease: bool,
    /// A lower bound of when the watched terraform process started (its own lock is taken
    /// after that; a lock taken earlier is someone else's and is never recorded in the lease).
    process_started: SystemTime,
    /// Processes watched so far.
    processes: u32,
    /// How the last terraform process ended (`None` until it did, or when its end is unknown).
    last_end: Option<TerraformEnd>,
    read_timeout: Duration,
    pub interference: bool,
}

impl Watcher {
    /// Watches without a baseline until [`Watcher::first_look`] reads it. Make it before the
    /// first terraform starts: a Terraform lock taken before it was made is never recorded in
    /// the lease as this run's (so `lock break`/`lock release` would leave it alone).
    pub fn new(remote: Remote, held: Option<Held>) -> Watcher {
        Watcher {
            remote,
            held,
            change_set: BTreeSet::new(),
            last_head: None,
            last_snapshot: None,
            looked: false,
            adopt_next_state: false,
            dynamodb_lock: LockWatch::new(),
            lockfile: LockWatch::new(),
            lease_reported: false,
            stop_for_lease: false,
            // The first terraform is started after the watcher is made.
            process_started: SystemTime::now(),
            processes: 0,
            last_end: None,
            read_timeout: WATCH_READ_TIMEOUT,
            interference: false,
        }
    }

    /// How long one tick's reads may take (default [`WATCH_READ_TIMEOUT`]).
    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.read_timeout = timeout;
    }

    /// Whether the lease was seen lost (taken over or removed) by a watch tick.
    pub fn lease_lost(&self) -> bool {
        self.lease_reported
    }

    /// The expiry of our lease as last written (now without a lease): by then a terraform
    /// stopped for a lost lease must be gone.
    pub async fn lease_expiry(&self) -> SystemTime {
        match &self.held {
            Some(held) => held.expires_at().await,
            None => SystemTime::now(),
        }
    }

    /// The first look, once per run, while terraform is already starting (so it costs terraform
    /// nothing; terraform reads the state only after taking its own lock): the state baseline,
    /// bucket versioning and the lock table, read at once. A table Terraform cannot lock with is
    /// exit 3; a baseline that cannot be read only warns (the next state seen becomes it).
    pub async fn first_look(&mut self, reporter: &Reporter) -> Outcome {
        if std::mem::replace(&mut self.looked, true) {
            return Outcome::Ok;
        }
        // Terraform is running meanwhile and its signals wait for this: every read is bounded.
        let limit = self.read_timeout;
        let (baseline, versioning, table) = tokio::join!(
            bounded(limit, "reading the state", Baseline::read(&self.remote)),
            bounded(
                limit,
                "reading the bucket's versioning",
                self.remote.s3.versioning_enabled()
            ),
            tokio::time::timeout(limit, check_lock_table(&self.remote)),
        );
        match baseline {
            Ok(baseline) => {
                self.last_head = baseline.head;
                self.last_snapshot = baseline.snapshot;
            }
            Err(error) => {
                self.adopt_next_state = true;
                reporter.warn(
                    "watch_error",
                    &format!("could not read the state before terraform ran: {error:#}"),
                );
            }
        }
        match versioning {
            Ok(true) => {}
            Ok(false) => reporter.warn(
                "backend",
                &format!(
                    "bucket {} has versioning off: a bad state write cannot be rolled back and \
                     `state diff` has no history",
                    self.remote.backend.bucket
                ),
            ),
            Err(error) => reporter.warn("backend", &format!("{error:#}")),
        }
        match table {
            Ok(Ok(())) => Outcome::Ok,
            Ok(Err(error)) if error.downcast_ref::<LockingError>().is_some() => {
                reporter.error("backend", &format!("{error:#}"));
                Outcome::LockNotObtained
            }
            Ok(Err(error)) => {
                reporter.warn(
                    "backend",
                    &format!("could not check the lock table: {error:#}"),
                );
                Outcome::Ok
            }
            // Unknown, not refused: terraform itself fails on a table it cannot lock with.
            Err(_elapsed) => {
                reporter.warn(
                    "backend",
                    &format!(
                        "checking the lock table did not finish within {}",
                        lease::human(limit)
                    ),
                );
                Outcome::Ok
            }
        }
    }

    /// The serial of the state as last seen (before terraform wrote anything, when called
    /// right after [`Watcher::confirm_baseline`]).
    pub fn baseline_serial(&self) -> Option<u64> {
        self.last_snapshot.as_ref().map(|s| s.serial)
    }

    pub fn set_change_set(&mut self, change_set: BTreeSet<String>) {
        self.change_set = change_set;
    }

    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.last_snapshot.as_ref()
    }

    /// When the current (or last) terraform process started, by this host's clock: a lock
    /// created since, on this host, is that process's.
    pub fn process_started(&self) -> SystemTime {
        self.process_started
    }

    /// Starts watching a new terraform process's lock (each process takes its own), right
    /// after it was spawned. The first process was spawned after the watcher was made; a later
    /// one a moment ago, too short for terraform to have taken a lock yet.
    pub fn new_process(&mut self) {
        self.dynamodb_lock = LockWatch::new();
        self.lockfile = LockWatch::new();
        if self.processes > 0 {
            self.process_started = SystemTime::now();
        }
        self.processes += 1;
        self.last_end = None;
    }

    /// How the last terraform process of the run ended, as far as the guard knows.
    pub fn last_terraform_end(&self) -> Option<TerraformEnd> {
        self.last_end
    }

    /// A terraform run to completion without a watch (`plan -refresh-only` after an apply)
    /// exited with `exit_code`: it is the run's last terraform now. Its output is not scanned,
    /// so a failed release is known only by its exit code.
    pub fn unwatched_terraform_exited(&mut self, exit_code: Option<i32>) {
        self.last_end = Some(TerraformEnd {
            exit_code,
            release_failed: false,
        });
    }

    /// One observation of everything, read concurrently. `terraform` is the running process
    /// whose locks are watched; `None` once it has exited (its lock is gone by then, and the
    /// lease is checked by its release). Lock reads that finish after terraform exited say
    /// nothing about its lock and are dropped (its exit code is judged by
    /// [`Watcher::terraform_exited`]).
    pub async fn tick(
        &mut self,
        reporter: &Reporter,
        terraform: Option<&mut Child>,
    ) -> anyhow::Result<()> {
        let observation = self.start_observation(terraform.is_some()).await?;
        self.apply_observation(reporter, observation, terraform);
        Ok(())
    }

    /// Starts one tick's reads (Terraform's locks and the lease too when `locks`), bounded by
    /// the read timeout; [`Watcher::apply_observation`] judges what they found.
    pub(super) fn start_observation(&self, locks: bool) -> PendingObservation {
        let remote = self.remote.clone();
        let held = self.held.clone().filter(|_| locks && !self.lease_reported);
        let last_head = self.last_head.clone();
        let limit = self.read_timeout;
        Box::pin(async move {
            bounded(
                limit,
                "the watch's reads",
                observe(remote, held, last_head, locks),
            )
            .await
        })
    }

    /// Judges one tick's reads; `terraform` as for [`Watcher::tick`].
    pub(super) fn apply_observation(
        &mut self,
        reporter: &Reporter,
        observation: Observation,
        terraform: Option<&mut Child>,
    ) {
        if let Some((head, bytes)) = observation.state {
            self.check_state(reporter, head, bytes);
        }
        let still_running = terraform.is_some_and(|child| matches!(child.try_wait(), Ok(None)));
        if still_running {
            self.check_locks(reporter, observation.dynamodb_lock, observation.lockfile);
        }
        if observation.lease_ours == Some(false) && !self.lease_reported {
            self.lease_reported = true;
            self.stop_for_lease = still_running;
            let location = self
                .held
                .as_ref()
                .map(|h| h.store.location())
                .unwrap_or_default();
            self.report_interference(
                reporter,
                "lease_lost",
                &format!("the lease {location} is no longer ours (taken over or broken)"),
                json!(null),
            );
        }
    }

    fn check_state(&mut self, reporter: &Reporter, head: ObjectHead, bytes: Option<Vec<u8>>) {
        let Some(bytes) = bytes else {
            return;
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
                return;
            }
        };
        let before = self
            .last_snapshot
            .take()
            .unwrap_or_else(|| Snapshot::empty(&snapshot.lineage));
        if std::mem::replace(&mut self.adopt_next_state, false) {
            reporter.warn(
                "watch_error",
                &format!("watching from {location} on (no earlier baseline)"),
            );
        } else if let Assessment::Foreign { reasons, diff } =
            assess(&before, &snapshot, &self.change_set)
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
    }

    /// The DynamoDB lock item's name, as messages show it (`None` without a lock table).
    fn dynamodb_lock_name(&self) -> Option<String> {
        let locks = self.remote.dynamodb.as_ref()?;
        let lock_id = self.remote.backend.lock_id(&self.remote.state_key);
        Some(format!("dynamodb:{}/{lock_id}", locks.table()))
    }

    fn lockfile_name(&self) -> String {
        format!("{}.tflock", self.remote.state_location())
    }

    fn check_locks(
        &mut self,
        reporter: &Reporter,
        dynamodb_lock: Option<Option<LockInfo>>,
        lockfile: Option<Option<LockInfo>>,
    ) {
        if let (Some(current), Some(name)) = (dynamodb_lock, self.dynamodb_lock_name())
            && let Some(event) = self.dynamodb_lock.observe(current)
        {
            self.report_lock_event(reporter, LockStore::Dynamodb, &name, event);
        }
        if let Some(current) = lockfile
            && let Some(event) = self.lockfile.observe(current)
        {
            let name = self.lockfile_name();
            self.report_lock_event(reporter, LockStore::Lockfile, &name, event);
        }
    }

    /// Records this process's lock in the lease (so `lock break --if-stale` and `lock release`
    /// can tell it from anyone else's), unless it cannot be our terraform's.
    fn record_lock(&self, reporter: &Reporter, store: LockStore, lock_name: &str, info: &LockInfo) {
        let Some(held) = &self.held else {
            return;
        };
        if lease::taken_by_our_terraform(info, self.process_started, held.host()) {
            held.record_lock(RecordedLock::new(store, info));
        } else {
            reporter.warn(
                "terraform_lock",
                &format!(
                    "not recording the Terraform lock {lock_name} in the lease: it was taken \
                     before this run's terraform started or on another host ({}), so it is not \
                     this run's",
                    info.describe()
                ),
            );
        }
    }

    fn report_lock_event(
        &mut self,
        reporter: &Reporter,
        store: LockStore,
        lock_name: &str,
        event: LockEvent,
    ) {
        let message = event.describe(lock_name);
        match event {
            LockEvent::Seen(info) => {
                reporter.info("terraform_lock", &message);
                self.record_lock(reporter, store, lock_name, &info);
            }
            LockEvent::Back(_) => reporter.info("terraform_lock", &message),
            LockEvent::Missing(_) => reporter.warn("terraform_lock_missing", &message),
            LockEvent::Interference(_) => {
                self.report_interference(reporter, "terraform_lock_lost", &message, json!(null));
            }
        }
    }

    /// Terraform was asked to stop (a forwarded signal): it releases its locks as it stops.
    pub(super) fn terraform_stopping(&mut self) {
        self.dynamodb_lock.terraform_stopping();
        self.lockfile.terraform_stopping();
    }

    /// The verdict on a lock that went missing while terraform ran, now that it ended as `end`
    /// says: a force-unlock made terraform's own release fail, and terraform said so.
    pub(super) fn terraform_exited(&mut self, reporter: &Reporter, end: TerraformEnd) {
        self.last_end = Some(end);
        let findings: Vec<(String, LockFinding)> = [
            self.dynamodb_lock_name()
                .zip(self.dynamodb_lock.terraform_exited(end)),
            self.lockfile
                .terraform_exited(end)
                .map(|finding| (self.lockfile_name(), finding)),
        ]
        .into_iter()
        .flatten()
        .collect();
        for (name, finding) in findings {
            let message = finding.describe(&name);
            self.report_interference(reporter, "terraform_lock_lost", &message, json!(null));
        }
    }

    pub(super) fn report_interference(
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

#[cfg(test)]
mod tests {
    //! The exit's last look runs beside the removal of a lock our terraform left
    //! (`commands::run`): whatever stage of that removal the look meets (the lock still
    //! there, gone, or a stranger's after it), the look judges no lock, because terraform has
    //! exited (`None`), so the removal can never read as interference.

    use aws_sdk_dynamodb::config::BehaviorVersion;

    use super::*;
    use crate::aws::Clients;
    use crate::core::backend::S3Backend;

    /// A remote with a lock table whose clients are never called here.
    fn remote() -> Remote {
        let clients = Clients {
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::Config::builder()
                    .behavior_version(BehaviorVersion::latest())
                    .build(),
            ),
            dynamodb: Some(aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::Config::builder()
                    .behavior_version(BehaviorVersion::latest())
                    .build(),
            )),
        };
        let backend = S3Backend {
            bucket: "state".into(),
            key: "fleet/terraform.tfstate".into(),
            dynamodb_table: Some("locks".into()),
            use_lockfile: true,
            ..S3Backend::default()
        };
        Remote::with_clients(&clients, backend, "default").expect("the clients fit the backend")
    }

    fn lock(id: &str) -> Option<LockInfo> {
        Some(LockInfo {
            id: id.into(),
            operation: "OperationTypeApply".into(),
            info: String::new(),
            who: "me@host".into(),
            version: "1.15.5".into(),
            created: "2026-12-03T07:00:00Z".into(),
            path: "state/fleet/terraform.tfstate".into(),
        })
    }

    fn locks_seen(lock: Option<LockInfo>) -> Observation {
        Observation {
            state: None,
            dynamodb_lock: Some(lock.clone()),
            lockfile: Some(lock),
            lease_ours: None,
        }
    }

    #[tokio::test]
    async fn the_last_look_meets_the_left_lock_at_any_stage_of_its_removal_and_judges_nothing() {
        let reporter = Reporter::new(true);
        let mut terraform = tokio::process::Command::new("sleep")
            .arg("30")
            .kill_on_drop(true)
            .spawn()
            .expect("sleep(1) stands in for a running terraform");
        let mut watcher = Watcher::new(remote(), None);
        watcher.new_process();
        // While terraform runs, the watch sees its lock (ours from then on).
        watcher.apply_observation(&reporter, locks_seen(lock("ours")), Some(&mut terraform));
        assert_eq!(
            watcher.dynamodb_lock.ours().map(|l| l.id.as_str()),
            Some("ours")
        );
        terraform.kill().await.unwrap();
        // Terraform has exited; the removal of the lock it left runs beside the last look,
        // which may meet the lock still there, gone, or someone else's taken right after.
        for stage in [lock("ours"), None, lock("someone-else")] {
            watcher.apply_observation(&reporter, locks_seen(stage), None);
        }
        assert!(
            !watcher.interference,
            "no look after the exit judges a lock"
        );
        let killed = TerraformEnd {
            exit_code: None,
            release_failed: false,
        };
        assert_eq!(
            watcher.dynamodb_lock.terraform_exited(killed),
            None,
            "the lock gone at the last look is not recorded as missing"
        );
        assert_eq!(watcher.lockfile.terraform_exited(killed), None);
        // The same looks while terraform ran would have been judged: the check is real.
        let mut running = tokio::process::Command::new("sleep")
            .arg("30")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        watcher.apply_observation(&reporter, locks_seen(None), Some(&mut running));
        assert!(
            watcher.dynamodb_lock.terraform_exited(killed).is_some(),
            "a lock gone while terraform runs is noted"
        );
        watcher.apply_observation(
            &reporter,
            locks_seen(lock("someone-else")),
            Some(&mut running),
        );
        assert!(
            watcher.interference,
            "a replaced lock while terraform runs is interference"
        );
    }
}
