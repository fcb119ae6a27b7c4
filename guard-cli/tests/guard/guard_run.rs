//! `zdd-guard run` against real Terraform (the shim) and the S3 backend on the local AWS,
//! with DynamoDB locking and with the S3 lockfile.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::guard_support::{Bed, Locking, StderrLines, children_of, held_open, text, text_with};
use zdd_test_support::{
    HOLD_OPEN_COMMAND, Signal, send_signal, signal_group, terraform_bin, wait_with_timeout,
};

const FAST: &[&str] = &["--watch-interval", "200ms", "--lease-ttl", "5s"];

/// How long a test waits for the guard to report what its watcher saw (a look every 200 ms).
const SEEN_LIMIT: Duration = Duration::from_secs(30);

fn run_args<'a>(extra: &[&'a str], tf: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run"];
    args.extend_from_slice(FAST);
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(tf);
    args
}

const QUICK: &str = r#"
resource "terraform_data" "a" {
  input = "one"
}
"#;

async fn guarded_apply_leaves_nothing_behind(name: &str, locking: Locking) {
    let bed = Bed::new(name, locking, QUICK).await;
    let output = bed.guard_output(&run_args(
        &["--verify-drift"],
        &["apply", "-auto-approve", "-no-color"],
    ));
    let all = text(&output);
    assert_eq!(output.status.code(), Some(0), "{all}");
    assert!(
        all.contains("this run may change 1 resource(s): terraform_data.a"),
        "{all}"
    );
    assert!(all.contains("verified: state serial"), "{all}");
    assert!(all.contains("no drift after apply"), "{all}");
    bed.assert_nothing_held().await;
    let state = String::from_utf8(bed.state_bytes().await.unwrap()).unwrap();
    assert!(state.contains("terraform_data"), "{state}");
}

#[tokio::test(flavor = "multi_thread")]
async fn guarded_apply_with_dynamodb_leaves_no_lock_and_no_lease() {
    guarded_apply_leaves_nothing_behind("apply-ddb", Locking::DynamoDb).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn guarded_apply_with_lockfile_leaves_no_lock_and_no_lease() {
    guarded_apply_leaves_nothing_behind("apply-lockfile", Locking::Lockfile).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_backend_without_locking_is_refused_with_exit_3() {
    let bed = Bed::new("no-locking", Locking::None, QUICK).await;
    let output = bed.guard_output(&run_args(&[], &["apply", "-auto-approve"]));
    let all = text(&output);
    assert_eq!(output.status.code(), Some(3), "{all}");
    assert!(all.contains("use_lockfile = true"), "{all}");
    assert!(
        bed.state_bytes().await.is_none(),
        "terraform must not have run"
    );

    let output = bed.guard_output(&run_args(
        &["--allow-unlocked"],
        &["apply", "-auto-approve"],
    ));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}

#[tokio::test(flavor = "multi_thread")]
async fn terraform_failure_code_is_passed_through() {
    let bed = Bed::new("tf-fails", Locking::Lockfile, QUICK).await;
    let output = bed.guard_output(&run_args(
        &[],
        &["apply", "-auto-approve", "-var", "nope=1"],
    ));
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    bed.assert_nothing_held().await;
}

async fn third_party_state_upload_is_reported(name: &str, locking: Locking) {
    let bed = Bed::new(name, locking, &held_open()).await;
    bed.release();
    let first = bed.guard_output(&run_args(&[], &["apply", "-auto-approve", "-no-color"]));
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));

    let mut child = bed
        .guard(&run_args(
            &[],
            &[
                "apply",
                "-auto-approve",
                "-no-color",
                "-var",
                "generation=2",
            ],
        ))
        .spawn()
        .unwrap();
    bed.wait_until_held_open(&mut child);
    // Someone else uploads a new state version that changes a resource outside this plan.
    let mut state: serde_json::Value =
        serde_json::from_slice(&bed.state_bytes().await.unwrap()).unwrap();
    state["serial"] = serde_json::json!(state["serial"].as_u64().unwrap() + 1);
    for resource in state["resources"].as_array_mut().unwrap() {
        if resource["name"] == "plain" {
            resource["instances"][0]["attributes"]["input"] =
                serde_json::json!({"value": "tampered", "type": "string"});
        }
    }
    bed.put_state(serde_json::to_vec(&state).unwrap()).await;
    std::thread::sleep(Duration::from_millis(800));
    bed.release();
    let output = wait_with_timeout(child, Duration::from_secs(120)).unwrap();
    let all = text(&output);
    assert_eq!(output.status.code(), Some(4), "{all}");
    assert!(all.contains("changed by someone else"), "{all}");
    assert!(all.contains("~ terraform_data.plain"), "{all}");
    assert!(all.contains("tampered"), "{all}");
    bed.assert_nothing_held().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn third_party_state_upload_mid_apply_exits_4_with_a_diff_dynamodb() {
    third_party_state_upload_is_reported("upload-ddb", Locking::DynamoDb).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn third_party_state_upload_mid_apply_exits_4_with_a_diff_lockfile() {
    third_party_state_upload_is_reported("upload-lockfile", Locking::Lockfile).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn force_unlock_mid_apply_is_reported() {
    let bed = Bed::new("force-unlock", Locking::DynamoDb, &held_open()).await;
    let mut child = bed
        .guard(&run_args(&[], &["apply", "-auto-approve", "-no-color"]))
        .spawn()
        .unwrap();
    bed.wait_until_held_open(&mut child);
    let mut stderr = StderrLines::take(&mut child);
    // The watcher must know the apply's lock before it goes, then do what
    // `terraform force-unlock` does.
    stderr.wait_for(
        &["watching terraform's lock", "OperationTypeApply"],
        SEEN_LIMIT,
    );
    let lock = bed
        .dynamo_item(&bed.lock_id())
        .await
        .expect("terraform holds its lock");
    let info = lock["Info"].as_s().unwrap().clone();
    let id: serde_json::Value = serde_json::from_str(&info).unwrap();
    let unlock = bed
        .tf
        .run(&["force-unlock", "-force", id["ID"].as_str().unwrap()])
        .unwrap();
    assert_eq!(unlock.code, 0, "{}", unlock.stderr);
    // Only a warning while terraform runs; the verdict comes when its own release fails.
    // The apply's lock (the plan before it may have been seen going too).
    stderr.wait_for(
        &["is gone while terraform still runs", "OperationTypeApply"],
        SEEN_LIMIT,
    );
    bed.release();
    let output = wait_with_timeout(child, Duration::from_secs(120)).unwrap();
    let all = text_with(&output, stderr);
    assert_eq!(output.status.code(), Some(4), "{all}");
    assert!(all.contains("Error releasing the state lock"), "{all}");
    assert!(all.contains("force-unlock?"), "{all}");
}

/// A stand-in for terraform that runs the real one and holds its process open 4 s after it is
/// done (keeping its exit code), as a starved process would be: long enough for a watch look
/// (every 200 ms) to land between terraform's own unlock and its exit.
fn slow_exit_terraform(bed: &Bed) -> std::path::PathBuf {
    let wrapper = bed.tf.path().join("../slow-exit-terraform");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\n'{}' \"$@\"\ncode=$?\nsleep 4\nexit $code\n",
            terraform_bin().unwrap().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    wrapper
}

/// Terraform deletes its own lock a moment before it exits; on a loaded machine that moment can
/// last seconds. A terraform that is slow to exit after its own unlock must not be reported as
/// force-unlocked (exit 4): a real force-unlock makes terraform's own release fail ("Error
/// releasing the state lock").
#[tokio::test(flavor = "multi_thread")]
async fn terraform_slow_to_exit_after_its_own_unlock_is_not_a_force_unlock() {
    let bed = Bed::new("slow-exit", Locking::DynamoDb, &held_open()).await;
    let mut child = bed
        .guard(&run_args(&[], &["apply", "-auto-approve", "-no-color"]))
        .env("TERRAFORM", slow_exit_terraform(&bed))
        .spawn()
        .unwrap();
    bed.wait_until_held_open(&mut child);
    let mut stderr = StderrLines::take(&mut child);
    // The scenario needs the watcher to know the apply's lock before terraform releases it.
    stderr.wait_for(
        &["watching terraform's lock", "OperationTypeApply"],
        SEEN_LIMIT,
    );
    bed.release();
    // The watcher (a look every 200 ms) sees the lock gone during the wrapper's 4 s.
    stderr.wait_for(
        &["is gone while terraform still runs", "OperationTypeApply"],
        SEEN_LIMIT,
    );
    let output = wait_with_timeout(child, Duration::from_secs(120)).unwrap();
    let all = text_with(&output, stderr);
    assert_eq!(output.status.code(), Some(0), "{all}");
    assert!(!all.contains("force-unlock"), "{all}");
    bed.assert_nothing_held().await;
}

/// Resources: one whose provisioner holds the apply open (see [`held_open`]) and then fails.
fn held_open_then_failing() -> String {
    format!(
        r#"
resource "terraform_data" "fails" {{
  provisioner "local-exec" {{
    command = "{HOLD_OPEN_COMMAND}; exit 1"
  }}
}}
"#
    )
}

/// An apply that fails for its own reasons releases its own lock and exits 1: a watch look
/// between that release and the exit sees the lock gone, and terraform failed, yet nobody
/// force-unlocked anything (terraform's release did not fail). Exit 1, terraform's own, not 4.
/// (The race happened by chance under load; the slow-exit stand-in makes it certain.)
#[tokio::test(flavor = "multi_thread")]
async fn terraform_failing_after_its_own_unlock_is_not_a_force_unlock() {
    let bed = Bed::new(
        "fail-after-unlock",
        Locking::Lockfile,
        &held_open_then_failing(),
    )
    .await;
    let mut child = bed
        .guard(&run_args(&[], &["apply", "-auto-approve", "-no-color"]))
        .env("TERRAFORM", slow_exit_terraform(&bed))
        .spawn()
        .unwrap();
    bed.wait_until_held_open(&mut child);
    let mut stderr = StderrLines::take(&mut child);
    stderr.wait_for(
        &["watching terraform's lock", "OperationTypeApply"],
        SEEN_LIMIT,
    );
    bed.release();
    stderr.wait_for(
        &["is gone while terraform still runs", "OperationTypeApply"],
        SEEN_LIMIT,
    );
    let output = wait_with_timeout(child, Duration::from_secs(120)).unwrap();
    let all = text_with(&output, stderr);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(all.contains("local-exec provisioner error"), "{all}");
    assert!(!all.contains("was removed while terraform"), "{all}");
    assert!(!all.contains("force-unlock"), "{all}");
    bed.assert_nothing_held().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_to_the_guard_stops_terraform_gracefully_and_leaves_no_lock() {
    for (name, locking) in [
        ("sigterm-ddb", Locking::DynamoDb),
        ("sigterm-lockfile", Locking::Lockfile),
    ] {
        let bed = Bed::new(name, locking, &held_open()).await;
        let mut child = bed
            .guard(&run_args(&[], &["apply", "-auto-approve", "-no-color"]))
            .spawn()
            .unwrap();
        bed.wait_until_held_open(&mut child);
        send_signal(child.id(), "TERM").unwrap();
        let output = wait_with_timeout(child, Duration::from_secs(60)).unwrap();
        let all = text(&output);
        assert_ne!(output.status.code(), Some(0), "{all}");
        assert!(all.contains("forwarding Terminate to terraform"), "{all}");
        assert!(
            all.contains("Interrupt received") || all.contains("Gracefully shutting down"),
            "{all}"
        );
        bed.assert_nothing_held().await;
    }
}

/// A SIGKILLed guard's terraform dies with it (its parent-death signal), leaving its lock and the
/// lease behind: a run within the lease's TTL is refused (exit 3, naming the holder); once the TTL
/// is over the next run takes the lease over and removes the lock that lease recorded (the
/// moments and kill modes of suite 4 are in `guard_kill`).
#[tokio::test(flavor = "multi_thread")]
async fn sigkilled_guard_leaves_a_lease_that_expires_and_the_next_run_proceeds() {
    let bed = Bed::new("sigkill", Locking::DynamoDb, &held_open()).await;
    let mut child = bed
        .guard(&[
            "run",
            "--watch-interval",
            "200ms",
            "--lease-ttl",
            "2s",
            "--",
            "apply",
            "-auto-approve",
        ])
        .spawn()
        .unwrap();
    bed.wait_until_held_open(&mut child);
    bed.wait_until_lease_records_lock(SEEN_LIMIT).await;
    let terraform = children_of(child.id());
    send_signal(child.id(), "KILL").unwrap();
    let _ = child.wait();
    assert!(
        bed.lease_exists().await,
        "a SIGKILLed guard cannot release its lease"
    );
    let refused = bed.guard_output(&run_args(&[], &["plan", "-no-color"]));
    let all = text(&refused);
    assert_eq!(refused.status.code(), Some(3), "{all}");
    assert!(all.contains("held by"), "{all}");
    assert!(
        bed.dynamo_item(&bed.lock_id()).await.is_some(),
        "terraform died with the guard, holding its lock"
    );
    // The held-open provisioner terraform started outlives it: not the test's subject.
    for pid in terraform {
        let _ = signal_group(pid, Signal::KILL);
    }

    bed.release();
    let output = bed.guard_output(&run_args(
        &["--wait", "20s"],
        &[
            "apply",
            "-auto-approve",
            "-no-color",
            "-var",
            "generation=3",
        ],
    ));
    let all = text(&output);
    assert_eq!(output.status.code(), Some(0), "{all}");
    assert!(all.contains("took over an expired lease"), "{all}");
    assert!(all.contains("removed the Terraform lock"), "{all}");
    bed.assert_nothing_held().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_guarded_applies_with_wait_never_overlap_and_both_succeed() {
    let bed = Bed::new(
        "two-at-once",
        Locking::Lockfile,
        r#"
resource "terraform_data" "serial" {
  triggers_replace = timestamp()
  provisioner "local-exec" {
    command = "echo start >> ../apply.log; sleep 1.5; echo end >> ../apply.log"
  }
}
"#,
    )
    .await;
    let args = run_args(&["--wait", "90s"], &["apply", "-auto-approve", "-no-color"]);
    let first = bed.guard(&args).spawn().unwrap();
    let second = bed.guard(&args).spawn().unwrap();
    let first = wait_with_timeout(first, Duration::from_secs(120)).unwrap();
    let second = wait_with_timeout(second, Duration::from_secs(120)).unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    let log = std::fs::read_to_string(bed.tf.path().join("../apply.log")).unwrap();
    assert_eq!(log, "start\nend\nstart\nend\n", "the applies overlapped");
    let waited = format!("{}{}", text(&first), text(&second));
    assert!(waited.contains("waiting: lease"), "{waited}");
    bed.assert_nothing_held().await;
}

/// A run that finds the lease held exits 3 naming the holder, even where it may not describe
/// the lock table (a CI role without `dynamodb:DescribeTable`): a table it cannot read says
/// nothing about why the lease was not obtained, so that error must not replace the answer.
#[tokio::test(flavor = "multi_thread")]
async fn a_held_lease_is_exit_3_even_when_the_lock_table_cannot_be_described() {
    let bed = Bed::new("held-nodescribe", Locking::DynamoDb, &held_open()).await;
    let mut child = bed
        .guard(&run_args(&[], &["apply", "-auto-approve", "-no-color"]))
        .spawn()
        .unwrap();
    bed.wait_until_held_open(&mut child);
    let table = bed.table.clone().unwrap();
    let fault = bed
        .aws
        .add_fault(&serde_json::json!({
            "service": "dynamodb",
            "action": "DescribeTable",
            "match": table,
            "error_code": "AccessDeniedException",
            "http_status": 400,
        }))
        .unwrap();
    let refused = bed.guard_output(&run_args(&[], &["plan", "-no-color"]));
    let hits = bed.aws.faults().unwrap();
    bed.aws.clear_faults(fault["id"].as_str()).unwrap();
    bed.release();
    let first = wait_with_timeout(child, Duration::from_secs(120)).unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));

    let all = text(&refused);
    assert!(
        hits.to_string().contains("\"hits\":1") || hits.to_string().contains("\"hits\": 1"),
        "the second run asked for the table and was refused: {hits}"
    );
    assert_eq!(refused.status.code(), Some(3), "{all}");
    assert!(all.contains("held by"), "{all}");
    bed.assert_nothing_held().await;
}

/// A lock table that does not exist is locking not configured (exit 3), told apart from a
/// table that cannot be read (exit 6, `guard_aws_timeouts.rs`) by the SDK's typed error.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_lock_table_is_exit_3_and_terraform_never_runs() {
    let bed = Bed::new("no-table", Locking::DynamoDb, QUICK).await;
    bed.dynamodb
        .delete_table()
        .table_name(bed.table.clone().unwrap())
        .send()
        .await
        .unwrap();
    let output = bed.guard_output(&run_args(&[], &["apply", "-auto-approve", "-no-color"]));
    let all = text(&output);
    assert_eq!(output.status.code(), Some(3), "{all}");
    assert!(all.contains("does not exist"), "{all}");
    assert!(
        bed.state_bytes().await.is_none(),
        "terraform never ran: no state was written\n{all}"
    );
}
