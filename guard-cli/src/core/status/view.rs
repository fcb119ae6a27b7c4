//! From one look at AWS to what `zdd-guard status` shows: per fleet (one per owner id using the
//! name), its generations newest first with their roles, phase and age, health per target
//! group and generation with drain countdowns, listener weights in percent, the capacity floor
//! against the healthy targets, and the last events. Pure: `now` (Unix seconds) is an argument.
//!
//! Which generation serves, and whether a rollout or a rollback is under way, is
//! `zdd_rollout::fleet::FleetReading`'s reading, the one the provider resumes from.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use zdd_rollout::fleet::{
    FleetReading, FleetState, TAG_FLOOR, TAG_GENERATION, TAG_OWNER, TAG_PHASE, TAG_PHASE_SINCE,
    TAG_ROLLOUT, rollback_reason,
};

use super::snapshot::{FleetSnapshot, GroupSnapshot, TargetGroupSnapshot};

/// Version of the `--json` document; raised when a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 1;
/// How many events a fleet shows.
pub const LAST_EVENTS: usize = 8;
/// The deregistration delay AWS applies when the attribute is absent.
const AWS_DEFAULT_DEREGISTRATION_DELAY: u64 = 300;

/// One look: every fleet asked for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusView {
    pub schema_version: u32,
    /// When the look was taken, Unix seconds.
    pub at: i64,
    /// The region read (None: the SDK found none, which it then refuses).
    pub region: Option<String>,
    /// The names asked for, in order: each with its fleets (one per owner id).
    pub names: Vec<NameView>,
}

/// What one name shows: nothing, one fleet, or several owners' fleets under the same name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NameView {
    pub name: String,
    /// No group is tagged `zdd:rollout` = the name.
    pub found: bool,
    /// More than one owner id uses the name in this account and region: their fleets are
    /// shown apart, never merged.
    pub shared_by_owners: bool,
    pub fleets: Vec<FleetView>,
}

/// One owner's fleet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetView {
    /// The `zdd:owner` id; None for groups without one (a fleet from before owner ids).
    pub owner: Option<String>,
    pub state: StateView,
    pub generations: Vec<GenerationView>,
    /// Groups tagged with the name and this owner whose `zdd:generation` is missing or
    /// unreadable: shown, never counted as a generation.
    pub unreadable_groups: Vec<UnreadableGroup>,
    pub target_groups: Vec<TargetGroupView>,
    pub listeners: Vec<ListenerView>,
    pub floor: FloorView,
    /// Newest first.
    pub events: Vec<EventView>,
}

/// Where the fleet is, as `FleetReading` reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StateView {
    /// No generation serves (none, or only failed ones kept after their rollback).
    Empty,
    Settled {
        serving: u64,
    },
    /// Two generations: a rollout from `from` to `to` runs, or stopped half-way (AWS alone
    /// cannot tell; the next apply resumes it).
    Rollout {
        from: u64,
        to: u64,
    },
    /// The newest generation is tagged `zdd:rollback`.
    RollingBack {
        failed: u64,
        restoring: Option<u64>,
        reason: String,
    },
}

/// A tag value as read: absent, readable, or unreadable (shown as it is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum TagValue<T> {
    Absent,
    Value(T),
    Unreadable { unreadable: String },
}

impl<T> TagValue<T> {
    pub fn value(&self) -> Option<&T> {
        match self {
            TagValue::Value(value) => Some(value),
            _ => None,
        }
    }
}

/// Reads tag `key` of `tags` with `parse`.
fn tag<T>(
    tags: &BTreeMap<String, String>,
    key: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> TagValue<T> {
    match tags.get(key) {
        None => TagValue::Absent,
        Some(raw) => match parse(raw.trim()) {
            Some(value) => TagValue::Value(value),
            None => TagValue::Unreadable {
                unreadable: raw.clone(),
            },
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Serves the traffic, no rollout under way (or is being brought back to serve it).
    Serving,
    /// The generation a rollout moves to.
    New,
    /// The generation a rollout moves from (the one a rollback returns to), or an older one.
    Old,
    /// The failed generation of a rollback under way.
    RollingBack,
    /// A failed generation kept after its finished rollback (`zdd:rolled-back`).
    KeptFailed,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Serving => "serving",
            Role::New => "new",
            Role::Old => "old",
            Role::RollingBack => "rolling back",
            Role::KeptFailed => "kept failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerationView {
    pub generation: u64,
    pub group: String,
    pub role: Role,
    /// The `zdd:phase` tag as written (`canary_step 2/4 25%`).
    pub phase: Option<String>,
    /// `zdd:phase-since`, Unix seconds.
    pub phase_since: TagValue<i64>,
    /// Seconds since the phase began (None when unknown or in the future).
    pub phase_age_seconds: Option<u64>,
    pub desired: i32,
    pub min: i32,
    pub max: i32,
    pub instances: usize,
    pub in_service: usize,
    /// AWS is deleting the group.
    pub deleting: bool,
    /// The reason `zdd:rollback` records.
    pub rollback_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnreadableGroup {
    pub group: String,
    pub generation: TagValue<u64>,
}

/// A target group the fleet uses, with its targets counted per generation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetGroupView {
    pub name: String,
    pub arn: String,
    pub deregistration_delay: TagValue<u64>,
    pub generations: Vec<TargetGroupGeneration>,
}

/// The targets of one generation's instances in one target group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetGroupGeneration {
    pub generation: u64,
    /// Target counts by state (`healthy`, `initial`, `unhealthy`, `draining`, `unused`, and
    /// any other state AWS returns, under its own name).
    pub states: BTreeMap<String, usize>,
    /// Reason codes of the targets not healthy, with their counts.
    pub reasons: BTreeMap<String, usize>,
    /// When the draining targets are gone at the latest; None when none drains.
    pub drain: Option<DrainLeft>,
}

impl TargetGroupGeneration {
    pub fn count(&self, state: &str) -> usize {
        self.states.get(state).copied().unwrap_or(0)
    }
}

/// How long draining targets may still drain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DrainLeft {
    /// From the phase: in `draining_old`/`draining_new` the drain began before the phase did
    /// (the engine enters it once it sees the targets detached), so the phase start plus the
    /// deregistration delay bounds its end.
    AtMostFromPhase { seconds: u64 },
    /// Only the deregistration delay bounds it (the drain began at a moment no tag records).
    AtMostDelay { seconds: u64 },
    /// The deregistration delay is unreadable.
    Unknown,
}

/// The seconds left of a drain by a generation in `phase` (since `phase_since`) out of a
/// target group with `delay`, at `now`.
pub fn drain_left(
    phase: Option<&str>,
    phase_since: &TagValue<i64>,
    delay: &TagValue<u64>,
    now: i64,
) -> DrainLeft {
    let Some(&delay) = delay.value() else {
        return DrainLeft::Unknown;
    };
    let phase_name = phase.and_then(|phase| phase.split_whitespace().next());
    match (phase_name, phase_since.value()) {
        (Some("draining_old" | "draining_new"), Some(&since)) => {
            let end = since.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX));
            let left = u64::try_from(end.saturating_sub(now)).unwrap_or(0);
            DrainLeft::AtMostFromPhase {
                seconds: left.min(delay),
            }
        }
        _ => DrainLeft::AtMostDelay { seconds: delay },
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListenerView {
    pub arn: String,
    pub protocol: Option<String>,
    pub port: Option<i32>,
    pub forwards: Vec<ForwardView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForwardView {
    pub target_group: String,
    pub target_group_arn: String,
    pub weight: i64,
    /// The weight's share of the listener's, rounded to a whole percent.
    pub percent: u32,
    /// The fleet's generations attached to this target group.
    pub generations: Vec<u64>,
}

/// The capacity floor of the current phase against the healthy targets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FloorView {
    /// `zdd:floor` of the newest generation that has one.
    pub floor: TagValue<u32>,
    /// The fewest healthy routed targets behind any one stream of traffic (the `healthy` of
    /// the first of `behind`; 0 when nothing is routed): the engine keeps the floor behind
    /// each, so one stream's surplus never makes up for another's shortfall.
    pub healthy: usize,
    /// Each stream of traffic with its healthy targets, the fewest first.
    pub behind: Vec<FloorStream>,
    /// Every stream has `floor` healthy targets; None when the floor is unknown.
    pub holds: Option<bool>,
}

/// One stream of traffic: the target groups one listener routes to with weight (a canary
/// split is one stream over two groups), or one target group no listener read routes to (its
/// routing is unknown, so it counts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FloorStream {
    /// Target group names, sorted.
    pub target_groups: Vec<String>,
    /// The fleet's instances healthy in at least one of them.
    pub healthy: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventView {
    /// Unix seconds.
    pub at: i64,
    /// The generations the event is about.
    pub generations: Vec<u64>,
    pub what: String,
}

/// The whole look: `snapshots` in the order the names were asked.
pub fn status(snapshots: &[FleetSnapshot], region: Option<&str>, now: i64) -> StatusView {
    StatusView {
        schema_version: SCHEMA_VERSION,
        at: now,
        region: region.map(str::to_string),
        names: snapshots.iter().map(|s| name_view(s, now)).collect(),
    }
}

impl StatusView {
    /// The names no group is tagged with.
    pub fn missing(&self) -> Vec<&str> {
        self.names
            .iter()
            .filter(|name| !name.found)
            .map(|name| name.name.as_str())
            .collect()
    }
}

fn name_view(snapshot: &FleetSnapshot, now: i64) -> NameView {
    // Filters are advisory on some endpoints: only the exact name counts (`web-api` is not
    // `web`).
    let groups: Vec<&GroupSnapshot> = snapshot
        .groups
        .iter()
        .filter(|group| group.tags.get(TAG_ROLLOUT) == Some(&snapshot.name))
        .collect();
    let mut by_owner: BTreeMap<Option<&String>, Vec<&GroupSnapshot>> = BTreeMap::new();
    for group in &groups {
        by_owner
            .entry(group.tags.get(TAG_OWNER))
            .or_default()
            .push(group);
    }
    NameView {
        name: snapshot.name.clone(),
        found: !groups.is_empty(),
        shared_by_owners: by_owner.len() > 1,
        fleets: by_owner
            .into_iter()
            .map(|(owner, groups)| fleet_view(owner.cloned(), &groups, snapshot, now))
            .collect(),
    }
}

fn generation_of(group: &GroupSnapshot) -> TagValue<u64> {
    tag(&group.tags, TAG_GENERATION, |raw| raw.parse().ok())
}

fn fleet_view(
    owner: Option<String>,
    groups: &[&GroupSnapshot],
    snapshot: &FleetSnapshot,
    now: i64,
) -> FleetView {
    let mut generations: Vec<(u64, &GroupSnapshot)> = Vec::new();
    let mut unreadable_groups = Vec::new();
    for group in groups {
        match generation_of(group) {
            TagValue::Value(generation) => generations.push((generation, group)),
            generation => unreadable_groups.push(UnreadableGroup {
                group: group.name.clone(),
                generation,
            }),
        }
    }
    generations.sort_by_key(|(generation, group)| (*generation, group.name.clone()));
    let reading = FleetReading::of(generations.iter().map(|(g, group)| (*g, &group.tags)));
    let state = state_view(&reading);
    let generation_views: Vec<GenerationView> = generations
        .iter()
        .rev()
        .map(|(generation, group)| {
            generation_view(*generation, group, role(&reading, *generation), now)
        })
        .collect();
    let instance_generation: BTreeMap<&str, u64> = generations
        .iter()
        .flat_map(|(generation, group)| {
            group
                .instances
                .iter()
                .map(move |instance| (instance.id.as_str(), *generation))
        })
        .collect();
    let phases: BTreeMap<u64, &GenerationView> = generation_views
        .iter()
        .map(|view| (view.generation, view))
        .collect();
    let attached: BTreeSet<&str> = generations
        .iter()
        .flat_map(|(_, group)| group.target_group_arns.iter().map(String::as_str))
        .collect();
    let target_groups: Vec<TargetGroupView> = snapshot
        .target_groups
        .iter()
        .filter_map(|tg| target_group_view(tg, &instance_generation, &attached, &phases, now))
        .collect();
    let fleet_arns: BTreeSet<&str> = target_groups.iter().map(|tg| tg.arn.as_str()).collect();
    let listeners = listener_views(snapshot, &fleet_arns, &generations);
    let floor = floor_view(
        &generations,
        &target_groups,
        snapshot,
        &listeners,
        &instance_generation,
    );
    FleetView {
        owner,
        state,
        events: events(&generations),
        generations: generation_views,
        unreadable_groups,
        target_groups,
        listeners,
        floor,
    }
}

fn state_view(reading: &FleetReading) -> StateView {
    match &reading.state {
        FleetState::Empty => StateView::Empty,
        FleetState::Settled { serving } => StateView::Settled { serving: *serving },
        FleetState::Interrupted { from, to } => StateView::Rollout {
            from: *from,
            to: *to,
        },
        FleetState::RollingBack {
            failed,
            restoring,
            reason,
        } => StateView::RollingBack {
            failed: *failed,
            restoring: *restoring,
            reason: reason.clone(),
        },
    }
}

fn role(reading: &FleetReading, generation: u64) -> Role {
    if reading.kept_after_rollback.contains(&generation) {
        return Role::KeptFailed;
    }
    match &reading.state {
        FleetState::RollingBack { failed, .. } if *failed == generation => Role::RollingBack,
        // Mid-rollout the old generation may already be detached (draining, baking): which of
        // the two takes traffic is in the target groups and weights, not in the role.
        FleetState::Interrupted { to, .. } if *to == generation => Role::New,
        FleetState::Interrupted { .. } => Role::Old,
        _ if reading.serving() == Some(generation) => Role::Serving,
        _ => Role::Old,
    }
}

fn generation_view(generation: u64, group: &GroupSnapshot, role: Role, now: i64) -> GenerationView {
    let phase_since = tag(&group.tags, TAG_PHASE_SINCE, |raw| raw.parse::<i64>().ok());
    GenerationView {
        generation,
        group: group.name.clone(),
        role,
        phase: group.tags.get(TAG_PHASE).cloned(),
        phase_age_seconds: phase_since
            .value()
            .and_then(|since| u64::try_from(now.saturating_sub(*since)).ok()),
        phase_since,
        desired: group.desired_capacity,
        min: group.min_size,
        max: group.max_size,
        instances: group.instances.len(),
        in_service: group
            .instances
            .iter()
            .filter(|instance| instance.lifecycle_state == "InService")
            .count(),
        deleting: group.status.is_some(),
        rollback_reason: rollback_reason(&group.tags).map(str::to_string),
    }
}

fn target_group_view(
    tg: &TargetGroupSnapshot,
    instance_generation: &BTreeMap<&str, u64>,
    attached: &BTreeSet<&str>,
    phases: &BTreeMap<u64, &GenerationView>,
    now: i64,
) -> Option<TargetGroupView> {
    let delay = match &tg.deregistration_delay {
        None => TagValue::Value(AWS_DEFAULT_DEREGISTRATION_DELAY),
        Some(raw) => match raw.trim().parse() {
            Ok(seconds) => TagValue::Value(seconds),
            Err(_) => TagValue::Unreadable {
                unreadable: raw.clone(),
            },
        },
    };
    let mut per_generation: BTreeMap<u64, TargetGroupGeneration> = BTreeMap::new();
    for target in &tg.targets {
        let Some(&generation) = instance_generation.get(target.id.as_str()) else {
            continue;
        };
        let entry = per_generation
            .entry(generation)
            .or_insert_with(|| TargetGroupGeneration {
                generation,
                states: BTreeMap::new(),
                reasons: BTreeMap::new(),
                drain: None,
            });
        let state = if target.state.is_empty() {
            "unknown".to_string()
        } else {
            target.state.clone()
        };
        *entry.states.entry(state).or_default() += 1;
        if target.state != "healthy"
            && let Some(reason) = &target.reason
        {
            *entry.reasons.entry(reason.clone()).or_default() += 1;
        }
    }
    if per_generation.is_empty() && !attached.contains(tg.arn.as_str()) {
        // A target group a listener forwards to that holds none of the fleet's instances and
        // none of its groups attaches to: another fleet's.
        return None;
    }
    for entry in per_generation.values_mut() {
        if entry.count("draining") > 0 {
            let view = phases.get(&entry.generation);
            entry.drain = Some(drain_left(
                view.and_then(|v| v.phase.as_deref()),
                view.map_or(&TagValue::Absent, |v| &v.phase_since),
                &delay,
                now,
            ));
        }
    }
    Some(TargetGroupView {
        name: tg.name.clone(),
        arn: tg.arn.clone(),
        deregistration_delay: delay,
        generations: per_generation.into_values().rev().collect(),
    })
}

fn listener_views(
    snapshot: &FleetSnapshot,
    fleet_arns: &BTreeSet<&str>,
    generations: &[(u64, &GroupSnapshot)],
) -> Vec<ListenerView> {
    let names: BTreeMap<&str, &str> = snapshot
        .target_groups
        .iter()
        .map(|tg| (tg.arn.as_str(), tg.name.as_str()))
        .collect();
    snapshot
        .listeners
        .iter()
        .filter(|listener| {
            listener
                .forwards
                .iter()
                .any(|(arn, _)| fleet_arns.contains(arn.as_str()))
        })
        .map(|listener| {
            let total: i64 = listener.forwards.iter().map(|(_, w)| (*w).max(0)).sum();
            ListenerView {
                arn: listener.arn.clone(),
                protocol: listener.protocol.clone(),
                port: listener.port,
                forwards: listener
                    .forwards
                    .iter()
                    .map(|(arn, weight)| ForwardView {
                        target_group: names.get(arn.as_str()).map_or_else(
                            || short_arn_name(arn).to_string(),
                            |name| (*name).to_string(),
                        ),
                        target_group_arn: arn.clone(),
                        weight: *weight,
                        percent: percent((*weight).max(0), total),
                        generations: generations
                            .iter()
                            .filter(|(_, group)| group.target_group_arns.contains(arn))
                            .map(|(generation, _)| *generation)
                            .rev()
                            .collect(),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// `part` of `total` in whole percent, rounded half up (0 when the total is 0).
pub fn percent(part: i64, total: i64) -> u32 {
    if total <= 0 {
        return 0;
    }
    let rounded = (i128::from(part) * 200 + i128::from(total)) / (2 * i128::from(total));
    u32::try_from(rounded).unwrap_or(0)
}

/// The name part of a target group ARN (`.../targetgroup/NAME/ID`), else the ARN.
fn short_arn_name(arn: &str) -> &str {
    arn.split('/').nth(1).unwrap_or(arn)
}

fn floor_view(
    generations: &[(u64, &GroupSnapshot)],
    target_groups: &[TargetGroupView],
    snapshot: &FleetSnapshot,
    listeners: &[ListenerView],
    instance_generation: &BTreeMap<&str, u64>,
) -> FloorView {
    let floor = generations
        .iter()
        .rev()
        .map(|(_, group)| tag(&group.tags, TAG_FLOOR, |raw| raw.parse::<u32>().ok()))
        .find(|value| *value != TagValue::Absent)
        .unwrap_or(TagValue::Absent);
    let fleet_arns: BTreeSet<&str> = target_groups.iter().map(|tg| tg.arn.as_str()).collect();
    // As the engine counts it (rollout's capacity of a stream): the groups one listener
    // forwards to with weight together; a group no listener forwards to alone.
    let mut streams: BTreeSet<BTreeSet<&str>> = listeners
        .iter()
        .map(|listener| {
            listener
                .forwards
                .iter()
                .filter(|forward| forward.weight > 0)
                .map(|forward| forward.target_group_arn.as_str())
                .filter(|arn| fleet_arns.contains(arn))
                .collect::<BTreeSet<&str>>()
        })
        .filter(|stream| !stream.is_empty())
        .collect();
    let forwarded: BTreeSet<&str> = listeners
        .iter()
        .flat_map(|listener| listener.forwards.iter())
        .map(|forward| forward.target_group_arn.as_str())
        .collect();
    streams.extend(
        fleet_arns
            .iter()
            .filter(|arn| !forwarded.contains(*arn))
            .map(|arn| BTreeSet::from([*arn])),
    );
    let mut behind: Vec<FloorStream> = streams
        .iter()
        .map(|stream| stream_view(stream, snapshot, instance_generation))
        .collect();
    behind.sort_by(|a, b| {
        a.healthy
            .cmp(&b.healthy)
            .then_with(|| a.target_groups.cmp(&b.target_groups))
    });
    let healthy = behind.first().map_or(0, |stream| stream.healthy);
    FloorView {
        holds: floor
            .value()
            .map(|floor| healthy >= usize::try_from(*floor).unwrap_or(usize::MAX)),
        floor,
        healthy,
        behind,
    }
}

/// The fleet's instances healthy in at least one target group of `stream`.
fn stream_view(
    stream: &BTreeSet<&str>,
    snapshot: &FleetSnapshot,
    instance_generation: &BTreeMap<&str, u64>,
) -> FloorStream {
    let in_stream: Vec<&TargetGroupSnapshot> = snapshot
        .target_groups
        .iter()
        .filter(|tg| stream.contains(tg.arn.as_str()))
        .collect();
    let healthy: BTreeSet<&str> = in_stream
        .iter()
        .flat_map(|tg| tg.targets.iter())
        .filter(|target| target.state == "healthy")
        .map(|target| target.id.as_str())
        .filter(|id| instance_generation.contains_key(id))
        .collect();
    let mut target_groups: Vec<String> = in_stream.iter().map(|tg| tg.name.clone()).collect();
    target_groups.sort();
    FloorStream {
        target_groups,
        healthy: healthy.len(),
    }
}

/// The last events: each phase the groups record (one entry for the groups sharing it) and
/// the groups' scaling activities, newest first.
fn events(generations: &[(u64, &GroupSnapshot)]) -> Vec<EventView> {
    let mut phases: BTreeMap<(i64, String), Vec<u64>> = BTreeMap::new();
    let mut events = Vec::new();
    for (generation, group) in generations {
        if let (Some(phase), TagValue::Value(since)) = (
            group.tags.get(TAG_PHASE),
            tag(&group.tags, TAG_PHASE_SINCE, |raw| raw.parse::<i64>().ok()),
        ) {
            phases
                .entry((since, phase.clone()))
                .or_default()
                .push(*generation);
        }
        for activity in &group.activities {
            if let Some(start) = activity.start {
                events.push(EventView {
                    at: start,
                    generations: vec![*generation],
                    what: format!("{} ({})", activity.description, activity.status),
                });
            }
        }
    }
    for ((since, phase), mut generations) in phases {
        generations.sort_unstable_by(|a, b| b.cmp(a));
        events.push(EventView {
            at: since,
            generations,
            what: format!("phase {phase}"),
        });
    }
    events.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.what.cmp(&b.what)));
    events.truncate(LAST_EVENTS);
    events
}
