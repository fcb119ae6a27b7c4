//! Resume with a changed configuration (issue 11): an interrupted rollout to a generation the
//! configuration no longer asks for is rolled back, and the same apply then rolls out the
//! configuration being applied. Plus ownership: the engine never touches another owner's
//! groups and tags the groups it creates with its owner.

use zdd_rollout::observation::{Owner, TAG_OWNER};
use zdd_rollout::sim::fixtures::{FleetShape, StrategyKind, spec, update};
use zdd_rollout::sim::{Faults, Timings, World};
use zdd_rollout::{Command, Observation, Outcome, Phase, Rollout, RolloutSpec};

/// Steps `rollout` against `world` until it reports an outcome (or gives up after `limit`
/// steps, which fails the test).
fn drive(rollout: &mut Rollout, world: &mut World, limit: usize) -> Outcome {
    let mut metrics_since = None;
    for _ in 0..limit {
        let observation = world.observe(metrics_since);
        let decision = rollout.step(&observation, world.now());
        metrics_since = decision.metrics_since;
        if let Some(outcome) = decision.outcome {
            return outcome;
        }
        for command in &decision.commands {
            if let Err(error) = world.submit(command) {
                rollout.command_failed(command, world.now(), &error);
            }
        }
        world.advance_to(decision.next_wake);
    }
    panic!("no outcome after {limit} steps, phase {}", rollout.phase());
}

/// Generation 1 runs version 6; a rollout to version 7 is interrupted once generation 2
/// exists. Returns the world and the interrupted rollout's checkpoint.
fn interrupted(kind: StrategyKind) -> (World, RolloutSpec, zdd_rollout::Checkpoint) {
    let old_spec = spec(kind, &FleetShape::default(), 7).unwrap_or_else(|e| panic!("{e}"));
    let scenario = update(
        "changed",
        5,
        old_spec.clone(),
        Timings::default(),
        Faults::default(),
    );
    let mut world = World::new(&scenario);
    let mut rollout = Rollout::start(old_spec.clone(), &world.observe(None), world.now());
    for _ in 0..40 {
        let observation = world.observe(None);
        if observation
            .asg(&old_spec.asg_name(2))
            .is_some_and(|asg| !asg.instances.is_empty())
            && rollout.phase() != &Phase::Launching
        {
            break;
        }
        let decision = rollout.step(&observation, world.now());
        for command in &decision.commands {
            if let Err(error) = world.submit(command) {
                panic!("{}: {error}", command.describe());
            }
        }
        world.advance_to(decision.next_wake);
    }
    assert!(!rollout.phase().is_terminal());
    assert!(world.observe(None).asg(&old_spec.asg_name(2)).is_some());
    (world, old_spec, rollout.checkpoint().clone())
}

fn version_of(observation: &Observation, name: &str) -> Option<u64> {
    observation
        .asg(name)
        .and_then(|asg| asg.launch_template.as_ref())
        .map(|template| template.version)
}

fn assert_converged_to_version_8(kind: StrategyKind, checkpoint: bool) {
    let (mut world, old_spec, cp) = interrupted(kind);
    let new_spec = spec(kind, &FleetShape::default(), 8).unwrap_or_else(|e| panic!("{e}"));
    world.reconfigure(new_spec.clone());
    let mut rollout = Rollout::resume(
        new_spec.clone(),
        checkpoint.then_some(cp),
        &world.observe(None),
        world.now(),
    );
    let outcome = drive(&mut rollout, &mut world, 5_000);
    let label = format!("{} (checkpoint: {checkpoint})", kind.name());
    assert_eq!(
        outcome,
        Outcome::Succeeded { generation: 3 },
        "{label}: the configuration being applied serves\n{:#?}",
        rollout.timeline()
    );
    let observation = world.observe(None);
    assert_eq!(
        version_of(&observation, &new_spec.asg_name(3)),
        Some(8),
        "{label}"
    );
    assert_eq!(
        world.live_generations(),
        vec![3],
        "{label}: the superseded generation and the old one are gone"
    );
    assert!(observation.asg(&old_spec.asg_name(2)).is_none(), "{label}");
    assert!(
        world.violations.is_empty(),
        "{label}: {:#?}",
        world.violations
    );
}

#[test]
fn a_checkpoint_of_a_superseded_rollout_is_rolled_back_then_the_new_configuration_rolls_out() {
    for kind in StrategyKind::ALL {
        assert_converged_to_version_8(kind, true);
    }
}

#[test]
fn without_a_checkpoint_the_superseded_generation_is_rolled_back_then_the_new_one_rolls_out() {
    for kind in StrategyKind::ALL {
        assert_converged_to_version_8(kind, false);
    }
}

#[test]
fn the_same_configuration_continues_the_interrupted_rollout() {
    let (mut world, old_spec, cp) = interrupted(StrategyKind::BlueGreen);
    let mut rollout = Rollout::resume(old_spec, Some(cp), &world.observe(None), world.now());
    assert_eq!(
        drive(&mut rollout, &mut world, 5_000),
        Outcome::Succeeded { generation: 2 }
    );
}

#[test]
fn an_abort_during_the_superseded_rollback_ends_there() {
    let (mut world, _, cp) = interrupted(StrategyKind::BlueGreen);
    let new_spec =
        spec(StrategyKind::BlueGreen, &FleetShape::default(), 8).unwrap_or_else(|e| panic!("{e}"));
    let mut rollout = Rollout::resume(new_spec, Some(cp), &world.observe(None), world.now());
    assert!(rollout.phase().is_rollback(), "{}", rollout.phase());
    rollout.abort(&zdd_rollout::AbortReason::Interrupted, world.now());
    let outcome = drive(&mut rollout, &mut world, 5_000);
    assert!(
        matches!(
            outcome,
            Outcome::RolledBack {
                serving: Some(1),
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(world.live_generations(), vec![1]);
}

#[test]
fn created_groups_carry_the_owner_and_foreign_groups_are_left_alone() {
    let base = spec(StrategyKind::BlueGreen, &FleetShape::default(), 7).unwrap();
    // Generation 1 (seeded by the simulator, no owner tag) belongs to someone else.
    let scenario = update(
        "owner",
        3,
        base.clone(),
        Timings::default(),
        Faults::default(),
    );
    let mut world = World::new(&scenario);
    let mine = base.clone().with_owner(Owner::new("o-mine"));

    // A teardown of "my" fleet finds nothing of mine: nothing is deleted.
    let mut teardown = Rollout::teardown(mine.clone(), &world.observe(None), world.now());
    let outcome = drive(&mut teardown, &mut world, 200);
    assert!(matches!(outcome, Outcome::Succeeded { .. }), "{outcome:?}");
    assert_eq!(
        world.live_generations(),
        vec![1],
        "the other fleet's group stays"
    );

    // A rollout of my fleet ignores the other group: it creates its own, tagged with my owner.
    let mut rollout = Rollout::start(mine, &world.observe(None), world.now());
    let decision = rollout.step(&world.observe(None), world.now());
    let created: Vec<&Command> = decision
        .commands
        .iter()
        .filter(|command| matches!(command, Command::CreateAsg { .. }))
        .collect();
    assert_eq!(created.len(), 1, "{:#?}", decision.commands);
    let Command::CreateAsg {
        tags, generation, ..
    } = created[0]
    else {
        unreachable!()
    };
    assert_eq!(tags.get(TAG_OWNER).map(String::as_str), Some("o-mine"));
    assert_eq!(*generation, 1, "no generation of mine exists yet");
    for command in &decision.commands {
        let text = command.describe();
        assert!(
            !matches!(
                command,
                Command::DeleteAsg { .. }
                    | Command::DetachTargetGroups { .. }
                    | Command::SetCapacity { .. }
            ),
            "touches another fleet's group: {text}"
        );
    }
}
