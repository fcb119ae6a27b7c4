//! insta snapshots of the text and JSON output for one fixture (ZDD030/bad: several findings on
//! distinct lines), and of the text output of ZDD015/bad and ZDD016/bad (the messages of the
//! autoscaling rules). Paths are given relative to the fixture, as a user running `check .` sees
//! them.

// Helpers shared by the tests abort on broken fixtures: clippy.toml only exempts #[test] fns.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use zdd_check::{Format, Settings, Severity, check_sources, render};

fn report() -> zdd_check::Report {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-fixtures/check/ZDD030/bad");
    let bytes = std::fs::read(dir.join("main.tf")).expect("fixture");
    check_sources(Path::new("."), &[(PathBuf::from("main.tf"), bytes)]).expect("parses")
}

#[test]
fn text_output() {
    let text = render(
        &report(),
        Format::Text,
        &Settings::published(Severity::Warning),
    )
    .expect("renders");
    insta::assert_snapshot!(text);
}

#[test]
fn json_output() {
    let json = render(
        &report(),
        Format::Json,
        &Settings::published(Severity::Warning),
    )
    .expect("renders");
    let mut value: serde_json::Value = serde_json::from_str(&json).expect("json");
    value["tool"]["version"] = serde_json::json!("[version]");
    insta::assert_json_snapshot!(value);
}

/// The messages of the autoscaling rules added for issue #13, one snapshot per rule's bad fixture.
fn fixture_text(rule_id: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../test-fixtures/check")
        .join(rule_id)
        .join("bad");
    let bytes = std::fs::read(dir.join("main.tf")).expect("fixture");
    let report =
        check_sources(Path::new("."), &[(PathBuf::from("main.tf"), bytes)]).expect("parses");
    render(
        &report,
        Format::Text,
        &Settings::published(Severity::Warning),
    )
    .expect("renders")
}

#[test]
fn zdd015_text_output() {
    insta::assert_snapshot!(fixture_text("ZDD015"));
}

#[test]
fn zdd016_text_output() {
    insta::assert_snapshot!(fixture_text("ZDD016"));
}
