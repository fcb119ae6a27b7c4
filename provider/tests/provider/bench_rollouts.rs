//! Benchmark (prints figures, asserts nothing about time): rollouts of 3 and 20 instances per
//! strategy on the local AWS, driven by the provider's own driver (no Terraform), against the
//! floor the health model implies.
//!
//! `cargo test --workspace --test provider -- bench_rollouts:: --ignored --nocapture`
//!
//! The update rollout's wall time splits into `aws` (the sum of the adapter calls' durations,
//! latency to the local AWS included), `sleep` (waiting for the next wake) and `own`, the
//! provider's own overhead (wall − aws − sleep: deciding, converting, logging, scheduling),
//! also shown per engine step and as a share of the wall time. The driver logs the same split
//! at the end of every run (`rollout stats: ...`, INFO). `api calls` counts every AWS call,
//! and is dominated by the 100 ms poll cap used here (the engine alone would wake less often).

// Benchmark set-up helpers: a failed step must fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use terraform_provider_zdd::aws::types::TargetGroupTiming;
use terraform_provider_zdd::aws::{AwsClients, Endpoints};
use terraform_provider_zdd::driver;
use zdd_rollout::spec::DEFAULT_DRAIN_MARGIN;
use zdd_rollout::{Outcome, RawCanary, RawCanaryStep, RawSpec, RolloutSpec};
use zdd_test_support::{Fixture, local_aws};

const MAX_POLL: Duration = Duration::from_millis(100);
const ROLL_TIMEOUT: Duration = Duration::from_secs(900);
const SOAK: &str = "1s";

struct Row {
    strategy: &'static str,
    instances: i64,
    duration: Duration,
    floor: Duration,
    api_calls: u64,
    stats: driver::RunStats,
}

/// The spec of one benchmark fleet: `instances` of launch template `version`, the fixture's
/// blue target group (canary: blue stable, green canary), batches of a quarter.
pub(crate) fn raw(
    name: &str,
    fixture: &Fixture,
    strategy: &str,
    instances: i64,
    version: &str,
) -> RawSpec {
    let canary = strategy == "canary";
    RawSpec {
        name: name.to_string(),
        launch_template_id: fixture.launch_template_id.clone(),
        launch_template_version: version.to_string(),
        subnet_ids: fixture.subnet_ids.clone(),
        target_group_arns: Some(if canary {
            Vec::new()
        } else {
            vec![fixture.target_group_arns[0].clone()]
        }),
        min_size: 1,
        max_size: instances + ((instances + 3) / 4),
        desired_capacity: instances,
        strategy: Some(strategy.to_string()),
        batch_size: Some((instances + 3) / 4),
        canary: canary.then(|| RawCanary {
            listener_arn: Some(fixture.listener_arn.clone()),
            stable_target_group_arn: Some(fixture.target_group_arns[0].clone()),
            canary_target_group_arn: Some(fixture.target_group_arns[1].clone()),
            steps: Some(
                [(25, SOAK), (50, SOAK), (100, "0s")]
                    .into_iter()
                    .map(|(weight, soak)| RawCanaryStep {
                        weight,
                        soak: soak.to_string(),
                    })
                    .collect(),
            ),
            alarm_names: Some(Vec::new()),
            max_5xx_ratio: Some(0.01),
            // The bench measures the rollout's own overhead: no traffic, so no evidence needed.
            min_requests: Some(0),
            ..RawCanary::default()
        }),
        ..RawSpec::default()
    }
}

async fn scenario(strategy: &'static str, instances: i64) -> Row {
    let sdk = local_aws().sdk_config().await;
    let prefix = format!("bench{}{instances}", &strategy[..2]);
    let fixture = Fixture::create(&sdk, &prefix).await.unwrap();
    let aws = AwsClients::new(&sdk, &Endpoints::default());
    let name = format!(
        "{prefix}-{}",
        fixture.vpc_id.chars().rev().take(6).collect::<String>()
    );
    let first = RolloutSpec::validate(&raw(&name, &fixture, strategy, instances, "1")).unwrap();
    let created = crate::common::driving::roll(&aws, first, ROLL_TIMEOUT, MAX_POLL).await;
    assert!(
        matches!(created.outcome, Ok(Outcome::Succeeded { .. })),
        "{:?}",
        created.outcome
    );
    let second = RolloutSpec::validate(&raw(&name, &fixture, strategy, instances, "2")).unwrap();
    let result = crate::common::driving::roll(&aws, second, ROLL_TIMEOUT, MAX_POLL).await;
    assert!(
        matches!(result.outcome, Ok(Outcome::Succeeded { .. })),
        "{:?}",
        result.outcome
    );

    let timing = aws
        .target_group_timing(&fixture.target_group_arns[0])
        .await
        .unwrap();
    let floor = floor(strategy, instances, &timing, local_aws().time_scale());
    Row {
        strategy,
        instances,
        duration: result
            .finished_at
            .duration_since(result.started_at)
            .unwrap_or_default(),
        floor,
        api_calls: result.api_calls,
        stats: result.stats,
    }
}

/// The floor of one rollout of `instances` by `strategy`: what the load balancer makes anyone
/// wait, as the health model runs it (its durations × `time_scale`), plus the deregistration
/// delay and drain margin the engine must honour as AWS reports them (pure).
pub(crate) fn floor(
    strategy: &str,
    instances: i64,
    timing: &TargetGroupTiming,
    time_scale: f64,
) -> Duration {
    let healthy = timing.time_to_healthy().mul_f64(time_scale);
    let drain = timing.deregistration_delay + DEFAULT_DRAIN_MARGIN;
    let soaks = if strategy == "canary" {
        Duration::from_secs(2)
    } else {
        Duration::ZERO
    };
    let batch = ((instances + 3) / 4).max(1);
    let batches = u32::try_from((instances + batch - 1) / batch).unwrap_or(u32::MAX);
    // Blue/green and canary: the engine waits out the drain of the detached old group on its
    // own clock, as AWS reports the delay. Rolling: each old batch leaves by AWS's scale-in,
    // which drains on the local AWS's (scaled) clock, and the empty old group is then deleted
    // without a detach.
    if strategy == "rolling" {
        (healthy + timing.deregistration_delay.mul_f64(time_scale)) * batches
    } else {
        healthy + drain + soaks
    }
}

#[test]
fn the_floor_is_the_health_models_wait_plus_the_drain_the_engine_honours() {
    // The fixture's target groups: interval 5 s, healthy threshold 2, deregistration 5 s.
    let timing = TargetGroupTiming {
        target_group_arn: "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/b/1".to_string(),
        name: "b".to_string(),
        deregistration_delay: Duration::from_secs(5),
        health_check_interval: Duration::from_secs(5),
        healthy_threshold: 2,
        load_balancer_arns: Vec::new(),
    };
    let secs = Duration::from_secs_f64;
    // Healthy after 10 AWS seconds, scaled; the drain (5 s + the 5 s margin) is not.
    assert_eq!(floor("blue_green", 20, &timing, 1.0), secs(20.0));
    assert_eq!(floor("blue_green", 2, &timing, 0.05), secs(10.5));
    assert_eq!(floor("canary", 3, &timing, 0.05), secs(12.5));
    // Rolling 20 in batches of 5: four batches, each healthy then drained on AWS's clock.
    assert_eq!(floor("rolling", 20, &timing, 0.05), secs(3.0));
    assert_eq!(floor("rolling", 3, &timing, 1.0), secs(45.0));
}

#[test]
#[ignore = "benchmark: prints figures; run with --ignored --nocapture"]
fn rollout_figures() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for strategy in ["blue_green", "rolling", "canary"] {
        for instances in [3, 20] {
            rows.push(runtime.block_on(scenario(strategy, instances)));
        }
    }
    println!(
        "\nrollout of a new launch template version on the local AWS (time scale {}, poll cap {MAX_POLL:?})",
        local_aws().time_scale()
    );
    println!(
        "{:<10} {:>4} {:>8} {:>8} {:>5} {:>5} {:>5} {:>8} {:>8} {:>7} {:>8} {:>6}",
        "strategy",
        "inst",
        "duration",
        "floor",
        "ratio",
        "api",
        "steps",
        "aws",
        "sleep",
        "own",
        "own/step",
        "own %"
    );
    for row in &rows {
        let stats = &row.stats;
        println!(
            "{:<10} {:>4} {:>7.2}s {:>7.2}s {:>5.2} {:>5} {:>5} {:>6.0}ms {:>6.0}ms {:>5.1}ms {:>6.0}µs {:>5.2}%",
            row.strategy,
            row.instances,
            row.duration.as_secs_f64(),
            row.floor.as_secs_f64(),
            row.duration.as_secs_f64() / row.floor.as_secs_f64().max(0.001),
            row.api_calls,
            stats.steps,
            stats.aws.as_secs_f64() * 1000.0,
            stats.sleep.as_secs_f64() * 1000.0,
            stats.own().as_secs_f64() * 1000.0,
            stats.own_per_step().as_secs_f64() * 1e6,
            stats.own_percent(),
        );
    }
}
