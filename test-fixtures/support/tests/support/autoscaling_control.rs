//! Lifecycle hooks, the scaling-policy action and DeleteAutoScalingGroup's refusal on the local
//! AWS, through the Rust AWS SDK as the provider calls it and the helpers
//! (`LocalAws::scale_as_policy`, `LocalAws::lifecycle_events`) tests use.

// Test helpers outside #[test] fns are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use aws_sdk_autoscaling::error::ProvideErrorMetadata;
use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, LifecycleHookSpecification};
use zdd_test_support::{
    Fixture, LifecycleEventKind, LifecycleResult, LifecycleTransition, ScaleOutcome, local_aws,
};

const LAUNCHING: &str = "autoscaling:EC2_INSTANCE_LAUNCHING";
const TERMINATING: &str = "autoscaling:EC2_INSTANCE_TERMINATING";

struct Group {
    autoscaling: aws_sdk_autoscaling::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    fixture: Fixture,
    name: String,
}

impl Group {
    /// A group of `desired` instances behind the fixture's blue target group, created with the
    /// hook `(name, transition)` if any (a heartbeat timeout no test waits out).
    async fn create(prefix: &str, desired: i32, hook: Option<(&str, &str)>) -> Group {
        let cfg = local_aws().sdk_config().await;
        let fixture = Fixture::create(&cfg, prefix).await.unwrap();
        let name = format!("{}-g1", fixture.target_group_names[0]);
        let autoscaling = aws_sdk_autoscaling::Client::new(&cfg);
        let hooks = hook.map(|(hook_name, transition)| {
            vec![
                LifecycleHookSpecification::builder()
                    .lifecycle_hook_name(hook_name)
                    .lifecycle_transition(transition)
                    .heartbeat_timeout(7200)
                    .default_result("CONTINUE")
                    .build(),
            ]
        });
        autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(&name)
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
            .set_lifecycle_hook_specification_list(hooks)
            .send()
            .await
            .unwrap();
        Group {
            autoscaling,
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&cfg),
            fixture,
            name,
        }
    }

    /// (instance id, lifecycle state) of every instance the group lists, sorted.
    async fn instances(&self) -> Vec<(String, String)> {
        let described = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&self.name)
            .send()
            .await
            .unwrap();
        let mut instances: Vec<_> = described
            .auto_scaling_groups()
            .iter()
            .flat_map(|g| g.instances())
            .map(|i| {
                (
                    i.instance_id().unwrap().to_string(),
                    i.lifecycle_state().unwrap().as_str().to_string(),
                )
            })
            .collect();
        instances.sort();
        instances
    }

    async fn blue_target_ids(&self) -> Vec<String> {
        let health = self
            .elbv2
            .describe_target_health()
            .target_group_arn(self.fixture.blue_target_group_arn())
            .send()
            .await
            .unwrap();
        health
            .target_health_descriptions()
            .iter()
            .map(|d| d.target().unwrap().id().unwrap().to_string())
            .collect()
    }

    async fn complete(&self, hook: &str, instance_id: &str) {
        self.autoscaling
            .complete_lifecycle_action()
            .auto_scaling_group_name(&self.name)
            .lifecycle_hook_name(hook)
            .instance_id(instance_id)
            .lifecycle_action_result("CONTINUE")
            .send()
            .await
            .unwrap();
    }

    fn lifecycle_kinds(
        &self,
        instance_id: &str,
    ) -> Vec<(LifecycleEventKind, Option<LifecycleResult>)> {
        local_aws()
            .lifecycle_events()
            .unwrap()
            .into_iter()
            .filter(|e| e.group == self.name && e.instance_id == instance_id)
            .map(|e| (e.kind, e.result))
            .collect()
    }

    fn violations_of(&self, instance_id: &str) -> Vec<serde_json::Value> {
        let violations = local_aws().violations().unwrap();
        violations
            .into_iter()
            .filter(|v| v["instance_id"] == instance_id)
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

#[tokio::test(flavor = "multi_thread")]
async fn a_group_with_a_termination_hook_scaled_to_zero_holds_its_instance_until_complete() {
    let group = Group::create("hookterm", 1, Some(("drain", TERMINATING))).await;
    let [(instance_id, _)] = <[_; 1]>::try_from(group.instances().await).unwrap();

    let outcome = local_aws().scale_as_policy(&group.name, 0).unwrap();

    assert_eq!(outcome, ScaleOutcome::Applied { desired: 0 });
    assert_eq!(
        group.instances().await,
        [(instance_id.clone(), "Terminating:Wait".to_string())]
    );
    // The drain ends (5 s in AWS time) while the hook still holds the instance.
    wait_for("the drain to end", || async {
        group.blue_target_ids().await.is_empty()
    })
    .await;
    assert_eq!(
        group.instances().await,
        [(instance_id.clone(), "Terminating:Wait".to_string())]
    );
    let [entered] = <[_; 1]>::try_from(
        local_aws()
            .lifecycle_events()
            .unwrap()
            .into_iter()
            .filter(|e| e.group == group.name)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert_eq!(
        (
            entered.instance_id.as_str(),
            entered.hook.as_str(),
            entered.transition,
            entered.kind
        ),
        (
            instance_id.as_str(),
            "drain",
            LifecycleTransition::Terminating,
            LifecycleEventKind::EnteredWait
        )
    );
    assert_eq!(entered.lifecycle_state, "Terminating:Wait");

    group.complete("drain", &instance_id).await;

    wait_for("the instance to leave the group", || async {
        group.instances().await.is_empty()
    })
    .await;
    assert_eq!(
        group.lifecycle_kinds(&instance_id),
        [
            (LifecycleEventKind::EnteredWait, None),
            (
                LifecycleEventKind::Completed,
                Some(LifecycleResult::Continue)
            )
        ]
    );
    assert_eq!(
        group.violations_of(&instance_id),
        Vec::<serde_json::Value>::new()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_launch_hook_holds_pending_wait_and_the_target_is_not_registered_until_complete() {
    let group = Group::create("hooklaunch", 1, Some(("warm", LAUNCHING))).await;

    let [(instance_id, state)] = <[_; 1]>::try_from(group.instances().await).unwrap();

    assert_eq!(state, "Pending:Wait");
    assert_eq!(group.blue_target_ids().await, Vec::<String>::new());
    group.complete("warm", &instance_id).await;
    assert_eq!(
        group.instances().await,
        [(instance_id.clone(), "InService".to_string())]
    );
    assert_eq!(
        group.blue_target_ids().await,
        std::slice::from_ref(&instance_id)
    );
    assert_eq!(
        group.lifecycle_kinds(&instance_id),
        [
            (LifecycleEventKind::EnteredWait, None),
            (
                LifecycleEventKind::Completed,
                Some(LifecycleResult::Continue)
            )
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_without_force_delete_of_a_group_with_instances_is_refused_with_resource_in_use() {
    let group = Group::create("deleteinuse", 1, None).await;

    let error = group
        .autoscaling
        .delete_auto_scaling_group()
        .auto_scaling_group_name(&group.name)
        .force_delete(false)
        .send()
        .await
        .unwrap_err();

    let service_error = error.as_service_error().expect("a service error");
    assert_eq!(service_error.code(), Some("ResourceInUse"));
    assert!(
        service_error.is_resource_in_use_fault(),
        "{service_error:?}"
    );
    assert_eq!(group.instances().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_policy_action_is_refused_while_alarm_notification_is_suspended_and_clamped_otherwise()
{
    let group = Group::create("scalepolicy", 1, None).await;
    group
        .autoscaling
        .suspend_processes()
        .auto_scaling_group_name(&group.name)
        .scaling_processes("AlarmNotification")
        .send()
        .await
        .unwrap();

    let refused = local_aws().scale_as_policy(&group.name, 3).unwrap();

    assert_eq!(
        refused,
        ScaleOutcome::Refused {
            reason: "AlarmNotification suspended".into()
        }
    );
    assert_eq!(group.instances().await.len(), 1);
    group
        .autoscaling
        .resume_processes()
        .auto_scaling_group_name(&group.name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        local_aws().scale_as_policy(&group.name, 9).unwrap(),
        ScaleOutcome::Applied { desired: 4 }
    );
    assert_eq!(group.instances().await.len(), 4);
    let unknown = local_aws().scale_as_policy("no such group", 1).unwrap_err();
    let unknown = format!("{unknown:#}");
    assert!(
        unknown.contains("HTTP 404") && unknown.contains("no Auto Scaling group no such group"),
        "{unknown}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn force_delete_past_a_termination_hook_is_recorded_as_abandoned_and_a_violation() {
    let group = Group::create("hookforce", 1, Some(("drain", TERMINATING))).await;
    let [(instance_id, _)] = <[_; 1]>::try_from(group.instances().await).unwrap();
    local_aws().scale_as_policy(&group.name, 0).unwrap();

    group
        .autoscaling
        .delete_auto_scaling_group()
        .auto_scaling_group_name(&group.name)
        .force_delete(true)
        .send()
        .await
        .unwrap();

    assert_eq!(
        group.lifecycle_kinds(&instance_id),
        [
            (LifecycleEventKind::EnteredWait, None),
            (
                LifecycleEventKind::AbandonedByForceDelete,
                Some(LifecycleResult::Abandon)
            )
        ]
    );
    let rules: Vec<_> = group
        .violations_of(&instance_id)
        .iter()
        .map(|v| v["rule"].as_str().unwrap().to_string())
        .collect();
    assert!(
        rules.contains(&"hook_skipped_by_force_delete".to_string()),
        "{rules:?}"
    );
}
