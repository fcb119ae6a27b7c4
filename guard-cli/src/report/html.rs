//! The page: one self-contained HTML document (inline CSS, inline SVG, no script, a Content
//! Security Policy that lets nothing load), a section per rollout with its facts, notes,
//! timeline picture and the timeline steps as a table.

use std::fmt::Write as _;

use super::escape;
use super::model::{self, RolloutReport};
use super::svg;
use super::time;

/// Nothing may load from anywhere; only the page's own `<style>` applies. The page has no
/// script, so none is allowed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'";

const STYLE: &str = r#"
body { font: 14px/1.4 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; margin: 24px; color: #1d232a; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 8px; font-family: "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
.source { color: #5b6670; margin: 0 0 16px; overflow-wrap: anywhere; }
nav a { margin-right: 12px; }
section.rollout { border: 1px solid #d5dbe0; border-radius: 6px; padding: 16px; margin: 0 0 24px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 2px 14px; margin: 0 0 10px; }
dl.facts dt { color: #5b6670; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.status { font-weight: bold; padding: 0 6px; border-radius: 3px; }
.status-succeeded { background: #c8e6c9; } .status-rolled_back { background: #ffe0b2; }
.status-failed { background: #ffcdd2; } .status-interrupted, .status-unknown { background: #e0e0e0; }
ul.notes { background: #fff8e1; border-left: 4px solid #ffb300; padding: 6px 6px 6px 24px; margin: 0 0 10px; }
svg.timeline { display: block; max-width: 1400px; font-size: 11px; }
svg .plot { fill: #fbfcfd; stroke: #c9d1d8; }
svg .band { stroke: #fff; stroke-width: 0.5; }
svg .band-bg { opacity: 0.28; }
svg .band-label { fill: #1d232a; }
svg .phase-launching, svg .phase-deleting_old { fill: #cfd8dc; }
svg .phase-waiting_for_healthy { fill: #b3e5fc; }
svg .phase-canary_step.alt-0 { fill: #c8e6c9; } svg .phase-canary_step.alt-1 { fill: #a5d6a7; }
svg .phase-rolling.alt-0 { fill: #dcedc8; } svg .phase-rolling.alt-1 { fill: #c5e1a5; }
svg .phase-detaching_old { fill: #ffe0b2; } svg .phase-draining_old { fill: #ffcc80; }
svg .phase-baking { fill: #fff59d; } svg .phase-complete { fill: #43a047; }
svg .phase-restoring_old { fill: #ef9a9a; } svg .phase-detaching_new { fill: #f8bbd0; }
svg .phase-draining_new { fill: #f48fb1; } svg .phase-deleting_new { fill: #e1bee7; }
svg .phase-rolled_back { fill: #e53935; } svg .phase-failed { fill: #b71c1c; }
svg .soak { fill: #ffb300; } svg .drain { fill: #7e57c2; }
svg .hatch { fill: #e53935; opacity: 0.35; }
svg .rollback { stroke: #c62828; stroke-dasharray: 4 3; }
svg .rollback-label { fill: #b71c1c; font-weight: bold; }
svg .axis line { stroke: #8a96a0; } svg .axis .grid { stroke: #e6eaee; }
svg .tick, svg .axis-title { fill: #5b6670; }
svg .weight-axis .tick { fill: #2e7d32; }
svg polyline { fill: none; stroke-width: 2.2; stroke-linejoin: round; pointer-events: none; }
svg .health-new { stroke: #1565c0; } svg .health-old { stroke: #ef6c00; }
svg .weight { stroke: #2e7d32; stroke-dasharray: 6 3; }
svg .sample { fill: transparent; } svg .sample:hover { fill: rgba(21, 101, 192, 0.08); }
svg .failure { stroke: #c62828; stroke-width: 2; fill: #c62828; }
svg .failure-label { fill: #c62828; font-weight: bold; }
svg .event { fill: #fff; stroke: #37474f; stroke-width: 1.2; }
svg .event-analysis { stroke: #ff8f00; } svg .event-bake { stroke: #f9a825; }
svg .event-drain { stroke: #7e57c2; } svg .event-command_failed { stroke: #c62828; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 6px 0 12px; color: #3c464f; font-size: 12px; }
.legend span::before { content: ""; display: inline-block; width: 16px; height: 10px; margin-right: 5px; vertical-align: middle; }
.legend .l-new::before { border-top: 3px solid #1565c0; height: 0; }
.legend .l-old::before { border-top: 3px solid #ef6c00; height: 0; }
.legend .l-weight::before { border-top: 3px dashed #2e7d32; height: 0; }
.legend .l-soak::before { background: #ffb300; } .legend .l-drain::before { background: #7e57c2; }
.legend .l-failure::before { background: #c62828; width: 3px; }
.legend .l-rollback::before { background: repeating-linear-gradient(45deg, #ef9a9a 0 3px, #fff 3px 6px); }
details summary { cursor: pointer; margin: 8px 0; }
table.steps { border-collapse: collapse; width: 100%; font-size: 12px; }
table.steps th, table.steps td { text-align: left; padding: 2px 8px; border-bottom: 1px solid #eef1f3; vertical-align: top; }
table.steps td.detail { overflow-wrap: anywhere; font-family: "DejaVu Sans Mono", monospace; }
table.steps tr.phase td { background: #f3f7fb; }
table.steps tr.failure td { background: #ffebee; color: #b71c1c; }
table.steps tr.unreadable td { color: #9e9e9e; }
"#;

/// The whole page. `source` says where the state came from (a path, `stdin`, `s3://...`).
pub fn page(reports: &[RolloutReport], source: &str) -> String {
    let mut html = String::with_capacity(64 * 1024);
    let _ = write!(
        html,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>zdd rollout report</title>
<style>{STYLE}</style>
</head><body>
<h1>zdd rollout report</h1>
<p class="source">{} rollout(s) from {}</p>
"#,
        reports.len(),
        escape(source)
    );
    if reports.len() > 1 {
        html.push_str("<nav>");
        for (index, report) in reports.iter().enumerate() {
            let _ = write!(
                html,
                r##"<a href="#rollout-{index}">{}</a>"##,
                escape(&report.address)
            );
        }
        html.push_str("</nav>\n");
    }
    for (index, report) in reports.iter().enumerate() {
        section(&mut html, report, index);
    }
    html.push_str("</body></html>\n");
    html
}

fn section(html: &mut String, report: &RolloutReport, index: usize) {
    let status_class = if model::KNOWN_STATUSES.contains(&report.status.as_str()) {
        report.status.as_str()
    } else {
        "unknown"
    };
    let _ = write!(
        html,
        r#"<section class="rollout" id="rollout-{index}" data-kind="rollout" data-address="{}" data-status="{}">
<h2>{}</h2>
<dl class="facts">"#,
        escape(&report.address),
        escape(&report.status),
        escape(&report.address)
    );
    let generation = |value: Option<u64>| value.map_or("?".to_string(), |g| g.to_string());
    let generations = match (report.generations.from, report.generations.to) {
        (None, None) => "?".to_string(),
        (None, Some(to)) => format!("{to} (first deployment or in place)"),
        (from, to) => format!("{} → {}", generation(from), generation(to)),
    };
    let duration = report.duration().map_or("?".to_string(), time::span);
    let facts = [
        ("name", escape(&report.name), ""),
        (
            "strategy",
            escape(report.strategy.as_deref().unwrap_or("?")),
            "",
        ),
        ("status", escape(&report.status), status_class),
        ("duration", duration, ""),
        (
            "started",
            escape(report.started_at.as_deref().unwrap_or("?")),
            "",
        ),
        (
            "finished",
            escape(report.finished_at.as_deref().unwrap_or("?")),
            "",
        ),
        ("generation", generations, ""),
        ("serving now", generation(report.generations.serving), ""),
    ];
    for (term, value, status) in facts {
        if status.is_empty() {
            let _ = write!(
                html,
                r#"<dt>{term}</dt><dd data-fact="{term}">{value}</dd>"#
            );
        } else {
            let _ = write!(
                html,
                r#"<dt>{term}</dt><dd data-fact="{term}"><span class="status status-{status}">{value}</span></dd>"#
            );
        }
    }
    html.push_str("</dl>\n");
    if !report.notes.is_empty() {
        html.push_str(r#"<ul class="notes">"#);
        for note in &report.notes {
            let _ = write!(html, r#"<li data-kind="note">{}</li>"#, escape(note));
        }
        html.push_str("</ul>\n");
    }
    match svg::timeline(report, index) {
        Some(picture) => {
            html.push_str("<figure>");
            html.push_str(&picture);
            legend(html, report);
            html.push_str("</figure>\n");
        }
        None => html.push_str(
            r#"<p data-kind="note">No time of this rollout can be read: there is no timeline picture.</p>"#,
        ),
    }
    steps_table(html, report);
    html.push_str("</section>\n");
}

fn legend(html: &mut String, report: &RolloutReport) {
    let samples = report.samples.as_deref().unwrap_or_default();
    html.push_str(r#"<div class="legend">"#);
    if !samples.is_empty() {
        html.push_str(r#"<span class="l-new">healthy, new generation</span><span class="l-old">healthy, old generation</span>"#);
    }
    if samples.iter().any(|s| s.sample.weight_new.is_some()) {
        html.push_str(r#"<span class="l-weight">new generation's weight (right axis)</span>"#);
    }
    let has_role = |role| {
        report
            .bands
            .iter()
            .any(|b| model::phase_role(b.phase) == role)
    };
    if has_role(model::PhaseRole::Soak) {
        html.push_str(r#"<span class="l-soak">soak (canary step, bake)</span>"#);
    }
    if has_role(model::PhaseRole::Drain) {
        html.push_str(r#"<span class="l-drain">drain</span>"#);
    }
    if report.markers.iter().any(|m| m.is_failure) {
        html.push_str(r#"<span class="l-failure">failure</span>"#);
    }
    if report.rollback.is_some() {
        html.push_str(r#"<span class="l-rollback">rollback</span>"#);
    }
    html.push_str("</div>");
}

fn steps_table(html: &mut String, report: &RolloutReport) {
    let start = report.window.map(|w| w.start);
    let _ = write!(
        html,
        r#"<details open><summary>Timeline steps ({})</summary>
<table class="steps" data-kind="steps"><thead><tr><th>time (UTC)</th><th>+</th><th>action</th><th>detail</th></tr></thead><tbody>
"#,
        report.steps.len()
    );
    for (index, step) in report.steps.iter().enumerate() {
        let class = match (step.at, step.action.as_str()) {
            (None, _) => "unreadable",
            (_, action) if model::FAILURE_ACTIONS.contains(&action) => "failure",
            (_, "phase") => "phase",
            _ => "",
        };
        let offset = match (step.at, start) {
            (Some(at), Some(start)) => time::span(at - start),
            _ => "?".to_string(),
        };
        let _ = writeln!(
            html,
            r#"<tr data-kind="step" data-step="{index}" data-action="{}" class="{class}"><td>{}</td><td>{offset}</td><td>{}</td><td class="detail">{}</td></tr>"#,
            escape(&step.action),
            escape(&step.at_text),
            escape(&step.action),
            escape(&step.detail)
        );
    }
    html.push_str("</tbody></table></details>\n");
}
