//! Real Terraform (the shim) against the local AWS with an S3 backend: the DynamoDB lock and
//! digest items, and the S3 lockfile, appear and disappear as Terraform documents.
//!
//! A `local-exec` provisioner holds the apply open until the test has looked at the lock: it
//! touches `started`, then waits for `release`.

// Test helpers outside #[test] fns are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use md5::{Digest, Md5};
use serde_json::Value;
use zdd_test_support::{LocalAws, TerraformDir, local_aws, s3_client};

const STATE_KEY: &str = "env/app.tfstate";

enum Locking {
    DynamoDb { table: String },
    S3Lockfile,
}

fn backend_config(aws: &LocalAws, bucket: &str, locking: &Locking) -> String {
    let endpoint = aws.endpoint();
    let lock_line = match locking {
        Locking::DynamoDb { table } => format!("dynamodb_table = \"{table}\""),
        Locking::S3Lockfile => "use_lockfile = true".to_string(),
    };
    format!(
        r#"terraform {{
  backend "s3" {{
    bucket         = "{bucket}"
    key            = "{STATE_KEY}"
    region         = "us-east-1"
    {lock_line}
    endpoints = {{
      s3       = "{endpoint}"
      dynamodb = "{endpoint}"
    }}
    use_path_style              = true
    access_key                  = "test"
    secret_key                  = "test"
    skip_credentials_validation = true
    skip_region_validation      = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_s3_checksum            = true
  }}
}}

variable "generation" {{
  type = number
}}

resource "terraform_data" "held_open" {{
  input = var.generation

  provisioner "local-exec" {{
    command = "touch started; while [ ! -f release ]; do sleep 0.05; done"
  }}
}}

resource "terraform_data" "plain" {{
  input = "generation ${{var.generation}}"
}}
"#
    )
}

async fn create_bucket(cfg: &aws_config::SdkConfig, bucket: &str) {
    s3_client(cfg)
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
}

async fn create_lock_table(cfg: &aws_config::SdkConfig, table: &str) {
    aws_sdk_dynamodb::Client::new(cfg)
        .create_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("LockID")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("LockID")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
}

async fn lock_item(cfg: &aws_config::SdkConfig, table: &str, lock_id: &str) -> Option<Value> {
    let item = aws_sdk_dynamodb::Client::new(cfg)
        .get_item()
        .table_name(table)
        .key("LockID", AttributeValue::S(lock_id.to_string()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item?;
    let attribute = |name: &str| item.get(name).map(|v| v.as_s().unwrap().clone());
    Some(serde_json::json!({ "Info": attribute("Info"), "Digest": attribute("Digest") }))
}

async fn object(cfg: &aws_config::SdkConfig, bucket: &str, key: &str) -> Option<Vec<u8>> {
    match s3_client(cfg)
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
    {
        Ok(output) => Some(output.body.collect().await.unwrap().into_bytes().to_vec()),
        Err(error) => {
            let service_error = error.into_service_error();
            assert!(service_error.is_no_such_key(), "{service_error:?}");
            None
        }
    }
}

fn init(tf: &TerraformDir) {
    let init = tf.run(&["init", "-input=false", "-no-color"]).unwrap();
    assert!(init.success(), "terraform init failed: {init:?}");
}

/// Starts `terraform apply` and waits until its provisioner holds it open.
fn start_held_apply(tf: &TerraformDir, generation: u32) -> Child {
    let var = format!("generation={generation}");
    let child = tf
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
    wait_for_file(&tf.path().join("started"));
    child
}

fn release_and_finish(tf: &TerraformDir, child: Child) {
    std::fs::write(tf.path().join("release"), "").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "apply failed\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dynamodb_lock_exists_during_apply_and_the_digest_matches_the_state_after() {
    let aws = local_aws();
    let cfg = aws.sdk_config().await;
    let (bucket, table) = ("tfstate-dynamodb-lock", "tf-locks");
    create_bucket(&cfg, bucket).await;
    create_lock_table(&cfg, table).await;
    let tf = TerraformDir::new(aws).unwrap();
    tf.write(
        "main.tf",
        &backend_config(
            aws,
            bucket,
            &Locking::DynamoDb {
                table: table.to_string(),
            },
        ),
    )
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
    create_bucket(&cfg, bucket).await;
    let tf = TerraformDir::new(aws).unwrap();
    tf.write(
        "main.tf",
        &backend_config(aws, bucket, &Locking::S3Lockfile),
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
