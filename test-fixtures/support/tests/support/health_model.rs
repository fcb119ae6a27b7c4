//! The local AWS's load-balancer health model, seen through the Rust AWS SDK as the provider
//! sees it: initial → healthy, draining after a detach and after an ASG deletion, then gone;
//! a marked instance unhealthy with its reason.

// Test helpers outside #[test] fns are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_autoscaling::types::LaunchTemplateSpecification;
use aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum;
use serde_json::Value;
use zdd_test_support::{Fixture, LocalAws, LocalAwsOptions, ec2_instance_state};

/// An own server with a slower clock than the shared one, so every intermediate state lasts
/// long enough to be observed on a loaded 2-core machine: initial 1 s, drain 0.5 s.
const TIME_SCALE: f64 = 0.1;
/// The fixture's target groups: initial = healthy threshold 2 × interval 5 s; drain 5 s.
const INITIAL_AWS_SECONDS: f64 = 10.0;
const DRAIN_AWS_SECONDS: f64 = 5.0;

fn aws() -> &'static LocalAws {
    static AWS: OnceLock<LocalAws> = OnceLock::new();
    AWS.get_or_init(|| {
        LocalAws::start(LocalAwsOptions {
            time_scale: TIME_SCALE,
        })
        .unwrap()
    })
}

struct Fleet {
    cfg: aws_config::SdkConfig,
    fixture: Fixture,
    asg_name: String,
    instance_ids: Vec<String>,
}

impl Fleet {
    async fn create(prefix: &str, desired: i32) -> Fleet {
        let cfg = aws().sdk_config().await;
        let fixture = Fixture::create(&cfg, prefix).await.unwrap();
        let asg_name = format!("{}-g1", fixture.target_group_names[0]);
        let autoscaling = aws_sdk_autoscaling::Client::new(&cfg);
        autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(&asg_name)
            .min_size(0)
            .max_size(4)
            .desired_capacity(desired)
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
        let group = autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&asg_name)
            .send()
            .await
            .unwrap();
        let mut instance_ids: Vec<String> = group.auto_scaling_groups()[0]
            .instances()
            .iter()
            .map(|i| i.instance_id().unwrap().to_string())
            .collect();
        instance_ids.sort();
        assert_eq!(instance_ids.len(), desired as usize);
        Fleet {
            cfg,
            fixture,
            asg_name,
            instance_ids,
        }
    }

    /// (instance id, state, reason code) of every target the blue group lists, sorted.
    async fn blue_targets(&self) -> Vec<(String, TargetHealthStateEnum, Option<String>)> {
        let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&self.cfg);
        let health = elbv2
            .describe_target_health()
            .target_group_arn(self.fixture.blue_target_group_arn())
            .send()
            .await
            .unwrap();
        let mut targets: Vec<_> = health
            .target_health_descriptions()
            .iter()
            .map(|d| {
                let health = d.target_health().unwrap();
                (
                    d.target().unwrap().id().unwrap().to_string(),
                    health.state().unwrap().clone(),
                    health.reason().map(|r| r.as_str().to_string()),
                )
            })
            .collect();
        targets.sort_by(|a, b| a.0.cmp(&b.0));
        targets
    }

    async fn blue_states(&self) -> Vec<TargetHealthStateEnum> {
        self.blue_targets()
            .await
            .into_iter()
            .map(|(_, state, _)| state)
            .collect()
    }

    async fn wait_until_all_blue(&self, state: TargetHealthStateEnum) {
        let want = vec![state.clone(); self.instance_ids.len()];
        wait_for(&format!("all targets {state:?}"), || async {
            self.blue_states().await == want
        })
        .await;
    }

    /// EC2's state of each instance, in the order of their (sorted) ids.
    async fn instance_states(&self) -> Vec<String> {
        let mut states = Vec::new();
        for id in &self.instance_ids {
            states.push(ec2_instance_state(&self.cfg, id).await.unwrap());
        }
        states
    }

    /// This fleet's events of one kind (the server is shared by the tests in this file).
    fn events(&self, kind: &str) -> Vec<Value> {
        let events = aws().events().unwrap();
        events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == kind)
            .filter(|e| {
                self.instance_ids
                    .iter()
                    .any(|id| e["instance_id"].as_str() == Some(id))
            })
            .cloned()
            .collect()
    }
}

async fn wait_for<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn aws_t_between(events: &[Value], from_kind_event: &Value) -> f64 {
    let start = from_kind_event["aws_t"].as_f64().unwrap();
    let end = events
        .iter()
        .find(|e| e["instance_id"] == from_kind_event["instance_id"])
        .unwrap()["aws_t"]
        .as_f64()
        .unwrap();
    end - start
}

#[tokio::test(flavor = "multi_thread")]
async fn new_targets_are_initial_then_healthy_after_threshold_times_interval() {
    let fleet = Fleet::create("initial", 2).await;

    let targets = fleet.blue_targets().await;
    assert_eq!(
        targets
            .iter()
            .map(|(id, state, reason)| (id.as_str(), state.clone(), reason.as_deref()))
            .collect::<Vec<_>>(),
        fleet
            .instance_ids
            .iter()
            .map(|id| (
                id.as_str(),
                TargetHealthStateEnum::Initial,
                Some("Elb.RegistrationInProgress")
            ))
            .collect::<Vec<_>>()
    );
    fleet
        .wait_until_all_blue(TargetHealthStateEnum::Healthy)
        .await;

    let healthy: Vec<Value> = fleet
        .events("state_changed")
        .into_iter()
        .filter(|e| e["to"] == "healthy")
        .collect();
    for registered in fleet.events("registered") {
        let initial = aws_t_between(&healthy, &registered);
        assert!(
            (initial - INITIAL_AWS_SECONDS).abs() < 1e-3,
            "initial lasted {initial} AWS seconds"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn detaching_the_target_group_drains_for_the_deregistration_delay() {
    let fleet = Fleet::create("detach", 2).await;
    fleet
        .wait_until_all_blue(TargetHealthStateEnum::Healthy)
        .await;

    aws_sdk_autoscaling::Client::new(&fleet.cfg)
        .detach_load_balancer_target_groups()
        .auto_scaling_group_name(&fleet.asg_name)
        .target_group_arns(fleet.fixture.blue_target_group_arn())
        .send()
        .await
        .unwrap();

    let targets = fleet.blue_targets().await;
    assert!(
        targets.iter().all(
            |(_, state, reason)| *state == TargetHealthStateEnum::Draining
                && reason.as_deref() == Some("Target.DeregistrationInProgress")
        ),
        "{targets:?}"
    );
    wait_for("targets gone", || async {
        fleet.blue_targets().await.is_empty()
    })
    .await;
    let removed = fleet.events("removed");
    for deregistered in fleet.events("deregistered") {
        assert_eq!(deregistered["cause"], "asg_detach_target_group");
        let drain = aws_t_between(&removed, &deregistered);
        assert!((drain - DRAIN_AWS_SECONDS).abs() < 1e-3, "drained {drain}");
    }
    assert_eq!(fleet.instance_states().await, vec!["running"; 2]);
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_the_asg_scaled_to_zero_drains_its_targets_before_terminating_them() {
    let fleet = Fleet::create("delete", 2).await;
    fleet
        .wait_until_all_blue(TargetHealthStateEnum::Healthy)
        .await;
    let autoscaling = aws_sdk_autoscaling::Client::new(&fleet.cfg);
    // As on AWS, a group that still lists instances is deleted only with ForceDelete
    // (autoscaling_control.rs): a clean delete scales it to zero first.
    autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(&fleet.asg_name)
        .min_size(0)
        .desired_capacity(0)
        .send()
        .await
        .unwrap();

    autoscaling
        .delete_auto_scaling_group()
        .auto_scaling_group_name(&fleet.asg_name)
        .send()
        .await
        .unwrap();

    assert_eq!(
        fleet.blue_states().await,
        vec![TargetHealthStateEnum::Draining; 2]
    );
    assert_eq!(fleet.instance_states().await, vec!["running"; 2]);
    wait_for("instances terminated", || async {
        fleet.instance_states().await == vec!["terminated"; 2]
    })
    .await;
    assert!(fleet.blue_targets().await.is_empty());
    assert_eq!(fleet.events("violation"), Vec::<Value>::new());
    let ours = |v: &Value| fleet.instance_ids.iter().any(|id| v["instance_id"] == *id);
    assert!(!aws().violations().unwrap().iter().any(ours));
    let terminated = fleet.events("instance_terminated");
    assert_eq!(terminated.len(), 2);
    for removed in fleet.events("removed") {
        let end_of_drain = removed["t"].as_f64().unwrap();
        let termination = terminated
            .iter()
            .find(|e| e["instance_id"] == removed["instance_id"])
            .unwrap();
        assert!(termination["t"].as_f64().unwrap() >= end_of_drain);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_marked_instance_is_reported_unhealthy_with_its_reason() {
    let fleet = Fleet::create("unhealthy", 1).await;
    fleet
        .wait_until_all_blue(TargetHealthStateEnum::Healthy)
        .await;
    let instance_id = &fleet.instance_ids[0];

    aws()
        .set_instance_health(instance_id, "unhealthy", Some("Target.Timeout"))
        .unwrap();

    assert_eq!(
        fleet.blue_targets().await,
        vec![(
            instance_id.clone(),
            TargetHealthStateEnum::Unhealthy,
            Some("Target.Timeout".to_string())
        )]
    );
    aws()
        .set_instance_health(instance_id, "healthy", None)
        .unwrap();
    fleet
        .wait_until_all_blue(TargetHealthStateEnum::Healthy)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_health_mark_is_an_error() {
    let error = aws()
        .set_instance_health("i-0123", "sideways", None)
        .unwrap_err();
    assert!(error.to_string().contains("HTTP 400"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn force_deleting_a_serving_asg_is_recorded_as_a_violation() {
    let fleet = Fleet::create("force", 1).await;
    fleet
        .wait_until_all_blue(TargetHealthStateEnum::Healthy)
        .await;

    aws_sdk_autoscaling::Client::new(&fleet.cfg)
        .delete_auto_scaling_group()
        .auto_scaling_group_name(&fleet.asg_name)
        .force_delete(true)
        .send()
        .await
        .unwrap();

    assert_eq!(fleet.instance_states().await, vec!["terminated"]);
    let violations: Vec<Value> = aws()
        .violations()
        .unwrap()
        .into_iter()
        .filter(|v| v["instance_id"] == fleet.instance_ids[0].as_str())
        .collect();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0]["rule"], "drain_before_terminate");
    assert_eq!(violations[0]["from"], "healthy");
    assert_eq!(violations[0]["cause"], "asg_force_delete");
}
