//! Fleets that scale themselves (issue #13): capacity that follows the serving group, no
//! scaling fights, lifecycle hooks. Each scenario asserts its behaviour and that every
//! invariant held (the simulator checks the floor from the capacity actually served, skipped
//! hooks, scaling fights and where the policies end up).

use std::time::Duration;

use zdd_rollout::sim::fixtures::{FleetShape, StrategyKind, raw_spec, update};
use zdd_rollout::sim::{Faults, Kill, Report, ScalingEvent, ScalingGroup, Scenario, Timings, run};
use zdd_rollout::spec::{RawLifecycleHook, RawTargetTracking};
use zdd_rollout::{Outcome, RawSpec, RolloutSpec};

const SUSPEND: &str = "AlarmNotification,ScheduledActions,AZRebalance";

pub(crate) fn cpu_policy() -> RawTargetTracking {
    RawTargetTracking {
        name: "cpu-50".into(),
        predefined_metric: "ASGAverageCPUUtilization".into(),
        target_value: 50.0,
        disable_scale_in: None,
    }
}

pub(crate) fn hook(transition: &str, heartbeat: &str, result: &str) -> RawLifecycleHook {
    RawLifecycleHook {
        name: format!("{transition}-hook"),
        transition: transition.into(),
        heartbeat_timeout: Some(heartbeat.into()),
        default_result: Some(result.into()),
    }
}

/// Fleet `web` of `desired` (spec) instances, `max` at most, with a CPU policy.
fn autoscaled(kind: StrategyKind, desired: u32, max: u32) -> RawSpec {
    let mut raw = raw_spec(
        kind,
        &FleetShape {
            desired,
            soak: Duration::from_secs(60),
            ..FleetShape::default()
        },
        7,
    );
    raw.max_size = i64::from(max);
    raw.target_tracking = Some(vec![cpu_policy()]);
    raw
}

fn scenario(raw: &RawSpec, serving_at: Option<u32>, scaling: Vec<ScalingEvent>) -> Scenario {
    let spec = RolloutSpec::validate(raw).unwrap_or_else(|e| panic!("invalid fixture: {e}"));
    let mut scenario = update(
        "autoscaling",
        42,
        spec,
        Timings::default(),
        Faults::default(),
    );
    scenario.previous_desired = serving_at;
    scenario.scaling = scaling;
    scenario
}

fn at(secs: u64, group: ScalingGroup, desired: u32) -> ScalingEvent {
    ScalingEvent {
        at: Duration::from_secs(secs),
        group,
        desired,
    }
}

pub(crate) fn render(report: &Report) -> String {
    format!(
        "outcome: {:?}\nduration: {}s\ndropped: {}\nviolations: {:?}\nscaling: {:?}\n---\n{}\n",
        report.outcome,
        report.duration.as_secs(),
        report.dropped,
        report.violations,
        report.scaling_log,
        report.trace.join("\n")
    )
}

fn succeeded(scenario: &Scenario) -> Report {
    let report = run(scenario, &Kill::default());
    assert_eq!(
        report.outcome,
        Some(Outcome::Succeeded { generation: 2 }),
        "{}",
        render(&report)
    );
    assert!(report.violations.is_empty(), "{}", render(&report));
    assert_eq!(report.dropped, 0, "{}", render(&report));
    report
}

/// Index of the first trace line containing `needle` (panics when there is none).
fn line_of(report: &Report, needle: &str) -> usize {
    report
        .trace
        .iter()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no line contains {needle:?}:\n{}", render(report)))
}

fn has_line(report: &Report, needle: &str) -> bool {
    report.trace.iter().any(|line| line.contains(needle))
}

#[test]
fn an_autoscaled_blue_green_at_4_starts_the_new_generation_at_4() {
    let report = succeeded(&scenario(
        &autoscaled(StrategyKind::BlueGreen, 2, 6),
        Some(4),
        vec![],
    ));
    assert!(
        has_line(&report, "create web-g2 (lt-0abc version 7, desired 4,"),
        "{}",
        render(&report)
    );
    // The new group's own policy is put only once its self-scaling is suspended, and
    // resumed once it serves everything; the old one stops scaling before it is detached.
    let suspend_new = line_of(&report, &format!("suspend {SUSPEND} on web-g2"));
    let put_new = line_of(
        &report,
        "put scaling policy cpu-50 (ASGAverageCPUUtilization at 50) on web-g2",
    );
    assert!(suspend_new < put_new, "{}", render(&report));
    let suspend_old = line_of(&report, &format!("suspend {SUSPEND} on web-g1"));
    let detach_old = line_of(&report, "detach web-g1 from");
    assert!(suspend_old < detach_old, "{}", render(&report));
    let resume_new = line_of(&report, &format!("resume {SUSPEND} on web-g2"));
    assert!(detach_old < resume_new, "{}", render(&report));
    assert!(
        !has_line(&report, "desired 2"),
        "the rollout never sets the configured first capacity back: {}",
        render(&report)
    );
    insta::assert_snapshot!(render(&report));
}

#[test]
fn the_new_groups_own_policy_cannot_scale_it_in_before_it_serves() {
    let raw = autoscaled(StrategyKind::BlueGreen, 3, 6);
    let report = succeeded(&scenario(&raw, None, vec![at(40, ScalingGroup::New, 1)]));
    assert!(
        report
            .scaling_log
            .iter()
            .any(|l| l.contains("web-g2 to 1: lost")),
        "{}",
        render(&report)
    );
}

#[test]
fn blue_green_follows_an_old_scale_out_before_the_detach() {
    let raw = autoscaled(StrategyKind::BlueGreen, 3, 8);
    let report = succeeded(&scenario(
        &raw,
        None,
        vec![at(30, ScalingGroup::Serving, 5)],
    ));
    assert!(
        report
            .scaling_log
            .iter()
            .any(|l| l.contains("web-g1 scaled itself 3 → 5")),
        "{}",
        render(&report)
    );
    let follow = line_of(&report, "set web-g2 capacity min 1 max 8 desired 5");
    assert!(
        follow < line_of(&report, "detach web-g1 from"),
        "{}",
        render(&report)
    );
}

#[test]
fn canary_follows_an_old_scale_out_before_the_next_weight() {
    let raw = autoscaled(StrategyKind::Canary, 3, 8);
    let report = succeeded(&scenario(
        &raw,
        None,
        vec![at(100, ScalingGroup::Serving, 6)],
    ));
    let follow = line_of(&report, "set web-g2 capacity min 1 max 8 desired 6");
    assert!(
        follow < line_of(&report, "app-green=25"),
        "{}",
        render(&report)
    );
    // The old group keeps scaling during the steps: it is suspended only before the last move.
    let suspend_old = line_of(&report, &format!("suspend {SUSPEND} on web-g1"));
    assert!(
        suspend_old > line_of(&report, "app-green=50"),
        "{}",
        render(&report)
    );
    assert!(
        suspend_old < line_of(&report, "app-green=100"),
        "{}",
        render(&report)
    );
}

#[test]
fn rolling_follows_an_old_scale_out_and_keeps_the_floor() {
    let raw = autoscaled(StrategyKind::Rolling, 3, 7);
    let report = succeeded(&scenario(
        &raw,
        None,
        vec![at(20, ScalingGroup::Serving, 5)],
    ));
    assert!(
        has_line(&report, "of 5 new instances"),
        "{}",
        render(&report)
    );
    let suspend_old = line_of(&report, &format!("suspend {SUSPEND} on web-g1"));
    let first_scale_in = line_of(&report, "set web-g1 capacity min 0");
    assert!(suspend_old < first_scale_in, "{}", render(&report));
}

#[test]
fn an_old_scale_in_mid_shift_is_no_reason_to_shrink_the_new_generation() {
    for kind in [
        StrategyKind::BlueGreen,
        StrategyKind::Rolling,
        StrategyKind::Canary,
    ] {
        let raw = autoscaled(kind, 4, 7);
        succeeded(&scenario(
            &raw,
            None,
            vec![at(25, ScalingGroup::Serving, 2)],
        ));
    }
}

#[test]
fn rolling_without_room_fails_before_touching_anything() {
    let raw = autoscaled(StrategyKind::Rolling, 3, 5);
    let report = run(&scenario(&raw, Some(5), vec![]), &Kill::default());
    match &report.outcome {
        Some(Outcome::RolledBack {
            serving, reason, ..
        }) => {
            assert_eq!(*serving, Some(1));
            assert!(reason.contains("max_size"), "{reason}");
        }
        other => panic!(
            "expected a clear refusal, got {other:?}\n{}",
            render(&report)
        ),
    }
    assert!(!has_line(&report, "create_asg"), "{}", render(&report));
    assert!(report.violations.is_empty(), "{}", render(&report));
}

#[test]
fn a_fleet_without_target_tracking_never_lowers_serving_capacity_while_traffic_shifts() {
    for kind in StrategyKind::ALL {
        let mut raw = autoscaled(kind, 2, 6);
        raw.target_tracking = None;
        let report = succeeded(&scenario(&raw, Some(4), vec![]));
        assert!(
            has_line(&report, "create web-g2 (lt-0abc version 7, desired 4,")
                || has_line(&report, "of 4 new instances"),
            "{}",
            render(&report)
        );
        // The requested scale-in happens after the shift, in place on the new group.
        let scale_in = line_of(&report, "set web-g2 capacity min 1 max 6 desired 2");
        assert!(
            scale_in > line_of(&report, "delete web-g1"),
            "{}",
            render(&report)
        );
        assert!(!has_line(&report, "scaling policy"), "{}", render(&report));
        assert!(!has_line(&report, "suspend"), "{}", render(&report));
    }
}

#[test]
fn a_termination_hook_scales_the_retiring_group_to_zero_and_deletes_it_empty() {
    let mut raw = autoscaled(StrategyKind::BlueGreen, 3, 6);
    raw.target_tracking = None;
    raw.lifecycle_hooks = Some(vec![hook("terminating", "60s", "CONTINUE")]);
    let mut scenario = scenario(&raw, None, vec![]);
    scenario.timings.hook_completion_max = Duration::from_secs(90);
    let report = succeeded(&scenario);
    let to_zero = line_of(&report, "set web-g1 capacity min 0 max 0 desired 0");
    let delete = line_of(&report, "delete web-g1 (empty, no force)");
    assert!(to_zero < delete, "{}", render(&report));
    assert!(
        !report
            .trace
            .iter()
            .any(|l| l.ends_with("delete_asg: delete web-g1")),
        "never ForceDelete past a hook: {}",
        render(&report)
    );
    assert!(
        report
            .hook_waits
            .iter()
            .any(|w| w.starts_with("i-1-") && w.ends_with("Terminating:Wait")),
        "{:?}",
        report.hook_waits
    );
    assert!(has_line(&report, "Terminating:Wait"), "{}", render(&report));
    insta::assert_snapshot!(render(&report));
}

#[test]
fn a_teardown_with_a_termination_hook_deletes_each_group_empty() {
    let mut raw = autoscaled(StrategyKind::BlueGreen, 2, 4);
    raw.lifecycle_hooks = Some(vec![hook("terminating", "30s", "ABANDON")]);
    let mut scenario = scenario(&raw, None, vec![]);
    scenario.teardown = true;
    let report = run(&scenario, &Kill::default());
    assert!(report.violations.is_empty(), "{}", render(&report));
    assert!(
        has_line(&report, "delete web-g1 (empty, no force)"),
        "{}",
        render(&report)
    );
}

#[test]
fn a_late_launch_hook_is_waited_for_beyond_the_health_timeout() {
    let mut raw = autoscaled(StrategyKind::BlueGreen, 3, 6);
    raw.target_tracking = None;
    raw.health_timeout = Some("5m".into());
    raw.lifecycle_hooks = Some(vec![hook("launching", "15m", "CONTINUE")]);
    let mut scenario = scenario(&raw, None, vec![]);
    scenario.timings.hook_completion_max = Duration::from_secs(12 * 60);
    let report = succeeded(&scenario);
    assert!(
        report.duration > Duration::from_secs(5 * 60),
        "the hooks held the launch past the health timeout: {}",
        render(&report)
    );
    assert!(
        report
            .hook_waits
            .iter()
            .any(|w| w.ends_with("Pending:Wait")),
        "{:?}",
        report.hook_waits
    );
    assert!(has_line(&report, "Pending:Wait"), "{}", render(&report));
    insta::assert_snapshot!(render(&report));
}

#[test]
fn a_rollback_resumes_what_it_suspended_on_the_old_group() {
    let raw = autoscaled(StrategyKind::BlueGreen, 3, 6);
    let scenario = scenario(&raw, None, vec![]);
    // Abort at each step until one lands after the old group's suspension.
    let report = (1..80)
        .map(|step| {
            run(
                &scenario,
                &Kill {
                    abort_after_step: Some(step),
                    ..Kill::default()
                },
            )
        })
        .find(|r| {
            let suspended = r
                .trace
                .iter()
                .position(|l| l.contains(&format!("suspend {SUSPEND} on web-g1")));
            let aborted = r.trace.iter().position(|l| l.contains("aborted:"));
            matches!((suspended, aborted), (Some(s), Some(a)) if s < a)
                && matches!(r.outcome, Some(Outcome::RolledBack { .. }))
        })
        .expect("an abort after the old group's suspension");
    assert!(report.violations.is_empty(), "{}", render(&report));
    assert!(
        has_line(&report, &format!("resume {SUSPEND} on web-g1")),
        "{}",
        render(&report)
    );
}

#[test]
fn a_generation_kept_after_its_rollback_loses_its_policies() {
    let mut raw = autoscaled(StrategyKind::BlueGreen, 3, 6);
    raw.rollback_on_failure = Some(false);
    let mut scenario = scenario(&raw, None, vec![]);
    scenario.faults.bad_release = true;
    let report = run(&scenario, &Kill::default());
    assert!(
        matches!(report.outcome, Some(Outcome::RolledBack { .. })),
        "{}",
        render(&report)
    );
    assert!(report.violations.is_empty(), "{}", render(&report));
    assert!(
        has_line(&report, "delete scaling policy cpu-50 of web-g2"),
        "{}",
        render(&report)
    );
}

/// The simulated Auto Scaling refuses and flags what AWS would: a delete without force while
/// instances remain (`ResourceInUse`), and a ForceDelete that abandons a termination hook.
#[test]
fn the_simulator_refuses_a_delete_without_force_and_flags_a_skipped_hook() {
    use zdd_rollout::Command;
    use zdd_rollout::sim::World;

    let mut raw = autoscaled(StrategyKind::BlueGreen, 2, 4);
    raw.lifecycle_hooks = Some(vec![hook("terminating", "60s", "CONTINUE")]);
    let scenario = scenario(&raw, None, vec![]);

    let mut world = World::new(&scenario);
    let refused = world.submit(&Command::DeleteAsg {
        asg: "web-g1".into(),
        force: false,
    });
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("ResourceInUse")),
        "{refused:?}"
    );
    assert!(world.live_generations().contains(&1));

    let mut world = World::new(&scenario);
    world
        .submit(&Command::DeleteAsg {
            asg: "web-g1".into(),
            force: true,
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        world.violations.iter().any(|v| v.contains("hook skipped")),
        "{:#?}",
        world.violations
    );
}

/// A scaling event lands only while the group has a policy and its alarms act.
#[test]
fn a_suspended_group_does_not_scale_itself() {
    use zdd_rollout::Command;
    use zdd_rollout::observation::ScalingProcess;
    use zdd_rollout::sim::World;

    let raw = autoscaled(StrategyKind::BlueGreen, 2, 6);
    let scenario = scenario(
        &raw,
        None,
        vec![
            at(10, ScalingGroup::Serving, 5),
            at(20, ScalingGroup::Serving, 4),
        ],
    );
    let mut world = World::new(&scenario);
    world.advance_to(world.now() + Duration::from_secs(15));
    let desired = |world: &mut World| {
        world
            .observe(None)
            .asg("web-g1")
            .map(|a| a.desired_capacity)
    };
    assert_eq!(desired(&mut world), Some(5), "{:?}", world.scaling_log);
    world
        .submit(&Command::SuspendProcesses {
            asg: "web-g1".into(),
            processes: ScalingProcess::SELF_SCALING.to_vec(),
        })
        .unwrap_or_else(|e| panic!("{e}"));
    world.advance_to(world.now() + Duration::from_secs(15));
    assert_eq!(desired(&mut world), Some(5), "{:?}", world.scaling_log);
    assert!(
        world.scaling_log.iter().any(|l| l.contains("lost")),
        "{:?}",
        world.scaling_log
    );
}

/// Killed right after an abort that follows the old group's suspension: the next apply reads
/// the rollback from the `zdd:rollback` tag and what zdd suspended from `zdd:suspended`, and
/// resumes exactly that.
#[test]
fn a_killed_rollback_resumes_what_the_tag_says_zdd_suspended() {
    let raw = autoscaled(StrategyKind::BlueGreen, 3, 6);
    let scenario = scenario(&raw, None, vec![]);
    let report = (1..80)
        .map(|step| {
            run(
                &scenario,
                &Kill {
                    abort_after_step: Some(step),
                    after_steps: vec![step + 1],
                    restart_after: Duration::from_secs(20),
                    ..Kill::default()
                },
            )
        })
        .find(|r| {
            let suspended = r
                .trace
                .iter()
                .position(|l| l.contains(&format!("suspend {SUSPEND} on web-g1")));
            let killed = r.trace.iter().position(|l| l.contains("killed:"));
            matches!((suspended, killed), (Some(s), Some(k)) if s < k)
                && matches!(r.outcome, Some(Outcome::RolledBack { .. }))
        })
        .expect("a kill after the abort that follows the old group's suspension");
    assert!(report.violations.is_empty(), "{}", render(&report));
    let killed = line_of(&report, "killed:");
    let resumed = line_of(&report, &format!("resume {SUSPEND} on web-g1"));
    assert!(killed < resumed, "{}", render(&report));
}

/// A reader's `phase` lines come from `Decision::phases_entered`: the canary's "follows the
/// serving group" (a `phase` timeline entry, but no change of phase) is not one, and each
/// change of phase is one.
#[test]
fn following_the_serving_group_is_no_phase_entered() {
    let raw = autoscaled(StrategyKind::Canary, 3, 8);
    let report = succeeded(&scenario(
        &raw,
        None,
        vec![at(100, ScalingGroup::Serving, 6)],
    ));
    assert!(
        has_line(&report, "follows the serving group"),
        "{}",
        render(&report)
    );
    assert!(
        report
            .phases_entered
            .iter()
            .all(|entered| !entered.detail.contains("follows the serving group")),
        "{:#?}",
        report.phases_entered
    );
    assert_eq!(
        report.phases_entered.len(),
        report.transitions.len(),
        "{:#?}",
        report.phases_entered
    );
    let values: Vec<&str> = report
        .phases_entered
        .iter()
        .map(|entered| entered.phase.as_str())
        .collect();
    assert!(
        values
            .iter()
            .any(|value| value.starts_with("canary_step 1/")),
        "{values:?}"
    );
    assert_eq!(values.last(), Some(&"complete"), "{values:?}");
}
