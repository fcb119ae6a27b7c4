//! The generation that serves, rolled out again with the same launch template (issue #13):
//! its policies are reconciled in place and an autoscaled capacity is kept; a changed health
//! check or lifecycle hook is applied to the serving group in place (AWS applies both to a live
//! group), so no new generation rolls out for them.

use std::time::Duration;

use zdd_rollout::sim::World;
use zdd_rollout::sim::fixtures::{FleetShape, StrategyKind, raw_spec, scale_in_place};
use zdd_rollout::spec::{GroupHealthCheck, HealthCheckType};
use zdd_rollout::{Command, Outcome, Rollout, RolloutSpec};

fn autoscaled_spec() -> RolloutSpec {
    let mut raw = raw_spec(StrategyKind::BlueGreen, &FleetShape::default(), 7);
    raw.max_size = 8;
    raw.target_tracking = Some(vec![crate::autoscaling::cpu_policy()]);
    RolloutSpec::validate(&raw).unwrap_or_else(|e| panic!("{e}"))
}

/// Steps `rollout` against `world` to its outcome, collecting every command it issued.
fn drive(rollout: &mut Rollout, world: &mut World) -> (Outcome, Vec<Command>) {
    let mut issued = Vec::new();
    for _ in 0..200 {
        let observation = world.observe(None);
        let decision = rollout.step(&observation, world.now());
        if let Some(outcome) = decision.outcome {
            return (outcome, issued);
        }
        for command in &decision.commands {
            if let Err(error) = world.submit(command) {
                rollout.command_failed(command, world.now(), &error);
            }
        }
        issued.extend(decision.commands);
        world.advance_to(decision.next_wake.max(world.now() + Duration::from_secs(1)));
    }
    panic!("no outcome, phase {}", rollout.phase());
}

#[test]
fn in_place_policies_are_reconciled_and_the_autoscaled_capacity_kept() {
    let spec = autoscaled_spec();
    // Generation 1 runs the configured template at 6 (its policy scaled it) with a policy
    // someone put by hand.
    let scenario = scale_in_place("in place", 3, spec.clone(), 6);
    let mut world = World::new(&scenario);
    world.put_policy_by_hand("web-g1", "by-hand");
    let mut rollout = Rollout::start(spec.clone(), &world.observe(None), world.now());
    assert_eq!(rollout.target_generation(), 1, "in place");
    let (outcome, issued) = drive(&mut rollout, &mut world);
    assert_eq!(outcome, Outcome::Succeeded { generation: 1 });
    assert!(world.violations.is_empty(), "{:#?}", world.violations);
    assert!(
        !issued.iter().any(|c| matches!(
            c,
            Command::SetCapacity { desired_capacity, .. } if *desired_capacity != 6
        )),
        "the desired capacity the policy chose is kept: {issued:#?}"
    );
    let (policies, suspended) = world.scaling_of("web-g1").expect("web-g1 serves");
    assert_eq!(policies, vec!["cpu-50".to_string()]);
    assert!(
        suspended.is_empty(),
        "nothing suspended in place: {suspended:?}"
    );
    assert!(
        !issued
            .iter()
            .any(|c| matches!(c, Command::SuspendProcesses { .. })),
        "{issued:#?}"
    );
}

#[test]
fn in_place_an_autoscaled_capacity_outside_the_new_sizes_is_brought_within_them() {
    let mut spec = autoscaled_spec();
    spec.capacity.max = 5;
    let scenario = scale_in_place("in place", 3, spec.clone(), 7);
    let mut world = World::new(&scenario);
    let mut rollout = Rollout::start(spec, &world.observe(None), world.now());
    let (outcome, issued) = drive(&mut rollout, &mut world);
    assert_eq!(outcome, Outcome::Succeeded { generation: 1 });
    assert!(
        issued.iter().any(|c| matches!(
            c,
            Command::SetCapacity {
                desired_capacity: 5,
                max_size: 5,
                ..
            }
        )),
        "{issued:#?}"
    );
}

#[test]
fn a_changed_health_check_or_lifecycle_hook_applies_in_place_to_the_serving_group() {
    // A fleet created before these settings existed: AWS's EC2 health check, no grace
    // period, no hook. The configuration wants ELB and a termination hook.
    let spec = autoscaled_spec();
    let mut wanted = spec.clone();
    wanted.lifecycle_hooks = vec![zdd_rollout::spec::LifecycleHook {
        name: "drain".into(),
        transition: zdd_rollout::spec::HookTransition::Terminating,
        heartbeat_timeout: Duration::from_secs(300),
        default_result: zdd_rollout::spec::HookResult::Continue,
    }];
    let ec2 = GroupHealthCheck {
        kind: HealthCheckType::Ec2,
        grace_period: Duration::ZERO,
        instance_warmup: None,
    };
    let stale_hook = zdd_rollout::spec::LifecycleHook {
        name: "old-hook".into(),
        transition: zdd_rollout::spec::HookTransition::Launching,
        heartbeat_timeout: Duration::from_secs(60),
        default_result: zdd_rollout::spec::HookResult::Abandon,
    };
    let mut scenario = scale_in_place("in place", 3, wanted.clone(), 3);
    scenario.previous_settings = Some((ec2, vec![stale_hook]));
    let mut world = World::new(&scenario);
    let mut rollout = Rollout::start(wanted.clone(), &world.observe(None), world.now());
    assert_eq!(rollout.target_generation(), 1, "no new generation");

    let (outcome, issued) = drive(&mut rollout, &mut world);
    assert_eq!(outcome, Outcome::Succeeded { generation: 1 });
    assert!(
        !issued
            .iter()
            .any(|c| matches!(c, Command::CreateAsg { .. })),
        "{issued:#?}"
    );
    for expected in [
        "set_health_check",
        "put_lifecycle_hook",
        "delete_lifecycle_hook",
    ] {
        assert!(
            issued.iter().any(|c| c.key().starts_with(match expected {
                "set_health_check" => "health-check:",
                "put_lifecycle_hook" => "hook:",
                _ => "delete-hook:",
            })),
            "{expected} missing: {issued:#?}"
        );
    }
    let serving = world.observe(None);
    let group = &serving.asgs[0];
    assert_eq!(group.health_check, Some(wanted.health_check));
    assert_eq!(group.lifecycle_hooks, Some(wanted.lifecycle_hooks.clone()));

    // Not read (an adapter that does not report them): nothing is concluded, nothing issued.
    let spec_world = scale_in_place("in place", 3, spec.clone(), 3);
    let mut world = World::new(&spec_world);
    let mut unread = world.observe(None);
    unread.asgs[0].health_check = None;
    unread.asgs[0].lifecycle_hooks = None;
    assert_eq!(
        Rollout::start(spec.clone(), &unread, world.now()).target_generation(),
        1
    );
    let mut rollout = Rollout::start(spec, &unread, world.now());
    let (outcome, issued) = drive(&mut rollout, &mut world);
    assert_eq!(outcome, Outcome::Succeeded { generation: 1 });
    assert!(
        !issued.iter().any(|c| matches!(
            c,
            Command::SetHealthCheck { .. }
                | Command::PutLifecycleHook { .. }
                | Command::DeleteLifecycleHook { .. }
        )),
        "{issued:#?}"
    );
}
