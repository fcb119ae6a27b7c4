//! The checkpoint is what the provider keeps in private state: it must survive JSON.

use zdd_rollout::sim::fixtures::{FleetShape, StrategyKind, spec, update};
use zdd_rollout::sim::{Faults, Timings, World};
use zdd_rollout::{Checkpoint, Phase, Rollout};

#[test]
fn checkpoint_round_trips_through_json_mid_rollout() {
    for kind in StrategyKind::ALL {
        let spec = spec(kind, &FleetShape::default(), 7).unwrap_or_else(|e| panic!("{e}"));
        let scenario = update(
            "checkpoint",
            11,
            spec.clone(),
            Timings::default(),
            Faults::default(),
        );
        let mut world = World::new(&scenario);
        let mut rollout = Rollout::start(spec.clone(), &world.observe(None), world.now());
        // Step until the rollout is past launching (and not finished).
        for _ in 0..15 {
            if rollout.phase() != &Phase::Launching {
                break;
            }
            let observation = world.observe(None);
            let decision = rollout.step(&observation, world.now());
            for command in &decision.commands {
                world.submit(command).unwrap();
            }
            world.advance_to(decision.next_wake);
        }
        assert_ne!(rollout.phase(), &Phase::Launching, "{}", kind.name());
        assert!(!rollout.phase().is_terminal(), "{}", kind.name());
        let json = serde_json::to_string(rollout.checkpoint()).unwrap();
        let back: Checkpoint = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, rollout.checkpoint());
        // Resuming from the decoded checkpoint continues in the same phase.
        let observation = world.observe(None);
        let resumed = Rollout::resume(spec.clone(), Some(back), &observation, world.now());
        assert_eq!(resumed.phase(), rollout.phase(), "{}", kind.name());
        assert_eq!(resumed.target_generation(), 2);
        assert_eq!(resumed.previous_generation(), Some(1));
    }
}
