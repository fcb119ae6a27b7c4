//! `Rollout::progress` (issue #17, "seeing a rollout"): what the live view and the samples are
//! made of, checked at every step of simulated rollouts of each strategy, with a bake and with
//! a rollback: the health counted is possible, the weight is the one the listener shows, the
//! floor is the one the invariant checker holds the rollout to, and a countdown never jumps
//! back up within one wait nor exceeds the longest that wait can last.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::Duration;

use zdd_events::{Progress, Role, WaitKind};
use zdd_rollout::sim::fixtures::{FleetShape, StrategyKind, raw_spec, update};
use zdd_rollout::sim::{Controller, Faults, Kill, Report, Timings, run_with};
use zdd_rollout::spec::{RawBake, Strategy};
use zdd_rollout::{
    Checkpoint, Command, Decision, Observation, Outcome, Rollout, RolloutSpec, Timestamp,
};

/// One step: its observation's facts the test checks progress against, and the progress.
struct Look {
    progress: Progress,
    /// The canary listener's share for the new generation's target group, as the test
    /// computes it from the observation (the new group attached to exactly one target group).
    observed_weight: Option<u32>,
    /// Live instances per group name.
    live: Vec<(String, u32)>,
    /// The longest deregistration delay of the observed target groups.
    deregistration_delay: Duration,
    /// Timeline entries this step added (`action: detail`).
    events: Vec<String>,
}

struct Recording {
    inner: Rollout,
    log: Rc<RefCell<Vec<Look>>>,
}

impl Controller for Recording {
    fn step(&mut self, observation: &Observation, now: Timestamp) -> Decision {
        let decision = self.inner.step(observation, now);
        let progress = self.inner.progress(observation, now);
        let new = progress
            .generations
            .iter()
            .find(|g| g.role == Role::New)
            .and_then(|g| observation.asg(&g.asg));
        let observed_weight = match (&observation.listener, new) {
            (Some(listener), Some(asg)) if asg.target_group_arns.len() == 1 => {
                let total: u32 = listener.weights.iter().map(|(_, w)| w).sum();
                let own = listener.weight_of(&asg.target_group_arns[0]);
                Some((own * 100).checked_div(total).unwrap_or(0))
            }
            _ => None,
        };
        let live = observation
            .asgs
            .iter()
            .map(|a| {
                let live = a
                    .instances
                    .iter()
                    .filter(|i| {
                        matches!(
                            i.lifecycle,
                            zdd_rollout::observation::LifecycleState::Pending
                                | zdd_rollout::observation::LifecycleState::InService
                        )
                    })
                    .count();
                (a.name.clone(), u32::try_from(live).unwrap_or(u32::MAX))
            })
            .collect();
        let deregistration_delay = observation
            .target_groups
            .iter()
            .map(|g| g.deregistration_delay)
            .max()
            .unwrap_or_default();
        let events = decision
            .events
            .iter()
            .map(|e| format!("{}: {}", e.action, e.detail))
            .collect();
        self.log.borrow_mut().push(Look {
            progress,
            observed_weight,
            live,
            deregistration_delay,
            events,
        });
        decision
    }
    fn command_failed(&mut self, command: &Command, now: Timestamp, error: &str) {
        self.inner.command_failed(command, now, error);
    }
    fn checkpoint(&self) -> Option<Checkpoint> {
        Some(self.inner.checkpoint().clone())
    }
}

fn fixture(kind: StrategyKind, bake: bool) -> RolloutSpec {
    let shape = FleetShape {
        soak: Duration::from_secs(120),
        ..FleetShape::default()
    };
    let mut raw = raw_spec(kind, &shape, 7);
    if bake {
        raw.bake = Some(RawBake {
            duration: Some("5m".into()),
            alarm_names: Some(vec!["web-bake".into()]),
        });
    }
    RolloutSpec::validate(&raw).unwrap_or_else(|e| panic!("invalid fixture: {e}"))
}

fn recorded(spec: &RolloutSpec, faults: Faults) -> (Report, Vec<Look>) {
    let scenario = update("progress", 11, spec.clone(), Timings::default(), faults);
    recorded_in(spec, &scenario)
}

fn recorded_in(spec: &RolloutSpec, scenario: &zdd_rollout::sim::Scenario) -> (Report, Vec<Look>) {
    let log = Rc::new(RefCell::new(Vec::new()));
    let report = run_with(
        scenario,
        &mut |observation, now, checkpoint| -> Box<dyn Controller> {
            Box::new(Recording {
                inner: Rollout::resume(spec.clone(), checkpoint, observation, now),
                log: Rc::clone(&log),
            })
        },
        &Kill::default(),
    );
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    let looks = log.take();
    (report, looks)
}

/// The longest a wait can last from its start in `spec`: a metric window completes up to a
/// period plus CloudWatch's publish delay after its nominal end.
fn longest(spec: &RolloutSpec, what: WaitKind, deregistration_delay: Duration) -> Option<u64> {
    let slack = spec.metric_timing.period + spec.metric_timing.publish_delay;
    let bound = match what {
        WaitKind::Health => spec.health_timeout + spec.launch_hook_time(),
        WaitKind::Soak => match &spec.strategy {
            Strategy::Canary(canary) => {
                let soak = canary.steps.iter().map(|s| s.soak).max()?;
                soak.max(canary.max_soak) + slack
            }
            _ => return None,
        },
        WaitKind::Drain => deregistration_delay + spec.drain_margin,
        WaitKind::Bake => {
            // Extended for evidence: up to max_soak more.
            let extension = match &spec.strategy {
                Strategy::Canary(canary) => canary.max_soak,
                _ => Duration::ZERO,
            };
            spec.bake.as_ref()?.duration + slack + extension
        }
        WaitKind::Hook => return None,
    };
    Some(bound.as_secs())
}

/// Checks every look; returns the kinds of wait seen with a countdown.
fn assert_progress_holds(spec: &RolloutSpec, looks: &[Look]) -> BTreeSet<&'static str> {
    assert!(!looks.is_empty());
    let mut counted = BTreeSet::new();
    // (phase, kind, seconds left) of the previous look's wait.
    let mut previous: Option<(String, WaitKind, u64)> = None;
    for (n, look) in looks.iter().enumerate() {
        let p = &look.progress;
        let at = format!("look {n} in {}: {p:?}", p.phase);
        for g in &p.generations {
            let live = look
                .live
                .iter()
                .find(|(name, _)| *name == g.asg)
                .map(|(_, live)| *live);
            assert!(
                Some(g.healthy) <= live,
                "{} healthy of {live:?} live: {at}",
                g.healthy
            );
            assert!(g.healthy <= g.desired, "{at}");
        }
        match &spec.strategy {
            Strategy::Canary(_) => {
                if let Some(observed) = look.observed_weight {
                    assert_eq!(p.new_weight_percent, Some(observed), "{at}");
                }
            }
            _ => assert_eq!(p.new_weight_percent, None, "{at}"),
        }
        // The invariant checker's floor for a fleet that keeps its configured capacity.
        assert_eq!(p.floor, spec.capacity_floor(), "{at}");
        assert_eq!(p.served, spec.capacity.desired, "{at}");
        // An extension for evidence moves the wait's end: the countdown may go up once.
        let extended = look
            .events
            .iter()
            .any(|e| e.contains("soak extended") || e.contains("bake extended"));
        match &p.waiting {
            Some(waiting) => {
                if let Some(left) = waiting.seconds_left {
                    counted.insert(waiting.what.as_str());
                    if let Some(bound) = longest(spec, waiting.what, look.deregistration_delay) {
                        assert!(left <= bound, "{left} s left > {bound} s: {at}");
                    }
                    if let Some((phase, what, before)) = &previous
                        && *phase == p.phase
                        && *what == waiting.what
                        && !extended
                    {
                        assert!(left <= *before, "{left} s left after {before} s: {at}");
                    }
                    previous = Some((p.phase.clone(), waiting.what, left));
                } else {
                    previous = None;
                }
            }
            None => previous = None,
        }
    }
    counted
}

fn assert_reaches_full_health(looks: &[Look], desired: u32) {
    assert!(
        looks.iter().any(|l| l
            .progress
            .generations
            .iter()
            .any(|g| g.role == Role::New && g.healthy == desired)),
        "the new generation was never seen fully healthy"
    );
}

#[test]
fn blue_green_progress_counts_health_and_drains_down() {
    let spec = fixture(StrategyKind::BlueGreen, false);
    let (report, looks) = recorded(&spec, Faults::default());
    assert_eq!(report.outcome, Some(Outcome::Succeeded { generation: 2 }));
    let counted = assert_progress_holds(&spec, &looks);
    assert!(counted.contains("health"), "{counted:?}");
    assert!(counted.contains("drain"), "{counted:?}");
    assert_reaches_full_health(&looks, spec.capacity.desired);
    // The drain's first look (the engine then sleeps until it ends) sees all of it left: the
    // deregistration delay at least.
    let (delay, drain) = looks
        .iter()
        .find_map(|l| {
            let waiting = l.progress.waiting.as_ref()?;
            (waiting.what == WaitKind::Drain).then_some((l.deregistration_delay, waiting))
        })
        .unwrap_or_else(|| panic!("no drain seen"));
    assert!(
        drain.seconds_left >= Some(delay.as_secs()),
        "{drain:?} with a delay of {delay:?}"
    );
    // Both generations are shown while both exist; the old one leaves detached.
    assert!(looks.iter().any(|l| l.progress.generations.len() == 2));

    assert!(looks.iter().any(|l| {
        l.progress
            .generations
            .iter()
            .any(|g| g.role == Role::Old && !g.attached && g.healthy == 0)
    }));
}

#[test]
fn rolling_progress_holds_at_every_batch() {
    let spec = fixture(StrategyKind::Rolling, false);
    let (report, looks) = recorded(&spec, Faults::default());
    assert_eq!(report.outcome, Some(Outcome::Succeeded { generation: 2 }));
    let counted = assert_progress_holds(&spec, &looks);
    assert!(counted.contains("health"), "{counted:?}");
    assert_reaches_full_health(&looks, spec.capacity.desired);
    assert!(looks.iter().any(|l| l.progress.phase == "rolling batch 1"));
}

#[test]
fn canary_progress_shows_the_listener_weights_and_counts_each_soak_down() {
    let spec = fixture(StrategyKind::Canary, false);
    let (report, looks) = recorded(&spec, Faults::default());
    assert_eq!(report.outcome, Some(Outcome::Succeeded { generation: 2 }));
    let counted = assert_progress_holds(&spec, &looks);
    assert!(counted.contains("soak"), "{counted:?}");
    let weights: BTreeSet<u32> = looks
        .iter()
        .filter_map(|l| l.progress.new_weight_percent)
        .collect();
    let Strategy::Canary(canary) = &spec.strategy else {
        unreachable!()
    };
    for step in &canary.steps {
        assert!(
            weights.contains(&u32::from(step.weight)),
            "{} in {weights:?}",
            step.weight
        );
    }
    assert!(
        looks
            .iter()
            .all(|l| l.observed_weight.is_none()
                || l.progress.new_weight_percent == l.observed_weight)
    );
}

#[test]
fn a_bake_counts_down_from_its_duration() {
    for kind in [StrategyKind::BlueGreen, StrategyKind::Canary] {
        let spec = fixture(kind, true);
        let (report, looks) = recorded(&spec, Faults::default());
        assert_eq!(report.outcome, Some(Outcome::Succeeded { generation: 2 }));
        let counted = assert_progress_holds(&spec, &looks);
        assert!(counted.contains("bake"), "{}: {counted:?}", kind.name());
        let bake: Vec<u64> = looks
            .iter()
            .filter_map(|l| l.progress.waiting.as_ref())
            .filter(|w| w.what == WaitKind::Bake)
            .filter_map(|w| w.seconds_left)
            .collect();
        // The first look of the bake sees (nearly) all of it left.
        assert!(bake.first().is_some_and(|first| *first >= 290), "{bake:?}");
    }
}

/// A canary bake extended for evidence (its alarm without data) bakes on up to `max_soak`
/// past its end: its countdown runs to that end, not to "0 s left" at the bake's own end
/// (which it showed, and kept, for the whole extension).
#[test]
fn an_extended_bake_counts_down_to_the_end_of_its_extension() {
    let shape = FleetShape {
        soak: Duration::from_secs(120),
        ..FleetShape::default()
    };
    let mut raw = raw_spec(StrategyKind::Canary, &shape, 7);
    if let Some(canary) = raw.canary.as_mut() {
        canary.alarm_names = None;
        canary.insufficient_evidence = Some("extend".into());
        canary.max_soak = Some("5m".into());
    }
    raw.bake = Some(RawBake {
        duration: Some("5m".into()),
        alarm_names: Some(vec!["web-bake".into()]),
    });
    let spec = RolloutSpec::validate(&raw).unwrap_or_else(|e| panic!("{e}"));
    let faults = Faults {
        alarms_without_data: true,
        ..Faults::default()
    };
    let (_, looks) = recorded(&spec, faults);
    assert_progress_holds(&spec, &looks);
    let extended = looks
        .iter()
        .position(|l| l.events.iter().any(|e| e.contains("bake extended")))
        .expect("the bake is extended");
    let left: Vec<u64> = looks[extended..]
        .iter()
        .filter_map(|l| l.progress.waiting.as_ref())
        .filter(|w| w.what == WaitKind::Bake)
        .filter_map(|w| w.seconds_left)
        .collect();
    assert!(left.len() > 1, "the extension is looked at: {left:?}");
    assert!(left.iter().all(|s| *s > 0), "{left:?}");
    // The first look of the extension sees (nearly) all of max_soak left.
    assert!(left[0] >= 290, "{left:?}");
}

/// A rollout that scales out (desired 5, the fleet serving 3) is shown serving 3 with the
/// floor of 3: the floor of 5 it showed (zdd:floor too) read as broken on a fleet serving 3
/// healthy targets.
#[test]
fn a_scale_out_shows_the_floor_of_what_is_served() {
    let shape = FleetShape {
        desired: 5,
        ..FleetShape::default()
    };
    let raw = raw_spec(StrategyKind::BlueGreen, &shape, 7);
    let spec = RolloutSpec::validate(&raw).unwrap_or_else(|e| panic!("{e}"));
    let mut scenario = update(
        "progress scale-out",
        11,
        spec.clone(),
        Timings::default(),
        Faults::default(),
    );
    scenario.previous_desired = Some(3);
    let (report, looks) = recorded_in(&spec, &scenario);
    assert_eq!(report.outcome, Some(Outcome::Succeeded { generation: 2 }));
    let first = &looks[0].progress;
    assert_eq!(first.served, 3, "{first:?}");
    for (n, look) in looks.iter().enumerate() {
        let p = &look.progress;
        assert!(p.floor <= p.served, "look {n}: {p:?}");
    }
}

#[test]
fn a_rollback_shows_the_old_generation_restored_and_the_new_one_drained() {
    for kind in [StrategyKind::BlueGreen, StrategyKind::Canary] {
        let faults = match kind {
            StrategyKind::Canary => Faults {
                new_5xx_ratio: 0.05,
                ..Faults::default()
            },
            _ => Faults {
                bad_release: true,
                ..Faults::default()
            },
        };
        let spec = fixture(kind, false);
        let (report, looks) = recorded(&spec, faults);
        assert!(
            matches!(report.outcome, Some(Outcome::RolledBack { .. })),
            "{:?}",
            report.outcome
        );
        let counted = assert_progress_holds(&spec, &looks);
        assert!(counted.contains("drain"), "{}: {counted:?}", kind.name());
        assert!(looks.iter().any(|l| l.progress.phase == "restoring_old"));
        let last = &looks[looks.len() - 1].progress;
        assert_eq!(last.phase, "rolled_back");
        assert_eq!(last.waiting, None);
        assert!(
            last.generations
                .iter()
                .any(|g| g.role == Role::Old && g.healthy == spec.capacity.desired),
            "{last:?}"
        );
    }
}
