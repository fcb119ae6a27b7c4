//! The hostile local AWS through the Rust AWS SDK as the binaries use it: each service's
//! throttling error is retried by the standard retry mode, a dropped connection is a dispatch
//! failure (and retried), a new group is not listed within its stale-read window, a seed
//! replays the same faults, and the hostile preset's failures are absorbed by retries.
//! Own server: the call counts of `fault_stats` are per server.

// Test helpers outside #[test] fns are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::retry::{ErrorKind, RetryConfig};
use aws_sdk_autoscaling::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_autoscaling::types::LaunchTemplateSpecification;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use zdd_test_support::{FaultRule, Fixture, LocalAws, LocalAwsOptions, s3_client};

fn aws() -> &'static LocalAws {
    static AWS: OnceLock<LocalAws> = OnceLock::new();
    AWS.get_or_init(|| LocalAws::start(LocalAwsOptions::default()).unwrap())
}

/// The SDK's standard retry mode (3 attempts, the classifier the binaries use) with a short
/// first backoff so the test does not wait out AWS-sized delays.
async fn config(retry: RetryConfig) -> aws_config::SdkConfig {
    aws()
        .sdk_config()
        .await
        .to_builder()
        .retry_config(retry)
        .build()
}

fn standard() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(10))
}

#[tokio::test(flavor = "multi_thread")]
async fn each_services_throttling_is_retried_by_the_standard_retry_mode() {
    let cfg = config(standard()).await;
    let throttled = [
        ("autoscaling", "DescribeAutoScalingInstances"),
        ("elasticloadbalancing", "DescribeLoadBalancers"),
        ("monitoring", "DescribeAlarms"),
        ("s3", "GET"),
        ("dynamodb", "ListTables"),
    ];
    for (service, action) in throttled {
        let rule = FaultRule::throttle(service).count(2);
        let rule = if action.is_empty() {
            rule
        } else {
            rule.action(action)
        };
        aws().add_fault_rule(&rule).unwrap();
    }
    aws_sdk_autoscaling::Client::new(&cfg)
        .describe_auto_scaling_instances()
        .send()
        .await
        .unwrap();
    aws_sdk_elasticloadbalancingv2::Client::new(&cfg)
        .describe_load_balancers()
        .send()
        .await
        .unwrap();
    aws_sdk_cloudwatch::Client::new(&cfg)
        .describe_alarms()
        .send()
        .await
        .unwrap();
    s3_client(&cfg).list_buckets().send().await.unwrap();
    aws_sdk_dynamodb::Client::new(&cfg)
        .list_tables()
        .send()
        .await
        .unwrap();
    let stats = aws().fault_stats().unwrap();
    for (service, action) in throttled {
        assert_eq!(
            (
                stats.requests(service, action),
                stats.faults(service, action, "throttle")
            ),
            (3, 2),
            "{service} {action}: two throttled attempts, then the one that succeeded"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_connection_is_a_dispatch_failure_and_is_retried() {
    // An action no other test of this file (they share the server) calls.
    let action = "DescribeSSLPolicies";
    aws()
        .add_fault_rule(
            &FaultRule::drop_connection("elasticloadbalancing")
                .action(action)
                .count(1),
        )
        .unwrap();
    let once = aws_sdk_elasticloadbalancingv2::Client::new(&config(RetryConfig::disabled()).await);
    let error = once.describe_ssl_policies().send().await.unwrap_err();
    match &error {
        // hyper's IncompleteMessage: the connection ended before a response, which the SDK
        // classifies as transient (so its retry strategy retries it).
        SdkError::DispatchFailure(failure) => {
            assert_eq!(
                failure.as_other(),
                Some(ErrorKind::TransientError),
                "{failure:?}"
            );
            assert!(
                format!("{failure:?}").contains("IncompleteMessage"),
                "{failure:?}"
            );
        }
        other => panic!("expected a dispatch failure, got {other:?}"),
    }

    aws()
        .add_fault_rule(
            &FaultRule::drop_connection("elasticloadbalancing")
                .action(action)
                .count(2),
        )
        .unwrap();
    let retrying = aws_sdk_elasticloadbalancingv2::Client::new(&config(standard()).await);
    retrying.describe_ssl_policies().send().await.unwrap();
    let stats = aws().fault_stats().unwrap();
    assert_eq!(stats.faults("elasticloadbalancing", action, "drop"), 3);
    assert_eq!(stats.requests("elasticloadbalancing", action), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_created_a_moment_ago_is_not_listed_within_the_stale_window() {
    let cfg = config(standard()).await;
    let fixture = Fixture::create(&cfg, "stale").await.unwrap();
    let name = format!("{}-g1", fixture.target_group_names[0]);
    // 60 AWS seconds: 3 s at the default test time scale.
    aws()
        .add_fault_rule(
            &FaultRule::stale_reads("autoscaling", Duration::from_secs(60)).matching(&name),
        )
        .unwrap();
    let autoscaling = aws_sdk_autoscaling::Client::new(&cfg);
    autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name(&name)
        .min_size(0)
        .max_size(1)
        .desired_capacity(0)
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_id(&fixture.launch_template_id)
                .version(&fixture.launch_template_versions[0])
                .build(),
        )
        .vpc_zone_identifier(fixture.subnet_ids.join(","))
        .send()
        .await
        .unwrap();
    let listed = || async {
        autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&name)
            .send()
            .await
            .unwrap()
            .auto_scaling_groups()
            .len()
    };
    assert_eq!(
        listed().await,
        0,
        "a group created a moment ago is not listed yet"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while listed().await == 0 {
        assert!(Instant::now() < deadline, "{name} never listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = aws().fault_stats().unwrap();
    assert!(stats.faults("autoscaling", "DescribeAutoScalingGroups", "stale_read") >= 1);
}

/// Which of 40 single-attempt calls the rule throttled ('x') with this seed.
async fn throttled_pattern(seed: u64) -> String {
    let needle = "zdd-replay-group";
    let id = aws()
        .add_fault_rule(
            &FaultRule::throttle("autoscaling")
                .matching(needle)
                .probability(0.5)
                .seed(seed),
        )
        .unwrap();
    let autoscaling = aws_sdk_autoscaling::Client::new(&config(RetryConfig::disabled()).await);
    let mut pattern = String::new();
    for _ in 0..40 {
        let answer = autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(needle)
            .send()
            .await;
        pattern.push(match answer {
            Ok(_) => '.',
            Err(error) => {
                assert_eq!(error.code(), Some("Throttling"), "{error:?}");
                'x'
            }
        });
    }
    aws().clear_faults(Some(&id)).unwrap();
    pattern
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_seed_replays_the_same_faults() {
    let first = throttled_pattern(7).await;
    assert!(first.contains('x') && first.contains('.'), "{first}");
    assert_eq!(throttled_pattern(7).await, first);
    assert_ne!(throttled_pattern(8).await, first);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hostile_preset_slows_every_call_and_fails_some_which_retries_absorb() {
    let table = "zdd-hostile-table";
    let rules = aws().hostile_for(7, &["dynamodb"], Some(table)).unwrap();
    let kinds: Vec<_> = rules.iter().map(|rule| rule["kind"].clone()).collect();
    assert_eq!(kinds, ["latency", "throttle", "server_error", "stale_read"]);
    // Enough attempts that 22 % failures never exhaust them (0.22^8 per call).
    let retry = standard().with_max_attempts(8);
    let dynamodb = aws_sdk_dynamodb::Client::new(&config(retry).await);
    dynamodb
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    for _ in 0..10 {
        dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .unwrap();
    }
    let stats = aws().fault_stats().unwrap();
    let requests = stats.requests("dynamodb", "DescribeTable");
    let failed = stats.faults("dynamodb", "DescribeTable", "throttle")
        + stats.faults("dynamodb", "DescribeTable", "server_error");
    assert_eq!(requests, 10 + failed, "every failed attempt was retried");
    assert!(failed > 0, "seed 7 throttles some of {requests} calls");
    assert_eq!(
        stats.faults("dynamodb", "DescribeTable", "latency"),
        requests
    );
}
