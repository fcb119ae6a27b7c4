//! Conversions between the crate's types and the generated protocol types.

use crate::Type;
use crate::codec::msgpack;
use crate::diagnostics::{AttributePath, Diagnostic, Diagnostics, PathStep, Severity};
use crate::proto::tfplugin6 as pb;
use crate::schema::{Attribute, AttributeKind, Block, NestedBlock, Nesting, Schema};
use crate::value::Value;

pub(crate) fn schema(schema: &Schema) -> pb::Schema {
    pb::Schema {
        version: schema.version,
        block: Some(block(&schema.block, schema.version)),
    }
}

fn block(block: &Block, version: i64) -> pb::schema::Block {
    pb::schema::Block {
        version,
        attributes: block.attributes.iter().map(attribute).collect(),
        block_types: block.blocks.iter().map(nested_block).collect(),
        description: block.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: block.deprecated,
    }
}

fn attribute(attribute: &Attribute) -> pb::schema::Attribute {
    let (type_bytes, nested_type) = match &attribute.kind {
        AttributeKind::Type(ty) => (ty.to_json_bytes(), None),
        AttributeKind::Nested(nesting, attributes) => {
            let nesting = match nesting {
                Nesting::Single | Nesting::Group => pb::schema::object::NestingMode::Single,
                Nesting::List => pb::schema::object::NestingMode::List,
                Nesting::Set => pb::schema::object::NestingMode::Set,
                Nesting::Map => pb::schema::object::NestingMode::Map,
            };
            (
                Vec::new(),
                Some(pb::schema::Object {
                    attributes: attributes.iter().map(self::attribute).collect(),
                    nesting: nesting as i32,
                }),
            )
        }
    };
    pb::schema::Attribute {
        name: attribute.name.clone(),
        r#type: type_bytes,
        nested_type,
        description: attribute.description.clone(),
        required: attribute.required,
        optional: attribute.optional,
        computed: attribute.computed,
        sensitive: attribute.sensitive,
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: attribute.deprecated,
        write_only: attribute.write_only,
    }
}

fn nested_block(nested: &NestedBlock) -> pb::schema::NestedBlock {
    use pb::schema::nested_block::NestingMode;
    let nesting = match nested.nesting {
        Nesting::Single => NestingMode::Single,
        Nesting::List => NestingMode::List,
        Nesting::Set => NestingMode::Set,
        Nesting::Map => NestingMode::Map,
        Nesting::Group => NestingMode::Group,
    };
    pb::schema::NestedBlock {
        type_name: nested.type_name.clone(),
        block: Some(block(&nested.block, 0)),
        nesting: nesting as i32,
        min_items: nested.min_items,
        max_items: nested.max_items,
    }
}

pub(crate) fn attribute_path(path: &AttributePath) -> pb::AttributePath {
    use pb::attribute_path::step::Selector;
    pb::AttributePath {
        steps: path
            .steps()
            .iter()
            .map(|step| pb::attribute_path::Step {
                selector: Some(match step {
                    PathStep::Attribute(name) => Selector::AttributeName(name.clone()),
                    PathStep::Key(key) => Selector::ElementKeyString(key.clone()),
                    PathStep::Index(index) => Selector::ElementKeyInt(*index),
                }),
            })
            .collect(),
    }
}

pub(crate) fn diagnostic(diagnostic: &Diagnostic) -> pb::Diagnostic {
    let severity = match diagnostic.severity {
        Severity::Error => pb::diagnostic::Severity::Error,
        Severity::Warning => pb::diagnostic::Severity::Warning,
    };
    pb::Diagnostic {
        severity: severity as i32,
        summary: diagnostic.summary.clone(),
        detail: diagnostic.detail.clone(),
        attribute: diagnostic.attribute.as_ref().map(attribute_path),
    }
}

pub(crate) fn diagnostics(diagnostics: &Diagnostics) -> Vec<pb::Diagnostic> {
    diagnostics.iter().map(diagnostic).collect()
}

/// Decodes a `DynamicValue` (msgpack, or JSON when only that is set); an
/// absent value is null.
pub(crate) fn decode_dynamic(
    value: Option<&pb::DynamicValue>,
    ty: &Type,
    what: &str,
) -> Result<Value, Diagnostics> {
    let Some(value) = value else {
        return Ok(Value::Null);
    };
    let decoded = if !value.msgpack.is_empty() {
        msgpack::decode(&value.msgpack, ty)
    } else if !value.json.is_empty() {
        crate::codec::json::decode(&value.json, ty, crate::codec::json::Attributes::Strict)
    } else {
        Ok(Value::Null)
    };
    decoded.map_err(|error| {
        Diagnostic::error(
            format!("Provider could not decode the {what}"),
            error.to_string(),
        )
        .into()
    })
}

/// Encodes a value as a msgpack `DynamicValue`.
pub(crate) fn encode_dynamic(
    value: &Value,
    ty: &Type,
    what: &str,
) -> Result<pb::DynamicValue, Diagnostics> {
    msgpack::encode(value, ty)
        .map(|msgpack| pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        })
        .map_err(|error| {
            Diagnostic::error(
                format!("Provider could not encode the {what}"),
                error.to_string(),
            )
            .into()
        })
}
