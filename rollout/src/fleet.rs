//! How a fleet's groups are named, tagged and read: the one place that says which generation
//! serves and whether a rollout was interrupted. The engine resumes from this reading and the
//! provider's Read reports it, so the two cannot disagree.

use std::collections::BTreeMap;

use crate::observation::{AsgObservation, Owner};
use crate::phase::Phase;

/// Tag key naming the `zdd_rollout` a group belongs to. Keys starting with
/// [`RESERVED_TAG_PREFIX`] are written by zdd only.
pub const TAG_ROLLOUT: &str = "zdd:rollout";
/// Generation number of a group (`1`, `2`, ...), the source of truth on resume.
pub const TAG_GENERATION: &str = "zdd:generation";
/// The owner id of the fleet a group belongs to: fixed when the `zdd_rollout` is created, so a
/// second fleet (another state, workspace or team) that uses the same `name` never adopts,
/// re-targets or deletes this fleet's groups.
pub const TAG_OWNER: &str = "zdd:owner";
/// Present on a generation the engine has decided to roll back (so a resumed apply continues the
/// rollback instead of retrying the failed generation). The value is the reason.
pub const TAG_ROLLBACK: &str = "zdd:rollback";
/// Present on a failed generation kept after its rollback finished (`rollback_on_failure =
/// false`): the next apply leaves it alone (and deletes it once a later rollout succeeds)
/// instead of continuing a rollback. Without it, a kept generation and one whose rollback was
/// interrupted half-way would look the same.
pub const TAG_ROLLED_BACK: &str = "zdd:rolled-back";
/// The Auto Scaling processes zdd suspended on a group (comma-separated AWS names, empty when
/// none): written before the `SuspendProcesses` it records, so that whoever finishes or undoes
/// the rollout (a resumed apply after a kill, a rollback) resumes exactly those and never one a
/// person suspended.
pub const TAG_SUSPENDED: &str = "zdd:suspended";
/// The capacity the serving generation ran at when a rollout to this group started (its
/// desired capacity, raised as it scaled out meanwhile): a resumed apply computes the capacity
/// floor and this group's goal from it, since rolling lowers the old group's own desired
/// capacity as it goes. Written only when it differs from `desired_capacity` or the fleet is
/// autoscaled.
pub const TAG_CAPACITY: &str = "zdd:capacity";
/// The rollout's current phase, kept on the groups of a rollout so that its state can be read
/// from AWS alone (no Terraform state needed): on the new generation's group and, while it
/// exists, the old one's. The value starts with the phase name of `last_rollout`
/// (`waiting_for_healthy`, `canary_step`, `draining_old`, `baking`, `restoring_old`, ...); a
/// canary step adds its number of the steps and its weight (`canary_step 2/4 25%`), a rolling
/// batch its number (`rolling batch 3`); [`phase_name`] reads the name back. At the end it says
/// `complete`, `rolled_back` or `failed`. Written once per phase change per group, only when it
/// differs from what the group shows; information, never a gate: a failed write does not hold
/// the rollout back (it is written again at the next step), and a destroy does not write it.
pub const TAG_PHASE: &str = "zdd:phase";
/// When the current [`TAG_PHASE`] began, in Unix seconds: written with it, in the same
/// `CreateOrUpdateTags` call, so a reader with AWS alone can count down a drain (this plus the
/// target group's deregistration delay) or a bake.
pub const TAG_PHASE_SINCE: &str = "zdd:phase-since";
/// The capacity floor of the current phase (the fewest healthy targets the rollout lets the
/// fleet have), written with [`TAG_PHASE`], so a reader with AWS alone can show it.
pub const TAG_FLOOR: &str = "zdd:floor";
/// Tag keys starting with this are zdd's: users may not set them, and Read does not report them
/// as the user's tags.
pub const RESERVED_TAG_PREFIX: &str = "zdd:";

/// The reason a group's `zdd:rollback` tag records, if its generation is being rolled back.
pub fn rollback_reason(tags: &BTreeMap<String, String>) -> Option<&str> {
    tags.get(TAG_ROLLBACK).map(String::as_str)
}

/// Whether a group's tags mark a failed generation kept after its finished rollback.
pub fn is_kept_after_rollback(tags: &BTreeMap<String, String>) -> bool {
    tags.contains_key(TAG_ROLLED_BACK)
}

/// The processes a group's `zdd:suspended` tag records (unknown names are ignored).
pub fn suspended_by_zdd(
    tags: &BTreeMap<String, String>,
) -> std::collections::BTreeSet<crate::observation::ScalingProcess> {
    tags.get(TAG_SUSPENDED)
        .map(|text| {
            text.split(',')
                .filter_map(|name| crate::observation::ScalingProcess::from_aws_str(name.trim()))
                .collect()
        })
        .unwrap_or_default()
}

/// The value of [`TAG_PHASE`] for `phase` of a rollout whose canary has `canary_steps` steps.
pub fn phase_tag(phase: &Phase, canary_steps: usize) -> String {
    match phase {
        Phase::CanaryStep { index, weight } => {
            format!("canary_step {}/{canary_steps} {weight}%", index + 1)
        }
        Phase::Rolling { batch } => format!("rolling batch {batch}"),
        phase => phase.name().to_string(),
    }
}

/// The phase name a group's `zdd:phase` tag shows (its first word), if it has one.
pub fn phase_name(tags: &BTreeMap<String, String>) -> Option<&str> {
    tags.get(TAG_PHASE)
        .and_then(|value| value.split_whitespace().next())
}

/// Whether a tag key is one only zdd writes.
pub fn is_reserved_tag(key: &str) -> bool {
    key.starts_with(RESERVED_TAG_PREFIX)
}

/// The name of generation `generation` of fleet `name`: `<name>-g<generation>`. Every
/// generation gets its own name because AWS refuses (and moto silently replaces) a second group
/// with an existing name.
pub fn asg_name(name: &str, generation: u64) -> String {
    format!("{name}-g{generation}")
}

/// The fleet's generations among `asgs`: groups tagged `zdd:rollout = <name>`, owned by
/// `owner`, with a readable `zdd:generation`; oldest first. Groups AWS is deleting are included
/// (a resumed rollout waits for them to go).
pub fn generations<'a>(
    name: &str,
    owner: &Owner,
    asgs: &'a [AsgObservation],
) -> Vec<(u64, &'a AsgObservation)> {
    let mut generations: Vec<(u64, &AsgObservation)> = asgs
        .iter()
        .filter(|asg| asg.tags.get(TAG_ROLLOUT).is_some_and(|n| n == name))
        .filter(|asg| owner.owns(asg))
        .filter_map(|asg| asg.generation().map(|g| (g, asg)))
        .collect();
    generations.sort_by_key(|(g, _)| *g);
    generations
}

/// What a fleet's groups say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetReading {
    /// Every generation read, oldest first.
    pub generations: Vec<u64>,
    /// Failed generations kept after their finished rollback (`zdd:rolled-back`): they serve
    /// nothing and nothing is under way for them.
    pub kept_after_rollback: Vec<u64>,
    pub state: FleetState,
}

/// Where the fleet is, judged from the generations that are not kept after a rollback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetState {
    /// No generation serves: none exists (or only failed ones kept after their rollback).
    Empty,
    /// One generation, nothing under way.
    Settled { serving: u64 },
    /// The newest generation is tagged `zdd:rollback`: its rollback was interrupted, and
    /// `restoring` (the generation before it, if any) is being brought back.
    RollingBack {
        failed: u64,
        restoring: Option<u64>,
        reason: String,
    },
    /// Two generations or more: a forward rollout from `from` to `to` stopped half-way (or
    /// still runs in another process).
    Interrupted { from: u64, to: u64 },
}

impl FleetReading {
    /// Reads the fleet from its generations, oldest first ([`generations`]), each with its
    /// group's tags: the reading depends on nothing else.
    pub fn of<'a>(
        generations: impl IntoIterator<Item = (u64, &'a BTreeMap<String, String>)>,
    ) -> FleetReading {
        let generations: Vec<_> = generations.into_iter().collect();
        let (kept, live): (Vec<_>, Vec<_>) = generations
            .iter()
            .partition(|(_, tags)| is_kept_after_rollback(tags));
        let state = match live.as_slice() {
            [] => FleetState::Empty,
            [.., (top, top_tags)] if rollback_reason(top_tags).is_some() => {
                FleetState::RollingBack {
                    failed: *top,
                    restoring: live.iter().rev().nth(1).map(|(g, _)| *g),
                    reason: rollback_reason(top_tags).unwrap_or_default().to_string(),
                }
            }
            [(only, _)] => FleetState::Settled { serving: *only },
            [.., (from, _), (to, _)] => FleetState::Interrupted {
                from: *from,
                to: *to,
            },
        };
        FleetReading {
            generations: generations.iter().map(|(g, _)| *g).collect(),
            kept_after_rollback: kept.iter().map(|(g, _)| *g).collect(),
            state,
        }
    }

    /// The newest generation read (0 when there is none): the next rollout creates the one
    /// after it, so a name is never reused.
    pub fn newest(&self) -> u64 {
        self.generations.iter().copied().max().unwrap_or(0)
    }

    /// The generation that serves (or is being brought back to serve).
    pub fn serving(&self) -> Option<u64> {
        match self.state {
            FleetState::Empty => None,
            FleetState::Settled { serving } => Some(serving),
            FleetState::RollingBack { restoring, .. } => restoring,
            FleetState::Interrupted { from, .. } => Some(from),
        }
    }

    /// A rollout or a rollback stopped half-way: the next apply finishes or undoes it.
    pub fn is_interrupted(&self) -> bool {
        matches!(
            self.state,
            FleetState::RollingBack { .. } | FleetState::Interrupted { .. }
        )
    }

    /// The generations a rollout or rollback is under way between (empty when none is).
    pub fn in_flight(&self) -> Vec<u64> {
        self.generations
            .iter()
            .copied()
            .filter(|g| !self.kept_after_rollback.contains(g))
            .collect()
    }
}

/// Reads the fleet `name` of `owner` from the groups AWS shows.
pub fn read(name: &str, owner: &Owner, asgs: &[AsgObservation]) -> FleetReading {
    FleetReading::of(
        generations(name, owner, asgs)
            .into_iter()
            .map(|(generation, asg)| (generation, &asg.tags)),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn group(generation: u64, extra: &[(&str, &str)]) -> AsgObservation {
        let mut tags = BTreeMap::from([
            (TAG_ROLLOUT.to_string(), "web".to_string()),
            (TAG_GENERATION.to_string(), generation.to_string()),
        ]);
        for (key, value) in extra {
            tags.insert((*key).to_string(), (*value).to_string());
        }
        AsgObservation {
            name: asg_name("web", generation),
            tags,
            launch_template: None,
            subnet_ids: Vec::new(),
            min_size: 1,
            max_size: 1,
            desired_capacity: 1,
            target_group_arns: Vec::new(),
            instances: Vec::new(),
            status: None,
            suspended_processes: Vec::new(),
            scaling_policies: Vec::new(),
            health_check: None,
            lifecycle_hooks: None,
        }
    }

    fn read_web(asgs: &[AsgObservation]) -> FleetReading {
        read("web", &Owner::default(), asgs)
    }

    #[test]
    fn one_generation_serves() {
        let reading = read_web(&[group(3, &[])]);
        assert_eq!(reading.state, FleetState::Settled { serving: 3 });
        assert_eq!(reading.serving(), Some(3));
        assert!(!reading.is_interrupted());
    }

    #[test]
    fn two_generations_are_an_interrupted_rollout_served_by_the_older() {
        let reading = read_web(&[group(5, &[]), group(4, &[])]);
        assert_eq!(reading.state, FleetState::Interrupted { from: 4, to: 5 });
        assert_eq!(reading.serving(), Some(4));
        assert!(reading.is_interrupted());
        assert_eq!(reading.newest(), 5);
    }

    #[test]
    fn a_generation_kept_after_its_rollback_is_not_in_flight() {
        let reading = read_web(&[group(4, &[]), group(5, &[(TAG_ROLLED_BACK, "unhealthy")])]);
        assert_eq!(reading.state, FleetState::Settled { serving: 4 });
        assert!(!reading.is_interrupted());
        assert_eq!(reading.kept_after_rollback, vec![5]);
        assert_eq!(reading.newest(), 5, "its name is never reused");
    }

    #[test]
    fn a_generation_tagged_for_rollback_continues_its_rollback() {
        let reading = read_web(&[group(4, &[]), group(5, &[(TAG_ROLLBACK, "unhealthy")])]);
        assert_eq!(
            reading.state,
            FleetState::RollingBack {
                failed: 5,
                restoring: Some(4),
                reason: "unhealthy".into()
            }
        );
        assert!(reading.is_interrupted());
    }

    #[test]
    fn the_phase_tag_reads_back_as_the_phase_name() {
        let value = phase_tag(
            &Phase::CanaryStep {
                index: 1,
                weight: 25,
            },
            4,
        );
        assert_eq!(value, "canary_step 2/4 25%");
        assert_eq!(
            phase_tag(&Phase::Rolling { batch: 3 }, 0),
            "rolling batch 3"
        );
        let step = group(2, &[(TAG_PHASE, value.as_str())]);
        assert_eq!(phase_name(&step.tags), Some("canary_step"));
        let done = group(2, &[(TAG_PHASE, "complete")]);
        assert_eq!(phase_name(&done.tags), Some("complete"));
        assert_eq!(phase_name(&group(2, &[]).tags), None);
    }

    #[test]
    fn other_fleets_and_other_owners_are_not_read() {
        let mut other_name = group(7, &[]);
        other_name.tags.insert(TAG_ROLLOUT.into(), "api".into());
        let foreign = group(8, &[(TAG_OWNER, "o-2")]);
        let reading = read_web(&[other_name, foreign]);
        assert_eq!(reading.state, FleetState::Empty);
        assert!(reading.generations.is_empty());
    }

    #[test]
    fn reserved_tags_are_zdds() {
        for key in [
            TAG_ROLLOUT,
            TAG_GENERATION,
            TAG_OWNER,
            TAG_ROLLBACK,
            TAG_ROLLED_BACK,
            TAG_SUSPENDED,
            TAG_CAPACITY,
            TAG_PHASE,
        ] {
            assert!(is_reserved_tag(key), "{key}");
        }
        assert!(!is_reserved_tag("team"));
    }
}
