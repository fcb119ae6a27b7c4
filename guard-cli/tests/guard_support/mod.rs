//! The zdd-guard integration tests' bed: a versioned state bucket (and a DynamoDB lock table)
//! on the local AWS, a Terraform directory with an S3 backend, and the guard binary run in it.
//! The generic parts (local AWS, terraform dir, backend block, held-open applies, child
//! processes) come from `zdd-test-support`; only what is about the guard lives here.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use zdd_test_support::{
    HOLD_OPEN_COMMAND, LocalAws, Signal, StateLocking, TerraformDir, create_lock_table,
    create_state_bucket, local_aws, lock_table_item, object_bytes, object_exists,
    release_held_open, s3_backend_block, s3_client, signal, signal_group, terraform_bin,
    wait_until_held_open,
};

/// Both streams of a finished guard run, for assertion messages.
pub use zdd_test_support::output_text as text;

pub const STATE_KEY: &str = "env/app.tfstate";

/// How long a test waits for a guarded apply to be held open.
const START_LIMIT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Locking {
    DynamoDb,
    Lockfile,
    None,
}

impl Locking {
    fn state_locking(self, table: Option<&str>) -> StateLocking {
        match (self, table) {
            (Locking::DynamoDb, Some(table)) => StateLocking::DynamoDb {
                table: table.to_string(),
            },
            (Locking::Lockfile, _) => StateLocking::Lockfile,
            _ => StateLocking::Unlocked,
        }
    }
}

/// Resources: `held_open` (replaced on every generation; its provisioner holds the apply open
/// until the test releases it), `plain` (constant).
pub fn held_open() -> String {
    format!(
        r#"
variable "generation" {{
  type    = number
  default = 1
}}

resource "terraform_data" "held_open" {{
  triggers_replace = var.generation

  provisioner "local-exec" {{
    command = "{HOLD_OPEN_COMMAND}"
  }}
}}

resource "terraform_data" "plain" {{
  input = "constant"
}}
"#
    )
}

/// Fails a test whose bed name another test of this binary already took: every test shares one
/// local AWS, so two beds with one name would share a bucket and a lock table.
fn claim_name(name: &str) {
    static TAKEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let mut taken = TAKEN.lock().unwrap_or_else(PoisonError::into_inner);
    assert!(
        taken.insert(name.to_string()),
        "two tests use the bed name {name:?}: they would share a bucket and a lock table"
    );
}

pub struct Bed {
    pub aws: &'static LocalAws,
    pub tf: TerraformDir,
    pub bucket: String,
    pub table: Option<String>,
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl Bed {
    /// A bed whose bucket and table are named after `name`, unique among the binary's tests.
    pub async fn new(name: &str, locking: Locking, resources: &str) -> Bed {
        claim_name(name);
        let aws = local_aws();
        let cfg = aws.sdk_config().await;
        let bucket = format!("guard-{name}").replace('_', "-");
        create_state_bucket(&cfg, &bucket, true).await.unwrap();
        let table = (locking == Locking::DynamoDb).then(|| format!("locks-{name}"));
        if let Some(table) = &table {
            create_lock_table(&cfg, table).await.unwrap();
        }
        let tf = TerraformDir::new(aws).unwrap();
        let backend = s3_backend_block(
            aws.endpoint(),
            &bucket,
            STATE_KEY,
            &locking.state_locking(table.as_deref()),
        );
        tf.write("backend.tf", &backend).unwrap();
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
            s3: s3_client(&cfg),
            dynamodb: aws_sdk_dynamodb::Client::new(&cfg),
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

    /// Makes the backend (so terraform and the guard) sign with `access_key`, so that fault
    /// rules scoped to it touch this test's calls alone, and re-initialises terraform.
    pub fn sign_backend_with(&self, access_key: &str) {
        let backend = std::fs::read_to_string(self.path("backend.tf")).unwrap();
        let scoped = backend.replace(
            "access_key                  = \"test\"",
            &format!("access_key = \"{access_key}\""),
        );
        assert_ne!(backend, scoped, "the backend block names its access key");
        self.tf.write("backend.tf", &scoped).unwrap();
        self.tf
            .run(&["init", "-reconfigure", "-input=false", "-no-color"])
            .unwrap()
            .ok()
            .unwrap();
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.tf.path().join(file)
    }

    /// Waits until the guarded apply run by `child` is held open by [`held_open`]'s provisioner.
    pub fn wait_until_held_open(&self, child: &mut Child) {
        wait_until_held_open(self.tf.path(), child, START_LIMIT).unwrap();
    }

    /// Lets the held-open apply finish.
    pub fn release(&self) {
        release_held_open(self.tf.path()).unwrap();
    }

    pub async fn state_bytes(&self) -> Option<Vec<u8>> {
        object_bytes(&self.s3, &self.bucket, STATE_KEY)
            .await
            .unwrap()
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

    /// The lock table's item `id`; `None` also when the bed has no lock table.
    pub async fn dynamo_item(&self, id: &str) -> Option<HashMap<String, AttributeValue>> {
        let table = self.table.as_ref()?;
        lock_table_item(&self.dynamodb, table, id).await.unwrap()
    }

    pub async fn object_exists(&self, key: &str) -> bool {
        object_exists(&self.s3, &self.bucket, key).await.unwrap()
    }

    /// What is left held: Terraform's lock (item or lockfile) and the lease, each described by
    /// its stored record so that a test failing on it says whose it is.
    pub async fn held(&self) -> Vec<String> {
        let mut held = Vec::new();
        if let Some(item) = self.dynamo_item(&self.lock_id()).await {
            held.push(format!("DynamoDB lock item left: {}", describe_item(&item)));
        }
        let lease_id = format!("{}.zdd-lease", self.lock_id());
        if let Some(item) = self.dynamo_item(&lease_id).await {
            held.push(format!(
                "DynamoDB lease item left: {}",
                describe_item(&item)
            ));
        }
        for (key, what) in [
            (format!("{STATE_KEY}.tflock"), "lockfile left"),
            (format!("{STATE_KEY}.zdd-lease"), "lease object left"),
        ] {
            if let Some(bytes) = object_bytes(&self.s3, &self.bucket, &key).await.unwrap() {
                held.push(format!("{what}: {}", String::from_utf8_lossy(&bytes)));
            }
        }
        held
    }

    /// No Terraform lock (item or lockfile) and no lease is left.
    pub async fn assert_nothing_held(&self) {
        let held = self.held().await;
        assert!(held.is_empty(), "{}", held.join("\n"));
    }

    pub async fn lease_exists(&self) -> bool {
        self.dynamo_item(&format!("{}.zdd-lease", self.lock_id()))
            .await
            .is_some()
            || self.object_exists(&format!("{STATE_KEY}.zdd-lease")).await
    }
}

/// A lock table item's attributes (`Info`, `Lease`, `Digest`) as text.
fn describe_item(item: &HashMap<String, AttributeValue>) -> String {
    let mut fields: Vec<String> = item
        .iter()
        .map(|(name, value)| match value.as_s() {
            Ok(text) => format!("{name}={text}"),
            Err(_) => format!("{name}={value:?}"),
        })
        .collect();
    fields.sort();
    fields.join(" ")
}

/// A running guard's stderr (its human lines), read as it comes so that a test can wait for
/// what the guard has seen instead of sleeping.
pub struct StderrLines {
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl StderrLines {
    /// Takes over `child`'s piped stderr.
    pub fn take(child: &mut Child) -> StderrLines {
        let stderr = child.stderr.take().expect("the guard's stderr is piped");
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        StderrLines {
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits until a line containing every one of `needles` has appeared; panics with the
    /// lines so far after `limit` or when the stream ends first.
    pub fn wait_for(&mut self, needles: &[&str], limit: Duration) {
        let deadline = Instant::now() + limit;
        let found = |line: &String| needles.iter().all(|n| line.contains(n));
        while !self.seen.iter().any(found) {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Timeout) => panic!(
                    "no stderr line with {needles:?} within {limit:?}:\n{}",
                    self.seen.join("\n")
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "stderr ended without a line with {needles:?}:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Everything the guard wrote to stderr, once it has exited.
    pub fn all(mut self) -> String {
        self.seen.extend(self.lines.iter());
        self.seen.join("\n")
    }
}

/// A finished guard's stdout (from `output`) and its stderr read by `stderr`, for assertions.
pub fn text_with(output: &Output, stderr: StderrLines) -> String {
    format!("{}\n{}", text(output), stderr.all())
}

/// Lease and lock records as raw text, for the lock-safety tests: the DynamoDB items when the
/// bed has a lock table, else the S3 objects beside the state.
impl Bed {
    /// The stored lease record (JSON), if any.
    pub async fn lease_text(&self) -> Option<String> {
        match &self.table {
            Some(_) => self
                .dynamo_item(&format!("{}.zdd-lease", self.lock_id()))
                .await
                .map(|item| item["Lease"].as_s().unwrap().clone()),
            None => object_bytes(&self.s3, &self.bucket, &format!("{STATE_KEY}.zdd-lease"))
                .await
                .unwrap()
                .map(|bytes| String::from_utf8(bytes).unwrap()),
        }
    }

    /// Terraform's lock (the DynamoDB item's `Info`, or the `.tflock` object), if any.
    pub async fn lock_text(&self) -> Option<String> {
        match &self.table {
            Some(_) => self
                .dynamo_item(&self.lock_id())
                .await
                .map(|item| item["Info"].as_s().unwrap().clone()),
            None => object_bytes(&self.s3, &self.bucket, &format!("{STATE_KEY}.tflock"))
                .await
                .unwrap()
                .map(|bytes| String::from_utf8(bytes).unwrap()),
        }
    }

    /// Writes a lease record unconditionally (what another, older run left behind).
    pub async fn put_lease(&self, json: &str) {
        match &self.table {
            Some(table) => {
                self.dynamodb
                    .put_item()
                    .table_name(table)
                    .item(
                        "LockID",
                        AttributeValue::S(format!("{}.zdd-lease", self.lock_id())),
                    )
                    .item("Lease", AttributeValue::S(json.to_string()))
                    .send()
                    .await
                    .unwrap();
            }
            None => {
                self.s3
                    .put_object()
                    .bucket(&self.bucket)
                    .key(format!("{STATE_KEY}.zdd-lease"))
                    .body(json.as_bytes().to_vec().into())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// Waits until terraform holds its lock and the guard's lease records that lock's ID;
    /// returns the lease and the lock as stored.
    pub async fn wait_until_lease_records_lock(&self, limit: Duration) -> (String, String) {
        let deadline = Instant::now() + limit;
        loop {
            let lock = self.lock_text().await;
            let lease = self.lease_text().await;
            if let (Some(lock), Some(lease)) = (&lock, &lease) {
                let info: serde_json::Value = serde_json::from_str(lock).unwrap();
                if lease.contains(info["ID"].as_str().unwrap()) {
                    return (lease.clone(), lock.clone());
                }
            }
            assert!(
                Instant::now() < deadline,
                "the lease never recorded terraform's lock within {limit:?}: lease {lease:?}, lock {lock:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A lease record (JSON) that expired in 2020, held by `user` of CI job `job`, recording
/// `locks` (a JSON array, e.g. `[]`).
pub fn expired_lease(lease_id: &str, user: &str, job: &str, locks: &str) -> String {
    format!(
        r#"{{"lease_id":"{lease_id}","owner":{{"ci_job":"{job}","user":"{user}","host":"ci-1","pid":7,"command":"terraform apply"}},
        "created":"2020-01-01T00:00:00.000Z","heartbeat":"2020-01-01T00:00:00.000Z",
        "expires_at":"2020-01-01T00:02:00.000Z","ttl_ms":120000,"terraform_locks":{locks}}}"#
    )
}

/// The direct children of process `pid` (from `/proc/<pid>/task/*/children`).
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return children;
    };
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            children.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    children
}

/// SIGKILLs a guard and the terraform it runs (terraform's whole process group: it runs in
/// its own), as a CI runner that dies does: the lease and terraform's lock stay behind.
pub fn kill_guard_and_its_terraform(child: &mut Child) {
    let terraform = children_of(child.id());
    assert!(!terraform.is_empty(), "the guard runs no terraform");
    signal(child.id(), Signal::KILL).unwrap();
    let _ = child.wait();
    for pid in terraform {
        signal_group(pid, Signal::KILL).unwrap();
    }
}

impl StderrLines {
    /// The lines read so far (by [`StderrLines::wait_for`]).
    pub fn seen(&self) -> &[String] {
        &self.seen
    }
}
