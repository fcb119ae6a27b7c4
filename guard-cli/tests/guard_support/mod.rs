//! Shared test bed for the zdd-guard integration tests: a versioned bucket (and a DynamoDB lock
//! table) on the local AWS, a Terraform directory with an S3 backend, and the guard binary.
//!
//! A `local-exec` provisioner holds the apply open until the test says so: it touches `started`,
//! then waits for `release` (so "mid-apply" is a fact, not a sleep).

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use zdd_test_support::{LocalAws, TerraformDir, local_aws, s3_client, terraform_bin};

pub const STATE_KEY: &str = "env/app.tfstate";

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Locking {
    DynamoDb,
    Lockfile,
    None,
}

pub struct Bed {
    pub aws: &'static LocalAws,
    pub tf: TerraformDir,
    pub bucket: String,
    pub table: Option<String>,
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

pub fn backend_block(
    aws: &LocalAws,
    bucket: &str,
    table: Option<&str>,
    locking: Locking,
) -> String {
    let endpoint = aws.endpoint();
    let lock_line = match (locking, table) {
        (Locking::DynamoDb, Some(table)) => format!("dynamodb_table = \"{table}\""),
        (Locking::Lockfile, _) => "use_lockfile = true".to_string(),
        _ => String::new(),
    };
    format!(
        r#"terraform {{
  backend "s3" {{
    bucket = "{bucket}"
    key    = "{STATE_KEY}"
    region = "us-east-1"
    encrypt = true
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
"#
    )
}

/// Resources: `held_open` (replaced on every generation; waits for `release`), `plain` (constant).
pub const HELD_OPEN: &str = r#"
variable "generation" {
  type    = number
  default = 1
}

resource "terraform_data" "held_open" {
  triggers_replace = var.generation

  provisioner "local-exec" {
    command = "touch started; while [ ! -f release ]; do sleep 0.05; done; rm -f started release"
  }
}

resource "terraform_data" "plain" {
  input = "constant"
}
"#;

impl Bed {
    pub async fn new(name: &str, locking: Locking, resources: &str) -> Bed {
        let aws = local_aws();
        let cfg = aws.sdk_config().await;
        let s3 = s3_client(&cfg);
        let dynamodb = aws_sdk_dynamodb::Client::new(&cfg);
        let bucket = format!("guard-{name}").replace('_', "-");
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        s3.put_bucket_versioning()
            .bucket(&bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let table = (locking == Locking::DynamoDb).then(|| format!("locks-{name}"));
        if let Some(table) = &table {
            dynamodb
                .create_table()
                .table_name(table)
                .billing_mode(BillingMode::PayPerRequest)
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
                .send()
                .await
                .unwrap();
        }
        let tf = TerraformDir::new(aws).unwrap();
        tf.write(
            "backend.tf",
            &backend_block(aws, &bucket, table.as_deref(), locking),
        )
        .unwrap();
        tf.write("main.tf", resources).unwrap();
        tf.run(&["init", "-input=false", "-no-color"])
            .unwrap()
            .ok()
            .unwrap();
        Bed {
            aws,
            tf,
            bucket,
            table,
            s3,
            dynamodb,
        }
    }

    /// `zdd-guard <args>` in the Terraform directory, with terraform and the local AWS set.
    pub fn guard(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_zdd-guard"));
        command
            .args(args)
            .current_dir(self.tf.path())
            .env("TERRAFORM", terraform_bin().unwrap())
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_CLI_CONFIG_FILE", self.tf.cli_config_path())
            .env("TF_INPUT", "0")
            .env_remove("GITHUB_ACTIONS")
            .envs(self.aws.env())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    pub fn guard_output(&self, args: &[&str]) -> Output {
        self.guard(args).output().unwrap()
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.tf.path().join(file)
    }

    pub fn wait_for_file(&self, file: &str, child: &mut Child) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.path(file).exists() {
            if let Some(status) = child.try_wait().unwrap() {
                let output = read_rest(child);
                panic!("guard exited ({status}) before {file} appeared:\n{output}");
            }
            assert!(Instant::now() < deadline, "{file} never appeared");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn release(&self) {
        std::fs::write(self.path("release"), "").unwrap();
    }

    pub async fn state_bytes(&self) -> Option<Vec<u8>> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(STATE_KEY)
            .send()
            .await
            .ok()?;
        Some(out.body.collect().await.unwrap().into_bytes().to_vec())
    }

    pub async fn put_state(&self, bytes: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(STATE_KEY)
            .body(bytes.into())
            .send()
            .await
            .unwrap();
    }

    pub fn lock_id(&self) -> String {
        format!("{}/{STATE_KEY}", self.bucket)
    }

    pub async fn dynamo_item(
        &self,
        id: &str,
    ) -> Option<std::collections::HashMap<String, AttributeValue>> {
        let table = self.table.as_ref()?;
        self.dynamodb
            .get_item()
            .table_name(table)
            .key("LockID", AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    pub async fn object_exists(&self, key: &str) -> bool {
        self.s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .is_ok()
    }

    /// No Terraform lock (item or lockfile) and no lease is left.
    pub async fn assert_nothing_held(&self) {
        assert!(
            self.dynamo_item(&self.lock_id()).await.is_none(),
            "DynamoDB lock item left"
        );
        assert!(
            self.dynamo_item(&format!("{}.zdd-lease", self.lock_id()))
                .await
                .is_none(),
            "DynamoDB lease item left"
        );
        assert!(
            !self.object_exists(&format!("{STATE_KEY}.tflock")).await,
            "lockfile left"
        );
        assert!(
            !self.object_exists(&format!("{STATE_KEY}.zdd-lease")).await,
            "lease object left"
        );
    }

    pub async fn lease_exists(&self) -> bool {
        self.dynamo_item(&format!("{}.zdd-lease", self.lock_id()))
            .await
            .is_some()
            || self.object_exists(&format!("{STATE_KEY}.zdd-lease")).await
    }
}

pub fn read_rest(child: &mut Child) -> String {
    use std::io::Read;
    let mut text = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut text);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut text);
    }
    text
}

pub fn text(output: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub fn wait_with_timeout(child: Child, limit: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-s", "KILL", &pid.to_string()])
                .status();
            panic!("guard (pid {pid}) did not finish within {limit:?}");
        }
    }
}

pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args(["-s", name, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}
