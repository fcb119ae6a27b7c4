//! Auto Scaling seen from outside, for the autoscaling and lifecycle-hook tests: policies,
//! suspended processes, target states, lifecycle-hook events, completing a lifecycle action.

use zdd_test_support::{LifecycleEvent, local_aws};

use super::Bed;

/// The lifecycle-hook events of one group (the local AWS serves every test at once).
pub fn hook_events(group: &str) -> Vec<LifecycleEvent> {
    local_aws()
        .lifecycle_events()
        .unwrap()
        .into_iter()
        .filter(|event| event.group == group)
        .collect()
}

pub fn policies_of(bed: &Bed, group: &str) -> Vec<String> {
    let autoscaling = aws_sdk_autoscaling::Client::new(&bed.sdk);
    bed.runtime.block_on(async {
        let policies = autoscaling
            .describe_policies()
            .auto_scaling_group_name(group)
            .send()
            .await
            .unwrap();
        let mut names: Vec<String> = policies
            .scaling_policies()
            .iter()
            .filter_map(|policy| policy.policy_name().map(str::to_string))
            .collect();
        names.sort();
        names
    })
}

pub fn suspended_processes(bed: &Bed, group: &str) -> Vec<String> {
    let autoscaling = aws_sdk_autoscaling::Client::new(&bed.sdk);
    bed.runtime.block_on(async {
        let groups = autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(group)
            .send()
            .await
            .unwrap();
        groups
            .auto_scaling_groups()
            .iter()
            .flat_map(|group| group.suspended_processes())
            .filter_map(|process| process.process_name().map(str::to_string))
            .collect()
    })
}

pub fn target_states(bed: &Bed, target_group: &str) -> Vec<(String, String)> {
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&bed.sdk);
    bed.runtime.block_on(async {
        let health = elbv2
            .describe_target_health()
            .target_group_arn(target_group)
            .send()
            .await
            .unwrap();
        health
            .target_health_descriptions()
            .iter()
            .filter_map(|description| {
                Some((
                    description.target()?.id()?.to_string(),
                    description.target_health()?.state()?.as_str().to_string(),
                ))
            })
            .collect()
    })
}

pub fn healthy_targets(bed: &Bed, target_group: &str) -> usize {
    target_states(bed, target_group)
        .iter()
        .filter(|(_, state)| state == "healthy")
        .count()
}

pub fn registered_targets(bed: &Bed, target_group: &str) -> Vec<String> {
    target_states(bed, target_group)
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

pub fn complete_lifecycle_action(bed: &Bed, group: &str, hook: &str, instance: &str) {
    let autoscaling = aws_sdk_autoscaling::Client::new(&bed.sdk);
    bed.runtime.block_on(async {
        autoscaling
            .complete_lifecycle_action()
            .auto_scaling_group_name(group)
            .lifecycle_hook_name(hook)
            .instance_id(instance)
            .lifecycle_action_result("CONTINUE")
            .send()
            .await
            .unwrap();
    });
}

/// `(name, heartbeat seconds)` of a group's hooks as AWS reports them.
pub fn group_hooks(bed: &Bed, group: &str) -> Vec<(String, i32)> {
    let autoscaling = aws_sdk_autoscaling::Client::new(&bed.sdk);
    bed.runtime.block_on(async {
        autoscaling
            .describe_lifecycle_hooks()
            .auto_scaling_group_name(group)
            .send()
            .await
            .unwrap()
            .lifecycle_hooks()
            .iter()
            .map(|hook| {
                (
                    hook.lifecycle_hook_name().unwrap_or_default().to_string(),
                    hook.heartbeat_timeout().unwrap_or_default(),
                )
            })
            .collect()
    })
}
