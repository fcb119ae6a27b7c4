//! `lock break --if-stale` and `lock release` touch only the Terraform lock that the guard's own
//! lease recorded while its terraform held it (issue #11, items 1 and 7): a plain `terraform
//! apply` by someone who never used the guard keeps its lock, and a CI job can release what its
//! own (cancelled) run left behind although Terraform's `Who` differs between jobs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::guard_support::{
    Bed, Locking, expired_lease, held_open, kill_guard_and_its_terraform, text,
};
use zdd_test_support::{Signal, signal_group, wait_with_timeout};

/// Short leases: a 4 s TTL (clock-skew allowance: a quarter of it, 1 s), long enough that a
/// loaded machine still renews in time (the guard stops terraform when it cannot).
const FAST: &[&str] = &["--watch-interval", "200ms", "--lease-ttl", "4s"];
const RECORD_LIMIT: Duration = Duration::from_secs(30);

/// Environment variables `Owner::from_env` reads: removed so the test decides the identity.
const CI_VARS: &[&str] = &[
    "GITHUB_SERVER_URL",
    "GITHUB_REPOSITORY",
    "GITHUB_RUN_ID",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_ACTOR",
    "GITLAB_USER_LOGIN",
    "CI_JOB_URL",
    "CI_JOB_ID",
    "BUILD_URL",
    "LOGNAME",
];

/// The guard as CI job `job` run by `user` would run it.
fn in_job(bed: &Bed, args: &[&str], job: &str, user: &str) -> Command {
    let mut command = bed.guard(args);
    for name in CI_VARS {
        command.env_remove(name);
    }
    command.env("CI_JOB_ID", job).env("USER", user);
    command
}

/// A plain `terraform apply` (no guard), held open by its provisioner, in its own process
/// group: a failing test kills the group (terraform and its provisioner), leaving nothing behind.
struct PlainApply(Option<Child>);

impl PlainApply {
    fn start(bed: &Bed) -> PlainApply {
        let mut child = bed
            .tf
            .command(&["apply", "-auto-approve", "-no-color"])
            .unwrap()
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut apply = PlainApply(None);
        let held = bed.tf.path().join(zdd_test_support::STARTED_FILE);
        let waited = zdd_test_support::wait_for_path(&held, &mut child, Duration::from_secs(60));
        apply.0 = Some(child);
        waited.unwrap();
        apply
    }

    /// Lets the apply finish (the caller released it) and returns its output.
    fn finish(mut self) -> std::process::Output {
        let child = self.0.take().unwrap();
        wait_with_timeout(child, Duration::from_secs(120)).unwrap()
    }
}

impl Drop for PlainApply {
    fn drop(&mut self) {
        if let Some(child) = &self.0 {
            // Best effort: the group may be gone already.
            let _ = signal_group(child.id(), Signal::KILL);
        }
    }
}

async fn delete_lease(bed: &Bed) {
    match &bed.table {
        Some(table) => {
            bed.dynamodb
                .delete_item()
                .table_name(table)
                .key(
                    "LockID",
                    aws_sdk_dynamodb::types::AttributeValue::S(format!(
                        "{}.zdd-lease",
                        bed.lock_id()
                    )),
                )
                .send()
                .await
                .unwrap();
        }
        None => {
            bed.s3
                .delete_object()
                .bucket(&bed.bucket)
                .key(format!("{}.zdd-lease", crate::guard_support::STATE_KEY))
                .send()
                .await
                .unwrap();
        }
    }
}

fn lock_field(lock: &str, field: &str) -> String {
    let info: serde_json::Value = serde_json::from_str(lock).unwrap();
    info[field].as_str().unwrap().to_string()
}

/// A guard run that a failing test kills, with its terraform's process group.
struct KilledOnDrop(Option<Child>);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            for pid in crate::guard_support::children_of(child.id()) {
                let _ = signal_group(pid, Signal::KILL);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A guarded apply in CI job `job`, killed (with its terraform) once its lease recorded the lock:
/// what a cancelled CI job leaves behind. Returns the lease and the lock as stored.
async fn killed_run(bed: &Bed, job: &str, user: &str) -> (String, String) {
    let mut args = vec!["run"];
    args.extend_from_slice(FAST);
    args.extend_from_slice(&["--", "apply", "-auto-approve", "-no-color"]);
    let mut run = KilledOnDrop(Some(in_job(bed, &args, job, user).spawn().unwrap()));
    bed.wait_until_held_open(run.0.as_mut().unwrap());
    let (lease, lock) = bed.wait_until_lease_records_lock(RECORD_LIMIT).await;
    kill_guard_and_its_terraform(&mut run.0.take().unwrap());
    assert_eq!(bed.lock_text().await.as_deref(), Some(lock.as_str()));
    (lease, lock)
}

async fn plain_terraform_lock_survives_break_under_an_expired_lease(name: &str, locking: Locking) {
    let bed = Bed::new(name, locking, &held_open()).await;
    bed.put_lease(&expired_lease("old", "gone", "job 1", "[]"))
        .await;
    let terraform = PlainApply::start(&bed);
    let lock = bed.lock_text().await.expect("terraform holds its lock");

    let refused = bed.guard_output(&["lock", "break", "--if-stale"]);
    let all = text(&refused);
    assert_eq!(refused.status.code(), Some(3), "{all}");
    assert!(
        all.contains(&lock_field(&lock, "Who")),
        "names the holder: {all}"
    );
    assert!(
        all.contains("OperationTypeApply"),
        "names the operation: {all}"
    );
    assert!(
        all.contains(", taken ") && all.contains("s ago"),
        "says its age: {all}"
    );
    assert_eq!(
        bed.lock_text().await.as_ref(),
        Some(&lock),
        "the live lock must survive"
    );
    assert!(
        bed.lease_exists().await,
        "nothing is broken when anything is refused"
    );

    // Without any lease the break is refused too, naming the holder.
    delete_lease(&bed).await;
    let refused = bed.guard_output(&["lock", "break", "--if-stale"]);
    let all = text(&refused);
    assert_eq!(refused.status.code(), Some(3), "{all}");
    assert!(all.contains("no zdd-guard lease"), "{all}");
    assert!(all.contains(&lock_field(&lock, "Who")), "{all}");
    assert_eq!(bed.lock_text().await.as_ref(), Some(&lock));

    bed.release();
    let output = terraform.finish();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}

#[tokio::test(flavor = "multi_thread")]
async fn break_refuses_a_plain_terraform_lock_under_an_expired_lease_dynamodb() {
    plain_terraform_lock_survives_break_under_an_expired_lease(
        "plain-break-ddb",
        Locking::DynamoDb,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn break_refuses_a_plain_terraform_lock_under_an_expired_lease_lockfile() {
    plain_terraform_lock_survives_break_under_an_expired_lease("plain-break-lf", Locking::Lockfile)
        .await;
}

async fn break_removes_the_lock_the_expired_lease_recorded(name: &str, locking: Locking) {
    let bed = Bed::new(name, locking, &held_open()).await;
    let (lease, lock) = killed_run(&bed, "101", "deployer").await;
    assert!(lease.contains("terraform_locks"), "{lease}");
    // The lease lives 4 s after its last heartbeat plus the skew allowance: until then the
    // break is refused as live.
    let deadline = Instant::now() + Duration::from_secs(30);
    let all = loop {
        let output = bed.guard_output(&["lock", "break", "--if-stale"]);
        let all = text(&output);
        match output.status.code() {
            Some(0) => break all,
            Some(3) if all.contains("is live") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => panic!("lock break exited {other:?}:\n{all}"),
        }
    };
    assert!(all.contains(&lock_field(&lock, "ID")), "{all}");
    assert!(all.contains("broke stale Terraform lock"), "{all}");
    bed.assert_nothing_held().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn break_removes_the_lock_the_expired_lease_recorded_dynamodb() {
    break_removes_the_lock_the_expired_lease_recorded("rec-break-ddb", Locking::DynamoDb).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn break_removes_the_lock_the_expired_lease_recorded_lockfile() {
    break_removes_the_lock_the_expired_lease_recorded("rec-break-lf", Locking::Lockfile).await;
}

/// GitHub Actions names the actor in `GITHUB_ACTOR`; Terraform's `Who` is the OS user. Here the
/// guard's user (`deployer`) is not the OS user either: the lock is released because the lease
/// of this CI job recorded it, not because of its `Who`.
#[tokio::test(flavor = "multi_thread")]
async fn release_in_the_same_ci_job_removes_the_lock_its_lease_recorded() {
    let bed = Bed::new("release-same-job", Locking::DynamoDb, &held_open()).await;
    let (_lease, lock) = killed_run(&bed, "101", "deployer").await;
    assert!(
        !lock_field(&lock, "Who").starts_with("deployer@"),
        "the test needs a Who that is not the guard's user: {lock}"
    );
    let output = in_job(&bed, &["lock", "release"], "101", "deployer")
        .output()
        .unwrap();
    let all = text(&output);
    assert_eq!(output.status.code(), Some(0), "{all}");
    assert!(all.contains("released Terraform lock"), "{all}");
    bed.assert_nothing_held().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn release_from_another_ci_job_needs_the_lease_id() {
    let bed = Bed::new("release-other-job", Locking::Lockfile, &held_open()).await;
    let (lease, lock) = killed_run(&bed, "101", "deployer").await;

    let refused = in_job(&bed, &["lock", "release"], "202", "cleanup")
        .output()
        .unwrap();
    let all = text(&refused);
    assert_eq!(refused.status.code(), Some(3), "{all}");
    assert!(all.contains("belongs to"), "{all}");
    assert_eq!(bed.lock_text().await, Some(lock));
    assert_eq!(bed.lease_text().await, Some(lease.clone()));

    let lease_id = serde_json::from_str::<serde_json::Value>(&lease).unwrap()["lease_id"]
        .as_str()
        .unwrap()
        .to_string();
    let output = in_job(
        &bed,
        &["lock", "release", "--lease-id", &lease_id],
        "202",
        "cleanup",
    )
    .output()
    .unwrap();
    let all = text(&output);
    assert_eq!(output.status.code(), Some(0), "{all}");
    assert!(all.contains("released Terraform lock"), "{all}");
    bed.assert_nothing_held().await;
}

/// This job's own lease, but the lock is a plain terraform's (same OS user, same host: the old
/// "this user on this host" rule took it): the lock is refused and stays.
#[tokio::test(flavor = "multi_thread")]
async fn release_refuses_a_lock_its_lease_never_recorded() {
    let bed = Bed::new("release-foreign", Locking::DynamoDb, &held_open()).await;
    let terraform = PlainApply::start(&bed);
    let lock = bed.lock_text().await.expect("terraform holds its lock");
    let who = lock_field(&lock, "Who");
    let (user, host) = who.split_once('@').unwrap();
    let lease = format!(
        r#"{{"lease_id":"mine","owner":{{"user":"{user}","host":"{host}","pid":7,"command":"terraform apply"}},
        "created":"2020-01-01T00:00:00.000Z","heartbeat":"2020-01-01T00:00:00.000Z",
        "expires_at":"2020-01-01T00:02:00.000Z","ttl_ms":120000}}"#
    );
    bed.put_lease(&lease).await;
    let mut release = bed.guard(&["lock", "release"]);
    for name in CI_VARS {
        release.env_remove(name);
    }
    let output = release
        .env("USER", user)
        .env("HOSTNAME", host)
        .output()
        .unwrap();
    let all = text(&output);
    assert_eq!(output.status.code(), Some(3), "{all}");
    assert!(
        all.contains(&who) && all.contains("OperationTypeApply"),
        "{all}"
    );
    assert_eq!(
        bed.lock_text().await,
        Some(lock),
        "the plain apply keeps its lock"
    );

    bed.release();
    let output = terraform.finish();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}
