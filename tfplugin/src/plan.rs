//! The crate's default planning, applied before [`crate::Resource::plan`]:
//! computed attributes not set in configuration become unknown, unless they
//! keep their state (`use_state_for_unknown`), and changed
//! `requires_replace` attributes are reported. Top-level attributes only.

use crate::diagnostics::AttributePath;
use crate::schema::Block;
use crate::value::Value;

/// The planned state and the attributes whose change forces replacement.
pub(crate) fn plan_defaults(
    block: &Block,
    prior: &Value,
    proposed: Value,
    config: &Value,
) -> (Value, Vec<AttributePath>) {
    let Value::Object(mut planned) = proposed else {
        // Destroy (null) or a value that is not an object: nothing to plan.
        return (proposed, Vec::new());
    };
    let creating = prior.is_null();
    let changed = creating || Some(&planned) != object_attributes(prior);
    let mut requires_replace = Vec::new();
    for attribute in block.attributes() {
        let name = attribute.name();
        let configured = config.attribute(name).is_some_and(|v| !v.is_null());
        if attribute.computed && !configured {
            let keep_prior = !creating && (attribute.use_state_for_unknown || !changed);
            if !keep_prior {
                planned.insert(name.to_string(), Value::Unknown);
            }
        }
        if !creating && attribute.requires_replace {
            let before = prior.attribute(name).unwrap_or(&Value::Null);
            let after = planned.get(name).unwrap_or(&Value::Null);
            if before != after {
                requires_replace.push(AttributePath::root(name));
            }
        }
    }
    (Value::Object(planned), requires_replace)
}

fn object_attributes(value: &Value) -> Option<&std::collections::BTreeMap<String, Value>> {
    match value {
        Value::Object(attributes) => Some(attributes),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{Attribute, Schema};

    fn object(pairs: &[(&str, Value)]) -> Value {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    fn schema() -> Schema {
        Schema::new(0)
            .attribute(Attribute::string("id").computed().use_state_for_unknown())
            .attribute(Attribute::string("name").required().requires_replace())
            .attribute(Attribute::string("etag").computed())
            .attribute(Attribute::string("note").optional())
    }

    #[test]
    fn create_marks_computed_unknown() {
        let config = object(&[
            ("id", Value::Null),
            ("name", "a".into()),
            ("etag", Value::Null),
            ("note", Value::Null),
        ]);
        let (planned, replace) =
            plan_defaults(schema().root(), &Value::Null, config.clone(), &config);
        assert_eq!(planned.attribute("id"), Some(&Value::Unknown));
        assert_eq!(planned.attribute("etag"), Some(&Value::Unknown));
        assert_eq!(planned.attribute("name"), Some(&"a".into()));
        assert!(replace.is_empty());
    }

    #[test]
    fn update_keeps_state_for_unknown_and_reports_replacement() {
        let prior = object(&[
            ("id", "i-1".into()),
            ("name", "a".into()),
            ("etag", "e1".into()),
            ("note", Value::Null),
        ]);
        let config = object(&[
            ("id", Value::Null),
            ("name", "b".into()),
            ("etag", Value::Null),
            ("note", Value::Null),
        ]);
        let proposed = object(&[
            ("id", "i-1".into()),
            ("name", "b".into()),
            ("etag", "e1".into()),
            ("note", Value::Null),
        ]);
        let (planned, replace) = plan_defaults(schema().root(), &prior, proposed, &config);
        assert_eq!(planned.attribute("id"), Some(&"i-1".into()));
        assert_eq!(planned.attribute("etag"), Some(&Value::Unknown));
        assert_eq!(replace, vec![AttributePath::root("name")]);
    }

    #[test]
    fn no_change_keeps_everything() {
        let prior = object(&[
            ("id", "i-1".into()),
            ("name", "a".into()),
            ("etag", "e1".into()),
            ("note", Value::Null),
        ]);
        let config = object(&[
            ("id", Value::Null),
            ("name", "a".into()),
            ("etag", Value::Null),
            ("note", Value::Null),
        ]);
        let (planned, replace) = plan_defaults(schema().root(), &prior, prior.clone(), &config);
        assert_eq!(planned, prior);
        assert!(replace.is_empty());
    }
}
