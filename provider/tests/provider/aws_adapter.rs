//! The AWS adapter against the local AWS (moto + the realistic health model).

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use terraform_provider_zdd::aws::types::{AlarmState, NewAsg, TargetState, asg_name};
use terraform_provider_zdd::aws::{AwsClients, AwsError, Endpoints};
use zdd_test_support::{Fixture, local_aws};

pub(crate) async fn setup(prefix: &str) -> (aws_config::SdkConfig, AwsClients, Fixture) {
    let sdk = local_aws().sdk_config().await;
    let fixture = match Fixture::create(&sdk, prefix).await {
        Ok(fixture) => fixture,
        Err(err) => panic!("creating the fixture: {err:#}"),
    };
    let clients = AwsClients::new(&sdk, &Endpoints::default());
    (sdk, clients, fixture)
}

pub(crate) fn new_asg(rollout: &str, generation: u64, fixture: &Fixture, desired: i32) -> NewAsg {
    NewAsg {
        rollout: rollout.into(),
        generation,
        launch_template_id: fixture.launch_template_id.clone(),
        launch_template_version: fixture.launch_template_versions[0].clone(),
        subnet_ids: fixture.subnet_ids.clone(),
        min_size: 0,
        max_size: 4,
        desired_capacity: desired,
        target_group_arns: vec![fixture.target_group_arns[0].clone()],
        tags: BTreeMap::from([("team".to_string(), "web".to_string())]),
        health_check_type: "ELB".into(),
        health_check_grace_period: 300,
        default_instance_warmup: None,
        lifecycle_hooks: Vec::new(),
    }
}

/// Polls `check` until it returns `Some`, for at most `limit` (scaled health-model time).
pub(crate) async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "condition not reached within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn create_is_tagged_and_idempotent() {
    let (_, aws, fixture) = setup("adcreate").await;
    let spec = new_asg("adcreate", 1, &fixture, 2);
    let created = aws.create_asg(&spec).await.unwrap();
    assert_eq!(created.name, "adcreate-g1");
    assert_eq!(created.rollout.as_deref(), Some("adcreate"));
    assert_eq!(created.generation, Some(1));
    assert_eq!(
        created.launch_template_version.as_deref(),
        Some(spec.launch_template_version.as_str())
    );
    assert_eq!(created.subnet_ids, fixture.subnet_ids);
    assert_eq!(created.tags.get("team").map(String::as_str), Some("web"));
    assert_eq!(
        created.target_group_arns,
        vec![fixture.target_group_arns[0].clone()]
    );

    // A re-run after a crash returns the same group and does not reset its capacity.
    aws.set_capacity(&created.name, 0, 4, 3).await.unwrap();
    let again = aws.create_asg(&spec).await.unwrap();
    assert_eq!(again.name, created.name);
    assert_eq!(again.desired_capacity, 3);

    let second = aws
        .create_asg(&new_asg("adcreate", 2, &fixture, 1))
        .await
        .unwrap();
    let listed = aws.describe_rollout_asgs("adcreate").await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|group| group.name.as_str())
            .collect::<Vec<_>>(),
        vec!["adcreate-g1", second.name.as_str()]
    );
    assert!(
        aws.describe_rollout_asgs("adcreate-other")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_foreign_group_with_our_name_is_a_conflict() {
    let (sdk, aws, fixture) = setup("adconflict").await;
    let autoscaling = aws_sdk_autoscaling::Client::new(&sdk);
    autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name(asg_name("adconflict", 1))
        .launch_template(
            aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                .launch_template_id(&fixture.launch_template_id)
                .version("1")
                .build(),
        )
        .vpc_zone_identifier(fixture.subnet_ids.join(","))
        .min_size(0)
        .max_size(1)
        .desired_capacity(0)
        .send()
        .await
        .unwrap();
    let err = aws
        .create_asg(&new_asg("adconflict", 1, &fixture, 1))
        .await
        .unwrap_err();
    assert!(matches!(err, AwsError::Conflict { .. }), "{err}");
}

#[tokio::test]
async fn targets_register_turn_healthy_and_drain_before_delete() {
    let (_, aws, fixture) = setup("adhealth").await;
    let blue = fixture.target_group_arns[0].clone();
    let timing = aws.target_group_timing(&blue).await.unwrap();
    assert!(timing.healthy_threshold >= 1);
    assert!(timing.health_check_interval > Duration::ZERO);
    assert_eq!(timing.load_balancer_arns, vec![fixture.alb_arn.clone()]);

    let group = aws
        .create_asg(&new_asg("adhealth", 1, &fixture, 2))
        .await
        .unwrap();
    let scale = local_aws().time_scale().max(0.001);
    let patience = Duration::from_secs_f64(
        ((timing.time_to_healthy() + timing.deregistration_delay).as_secs_f64() * scale).max(5.0)
            * 4.0,
    );
    let healthy = eventually(patience, || async {
        let targets = aws.target_health(&blue).await.unwrap();
        (targets.len() == 2 && targets.iter().all(|t| t.state == TargetState::Healthy))
            .then_some(targets)
    })
    .await;
    let described = aws.describe_asg(&group.name).await.unwrap().unwrap();
    let mut instance_ids: Vec<_> = described
        .instances
        .iter()
        .map(|i| i.instance_id.clone())
        .collect();
    let mut target_ids: Vec<_> = healthy.iter().map(|t| t.target_id.clone()).collect();
    instance_ids.sort();
    target_ids.sort();
    assert_eq!(instance_ids, target_ids);

    // Refused while attached: deleting now would cut live targets.
    let err = aws.delete_asg(&group.name, true).await.unwrap_err();
    assert!(matches!(err, AwsError::NotDrained { .. }), "{err}");

    aws.detach_target_groups(&group.name, std::slice::from_ref(&blue))
        .await
        .unwrap();
    aws.detach_target_groups(&group.name, std::slice::from_ref(&blue))
        .await
        .unwrap(); // idempotent
    let draining = aws.target_health(&blue).await.unwrap();
    assert!(
        draining.iter().all(|t| t.state == TargetState::Draining),
        "deregistered targets drain first: {draining:?}"
    );
    eventually(patience, || async {
        aws.target_health(&blue)
            .await
            .unwrap()
            .is_empty()
            .then_some(())
    })
    .await;
    // Drained and detached: deleting the populated group terminates instances no load
    // balancer routes to any more.
    // Without force a populated group is refused before AWS is asked (AWS would answer
    // ResourceInUse): the caller empties it first.
    let err = aws.delete_asg(&group.name, false).await.unwrap_err();
    assert!(matches!(err, AwsError::NotDrained { .. }), "{err}");
    aws.delete_asg(&group.name, true).await.unwrap();
    aws.delete_asg(&group.name, true).await.unwrap(); // idempotent
    eventually(patience, || async {
        aws.describe_asg("adhealth-g1")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    let violations: Vec<_> = local_aws()
        .events()
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|event| event["kind"] == "violation" && event["target_group_arn"] == blue.as_str())
        .collect();
    assert!(violations.is_empty(), "{violations:?}");
}

#[tokio::test]
async fn an_empty_group_is_deleted_while_attached() {
    // Rolling scales the old group to zero (AWS drains each instance) and then deletes it
    // without a detach: nothing is routed to a group without instances.
    let (_, aws, fixture) = setup("adempty").await;
    let group = aws
        .create_asg(&new_asg("adempty", 1, &fixture, 0))
        .await
        .unwrap();
    assert!(!group.target_group_arns.is_empty());
    assert!(group.instances.is_empty());
    aws.delete_asg(&group.name, false).await.unwrap();
    let after = aws.describe_asg(&group.name).await.unwrap();
    assert!(
        after.is_none_or(|g| g.deleting),
        "the empty group is gone or being deleted"
    );
}

#[tokio::test]
async fn tag_asg_overwrites_and_keeps_other_tags() {
    let (_, aws, fixture) = setup("adtag").await;
    let group = aws
        .create_asg(&new_asg("adtag", 1, &fixture, 2))
        .await
        .unwrap();
    aws.tag_asg(&group.name, "zdd:rollback", "first")
        .await
        .unwrap();
    aws.tag_asg(&group.name, "zdd:rollback", "second")
        .await
        .unwrap();
    aws.tag_asg(&group.name, "zdd:rolled-back", "true")
        .await
        .unwrap();
    let after = aws.describe_asg(&group.name).await.unwrap().unwrap();
    assert_eq!(
        after.tags.get("zdd:rollback").map(String::as_str),
        Some("second")
    );
    assert_eq!(
        after.tags.get("zdd:rolled-back").map(String::as_str),
        Some("true")
    );
    assert_eq!(
        after.tags.get("zdd:generation").map(String::as_str),
        Some("1"),
        "the adapter's own tags survive"
    );
}

#[tokio::test]
async fn listener_weights_round_trip() {
    let (_, aws, fixture) = setup("adweights").await;
    let [blue, green] = [
        fixture.target_group_arns[0].clone(),
        fixture.target_group_arns[1].clone(),
    ];
    aws.set_listener_weights(
        &fixture.listener_arn,
        &[(blue.clone(), 95), (green.clone(), 5)],
    )
    .await
    .unwrap();
    let weights = aws.listener_weights(&fixture.listener_arn).await.unwrap();
    assert_eq!(weights.weight_of(&blue), 95);
    assert_eq!(weights.weight_of(&green), 5);
    aws.set_listener_weights(
        &fixture.listener_arn,
        &[(blue.clone(), 0), (green.clone(), 100)],
    )
    .await
    .unwrap();
    let weights = aws.listener_weights(&fixture.listener_arn).await.unwrap();
    assert_eq!(
        (weights.weight_of(&blue), weights.weight_of(&green)),
        (0, 100)
    );
}

/// DescribeAlarms returns metric alarms only unless asked for composite ones too: a gate on a
/// composite alarm read it as missing (preflight refused it; mid-rollout it was "no data").
#[tokio::test]
async fn alarm_states_read_metric_and_composite_alarms() {
    let (sdk, aws, _fixture) = setup("adalarms").await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk);
    cloudwatch
        .put_metric_alarm()
        .alarm_name("adalarms-5xx")
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_Target_5XX_Count")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
    cloudwatch
        .set_alarm_state()
        .alarm_name("adalarms-5xx")
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("test")
        .send()
        .await
        .unwrap();
    cloudwatch
        .put_composite_alarm()
        .alarm_name("adalarms-web")
        .alarm_rule("ALARM(\"adalarms-5xx\")")
        .send()
        .await
        .unwrap();
    let states = aws
        .alarm_states(&[
            "adalarms-5xx".to_string(),
            "adalarms-web".to_string(),
            "adalarms-typo".to_string(),
        ])
        .await
        .unwrap();
    assert_eq!(states.get("adalarms-5xx"), Some(&AlarmState::Alarm));
    assert_eq!(
        states.get("adalarms-web"),
        Some(&AlarmState::Alarm),
        "a composite alarm is read like a metric alarm: {states:?}"
    );
    assert_eq!(states.get("adalarms-typo"), Some(&AlarmState::Missing));
}

/// One `GetMetricData` call reads each target group's four metrics per period, as the local
/// AWS's traffic model published them: counts as they are, p99 in seconds (the adapter's unit;
/// the driver converts to milliseconds).
#[tokio::test]
async fn metric_periods_read_what_cloudwatch_published() {
    use terraform_provider_zdd::aws::types::MetricSource;
    use zdd_test_support::TrafficProfile;

    let (_sdk, aws, fixture) = setup("adperiods").await;
    // Blue is the one behind the listener: it gets the traffic; green gets none.
    let (busy, idle) = (
        fixture.target_group_arns[0].clone(),
        fixture.target_group_arns[1].clone(),
    );
    // A healthy target, so requests are served and have a response time.
    aws.create_asg(&new_asg("adperiods", 1, &fixture, 1))
        .await
        .unwrap();
    eventually(Duration::from_secs(60), || async {
        let targets = aws.target_health(&busy).await.unwrap();
        targets
            .iter()
            .any(|t| t.state == TargetState::Healthy)
            .then_some(())
    })
    .await;
    let started = SystemTime::now();
    let profile = TrafficProfile::default()
        .target_5xx_ratio(0.02)
        .elb_5xx_ratio(0.01)
        .latency_ms(50.0, 200.0, 900.0);
    local_aws()
        .set_target_group_traffic(&busy, 50.0, 7, &profile)
        .unwrap();
    let published = eventually(Duration::from_secs(60), || async {
        let periods = local_aws().published_periods(&busy).unwrap();
        (periods.iter().filter(|p| p.latency_ms.is_some()).count() >= 2).then_some(periods)
    })
    .await;
    local_aws().stop_traffic(&busy).unwrap();
    let sources = [
        MetricSource {
            target_group_arn: busy.clone(),
            load_balancer_arn: fixture.alb_arn.clone(),
        },
        MetricSource {
            target_group_arn: idle.clone(),
            load_balancer_arn: fixture.alb_arn.clone(),
        },
    ];
    let read = aws
        .metric_periods(&sources, started, SystemTime::now())
        .await
        .unwrap();
    assert_eq!(read.len(), 2);
    assert_eq!(read[0].target_group_arn, busy);
    assert_eq!(read[1].target_group_arn, idle);
    assert!(
        read[1].periods.is_empty(),
        "the idle group had no traffic: {read:?}"
    );
    for expected in &published {
        let start = std::time::UNIX_EPOCH + Duration::from_millis(expected.start_ms);
        let period = read[0]
            .periods
            .iter()
            .find(|period| period.start == start)
            .unwrap_or_else(|| panic!("period {expected:?} not read: {read:?}"));
        assert_eq!(period.requests, expected.requests as f64, "{expected:?}");
        assert_eq!(
            period.target_5xx, expected.target_5xx as f64,
            "{expected:?}"
        );
        assert_eq!(period.elb_5xx, expected.elb_5xx as f64, "{expected:?}");
        let p99 = expected.latency_ms.map(|(_, _, p99)| p99 / 1000.0);
        assert!(
            matches!((period.p99_seconds, p99), (Some(a), Some(b)) if (a - b).abs() < 1e-9),
            "p99 {:?} against {p99:?}",
            period.p99_seconds
        );
    }
    assert!(read[0].periods.iter().all(|p| p.requests > 0.0), "{read:?}");
}
