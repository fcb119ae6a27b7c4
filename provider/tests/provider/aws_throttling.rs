//! Rollouts of several fleets at once under AWS's account-level API throttling (issue #16,
//! "zero throttling failures"): the local AWS's `rate_limit` mode at AWS's rates (ELBv2's
//! `Describe*` one bucket of 40 refilled at 10/s, Auto Scaling one bucket, CloudWatch's
//! quotas: `FaultRule::aws_rate_limits`), scoped to this test's access key. Five fleets share
//! one `AwsClients`, as one apply's resources do: the provider's budget keeps their calls under
//! the buckets and the SDK's adaptive retries absorb the rest, so every rollout succeeds.
//! At AWS's rates the budget alone keeps under them (no throttle); at two fifths of them (an
//! account other tools share) calls are refused and retried, and the rollouts still succeed,
//! slower: after a throttle the SDK's adaptive mode slows the whole client.

// Test set-up: a failed step must fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use aws_config::retry::RetryConfig;
use terraform_provider_zdd::aws::{AwsClients, Endpoints};
use zdd_rollout::{Outcome, RawSpec, RolloutSpec};
use zdd_test_support::{Fixture, local_aws};

const FLEETS: usize = 5;
const INSTANCES: i64 = 2;
/// The driver's poll cap, as the benchmarks use: many more looks than the engine alone would
/// make, so the buckets are really drawn on.
const MAX_POLL: Duration = Duration::from_millis(100);
/// AWS's own rates (1.0 × the published figures).
const AWS_RATES: f64 = 1.0;

fn raw(name: &str, fixture: &Fixture, version: &str) -> RawSpec {
    RawSpec {
        name: name.to_string(),
        launch_template_id: fixture.launch_template_id.clone(),
        launch_template_version: version.to_string(),
        subnet_ids: fixture.subnet_ids.clone(),
        target_group_arns: Some(vec![fixture.target_group_arns[0].clone()]),
        min_size: 1,
        max_size: INSTANCES * 2,
        desired_capacity: INSTANCES,
        strategy: Some("blue_green".to_string()),
        ..RawSpec::default()
    }
}

/// Creates the fleet (generation 1), then rolls it to launch template version 2.
async fn create_then_update(aws: AwsClients, name: String, fixture: Fixture) -> (String, u64) {
    let mut calls = 0;
    for version in ["1", "2"] {
        let spec = RolloutSpec::validate(&raw(&name, &fixture, version)).unwrap();
        let result =
            crate::common::driving::roll(&aws, spec, Duration::from_secs(300), MAX_POLL).await;
        assert!(
            matches!(result.outcome, Ok(Outcome::Succeeded { .. })),
            "{name} to version {version} under the rate limits: {:?}",
            result.outcome
        );
        calls += result.api_calls;
    }
    (name, calls)
}

/// What a run of fleets under the rate limits at `factor` × AWS's rates saw.
struct Throttled {
    /// Requests the local AWS refused with its rate limits.
    throttled: u64,
    /// The same, as the adapter's budget counted them.
    seen_by_budget: u64,
    /// The fleets' access key (the rate limits' scope) and their SDK configuration.
    access_key_id: String,
    sdk: aws_config::SdkConfig,
    rules: Vec<String>,
}

impl Drop for Throttled {
    fn drop(&mut self) {
        for rule in &self.rules {
            let _ = local_aws().clear_faults(Some(rule));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_fleets_at_once_under_awss_rate_limits_all_succeed() {
    let run = fleets_under_rate_limits(FLEETS, AWS_RATES).await;
    assert_eq!(
        run.seen_by_budget, run.throttled,
        "the adapter counts every throttle the local AWS answered"
    );
    assert_a_burst_is_throttled(&run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_two_fifths_of_awss_rates_the_retries_absorb_the_throttles() {
    // An account whose buckets other tools already drain: Auto Scaling's 4/s is below the
    // budget's 5/s for DescribeAutoScalingGroups, so calls are refused and retried.
    let run = fleets_under_rate_limits(3, 0.4).await;
    assert!(
        run.throttled > 0,
        "at two fifths of AWS's rates the budget alone cannot keep under"
    );
    assert_eq!(run.seen_by_budget, run.throttled);
}

/// `count` fleets created then updated at once under the rate limits at `factor` × AWS's;
/// each must succeed.
async fn fleets_under_rate_limits(count: usize, factor: f64) -> Throttled {
    let local = local_aws();
    let sdk = local.sdk_config().await;
    let mut fixtures = Vec::new();
    for n in 0..count {
        fixtures.push(Fixture::create(&sdk, &format!("thr{n}")).await.unwrap());
    }
    let suffix: String = fixtures[0].vpc_id.chars().rev().take(6).collect();
    let access_key_id = format!("AKIDTHROTTLED{}", suffix.to_uppercase());
    let rules = local.rate_limit_like_aws(&access_key_id, factor).unwrap();
    let own = local.sdk_config_as(&access_key_id).await;
    let aws = AwsClients::new(&own, &Endpoints::default());

    let mut fleets = tokio::task::JoinSet::new();
    for (n, fixture) in fixtures.into_iter().enumerate() {
        fleets.spawn(create_then_update(
            aws.clone(),
            format!("thr{n}-{suffix}"),
            fixture,
        ));
    }
    let mut calls = 0;
    let mut done = 0;
    while let Some(fleet) = fleets.join_next().await {
        let (_, fleet_calls) = fleet.unwrap();
        calls += fleet_calls;
        done += 1;
    }
    assert_eq!(done, count);
    let during = local.fault_stats_for(&access_key_id).unwrap();
    let throttled_during = during.total_faults("rate_limit");
    let budget = aws.budget_stats();
    println!(
        "{count} fleets created and updated at once at {factor} x AWS's rates: {calls} adapter calls, {} requests served, \
         {throttled_during} throttled by the local AWS's rate limits (all retried); the budget \
         held {} calls for {:?} in all and saw {} throttles",
        during.total_requests(),
        budget.held,
        budget.held_for,
        budget.throttled
    );
    Throttled {
        throttled: throttled_during,
        seen_by_budget: budget.throttled,
        access_key_id,
        sdk: own,
        rules,
    }
}

/// The mode was on: a burst of single-attempt calls above ELBv2's describe rate (no budget,
/// no retries) is throttled.
async fn assert_a_burst_is_throttled(run: &Throttled) {
    let local = local_aws();
    let before = local
        .fault_stats_for(&run.access_key_id)
        .unwrap()
        .total_faults("rate_limit");
    let raw = aws_sdk_elasticloadbalancingv2::Client::from_conf(
        aws_sdk_elasticloadbalancingv2::config::Builder::from(&run.sdk)
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let raw = raw.clone();
        burst.spawn(async move {
            raw.describe_target_groups()
                .page_size(1)
                .send()
                .await
                .is_ok()
        });
    }
    let mut refused = 0;
    while let Some(answered) = burst.join_next().await {
        refused += u64::from(!answered.unwrap());
    }
    let after = local
        .fault_stats_for(&run.access_key_id)
        .unwrap()
        .total_faults("rate_limit");
    let throttled_burst = after - before;
    assert!(
        throttled_burst >= 40,
        "100 describes at once against a bucket of 40 refilled at 10/s: {throttled_burst} throttled"
    );
    assert_eq!(
        refused, throttled_burst,
        "every refusal was the rate limit's"
    );
}
