//! Canary, resumed inside a step: the new targets' health as the resumed apply reads it.
//!
//! The new targets were healthy before any weight reached them, but a resumed apply has not
//! seen them so, and a read of target health can lag behind the truth as far as a read of the
//! listener ([`LISTENER_SETTLE`]): targets read `initial` hold the step (no failure, no weight
//! moved) until a read must be current. A target still `initial` then fails the gate as
//! before; one read `unhealthy` fails it at once.

use std::time::Duration;

use zdd_rollout::engine::LISTENER_SETTLE;
use zdd_rollout::observation::TargetState;
use zdd_rollout::sim::fixtures::{FleetShape, StrategyKind, spec, update};
use zdd_rollout::sim::{Faults, Timings, World};
use zdd_rollout::{Command, Observation, Outcome, Phase, Rollout, RolloutSpec, Timestamp};

/// A fault-free canary world (3 instances, 60 s soaks), rolled out until canary step 1's
/// weights are in place; then the apply is killed, and 1 s later the next one resumes from what
/// AWS shows. Returns the resumed rollout and when it resumed.
fn resumed_in_canary_step_one() -> (World, RolloutSpec, Rollout, Timestamp) {
    let shape = FleetShape {
        soak: Duration::from_secs(60),
        ..FleetShape::default()
    };
    let spec = spec(StrategyKind::Canary, &shape, 7).unwrap_or_else(|e| panic!("{e}"));
    let scenario = update(
        "canary resumed health",
        17,
        spec.clone(),
        Timings::default(),
        Faults::default(),
    );
    let mut world = World::new(&scenario);
    let mut rollout = Rollout::start(spec.clone(), &world.observe(None), world.now());
    for _ in 0..500 {
        if matches!(rollout.phase(), Phase::CanaryStep { index: 0, .. })
            && rollout.checkpoint().step_applied_at.is_some()
        {
            world.advance_to(world.now() + Duration::from_secs(1));
            let now = world.now();
            let resumed = Rollout::resume(spec.clone(), None, &world.observe(None), now);
            assert!(
                matches!(resumed.phase(), Phase::CanaryStep { index: 0, .. }),
                "resumed in {:?}",
                resumed.phase()
            );
            return (world, spec, resumed, now);
        }
        let now = world.now();
        let decision = rollout.step(&world.observe(None), now);
        assert!(decision.outcome.is_none(), "{:?}", rollout.timeline());
        for command in &decision.commands {
            world.submit(command).unwrap_or_else(|e| panic!("{e}"));
        }
        world.advance_to(decision.next_wake.max(now + Duration::from_secs(1)));
    }
    panic!("canary step 1 never in place");
}

/// `observation` with every target of the new generation's instances read as `state`.
fn reading(mut observation: Observation, spec: &RolloutSpec, state: TargetState) -> Observation {
    let new_group = spec.asg_name(2);
    let instances: Vec<String> = observation
        .asg(&new_group)
        .map(|asg| asg.instances.iter().map(|i| i.id.clone()).collect())
        .unwrap_or_default();
    assert!(!instances.is_empty(), "{new_group} has no instance");
    for group in &mut observation.target_groups {
        for target in &mut group.targets {
            if instances.contains(&target.id) {
                target.state = state;
                target.reason = Some(
                    match state {
                        TargetState::Initial => "Elb.InitialHealthChecking",
                        _ => "Target.ResponseCodeMismatch",
                    }
                    .to_string(),
                );
            }
        }
    }
    observation
}

/// What the resumed rollout did, stepped until it failed or finished: when it failed (with
/// why), the weight writes it sent before, and the outcome.
struct Run {
    failed: Option<(Timestamp, String)>,
    weight_writes_before_failure: Vec<Timestamp>,
    outcome: Option<Outcome>,
}

/// Steps `rollout` while `read` decides how the new targets read at each instant (`None`: as
/// they are).
fn run(
    mut world: World,
    spec: &RolloutSpec,
    mut rollout: Rollout,
    read: impl Fn(Timestamp) -> Option<TargetState>,
) -> Run {
    let mut weight_writes = Vec::new();
    let mut metrics_since = None;
    for _ in 0..1000 {
        let now = world.now();
        let truth = world.observe(metrics_since);
        let observation = match read(now) {
            Some(state) => reading(truth, spec, state),
            None => truth,
        };
        let decision = rollout.step(&observation, now);
        metrics_since = decision.metrics_since;
        if let Some(failure) = rollout
            .timeline()
            .iter()
            .find(|event| event.action == "failure")
        {
            return Run {
                failed: Some((failure.at, failure.detail.clone())),
                weight_writes_before_failure: weight_writes,
                outcome: decision.outcome,
            };
        }
        if decision.outcome.is_some() {
            return Run {
                failed: None,
                weight_writes_before_failure: weight_writes,
                outcome: decision.outcome,
            };
        }
        for command in &decision.commands {
            if matches!(command, Command::SetListenerWeights { .. }) {
                weight_writes.push(now);
            }
            world.submit(command).unwrap_or_else(|e| panic!("{e}"));
        }
        world.advance_to(decision.next_wake.max(now + Duration::from_secs(1)));
    }
    panic!("neither failed nor finished: {:?}", rollout.timeline());
}

#[test]
fn a_resumed_canary_step_holds_on_targets_read_initial_until_a_read_must_be_current() {
    let (world, spec, rollout, resumed_at) = resumed_in_canary_step_one();
    let settled = resumed_at + LISTENER_SETTLE;
    // A read that lags 20 s: the truth (healthy) shows from then on.
    let stale_until = resumed_at + Duration::from_secs(20);
    let run = run(world, &spec, rollout, |now| {
        (now < stale_until).then_some(TargetState::Initial)
    });
    assert_eq!(run.failed, None, "a lagging read failed the step");
    assert!(
        matches!(run.outcome, Some(Outcome::Succeeded { .. })),
        "{:?}",
        run.outcome
    );
    assert!(
        run.weight_writes_before_failure
            .iter()
            .all(|at| *at >= stale_until),
        "a weight moved while the step held: {:?} (resumed at {resumed_at:?}, settled at {settled:?})",
        run.weight_writes_before_failure
    );
}

#[test]
fn a_target_still_initial_once_a_read_must_be_current_fails_the_resumed_step() {
    let (world, spec, rollout, resumed_at) = resumed_in_canary_step_one();
    let settled = resumed_at + LISTENER_SETTLE;
    let run = run(world, &spec, rollout, |_| Some(TargetState::Initial));
    let (at, reason) = run.failed.expect("the step fails");
    assert!(
        at >= settled && at < settled + Duration::from_secs(15),
        "failed at {at:?}: resumed at {resumed_at:?}, a read is current from {settled:?}"
    );
    assert!(reason.contains("initial"), "{reason}");
    assert!(reason.contains("canary step 1"), "{reason}");
    assert_eq!(
        run.weight_writes_before_failure,
        Vec::<Timestamp>::new(),
        "no weight moves while the step holds"
    );
}

#[test]
fn a_target_read_unhealthy_fails_the_resumed_step_at_once() {
    let (world, spec, rollout, resumed_at) = resumed_in_canary_step_one();
    let run = run(world, &spec, rollout, |_| Some(TargetState::Unhealthy));
    let (at, reason) = run.failed.expect("the step fails");
    assert_eq!(at, resumed_at, "{reason}");
    assert!(reason.contains("unhealthy"), "{reason}");
}
