//! Bad HCL never panics: mutated fixtures (byte flips, truncation, insertion) either analyse or
//! fail with a located parse error.

// Helpers shared by the tests abort on broken fixtures: clippy.toml only exempts #[test] fns.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use zdd_check::{CheckError, Format, Severity, check_sources, render};

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

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_configuration_never_panics(
        file in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let corpus = corpus();
        let mut bytes = corpus[file.index(corpus.len())].clone();
        for mutation in &mutations {
            bytes = apply(bytes, mutation);
        }
        match check_sources(Path::new("."), &[(PathBuf::from("main.tf"), bytes)]) {
            Ok(report) => {
                for format in [Format::Text, Format::Json, Format::Sarif] {
                    prop_assert!(render(&report, format, Severity::Warning).is_ok());
                }
            }
            Err(CheckError::Parse { line, column, .. }) => {
                prop_assert!(line >= 1 && column >= 1);
            }
            Err(other) => prop_assert!(false, "unexpected error kind: {other}"),
        }
    }
}
