//! The timeline picture of one rollout: an inline SVG with the phases as bands (labels only
//! where they fit), soaks and drains under them, healthy targets per generation as step lines,
//! the new generation's weight on a second axis, the failure and the rollback marked.
//!
//! Every element that carries data has a `data-kind` (and the values as `data-*`), so tests and
//! tools read the picture without parsing geometry. Text from the state goes through
//! [`escape`] only; classes and `data-phase` use the report's own names, never state text.

use std::fmt::Write as _;

use super::escape;
use super::model::{PhaseRole, RolloutReport, TimedSample, Window, phase_role};
use super::time::{self, Seconds};

const WIDTH: f64 = 1200.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 56.0;
const STRIP_TOP: f64 = 8.0;
const STRIP_HEIGHT: f64 = 26.0;
const BAR_TOP: f64 = 37.0;
const BAR_HEIGHT: f64 = 7.0;
const PLOT_TOP: f64 = 50.0;
const PLOT_HEIGHT: f64 = 230.0;
const HEIGHT: f64 = 318.0;
/// Headroom above the highest value, so a line at the top stays visible.
const HEADROOM: f64 = 12.0;
/// Average width of one character of the 11 px labels (DejaVu Sans, the widest likely font).
const CHAR_WIDTH: f64 = 6.8;
/// At most this many time ticks (their labels never touch).
const MAX_TICKS: f64 = 10.0;
/// A tooltip keeps at most this many characters of a step's detail (the table has all of it).
const TITLE_LIMIT: usize = 300;

/// Maps the rollout's times and values to the picture.
struct Scale {
    window: Window,
    max_healthy: u32,
}

impl Scale {
    fn plot_width() -> f64 {
        WIDTH - LEFT - RIGHT
    }

    fn x(&self, at: Seconds) -> f64 {
        // A zero-length rollout still gets a picture: one second wide.
        let length = self.window.length().max(1.0);
        let offset = (at - self.window.start).clamp(0.0, length);
        LEFT + offset / length * Self::plot_width()
    }

    fn bottom() -> f64 {
        PLOT_TOP + PLOT_HEIGHT
    }

    fn y_healthy(&self, healthy: u32) -> f64 {
        Self::bottom()
            - f64::from(healthy) / f64::from(self.max_healthy.max(1)) * (PLOT_HEIGHT - HEADROOM)
    }

    fn y_weight(weight: u32) -> f64 {
        Self::bottom() - f64::from(weight.min(100)) / 100.0 * (PLOT_HEIGHT - HEADROOM)
    }
}

/// One decimal: enough for a 1200-wide picture, and short.
fn n(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    if rounded == rounded.trunc() {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded:.1}")
    }
}

/// The SVG of `report`'s timeline; `id` makes the ids of its patterns unique on the page.
/// `None` when no time of the rollout can be read.
pub fn timeline(report: &RolloutReport, id: usize) -> Option<String> {
    let window = report.window?;
    let samples = report.samples.as_deref().unwrap_or_default();
    let max_healthy = samples
        .iter()
        .map(|s| s.sample.healthy_new.max(s.sample.healthy_old))
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = Scale {
        window,
        max_healthy,
    };
    let has_weight = samples.iter().any(|s| s.sample.weight_new.is_some());

    let mut svg = String::with_capacity(16 * 1024);
    let _ = write!(
        svg,
        r#"<svg class="timeline" data-kind="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="100%" role="img" aria-label="timeline of {}">"#,
        n(WIDTH),
        n(HEIGHT),
        escape(&report.address)
    );
    let _ = write!(
        svg,
        r#"<defs><pattern id="hatch-{id}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="3" height="6" class="hatch"/></pattern></defs>"#
    );
    let _ = write!(
        svg,
        r#"<rect class="plot" x="{}" y="{}" width="{}" height="{}"/>"#,
        n(LEFT),
        n(PLOT_TOP),
        n(Scale::plot_width()),
        n(PLOT_HEIGHT)
    );
    phase_bands(&mut svg, report, &scale);
    soaks_and_drains(&mut svg, report, &scale);
    if let Some(span) = report.rollback {
        let (x0, x1) = (scale.x(span.start), scale.x(span.end));
        let _ = write!(
            svg,
            r#"<g data-kind="rollback" data-start="{}" data-end="{}"><rect class="rollback" x="{}" y="{}" width="{}" height="{}" fill="url(#hatch-{id})"/><title>rollback: {} to {}</title>"#,
            escape(&time::span(span.start - window.start)),
            escape(&time::span(span.end - window.start)),
            n(x0),
            n(PLOT_TOP),
            n((x1 - x0).max(2.0)),
            n(PLOT_HEIGHT),
            time::clock(span.start),
            time::clock(span.end),
        );
        if x1 - x0 >= 8.0 * CHAR_WIDTH {
            let _ = write!(
                svg,
                r#"<text class="rollback-label" x="{}" y="{}">rollback</text>"#,
                n(x0 + 4.0),
                n(Scale::bottom() - 6.0)
            );
        }
        svg.push_str("</g>");
    }
    axes(&mut svg, &scale, has_weight, !samples.is_empty());
    if !samples.is_empty() {
        health_and_weight(&mut svg, samples, &scale, has_weight);
    }
    markers(&mut svg, report, &scale);
    svg.push_str("</svg>");
    Some(svg)
}

fn phase_class(phase: &str, ordinal: usize) -> String {
    // Neighbouring canary steps and rolling batches alternate shades, so each stays visible.
    match phase {
        "canary_step" | "rolling" => format!("phase-{phase} alt-{}", ordinal % 2),
        _ => format!("phase-{phase}"),
    }
}

/// The band's label: in full, else the phase's name, else its number (`2` of `canary_step 2`),
/// else nothing; always within the band.
fn band_label(label: &str, phase: &str, width: f64) -> Option<String> {
    let fits = |text: &str| text.chars().count() as f64 * CHAR_WIDTH + 6.0 <= width;
    let number = label
        .split_whitespace()
        .find(|word| word.chars().all(|c| c.is_ascii_digit()));
    [Some(label), Some(phase), number]
        .into_iter()
        .flatten()
        .find(|text| fits(text))
        .map(str::to_string)
}

fn phase_bands(svg: &mut String, report: &RolloutReport, scale: &Scale) {
    let start = scale.window.start;
    let mut ordinals = std::collections::HashMap::new();
    for band in &report.bands {
        let ordinal = ordinals.entry(band.phase).or_insert(0usize);
        *ordinal += 1;
        let (x0, x1) = (scale.x(band.start), scale.x(band.end));
        // A terminal phase has no length: a sliver, so it is still seen.
        let width = (x1 - x0).max(1.5);
        let class = phase_class(band.phase, *ordinal);
        let _ = write!(
            svg,
            r#"<g data-kind="phase-band" data-phase="{}" data-step="{}" data-start="{}" data-end="{}" data-label="{}"><rect class="band {class}" x="{}" y="{}" width="{}" height="{}"/><rect class="band-bg {class}" x="{}" y="{}" width="{}" height="{}"/>"#,
            band.phase,
            band.step,
            escape(&time::span(band.start - start)),
            escape(&time::span(band.end - start)),
            escape(&band.label),
            n(x0),
            n(STRIP_TOP),
            n(width),
            n(STRIP_HEIGHT),
            n(x0),
            n(PLOT_TOP),
            n(width),
            n(PLOT_HEIGHT),
        );
        if let Some(text) = band_label(&band.label, band.phase, x1 - x0) {
            let _ = write!(
                svg,
                r#"<text class="band-label" x="{}" y="{}">{}</text>"#,
                n(x0 + 3.0),
                n(STRIP_TOP + 17.0),
                escape(&text)
            );
        }
        let _ = write!(
            svg,
            "<title>{} ({} to {}, {})</title></g>",
            escape(&band.label),
            time::clock(band.start),
            time::clock(band.end),
            time::span(band.end - band.start)
        );
    }
}

fn soaks_and_drains(svg: &mut String, report: &RolloutReport, scale: &Scale) {
    for band in &report.bands {
        let kind = match phase_role(band.phase) {
            PhaseRole::Soak => "soak",
            PhaseRole::Drain => "drain",
            _ => continue,
        };
        let (x0, x1) = (scale.x(band.start), scale.x(band.end));
        let _ = write!(
            svg,
            r#"<rect data-kind="{kind}" data-phase="{}" data-step="{}" class="{kind}" x="{}" y="{}" width="{}" height="{}"><title>{kind}: {}, {}</title></rect>"#,
            band.phase,
            band.step,
            n(x0),
            n(BAR_TOP),
            n((x1 - x0).max(1.5)),
            n(BAR_HEIGHT),
            escape(&band.label),
            time::span(band.end - band.start)
        );
    }
}

/// Round tick steps, in seconds: the smallest that keeps at most [`MAX_TICKS`] ticks.
fn tick_step(length: Seconds) -> Seconds {
    const STEPS: &[f64] = &[
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
        10800.0, 21600.0, 43200.0, 86400.0,
    ];
    STEPS
        .iter()
        .copied()
        .find(|step| length / step <= MAX_TICKS)
        .unwrap_or_else(|| (length / MAX_TICKS / 86400.0).ceil() * 86400.0)
}

fn axes(svg: &mut String, scale: &Scale, has_weight: bool, has_health: bool) {
    let bottom = Scale::bottom();
    let length = scale.window.length().max(1.0);
    let step = tick_step(length);
    svg.push_str(r#"<g class="axis" data-kind="time-axis">"#);
    let _ = write!(
        svg,
        r#"<line x1="{}" y1="{}" x2="{}" y2="{}"/>"#,
        n(LEFT),
        n(bottom),
        n(WIDTH - RIGHT),
        n(bottom)
    );
    let mut offset = 0.0;
    while offset <= length + 1e-9 {
        let x = scale.x(scale.window.start + offset);
        let _ = write!(
            svg,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}"/><text class="tick" data-kind="tick" x="{}" y="{}" text-anchor="middle">{}</text>"#,
            n(x),
            n(bottom),
            n(x),
            n(bottom + 5.0),
            n(x),
            n(bottom + 18.0),
            time::span(offset)
        );
        offset += step;
    }
    let _ = write!(
        svg,
        r#"<text class="axis-title" x="{}" y="{}" text-anchor="end">time from {} UTC</text>"#,
        n(WIDTH - RIGHT),
        n(bottom + 34.0),
        time::clock(scale.window.start)
    );
    svg.push_str("</g>");
    if has_health {
        svg.push_str(r#"<g class="axis" data-kind="health-axis">"#);
        for value in health_ticks(scale.max_healthy) {
            let y = scale.y_healthy(value);
            let _ = write!(
                svg,
                r#"<line class="grid" x1="{}" y1="{}" x2="{}" y2="{}"/><text class="tick" x="{}" y="{}" text-anchor="end">{value}</text>"#,
                n(LEFT),
                n(y),
                n(WIDTH - RIGHT),
                n(y),
                n(LEFT - 6.0),
                n(y + 4.0)
            );
        }
        let _ = write!(
            svg,
            r#"<text class="axis-title" transform="translate(14 {}) rotate(-90)" text-anchor="middle">healthy targets</text></g>"#,
            n(PLOT_TOP + PLOT_HEIGHT / 2.0)
        );
    }
    if has_weight {
        svg.push_str(r#"<g class="axis weight-axis" data-kind="weight-axis">"#);
        for weight in [0, 25, 50, 75, 100] {
            let _ = write!(
                svg,
                r#"<text class="tick" x="{}" y="{}">{weight} %</text>"#,
                n(WIDTH - RIGHT + 6.0),
                n(Scale::y_weight(weight) + 4.0)
            );
        }
        svg.push_str("</g>");
    }
}

/// The health axis's values: 0 to `max` in at most five equal round-up steps, counted in
/// `u64` so a count near `u32::MAX` cannot wrap (the loop once did: a hang in release).
fn health_ticks(max: u32) -> Vec<u32> {
    let max = u64::from(max);
    let every = max.div_ceil(5).max(1);
    (0..=5u64)
        .map(|index| index * every)
        .take_while(|value| *value <= max)
        .filter_map(|value| u32::try_from(value).ok())
        .collect()
}

/// A step line: each value holds from its sample until the next one (the last until the end).
fn step_points(
    samples: &[TimedSample],
    scale: &Scale,
    y: impl Fn(&TimedSample) -> Option<f64>,
) -> (String, usize) {
    let mut points = String::new();
    let mut count = 0;
    for (index, sample) in samples.iter().enumerate() {
        let Some(value) = y(sample) else { continue };
        let next = samples.get(index + 1).map_or(scale.window.end, |s| s.at);
        let _ = write!(
            points,
            "{},{} {},{} ",
            n(scale.x(sample.at)),
            n(value),
            n(scale.x(next)),
            n(value)
        );
        count += 1;
    }
    (points.trim_end().to_string(), count)
}

fn health_and_weight(svg: &mut String, samples: &[TimedSample], scale: &Scale, has_weight: bool) {
    let last = samples.last().map(|s| &s.sample);
    for (generation, pick) in [
        (
            "old",
            (|s: &TimedSample| s.sample.healthy_old) as fn(&TimedSample) -> u32,
        ),
        ("new", |s: &TimedSample| s.sample.healthy_new),
    ] {
        let (points, count) = step_points(samples, scale, |s| Some(scale.y_healthy(pick(s))));
        let last_value = samples.last().map_or(0, pick);
        let _ = write!(
            svg,
            r#"<polyline data-kind="health" data-generation="{generation}" data-samples="{count}" data-last="{last_value}" class="health-{generation}" points="{points}"><title>healthy targets, {generation} generation</title></polyline>"#
        );
    }
    if has_weight {
        let (points, count) =
            step_points(samples, scale, |s| s.sample.weight_new.map(Scale::y_weight));
        let last_weight = last
            .and_then(|s| s.weight_new)
            .map_or(String::new(), |w| w.to_string());
        let _ = write!(
            svg,
            r#"<polyline data-kind="weight" data-samples="{count}" data-last="{last_weight}" class="weight" points="{points}"><title>the new generation's weight (%)</title></polyline>"#
        );
    }
    // Hover areas: one column per sample, the values in its tooltip (no script needed).
    for (index, timed) in samples.iter().enumerate() {
        let next = samples.get(index + 1).map_or(scale.window.end, |s| s.at);
        let (x0, x1) = (scale.x(timed.at), scale.x(next));
        let sample = &timed.sample;
        let weight = sample.weight_new.map_or(String::new(), |w| w.to_string());
        let weight_text = sample
            .weight_new
            .map_or(String::new(), |w| format!(", weight {w} %"));
        let _ = write!(
            svg,
            r#"<rect data-kind="sample" data-at="{}" data-healthy-new="{}" data-healthy-old="{}" data-weight-new="{weight}" class="sample" x="{}" y="{}" width="{}" height="{}"><title>{} healthy new {}, old {}{weight_text}</title></rect>"#,
            escape(&sample.at),
            sample.healthy_new,
            sample.healthy_old,
            n(x0),
            n(PLOT_TOP),
            n((x1 - x0).max(0.5)),
            n(PLOT_HEIGHT),
            time::clock(timed.at),
            sample.healthy_new,
            sample.healthy_old,
        );
    }
}

fn markers(svg: &mut String, report: &RolloutReport, scale: &Scale) {
    let mut failure_labelled = false;
    for marker in &report.markers {
        let x = scale.x(marker.at);
        let Some(step) = report.steps.get(marker.step) else {
            continue;
        };
        let detail: String = step.detail.chars().take(TITLE_LIMIT).collect();
        let offset = time::span(marker.at - scale.window.start);
        if marker.is_failure {
            let _ = write!(
                svg,
                r#"<g data-kind="failure" data-action="{}" data-step="{}" data-at="{}"><line class="failure" x1="{}" y1="{}" x2="{}" y2="{}"/><path class="failure" d="M{} {}l5 -8h-10z"/>"#,
                marker.action,
                marker.step,
                escape(&offset),
                n(x),
                n(BAR_TOP),
                n(x),
                n(Scale::bottom()),
                n(x),
                n(PLOT_TOP),
            );
            if !failure_labelled {
                failure_labelled = true;
                // Left of the line when it is near the right edge.
                let (anchor, dx) = if x > WIDTH - RIGHT - 80.0 {
                    ("end", -4.0)
                } else {
                    ("start", 4.0)
                };
                let _ = write!(
                    svg,
                    r#"<text class="failure-label" x="{}" y="{}" text-anchor="{anchor}">{}</text>"#,
                    n(x + dx),
                    n(PLOT_TOP + 14.0),
                    marker.action
                );
            }
            let _ = write!(
                svg,
                "<title>{} at {}: {}</title></g>",
                marker.action,
                time::clock(marker.at),
                escape(&detail)
            );
        } else {
            let _ = write!(
                svg,
                r#"<circle data-kind="event" data-action="{}" data-step="{}" data-at="{}" class="event event-{}" cx="{}" cy="{}" r="3"><title>{} at {}: {}</title></circle>"#,
                marker.action,
                marker.step,
                escape(&offset),
                marker.action,
                n(x),
                n(BAR_TOP + BAR_HEIGHT / 2.0),
                marker.action,
                time::clock(marker.at),
                escape(&detail)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_stay_few_and_round() {
        assert_eq!(tick_step(1.0), 1.0);
        assert_eq!(tick_step(9.0), 1.0);
        assert_eq!(tick_step(11.0), 2.0);
        assert_eq!(tick_step(600.0), 60.0);
        assert_eq!(tick_step(601.0), 120.0);
        assert_eq!(tick_step(86400.0 * 30.0), 86400.0 * 3.0);
    }

    #[test]
    fn a_label_is_shortened_or_dropped_to_fit_its_band() {
        let label = "canary_step 12 (25 %)";
        assert_eq!(
            band_label(label, "canary_step", 400.0).as_deref(),
            Some(label)
        );
        assert_eq!(
            band_label(label, "canary_step", 90.0).as_deref(),
            Some("canary_step")
        );
        assert_eq!(
            band_label(label, "canary_step", 25.0).as_deref(),
            Some("12")
        );
        assert_eq!(band_label(label, "canary_step", 5.0), None);
        assert_eq!(band_label("draining_old", "draining_old", 20.0), None);
    }

    /// A health count near `u32::MAX` (a hostile or corrupt state) once wrapped the tick loop:
    /// a hang in release, an overflow panic in debug.
    #[test]
    fn the_health_axis_of_a_huge_count_has_a_few_ticks_and_ends() {
        let scale = Scale {
            window: Window {
                start: 0.0,
                end: 60.0,
            },
            max_healthy: u32::MAX,
        };
        let mut svg = String::new();
        axes(&mut svg, &scale, false, true);
        let health = &svg[svg.find(r#"data-kind="health-axis""#).unwrap()..];
        assert_eq!(health.matches(r#"class="tick""#).count(), 6, "{health}");
        assert!(health.contains(">4294967295</text>"), "{health}");
        assert!(health.contains(">0</text>"), "{health}");
    }

    #[test]
    fn health_ticks_are_at_most_six_and_end_within_the_maximum() {
        assert_eq!(health_ticks(1), [0, 1]);
        assert_eq!(health_ticks(4), [0, 1, 2, 3, 4]);
        assert_eq!(health_ticks(10), [0, 2, 4, 6, 8, 10]);
        assert_eq!(health_ticks(11), [0, 3, 6, 9]);
        let huge = health_ticks(u32::MAX);
        assert_eq!(huge.len(), 6);
        assert_eq!(huge.last(), Some(&u32::MAX));
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(n(12.0), "12");
        assert_eq!(n(12.04), "12");
        assert_eq!(n(12.06), "12.1");
        assert_eq!(n(-3.25), "-3.3");
    }
}
