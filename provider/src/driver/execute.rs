//! Runs one engine command through the adapter. Every adapter call is idempotent, so the
//! engine may re-issue any command after a crash or a lost answer.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, SystemTime};

use zdd_rollout::observation::ScalingProcess;
use zdd_rollout::spec::{PredefinedMetric, TargetTracking};
use zdd_rollout::{Command, Decision, Rollout};

use crate::aws::types::{NewAsg, TAG_GENERATION, TAG_ROLLOUT, TargetTrackingPolicy};
use crate::aws::{AwsClients, AwsError};

use super::stats::{self, RunStats};
use super::{Observer, convert};

/// Runs a terminal decision's records for readers (the final phase record: `complete`,
/// `rolled_back`, `failed`): nothing steps after it, so each is tried once, and a failure only
/// goes into the timeline (the rollout's outcome stands).
pub async fn record_final_phase(
    aws: &AwsClients,
    rollout: &mut Rollout,
    observer: &mut Observer,
    decision: &Decision,
    stats: &mut RunStats,
) {
    for command in decision.commands.iter().filter(|c| c.is_informational()) {
        observer.api_calls += u64::from(command.api_calls());
        // The last record: nothing steps after it, so it waits for the budget.
        let written = bounded(command, INFORMATIONAL_BOUND, execute(aws, command));
        if let Err(err) = stats::timed(&mut stats.aws, written).await {
            tracing::warn!(rollout = %rollout.spec().name, command = %command.describe(), error = %err, "final phase record failed");
            rollout.command_failed(
                command,
                convert::timestamp(SystemTime::now()),
                &err.to_string(),
            );
        }
    }
}

/// How long the loop waits for a record for readers ([`Command::is_informational`]) before it
/// goes on without it. The SDK's own retries and the operation bound allow minutes; the loop
/// observes nothing while it waits, so a throttled or hanging `CreateOrUpdateTags` during a
/// canary soak or a rollback would leave a failing canary its traffic that long. A record cut
/// off counts as not written: it is written again at a later step, and (being informational)
/// never towards giving up.
pub const INFORMATIONAL_BOUND: Duration = Duration::from_secs(5);

/// What became of a command the loop ran without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ran {
    /// AWS answered it.
    Made,
    /// A record for readers, not made: the rate budget had no token for it at once. The loop
    /// never waits for a record (fleets sharing the budget would wait for each other's
    /// records: 10 fleets x 9 records at `CreateOrUpdateTags`' 2/s held a rollout twice its
    /// floor); the engine issues it again at its next step.
    Deferred,
}

/// Runs one command of the loop: a rollout command to its end (the adapter bounds it), a
/// record for readers only if the budget has room for it now, and within
/// [`INFORMATIONAL_BOUND`].
pub async fn run(aws: &AwsClients, command: &Command) -> Result<Ran, AwsError> {
    match command {
        Command::RecordPhase { asg, .. } => {
            let tags = command.phase_record_tags();
            let made = bounded(
                command,
                INFORMATIONAL_BOUND,
                aws.tag_asg_unless_busy(asg, &borrowed(&tags)),
            )
            .await?;
            Ok(if made { Ran::Made } else { Ran::Deferred })
        }
        _ => bounded(command, INFORMATIONAL_BOUND, execute(aws, command))
            .await
            .map(|()| Ran::Made),
    }
}

/// A phase record's tags as the adapter takes them.
fn borrowed<'a>(tags: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    tags.iter()
        .map(|(key, value)| (*key, value.as_str()))
        .collect()
}

/// `call` (the adapter's run of `command`), cut off after `bound` when the command is a record
/// for readers.
async fn bounded<T>(
    command: &Command,
    bound: Duration,
    call: impl Future<Output = Result<T, AwsError>>,
) -> Result<T, AwsError> {
    if !command.is_informational() {
        return call.await;
    }
    match tokio::time::timeout(bound, call).await {
        Ok(result) => result,
        Err(_elapsed) => Err(AwsError::Api {
            operation: "CreateOrUpdateTags",
            code: "Timeout".to_string(),
            message: format!(
                "no answer within {bound:?}: the record is written again at a later step"
            ),
            transient: true,
        }),
    }
}

async fn execute(aws: &AwsClients, command: &Command) -> Result<(), AwsError> {
    match command {
        Command::CreateAsg {
            name,
            generation,
            launch_template,
            subnet_ids,
            min_size,
            max_size,
            desired_capacity,
            target_group_arns,
            tags,
            health_check,
            lifecycle_hooks,
        } => {
            let rollout = tags.get(TAG_ROLLOUT).cloned().unwrap_or_default();
            let spec = NewAsg {
                rollout,
                generation: *generation,
                launch_template_id: launch_template.id.clone(),
                launch_template_version: launch_template.version.to_string(),
                subnet_ids: subnet_ids.clone(),
                min_size: to_i32(*min_size),
                max_size: to_i32(*max_size),
                desired_capacity: to_i32(*desired_capacity),
                target_group_arns: target_group_arns.clone(),
                tags: user_tags(tags),
                health_check_type: health_check.kind.as_aws_str().to_string(),
                health_check_grace_period: convert::seconds(health_check.grace_period),
                default_instance_warmup: health_check.instance_warmup.map(convert::seconds),
                lifecycle_hooks: lifecycle_hooks.iter().map(convert::new_hook).collect(),
            };
            if &spec.name() != name {
                return Err(AwsError::Unexpected {
                    operation: "CreateAutoScalingGroup",
                    detail: format!("engine asked for {name}, tags say {}", spec.name()),
                });
            }
            aws.create_asg(&spec).await.map(|_| ())
        }
        Command::SetCapacity {
            asg,
            min_size,
            max_size,
            desired_capacity,
        } => {
            aws.set_capacity(
                asg,
                to_i32(*min_size),
                to_i32(*max_size),
                to_i32(*desired_capacity),
            )
            .await
        }
        Command::AttachTargetGroups {
            asg,
            target_group_arns,
        } => aws.attach_target_groups(asg, target_group_arns).await,
        Command::DetachTargetGroups {
            asg,
            target_group_arns,
        } => aws.detach_target_groups(asg, target_group_arns).await,
        Command::SetListenerWeights {
            listener_arn,
            weights,
        } => aws.set_listener_weights(listener_arn, weights).await,
        Command::TagAsg { asg, key, value } => aws.tag_asg(asg, key, value).await,
        Command::RecordPhase { asg, .. } => {
            let tags = command.phase_record_tags();
            aws.tag_asg_with(asg, &borrowed(&tags)).await
        }
        Command::DeleteAsg { asg, force } => aws.delete_asg(asg, *force).await,
        Command::PutScalingPolicy {
            asg,
            policy,
            target_group_arn,
        } => put_scaling_policy(aws, asg, policy, target_group_arn.as_deref()).await,
        Command::DeleteScalingPolicy { asg, policy_name } => {
            aws.delete_scaling_policy(asg, policy_name).await
        }
        Command::SetHealthCheck { asg, health_check } => {
            aws.set_health_check(
                asg,
                health_check.kind.as_aws_str(),
                convert::seconds(health_check.grace_period),
                health_check.instance_warmup.map(convert::seconds),
            )
            .await
        }
        Command::PutLifecycleHook { asg, hook } => {
            aws.put_lifecycle_hook(asg, &convert::new_hook(hook)).await
        }
        Command::DeleteLifecycleHook { asg, hook_name } => {
            aws.delete_lifecycle_hook(asg, hook_name).await
        }
        Command::SuspendProcesses { asg, processes } => {
            aws.suspend_processes(asg, &process_names(processes)).await
        }
        Command::ResumeProcesses { asg, processes } => {
            aws.resume_processes(asg, &process_names(processes)).await
        }
    }
}

/// `PutScalingPolicy`; an `ALBRequestCountPerTarget` policy first reads its target group's
/// load balancer for the `ResourceLabel` (one `DescribeTargetGroups`).
async fn put_scaling_policy(
    aws: &AwsClients,
    asg: &str,
    policy: &TargetTracking,
    target_group_arn: Option<&str>,
) -> Result<(), AwsError> {
    let resource_label = match (policy.metric, target_group_arn) {
        (PredefinedMetric::AlbRequestCountPerTarget, Some(arn)) => {
            Some(aws.request_count_label(arn).await?)
        }
        (PredefinedMetric::AlbRequestCountPerTarget, None) => {
            return Err(AwsError::Unexpected {
                operation: "PutScalingPolicy",
                detail: format!(
                    "policy {} counts requests per target, but {asg} serves in no target group",
                    policy.name
                ),
            });
        }
        _ => None,
    };
    let policy = TargetTrackingPolicy {
        name: policy.name.clone(),
        metric: policy.metric.as_aws_str().to_string(),
        target_value: policy.target_value,
        disable_scale_in: policy.disable_scale_in,
        resource_label,
    };
    aws.put_scaling_policy(asg, &policy).await
}

fn process_names(processes: &[ScalingProcess]) -> Vec<String> {
    processes
        .iter()
        .map(|process| process.as_aws_str().to_string())
        .collect()
}

fn to_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// The adapter sets the `zdd:` tags itself from the rollout name and generation.
fn user_tags(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    tags.iter()
        .filter(|(key, _)| key.as_str() != TAG_ROLLOUT && key.as_str() != TAG_GENERATION)
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: Duration = Duration::from_millis(20);

    fn record() -> Command {
        Command::RecordPhase {
            asg: "web-g2".to_string(),
            phase: "canary_soak_1".to_string(),
            since: 1_700_000_000,
            floor: 3,
        }
    }

    /// A `CreateOrUpdateTags` that never answers (throttled, hanging) must not hold the loop:
    /// it ends, as a transient failure, once the bound has passed.
    /// (Before the bound the loop awaited it for good: this test never ended.)
    #[tokio::test]
    async fn a_hanging_phase_record_is_cut_off_at_the_bound() {
        let result: Result<(), _> = bounded(&record(), SHORT, std::future::pending()).await;
        let err = result.expect_err("a record that never answers is reported not written");
        assert!(err.is_transient(), "{err}");
        assert!(err.to_string().contains("written again"), "{err}");
    }

    /// Fleets share one budget: a record the budget cannot take at once is not waited for
    /// (it waited up to the bound, behind every other fleet's records), and no call is made.
    #[tokio::test(start_paused = true)]
    async fn a_record_the_budget_has_no_token_for_now_is_deferred_without_waiting() {
        use crate::aws::budget::{AUTOSCALING, Api, Priority, RateLimits};
        use crate::aws::{AwsClients, CallOptions, Endpoints};

        let limits = RateLimits::default()
            .with_block([("autoscaling:CreateOrUpdateTags", "1/s burst 1")])
            .expect("a valid limit");
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let options = CallOptions {
            limits,
            ..CallOptions::from_env()
        };
        let aws = AwsClients::with_options(&sdk, &Endpoints::default(), options);
        let api = Api::new(AUTOSCALING, "CreateOrUpdateTags");
        // Another fleet's call took the one token.
        aws.budget().admit(api, Priority::Command).await;
        let calls_before = aws.budget_stats().calls;

        let started = tokio::time::Instant::now();
        let ran = run(&aws, &record()).await.expect("a deferral is no error");
        assert_eq!(ran, Ran::Deferred);
        assert_eq!(started.elapsed(), Duration::ZERO, "nothing was waited for");
        assert_eq!(aws.budget_stats().calls, calls_before, "no call was made");
    }

    /// The bound is seconds, far below the SDK's retries and the 360 s operation bound.
    #[test]
    fn the_bound_is_a_few_seconds() {
        assert!(INFORMATIONAL_BOUND <= Duration::from_secs(10));
    }

    /// A rollout command is not cut off: its answer is what the next step decides on.
    #[tokio::test]
    async fn a_slow_rollout_command_is_awaited_to_its_answer() {
        let command = Command::TagAsg {
            asg: "web-g2".to_string(),
            key: "k".to_string(),
            value: "v".to_string(),
        };
        let slow = async {
            tokio::time::sleep(SHORT * 10).await;
            Ok(())
        };
        bounded(&command, SHORT, slow)
            .await
            .expect("the slow call answered and is not cut off");
    }

    #[tokio::test]
    async fn a_prompt_phase_record_keeps_its_own_answer() {
        let refused = AwsError::NotFound {
            what: "web-g2".to_string(),
        };
        let err = bounded(&record(), SHORT, async { Err::<(), _>(refused) })
            .await
            .expect_err("the adapter's own error is passed on");
        assert!(matches!(err, AwsError::NotFound { .. }), "{err}");
    }
}
