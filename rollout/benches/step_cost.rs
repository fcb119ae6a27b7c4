//! Engine cost (issue #16): what one `Rollout::step` costs at fleets of 2, 20, 200 and 1,000
//! instances, in every phase that does per-instance work, and the heap one observation and one
//! rollout state hold at 1,000 instances. Prints a table; asserts nothing about time. It fails
//! loudly if a simulated rollout does not succeed or never enters a phase it should measure.
//!
//! How: each strategy's rollout runs in the simulator (default timings, seed 3, no faults),
//! one step per observation as the provider drives it. In each phase, the step that saw the
//! most targets is kept (its state before the step and its observation); afterwards that step
//! is repeated on clones of the state for at least `MEASURE_FOR`, minus the cost of the clone
//! alone. "per inst" divides by the instances observed (both generations, every group), so a
//! constant column down the fleet sizes is a linear step. The observation's size is
//! estimated ([`observation_bytes`]), the rollout state's is its checkpoint's JSON (what a
//! resume saves; it keeps when each target was first seen `initial`, per target).
//!
//! Figures (2026-12-03, 2 cores shared with 3 other builds, release):
//! at 1,000 instances a step costs 0.12 ms (deleting_old) to 1.1-1.2 ms (waiting_for_healthy,
//! 2,000 instances + 2,000 targets seen); blue/green detach 0.6-0.7 ms, drain 0.5-0.6 ms,
//! canary step 0.65-0.75 ms, rolling batch 0.19 ms. Per instance + target: 60-300 ns at every
//! size from 20 up (2 instances: 500-900 ns, the fixed cost). From 200 to 1,000 instances the
//! per-instance cost grows by 0.9-1.5x (two runs; an n log n step gives about 1.25): the step
//! looks targets up in sorted maps keyed by id (`first_seen_initial`, per target), and a
//! 1,000-instance step's maps outgrow the caches; nothing quadratic (that would be 5x).
//! One observation at 1,000 instances (2,000 instances + 1,000 targets): ~142 KiB, 48 bytes
//! per instance or target; a rollout's checkpoint: 155 KiB of JSON.
//!
//! Run: `cargo bench -p zdd-rollout --bench step_cost`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use zdd_rollout::observation::{InstanceObservation, TargetObservation};
use zdd_rollout::sim::fixtures::{FleetShape, StrategyKind, spec, update};
use zdd_rollout::sim::{Faults, Timings, World};
use zdd_rollout::{Observation, Outcome, Phase, Rollout, Timestamp};

/// Bytes one observation holds: each instance and target exactly (its struct in its vector,
/// its id's and reason's heap), the rest (groups' names, tags, settings) by its JSON length, an
/// estimate of the same order.
fn observation_bytes(observation: &Observation) -> usize {
    let instances: usize = observation
        .asgs
        .iter()
        .flat_map(|a| &a.instances)
        .map(|i| size_of::<InstanceObservation>() + i.id.capacity())
        .sum();
    let targets: usize = observation
        .target_groups
        .iter()
        .flat_map(|g| &g.targets)
        .map(|t| {
            size_of::<TargetObservation>()
                + t.id.capacity()
                + t.reason.as_ref().map_or(0, String::capacity)
        })
        .sum();
    let mut rest = observation.clone();
    for asg in &mut rest.asgs {
        asg.instances.clear();
    }
    for group in &mut rest.target_groups {
        group.targets.clear();
    }
    let rest = serde_json::to_string(&rest).map_or(0, |json| json.len());
    instances + targets + rest
}

const FLEETS: [u32; 4] = [2, 20, 200, 1000];
/// Each step is repeated for at least this long (wall clock).
const MEASURE_FOR: Duration = Duration::from_millis(60);
/// Steps a simulated rollout may take before the bench calls it stuck.
const MAX_STEPS: usize = 20_000;

/// The phases whose step looks at every instance or target.
fn phase_kind(phase: &Phase) -> Option<&'static str> {
    match phase {
        Phase::WaitingForHealthy => Some("waiting_for_healthy"),
        Phase::Rolling { .. } => Some("rolling batch"),
        Phase::CanaryStep { .. } => Some("canary_step"),
        Phase::DetachingOld => Some("detaching_old (shift)"),
        Phase::DrainingOld => Some("draining_old"),
        Phase::DeletingOld => Some("deleting_old"),
        _ => None,
    }
}

/// The step kept for a phase: the rollout before it, what it observed, when.
struct Kept {
    rollout: Rollout,
    observation: Observation,
    at: Timestamp,
    targets: usize,
    instances: usize,
}

fn targets_of(observation: &Observation) -> usize {
    observation
        .target_groups
        .iter()
        .map(|g| g.targets.len())
        .sum()
}

fn instances_of(observation: &Observation) -> usize {
    observation.asgs.iter().map(|a| a.instances.len()).sum()
}

/// Runs one rollout to its end, keeping the widest step of each phase.
fn capture(kind: StrategyKind, desired: u32) -> Result<BTreeMap<&'static str, Kept>, String> {
    let batch = desired.div_ceil(10).max(1);
    let shape = FleetShape {
        desired,
        surge: batch,
        batch_size: batch,
        ..FleetShape::default()
    };
    let spec = spec(kind, &shape, 7)?;
    let scenario = update(
        "step cost",
        3,
        spec.clone(),
        Timings::default(),
        Faults::default(),
    );
    let mut world = World::new(&scenario);
    let first = world.observe(None);
    let mut rollout = Rollout::start(spec, &first, world.now());
    let mut kept: BTreeMap<&'static str, Kept> = BTreeMap::new();
    let mut metrics_since = None;
    for _ in 0..MAX_STEPS {
        let now = world.now();
        let observation = world.observe(metrics_since);
        let before = rollout.clone();
        let decision = rollout.step(&observation, now);
        if let Some(kind) = phase_kind(before.phase()) {
            let targets = targets_of(&observation);
            let instances = instances_of(&observation);
            if kept
                .get(kind)
                .is_none_or(|k| targets + instances > k.targets + k.instances)
            {
                kept.insert(
                    kind,
                    Kept {
                        rollout: before,
                        observation,
                        at: now,
                        targets,
                        instances,
                    },
                );
            }
        }
        if let Some(outcome) = decision.outcome {
            return match outcome {
                Outcome::Succeeded { .. } => Ok(kept),
                other => Err(format!("ended {other:?}")),
            };
        }
        metrics_since = decision.metrics_since;
        for command in &decision.commands {
            if let Err(error) = world.submit(command) {
                rollout.command_failed(command, now, &error);
            }
        }
        world.advance_to(decision.next_wake.max(Timestamp(now.0 + 1000)));
    }
    Err(format!("no outcome within {MAX_STEPS} steps"))
}

/// Wall time of one step on a clone of `kept`'s state, the clone's own cost subtracted.
fn step_time(kept: &Kept) -> Duration {
    let mut iterations = 0u32;
    let clock = Clock::start();
    while clock.elapsed() < MEASURE_FOR || iterations < 10 {
        let mut copy = kept.rollout.clone();
        black_box(copy.step(black_box(&kept.observation), kept.at));
        iterations += 1;
    }
    let with_clone = clock.elapsed() / iterations;
    let clone_clock = Clock::start();
    for _ in 0..iterations {
        black_box(kept.rollout.clone());
    }
    let clone = clone_clock.elapsed() / iterations;
    with_clone.saturating_sub(clone)
}

fn main() {
    println!(
        "Rollout::step cost per phase (the phase's widest step; per inst = ns / (instances + targets) observed)"
    );
    println!(
        "{:<11} {:<22} | {:>5} {:>6} {:>7} | {:>12} | {:>9}",
        "strategy", "phase", "fleet", "inst", "targets", "ns per step", "per inst"
    );
    println!("{}", "-".repeat(86));
    let mut problems = Vec::new();
    // Per (strategy, phase): ns per instance at each fleet size, for the linearity line.
    let mut per_instance: BTreeMap<(String, &'static str), Vec<(u32, f64)>> = BTreeMap::new();
    let mut largest: Option<Kept> = None;
    for kind in StrategyKind::ALL {
        for desired in FLEETS {
            let kept = match capture(kind, desired) {
                Ok(kept) => kept,
                Err(problem) => {
                    problems.push(format!("{} {desired}: {problem}", kind.name()));
                    continue;
                }
            };
            let expected: &[&str] = match kind {
                // Rolling drains inside its batches (the old group scaled in): no detach phase.
                StrategyKind::Rolling => &["rolling batch", "deleting_old"],
                StrategyKind::BlueGreen => &[
                    "waiting_for_healthy",
                    "detaching_old (shift)",
                    "draining_old",
                ],
                StrategyKind::Canary => &["canary_step", "detaching_old (shift)", "draining_old"],
            };
            for phase in expected {
                if !kept.contains_key(phase) {
                    problems.push(format!("{} {desired}: never in {phase}", kind.name()));
                }
            }
            for (phase, step) in &kept {
                let ns = step_time(step).as_nanos() as f64;
                let width = (step.instances + step.targets).max(1) as f64;
                println!(
                    "{:<11} {:<22} | {:>5} {:>6} {:>7} | {:>12.0} | {:>9.1}",
                    kind.name(),
                    phase,
                    desired,
                    step.instances,
                    step.targets,
                    ns,
                    ns / width
                );
                per_instance
                    .entry((kind.name().to_string(), phase))
                    .or_default()
                    .push((desired, ns / width));
            }
            if desired == 1000
                && kind == StrategyKind::BlueGreen
                && let Some((_, step)) = kept.into_iter().find(|(p, _)| *p == "draining_old")
            {
                largest = Some(step);
            }
        }
    }
    println!();
    println!(
        "linearity: ns per (instance + target) at 1,000 against 20 and against 200 instances (1.0 = linear; log2 of the sizes' ratio, an n log n step, gives about 1.25 from 200)"
    );
    for ((strategy, phase), points) in &per_instance {
        let at = |fleet: u32| points.iter().find(|(f, _)| *f == fleet).map(|(_, ns)| *ns);
        if let (Some(small), Some(medium), Some(large)) = (at(20), at(200), at(1000)) {
            println!(
                "  {strategy:<11} {phase:<22} {:>5.2} {:>5.2}",
                large / small.max(f64::MIN_POSITIVE),
                large / medium.max(f64::MIN_POSITIVE)
            );
        }
    }
    println!();
    match largest {
        Some(step) => {
            let bytes = observation_bytes(&step.observation);
            let checkpoint =
                serde_json::to_string(step.rollout.checkpoint()).map_or(0, |json| json.len());
            println!(
                "size at 1,000 instances (blue/green draining, {} instances + {} targets observed): one observation ~{:.0} KiB ({:.0} bytes per instance + target), one rollout's checkpoint {:.1} KiB of JSON",
                step.instances,
                step.targets,
                bytes as f64 / 1024.0,
                bytes as f64 / (step.instances + step.targets).max(1) as f64,
                checkpoint as f64 / 1024.0
            );
        }
        None => problems.push("blue_green 1000: no draining step to size".to_string()),
    }
    if !problems.is_empty() {
        eprintln!("FAILED: a rollout did not reach what the bench measures:");
        for problem in &problems {
            eprintln!("  {problem}");
        }
        std::process::exit(1);
    }
}

/// Wall-clock timer for the benchmark only (the engine itself never reads a clock).
struct Clock(std::time::Instant);

impl Clock {
    #[allow(clippy::disallowed_methods)] // measuring wall time is this benchmark's job
    fn start() -> Clock {
        Clock(std::time::Instant::now())
    }

    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}
