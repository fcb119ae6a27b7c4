//! The `zdd:phase` record (issue #17, "state in AWS"): at every phase change the rollout's
//! groups show the new phase by the next observation, through rollbacks and resumes, and end
//! showing `complete` or `rolled_back`; a record that cannot be written changes neither the
//! outcome nor the timing.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use zdd_rollout::fleet::{TAG_FLOOR, TAG_PHASE, TAG_PHASE_SINCE, phase_tag};
use zdd_rollout::sim::fixtures::{FleetShape, StrategyKind, spec, update};
use zdd_rollout::sim::{Controller, Faults, Kill, Report, Timings, run_with};
use zdd_rollout::spec::Strategy;
use zdd_rollout::{
    Checkpoint, Command, Decision, Observation, Outcome, Rollout, RolloutSpec, Timestamp,
};

/// One step as the test saw it.
struct Seen {
    /// Which controller process made it (a kill starts another).
    process: usize,
    /// `zdd:phase` of each group the step observed (groups being deleted left out).
    tags: BTreeMap<String, Option<String>>,
    /// The record the step's phase calls for.
    expected: String,
    /// The `zdd:phase` writes the step issued.
    writes: usize,
    /// Each write's three tags, `(phase, since, floor)`.
    records: Vec<(String, u64, u32)>,
    /// When the step's phase began, in Unix seconds (the checkpoint's).
    phase_since: u64,
    /// `(zdd:phase-since, zdd:floor)` of each group the step observed.
    since_and_floor: BTreeMap<String, (Option<String>, Option<String>)>,
}

/// The engine, with each step's observation and decision written down.
struct Recording {
    inner: Rollout,
    process: usize,
    canary_steps: usize,
    log: Rc<RefCell<Vec<Seen>>>,
}

impl Controller for Recording {
    fn step(&mut self, observation: &Observation, now: Timestamp) -> Decision {
        let decision = self.inner.step(observation, now);
        let tags = observation
            .asgs
            .iter()
            .filter(|asg| asg.status.is_none())
            .map(|asg| (asg.name.clone(), asg.tags.get(TAG_PHASE).cloned()))
            .collect();
        let writes = decision
            .commands
            .iter()
            .filter(|c| c.is_informational())
            .count();
        let records = decision
            .commands
            .iter()
            .filter_map(|c| match c {
                Command::RecordPhase {
                    phase,
                    since,
                    floor,
                    ..
                } => Some((phase.clone(), *since, *floor)),
                _ => None,
            })
            .collect();
        let since_and_floor = observation
            .asgs
            .iter()
            .filter(|asg| asg.status.is_none())
            .map(|asg| {
                let tag = |key: &str| asg.tags.get(key).cloned();
                (asg.name.clone(), (tag(TAG_PHASE_SINCE), tag(TAG_FLOOR)))
            })
            .collect();
        self.log.borrow_mut().push(Seen {
            process: self.process,
            tags,
            expected: phase_tag(&decision.phase, self.canary_steps),
            writes,
            records,
            phase_since: self.inner.checkpoint().phase_started_at.as_millis() / 1000,
            since_and_floor,
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

fn canary_steps(spec: &RolloutSpec) -> usize {
    match &spec.strategy {
        Strategy::Canary(canary) => canary.steps.len(),
        _ => 0,
    }
}

fn fixture(kind: StrategyKind) -> RolloutSpec {
    spec(kind, &FleetShape::default(), 7).unwrap_or_else(|e| panic!("invalid fixture: {e}"))
}

fn recorded(kind: StrategyKind, faults: Faults, kill: &Kill) -> (Report, Vec<Seen>) {
    let spec = fixture(kind);
    let steps = canary_steps(&spec);
    let scenario = update(kind.name(), 42, spec.clone(), Timings::default(), faults);
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut processes = 0;
    let report = run_with(
        &scenario,
        &mut |observation, now, checkpoint| -> Box<dyn Controller> {
            processes += 1;
            Box::new(Recording {
                inner: Rollout::resume(spec.clone(), checkpoint, observation, now),
                process: processes,
                canary_steps: steps,
                log: Rc::clone(&log),
            })
        },
        kill,
    );
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    let seen = log.take();
    (report, seen)
}

/// Every group a step observed shows that step's phase at the next step of the same process
/// (writes land at once here: no delay, no stale read, no failure). Returns every value seen.
fn assert_caught_up(seen: &[Seen]) -> Vec<String> {
    for pair in seen.windows(2) {
        let (step, next) = (&pair[0], &pair[1]);
        if step.process != next.process {
            continue; // killed in between: part of the step's commands never left
        }
        for group in step.tags.keys() {
            if let Some(shown) = next.tags.get(group) {
                assert_eq!(
                    shown.as_deref(),
                    Some(step.expected.as_str()),
                    "{group} after a step in {}",
                    step.expected
                );
            }
        }
    }
    let mut values: Vec<String> = seen
        .iter()
        .flat_map(|s| s.tags.values().flatten().cloned())
        .collect();
    values.dedup();
    values
}

/// At most one write per group and phase change: a group is written only when its tag is not
/// the current phase's, and each step here observes two groups at most.
fn assert_one_write_per_change(seen: &[Seen]) {
    for step in seen {
        let stale = step
            .tags
            .values()
            .filter(|tag| tag.as_deref() != Some(step.expected.as_str()))
            .count();
        assert!(
            step.writes <= stale,
            "{} write(s) for {stale} group(s) not showing {}",
            step.writes,
            step.expected
        );
    }
}

fn final_tags(report: &Report) -> BTreeMap<String, Option<String>> {
    report.final_phase_tags.clone()
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, Option<String>> {
    pairs
        .iter()
        .map(|(group, value)| ((*group).to_string(), Some((*value).to_string())))
        .collect()
}

#[test]
fn blue_green_groups_follow_every_phase_and_end_complete() {
    let (report, seen) = recorded(StrategyKind::BlueGreen, Faults::default(), &Kill::default());
    assert_eq!(report.outcome, Some(Outcome::Succeeded { generation: 2 }));
    let values = assert_caught_up(&seen);
    assert_one_write_per_change(&seen);
    for phase in ["waiting_for_healthy", "detaching_old", "draining_old"] {
        assert!(values.iter().any(|v| v == phase), "{phase} in {values:?}");
    }
    assert_eq!(final_tags(&report), tags(&[("web-g2", "complete")]));
}

#[test]
fn canary_groups_show_each_step_and_its_weight() {
    let (report, seen) = recorded(StrategyKind::Canary, Faults::default(), &Kill::default());
    assert_eq!(report.outcome, Some(Outcome::Succeeded { generation: 2 }));
    let values = assert_caught_up(&seen);
    assert_one_write_per_change(&seen);
    let steps = canary_steps(&fixture(StrategyKind::Canary));
    let shown: Vec<&String> = values
        .iter()
        .filter(|v| v.starts_with("canary_step "))
        .collect();
    assert_eq!(shown.len(), steps, "{values:?}");
    assert!(
        shown
            .iter()
            .any(|v| v.ends_with(&format!("{steps}/{steps} 100%"))),
        "{shown:?}"
    );
    assert_eq!(final_tags(&report), tags(&[("web-g2", "complete")]));
}

#[test]
fn rolling_groups_show_each_batch() {
    let (report, seen) = recorded(StrategyKind::Rolling, Faults::default(), &Kill::default());
    assert_eq!(report.outcome, Some(Outcome::Succeeded { generation: 2 }));
    let values = assert_caught_up(&seen);
    assert_one_write_per_change(&seen);
    assert!(values.iter().any(|v| v == "rolling batch 1"), "{values:?}");
    assert_eq!(final_tags(&report), tags(&[("web-g2", "complete")]));
}

#[test]
fn a_rollback_is_shown_on_both_groups_and_ends_rolled_back() {
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
        let (report, seen) = recorded(kind, faults, &Kill::default());
        assert!(
            matches!(report.outcome, Some(Outcome::RolledBack { .. })),
            "{:?}",
            report.outcome
        );
        let values = assert_caught_up(&seen);
        assert_one_write_per_change(&seen);
        assert!(values.iter().any(|v| v == "restoring_old"), "{values:?}");
        assert!(values.iter().any(|v| v == "draining_new"), "{values:?}");
        assert_eq!(final_tags(&report), tags(&[("web-g1", "rolled_back")]));
    }
}

#[test]
fn a_resumed_rollout_and_a_resumed_rollback_correct_the_record() {
    // Forward: killed twice with part of a step's commands sent, resumed from AWS alone.
    let kill = Kill {
        after_steps: vec![1, 7],
        restart_after: Duration::from_secs(45),
        ..Kill::default()
    };
    let (report, seen) = recorded(StrategyKind::BlueGreen, Faults::default(), &kill);
    assert_eq!(report.kills, 2);
    assert_eq!(report.outcome, Some(Outcome::Succeeded { generation: 2 }));
    assert_caught_up(&seen);
    assert_eq!(final_tags(&report), tags(&[("web-g2", "complete")]));

    // Backward: killed a few steps before its rollback ends.
    let bad = Faults {
        bad_release: true,
        ..Faults::default()
    };
    let (whole, _) = recorded(StrategyKind::BlueGreen, bad.clone(), &Kill::default());
    let kill = Kill {
        after_steps: vec![whole.steps - 3],
        restart_after: Duration::from_secs(45),
        ..Kill::default()
    };
    let (report, seen) = recorded(StrategyKind::BlueGreen, bad, &kill);
    assert_eq!(report.kills, 1);
    assert!(
        matches!(report.outcome, Some(Outcome::RolledBack { .. })),
        "{:?}",
        report.outcome
    );
    let resumed: Vec<&Seen> = seen.iter().filter(|s| s.process == 2).collect();
    assert!(
        resumed
            .first()
            .is_some_and(|s| s.expected != "restoring_old"),
        "killed during the rollback's last phases"
    );
    assert_caught_up(&seen);
    assert_eq!(final_tags(&report), tags(&[("web-g1", "rolled_back")]));
}

#[test]
fn a_record_that_cannot_be_written_changes_neither_outcome_nor_timing() {
    let cases = [
        (StrategyKind::BlueGreen, Faults::default()),
        (StrategyKind::Canary, Faults::default()),
        (StrategyKind::Rolling, Faults::default()),
        (
            StrategyKind::BlueGreen,
            Faults {
                bad_release: true,
                ..Faults::default()
            },
        ),
    ];
    for (kind, faults) in cases {
        let (written, _) = recorded(kind, faults.clone(), &Kill::default());
        let refused = Faults {
            phase_tag_failure: true,
            ..faults
        };
        let (failing, seen) = recorded(kind, refused, &Kill::default());
        assert_eq!(failing.outcome, written.outcome, "{}", kind.name());
        assert_eq!(failing.duration, written.duration, "{}", kind.name());
        assert_eq!(
            failing.observations,
            written.observations,
            "{}: no extra look because a record failed",
            kind.name()
        );
        assert!(failing.failed_commands > 0, "the fault was injected");
        assert!(seen.iter().all(|s| s.tags.values().all(Option::is_none)));
        assert!(
            failing.final_phase_tags.values().all(Option::is_none),
            "{:?}",
            failing.final_phase_tags
        );
    }
}

#[test]
fn the_phase_its_start_and_the_floor_are_written_together() {
    for kind in [
        StrategyKind::BlueGreen,
        StrategyKind::Canary,
        StrategyKind::Rolling,
    ] {
        let floor = fixture(kind).capacity_floor();
        let (_, seen) = recorded(kind, Faults::default(), &Kill::default());
        let mut written = 0;
        for step in &seen {
            for (phase, since, record_floor) in &step.records {
                written += 1;
                assert_eq!(phase, &step.expected, "{}", kind.name());
                assert_eq!(*since, step.phase_since, "{} in {phase}", kind.name());
                assert_eq!(*record_floor, floor, "{} in {phase}", kind.name());
            }
            assert_eq!(
                step.records.len(),
                step.writes,
                "one call carries all three"
            );
        }
        assert!(written >= 3, "{}: {written} records", kind.name());
        // Every write landed by the next look of the same process: the groups show the
        // step's start and floor beside its phase.
        for pair in seen.windows(2) {
            let (step, next) = (&pair[0], &pair[1]);
            for group in step.since_and_floor.keys() {
                if let Some(shown) = next.since_and_floor.get(group) {
                    let expected = (Some(step.phase_since.to_string()), Some(floor.to_string()));
                    assert_eq!(
                        shown, &expected,
                        "{group} after a step in {}",
                        step.expected
                    );
                }
            }
        }
    }
}

/// A blue/green update in the simulator's world, stepped by the test itself.
fn blue_green_update(name: &str) -> (zdd_rollout::sim::World, Rollout) {
    let spec = fixture(StrategyKind::BlueGreen);
    let scenario = update(
        name,
        42,
        spec.clone(),
        Timings::default(),
        Faults::default(),
    );
    let mut world = zdd_rollout::sim::World::new(&scenario);
    let rollout = Rollout::start(spec, &world.observe(None), world.now());
    (world, rollout)
}

/// A record the driver did not make (the rate budget had no room for it: `command_not_made`)
/// is issued again at the very next step (the group's current record, which may be a newer
/// phase's), not after the wait for an unanswered write; every group still ends showing the
/// outcome. Each record is deferred once here, then made.
#[test]
fn a_record_not_made_is_issued_again_at_the_next_step() {
    let (mut world, mut rollout) = blue_green_update("not made");
    // The group's record, unless the step deletes the group (a group being deleted is left
    // alone).
    let record_for = |commands: &[Command], group: &str| {
        commands.iter().any(|c| {
            matches!(c, Command::RecordPhase { asg, .. } | Command::DeleteAsg { asg, .. } if asg == group)
        })
    };
    // Groups whose record the last step did not make, and every record deferred once.
    let mut deferred: Vec<String> = Vec::new();
    let mut deferred_once: Vec<(String, String)> = Vec::new();
    let mut reissued = 0;
    let outcome = 'run: {
        for _ in 0..400 {
            let observation = world.observe(None);
            let decision = rollout.step(&observation, world.now());
            for group in deferred.drain(..) {
                assert!(
                    record_for(&decision.commands, &group) || decision.outcome.is_some(),
                    "{group}'s record, not made, comes again at once: {:?}",
                    decision.commands
                );
                reissued += 1;
            }
            for command in &decision.commands {
                match command {
                    Command::RecordPhase { asg, phase, .. }
                        if !deferred_once.contains(&(asg.clone(), phase.clone())) =>
                    {
                        rollout.command_not_made(command);
                        deferred.push(asg.clone());
                        deferred_once.push((asg.clone(), phase.clone()));
                    }
                    _ => world.submit(command).unwrap_or_else(|e| panic!("{e}")),
                }
            }
            if let Some(outcome) = decision.outcome {
                break 'run outcome;
            }
            world.advance_to(decision.next_wake.max(world.now() + Duration::from_secs(1)));
        }
        panic!("no outcome, phase {}", rollout.phase());
    };
    assert!(matches!(outcome, Outcome::Succeeded { .. }), "{outcome:?}");
    assert!(
        reissued >= 3,
        "records were deferred and issued again: {reissued}"
    );
    assert!(world.violations.is_empty(), "{:#?}", world.violations);
}

/// The contrast: a record issued and not yet seen (no answer, no failure reported) is not
/// issued again at the next step.
#[test]
fn a_pending_record_is_not_repeated_at_the_next_step() {
    let (mut world, mut rollout) = blue_green_update("pending");
    for _ in 0..400 {
        let observation = world.observe(None);
        let decision = rollout.step(&observation, world.now());
        assert!(decision.outcome.is_none(), "{:?}", decision.outcome);
        let record = decision
            .commands
            .iter()
            .find(|c| c.is_informational())
            .cloned();
        for command in decision.commands.iter().filter(|c| !c.is_informational()) {
            world.submit(command).unwrap_or_else(|e| panic!("{e}"));
        }
        if let Some(record) = record {
            // Not submitted, not reported: the next step (one second on) leaves it alone.
            world.advance_to(world.now() + Duration::from_secs(1));
            let next = rollout.step(&world.observe(None), world.now());
            assert!(
                !next.commands.contains(&record),
                "{record:?} repeated at once"
            );
            return;
        }
        world.advance_to(decision.next_wake.max(world.now() + Duration::from_secs(1)));
    }
    panic!("no record was issued");
}
