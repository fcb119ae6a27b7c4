//! The canary analysis and the bake through real Terraform on the local AWS, whose traffic
//! model publishes the load balancer's metrics per target group (scaled: a 3 s period
//! published 4.5 s after it ends at the tests' time scale 0.05).
//!
//! Durations in the configuration (`soak`, `max_soak`, `bake.duration`) are not scaled: a
//! `"9s"` soak covers three scaled periods.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
use zdd_test_support::{TrafficProfile, local_aws};

use crate::common::traffic::Traffic;
use crate::common::{Bed, Config, Sampler, bed};

/// Requests per AWS second through the listener: 24,000 per period, so even the error
/// counts of a 0.2 % baseline are steady enough between the two groups (about 24 per group
/// and period at 50 %).
const RPS: f64 = 400.0;

/// A canary fleet of two instances whose steps are `steps` (HCL) and whose canary block
/// holds `analysis` lines too.
fn canary_config(bed: &Bed, steps: &str, analysis: &[&str]) -> Config {
    let mut config = Config::new(bed);
    config.target_group_arns = None;
    let mut block = format!(
        "canary = {{\n    listener_arn = {:?}\n    stable_target_group_arn = {:?}\n    canary_target_group_arn = {:?}\n    steps = {steps}",
        bed.fixture.listener_arn,
        bed.blue(),
        bed.green()
    );
    for line in analysis {
        block.push_str("\n    ");
        block.push_str(line);
    }
    block.push_str("\n  }");
    config.extra = vec!["strategy = \"canary\"".into(), block];
    config
}

/// Terraform's diagnostics with the box drawing and the line wrapping taken out, so a
/// message can be searched whole.
fn flat(text: &str) -> String {
    text.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The target group's name (the last-but-one part of its ARN), as diagnostics name it.
fn target_group_name(arn: &str) -> &str {
    arn.rsplit('/').nth(1).unwrap_or(arn)
}

fn cloudwatch(bed: &Bed) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(&bed.sdk)
}

/// A metric alarm on a custom metric nothing publishes, so only `SetAlarmState` moves it
/// (the local AWS evaluates alarms on the load balancer's metrics only), set to `state`.
fn forced_alarm(bed: &Bed, name: &str, state: StateValue) {
    let cloudwatch = cloudwatch(bed);
    bed.runtime.block_on(async {
        cloudwatch
            .put_metric_alarm()
            .alarm_name(name)
            .namespace("ZddTest/Custom")
            .metric_name("Errors")
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .unwrap_or_else(|err| panic!("PutMetricAlarm {name}: {err:?}"));
    });
    set_alarm(bed, name, state);
}

fn set_alarm(bed: &Bed, name: &str, state: StateValue) {
    let cloudwatch = cloudwatch(bed);
    bed.runtime.block_on(async {
        cloudwatch
            .set_alarm_state()
            .alarm_name(name)
            .state_value(state)
            .state_reason("set by the test")
            .send()
            .await
            .unwrap_or_else(|err| panic!("SetAlarmState {name}: {err:?}"));
    });
}

/// Applies version 1: the first generation, nothing to judge.
fn first_generation(bed: &Bed, config: &Config) {
    bed.write_config(config);
    bed.apply_ok();
}

/// A canary whose p99 is three times stable's, with no errors, rolls back on the regression:
/// the diagnostic names the latency, both groups' values and the window.
#[test]
fn a_canary_three_times_slower_than_stable_rolls_back_on_latency() {
    let started = Instant::now();
    let bed = bed("cawslow");
    // Three periods in the soak: a p99 regression is judged on at least three.
    let mut config = canary_config(
        &bed,
        "[{ weight = 50, soak = \"9s\" }, { weight = 100, soak = \"0s\" }]",
        &[
            "max_p99_latency = \"800ms\"",
            "max_regression = 1.5",
            "max_soak = \"1m\"",
        ],
    );
    first_generation(&bed, &config);
    let stable = TrafficProfile::default().latency_ms(40.0, 80.0, 120.0);
    let slow = TrafficProfile::default().latency_ms(120.0, 240.0, 360.0);
    let _traffic = Traffic::listener(
        &bed,
        RPS,
        11,
        &[(bed.blue(), &stable), (bed.green(), &slow)],
    );
    config.version = "2".into();
    bed.write_config(&config);
    let apply = bed.apply();
    assert!(
        !apply.success(),
        "a slow canary was promoted:\n{}",
        apply.stdout
    );
    let text = flat(&apply.stderr);
    assert!(text.contains("rolled back"), "{text}");
    let (canary, stable) = (
        target_group_name(bed.green()),
        target_group_name(bed.blue()),
    );
    for expected in [
        format!("p99 latency 0.36 s in target group {canary}"),
        "exceeds max_regression 1.5".to_string(),
        format!("(stable {stable}: 0.12 s; canary 3.0× stable)"),
        " UTC during canary step 1 (50 %)".to_string(),
    ] {
        assert!(text.contains(&expected), "{expected:?} not in: {text}");
    }
    let state = bed.state();
    assert_eq!(state["generation"], 1, "{state:#}");
    assert_eq!(state["last_rollout"]["status"], "rolled_back");
    assert_eq!(bed.asg_names(), vec![format!("{}-g1", bed.name)]);
    println!("slow canary: {:.1} s", started.elapsed().as_secs_f64());
}

/// A canary that receives no request is never promoted: with `insufficient_evidence =
/// "fail"` its first soak fails, saying how many requests it saw.
#[test]
fn a_canary_without_traffic_fails_for_want_of_evidence() {
    let started = Instant::now();
    let bed = bed("cawnone");
    let mut config = canary_config(
        &bed,
        "[{ weight = 50, soak = \"3s\" }, { weight = 100, soak = \"0s\" }]",
        &["insufficient_evidence = \"fail\""],
    );
    first_generation(&bed, &config);
    // Stable is busy; nothing reaches the canary group whatever the weights.
    let _traffic = Traffic::target_group(bed.blue(), RPS, 3, &TrafficProfile::default());
    config.version = "2".into();
    bed.write_config(&config);
    let apply = bed.apply();
    assert!(!apply.success(), "a canary without traffic was promoted");
    let text = flat(&apply.stderr);
    let canary = target_group_name(bed.green());
    assert!(
        text.contains(&format!(
            "insufficient evidence: 0 of 200 requests in target group {canary}"
        )),
        "{text}"
    );
    assert_eq!(bed.state()["last_rollout"]["status"], "rolled_back");
    assert_eq!(bed.asg_names(), vec![format!("{}-g1", bed.name)]);
    println!(
        "canary without traffic, fail: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// With `insufficient_evidence = "extend"` (the default) a canary without traffic soaks on
/// until `max_soak`, then fails: never promoted.
#[test]
fn a_canary_without_traffic_extends_its_soak_to_max_soak_then_fails() {
    let started = Instant::now();
    let bed = bed("cawext");
    let mut config = canary_config(
        &bed,
        "[{ weight = 50, soak = \"3s\" }, { weight = 100, soak = \"0s\" }]",
        &["max_soak = \"12s\""],
    );
    first_generation(&bed, &config);
    let _traffic = Traffic::target_group(bed.blue(), RPS, 4, &TrafficProfile::default());
    config.version = "2".into();
    bed.write_config(&config);
    let applied = Instant::now();
    let apply = bed.apply();
    let took = applied.elapsed();
    assert!(!apply.success(), "a canary without traffic was promoted");
    let text = flat(&apply.stderr);
    let canary = target_group_name(bed.green());
    assert!(
        text.contains(&format!(
            "insufficient evidence: 0 of 200 requests in target group {canary} after 12s (max_soak)"
        )),
        "{text}"
    );
    // It soaked on past the step's own 3 s soak, up to max_soak.
    assert!(took >= Duration::from_secs(12), "failed after {took:?}");
    assert_eq!(bed.state()["last_rollout"]["status"], "rolled_back");
    println!(
        "canary without traffic, extend: {:.1} s (the apply {:.1} s)",
        started.elapsed().as_secs_f64(),
        took.as_secs_f64()
    );
}

/// A healthy canary under realistic noise (the p99 of every period of both groups drawn
/// lognormal with σ 0.2, a 0.2 % baseline of 5xx in both) is promoted: no false rollback.
fn a_healthy_noisy_canary_is_promoted(seed: u64) {
    let started = Instant::now();
    let bed = bed(&format!("cawok{seed}"));
    let mut config = canary_config(
        &bed,
        "[{ weight = 50, soak = \"9s\" }, { weight = 100, soak = \"0s\" }]",
        &[
            "max_p99_latency = \"800ms\"",
            "max_regression = 1.5",
            "max_soak = \"1m\"",
        ],
    );
    first_generation(&bed, &config);
    let noisy = TrafficProfile::default()
        .latency_ms(40.0, 80.0, 120.0)
        .latency_noise(0.2)
        .target_5xx_ratio(0.002);
    let _traffic = Traffic::listener(
        &bed,
        RPS,
        seed,
        &[(bed.blue(), &noisy), (bed.green(), &noisy)],
    );
    config.version = "2".into();
    bed.write_config(&config);
    let apply = bed.apply();
    assert!(
        apply.success(),
        "seed {seed}: a healthy canary was rolled back:\n{}",
        flat(&apply.stderr)
    );
    let state = bed.state();
    assert_eq!(state["last_rollout"]["status"], "succeeded", "seed {seed}");
    assert_eq!(state["generation"], 2);
    let steps = state["last_rollout"]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        steps.iter().any(|step| step["action"] == "analysis"),
        "seed {seed}: no soak was judged: {steps:#?}"
    );
    println!(
        "healthy noisy canary, seed {seed}: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn a_healthy_noisy_canary_is_promoted_seed_1() {
    a_healthy_noisy_canary_is_promoted(1);
}

#[test]
fn a_healthy_noisy_canary_is_promoted_seed_2() {
    a_healthy_noisy_canary_is_promoted(2);
}

#[test]
fn a_healthy_noisy_canary_is_promoted_seed_3() {
    a_healthy_noisy_canary_is_promoted(3);
}

/// A composite alarm gates a canary like a metric alarm: in ALARM (its child is), it fails
/// the first step. (Before the provider asked DescribeAlarms for composite alarms too, the
/// apply was refused with "Canary alarm not found".)
#[test]
fn a_composite_alarm_gates_a_canary() {
    let started = Instant::now();
    let bed = bed("cawcomp");
    let child = format!("{}-child", bed.name);
    let composite = format!("{}-web", bed.name);
    forced_alarm(&bed, &child, StateValue::Ok);
    let cloudwatch = cloudwatch(&bed);
    bed.runtime.block_on(async {
        cloudwatch
            .put_composite_alarm()
            .alarm_name(&composite)
            .alarm_rule(format!("ALARM(\"{child}\")"))
            .send()
            .await
            .unwrap();
    });
    let alarm_line = format!("alarm_names = [{composite:?}]");
    let mut config = canary_config(
        &bed,
        "[{ weight = 50, soak = \"3s\" }, { weight = 100, soak = \"0s\" }]",
        &[&alarm_line, "max_soak = \"1m\""],
    );
    first_generation(&bed, &config);
    let _traffic = Traffic::healthy(&bed);
    set_alarm(&bed, &child, StateValue::Alarm);
    config.version = "2".into();
    bed.write_config(&config);
    let apply = bed.apply();
    assert!(
        !apply.success(),
        "the composite alarm did not gate the canary"
    );
    let text = flat(&apply.stderr);
    assert!(
        text.contains(&format!(
            "alarm {composite} went into ALARM during canary step 1"
        )),
        "{text}"
    );
    assert_eq!(bed.state()["last_rollout"]["status"], "rolled_back");
    println!("composite alarm: {:.1} s", started.elapsed().as_secs_f64());
}

/// A blue/green switch whose bake alarm fires returns to the old generation, still running
/// detached, with no new boot: no third group ever appears and the old group's instances are
/// the ones it had. From outside, the capacity floor holds and no request is answered by the
/// load balancer for want of a healthy target.
#[test]
fn a_bake_alarm_returns_a_blue_green_switch_to_the_old_generation_without_a_boot() {
    let started = Instant::now();
    let bed = bed("cawbake");
    let alarm = format!("{}-bake", bed.name);
    forced_alarm(&bed, &alarm, StateValue::Ok);
    let mut config = Config::new(&bed);
    config.extra = vec![format!(
        "bake = {{\n    duration    = \"60s\"\n    alarm_names = [{alarm:?}]\n  }}"
    )];
    first_generation(&bed, &config);
    let old_group = format!("{}-g1", bed.name);
    let old_instances: BTreeSet<String> = bed.instances_of(&old_group).into_iter().collect();
    assert_eq!(old_instances.len(), 2);
    let _traffic = Traffic::listener(&bed, RPS, 5, &[]);

    config.version = "2".into();
    bed.write_config(&config);
    let watched = vec![bed.blue().to_string()];
    let sampler = Sampler::start(&bed, watched, 2, None);
    let apply = std::thread::scope(|scope| {
        let fired = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let watcher = {
            let (fired, done) = (fired.clone(), done.clone());
            let bed = &bed;
            let (old_group, alarm) = (old_group.clone(), alarm.clone());
            scope.spawn(move || watch_and_fire(bed, &old_group, &alarm, &fired, &done))
        };
        let apply = bed.apply();
        done.store(true, Ordering::SeqCst);
        let seen = watcher.join().unwrap();
        assert!(
            fired.load(Ordering::SeqCst),
            "the bake never started: groups seen {seen:?}"
        );
        assert_eq!(
            seen,
            BTreeSet::from([old_group.clone(), format!("{}-g2", bed.name)]),
            "a group other than the two generations appeared"
        );
        apply
    });
    let report = sampler.finish();
    assert!(
        !apply.success(),
        "the bake alarm did not roll back:\n{}",
        apply.stdout
    );
    let text = flat(&apply.stderr);
    assert!(
        text.contains(&format!(
            "bake alarm {alarm} went into ALARM during the bake"
        )),
        "{text}"
    );
    let state = bed.state();
    assert_eq!(state["last_rollout"]["status"], "rolled_back", "{state:#}");
    assert_eq!(bed.asg_names(), vec![old_group.clone()]);
    let now_instances: BTreeSet<String> = bed.instances_of(&old_group).into_iter().collect();
    assert_eq!(
        now_instances, old_instances,
        "the old generation booted new instances"
    );
    assert!(report.breaches.is_empty(), "{:#?}", report.breaches);
    assert_eq!(report.min_healthy, Some(2), "{report:?}");
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
    // The load balancer answered every request from a healthy target: no period of the
    // target group, published once the apply was over, has an ELB 5xx.
    let timing = local_aws().traffic_timing().unwrap();
    std::thread::sleep(Duration::from_millis(
        timing.period_ms + timing.publish_delay_ms,
    ));
    let periods = local_aws().published_periods(bed.blue()).unwrap();
    assert!(!periods.is_empty());
    let dropped: Vec<_> = periods.iter().filter(|p| p.elb_5xx > 0).collect();
    assert!(dropped.is_empty(), "requests dropped: {dropped:#?}");
    println!("bake alarm: {:.1} s", started.elapsed().as_secs_f64());
}

/// Watches the fleet's groups until `done`; once the old group is detached from every target
/// group while the new one serves (the bake), puts `alarm` into ALARM. Returns every group
/// name seen.
fn watch_and_fire(
    bed: &Bed,
    old_group: &str,
    alarm: &str,
    fired: &AtomicBool,
    done: &AtomicBool,
) -> BTreeSet<String> {
    let autoscaling = aws_sdk_autoscaling::Client::new(&bed.sdk);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|err| panic!("the watcher's runtime: {err}"));
    let mut seen = BTreeSet::new();
    while !done.load(Ordering::SeqCst) {
        let groups = runtime.block_on(async {
            autoscaling
                .describe_auto_scaling_groups()
                .filters(
                    aws_sdk_autoscaling::types::Filter::builder()
                        .name("tag:zdd:rollout")
                        .values(&bed.name)
                        .build(),
                )
                .send()
                .await
        });
        if let Ok(groups) = groups {
            let groups = groups.auto_scaling_groups();
            seen.extend(
                groups
                    .iter()
                    .filter_map(|g| g.auto_scaling_group_name().map(str::to_string)),
            );
            let old_detached = groups.iter().any(|g| {
                g.auto_scaling_group_name() == Some(old_group)
                    && g.target_group_arns().is_empty()
                    && g.instances().len() == 2
            });
            if old_detached && !fired.swap(true, Ordering::SeqCst) {
                set_alarm(bed, alarm, StateValue::Alarm);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    seen
}

/// A bake alarm CloudWatch does not know would leave the bake blind: the apply is refused
/// before anything is created, on the attribute.
#[test]
fn a_missing_bake_alarm_is_refused_before_anything_is_created() {
    let started = Instant::now();
    let bed = bed("cawbakemiss");
    let mut config = Config::new(&bed);
    let typo = format!("{}-no-such-alarm", bed.name);
    config.extra = vec![format!(
        "bake = {{\n    duration    = \"10s\"\n    alarm_names = [{typo:?}]\n  }}"
    )];
    bed.write_config(&config);
    let apply = bed.apply();
    assert!(!apply.success(), "created with a missing bake alarm");
    let text = flat(&apply.stderr);
    assert!(text.contains("Bake alarm not found"), "{text}");
    assert!(text.contains(&typo), "{text}");
    // Terraform quotes the configuration line of the attribute the diagnostic is on.
    assert!(
        text.contains(&format!("alarm_names = [{typo:?}]")),
        "{text}"
    );
    assert!(bed.asg_names().is_empty(), "{:?}", bed.asg_names());
    println!(
        "missing bake alarm: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
