//! Read: reconstruct a `zdd_rollout`'s state from what AWS shows (groups tagged
//! `zdd:rollout = <name>`), so drift and half-finished rollouts surface in the next plan.

use zdd_rollout::fleet::{FleetReading, TAG_OWNER, is_reserved_tag};
use zdd_rollout::observation::Owner;

use crate::aws::types::AsgInfo;

use super::group_settings::read_group_settings;
use super::rollout::{LastRollout, RolloutModel, Strategy};

/// What Read found, beyond the refreshed model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// AWS matches the state.
    InSync,
    /// No group of this rollout exists any more: the next apply creates one.
    ActiveGroupGone { expected: String },
    /// More than one generation exists: a rollout was interrupted (or is still running in
    /// another process); the next apply finishes or rolls it back.
    Interrupted { generations: Vec<u64> },
    /// The active group's capacity or launch template differ from the state (an autoscaled
    /// fleet's capacity is the policies' and never drift: it is `current_capacity`).
    Drifted { attributes: Vec<String> },
}

/// The groups tagged with a fleet's name, split into the fleet's own and other owners'.
/// Read, rollout and delete look at the first list only.
pub fn split_by_owner(owner: &Owner, groups: Vec<AsgInfo>) -> (Vec<AsgInfo>, Vec<AsgInfo>) {
    groups
        .into_iter()
        .partition(|group| owner.owns_tag(group.owner()))
}

/// The owner id an import takes over: the one every found group carries; `None` when none
/// carries one (groups from before owner ids: the next apply adopts and tags them). Groups of
/// several owners (or tagged and untagged ones mixed) are refused, naming each group.
pub fn import_owner(groups: &[AsgInfo]) -> Result<Option<String>, String> {
    let mut owners: Vec<Option<&str>> = groups.iter().map(AsgInfo::owner).collect();
    owners.sort_unstable();
    owners.dedup();
    match owners.as_slice() {
        [] => Ok(None),
        [only] => Ok(only.map(str::to_string)),
        _ => Err(format!(
            "the groups belong to different owners: {}",
            describe_owners(groups)
        )),
    }
}

/// `web-g1 (zdd:owner = o-1), web-g2 (no zdd:owner tag)`, for diagnostics.
pub fn describe_owners(groups: &[AsgInfo]) -> String {
    groups
        .iter()
        .map(|group| match group.owner() {
            Some(owner) => format!("{} ({TAG_OWNER} = {owner})", group.name),
            None => format!("{} (no {TAG_OWNER} tag)", group.name),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refreshes `prior` from the groups AWS reports for its name (ordered by generation).
///
/// Which generation serves and whether a rollout is interrupted is the engine's reading
/// ([`FleetReading`]), the one a resumed apply acts on. Groups AWS is deleting are left out:
/// they serve nothing.
pub fn refresh(prior: &RolloutModel, groups: &[AsgInfo]) -> (RolloutModel, Finding) {
    let mut model = prior.clone();
    let live: Vec<&AsgInfo> = groups.iter().filter(|group| !group.deleting).collect();
    let mut generations: Vec<(u64, &AsgInfo)> = live
        .iter()
        .filter_map(|group| group.generation.map(|generation| (generation, *group)))
        .collect();
    generations.sort_by_key(|(generation, _)| *generation);
    let reading = FleetReading::of(
        generations
            .iter()
            .map(|(generation, group)| (*generation, &group.tags)),
    );
    let expected = prior.active_asg_name.clone().unwrap_or_default();
    let serving = reading.serving().and_then(|serving| {
        generations
            .iter()
            .find(|(generation, _)| *generation == serving)
            .map(|(_, group)| *group)
    });
    let active = live
        .iter()
        .find(|group| Some(group.name.as_str()) == prior.active_asg_name.as_deref())
        .copied()
        .or(serving)
        .or_else(|| {
            live.iter()
                .rev()
                .find(|group| !group.instances.is_empty())
                .copied()
        })
        .or_else(|| live.last().copied());
    let Some(active) = active else {
        model.active_asg_name = None;
        model.active_launch_template_version = None;
        model.current_capacity = None;
        return (model, Finding::ActiveGroupGone { expected });
    };
    model.current_capacity = Some(i64::from(active.desired_capacity));
    // With scaling policies the capacity is theirs: the configured value is only the first
    // generation's, so what the policies made of it is no drift.
    let autoscaled = prior
        .spec
        .target_tracking
        .as_ref()
        .is_some_and(|policies| !policies.is_empty());

    model.active_asg_name = Some(active.name.clone());
    if let Some(generation) = active.generation {
        model.generation = i64::try_from(generation).ok();
    }
    model.active_launch_template_version = active.launch_template_version.clone();
    let mut drifted = Vec::new();
    let mut observe = |attribute: &str, changed: bool| {
        if changed {
            drifted.push(attribute.to_string());
        }
    };
    observe(
        "min_size",
        model.spec.min_size != i64::from(active.min_size),
    );
    observe(
        "max_size",
        model.spec.max_size != i64::from(active.max_size),
    );
    if !autoscaled {
        observe(
            "desired_capacity",
            model.spec.desired_capacity != i64::from(active.desired_capacity),
        );
        model.spec.desired_capacity = i64::from(active.desired_capacity);
    }
    if let Some(version) = &active.launch_template_version {
        observe(
            "launch_template_version",
            &model.spec.launch_template_version != version,
        );
        model.spec.launch_template_version = version.clone();
    }
    if let Some(id) = &active.launch_template_id {
        observe("launch_template_id", &model.spec.launch_template_id != id);
        model.spec.launch_template_id = id.clone();
    }
    observe("subnet_ids", model.spec.subnet_ids != active.subnet_ids);
    model.spec.subnet_ids = active.subnet_ids.clone();
    let user_tags: std::collections::BTreeMap<String, String> = active
        .tags
        .iter()
        .filter(|(key, _)| !is_reserved_tag(key))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if model.spec.tags.clone().unwrap_or_default() != user_tags {
        observe("tags", true);
        model.spec.tags = Some(user_tags);
    }
    drifted.extend(
        read_group_settings(&mut model.spec, active)
            .into_iter()
            .map(str::to_string),
    );
    model.spec.min_size = i64::from(active.min_size);
    model.spec.max_size = i64::from(active.max_size);
    if model.strategy_or_default().ok() != Some(Strategy::Canary) {
        let mut attached = active.target_group_arns.clone();
        let mut recorded = model.spec.target_group_arns.clone().unwrap_or_default();
        attached.sort();
        recorded.sort();
        if attached != recorded {
            drifted.push("target_group_arns".into());
            model.spec.target_group_arns = Some(active.target_group_arns.clone());
        }
    }

    if reading.is_interrupted() {
        let generations = reading.in_flight();
        let last = model.last_rollout.get_or_insert_with(LastRollout::default);
        last.status = "interrupted".into();
        return (model, Finding::Interrupted { generations });
    }
    if drifted.is_empty() {
        (model, Finding::InSync)
    } else {
        (
            model,
            Finding::Drifted {
                attributes: drifted,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use zdd_rollout::RawSpec;

    use zdd_rollout::spec::RawLifecycleHook;

    use super::*;
    use crate::aws::types::{AsgInstance, LifecycleHookInfo};

    fn group(generation: u64, version: &str, desired: i32) -> AsgInfo {
        AsgInfo {
            name: format!("web-g{generation}"),
            rollout: Some("web".into()),
            generation: Some(generation),
            launch_template_id: Some("lt-0abc".into()),
            launch_template_version: Some(version.into()),
            subnet_ids: vec!["subnet-a".into()],
            min_size: 2,
            max_size: 6,
            desired_capacity: desired,
            target_group_arns: vec!["arn:tg".into()],
            instances: (0..desired)
                .map(|i| AsgInstance {
                    instance_id: format!("i-{generation}{i}"),
                    lifecycle_state: "InService".into(),
                    health_status: "Healthy".into(),
                })
                .collect(),
            tags: BTreeMap::new(),
            deleting: false,
            suspended_processes: Vec::new(),
            health_check_type: Some("ELB".into()),
            health_check_grace_period: Some(300),
            default_instance_warmup: None,
            lifecycle_hooks: None,
        }
    }

    fn state() -> RolloutModel {
        crate::model::rollout::sample_applied()
    }

    #[test]
    fn matching_aws_is_in_sync() {
        let (model, finding) = refresh(&state(), &[group(4, "7", 3)]);
        assert_eq!(finding, Finding::InSync);
        assert_eq!(model, state());
    }

    #[test]
    fn a_deleted_group_clears_the_active_name() {
        let (model, finding) = refresh(&state(), &[]);
        assert_eq!(
            finding,
            Finding::ActiveGroupGone {
                expected: "web-g4".into()
            }
        );
        assert_eq!(model.active_asg_name, None);
        assert_eq!(model.generation, Some(4));
    }

    #[test]
    fn capacity_changed_out_of_band_is_drift() {
        let (model, finding) = refresh(&state(), &[group(4, "7", 5)]);
        assert_eq!(
            finding,
            Finding::Drifted {
                attributes: vec!["desired_capacity".into()]
            }
        );
        assert_eq!(model.spec.desired_capacity, 5);
    }

    /// The serving group's capacity is reported as `current_capacity`, whatever decided it.
    #[test]
    fn read_reports_the_serving_groups_capacity() {
        let (model, _) = refresh(&state(), &[group(4, "7", 5)]);
        assert_eq!(model.current_capacity, Some(5));
        let (model, _) = refresh(&state(), &[]);
        assert_eq!(model.current_capacity, None);
    }

    /// A fleet whose policy scaled it from 2 to 4: Read reports 4 as `current_capacity`, keeps
    /// the configured `desired_capacity`, finds no drift, and the next plan changes nothing
    /// (it used to scale the fleet back to 2).
    #[test]
    fn an_autoscaled_capacity_is_no_drift() {
        let mut prior = state();
        prior.spec.desired_capacity = 2;
        prior.current_capacity = Some(2);
        prior.spec.target_tracking = Some(vec![zdd_rollout::spec::RawTargetTracking {
            name: "cpu-50".into(),
            predefined_metric: "ASGAverageCPUUtilization".into(),
            target_value: 50.0,
            disable_scale_in: Some(false),
        }]);
        let (model, finding) = refresh(&prior, &[group(4, "7", 4)]);
        assert_eq!(finding, Finding::InSync);
        assert_eq!(model.spec.desired_capacity, 2);
        assert_eq!(model.current_capacity, Some(4));
        assert_eq!(
            crate::model::plan::classify_change(&model, &prior),
            crate::model::plan::Change::None
        );
    }

    fn hook(name: &str, transition: &str, heartbeat_timeout: i32) -> LifecycleHookInfo {
        LifecycleHookInfo {
            name: name.into(),
            transition: format!("autoscaling:EC2_INSTANCE_{transition}"),
            heartbeat_timeout,
            default_result: "CONTINUE".into(),
        }
    }

    fn raw_hook(name: &str, transition: &str, heartbeat: Option<&str>) -> RawLifecycleHook {
        RawLifecycleHook {
            name: name.into(),
            transition: transition.into(),
            heartbeat_timeout: heartbeat.map(str::to_string),
            default_result: Some("CONTINUE".into()),
        }
    }

    /// A fleet from before health check settings were configurable: its group reports EC2
    /// and no grace period. Read shows what AWS has, so the plan proposes the in-place change.
    #[test]
    fn the_serving_groups_health_check_settings_are_read() {
        let mut old = group(4, "7", 3);
        old.health_check_type = Some("EC2".into());
        old.health_check_grace_period = Some(0);
        old.default_instance_warmup = Some(60);
        let (model, finding) = refresh(&state(), &[old]);
        assert_eq!(
            finding,
            Finding::Drifted {
                attributes: vec![
                    "health_check_type".into(),
                    "health_check_grace_period".into(),
                    "default_instance_warmup".into()
                ]
            }
        );
        assert_eq!(model.spec.health_check_type.as_deref(), Some("EC2"));
        assert_eq!(model.spec.health_check_grace_period.as_deref(), Some("0s"));
        assert_eq!(model.spec.default_instance_warmup.as_deref(), Some("1m"));
        // The same settings written another way are no drift: the state keeps its text.
        let mut prior = state();
        prior.spec.health_check_grace_period = Some("300s".into());
        prior.spec.health_check_type = Some("ELB".into());
        let (model, finding) = refresh(&prior, &[group(4, "7", 3)]);
        assert_eq!(finding, Finding::InSync);
        assert_eq!(model, prior);
    }

    #[test]
    fn the_serving_groups_lifecycle_hooks_are_read() {
        let mut prior = state();
        prior.spec.lifecycle_hooks = Some(vec![
            raw_hook("warm", "launching", Some("300s")),
            raw_hook("drain", "terminating", None),
        ]);
        let mut serving = group(4, "7", 3);
        // Not read: nothing is concluded.
        let (model, finding) = refresh(&prior, std::slice::from_ref(&serving));
        assert_eq!((model, finding), (prior.clone(), Finding::InSync));
        // The same hooks in another order and spelling: no drift, the state keeps its text.
        serving.lifecycle_hooks = Some(vec![
            hook("drain", "TERMINATING", 3600),
            hook("warm", "LAUNCHING", 300),
        ]);
        let (model, finding) = refresh(&prior, std::slice::from_ref(&serving));
        assert_eq!((model, finding), (prior.clone(), Finding::InSync));
        // One hook changed and one gone: AWS's hooks, in the state's order.
        serving.lifecycle_hooks = Some(vec![hook("warm", "LAUNCHING", 600)]);
        let (model, finding) = refresh(&prior, std::slice::from_ref(&serving));
        assert_eq!(
            finding,
            Finding::Drifted {
                attributes: vec!["lifecycle_hooks".into()]
            }
        );
        assert_eq!(
            model.spec.lifecycle_hooks,
            Some(vec![raw_hook("warm", "launching", Some("10m"))])
        );
        // None configured and none in AWS: still none.
        serving.lifecycle_hooks = Some(Vec::new());
        let (model, finding) = refresh(&state(), &[serving]);
        assert_eq!((model, finding), (state(), Finding::InSync));
    }

    #[test]
    fn two_generations_mean_an_interrupted_rollout() {
        let (model, finding) = refresh(&state(), &[group(4, "7", 3), group(5, "8", 1)]);
        assert_eq!(
            finding,
            Finding::Interrupted {
                generations: vec![4, 5]
            }
        );
        assert_eq!(model.active_asg_name.as_deref(), Some("web-g4"));
        assert_eq!(
            model.last_rollout.map(|last| last.status),
            Some("interrupted".into())
        );
    }

    /// A rollout to generation 5 failed with `rollback_on_failure = false`: the rollback
    /// finished, generation 4 serves again, and the failed group is kept detached and tagged
    /// `zdd:rolled-back`, as AWS then shows it.
    #[test]
    fn a_failed_generation_kept_after_its_rollback_is_no_interrupted_rollout() {
        let mut kept = group(5, "8", 3);
        kept.target_group_arns.clear();
        kept.tags
            .insert("zdd:rolled-back".into(), "new targets unhealthy".into());
        let mut prior = state();
        prior.last_rollout = Some(LastRollout {
            status: "rolled_back".into(),
            ..LastRollout::default()
        });
        let (model, finding) = refresh(&prior, &[group(4, "7", 3), kept]);
        assert_eq!(finding, Finding::InSync);
        assert_eq!(model.active_asg_name.as_deref(), Some("web-g4"));
        assert_eq!(
            model.last_rollout.map(|last| last.status),
            Some("rolled_back".into())
        );
    }

    /// Killed while rolling back its first generation: the only group carries `zdd:rollback`
    /// and the next apply continues the rollback.
    #[test]
    fn a_generation_tagged_for_rollback_is_an_interrupted_rollout() {
        let mut failing = group(4, "7", 3);
        failing
            .tags
            .insert("zdd:rollback".into(), "new targets unhealthy".into());
        let (model, finding) = refresh(&state(), &[failing]);
        assert_eq!(
            finding,
            Finding::Interrupted {
                generations: vec![4]
            }
        );
        assert_eq!(
            model.last_rollout.map(|last| last.status),
            Some("interrupted".into())
        );
    }

    #[test]
    fn import_adopts_the_newest_populated_generation() {
        let imported = RolloutModel {
            spec: RawSpec {
                name: "web".into(),
                ..RawSpec::default()
            },
            ..RolloutModel::default()
        };
        let mut aws_group = group(2, "5", 3);
        aws_group.tags.insert("team".into(), "web".into());
        aws_group.tags.insert("zdd:rollout".into(), "web".into());
        let (model, _) = refresh(&imported, &[aws_group]);
        assert_eq!(model.spec.subnet_ids, vec!["subnet-a".to_string()]);
        assert_eq!(
            model.spec.tags,
            Some(BTreeMap::from([("team".to_string(), "web".to_string())]))
        );
        assert_eq!(model.active_asg_name.as_deref(), Some("web-g2"));
        assert_eq!(model.generation, Some(2));
        assert_eq!(model.spec.launch_template_version, "5");
        assert_eq!(model.spec.desired_capacity, 3);
        assert_eq!(model.spec.target_group_arns, Some(vec!["arn:tg".into()]));
    }

    fn owned_by(generation: u64, owner: Option<&str>) -> AsgInfo {
        let mut group = group(generation, "7", 3);
        if let Some(owner) = owner {
            group
                .tags
                .insert(crate::aws::types::TAG_OWNER.into(), owner.into());
        }
        group
    }

    #[test]
    fn read_sees_only_the_fleets_own_groups() {
        let groups = vec![owned_by(1, Some("o-other")), owned_by(4, Some("o-mine"))];
        let (mine, foreign) = split_by_owner(&Owner::new("o-mine"), groups);
        assert_eq!(
            mine.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
            ["web-g4"]
        );
        assert_eq!(
            foreign.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
            ["web-g1"]
        );
        let (model, finding) = refresh(&state(), &mine);
        assert_eq!(
            finding,
            Finding::InSync,
            "another owner's group is no interrupted rollout"
        );
        assert_eq!(model.active_asg_name.as_deref(), Some("web-g4"));
    }

    #[test]
    fn a_state_from_before_owner_ids_sees_untagged_groups_not_other_owners() {
        let legacy = state().owner();
        let (mine, foreign) = split_by_owner(
            &legacy,
            vec![owned_by(1, Some("o-other")), owned_by(4, None)],
        );
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].name, "web-g4");
        assert_eq!(foreign[0].name, "web-g1");
    }

    #[test]
    fn import_takes_over_the_owner_the_groups_carry() {
        assert_eq!(
            import_owner(&[owned_by(2, Some("o-1"))]),
            Ok(Some("o-1".into()))
        );
        assert_eq!(import_owner(&[owned_by(2, None)]), Ok(None));
        let mixed =
            import_owner(&[owned_by(2, Some("o-1")), owned_by(3, Some("o-2"))]).unwrap_err();
        assert!(mixed.contains("web-g2 (zdd:owner = o-1)"), "{mixed}");
        assert!(mixed.contains("web-g3 (zdd:owner = o-2)"), "{mixed}");
    }
}
