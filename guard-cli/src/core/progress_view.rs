//! The live view of a guarded apply's rollouts (issue #17): from the event lines the provider
//! appends to `ZDD_EVENTS_FILE` (`zdd_events::EventLine`) to the lines a person reads in a CI
//! log and the typed `--json` events. Pure: the file's new bytes and `now` (the time since the
//! view began, from the caller's monotonic clock) in, lines out; `commands/progress_feed.rs`
//! reads the file and prints.
//!
//! Per rollout: a line when it starts, one per phase, one when it finishes, and a progress line
//! ("web: healthy 3/4 new, 4/4 old, weight 25 %, soak 2m10s left") when its health or weight
//! changes (at most one per [`MIN_CHANGE_GAP`]) and at least every `progress_every` while it
//! waits. Plain lines only, prefixed by the rollout's name (and its region, when the provider
//! names it: "web [eu-west-1]") so several rollouts of one apply can interleave: no cursor movement, no carriage return (CI logs keep every byte), and nothing the
//! provider wrote (names, phases, details) reaches a terminal raw: control characters, line
//! separators and bidirectional overrides are shown escaped, and long texts are cut.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::core::safe_text;
use serde::Deserialize;
use serde_json::{Value, json};
use zdd_events::{Event, EventLine, Operation, Progress, Role, SCHEMA_VERSION, WaitKind};

/// The least time between two progress lines of one rollout that a change of health, weight or
/// capacity prints (a rollout whose targets turn healthy one by one prints one line, not ten).
pub const MIN_CHANGE_GAP: Duration = Duration::from_secs(10);

/// `--progress-every`'s default: the longest a waiting rollout goes without a progress line.
pub const DEFAULT_PROGRESS_EVERY: Duration = Duration::from_secs(30);

/// The longest event line kept while it waits for its newline; a longer one is skipped whole
/// (the provider's lines are a few hundred bytes: this only bounds what a stray writer costs).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The most characters shown of one text the provider wrote.
const MAX_TEXT_CHARS: usize = 200;

/// What a shown line reports (each is one `--json` event: `rollout_started`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Started,
    Phase,
    Progress,
    Finished,
}

/// One line of the view: the text a person reads, and the `data` of its `--json` event.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    pub kind: Kind,
    /// A rollout that finished other than `succeeded` (rolled back, failed, interrupted).
    pub warning: bool,
    pub message: String,
    pub data: Value,
}

/// Event lines the view did not show, by why.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Skipped {
    /// Not an event line (not JSON, or not of the shape its `schema_version` says).
    pub unreadable: u64,
    /// A `schema_version` this guard does not know (a newer provider).
    pub other_version: u64,
    /// Longer than [`MAX_LINE_BYTES`].
    pub too_long: u64,
}

impl Skipped {
    pub fn total(&self) -> u64 {
        self.unreadable + self.other_version + self.too_long
    }
}

/// The view's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewSettings {
    /// The longest a waiting rollout goes without a progress line; zero: no progress lines.
    pub progress_every: Duration,
}

/// The view of every rollout seen in the events file.
#[derive(Debug)]
pub struct ProgressView {
    settings: ViewSettings,
    lines: LineSplitter,
    /// By (`rollout`, `region`): one apply may roll out two fleets of one name in two regions.
    rollouts: BTreeMap<FleetKey, RolloutView>,
    skipped: Skipped,
}

/// A fleet as its event lines name it: the rollout's name and its region, if the line says.
type FleetKey = (String, Option<String>);

/// What the view keeps of one rollout.
#[derive(Debug, Default)]
struct RolloutView {
    /// The last progress event and when it arrived.
    latest: Option<(Progress, String, Duration)>,
    /// The health, weight and capacity the last progress line showed.
    shown: Option<Progress>,
    /// When the last progress line was shown.
    shown_at: Option<Duration>,
    finished: bool,
}

impl ProgressView {
    pub fn new(settings: ViewSettings) -> ProgressView {
        ProgressView {
            settings,
            lines: LineSplitter::default(),
            rollouts: BTreeMap::new(),
            skipped: Skipped::default(),
        }
    }

    pub fn skipped(&self) -> Skipped {
        self.skipped
    }

    /// The file was truncated or replaced: its next bytes start a new line.
    pub fn restart(&mut self) {
        self.lines = LineSplitter::default();
    }

    /// The file is read for the last time: a last line without its newline (a writer cut off
    /// mid-line) is counted as unreadable rather than dropped unsaid.
    pub fn finish(&mut self) {
        if self.lines.take_partial() {
            self.skipped.unreadable += 1;
        }
    }

    /// The file's next bytes, arrived at `now`: the lines their complete event lines show. A
    /// partial last line waits for the rest of it.
    pub fn feed(&mut self, bytes: &[u8], now: Duration) -> Vec<Shown> {
        let mut shown = Vec::new();
        let (lines, too_long) = self.lines.push(bytes);
        self.skipped.too_long += too_long;
        for line in lines {
            self.ingest(&line, now, &mut shown);
        }
        shown
    }

    /// The progress lines due at `now` with nothing new in the file: a change held back by
    /// [`MIN_CHANGE_GAP`], or a wait's periodic line.
    pub fn tick(&mut self, now: Duration) -> Vec<Shown> {
        let every = self.settings.progress_every;
        self.rollouts
            .iter_mut()
            .filter_map(|(fleet, rollout)| rollout.progress_line(fleet, now, every))
            .collect()
    }

    fn ingest(&mut self, line: &[u8], now: Duration, shown: &mut Vec<Shown>) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let event = match parse(line) {
            Ok(event) => event,
            Err(Skip::Unreadable) => {
                self.skipped.unreadable += 1;
                return;
            }
            Err(Skip::OtherVersion) => {
                self.skipped.other_version += 1;
                return;
            }
        };
        let EventLine {
            rollout: name,
            region,
            at,
            event,
            ..
        } = event;
        let fleet = (name, region);
        let rollout = self.rollouts.entry(fleet.clone()).or_default();
        let shown_name = fleet_words(&fleet);
        let shown_region = fleet.1.as_deref().map(clean);
        let name = clean(&fleet.0);
        let at = clean(&at);
        match event {
            Event::Started {
                operation,
                strategy,
                from_generation,
                to_generation,
            } => {
                *rollout = RolloutView::default();
                let what = started_words(operation, &strategy, from_generation, to_generation);
                shown.push(Shown {
                    kind: Kind::Started,
                    warning: false,
                    message: format!("zdd_rollout {shown_name}: {what}"),
                    data: json!({
                        "rollout": name,
                        "region": shown_region,
                        "at": at,
                        "operation": operation_name(operation),
                        "strategy": clean(&strategy),
                        "from_generation": from_generation,
                        "to_generation": to_generation,
                    }),
                });
            }
            Event::Phase { phase, detail } => {
                let (phase, detail) = (clean(&phase), clean(&detail));
                // The timeline's entry may begin with the phase's name: said once.
                let reason = detail
                    .strip_prefix(phase.as_str())
                    .map_or(detail.as_str(), |rest| {
                        rest.trim_start_matches(':').trim_start()
                    });
                let why = if reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({reason})")
                };
                shown.push(Shown {
                    kind: Kind::Phase,
                    warning: false,
                    message: format!("{shown_name}: {phase}{why}"),
                    data: json!({
                        "rollout": name,
                        "region": shown_region,
                        "at": at,
                        "phase": phase,
                        "detail": detail,
                    }),
                });
            }
            Event::Progress(progress) => {
                rollout.latest = Some((progress, at, now));
                let every = self.settings.progress_every;
                shown.extend(rollout.progress_line(&fleet, now, every));
            }
            Event::Finished { status, detail } => {
                rollout.finished = true;
                let (status_text, detail) = (clean(&status), clean(&detail));
                let why = if detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({detail})")
                };
                shown.push(Shown {
                    kind: Kind::Finished,
                    warning: status != "succeeded",
                    message: format!("{shown_name}: finished {status_text}{why}"),
                    data: json!({
                        "rollout": name,
                        "region": shown_region,
                        "at": at,
                        "status": status_text,
                        "detail": detail,
                    }),
                });
            }
        }
    }
}

impl RolloutView {
    /// The progress line due at `now`, if one is: the first picture, a changed one at least
    /// [`MIN_CHANGE_GAP`] (or `every`, if shorter) after the last line, or a wait's line every
    /// `every`. None once the rollout finished, or with `every` zero.
    fn progress_line(&mut self, fleet: &FleetKey, now: Duration, every: Duration) -> Option<Shown> {
        if self.finished || every.is_zero() {
            return None;
        }
        let (progress, at, arrived) = self.latest.as_ref()?;
        let due = match self.shown_at {
            None => true,
            Some(shown_at) => {
                let since = now.saturating_sub(shown_at);
                let changed = self
                    .shown
                    .as_ref()
                    .is_none_or(|shown| !same_picture(shown, progress));
                (changed && since >= MIN_CHANGE_GAP.min(every))
                    || (progress.waiting.is_some() && since >= every)
            }
        };
        if !due {
            return None;
        }
        // The wait's time left, counted down to now.
        let mut progress = progress.clone();
        if let Some(left) = progress
            .waiting
            .as_mut()
            .and_then(|w| w.seconds_left.as_mut())
        {
            *left = left.saturating_sub(now.saturating_sub(*arrived).as_secs());
        }
        let at = at.clone();
        self.shown = Some(progress.clone());
        self.shown_at = Some(now);
        let message = format!("{}: {}", fleet_words(fleet), progress_words(&progress));
        progress.phase = clean(&progress.phase);
        for generation in &mut progress.generations {
            generation.asg = clean(&generation.asg);
        }
        let mut data = serde_json::to_value(&progress).unwrap_or(Value::Null);
        if let Value::Object(fields) = &mut data {
            fields.insert("rollout".into(), Value::String(clean(&fleet.0)));
            let region = fleet.1.as_deref().map(clean);
            fields.insert("region".into(), region.map_or(Value::Null, Value::String));
            fields.insert("at".into(), Value::String(at));
        }
        Some(Shown {
            kind: Kind::Progress,
            warning: false,
            message,
            data,
        })
    }
}

/// Whether two pictures show the same health, weight and capacity (phase and time left aside:
/// the phase has its own lines, and the time left changes on every look).
fn same_picture(a: &Progress, b: &Progress) -> bool {
    a.generations == b.generations
        && a.new_weight_percent == b.new_weight_percent
        && a.served == b.served
        && a.floor == b.floor
        && a.waiting.as_ref().map(|w| w.what) == b.waiting.as_ref().map(|w| w.what)
}

/// "healthy 3/4 new, 4/4 old, weight 25 %, soak 2m10s left": the parts that apply.
fn progress_words(progress: &Progress) -> String {
    let mut parts = Vec::new();
    let mut generations: Vec<_> = progress.generations.iter().collect();
    // New before old, whatever order the writer used.
    generations.sort_by_key(|g| g.role != Role::New);
    for (index, generation) in generations.iter().enumerate() {
        let role = match generation.role {
            Role::New => "new",
            Role::Old => "old",
        };
        let healthy = if index == 0 { "healthy " } else { "" };
        let detached = if generation.attached {
            ""
        } else {
            " (detached)"
        };
        parts.push(format!(
            "{healthy}{}/{} {role}{detached}",
            generation.healthy, generation.desired
        ));
    }
    for generation in &generations {
        if generation.draining > 0 {
            let role = match generation.role {
                Role::New => "new",
                Role::Old => "old",
            };
            parts.push(format!("draining {} {role}", generation.draining));
        }
    }
    if generations.is_empty() {
        parts.push("no generation yet".into());
    }
    if let Some(weight) = progress.new_weight_percent {
        parts.push(format!("weight {weight} %"));
    }
    // The floor matters while two generations share the fleet.
    if progress.floor > 0 && generations.iter().any(|g| g.role == Role::Old) {
        parts.push(format!("floor {}", progress.floor));
    }
    if let Some(waiting) = &progress.waiting {
        let what = match waiting.what {
            WaitKind::Health => "health wait",
            WaitKind::Hook => "lifecycle hook",
            other => other.as_str(),
        };
        parts.push(match waiting.seconds_left {
            Some(left) => format!(
                "{what} {} left",
                zdd_duration::format(Duration::from_secs(left))
            ),
            None => format!("waiting: {what}"),
        });
    }
    parts.join(", ")
}

/// A line's prefix: the rollout's name, and its region when the line names one ("web
/// [eu-west-1]"). Always when known, not only once a second fleet of the name shows: a line
/// printed before the second fleet appeared could not be told apart afterwards, and in an
/// interleaved CI log every line should say on its own which fleet it is about.
fn fleet_words((name, region): &FleetKey) -> String {
    match region {
        Some(region) => format!("{} [{}]", clean(name), clean(region)),
        None => clean(name),
    }
}

/// What a run does, as its `started` line says it.
fn started_words(
    operation: Operation,
    strategy: &str,
    from_generation: Option<u64>,
    to_generation: u64,
) -> String {
    match operation {
        Operation::Rollout => {
            let over = from_generation
                .map(|from| format!(" over generation {from}"))
                .unwrap_or_default();
            format!(
                "rolling out generation {to_generation} ({}){over}",
                strategy_words(strategy)
            )
        }
        Operation::Rollback => {
            let serves = from_generation
                .map(|from| format!(" (generation {from} serves again)"))
                .unwrap_or_default();
            format!("finishing the rollback of generation {to_generation}{serves}")
        }
        Operation::Teardown => "destroying the fleet".into(),
    }
}

/// The operation's name in `--json` data, as the event line spells it.
fn operation_name(operation: Operation) -> &'static str {
    match operation {
        Operation::Rollout => "rollout",
        Operation::Rollback => "rollback",
        Operation::Teardown => "teardown",
    }
}

fn strategy_words(strategy: &str) -> String {
    match strategy {
        "blue_green" => "blue/green".into(),
        other => clean(other),
    }
}

enum Skip {
    Unreadable,
    OtherVersion,
}

/// An event line of this guard's schema version.
fn parse(line: &[u8]) -> Result<EventLine, Skip> {
    #[derive(Deserialize)]
    struct Versioned {
        schema_version: u32,
    }
    let versioned: Versioned = serde_json::from_slice(line).map_err(|_| Skip::Unreadable)?;
    if versioned.schema_version != SCHEMA_VERSION {
        return Err(Skip::OtherVersion);
    }
    serde_json::from_slice(line).map_err(|_| Skip::Unreadable)
}

/// A text the provider wrote, safe to print (`core::safe_text`), and cut at
/// [`MAX_TEXT_CHARS`] characters.
pub fn clean(text: &str) -> String {
    safe_text::clean_at_most(text, MAX_TEXT_CHARS)
}

/// Cuts a byte stream into complete lines; a partial last line waits for its newline.
#[derive(Debug, Default)]
struct LineSplitter {
    partial: Vec<u8>,
    /// Dropping a too-long line up to its newline.
    discarding: bool,
}

impl LineSplitter {
    /// Drops the partial line; true when it held anything but whitespace (a too-long one being
    /// dropped was counted already).
    fn take_partial(&mut self) -> bool {
        let partial = std::mem::take(&mut self.partial);
        !self.discarding && !partial.iter().all(u8::is_ascii_whitespace)
    }

    /// The complete lines `bytes` ends, and how many too-long lines were dropped.
    fn push(&mut self, bytes: &[u8]) -> (Vec<Vec<u8>>, u64) {
        let mut lines = Vec::new();
        let mut too_long = 0;
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            let head = &rest[..end];
            if std::mem::take(&mut self.discarding) {
                // The end of a line already counted as too long.
            } else if self.partial.len() + head.len() > MAX_LINE_BYTES {
                too_long += 1;
                self.partial.clear();
            } else {
                self.partial.extend_from_slice(head);
                lines.push(std::mem::take(&mut self.partial));
            }
            rest = &rest[end + 1..];
        }
        if !self.discarding {
            if self.partial.len() + rest.len() > MAX_LINE_BYTES {
                too_long += 1;
                self.partial.clear();
                self.discarding = true;
            } else {
                self.partial.extend_from_slice(rest);
            }
        }
        (lines, too_long)
    }
}

#[cfg(test)]
#[path = "progress_view_tests.rs"]
mod tests;
