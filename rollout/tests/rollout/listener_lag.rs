//! Canary: a target group leaves the load balancer only once the listener is known to send it
//! nothing, however far a read of the listener lags and however late a weight write lands.
//!
//! The weights a rollback writes (all to the stable group) are the weights from before the
//! rollout, so a read that lags behind the listener can show them before the rollback's write
//! (or the canary's own last write) has landed. Found by random exploration: a killed and
//! resumed canary rollback read the original weights, detached the canary group while its
//! 0/100 write was still landing, and dropped requests. Going forward, an earlier step's write
//! landing late can undo the 100 % a read shows before the stable group leaves.

use std::collections::VecDeque;
use std::time::Duration;

use zdd_rollout::observation::ListenerObservation;
use zdd_rollout::sim::fixtures::{FleetShape, StrategyKind, raw_spec, spec, update};
use zdd_rollout::sim::{Faults, Kill, Timings, World, run};
use zdd_rollout::{AbortReason, Command, Outcome, Phase, Rollout, RolloutSpec, Timestamp};

/// Replayed as exploration found it (`invariants::canary_holds_every_invariant_while_the_fleet_
/// scales_itself`, seed 1771087036381590240): killed in canary step 1 (5 %), the resumed apply
/// sees the alarm, writes 0/100, and a read 20 s behind shows the listener's original weights.
#[test]
fn found_by_exploration_a_resumed_canary_rollback_reading_the_original_weights() {
    let shape = FleetShape {
        desired: 4,
        surge: 3,
        batch_size: 1,
        min_healthy_percent: 100,
        soak: Duration::from_secs(30),
        health_timeout: Duration::from_secs(300),
        rollback_on_failure: false,
        two_target_groups: false,
        min_requests: None,
    };
    let spec = RolloutSpec::validate(&raw_spec(StrategyKind::Canary, &shape, 7))
        .unwrap_or_else(|e| panic!("fixture: {e}"));
    assert_eq!(
        (spec.capacity.min, spec.capacity.max, spec.capacity.desired),
        (1, 7, 4)
    );
    let timings = Timings {
        boot_min: Duration::from_secs(32),
        boot_max: Duration::from_secs(37),
        app_start_max: Duration::from_secs(1),
        health_check_interval: Duration::from_secs(15),
        healthy_threshold: 3,
        unhealthy_threshold: 2,
        deregistration_delay: Duration::from_secs(5),
        request_duration: Duration::from_secs(1),
        requests_per_second: 20,
        hook_completion_max: Duration::ZERO,
        ..Timings::default()
    };
    let faults = Faults {
        flap: 0.2,
        api_failure: 0.1,
        consistency_delay_max: Duration::from_secs(15),
        stale_read_max: Duration::from_secs(20),
        alarm_at: Some(Duration::from_secs(128)),
        ..Faults::default()
    };
    let mut scenario = update(
        "canary autoscaling",
        1771087036381590240,
        spec,
        timings,
        faults,
    );
    scenario.previous_desired = Some(5);
    let kill = Kill {
        after_steps: vec![7],
        keep_checkpoint: false,
        restart_after: Duration::from_secs(16),
        ..Kill::default()
    };

    let report = run(&scenario, &kill);

    let trace = report.trace.join("\n");
    assert_eq!(report.kills, 1, "{trace}");
    assert!(
        matches!(
            report.outcome,
            Some(Outcome::RolledBack {
                serving: Some(1),
                ..
            })
        ),
        "{:?}\n{trace}",
        report.outcome
    );
    assert_eq!(report.dropped, 0, "{trace}");
    assert!(
        report.violations.is_empty(),
        "{:?}\n{trace}",
        report.violations
    );
}

/// Found by `canary_rollbacks_under_a_lagging_listener_drop_nothing`: killed 1 s after the
/// stable group's detach was sent (it lands up to 15 s later), the resumed apply read the
/// stable group still attached, saw the alarm, and sent it all the traffic at once: the
/// detach landed and 6000 requests found no target. The resumed rollback now waits until a
/// read can show what its predecessor issued, re-attaches the group, and moves the weights
/// once it is healthy again.
#[test]
fn found_by_exploration_a_resumed_canary_rollback_waits_for_a_detach_its_predecessor_sent() {
    let shape = FleetShape {
        desired: 2,
        soak: Duration::from_secs(30),
        ..FleetShape::default()
    };
    let spec = spec(StrategyKind::Canary, &shape, 7).unwrap_or_else(|e| panic!("{e}"));
    let timings = Timings {
        boot_min: Duration::from_secs(20),
        boot_max: Duration::from_secs(38),
        health_check_interval: Duration::from_secs(15),
        deregistration_delay: Duration::from_secs(5),
        requests_per_second: 100,
        ..Timings::default()
    };
    let faults = Faults {
        api_failure: 0.1,
        consistency_delay_max: Duration::from_secs(15),
        stale_read_max: STALE,
        alarm_at: Some(Duration::from_secs(293)),
        ..Faults::default()
    };
    let scenario = update(
        "canary lagging listener",
        3020871018089330055,
        spec,
        timings,
        faults,
    );
    let kill = Kill {
        after_steps: vec![33],
        restart_after: Duration::from_secs(1),
        ..Kill::default()
    };

    let report = run(&scenario, &kill);

    let trace = report.trace.join("\n");
    assert_eq!(report.kills, 1, "{trace}");
    assert!(
        trace.contains("killed") && trace.contains("restoring_old"),
        "no longer the scenario it was: {trace}"
    );
    assert!(
        matches!(
            report.outcome,
            Some(Outcome::RolledBack {
                serving: Some(1),
                ..
            })
        ),
        "{:?}\n{trace}",
        report.outcome
    );
    assert_eq!(report.dropped, 0, "{trace}");
    assert!(
        report.violations.is_empty(),
        "{:?}\n{trace}",
        report.violations
    );
}

/// How far behind a read of the listener may be (the simulator's property tests draw up to
/// this much).
const STALE: Duration = Duration::from_secs(20);

/// The simulated cloud with a listener as bad as the model allows: once `lagging`, each read
/// of the listener is the oldest state a read within [`STALE`] may return; the next weight
/// writes land `late` (one each) after they were sent, the ones after those `late_rest`.
/// Everything else is fresh and immediate, so only the listener can make the engine go wrong.
struct LaggingListener {
    world: World,
    lagging: bool,
    late: VecDeque<Duration>,
    late_rest: Duration,
    /// The listener as it really was at each read (the oldest first).
    history: VecDeque<(Timestamp, Option<ListenerObservation>)>,
    /// Weight writes sent but not landed yet.
    landing: VecDeque<(Timestamp, Command)>,
    /// The window the last decision asked metrics for.
    metrics_since: Option<Timestamp>,
}

impl LaggingListener {
    fn new(world: World) -> LaggingListener {
        LaggingListener {
            world,
            lagging: false,
            late: VecDeque::new(),
            late_rest: Duration::ZERO,
            history: VecDeque::new(),
            landing: VecDeque::new(),
            metrics_since: None,
        }
    }

    fn observe(&mut self) -> zdd_rollout::Observation {
        let mut observation = self.world.observe(self.metrics_since);
        let now = self.world.now();
        self.history.push_back((now, observation.listener.clone()));
        while self
            .history
            .front()
            .is_some_and(|(at, _)| *at + STALE < now)
        {
            self.history.pop_front();
        }
        if self.lagging
            && let Some((_, oldest)) = self.history.front()
        {
            observation.listener = oldest.clone();
        }
        observation
    }

    fn send(&mut self, rollout: &mut Rollout, commands: &[Command]) {
        let now = self.world.now();
        for command in commands {
            let late = match command {
                Command::SetListenerWeights { .. } => {
                    self.late.pop_front().unwrap_or(self.late_rest)
                }
                _ => Duration::ZERO,
            };
            if !late.is_zero() {
                let at = now + late;
                let index = self.landing.partition_point(|(t, _)| *t <= at);
                self.landing.insert(index, (at, command.clone()));
            } else if let Err(error) = self.world.submit(command) {
                rollout.command_failed(command, now, &error);
            }
            // Checked when the engine acts, on the truth: a group leaves while it gets traffic.
            if let Command::DetachTargetGroups {
                asg,
                target_group_arns,
            } = command
            {
                let fresh = self.world.observe(None);
                for group in target_group_arns {
                    let share = fresh.listener.as_ref().map_or(0, |l| l.percent_of(group));
                    assert_eq!(
                        share, 0,
                        "{asg} left {group} at {now} while the listener sent it {share} %"
                    );
                }
            }
        }
    }

    fn advance_to(&mut self, until: Timestamp) {
        while let Some((at, _)) = self.landing.front()
            && *at <= until
        {
            let at = *at;
            self.world.advance_to(at);
            if let Some((_, command)) = self.landing.pop_front() {
                self.world
                    .submit(&command)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
        self.world.advance_to(until);
    }

    /// One step of `rollout`: observe, decide, send; then wait until it wants to look again.
    fn step(&mut self, rollout: &mut Rollout) -> Option<Outcome> {
        let observation = self.observe();
        let now = self.world.now();
        let decision = rollout.step(&observation, now);
        self.metrics_since = decision.metrics_since;
        self.send(rollout, &decision.commands);
        let next = decision.next_wake.max(now + Duration::from_secs(1));
        self.advance_to(next);
        decision.outcome
    }
}

/// The fault-free canary world of a fleet of 3 at 50 requests per second, each step soaking
/// `soak`.
fn canary_world(soak: Duration) -> (RolloutSpec, World) {
    let shape = FleetShape {
        soak,
        ..FleetShape::default()
    };
    let spec = spec(StrategyKind::Canary, &shape, 7).unwrap_or_else(|e| panic!("{e}"));
    let scenario = update(
        "canary lagging listener",
        11,
        spec.clone(),
        Timings::default(),
        Faults::default(),
    );
    (spec, World::new(&scenario))
}

/// Steps a fresh rollout until canary step `index` has been seen in place (its soak begun).
fn rollout_until_step_in_place(cloud: &mut LaggingListener, spec: &RolloutSpec, index: usize) {
    let mut rollout = Rollout::start(spec.clone(), &cloud.observe(), cloud.world.now());
    for _ in 0..500 {
        if matches!(rollout.phase(), Phase::CanaryStep { index: i, .. } if *i == index)
            && rollout.checkpoint().step_applied_at.is_some()
        {
            return;
        }
        assert!(
            cloud.step(&mut rollout).is_none(),
            "finished before canary step {}: {:?}",
            index + 1,
            rollout.timeline()
        );
    }
    panic!("canary step {} never in place", index + 1);
}

/// Killed right after a canary step's weights were seen in place (its checkpoint lost); the
/// next apply resumes, and is interrupted at once: it rolls back while the listener lags 20 s
/// behind (still showing the weights from before the canary) and its weight writes land
/// 14 s late. The canary group must not leave the load balancer before the listener stops
/// sending it traffic (asserted at the detach), and no request may be dropped.
#[test]
fn a_resumed_canary_rollback_waits_until_a_read_can_show_its_own_weights() {
    for index in 0..3 {
        let (spec, world) = canary_world(Duration::from_secs(60));
        let mut cloud = LaggingListener::new(world);
        rollout_until_step_in_place(&mut cloud, &spec, index);
        // Killed: the next apply knows only what AWS shows (read fresh, this once).
        cloud.advance_to(cloud.world.now() + Duration::from_secs(1));
        let observation = cloud.observe();
        let mut resumed = Rollout::resume(spec.clone(), None, &observation, cloud.world.now());
        assert!(
            matches!(resumed.phase(), Phase::CanaryStep { index: i, .. } if *i == index),
            "resumed in {}",
            resumed.phase()
        );
        let answer = resumed.abort(&AbortReason::Interrupted, cloud.world.now());
        assert!(answer.keep_stepping(), "{answer}");
        cloud.lagging = true;
        cloud.late_rest = Duration::from_secs(14);

        let outcome = (0..500).find_map(|_| cloud.step(&mut resumed));

        assert!(
            matches!(
                outcome,
                Some(Outcome::RolledBack {
                    serving: Some(1),
                    ..
                })
            ),
            "step {}: {outcome:?}: {:#?}",
            index + 1,
            resumed.timeline()
        );
        assert_eq!(
            cloud.world.dropped(),
            0,
            "step {}: {:#?}",
            index + 1,
            resumed.timeline()
        );
        assert!(
            cloud.world.violations.is_empty(),
            "{:?}",
            cloud.world.violations
        );
    }
}

/// Steps without a soak: the first weight write (5 %) lands 35 s late, after the engine wrote
/// it again and went on through 25, 50 and 100 %, which land at once. A read showing 100 %
/// must not let the stable group leave while that first write can still land and send it
/// 95 % again (to no target: dropped requests); the rollout completes without a dropped
/// request.
#[test]
fn a_canary_detaches_the_stable_group_only_once_no_earlier_weight_write_can_land() {
    let (spec, world) = canary_world(Duration::ZERO);
    let mut cloud = LaggingListener::new(world);
    cloud.late = VecDeque::from([Duration::from_secs(35)]);
    let mut rollout = Rollout::start(spec, &cloud.observe(), cloud.world.now());

    let outcome = (0..500).find_map(|_| cloud.step(&mut rollout));

    assert_eq!(
        outcome,
        Some(Outcome::Succeeded { generation: 2 }),
        "{:#?}",
        rollout.timeline()
    );
    assert_eq!(cloud.world.dropped(), 0, "{:#?}", rollout.timeline());
    assert!(
        cloud.world.violations.is_empty(),
        "{:?}",
        cloud.world.violations
    );
}

/// Canary rollouts that roll back (an alarm fires at a random moment) under the listener's
/// worst lags the simulator draws, killed once at a random step: no request is dropped and
/// every invariant holds. (Case count: `PROPTEST_CASES`; see `support/mod.rs`.)
#[test]
fn canary_rollbacks_under_a_lagging_listener_drop_nothing() {
    use proptest::prelude::*;

    let case = (
        any::<u64>(),
        1u32..=6,                                    // desired
        prop_oneof![Just(30u64), Just(60)],          // soak
        (20u64..=40, 0u64..=30),                     // boot min, spread
        prop_oneof![Just(5u64), Just(15), Just(30)], // health check interval
        prop_oneof![Just(5u64), Just(60)],           // deregistration delay
        60u64..400,                                  // alarm
        (1usize..40, 1u64..=30, any::<bool>()),      // kill: step, restart, checkpoint
    )
        .prop_map(
            |(seed, desired, soak, (boot, spread), interval, delay, alarm, kill)| {
                let shape = FleetShape {
                    desired,
                    soak: Duration::from_secs(soak),
                    ..FleetShape::default()
                };
                let spec = spec(StrategyKind::Canary, &shape, 7)
                    .unwrap_or_else(|e| panic!("fixture: {e}"));
                let timings = Timings {
                    boot_min: Duration::from_secs(boot),
                    boot_max: Duration::from_secs(boot + spread),
                    health_check_interval: Duration::from_secs(interval),
                    deregistration_delay: Duration::from_secs(delay),
                    requests_per_second: 100,
                    ..Timings::default()
                };
                let faults = Faults {
                    api_failure: 0.1,
                    consistency_delay_max: Duration::from_secs(15),
                    stale_read_max: STALE,
                    alarm_at: Some(Duration::from_secs(alarm)),
                    ..Faults::default()
                };
                let scenario = update("canary lagging listener", seed, spec, timings, faults);
                let kill = Kill {
                    after_steps: vec![kill.0],
                    restart_after: Duration::from_secs(kill.1),
                    keep_checkpoint: kill.2,
                    ..Kill::default()
                };
                (scenario, kill)
            },
        );
    let mut runner = crate::support::runner("canary lagging listener", 300);
    let result = runner.run(&case, |(scenario, kill)| {
        let report = run(&scenario, &kill);
        let trace = || report.trace.join("\n");
        prop_assert_eq!(report.dropped, 0, "{}", trace());
        prop_assert!(
            report.violations.is_empty(),
            "{:?}\n{}",
            report.violations,
            trace()
        );
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}
