//! The status view as aligned text for a terminal or a CI log. Colour is the caller's decision
//! (only on a terminal); the columns are aligned on the text without colour codes.

use std::time::{Duration, UNIX_EPOCH};

use anstyle::{AnsiColor, Style};

// Text from AWS (tag values, names, reasons) is shown through the guard's one escaping rule.
use crate::core::safe_text::clean;

use super::view::{
    DrainLeft, FleetView, FloorStream, FloorView, GenerationView, NameView, Role, StateView,
    StatusView, TagValue, TargetGroupView,
};

const RED: Style = AnsiColor::Red.on_default();
const GREEN: Style = AnsiColor::Green.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const CYAN: Style = AnsiColor::Cyan.on_default();
const BOLD: Style = Style::new().bold();
const PLAIN: Style = Style::new();

/// Renders one look.
pub fn render(view: &StatusView, colour: bool) -> String {
    let paint = Painter { colour };
    let mut out = format!(
        "zdd-guard status at {} ({})\n",
        timestamp(view.at),
        view.region.as_deref().unwrap_or("no region")
    );
    for name in &view.names {
        out.push('\n');
        render_name(&mut out, name, view, &paint);
    }
    out
}

/// The separator `--watch` prints before a look that changed.
pub fn separator(at: i64) -> String {
    format!("──── {} ────\n", timestamp(at))
}

struct Painter {
    colour: bool,
}

impl Painter {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.colour && style != PLAIN {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }
}

fn render_name(out: &mut String, name: &NameView, view: &StatusView, paint: &Painter) {
    if !name.found {
        out.push_str(&format!(
            "{}: no Auto Scaling group is tagged zdd:rollout = {} in {}\n",
            paint.paint(BOLD, &clean(&name.name)),
            clean(&name.name),
            view.region.as_deref().unwrap_or("this region")
        ));
        return;
    }
    if name.shared_by_owners {
        let owners: Vec<String> = name.fleets.iter().map(|f| owner_label(&f.owner)).collect();
        out.push_str(&format!(
            "{}: {} owners use the name {} in this account: {}. Each fleet is shown apart.\n",
            paint.paint(YELLOW, "note"),
            name.fleets.len(),
            name.name,
            owners.join(", ")
        ));
    }
    for (index, fleet) in name.fleets.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        render_fleet(out, &name.name, fleet, view.at, paint);
    }
}

fn owner_label(owner: &Option<String>) -> String {
    match owner {
        Some(owner) => format!("owner {}", clean(owner)),
        None => "no owner id".to_string(),
    }
}

fn render_fleet(out: &mut String, name: &str, fleet: &FleetView, now: i64, paint: &Painter) {
    out.push_str(&format!(
        "{} ({})  {}\n",
        paint.paint(BOLD, &format!("fleet {}", clean(name))),
        owner_label(&fleet.owner),
        state_text(&fleet.state, paint)
    ));
    if let Some(newest) = fleet.generations.first() {
        out.push_str(&format!("  phase   {}\n", phase_text(newest, now)));
    }
    out.push_str(&format!("  floor   {}\n", floor_text(&fleet.floor, paint)));
    for group in &fleet.unreadable_groups {
        out.push_str(&format!(
            "  {}  group {} is tagged with this fleet but its zdd:generation is {}\n",
            paint.paint(YELLOW, "warning"),
            clean(&group.group),
            match &group.generation {
                TagValue::Unreadable { unreadable } => format!("unreadable: {unreadable:?}"),
                _ => "missing".to_string(),
            }
        ));
    }
    out.push('\n');
    let mut table = Table::new(&[
        "GENERATION",
        "ROLE",
        "PHASE",
        "SINCE",
        "DESIRED",
        "IN SERVICE",
        "GROUP",
    ]);
    for generation in &fleet.generations {
        table.row(vec![
            (format!("g{}", generation.generation), PLAIN),
            (
                generation.role.label().to_string(),
                role_style(generation.role),
            ),
            (
                generation
                    .phase
                    .as_deref()
                    .map_or_else(|| "(no zdd:phase)".into(), clean),
                PLAIN,
            ),
            (since_text(generation, now), PLAIN),
            (
                format!(
                    "{} ({}-{})",
                    generation.desired, generation.min, generation.max
                ),
                PLAIN,
            ),
            (
                format!("{}/{}", generation.in_service, generation.instances),
                if generation.in_service < generation.instances {
                    YELLOW
                } else {
                    PLAIN
                },
            ),
            (group_text(generation), PLAIN),
        ]);
    }
    table.render_into(out, paint);
    if !fleet.target_groups.is_empty() {
        out.push('\n');
        render_target_groups(out, &fleet.target_groups, paint);
    }
    for listener in &fleet.listeners {
        let forwards: Vec<String> = listener
            .forwards
            .iter()
            .map(|forward| {
                let generations: Vec<String> = forward
                    .generations
                    .iter()
                    .map(|g| format!("g{g}"))
                    .collect();
                let behind = if generations.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", generations.join(" "))
                };
                format!(
                    "{} {}%{behind}",
                    clean(&forward.target_group),
                    forward.percent
                )
            })
            .collect();
        out.push_str(&format!(
            "  listener {}:{}  {}\n",
            listener
                .protocol
                .as_deref()
                .map_or_else(|| "?".into(), clean),
            listener
                .port
                .map_or_else(|| "?".to_string(), |port| port.to_string()),
            forwards.join(" · ")
        ));
    }
    if !fleet.events.is_empty() {
        out.push_str("\n  last events (newest first)\n");
        for event in &fleet.events {
            let generations: Vec<String> =
                event.generations.iter().map(|g| format!("g{g}")).collect();
            out.push_str(&format!(
                "    {}  {:<7} {}\n",
                clock(event.at),
                generations.join(" "),
                clean(&event.what)
            ));
        }
    }
}

fn render_target_groups(out: &mut String, target_groups: &[TargetGroupView], paint: &Painter) {
    let mut table = Table::new(&[
        "TARGET GROUP",
        "DELAY",
        "GENERATION",
        "HEALTHY",
        "INITIAL",
        "UNHEALTHY",
        "DRAINING",
        "UNUSED",
        "NOTES",
    ]);
    for tg in target_groups {
        let delay = match &tg.deregistration_delay {
            TagValue::Value(seconds) => format!("{seconds}s"),
            TagValue::Unreadable { unreadable } => format!("{unreadable:?}?"),
            TagValue::Absent => "?".to_string(),
        };
        if tg.generations.is_empty() {
            table.row(vec![
                (clean(&tg.name), PLAIN),
                (delay, PLAIN),
                ("-".into(), PLAIN),
                ("0".into(), PLAIN),
                ("0".into(), PLAIN),
                ("0".into(), PLAIN),
                ("0".into(), PLAIN),
                ("0".into(), PLAIN),
                ("no target of this fleet".into(), PLAIN),
            ]);
            continue;
        }
        for (index, generation) in tg.generations.iter().enumerate() {
            let (name, delay) = if index == 0 {
                (clean(&tg.name), delay.clone())
            } else {
                (String::new(), String::new())
            };
            let count = |state: &str, bad: Style| {
                let n = generation.count(state);
                (n.to_string(), if n > 0 { bad } else { PLAIN })
            };
            let mut notes = Vec::new();
            if let Some(drain) = &generation.drain {
                notes.push(drain_text(drain));
            }
            let others: Vec<String> = generation
                .states
                .iter()
                .filter(|(state, _)| {
                    !["healthy", "initial", "unhealthy", "draining", "unused"]
                        .contains(&state.as_str())
                })
                .map(|(state, n)| format!("{} {n}", clean(state)))
                .collect();
            if !others.is_empty() {
                notes.push(others.join(", "));
            }
            let reasons: Vec<String> = generation
                .reasons
                .iter()
                .map(|(reason, n)| format!("{} x{n}", clean(reason)))
                .collect();
            if !reasons.is_empty() {
                notes.push(reasons.join(", "));
            }
            table.row(vec![
                (name, PLAIN),
                (delay, PLAIN),
                (format!("g{}", generation.generation), PLAIN),
                count("healthy", GREEN),
                count("initial", YELLOW),
                count("unhealthy", RED),
                count("draining", CYAN),
                count("unused", PLAIN),
                (notes.join("; "), PLAIN),
            ]);
        }
    }
    table.render_into(out, paint);
}

fn role_style(role: Role) -> Style {
    match role {
        Role::Serving => GREEN,
        Role::New => CYAN,
        Role::Old => PLAIN,
        Role::RollingBack | Role::KeptFailed => RED,
    }
}

fn state_text(state: &StateView, paint: &Painter) -> String {
    match state {
        StateView::Empty => paint.paint(
            YELLOW,
            "no generation serves (none is readable, or only failed ones are kept)",
        ),
        StateView::Settled { serving } => format!("settled: g{serving} serves"),
        StateView::Rollout { from, to } => paint.paint(
            CYAN,
            &format!(
                "rollout g{from} -> g{to} under way (or stopped half-way: the next apply resumes it)"
            ),
        ),
        StateView::RollingBack {
            failed,
            restoring,
            reason,
        } => paint.paint(
            RED,
            &format!(
                "rolling back g{failed}{}: {}",
                restoring.map_or_else(String::new, |g| format!(" to g{g}")),
                clean(reason)
            ),
        ),
    }
}

fn phase_text(newest: &GenerationView, now: i64) -> String {
    let phase = newest
        .phase
        .as_deref()
        .map_or_else(|| "unknown (no zdd:phase tag)".into(), clean);
    match &newest.phase_since {
        TagValue::Value(since) => match newest.phase_age_seconds {
            Some(age) => format!("{phase}, since {} ({} ago)", clock(*since), human(age)),
            None => format!(
                "{phase}, since {} ({} ahead of this clock)",
                clock(*since),
                human(u64::try_from(since.saturating_sub(now)).unwrap_or(0))
            ),
        },
        TagValue::Unreadable { unreadable } => {
            format!("{phase}, since unreadable (zdd:phase-since = {unreadable:?})")
        }
        TagValue::Absent => format!("{phase}, since unknown (no zdd:phase-since)"),
    }
}

fn since_text(generation: &GenerationView, now: i64) -> String {
    match (&generation.phase_since, generation.phase_age_seconds) {
        (TagValue::Value(_), Some(age)) => format!("{} ago", human(age)),
        (TagValue::Value(since), None) => format!(
            "in {}?",
            human(u64::try_from(since.saturating_sub(now)).unwrap_or(0))
        ),
        (TagValue::Unreadable { unreadable }, _) => format!("{unreadable:?}?"),
        (TagValue::Absent, _) => "-".to_string(),
    }
}

fn group_text(generation: &GenerationView) -> String {
    let mut text = clean(&generation.group);
    if generation.deleting {
        text.push_str(" (AWS is deleting it)");
    }
    if let Some(reason) = &generation.rollback_reason {
        text.push_str(&format!(" (rollback: {})", clean(reason)));
    }
    text
}

fn floor_text(floor: &FloorView, paint: &Painter) -> String {
    let healthy = format!("{} healthy and routed", floor.healthy);
    // Several streams: the fewest is the one the floor is held against; the others follow.
    let healthy = match floor.behind.split_first() {
        Some((worst, others)) if !others.is_empty() => {
            let others: Vec<String> = others
                .iter()
                .map(|stream| format!("{}: {}", stream_names(stream), stream.healthy))
                .collect();
            format!(
                "{healthy} to {} ({})",
                stream_names(worst),
                others.join(", ")
            )
        }
        _ => healthy,
    };
    match (&floor.floor, floor.holds) {
        (TagValue::Value(minimum), Some(true)) => format!(
            "{minimum} healthy targets at least, {healthy}: {}",
            paint.paint(GREEN, "holds")
        ),
        (TagValue::Value(minimum), _) => format!(
            "{minimum} healthy targets at least, {healthy}: {}",
            paint.paint(RED, "BELOW THE FLOOR")
        ),
        (TagValue::Unreadable { unreadable }, _) => {
            format!("unreadable (zdd:floor = {unreadable:?}), {healthy}")
        }
        (TagValue::Absent, _) => format!("unknown (no zdd:floor tag), {healthy}"),
    }
}

fn stream_names(stream: &FloorStream) -> String {
    let names: Vec<String> = stream
        .target_groups
        .iter()
        .map(|name| clean(name))
        .collect();
    names.join("+")
}

fn drain_text(drain: &DrainLeft) -> String {
    match drain {
        DrainLeft::AtMostFromPhase { seconds } => {
            format!("drained in at most {}", human(*seconds))
        }
        DrainLeft::AtMostDelay { seconds } => format!(
            "drained in at most {} (the delay; drain start not recorded)",
            human(*seconds)
        ),
        DrainLeft::Unknown => "drain end unknown (delay unreadable)".to_string(),
    }
}

fn human(seconds: u64) -> String {
    zdd_duration::format(Duration::from_secs(seconds))
}

/// `2026-12-02T19:30:05Z` for Unix seconds (the value itself when out of range).
fn timestamp(unix: i64) -> String {
    match u64::try_from(unix) {
        Ok(seconds) => {
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(seconds)).to_string()
        }
        Err(_) => format!("@{unix}"),
    }
}

/// `19:30:05` (UTC) for Unix seconds.
fn clock(unix: i64) -> String {
    let full = timestamp(unix);
    full.get(11..19).map_or(full.clone(), str::to_string)
}

/// Columns aligned on the text without colour.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<(String, Style)>>,
}

impl Table {
    fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| (*h).to_string()).collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<(String, Style)>) {
        self.rows.push(cells);
    }

    fn render_into(&self, out: &mut String, paint: &Painter) {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (index, (text, _)) in row.iter().enumerate() {
                if let Some(width) = widths.get_mut(index) {
                    *width = (*width).max(text.chars().count());
                }
            }
        }
        let line = |cells: Vec<(String, Style)>| {
            let last = cells.len().saturating_sub(1);
            let mut text = String::from("  ");
            for (index, (cell, style)) in cells.into_iter().enumerate() {
                let width = widths.get(index).copied().unwrap_or(0);
                let pad = width.saturating_sub(cell.chars().count());
                text.push_str(&paint.paint(style, &cell));
                if index < last {
                    text.push_str(&" ".repeat(pad + 2));
                }
            }
            text.trim_end().to_string() + "\n"
        };
        out.push_str(&line(
            self.header.iter().map(|h| (h.clone(), PLAIN)).collect(),
        ));
        for row in &self.rows {
            out.push_str(&line(row.clone()));
        }
    }
}
