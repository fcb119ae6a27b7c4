//! `zdd-guard lock`, `drift` and `state diff` against real Terraform and the local AWS, and
//! clear errors (never panics) for malformed lock items, states and backend blocks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::guard_support::{Bed, Locking, STATE_KEY, held_open, text};
use aws_sdk_dynamodb::types::AttributeValue;
use zdd_test_support::wait_with_timeout;

const QUICK: &str = r#"
variable "label" {
  type    = string
  default = "one"
}

resource "terraform_data" "a" {
  input = var.label
}

resource "terraform_data" "b" {
  input = "constant"
}
"#;

fn assert_no_panic(all: &str) {
    assert!(!all.contains("panicked"), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn lock_break_if_stale_refuses_a_live_lease_and_status_shows_the_holder() {
    let bed = Bed::new("break-live", Locking::DynamoDb, &held_open()).await;
    let mut child = bed
        .guard(&[
            "run",
            "--watch-interval",
            "200ms",
            "--",
            "apply",
            "-auto-approve",
            "-no-color",
        ])
        .spawn()
        .unwrap();
    bed.wait_until_held_open(&mut child);

    let status = bed.guard_output(&["lock", "status"]);
    let all = text(&status);
    assert_eq!(status.status.code(), Some(0), "{all}");
    assert!(all.contains("OperationTypeApply by"), "{all}");
    assert!(
        all.contains("lease dynamodb:locks-break-live/") && all.contains("held by"),
        "{all}"
    );

    let refused = bed.guard_output(&["lock", "break", "--if-stale"]);
    let all = text(&refused);
    assert_eq!(refused.status.code(), Some(3), "{all}");
    assert!(
        all.contains("refusing to break: the lease") && all.contains("is live"),
        "{all}"
    );
    assert!(
        bed.dynamo_item(&bed.lock_id()).await.is_some(),
        "the live lock must survive"
    );

    bed.release();
    let output = wait_with_timeout(child, Duration::from_secs(120)).unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    bed.assert_nothing_held().await;
}

/// The expired lease recorded the lock as its terraform's (ID, Who, Created): both go.
#[tokio::test(flavor = "multi_thread")]
async fn lock_break_if_stale_removes_an_expired_lease_and_its_lock() {
    let bed = Bed::new("break-stale", Locking::DynamoDb, QUICK).await;
    let table = bed.table.clone().unwrap();
    let expired = r#"{"lease_id":"old","owner":{"user":"gone","host":"ci-1","pid":7,"command":"terraform apply"},
        "created":"2020-01-01T00:00:00.000Z","heartbeat":"2020-01-01T00:00:00.000Z",
        "expires_at":"2020-01-01T00:02:00.000Z","ttl_ms":120000,
        "terraform_locks":[{"store":"dynamodb","id":"dead-beef","who":"gone@ci-1",
            "created":"2020-01-01T00:00:00Z","operation":"OperationTypeApply"}]}"#;
    let lock_info = r#"{"ID":"dead-beef","Operation":"OperationTypeApply","Info":"","Who":"gone@ci-1","Version":"1.15.5","Created":"2020-01-01T00:00:00Z","Path":"x"}"#;
    for (id, attribute, value) in [
        (format!("{}.zdd-lease", bed.lock_id()), "Lease", expired),
        (bed.lock_id(), "Info", lock_info),
    ] {
        bed.dynamodb
            .put_item()
            .table_name(&table)
            .item("LockID", AttributeValue::S(id))
            .item(attribute, AttributeValue::S(value.to_string()))
            .send()
            .await
            .unwrap();
    }
    let output = bed.guard_output(&["lock", "break", "--if-stale"]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(0), "{all}");
    assert!(all.contains("broke stale Terraform lock"), "{all}");
    bed.assert_nothing_held().await;

    let applied = bed.guard_output(&["run", "--", "apply", "-auto-approve", "-no-color"]);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_lock_item_is_a_clear_error() {
    let bed = Bed::new("bad-lock", Locking::DynamoDb, QUICK).await;
    bed.dynamodb
        .put_item()
        .table_name(bed.table.as_ref().unwrap())
        .item("LockID", AttributeValue::S(bed.lock_id()))
        .item("Info", AttributeValue::S("{\"ID\": 42".to_string()))
        .send()
        .await
        .unwrap();
    let output = bed.guard_output(&["lock", "status"]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(6), "{all}");
    assert!(
        all.contains("Terraform lock at dynamodb:locks-bad-lock/") && all.contains("is malformed"),
        "{all}"
    );
    assert_no_panic(&all);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_lockfile_is_a_clear_error() {
    let bed = Bed::new("bad-lockfile", Locking::Lockfile, QUICK).await;
    bed.s3
        .put_object()
        .bucket(&bed.bucket)
        .key(format!("{STATE_KEY}.tflock"))
        .body(b"not json".to_vec().into())
        .send()
        .await
        .unwrap();
    let output = bed.guard_output(&["lock", "status", "--json"]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(6), "{all}");
    assert!(all.contains(".tflock is malformed"), "{all}");
    assert_no_panic(&all);
}

#[tokio::test(flavor = "multi_thread")]
async fn state_diff_compares_versions_and_rejects_malformed_state() {
    let bed = Bed::new("state-diff", Locking::Lockfile, QUICK).await;
    let first = bed.guard_output(&["run", "--", "apply", "-auto-approve"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let second = bed.guard_output(&["run", "--", "apply", "-auto-approve", "-var", "label=two"]);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));

    let output = bed.guard_output(&["state", "diff"]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(0), "{all}");
    assert!(all.contains("~ terraform_data.a"), "{all}");
    assert!(all.contains("\"one\"") && all.contains("\"two\""), "{all}");
    assert!(
        !all.contains("terraform_data.b"),
        "unchanged resources are not listed: {all}"
    );

    let json = bed.guard_output(&["state", "diff", "--json"]);
    let line: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(line["data"]["changed"][0]["address"], "terraform_data.a");

    bed.put_state(b"{\"version\": 4, \"serial\": \"x\"}".to_vec())
        .await;
    let output = bed.guard_output(&["state", "diff"]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(6), "{all}");
    assert!(all.contains("is not a Terraform state"), "{all}");
    assert_no_panic(&all);
}

/// Exit 0 and an empty JSON summary when nothing drifted. (Drift with attribute diffs and exit 5
/// is in `guard_drift.rs`, on a `zdd_rollout` whose Read reconstructs the fleet from AWS.)
#[tokio::test(flavor = "multi_thread")]
async fn drift_without_changes_exits_0_with_an_empty_json_summary() {
    let bed = Bed::new("drift", Locking::Lockfile, QUICK).await;
    let applied = bed.guard_output(&["run", "--", "apply", "-auto-approve"]);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    let clean = bed.guard_output(&["drift"]);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));
    assert!(text(&clean).contains("no drift"));

    let output = bed.guard_output(&["drift", "--json"]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(0), "{all}");
    let line: serde_json::Value =
        serde_json::from_slice(output.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(line["event"], "drift", "{all}");
    assert_eq!(line["data"]["drift"], serde_json::json!([]), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_backend_block_is_a_clear_error() {
    let bed = Bed::new("bad-backend", Locking::Lockfile, QUICK).await;
    // Remove the init record so the guard reads the (now broken) configuration.
    std::fs::remove_file(bed.tf.path().join(".terraform/terraform.tfstate")).unwrap();
    bed.tf
        .write(
            "backend.tf",
            "terraform {\n  backend \"s3\" {\n    key = \"k\"\n    use_lockfile = true\n  }\n}\n",
        )
        .unwrap();
    let output = bed.guard_output(&["run", "--", "plan"]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(6), "{all}");
    assert!(
        all.contains("backend \"s3\" is malformed: `bucket` is required"),
        "{all}"
    );

    bed.tf
        .write("backend.tf", "terraform {\n  backend \"s3\" {\n")
        .unwrap();
    let output = bed.guard_output(&["run", "--", "plan"]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(6), "{all}");
    assert!(all.contains("not valid HCL"), "{all}");

    std::fs::create_dir_all(bed.tf.path().join(".terraform")).unwrap();
    std::fs::write(
        bed.tf.path().join(".terraform/terraform.tfstate"),
        "{\"backend\": 7",
    )
    .unwrap();
    let output = bed.guard_output(&["run", "--", "plan"]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(6), "{all}");
    assert!(all.contains("terraform.tfstate: not valid JSON"), "{all}");
    assert_no_panic(&all);
}
