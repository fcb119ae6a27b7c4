//! Fuzzing `zdd-guard check` (issue #15): the real fixtures of test-fixtures/check mutated byte
//! by byte, arbitrary bytes, HCL token soup, and whole directories with local module calls
//! that go anywhere. Nothing panics; a configuration either analyses (and renders in every
//! format) or fails with an error that names the file and a line:column inside it (exit code
//! 6); a configuration's locals cannot make the analysis run away.
//!
//! `make test` replays the same cases on every run (a fixed seed per test); `make fuzz` raises
//! `PROPTEST_CASES` and sets `ZDD_PROPTEST_SEED=random` (a number replays a run).

// Helpers shared by the tests abort on broken fixtures: clippy.toml only exempts #[test] fns.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use zdd_check::{CheckError, Format, Settings, Severity, check_dir, check_sources, render};

/// A runner of `cases` cases (`PROPTEST_CASES` overrides) seeded from `ZDD_PROPTEST_SEED`, or
/// from `name` when unset, so `make test` only fails because the code changed.
fn runner(name: &str, cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
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

fn corpus() -> &'static Vec<Vec<u8>> {
    static CORPUS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-fixtures/check");
        let mut files = Vec::new();
        let mut dirs = vec![root];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("readable") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "tf") {
                    files.push(std::fs::read(&path).expect("fixture"));
                }
            }
        }
        files.sort();
        assert!(
            files.len() >= 24,
            "fixture corpus too small: {}",
            files.len()
        );
        files
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, byte: u8 },
    Truncate { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Insertions favour HCL's structural characters, which reach deeper parser states.
    let structural = prop::sample::select(b"{}[]()\"=,.$#/*\n\\%~<>?:!".to_vec());
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), prop::collection::vec(structural, 1..6))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..6))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
    ]
}

fn apply(mut bytes: Vec<u8>, mutation: &Mutation) -> Vec<u8> {
    let len = bytes.len().max(1);
    match mutation {
        Mutation::Flip { at, byte } => {
            if !bytes.is_empty() {
                let at = at % bytes.len();
                bytes[at] = *byte;
            }
        }
        Mutation::Truncate { at } => bytes.truncate(at % len),
        Mutation::Insert {
            at,
            bytes: inserted,
        } => {
            let at = at % (bytes.len() + 1);
            bytes.splice(at..at, inserted.iter().copied());
        }
    }
    bytes
}

/// A fixture with up to three mutations.
fn mutated_fixture() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<prop::sample::Index>(),
        prop::collection::vec(mutation(), 1..4),
    )
        .prop_map(|(file, mutations)| {
            let corpus = corpus();
            let mut bytes = corpus[file.index(corpus.len())].clone();
            for mutation in &mutations {
                bytes = apply(bytes, mutation);
            }
            bytes
        })
}

/// HCL's tokens and zdd's resource types in random order: reaches deeper into the parser and
/// the rules than random bytes do.
fn token_soup() -> impl Strategy<Value = Vec<u8>> {
    const TOKENS: &[&str] = &[
        "resource",
        "\"aws_autoscaling_group\"",
        "\"zdd_rollout\"",
        "\"aws_lb_target_group\"",
        "\"a\"",
        "module",
        "locals",
        "variable",
        "terraform",
        "backend",
        "\"s3\"",
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        "=",
        ",",
        ".",
        ":",
        "?",
        "\n",
        " ",
        "local.a",
        "var.v",
        "each.key",
        "count.index",
        "\"${",
        "}\"",
        "%{ if x }",
        "%{ endif }",
        "\"",
        "<<EOT\n",
        "\nEOT\n",
        "<<-EOT\n",
        "# zdd:ignore ZDD010 reason\n",
        "# zdd:ignore\n",
        "//",
        "/*",
        "*/",
        "1",
        "-1",
        "1.5e3",
        "0x",
        "true",
        "null",
        "for",
        "in",
        "if",
        "...",
        "*",
        "[*]",
        "min_size",
        "max_size",
        "desired_capacity",
        "launch_template_version",
        "\"$Latest\"",
        "source",
        "\"./m\"",
        "lifecycle",
        "create_before_destroy",
        "dynamic",
        "content",
        "é",
        "\t",
        "\r",
    ];
    prop::collection::vec(prop::sample::select(TOKENS), 0..80)
        .prop_map(|tokens| tokens.concat().into_bytes())
}

/// What every outcome of one file's analysis must satisfy.
fn check_file(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let text = String::from_utf8_lossy(&bytes).into_owned();
    match check_sources(Path::new("."), &[(PathBuf::from("main.tf"), bytes)]) {
        Ok(report) => {
            for format in [Format::Text, Format::Json, Format::Sarif, Format::Github] {
                prop_assert!(
                    render(&report, format, &Settings::published(Severity::Warning)).is_ok()
                );
            }
        }
        Err(error) => {
            prop_assert!(matches!(error, CheckError::Parse { .. }), "{error}");
            check_located(&error, Path::new("main.tf"), &text)?;
        }
    }
    Ok(())
}

/// The error names `file` and a line:column inside `text` (one past the end of a line, or of
/// the file, is where a missing token goes), and its message starts with that location.
fn check_located(error: &CheckError, file: &Path, text: &str) -> Result<(), TestCaseError> {
    let Some((path, line, column)) = error.location() else {
        return Err(TestCaseError::fail(format!("no location: {error}")));
    };
    prop_assert_eq!(path.as_path(), file, "{}", error);
    let lines: Vec<&str> = text.split('\n').collect();
    prop_assert!(
        line >= 1 && line <= lines.len(),
        "line {line} of {}: {error}",
        lines.len()
    );
    let width = lines[line - 1].chars().count();
    prop_assert!(
        column >= 1 && column <= width + 1,
        "column {column} of {width}: {error}"
    );
    let prefix = format!("{}:{line}:{column}: ", file.display());
    prop_assert!(error.to_string().starts_with(&prefix), "{error}");
    Ok(())
}

#[test]
fn mutated_fixtures_analyse_or_fail_located() {
    runner("check::mutated_fixtures", 512)
        .run(&mutated_fixture(), check_file)
        .unwrap();
}

#[test]
fn arbitrary_bytes_and_token_soup_analyse_or_fail_located() {
    let input = prop_oneof![prop::collection::vec(any::<u8>(), 0..200), token_soup()];
    runner("check::arbitrary", 512)
        .run(&input, check_file)
        .unwrap();
}

/// Where a module call of the fuzzed root module points.
#[derive(Debug, Clone)]
enum ModuleSource {
    /// `./m`, which holds a (mutated) fixture.
    Child,
    /// `./`, the root itself (a cycle).
    Root,
    /// `./m/..`, the root by another spelling.
    RootAgain,
    /// `./main.tf`: a file, not a directory.
    File,
    /// `./missing`.
    Missing,
    /// `./empty`: a directory without .tf files.
    Empty,
}

#[test]
fn directories_with_module_calls_analyse_or_fail_located() {
    let source = prop_oneof![
        Just(ModuleSource::Child),
        Just(ModuleSource::Root),
        Just(ModuleSource::RootAgain),
        Just(ModuleSource::File),
        Just(ModuleSource::Missing),
        Just(ModuleSource::Empty),
    ];
    let case = (mutated_fixture(), mutated_fixture(), source, any::<bool>());
    runner("check::directories", 64)
        .run(&case, |(root, child, source, child_is_valid)| {
            let dir = tempfile::tempdir().unwrap();
            let path = match source {
                ModuleSource::Child => "./m",
                ModuleSource::Root => "./",
                ModuleSource::RootAgain => "./m/..",
                ModuleSource::File => "./main.tf",
                ModuleSource::Missing => "./missing",
                ModuleSource::Empty => "./empty",
            };
            let call = format!("module \"fuzzed\" {{\n  source = \"{path}\"\n}}\n");
            std::fs::write(dir.path().join("call.tf"), &call).unwrap();
            std::fs::write(dir.path().join("main.tf"), &root).unwrap();
            std::fs::create_dir(dir.path().join("m")).unwrap();
            std::fs::create_dir(dir.path().join("empty")).unwrap();
            let child = if child_is_valid {
                corpus()[0].clone()
            } else {
                child
            };
            std::fs::write(dir.path().join("m/main.tf"), &child).unwrap();
            match check_dir(dir.path()) {
                Ok(report) => {
                    prop_assert!(
                        render(
                            &report,
                            Format::Sarif,
                            &Settings::published(Severity::Warning)
                        )
                        .is_ok()
                    );
                }
                Err(error) => {
                    let (file, text) = match error.location() {
                        Some((file, ..)) if file.ends_with("m/main.tf") => (file.clone(), child),
                        Some((file, ..)) if file.ends_with("call.tf") => {
                            (file.clone(), call.into_bytes())
                        }
                        _ => (dir.path().join("main.tf"), root),
                    };
                    check_located(&error, &file, &String::from_utf8_lossy(&text))?;
                }
            }
            Ok(())
        })
        .unwrap();
}

/// `locals { l0 = "ab", l1 = "${local.l0}${local.l0}${local.l0}", ... }`: each level names the
/// one below `fan` times.
fn doubling_locals(fan: usize, levels: usize, as_list: bool) -> String {
    let mut text = String::from("locals {\n  l0 = \"ab\"\n");
    for level in 1..=levels {
        let below = format!("local.l{}", level - 1);
        let value = if as_list {
            format!("[{}]", vec![below; fan].join(", "))
        } else {
            format!("\"{}\"", format!("${{{below}}}").repeat(fan))
        };
        text.push_str(&format!("  l{level} = {value}\n"));
    }
    text.push_str("}\n");
    text
}

/// Found by the fuzzing above: locals that name each other several times per level were
/// expanded in full, exponentially (3 names per level over 15 levels: 14 million evaluations
/// and a 28 MB string; 4 per level exhausted memory), so a 20-line file hung `check`.
#[test]
fn locals_that_multiply_at_every_level_are_not_expanded() {
    for as_list in [false, true] {
        let locals = doubling_locals(3, 15, as_list);
        let body = hcl::edit::parser::parse_body(&locals).unwrap();
        let mut scope = std::collections::HashMap::new();
        for block in body.get_blocks("locals") {
            for attribute in block.body.attributes() {
                scope.insert(attribute.key.as_str(), &attribute.value);
            }
        }
        let top = hcl::edit::parser::parse_expr("local.l15").unwrap();
        let value = zdd_check::value::Scope::new(scope).eval(&top);
        // Not assert_eq: the expanded value is megabytes long.
        assert!(
            matches!(value, zdd_check::value::Value::Unknown),
            "as list {as_list}: expanded to {} bytes of Debug text",
            format!("{value:?}").len()
        );
    }
}

/// The same through the rules: a rollout whose version is such a local analyses at once (the
/// version is unknown, so no finding), and a short chain still resolves.
#[test]
fn a_rollout_reading_multiplying_locals_is_analysed() {
    let rollout = "resource \"zdd_rollout\" \"r\" {\n  launch_template_version = local.l15\n}\n";
    let text = format!("{}{rollout}", doubling_locals(4, 16, false));
    let report = check_sources(
        Path::new("."),
        &[(PathBuf::from("main.tf"), text.into_bytes())],
    )
    .unwrap();
    assert!(!report.findings.iter().any(|f| f.rule_id == "ZDD014"));
    let floating = "locals {\n  l0 = \"$Latest\"\n  l1 = local.l0\n}\nresource \"zdd_rollout\" \"r\" {\n  launch_template_version = local.l1\n}\n";
    let report = check_sources(
        Path::new("."),
        &[(PathBuf::from("main.tf"), floating.as_bytes().to_vec())],
    )
    .unwrap();
    assert!(report.findings.iter().any(|f| f.rule_id == "ZDD014"));
}

/// Found by the directory fuzzing: a module whose source is a file, not a directory, failed
/// with "cannot read ./main.tf: Not a directory" and no location; it names the call now.
#[test]
fn a_module_source_that_is_a_file_is_located_at_the_call() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.tf"), "locals {}\n").unwrap();
    let call = "\nmodule \"m\" {\n  source = \"./main.tf\"\n}\n";
    std::fs::write(dir.path().join("call.tf"), call).unwrap();
    let error = check_dir(dir.path()).unwrap_err();
    let (file, line, column) = error.location().expect("located");
    assert!(file.ends_with("call.tf"), "{error}");
    assert_eq!((line, column), (3, 12), "{error}");
    assert!(error.to_string().contains("./main.tf"), "{error}");
}
