//! Every list the adapter reads is read whole (issue #16, "pagination everywhere"), each test
//! crossing a page boundary on the local AWS and counting the pages it served (each test signs
//! with its own access key, so `/zdd/faults/stats` counts its calls alone).
//!
//! Page sizes: `DescribeAutoScalingGroups` pages on AWS and on moto (`MaxRecords` 50 by
//! default, 100 at most: the adapter asks for 100). `DescribePolicies` and `DescribeAlarms` page
//! on AWS (50 by default, 100 at most) and moto answers them whole, so the local AWS pages them
//! as AWS does (`zdd_localaws/paging.py`). A group's instances and tags come inline in
//! `DescribeAutoScalingGroups` (AWS: every instance, up to 50 tags), and `DescribeTargetHealth`
//! has no pages on AWS or moto: one call answers every target, so those tests read the largest
//! sizes AWS allows and check nothing is cut. `GetMetricData` paging is not tested here (its
//! pages are by datapoints, 100,800 a page on AWS: a canary's few periods never fill one).

// Test set-up: a failed step must fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, Tag};
use terraform_provider_zdd::aws::types::{AlarmState, TAG_GENERATION, TAG_ROLLOUT};
use terraform_provider_zdd::aws::{AwsClients, Endpoints};
use zdd_test_support::{Fixture, local_aws};

/// The adapter's `MaxRecords` for `DescribeAutoScalingGroups`, AWS's maximum.
const GROUPS_PER_PAGE: usize = 100;

struct Paged {
    /// The adapter, signing with its own access key.
    aws: AwsClients,
    /// Set-up calls, signing with the shared key (not counted against the adapter's).
    autoscaling: aws_sdk_autoscaling::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    fixture: Fixture,
    access_key_id: String,
    /// Unique per test run: the rollout names' stem.
    stem: String,
}

async fn paged(prefix: &str) -> Paged {
    let local = local_aws();
    let sdk = local.sdk_config().await;
    let fixture = Fixture::create(&sdk, prefix).await.unwrap();
    let suffix: String = fixture.vpc_id.chars().rev().take(6).collect();
    let stem = format!("{prefix}-{suffix}");
    let access_key_id = format!("AKID{}", stem.to_uppercase().replace('-', ""));
    let own = local.sdk_config_as(&access_key_id).await;
    Paged {
        aws: AwsClients::new(&own, &Endpoints::default()),
        autoscaling: aws_sdk_autoscaling::Client::new(&sdk),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&sdk),
        fixture,
        access_key_id,
        stem,
    }
}

impl Paged {
    /// A group straight through the SDK (the cheapest path): `desired` instances, these tags.
    async fn group(
        &self,
        name: &str,
        desired: i32,
        target_groups: &[String],
        tags: &[(String, String)],
    ) {
        self.group_in(name, &self.fixture.subnet_ids, desired, target_groups, tags)
            .await;
    }

    /// [`Paged::group`] in these subnets.
    async fn group_in(
        &self,
        name: &str,
        subnets: &[String],
        desired: i32,
        target_groups: &[String],
        tags: &[(String, String)],
    ) {
        self.autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .launch_template(
                LaunchTemplateSpecification::builder()
                    .launch_template_id(&self.fixture.launch_template_id)
                    .version("1")
                    .build(),
            )
            .vpc_zone_identifier(subnets.join(","))
            .min_size(0)
            .max_size(desired.max(1))
            .desired_capacity(desired)
            .set_target_group_arns(Some(target_groups.to_vec()))
            .set_tags(Some(
                tags.iter()
                    .map(|(key, value)| {
                        Tag::builder()
                            .key(key)
                            .value(value)
                            .resource_id(name)
                            .resource_type("auto-scaling-group")
                            .propagate_at_launch(false)
                            .build()
                    })
                    .collect(),
            ))
            .send()
            .await
            .unwrap_or_else(|error| panic!("creating {name}: {error:?}"));
    }

    /// Generations `1..=count` of `rollout`, empty groups.
    async fn generations(&self, rollout: &str, count: u64) {
        for generation in 1..=count {
            self.group(
                &format!("{rollout}-g{generation}"),
                0,
                &[],
                &[
                    (TAG_ROLLOUT.to_string(), rollout.to_string()),
                    (TAG_GENERATION.to_string(), generation.to_string()),
                ],
            )
            .await;
        }
    }

    /// The adapter's calls of this action that the local AWS served (or refused).
    fn calls(&self, service: &str, action: &str) -> u64 {
        local_aws()
            .fault_stats_for(&self.access_key_id)
            .unwrap()
            .requests(service, action)
    }
}

fn generations_of(groups: &[terraform_provider_zdd::aws::types::AsgInfo]) -> Vec<u64> {
    groups
        .iter()
        .map(|group| group.generation.unwrap())
        .collect()
}

/// Groups another stack owns whose names and tag values start with `rollout`'s: a tag value
/// that only begins with the rollout's, a group named like one of its generations but tagged
/// for another rollout, and an untagged group with its name prefix. None is the rollout's.
async fn neighbours(paged: &Paged, rollout: &str) {
    let other = format!("{rollout}-other");
    paged
        .group(
            &format!("{other}-g1"),
            0,
            &[],
            &[
                (TAG_ROLLOUT.to_string(), other.clone()),
                (TAG_GENERATION.to_string(), "1".into()),
            ],
        )
        .await;
    paged
        .group(
            &format!("{rollout}-g9999"),
            0,
            &[],
            &[
                (TAG_ROLLOUT.to_string(), format!("{rollout}x")),
                (TAG_GENERATION.to_string(), "9999".into()),
            ],
        )
        .await;
    paged.group(&format!("{rollout}-g9998"), 0, &[], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_with_more_groups_than_a_page_is_read_whole() {
    const GROUPS: u64 = 130;
    let paged = paged("pgone").await;
    let rollout = paged.stem.clone();
    paged.generations(&rollout, GROUPS).await;
    neighbours(&paged, &rollout).await;

    let groups = paged.aws.describe_rollout_asgs(&rollout).await.unwrap();
    assert_eq!(
        generations_of(&groups),
        (1..=GROUPS).collect::<Vec<_>>(),
        "every generation, in order"
    );
    assert!(
        groups
            .iter()
            .all(|group| group.rollout.as_deref() == Some(rollout.as_str()))
    );
    let pages = paged.calls("autoscaling", "DescribeAutoScalingGroups");
    assert!(
        pages >= GROUPS.div_ceil(GROUPS_PER_PAGE as u64),
        "{GROUPS} groups take two pages of {GROUPS_PER_PAGE}: the adapter made {pages} calls"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollouts_read_together_cross_pages_and_each_gets_its_own() {
    const ROLLOUTS: u64 = 3;
    const GROUPS: u64 = 45; // 135 in all: more than a page
    let paged = paged("pgmany").await;
    let rollouts: Vec<String> = (0..ROLLOUTS)
        .map(|n| format!("{}-r{n}", paged.stem))
        .collect();
    for rollout in &rollouts {
        paged.generations(rollout, GROUPS).await;
    }
    neighbours(&paged, &rollouts[0]).await;

    // Read concurrently, as fleets of one apply do: the coalescer may answer them from one
    // tag-filtered call, which then spans pages.
    let (first, second, third) = tokio::join!(
        paged.aws.describe_rollout_asgs(&rollouts[0]),
        paged.aws.describe_rollout_asgs(&rollouts[1]),
        paged.aws.describe_rollout_asgs(&rollouts[2]),
    );
    for (rollout, groups) in rollouts.iter().zip([first, second, third]) {
        let groups = groups.unwrap();
        assert_eq!(
            generations_of(&groups),
            (1..=GROUPS).collect::<Vec<_>>(),
            "{rollout}"
        );
        assert!(
            groups
                .iter()
                .all(|group| group.rollout.as_deref() == Some(rollout.as_str())
                    && group.name.starts_with(&format!("{rollout}-g"))),
            "{rollout} got another's group: {:?}",
            groups.iter().map(|group| &group.name).collect::<Vec<_>>()
        );
    }
    assert!(paged.calls("autoscaling", "DescribeAutoScalingGroups") >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_300_instances_lists_them_all_and_so_does_its_target_group() {
    const INSTANCES: usize = 300;
    let paged = paged("pginst").await;
    let name = format!("{}-g1", paged.stem);
    let target_group = paged.fixture.target_group_arns[0].clone();
    // The fixture's /24 subnets hold 251 instances each (on AWS too): a /20 for 300.
    let sdk = local_aws().sdk_config().await;
    let subnet = paged
        .fixture
        .add_subnet(&sdk, "10.0.16.0/20", "us-east-1a")
        .await
        .unwrap();
    paged
        .group_in(
            &name,
            &[subnet],
            INSTANCES as i32,
            std::slice::from_ref(&target_group),
            &[
                (TAG_ROLLOUT.to_string(), paged.stem.clone()),
                (TAG_GENERATION.to_string(), "1".into()),
            ],
        )
        .await;

    let group = paged.aws.describe_asg(&name).await.unwrap().unwrap();
    let instances: BTreeSet<String> = group
        .instances
        .iter()
        .map(|i| i.instance_id.clone())
        .collect();
    assert_eq!(
        instances.len(),
        INSTANCES,
        "DescribeAutoScalingGroups lists every instance inline"
    );
    let through_rollout = paged.aws.describe_rollout_asgs(&paged.stem).await.unwrap();
    assert_eq!(through_rollout[0].instances.len(), INSTANCES);

    // DescribeTargetHealth has no pages: one answer names every target (3 × the 100 a page
    // other ELBv2 reads take).
    let targets = paged.aws.target_health(&target_group).await.unwrap();
    let registered: BTreeSet<String> = targets.iter().map(|t| t.target_id.clone()).collect();
    assert_eq!(
        registered, instances,
        "every instance is a target, read in one call"
    );
    assert_eq!(
        paged.calls("elasticloadbalancing", "DescribeTargetHealth"),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_with_fifty_tags_are_read_whole() {
    const TAGS: usize = 50; // AWS's most per group
    let paged = paged("pgtags").await;
    let rollout = paged.stem.clone();
    for generation in 1..=2u64 {
        let mut tags: Vec<(String, String)> = (0..TAGS - 2)
            .map(|n| (format!("team-{n:02}"), format!("value-{generation}-{n}")))
            .collect();
        // The zdd tags last: a reader that stopped early would miss them.
        tags.push((TAG_ROLLOUT.to_string(), rollout.clone()));
        tags.push((TAG_GENERATION.to_string(), generation.to_string()));
        paged
            .group(&format!("{rollout}-g{generation}"), 0, &[], &tags)
            .await;
    }
    let groups = paged.aws.describe_rollout_asgs(&rollout).await.unwrap();
    assert_eq!(generations_of(&groups), vec![1, 2]);
    for (generation, group) in (1..).zip(&groups) {
        assert_eq!(group.tags.len(), TAGS, "{}: {:?}", group.name, group.tags);
        assert_eq!(
            group.tags.get("team-47").map(String::as_str),
            Some(format!("value-{generation}-47").as_str())
        );
    }
    let one = paged
        .aws
        .describe_asg(&groups[1].name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one.tags.len(), TAGS);
    assert_eq!(
        (one.rollout.as_deref(), one.generation),
        (Some(rollout.as_str()), Some(2))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_policies_of_several_groups_cross_pages() {
    const GROUPS: usize = 3;
    const POLICIES: usize = 40; // 120 in all: two pages of 100, or three of AWS's default 50
    let paged = paged("pgpol").await;
    let groups: Vec<String> = (1..=GROUPS)
        .map(|n| format!("{}-g{n}", paged.stem))
        .collect();
    let outsider = format!("{}-outsider", paged.stem);
    for group in groups.iter().chain([&outsider]) {
        paged.group(group, 0, &[], &[]).await;
        for n in 0..POLICIES {
            paged
                .autoscaling
                .put_scaling_policy()
                .auto_scaling_group_name(group)
                .policy_name(format!("step-{n:02}"))
                .adjustment_type("ChangeInCapacity")
                .scaling_adjustment(1)
                .send()
                .await
                .unwrap();
        }
    }
    let policies = paged.aws.scaling_policies(&groups).await.unwrap();
    let mut per_group: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for policy in policies {
        assert!(
            per_group.entry(policy.asg).or_default().insert(policy.name),
            "a policy read twice"
        );
    }
    let expected: BTreeSet<String> = (0..POLICIES).map(|n| format!("step-{n:02}")).collect();
    assert_eq!(
        per_group.keys().cloned().collect::<Vec<_>>(),
        groups,
        "the outsider's are not read"
    );
    assert!(per_group.values().all(|names| *names == expected));
    assert!(
        paged.calls("autoscaling", "DescribePolicies") >= 2,
        "120 policies take two pages"
    );

    // One group's: DescribePolicies names it, one page of 40.
    let one = paged.aws.scaling_policies(&groups[..1]).await.unwrap();
    assert_eq!(one.len(), POLICIES);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_states_of_more_than_a_hundred_alarms_are_read_whole() {
    const ALARMS: usize = 130;
    let paged = paged("pgalarm").await;
    let names: Vec<String> = (0..ALARMS)
        .map(|n| format!("{}-alarm-{n:03}", paged.stem))
        .collect();
    for name in &names {
        paged
            .cloudwatch
            .put_metric_alarm()
            .alarm_name(name)
            .namespace("AWS/ApplicationELB")
            .metric_name("HTTPCode_Target_5XX_Count")
            .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(
                aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold,
            )
            .send()
            .await
            .unwrap();
    }
    let missing = format!("{}-alarm-missing", paged.stem);
    let mut asked = names.clone();
    asked.insert(60, missing.clone());
    let states = paged.aws.alarm_states(&asked).await.unwrap();
    assert_eq!(states.len(), ALARMS + 1);
    assert_eq!(states[&missing], AlarmState::Missing);
    let found = names
        .iter()
        .filter(|name| states[*name] != AlarmState::Missing)
        .count();
    assert_eq!(
        found, ALARMS,
        "every alarm's state, past the 100 names a call takes and the 50 a page"
    );
    // 131 names: 100 (two pages of 50) + 31.
    assert!(paged.calls("monitoring", "DescribeAlarms") >= 3);
}
