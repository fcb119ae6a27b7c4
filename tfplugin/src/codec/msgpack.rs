//! msgpack as Terraform (cty) writes it: nil is null, extension type 0 is an
//! unknown value (extension 12, an unknown with refinements, is read as
//! unknown too), numbers are ints, floats or decimal strings, `dynamic`
//! values are `[type JSON, value]` pairs.

use std::collections::BTreeMap;

use rmpv::Value as Mp;

use super::{child_path, infer_type};
use crate::Type;
use crate::value::{Number, Value, ValueError};

/// cty's extension code for an unknown value.
const UNKNOWN_EXT: i8 = 0;
/// cty's extension code for an unknown value with refinements.
const REFINED_UNKNOWN_EXT: i8 = 12;

/// How deep msgpack may nest (each array or map level counts twice in rmpv's reckoning): 128
/// levels, serde_json's limit for the same values as JSON. rmpv's own limit (1024) lets a debug
/// build's recursive reader overflow a 2 MiB tokio worker stack at about 600 levels, and a
/// stack overflow aborts the plugin mid-apply; no schema nests anywhere near this deep.
const MAX_DEPTH: usize = 256;

/// Decodes msgpack bytes as a value of type `ty`.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, ValueError> {
    let mut reader = bytes;
    let raw = rmpv::decode::read_value_with_max_depth(&mut reader, MAX_DEPTH).map_err(|e| {
        let at = bytes.len() - reader.len();
        ValueError::Msgpack(format!("{e} (at byte {at} of {})", bytes.len()))
    })?;
    from_msgpack(&raw, ty, "")
}

/// Encodes a value of type `ty` as msgpack bytes.
pub fn encode(value: &Value, ty: &Type) -> Result<Vec<u8>, ValueError> {
    let raw = to_msgpack(value, ty, "")?;
    let mut out = Vec::with_capacity(64);
    rmpv::encode::write_value(&mut out, &raw).map_err(|e| ValueError::Msgpack(e.to_string()))?;
    Ok(out)
}

fn mismatch(path: &str, expected: &Type, found: &Mp) -> ValueError {
    ValueError::Mismatch {
        path: path.to_string(),
        expected: expected.to_json().to_string(),
        found: format!("{found}"),
    }
}

fn from_msgpack(raw: &Mp, ty: &Type, path: &str) -> Result<Value, ValueError> {
    match raw {
        Mp::Nil => return Ok(Value::Null),
        Mp::Ext(code, _) if *code == UNKNOWN_EXT || *code == REFINED_UNKNOWN_EXT => {
            return Ok(Value::Unknown);
        }
        _ => {}
    }
    match ty {
        Type::Bool => match raw {
            Mp::Boolean(b) => Ok(Value::Bool(*b)),
            _ => Err(mismatch(path, ty, raw)),
        },
        Type::Number => decode_number(raw)
            .map(Value::Number)
            .ok_or_else(|| mismatch(path, ty, raw)),
        Type::String => match raw {
            Mp::String(s) => s
                .as_str()
                .map(|s| Value::String(s.to_string()))
                .ok_or_else(|| mismatch(path, ty, raw)),
            Mp::Binary(b) => String::from_utf8(b.clone())
                .map(Value::String)
                .map_err(|_| mismatch(path, ty, raw)),
            _ => Err(mismatch(path, ty, raw)),
        },
        Type::Dynamic => {
            let Mp::Array(pair) = raw else {
                return Err(mismatch(path, ty, raw));
            };
            let [type_json, inner] = pair.as_slice() else {
                return Err(mismatch(path, ty, raw));
            };
            let type_bytes: &[u8] = match type_json {
                Mp::Binary(b) => b,
                Mp::String(s) => s.as_bytes(),
                _ => return Err(mismatch(path, ty, raw)),
            };
            // Said with the path: the bare JSON error would not tell which attribute it is.
            let concrete = serde_json::from_slice(type_bytes)
                .map_err(ValueError::from)
                .and_then(|type_json| Type::from_json(&type_json))
                .map_err(|error| ValueError::Mismatch {
                    path: path.to_string(),
                    expected: "a dynamic value's type in JSON type notation".to_string(),
                    found: error.to_string(),
                })?;
            from_msgpack(inner, &concrete, path)
        }
        Type::List(element) | Type::Set(element) => {
            let Mp::Array(items) = raw else {
                return Err(mismatch(path, ty, raw));
            };
            let values = items
                .iter()
                .enumerate()
                .map(|(i, item)| from_msgpack(item, element, &child_path(path, &i.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(ty, Type::Set(_)) {
                Value::Set(values)
            } else {
                Value::List(values)
            })
        }
        Type::Tuple(elements) => {
            let Mp::Array(items) = raw else {
                return Err(mismatch(path, ty, raw));
            };
            if items.len() != elements.len() {
                return Err(mismatch(path, ty, raw));
            }
            let values = items
                .iter()
                .zip(elements)
                .enumerate()
                .map(|(i, (item, ety))| from_msgpack(item, ety, &child_path(path, &i.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::List(values))
        }
        Type::Map(element) => {
            let Mp::Map(entries) = raw else {
                return Err(mismatch(path, ty, raw));
            };
            let mut out = BTreeMap::new();
            for (key, item) in entries {
                let key = map_key(key).ok_or_else(|| mismatch(path, ty, raw))?;
                let value = from_msgpack(item, element, &child_path(path, &key))?;
                out.insert(key, value);
            }
            Ok(Value::Map(out))
        }
        Type::Object(attributes) => {
            let Mp::Map(entries) = raw else {
                return Err(mismatch(path, ty, raw));
            };
            let mut out = BTreeMap::new();
            for (key, item) in entries {
                let key = map_key(key).ok_or_else(|| mismatch(path, ty, raw))?;
                let attribute_path = child_path(path, &key);
                let Some(aty) = attributes.get(&key) else {
                    return Err(ValueError::UnexpectedAttribute {
                        path: path.to_string(),
                        name: key,
                    });
                };
                let value = from_msgpack(item, aty, &attribute_path)?;
                out.insert(key, value);
            }
            for name in attributes.keys() {
                out.entry(name.clone()).or_insert(Value::Null);
            }
            Ok(Value::Object(out))
        }
    }
}

fn map_key(key: &Mp) -> Option<String> {
    match key {
        Mp::String(s) => s.as_str().map(str::to_string),
        Mp::Binary(b) => String::from_utf8(b.clone()).ok(),
        _ => None,
    }
}

fn decode_number(raw: &Mp) -> Option<Number> {
    match raw {
        Mp::Integer(i) => {
            if let Some(v) = i.as_i64() {
                Some(Number::Int(v))
            } else {
                i.as_u64().map(|v| Number::Big(v.to_string()))
            }
        }
        Mp::F32(f) => Some(Number::Float(f64::from(*f))),
        Mp::F64(f) => Some(Number::Float(*f)),
        Mp::String(s) => s.as_str().and_then(Number::parse),
        _ => None,
    }
}

fn encode_mismatch(path: &str, expected: &Type, found: &Value) -> ValueError {
    ValueError::Mismatch {
        path: path.to_string(),
        expected: expected.to_json().to_string(),
        found: found.kind().to_string(),
    }
}

fn to_msgpack(value: &Value, ty: &Type, path: &str) -> Result<Mp, ValueError> {
    match value {
        Value::Null => return Ok(Mp::Nil),
        Value::Unknown => return Ok(Mp::Ext(UNKNOWN_EXT, Vec::new())),
        _ => {}
    }
    match (ty, value) {
        (Type::Bool, Value::Bool(b)) => Ok(Mp::Boolean(*b)),
        (Type::Number, Value::Number(n)) => Ok(match n {
            Number::Int(i) => Mp::from(*i),
            Number::Float(f) => Mp::F64(*f),
            Number::Big(text) => Mp::from(text.as_str()),
        }),
        (Type::String, Value::String(s)) => Ok(Mp::from(s.as_str())),
        (Type::Dynamic, known) => {
            let concrete = infer_type(known);
            Ok(Mp::Array(vec![
                Mp::Binary(concrete.to_json_bytes()),
                to_msgpack(known, &concrete, path)?,
            ]))
        }
        (Type::List(element) | Type::Set(element), Value::List(items) | Value::Set(items)) => {
            let encoded = items
                .iter()
                .enumerate()
                .map(|(i, item)| to_msgpack(item, element, &child_path(path, &i.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Mp::Array(encoded))
        }
        (Type::Tuple(elements), Value::List(items) | Value::Set(items))
            if items.len() == elements.len() =>
        {
            let encoded = items
                .iter()
                .zip(elements)
                .enumerate()
                .map(|(i, (item, ety))| to_msgpack(item, ety, &child_path(path, &i.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Mp::Array(encoded))
        }
        (Type::Map(element), Value::Map(items) | Value::Object(items)) => {
            let encoded = items
                .iter()
                .map(|(k, v)| {
                    Ok((
                        Mp::from(k.as_str()),
                        to_msgpack(v, element, &child_path(path, k))?,
                    ))
                })
                .collect::<Result<Vec<_>, ValueError>>()?;
            Ok(Mp::Map(encoded))
        }
        (Type::Object(attributes), Value::Object(items) | Value::Map(items)) => {
            if let Some(extra) = items.keys().find(|k| !attributes.contains_key(*k)) {
                return Err(ValueError::UnexpectedAttribute {
                    path: path.to_string(),
                    name: extra.clone(),
                });
            }
            let encoded = attributes
                .iter()
                .map(|(name, aty)| {
                    let item = items.get(name).unwrap_or(&Value::Null);
                    Ok((
                        Mp::from(name.as_str()),
                        to_msgpack(item, aty, &child_path(path, name))?,
                    ))
                })
                .collect::<Result<Vec<_>, ValueError>>()?;
            Ok(Mp::Map(encoded))
        }
        _ => Err(encode_mismatch(path, ty, value)),
    }
}
