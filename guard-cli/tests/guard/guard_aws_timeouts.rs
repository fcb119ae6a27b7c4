//! No AWS call of the guard hangs for ever (issue #11, item 3): every client has connect, attempt
//! and operation timeouts. Against an endpoint that accepts connections and never answers, a
//! guard command fails with exit 6 and an error naming the timeout. The test's own limit only
//! keeps a regression from hanging CI; what is asserted is the error, not the time it took.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use zdd_test_support::{output_text, wait_with_timeout};

/// An endpoint that accepts every connection, keeps it open and never answers.
fn silent_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().flatten() {
            open.push(stream);
        }
    });
    url
}

fn guard_against(url: &str, locking: &str, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("backend.tf"),
        format!(
            "terraform {{\n  backend \"s3\" {{\n    bucket = \"b\"\n    key = \"k\"\n    \
             region = \"us-east-1\"\n    {locking}\n    use_path_style = true\n    \
             endpoints = {{\n      s3 = \"{url}\"\n      dynamodb = \"{url}\"\n    }}\n  }}\n}}\n"
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_zdd-guard"))
        .args(args)
        .current_dir(dir.path())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        // Short limits so the test is quick; the defaults are unit-tested in core::limits.
        .env("ZDD_GUARD_AWS_CONNECT_TIMEOUT", "1s")
        .env("ZDD_GUARD_AWS_ATTEMPT_TIMEOUT", "1s")
        .env("ZDD_GUARD_AWS_OPERATION_TIMEOUT", "3s")
        .env("TERRAFORM", "/bin/false")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_with_timeout(child, Duration::from_secs(120)).expect("the guard hung on a silent AWS")
}

#[test]
fn a_silent_s3_endpoint_fails_with_a_timeout_and_exit_6() {
    let url = silent_endpoint();
    for args in [
        &["lock", "status"][..],
        &["state", "diff"],
        &["run", "--", "apply", "-auto-approve"],
    ] {
        let output = guard_against(&url, "use_lockfile = true", args);
        let all = output_text(&output);
        assert_eq!(output.status.code(), Some(6), "{args:?}: {all}");
        assert!(all.contains("timeout"), "{args:?}: {all}");
    }
}

#[test]
fn a_silent_dynamodb_endpoint_fails_with_a_timeout_and_exit_6() {
    let url = silent_endpoint();
    // `run` too: a lock table that cannot be read is not a lock table that is missing (3).
    for args in [
        &["lock", "status"][..],
        &["run", "--", "apply", "-auto-approve"],
    ] {
        let output = guard_against(&url, "dynamodb_table = \"locks\"", args);
        let all = output_text(&output);
        assert_eq!(output.status.code(), Some(6), "{args:?}: {all}");
        assert!(all.contains("timeout"), "{args:?}: {all}");
    }
}
