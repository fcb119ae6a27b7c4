//! Issue #16: reads coalesced across the resources of an apply, against the local AWS.
//!
//! - the groups of 10 rollouts read at once come from one `DescribeAutoScalingGroups`, and
//!   each answer is that rollout's own read;
//! - similar names (`web`, `web-2`) and a group of another owner tagged with the same
//!   rollout never mix up answers;
//! - more than 50 rollouts split into calls of at most 50;
//! - 5 readers of one target group share one `DescribeTargetHealth`;
//! - through Terraform: a `terraform plan` refreshing 20 applied `zdd_rollout` resources makes
//!   far fewer than 20 `DescribeAutoScalingGroups` calls;
//! - rollouts started out of step line up on the polling grid (`driver::tick`) and share
//!   their looks' reads;
//! - a refresh wave shares its groups' read, but a group whose lifecycle hooks cannot be read
//!   fails its own rollout's refresh only.
//!
//! Each test reads through an `AwsClients` of its own, so its budget's and coalescer's stats
//! count only its reads.

// The helpers below are not #[test] functions (clippy.toml's test allowance does not reach
// them): a failed read must fail the test loudly, which is what unwrap does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use terraform_provider_zdd::aws::budget::{AUTOSCALING, Api, BudgetStats, ELBV2};
use terraform_provider_zdd::aws::types::{AsgInfo, TAG_OWNER, TargetHealth};
use terraform_provider_zdd::aws::{AwsClients, AwsError, Endpoints};
use terraform_provider_zdd::driver;
use zdd_rollout::{Outcome, RawSpec, RolloutSpec};
use zdd_test_support::{FaultRule, Fixture, local_aws};

use crate::aws_adapter::{new_asg, setup};

fn calls_of(stats: &BudgetStats, service: &'static str, action: &'static str) -> u64 {
    stats
        .by_api
        .get(&Api::new(service, action))
        .map_or(0, |api| api.calls)
}

fn describe_groups_calls(stats: &BudgetStats) -> u64 {
    calls_of(stats, AUTOSCALING, "DescribeAutoScalingGroups")
}

/// A name prefix no other test's rollouts share (tests share one local AWS).
fn unique(fixture: &Fixture, prefix: &str) -> String {
    let suffix: String = fixture.vpc_id.chars().rev().take(6).collect();
    format!("{prefix}{suffix}")
}

/// What identifies a group in an answer: its name, rollout tag, generation and owner.
type GroupSummary = (String, Option<String>, Option<u64>, Option<String>);

fn summary(groups: &[AsgInfo]) -> Vec<GroupSummary> {
    groups
        .iter()
        .map(|group| {
            (
                group.name.clone(),
                group.rollout.clone(),
                group.generation,
                group.owner().map(str::to_string),
            )
        })
        .collect()
}

/// Runs every future to its end, polling them all in the same turn: all callers ask in the
/// same instant, whatever the (loaded) machine's scheduling, as Terraform's parallel reads do
/// when they start together.
async fn all_at_once<'a, T>(futures: Vec<Pin<Box<dyn Future<Output = T> + Send + 'a>>>) -> Vec<T> {
    let mut pending: Vec<Option<Pin<Box<dyn Future<Output = T> + Send + 'a>>>> =
        futures.into_iter().map(Some).collect();
    let mut done: Vec<Option<T>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (slot, answer) in pending.iter_mut().zip(done.iter_mut()) {
            if let Some(future) = slot
                && let Poll::Ready(value) = future.as_mut().poll(cx)
            {
                *answer = Some(value);
                *slot = None;
            }
        }
        if pending.iter().all(Option::is_none) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    done.into_iter().map(|answer| answer.unwrap()).collect()
}

/// Every rollout of `names` read at once through `aws` (as Terraform's parallel operations).
async fn read_at_once(aws: &AwsClients, names: &[String]) -> BTreeMap<String, Vec<AsgInfo>> {
    let reads = names
        .iter()
        .map(|name| {
            Box::pin(async move { (name.clone(), aws.describe_rollout_asgs(name).await.unwrap()) })
                as Pin<Box<dyn Future<Output = _> + Send + '_>>
        })
        .collect();
    all_at_once(reads).await.into_iter().collect()
}

/// Each rollout read on its own, one after the other (each call carries one name).
async fn read_one_by_one(aws: &AwsClients, names: &[String]) -> BTreeMap<String, Vec<AsgInfo>> {
    let mut answers = BTreeMap::new();
    for name in names {
        answers.insert(name.clone(), aws.describe_rollout_asgs(name).await.unwrap());
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_rollouts_read_at_once_share_one_describe() {
    let (sdk, aws, fixture) = setup("coal10").await;
    let prefix = unique(&fixture, "c10");
    let names: Vec<String> = (0..10).map(|n| format!("{prefix}-r{n}")).collect();
    for (index, name) in names.iter().enumerate() {
        aws.create_asg(&new_asg(name, 1, &fixture, 0))
            .await
            .unwrap();
        if index % 3 == 0 {
            // Some rollouts mid-roll: two generations.
            aws.create_asg(&new_asg(name, 2, &fixture, 0))
                .await
                .unwrap();
        }
    }
    let readers = AwsClients::new(&sdk, &Endpoints::default());
    let answers = read_at_once(&readers, &names).await;

    let budget = readers.budget_stats();
    assert_eq!(
        describe_groups_calls(&budget),
        1,
        "ten rollouts (13 groups, one page) from one call: {budget:?}"
    );
    let coalesced = readers.coalesce_stats().rollout_groups;
    assert_eq!(
        (coalesced.callers, coalesced.calls, coalesced.keys),
        (10, 1, 10)
    );

    let alone = read_one_by_one(&aws, &names).await;
    for (index, name) in names.iter().enumerate() {
        let expected_generations = if index % 3 == 0 { 2 } else { 1 };
        assert_eq!(answers[name].len(), expected_generations, "{name}");
        assert_eq!(
            summary(&answers[name]),
            summary(&alone[name]),
            "{name}: the shared call's answer is its own read's"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn similar_names_and_other_owners_never_mix_answers() {
    let (sdk, aws, fixture) = setup("coalmix").await;
    let prefix = unique(&fixture, "cmix");
    let web = format!("{prefix}-web");
    let web_2 = format!("{prefix}-web-2");
    let web_g1 = format!("{prefix}-web-g1");
    aws.create_asg(&new_asg(&web, 1, &fixture, 0))
        .await
        .unwrap();
    aws.create_asg(&new_asg(&web_2, 1, &fixture, 0))
        .await
        .unwrap();
    // A rollout named like `web`'s first group (`<web>-g1`): its group is `<web>-g1-g1`.
    aws.create_asg(&new_asg(&web_g1, 1, &fixture, 0))
        .await
        .unwrap();
    // Another owner's group with the same rollout tag (a second workspace using the name).
    let mut stranger = new_asg(&web, 7, &fixture, 0);
    stranger
        .tags
        .insert(TAG_OWNER.to_string(), "another-workspace".to_string());
    aws.create_asg(&stranger).await.unwrap();

    let names = vec![web.clone(), web_2.clone(), web_g1.clone()];
    let readers = AwsClients::new(&sdk, &Endpoints::default());
    let answers = read_at_once(&readers, &names).await;
    assert_eq!(describe_groups_calls(&readers.budget_stats()), 1);

    for name in &names {
        for group in &answers[name] {
            assert_eq!(
                group.rollout.as_deref(),
                Some(name.as_str()),
                "{name} was given {}",
                group.name
            );
        }
    }
    let names_of = |rollout: &str| -> Vec<String> {
        answers[rollout]
            .iter()
            .map(|group| group.name.clone())
            .collect()
    };
    assert_eq!(
        names_of(&web),
        vec![format!("{web}-g1"), format!("{web}-g7")]
    );
    assert_eq!(names_of(&web_2), vec![format!("{web_2}-g1")]);
    assert_eq!(names_of(&web_g1), vec![format!("{web_g1}-g1")]);
    assert_eq!(
        answers[&web][1].owner(),
        Some("another-workspace"),
        "the stranger is reported as such: ownership is the caller's to judge"
    );
    let alone = read_one_by_one(&aws, &names).await;
    for name in &names {
        assert_eq!(summary(&answers[name]), summary(&alone[name]), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_fifty_rollouts_split_into_calls_of_fifty() {
    let (sdk, aws, fixture) = setup("coal60").await;
    let prefix = unique(&fixture, "c60");
    let names: Vec<String> = (0..60).map(|n| format!("{prefix}-r{n:02}")).collect();
    // The first and the last name have groups: each is answered, whichever call carries it.
    for name in [&names[0], &names[59]] {
        aws.create_asg(&new_asg(name, 1, &fixture, 0))
            .await
            .unwrap();
    }
    let readers = AwsClients::new(&sdk, &Endpoints::default());
    let answers = read_at_once(&readers, &names).await;

    assert_eq!(describe_groups_calls(&readers.budget_stats()), 2);
    let coalesced = readers.coalesce_stats().rollout_groups;
    assert_eq!(
        (coalesced.callers, coalesced.calls, coalesced.keys),
        (60, 2, 60)
    );
    for (index, name) in names.iter().enumerate() {
        let expected = usize::from(index == 0 || index == 59);
        assert_eq!(answers[name].len(), expected, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_readers_of_one_target_group_share_one_describe() {
    let (sdk, aws, fixture) = setup("coaltg").await;
    let prefix = unique(&fixture, "ctg");
    let rollout = format!("{prefix}-web");
    aws.create_asg(&new_asg(&rollout, 1, &fixture, 1))
        .await
        .unwrap();
    let blue = fixture.target_group_arns[0].clone();
    let readers = AwsClients::new(&sdk, &Endpoints::default());
    let reads = (0..5)
        .map(|_| {
            Box::pin(async { readers.target_health(&blue).await.unwrap() })
                as Pin<Box<dyn Future<Output = _> + Send + '_>>
        })
        .collect();
    let answers: Vec<Vec<TargetHealth>> = all_at_once(reads).await;
    let budget = readers.budget_stats();
    assert_eq!(
        calls_of(&budget, ELBV2, "DescribeTargetHealth"),
        1,
        "{budget:?}"
    );
    let coalesced = readers.coalesce_stats().target_health;
    assert_eq!((coalesced.callers, coalesced.calls), (5, 1));
    let own = aws.target_health(&blue).await.unwrap();
    for answer in &answers {
        let ids: Vec<&str> = answer
            .iter()
            .map(|target| target.target_id.as_str())
            .collect();
        let own_ids: Vec<&str> = own.iter().map(|target| target.target_id.as_str()).collect();
        assert_eq!(ids, own_ids);
    }
}

/// Resources in the Terraform test: twice Terraform's default parallelism.
const FLEETS: usize = 20;

#[test]
fn a_plan_refreshing_twenty_fleets_reads_their_groups_in_a_few_calls() {
    let bed = crate::common::bed("coalplan");
    bed.tf
        .write(
            "main.tf",
            &crate::common::counted_fleets_config(&bed, FLEETS),
        )
        .unwrap();
    bed.apply_ok();

    // Terraform's default: 10 reads at a time, the next starting as one ends. A read's
    // groups and its hooks (DescribeLifecycleHooks, one call per live group) are answered
    // with its wave's, so a wave ends together and the next starts together: one call per
    // wave, two for 20 fleets; 2-3 measured alone, 5 with four such tests and a build sharing
    // the 2 cores (a loaded Terraform sends one wave's reads over several 20 ms windows).
    // When each read ended as the hooks' budget let it (2/s burst 5), the second wave came in
    // one at a time: 7 to 9 calls. Alone, every read is a call: 20.
    let describes = refresh_describes(&bed, "DEFAULT", &[]);
    assert!(
        describes <= 6,
        "{describes} DescribeAutoScalingGroups for {FLEETS} refreshed fleets"
    );
    // All 20 at once: a few calls (measured 2 to 3 on a loaded 2-core machine: Terraform's
    // reads reach the provider over more than one 20 ms window).
    let together = refresh_describes(&bed, "ALL", &["-parallelism=20"]);
    assert!(
        together <= 5,
        "{together} DescribeAutoScalingGroups for {FLEETS} fleets refreshed together"
    );
    eprintln!(
        "refresh of {FLEETS} fleets: {describes} DescribeAutoScalingGroups (parallelism 10), \
         {together} (parallelism 20)"
    );

    // The hooks are still read on every refresh: one put on a fleet's serving group outside
    // Terraform is drift the plan shows.
    let serving = format!("{}-7-g1", bed.name);
    let autoscaling = aws_sdk_autoscaling::Client::new(&bed.sdk);
    bed.runtime
        .block_on(
            autoscaling
                .put_lifecycle_hook()
                .auto_scaling_group_name(&serving)
                .lifecycle_hook_name("out-of-band")
                .lifecycle_transition("autoscaling:EC2_INSTANCE_TERMINATING")
                .heartbeat_timeout(300)
                .default_result("CONTINUE")
                .send(),
        )
        .unwrap();
    let plan = bed.terraform(&["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("out-of-band") && plan.stdout.contains("lifecycle_hooks"),
        "{}",
        plan.stdout
    );
}

/// `terraform plan` (a refresh of every fleet) signed with an access key of its own; answers
/// the `DescribeAutoScalingGroups` calls the local AWS served it.
fn refresh_describes(bed: &crate::common::Bed, run: &str, extra: &[&str]) -> u64 {
    let suffix: String = bed.fixture.vpc_id.chars().rev().take(8).collect();
    let access_key = format!("AKIDCOALESCE{run}{}", suffix.to_uppercase());
    let mut args = vec!["plan", "-no-color", "-input=false", "-detailed-exitcode"];
    args.extend_from_slice(extra);
    let plan = bed.terraform_with_env(&args, &[("AWS_ACCESS_KEY_ID", access_key.as_str())]);
    assert_eq!(
        plan.code, 0,
        "the refreshed fleets match their configuration\n{}\n{}",
        plan.stdout, plan.stderr
    );
    let stats = zdd_test_support::local_aws()
        .fault_stats_for(&access_key)
        .unwrap();
    let describes = stats
        .calls
        .get(&(
            "autoscaling".to_string(),
            "DescribeAutoScalingGroups".to_string(),
        ))
        .map_or(0, |call| call.requests);
    let hooks = stats
        .calls
        .get(&(
            "autoscaling".to_string(),
            "DescribeLifecycleHooks".to_string(),
        ))
        .map_or(0, |call| call.requests);
    // One per fleet (its one live group): still read on every refresh, an out-of-band hook
    // on the serving group is drift.
    assert_eq!(
        hooks, FLEETS as u64,
        "every fleet was refreshed, through the local AWS, with this key: {stats:?}"
    );
    describes
}

/// Fleets rolled out at once by the driver, started out of step.
const STAGGERED: usize = 4;
/// Between two fleets' starts: more than two coalescing windows, so looks in their own
/// rhythm would never share a call.
const STAGGER: Duration = Duration::from_millis(55);
/// The driver's poll cap, and so the grid's period.
const POLL: Duration = Duration::from_millis(250);

async fn roll_out(
    aws: &AwsClients,
    fixture: &Fixture,
    name: &str,
    version: &str,
) -> driver::RunResult {
    let raw = RawSpec {
        name: name.to_string(),
        launch_template_id: fixture.launch_template_id.clone(),
        launch_template_version: version.to_string(),
        subnet_ids: fixture.subnet_ids.clone(),
        target_group_arns: Some(vec![fixture.target_group_arns[0].clone()]),
        min_size: 1,
        max_size: 4,
        desired_capacity: 2,
        strategy: Some("blue_green".to_string()),
        ..RawSpec::default()
    };
    let spec = RolloutSpec::validate(&raw).unwrap();
    crate::common::driving::roll(aws, spec, Duration::from_secs(120), POLL).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollouts_started_out_of_step_line_up_and_share_their_reads() {
    let (sdk, _, fixture) = setup("coaltick").await;
    let prefix = unique(&fixture, "ctk");
    let aws = AwsClients::new(&sdk, &Endpoints::default());
    let mut runs = tokio::task::JoinSet::new();
    for index in 0..STAGGERED {
        let aws = aws.clone();
        let fixture = fixture.clone();
        let name = format!("{prefix}-f{index}");
        let delay = STAGGER * u32::try_from(index).unwrap();
        runs.spawn(async move {
            tokio::time::sleep(delay).await;
            // Created, then rolled to the next launch template version (blue/green).
            let mut outcomes = Vec::new();
            for version in ["1", "2"] {
                outcomes.push(roll_out(&aws, &fixture, &name, version).await.outcome);
            }
            (name, outcomes)
        });
    }
    while let Some(done) = runs.join_next().await {
        let (name, outcomes) = done.unwrap();
        for outcome in outcomes {
            assert!(
                matches!(outcome, Ok(Outcome::Succeeded { .. })),
                "{name}: {outcome:?}"
            );
        }
    }
    let groups = aws.coalesce_stats().rollout_groups;
    eprintln!(
        "{STAGGERED} staggered rollouts: {} group reads in {} calls",
        groups.callers, groups.calls
    );
    // Every look reads its groups once. Measured (4 fleets, 2 rollouts each): on the grid
    // 143 reads in 62-68 calls; without the grid 107 reads in 79 calls (the grid adds looks at
    // this 250 ms cap: capped looks come every period instead of every period plus the turn).
    assert!(
        groups.callers >= 4 * STAGGERED as u64,
        "the rollouts looked several times each: {groups:?}"
    );
    assert!(
        groups.calls * 5 <= groups.callers * 3,
        "looks on the grid share their reads (at most 3 calls per 5 reads): {groups:?}"
    );
}

/// The refreshes of a wave share one DescribeAutoScalingGroups and read each live group's
/// hooks beside it; AWS refusing one group's DescribeLifecycleHooks (a permission boundary on
/// that group, say) must fail that rollout's refresh alone: Terraform's
/// other resources in the wave have read everything they need.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hooks_read_refused_for_one_group_fails_only_its_own_refresh() {
    let (sdk, aws, fixture) = setup("coalhook").await;
    let prefix = unique(&fixture, "chook");
    let names: Vec<String> = ["ok0", "bad", "ok1"]
        .iter()
        .map(|suffix| format!("{prefix}-{suffix}"))
        .collect();
    for name in &names {
        aws.create_asg(&new_asg(name, 1, &fixture, 0))
            .await
            .unwrap();
    }
    let refused = format!("{prefix}-bad-g1");
    let fault = local_aws()
        .add_fault_rule(
            &FaultRule::error("autoscaling", "AccessDenied", 403)
                .action("DescribeLifecycleHooks")
                .matching(&refused)
                .probability(1.0),
        )
        .unwrap();

    let readers = AwsClients::new(&sdk, &Endpoints::default());
    let reads = names
        .iter()
        .map(|name| {
            let readers = &readers;
            Box::pin(async move { (name.clone(), readers.refresh_rollout_asgs(name).await) })
                as Pin<
                    Box<dyn Future<Output = (String, Result<Vec<AsgInfo>, AwsError>)> + Send + '_>,
                >
        })
        .collect();
    let answers: BTreeMap<String, Result<Vec<AsgInfo>, AwsError>> =
        all_at_once(reads).await.into_iter().collect();
    local_aws().clear_faults(Some(&fault)).unwrap();

    assert_eq!(
        describe_groups_calls(&readers.budget_stats()),
        1,
        "the wave still shares its groups' read"
    );
    match &answers[&names[1]] {
        Err(error) => {
            let said = error.to_string();
            assert!(
                said.contains("DescribeLifecycleHooks") && said.contains("AccessDenied"),
                "{said}"
            );
        }
        Ok(groups) => panic!("the refused group's rollout read {:?}", summary(groups)),
    }
    for name in [&names[0], &names[2]] {
        let groups = answers[name]
            .as_ref()
            .unwrap_or_else(|error| panic!("{name} failed with another group's error: {error}"));
        assert_eq!(
            summary(groups)
                .into_iter()
                .map(|group| group.0)
                .collect::<Vec<_>>(),
            vec![format!("{name}-g1")]
        );
        assert_eq!(
            groups[0].lifecycle_hooks.as_deref(),
            Some(&[][..]),
            "{name}: its hooks were read (none)"
        );
    }
}
