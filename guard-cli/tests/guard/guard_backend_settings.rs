//! The backend as Terraform sees it (issue #11, item 8): the S3 backend's `profile` and
//! `assume_role` are honoured when the guard reads the bucket and the lock table, and SSE-C
//! (`sse_customer_key`, or `AWS_SSE_CUSTOMER_KEY`), which the guard cannot read with, is refused
//! with a message naming the setting before anything is taken, so the guard never talks to
//! another state than the one Terraform writes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Output;

use crate::guard_support::{Bed, Locking, STATE_KEY, text};

const QUICK: &str = r#"
resource "terraform_data" "a" {
  input = "one"
}
"#;

/// A directory whose `backend "s3"` block is the bed's, plus `extra` lines.
fn backend_dir(bed: &Bed, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("backend.tf"),
        format!(
            r#"terraform {{
  backend "s3" {{
    bucket         = "{bucket}"
    key            = "{STATE_KEY}"
    region         = "us-east-1"
    encrypt        = true
    dynamodb_table = "{table}"
    use_path_style = true
    {extra}
  }}
}}
"#,
            bucket = bed.bucket,
            table = bed.table.as_deref().unwrap(),
        ),
    )
    .unwrap();
    dir
}

fn guard_in(bed: &Bed, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = bed.guard(args);
    command.current_dir(dir).env_remove("AWS_PROFILE");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_and_assume_role_are_honoured_and_sse_c_is_refused() {
    let bed = Bed::new("backend-settings", Locking::DynamoDb, QUICK).await;
    let endpoints = format!(
        "endpoints = {{\n s3 = \"{e}\"\n dynamodb = \"{e}\"\n }}",
        e = bed.aws.endpoint()
    );

    // A profile that exists (credentials in a config file of its own) works...
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        "[profile zdd-test]\naws_access_key_id = test\naws_secret_access_key = test\n",
    )
    .unwrap();
    let config_path = config.path().display().to_string();
    let dir = backend_dir(&bed, &format!("profile = \"zdd-test\"\n{endpoints}"));
    let output = guard_in(
        &bed,
        dir.path(),
        &["lock", "status"],
        &[("AWS_CONFIG_FILE", &config_path)],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    // ... and one that does not is an error naming it: the guard uses the backend's profile,
    // not whatever credentials its environment has.
    let dir = backend_dir(&bed, &format!("profile = \"zdd-missing\"\n{endpoints}"));
    let output = guard_in(
        &bed,
        dir.path(),
        &["lock", "status"],
        &[("AWS_CONFIG_FILE", &config_path)],
    );
    let all = text(&output);
    assert_eq!(output.status.code(), Some(6), "{all}");
    assert!(all.contains("zdd-missing"), "{all}");

    // assume_role goes through STS at the backend's STS endpoint: the local AWS answers...
    let role = "role_arn = \"arn:aws:iam::123456789012:role/zdd-deployer\"\n    session_name = \"zdd-guard-test\"";
    let dir = backend_dir(
        &bed,
        &format!(
            "assume_role = {{\n    {role}\n  }}\n endpoints = {{\n s3 = \"{e}\"\n dynamodb = \"{e}\"\n sts = \"{e}\"\n }}",
            e = bed.aws.endpoint()
        ),
    );
    let output = guard_in(&bed, dir.path(), &["lock", "status"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    // ... a dead STS endpoint fails the guard, which proves it asks STS at all.
    let dir = backend_dir(
        &bed,
        &format!(
            "assume_role = {{\n    {role}\n  }}\n endpoints = {{\n s3 = \"{e}\"\n dynamodb = \"{e}\"\n sts = \"http://127.0.0.1:9\"\n }}",
            e = bed.aws.endpoint()
        ),
    );
    let output = guard_in(&bed, dir.path(), &["lock", "status"], &[]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(6), "{all}");
    assert!(all.contains("zdd-deployer"), "{all}");

    // SSE-C: refused before a lease is taken or terraform started, naming the setting.
    let key = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=";
    let dir = backend_dir(&bed, &format!("sse_customer_key = \"{key}\"\n{endpoints}"));
    for args in [&["lock", "status"][..], &["run", "--", "plan"]] {
        let output = guard_in(&bed, dir.path(), args, &[]);
        let all = text(&output);
        assert_eq!(output.status.code(), Some(6), "{args:?}: {all}");
        assert!(all.contains("sse_customer_key"), "{args:?}: {all}");
        assert!(!all.contains(key), "{args:?}: the key was printed: {all}");
    }
    let dir = backend_dir(&bed, &endpoints);
    let output = guard_in(
        &bed,
        dir.path(),
        &["run", "--", "plan"],
        &[("AWS_SSE_CUSTOMER_KEY", key)],
    );
    let all = text(&output);
    assert_eq!(output.status.code(), Some(6), "{all}");
    assert!(all.contains("AWS_SSE_CUSTOMER_KEY"), "{all}");
    assert!(!bed.lease_exists().await, "{all}");
    bed.assert_nothing_held().await;
}
