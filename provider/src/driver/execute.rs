//! Runs one engine command through the adapter. Every adapter call is idempotent, so the
//! engine may re-issue any command after a crash or a lost answer.

use std::collections::BTreeMap;

use zdd_rollout::Command;

use crate::aws::types::{NewAsg, TAG_GENERATION, TAG_ROLLOUT};
use crate::aws::{AwsClients, AwsError};

pub async fn execute(aws: &AwsClients, command: &Command) -> Result<(), AwsError> {
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
            ..
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
        Command::DeleteAsg { asg, .. } => aws.delete_asg(asg).await,
        // TODO(#13, provider helper): the adapter calls.
        Command::PutScalingPolicy { .. }
        | Command::DeleteScalingPolicy { .. }
        | Command::SuspendProcesses { .. }
        | Command::ResumeProcesses { .. } => Err(AwsError::Unexpected {
            operation: "PutScalingPolicy",
            detail: "not built yet".into(),
        }),
    }
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
