//! Real Terraform (the shim) against the local AWS with an S3 backend: the DynamoDB lock and
//! digest items, and the S3 lockfile, appear and disappear as Terraform documents.
//!
//! A `local-exec` provisioner holds the apply open until the test has looked at the lock: it
//! touches `started`, then waits for `release`.

// Test helpers outside #[test] fns are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Stdio};
use std::time::Duration;

use md5::{Digest, Md5};
use serde_json::Value;
use zdd_test_support::{
    HOLD_OPEN_COMMAND, LocalAws, StateLocking, TerraformDir, create_lock_table,
    create_state_bucket, local_aws, lock_table_item, object_bytes, output_text, release_held_open,
    s3_backend_block, s3_client, wait_until_held_open, wait_with_timeout,
};

const STATE_KEY: &str = "env/app.tfstate";

/// How long an apply may take to reach its provisioner, and then to finish.
const APPLY_LIMIT: Duration = Duration::from_secs(120);

/// The backend block and two resources, one held open by its provisioner.
fn configuration(aws: &LocalAws, bucket: &str, locking: &StateLocking) -> String {
    let backend = s3_backend_block(aws.endpoint(), bucket, STATE_KEY, locking);
    format!(
        r#"{backend}
variable "generation" {{
  type = number
}}

resource "terraform_data" "held_open" {{
  input = var.generation

  provisioner "local-exec" {{
    command = "{HOLD_OPEN_COMMAND}"
  }}
}}

resource "terraform_data" "plain" {{
  input = "generation ${{var.generation}}"
}}
"#
    )
}

/// The `Info` and `Digest` attributes of the lock table's item `lock_id`, if there is one.
async fn lock_item(cfg: &aws_config::SdkConfig, table: &str, lock_id: &str) -> Option<Value> {
    let item = lock_table_item(&aws_sdk_dynamodb::Client::new(cfg), table, lock_id)
        .await
        .unwrap()?;
    let attribute = |name: &str| item.get(name).map(|v| v.as_s().unwrap().clone());
    Some(serde_json::json!({ "Info": attribute("Info"), "Digest": attribute("Digest") }))
}

async fn object(cfg: &aws_config::SdkConfig, bucket: &str, key: &str) -> Option<Vec<u8>> {
    object_bytes(&s3_client(cfg), bucket, key).await.unwrap()
}

fn init(tf: &TerraformDir) {
    let init = tf.run(&["init", "-input=false", "-no-color"]).unwrap();
    assert!(init.success(), "terraform init failed: {init:?}");
}

/// Starts `terraform apply` and waits until its provisioner holds it open.
fn start_held_apply(tf: &TerraformDir, generation: u32) -> Child {
    let var = format!("generation={generation}");
    let mut child = tf
        .command(&[
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-var",
            &var,
        ])
        .unwrap()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_held_open(tf.path(), &mut child, APPLY_LIMIT).unwrap();
    child
}

fn release_and_finish(tf: &TerraformDir, child: Child) {
    release_held_open(tf.path()).unwrap();
    let output = wait_with_timeout(child, APPLY_LIMIT).unwrap();
    assert!(
        output.status.success(),
        "apply failed\n{}",
        output_text(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dynamodb_lock_exists_during_apply_and_the_digest_matches_the_state_after() {
    let aws = local_aws();
    let cfg = aws.sdk_config().await;
    let (bucket, table) = ("tfstate-dynamodb-lock", "tf-locks");
    create_state_bucket(&cfg, bucket, false).await.unwrap();
    create_lock_table(&cfg, table).await.unwrap();
    let tf = TerraformDir::new(aws).unwrap();
    let locking = StateLocking::DynamoDb {
        table: table.to_string(),
    };
    tf.write("main.tf", &configuration(aws, bucket, &locking))
        .unwrap();
    init(&tf);
    let lock_id = format!("{bucket}/{STATE_KEY}");

    let apply = start_held_apply(&tf, 1);

    let held = lock_item(&cfg, table, &lock_id)
        .await
        .expect("no lock item while terraform applies");
    let info: Value = serde_json::from_str(held["Info"].as_str().unwrap()).unwrap();
    assert_eq!(info["Operation"], "OperationTypeApply");
    assert_eq!(info["Path"], lock_id.as_str());
    assert!(
        !info["ID"].as_str().unwrap().is_empty(),
        "lock info: {info}"
    );
    for field in ["Who", "Version", "Created"] {
        assert!(info.get(field).is_some(), "lock info lacks {field}: {info}");
    }
    let concurrent = tf
        .run(&[
            "plan",
            "-input=false",
            "-no-color",
            "-lock-timeout=0s",
            "-var",
            "generation=2",
        ])
        .unwrap();
    assert_eq!(
        concurrent.code, 1,
        "a second run got the lock: {concurrent:?}"
    );
    assert!(
        concurrent.stderr.contains("Error acquiring the state lock")
            && concurrent.stderr.contains(info["ID"].as_str().unwrap()),
        "{}",
        concurrent.stderr
    );

    release_and_finish(&tf, apply);

    assert_eq!(lock_item(&cfg, table, &lock_id).await, None);
    let state = object(&cfg, bucket, STATE_KEY)
        .await
        .expect("no state object");
    let digest = lock_item(&cfg, table, &format!("{lock_id}-md5"))
        .await
        .expect("no digest item");
    assert_eq!(
        digest["Digest"].as_str().unwrap(),
        hex::encode(Md5::digest(&state))
    );
    let state: Value = serde_json::from_slice(&state).unwrap();
    assert_eq!(state["resources"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_lockfile_exists_during_apply_and_is_gone_after() {
    let aws = local_aws();
    let cfg = aws.sdk_config().await;
    let bucket = "tfstate-s3-lockfile";
    create_state_bucket(&cfg, bucket, false).await.unwrap();
    let tf = TerraformDir::new(aws).unwrap();
    tf.write(
        "main.tf",
        &configuration(aws, bucket, &StateLocking::Lockfile),
    )
    .unwrap();
    init(&tf);
    let lockfile = format!("{STATE_KEY}.tflock");

    let apply = start_held_apply(&tf, 1);

    let held = object(&cfg, bucket, &lockfile)
        .await
        .expect("no lockfile while terraform applies");
    let info: Value = serde_json::from_slice(&held).unwrap();
    assert_eq!(info["Operation"], "OperationTypeApply");
    assert_eq!(info["Path"], format!("{bucket}/{STATE_KEY}"));

    release_and_finish(&tf, apply);

    assert_eq!(object(&cfg, bucket, &lockfile).await, None);
    assert!(object(&cfg, bucket, STATE_KEY).await.is_some());
}

#[test]
fn terraform_dir_runs_the_shim_with_a_dev_override_for_zdd() {
    let tf = TerraformDir::new(local_aws()).unwrap();
    let cli_config = std::fs::read_to_string(tf.cli_config_path()).unwrap();
    assert!(cli_config.contains("\"zdd/zdd\" = "), "{cli_config}");

    let version = tf.run(&["version", "-json"]).unwrap().ok().unwrap();

    let version: Value = serde_json::from_str(&version.stdout).unwrap();
    assert!(
        version["terraform_version"]
            .as_str()
            .unwrap()
            .starts_with("1.15."),
        "{version}"
    );
}
