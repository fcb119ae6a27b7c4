//! Auto Scaling's own scaling: target-tracking policies on a generation's group, the
//! processes through which a group scales itself, and the lifecycle hooks it was created with.

use aws_sdk_autoscaling::types::{
    MetricType, PredefinedMetricSpecification, TargetTrackingConfiguration,
};

use super::autoscaling::is_not_found;
use super::clients::AwsClients;
use super::error::AwsError;
use super::types::{
    LifecycleHookInfo, ScalingPolicyInfo, TargetTrackingPolicy, request_count_resource_label,
};

/// `DescribePolicies` page size (AWS's maximum).
const POLICIES_PER_PAGE: i32 = 100;

/// Up to this many groups, [`AwsClients::scaling_policies`] asks `DescribePolicies` once per
/// group (its filter takes one name); beyond, once for the region. Two is a rollout's old and
/// new generation: a call each, where the region's policies can be many pages in a large
/// account. More groups (an interrupted rollout's leftovers) are rare: one region-wide read.
pub const GROUPS_READ_ONE_BY_ONE: usize = 2;

impl AwsClients {
    /// Puts a target-tracking policy on a group.
    ///
    /// # Idempotency
    /// `PutScalingPolicy` creates the policy of that name or replaces its configuration:
    /// re-running puts the same policy again.
    pub async fn put_scaling_policy(
        &self,
        asg: &str,
        policy: &TargetTrackingPolicy,
    ) -> Result<(), AwsError> {
        let metric = PredefinedMetricSpecification::builder()
            .predefined_metric_type(MetricType::from(policy.metric.as_str()))
            .set_resource_label(policy.resource_label.clone())
            .build();
        let configuration = TargetTrackingConfiguration::builder()
            .predefined_metric_specification(metric)
            .target_value(policy.target_value)
            .disable_scale_in(policy.disable_scale_in)
            .build();
        self.autoscaling("PutScalingPolicy", |client| {
            client
                .put_scaling_policy()
                .auto_scaling_group_name(asg)
                .policy_name(&policy.name)
                .policy_type("TargetTrackingScaling")
                .target_tracking_configuration(configuration)
                .send()
        })
        .await?;
        Ok(())
    }

    /// The `ResourceLabel` an `ALBRequestCountPerTarget` policy counts requests with:
    /// `app/<lb-name>/<lb-id>/targetgroup/<tg-name>/<tg-id>`, from the target group and the
    /// (first) load balancer that routes to it.
    ///
    /// A target group no Application Load Balancer routes to has no request count per target:
    /// that is an [`AwsError::Unexpected`] naming the target group (it will not go away by
    /// itself, so the rollout gives up on it rather than wait).
    ///
    /// # Idempotency
    /// Read-only.
    pub async fn request_count_label(&self, target_group_arn: &str) -> Result<String, AwsError> {
        // Only a command (PutScalingPolicy) needs the label: its reads go with its priority.
        let timing = self
            .for_command()
            .target_group_timing(target_group_arn)
            .await?;
        let Some(load_balancer) = timing.load_balancer_arns.first() else {
            return Err(AwsError::Unexpected {
                operation: "DescribeTargetGroups",
                detail: format!(
                    "target group {target_group_arn} is not behind a load balancer: an ALBRequestCountPerTarget policy counts the requests a load balancer sends it; attach it to a listener first"
                ),
            });
        };
        request_count_resource_label(load_balancer, target_group_arn).ok_or_else(|| {
            AwsError::Unexpected {
                operation: "DescribeTargetGroups",
                detail: format!(
                    "load balancer {load_balancer} of target group {target_group_arn} is not an Application Load Balancer: ALBRequestCountPerTarget needs one"
                ),
            }
        })
    }

    /// Deletes a group's scaling policy.
    ///
    /// # Idempotency
    /// A policy (or group) that no longer exists counts as deleted.
    pub async fn delete_scaling_policy(&self, asg: &str, policy: &str) -> Result<(), AwsError> {
        match self
            .autoscaling("DeletePolicy", |client| {
                client
                    .delete_policy()
                    .auto_scaling_group_name(asg)
                    .policy_name(policy)
                    .send()
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => {
                if is_not_found(&err) || is_missing(&err) {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Suspends processes of a group (by AWS's `ProcessName`).
    ///
    /// # Idempotency
    /// Suspending a suspended process changes nothing; a group that no longer exists has
    /// nothing left to suspend and counts as done.
    pub async fn suspend_processes(&self, asg: &str, processes: &[String]) -> Result<(), AwsError> {
        match self
            .autoscaling("SuspendProcesses", |client| {
                client
                    .suspend_processes()
                    .auto_scaling_group_name(asg)
                    .set_scaling_processes(Some(processes.to_vec()))
                    .send()
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => gone_is_done(err),
        }
    }

    /// Resumes processes of a group (by AWS's `ProcessName`).
    ///
    /// # Idempotency
    /// Resuming a running process changes nothing; a group that no longer exists counts as
    /// done.
    pub async fn resume_processes(&self, asg: &str, processes: &[String]) -> Result<(), AwsError> {
        match self
            .autoscaling("ResumeProcesses", |client| {
                client
                    .resume_processes()
                    .auto_scaling_group_name(asg)
                    .set_scaling_processes(Some(processes.to_vec()))
                    .send()
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => gone_is_done(err),
        }
    }

    /// The scaling policies of `groups`, all pages. `DescribePolicies` takes one group name at
    /// most: up to [`GROUPS_READ_ONE_BY_ONE`] groups (a fleet mid-rollout has two) are read one
    /// call each, filtered by name, so another stack's policies are never paged through; more
    /// groups (a fleet left with many generations) read the region's policies once and keep
    /// theirs here.
    ///
    /// # Idempotency
    /// Read-only.
    pub async fn scaling_policies(
        &self,
        groups: &[String],
    ) -> Result<Vec<ScalingPolicyInfo>, AwsError> {
        if groups.len() > GROUPS_READ_ONE_BY_ONE {
            return self.policies_filtered(None, groups).await;
        }
        let mut policies = Vec::new();
        for group in groups {
            policies.extend(
                self.policies_filtered(Some(group.clone()), std::slice::from_ref(group))
                    .await?,
            );
        }
        Ok(policies)
    }

    /// The policies `DescribePolicies` answers for `only` (a group name, or every group of the
    /// region), all pages, those of `groups` kept: AWS's filter is checked here too.
    async fn policies_filtered(
        &self,
        only: Option<String>,
        groups: &[String],
    ) -> Result<Vec<ScalingPolicyInfo>, AwsError> {
        let mut policies = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let token = next_token.take();
            let output = self
                .autoscaling("DescribePolicies", |client| {
                    client
                        .describe_policies()
                        .set_auto_scaling_group_name(only.clone())
                        .max_records(POLICIES_PER_PAGE)
                        .set_next_token(token)
                        .send()
                })
                .await?;
            policies.extend(output.scaling_policies().iter().filter_map(|policy| {
                let asg = policy.auto_scaling_group_name()?;
                groups
                    .iter()
                    .any(|group| group == asg)
                    .then(|| ScalingPolicyInfo {
                        asg: asg.to_string(),
                        name: policy.policy_name().unwrap_or_default().to_string(),
                    })
            }));
            match output.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
                _ => break,
            }
        }
        Ok(policies)
    }

    /// The lifecycle hooks of a group; a group that no longer exists has none.
    ///
    /// # Idempotency
    /// Read-only.
    pub async fn lifecycle_hooks(&self, asg: &str) -> Result<Vec<LifecycleHookInfo>, AwsError> {
        let output = match self
            .autoscaling("DescribeLifecycleHooks", |client| {
                client
                    .describe_lifecycle_hooks()
                    .auto_scaling_group_name(asg)
                    .send()
            })
            .await
        {
            Ok(output) => output,
            Err(err) => {
                return if is_not_found(&err) {
                    Ok(Vec::new())
                } else {
                    Err(err)
                };
            }
        };
        Ok(output
            .lifecycle_hooks()
            .iter()
            .map(|hook| LifecycleHookInfo {
                name: hook.lifecycle_hook_name().unwrap_or_default().to_string(),
                transition: hook.lifecycle_transition().unwrap_or_default().to_string(),
                heartbeat_timeout: hook.heartbeat_timeout().unwrap_or_default(),
                default_result: hook.default_result().unwrap_or_default().to_string(),
            })
            .collect())
    }
}

impl AwsClients {
    /// Sets a group's health check settings (`UpdateAutoScalingGroup`). A warm-up of `None`
    /// removes one set before: AWS takes `-1` for that.
    ///
    /// # Idempotency
    /// Absolute values: re-running sets the same settings again.
    pub async fn set_health_check(
        &self,
        asg: &str,
        health_check_type: &str,
        grace_period: i32,
        instance_warmup: Option<i32>,
    ) -> Result<(), AwsError> {
        self.autoscaling("UpdateAutoScalingGroup", |client| {
            client
                .update_auto_scaling_group()
                .auto_scaling_group_name(asg)
                .health_check_type(health_check_type)
                .health_check_grace_period(grace_period)
                .default_instance_warmup(instance_warmup.unwrap_or(-1))
                .send()
        })
        .await?;
        Ok(())
    }

    /// Puts a lifecycle hook on a live group (instances already waiting keep their action).
    ///
    /// # Idempotency
    /// `PutLifecycleHook` creates the hook of that name or replaces its settings: re-running
    /// puts the same hook again.
    pub async fn put_lifecycle_hook(
        &self,
        asg: &str,
        hook: &LifecycleHookInfo,
    ) -> Result<(), AwsError> {
        self.autoscaling("PutLifecycleHook", |client| {
            client
                .put_lifecycle_hook()
                .auto_scaling_group_name(asg)
                .lifecycle_hook_name(&hook.name)
                .lifecycle_transition(&hook.transition)
                .heartbeat_timeout(hook.heartbeat_timeout)
                .default_result(&hook.default_result)
                .send()
        })
        .await?;
        Ok(())
    }

    /// Deletes a group's lifecycle hook; AWS completes the actions it holds first (a launch is
    /// abandoned, a termination continues).
    ///
    /// # Idempotency
    /// A hook (or group) that no longer exists counts as deleted.
    pub async fn delete_lifecycle_hook(&self, asg: &str, hook: &str) -> Result<(), AwsError> {
        match self
            .autoscaling("DeleteLifecycleHook", |client| {
                client
                    .delete_lifecycle_hook()
                    .auto_scaling_group_name(asg)
                    .lifecycle_hook_name(hook)
                    .send()
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => gone_is_done(err),
        }
    }
}

/// AWS answers `DeletePolicy` of a missing policy with a `ValidationError` that says the
/// policy does not exist (rather than "not found").
fn is_missing(err: &AwsError) -> bool {
    match err {
        AwsError::Api { code, message, .. } => {
            code == "ValidationError" && message.to_ascii_lowercase().contains("does not exist")
        }
        _ => false,
    }
}

fn gone_is_done(err: AwsError) -> Result<(), AwsError> {
    if is_not_found(&err) || is_missing(&err) {
        Ok(())
    } else {
        Err(err)
    }
}
