//! The adapter's retries and rate budget against the local AWS (issue #15, "Retries"), each
//! test on a local AWS of its own so its `/zdd/faults/stats` count only its calls:
//!
//! - under 50 % throttling of `DescribeAutoScalingGroups`, every describe succeeds and the
//!   local AWS saw the throttles (the retries are proven, not assumed);
//! - 10 tasks sharing one `AwsClients` (Terraform's 10 parallel operations) never get more
//!   `DescribeAutoScalingGroups` served than the default budget allows, sampled from the local
//!   AWS while they run.
//!
//! Both publish a `zdd_test_support::Record` (suite `retries and rate budget`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use terraform_provider_zdd::aws::budget::{AUTOSCALING, Api};
use terraform_provider_zdd::aws::{AwsClients, CallOptions, Endpoints, RateLimits, Retries};
use terraform_provider_zdd::driver::stats::BudgetReport;
use terraform_provider_zdd::model::provider_config::ProviderConfig;
use zdd_test_support::{FaultRule, LocalAws, LocalAwsOptions, Record};

const SUITE: &str = "retries and rate budget";
const ACTION: &str = "DescribeAutoScalingGroups";
/// The local AWS signs Auto Scaling as `autoscaling`, its stats' service name too.
const STATS_SERVICE: &str = "autoscaling";

fn own_local_aws() -> LocalAws {
    LocalAws::start(LocalAwsOptions::default())
        .unwrap_or_else(|error| panic!("cannot start a local AWS: {error:#}"))
}

async fn clients(aws: &LocalAws, options: CallOptions) -> AwsClients {
    AwsClients::with_options(&aws.sdk_config().await, &Endpoints::default(), options)
}

/// Default timeouts and retries with the default budget: what the provider ships.
fn shipped() -> CallOptions {
    CallOptions {
        limits: RateLimits::default(),
        ..CallOptions::from_env()
    }
}

#[tokio::test]
async fn every_client_retries_adaptively_with_the_documented_attempts() {
    // A shared configuration that says nothing about retries (the SDK's default: standard
    // mode, 3 attempts), as a caller might build one.
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    let aws = AwsClients::new(&sdk, &Endpoints::default());
    for (service, retries) in aws.retries().await {
        assert_eq!(
            retries,
            Some(Retries::DEFAULT),
            "{service} must retry in adaptive mode (behaviour 2.1) with the documented attempts"
        );
    }
    let timeouts = aws.timeouts().await[0].1.unwrap();
    assert!(timeouts.fit(&Retries::DEFAULT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_describes_are_retried_until_they_succeed() {
    const CALLS: u64 = 12;
    const SEED: u64 = 15;
    let local = own_local_aws();
    let group = "budget-throttled-g1";
    local
        .add_fault_rule(
            &FaultRule::throttle(STATS_SERVICE)
                .action(ACTION)
                .matching(group)
                .probability(0.5)
                .seed(SEED),
        )
        .unwrap();
    let aws = clients(&local, shipped()).await;
    let started = Instant::now();
    for call in 0..CALLS {
        let answer = aws.describe_asg(group).await;
        assert!(
            matches!(answer, Ok(None)),
            "describe {call} under 50 % throttling: {answer:?}"
        );
    }
    let elapsed = started.elapsed();
    let stats = local.fault_stats().unwrap();
    let throttles = stats.faults(STATS_SERVICE, ACTION, "throttle");
    let requests = stats.requests(STATS_SERVICE, ACTION);
    let mut record = Record::new(SUITE, "50 % throttling of DescribeAutoScalingGroups");
    record.faults = format!("50 % throttling of {ACTION}, seed {SEED}");
    record.calls = requests;
    record.faults_injected = throttles;
    record.convergence = elapsed;
    record.converged = true;
    let budget = aws.budget_stats();
    let groups = budget.by_api[&Api::new(AUTOSCALING, ACTION)];
    record.notes = format!(
        "{CALLS} describes, all succeeded; {throttles} throttles absorbed by the adaptive retries, {} counted by the provider's interceptor; peak {}/s against {}",
        groups.throttled,
        groups.peak_per_second,
        aws.budget().limits().limit(Api::new(AUTOSCALING, ACTION))
    );
    record.publish().unwrap();
    assert!(
        throttles >= CALLS / 4,
        "the fault rule must have hit: {throttles} throttles"
    );
    assert_eq!(
        requests,
        CALLS + throttles,
        "each throttled attempt was retried, each call succeeded once"
    );
    // The budget's stats saw every throttled attempt, though the SDK retried each one and the
    // adapter saw none of them as an error; and only the call admitted once per describe.
    assert_eq!(
        (groups.throttled, budget.throttled),
        (throttles, throttles),
        "throttles counted by the interceptor against those the local AWS injected"
    );
    assert_eq!(groups.calls, CALLS);
    assert!(groups.peak_per_second >= 1 && groups.peak_per_second <= CALLS);
}

/// An error that is not a throttle (a validation error, answered in the same XML shape) is
/// not counted as one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_throttling_answers_count_as_throttles_under_their_own_api() {
    let local = own_local_aws();
    let group = "budget-errors-g1";
    local
        .add_fault_rule(
            &FaultRule::error(STATS_SERVICE, "ValidationError", 400)
                .action(ACTION)
                .matching(group)
                .probability(1.0),
        )
        .unwrap();
    let aws = clients(&local, shipped()).await;
    let answer = aws.describe_asg(group).await;
    assert!(answer.is_err(), "the error rule must answer: {answer:?}");
    let stats = aws.budget_stats();
    assert_eq!(
        stats.throttled, 0,
        "a ValidationError is no throttle: {stats:?}"
    );
    assert_eq!(stats.by_api[&Api::new(AUTOSCALING, ACTION)].calls, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_rollouts_share_one_budget_per_api() {
    const TASKS: u64 = 10;
    const CALLS_PER_TASK: u64 = 4;
    let local = Arc::new(own_local_aws());
    let aws = clients(&local, shipped()).await;
    let limit = aws.budget().limits().limit(Api::new(AUTOSCALING, ACTION));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        // A clone per task, as each resource operation gets one.
        let aws = aws.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..CALLS_PER_TASK {
                aws.describe_asg(&format!("budget-shared-{task}-g1"))
                    .await
                    .unwrap();
            }
        }));
    }
    // Sampled from outside while they run: what the local AWS has served so far can never
    // exceed the burst plus the rate times the time elapsed (taken after the sample, so the
    // bound can only be generous).
    let mut samples = 0;
    let mut most_served_early = 0;
    while tasks.iter().any(|task| !task.is_finished()) {
        let sampler = Arc::clone(&local);
        let served = tokio::task::spawn_blocking(move || sampler.fault_stats())
            .await
            .unwrap()
            .unwrap()
            .requests(STATS_SERVICE, ACTION);
        let allowed = allowance(limit.burst(), limit.per_second(), started.elapsed());
        assert!(
            served <= allowed,
            "{served} calls served after {:?}, the budget allows {allowed}",
            started.elapsed()
        );
        samples += 1;
        most_served_early = most_served_early.max(served);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let served = local.fault_stats().unwrap().requests(STATS_SERVICE, ACTION);
    let budget = aws.budget_stats();
    // Whole-run rate after the burst, as the budget sees it.
    let admitted_per_second = (served - u64::from(limit.burst())) as f64 / elapsed.as_secs_f64();
    let mut record = Record::new(SUITE, "10 concurrent tasks on one budget");
    record.faults = "none".to_string();
    record.calls = served;
    record.convergence = elapsed;
    record.converged = true;
    record.notes = format!(
        "budget {limit}: {admitted_per_second:.2} calls/s admitted after the burst, peak {} in one second; {} of {} calls held, {} ms in all; {samples} samples",
        budget.by_api[&Api::new(AUTOSCALING, ACTION)].peak_per_second,
        budget.held,
        budget.calls,
        budget.held_for.as_millis()
    );
    record.publish().unwrap();
    assert_eq!(served, TASKS * CALLS_PER_TASK);
    assert!(
        served <= allowance(limit.burst(), limit.per_second(), elapsed),
        "{served} calls in {elapsed:?}"
    );
    assert!(samples >= 2, "the run was sampled while it ran");
    assert!(
        budget.held >= served / 2,
        "the calls past the burst waited for their tokens: {budget:?}"
    );
    // The peak in one second, from the admission times: the burst went at once, and no second
    // saw more than the burst plus a second's tokens.
    let peak = budget.by_api[&Api::new(AUTOSCALING, ACTION)].peak_per_second;
    assert!(
        peak >= u64::from(limit.burst())
            && peak <= allowance(limit.burst(), limit.per_second(), Duration::from_secs(1)),
        "peak {peak} in one second against {limit}"
    );
}

/// The provider block's `api_rate_limits` is the budget the calls wait for: with a burst of 1,
/// of calls made at once every one but the first is held, a second apart (the default burst of 10 would hold
/// none), and the local AWS never serves more than the block's rate allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_block_limit_paces_the_calls() {
    const CALLS: u64 = 4;
    let local = own_local_aws();
    let block = ProviderConfig {
        api_rate_limits: Some(BTreeMap::from([(
            format!("autoscaling:{ACTION}"),
            "1/s burst 1".to_string(),
        )])),
        ..ProviderConfig::default()
    };
    let options = CallOptions {
        limits: block.rate_limits(RateLimits::default()).unwrap(),
        ..CallOptions::from_env()
    };
    let aws = clients(&local, options).await;
    let limit = aws.budget().limits().limit(Api::new(AUTOSCALING, ACTION));
    assert_eq!((limit.per_second(), limit.burst()), (1.0, 1));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CALLS)
        .map(|call| {
            let aws = aws.clone();
            tokio::spawn(async move { aws.describe_asg(&format!("budget-block-{call}-g1")).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let elapsed = started.elapsed();
    let budget = aws.budget_stats();
    let groups = budget.by_api[&Api::new(AUTOSCALING, ACTION)];
    assert_eq!(groups.calls, CALLS);
    assert_eq!(
        groups.held,
        CALLS - 1,
        "every call after the burst of 1 waited"
    );
    let served = local.fault_stats().unwrap().requests(STATS_SERVICE, ACTION);
    assert!(
        served <= allowance(1, 1.0, elapsed),
        "{served} in {elapsed:?}"
    );
    let report = BudgetReport::new(&budget, aws.budget().limits(), aws.coalesce_stats(), None);
    let line = report.summary();
    assert!(
        line.contains(&format!("api[autoscaling:{ACTION}]=calls:{CALLS},")),
        "{line}"
    );
    assert!(line.contains(",budget:1/s+1,"), "{line}");
}

/// Calls a bucket can have admitted `elapsed` after it started full: its burst, the rate's
/// tokens, and one for the token arriving at that instant.
fn allowance(burst: u32, per_second: f64, elapsed: Duration) -> u64 {
    // Bounds on a few hundred calls: far inside f64's exact integers.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let refilled = (per_second * elapsed.as_secs_f64()).floor() as u64;
    u64::from(burst) + refilled + 1
}
