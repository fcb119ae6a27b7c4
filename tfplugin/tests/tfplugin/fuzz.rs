//! Fuzzing the value codecs (issue #15): what Terraform sends a provider (`DynamicValue`
//! msgpack, JSON state) as arbitrary bytes, as valid encodings mutated byte by byte, and nested
//! far deeper than any schema. A panic or a stack overflow here kills the plugin, and with it
//! terraform's apply: decoding never panics, returns an error that says where in the value it
//! failed, and what it accepts encodes and decodes back to itself.
//!
//! `make test` replays the same cases on every run (a fixed seed per test); `make fuzz` raises
//! `PROPTEST_CASES` and sets `ZDD_PROPTEST_SEED=random` (a number replays a run).

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use zdd_tfplugin::codec::{json, msgpack};
use zdd_tfplugin::{Type, Value, ValueError};

use super::codec::{any_type, typed_value};

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

/// Byte-level mutations of a valid encoding.
fn mutate(mut bytes: Vec<u8>, edits: &[(prop::sample::Index, u8, u8)]) -> Vec<u8> {
    for (at, byte, kind) in edits {
        let at = at.index(bytes.len() + 1);
        match kind % 3 {
            0 if at < bytes.len() => bytes[at] = *byte,
            1 => bytes.truncate(at),
            _ => bytes.insert(at, *byte),
        }
    }
    bytes
}

fn edits() -> impl Strategy<Value = Vec<(prop::sample::Index, u8, u8)>> {
    prop::collection::vec(
        (any::<prop::sample::Index>(), any::<u8>(), any::<u8>()),
        1..4,
    )
}

/// What every decoding outcome must satisfy: an accepted value encodes again and decodes to
/// the same encoding; a refusal that is about the value's shape names where.
fn check_msgpack(bytes: &[u8], ty: &Type) -> Result<(), TestCaseError> {
    match msgpack::decode(bytes, ty) {
        Ok(value) => {
            let again = msgpack::encode(&value, ty);
            prop_assert!(again.is_ok(), "{value:?} does not encode: {again:?}");
            let again = again.unwrap_or_default();
            let decoded = msgpack::decode(&again, ty);
            prop_assert!(decoded.is_ok(), "{decoded:?}");
            // By bytes, not by value: a NaN is never equal to itself.
            let twice = msgpack::encode(&decoded.unwrap_or_default(), ty);
            prop_assert_eq!(twice.ok(), Some(again));
        }
        Err(error) => check_error(&error)?,
    }
    Ok(())
}

fn check_error(error: &ValueError) -> Result<(), TestCaseError> {
    let message = error.to_string();
    prop_assert!(!message.is_empty());
    prop_assert!(
        !matches!(error, ValueError::InvalidType(_)),
        "a type error without its path: {message}"
    );
    if let ValueError::Mismatch { path, .. } | ValueError::UnexpectedAttribute { path, .. } = error
    {
        prop_assert!(message.starts_with(&format!("{path}: ")), "{message}");
    }
    Ok(())
}

#[test]
fn arbitrary_bytes_decode_or_fail_without_panicking() {
    let case = (prop::collection::vec(any::<u8>(), 0..64), any_type());
    runner("tfplugin::arbitrary_bytes", 1_024)
        .run(&case, |(bytes, ty)| {
            check_msgpack(&bytes, &ty)?;
            check_msgpack(&bytes, &Type::Dynamic)?;
            if let Err(error) = json::decode(&bytes, &ty, json::Attributes::Strict) {
                check_error(&error)?;
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn mutated_encodings_decode_or_fail_without_panicking() {
    let case = (typed_value(true), edits(), any::<bool>());
    runner("tfplugin::mutated_encodings", 512)
        .run(&case, |((ty, value), edits, as_dynamic)| {
            let ty = if as_dynamic { Type::Dynamic } else { ty };
            let bytes = msgpack::encode(&value, &ty).unwrap_or_default();
            check_msgpack(&mutate(bytes, &edits), &ty)?;
            let state = json::encode_state(&value, &ty).to_string().into_bytes();
            match json::decode(&mutate(state, &edits), &ty, json::Attributes::IgnoreExtra) {
                Ok(decoded) => {
                    let text = json::encode_state(&decoded, &ty).to_string();
                    let again = json::decode(text.as_bytes(), &ty, json::Attributes::IgnoreExtra);
                    prop_assert!(again.is_ok(), "{again:?}");
                }
                Err(error) => check_error(&error)?,
            }
            Ok(())
        })
        .unwrap();
}

/// msgpack arrays (or maps, or dynamic pairs) nested `depth` deep around a nil.
fn nested_msgpack(depth: usize, opener: &[u8]) -> Vec<u8> {
    let mut bytes = opener.repeat(depth);
    bytes.push(0xc0);
    bytes
}

/// Decoding on a thread with the stack a tokio worker has (2 MiB): deep input must be refused,
/// not overflow the stack, which aborts the whole plugin.
fn on_worker_stack<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(job)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn deeply_nested_input_is_refused_without_overflowing_the_stack() {
    let list_of_lists = (0..2_000).fold(Type::String, |ty, _| Type::list(ty));
    for depth in [10, 100, 1_000, 10_000, 100_000] {
        for (opener, ty) in [
            (&[0x91u8][..], list_of_lists.clone()),
            (&[0x91u8][..], Type::Dynamic),
            (&[0x81, 0xa1, b'a'][..], Type::map(Type::Dynamic)),
        ] {
            let bytes = nested_msgpack(depth, opener);
            let ty_for_thread = ty.clone();
            let outcome = on_worker_stack(move || {
                msgpack::decode(&bytes, &ty_for_thread)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
            if depth > 1_000 {
                assert!(outcome.is_err(), "depth {depth} accepted");
            }
        }
        // `dynamic` values nested in `dynamic` values: `["\"dynamic\"", ["\"dynamic\"", ...nil]]`.
        let mut pairs = Vec::new();
        for _ in 0..depth {
            pairs.extend_from_slice(&[0x92, 0xa9]);
            pairs.extend_from_slice(b"\"dynamic\"");
        }
        pairs.push(0xc0);
        let outcome = on_worker_stack(move || msgpack::decode(&pairs, &Type::Dynamic).map(|_| ()));
        assert_eq!(outcome.is_err(), depth > 100, "dynamic pairs {depth} deep");
        let json = format!("{}null{}", "[".repeat(depth), "]".repeat(depth));
        let outcome = on_worker_stack(move || {
            json::decode(json.as_bytes(), &Type::Dynamic, json::Attributes::Strict)
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        if depth > 1_000 {
            assert!(outcome.is_err(), "JSON depth {depth} accepted");
        }
    }
}

/// Found by the test above: 600 nested msgpack arrays overflowed a 2 MiB stack inside rmpv's
/// recursive reader (its own depth limit is 1024) and aborted the process; in the plugin, that
/// is terraform's apply losing its provider.
#[test]
fn six_hundred_nested_msgpack_arrays_are_an_error() {
    let bytes = nested_msgpack(600, &[0x91]);
    let outcome = on_worker_stack(move || msgpack::decode(&bytes, &Type::Dynamic).map(|_| ()));
    let error = outcome.unwrap_err().to_string();
    assert!(
        error.contains("depth") && error.contains("at byte"),
        "{error}"
    );
}

/// Found with the located-error property above: a `dynamic` attribute whose type notation was not a type failed
/// with "invalid JSON: expected value at line 1 column 1" or "invalid type notation", naming no
/// attribute; the error names it now.
#[test]
fn a_dynamic_value_with_a_bad_type_names_its_attribute() {
    let ty = Type::object([("input", Type::Dynamic)]);
    for type_json in [&b"\"strin\""[..], &b"{"[..]] {
        // {"input": [<type JSON as binary>, nil]}
        let mut bytes = vec![0x81, 0xa5];
        bytes.extend_from_slice(b"input");
        bytes.extend_from_slice(&[0x92, 0xc4, type_json.len() as u8]);
        bytes.extend_from_slice(type_json);
        bytes.push(0xc0);
        let error = msgpack::decode(&bytes, &ty).unwrap_err().to_string();
        assert!(error.starts_with("input: "), "{error}");
    }
}
