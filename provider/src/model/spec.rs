//! The model as the engine's raw input: the one place a `RolloutModel` becomes a `RawSpec`.
//! What the engine then accepts or refuses is its own business (`RolloutSpec::validate`).

use zdd_rollout::{RawCanary, RawCanaryStep, RawSpec};

use super::rollout::RolloutModel;

/// The engine's raw input from the model.
pub fn raw_spec(model: &RolloutModel) -> RawSpec {
    RawSpec {
        name: model.name.clone(),
        launch_template_id: model.launch_template_id.clone(),
        launch_template_version: model.launch_template_version.clone(),
        subnet_ids: model.subnet_ids.clone(),
        target_group_arns: model.target_group_arns.clone(),
        min_size: model.min_size,
        max_size: model.max_size,
        desired_capacity: model.desired_capacity,
        strategy: model.strategy.clone(),
        min_healthy_percent: model.min_healthy_percent,
        batch_size: model.batch_size,
        canary: model.canary.as_ref().map(|canary| RawCanary {
            listener_arn: Some(canary.listener_arn.clone()),
            stable_target_group_arn: Some(canary.stable_target_group_arn.clone()),
            canary_target_group_arn: Some(canary.canary_target_group_arn.clone()),
            steps: canary.steps.as_ref().map(|steps| {
                steps
                    .iter()
                    .map(|step| RawCanaryStep {
                        weight: step.weight,
                        soak: step.soak.clone(),
                    })
                    .collect()
            }),
            alarm_names: canary.alarm_names.clone(),
            max_5xx_ratio: canary.max_5xx_ratio,
        }),
        health_timeout: model.health_timeout.clone(),
        drain_margin: None,
        rollback_on_failure: model.rollback_on_failure,
        tags: model.tags.clone(),
    }
}
