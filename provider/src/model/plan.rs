//! What an apply will do, decided from the prior state (as Read refreshed it from AWS) and the
//! proposed configuration, and the planned state that says so (the attributes the outcome
//! decides unknown). Pure; what each attribute's change does is the attribute table's.

use serde_json::Value as Json;

use super::attributes::OnChange;
use super::rollout::RolloutModel;
use super::state::{State, changing, decided_by};

/// The kind of change a plan proposes for one `zdd_rollout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Nothing to do in AWS (settings such as strategy or timeouts may still change in state).
    None,
    /// Only attributes applied in place changed (`desired_capacity`, `target_tracking`, the
    /// health check settings, `lifecycle_hooks`): the serving group is scaled and its settings,
    /// policies and hooks reconciled, no new generation.
    Scale,
    /// A new generation replaces the active one by the configured strategy. `reasons` name
    /// the attributes (or the drift) that make it necessary, for the plan's log line.
    Rollout { reasons: Vec<String> },
    /// `name` changed: Terraform destroys and recreates the resource.
    Replace,
}

pub fn classify_change(prior: &RolloutModel, proposed: &RolloutModel) -> Change {
    let (before, after) = (State::from_model(prior), State::from_model(proposed));
    let differs = |name: &str| !same(before.get(name), after.get(name));
    if changing(|on_change| on_change == OnChange::Replace)
        .into_iter()
        .any(differs)
    {
        return Change::Replace;
    }
    // A canary attaches its generations to the groups of its `canary` block.
    let canary = proposed.spec.strategy.as_deref() == Some("canary");
    let mut reasons: Vec<String> = changing(|on_change| match on_change {
        OnChange::RollOut => true,
        OnChange::RollOutUnlessCanary => !canary,
        _ => false,
    })
    .into_iter()
    .filter(|name| differs(name))
    .map(str::to_string)
    .collect();
    // Drift Read found in AWS: the apply converges it.
    if prior.active_asg_name.is_none() {
        reasons.push("the active Auto Scaling group no longer exists".into());
    } else if prior
        .active_launch_template_version
        .as_deref()
        .is_some_and(|active| active != proposed.spec.launch_template_version)
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
    // With scaling policies the capacity is theirs: `desired_capacity` is only the first
    // generation's, and a change of it alone does nothing in AWS.
    let autoscaled = proposed
        .spec
        .target_tracking
        .as_ref()
        .is_some_and(|policies| !policies.is_empty());
    if changing(|on_change| on_change == OnChange::InPlace)
        .into_iter()
        .filter(|name| !(autoscaled && *name == "desired_capacity"))
        .any(differs)
    {
        return Change::Scale;
    }
    Change::None
}

/// Null and an empty list or map mean the same: no target groups, no tags.
fn same(before: Option<&Json>, after: Option<&Json>) -> bool {
    let empty = |value: Option<&Json>| match value {
        None | Some(Json::Null) => true,
        Some(Json::Array(items)) => items.is_empty(),
        Some(Json::Object(entries)) => entries.is_empty(),
        Some(_) => false,
    };
    before == after || (empty(before) && empty(after))
}

/// Computed attributes whose value only the apply's outcome decides: a plan must show them as
/// unknown ("known after apply"). Terraform writes a root output's planned value during the
/// apply and keeps it when the apply then fails, so a promised new generation or version
/// would outlive a rollback that left the old one serving.
///
/// `owner_id` is not here: it is fixed at create ([`plan`] plans it unknown only while the
/// state has none).
pub fn outcome_dependent(change: &Change) -> Vec<&'static str> {
    match change {
        Change::None => Vec::new(),
        // In place: the active group, its generation and version stay whatever happens.
        Change::Scale => decided_by(false),
        // A new generation serves only if the rollout succeeds; a failed create serves none.
        Change::Rollout { .. } | Change::Replace => decided_by(true),
    }
}

/// Decides the planned state from the prior state (as Read refreshed it), the configuration
/// and the plan Terraform proposes, and returns what the apply will do.
pub fn plan(
    prior: Option<&State>,
    planned: &mut State,
    config: &State,
) -> Result<Change, serde_json::Error> {
    planned.fill_defaults(config);
    if let Some(name) = planned.known_str("name").map(str::to_string) {
        planned.set("id", Json::String(name));
    }
    let unknown = planned.unknown_attributes();
    let change = match prior {
        None => Change::Replace,
        // An input known only after apply may change: a rollout may be needed.
        Some(_)
            if changing(|on_change| {
                matches!(on_change, OnChange::RollOut | OnChange::RollOutUnlessCanary)
            })
            .iter()
            .any(|name| unknown.contains(*name)) =>
        {
            Change::Rollout {
                reasons: vec!["inputs known only after apply".into()],
            }
        }
        Some(prior) => classify_change(&prior.to_model()?, &planned.to_model()?),
    };
    if let Some(prior) = prior
        && change != Change::Replace
    {
        planned.keep_computed(prior);
    }
    // Only the outcome decides these: a rollout that rolls back leaves the old values.
    planned.plan_unknown(&outcome_dependent(&change));
    // The owner is fixed at create; a state from before owner ids gets one on this apply.
    let owner = match (&change, prior) {
        (Change::Replace, _) | (_, None) => None,
        (_, Some(prior)) => prior.known_str("owner_id").map(str::to_string),
    };
    match owner {
        Some(owner) => planned.set("owner_id", Json::String(owner)),
        None => planned.plan_unknown(&["owner_id"]),
    }
    Ok(change)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use zdd_rollout::RawSpec;
    use zdd_rollout::spec::{RawLifecycleHook, RawTargetTracking};

    use super::*;
    use crate::model::rollout::LastRollout;

    fn applied() -> RolloutModel {
        crate::model::rollout::sample_applied()
    }

    #[test]
    fn unchanged_config_is_a_no_op() {
        assert_eq!(classify_change(&applied(), &applied()), Change::None);
        let settings_only = RolloutModel {
            spec: RawSpec {
                strategy: Some("rolling".into()),
                health_timeout: Some("1m".into()),
                ..applied().spec
            },
            ..applied()
        };
        assert_eq!(classify_change(&applied(), &settings_only), Change::None);
    }

    /// The canary's analysis settings and the bake only change how the next rollout is
    /// judged: adding, changing or removing them rolls nothing out.
    #[test]
    fn analysis_settings_and_the_bake_are_settings_only() {
        use zdd_rollout::spec::{RawBake, RawCanary};
        let canary = |canary: RawCanary, bake: Option<RawBake>| RolloutModel {
            spec: RawSpec {
                strategy: Some("canary".into()),
                canary: Some(RawCanary {
                    listener_arn: Some("arn:listener".into()),
                    stable_target_group_arn: Some("arn:blue".into()),
                    canary_target_group_arn: Some("arn:green".into()),
                    ..canary
                }),
                bake,
                ..applied().spec
            },
            ..applied()
        };
        let plain = canary(RawCanary::default(), None);
        let analysed = canary(
            RawCanary {
                max_5xx_ratio: Some(0.02),
                max_p99_latency: Some("800ms".into()),
                max_regression: Some(1.5),
                min_requests: Some(500),
                insufficient_evidence: Some("fail".into()),
                max_soak: Some("20m".into()),
                alarm_names: Some(vec!["api-5xx".into()]),
                ..RawCanary::default()
            },
            Some(RawBake {
                duration: Some("15m".into()),
                alarm_names: Some(vec!["api-errors".into()]),
            }),
        );
        assert_eq!(classify_change(&plain, &analysed), Change::None);
        assert_eq!(classify_change(&analysed, &plain), Change::None);
        let mut blue_green = applied();
        blue_green.spec.bake = Some(RawBake {
            duration: Some("10m".into()),
            alarm_names: None,
        });
        assert_eq!(classify_change(&applied(), &blue_green), Change::None);
        assert_eq!(classify_change(&blue_green, &applied()), Change::None);
    }

    #[test]
    fn desired_capacity_alone_scales_in_place() {
        let proposed = RolloutModel {
            spec: RawSpec {
                desired_capacity: 5,
                ..applied().spec
            },
            ..applied()
        };
        assert_eq!(classify_change(&applied(), &proposed), Change::Scale);
    }

    fn autoscaled() -> RolloutModel {
        RolloutModel {
            spec: RawSpec {
                target_tracking: Some(vec![RawTargetTracking {
                    name: "cpu-50".into(),
                    predefined_metric: "ASGAverageCPUUtilization".into(),
                    target_value: 50.0,
                    disable_scale_in: Some(false),
                }]),
                ..applied().spec
            },
            ..applied()
        }
    }

    /// With scaling policies, `desired_capacity` is only the first generation's: changing it
    /// does nothing in AWS (the state records it).
    #[test]
    fn desired_capacity_alone_does_nothing_to_an_autoscaled_fleet() {
        let proposed = RolloutModel {
            spec: RawSpec {
                desired_capacity: 5,
                ..autoscaled().spec
            },
            ..autoscaled()
        };
        assert_eq!(classify_change(&autoscaled(), &proposed), Change::None);
    }

    /// Policies are reconciled on the serving group in place: added, changed or removed.
    #[test]
    fn target_tracking_alone_applies_in_place() {
        assert_eq!(classify_change(&applied(), &autoscaled()), Change::Scale);
        assert_eq!(classify_change(&autoscaled(), &applied()), Change::Scale);
        let mut retargeted = autoscaled();
        retargeted.spec.target_tracking.as_mut().unwrap()[0].target_value = 60.0;
        assert_eq!(classify_change(&autoscaled(), &retargeted), Change::Scale);
        // Without policies any more, the configured capacity is applied with them.
        let mut removed = applied();
        removed.spec.desired_capacity = 5;
        assert_eq!(classify_change(&autoscaled(), &removed), Change::Scale);
    }

    /// The health check settings and the hooks are applied to the serving group in place (new
    /// generations are created with them): no rollout for them.
    #[test]
    fn health_check_settings_and_hooks_apply_in_place() {
        let hooked = RolloutModel {
            spec: RawSpec {
                lifecycle_hooks: Some(vec![RawLifecycleHook {
                    name: "drain".into(),
                    transition: "terminating".into(),
                    heartbeat_timeout: Some("5m".into()),
                    default_result: Some("CONTINUE".into()),
                }]),
                health_check_type: Some("EC2".into()),
                health_check_grace_period: Some("2m".into()),
                default_instance_warmup: Some("60s".into()),
                ..applied().spec
            },
            ..applied()
        };
        assert_eq!(classify_change(&applied(), &hooked), Change::Scale);
        assert_eq!(classify_change(&hooked, &applied()), Change::Scale);
        // With a new version they come with the new generation.
        let mut rolled = hooked.clone();
        rolled.spec.launch_template_version = "8".into();
        assert_eq!(
            classify_change(&applied(), &rolled),
            Change::Rollout {
                reasons: vec!["launch_template_version".into()]
            }
        );
    }

    #[test]
    fn version_subnets_sizes_and_tags_roll_out() {
        let proposed = RolloutModel {
            spec: RawSpec {
                launch_template_version: "8".into(),
                max_size: 8,
                desired_capacity: 4,
                tags: Some(BTreeMap::from([("team".to_string(), "web".to_string())])),
                ..applied().spec
            },
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
            spec: RawSpec {
                name: "api".into(),
                ..applied().spec
            },
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
            spec: RawSpec {
                launch_template_version: "8".into(),
                ..applied().spec
            },
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
        assert_eq!(
            outcome_dependent(&Change::Scale),
            vec!["current_capacity", "last_rollout"]
        );
        assert!(outcome_dependent(&Change::None).is_empty());
    }
}
