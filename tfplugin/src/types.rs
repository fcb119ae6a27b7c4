//! Terraform (cty) types and their JSON encoding, as used in schemas and in
//! dynamically typed values.

use std::collections::BTreeMap;

use serde_json::json;

use crate::value::ValueError;

/// A Terraform type. Schemas declare attribute types with it, and the codecs
/// need it to tell a list from a set and a map from an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    /// `bool`
    Bool,
    /// `number`: arbitrary precision in Terraform; see [`crate::Number`].
    Number,
    /// `string`
    String,
    /// `dynamic` (any type, decided by the value).
    Dynamic,
    /// `list(T)`
    List(Box<Type>),
    /// `set(T)`
    Set(Box<Type>),
    /// `map(T)`
    Map(Box<Type>),
    /// `object({...})`
    Object(BTreeMap<String, Type>),
    /// `tuple([...])`
    Tuple(Vec<Type>),
}

impl Type {
    /// `list(element)`
    pub fn list(element: Type) -> Type {
        Type::List(Box::new(element))
    }

    /// `set(element)`
    pub fn set(element: Type) -> Type {
        Type::Set(Box::new(element))
    }

    /// `map(element)`
    pub fn map(element: Type) -> Type {
        Type::Map(Box::new(element))
    }

    /// `object({name = type, ...})`
    pub fn object<I, S>(attributes: I) -> Type
    where
        I: IntoIterator<Item = (S, Type)>,
        S: Into<String>,
    {
        Type::Object(
            attributes
                .into_iter()
                .map(|(name, ty)| (name.into(), ty))
                .collect(),
        )
    }

    /// The JSON type notation Terraform uses on the wire (`"string"`, `["list","string"]`, ...).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Type::Bool => json!("bool"),
            Type::Number => json!("number"),
            Type::String => json!("string"),
            Type::Dynamic => json!("dynamic"),
            Type::List(element) => json!(["list", element.to_json()]),
            Type::Set(element) => json!(["set", element.to_json()]),
            Type::Map(element) => json!(["map", element.to_json()]),
            Type::Object(attributes) => {
                let attributes: serde_json::Map<String, serde_json::Value> = attributes
                    .iter()
                    .map(|(name, ty)| (name.clone(), ty.to_json()))
                    .collect();
                json!(["object", attributes])
            }
            Type::Tuple(elements) => {
                let elements: Vec<serde_json::Value> = elements.iter().map(Type::to_json).collect();
                json!(["tuple", elements])
            }
        }
    }

    /// The JSON type notation as bytes, as schema attributes carry it.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        self.to_json().to_string().into_bytes()
    }

    /// Parses the JSON type notation. Optional-attribute markers (a third
    /// element of an object type) are accepted and ignored.
    pub fn from_json(json: &serde_json::Value) -> Result<Type, ValueError> {
        let invalid = || ValueError::InvalidType(json.to_string());
        match json {
            serde_json::Value::String(name) => match name.as_str() {
                "bool" => Ok(Type::Bool),
                "number" => Ok(Type::Number),
                "string" => Ok(Type::String),
                "dynamic" => Ok(Type::Dynamic),
                _ => Err(invalid()),
            },
            serde_json::Value::Array(parts) => {
                let kind = parts.first().and_then(|k| k.as_str()).ok_or_else(invalid)?;
                let argument = parts.get(1).ok_or_else(invalid)?;
                match kind {
                    "list" => Ok(Type::list(Type::from_json(argument)?)),
                    "set" => Ok(Type::set(Type::from_json(argument)?)),
                    "map" => Ok(Type::map(Type::from_json(argument)?)),
                    "object" => {
                        let attributes = argument.as_object().ok_or_else(invalid)?;
                        let mut out = BTreeMap::new();
                        for (name, ty) in attributes {
                            out.insert(name.clone(), Type::from_json(ty)?);
                        }
                        Ok(Type::Object(out))
                    }
                    "tuple" => {
                        let elements = argument.as_array().ok_or_else(invalid)?;
                        Ok(Type::Tuple(
                            elements
                                .iter()
                                .map(Type::from_json)
                                .collect::<Result<_, _>>()?,
                        ))
                    }
                    _ => Err(invalid()),
                }
            }
            _ => Err(invalid()),
        }
    }
}
