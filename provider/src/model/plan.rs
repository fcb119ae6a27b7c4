//! What an apply will do, decided from the prior state (as Read refreshed it from AWS) and
//! the proposed configuration. Pure: the resource layer turns the answer into a planned
//! state (the attributes the outcome decides unknown) and `requires_replace` paths.

use super::rollout::RolloutModel;

/// The kind of change a plan proposes for one `zdd_rollout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Nothing to do in AWS (settings such as strategy or timeouts may still change in state).
    None,
    /// Only `desired_capacity` changed: scale the active group in place.
    Scale,
    /// A new generation replaces the active one by the configured strategy. `reasons` name
    /// the attributes (or the drift) that make it necessary, for the plan's log line.
    Rollout { reasons: Vec<String> },
    /// `name` changed: Terraform destroys and recreates the resource.
    Replace,
}

/// Attributes whose change needs new instances.
const ROLLOUT_ATTRIBUTES: [&str; 7] = [
    "launch_template_id",
    "launch_template_version",
    "subnet_ids",
    "min_size",
    "max_size",
    "target_group_arns",
    "tags",
];

pub fn classify_change(prior: &RolloutModel, proposed: &RolloutModel) -> Change {
    if prior.name != proposed.name {
        return Change::Replace;
    }
    // A canary attaches its generations to the groups of its `canary` block.
    let canary = proposed.strategy.as_deref() == Some("canary");
    let mut reasons: Vec<String> = ROLLOUT_ATTRIBUTES
        .into_iter()
        .filter(|attribute| !(canary && *attribute == "target_group_arns"))
        .filter(|attribute| differs(prior, proposed, attribute))
        .map(str::to_string)
        .collect();
    // Drift Read found in AWS: the apply converges it.
    if prior.active_asg_name.is_none() {
        reasons.push("the active Auto Scaling group no longer exists".into());
    } else if prior
        .active_launch_template_version
        .as_deref()
        .is_some_and(|active| active != proposed.launch_template_version)
        && !reasons
            .iter()
            .any(|reason| reason == "launch_template_version")
    {
        reasons.push("the active group runs a different launch template version".into());
    }
    if prior
        .last_rollout
        .as_ref()
        .is_some_and(|last| last.status == "interrupted")
    {
        reasons.push("an interrupted rollout must be finished or rolled back".into());
    }
    if !reasons.is_empty() {
        return Change::Rollout { reasons };
    }
    if prior.desired_capacity != proposed.desired_capacity {
        return Change::Scale;
    }
    Change::None
}

fn differs(prior: &RolloutModel, proposed: &RolloutModel, attribute: &str) -> bool {
    match attribute {
        "launch_template_id" => prior.launch_template_id != proposed.launch_template_id,
        "launch_template_version" => {
            prior.launch_template_version != proposed.launch_template_version
        }
        "subnet_ids" => prior.subnet_ids != proposed.subnet_ids,
        "min_size" => prior.min_size != proposed.min_size,
        "max_size" => prior.max_size != proposed.max_size,
        "target_group_arns" => {
            prior.target_group_arns.clone().unwrap_or_default()
                != proposed.target_group_arns.clone().unwrap_or_default()
        }
        "tags" => {
            prior.tags.clone().unwrap_or_default() != proposed.tags.clone().unwrap_or_default()
        }
        _ => false,
    }
}

/// Computed attributes whose value only the apply's outcome decides: a plan must show them as
/// unknown ("known after apply"). Terraform writes a root output's planned value during the
/// apply and keeps it when the apply then fails, so a promised new generation or version
/// would outlive a rollback that left the old one serving.
///
/// `owner_id` is not here: it is fixed at create (the resource layer plans it unknown only
/// while the state has none).
pub fn outcome_dependent(change: &Change) -> &'static [&'static str] {
    match change {
        Change::None => &[],
        // In place: the active group, its generation and version stay whatever happens.
        Change::Scale => &["last_rollout"],
        // A new generation serves only if the rollout succeeds; a failed create serves none.
        Change::Rollout { .. } | Change::Replace => &[
            "generation",
            "active_asg_name",
            "active_launch_template_version",
            "last_rollout",
        ],
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::rollout::LastRollout;

    fn applied() -> RolloutModel {
        crate::model::rollout::sample_applied()
    }

    #[test]
    fn unchanged_config_is_a_no_op() {
        assert_eq!(classify_change(&applied(), &applied()), Change::None);
        let settings_only = RolloutModel {
            strategy: Some("rolling".into()),
            health_timeout: Some("1m".into()),
            ..applied()
        };
        assert_eq!(classify_change(&applied(), &settings_only), Change::None);
    }

    #[test]
    fn desired_capacity_alone_scales_in_place() {
        let proposed = RolloutModel {
            desired_capacity: 5,
            ..applied()
        };
        assert_eq!(classify_change(&applied(), &proposed), Change::Scale);
    }

    #[test]
    fn version_subnets_sizes_and_tags_roll_out() {
        let proposed = RolloutModel {
            launch_template_version: "8".into(),
            max_size: 8,
            desired_capacity: 4,
            tags: Some(BTreeMap::from([("team".to_string(), "web".to_string())])),
            ..applied()
        };
        let change = classify_change(&applied(), &proposed);
        assert_eq!(
            change,
            Change::Rollout {
                reasons: vec![
                    "launch_template_version".into(),
                    "max_size".into(),
                    "tags".into()
                ]
            }
        );
        assert!(outcome_dependent(&change).contains(&"active_launch_template_version"));
    }

    #[test]
    fn name_forces_replacement() {
        let proposed = RolloutModel {
            name: "api".into(),
            ..applied()
        };
        assert_eq!(classify_change(&applied(), &proposed), Change::Replace);
    }

    #[test]
    fn drift_and_interruptions_are_converged() {
        let gone = RolloutModel {
            active_asg_name: None,
            ..applied()
        };
        assert!(matches!(
            classify_change(&gone, &applied()),
            Change::Rollout { .. }
        ));
        let drifted = RolloutModel {
            active_launch_template_version: Some("6".into()),
            ..applied()
        };
        assert!(matches!(
            classify_change(&drifted, &applied()),
            Change::Rollout { .. }
        ));
        let interrupted = RolloutModel {
            last_rollout: Some(LastRollout {
                status: "interrupted".into(),
                ..LastRollout::default()
            }),
            ..applied()
        };
        assert_eq!(
            classify_change(&interrupted, &applied()),
            Change::Rollout {
                reasons: vec!["an interrupted rollout must be finished or rolled back".into()]
            }
        );
    }

    #[test]
    fn a_rollout_promises_nothing_its_outcome_decides() {
        // A rollout may roll back: the old generation, its group and version keep serving.
        let proposed = RolloutModel {
            launch_template_version: "8".into(),
            ..applied()
        };
        let change = classify_change(&applied(), &proposed);
        for attribute in [
            "generation",
            "active_asg_name",
            "active_launch_template_version",
            "last_rollout",
        ] {
            assert!(
                outcome_dependent(&change).contains(&attribute),
                "{attribute} must be planned unknown for {change:?}"
            );
            assert!(outcome_dependent(&Change::Replace).contains(&attribute));
        }
        // A scale in place keeps the generation; nothing changes without a change.
        assert_eq!(outcome_dependent(&Change::Scale), &["last_rollout"]);
        assert!(outcome_dependent(&Change::None).is_empty());
    }
}
