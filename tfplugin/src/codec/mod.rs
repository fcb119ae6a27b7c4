//! Wire encodings of [`crate::Value`]: msgpack (`DynamicValue.msgpack`) and
//! JSON (raw state for upgrades, and the bridge to serde structs).

pub mod json;
pub mod msgpack;

/// Builds the dotted path used in codec error messages.
pub(crate) fn child_path(parent: &str, step: &str) -> String {
    if parent.is_empty() {
        step.to_string()
    } else {
        format!("{parent}.{step}")
    }
}

/// Infers a type for a value held in a `dynamic` attribute.
pub(crate) fn infer_type(value: &crate::Value) -> crate::Type {
    use crate::{Type, Value};
    match value {
        Value::Null | Value::Unknown => Type::Dynamic,
        Value::Bool(_) => Type::Bool,
        Value::Number(_) => Type::Number,
        Value::String(_) => Type::String,
        Value::List(items) => Type::Tuple(items.iter().map(infer_type).collect()),
        Value::Set(items) => Type::set(items.first().map(infer_type).unwrap_or(Type::Dynamic)),
        Value::Map(items) | Value::Object(items) => Type::Object(
            items
                .iter()
                .map(|(k, v)| (k.clone(), infer_type(v)))
                .collect(),
        ),
    }
}
