//! Fuzzing what the guard reads from Terraform and AWS (issue #15): state versions, Terraform's
//! lock `Info`, `terraform show -json` plans, and the sensitive marks in them. Seeds are real
//! Terraform output (`fuzz_samples/`, see its README), mutated byte by byte and structurally,
//! plus arbitrary bytes and deep nesting. The pure core never panics, says where input is
//! malformed (a line and column, an address, or the lock's location), never loses a change a
//! foreign write made, and never lets a secret through its masks.
//!
//! `make test` replays the same cases on every run (a fixed seed per test); `make fuzz` raises
//! `PROPTEST_CASES` and sets `ZDD_PROPTEST_SEED=random` (a number replays a run).

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{Value, json};
use zdd_guard::core::lockinfo::LockInfo;
use zdd_guard::core::plan;
use zdd_guard::core::render::render_state_diff;
use zdd_guard::core::sensitive::{mask_by_marks, mask_state_paths};
use zdd_guard::core::snapshot::{Snapshot, assess, diff};

const STATE_BEFORE: &str = include_str!("fuzz_samples/state_before.json");
const STATE_AFTER: &str = include_str!("fuzz_samples/state_after.json");
const PLAN: &str = include_str!("fuzz_samples/plan.json");
const REFRESH_PLAN: &str = include_str!("fuzz_samples/refresh_plan.json");
/// As Terraform writes it into the DynamoDB item's `Info` and the S3 `.tflock` object.
const LOCK_INFO: &str = r#"{"ID":"0b6f1c2e-5b1a-4c8e-9d7f-3a2b1c0d9e8f","Operation":"OperationTypeApply","Info":"","Who":"runner@ci-7","Version":"1.15.5","Created":"2026-11-26T12:00:00.123456789Z","Path":"acme-tfstate/web/terraform.tfstate"}"#;

/// A runner of `cases` cases (`PROPTEST_CASES` overrides) seeded from `ZDD_PROPTEST_SEED`, or
/// from `name` when unset, so `make test` only fails because the code changed.
fn runner(name: &str, cases: u32) -> TestRunner {
    runner_sharing(name, cases, 1)
}

/// [`runner`] for a test whose cases are costly: it runs one `share`-th of `PROPTEST_CASES`.
fn runner_sharing(name: &str, cases: u32, share: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .map_or(cases, |raised| (raised / share).max(cases));
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let seed = std::env::var("ZDD_PROPTEST_SEED").unwrap_or_else(|_| name.to_string());
    if seed == "random" {
        return TestRunner::new(config);
    }
    let bytes: Vec<u8> = seed
        .bytes()
        .chain(std::iter::repeat(0x5a))
        .take(32)
        .collect();
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// A seed mutated byte by byte (JSON's structural characters favoured), or arbitrary bytes.
fn mutated(seeds: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let structural = prop::sample::select(b"{}[]\",:0-.etnfaul\\ ".to_vec());
    let edit = (
        any::<prop::sample::Index>(),
        prop_oneof![structural, any::<u8>()],
        0u8..3,
    );
    prop_oneof![
        4 => (prop::sample::select(seeds), prop::collection::vec(edit, 1..5)).prop_map(
            |(seed, edits)| {
                let mut bytes = seed.as_bytes().to_vec();
                for (at, byte, kind) in edits {
                    let at = at.index(bytes.len() + 1);
                    match kind {
                        0 if at < bytes.len() => bytes[at] = byte,
                        1 => bytes.truncate(at),
                        _ => bytes.insert(at, byte),
                    }
                }
                bytes
            }
        ),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

/// A JSON parse error names a line and column; the guard's own refusals name what is wrong.
fn check_located(message: &str, own: &[&str]) -> Result<(), TestCaseError> {
    let json_location = message.contains(" line ") && message.contains(" column ");
    let utf8_location = message.contains("from index") || message.contains("at index");
    prop_assert!(
        json_location || utf8_location || own.iter().any(|words| message.contains(words)),
        "not located: {message}"
    );
    Ok(())
}

#[test]
fn state_versions_parse_or_fail_located_and_diff_without_panicking() {
    let before = Snapshot::parse("s3://b/k#v1", STATE_BEFORE.as_bytes().to_vec()).unwrap();
    let change_set: BTreeSet<String> = before.addresses().map(str::to_string).collect();
    runner("guard::state", 512)
        .run(&mutated(&[STATE_BEFORE, STATE_AFTER]), |bytes| {
            match Snapshot::parse("s3://b/k#v2", bytes) {
                Ok(after) => {
                    prop_assert!(diff(&after, &after).is_empty());
                    let changes = diff(&before, &after);
                    let _ = render_state_diff(&changes, true);
                    let _ = assess(&before, &after, &change_set);
                    for address in after.addresses() {
                        prop_assert!(after.attributes(address).is_some());
                    }
                }
                Err(error) => {
                    let message = error.to_string();
                    prop_assert!(message.contains("s3://b/k#v2"), "{message}");
                    check_located(&message, &["format version", "attributes of"])?;
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn lock_info_parses_or_fails_located() {
    runner("guard::lock_info", 1_024)
        .run(&mutated(&[LOCK_INFO]), |bytes| {
            let text = String::from_utf8_lossy(&bytes);
            match LockInfo::parse("dynamodb:locks/b/k", &text) {
                Ok(info) => {
                    prop_assert!(!info.id.is_empty());
                    prop_assert!(info.describe().contains(&info.id));
                    let _ = info.describe_age(std::time::SystemTime::UNIX_EPOCH);
                }
                Err(error) => {
                    let message = error.to_string();
                    prop_assert!(message.contains("dynamodb:locks/b/k"), "{message}");
                    check_located(&message, &["`ID` is empty"])?;
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn plans_summarise_or_fail_located() {
    runner("guard::plan", 512)
        .run(&mutated(&[PLAN, REFRESH_PLAN]), |bytes| {
            match (plan::summarize(&bytes), plan::drift(&bytes)) {
                (Ok(summary), Ok(drift)) => {
                    let drifted: BTreeSet<&str> =
                        drift.iter().map(|d| d.address.as_str()).collect();
                    prop_assert!(drifted.iter().all(|a| summary.drifted.contains(*a)));
                }
                (Err(error), Err(_)) => check_located(&error.to_string(), &[])?,
                (summary, drift) => {
                    return Err(TestCaseError::fail(format!(
                        "summary and drift disagree: {summary:?} / {:?}",
                        drift.map(|d| d.len())
                    )));
                }
            }
            Ok(())
        })
        .unwrap();
}

/// A JSON value with `secret` somewhere in it, and the path to it.
fn value_with_secret() -> impl Strategy<Value = (Value, Vec<PathStep>)> {
    let leaf = prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        "[a-z]{0,6}".prop_map(Value::from),
    ];
    let filler = leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    let step = prop_oneof![
        "[a-z]{1,4}".prop_map(PathStep::Key),
        (0usize..3).prop_map(PathStep::Index),
    ];
    (filler, prop::collection::vec(step, 1..4)).prop_map(|(filler, path)| {
        let mut value = Value::String(SECRET.to_string());
        for step in path.iter().rev() {
            value = match step {
                PathStep::Key(key) => {
                    let mut map = match filler.clone() {
                        Value::Object(map) => map,
                        _ => serde_json::Map::new(),
                    };
                    map.insert(key.clone(), value);
                    Value::Object(map)
                }
                PathStep::Index(index) => {
                    let mut items = vec![filler.clone(); *index];
                    items.push(value);
                    Value::Array(items)
                }
            };
        }
        (value, path)
    })
}

const SECRET: &str = "s3cr3t-Tok3n";

#[derive(Debug, Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

#[test]
fn marked_secrets_never_survive_masking() {
    runner("guard::masking", 512)
        .run(&value_with_secret(), |(value, path)| {
            // Plan JSON marks: the value's shape with `true` where it is sensitive.
            let mut marks = json!(true);
            for step in path.iter().rev() {
                marks = match step {
                    PathStep::Key(key) => json!({ key.clone(): marks }),
                    PathStep::Index(index) => {
                        let mut items = vec![json!(false); *index];
                        items.push(marks);
                        Value::Array(items)
                    }
                };
            }
            let masked = mask_by_marks(&value, Some(&marks)).to_string();
            prop_assert!(!masked.contains(SECRET), "{masked}");
            // State `sensitive_attributes`: a list of paths of get_attr / index steps.
            let Value::Object(mut attributes) = value.clone() else {
                return Ok(());
            };
            let steps: Vec<Value> = path
                .iter()
                .enumerate()
                .map(|(i, step)| match step {
                    PathStep::Key(key) if i == 0 => json!({"type": "get_attr", "value": key}),
                    PathStep::Key(key) => {
                        json!({"type": "index", "value": {"value": key, "type": "string"}})
                    }
                    PathStep::Index(n) => {
                        json!({"type": "index", "value": {"value": n, "type": "number"}})
                    }
                })
                .collect();
            mask_state_paths(&mut attributes, Some(&json!([steps])));
            let masked = Value::Object(attributes).to_string();
            prop_assert!(!masked.contains(SECRET), "{masked}");
            Ok(())
        })
        .unwrap();
}

/// A state whose one resource's attributes nest `depth` arrays deep.
fn state_with_nesting(serial: u64, depth: usize, leaf: &str) -> Vec<u8> {
    let nested = format!("{}\"{leaf}\"{}", "[".repeat(depth), "]".repeat(depth));
    format!(
        r#"{{"version":4,"serial":{serial},"lineage":"L","resources":[{{"mode":"managed",
        "type":"terraform_data","name":"deep","instances":[{{"attributes":{{"input":{nested}}}}}]}}]}}"#
    )
    .into_bytes()
}

/// Found by this test: serde_json reads an instance's raw `attributes` at any depth but parses
/// values only 128 deep, so a resource whose attributes nested 127 arrays or more read as empty
/// on both sides and a foreign write that changed it was not seen.
#[test]
fn deep_nesting_is_refused_or_diffed_never_lost() {
    for depth in [10, 100, 126, 127, 200, 1_000, 100_000] {
        let before = Snapshot::parse("v1", state_with_nesting(1, depth, "a"));
        let after = Snapshot::parse("v2", state_with_nesting(2, depth, "b"));
        match (before, after) {
            (Ok(before), Ok(after)) => {
                let changes = diff(&before, &after);
                assert_eq!(changes.changed.len(), 1, "depth {depth}: a change was lost");
                assert!(!render_state_diff(&changes, false).is_empty());
            }
            (Err(error), _) | (_, Err(error)) => {
                let message = error.to_string();
                assert!(
                    message.contains("line") || message.contains("deep"),
                    "{message}"
                );
            }
        }
    }
}

const CHECK_SEEDS: &[&str] = &[
    include_str!("../../../test-fixtures/check/cases/parse_error/main.tf"),
    include_str!("../../../test-fixtures/check/ZDD010/bad/main.tf"),
];

/// `zdd-guard check` as CI runs it, on a real fixture mutated byte by byte: it exits 0, 5 or 6
/// (a panic would be 101), and a 6 says on stderr which file and line:column, in every format.
#[test]
fn check_on_mutated_configuration_exits_0_5_or_located_6() {
    let formats = prop::sample::select(vec!["text", "json", "sarif"]);
    let case = (mutated(CHECK_SEEDS), formats);
    // A process per case: in `make fuzz`, a 50th of the others' cases.
    runner_sharing("guard::check_binary", 24, 50)
        .run(&case, |(bytes, format)| {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("main.tf"), &bytes).unwrap();
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_zdd-guard"))
                .args(["check", "--format", format])
                .arg(dir.path())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            match output.status.code() {
                Some(0 | 5) => {}
                Some(6) => {
                    let file = dir.path().join("main.tf");
                    let prefix = format!("{}:", file.display());
                    prop_assert!(stderr.contains(&prefix), "{stderr}");
                    let after = stderr.split(&prefix).nth(1).unwrap_or_default();
                    let mut numbers = after.split(':').take(2).map(str::parse::<usize>);
                    prop_assert!(
                        matches!((numbers.next(), numbers.next()), (Some(Ok(_)), Some(Ok(_)))),
                        "no line:column: {stderr}"
                    );
                }
                other => return Err(TestCaseError::fail(format!("exit {other:?}: {stderr}"))),
            }
            Ok(())
        })
        .unwrap();
}
