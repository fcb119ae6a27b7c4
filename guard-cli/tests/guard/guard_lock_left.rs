//! A Terraform lock that the guard's own terraform left behind (issue #15, found by the
//! contention stress run): terraform's lock write lands but its answer is lost, the AWS SDK
//! retries it, the retry meets the lock the first attempt took, and terraform fails with "Error
//! acquiring the state lock" naming its own lock ID, leaving that lock. Every later run then
//! failed on it. The guard, which recorded the lock as its terraform's, removes it once
//! terraform has exited, says so, and fails the run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::guard_support::{Bed, Locking, text};
use zdd_test_support::{FaultRule, wait_with_timeout};

const QUICK: &str = r#"
resource "terraform_data" "plain" {
  input = "constant"
}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_left_by_a_retried_lock_write_is_removed_and_the_run_fails() {
    let bed = Bed::new("lock-left-ddb", Locking::DynamoDb, QUICK).await;
    // Faults only on this test's calls: the backend (and so the guard and terraform) signs
    // with its own access key.
    let access_key = "lock-left-ddb";
    let backend = std::fs::read_to_string(bed.path("backend.tf")).unwrap();
    let scoped = backend.replace(
        "access_key                  = \"test\"",
        &format!("access_key = \"{access_key}\""),
    );
    assert_ne!(backend, scoped, "the backend block names its access key");
    bed.tf.write("backend.tf", &scoped).unwrap();
    bed.tf
        .run(&["init", "-reconfigure", "-input=false", "-no-color"])
        .unwrap()
        .ok()
        .unwrap();
    // Terraform's lock write (its `Info` names the operation; the lease's writes do not): the
    // first lands unanswered, the SDK's retry is slow enough for the guard to see the lock.
    let lock_write = |rule: FaultRule| {
        rule.action("PutItem")
            .matching("OperationType")
            .access_key_id(access_key)
            .count(1)
    };
    let ids = [
        lock_write(FaultRule::latency("dynamodb", Duration::from_secs(3)).skip(1)),
        lock_write(FaultRule::lost_response("dynamodb")),
    ]
    .map(|rule| bed.aws.add_fault_rule(&rule).unwrap());

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
    bed.assert_nothing_held().await;

    // The next run is not blocked by it.
    let next = bed.guard_output(&["run", "--", "apply", "-auto-approve", "-no-color"]);
    assert_eq!(next.status.code(), Some(0), "{}", text(&next));
    bed.assert_nothing_held().await;
}
