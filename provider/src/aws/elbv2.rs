//! Elastic Load Balancing v2: target health (the only health that counts for invariants 1
//! and 2), target group timings, and the weighted listener a canary steps through.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, Listener, TargetGroupTuple,
};

use super::clients::AwsClients;
use super::coalesce::Seal;
use super::error::AwsError;
use super::types::{ListenerWeights, TargetGroupTiming, TargetHealth, TargetState};

/// AWS's default when the attribute is absent.
const DEFAULT_DEREGISTRATION_DELAY: Duration = Duration::from_secs(300);

impl AwsClients {
    /// Every target registered with a target group and its health as the load balancer
    /// sees it (including `draining` targets).
    ///
    /// # Idempotency
    /// Read-only.
    pub async fn target_health(
        &self,
        target_group_arn: &str,
    ) -> Result<Vec<TargetHealth>, AwsError> {
        self.shared()
            .target_health
            .get(
                target_group_arn.to_string(),
                self.read_priority(),
                |batch, priority| {
                    self.with_read_priority(priority)
                        .describe_target_health(batch)
                },
            )
            .await
    }

    /// The targets of each target group of `batch`, one `DescribeTargetHealth` each (the API
    /// takes one target group and answers every target at once: it has no pages). Each ARN
    /// is read once the budget admitted its call (see [`Seal`]).
    async fn describe_target_health(
        self,
        batch: Seal<String>,
    ) -> Result<BTreeMap<String, Vec<TargetHealth>>, AwsError> {
        let mut answers = BTreeMap::new();
        let mut index = 0;
        loop {
            let Some((arn, targets)) = self.target_health_of(&batch, index).await? else {
                break;
            };
            answers.insert(arn, targets);
            index += 1;
        }
        Ok(answers)
    }

    /// The targets of the `index`th target group of `batch`, and its ARN; `None` past the
    /// last (a batch may be empty only if every caller left).
    async fn target_health_of(
        &self,
        batch: &Seal<String>,
        index: usize,
    ) -> Result<Option<(String, Vec<TargetHealth>)>, AwsError> {
        // A batch's keys are known once its first call is admitted; the later ones' are too.
        if index > 0 && batch.keys().get(index).is_none() {
            return Ok(None);
        }
        let mut arn = None;
        let output = self
            .elbv2("DescribeTargetHealth", |client| {
                arn = batch.keys().get(index).cloned();
                client
                    .describe_target_health()
                    .set_target_group_arn(arn.clone())
                    .send()
            })
            .await;
        let Some(arn) = arn else {
            return Ok(None);
        };
        let output = output?;
        let targets = output
            .target_health_descriptions()
            .iter()
            .filter_map(|description| {
                let target = description.target()?;
                let health = description.target_health();
                Some(TargetHealth {
                    target_id: target.id()?.to_string(),
                    port: target.port(),
                    state: health
                        .and_then(|health| health.state())
                        .map_or(TargetState::Other(String::new()), |state| {
                            TargetState::parse(state.as_str())
                        }),
                    reason: health
                        .and_then(|health| health.reason())
                        .map(|reason| reason.as_str().to_string()),
                    description: health
                        .and_then(|health| health.description())
                        .map(str::to_string),
                })
            })
            .collect();
        Ok(Some((arn, targets)))
    }

    /// The deregistration delay, health-check interval and healthy threshold of a target
    /// group: what the rollout's waits are computed from.
    ///
    /// # Idempotency
    /// Read-only.
    pub async fn target_group_timing(
        &self,
        target_group_arn: &str,
    ) -> Result<TargetGroupTiming, AwsError> {
        let groups = self
            .elbv2("DescribeTargetGroups", |client| {
                client
                    .describe_target_groups()
                    .target_group_arns(target_group_arn)
                    .send()
            })
            .await?;
        let group = groups
            .target_groups()
            .iter()
            .find(|group| group.target_group_arn() == Some(target_group_arn))
            .ok_or_else(|| AwsError::NotFound {
                what: format!("target group {target_group_arn}"),
            })?;
        let attributes = self
            .elbv2("DescribeTargetGroupAttributes", |client| {
                client
                    .describe_target_group_attributes()
                    .target_group_arn(target_group_arn)
                    .send()
            })
            .await?;
        let deregistration_delay = attributes
            .attributes()
            .iter()
            .find(|attribute| attribute.key() == Some("deregistration_delay.timeout_seconds"))
            .and_then(|attribute| attribute.value())
            .and_then(|value| value.parse::<u64>().ok())
            .map_or(DEFAULT_DEREGISTRATION_DELAY, Duration::from_secs);
        Ok(TargetGroupTiming {
            target_group_arn: target_group_arn.to_string(),
            name: group.target_group_name().unwrap_or("").to_string(),
            deregistration_delay,
            health_check_interval: Duration::from_secs(
                u64::try_from(group.health_check_interval_seconds().unwrap_or(30)).unwrap_or(30),
            ),
            healthy_threshold: u32::try_from(group.healthy_threshold_count().unwrap_or(5))
                .unwrap_or(5),
            load_balancer_arns: group.load_balancer_arns().to_vec(),
        })
    }

    /// The target groups and weights of a listener's forward default action. A plain
    /// forward to one group reads as that group at weight 1.
    ///
    /// # Idempotency
    /// Read-only.
    pub async fn listener_weights(&self, listener_arn: &str) -> Result<ListenerWeights, AwsError> {
        let listener = self.describe_listener(listener_arn).await?;
        let action = forward_action(&listener, listener_arn)?;
        let weights = match action.forward_config() {
            Some(forward) if !forward.target_groups().is_empty() => forward
                .target_groups()
                .iter()
                .filter_map(|tuple| {
                    let arn = tuple.target_group_arn()?.to_string();
                    let weight = u32::try_from(tuple.weight().unwrap_or(1)).unwrap_or(0);
                    Some((arn, weight))
                })
                .collect(),
            _ => action
                .target_group_arn()
                .map(|arn| vec![(arn.to_string(), 1)])
                .unwrap_or_default(),
        };
        Ok(ListenerWeights {
            listener_arn: listener_arn.to_string(),
            weights,
        })
    }

    /// Replaces the listener's forward default action with these weights (keeping its
    /// stickiness configuration). The listener's default action must be a single forward.
    ///
    /// # Idempotency
    /// Absolute weights: re-running sets the same split again.
    pub async fn set_listener_weights(
        &self,
        listener_arn: &str,
        weights: &[(String, u32)],
    ) -> Result<(), AwsError> {
        let aws = self.for_command();
        let listener = aws.describe_listener(listener_arn).await?;
        let current = forward_action(&listener, listener_arn)?;
        let stickiness = current
            .forward_config()
            .and_then(|forward| forward.target_group_stickiness_config())
            .cloned();
        let mut forward =
            ForwardActionConfig::builder().set_target_group_stickiness_config(stickiness);
        for (arn, weight) in weights {
            forward = forward.target_groups(
                TargetGroupTuple::builder()
                    .target_group_arn(arn)
                    .weight(i32::try_from(*weight).unwrap_or(i32::MAX))
                    .build(),
            );
        }
        let action = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .set_order(current.order())
            .forward_config(forward.build())
            .build();
        aws.elbv2("ModifyListener", |client| {
            client
                .modify_listener()
                .listener_arn(listener_arn)
                .default_actions(action)
                .send()
        })
        .await?;
        Ok(())
    }

    async fn describe_listener(&self, listener_arn: &str) -> Result<Listener, AwsError> {
        let output = self
            .elbv2("DescribeListeners", |client| {
                client
                    .describe_listeners()
                    .listener_arns(listener_arn)
                    .send()
            })
            .await?;
        output
            .listeners()
            .iter()
            .find(|listener| listener.listener_arn() == Some(listener_arn))
            .cloned()
            .ok_or_else(|| AwsError::NotFound {
                what: format!("listener {listener_arn}"),
            })
    }
}

fn forward_action<'a>(listener: &'a Listener, listener_arn: &str) -> Result<&'a Action, AwsError> {
    match listener.default_actions() {
        [action] if action.r#type() == Some(&ActionTypeEnum::Forward) => Ok(action),
        actions => Err(AwsError::Unexpected {
            operation: "DescribeListeners",
            detail: format!(
                "listener {listener_arn} must have exactly one forward default action for a canary, found {:?}",
                actions
                    .iter()
                    .map(|action| action.r#type().map_or("?", |kind| kind.as_str()))
                    .collect::<Vec<_>>()
            ),
        }),
    }
}
