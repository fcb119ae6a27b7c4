//! The exit-code contract end to end (README "zdd-guard", `--help`): terraform's own 1 and 2 pass
//! through unchanged, zdd-guard's own errors are 6 (clap's usage errors included), lock trouble
//! 3, drift 5 (`guard_drift.rs` and `check_cli.rs` beside this file cover 5 for `drift` and
//! `check`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::guard_support::{Bed, Locking, text};

const QUICK: &str = r#"
resource "terraform_data" "a" {
  input = "one"
}
"#;

fn run<'a>(tf: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "--watch-interval",
        "200ms",
        "--lease-ttl",
        "5s",
        "--",
    ];
    args.extend_from_slice(tf);
    args
}

#[tokio::test(flavor = "multi_thread")]
async fn terraform_codes_1_and_2_pass_through_and_guard_errors_are_6() {
    let bed = Bed::new("exit-codes", Locking::Lockfile, QUICK).await;

    // `plan -detailed-exitcode` with changes: terraform's 2, not a guard code.
    let changes = bed.guard_output(&run(&["plan", "-detailed-exitcode", "-no-color"]));
    assert_eq!(changes.status.code(), Some(2), "{}", text(&changes));

    // Terraform's own failure (an undeclared variable): 1.
    let failed = bed.guard_output(&run(&["apply", "-auto-approve", "-var", "nope=1"]));
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    bed.assert_nothing_held().await;

    let applied = bed.guard_output(&run(&["apply", "-auto-approve", "-no-color"]));
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    let clean = bed.guard_output(&run(&["plan", "-detailed-exitcode", "-no-color"]));
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));

    // zdd-guard's own errors: a usage error clap finds, one the guard finds, bad data.
    let usage = bed.guard_output(&["run", "--no-such-flag", "--", "plan"]);
    assert_eq!(usage.status.code(), Some(6), "{}", text(&usage));
    assert!(text(&usage).contains("--no-such-flag"), "{}", text(&usage));
    let no_subcommand = bed.guard_output(&[]);
    assert_eq!(
        no_subcommand.status.code(),
        Some(6),
        "{}",
        text(&no_subcommand)
    );
    let not_stale = bed.guard_output(&["lock", "break"]);
    assert_eq!(not_stale.status.code(), Some(6), "{}", text(&not_stale));
    assert!(
        text(&not_stale).contains("--if-stale"),
        "{}",
        text(&not_stale)
    );

    // Help and version are not errors.
    let help = bed.guard_output(&["--help"]);
    assert_eq!(help.status.code(), Some(0), "{}", text(&help));
    let help_text = String::from_utf8_lossy(&help.stdout);
    for line in [
        "1  terraform failed",
        "2  terraform's own exit code 2",
        "5  drift found",
        "6  error in zdd-guard itself",
    ] {
        assert!(
            help_text.contains(line),
            "--help lacks {line:?}:\n{help_text}"
        );
    }
    let version = bed.guard_output(&["--version"]);
    assert_eq!(version.status.code(), Some(0), "{}", text(&version));

    std::fs::write(bed.path(".terraform/terraform.tfstate"), "{not json").unwrap();
    let malformed = bed.guard_output(&run(&["plan"]));
    assert_eq!(malformed.status.code(), Some(6), "{}", text(&malformed));
    assert!(
        text(&malformed).contains("not valid JSON"),
        "{}",
        text(&malformed)
    );
}
