//! Round trips of the value codecs: msgpack (the wire), the serde bridge and
//! Terraform's state JSON, with nulls and unknowns at any depth.

use std::collections::BTreeMap;

use proptest::prelude::*;
use zdd_tfplugin::codec::{json, msgpack};
use zdd_tfplugin::{Number, Type, Value};

fn primitive_type() -> impl Strategy<Value = Type> {
    prop_oneof![
        Just(Type::Bool),
        Just(Type::Number),
        Just(Type::String),
        Just(Type::Dynamic)
    ]
}

pub(crate) fn any_type() -> impl Strategy<Value = Type> {
    primitive_type().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Type::list),
            inner.clone().prop_map(Type::set),
            inner.clone().prop_map(Type::map),
            prop::collection::btree_map("[a-z_]{1,6}", inner.clone(), 0..4).prop_map(Type::Object),
            prop::collection::vec(inner, 0..3).prop_map(Type::Tuple),
        ]
    })
}

fn number(big: bool) -> BoxedStrategy<Number> {
    let small = prop_oneof![
        any::<i64>().prop_map(Number::Int),
        (-1e12f64..1e12)
            .prop_filter("not whole", |f| f.fract() != 0.0)
            .prop_map(Number::Float),
    ];
    if big {
        prop_oneof![small, "[1-9][0-9]{20,30}".prop_map(Number::Big)].boxed()
    } else {
        small.boxed()
    }
}

/// A value of type `ty`; null and unknown may appear anywhere.
fn value_of(ty: &Type, big_numbers: bool) -> BoxedStrategy<Value> {
    let known: BoxedStrategy<Value> = match ty {
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::Number => number(big_numbers).prop_map(Value::Number).boxed(),
        Type::String => ".{0,12}".prop_map(Value::String).boxed(),
        Type::Dynamic => prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            "[a-z]{0,8}".prop_map(Value::String),
            any::<i64>().prop_map(|i| Value::Number(Number::Int(i))),
        ]
        .boxed(),
        Type::List(element) => prop::collection::vec(value_of(element, big_numbers), 0..4)
            .prop_map(Value::List)
            .boxed(),
        Type::Set(element) => prop::collection::vec(value_of(element, big_numbers), 0..4)
            .prop_map(Value::Set)
            .boxed(),
        Type::Map(element) => {
            prop::collection::btree_map("[a-z]{1,5}", value_of(element, big_numbers), 0..4)
                .prop_map(Value::Map)
                .boxed()
        }
        Type::Object(attributes) => {
            let parts: Vec<BoxedStrategy<(String, Value)>> = attributes
                .iter()
                .map(|(name, aty)| {
                    let name = name.clone();
                    value_of(aty, big_numbers)
                        .prop_map(move |v| (name.clone(), v))
                        .boxed()
                })
                .collect();
            parts
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<BTreeMap<_, _>>()))
                .boxed()
        }
        Type::Tuple(elements) => {
            let parts: Vec<BoxedStrategy<Value>> =
                elements.iter().map(|e| value_of(e, big_numbers)).collect();
            parts.prop_map(Value::List).boxed()
        }
    };
    prop_oneof![1 => Just(Value::Null), 1 => Just(Value::Unknown), 6 => known].boxed()
}

pub(crate) fn typed_value(big_numbers: bool) -> impl Strategy<Value = (Type, Value)> {
    any_type().prop_flat_map(move |ty| {
        let values = value_of(&ty, big_numbers);
        (Just(ty), values)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn msgpack_round_trips((ty, value) in typed_value(true)) {
        let bytes = msgpack::encode(&value, &ty).unwrap();
        prop_assert_eq!(msgpack::decode(&bytes, &ty).unwrap(), value);
    }

    #[test]
    fn serde_bridge_round_trips((ty, value) in typed_value(false)) {
        let bridged = json::to_json(&value);
        prop_assert_eq!(json::from_json(&bridged, &ty, json::Attributes::Strict).unwrap(), value);
    }

    #[test]
    fn state_json_round_trips((ty, value) in typed_value(false)) {
        let text = json::encode_state(&value, &ty).to_string();
        let decoded = json::decode(text.as_bytes(), &ty, json::Attributes::IgnoreExtra).unwrap();
        prop_assert_eq!(decoded, value.unknowns_to_null());
    }

    #[test]
    fn type_notation_round_trips(ty in any_type()) {
        prop_assert_eq!(Type::from_json(&ty.to_json()).unwrap(), ty);
    }
}

#[test]
fn unknown_is_extension_zero_and_refined_unknowns_decode() {
    let bytes = msgpack::encode(&Value::Unknown, &Type::String).unwrap();
    assert_eq!(bytes, vec![0xc7, 0x00, 0x00]);
    // fixext1 with code 12: an unknown with refinements (e.g. "not null").
    let refined = [0xd4, 0x0c, 0x81];
    assert_eq!(
        msgpack::decode(&refined, &Type::String).unwrap(),
        Value::Unknown
    );
}

#[test]
fn unknowns_inside_collections_survive() {
    let ty = Type::object([
        ("tags", Type::map(Type::String)),
        ("ports", Type::list(Type::Number)),
    ]);
    let value = Value::Object(BTreeMap::from([
        (
            "tags".to_string(),
            Value::Map(BTreeMap::from([("a".to_string(), Value::Unknown)])),
        ),
        (
            "ports".to_string(),
            Value::List(vec![Value::Number(Number::Int(80)), Value::Unknown]),
        ),
    ]));
    let bytes = msgpack::encode(&value, &ty).unwrap();
    let decoded = msgpack::decode(&bytes, &ty).unwrap();
    assert_eq!(decoded, value);
    assert!(!decoded.is_wholly_known());
}

#[test]
fn big_numbers_keep_their_digits() {
    let big = Value::Number(Number::Big("123456789012345678901234567890".into()));
    let bytes = msgpack::encode(&big, &Type::Number).unwrap();
    assert_eq!(msgpack::decode(&bytes, &Type::Number).unwrap(), big);
    let u = msgpack::decode(
        &[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        &Type::Number,
    )
    .unwrap();
    assert_eq!(u, Value::Number(Number::Big(u64::MAX.to_string())));
}

#[test]
fn mismatched_values_are_errors_with_paths() {
    let ty = Type::object([("size", Type::Number)]);
    let value = Value::Object(BTreeMap::from([(
        "size".to_string(),
        Value::String("x".into()),
    )]));
    let error = msgpack::encode(&value, &ty).unwrap_err().to_string();
    assert!(error.contains("size"), "{error}");
}

#[test]
fn state_structs_map_through_serde() {
    use serde::{Deserialize, Serialize};
    use zdd_tfplugin::{Val, from_value, to_value};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct State {
        id: Val<String>,
        name: String,
        size: Option<i64>,
        tags: Option<BTreeMap<String, String>>,
    }
    let ty = Type::object([
        ("id", Type::String),
        ("name", Type::String),
        ("size", Type::Number),
        ("tags", Type::map(Type::String)),
    ]);
    let state = State {
        id: Val::Unknown,
        name: "a".into(),
        size: None,
        tags: Some(BTreeMap::new()),
    };
    let value = to_value(&state, &ty).unwrap();
    assert_eq!(value.attribute("id"), Some(&Value::Unknown));
    assert_eq!(value.attribute("size"), Some(&Value::Null));
    let back: State = from_value(&value).unwrap();
    assert_eq!(back, state);
}
