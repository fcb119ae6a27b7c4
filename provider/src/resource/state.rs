//! The `zdd_rollout` state as the protocol layer sees it: every attribute may be unknown
//! while planning (an ARN from a resource not created yet, a computed value), so fields are
//! `Val<T>`. Converted to and from the plain [`RolloutModel`] in this one place.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use zdd_tfplugin::{Timeouts, Val};

use crate::model::RolloutModel;
use crate::model::rollout::{CanaryConfig, CanaryStepConfig, LastRollout, TimeoutsConfig};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RolloutState {
    pub id: Val<String>,
    pub name: Val<String>,
    pub launch_template_id: Val<String>,
    pub launch_template_version: Val<String>,
    pub subnet_ids: Val<Vec<Val<String>>>,
    pub target_group_arns: Val<Vec<Val<String>>>,
    pub min_size: Val<i64>,
    pub max_size: Val<i64>,
    pub desired_capacity: Val<i64>,
    pub strategy: Val<String>,
    pub min_healthy_percent: Val<i64>,
    pub batch_size: Val<i64>,
    pub canary: Val<CanaryState>,
    pub health_timeout: Val<String>,
    pub rollback_on_failure: Val<bool>,
    pub tags: Val<BTreeMap<String, Val<String>>>,
    pub generation: Val<i64>,
    pub active_asg_name: Val<String>,
    pub active_launch_template_version: Val<String>,
    pub last_rollout: Val<LastRollout>,
    /// Absent in states written before owner ids.
    #[serde(default)]
    pub owner_id: Val<String>,
    #[serde(default)]
    pub timeouts: Option<Timeouts>,
}

impl RolloutState {
    /// Top-level attributes whose value (or any part of it) is not known yet.
    pub fn unknown_attributes(&self) -> BTreeSet<String> {
        let list_unknown = |values: &Val<Vec<Val<String>>>| {
            values.is_unknown()
                || values
                    .known()
                    .is_some_and(|values| values.iter().any(Val::is_unknown))
        };
        let checks: [(&str, bool); 21] = [
            ("id", self.id.is_unknown()),
            ("name", self.name.is_unknown()),
            ("launch_template_id", self.launch_template_id.is_unknown()),
            (
                "launch_template_version",
                self.launch_template_version.is_unknown(),
            ),
            ("subnet_ids", list_unknown(&self.subnet_ids)),
            ("target_group_arns", list_unknown(&self.target_group_arns)),
            ("min_size", self.min_size.is_unknown()),
            ("max_size", self.max_size.is_unknown()),
            ("desired_capacity", self.desired_capacity.is_unknown()),
            ("strategy", self.strategy.is_unknown()),
            ("min_healthy_percent", self.min_healthy_percent.is_unknown()),
            ("batch_size", self.batch_size.is_unknown()),
            (
                "canary",
                self.canary.is_unknown()
                    || self
                        .canary
                        .known()
                        .is_some_and(|canary| !canary.is_fully_known()),
            ),
            ("health_timeout", self.health_timeout.is_unknown()),
            ("rollback_on_failure", self.rollback_on_failure.is_unknown()),
            (
                "tags",
                self.tags.is_unknown()
                    || self
                        .tags
                        .known()
                        .is_some_and(|tags| tags.values().any(Val::is_unknown)),
            ),
            ("generation", self.generation.is_unknown()),
            ("active_asg_name", self.active_asg_name.is_unknown()),
            (
                "active_launch_template_version",
                self.active_launch_template_version.is_unknown(),
            ),
            ("last_rollout", self.last_rollout.is_unknown()),
            ("owner_id", self.owner_id.is_unknown()),
        ];
        checks
            .into_iter()
            .filter(|(_, unknown)| *unknown)
            .map(|(name, _)| name.to_string())
            .collect()
    }

    /// The plain model; unknown values become empty/None (callers consult
    /// [`RolloutState::unknown_attributes`] before judging them).
    pub fn to_model(&self) -> RolloutModel {
        let text = |value: &Val<String>| value.known().cloned().unwrap_or_default();
        RolloutModel {
            id: self.id.known().cloned(),
            name: text(&self.name),
            launch_template_id: text(&self.launch_template_id),
            launch_template_version: text(&self.launch_template_version),
            subnet_ids: all_known(&self.subnet_ids).unwrap_or_default(),
            target_group_arns: all_known(&self.target_group_arns),
            min_size: self.min_size.known().copied().unwrap_or_default(),
            max_size: self.max_size.known().copied().unwrap_or_default(),
            desired_capacity: self.desired_capacity.known().copied().unwrap_or_default(),
            strategy: self.strategy.known().cloned(),
            min_healthy_percent: self.min_healthy_percent.known().copied(),
            batch_size: self.batch_size.known().copied(),
            canary: self.canary.known().and_then(CanaryState::to_config),
            health_timeout: self.health_timeout.known().cloned(),
            rollback_on_failure: self.rollback_on_failure.known().copied(),
            tags: self.tags.known().and_then(|tags| {
                tags.iter()
                    .map(|(key, value)| Some((key.clone(), value.known()?.clone())))
                    .collect()
            }),
            timeouts: self.timeouts.as_ref().map(|timeouts| TimeoutsConfig {
                create: timeouts.create.clone(),
                update: timeouts.update.clone(),
                delete: timeouts.delete.clone(),
            }),
            generation: self.generation.known().copied(),
            active_asg_name: self.active_asg_name.known().cloned(),
            active_launch_template_version: self.active_launch_template_version.known().cloned(),
            last_rollout: self.last_rollout.known().cloned(),
            owner_id: self.owner_id.known().cloned(),
        }
    }

    /// A fully known state from the model (nulls where the model has none).
    pub fn from_model(model: &RolloutModel) -> RolloutState {
        RolloutState {
            id: model.id.clone().into(),
            name: Val::Known(model.name.clone()),
            launch_template_id: Val::Known(model.launch_template_id.clone()),
            launch_template_version: Val::Known(model.launch_template_version.clone()),
            subnet_ids: known_list(Some(model.subnet_ids.clone())),
            target_group_arns: known_list(model.target_group_arns.clone()),
            min_size: Val::Known(model.min_size),
            max_size: Val::Known(model.max_size),
            desired_capacity: Val::Known(model.desired_capacity),
            strategy: model.strategy.clone().into(),
            min_healthy_percent: model.min_healthy_percent.into(),
            batch_size: model.batch_size.into(),
            canary: model.canary.as_ref().map(CanaryState::from_config).into(),
            health_timeout: model.health_timeout.clone().into(),
            rollback_on_failure: model.rollback_on_failure.into(),
            tags: model
                .tags
                .as_ref()
                .map(|tags| {
                    tags.iter()
                        .map(|(key, value)| (key.clone(), Val::Known(value.clone())))
                        .collect()
                })
                .into(),
            generation: model.generation.into(),
            active_asg_name: model.active_asg_name.clone().into(),
            active_launch_template_version: model.active_launch_template_version.clone().into(),
            last_rollout: model.last_rollout.clone().into(),
            owner_id: model.owner_id.clone().into(),
            timeouts: model.timeouts.as_ref().map(|timeouts| Timeouts {
                create: timeouts.create.clone(),
                read: None,
                update: timeouts.update.clone(),
                delete: timeouts.delete.clone(),
            }),
        }
    }
}

/// `canary = { ... }`: its ARNs usually come from resources created in the same apply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CanaryState {
    pub listener_arn: Val<String>,
    pub stable_target_group_arn: Val<String>,
    pub canary_target_group_arn: Val<String>,
    pub steps: Val<Vec<Val<CanaryStepState>>>,
    pub alarm_names: Val<Vec<Val<String>>>,
    pub max_5xx_ratio: Val<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CanaryStepState {
    pub weight: Val<i64>,
    pub soak: Val<String>,
}

/// A list whose every element is known, else `None`.
fn all_known<T: Clone>(values: &Val<Vec<Val<T>>>) -> Option<Vec<T>> {
    values
        .known()?
        .iter()
        .map(|value| value.known().cloned())
        .collect()
}

fn known_list<T>(values: Option<Vec<T>>) -> Val<Vec<Val<T>>> {
    values.map_or(Val::Null, |values| {
        Val::Known(values.into_iter().map(Val::Known).collect())
    })
}

impl CanaryState {
    fn is_fully_known(&self) -> bool {
        self.to_config().is_some()
    }

    fn to_config(&self) -> Option<CanaryConfig> {
        let steps = match &self.steps {
            Val::Null => None,
            Val::Unknown => return None,
            Val::Known(steps) => Some(
                steps
                    .iter()
                    .map(|step| {
                        let step = step.known()?;
                        Some(CanaryStepConfig {
                            weight: *step.weight.known()?,
                            soak: step.soak.known()?.clone(),
                        })
                    })
                    .collect::<Option<Vec<_>>>()?,
            ),
        };
        let alarm_names = match &self.alarm_names {
            Val::Null => None,
            Val::Unknown => return None,
            known => Some(all_known(known)?),
        };
        if self.max_5xx_ratio.is_unknown() {
            return None;
        }
        Some(CanaryConfig {
            listener_arn: self.listener_arn.known()?.clone(),
            stable_target_group_arn: self.stable_target_group_arn.known()?.clone(),
            canary_target_group_arn: self.canary_target_group_arn.known()?.clone(),
            steps,
            alarm_names,
            max_5xx_ratio: self.max_5xx_ratio.known().copied(),
        })
    }

    fn from_config(config: &CanaryConfig) -> CanaryState {
        CanaryState {
            listener_arn: Val::Known(config.listener_arn.clone()),
            stable_target_group_arn: Val::Known(config.stable_target_group_arn.clone()),
            canary_target_group_arn: Val::Known(config.canary_target_group_arn.clone()),
            steps: known_list(config.steps.as_ref().map(|steps| {
                steps
                    .iter()
                    .map(|step| CanaryStepState {
                        weight: Val::Known(step.weight),
                        soak: Val::Known(step.soak.clone()),
                    })
                    .collect()
            })),
            alarm_names: known_list(config.alarm_names.clone()),
            max_5xx_ratio: config.max_5xx_ratio.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_list_elements_mark_the_attribute_unknown() {
        let state = RolloutState {
            name: Val::Known("web".into()),
            subnet_ids: Val::Known(vec![Val::Known("subnet-a".into()), Val::Unknown]),
            generation: Val::Unknown,
            canary: Val::Known(CanaryState {
                listener_arn: Val::Unknown,
                ..CanaryState::default()
            }),
            ..RolloutState::default()
        };
        let unknown = state.unknown_attributes();
        assert!(unknown.contains("subnet_ids"));
        assert!(unknown.contains("generation"));
        assert!(unknown.contains("canary"));
        assert!(!unknown.contains("name"));
    }

    #[test]
    fn model_round_trip() {
        let model = RolloutModel {
            id: Some("web".into()),
            name: "web".into(),
            launch_template_id: "lt-1".into(),
            launch_template_version: "3".into(),
            subnet_ids: vec!["subnet-a".into()],
            target_group_arns: Some(vec!["arn:tg".into()]),
            min_size: 1,
            max_size: 3,
            desired_capacity: 2,
            canary: Some(CanaryConfig {
                listener_arn: "arn:l".into(),
                stable_target_group_arn: "arn:b".into(),
                canary_target_group_arn: "arn:g".into(),
                steps: Some(vec![CanaryStepConfig {
                    weight: 100,
                    soak: "0s".into(),
                }]),
                alarm_names: None,
                max_5xx_ratio: Some(0.05),
            }),
            tags: Some(BTreeMap::from([("team".to_string(), "web".to_string())])),
            generation: Some(2),
            owner_id: Some("0123456789abcdef0123456789abcdef".into()),
            ..RolloutModel::default()
        };
        assert_eq!(RolloutState::from_model(&model).to_model(), model);
    }
}
