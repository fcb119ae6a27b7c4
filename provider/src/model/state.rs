//! The `zdd_rollout` state as Terraform hands it over: one JSON object, each attribute's value
//! possibly holding tfplugin's unknown marker at any depth while planning (an ARN of a resource
//! not created yet, a computed value). Everything here is generic, driven by the attribute
//! table ([`super::attributes`]); the typed [`RolloutModel`] is what the rest of the provider
//! reads.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use zdd_rollout::PathStep;
use zdd_tfplugin::codec::json::{is_unknown_marker, unknown_marker};

use super::attributes::{self, Attribute, Decided, Kind, OnChange, Role};
use super::rollout::RolloutModel;

/// The resource's state (or configuration, or plan): attribute name to value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct State(Map<String, Json>);

impl State {
    /// An attribute's value; `None` when absent (which Terraform means as null).
    pub fn get(&self, name: &str) -> Option<&Json> {
        self.0.get(name)
    }

    pub fn set(&mut self, name: &str, value: Json) {
        self.0.insert(name.to_string(), value);
    }

    /// A string attribute's known value.
    pub fn known_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Json::as_str)
    }

    /// Null, or absent.
    pub fn is_null(&self, name: &str) -> bool {
        self.get(name).is_none_or(Json::is_null)
    }

    /// Top-level attributes whose value (or any part of it) is not known yet.
    pub fn unknown_attributes(&self) -> BTreeSet<String> {
        self.0
            .iter()
            .filter(|(_, value)| holds_unknown(value))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// A copy in which every unknown ARN (a member named `*_arn` below a top-level attribute,
    /// or an element of a list named `*_arns` at any level) is a placeholder unique to its path, and those
    /// paths. ARNs are only compared with each other or checked for their form, so a
    /// placeholder, equal to nothing, decides no verdict but those on its own path, which the
    /// caller holds back: a canary whose listener is created in the same apply still has its
    /// steps judged at plan. Any other unknown keeps its attribute unknown.
    pub fn with_unknown_arns_as_placeholders(&self) -> (State, Vec<Vec<PathStep>>) {
        let mut state = self.clone();
        let mut replaced = Vec::new();
        for (name, value) in &mut state.0 {
            let mut path = vec![PathStep::Attribute(name.clone())];
            match value {
                // A list of ARNs whose length is known (`[aws_lb_target_group.web.arn]`).
                Json::Array(items) if name.ends_with("_arns") => {
                    replace_unknown_list_items(items, &mut path, &mut replaced);
                }
                _ => replace_unknown_arns(value, &mut path, &mut replaced),
            }
        }
        (state, replaced)
    }

    /// The typed model. An attribute holding an unknown anywhere is read as absent (empty or
    /// `None`): callers consult [`State::unknown_attributes`] before judging it. Fails only on
    /// a value of the wrong type (a fraction where a whole number is expected).
    pub fn to_model(&self) -> Result<RolloutModel, serde_json::Error> {
        let known: Map<String, Json> = self
            .0
            .iter()
            .filter(|(_, value)| !value.is_null() && !holds_unknown(value))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        serde_json::from_value(Json::Object(known))
    }

    /// A fully known state from the model (null where the model has nothing).
    pub fn from_model(model: &RolloutModel) -> State {
        match serde_json::to_value(model) {
            Ok(Json::Object(attributes)) => State(attributes),
            // A struct of strings, numbers and maps with string keys always serializes to an
            // object; an empty state would only make Terraform report the inconsistency.
            _ => State::default(),
        }
    }

    /// Fills the table's default into each defaulted attribute the configuration leaves null,
    /// at any depth (inside a nested object and each element of a list of objects), so the
    /// plan shows what the engine applies.
    pub fn fill_defaults(&mut self, config: &State) {
        fill_object(&attributes::rollout().attributes, &mut self.0, &config.0);
    }

    /// Fills the table's default into each defaulted attribute that is null (an imported
    /// state has no settings yet: Read shows the defaults a plan would fill).
    pub fn fill_null_defaults(&mut self) {
        let current = self.clone();
        self.fill_defaults(&current);
    }

    /// Every computed attribute as the prior state has it.
    pub fn keep_computed(&mut self, prior: &State) {
        for attribute in &attributes::rollout().attributes {
            if attribute.is_computed() {
                self.set(
                    attribute.name,
                    prior.get(attribute.name).cloned().unwrap_or(Json::Null),
                );
            }
        }
    }

    /// Marks these attributes unknown ("known after apply").
    pub fn plan_unknown(&mut self, names: &[&str]) {
        for name in names {
            self.set(name, unknown_marker());
        }
    }
}

/// The computed attributes a run decides: a plan must show them as unknown.
pub fn decided_by(runs_a_rollout: bool) -> Vec<&'static str> {
    attributes::rollout()
        .attributes
        .iter()
        .filter(|attribute| match attribute.role {
            Role::Computed(Decided::ByAnyRun) => true,
            Role::Computed(Decided::ByRollout) => runs_a_rollout,
            _ => false,
        })
        .map(|attribute| attribute.name)
        .collect()
}

/// The configuration attributes whose change does `on_change`.
pub fn changing(on_change: impl Fn(OnChange) -> bool) -> Vec<&'static str> {
    attributes::rollout()
        .attributes
        .iter()
        .filter(|attribute| attribute.on_change.is_some_and(&on_change))
        .map(|attribute| attribute.name)
        .collect()
}

/// The computed attributes: null in configuration, never "unknown because of the user".
pub fn computed() -> Vec<&'static str> {
    attributes::rollout()
        .attributes
        .iter()
        .filter(|attribute| attribute.is_computed())
        .map(|attribute| attribute.name)
        .collect()
}

/// The defaults of `attributes` into `planned` where `config` leaves them null. Nested values
/// are filled element by element: a planned list of objects has the configuration's elements
/// in its order. A value not known yet is left alone (nothing inside it is known either).
fn fill_object(
    attributes: &[Attribute],
    planned: &mut Map<String, Json>,
    config: &Map<String, Json>,
) {
    for attribute in attributes {
        let configured = config.get(attribute.name);
        match (attribute.default_value(), configured) {
            (Some(default), None | Some(Json::Null)) => {
                planned.insert(attribute.name.to_string(), default.clone());
            }
            (_, Some(configured)) => {
                if let Some(planned) = planned.get_mut(attribute.name) {
                    fill_nested(&attribute.kind, planned, configured);
                }
            }
            (None, None) => {}
        }
    }
}

fn fill_nested(kind: &Kind, planned: &mut Json, config: &Json) {
    if is_unknown_marker(planned) || is_unknown_marker(config) {
        return;
    }
    match (kind, planned, config) {
        (Kind::Object(children), Json::Object(planned), Json::Object(config)) => {
            fill_object(children, planned, config);
        }
        (Kind::ListOfObject(children), Json::Array(planned), Json::Array(config)) => {
            for (planned, config) in planned.iter_mut().zip(config) {
                if is_unknown_marker(planned) || is_unknown_marker(config) {
                    continue;
                }
                if let (Json::Object(planned), Json::Object(config)) = (planned, config) {
                    fill_object(children, planned, config);
                }
            }
        }
        _ => {}
    }
}

/// Replaces the unknown at `slot` by a placeholder naming `path`, and records the path.
fn place_arn_placeholder(slot: &mut Json, path: &[PathStep], replaced: &mut Vec<Vec<PathStep>>) {
    let rendered: Vec<String> = path
        .iter()
        .map(|step| match step {
            PathStep::Attribute(name) => format!(".{name}"),
            PathStep::Index(index) => format!("[{index}]"),
            PathStep::Key(key) => format!("[{key:?}]"),
        })
        .collect();
    *slot = Json::String(format!("(known after apply){}", rendered.concat()));
    replaced.push(path.to_vec());
}

/// The unknown elements of a list of ARNs as placeholders.
fn replace_unknown_list_items(
    items: &mut [Json],
    path: &mut Vec<PathStep>,
    replaced: &mut Vec<Vec<PathStep>>,
) {
    for (index, item) in items.iter_mut().enumerate() {
        path.push(PathStep::Index(index));
        if is_unknown_marker(item) {
            place_arn_placeholder(item, path, replaced);
        }
        path.pop();
    }
}

fn replace_unknown_arns(
    value: &mut Json,
    path: &mut Vec<PathStep>,
    replaced: &mut Vec<Vec<PathStep>>,
) {
    match value {
        Json::Object(members) => {
            for (name, member) in members.iter_mut() {
                path.push(PathStep::Attribute(name.clone()));
                if is_unknown_marker(member) {
                    if name.ends_with("_arn") {
                        place_arn_placeholder(member, path, replaced);
                    }
                } else if let (true, Json::Array(items)) = (name.ends_with("_arns"), &mut *member) {
                    replace_unknown_list_items(items, path, replaced);
                } else {
                    replace_unknown_arns(member, path, replaced);
                }
                path.pop();
            }
        }
        Json::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                path.push(PathStep::Index(index));
                replace_unknown_arns(item, path, replaced);
                path.pop();
            }
        }
        _ => {}
    }
}

fn holds_unknown(value: &Json) -> bool {
    if is_unknown_marker(value) {
        return true;
    }
    match value {
        Json::Array(items) => items.iter().any(holds_unknown),
        Json::Object(entries) => entries.values().any(holds_unknown),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::rollout::sample_applied;

    fn state(value: Json) -> State {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn an_unknown_at_any_depth_marks_its_top_level_attribute() {
        let unknown = unknown_marker();
        let planned = state(json!({
            "name": "web",
            "subnet_ids": ["subnet-a", unknown],
            "generation": unknown,
            "canary": {"listener_arn": unknown, "steps": null},
            "tags": {"team": "web"},
            "last_rollout": {"steps": [{"at": "t", "action": unknown}]},
        }));
        assert_eq!(
            planned.unknown_attributes(),
            BTreeSet::from(
                ["subnet_ids", "generation", "canary", "last_rollout"].map(String::from)
            )
        );
    }

    #[test]
    fn an_attribute_holding_an_unknown_reads_as_absent() {
        let mut planned = State::from_model(&sample_applied());
        planned.set("subnet_ids", json!(["subnet-a", unknown_marker()]));
        planned.set("tags", json!({"team": unknown_marker()}));
        planned.set("desired_capacity", unknown_marker());
        let model = planned.to_model().unwrap();
        assert_eq!(model.spec.subnet_ids, Vec::<String>::new());
        assert_eq!(model.spec.tags, None);
        assert_eq!(model.spec.desired_capacity, 0);
        assert_eq!(model.spec.name, "web");
    }

    #[test]
    fn the_model_round_trips_and_every_attribute_is_written() {
        let model = sample_applied();
        let state = State::from_model(&model);
        assert_eq!(state.to_model().unwrap(), model);
        for attribute in &attributes::rollout().attributes {
            assert!(state.get(attribute.name).is_some(), "{}", attribute.name);
        }
    }

    #[test]
    fn a_value_of_the_wrong_type_is_an_error() {
        let mut planned = State::from_model(&sample_applied());
        planned.set("min_size", json!(2.5));
        assert!(planned.to_model().is_err());
    }

    #[test]
    fn defaults_fill_what_the_configuration_leaves_null() {
        let config = state(json!({"strategy": "rolling", "batch_size": null}));
        let mut planned = state(json!({"strategy": "rolling", "batch_size": null}));
        planned.fill_defaults(&config);
        assert_eq!(planned.get("strategy"), Some(&json!("rolling")));
        assert_eq!(planned.get("batch_size"), Some(&json!(1)));
        assert_eq!(planned.get("min_healthy_percent"), Some(&json!(100)));
        assert_eq!(planned.get("health_timeout"), Some(&json!("10m")));
        assert_eq!(planned.get("rollback_on_failure"), Some(&json!(true)));
        // An unknown configured value stays unknown: it is not null.
        let config = state(json!({"strategy": unknown_marker()}));
        let mut planned = config.clone();
        planned.fill_defaults(&config);
        assert_eq!(planned.get("strategy"), Some(&unknown_marker()));

        let mut read = state(json!({"strategy": "canary"}));
        read.fill_null_defaults();
        assert_eq!(read.get("strategy"), Some(&json!("canary")));
        assert_eq!(read.get("batch_size"), Some(&json!(1)));
    }

    /// A list element's defaulted attributes are filled where its configuration leaves them
    /// null, element by element; a value the configuration sets, an unknown element and an
    /// unknown list stay as they are.
    #[test]
    fn nested_defaults_fill_each_list_element() {
        let config = state(json!({
            "lifecycle_hooks": [
                {"name": "drain", "transition": "terminating", "heartbeat_timeout": null, "default_result": null},
                {"name": "warm", "transition": "launching", "heartbeat_timeout": "5m", "default_result": "CONTINUE"},
                unknown_marker(),
            ],
            "target_tracking": unknown_marker(),
        }));
        // Terraform proposes computed nested values it does not know as unknown.
        let mut planned = state(json!({
            "lifecycle_hooks": [
                {"name": "drain", "transition": "terminating", "heartbeat_timeout": unknown_marker(), "default_result": unknown_marker()},
                {"name": "warm", "transition": "launching", "heartbeat_timeout": "5m", "default_result": "CONTINUE"},
                unknown_marker(),
            ],
            "target_tracking": unknown_marker(),
        }));
        planned.fill_defaults(&config);
        assert_eq!(
            planned.get("lifecycle_hooks"),
            Some(&json!([
                {"name": "drain", "transition": "terminating", "heartbeat_timeout": "1h", "default_result": "ABANDON"},
                {"name": "warm", "transition": "launching", "heartbeat_timeout": "5m", "default_result": "CONTINUE"},
                unknown_marker(),
            ]))
        );
        assert_eq!(planned.get("target_tracking"), Some(&unknown_marker()));

        let config = state(json!({"target_tracking": [
            {"name": "cpu", "predefined_metric": "ASGAverageCPUUtilization", "target_value": 50, "disable_scale_in": null},
        ]}));
        let mut planned = config.clone();
        planned.fill_defaults(&config);
        assert_eq!(
            planned.get("target_tracking").unwrap()[0]["disable_scale_in"],
            json!(false)
        );
        // An imported state's hooks get theirs too.
        let mut read =
            state(json!({"lifecycle_hooks": [{"name": "drain", "transition": "terminating"}]}));
        read.fill_null_defaults();
        assert_eq!(
            read.get("lifecycle_hooks").unwrap()[0]["heartbeat_timeout"],
            json!("1h")
        );
        // The canary block's optional settings have no default to fill: the engine applies
        // `max_5xx_ratio`'s when it is null.
        let config = state(json!({"canary": {"listener_arn": "arn:l", "max_5xx_ratio": null}}));
        let mut planned = config.clone();
        planned.fill_defaults(&config);
        assert_eq!(planned.get("canary").unwrap()["max_5xx_ratio"], Json::Null);
    }

    #[test]
    fn computed_attributes_are_kept_and_planned_unknown_from_the_table() {
        let prior = State::from_model(&sample_applied());
        let mut planned = state(json!({"name": "web"}));
        planned.keep_computed(&prior);
        for name in computed() {
            assert_eq!(planned.get(name), prior.get(name), "{name}");
        }
        assert_eq!(decided_by(false), vec!["current_capacity", "last_rollout"]);
        assert_eq!(
            decided_by(true),
            vec![
                "generation",
                "active_asg_name",
                "active_launch_template_version",
                "current_capacity",
                "last_rollout"
            ]
        );
        planned.plan_unknown(&decided_by(false));
        assert_eq!(
            planned.unknown_attributes(),
            BTreeSet::from(["current_capacity".to_string(), "last_rollout".to_string()])
        );
    }
}
