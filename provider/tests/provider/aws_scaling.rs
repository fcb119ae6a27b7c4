//! The AWS adapter's Auto Scaling scaling calls against the local AWS: groups created with
//! their health check and lifecycle hooks, target-tracking policies (the request count label
//! from the target group's load balancer), suspended processes, and deleting without force
//! past a termination hook.

use std::time::Duration;

use terraform_provider_zdd::aws::types::{LifecycleHookInfo, TargetTrackingPolicy};
use terraform_provider_zdd::aws::{AwsClients, AwsError, Endpoints};
use zdd_test_support::{LifecycleEventKind, local_aws};

use crate::aws_adapter::{eventually, new_asg, setup};

fn cpu_policy(name: &str) -> TargetTrackingPolicy {
    TargetTrackingPolicy {
        name: name.into(),
        metric: "ASGAverageCPUUtilization".into(),
        target_value: 50.0,
        disable_scale_in: false,
        resource_label: None,
    }
}

fn termination_hook(heartbeat_timeout: i32) -> LifecycleHookInfo {
    LifecycleHookInfo {
        name: "drain".into(),
        transition: "autoscaling:EC2_INSTANCE_TERMINATING".into(),
        heartbeat_timeout,
        default_result: "CONTINUE".into(),
    }
}

#[tokio::test]
async fn a_group_is_created_with_its_health_check_and_hooks() {
    let (_, aws, fixture) = setup("scgroup").await;
    let mut spec = new_asg("scgroup", 1, &fixture, 0);
    spec.health_check_type = "EC2".into();
    spec.health_check_grace_period = 120;
    spec.default_instance_warmup = Some(60);
    spec.lifecycle_hooks = vec![
        termination_hook(300),
        LifecycleHookInfo {
            name: "warm".into(),
            transition: "autoscaling:EC2_INSTANCE_LAUNCHING".into(),
            heartbeat_timeout: 30,
            default_result: "ABANDON".into(),
        },
    ];
    let group = aws.create_asg(&spec).await.unwrap();
    assert_eq!(group.health_check_type.as_deref(), Some("EC2"));
    assert_eq!(group.health_check_grace_period, Some(120));
    let mut hooks = aws.lifecycle_hooks(&group.name).await.unwrap();
    hooks.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(hooks, spec.lifecycle_hooks);
    // A group that is gone has no hooks (a rollout may look at a group being deleted).
    assert_eq!(aws.lifecycle_hooks("scgroup-g9").await.unwrap(), vec![]);
}

#[tokio::test]
async fn policies_are_put_listed_per_group_and_deleted_idempotently() {
    let (_, aws, fixture) = setup("scpolicy").await;
    let first = aws
        .create_asg(&new_asg("scpolicy", 1, &fixture, 0))
        .await
        .unwrap();
    let second = aws
        .create_asg(&new_asg("scpolicy", 2, &fixture, 0))
        .await
        .unwrap();
    aws.put_scaling_policy(&first.name, &cpu_policy("cpu-50"))
        .await
        .unwrap();
    aws.put_scaling_policy(&first.name, &cpu_policy("cpu-50"))
        .await
        .unwrap(); // idempotent
    // The same name on another group is another policy.
    aws.put_scaling_policy(&second.name, &cpu_policy("cpu-50"))
        .await
        .unwrap();
    let both = [first.name.clone(), second.name.clone()];
    let mut listed: Vec<(String, String)> = aws
        .scaling_policies(&both)
        .await
        .unwrap()
        .into_iter()
        .map(|policy| (policy.asg, policy.name))
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            (first.name.clone(), "cpu-50".to_string()),
            (second.name.clone(), "cpu-50".to_string())
        ]
    );
    aws.delete_scaling_policy(&first.name, "cpu-50")
        .await
        .unwrap();
    aws.delete_scaling_policy(&first.name, "cpu-50")
        .await
        .unwrap(); // a missing policy is success
    let left = aws
        .scaling_policies(std::slice::from_ref(&first.name))
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    let left = aws
        .scaling_policies(std::slice::from_ref(&second.name))
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
}

/// A rollout's two groups have their policies read by name, one call each: another stack's
/// policies (a group whose name starts like ours among them) are never paged through. Before,
/// two groups read the region's every policy, at least three pages here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollouts_two_groups_read_only_their_own_policies() {
    const OUTSIDER_POLICIES: usize = 201; // three pages of 100 if the region is read
    let (_, aws, fixture) = setup("scfew").await;
    let ours = [
        aws.create_asg(&new_asg("scfew", 1, &fixture, 0))
            .await
            .unwrap(),
        aws.create_asg(&new_asg("scfew", 2, &fixture, 0))
            .await
            .unwrap(),
    ];
    // `scfew-g10` starts like `scfew-g1`: a prefix match would take its policies.
    let outsider = aws
        .create_asg(&new_asg("scfew", 10, &fixture, 0))
        .await
        .unwrap();
    for group in &ours {
        for name in ["cpu-50", "cpu-70"] {
            aws.put_scaling_policy(&group.name, &cpu_policy(name))
                .await
                .unwrap();
        }
    }
    let mut puts = Vec::new();
    for chunk in 0..3 {
        let aws = aws.clone();
        let outsider = outsider.name.clone();
        puts.push(tokio::spawn(async move {
            for n in 0..OUTSIDER_POLICIES / 3 {
                aws.put_scaling_policy(&outsider, &cpu_policy(&format!("other-{chunk}-{n:02}")))
                    .await
                    .unwrap();
            }
        }));
    }
    for put in puts {
        put.await.unwrap();
    }

    let access_key = format!(
        "AKIDSCFEW{}",
        fixture.vpc_id.to_uppercase().replace('-', "")
    );
    let reader = AwsClients::new(
        &local_aws().sdk_config_as(&access_key).await,
        &Endpoints::default(),
    );
    let names = [ours[0].name.clone(), ours[1].name.clone()];
    let mut listed: Vec<(String, String)> = reader
        .scaling_policies(&names)
        .await
        .unwrap()
        .into_iter()
        .map(|policy| (policy.asg, policy.name))
        .collect();
    listed.sort();
    let expected: Vec<(String, String)> = names
        .iter()
        .flat_map(|group| ["cpu-50", "cpu-70"].map(|policy| (group.clone(), policy.to_string())))
        .collect();
    assert_eq!(listed, expected, "ours, each once, none of the outsider's");
    let calls = local_aws()
        .fault_stats_for(&access_key)
        .unwrap()
        .requests("autoscaling", "DescribePolicies");
    assert_eq!(
        calls, 2,
        "one DescribePolicies per group, not the region's {OUTSIDER_POLICIES}+ policies"
    );

    // Three groups (more than the adapter reads one by one): the region's policies, filtered
    // here, the outsider's now among those asked for.
    let three = [names[0].clone(), names[1].clone(), outsider.name.clone()];
    let all = reader.scaling_policies(&three).await.unwrap();
    assert_eq!(all.len(), 4 + OUTSIDER_POLICIES);
}

/// `ALBRequestCountPerTarget` names the load balancer and the target group; a target group
/// no load balancer routes to is a clear error.
#[tokio::test]
async fn a_request_count_policy_is_labelled_with_its_load_balancer() {
    let (_, aws, fixture) = setup("screquests").await;
    let group = aws
        .create_asg(&new_asg("screquests", 1, &fixture, 0))
        .await
        .unwrap();
    let label = aws
        .request_count_label(&fixture.target_group_arns[0])
        .await
        .unwrap();
    let lb = fixture.alb_arn.split_once(":loadbalancer/").unwrap().1;
    let tg = fixture.target_group_arns[0]
        .split_once(":targetgroup/")
        .unwrap()
        .1;
    assert_eq!(label, format!("{lb}/targetgroup/{tg}"));
    let policy = TargetTrackingPolicy {
        name: "rps".into(),
        metric: "ALBRequestCountPerTarget".into(),
        target_value: 100.0,
        disable_scale_in: true,
        resource_label: Some(label),
    };
    aws.put_scaling_policy(&group.name, &policy).await.unwrap();
    assert_eq!(
        aws.scaling_policies(std::slice::from_ref(&group.name))
            .await
            .unwrap()
            .len(),
        1
    );
    // The green group is behind no listener in the fixture.
    let err = aws
        .request_count_label(&fixture.target_group_arns[1])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AwsError::Unexpected { detail, .. } if detail.contains("not behind a load balancer")),
        "{err}"
    );
}

#[tokio::test]
async fn processes_are_suspended_and_resumed_idempotently() {
    let (_, aws, fixture) = setup("scprocess").await;
    let group = aws
        .create_asg(&new_asg("scprocess", 1, &fixture, 0))
        .await
        .unwrap();
    let processes = ["AlarmNotification".to_string(), "AZRebalance".to_string()];
    aws.suspend_processes(&group.name, &processes)
        .await
        .unwrap();
    aws.suspend_processes(&group.name, &processes)
        .await
        .unwrap();
    let mut suspended = aws
        .describe_asg(&group.name)
        .await
        .unwrap()
        .unwrap()
        .suspended_processes;
    suspended.sort();
    assert_eq!(suspended, ["AZRebalance", "AlarmNotification"]);
    // The rollout's observation (groups listed by their zdd:rollout tag) reports them too,
    // also after the group is tagged (the engine records what it suspended in a tag).
    aws.tag_asg(&group.name, "zdd:suspended", "").await.unwrap();
    aws.put_scaling_policy(&group.name, &cpu_policy("cpu-50"))
        .await
        .unwrap();
    let listed = aws.describe_rollout_asgs("scprocess").await.unwrap();
    assert_eq!(listed[0].suspended_processes.len(), 2, "{listed:?}");
    aws.resume_processes(&group.name, &processes[..1])
        .await
        .unwrap();
    aws.resume_processes(&group.name, &processes[..1])
        .await
        .unwrap();
    let suspended = aws
        .describe_asg(&group.name)
        .await
        .unwrap()
        .unwrap()
        .suspended_processes;
    assert_eq!(suspended, ["AZRebalance"]);
}

/// A group with a termination hook is emptied, not forced: its instances wait in
/// `Terminating:Wait` until their hook times out, and only the empty group is deleted, so the
/// local AWS records no hook skipped by a force delete.
#[tokio::test]
async fn a_hooked_group_is_deleted_only_once_empty() {
    let (_, aws, fixture) = setup("schook").await;
    let mut spec = new_asg("schook", 1, &fixture, 1);
    spec.target_group_arns.clear();
    spec.lifecycle_hooks = vec![termination_hook(30)];
    let group = aws.create_asg(&spec).await.unwrap();
    let scale = local_aws().time_scale().max(0.001);
    let patience = Duration::from_secs_f64((120.0 * scale).max(10.0));
    eventually(patience, || async {
        let group = aws.describe_asg(&group.name).await.unwrap().unwrap();
        (group.instances.len() == 1 && group.instances[0].lifecycle_state == "InService")
            .then_some(())
    })
    .await;
    aws.set_capacity(&group.name, 0, 4, 0).await.unwrap();
    let waiting = eventually(patience, || async {
        let group = aws.describe_asg(&group.name).await.unwrap().unwrap();
        group
            .instances
            .iter()
            .any(|instance| instance.lifecycle_state == "Terminating:Wait")
            .then_some(group)
    })
    .await;
    let err = aws.delete_asg(&group.name, false).await.unwrap_err();
    assert!(
        matches!(&err, AwsError::NotDrained { detail, .. } if detail.contains("1 held by a lifecycle hook")),
        "{err}"
    );
    eventually(patience, || async {
        aws.describe_asg(&group.name)
            .await
            .unwrap()
            .is_some_and(|group| group.instances.is_empty())
            .then_some(())
    })
    .await;
    aws.delete_asg(&group.name, false).await.unwrap();
    let instance = &waiting.instances[0].instance_id;
    let events: Vec<LifecycleEventKind> = local_aws()
        .lifecycle_events()
        .unwrap()
        .into_iter()
        .filter(|event| &event.instance_id == instance)
        .map(|event| event.kind)
        .collect();
    assert!(
        events.contains(&LifecycleEventKind::EnteredWait)
            && !events.contains(&LifecycleEventKind::AbandonedByForceDelete),
        "{events:?}"
    );
    let skipped: Vec<_> = local_aws()
        .violations()
        .unwrap()
        .into_iter()
        .filter(|violation| violation.to_string().contains(&group.name))
        .collect();
    assert!(skipped.is_empty(), "{skipped:?}");
}

/// Settings applied in place to a live group: health check (a warm-up removed again) and a
/// hook put, replaced and deleted, each idempotent.
#[tokio::test]
async fn health_check_and_hooks_change_on_a_live_group() {
    let (_, aws, fixture) = setup("sclive").await;
    let group = aws
        .create_asg(&new_asg("sclive", 1, &fixture, 0))
        .await
        .unwrap();
    aws.set_health_check(&group.name, "EC2", 60, Some(30))
        .await
        .unwrap();
    let live = aws.describe_asg(&group.name).await.unwrap().unwrap();
    assert_eq!(
        (
            live.health_check_type.as_deref(),
            live.health_check_grace_period,
            live.default_instance_warmup
        ),
        (Some("EC2"), Some(60), Some(30))
    );
    aws.set_health_check(&group.name, "ELB", 300, None)
        .await
        .unwrap();
    let live = aws.describe_asg(&group.name).await.unwrap().unwrap();
    assert_eq!(
        (
            live.health_check_type.as_deref(),
            live.health_check_grace_period,
            live.default_instance_warmup
        ),
        (Some("ELB"), Some(300), None)
    );

    let mut hook = termination_hook(300);
    aws.put_lifecycle_hook(&group.name, &hook).await.unwrap();
    hook.heartbeat_timeout = 600;
    aws.put_lifecycle_hook(&group.name, &hook).await.unwrap();
    assert_eq!(
        aws.lifecycle_hooks(&group.name).await.unwrap(),
        [hook.clone()]
    );
    aws.delete_lifecycle_hook(&group.name, &hook.name)
        .await
        .unwrap();
    aws.delete_lifecycle_hook(&group.name, &hook.name)
        .await
        .unwrap(); // a missing hook is success
    assert_eq!(aws.lifecycle_hooks(&group.name).await.unwrap(), []);
}
