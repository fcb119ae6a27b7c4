//! Values Terraform marks sensitive, masked before anything is printed: the plan JSON's
//! `before_sensitive` / `after_sensitive` (a `true`, or a structure mirroring the value with
//! `true` at the sensitive parts) and the state's `sensitive_attributes` (a list of paths).
//! Where a mark and a value do not fit together, more is masked, never less. Pure.

use serde_json::{Map, Value};

/// Shown instead of a sensitive value, so diffs never print secrets into CI logs.
pub const SENSITIVE: &str = "(sensitive)";

fn masked() -> Value {
    Value::String(SENSITIVE.to_string())
}

/// Whether a plan-JSON mark structure marks anything at all.
fn marks_anything(marks: &Value) -> bool {
    match marks {
        Value::Bool(b) => *b,
        Value::Array(items) => items.iter().any(marks_anything),
        Value::Object(map) => map.values().any(marks_anything),
        _ => false,
    }
}

/// `value` with the parts `marks` (plan JSON `*_sensitive`) marks replaced by [`SENSITIVE`].
pub fn mask_by_marks(value: &Value, marks: Option<&Value>) -> Value {
    let Some(marks) = marks else {
        return value.clone();
    };
    match (value, marks) {
        (Value::Null, _) => Value::Null,
        (_, Value::Bool(true)) => masked(),
        (Value::Object(values), Value::Object(marks)) => Value::Object(
            values
                .iter()
                .map(|(k, v)| (k.clone(), mask_by_marks(v, marks.get(k))))
                .collect(),
        ),
        (Value::Array(values), Value::Array(marks)) => Value::Array(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| mask_by_marks(v, marks.get(i)))
                .collect(),
        ),
        // Shapes that do not fit: mask the whole value if anything in it is marked.
        (_, marks) if marks_anything(marks) => masked(),
        _ => value.clone(),
    }
}

/// One resource's attributes with both sides' marks applied (a value sensitive on either side
/// of a change is masked on both).
pub fn mask_attributes_by_marks(
    attributes: &Map<String, Value>,
    before_marks: Option<&Value>,
    after_marks: Option<&Value>,
) -> Map<String, Value> {
    let once = mask_by_marks(&Value::Object(attributes.clone()), before_marks);
    match mask_by_marks(&once, after_marks) {
        Value::Object(map) => map,
        // The whole resource is sensitive: every attribute is masked.
        _ => attributes.keys().map(|k| (k.clone(), masked())).collect(),
    }
}

/// Masks, in a state instance's `attributes`, every path of `sensitive_attributes`. A list
/// of paths is expected (each a list of `get_attr` / `index` steps); anything else masks every
/// attribute.
pub fn mask_state_paths(attributes: &mut Map<String, Value>, sensitive: Option<&Value>) {
    match sensitive {
        None | Some(Value::Null) => {}
        Some(Value::Array(paths)) => {
            for path in paths {
                mask_state_path(attributes, path);
            }
        }
        Some(_) => mask_all(attributes),
    }
}

fn mask_all(attributes: &mut Map<String, Value>) {
    for value in attributes.values_mut() {
        if !value.is_null() {
            *value = masked();
        }
    }
}

fn mask_state_path(attributes: &mut Map<String, Value>, path: &Value) {
    let steps: Vec<&Value> = match path {
        Value::Array(steps) => steps.iter().collect(),
        // An older single-step form.
        other => vec![other],
    };
    let Some((first, rest)) = steps.split_first() else {
        return mask_all(attributes);
    };
    let Some(Step::Name(name)) = step(first) else {
        return mask_all(attributes);
    };
    if let Some(value) = attributes.get_mut(name) {
        mask_at(value, rest);
    }
}

enum Step<'a> {
    Name(&'a str),
    Index(u64),
}

/// `{"type":"get_attr","value":"name"}`, `{"type":"index","value":{"value":0,"type":"number"}}`
/// or `{"type":"index","value":{"value":"key","type":"string"}}`.
fn step(step: &Value) -> Option<Step<'_>> {
    let value = step.get("value")?;
    match step.get("type").and_then(Value::as_str) {
        Some("get_attr") => value.as_str().map(Step::Name),
        Some("index") => {
            let key = value.get("value").unwrap_or(value);
            match key {
                Value::String(name) => Some(Step::Name(name)),
                Value::Number(n) => n.as_u64().map(Step::Index),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A dynamic value as Terraform stores it (`terraform_data.input`): `{"value":…,"type":…}`.
fn is_dynamic_wrapper(node: &Value) -> bool {
    node.as_object()
        .is_some_and(|m| m.len() == 2 && m.contains_key("value") && m.contains_key("type"))
}

fn child_exists(node: &Value, step: &Step<'_>) -> bool {
    match (node, step) {
        (Value::Object(map), Step::Name(name)) => map.contains_key(*name),
        (Value::Object(map), Step::Index(i)) => map.contains_key(&i.to_string()),
        (Value::Array(items), Step::Index(i)) => usize::try_from(*i).is_ok_and(|i| i < items.len()),
        _ => false,
    }
}

fn mask_at(node: &mut Value, steps: &[&Value]) {
    if node.is_null() {
        return;
    }
    let Some((first, rest)) = steps.split_first() else {
        *node = masked();
        return;
    };
    let Some(next) = step(first) else {
        *node = masked();
        return;
    };
    let own_child = child_exists(node, &next);
    if is_dynamic_wrapper(node) {
        // The path may mean the wrapped value (its steps name parts of `value`) or, if this is
        // an ordinary object with keys `value` and `type`, the object itself: mask both, so a
        // step that happens to match the wrapper's own `type` or `value` never spares the
        // secret inside.
        if let Some(inner) = node.get_mut("value") {
            mask_at(inner, steps);
        }
        if !own_child {
            return;
        }
    } else if !own_child {
        // A path that does not fit the value: mask all of it rather than guess.
        *node = masked();
        return;
    }
    let child = match (node, next) {
        (Value::Object(map), Step::Name(name)) => map.get_mut(name),
        (Value::Object(map), Step::Index(i)) => map.get_mut(&i.to_string()),
        (Value::Array(items), Step::Index(i)) => {
            usize::try_from(i).ok().and_then(|i| items.get_mut(i))
        }
        _ => None,
    };
    if let Some(child) = child {
        mask_at(child, rest);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn plan_marks_mask_nested_parts_only() {
        let value = json!({"user": "app", "password": "hunter2", "list": ["a", "b"]});
        let marks = json!({"password": true, "list": [false, true]});
        assert_eq!(
            mask_by_marks(&value, Some(&marks)),
            json!({"user": "app", "password": SENSITIVE, "list": ["a", SENSITIVE]})
        );
        assert_eq!(mask_by_marks(&value, Some(&json!(true))), json!(SENSITIVE));
        assert_eq!(mask_by_marks(&value, Some(&json!({}))), value);
        assert_eq!(mask_by_marks(&value, None), value);
        assert_eq!(mask_by_marks(&Value::Null, Some(&json!(true))), Value::Null);
    }

    #[test]
    fn plan_marks_that_do_not_fit_mask_the_whole_value() {
        let value = json!("hunter2");
        assert_eq!(
            mask_by_marks(&value, Some(&json!({"x": true}))),
            json!(SENSITIVE)
        );
        assert_eq!(mask_by_marks(&value, Some(&json!({"x": false}))), value);
    }

    #[test]
    fn attributes_are_masked_by_either_side() {
        let attributes = json!({"a": 1, "secret": "s", "tags": {"k": "v"}});
        let Value::Object(attributes) = attributes else {
            panic!()
        };
        let masked = mask_attributes_by_marks(
            &attributes,
            Some(&json!({"secret": true})),
            Some(&json!({"tags": {"k": true}})),
        );
        assert_eq!(
            Value::Object(masked),
            json!({"a": 1, "secret": SENSITIVE, "tags": {"k": SENSITIVE}})
        );
        let all = mask_attributes_by_marks(&attributes, Some(&json!(true)), None);
        assert!(all.values().all(|v| v == SENSITIVE), "{all:?}");
    }

    fn state_attributes() -> Map<String, Value> {
        let Value::Object(map) = json!({
            "name": "x",
            "password": "hunter2",
            "tags": {"owner": "me", "token": "t0k"},
            "rules": [{"port": 1, "key": "k1"}, {"port": 2, "key": "k2"}],
            "triggers_replace": {"value": {"user": "app", "password": "pw"}, "type": ["object", {}]},
            "input": {"value": {"type": "s3cr3t", "kind": "k"}, "type": ["object", {"type": "string", "kind": "string"}]},
            "absent": null
        }) else {
            panic!()
        };
        map
    }

    fn get_attr(name: &str) -> Value {
        json!({"type": "get_attr", "value": name})
    }

    #[test]
    fn state_paths_mask_exactly_the_sensitive_leaves() {
        let mut attributes = state_attributes();
        let paths = json!([
            [get_attr("password")],
            [get_attr("tags"), {"type": "index", "value": {"value": "token", "type": "string"}}],
            [get_attr("rules"), {"type": "index", "value": {"value": 1, "type": "number"}}, get_attr("key")],
            [get_attr("triggers_replace"), get_attr("password")],
            // The wrapper's own `type` key matches the step; the secret is `value.type`.
            [get_attr("input"), get_attr("type")],
            [get_attr("absent")],
            [get_attr("not_there")]
        ]);
        mask_state_paths(&mut attributes, Some(&paths));
        assert_eq!(
            Value::Object(attributes),
            json!({
                "name": "x",
                "password": SENSITIVE,
                "tags": {"owner": "me", "token": SENSITIVE},
                "rules": [{"port": 1, "key": "k1"}, {"port": 2, "key": SENSITIVE}],
                "triggers_replace": {"value": {"user": "app", "password": SENSITIVE}, "type": ["object", {}]},
                "input": {"value": {"type": SENSITIVE, "kind": "k"}, "type": SENSITIVE},
                "absent": null
            })
        );
    }

    #[test]
    fn state_paths_that_do_not_fit_mask_more() {
        let mut attributes = state_attributes();
        let paths = json!([
            [get_attr("name"), get_attr("deeper")],
            [get_attr("tags"), {"type": "something_new", "value": 1}]
        ]);
        mask_state_paths(&mut attributes, Some(&paths));
        assert_eq!(attributes["name"], SENSITIVE);
        assert_eq!(attributes["tags"], SENSITIVE);
        assert_eq!(attributes["password"], "hunter2");

        for unreadable in [json!({"what": 1}), json!([[{"type": "?"}]]), json!([[]])] {
            let mut attributes = state_attributes();
            mask_state_paths(&mut attributes, Some(&unreadable));
            assert!(
                attributes.values().all(|v| v.is_null() || v == SENSITIVE),
                "{unreadable}: {attributes:?}"
            );
        }
    }
}
