//! A `zdd_rollout`'s last rollout as the report draws it: the state's `last_rollout` (status,
//! times, timeline steps, health samples) read leniently, and what the picture needs derived
//! from it (the time window, a band per phase, the failure and the rollback, drains and soaks).
//! Whatever cannot be read (a timestamp, a sample) is skipped with a note, never guessed.

use serde_json::Value;
use zdd_events::Sample;

use super::time::{self, Seconds};

/// Every phase the engine names at the start of a `phase` step's detail (`zdd_rollout::Phase`'s
/// names; a test keeps the two in step).
pub const PHASES: &[&str] = &[
    "launching",
    "waiting_for_healthy",
    "canary_step",
    "rolling",
    "detaching_old",
    "draining_old",
    "baking",
    "deleting_old",
    "complete",
    "restoring_old",
    "detaching_new",
    "draining_new",
    "deleting_new",
    "rolled_back",
    "failed",
];

/// Longest band label kept from a phase step's detail (the full text is in the table).
const LABEL_LIMIT: usize = 40;

/// A sample counting more healthy targets than this is unreadable: no fleet is that large, and
/// a count near `u32::MAX` would flatten every real line to the axis.
pub const MAX_READABLE_HEALTHY: u32 = 100_000;

/// Every `last_rollout.status` the provider writes (any other is drawn as `unknown`); the
/// steps that fail a rollout (the failure marker, and the table's failure rows); the steps drawn
/// as small marks on the timeline (the rest are in the table only). All from `zdd-events`,
/// where the provider's documented tables are checked against them.
pub use zdd_events::{FAILURE_ACTIONS, MARKED_ACTIONS, ROLLOUT_STATUSES as KNOWN_STATUSES};

/// How a phase is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseRole {
    /// Moving forward: launching, health waits, detaching, deleting.
    Forward,
    /// Holding a weight or the old generation while gates are judged: canary steps, the bake.
    Soak,
    /// Waiting out a deregistration delay: `draining_old`, `draining_new`.
    Drain,
    /// Undoing the rollout: `restoring_old` to `deleting_new`.
    Rollback,
    /// The end: `complete`, `rolled_back`, `failed`.
    Terminal,
}

/// `phase`'s role; `phase` is one of [`PHASES`].
pub fn phase_role(phase: &str) -> PhaseRole {
    match phase {
        "canary_step" | "baking" => PhaseRole::Soak,
        "draining_old" | "draining_new" => PhaseRole::Drain,
        "restoring_old" | "detaching_new" | "deleting_new" => PhaseRole::Rollback,
        "complete" | "rolled_back" | "failed" => PhaseRole::Terminal,
        _ => PhaseRole::Forward,
    }
}

/// Whether `phase` is a step of the way back (`draining_new` is a drain and a rollback phase).
/// Not the ends `rolled_back` and `failed`: the engine goes straight to `failed` past the point
/// of no return or on a forbidden transition, and nothing was rolled back then.
pub fn is_rollback_phase(phase: &str) -> bool {
    matches!(
        phase,
        "restoring_old" | "detaching_new" | "draining_new" | "deleting_new"
    )
}

/// One entry of `last_rollout.steps`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// `at` as the state has it (shown in the table even when it cannot be parsed).
    pub at_text: String,
    /// `None`: unparsable, so the entry is in the table but not on the timeline.
    pub at: Option<Seconds>,
    pub action: String,
    pub detail: String,
}

/// One health sample with its parsed time.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedSample {
    pub at: Seconds,
    pub sample: Sample,
}

/// The span of time the picture shows. `end >= start`; equal for a zero-length rollout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub start: Seconds,
    pub end: Seconds,
}

impl Window {
    pub fn length(&self) -> Seconds {
        self.end - self.start
    }
}

/// A phase from its `phase` step until the next phase (or the window's end).
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseBand {
    /// One of [`PHASES`] (never text from the state beyond that).
    pub phase: &'static str,
    /// The detail's head, `canary_step 2 (25 %)`, at most [`LABEL_LIMIT`] characters.
    pub label: String,
    /// Where the step is in [`RolloutReport::steps`].
    pub step: usize,
    pub start: Seconds,
    pub end: Seconds,
}

/// A step drawn as a mark: a failure, or an event worth seeing on the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub step: usize,
    pub at: Seconds,
    /// One of [`FAILURE_ACTIONS`] or [`MARKED_ACTIONS`].
    pub action: &'static str,
    pub is_failure: bool,
}

/// The rollback: from the first rollback phase to the rollout's end (`rolled_back`, `failed`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub start: Seconds,
    pub end: Seconds,
}

/// Generation from → to, as the rollout's `launching` step names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Generations {
    pub from: Option<u64>,
    pub to: Option<u64>,
    /// The resource's `generation` attribute: the one serving now.
    pub serving: Option<u64>,
}

/// One `zdd_rollout`'s last rollout, ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutReport {
    pub address: String,
    pub name: String,
    pub strategy: Option<String>,
    pub status: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub generations: Generations,
    pub steps: Vec<Step>,
    /// `None`: the state has no `samples` (written by a provider before they existed).
    pub samples: Option<Vec<TimedSample>>,
    /// `None`: no time in the rollout could be read, so there is no picture.
    pub window: Option<Window>,
    pub bands: Vec<PhaseBand>,
    pub markers: Vec<Marker>,
    pub rollback: Option<Span>,
    /// What was skipped or is missing, for the reader.
    pub notes: Vec<String>,
}

impl RolloutReport {
    /// `None` when the resource has no `last_rollout` (never rolled out, or imported).
    pub fn from_attributes(address: &str, attributes: &Value) -> Option<RolloutReport> {
        let last = attributes.get("last_rollout").filter(|v| v.is_object())?;
        let mut notes = Vec::new();
        let steps = read_steps(last.get("steps"), &mut notes);
        let samples = read_samples(last.get("samples"), &mut notes);
        let started_at = text(last.get("started_at"));
        let finished_at = text(last.get("finished_at"));
        let window = window(
            started_at.as_deref(),
            finished_at.as_deref(),
            &steps,
            samples.as_deref().unwrap_or_default(),
            &mut notes,
        );
        let bands = window.map_or_else(Vec::new, |w| bands(&steps, w));
        let markers = markers(&steps);
        let rollback = rollback_span(&bands, window);
        let generations = Generations {
            serving: attributes.get("generation").and_then(Value::as_u64),
            ..generations(&steps)
        };
        Some(RolloutReport {
            address: address.to_string(),
            name: text(attributes.get("name")).unwrap_or_default(),
            strategy: text(attributes.get("strategy")),
            status: text(last.get("status")).unwrap_or_else(|| "unknown".to_string()),
            started_at,
            finished_at,
            generations,
            steps,
            samples,
            window,
            bands,
            markers,
            rollback,
            notes,
        })
    }

    /// Seconds from start to finish, when both are readable.
    pub fn duration(&self) -> Option<Seconds> {
        let start = time::parse(self.started_at.as_deref()?)?;
        let end = time::parse(self.finished_at.as_deref()?)?;
        Some(end - start)
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::to_string)
}

fn read_steps(value: Option<&Value>, notes: &mut Vec<String>) -> Vec<Step> {
    let entries = value
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut steps = Vec::with_capacity(entries.len());
    let mut unparsable = 0;
    for entry in entries {
        let at_text = text(entry.get("at")).unwrap_or_default();
        let at = time::parse(&at_text);
        if at.is_none() {
            unparsable += 1;
        }
        steps.push(Step {
            at_text,
            at,
            action: text(entry.get("action")).unwrap_or_default(),
            detail: text(entry.get("detail")).unwrap_or_default(),
        });
    }
    if unparsable > 0 {
        notes.push(format!(
            "{unparsable} timeline step(s) have a time that cannot be read: they are in the table, not on the timeline"
        ));
    }
    steps
}

fn read_samples(value: Option<&Value>, notes: &mut Vec<String>) -> Option<Vec<TimedSample>> {
    let Some(entries) = value.and_then(Value::as_array) else {
        notes.push(
            "no health samples in this state (written by a provider without last_rollout.samples): the health and weight lines are absent"
                .to_string(),
        );
        return None;
    };
    let mut samples = Vec::with_capacity(entries.len());
    let mut skipped = 0;
    let mut absurd = 0;
    for entry in entries {
        let sample = serde_json::from_value::<Sample>(entry.clone()).ok();
        match sample.and_then(|s| time::parse(&s.at).map(|at| TimedSample { at, sample: s })) {
            Some(timed)
                if timed.sample.healthy_new.max(timed.sample.healthy_old)
                    > MAX_READABLE_HEALTHY =>
            {
                absurd += 1;
            }
            Some(timed) => samples.push(timed),
            None => skipped += 1,
        }
    }
    if skipped > 0 {
        notes.push(format!(
            "{skipped} health sample(s) cannot be read (time or values): left out of the lines"
        ));
    }
    if absurd > 0 {
        notes.push(format!(
            "{absurd} health sample(s) count more than {MAX_READABLE_HEALTHY} healthy targets, which no fleet has: left out of the lines"
        ));
    }
    // Drawn in time order whatever order the state has them in.
    samples.sort_by(|a, b| a.at.total_cmp(&b.at));
    Some(samples)
}

/// From `started_at` to `finished_at`, widened to every readable step and sample time.
fn window(
    started_at: Option<&str>,
    finished_at: Option<&str>,
    steps: &[Step],
    samples: &[TimedSample],
    notes: &mut Vec<String>,
) -> Option<Window> {
    let start = started_at.and_then(time::parse);
    let end = finished_at.and_then(time::parse);
    if started_at.is_some() && start.is_none() {
        notes.push("started_at cannot be read: the timeline starts at the first step".to_string());
    }
    if finished_at.is_some() && end.is_none() {
        notes.push("finished_at cannot be read: the timeline ends at the last step".to_string());
    }
    let times = start
        .into_iter()
        .chain(end)
        .chain(steps.iter().filter_map(|s| s.at))
        .chain(samples.iter().map(|s| s.at));
    let (min, max) = times.fold(None, |acc: Option<(Seconds, Seconds)>, t| match acc {
        None => Some((t, t)),
        Some((lo, hi)) => Some((lo.min(t), hi.max(t))),
    })?;
    if max <= min {
        notes.push("a zero-length rollout: every step happened within one instant".to_string());
    }
    Some(Window {
        start: min,
        end: max,
    })
}

/// The phase a `phase` step's detail names first (`canary_step 2 (25 %): ...`), if any.
pub fn named_phase(detail: &str) -> Option<&'static str> {
    let head = detail.split([' ', ':']).next().unwrap_or_default();
    PHASES.iter().copied().find(|phase| *phase == head)
}

fn bands(steps: &[Step], window: Window) -> Vec<PhaseBand> {
    let mut bands: Vec<PhaseBand> = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        let (Some(at), "phase") = (step.at, step.action.as_str()) else {
            continue;
        };
        let Some(phase) = named_phase(&step.detail) else {
            continue;
        };
        let head = step.detail.split(": ").next().unwrap_or_default();
        let label: String = head.chars().take(LABEL_LIMIT).collect();
        if let Some(previous) = bands.last_mut() {
            previous.end = at.max(previous.start);
        }
        bands.push(PhaseBand {
            phase,
            label,
            step: index,
            start: at,
            end: window.end.max(at),
        });
    }
    bands
}

fn markers(steps: &[Step]) -> Vec<Marker> {
    let mut markers = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        let Some(at) = step.at else { continue };
        let failure = FAILURE_ACTIONS.iter().find(|a| **a == step.action);
        let marked = MARKED_ACTIONS.iter().find(|a| **a == step.action);
        if let Some(action) = failure.or(marked) {
            markers.push(Marker {
                step: index,
                at,
                action,
                is_failure: failure.is_some(),
            });
        }
    }
    markers
}

fn rollback_span(bands: &[PhaseBand], window: Option<Window>) -> Option<Span> {
    let window = window?;
    let first = bands.iter().find(|band| is_rollback_phase(band.phase))?;
    let end = bands
        .iter()
        .filter(|band| band.start >= first.start && phase_role(band.phase) == PhaseRole::Terminal)
        .map(|band| band.start)
        .next()
        .unwrap_or(window.end);
    Some(Span {
        start: first.start,
        end: end.max(first.start),
    })
}

/// `launching: blue_green generation 1 → 2 (...)`, `launching: first deployment of generation 1`,
/// `launching: generation 2 already runs ...`.
fn generations(steps: &[Step]) -> Generations {
    let launching = steps
        .iter()
        .find(|s| s.action == "phase" && named_phase(&s.detail) == Some("launching"));
    let Some(step) = launching else {
        return Generations::default();
    };
    let Some((_, after)) = step.detail.split_once("generation ") else {
        return Generations::default();
    };
    let mut words = after.split_whitespace();
    let first = words.next().and_then(|w| w.parse::<u64>().ok());
    match (
        words.next(),
        words.next().and_then(|w| w.parse::<u64>().ok()),
    ) {
        (Some("→"), Some(to)) => Generations {
            from: first,
            to: Some(to),
            serving: None,
        },
        _ => Generations {
            from: None,
            to: first,
            serving: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use zdd_rollout::phase::Phase;

    use super::*;

    /// Every engine phase's name is one the report knows (a new phase fails this match first).
    #[test]
    fn the_phase_list_is_the_engines() {
        let all = [
            Phase::Launching,
            Phase::WaitingForHealthy,
            Phase::CanaryStep {
                index: 0,
                weight: 5,
            },
            Phase::Rolling { batch: 1 },
            Phase::DetachingOld,
            Phase::DrainingOld,
            Phase::Baking,
            Phase::DeletingOld,
            Phase::Complete,
            Phase::RestoringOld,
            Phase::DetachingNew,
            Phase::DrainingNew,
            Phase::DeletingNew,
            Phase::RolledBack,
            Phase::Failed,
        ];
        for phase in &all {
            // Exhaustive: a phase added to the engine breaks this match until listed above.
            match phase {
                Phase::Launching
                | Phase::WaitingForHealthy
                | Phase::CanaryStep { .. }
                | Phase::Rolling { .. }
                | Phase::DetachingOld
                | Phase::DrainingOld
                | Phase::Baking
                | Phase::DeletingOld
                | Phase::Complete
                | Phase::RestoringOld
                | Phase::DetachingNew
                | Phase::DrainingNew
                | Phase::DeletingNew
                | Phase::RolledBack
                | Phase::Failed => {}
            }
            assert!(PHASES.contains(&phase.name()), "{}", phase.name());
            assert_eq!(named_phase(&format!("{phase}: why")), Some(phase.name()));
            let is_end = matches!(phase, Phase::RolledBack | Phase::Failed);
            assert_eq!(
                is_rollback_phase(phase.name()),
                phase.is_rollback() && !is_end,
                "{}",
                phase.name()
            );
        }
        assert_eq!(all.len(), PHASES.len());
    }

    #[test]
    fn a_phase_is_named_only_by_the_details_first_word() {
        assert_eq!(
            named_phase("canary_step 2 (25 %): soaking"),
            Some("canary_step")
        );
        assert_eq!(named_phase("draining_old: 30s"), Some("draining_old"));
        assert_eq!(named_phase("web-g2 follows the serving group"), None);
        assert_eq!(named_phase("canary_steps 2"), None);
        assert_eq!(named_phase(""), None);
    }

    fn attrs(steps: Value, samples: Option<Value>) -> Value {
        let mut last = json!({
            "status": "succeeded",
            "started_at": "2026-12-02T19:00:00Z",
            "finished_at": "2026-12-02T19:10:00Z",
            "steps": steps,
        });
        if let Some(samples) = samples {
            last["samples"] = samples;
        }
        json!({"name": "web", "generation": 2, "strategy": "canary", "last_rollout": last})
    }

    #[test]
    fn bands_run_from_phase_to_phase_and_the_last_to_the_end() {
        let report = RolloutReport::from_attributes(
            "zdd_rollout.web",
            &attrs(
                json!([
                    {"at": "2026-12-02T19:00:00Z", "action": "phase", "detail": "launching: canary generation 1 → 2 (lt:2)"},
                    {"at": "2026-12-02T19:00:05Z", "action": "create_asg", "detail": "web-g2"},
                    {"at": "2026-12-02T19:01:00Z", "action": "phase", "detail": "canary_step 1 (10 %): weights set"},
                    {"at": "2026-12-02T19:02:00Z", "action": "phase", "detail": "web-g2 follows the serving group"},
                    {"at": "2026-12-02T19:05:00Z", "action": "phase", "detail": "draining_old: 30s"},
                ]),
                None,
            ),
        )
        .unwrap();
        let spans: Vec<(&str, Seconds, Seconds)> = report
            .bands
            .iter()
            .map(|b| {
                (
                    b.phase,
                    b.start - report.window.unwrap().start,
                    b.end - report.window.unwrap().start,
                )
            })
            .collect();
        assert_eq!(
            spans,
            [
                ("launching", 0.0, 60.0),
                ("canary_step", 60.0, 300.0),
                ("draining_old", 300.0, 600.0)
            ]
        );
        assert_eq!(report.bands[1].label, "canary_step 1 (10 %)");
        assert_eq!(
            report.generations,
            Generations {
                from: Some(1),
                to: Some(2),
                serving: Some(2)
            }
        );
        assert_eq!(report.samples, None);
        assert!(
            report.notes.iter().any(|n| n.contains("no health samples")),
            "{:?}",
            report.notes
        );
        assert_eq!(report.duration(), Some(600.0));
    }

    #[test]
    fn unreadable_times_and_samples_are_skipped_with_a_note() {
        let report = RolloutReport::from_attributes(
            "zdd_rollout.web",
            &attrs(
                json!([
                    {"at": "soon", "action": "phase", "detail": "launching: first deployment of generation 1"},
                    {"at": "2026-12-02T19:03:00Z", "action": "failure", "detail": "unhealthy"},
                ]),
                Some(json!([
                    {"at": "2026-12-02T19:02:00Z", "healthy_new": 1, "healthy_old": 0, "weight_new": null},
                    {"at": "later", "healthy_new": 2, "healthy_old": 0, "weight_new": null},
                    {"at": "2026-12-02T19:01:00Z", "healthy_new": -1, "healthy_old": 0},
                    {"at": "2026-12-02T19:00:30Z", "healthy_new": 0, "healthy_old": 0},
                ])),
            ),
        )
        .unwrap();
        assert_eq!(report.steps.len(), 2, "the table keeps every step");
        assert!(report.bands.is_empty(), "the launching step has no time");
        assert_eq!(report.markers.len(), 1);
        assert!(report.markers[0].is_failure);
        let samples = report.samples.as_ref().unwrap();
        let healthy: Vec<u32> = samples.iter().map(|s| s.sample.healthy_new).collect();
        assert_eq!(
            healthy,
            [0, 1],
            "sorted by time, the unreadable two left out"
        );
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.starts_with("1 timeline step")),
            "{:?}",
            report.notes
        );
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.starts_with("2 health sample")),
            "{:?}",
            report.notes
        );
    }

    #[test]
    fn an_absurd_health_count_is_an_unreadable_sample_with_a_note() {
        let report = RolloutReport::from_attributes(
            "zdd_rollout.web",
            &attrs(
                json!([]),
                Some(json!([
                    {"at": "2026-12-02T19:01:00Z", "healthy_new": 4294967295u32, "healthy_old": 2, "weight_new": null},
                    {"at": "2026-12-02T19:02:00Z", "healthy_new": 2, "healthy_old": 100001, "weight_new": null},
                    {"at": "2026-12-02T19:03:00Z", "healthy_new": 100000, "healthy_old": 0, "weight_new": null},
                ])),
            ),
        )
        .unwrap();
        let healthy: Vec<u32> = report
            .samples
            .as_ref()
            .unwrap()
            .iter()
            .map(|s| s.sample.healthy_new)
            .collect();
        assert_eq!(healthy, [100000], "the two absurd samples are left out");
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.starts_with("2 health sample(s) count more than 100000")),
            "{:?}",
            report.notes
        );
    }

    #[test]
    fn a_rollback_spans_from_restoring_old_to_rolled_back() {
        let report = RolloutReport::from_attributes(
            "zdd_rollout.web",
            &attrs(
                json!([
                    {"at": "2026-12-02T19:00:00Z", "action": "phase", "detail": "launching: x"},
                    {"at": "2026-12-02T19:02:00Z", "action": "failure", "detail": "5xx"},
                    {"at": "2026-12-02T19:02:00Z", "action": "phase", "detail": "restoring_old: 5xx"},
                    {"at": "2026-12-02T19:04:00Z", "action": "phase", "detail": "draining_new: 30s"},
                    {"at": "2026-12-02T19:06:00Z", "action": "phase", "detail": "rolled_back: generation 1 serves"},
                ]),
                None,
            ),
        )
        .unwrap();
        let start = report.window.unwrap().start;
        let span = report.rollback.unwrap();
        assert_eq!((span.start - start, span.end - start), (120.0, 360.0));
    }

    /// Past the point of no return the engine fails without rolling back: a failure mark, and
    /// no rollback span (there was one from `failed` to the end before).
    #[test]
    fn a_forward_rollout_that_failed_has_no_rollback() {
        let mut state = attrs(
            json!([
                {"at": "2026-12-02T19:00:00Z", "action": "phase", "detail": "launching: blue_green generation 1 → 2 (lt:2)"},
                {"at": "2026-12-02T19:01:00Z", "action": "phase", "detail": "detaching_old: listener to web-g2"},
                {"at": "2026-12-02T19:02:00Z", "action": "phase", "detail": "draining_old: 30s"},
                {"at": "2026-12-02T19:03:00Z", "action": "phase", "detail": "deleting_old: web-g1"},
                {"at": "2026-12-02T19:04:00Z", "action": "failure", "detail": "cannot delete web-g1"},
                {"at": "2026-12-02T19:04:00Z", "action": "phase", "detail": "failed: cannot delete web-g1"},
            ]),
            None,
        );
        state["last_rollout"]["status"] = json!("failed");
        let report = RolloutReport::from_attributes("zdd_rollout.web", &state).unwrap();
        assert_eq!(report.rollback, None);
        assert_eq!(report.markers.len(), 1);
        assert!(report.markers[0].is_failure);
        assert_eq!(report.bands.last().map(|b| b.phase), Some("failed"));
    }

    #[test]
    fn no_last_rollout_is_no_report_and_an_instant_rollout_has_a_window() {
        assert_eq!(
            RolloutReport::from_attributes("a", &json!({"last_rollout": null})),
            None
        );
        assert_eq!(
            RolloutReport::from_attributes("a", &json!({"name": "x"})),
            None
        );
        let mut instant = attrs(json!([]), Some(json!([])));
        instant["last_rollout"]["finished_at"] = json!("2026-12-02T19:00:00Z");
        let report = RolloutReport::from_attributes("a", &instant).unwrap();
        let window = report.window.unwrap();
        assert_eq!(window.length(), 0.0);
        assert!(report.notes.iter().any(|n| n.contains("zero-length")));
    }
}
