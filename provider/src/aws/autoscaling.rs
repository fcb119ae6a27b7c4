//! Auto Scaling: one group per generation, tagged so that a rollout can be reconstructed
//! from AWS alone (invariant 6).

use std::collections::BTreeMap;

use aws_sdk_autoscaling::types::{
    AutoScalingGroup, Filter, LaunchTemplateSpecification, LifecycleHookSpecification, Tag,
};

use super::budget::TokenWait;
use super::clients::AwsClients;
use super::coalesce::Seal;
use super::error::AwsError;
use super::records::{RecordTags, Recorded};
use super::types::{
    AsgInfo, AsgInstance, NewAsg, RefreshedRollout, TAG_GENERATION, TAG_OWNER, TAG_ROLLOUT,
};

/// The most records `DescribeAutoScalingGroups` answers per page (AWS: default 50, max 100).
const MAX_RECORDS: i32 = 100;

impl AwsClients {
    /// Creates the Auto Scaling group for one generation, named `<rollout>-g<generation>` and
    /// tagged `zdd:rollout` / `zdd:generation` (plus the user's tags, propagated at launch),
    /// with its health check settings and its lifecycle hooks: AWS creates the hooks with the
    /// group (`LifecycleHookSpecificationList`), so no instance launches or terminates before
    /// them.
    ///
    /// # Idempotency
    /// Safe to re-run after a crash or cancel: if a group of that name already exists and
    /// carries the same `zdd:rollout` and `zdd:generation` tags, it is returned unchanged
    /// (its capacity is not reset). A group of that name that is not ours is a
    /// [`AwsError::Conflict`], never silently replaced. AWS's `AlreadyExists` (a racing
    /// creator) is resolved the same way.
    pub async fn create_asg(&self, spec: &NewAsg) -> Result<AsgInfo, AwsError> {
        let aws = self.for_command();
        let name = spec.name();
        if let Some(existing) = aws.describe_asg_for_command(&name).await? {
            return adopt_existing(spec, existing);
        }
        let launch_template = LaunchTemplateSpecification::builder()
            .launch_template_id(&spec.launch_template_id)
            .version(&spec.launch_template_version)
            .build();
        let tags = tags_for(spec);
        let created = aws
            .autoscaling("CreateAutoScalingGroup", |client| {
                let mut request = client
                    .create_auto_scaling_group()
                    .auto_scaling_group_name(&name)
                    .launch_template(launch_template)
                    .vpc_zone_identifier(spec.subnet_ids.join(","))
                    .min_size(spec.min_size)
                    .max_size(spec.max_size)
                    .desired_capacity(spec.desired_capacity)
                    .set_target_group_arns(
                        (!spec.target_group_arns.is_empty())
                            .then(|| spec.target_group_arns.clone()),
                    )
                    .health_check_type(&spec.health_check_type)
                    .health_check_grace_period(spec.health_check_grace_period)
                    .set_default_instance_warmup(spec.default_instance_warmup);
                for hook in &spec.lifecycle_hooks {
                    request = request.lifecycle_hook_specification_list(
                        LifecycleHookSpecification::builder()
                            .lifecycle_hook_name(&hook.name)
                            .lifecycle_transition(&hook.transition)
                            .heartbeat_timeout(hook.heartbeat_timeout)
                            .default_result(&hook.default_result)
                            .build(),
                    );
                }
                for (key, value) in &tags {
                    request = request.tags(
                        Tag::builder()
                            .resource_id(&name)
                            .resource_type("auto-scaling-group")
                            .key(key)
                            .value(value)
                            .propagate_at_launch(true)
                            .build(),
                    );
                }
                request.send()
            })
            .await;
        match created {
            // A racing creator: resolved below like a group found at the start.
            Ok(_) => {}
            Err(err) if err.code() == Some("AlreadyExists") => {}
            Err(err) => return Err(err),
        }
        match aws.describe_asg_for_command(&name).await? {
            Some(created) => adopt_existing(spec, created),
            None => Err(AwsError::Unexpected {
                operation: "CreateAutoScalingGroup",
                detail: format!("group {name} not visible after creation"),
            }),
        }
    }

    /// Sets min, max and desired capacity of a group.
    ///
    /// # Idempotency
    /// Absolute values: re-running sets the same capacity again.
    pub async fn set_capacity(
        &self,
        name: &str,
        min_size: i32,
        max_size: i32,
        desired_capacity: i32,
    ) -> Result<(), AwsError> {
        self.autoscaling("UpdateAutoScalingGroup", |client| {
            client
                .update_auto_scaling_group()
                .auto_scaling_group_name(name)
                .min_size(min_size)
                .max_size(max_size)
                .desired_capacity(desired_capacity)
                .send()
        })
        .await?;
        Ok(())
    }

    /// Attaches target groups to a group; its instances then register with them.
    ///
    /// # Idempotency
    /// Groups already attached are skipped (no call at all when every one is attached).
    pub async fn attach_target_groups(&self, name: &str, arns: &[String]) -> Result<(), AwsError> {
        let aws = self.for_command();
        let attached = aws.attached_target_groups(name).await?;
        let missing: Vec<String> = arns
            .iter()
            .filter(|arn| !attached.contains(arn))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        aws.autoscaling("AttachLoadBalancerTargetGroups", |client| {
            client
                .attach_load_balancer_target_groups()
                .auto_scaling_group_name(name)
                .set_target_group_arns(Some(missing))
                .send()
        })
        .await?;
        Ok(())
    }

    /// Detaches target groups from a group; AWS deregisters its instances, which then drain
    /// for the target group's deregistration delay.
    ///
    /// # Idempotency
    /// Groups not attached are skipped; detaching from a group that no longer exists is done.
    pub async fn detach_target_groups(&self, name: &str, arns: &[String]) -> Result<(), AwsError> {
        let aws = self.for_command();
        let attached = match aws.describe_asg_for_command(name).await? {
            Some(group) => group.target_group_arns,
            None => return Ok(()),
        };
        let present: Vec<String> = arns
            .iter()
            .filter(|arn| attached.contains(arn))
            .cloned()
            .collect();
        if present.is_empty() {
            return Ok(());
        }
        aws.autoscaling("DetachLoadBalancerTargetGroups", |client| {
            client
                .detach_load_balancer_target_groups()
                .auto_scaling_group_name(name)
                .set_target_group_arns(Some(present))
                .send()
        })
        .await?;
        Ok(())
    }

    /// One group by name; `None` when it does not exist.
    ///
    /// # Idempotency
    /// Read-only.
    pub async fn describe_asg(&self, name: &str) -> Result<Option<AsgInfo>, AwsError> {
        let output = self
            .autoscaling("DescribeAutoScalingGroups", |client| {
                client
                    .describe_auto_scaling_groups()
                    .auto_scaling_group_names(name)
                    .send()
            })
            .await?;
        Ok(output
            .auto_scaling_groups()
            .iter()
            .find(|group| group.auto_scaling_group_name() == Some(name))
            .map(asg_info))
    }

    /// [`AwsClients::describe_asg`] for a command's own read (before a create, an attach, a
    /// detach, a delete), coalesced ([`super::coalesce`]): the commands of many rollouts sent
    /// in the same tick (ten fleets creating their new groups at once, each reading its group
    /// before and after) share one `DescribeAutoScalingGroups` naming their groups, at most
    /// [`super::coalesce::ROLLOUTS_PER_CALL`] (AWS takes 50 names a call by default). Read one
    /// by one, twenty such reads at once emptied the budget's burst, and the fleets' next
    /// looks waited behind them.
    ///
    /// # Idempotency
    /// Read-only.
    async fn describe_asg_for_command(&self, name: &str) -> Result<Option<AsgInfo>, AwsError> {
        self.shared()
            .groups_by_name
            .get(name.to_string(), self.read_priority(), |batch, priority| {
                self.with_read_priority(priority)
                    .describe_groups_by_name(batch)
            })
            .await
    }

    /// The groups of `batch`'s names that exist, all pages; a name left out has no group.
    async fn describe_groups_by_name(
        self,
        batch: Seal<String>,
    ) -> Result<BTreeMap<String, Option<AsgInfo>>, AwsError> {
        let mut groups = BTreeMap::new();
        self.each_group_of(&batch, GroupQuery::Names, |group| {
            if batch.keys().binary_search(&group.name).is_ok() {
                groups.insert(group.name.clone(), Some(group));
            }
        })
        .await?;
        Ok(groups)
    }

    /// Every group `query` finds for `batch`'s keys, over all pages, each handed to `each`.
    /// The keys are read inside the request, after the budget admitted its first page (see
    /// [`Seal`]): callers that asked while it waited ride along.
    async fn each_group_of(
        &self,
        batch: &Seal<String>,
        query: GroupQuery,
        mut each: impl FnMut(AsgInfo),
    ) -> Result<(), AwsError> {
        let mut next_token: Option<String> = None;
        loop {
            let token = next_token.take();
            let output = self
                .autoscaling("DescribeAutoScalingGroups", |client| {
                    let request = client.describe_auto_scaling_groups();
                    let request = match query {
                        GroupQuery::Names => {
                            request.set_auto_scaling_group_names(Some(batch.keys().to_vec()))
                        }
                        GroupQuery::RolloutTags => request.filters(
                            Filter::builder()
                                .name(format!("tag:{TAG_ROLLOUT}"))
                                .set_values(Some(batch.keys().to_vec()))
                                .build(),
                        ),
                    };
                    request
                        .max_records(MAX_RECORDS)
                        .set_next_token(token)
                        .send()
                })
                .await?;
            output
                .auto_scaling_groups()
                .iter()
                .map(asg_info)
                .for_each(&mut each);
            match output.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
                _ => break,
            }
        }
        Ok(())
    }

    /// Every group tagged `zdd:rollout = <rollout>`, ordered by generation (untagged or
    /// unparsable generations last), all pages.
    ///
    /// Coalesced ([`super::coalesce`]): the rollouts asked for while one call gathers share a
    /// `DescribeAutoScalingGroups` whose tag filter names them all.
    ///
    /// # Idempotency
    /// Read-only.
    pub async fn describe_rollout_asgs(&self, rollout: &str) -> Result<Vec<AsgInfo>, AwsError> {
        self.shared()
            .rollout_groups
            .get(
                rollout.to_string(),
                self.read_priority(),
                |batch, priority| {
                    self.with_read_priority(priority)
                        .describe_groups_of_rollouts(batch)
                },
            )
            .await
    }

    /// [`AwsClients::describe_rollout_asgs`] with each live group's lifecycle hooks
    /// (`AsgInfo::lifecycle_hooks`; a group being deleted has `None`), for Terraform's Read.
    ///
    /// Coalesced apart from a rollout's looks: the rollouts asked for while one call gathers
    /// share a `DescribeAutoScalingGroups`, then every live group's `DescribeLifecycleHooks`
    /// (AWS has no batch form: one call per group) goes at once, and every member is answered
    /// when the last hooks are read. Terraform refreshes `-parallelism` resources at a time and
    /// starts the next as one ends: reads answered together end together, so the next wave
    /// starts together and shares its call too. Answered one by one, as the hooks' budget let
    /// them through, the next reads came in one at a time and each made its own call.
    ///
    /// A failed describe fails every member (none has its groups); a failed hooks read fails
    /// only the rollout whose group it was (AWS refusing that group's read, a permission boundary
    /// on it, say): the wave's other rollouts read everything they need.
    ///
    /// # Idempotency
    /// Read-only.
    pub async fn refresh_rollout_asgs(&self, rollout: &str) -> Result<Vec<AsgInfo>, AwsError> {
        let refreshed = self
            .shared()
            .refreshed_groups
            .get(
                rollout.to_string(),
                self.read_priority(),
                |batch, priority| {
                    let aws = self.with_read_priority(priority);
                    async move {
                        // The wave's one DescribeAutoScalingGroups: if it fails, no member has
                        // its groups, so its error is every member's.
                        let groups = aws.clone().describe_groups_of_rollouts(batch).await?;
                        Ok(aws.read_hooks_of_live_groups(groups).await)
                    }
                },
            )
            .await?;
        refreshed.0
    }

    /// Each rollout's groups with the hooks of every group not being deleted, all read at
    /// once. A hooks read that fails fails that rollout's answer only, with the first such
    /// error.
    async fn read_hooks_of_live_groups(
        &self,
        groups: BTreeMap<String, Vec<AsgInfo>>,
    ) -> BTreeMap<String, RefreshedRollout> {
        let mut reads = tokio::task::JoinSet::new();
        let mut reader_of = BTreeMap::new();
        for (rollout, list) in &groups {
            for (index, group) in list.iter().enumerate().filter(|(_, g)| !g.deleting) {
                let aws = self.clone();
                let name = group.name.clone();
                let task = reads.spawn(async move { (index, aws.lifecycle_hooks(&name).await) });
                reader_of.insert(task.id(), rollout.clone());
            }
        }
        let mut answers: BTreeMap<String, RefreshedRollout> = groups
            .into_iter()
            .map(|(rollout, list)| (rollout, RefreshedRollout(Ok(list))))
            .collect();
        while let Some(read) = reads.join_next_with_id().await {
            let (task, hooks) = match read {
                Ok((task, (index, hooks))) => (task, hooks.map(|hooks| (index, hooks))),
                Err(ended) => (
                    ended.id(),
                    Err(AwsError::Unexpected {
                        operation: "DescribeLifecycleHooks",
                        detail: format!("the read's task ended: {ended}"),
                    }),
                ),
            };
            let Some(answer) = reader_of
                .get(&task)
                .and_then(|rollout| answers.get_mut(rollout))
            else {
                continue;
            };
            match (&mut answer.0, hooks) {
                (Ok(list), Ok((index, hooks))) => {
                    if let Some(group) = list.get_mut(index) {
                        group.lifecycle_hooks = Some(hooks);
                    }
                }
                (Ok(_), Err(error)) => answer.0 = Err(error),
                // The rollout already failed: its first error stands.
                (Err(_), _) => {}
            }
        }
        answers
    }

    /// The groups of each rollout of `batch` (a filter value each), all pages, each rollout's
    /// ordered by generation; a rollout without groups is left out. The batch's keys are read
    /// once the budget admitted the first page (see [`Seal`]), so rollouts asked for while it
    /// waited ride along.
    async fn describe_groups_of_rollouts(
        self,
        batch: Seal<String>,
    ) -> Result<BTreeMap<String, Vec<AsgInfo>>, AwsError> {
        let mut groups: BTreeMap<String, Vec<AsgInfo>> = BTreeMap::new();
        self.each_group_of(&batch, GroupQuery::RolloutTags, |group| {
            // Filters are advisory on some endpoints: check the tag ourselves, and hand each
            // group only to the rollout its tag names exactly.
            let Some(rollout) = group.rollout.clone() else {
                return;
            };
            if batch.keys().binary_search(&rollout).is_ok() {
                groups.entry(rollout).or_default().push(group);
            }
        })
        .await?;
        for list in groups.values_mut() {
            list.sort_by_key(|group| (group.generation.is_none(), group.generation));
        }
        Ok(groups)
    }

    /// Deletes a group that no target group routes to any more.
    ///
    /// A group with instances must have no attached target groups left (detach first, then
    /// wait out the deregistration delay); otherwise this returns [`AwsError::NotDrained`]
    /// without calling AWS. A group without instances (a rolling update scaled it to zero,
    /// each instance drained by AWS's scale-in) routes nothing, attached or not.
    ///
    /// With `force`, `ForceDelete` is used when instances remain in a detached group: AWS
    /// refuses to delete a populated group without it, and it terminates without draining and
    /// abandons outstanding lifecycle actions, which is safe only because the caller (the
    /// engine) has observed that none of these instances is registered or draining in any
    /// target group and that the fleet has no termination hook. Without `force` the group must
    /// be empty: while it lists any instance (one waiting in `Terminating:Wait` included) this
    /// returns [`AwsError::NotDrained`] without calling AWS, and AWS's own `ResourceInUse` (an
    /// instance it lists that the description missed) is answered the same way.
    ///
    /// # Idempotency
    /// A group that no longer exists (or is already being deleted) counts as deleted.
    pub async fn delete_asg(&self, name: &str, force: bool) -> Result<(), AwsError> {
        let aws = self.for_command();
        let Some(group) = aws.describe_asg_for_command(name).await? else {
            return Ok(());
        };
        if group.deleting {
            return Ok(());
        }
        if !group.target_group_arns.is_empty() && !group.instances.is_empty() {
            return Err(AwsError::NotDrained {
                name: name.to_string(),
                detail: format!(
                    "still attached to {} target group(s): {}",
                    group.target_group_arns.len(),
                    group.target_group_arns.join(", ")
                ),
            });
        }
        if !force && !group.instances.is_empty() {
            return Err(not_empty(name, &group));
        }
        let force_delete = force && !group.instances.is_empty();
        match aws
            .autoscaling("DeleteAutoScalingGroup", |client| {
                client
                    .delete_auto_scaling_group()
                    .auto_scaling_group_name(name)
                    .force_delete(force_delete)
                    .send()
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => {
                if is_not_found(&err) {
                    Ok(())
                } else if err.code() == Some("ResourceInUse") && !force {
                    Err(not_empty(name, &group))
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Sets one tag on a group (not propagated to instances), e.g. a rollback decision a
    /// resumed apply must see.
    ///
    /// # Idempotency
    /// `CreateOrUpdateTags` overwrites: re-running sets the same value.
    pub async fn tag_asg(&self, name: &str, key: &str, value: &str) -> Result<(), AwsError> {
        self.tag_asg_with(name, &[(key, value)]).await
    }

    /// Idempotent: `CreateOrUpdateTags` with several tags in one call (one request, so a
    /// reader sees all of them or none: the phase record).
    pub async fn tag_asg_with(&self, name: &str, tags: &[(&str, &str)]) -> Result<(), AwsError> {
        let tags = group_tags(name, tags);
        self.autoscaling("CreateOrUpdateTags", |client| {
            client.create_or_update_tags().set_tags(Some(tags)).send()
        })
        .await?;
        Ok(())
    }

    /// Writes a phase record (`tags`, all in one request) on group `name`, in a
    /// `CreateOrUpdateTags` shared with the records of other rollouts asked for meanwhile
    /// ([`super::records`]). `wait` says how the call takes its token: a record made only if a
    /// token is free now, so that fleets sharing the budget never wait for each other's
    /// records ([`TokenWait::IfFreeNow`]: [`Recorded::NotMade`] otherwise, and the caller
    /// writes it again later), or the final record, which queues for it.
    ///
    /// # Idempotency
    /// `CreateOrUpdateTags` overwrites: re-running sets the same values.
    pub async fn record_phase(&self, name: &str, tags: RecordTags, wait: TokenWait) -> Recorded {
        let aws = self.for_command();
        self.shared()
            .records
            .record(
                name,
                tags,
                wait,
                |wait| aws.admit_autoscaling("CreateOrUpdateTags", wait),
                |admitted, records| {
                    let tags: Vec<Tag> = records
                        .iter()
                        .flat_map(|(group, tags)| {
                            let tags: Vec<(&str, &str)> = tags
                                .iter()
                                .map(|(key, value)| (key.as_str(), value.as_str()))
                                .collect();
                            group_tags(group, &tags)
                        })
                        .collect();
                    let aws = aws.clone();
                    async move {
                        aws.autoscaling_admitted(admitted, |client| {
                            client
                                .create_or_update_tags()
                                .set_tags(Some(tags))
                                .customize()
                                .config_override(record_attempts())
                                .send()
                        })
                        .await
                        .map(|_| ())
                    }
                },
            )
            .await
    }

    async fn attached_target_groups(&self, name: &str) -> Result<Vec<String>, AwsError> {
        match self.describe_asg_for_command(name).await? {
            Some(group) => Ok(group.target_group_arns),
            None => Err(AwsError::NotFound {
                what: format!("Auto Scaling group {name}"),
            }),
        }
    }
}

/// A phase record's call is made once, not retried by the SDK: a record not made is written
/// again at the rollout's next step anyway, while a retry's backoff would hold the loop of
/// every rollout whose record shares the call (a group that is gone makes the local AWS
/// answer 500, which the SDK retries as transient).
fn record_attempts() -> aws_sdk_autoscaling::config::Builder {
    aws_sdk_autoscaling::config::Builder::default()
        .retry_config(aws_sdk_autoscaling::config::retry::RetryConfig::disabled())
}

/// How a coalesced `DescribeAutoScalingGroups` names its batch's keys.
#[derive(Debug, Clone, Copy)]
enum GroupQuery {
    /// The keys are group names (`AutoScalingGroupNames`).
    Names,
    /// The keys are rollout names, matched by the `zdd:rollout` tag filter.
    RolloutTags,
}

/// `tags` as `CreateOrUpdateTags` takes them for group `name` (not propagated to instances).
fn group_tags(name: &str, tags: &[(&str, &str)]) -> Vec<Tag> {
    tags.iter()
        .map(|(key, value)| {
            Tag::builder()
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .key(*key)
                .value(*value)
                .propagate_at_launch(false)
                .build()
        })
        .collect()
}

/// A group that must empty before it is deleted without force (its termination hooks pass).
fn not_empty(name: &str, group: &AsgInfo) -> AwsError {
    let waiting = group
        .instances
        .iter()
        .filter(|instance| instance.lifecycle_state.ends_with(":Wait"))
        .count();
    AwsError::NotDrained {
        name: name.to_string(),
        detail: format!(
            "{} instance(s) left ({waiting} held by a lifecycle hook); deleted once empty",
            group.instances.len()
        ),
    }
}

/// AWS answers a missing group or instance with a `ValidationError` whose message says
/// "not found" (or, for instances, "Instance Id not found").
pub(super) fn is_not_found(err: &AwsError) -> bool {
    match err {
        AwsError::Api { code, message, .. } => {
            code == "ValidationError" && message.to_ascii_lowercase().contains("not found")
        }
        _ => false,
    }
}

/// The tags a generation carries: the user's, then ours (ours win on a clash). The owner
/// (`zdd:owner`) comes from the engine with the other tags and is kept.
fn tags_for(spec: &NewAsg) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = spec
        .tags
        .iter()
        .filter(|(key, _)| !zdd_rollout::fleet::is_reserved_tag(key) || key.as_str() == TAG_OWNER)
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    tags.insert(TAG_ROLLOUT.to_string(), spec.rollout.clone());
    tags.insert(TAG_GENERATION.to_string(), spec.generation.to_string());
    tags
}

/// A group of the same name is ours only when its name, generation and owner tags say so:
/// another fleet's group of the same name (a second state using the same `name`) is never
/// adopted.
fn adopt_existing(spec: &NewAsg, existing: AsgInfo) -> Result<AsgInfo, AwsError> {
    let owner = spec.tags.get(TAG_OWNER).map(String::as_str);
    if existing.rollout.as_deref() == Some(spec.rollout.as_str())
        && existing.generation == Some(spec.generation)
        && existing.owner() == owner
    {
        Ok(existing)
    } else {
        Err(AwsError::Conflict {
            what: format!("Auto Scaling group {}", existing.name),
            rollout: spec.rollout.clone(),
            detail: format!(
                "its tags say rollout {:?}, generation {:?}, owner {:?}",
                existing.rollout,
                existing.generation,
                existing.owner()
            ),
        })
    }
}

fn asg_info(group: &AutoScalingGroup) -> AsgInfo {
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
    let launch_template = group.launch_template();
    AsgInfo {
        name: group.auto_scaling_group_name().unwrap_or("").to_string(),
        rollout: tags.get(TAG_ROLLOUT).cloned(),
        generation: tags
            .get(TAG_GENERATION)
            .and_then(|value| value.parse().ok()),
        launch_template_id: launch_template
            .and_then(|template| template.launch_template_id())
            .map(str::to_string),
        launch_template_version: launch_template
            .and_then(|template| template.version())
            .map(str::to_string),
        subnet_ids: group
            .vpc_zone_identifier()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|subnet| !subnet.is_empty())
            .map(str::to_string)
            .collect(),
        min_size: group.min_size().unwrap_or(0),
        max_size: group.max_size().unwrap_or(0),
        desired_capacity: group.desired_capacity().unwrap_or(0),
        target_group_arns: group.target_group_arns().to_vec(),
        instances: group
            .instances()
            .iter()
            .map(|instance| AsgInstance {
                instance_id: instance.instance_id().unwrap_or("").to_string(),
                lifecycle_state: instance
                    .lifecycle_state()
                    .map(|state| state.as_str().to_string())
                    .unwrap_or_default(),
                health_status: instance.health_status().unwrap_or("").to_string(),
            })
            .collect(),
        tags,
        deleting: group
            .status()
            .is_some_and(|status| status.to_ascii_lowercase().contains("delete")),
        suspended_processes: group
            .suspended_processes()
            .iter()
            .filter_map(|process| process.process_name().map(str::to_string))
            .collect(),
        health_check_type: group.health_check_type().map(str::to_string),
        health_check_grace_period: group.health_check_grace_period(),
        default_instance_warmup: group
            .default_instance_warmup()
            .filter(|seconds| *seconds >= 0),
        lifecycle_hooks: None,
    }
}
