//! Finding the `zdd_rollout` resources in a state, whichever of Terraform's two shapes it has:
//! the raw state (the backend's object, `terraform.tfstate`: `resources[].instances[]
//! .attributes`) or `terraform show -json` (`values.root_module.resources[].values`, modules
//! under `child_modules`, recursively).

use serde_json::Value;

use super::ReportError;

/// The resource type the report draws.
pub const ROLLOUT_TYPE: &str = "zdd_rollout";

/// One `zdd_rollout` instance: its address and its attributes as the state holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutResource {
    /// `zdd_rollout.web`, `module.api.zdd_rollout.this["eu"]`.
    pub address: String,
    pub attributes: Value,
}

/// Every managed `zdd_rollout` instance of the state, in the state's order.
pub fn rollout_resources(state: &Value) -> Result<Vec<RolloutResource>, ReportError> {
    if let Some(resources) = state.get("resources").and_then(Value::as_array) {
        return Ok(raw_state_rollouts(resources));
    }
    if let Some(root) = state
        .get("values")
        .and_then(|values| values.get("root_module"))
    {
        let mut found = Vec::new();
        show_json_rollouts(root, &mut found);
        return Ok(found);
    }
    if state.get("format_version").is_some() && state.get("values").is_none() {
        // `terraform show -json` of an empty state has no `values` at all.
        return Ok(Vec::new());
    }
    Err(ReportError::NotAState)
}

/// The raw state: `resources[]` with `mode`, `module`, `type`, `name` and `instances[]`
/// (`index_key`, `attributes`). Deposed instances are not the resource's current object.
fn raw_state_rollouts(resources: &[Value]) -> Vec<RolloutResource> {
    let mut found = Vec::new();
    for resource in resources {
        let is_rollout = resource.get("type").and_then(Value::as_str) == Some(ROLLOUT_TYPE)
            && resource.get("mode").and_then(Value::as_str) != Some("data");
        if !is_rollout {
            continue;
        }
        let name = resource.get("name").and_then(Value::as_str).unwrap_or("?");
        let module = resource.get("module").and_then(Value::as_str);
        let base = match module {
            Some(module) if !module.is_empty() => format!("{module}.{ROLLOUT_TYPE}.{name}"),
            _ => format!("{ROLLOUT_TYPE}.{name}"),
        };
        let instances = resource.get("instances").and_then(Value::as_array);
        for instance in instances.into_iter().flatten() {
            if instance.get("deposed").is_some() {
                continue;
            }
            let Some(attributes) = instance.get("attributes") else {
                continue;
            };
            found.push(RolloutResource {
                address: format!("{base}{}", index_suffix(instance.get("index_key"))),
                attributes: attributes.clone(),
            });
        }
    }
    found
}

/// `[0]` or `["eu"]` as Terraform writes an instance's index in its address.
fn index_suffix(key: Option<&Value>) -> String {
    match key {
        Some(Value::Number(number)) => format!("[{number}]"),
        Some(Value::String(text)) => format!("[{}]", Value::String(text.clone())),
        _ => String::new(),
    }
}

/// `terraform show -json`: each module's `resources[]` carry their full `address`.
fn show_json_rollouts(module: &Value, found: &mut Vec<RolloutResource>) {
    let resources = module.get("resources").and_then(Value::as_array);
    for resource in resources.into_iter().flatten() {
        let is_rollout = resource.get("type").and_then(Value::as_str) == Some(ROLLOUT_TYPE)
            && resource.get("mode").and_then(Value::as_str) != Some("data");
        if !is_rollout {
            continue;
        }
        let (Some(address), Some(values)) = (
            resource.get("address").and_then(Value::as_str),
            resource.get("values"),
        ) else {
            continue;
        };
        found.push(RolloutResource {
            address: address.to_string(),
            attributes: values.clone(),
        });
    }
    let children = module.get("child_modules").and_then(Value::as_array);
    for child in children.into_iter().flatten() {
        show_json_rollouts(child, found);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn raw_state_addresses_carry_module_and_index() {
        let state = json!({
            "version": 4,
            "resources": [
                {"mode": "managed", "type": "aws_instance", "name": "web", "instances": [{"attributes": {}}]},
                {"mode": "data", "type": "zdd_rollout", "name": "seen", "instances": [{"attributes": {}}]},
                {"mode": "managed", "type": "zdd_rollout", "name": "web",
                 "instances": [{"attributes": {"name": "web"}}]},
                {"module": "module.api[\"eu\"]", "mode": "managed", "type": "zdd_rollout", "name": "this",
                 "instances": [
                    {"index_key": 0, "attributes": {"name": "api-0"}},
                    {"index_key": "b", "attributes": {"name": "api-b"}},
                    {"index_key": 1, "deposed": "00abc", "attributes": {"name": "old"}}
                 ]}
            ]
        });
        let found = rollout_resources(&state).unwrap();
        let addresses: Vec<&str> = found.iter().map(|r| r.address.as_str()).collect();
        assert_eq!(
            addresses,
            [
                "zdd_rollout.web",
                "module.api[\"eu\"].zdd_rollout.this[0]",
                "module.api[\"eu\"].zdd_rollout.this[\"b\"]"
            ]
        );
        assert_eq!(found[2].attributes["name"], "api-b");
    }

    #[test]
    fn show_json_is_walked_through_child_modules() {
        let state = json!({
            "format_version": "1.0",
            "values": {"root_module": {
                "resources": [{"address": "zdd_rollout.web", "mode": "managed", "type": "zdd_rollout",
                               "name": "web", "values": {"name": "web"}}],
                "child_modules": [{"address": "module.a", "child_modules": [{
                    "address": "module.a.module.b",
                    "resources": [{"address": "module.a.module.b.zdd_rollout.x", "mode": "managed",
                                   "type": "zdd_rollout", "name": "x", "values": {"name": "x"}}]
                }]}]
            }}
        });
        let found = rollout_resources(&state).unwrap();
        let addresses: Vec<&str> = found.iter().map(|r| r.address.as_str()).collect();
        assert_eq!(
            addresses,
            ["zdd_rollout.web", "module.a.module.b.zdd_rollout.x"]
        );
    }

    #[test]
    fn an_empty_show_json_has_no_rollouts_and_other_json_is_not_a_state() {
        assert_eq!(
            rollout_resources(&json!({"format_version": "1.0"})).unwrap(),
            vec![]
        );
        assert!(matches!(
            rollout_resources(&json!({"hello": "world"})),
            Err(ReportError::NotAState)
        ));
        assert!(matches!(
            rollout_resources(&json!([1, 2])),
            Err(ReportError::NotAState)
        ));
    }
}
