//! Secrets never leave through the guard (issue #11, item 4): a guarded apply with a sensitive
//! variable and secret `-var` values. Neither value may appear in anything the guard prints
//! (stdout and stderr, text and `--json`), in the lease record (read while the apply is held
//! open), in `lock status` (text and `--json`), in `state diff`, or anywhere in the working
//! directory (the saved plan holds them: it lives in a private directory the guard deletes).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::guard_support::{Bed, Locking, StderrLines, text, text_with};
use zdd_test_support::{HOLD_OPEN_COMMAND, send_signal, wait_with_timeout};

const PASSWORD: &str = "pw-5ecret-AAAA";
const TOKEN: &str = "tok-5ecret-BBBB";
/// Written into a later state version by the test, to see `state diff` mask it too.
const UPLOADED: &str = "pw-5ecret-CCCC";
const SECRETS: [&str; 3] = [PASSWORD, TOKEN, UPLOADED];

/// The secrets only reach `triggers_replace`, which Terraform marks sensitive in the plan and
/// in the state. (`terraform_data.input` would not do: Terraform copies it into `output`
/// without the mark, and prints it there itself.)
fn config() -> String {
    format!(
        r#"
variable "password" {{
  type      = string
  sensitive = true
}}

variable "token" {{
  type      = string
  sensitive = true
}}

resource "terraform_data" "secret" {{
  triggers_replace = {{ user = "app", password = var.password, token = var.token }}

  provisioner "local-exec" {{
    command = "{HOLD_OPEN_COMMAND}"
  }}
}}
"#
    )
}

fn apply_args(json: bool) -> Vec<String> {
    let mut args: Vec<String> = ["run", "--watch-interval", "200ms", "--lease-ttl", "5s"]
        .map(String::from)
        .to_vec();
    if json {
        args.push("--json".into());
    }
    args.extend(
        [
            "--",
            "apply",
            "-auto-approve",
            "-no-color",
            "-var",
            &format!("password={PASSWORD}"),
            &format!("-var=token={TOKEN}"),
        ]
        .map(String::from),
    );
    args
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "{what} shows the secret {secret}:\n{text}"
        );
    }
}

/// Every file under `dir` (recursively, `.terraform` included) except Terraform's own state
/// files: with the S3 backend the state lives in the bucket, and whatever `*.tfstate` Terraform
/// keeps locally (the backend configuration, or an `errored.tfstate`) is Terraform's to
/// protect, not the guard's.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().unwrap().is_dir() {
                todo.push(path);
            } else if !name.ends_with(".tfstate") && !name.ends_with(".tfstate.backup") {
                files.push(path);
            }
        }
    }
    files
}

fn assert_working_dir_clean(bed: &Bed) {
    let files = files_under(bed.tf.path());
    assert!(!files.is_empty());
    for file in files {
        // A saved plan is compressed, so grepping it proves little: none may be there at all.
        assert!(
            !file.to_string_lossy().ends_with(".tfplan"),
            "a saved plan in the working directory: {}",
            file.display()
        );
        let bytes = std::fs::read(&file).unwrap();
        let contents = String::from_utf8_lossy(&bytes);
        assert_no_secret(&file.display().to_string(), &contents);
    }
}

/// The lease record as stored (the bed locks with DynamoDB: the item's `Lease` attribute).
async fn lease_record(bed: &Bed) -> Option<String> {
    let item = bed
        .dynamo_item(&format!("{}.zdd-lease", bed.lock_id()))
        .await?;
    Some(item["Lease"].as_s().unwrap().clone())
}

/// While the apply is held open: the lease record and `lock status` (text and JSON).
async fn assert_lease_and_status_clean(bed: &Bed) {
    let lease = lease_record(bed).await.expect("the guard holds its lease");
    assert_no_secret("the lease record", &lease);
    // The command keeps the subcommand and the flag names.
    assert!(lease.contains("terraform apply"), "{lease}");
    assert!(lease.contains("-var"), "{lease}");
    for json in [false, true] {
        let mut args = vec!["lock", "status"];
        if json {
            args.push("--json");
        }
        let status = bed.guard_output(&args);
        let all = text(&status);
        assert_eq!(status.status.code(), Some(0), "{all}");
        if json {
            assert!(all.contains("terraform apply"), "{all}");
        }
        assert_no_secret("lock status", &all);
    }
}

/// The private directory of the saved plan, from the guard's `plan` line.
fn plan_dir(line_holder: &mut StderrLines) -> PathBuf {
    line_holder.wait_for(&["saved plan in"], Duration::from_secs(60));
    let line = line_holder
        .seen()
        .iter()
        .find(|l| l.contains("saved plan in"))
        .unwrap()
        .clone();
    let path = line
        .split("saved plan in ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches([',', ')', ':']);
    PathBuf::from(path)
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_stay_out_of_output_lease_status_state_diff_and_working_dir() {
    let bed = Bed::new("secrets", Locking::DynamoDb, &config()).await;

    // 1. Text mode: held open while the lease and the status are read.
    let args = apply_args(false);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = bed.guard(&args).spawn().unwrap();
    bed.wait_until_held_open(&mut child);
    assert_lease_and_status_clean(&bed).await;
    assert_working_dir_clean(&bed);
    let mut stderr = StderrLines::take(&mut child);
    let private = plan_dir(&mut stderr);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&private).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o700, "{}", private.display());
    assert!(!private.starts_with(bed.tf.path()), "{}", private.display());
    bed.release();
    let output = wait_with_timeout(child, Duration::from_secs(120)).unwrap();
    let all = text_with(&output, stderr);
    assert_eq!(output.status.code(), Some(0), "{all}");
    assert_no_secret("the guard's text output", &all);
    assert!(!private.exists(), "{} was left behind", private.display());
    bed.assert_nothing_held().await;
    assert_working_dir_clean(&bed);

    // 2. JSON mode, on a fresh create (Terraform itself prints the old values of a replaced
    // resource, so the resource goes first, by plain terraform, whose output is not checked).
    let destroyed = bed
        .tf
        .run(&[
            "destroy",
            "-auto-approve",
            "-var",
            "password=x",
            "-var",
            "token=y",
        ])
        .unwrap();
    assert_eq!(destroyed.code, 0, "{}", destroyed.stderr);
    let args = apply_args(true);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = bed.guard(&args).spawn().unwrap();
    bed.wait_until_held_open(&mut child);
    assert_lease_and_status_clean(&bed).await;
    bed.release();
    let output = wait_with_timeout(child, Duration::from_secs(120)).unwrap();
    let all = text(&output);
    assert_eq!(output.status.code(), Some(0), "{all}");
    assert!(all.contains("\"event\":\"lease_acquired\""), "{all}");
    assert_no_secret("the guard's JSON output", &all);
    assert_working_dir_clean(&bed);

    // 3. `state diff` of a later version whose sensitive value changed.
    let original = bed.state_bytes().await.unwrap();
    let mut state: serde_json::Value = serde_json::from_slice(&original).unwrap();
    state["serial"] = serde_json::json!(state["serial"].as_u64().unwrap() + 1);
    let before = serde_json::to_string(&state).unwrap();
    let after = before.replace(PASSWORD, UPLOADED);
    assert_ne!(before, after, "the state holds the password");
    bed.put_state(after.into_bytes()).await;
    for json in [false, true] {
        let mut args = vec!["state", "diff"];
        if json {
            args.push("--json");
        }
        let diff = bed.guard_output(&args);
        let all = text(&diff);
        assert_eq!(diff.status.code(), Some(0), "{all}");
        assert!(all.contains("terraform_data.secret"), "{all}");
        // Text says `(sensitive value changed)`; JSON has `(sensitive)` on both sides, and the
        // rest of the value (`user`) as it is: the masking is per path, not per attribute.
        assert!(all.contains("(sensitive"), "{all}");
        if json {
            assert!(all.contains("\"user\":\"app\""), "{all}");
        }
        assert_no_secret("state diff", &all);
    }

    // Back to the bytes whose MD5 the lock table holds, for Terraform's next read.
    bed.put_state(original).await;

    // 4. A signal: the private plan directory goes with the guard.
    let destroyed = bed
        .tf
        .run(&[
            "destroy",
            "-auto-approve",
            "-var",
            "password=x",
            "-var",
            "token=y",
        ])
        .unwrap();
    assert_eq!(destroyed.code, 0, "{}", destroyed.stderr);
    let args = apply_args(false);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = bed.guard(&args).spawn().unwrap();
    bed.wait_until_held_open(&mut child);
    let mut stderr = StderrLines::take(&mut child);
    let private = plan_dir(&mut stderr);
    assert!(private.exists());
    send_signal(child.id(), "TERM").unwrap();
    let output = wait_with_timeout(child, Duration::from_secs(60)).unwrap();
    let all = text_with(&output, stderr);
    assert_ne!(output.status.code(), Some(0), "{all}");
    assert!(
        !private.exists(),
        "{} was left behind: {all}",
        private.display()
    );
    assert_no_secret("the guard's output after a signal", &all);
    assert_working_dir_clean(&bed);
}
