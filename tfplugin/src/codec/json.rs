//! JSON as Terraform writes state (`RawState.json`), and the bridge between
//! [`crate::Value`] and serde's data model.
//!
//! serde has no notion of "unknown", so on the bridge an unknown value is the
//! marker object `{"__zdd_unknown__": true}`; [`crate::Val`] turns it back
//! into [`crate::Val::Unknown`]. Terraform's own JSON never holds unknowns.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::{child_path, infer_type};
use crate::Type;
use crate::value::{Number, Value, ValueError};

/// The key of the marker object that stands for an unknown value on the serde bridge.
pub const UNKNOWN_MARKER_KEY: &str = "__zdd_unknown__";

/// How strictly object attributes are matched against the type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attributes {
    /// Attributes the type does not declare are an error.
    Strict,
    /// Attributes the type does not declare are dropped (old state after a schema change).
    IgnoreExtra,
}

/// The unknown marker as JSON.
pub fn unknown_marker() -> Json {
    let mut marker = serde_json::Map::new();
    marker.insert(UNKNOWN_MARKER_KEY.to_string(), Json::Bool(true));
    Json::Object(marker)
}

/// True when `json` is the unknown marker.
pub fn is_unknown_marker(json: &Json) -> bool {
    matches!(json, Json::Object(map) if map.len() == 1 && map.get(UNKNOWN_MARKER_KEY) == Some(&Json::Bool(true)))
}

/// Decodes JSON bytes as a value of type `ty` (missing object attributes are null).
pub fn decode(bytes: &[u8], ty: &Type, attributes: Attributes) -> Result<Value, ValueError> {
    let json: Json = serde_json::from_slice(bytes)?;
    from_json(&json, ty, attributes)
}

/// Converts parsed JSON to a value of type `ty`.
pub fn from_json(json: &Json, ty: &Type, attributes: Attributes) -> Result<Value, ValueError> {
    convert(json, ty, attributes, "")
}

fn mismatch(path: &str, expected: &Type, found: &Json) -> ValueError {
    let mut found = found.to_string();
    found.truncate(80);
    ValueError::Mismatch {
        path: path.to_string(),
        expected: expected.to_json().to_string(),
        found,
    }
}

fn convert(json: &Json, ty: &Type, mode: Attributes, path: &str) -> Result<Value, ValueError> {
    if json.is_null() {
        return Ok(Value::Null);
    }
    if is_unknown_marker(json) {
        return Ok(Value::Unknown);
    }
    match ty {
        Type::Bool => json
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| mismatch(path, ty, json)),
        Type::Number => match json {
            Json::Number(n) => {
                let number = if let Some(i) = n.as_i64() {
                    Number::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Number::Big(u.to_string())
                } else {
                    Number::Float(n.as_f64().ok_or_else(|| mismatch(path, ty, json))?)
                };
                Ok(Value::Number(number))
            }
            Json::String(text) => Number::parse(text)
                .map(Value::Number)
                .ok_or_else(|| mismatch(path, ty, json)),
            _ => Err(mismatch(path, ty, json)),
        },
        Type::String => match json {
            Json::String(s) => Ok(Value::String(s.clone())),
            // Terraform converts primitives to strings where a string is expected.
            Json::Number(n) => Ok(Value::String(n.to_string())),
            Json::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(mismatch(path, ty, json)),
        },
        Type::Dynamic => {
            // Terraform's state JSON wraps dynamic values as {"value": ..., "type": ...}.
            if let Json::Object(map) = json
                && map.len() == 2
                && let (Some(inner), Some(type_json)) = (map.get("value"), map.get("type"))
                && let Ok(concrete) = Type::from_json(type_json)
            {
                return convert(inner, &concrete, mode, path);
            }
            let guessed = guess_type(json);
            convert(json, &guessed, mode, path)
        }
        Type::List(element) | Type::Set(element) => {
            let items = json.as_array().ok_or_else(|| mismatch(path, ty, json))?;
            let values = items
                .iter()
                .enumerate()
                .map(|(i, item)| convert(item, element, mode, &child_path(path, &i.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(ty, Type::Set(_)) {
                Value::Set(values)
            } else {
                Value::List(values)
            })
        }
        Type::Tuple(elements) => {
            let items = json.as_array().ok_or_else(|| mismatch(path, ty, json))?;
            if items.len() != elements.len() {
                return Err(mismatch(path, ty, json));
            }
            let values = items
                .iter()
                .zip(elements)
                .enumerate()
                .map(|(i, (item, ety))| convert(item, ety, mode, &child_path(path, &i.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::List(values))
        }
        Type::Map(element) => {
            let entries = json.as_object().ok_or_else(|| mismatch(path, ty, json))?;
            let mut out = BTreeMap::new();
            for (key, item) in entries {
                out.insert(
                    key.clone(),
                    convert(item, element, mode, &child_path(path, key))?,
                );
            }
            Ok(Value::Map(out))
        }
        Type::Object(attributes) => {
            let entries = json.as_object().ok_or_else(|| mismatch(path, ty, json))?;
            let mut out = BTreeMap::new();
            for (key, item) in entries {
                match attributes.get(key) {
                    Some(aty) => {
                        out.insert(
                            key.clone(),
                            convert(item, aty, mode, &child_path(path, key))?,
                        );
                    }
                    None if mode == Attributes::IgnoreExtra => {}
                    None => {
                        return Err(ValueError::UnexpectedAttribute {
                            path: path.to_string(),
                            name: key.clone(),
                        });
                    }
                }
            }
            for name in attributes.keys() {
                out.entry(name.clone()).or_insert(Value::Null);
            }
            Ok(Value::Object(out))
        }
    }
}

fn guess_type(json: &Json) -> Type {
    match json {
        Json::Null => Type::Dynamic,
        Json::Bool(_) => Type::Bool,
        Json::Number(_) => Type::Number,
        Json::String(_) => Type::String,
        Json::Array(items) => Type::Tuple(items.iter().map(guess_type).collect()),
        Json::Object(map) => Type::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), guess_type(v)))
                .collect(),
        ),
    }
}

/// Converts a value to JSON for serde (unknowns become the marker object).
pub fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Unknown => unknown_marker(),
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => match n {
            Number::Int(i) => Json::from(*i),
            Number::Float(f) => serde_json::Number::from_f64(*f)
                .map(Json::Number)
                .unwrap_or(Json::Null),
            Number::Big(text) => text
                .parse::<u64>()
                .map(Json::from)
                .or_else(|_| text.parse::<f64>().map(Json::from))
                .unwrap_or_else(|_| Json::String(text.clone())),
        },
        Value::String(s) => Json::String(s.clone()),
        Value::List(items) | Value::Set(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(items) | Value::Object(items) => {
            Json::Object(items.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

/// Encodes a value as the JSON Terraform writes in state: sets as arrays,
/// `dynamic` attributes as `{"value", "type"}`. Unknown values cannot be
/// written and become null.
pub fn encode_state(value: &Value, ty: &Type) -> Json {
    match (ty, value) {
        (_, Value::Null | Value::Unknown) => Json::Null,
        (Type::Dynamic, known) => {
            let concrete = infer_type(known);
            serde_json::json!({ "value": encode_state(known, &concrete), "type": concrete.to_json() })
        }
        (Type::List(element) | Type::Set(element) | Type::Map(element), _) => match value {
            Value::List(items) | Value::Set(items) => {
                Json::Array(items.iter().map(|v| encode_state(v, element)).collect())
            }
            Value::Map(items) | Value::Object(items) => Json::Object(
                items
                    .iter()
                    .map(|(k, v)| (k.clone(), encode_state(v, element)))
                    .collect(),
            ),
            other => to_json(other),
        },
        (Type::Object(attributes), Value::Object(items) | Value::Map(items)) => Json::Object(
            items
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        encode_state(v, attributes.get(k).unwrap_or(&Type::Dynamic)),
                    )
                })
                .collect(),
        ),
        (Type::Tuple(elements), Value::List(items)) => Json::Array(
            items
                .iter()
                .zip(elements)
                .map(|(v, ety)| encode_state(v, ety))
                .collect(),
        ),
        (_, other) => to_json(other),
    }
}
