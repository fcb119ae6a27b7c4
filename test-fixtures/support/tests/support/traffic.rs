//! The traffic model's metrics through the Rust AWS SDK's CloudWatch client (the query protocol
//! the provider speaks): what `LocalAws::published_periods` shows is what GetMetricStatistics
//! (with the p99 extended statistic) and GetMetricData answer, on the shared local AWS.

// Test helpers outside #[test] fns are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant, UNIX_EPOCH};

use aws_sdk_autoscaling::types::LaunchTemplateSpecification;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, Statistic};
use aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum;
use zdd_test_support::{Fixture, PublishedPeriod, TrafficProfile, local_aws};

fn dimension(name: &str, arn: &str) -> Dimension {
    let resource = arn.splitn(6, ':').nth(5).unwrap();
    let value = resource.strip_prefix("loadbalancer/").unwrap_or(resource);
    Dimension::builder().name(name).value(value).build()
}

fn at(ms: u64) -> DateTime {
    DateTime::from(UNIX_EPOCH + Duration::from_millis(ms))
}

async fn one_healthy_target(cfg: &aws_config::SdkConfig, fixture: &Fixture) {
    let name = format!("{}-g1", fixture.target_group_names[0]);
    aws_sdk_autoscaling::Client::new(cfg)
        .create_auto_scaling_group()
        .auto_scaling_group_name(&name)
        .min_size(1)
        .max_size(1)
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_id(&fixture.launch_template_id)
                .version(&fixture.launch_template_versions[0])
                .build(),
        )
        .vpc_zone_identifier(fixture.subnet_ids.join(","))
        .target_group_arns(fixture.blue_target_group_arn())
        .send()
        .await
        .unwrap();
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(cfg);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let health = elbv2
            .describe_target_health()
            .target_group_arn(fixture.blue_target_group_arn())
            .send()
            .await
            .unwrap();
        let healthy = health.target_health_descriptions().iter().any(|d| {
            d.target_health().and_then(|h| h.state()) == Some(&TargetHealthStateEnum::Healthy)
        });
        if healthy {
            return;
        }
        assert!(Instant::now() < deadline, "no healthy target in blue");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_periods(target_group_arn: &str, count: usize) -> Vec<PublishedPeriod> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let periods = local_aws().published_periods(target_group_arn).unwrap();
        if periods.len() >= count {
            return periods;
        }
        assert!(
            Instant::now() < deadline,
            "{count} periods not published: {periods:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn published_periods_are_what_the_sdk_reads_with_percentiles() {
    let aws = local_aws();
    let cfg = aws.sdk_config().await;
    let fixture = Fixture::create(&cfg, "traffic").await.unwrap();
    one_healthy_target(&cfg, &fixture).await;
    let blue = fixture.blue_target_group_arn().to_string();
    let slow = TrafficProfile::default()
        .target_5xx_ratio(0.05)
        .latency_ms(50.0, 100.0, 400.0);
    aws.set_listener_traffic(&fixture.listener_arn, 40.0, 11, &[(&blue, &slow)])
        .unwrap();
    let periods = wait_for_periods(&blue, 2).await;
    assert!(aws.stop_traffic(&fixture.listener_arn).unwrap());
    let timing = aws.traffic_timing().unwrap();
    for period in &periods {
        assert_eq!(period.end_ms - period.start_ms, timing.period_ms);
        assert_eq!(
            period.start_ms % timing.period_ms,
            0,
            "aligned to the epoch"
        );
        assert!(period.target_5xx > 0 && period.target_5xx < period.requests);
    }
    // The second period saw traffic from start to end: 40 requests per AWS second × 60.
    let full = &periods[1];
    assert!(
        (2100..=2700).contains(&full.requests),
        "40 rps × 60 s ≈ 2400, got {}",
        full.requests
    );

    let cloudwatch = aws_sdk_cloudwatch::Client::new(&cfg);
    let dimensions = vec![
        dimension("TargetGroup", &blue),
        dimension("LoadBalancer", &fixture.alb_arn),
    ];
    let latency = cloudwatch
        .get_metric_statistics()
        .namespace("AWS/ApplicationELB")
        .metric_name("TargetResponseTime")
        .set_dimensions(Some(dimensions.clone()))
        .start_time(at(periods[0].start_ms))
        .end_time(at(full.end_ms))
        .period(60)
        .extended_statistics("p99")
        .statistics(Statistic::SampleCount)
        .send()
        .await
        .unwrap();
    let mut datapoints = latency.datapoints().to_vec();
    datapoints.sort_by_key(|d| d.timestamp().map(|t| t.to_millis().unwrap()));
    assert_eq!(datapoints.len(), 2, "{datapoints:?}");
    let p99 = datapoints[1].extended_statistics().unwrap()["p99"];
    assert!((p99 - 0.4).abs() < 1e-9, "p99 400 ms in seconds, got {p99}");
    assert_eq!(
        datapoints[1].timestamp().unwrap().to_millis().unwrap(),
        i64::try_from(full.start_ms).unwrap()
    );
    assert_eq!(datapoints[1].sample_count(), Some(full.served as f64));

    let query = |id: &str, metric: &str| {
        MetricDataQuery::builder()
            .id(id)
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        Metric::builder()
                            .namespace("AWS/ApplicationELB")
                            .metric_name(metric)
                            .set_dimensions(Some(dimensions.clone()))
                            .build(),
                    )
                    .period(60)
                    .stat("Sum")
                    .build(),
            )
            .build()
    };
    let data = cloudwatch
        .get_metric_data()
        .metric_data_queries(query("requests", "RequestCount"))
        .metric_data_queries(query("errors", "HTTPCode_Target_5XX_Count"))
        .start_time(at(periods[0].start_ms))
        .end_time(at(full.end_ms))
        .send()
        .await
        .unwrap();
    let results = data.metric_data_results();
    let values = |id: &str| {
        let result = results.iter().find(|r| r.id() == Some(id)).unwrap();
        // Newest first: GetMetricData's default ScanBy.
        result.values().to_vec()
    };
    assert_eq!(
        values("requests"),
        vec![full.requests as f64, periods[0].requests as f64]
    );
    assert_eq!(
        values("errors"),
        vec![full.target_5xx as f64, periods[0].target_5xx as f64]
    );
}
