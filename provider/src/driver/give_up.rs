//! Giving up on AWS errors that do not go away (expired credentials, a missing permission, a
//! request AWS will always refuse), decided by a pure policy.
//!
//! The driver reports every turn of its loop (one observation and the commands of the step it
//! fed) as a [`Turn`]. After [`GIVE_UP_AFTER`] refused turns in a row, spanning at least
//! [`GIVE_UP_WINDOW`] (a permission just granted takes a few seconds to propagate in IAM), the
//! policy answers [`Verdict::RollBack`]: the driver aborts the rollout into its rollback
//! (`Rollout::abort`), which needs other calls and may still be allowed. If the rollback (or,
//! past the point of no return, the rest of the rollout) is refused the same way, the answer
//! is [`Verdict::Stop`]: the run ends with a diagnostic naming each group as last observed,
//! and the next apply resumes. A clean turn resets the count; a turn with transient errors
//! only (throttling, timeouts) neither counts nor resets.

use std::time::Duration;

use zdd_rollout::observation::{AsgObservation, LifecycleState, Observation};

/// Refused turns in a row before giving up (on the rollout, then on its rollback).
pub const GIVE_UP_AFTER: u32 = 5;
/// The least time the refused turns must span before giving up.
pub const GIVE_UP_WINDOW: Duration = Duration::from_secs(10);

/// What one turn of the driver's loop saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// The observation and every command went through (or only waited on AWS to settle).
    Clean,
    /// Only transient errors (throttling, timeouts, 5xx): no evidence either way.
    Transient,
    /// AWS refused a call with an error that will not go away by itself.
    Refused { error: String },
}

/// What the driver must do after a turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    KeepGoing,
    /// Give up on the rollout: abort it into its rollback, and keep stepping that.
    RollBack {
        reason: String,
    },
    /// Give up for good: stop the run.
    Stop {
        reason: String,
    },
}

/// The policy's memory: the current streak of refused turns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GiveUp {
    streak: u32,
    /// When the streak's first refused turn happened (time since the run started).
    first_at: Option<Duration>,
    /// The rollout was given up on once already: the next give-up stops the run.
    rolled_back: bool,
}

impl GiveUp {
    /// Records a turn that ended `at` (time since the run started) and decides.
    pub fn record(&mut self, turn: &Turn, at: Duration) -> Verdict {
        let error = match turn {
            Turn::Clean => {
                self.streak = 0;
                self.first_at = None;
                return Verdict::KeepGoing;
            }
            Turn::Transient => return Verdict::KeepGoing,
            Turn::Refused { error } => error,
        };
        self.streak += 1;
        let first = *self.first_at.get_or_insert(at);
        let span = at.saturating_sub(first);
        if self.streak < GIVE_UP_AFTER || span < GIVE_UP_WINDOW {
            return Verdict::KeepGoing;
        }
        let reason = format!(
            "{} refused turns in a row over {}s, last: {error}",
            self.streak,
            span.as_secs()
        );
        self.streak = 0;
        self.first_at = None;
        if self.rolled_back {
            Verdict::Stop { reason }
        } else {
            self.rolled_back = true;
            Verdict::RollBack { reason }
        }
    }

    /// The rollout was given up on (the next give-up stops the run).
    pub fn gave_up(&self) -> bool {
        self.rolled_back
    }
}

/// Each Auto Scaling group of the fleet as `observation` shows it, one line each: its
/// generation, launch template version, sizes, instances by lifecycle state, and the target
/// groups it is attached to with its targets' health there.
pub fn describe_groups(observation: &Observation) -> Vec<String> {
    let mut groups: Vec<&AsgObservation> = observation.asgs.iter().collect();
    groups.sort_by_key(|asg| (asg.generation(), asg.name.clone()));
    groups
        .into_iter()
        .map(|asg| describe_group(observation, asg))
        .collect()
}

fn describe_group(observation: &Observation, asg: &AsgObservation) -> String {
    let generation = asg
        .generation()
        .map_or("no generation tag".to_string(), |g| {
            format!("generation {g}")
        });
    let version = asg.launch_template.as_ref().map_or(String::new(), |lt| {
        format!(", launch template version {}", lt.version)
    });
    let instances = if asg.instances.is_empty() {
        "no instances".to_string()
    } else {
        let lifecycles = tally(asg.instances.iter().map(|i| lifecycle_name(i.lifecycle)));
        format!("{} instance(s): {lifecycles}", asg.instances.len())
    };
    let attached = if asg.target_group_arns.is_empty() {
        "attached to no target group".to_string()
    } else {
        let parts: Vec<String> = asg
            .target_group_arns
            .iter()
            .map(|arn| attached_group(observation, asg, arn))
            .collect();
        format!("attached to {}", parts.join(", "))
    };
    let mut line = format!(
        "{} ({generation}{version}): desired {} (min {}, max {}), {instances}, {attached}",
        asg.name, asg.desired_capacity, asg.min_size, asg.max_size
    );
    if let Some(reason) = asg.rollback_reason() {
        line.push_str(&format!(", being rolled back ({reason})"));
    }
    if let Some(status) = &asg.status {
        line.push_str(&format!(", {status}"));
    }
    line
}

/// `app-blue (2 healthy, 1 initial)`: the group's own instances' targets there.
fn attached_group(observation: &Observation, asg: &AsgObservation, arn: &str) -> String {
    let Some(group) = observation.target_groups.iter().find(|g| g.arn == arn) else {
        return arn.to_string();
    };
    if asg.instances.is_empty() {
        return group.name.clone();
    }
    let states = tally(asg.instances.iter().map(|instance| {
        group
            .health_of(&instance.id)
            .map_or("not registered", |target| target.state.as_str())
    }));
    format!("{} ({states})", group.name)
}

/// `2 InService, 1 Pending`: how often each name occurs, in order of first occurrence.
fn tally(names: impl Iterator<Item = &'static str>) -> String {
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for name in names {
        match counts.iter_mut().find(|(known, _)| *known == name) {
            Some((_, count)) => *count += 1,
            None => counts.push((name, 1)),
        }
    }
    counts
        .iter()
        .map(|(name, count)| format!("{count} {name}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn lifecycle_name(state: LifecycleState) -> &'static str {
    match state {
        LifecycleState::Pending => "Pending",
        LifecycleState::InService => "InService",
        LifecycleState::Terminating => "Terminating",
        LifecycleState::Terminated => "Terminated",
        LifecycleState::Other => "other",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use zdd_rollout::observation::{
        InstanceObservation, TargetGroupObservation, TargetObservation, TargetState,
    };
    use zdd_rollout::spec::LaunchTemplateRef;

    use super::*;

    fn refused() -> Turn {
        Turn::Refused {
            error: "SetDesiredCapacity failed: AccessDenied: not authorized".into(),
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// Feeds `turns` one second apart from `start`; returns the verdicts that were not
    /// `KeepGoing`, with the second they came at.
    fn feed(policy: &mut GiveUp, start: u64, turns: &[Turn]) -> Vec<(u64, Verdict)> {
        turns
            .iter()
            .enumerate()
            .filter_map(|(i, turn)| {
                let at = start + i as u64;
                match policy.record(turn, secs(at)) {
                    Verdict::KeepGoing => None,
                    verdict => Some((at, verdict)),
                }
            })
            .collect()
    }

    #[test]
    fn five_refusals_over_ten_seconds_roll_back_then_five_more_stop() {
        let mut policy = GiveUp::default();
        let verdicts = feed(&mut policy, 0, &vec![refused(); 30]);
        assert_eq!(verdicts.len(), 2, "{verdicts:?}");
        // The fifth refusal comes at 4 s: the window holds the decision until 10 s.
        assert_eq!(verdicts[0].0, 10);
        assert!(
            matches!(&verdicts[0].1, Verdict::RollBack { reason } if reason.contains("11 refused turns") && reason.contains("AccessDenied")),
            "{verdicts:?}"
        );
        assert_eq!(
            verdicts[1].0, 21,
            "a fresh streak and window for the rollback"
        );
        assert!(
            matches!(&verdicts[1].1, Verdict::Stop { .. }),
            "{verdicts:?}"
        );
        assert!(policy.gave_up());
    }

    #[test]
    fn refusals_spread_over_a_long_time_still_need_five_in_a_row() {
        let mut policy = GiveUp::default();
        for at in [0, 60, 120, 180] {
            assert_eq!(policy.record(&refused(), secs(at)), Verdict::KeepGoing);
        }
        assert!(matches!(
            policy.record(&refused(), secs(240)),
            Verdict::RollBack { .. }
        ));
    }

    #[test]
    fn a_clean_turn_resets_the_streak_and_transient_turns_do_not() {
        let mut policy = GiveUp::default();
        let mut turns = vec![refused(); 4];
        turns.push(Turn::Clean);
        turns.extend(vec![refused(); 4]);
        assert!(feed(&mut policy, 0, &turns).is_empty());
        // Throttling between refusals neither counts nor forgives.
        let mut policy = GiveUp::default();
        let turns: Vec<Turn> = (0..20)
            .map(|i| {
                if i % 2 == 0 {
                    refused()
                } else {
                    Turn::Transient
                }
            })
            .collect();
        let verdicts = feed(&mut policy, 0, &turns);
        assert_eq!(verdicts.len(), 1, "{verdicts:?}");
        assert_eq!(verdicts[0].0, 10);
    }

    #[test]
    fn only_transient_errors_never_give_up() {
        let mut policy = GiveUp::default();
        assert!(feed(&mut policy, 0, &vec![Turn::Transient; 1000]).is_empty());
        assert!(!policy.gave_up());
    }

    fn asg(
        generation: u64,
        instances: &[(&str, LifecycleState)],
        attached: &[&str],
    ) -> AsgObservation {
        AsgObservation {
            name: format!("web-g{generation}"),
            tags: BTreeMap::from([("zdd:generation".to_string(), generation.to_string())]),
            launch_template: Some(LaunchTemplateRef {
                id: "lt-1".into(),
                version: generation + 5,
            }),
            subnet_ids: vec!["subnet-a".into()],
            min_size: 1,
            max_size: 4,
            desired_capacity: 2,
            target_group_arns: attached.iter().map(|a| (*a).to_string()).collect(),
            instances: instances
                .iter()
                .map(|(id, lifecycle)| InstanceObservation {
                    id: (*id).to_string(),
                    lifecycle: *lifecycle,
                    hook_wait: false,
                })
                .collect(),
            status: None,
            suspended_processes: Vec::new(),
            scaling_policies: Vec::new(),
            health_check: None,
            lifecycle_hooks: None,
        }
    }

    #[test]
    fn groups_are_described_with_generation_sizes_instances_and_attachments() {
        let observation = Observation {
            asgs: vec![
                asg(
                    2,
                    &[
                        ("i-3", LifecycleState::Pending),
                        ("i-4", LifecycleState::InService),
                    ],
                    &["arn:tg/blue"],
                ),
                asg(
                    1,
                    &[
                        ("i-1", LifecycleState::InService),
                        ("i-2", LifecycleState::InService),
                    ],
                    &["arn:tg/blue"],
                ),
            ],
            target_groups: vec![TargetGroupObservation {
                arn: "arn:tg/blue".into(),
                name: "app-blue".into(),
                deregistration_delay: secs(30),
                health_check_interval: secs(10),
                healthy_threshold: 2,
                targets: ["i-1", "i-2", "i-4"]
                    .iter()
                    .map(|id| TargetObservation {
                        id: (*id).to_string(),
                        state: if *id == "i-4" {
                            TargetState::Initial
                        } else {
                            TargetState::Healthy
                        },
                        reason: None,
                    })
                    .collect(),
            }],
            ..Observation::default()
        };
        assert_eq!(
            describe_groups(&observation),
            vec![
                "web-g1 (generation 1, launch template version 6): desired 2 (min 1, max 4), 2 instance(s): 2 InService, attached to app-blue (2 healthy)".to_string(),
                "web-g2 (generation 2, launch template version 7): desired 2 (min 1, max 4), 2 instance(s): 1 Pending, 1 InService, attached to app-blue (1 not registered, 1 initial)".to_string(),
            ]
        );
        let detached = Observation {
            asgs: vec![asg(3, &[], &[])],
            ..Observation::default()
        };
        assert_eq!(
            describe_groups(&detached),
            vec!["web-g3 (generation 3, launch template version 8): desired 2 (min 1, max 4), no instances, attached to no target group".to_string()]
        );
    }
}
