//! A lease taken over by a second writer while terraform runs (exit 4), and runs in a
//! non-default workspace (`TF_WORKSPACE`): the state, lock, digest and lease keys follow
//! Terraform's S3 backend (`<workspace_key_prefix>/<workspace>/<key>`, default prefix `env:`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::guard_support::{Bed, Locking, STATE_KEY, held_open, text};
use aws_sdk_dynamodb::types::AttributeValue;
use zdd_test_support::wait_with_timeout;

const FAST: &[&str] = &["--watch-interval", "200ms", "--lease-ttl", "6s"];

fn run_args<'a>(tf: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run"];
    args.extend_from_slice(FAST);
    args.push("--");
    args.extend_from_slice(tf);
    args
}

/// The stored lease JSON with another `lease_id` and owner: what a second writer would put.
fn foreign_lease(ours: &str) -> String {
    let mut lease: serde_json::Value = serde_json::from_str(ours).unwrap();
    lease["lease_id"] = serde_json::json!("second-writer");
    lease["owner"]["user"] = serde_json::json!("intruder");
    lease.to_string()
}

async fn lease_taken_over_mid_run_exits_4(name: &str, locking: Locking) {
    let bed = Bed::new(name, locking, &held_open()).await;
    let mut child = bed
        .guard(&run_args(&["apply", "-auto-approve", "-no-color"]))
        .spawn()
        .unwrap();
    bed.wait_until_held_open(&mut child);

    // A second writer replaces the lease (unconditionally) while terraform runs.
    let lease_id = format!("{}.zdd-lease", bed.lock_id());
    let lease_key = format!("{STATE_KEY}.zdd-lease");
    let replaced = match locking {
        Locking::DynamoDb => {
            let item = bed.dynamo_item(&lease_id).await.expect("our lease item");
            let replaced = foreign_lease(item["Lease"].as_s().unwrap());
            bed.dynamodb
                .put_item()
                .table_name(bed.table.as_ref().unwrap())
                .item("LockID", AttributeValue::S(lease_id.clone()))
                .item("Lease", AttributeValue::S(replaced.clone()))
                .send()
                .await
                .unwrap();
            replaced
        }
        _ => {
            let ours = bed
                .s3
                .get_object()
                .bucket(&bed.bucket)
                .key(&lease_key)
                .send()
                .await
                .expect("our lease object");
            let ours = ours.body.collect().await.unwrap().into_bytes();
            let replaced = foreign_lease(std::str::from_utf8(&ours).unwrap());
            bed.s3
                .put_object()
                .bucket(&bed.bucket)
                .key(&lease_key)
                .body(replaced.clone().into_bytes().into())
                .send()
                .await
                .unwrap();
            replaced
        }
    };
    // Long enough for a watch tick (200 ms) and a heartbeat (ttl / 3 = 2 s) to notice.
    std::thread::sleep(Duration::from_millis(2500));
    bed.release();
    let output = wait_with_timeout(child, Duration::from_secs(120)).unwrap();
    let all = text(&output);
    assert_eq!(output.status.code(), Some(4), "{all}");
    assert!(all.contains("no longer ours"), "{all}");

    // The guard never removes a lease that is not its own; terraform's lock is gone.
    let stored = match locking {
        Locking::DynamoDb => bed.dynamo_item(&lease_id).await.unwrap()["Lease"]
            .as_s()
            .unwrap()
            .clone(),
        _ => {
            let object = bed
                .s3
                .get_object()
                .bucket(&bed.bucket)
                .key(&lease_key)
                .send()
                .await
                .unwrap();
            String::from_utf8(object.body.collect().await.unwrap().to_vec()).unwrap()
        }
    };
    assert_eq!(stored, replaced, "{all}");
    assert!(bed.dynamo_item(&bed.lock_id()).await.is_none(), "{all}");
    assert!(
        !bed.object_exists(&format!("{STATE_KEY}.tflock")).await,
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn lease_taken_over_mid_apply_exits_4_dynamodb() {
    lease_taken_over_mid_run_exits_4("takeover-ddb", Locking::DynamoDb).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lease_taken_over_mid_apply_exits_4_s3() {
    lease_taken_over_mid_run_exits_4("takeover-s3", Locking::Lockfile).await;
}

/// `workspace_key_prefix` added to the bed's backend block, then re-initialised.
fn with_workspace_prefix(bed: &Bed, prefix: &str) {
    let backend = std::fs::read_to_string(bed.path("backend.tf")).unwrap();
    let backend = backend.replacen(
        "backend \"s3\" {",
        &format!("backend \"s3\" {{\n    workspace_key_prefix = \"{prefix}\""),
        1,
    );
    bed.tf.write("backend.tf", &backend).unwrap();
    bed.tf
        .run(&["init", "-reconfigure", "-input=false", "-no-color"])
        .unwrap()
        .ok()
        .unwrap();
}

async fn workspace_run_uses_the_workspace_keys(name: &str, prefix: Option<&str>) {
    let bed = Bed::new(name, Locking::DynamoDb, &held_open()).await;
    if let Some(prefix) = prefix {
        with_workspace_prefix(&bed, prefix);
    }
    let state_key = format!("{}/staging/{STATE_KEY}", prefix.unwrap_or("env:"));
    // Create the workspace, then go back to `default`: only TF_WORKSPACE selects it below.
    for args in [
        &["workspace", "new", "-no-color", "staging"][..],
        &["workspace", "select", "-no-color", "default"][..],
    ] {
        bed.tf.run(args).unwrap().ok().unwrap();
    }

    let mut child = bed
        .guard(&run_args(&["apply", "-auto-approve", "-no-color"]))
        .env("TF_WORKSPACE", "staging")
        .spawn()
        .unwrap();
    bed.wait_until_held_open(&mut child);
    // Mid-run, the lease and Terraform's lock are the workspace's.
    let lock_id = format!("{}/{state_key}", bed.bucket);
    let held = bed.dynamo_item(&format!("{lock_id}.zdd-lease")).await;
    let locked = bed.dynamo_item(&lock_id).await;
    bed.release();
    let output = wait_with_timeout(child, Duration::from_secs(120)).unwrap();
    let all = text(&output);
    assert_eq!(output.status.code(), Some(0), "{all}");
    assert!(held.is_some(), "no lease at {lock_id}.zdd-lease\n{all}");
    assert!(locked.is_some(), "no terraform lock at {lock_id}\n{all}");
    assert!(all.contains("verified: state serial"), "{all}");
    assert!(
        all.contains(&format!("{lock_id}.zdd-lease released")),
        "{all}"
    );

    // The state went to the workspace key, with its digest item; nothing is left held.
    let state = bed
        .s3
        .get_object()
        .bucket(&bed.bucket)
        .key(&state_key)
        .send()
        .await
        .unwrap();
    let state = String::from_utf8(state.body.collect().await.unwrap().to_vec()).unwrap();
    assert!(state.contains("held_open"), "{state}");
    assert!(
        bed.dynamo_item(&format!("{lock_id}-md5")).await.is_some(),
        "{all}"
    );
    assert!(bed.dynamo_item(&lock_id).await.is_none(), "{all}");
    assert!(
        bed.dynamo_item(&format!("{lock_id}.zdd-lease"))
            .await
            .is_none(),
        "{all}"
    );
    let default_state = bed.state_bytes().await.map(String::from_utf8);
    assert!(
        !matches!(&default_state, Some(Ok(text)) if text.contains("held_open")),
        "the default workspace's state must be untouched: {default_state:?}"
    );

    // `lock status` and `state diff` follow the workspace too.
    let status = bed
        .guard(&["lock", "status"])
        .env("TF_WORKSPACE", "staging")
        .output()
        .unwrap();
    let status_text = text(&status);
    assert_eq!(status.status.code(), Some(0), "{status_text}");
    assert!(status_text.contains(&state_key), "{status_text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tf_workspace_uses_env_prefixed_keys() {
    workspace_run_uses_the_workspace_keys("ws-default-prefix", None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tf_workspace_uses_the_workspace_key_prefix() {
    workspace_run_uses_the_workspace_keys("ws-custom-prefix", Some("teams")).await;
}

/// How the test takes the lease away from a running guard.
#[derive(Clone, Copy, Debug)]
enum LeaseLoss {
    /// Someone deletes the lease record: the next renewal's conditional write fails.
    Deleted,
    /// The lock table disappears: every renewal fails with an error until the lease could be
    /// taken over.
    StoreGone,
}

/// A guard that loses its lease mid-apply stops terraform as on Ctrl-C (terraform shuts down
/// gracefully, the held-open apply is never released by the test) and exits 4.
async fn lost_lease_stops_terraform_and_exits_4(name: &str, locking: Locking, loss: LeaseLoss) {
    let bed = Bed::new(name, locking, &held_open()).await;
    let mut child = bed
        .guard(&[
            "run",
            "--watch-interval",
            "200ms",
            "--lease-ttl",
            "3s",
            "--",
            "apply",
            "-auto-approve",
            "-no-color",
        ])
        .spawn()
        .unwrap();
    bed.wait_until_held_open(&mut child);
    match (loss, &bed.table) {
        (LeaseLoss::Deleted, Some(table)) => {
            bed.dynamodb
                .delete_item()
                .table_name(table)
                .key(
                    "LockID",
                    AttributeValue::S(format!("{}.zdd-lease", bed.lock_id())),
                )
                .send()
                .await
                .unwrap();
        }
        (LeaseLoss::Deleted, None) => {
            bed.s3
                .delete_object()
                .bucket(&bed.bucket)
                .key(format!("{STATE_KEY}.zdd-lease"))
                .send()
                .await
                .unwrap();
        }
        (LeaseLoss::StoreGone, Some(table)) => {
            bed.dynamodb
                .delete_table()
                .table_name(table)
                .send()
                .await
                .unwrap();
        }
        (LeaseLoss::StoreGone, None) => panic!("the S3 bed has no table to remove"),
    }
    // The test never releases the apply: only the guard's own stop can end it.
    let output = wait_with_timeout(child, Duration::from_secs(90)).unwrap();
    let all = text(&output);
    assert_eq!(output.status.code(), Some(4), "{all}");
    assert!(all.contains("stopping terraform"), "{all}");
    assert!(all.contains("forwarding Interrupt to terraform"), "{all}");
    assert!(
        all.contains("Interrupt received") || all.contains("Gracefully shutting down"),
        "{all}"
    );
    if let LeaseLoss::StoreGone = loss {
        assert!(
            all.contains("could not renew the lease"),
            "errors are reported: {all}"
        );
    } else {
        assert!(
            bed.lock_text().await.is_none(),
            "terraform released its lock as it stopped: {all}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lease_deleted_mid_apply_stops_terraform_and_exits_4_dynamodb() {
    lost_lease_stops_terraform_and_exits_4("lost-ddb", Locking::DynamoDb, LeaseLoss::Deleted).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lease_deleted_mid_apply_stops_terraform_and_exits_4_s3() {
    lost_lease_stops_terraform_and_exits_4("lost-s3", Locking::Lockfile, LeaseLoss::Deleted).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lease_that_cannot_be_renewed_stops_terraform_and_exits_4() {
    lost_lease_stops_terraform_and_exits_4("lost-store", Locking::DynamoDb, LeaseLoss::StoreGone)
        .await;
}
