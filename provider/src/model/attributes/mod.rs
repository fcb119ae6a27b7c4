//! The attribute tables: one declarative entry per attribute of the provider block and of
//! `zdd_rollout` (type, role, default, what a change does, which attributes the engine's
//! verdict on it reads, sensitivity, docs text). The protocol schema (`resource::schema`), the
//! registry docs (`docs`), the planned state (`model::plan`) and the state's generic handling
//! (`model::state`) are derived from them; nothing else lists attributes.

mod provider;
mod rollout;

use std::sync::LazyLock;

pub use provider::provider_schema;
pub use rollout::{
    DEFAULT_CREATE_TIMEOUT, DEFAULT_DELETE_TIMEOUT, DEFAULT_UPDATE_TIMEOUT, rollout_schema,
};

/// An attribute's type, in Terraform's terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    String,
    /// A whole number.
    Int,
    /// A fractional number.
    Float,
    Bool,
    ListOfString,
    MapOfString,
    /// A single nested object attribute (`canary = { ... }`).
    Object(Vec<Attribute>),
    /// A list of nested objects (`steps = [{ ... }]`).
    ListOfObject(Vec<Attribute>),
}

/// Who sets an attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    Required,
    Optional,
    /// Optional; when the configuration leaves it null, plan and read fill this value, so the
    /// plan shows what the engine applies (Terraform's optional + computed).
    Default(serde_json::Value),
    /// Set by the provider only; null in configuration.
    Computed(Decided),
}

/// What decides a computed attribute's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// Fixed once known (`id` at plan time; `owner_id` at create, see `model::plan`).
    Fixed,
    /// The outcome of a run that rolls out: a rollout that rolls back leaves the old value.
    ByRollout,
    /// The outcome of any run, an in-place scale included.
    ByAnyRun,
}

/// What a change of a configuration attribute makes an apply do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnChange {
    /// Terraform destroys and recreates the resource.
    Replace,
    /// A new generation replaces the active one.
    RollOut,
    /// Rolls out, except under `strategy = "canary"`, whose generations are attached to the
    /// groups of its `canary` block instead (an unknown value still rolls out: the strategy
    /// may be unknown too).
    RollOutUnlessCanary,
    /// Applied to the serving group in place: scaled to `desired_capacity` (unless scaling
    /// policies own the capacity), its health check settings, scaling policies and lifecycle
    /// hooks reconciled. New generations are created with them.
    InPlace,
    /// Only the state changes; the next rollout uses it.
    SettingOnly,
}

/// Which attributes the engine's verdict on an attribute reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Its own value and these others (e.g. the sizes are judged together).
    Reads(&'static [&'static str]),
    /// Not known: taken to depend on everything, so a new engine rule is never judged on a
    /// value Terraform does not know yet.
    ReadsAnything,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: &'static str,
    pub kind: Kind,
    pub role: Role,
    /// For top-level configuration attributes; `None` for computed and nested ones.
    pub on_change: Option<OnChange>,
    pub verdict: Verdict,
    pub sensitive: bool,
    /// Markdown for the registry docs and the protocol schema.
    pub description: String,
}

impl Attribute {
    fn new(name: &'static str, kind: Kind, role: Role, description: impl Into<String>) -> Self {
        Attribute {
            name,
            kind,
            role,
            on_change: None,
            verdict: Verdict::ReadsAnything,
            sensitive: false,
            description: description.into(),
        }
    }

    pub fn required(name: &'static str, kind: Kind, description: impl Into<String>) -> Self {
        Attribute::new(name, kind, Role::Required, description)
    }

    pub fn optional(name: &'static str, kind: Kind, description: impl Into<String>) -> Self {
        Attribute::new(name, kind, Role::Optional, description)
    }

    pub fn defaulted(
        name: &'static str,
        kind: Kind,
        default: impl Into<serde_json::Value>,
        description: impl Into<String>,
    ) -> Self {
        Attribute::new(name, kind, Role::Default(default.into()), description)
    }

    pub fn computed(
        name: &'static str,
        kind: Kind,
        decided: Decided,
        description: impl Into<String>,
    ) -> Self {
        Attribute::new(name, kind, Role::Computed(decided), description)
    }

    /// What a change of it does (top-level configuration attributes).
    #[must_use]
    pub fn on_change(mut self, on_change: OnChange) -> Self {
        self.on_change = Some(on_change);
        self
    }

    /// The engine's verdict on it reads its own value and `others`.
    #[must_use]
    pub fn judged_with(mut self, others: &'static [&'static str]) -> Self {
        self.verdict = Verdict::Reads(others);
        self
    }

    pub fn is_computed(&self) -> bool {
        matches!(self.role, Role::Computed(_))
    }

    /// The default a null value means, for [`Role::Default`] attributes.
    pub fn default_value(&self) -> Option<&serde_json::Value> {
        match &self.role {
            Role::Default(value) => Some(value),
            _ => None,
        }
    }

    /// The attributes an engine verdict on this one depends on (itself included); `None`: any.
    pub fn verdict_inputs(&self) -> Option<Vec<&'static str>> {
        match self.verdict {
            Verdict::Reads(others) => Some(
                std::iter::once(self.name)
                    .chain(others.iter().copied())
                    .collect(),
            ),
            Verdict::ReadsAnything => None,
        }
    }
}

/// A nested block (`timeouts { ... }`).
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub name: &'static str,
    pub description: String,
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SchemaDoc {
    pub description: String,
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<Block>,
}

impl SchemaDoc {
    /// A top-level attribute by name.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|attribute| attribute.name == name)
    }
}

/// The `zdd_rollout` table, built once (its descriptions are formatted from constants).
pub fn rollout() -> &'static SchemaDoc {
    static ROLLOUT: LazyLock<SchemaDoc> = LazyLock::new(rollout_schema);
    &ROLLOUT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_attribute_is_described() {
        fn check(attributes: &[Attribute]) {
            for attribute in attributes {
                assert!(
                    attribute.description.len() > 10,
                    "{} lacks a description",
                    attribute.name
                );
                if let Kind::Object(nested) | Kind::ListOfObject(nested) = &attribute.kind {
                    check(nested);
                }
            }
        }
        check(&rollout().attributes);
        check(&provider_schema().attributes);
    }

    /// Every configuration attribute says what its change does; computed ones do not (their
    /// values are the outcome's), nor do nested ones (their parent's entry does).
    #[test]
    fn exactly_the_top_level_configuration_attributes_say_what_a_change_does() {
        for attribute in &rollout().attributes {
            assert_eq!(
                attribute.on_change.is_some(),
                !attribute.is_computed(),
                "{}",
                attribute.name
            );
            if let Kind::Object(nested) | Kind::ListOfObject(nested) = &attribute.kind {
                assert!(nested.iter().all(|child| child.on_change.is_none()));
            }
        }
    }

    /// The table and the typed model name the same attributes, and an attribute the table
    /// requires is one the model always has (a plain field, never null), while the others are
    /// null until set.
    #[test]
    fn the_table_and_the_typed_model_agree() {
        let model = serde_json::to_value(crate::model::RolloutModel::default()).unwrap();
        let model = model.as_object().unwrap();
        let mut model_names: Vec<&str> = model.keys().map(String::as_str).collect();
        let mut table_names: Vec<&str> = rollout()
            .attributes
            .iter()
            .map(|attribute| attribute.name)
            .chain(rollout().blocks.iter().map(|block| block.name))
            .collect();
        model_names.sort_unstable();
        table_names.sort_unstable();
        assert_eq!(model_names, table_names);
        for attribute in &rollout().attributes {
            assert_eq!(
                model[attribute.name].is_null(),
                attribute.role != Role::Required,
                "{}: the model's field and the table's role disagree",
                attribute.name
            );
        }
        // The configuration attributes are exactly the engine's raw input; the computed ones
        // and the blocks are the provider's own.
        let raw = serde_json::to_value(zdd_rollout::RawSpec::default()).unwrap();
        let mut raw_names: Vec<&str> = raw
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut configuration: Vec<&str> = rollout()
            .attributes
            .iter()
            .filter(|attribute| !attribute.is_computed())
            .map(|attribute| attribute.name)
            .collect();
        raw_names.sort_unstable();
        configuration.sort_unstable();
        assert_eq!(raw_names, configuration);
    }

    /// The default a plan (and Read) fills in is the one the engine applies to a null: the
    /// spec the engine validates is the same either way, whatever the strategy.
    #[test]
    fn the_defaults_a_plan_shows_are_the_ones_the_engine_applies() {
        use crate::model::state::State;
        for strategy in ["blue_green", "rolling"] {
            let mut sample = State::from_model(&crate::model::rollout::sample_applied());
            sample.set("strategy", serde_json::json!(strategy));
            sample.set("max_size", serde_json::json!(6));
            for attribute in &rollout().attributes {
                let Some(default) = attribute.default_value() else {
                    continue;
                };
                let spec = |value: serde_json::Value| {
                    let mut state = sample.clone();
                    state.set(attribute.name, value);
                    let model = state.to_model().unwrap();
                    zdd_rollout::RolloutSpec::validate(&model.spec).unwrap()
                };
                assert_eq!(
                    spec(serde_json::Value::Null),
                    spec(default.clone()),
                    "{} under {strategy}",
                    attribute.name
                );
            }
        }
    }

    /// The same for the defaults inside list elements: a plan that fills them validates to the
    /// spec the engine builds from the nulls.
    #[test]
    fn the_nested_defaults_a_plan_shows_are_the_ones_the_engine_applies() {
        use crate::model::state::State;
        let mut config = State::from_model(&crate::model::rollout::sample_applied());
        config.set(
            "target_tracking",
            serde_json::json!([{"name": "cpu", "predefined_metric": "ASGAverageCPUUtilization", "target_value": 50, "disable_scale_in": null}]),
        );
        config.set(
            "lifecycle_hooks",
            serde_json::json!([{"name": "drain", "transition": "terminating", "heartbeat_timeout": null, "default_result": null}]),
        );
        let mut planned = config.clone();
        planned.fill_defaults(&config);
        assert_ne!(planned, config, "the plan shows the nested defaults");
        let spec = |state: &State| {
            zdd_rollout::RolloutSpec::validate(&state.to_model().unwrap().spec).unwrap()
        };
        assert_eq!(spec(&planned), spec(&config));
    }

    /// A verdict can only read attributes that exist.
    #[test]
    fn verdicts_read_existing_attributes() {
        for attribute in &rollout().attributes {
            for input in attribute.verdict_inputs().unwrap_or_default() {
                assert!(rollout().attribute(input).is_some(), "{input}");
            }
        }
    }
}
