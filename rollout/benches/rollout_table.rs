//! Rollout benchmark: prints tables, asserts nothing about time.
//!
//! For fleets of 3, 20 and 200 instances and each strategy, a simulated rollout (default
//! timings, no faults) against
//! - the physical floor: slowest boot + app start + interval × healthy threshold +
//!   deregistration delay (+ canary soaks; rolling: per batch),
//! - the extra instance-minutes paid above `desired` for the rollout's duration,
//! - API calls made against a minimum (one observation per transition plus the commands),
//! - a model of AWS Instance Refresh at its defaults (min healthy 90 %, max healthy 100 %,
//!   instance warmup = the 300 s health check grace period) on the same fleet and timings.
//!
//! Then the cost of one `step` for a 200-instance fleet.
//!
//! Run: `cargo bench -p zdd-rollout` (release build).

use std::hint::black_box;
use std::time::Duration;

use zdd_rollout::sim::fixtures::{FleetShape, StrategyKind, spec, update};
use zdd_rollout::sim::{Faults, Kill, Timings, World, run};
use zdd_rollout::{Rollout, Strategy, Timestamp};

/// AWS Instance Refresh's default instance warmup falls back to the health check grace
/// period; 300 s is the console default.
const REFRESH_WARMUP: Duration = Duration::from_secs(300);
/// A typical poll of DescribeInstanceRefreshes by a tool waiting for a refresh.
const REFRESH_POLL: Duration = Duration::from_secs(15);

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn main() {
    let timings = Timings::default();
    let health = timings.health_check_interval * timings.healthy_threshold;
    let slowest_instance = timings.boot_max + timings.app_start_max + health;
    let drain = timings.deregistration_delay + Duration::from_secs(5); // + drain margin
    println!(
        "timings: boot {}-{}s, app start <= {}s, health {}s x {} = {}s, deregistration delay {}s (+5s margin), canary soak 3 x 300s",
        timings.boot_min.as_secs(),
        timings.boot_max.as_secs(),
        timings.app_start_max.as_secs(),
        timings.health_check_interval.as_secs(),
        timings.healthy_threshold,
        health.as_secs(),
        timings.deregistration_delay.as_secs()
    );
    println!();
    println!(
        "{:<11} {:>5} | {:>8} {:>8} {:>6} | {:>9} | {:>6} {:>6} {:>5} | {:>7} {:>9} {:>6} {:>7} | {:>7}",
        "strategy",
        "fleet",
        "sim (s)",
        "floor(s)",
        "ratio",
        "extra i-m",
        "api",
        "min",
        "ratio",
        "IR (s)",
        "IR floor%",
        "IR api",
        "IR i-m",
        "dropped"
    );
    println!("{}", "-".repeat(128));
    for desired in [3u32, 20, 200] {
        for kind in StrategyKind::ALL {
            let batch = desired.div_ceil(10).max(1);
            let shape = FleetShape {
                desired,
                surge: batch,
                batch_size: batch,
                ..FleetShape::default()
            };
            let Ok(spec) = spec(kind, &shape, 7) else {
                println!("{:<11} {desired:>5} | invalid fixture", kind.name());
                continue;
            };
            let groups = spec.target_group_arns().len() as u64;
            let scenario = update("bench", 7, spec.clone(), timings.clone(), Faults::default());
            let report = run(&scenario, &Kill::default());
            let soaks: Duration = match &spec.strategy {
                Strategy::Canary(c) => c.steps.iter().map(|s| s.soak).sum(),
                _ => Duration::ZERO,
            };
            let batches = u64::from(desired.div_ceil(batch));
            let floor = match kind {
                StrategyKind::Rolling => (slowest_instance + drain) * batches as u32,
                _ => slowest_instance + drain + soaks,
            };
            let extra_instance_minutes = (report.instance_seconds as f64
                - f64::from(desired) * secs(report.duration))
                / 60.0;
            // Minimum API calls: the commands that must be sent, and one observation per
            // transition the engine must see (observation = DescribeAutoScalingGroups + one
            // DescribeTargetHealth per group; canary adds listener, alarms and 2 metrics per
            // group).
            let observation_cost = match kind {
                StrategyKind::Canary => 1 + groups + 1 + 1 + 2 * groups,
                _ => 1 + groups,
            };
            let (min_commands, transitions) = match kind {
                // create, detach, delete | created, healthy, detached, drained, deleted
                StrategyKind::BlueGreen => (3, 5),
                // create, old min 0, per batch grow+deregister+terminate, detach, delete, final size
                StrategyKind::Rolling => (2 + 3 * batches + 3, 2 + 3 * batches + 3),
                // create, 4 weight steps, detach, delete | created, healthy, 4 weights, detached, drained, deleted
                StrategyKind::Canary => (7, 9),
            };
            // Canary gates must be read during each soak, at least once per alarm period (60 s).
            let gate_reads = (secs(soaks) / 60.0).ceil() as u64;
            let min_api = min_commands + (transitions + gate_reads) * observation_cost;

            // AWS Instance Refresh, min healthy 90 %, max healthy 100 %: terminate a batch
            // (draining first), launch replacements, wait the warmup; capacity dips to 90 %.
            let refresh_batch = (desired / 10).max(1);
            let refresh_batches = desired.div_ceil(refresh_batch);
            let refresh_batch_time = drain + timings.boot_max + REFRESH_WARMUP;
            let refresh_duration = refresh_batch_time * refresh_batches;
            let refresh_floor_percent =
                100.0 * f64::from(desired - refresh_batch) / f64::from(desired);
            let refresh_api = 1 + (secs(refresh_duration) / secs(REFRESH_POLL)).ceil() as u64;
            // Replaced instances are missing during their batch: negative extra instance-minutes.
            let refresh_extra = -(f64::from(refresh_batch)
                * secs(drain + timings.boot_max + REFRESH_WARMUP)
                * f64::from(refresh_batches))
                / 60.0;

            println!(
                "{:<11} {:>5} | {:>8.0} {:>8.0} {:>6.2} | {:>9.1} | {:>6} {:>6} {:>5.2} | {:>7.0} {:>8.0}% {:>6} {:>7.1} | {:>7}",
                kind.name(),
                desired,
                secs(report.duration),
                secs(floor),
                secs(report.duration) / secs(floor),
                extra_instance_minutes,
                report.api_calls,
                min_api,
                report.api_calls as f64 / min_api as f64,
                secs(refresh_duration),
                refresh_floor_percent,
                refresh_api,
                refresh_extra,
                report.dropped
            );
        }
    }
    println!();
    println!(
        "sim = simulated rollout; floor = slowest boot + app start + interval x threshold + drain (+ soaks; rolling: x batches)"
    );
    println!(
        "extra i-m = instance-minutes paid above desired during the rollout; api/min = calls made / minimum model"
    );
    println!(
        "IR = AWS Instance Refresh model (90 % min healthy: capacity floor shown; negative i-m = capacity missing)"
    );
    println!();
    step_cost();
}

/// µs per `step` for a 200-instance fleet in the middle of a blue/green rollout (old and new
/// generation, 400 targets).
fn step_cost() {
    let shape = FleetShape {
        desired: 200,
        surge: 20,
        batch_size: 20,
        ..FleetShape::default()
    };
    for kind in StrategyKind::ALL {
        let Ok(spec) = spec(kind, &shape, 7) else {
            continue;
        };
        let timings = Timings::default();
        let scenario = update("step cost", 3, spec.clone(), timings, Faults::default());
        let mut world = World::new(&scenario);
        let now = world.now();
        let first = world.observe(None);
        let mut rollout = Rollout::start(spec.clone(), &first, now);
        // Drive until both generations are registered (400 targets), before the old one leaves.
        let mut t = now;
        for _ in 0..200 {
            let observation = world.observe(None);
            let registered: usize = observation
                .target_groups
                .iter()
                .map(|g| g.targets.len())
                .sum();
            if registered >= 400
                || observation.asgs.len() > 1
                    && matches!(kind, StrategyKind::Rolling)
                    && registered >= 220
            {
                break;
            }
            let decision = rollout.step(&observation, t);
            for command in &decision.commands {
                let _ = world.submit(command);
            }
            t = decision.next_wake;
            world.advance_to(t);
        }
        let observation = world.observe(None);
        let targets: usize = observation
            .target_groups
            .iter()
            .map(|g| g.targets.len())
            .sum();
        let iterations = 2000u32;
        let clock = Clock::start();
        for i in 0..iterations {
            let mut copy = rollout.clone();
            let decision = copy.step(black_box(&observation), Timestamp(t.0 + u64::from(i)));
            black_box(decision);
        }
        let per_step = clock.elapsed() / iterations;
        let clone_clock = Clock::start();
        for _ in 0..iterations {
            black_box(rollout.clone());
        }
        let per_clone = clone_clock.elapsed() / iterations;
        println!(
            "step cost, {:<10} 200 instances ({} targets observed, phase {}): {:.1} us per step ({:.1} us more to clone the state first)",
            kind.name(),
            targets,
            rollout.phase(),
            (per_step.saturating_sub(per_clone)).as_secs_f64() * 1e6,
            per_clone.as_secs_f64() * 1e6
        );
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
