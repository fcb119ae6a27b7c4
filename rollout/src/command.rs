//! Commands the engine asks the provider to run against AWS.
//!
//! # Guarantees every command gives
//! - **Idempotent**: safe to re-run after a crash or a lost response; running it twice has the
//!   effect of running it once. The adapter turns "already done" answers (`AlreadyExists`,
//!   "not attached", "not found") into success.
//! - **Absolute, not relative**: each carries the complete target value (`desired = 4`, not
//!   "+1"), so a re-run computed from a stale observation cannot overshoot.
//! - **May fail or land late**: the engine never assumes a command took effect; it re-issues a
//!   command whose effect it has not observed after a retry delay (or at once after
//!   [`crate::Rollout::command_failed`]). Cancelling one half-way is safe for the same reason.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::observation::ScalingProcess;
use crate::spec::{GroupHealthCheck, LaunchTemplateRef, LifecycleHook, TargetTracking};

/// One effectful operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// `CreateAutoScalingGroup` with a pinned launch template version, the given sizes, the
    /// target groups attached at creation (the ASG registers each instance when it enters
    /// service) and the tags (`zdd:rollout`, `zdd:generation`, user tags).
    ///
    /// Idempotency: the name is unique per generation. `AlreadyExists` is success. (Moto
    /// silently replaces a group of the same name: the adapter must check existence first.)
    CreateAsg {
        name: String,
        generation: u64,
        launch_template: LaunchTemplateRef,
        subnet_ids: Vec<String>,
        min_size: u32,
        max_size: u32,
        desired_capacity: u32,
        target_group_arns: Vec<String>,
        tags: BTreeMap<String, String>,
        /// `HealthCheckType`, `HealthCheckGracePeriod`, `DefaultInstanceWarmup`.
        #[serde(default)]
        health_check: GroupHealthCheck,
        /// `LifecycleHookSpecificationList`: the hooks exist before the first instance
        /// launches, so none escapes a launch or termination hook.
        #[serde(default)]
        lifecycle_hooks: Vec<LifecycleHook>,
    },
    /// `UpdateAutoScalingGroup` with absolute sizes. A lower desired capacity makes AWS
    /// deregister instances of its choice from the group's target groups, wait out the
    /// deregistration delay and only then terminate them (rolling retires old batches this
    /// way); the engine lowers it only while the targets left keep the capacity floor.
    SetCapacity {
        asg: String,
        min_size: u32,
        max_size: u32,
        desired_capacity: u32,
    },
    /// `AttachLoadBalancerTargetGroups`: AWS registers every InService instance. Attaching an
    /// attached group is a no-op.
    AttachTargetGroups {
        asg: String,
        target_group_arns: Vec<String>,
    },
    /// `DetachLoadBalancerTargetGroups`: AWS deregisters the group's instances, which then drain
    /// for the deregistration delay. Detaching a detached group is success.
    DetachTargetGroups {
        asg: String,
        target_group_arns: Vec<String>,
    },
    /// `ModifyListener` (default forward action) with these absolute weights.
    SetListenerWeights {
        listener_arn: String,
        weights: Vec<(String, u32)>,
    },
    /// `CreateOrUpdateTags` on an ASG (records a rollback decision in AWS, so a resumed apply
    /// continues it).
    TagAsg {
        asg: String,
        key: String,
        value: String,
    },
    /// `CreateOrUpdateTags` on an ASG with the phase record, in one call so a reader never
    /// sees one tag of a phase beside another of the previous one: [`crate::fleet::TAG_PHASE`]
    /// = `phase`, [`crate::fleet::TAG_PHASE_SINCE`] = `since` (Unix seconds),
    /// [`crate::fleet::TAG_FLOOR`] = `floor`. Information for readers only (see
    /// [`Command::is_informational`]).
    RecordPhase {
        asg: String,
        phase: String,
        since: u64,
        floor: u32,
    },
    /// `DeleteAutoScalingGroup`. With `force` (`ForceDelete = true`) AWS terminates the
    /// instances without draining and abandons their lifecycle actions, so the engine forces it
    /// only when no instance of the group is registered or draining in any target group, the
    /// drain time has passed and the fleet has no termination hook. Without `force` AWS refuses
    /// (`ResourceInUse`) while the group has instances: a group with a termination hook is
    /// scaled to zero first and deleted empty. A missing group is success.
    DeleteAsg {
        asg: String,
        #[serde(default = "force_by_default")]
        force: bool,
    },
    /// `PutScalingPolicy` (target tracking) on a group: creates or replaces the policy of that
    /// name, so a re-run is the same policy. `target_group_arn` is the target group an
    /// `ALBRequestCountPerTarget` policy counts requests in (its `ResourceLabel`).
    PutScalingPolicy {
        asg: String,
        policy: TargetTracking,
        target_group_arn: Option<String>,
    },
    /// `DeletePolicy`: a missing policy is success.
    DeleteScalingPolicy { asg: String, policy_name: String },
    /// `UpdateAutoScalingGroup` with the health check settings only (`HealthCheckType`,
    /// `HealthCheckGracePeriod`, `DefaultInstanceWarmup`; no warm-up removes one): AWS applies
    /// them to a live group, so a change of them needs no new generation. Absolute, so a
    /// re-run is the same update.
    SetHealthCheck {
        asg: String,
        health_check: GroupHealthCheck,
    },
    /// `PutLifecycleHook`: creates the hook or replaces the one of that name on a live group
    /// (a new generation gets its hooks at creation instead).
    PutLifecycleHook { asg: String, hook: LifecycleHook },
    /// `DeleteLifecycleHook`: AWS first completes the hook's outstanding actions (ABANDON for a
    /// launch, CONTINUE for a termination). A missing hook is success.
    DeleteLifecycleHook { asg: String, hook_name: String },
    /// `SuspendProcesses`: suspending a suspended process is a no-op.
    SuspendProcesses {
        asg: String,
        processes: Vec<ScalingProcess>,
    },
    /// `ResumeProcesses`: resuming a running process is a no-op.
    ResumeProcesses {
        asg: String,
        processes: Vec<ScalingProcess>,
    },
}

fn force_by_default() -> bool {
    true
}

fn process_names(processes: &[ScalingProcess]) -> String {
    let names: Vec<&str> = processes.iter().map(|p| p.as_aws_str()).collect();
    names.join(",")
}

impl Command {
    /// A stable key identifying "the same command" for retry pacing.
    pub fn key(&self) -> String {
        match self {
            Command::CreateAsg { name, .. } => format!("create:{name}"),
            Command::SetCapacity {
                asg,
                min_size,
                max_size,
                desired_capacity,
            } => format!("capacity:{asg}:{min_size}:{max_size}:{desired_capacity}"),
            Command::AttachTargetGroups {
                asg,
                target_group_arns,
            } => format!("attach:{asg}:{}", target_group_arns.join(",")),
            Command::DetachTargetGroups {
                asg,
                target_group_arns,
            } => format!("detach:{asg}:{}", target_group_arns.join(",")),
            Command::SetListenerWeights {
                listener_arn,
                weights,
            } => {
                let w: Vec<String> = weights.iter().map(|(g, w)| format!("{g}={w}")).collect();
                format!("weights:{listener_arn}:{}", w.join(","))
            }
            // The value is part of it: a later value (a capacity raised, a record cleared) is
            // a different command, not a retry of the earlier one.
            Command::TagAsg { asg, key, value } => format!("tag:{asg}:{key}={value}"),
            Command::RecordPhase {
                asg,
                phase,
                since,
                floor,
            } => format!("record:{asg}:{phase}:{since}:{floor}"),
            Command::DeleteAsg { asg, force } => format!("delete:{asg}:{force}"),
            Command::PutScalingPolicy { asg, policy, .. } => {
                format!("policy:{asg}:{}", policy.name)
            }
            Command::DeleteScalingPolicy { asg, policy_name } => {
                format!("delete-policy:{asg}:{policy_name}")
            }
            Command::SetHealthCheck { asg, health_check } => format!(
                "health-check:{asg}:{}:{}:{:?}",
                health_check.kind.as_aws_str(),
                health_check.grace_period.as_secs(),
                health_check.instance_warmup.map(|w| w.as_secs())
            ),
            Command::PutLifecycleHook { asg, hook } => format!(
                "hook:{asg}:{}:{}:{}:{}",
                hook.name,
                hook.transition.as_aws_str(),
                hook.heartbeat_timeout.as_secs(),
                hook.default_result.as_aws_str()
            ),
            Command::DeleteLifecycleHook { asg, hook_name } => {
                format!("delete-hook:{asg}:{hook_name}")
            }
            Command::SuspendProcesses { asg, processes } => {
                format!("suspend:{asg}:{}", process_names(processes))
            }
            Command::ResumeProcesses { asg, processes } => {
                format!("resume:{asg}:{}", process_names(processes))
            }
        }
    }

    /// A record for readers only (the phase record, [`Command::RecordPhase`]): the rollout neither waits for it nor
    /// acts on it, so a driver does not count its failure as AWS refusing the rollout, does
    /// not step again sooner because of it, and runs it from a terminal decision too (the
    /// final phase is recorded after the last step).
    pub fn is_informational(&self) -> bool {
        matches!(self, Command::RecordPhase { .. })
    }

    /// The tags a [`Command::RecordPhase`] writes, `(key, value)`; none for other commands.
    pub fn phase_record_tags(&self) -> Vec<(&'static str, String)> {
        match self {
            Command::RecordPhase {
                phase,
                since,
                floor,
                ..
            } => vec![
                (crate::fleet::TAG_PHASE, phase.clone()),
                (crate::fleet::TAG_PHASE_SINCE, since.to_string()),
                (crate::fleet::TAG_FLOOR, floor.to_string()),
            ],
            _ => Vec::new(),
        }
    }

    /// Number of AWS API calls the command costs (each is one call).
    pub fn api_calls(&self) -> u32 {
        1
    }

    /// A one-line description for the timeline.
    pub fn describe(&self) -> String {
        match self {
            Command::CreateAsg {
                name,
                launch_template,
                desired_capacity,
                target_group_arns,
                ..
            } => format!(
                "create {name} ({launch_template}, desired {desired_capacity}, {} target group(s))",
                target_group_arns.len()
            ),
            Command::SetCapacity {
                asg,
                min_size,
                max_size,
                desired_capacity,
            } => format!(
                "set {asg} capacity min {min_size} max {max_size} desired {desired_capacity}"
            ),
            Command::AttachTargetGroups {
                asg,
                target_group_arns,
            } => format!("attach {asg} to {}", target_group_arns.join(", ")),
            Command::DetachTargetGroups {
                asg,
                target_group_arns,
            } => format!("detach {asg} from {}", target_group_arns.join(", ")),
            Command::SetListenerWeights { weights, .. } => {
                let w: Vec<String> = weights.iter().map(|(g, w)| format!("{g}={w}")).collect();
                format!("set listener weights {}", w.join(" "))
            }
            Command::TagAsg { asg, key, value } => format!("tag {asg} {key}={value}"),
            Command::RecordPhase {
                asg,
                phase,
                since,
                floor,
            } => format!("record on {asg} phase {phase} since {since} floor {floor}"),
            Command::DeleteAsg { asg, force: true } => format!("delete {asg}"),
            Command::DeleteAsg { asg, force: false } => format!("delete {asg} (empty, no force)"),
            Command::PutScalingPolicy { asg, policy, .. } => {
                format!("put scaling policy {policy} on {asg}")
            }
            Command::DeleteScalingPolicy { asg, policy_name } => {
                format!("delete scaling policy {policy_name} of {asg}")
            }
            Command::SetHealthCheck { asg, health_check } => {
                let warmup = health_check
                    .instance_warmup
                    .map_or_else(|| "none".to_string(), |w| format!("{}s", w.as_secs()));
                format!(
                    "set {asg} health check {} grace {}s warm-up {warmup}",
                    health_check.kind.as_aws_str(),
                    health_check.grace_period.as_secs()
                )
            }
            Command::PutLifecycleHook { asg, hook } => format!(
                "put lifecycle hook {} on {asg} ({}, heartbeat {}s, default {})",
                hook.name,
                hook.transition.as_aws_str(),
                hook.heartbeat_timeout.as_secs(),
                hook.default_result.as_aws_str()
            ),
            Command::DeleteLifecycleHook { asg, hook_name } => {
                format!("delete lifecycle hook {hook_name} of {asg}")
            }
            Command::SuspendProcesses { asg, processes } => {
                format!("suspend {} on {asg}", process_names(processes))
            }
            Command::ResumeProcesses { asg, processes } => {
                format!("resume {} on {asg}", process_names(processes))
            }
        }
    }
}
