//! `Val<T>`: a field of a state struct that may be null or unknown, and the
//! serde bridge between state structs and [`Value`].

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Type;
use crate::codec::json::{self, Attributes};
use crate::value::{Value, ValueError};

/// A value that may be null or unknown ("known after apply").
///
/// Use it in state structs for computed attributes: during planning they are
/// `Unknown`. A plain `Option<T>` field reads unknown as an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Val<T> {
    /// A known value.
    Known(T),
    /// Null.
    #[default]
    Null,
    /// Not known until apply.
    Unknown,
}

impl<T> Val<T> {
    /// The known value, if any.
    pub fn known(&self) -> Option<&T> {
        match self {
            Val::Known(v) => Some(v),
            _ => None,
        }
    }

    /// Consumes into the known value, if any.
    pub fn into_known(self) -> Option<T> {
        match self {
            Val::Known(v) => Some(v),
            _ => None,
        }
    }

    /// True for `Unknown`.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Val::Unknown)
    }

    /// True for `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }
}

impl<T> From<Option<T>> for Val<T> {
    fn from(value: Option<T>) -> Self {
        value.map_or(Val::Null, Val::Known)
    }
}

impl<T: Serialize> Serialize for Val<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Val::Known(v) => v.serialize(serializer),
            Val::Null => serializer.serialize_none(),
            Val::Unknown => json::unknown_marker().serialize(serializer),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Val<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = serde_json::Value::deserialize(deserializer)?;
        if raw.is_null() {
            Ok(Val::Null)
        } else if json::is_unknown_marker(&raw) {
            Ok(Val::Unknown)
        } else {
            T::deserialize(raw)
                .map(Val::Known)
                .map_err(serde::de::Error::custom)
        }
    }
}

/// Converts a serde value (a state struct) to a [`Value`] of type `ty`.
/// Struct fields the type does not declare are an error; declared attributes
/// the struct lacks are null.
pub fn to_value<S: Serialize>(state: &S, ty: &Type) -> Result<Value, ValueError> {
    let raw = serde_json::to_value(state)?;
    json::from_json(&raw, ty, Attributes::Strict)
}

/// Converts a [`Value`] to a serde value (a state struct).
pub fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, ValueError> {
    Ok(serde_json::from_value(json::to_json(value))?)
}
