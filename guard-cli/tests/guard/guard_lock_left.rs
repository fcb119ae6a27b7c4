//! A Terraform lock that the guard's own terraform left behind (issue #15, found by the
//! contention stress run): terraform's lock write lands but its answer is lost, the AWS SDK
//! retries it, the retry meets the lock the first attempt took, and terraform fails with "Error
//! acquiring the state lock" naming its own lock ID, leaving that lock. Every later run then
//! failed on it. The guard removes it once terraform has exited, says so, and fails the run:
//! whether its watch recorded the lock (a slow retry) or never saw it (terraform took it and
//! failed within one `--watch-interval`, as in the stress run's trial 77).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::guard_support::{Bed, Locking, text};
use zdd_test_support::{FaultRule, wait_with_timeout};

const QUICK: &str = r#"
resource "terraform_data" "plain" {
  input = "constant"
}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_left_by_a_retried_lock_write_is_removed_and_the_run_fails() {
    lock_left_by_a_retried_lock_write("lock-left-slow", Some(Duration::from_secs(3))).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_left_before_the_watch_saw_it_is_removed_and_the_run_fails() {
    lock_left_by_a_retried_lock_write("lock-left-fast", None).await;
}

/// `retry_latency`: how long the SDK's retry of terraform's lock write takes (long enough for
/// the watch to see the lock), or as long as the local AWS takes.
async fn lock_left_by_a_retried_lock_write(name: &str, retry_latency: Option<Duration>) {
    let bed = Bed::new(name, Locking::DynamoDb, QUICK).await;
    // Faults only on this test's calls: the backend (and so the guard and terraform) signs
    // with its own access key.
    let access_key = name;
    bed.sign_backend_with(access_key);
    // Terraform's lock write (its `Info` names the operation; the lease's writes do not): the
    // first lands unanswered, the SDK's retry is slow enough for the guard to see the lock.
    let lock_write = |rule: FaultRule| {
        rule.action("PutItem")
            .matching("OperationType")
            .access_key_id(access_key)
            .count(1)
    };
    let mut rules = vec![];
    if let Some(latency) = retry_latency {
        rules.push(lock_write(FaultRule::latency("dynamodb", latency).skip(1)));
    }
    rules.push(lock_write(FaultRule::lost_response("dynamodb")));
    let ids: Vec<String> = rules
        .iter()
        .map(|rule| bed.aws.add_fault_rule(rule).unwrap())
        .collect();

    let run = bed
        .guard(&[
            "run",
            "--watch-interval",
            "1s",
            "--",
            "apply",
            "-auto-approve",
            "-no-color",
        ])
        .spawn()
        .unwrap();
    let output = wait_with_timeout(run, Duration::from_secs(300)).unwrap();
    for id in &ids {
        bed.aws.clear_faults(Some(id)).unwrap();
    }
    let all = text(&output);
    assert!(
        all.contains("Error acquiring the state lock"),
        "terraform's lock write was retried into its own lock:\n{all}"
    );
    assert_eq!(output.status.code(), Some(1), "terraform's failure: {all}");
    assert!(
        all.contains("terraform exited and left its lock"),
        "the guard says it removed the lock:\n{all}"
    );
    // The lock is removed while the lease is still ours (another run taking the lease could
    // otherwise meet the lock, or its terraform take one this run then removes): the removal
    // is reported before the release, which the guard's exit now runs beside its last look.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let removed_at = stderr.find("terraform exited and left its lock");
    let released_at = stderr.find(".zdd-lease released");
    assert!(
        removed_at.is_some() && released_at.is_some() && removed_at < released_at,
        "the lock removed ({removed_at:?}) before the lease released ({released_at:?}):\n{all}"
    );
    bed.assert_nothing_held().await;

    // The next run is not blocked by it.
    let next = bed.guard_output(&["run", "--", "apply", "-auto-approve", "-no-color"]);
    assert_eq!(next.status.code(), Some(0), "{}", text(&next));
    bed.assert_nothing_held().await;
}

/// A terraform that exits 0 released its own lock (a failed release exits 1): a lock found at
/// the run's end after a clean exit is someone else's, even one taken on this host while the
/// run's terraform ran (another terraform on the same CI runner, just after ours released).
/// The guard leaves it alone and the run succeeds; it used to remove it and fail the run.
#[tokio::test(flavor = "multi_thread")]
async fn a_lock_found_after_a_clean_exit_is_someone_elses_and_left_alone() {
    let bed = Bed::new("lock-after-clean-exit", Locking::DynamoDb, QUICK).await;
    // Stands in for terraform: held open until the test has taken the lock, then exits 0.
    let terraform = bed.path("clean-terraform.sh");
    std::fs::write(
        &terraform,
        format!(
            "#!/bin/sh\n{}\nexit 0\n",
            zdd_test_support::HOLD_OPEN_COMMAND
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &terraform,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut run = bed
        .guard(&["run", "--watch-interval", "1m", "--", "plan", "-no-color"])
        .env("TERRAFORM", &terraform)
        .spawn()
        .unwrap();
    bed.wait_until_held_open(&mut run);
    // Taken on this host while the guard's terraform runs: by the time and host alone it
    // could be that terraform's.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let created = humantime::format_rfc3339_nanos(std::time::SystemTime::now());
    let info = format!(
        r#"{{"ID":"someone-elses","Operation":"OperationTypePlan","Info":"","Who":"other@{}","Version":"1.15.5","Created":"{created}","Path":"{}"}}"#,
        host.trim(),
        bed.lock_id()
    );
    bed.dynamodb
        .put_item()
        .table_name(bed.table.as_ref().unwrap())
        .item("LockID", AttributeValue::S(bed.lock_id()))
        .item("Info", AttributeValue::S(info.clone()))
        .send()
        .await
        .unwrap();
    bed.release();
    let output = wait_with_timeout(run, Duration::from_secs(120)).unwrap();
    let all = text(&output);
    assert_eq!(output.status.code(), Some(0), "{all}");
    assert!(!all.contains("left its lock"), "{all}");
    let item = bed.dynamo_item(&bed.lock_id()).await;
    assert_eq!(
        item.as_ref().and_then(|i| i.get("Info")),
        Some(&AttributeValue::S(info)),
        "the other holder's lock is still there:\n{all}"
    );
    assert!(!bed.lease_exists().await, "the lease was released:\n{all}");
}
