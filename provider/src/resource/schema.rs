//! The protocol schemas, built from the attribute tables in [`crate::model::attributes`] (the
//! same tables the registry docs are generated from).

use zdd_tfplugin::{Attribute, Nesting, Schema, Type};

use crate::model::attributes::{self as table, Kind, OnChange, Role};

/// Bump with a state upgrade when the state layout changes.
pub const ROLLOUT_SCHEMA_VERSION: i64 = 0;

pub fn provider_schema() -> Schema {
    let doc = table::provider_schema();
    doc.attributes.iter().fold(
        Schema::new(0).description(doc.description.clone()),
        |schema, attribute| schema.attribute(convert(attribute)),
    )
}

pub fn rollout_schema() -> Schema {
    let doc = table::rollout();
    let mut schema = Schema::new(ROLLOUT_SCHEMA_VERSION).description(doc.description.clone());
    for attribute in &doc.attributes {
        let mut converted = convert(attribute);
        if attribute.name == "id" {
            converted = converted.use_state_for_unknown();
        }
        schema = schema.attribute(converted);
    }
    schema.timeouts(&["create", "update", "delete"])
}

fn convert(attribute: &table::Attribute) -> Attribute {
    let name = attribute.name;
    let base = match &attribute.kind {
        Kind::String => Attribute::string(name),
        Kind::Int | Kind::Float => Attribute::number(name),
        Kind::Bool => Attribute::bool(name),
        Kind::ListOfString => Attribute::list(name, Type::String),
        Kind::MapOfString => Attribute::map(name, Type::String),
        Kind::Object(children) => Attribute::nested(
            name,
            Nesting::Single,
            children.iter().map(convert).collect(),
        ),
        Kind::ListOfObject(children) => {
            Attribute::nested(name, Nesting::List, children.iter().map(convert).collect())
        }
    };
    let base = match attribute.role {
        Role::Required => base.required(),
        Role::Optional => base.optional(),
        Role::Computed(_) => base.computed(),
        Role::Default(_) => base.optional().computed(),
    };
    let base = base.description(attribute.description.clone());
    let base = if attribute.on_change == Some(OnChange::Replace) {
        base.requires_replace()
    } else {
        base
    };
    if attribute.sensitive {
        base.sensitive()
    } else {
        base
    }
}
