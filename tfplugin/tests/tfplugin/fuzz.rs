//! Fuzzing the value codecs (issue #15): what Terraform sends a provider (`DynamicValue`
//! msgpack, JSON state) as arbitrary bytes, as valid encodings mutated byte by byte, and nested
//! far deeper than any schema. A panic or a stack overflow here kills the plugin, and with it
//! terraform's apply: decoding never panics, returns an error that says where in the value it
//! failed, and what it accepts encodes and decodes back to itself.
//!
//! `make test` replays the same cases on every run (a fixed seed per test); `make fuzz` raises
//! `PROPTEST_CASES` and sets `ZDD_PROPTEST_SEED=random` (a number replays a run).

// Helpers shared by the tests abort on a broken harness: clippy.toml only exempts #[test] fns.
#![allow(clippy::unwrap_used)]

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

/// `value` (of type `ty`) with its `target`-th known primitive leaf replaced by one of another
/// kind, the type that encodes it, and the leaf's path as the codec writes paths (`a.0.b`).
fn corrupt(
    ty: &Type,
    value: &Value,
    target: &mut usize,
    path: &str,
) -> Option<(Type, Value, String)> {
    let child = |step: &str| {
        if path.is_empty() {
            step.to_string()
        } else {
            format!("{path}.{step}")
        }
    };
    match (ty, value) {
        (
            Type::Bool | Type::Number | Type::String,
            Value::Bool(_) | Value::Number(_) | Value::String(_),
        ) => {
            if *target > 0 {
                *target -= 1;
                return None;
            }
            let (other_ty, other) = match ty {
                Type::String => (Type::Bool, Value::Bool(true)),
                _ => (Type::String, Value::String("not a bool or number".into())),
            };
            Some((other_ty, other, path.to_string()))
        }
        (Type::List(element) | Type::Set(element), Value::List(items) | Value::Set(items)) => {
            for (i, item) in items.iter().enumerate() {
                if let Some((item_ty, item, at)) =
                    corrupt(element, item, target, &child(&i.to_string()))
                {
                    let mut types: Vec<Type> = items.iter().map(|_| (**element).clone()).collect();
                    types[i] = item_ty;
                    let mut values = items.clone();
                    values[i] = item;
                    return Some((Type::Tuple(types), Value::List(values), at));
                }
            }
            None
        }
        (Type::Tuple(elements), Value::List(items)) => {
            for (i, (ety, item)) in elements.iter().zip(items).enumerate() {
                if let Some((item_ty, item, at)) =
                    corrupt(ety, item, target, &child(&i.to_string()))
                {
                    let mut types = elements.clone();
                    types[i] = item_ty;
                    let mut values = items.clone();
                    values[i] = item;
                    return Some((Type::Tuple(types), Value::List(values), at));
                }
            }
            None
        }
        (Type::Map(element), Value::Map(items)) | (Type::Map(element), Value::Object(items)) => {
            for (key, item) in items {
                if let Some((item_ty, item, at)) = corrupt(element, item, target, &child(key)) {
                    let types = items
                        .keys()
                        .map(|k| {
                            (
                                k.clone(),
                                if k == key {
                                    item_ty.clone()
                                } else {
                                    (**element).clone()
                                },
                            )
                        })
                        .collect();
                    let mut values = items.clone();
                    values.insert(key.clone(), item);
                    return Some((Type::Object(types), Value::Object(values), at));
                }
            }
            None
        }
        (Type::Object(attributes), Value::Object(items)) => {
            for (name, aty) in attributes {
                let Some(item) = items.get(name) else {
                    continue;
                };
                if let Some((item_ty, item, at)) = corrupt(aty, item, target, &child(name)) {
                    let mut types = attributes.clone();
                    types.insert(name.clone(), item_ty);
                    let mut values = items.clone();
                    values.insert(name.clone(), item);
                    return Some((Type::Object(types), Value::Object(values), at));
                }
            }
            None
        }
        _ => None,
    }
}

#[test]
fn a_value_of_the_wrong_kind_is_reported_at_its_attribute_path() {
    let case = (typed_value(false), any::<prop::sample::Index>());
    runner("tfplugin::attribute_paths", 512)
        .run(&case, |((ty, value), choice)| {
            let mut target = choice.index(64);
            let Some((wrong_ty, wrong, path)) = corrupt(&ty, &value, &mut target, "") else {
                return Ok(());
            };
            let bytes = msgpack::encode(&wrong, &wrong_ty);
            prop_assert!(bytes.is_ok(), "{bytes:?}");
            match msgpack::decode(&bytes.unwrap_or_default(), &ty) {
                Err(ValueError::Mismatch { path: found, .. }) => prop_assert_eq!(&found, &path),
                other => return Err(TestCaseError::fail(format!("at {path}: {other:?}"))),
            }
            // JSON state reads a bool where a string is expected, as Terraform does: only a
            // refusal is checked, and it must name the same path.
            let json = json::to_json(&wrong);
            if let Err(error) = json::from_json(&json, &ty, json::Attributes::Strict) {
                match error {
                    ValueError::Mismatch { path: found, .. } => prop_assert_eq!(&found, &path),
                    other => return Err(TestCaseError::fail(format!("JSON at {path}: {other}"))),
                }
            }
            Ok(())
        })
        .unwrap();
}
