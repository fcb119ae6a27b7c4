//! The reads of `zdd-guard status`: a fleet's Auto Scaling groups, their target groups'
//! health and deregistration delay, the listeners forwarding to them, the groups' latest
//! scaling activities. Plain structs out ([`FleetSnapshot`]); read-only; every list call reads
//! all its pages. Endpoints come from the standard variables (`AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_AUTO_SCALING`, `AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2`), read by
//! aws-config.
//!
//! The work is bounded per look: one paginated DescribeAutoScalingGroups per name, one
//! DescribeScalingActivities page per group, DescribeTargetGroups in chunks, one
//! DescribeTargetGroupAttributes and one DescribeTargetHealth per target group, one paginated
//! DescribeListeners per load balancer.
//!
//! A group, target group or load balancer deleted between the call that listed it and the one
//! reading it further (the provider retiring the old generation mid-look) reads as gone (left
//! out of the look), never as an error.

use std::collections::{BTreeMap, BTreeSet};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_autoscaling::error::ProvideErrorMetadata;
use aws_sdk_autoscaling::types::Filter;
use aws_sdk_elasticloadbalancingv2::types::{ActionTypeEnum, Listener};

use super::{retry_config, timeout_config};
use crate::core::limits::AwsTimeouts;
use crate::core::status::snapshot::{
    ActivitySnapshot, FleetSnapshot, GroupSnapshot, InstanceSnapshot, ListenerSnapshot,
    TargetGroupSnapshot, TargetSnapshot,
};
use zdd_rollout::fleet::TAG_ROLLOUT;

/// Groups per DescribeAutoScalingGroups page (AWS's maximum).
const GROUPS_PER_PAGE: i32 = 100;
/// Scaling activities read per group: the newest ones, one page.
const ACTIVITIES_PER_GROUP: i32 = 5;
/// Target group ARNs per DescribeTargetGroups call (AWS accepts at most 20 names or ARNs).
const TARGET_GROUPS_PER_CALL: usize = 20;
/// Target groups per DescribeTargetGroups / listeners per DescribeListeners page.
const ELB_PAGE_SIZE: i32 = 400;

/// The SDK clients `status` reads with.
#[derive(Clone, Debug)]
pub struct FleetReader {
    autoscaling: aws_sdk_autoscaling::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    region: Option<String>,
}

impl FleetReader {
    /// Clients from the standard chain (environment, profile, instance role), `region` first,
    /// with the guard's timeouts and retries.
    pub async fn connect(region: Option<&str>, timeouts: &AwsTimeouts) -> anyhow::Result<Self> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeout_config(timeouts))
            .retry_config(retry_config());
        if let Some(region) = region {
            loader = loader.region(Region::new(region.to_string()));
        }
        let shared = loader.load().await;
        let region = shared.region().map(ToString::to_string);
        if region.is_none() {
            anyhow::bail!("no AWS region: pass --region or set AWS_REGION");
        }
        Ok(FleetReader {
            autoscaling: aws_sdk_autoscaling::Client::new(&shared),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&shared),
            region,
        })
    }

    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// Everything `status` shows about `name`, every owner's groups included.
    pub async fn read(&self, name: &str) -> anyhow::Result<FleetSnapshot> {
        let mut listed = self.groups(name).await?;
        let mut groups = Vec::with_capacity(listed.len());
        // A group deleted since it was listed (the provider retiring the old generation) is
        // gone, not an error: the next look no longer lists it.
        for mut group in listed.drain(..) {
            if let Some(activities) = self.activities(&group.name).await? {
                group.activities = activities;
                groups.push(group);
            }
        }
        let attached: BTreeSet<String> = groups
            .iter()
            .flat_map(|group| group.target_group_arns.iter().cloned())
            .collect();
        let mut target_groups = self.target_groups(&attached).await?;
        let load_balancers: BTreeSet<String> = target_groups
            .iter()
            .flat_map(|tg| tg.load_balancer_arns.iter().cloned())
            .collect();
        let mut listeners = Vec::new();
        for load_balancer in &load_balancers {
            listeners.extend(
                self.listeners(load_balancer)
                    .await?
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|listener| {
                        listener
                            .forwards
                            .iter()
                            .any(|(arn, _)| attached.contains(arn))
                    }),
            );
        }
        // A target group a listener forwards to that no group attaches to (a canary's group
        // after its generation left it) may still hold the fleet's draining targets.
        let forwarded: BTreeSet<String> = listeners
            .iter()
            .flat_map(|listener| listener.forwards.iter().map(|(arn, _)| arn.clone()))
            .filter(|arn| !attached.contains(arn))
            .collect();
        target_groups.extend(self.target_groups(&forwarded).await?);
        let mut read = Vec::with_capacity(target_groups.len());
        for mut tg in target_groups {
            if self.fill_target_group(&mut tg).await? {
                read.push(tg);
            }
        }
        let target_groups = read;
        Ok(FleetSnapshot {
            name: name.to_string(),
            groups,
            target_groups,
            listeners,
        })
    }

    /// Every group tagged `zdd:rollout = name` (exactly), all pages.
    async fn groups(&self, name: &str) -> anyhow::Result<Vec<GroupSnapshot>> {
        let mut groups = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let output = self
                .autoscaling
                .describe_auto_scaling_groups()
                .filters(
                    Filter::builder()
                        .name(format!("tag:{TAG_ROLLOUT}"))
                        .values(name)
                        .build(),
                )
                .max_records(GROUPS_PER_PAGE)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|e| aws_error("DescribeAutoScalingGroups", e))?;
            for group in output.auto_scaling_groups() {
                let tags: BTreeMap<String, String> = group
                    .tags()
                    .iter()
                    .filter_map(|tag| {
                        Some((
                            tag.key()?.to_string(),
                            tag.value().unwrap_or("").to_string(),
                        ))
                    })
                    .collect();
                if tags.get(TAG_ROLLOUT).map(String::as_str) != Some(name) {
                    continue;
                }
                groups.push(GroupSnapshot {
                    name: group.auto_scaling_group_name().unwrap_or("").to_string(),
                    tags,
                    min_size: group.min_size().unwrap_or(0),
                    max_size: group.max_size().unwrap_or(0),
                    desired_capacity: group.desired_capacity().unwrap_or(0),
                    instances: group
                        .instances()
                        .iter()
                        .map(|instance| InstanceSnapshot {
                            id: instance.instance_id().unwrap_or("").to_string(),
                            lifecycle_state: instance
                                .lifecycle_state()
                                .map_or("", |state| state.as_str())
                                .to_string(),
                            health_status: instance.health_status().unwrap_or("").to_string(),
                        })
                        .collect(),
                    target_group_arns: group.target_group_arns().to_vec(),
                    status: group.status().map(str::to_string),
                    activities: Vec::new(),
                });
            }
            match output.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
                _ => break,
            }
        }
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(groups)
    }

    /// The group's newest scaling activities (AWS lists them newest first); None when the
    /// group is gone (AWS answers a named group it does not know with `ValidationError`).
    async fn activities(&self, group: &str) -> anyhow::Result<Option<Vec<ActivitySnapshot>>> {
        let output = match self
            .autoscaling
            .describe_scaling_activities()
            .auto_scaling_group_name(group)
            .max_records(ACTIVITIES_PER_GROUP)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) if is_gone(&error, GROUP_GONE) => return Ok(None),
            Err(error) => return Err(aws_error("DescribeScalingActivities", error)),
        };
        Ok(Some(
            output
                .activities()
                .iter()
                .map(|activity| ActivitySnapshot {
                    start: activity.start_time().map(|time| time.secs()),
                    status: activity
                        .status_code()
                        .map_or("", |status| status.as_str())
                        .to_string(),
                    description: activity.description().unwrap_or("").to_string(),
                })
                .collect(),
        ))
    }

    /// The target groups `arns` (sorted by name), all pages.
    async fn target_groups(
        &self,
        arns: &BTreeSet<String>,
    ) -> anyhow::Result<Vec<TargetGroupSnapshot>> {
        let arns: Vec<String> = arns.iter().cloned().collect();
        let mut found = Vec::new();
        for chunk in arns.chunks(TARGET_GROUPS_PER_CALL) {
            match self.described_target_groups(chunk).await? {
                Some(described) => found.extend(described),
                // One of them is gone, and AWS refuses the whole call for it: one at a time,
                // leaving out the gone ones.
                None => {
                    for arn in chunk {
                        found.extend(
                            self.described_target_groups(std::slice::from_ref(arn))
                                .await?
                                .unwrap_or_default(),
                        );
                    }
                }
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.arn.cmp(&b.arn)));
        Ok(found)
    }

    /// DescribeTargetGroups of `arns`, all pages; None when AWS knows one of them no longer.
    async fn described_target_groups(
        &self,
        arns: &[String],
    ) -> anyhow::Result<Option<Vec<TargetGroupSnapshot>>> {
        let mut found = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let output = match self
                .elbv2
                .describe_target_groups()
                .set_target_group_arns(Some(arns.to_vec()))
                .page_size(ELB_PAGE_SIZE)
                .set_marker(marker.take())
                .send()
                .await
            {
                Ok(output) => output,
                Err(error) if is_gone(&error, ELB_GONE) => return Ok(None),
                Err(error) => return Err(aws_error("DescribeTargetGroups", error)),
            };
            found.extend(output.target_groups().iter().map(|tg| TargetGroupSnapshot {
                arn: tg.target_group_arn().unwrap_or("").to_string(),
                name: tg.target_group_name().unwrap_or("").to_string(),
                deregistration_delay: None,
                load_balancer_arns: tg.load_balancer_arns().to_vec(),
                targets: Vec::new(),
            }));
            match output.next_marker() {
                Some(next) if !next.is_empty() => marker = Some(next.to_string()),
                _ => break,
            }
        }
        Ok(Some(found))
    }

    /// Reads `tg`'s deregistration delay and targets; false when the target group is gone
    /// (deleted since it was listed).
    async fn fill_target_group(&self, tg: &mut TargetGroupSnapshot) -> anyhow::Result<bool> {
        let (Some(delay), Some(targets)) = (
            self.deregistration_delay(&tg.arn).await?,
            self.target_health(&tg.arn).await?,
        ) else {
            return Ok(false);
        };
        tg.deregistration_delay = delay;
        tg.targets = targets;
        Ok(true)
    }

    /// The attribute as AWS returned it (inner None: not returned); None when the target
    /// group is gone.
    async fn deregistration_delay(&self, arn: &str) -> anyhow::Result<Option<Option<String>>> {
        let output = match self
            .elbv2
            .describe_target_group_attributes()
            .target_group_arn(arn)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) if is_gone(&error, ELB_GONE) => return Ok(None),
            Err(error) => return Err(aws_error("DescribeTargetGroupAttributes", error)),
        };
        Ok(Some(
            output
                .attributes()
                .iter()
                .find(|attribute| attribute.key() == Some("deregistration_delay.timeout_seconds"))
                .and_then(|attribute| attribute.value())
                .map(str::to_string),
        ))
    }

    /// Every target of the group (DescribeTargetHealth is not paginated); None when the
    /// target group is gone.
    async fn target_health(&self, arn: &str) -> anyhow::Result<Option<Vec<TargetSnapshot>>> {
        let output = match self
            .elbv2
            .describe_target_health()
            .target_group_arn(arn)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) if is_gone(&error, ELB_GONE) => return Ok(None),
            Err(error) => return Err(aws_error("DescribeTargetHealth", error)),
        };
        let mut targets: Vec<TargetSnapshot> = output
            .target_health_descriptions()
            .iter()
            .filter_map(|description| {
                let health = description.target_health();
                Some(TargetSnapshot {
                    id: description.target()?.id()?.to_string(),
                    state: health
                        .and_then(|health| health.state())
                        .map_or("", |state| state.as_str())
                        .to_string(),
                    reason: health
                        .and_then(|health| health.reason())
                        .map(|reason| reason.as_str().to_string()),
                })
            })
            .collect();
        targets.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Some(targets))
    }

    /// The load balancer's listeners and their default forward actions, all pages; None
    /// when the load balancer is gone.
    async fn listeners(
        &self,
        load_balancer: &str,
    ) -> anyhow::Result<Option<Vec<ListenerSnapshot>>> {
        let mut listeners = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let output = self
                .elbv2
                .describe_listeners()
                .load_balancer_arn(load_balancer)
                .page_size(ELB_PAGE_SIZE)
                .set_marker(marker.take())
                .send()
                .await;
            let output = match output {
                Ok(output) => output,
                Err(error) if is_gone(&error, ELB_GONE) => return Ok(None),
                Err(error) => return Err(aws_error("DescribeListeners", error)),
            };
            listeners.extend(output.listeners().iter().map(listener_snapshot));
            match output.next_marker() {
                Some(next) if !next.is_empty() => marker = Some(next.to_string()),
                _ => break,
            }
        }
        listeners.sort_by(|a, b| a.port.cmp(&b.port).then_with(|| a.arn.cmp(&b.arn)));
        Ok(Some(listeners))
    }
}

fn listener_snapshot(listener: &Listener) -> ListenerSnapshot {
    let forwards = listener
        .default_actions()
        .iter()
        .filter(|action| action.r#type() == Some(&ActionTypeEnum::Forward))
        .flat_map(|action| match action.forward_config() {
            Some(forward) if !forward.target_groups().is_empty() => forward
                .target_groups()
                .iter()
                .filter_map(|tuple| {
                    Some((
                        tuple.target_group_arn()?.to_string(),
                        i64::from(tuple.weight().unwrap_or(1)),
                    ))
                })
                .collect::<Vec<_>>(),
            _ => action
                .target_group_arn()
                .map(|arn| vec![(arn.to_string(), 1)])
                .unwrap_or_default(),
        })
        .collect();
    ListenerSnapshot {
        arn: listener.listener_arn().unwrap_or("").to_string(),
        protocol: listener.protocol().map(|p| p.as_str().to_string()),
        port: listener.port(),
        forwards,
    }
}

/// What AWS answers a read of an Auto Scaling group it no longer knows by name.
const GROUP_GONE: &[&str] = &["ValidationError"];
/// What AWS answers a read of a target group or load balancer it no longer knows.
const ELB_GONE: &[&str] = &["TargetGroupNotFound", "LoadBalancerNotFound"];

/// The service answered with one of `codes`: the thing read, listed a moment before in the
/// same look, was deleted since.
fn is_gone<E, R>(error: &aws_sdk_autoscaling::error::SdkError<E, R>, codes: &[&str]) -> bool
where
    E: ProvideErrorMetadata,
{
    match error {
        aws_sdk_autoscaling::error::SdkError::ServiceError(service) => service
            .err()
            .code()
            .is_some_and(|code| codes.contains(&code)),
        _ => false,
    }
}

/// An SDK error as a readable message naming the call: the service's code and message, else
/// the transport's error chain.
fn aws_error<E, R>(action: &str, error: aws_sdk_autoscaling::error::SdkError<E, R>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let detail = match &error {
        aws_sdk_autoscaling::error::SdkError::ServiceError(service) => format!(
            "{}: {}",
            service.err().code().unwrap_or("ServiceError"),
            service.err().message().unwrap_or("(no message)")
        ),
        // The error chain's messages, without the SDK's Debug dump of the same chain.
        other => {
            let mut parts = vec![other.to_string()];
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                parts.push(cause.to_string());
                source = cause.source();
            }
            parts.join(": ")
        }
    };
    anyhow::anyhow!("{detail}").context(format!("AWS refused or did not answer {action}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_forward_is_one_group_at_weight_one_and_weights_are_kept() {
        use aws_sdk_elasticloadbalancingv2::types::{
            Action, ForwardActionConfig, TargetGroupTuple,
        };
        let plain = Listener::builder()
            .listener_arn("l")
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .target_group_arn("tg-a")
                    .build(),
            )
            .build();
        assert_eq!(listener_snapshot(&plain).forwards, vec![("tg-a".into(), 1)]);
        let weighted = Listener::builder()
            .listener_arn("l")
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .forward_config(
                        ForwardActionConfig::builder()
                            .target_groups(
                                TargetGroupTuple::builder()
                                    .target_group_arn("tg-a")
                                    .weight(3)
                                    .build(),
                            )
                            .target_groups(
                                TargetGroupTuple::builder()
                                    .target_group_arn("tg-b")
                                    .weight(1)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build();
        assert_eq!(
            listener_snapshot(&weighted).forwards,
            vec![("tg-a".into(), 3), ("tg-b".into(), 1)]
        );
        let redirect = Listener::builder()
            .default_actions(Action::builder().r#type(ActionTypeEnum::Redirect).build())
            .build();
        assert!(listener_snapshot(&redirect).forwards.is_empty());
    }
}
