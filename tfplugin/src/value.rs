//! The typed Terraform value: every value may be null or unknown at any depth.

use std::collections::BTreeMap;
use std::fmt;

/// An error decoding or encoding a value.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    /// The msgpack bytes could not be read.
    #[error("invalid msgpack: {0}")]
    Msgpack(String),
    /// The JSON bytes could not be read.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A type in JSON type notation could not be read.
    #[error("invalid type notation: {0}")]
    InvalidType(String),
    /// A value does not match the type it is decoded or encoded with.
    #[error("{path}: expected {expected}, found {found}")]
    Mismatch {
        /// Where in the value (dotted attribute path).
        path: String,
        /// The type or shape expected there.
        expected: String,
        /// What was found instead.
        found: String,
    },
    /// An object has an attribute its type does not declare.
    #[error("{path}: unexpected attribute {name:?}")]
    UnexpectedAttribute {
        /// Where in the value.
        path: String,
        /// The attribute name.
        name: String,
    },
}

/// A Terraform number. Terraform numbers have arbitrary precision; values
/// that fit an `i64` or an `f64` are kept as such, anything else keeps its
/// decimal text.
#[derive(Debug, Clone, PartialEq)]
pub enum Number {
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A number that fits neither, as decimal text (e.g. `18446744073709551616`).
    Big(String),
}

impl Number {
    /// The number as `i64` when it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            Number::Float(f)
                if f.fract() == 0.0 && *f >= i64::MIN as f64 && *f < i64::MAX as f64 =>
            {
                Some(*f as i64)
            }
            Number::Float(_) => None,
            Number::Big(text) => text.parse().ok(),
        }
    }

    /// The number as `f64` (possibly rounded).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Number::Int(i) => Some(*i as f64),
            Number::Float(f) => Some(*f),
            Number::Big(text) => text.parse().ok(),
        }
    }

    /// Parses decimal text, keeping the narrowest exact representation.
    pub fn parse(text: &str) -> Option<Number> {
        if let Ok(i) = text.parse::<i64>() {
            return Some(Number::Int(i));
        }
        let float: f64 = text.parse().ok()?;
        if float.is_finite() && text.contains(['.', 'e', 'E']) && float.to_string() == text {
            return Some(Number::Float(float));
        }
        Some(Number::Big(text.to_string()))
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x}"),
            Number::Big(text) => f.write_str(text),
        }
    }
}

/// A Terraform value. `Null` and `Unknown` may appear at any depth.
///
/// Lists, sets and tuples are all sequences here, maps and objects are both
/// string-keyed; the [`crate::Type`] given to the codecs decides the wire form.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// `null`
    #[default]
    Null,
    /// A value only known after apply (refinements are dropped).
    Unknown,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
    /// A list or tuple value.
    List(Vec<Value>),
    /// A set value (order is not significant to Terraform).
    Set(Vec<Value>),
    /// A map value.
    Map(BTreeMap<String, Value>),
    /// An object value.
    Object(BTreeMap<String, Value>),
}

impl Value {
    /// True for `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True for `Unknown` at the top level.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// True when no unknown value appears at any depth.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(items) | Value::Set(items) => items.iter().all(Value::is_wholly_known),
            Value::Map(items) | Value::Object(items) => items.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    /// Replaces every unknown value, at any depth, with null.
    pub fn unknowns_to_null(self) -> Value {
        match self {
            Value::Unknown => Value::Null,
            Value::List(items) => {
                Value::List(items.into_iter().map(Value::unknowns_to_null).collect())
            }
            Value::Set(items) => {
                Value::Set(items.into_iter().map(Value::unknowns_to_null).collect())
            }
            Value::Map(items) => Value::Map(
                items
                    .into_iter()
                    .map(|(k, v)| (k, v.unknowns_to_null()))
                    .collect(),
            ),
            Value::Object(items) => Value::Object(
                items
                    .into_iter()
                    .map(|(k, v)| (k, v.unknowns_to_null()))
                    .collect(),
            ),
            other => other,
        }
    }

    /// The attribute `name` of an object value (None when absent or not an object).
    pub fn attribute(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(attributes) => attributes.get(name),
            _ => None,
        }
    }

    /// A string value's text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// A short name of the value's shape, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Unknown => "unknown",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Map(_) => "map",
            Value::Object(_) => "object",
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Number(Number::Int(i))
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Number(Number::Float(f))
    }
}
