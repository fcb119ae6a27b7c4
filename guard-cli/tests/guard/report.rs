//! `zdd-guard report`: the page drawn from states built here from typed data (a succeeded
//! canary, a rolled-back one, a 200-step canary with MAX_SAMPLES samples, hostile text), the
//! command's inputs (a file, stdin, `terraform show -json`, the S3 backend) and its errors.
//! The same states are loaded in a real browser by `report_browser.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use serde::Serialize;
use serde_json::{Value, json};
use zdd_events::{MAX_SAMPLES, Sample};

use super::guard_support::{Bed, Locking, text};

/// The first second of every generated rollout.
const START: u64 = 1_796_238_000; // 2026-12-02T19:00:00Z

fn at(offset: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(START + offset);
    humantime::format_rfc3339_seconds(time).to_string()
}

/// One `last_rollout.steps` entry.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub at: String,
    pub action: String,
    pub detail: String,
}

/// How a generated canary ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ending {
    Succeeded,
    /// The canary gate fails during this step (1-based): failure, then the way back.
    RolledBackAtStep(usize),
}

/// A canary rollout as the provider records it, built step by step with its clock.
pub struct Canary {
    pub steps: Vec<Step>,
    pub samples: Vec<Sample>,
    pub finished: u64,
    pub status: &'static str,
}

struct Recorder {
    now: u64,
    steps: Vec<Step>,
    samples: Vec<Sample>,
}

impl Recorder {
    fn step(&mut self, action: &str, detail: impl Into<String>) {
        self.steps.push(Step {
            at: at(self.now),
            action: action.to_string(),
            detail: detail.into(),
        });
    }

    fn sample(&mut self, healthy_new: u32, healthy_old: u32, weight_new: Option<u32>) {
        self.samples.push(Sample {
            at: at(self.now),
            healthy_new,
            healthy_old,
            weight_new,
        });
    }
}

/// `steps` canary steps over 4 instances, each soaked 30 s and judged; `ending` decides the rest.
pub fn canary(steps: usize, ending: Ending) -> Canary {
    let mut r = Recorder {
        now: 0,
        steps: Vec::new(),
        samples: Vec::new(),
    };
    r.step("phase", "launching: canary generation 1 → 2 (lt-0abc:2)");
    r.step("create_asg", "web-g2 min 4 max 8 desired 4");
    r.sample(0, 4, Some(0));
    r.now += 5;
    r.step("phase", "waiting_for_healthy: 4 new targets in web-canary");
    for healthy in 1..=4 {
        r.now += 10;
        r.sample(healthy, 4, Some(0));
    }
    for index in 1..=steps {
        r.now += 2;
        let weight = ((index * 100) / steps).max(1) as u32;
        r.step(
            "set_listener_weights",
            format!("web-canary {weight} %, web-stable {} %", 100 - weight),
        );
        r.step(
            "phase",
            format!("canary_step {index} ({weight} %): weights set, soaking 30s"),
        );
        r.sample(4, 4, Some(weight));
        r.now += 30;
        if ending == Ending::RolledBackAtStep(index) {
            r.step(
                "analysis",
                "fail: canary 5xx 12.5 % over 240 requests > max_5xx_ratio 1 %",
            );
            r.step(
                "failure",
                "canary gate failed at step 2: 5xx ratio 12.5 % > 1 %",
            );
            r.step("phase", "restoring_old: canary gate failed");
            r.step("set_listener_weights", "web-canary 0 %, web-stable 100 %");
            r.sample(4, 4, Some(0));
            r.now += 10;
            r.step("phase", "detaching_new: old generation healthy at 4");
            r.now += 5;
            r.step("phase", "draining_new: deregistration delay 30s");
            r.sample(0, 4, Some(0));
            r.now += 35;
            r.step("phase", "deleting_new: web-g2");
            r.step("delete_asg", "web-g2");
            r.now += 10;
            r.step("phase", "rolled_back: generation 1 serves");
            return Canary {
                steps: r.steps,
                samples: r.samples,
                finished: r.now,
                status: "rolled_back",
            };
        }
        r.step(
            "analysis",
            format!(
                "pass: canary {} requests, 0.0 % 5xx, p99 81 ms",
                100 + index
            ),
        );
    }
    r.step("phase", "detaching_old: every new target healthy");
    r.step("detach_target_groups", "web-g1 from web-stable");
    r.now += 5;
    r.step("phase", "draining_old: deregistration delay 30s + 5s");
    r.sample(4, 0, Some(100));
    r.now += 35;
    r.step("phase", "deleting_old: web-g1");
    r.step("delete_asg", "web-g1");
    r.now += 10;
    r.step("phase", "complete: generation 2 serves 100 %");
    Canary {
        steps: r.steps,
        samples: r.samples,
        finished: r.now,
        status: "succeeded",
    }
}

impl Canary {
    /// Keeps the first and the last samples up to `max`, as the provider bounds them.
    pub fn bounded(mut self, max: usize) -> Canary {
        if self.samples.len() > max {
            let last = self.samples.pop().unwrap();
            self.samples.truncate(max - 1);
            self.samples.push(last);
        }
        self
    }

    /// The `zdd_rollout`'s attributes; `samples: false` as a provider before samples wrote them.
    pub fn attributes(&self, name: &str, samples: bool) -> Value {
        let mut last = json!({
            "status": self.status,
            "started_at": at(0),
            "finished_at": at(self.finished),
            "steps": self.steps,
        });
        if samples {
            last["samples"] = serde_json::to_value(&self.samples).unwrap();
        }
        json!({
            "id": name,
            "name": name,
            "strategy": "canary",
            "generation": if self.status == "succeeded" { 2 } else { 1 },
            "last_rollout": last,
        })
    }
}

/// A raw (v4) state holding `rollouts` as `zdd_rollout.<name>` resources.
pub fn raw_state(rollouts: &[(&str, Value)]) -> Value {
    let resources: Vec<Value> = rollouts
        .iter()
        .map(|(name, attributes)| {
            json!({"mode": "managed", "type": "zdd_rollout", "name": name,
                   "provider": "provider[\"registry.terraform.io/zdd/zdd\"]",
                   "instances": [{"schema_version": 0, "attributes": attributes}]})
        })
        .collect();
    json!({"version": 4, "terraform_version": "1.15.5", "serial": 3, "lineage": "x",
           "outputs": {}, "resources": resources})
}

/// The same rollouts as `terraform show -json` prints them.
pub fn show_json(rollouts: &[(&str, Value)]) -> Value {
    let resources: Vec<Value> = rollouts
        .iter()
        .map(|(name, attributes)| {
            json!({"address": format!("zdd_rollout.{name}"), "mode": "managed", "type": "zdd_rollout",
                   "name": name, "values": attributes})
        })
        .collect();
    json!({"format_version": "1.0", "terraform_version": "1.15.5",
           "values": {"root_module": {"resources": resources}}})
}

pub fn render(state: &Value) -> String {
    zdd_guard::report::render(&state.to_string(), None, "test").unwrap()
}

pub fn count(page: &str, kind: &str) -> usize {
    page.matches(&format!(r#"data-kind="{kind}""#)).count()
}

/// The text of the `name` attribute of every element with `data-kind="kind"`.
fn attribute_values(page: &str, kind: &str, name: &str) -> Vec<String> {
    page.split(&format!(r#"data-kind="{kind}""#))
        .skip(1)
        .map(|rest| {
            let tag = &rest[..rest.find('>').unwrap()];
            let start = tag.find(&format!(r#" {name}=""#)).unwrap() + name.len() + 3;
            tag[start..start + tag[start..].find('"').unwrap()].to_string()
        })
        .collect()
}

fn phase_entries(canary: &Canary) -> usize {
    canary.steps.iter().filter(|s| s.action == "phase").count()
}

/// (labelled bands, bands), after checking that every label fits in its band (at the
/// renderer's 6.8 px per character, DejaVu Sans's widest average at 11 px).
fn labels_fit(page: &str) -> (usize, usize) {
    let bands: Vec<&str> = page
        .split(r#"data-kind="phase-band""#)
        .skip(1)
        .map(|rest| &rest[..rest.find("</g>").unwrap()])
        .collect();
    let mut labelled = 0;
    for band in &bands {
        let width: f64 = {
            let start = band.find(r#"width=""#).unwrap() + 7;
            band[start..start + band[start..].find('"').unwrap()]
                .parse()
                .unwrap()
        };
        if let Some(start) = band.find(r#"class="band-label""#) {
            let text = &band[start..];
            let text = &text[text.find('>').unwrap() + 1..text.find("</text>").unwrap()];
            assert!(
                text.chars().count() as f64 * 6.8 + 6.0 <= width,
                "{text:?} in {width} px"
            );
            labelled += 1;
        }
    }
    (labelled, bands.len())
}

#[test]
fn a_succeeded_canary_has_a_band_per_phase_and_lines_for_health_and_weight() {
    let rollout = canary(4, Ending::Succeeded);
    let page = render(&raw_state(&[("web", rollout.attributes("web", true))]));
    assert_eq!(count(&page, "phase-band"), phase_entries(&rollout));
    assert_eq!(
        attribute_values(&page, "phase-band", "data-phase"),
        [
            "launching",
            "waiting_for_healthy",
            "canary_step",
            "canary_step",
            "canary_step",
            "canary_step",
            "detaching_old",
            "draining_old",
            "deleting_old",
            "complete"
        ]
    );
    assert_eq!(count(&page, "soak"), 4);
    assert_eq!(count(&page, "drain"), 1);
    assert_eq!(count(&page, "failure"), 0);
    assert_eq!(count(&page, "rollback"), 0);
    assert_eq!(attribute_values(&page, "weight", "data-last"), ["100"]);
    assert_eq!(
        attribute_values(&page, "event", "data-action"),
        ["analysis"; 4]
    );
    assert_eq!(count(&page, "sample"), rollout.samples.len());
    assert_eq!(count(&page, "step"), rollout.steps.len());
    assert!(page.contains(r#"data-status="succeeded""#));
    let (labelled, bands) = labels_fit(&page);
    assert!(
        labelled >= 4 && labelled < bands,
        "{labelled} of {bands} labelled: the short phases drop theirs"
    );
}

#[test]
fn a_rolled_back_rollout_has_the_failure_marker_and_the_rollback_span() {
    let rollout = canary(4, Ending::RolledBackAtStep(2));
    let page = render(&raw_state(&[("web", rollout.attributes("web", true))]));
    assert_eq!(
        attribute_values(&page, "failure", "data-action"),
        ["failure"]
    );
    assert_eq!(count(&page, "rollback"), 1);
    // The span runs from restoring_old (step 2's soak end) to rolled_back.
    let failure_at = attribute_values(&page, "failure", "data-at");
    assert_eq!(
        attribute_values(&page, "rollback", "data-start"),
        failure_at
    );
    assert_eq!(
        attribute_values(&page, "rollback", "data-end"),
        [zdd_guard::report::time::span(rollout.finished as f64)]
    );
    let phases = attribute_values(&page, "phase-band", "data-phase");
    assert_eq!(phases.len(), phase_entries(&rollout));
    assert_eq!(
        phases[phases.len() - 5..],
        [
            "restoring_old",
            "detaching_new",
            "draining_new",
            "deleting_new",
            "rolled_back"
        ]
    );
    assert_eq!(count(&page, "drain"), 1, "draining_new is a drain too");
    assert_eq!(attribute_values(&page, "weight", "data-last"), ["0"]);
    assert_eq!(
        attribute_values(&page, "health", "data-last"),
        ["4", "0"],
        "old, new"
    );
    assert!(page.contains(r#"<tr data-kind="step" data-step="#));
    assert!(
        page.contains(r#"class="failure"><td>"#),
        "the failure row is marked"
    );
}

/// Every pair of the `points` of a polyline.
fn points(page: &str, selector: &str) -> Vec<(f64, f64)> {
    let start = page.find(selector).unwrap();
    let rest = &page[start..];
    let points = &rest[rest.find(r#"points=""#).unwrap() + 8..];
    let points = &points[..points.find('"').unwrap()];
    points
        .split(' ')
        .map(|pair| {
            let (x, y) = pair.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

#[test]
fn samples_map_to_points_in_order() {
    let rollout = canary(3, Ending::Succeeded);
    let page = render(&raw_state(&[("web", rollout.attributes("web", true))]));
    let new = points(&page, r#"data-generation="new""#);
    // Two points per sample: where it starts and where the next one takes over.
    assert_eq!(new.len(), 2 * rollout.samples.len());
    for pair in new.windows(2) {
        assert!(pair[0].0 <= pair[1].0, "x goes forward: {pair:?}");
    }
    // More healthy targets is higher up (smaller y), equal counts at equal heights.
    let ys: Vec<f64> = new.iter().step_by(2).map(|p| p.1).collect();
    for (i, a) in rollout.samples.iter().enumerate() {
        for (j, b) in rollout.samples.iter().enumerate() {
            assert_eq!(
                a.healthy_new.cmp(&b.healthy_new),
                ys[j].partial_cmp(&ys[i]).unwrap(),
                "samples {i} and {j}"
            );
        }
    }
    let weight = points(&page, r#"data-kind="weight""#);
    assert_eq!(weight.len(), 2 * rollout.samples.len());
    assert!(
        weight.last().unwrap().1 < weight.first().unwrap().1,
        "0 % low, 100 % high"
    );
}

#[test]
fn a_200_step_canary_with_max_samples_renders_in_bounded_size() {
    let rollout = canary(200, Ending::Succeeded);
    assert!(
        rollout.samples.len() >= MAX_SAMPLES - 40,
        "{}",
        rollout.samples.len()
    );
    let rollout = canary(240, Ending::Succeeded).bounded(MAX_SAMPLES);
    assert_eq!(rollout.samples.len(), MAX_SAMPLES);
    let page = render(&raw_state(&[("web", rollout.attributes("web", true))]));
    eprintln!(
        "report page size: 240-step canary, {} steps, {} samples: {} bytes",
        rollout.steps.len(),
        rollout.samples.len(),
        page.len()
    );
    assert!(page.len() < 1_000_000, "{} bytes", page.len());
    assert_eq!(count(&page, "phase-band"), phase_entries(&rollout));
    assert_eq!(count(&page, "sample"), MAX_SAMPLES);
    assert_eq!(
        attribute_values(&page, "health", "data-samples"),
        ["240", "240"]
    );
    // Labels that do not fit are dropped: every band is a few pixels wide, none has one.
    assert_eq!(labels_fit(&page), (0, phase_entries(&rollout)));
    let page200 = render(&raw_state(&[(
        "web",
        canary(200, Ending::Succeeded).attributes("web", true),
    )]));
    eprintln!("report page size: 200-step canary: {} bytes", page200.len());
}

#[test]
fn a_state_without_samples_draws_no_health_lines_and_says_so() {
    let rollout = canary(2, Ending::Succeeded);
    let page = render(&raw_state(&[("web", rollout.attributes("web", false))]));
    assert_eq!(count(&page, "health"), 0);
    assert_eq!(count(&page, "weight"), 0);
    assert_eq!(count(&page, "sample"), 0);
    assert_eq!(count(&page, "phase-band"), phase_entries(&rollout));
    assert!(page.contains("no health samples in this state"), "the note");
}

/// A state whose every string is hostile: the page shows them as text and runs nothing.
pub fn hostile_state() -> Value {
    let payloads = [
        r#"</svg><script>document.title="pwned"</script>"#,
        r#"" onload="document.title='pwned'" x=""#,
        r#"</title></text></g></svg></table><img src=x onerror="document.title='pwned'">"#,
        "]]><!-- <style>body{display:none}</style>",
    ];
    let mut rollout = canary(3, Ending::RolledBackAtStep(2)).attributes(payloads[0], true);
    let steps = rollout["last_rollout"]["steps"].as_array_mut().unwrap();
    for (index, step) in steps.iter_mut().enumerate() {
        let payload = payloads[index % payloads.len()];
        let detail = step["detail"].as_str().unwrap().to_string();
        step["detail"] = json!(format!("{detail} {payload}"));
    }
    steps.push(json!({"at": payloads[1], "action": payloads[2], "detail": payloads[3]}));
    rollout["strategy"] = json!(payloads[1]);
    rollout["last_rollout"]["status"] = json!(payloads[2]);
    let mut state = raw_state(&[("web", rollout)]);
    state["resources"][0]["instances"][0]["index_key"] = json!(payloads[1]);
    state
}

#[test]
fn text_from_the_state_renders_as_text_only() {
    let page = render(&hostile_state());
    for raw in [
        "<script",
        "onload=\"",
        "<img",
        "onerror=\"",
        "<style>body",
        "<!--",
        "]]>",
    ] {
        assert!(!page.contains(raw), "{raw} reached the page unescaped");
    }
    assert!(
        page.contains("&lt;/svg&gt;&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;")
    );
    assert_eq!(page.matches("<svg").count(), 1);
    assert_eq!(page.matches("</svg>").count(), 1);
    // The rows and bands are all there: the hostile text closed nothing.
    let steps = canary(3, Ending::RolledBackAtStep(2)).steps.len();
    assert_eq!(count(&page, "step"), steps + 1);
    assert_eq!(count(&page, "failure"), 1);
    assert!(page.contains("1 timeline step(s) have a time that cannot be read"));
    assert!(page.contains(r#"data-status="&lt;/title&gt;"#));
}

#[test]
fn show_json_and_the_raw_state_draw_the_same_page() {
    let rollouts = [
        ("web", canary(3, Ending::Succeeded).attributes("web", true)),
        (
            "api",
            canary(2, Ending::RolledBackAtStep(1)).attributes("api", true),
        ),
    ];
    let raw = render(&raw_state(&rollouts));
    assert_eq!(raw, render(&show_json(&rollouts)));
    assert_eq!(count(&raw, "rollout"), 2);
}

#[test]
fn a_zero_length_rollout_and_unreadable_times_still_render() {
    let steps = canary(1, Ending::Succeeded).steps.len();
    let mut rollout = canary(1, Ending::Succeeded).attributes("web", true);
    let last = &mut rollout["last_rollout"];
    last["finished_at"] = last["started_at"].clone();
    for step in last["steps"].as_array_mut().unwrap() {
        step["at"] = json!(at(0));
    }
    last["samples"] = json!([]);
    let page = render(&raw_state(&[("web", rollout.clone())]));
    assert!(page.contains("zero-length rollout"));
    assert!(!page.contains("NaN"), "finite geometry");
    assert_eq!(labels_fit(&page).1, 7);
    assert_eq!(count(&page, "phase-band"), 7);

    for step in rollout["last_rollout"]["steps"].as_array_mut().unwrap() {
        step["at"] = json!("not a time");
    }
    rollout["last_rollout"]["started_at"] = json!("?");
    rollout["last_rollout"]["finished_at"] = Value::Null;
    let page = render(&raw_state(&[("web", rollout)]));
    assert_eq!(count(&page, "timeline"), 0);
    assert!(page.contains("No time of this rollout can be read"));
    assert_eq!(count(&page, "step"), steps, "the table keeps them");
}

// ---- the command -------------------------------------------------------------------------

fn guard(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zdd-guard"))
        .args(args)
        // The workspace comes from the test's directory, not the environment it runs in.
        .env_remove("TF_WORKSPACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

#[test]
fn the_command_writes_the_page_from_a_file_or_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let state = raw_state(&[("web", canary(2, Ending::Succeeded).attributes("web", true))]);
    let state_path = dir.path().join("terraform.tfstate");
    std::fs::write(&state_path, state.to_string()).unwrap();
    let page_path = dir.path().join("page.html");
    let out = guard(
        &[
            "report",
            "--state",
            state_path.to_str().unwrap(),
            "-o",
            page_path.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let page = std::fs::read_to_string(&page_path).unwrap();
    assert_eq!(
        page,
        zdd_guard::report::render(&state.to_string(), None, state_path.to_str().unwrap()).unwrap()
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("zdd-guard: wrote ")
            && String::from_utf8_lossy(&out.stderr).contains("1 rollout(s)"),
        "{}",
        text(&out)
    );

    let from_stdin = dir.path().join("stdin.html");
    let show = show_json(&[("web", canary(2, Ending::Succeeded).attributes("web", true))]);
    let out = guard(
        &[
            "report",
            "--state",
            "-",
            "-o",
            from_stdin.to_str().unwrap(),
            "--json",
        ],
        Some(&show.to_string()),
    );
    assert!(out.status.success(), "{}", text(&out));
    // The --json contract: one line of the guard's event shape, its event in EVENTS.
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        line["schema_version"],
        zdd_guard::output::events::SCHEMA_VERSION
    );
    assert_eq!(line["event"], "report_written");
    assert_eq!(line["level"], "info");
    assert!(
        line["message"].as_str().unwrap().contains("1 rollout(s)"),
        "{line}"
    );
    let written = std::fs::read_to_string(&from_stdin).unwrap();
    assert_eq!(line["data"]["rollouts"], 1);
    assert_eq!(line["data"]["source"], "stdin");
    assert_eq!(line["data"]["bytes"], written.len());
    assert_eq!(line["data"]["path"], from_stdin.to_str().unwrap());
    assert!(written.contains(r#"data-kind="timeline""#));

    // Without --state: the working directory's terraform.tfstate.
    let out = guard(
        &[
            "report",
            "--chdir",
            dir.path().to_str().unwrap(),
            "-o",
            page_path.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_state_with_nothing_to_draw_fails_with_exit_6_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.html");
    let page_arg = page.to_str().unwrap();
    let cases: [(&str, Vec<&str>, &str); 6] = [
        (
            r#"{"version": 4, "resources": []}"#,
            vec![],
            "the state has no zdd_rollout resource",
        ),
        (
            r#"{"version": 4, "resources": [{"mode": "managed", "type": "zdd_rollout", "name": "web", "instances": [{"attributes": {"name": "web", "last_rollout": null}}]}]}"#,
            vec![],
            "no zdd_rollout in the state has a last_rollout",
        ),
        ("{not json", vec![], "the state is not JSON"),
        (r#"{"hello": 1}"#, vec![], "not a Terraform state"),
        (
            r#"{"version": 4, "resources": [{"mode": "managed", "type": "zdd_rollout", "name": "web", "instances": [{"attributes": {"name": "web", "last_rollout": null}}]}]}"#,
            vec!["--resource", "zdd_rollout.api"],
            "it has: zdd_rollout.web",
        ),
        ("", vec!["--from-backend"], "cannot be used with"),
    ];
    for (state, extra, expected) in cases {
        let mut args = vec!["report", "--state", "-", "-o", page_arg];
        args.extend(extra);
        let out = guard(&args, Some(state));
        assert_eq!(out.status.code(), Some(6), "{expected}: {}", text(&out));
        assert!(text(&out).contains(expected), "{expected}: {}", text(&out));
        assert!(!page.exists(), "no page for a failed report");
    }
    let out = guard(&["report", "--chdir", dir.path().to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(6));
    assert!(text(&out).contains("--from-backend"), "{}", text(&out));
}

/// After `terraform workspace select staging` the local state is
/// `terraform.tfstate.d/staging/terraform.tfstate`; reading `terraform.tfstate` drew the default
/// workspace's rollouts, silently the wrong environment.
#[test]
fn without_state_the_selected_workspaces_local_state_is_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let default_state = raw_state(&[("web", canary(2, Ending::Succeeded).attributes("web", true))]);
    std::fs::write(
        dir.path().join("terraform.tfstate"),
        default_state.to_string(),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join(".terraform")).unwrap();
    std::fs::write(dir.path().join(".terraform/environment"), "staging").unwrap();
    let page = dir.path().join("page.html");
    let args = [
        "report",
        "--chdir",
        dir.path().to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ];

    // The workspace has no state yet: an error naming its file, not the default's page.
    let out = guard(&args, None);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        text(&out).contains("terraform.tfstate.d/staging/terraform.tfstate"),
        "{}",
        text(&out)
    );
    assert!(!page.exists(), "the default workspace's state is not drawn");

    let staging = dir.path().join("terraform.tfstate.d/staging");
    std::fs::create_dir_all(&staging).unwrap();
    let staging_state = raw_state(&[("api", canary(2, Ending::Succeeded).attributes("api", true))]);
    std::fs::write(staging.join("terraform.tfstate"), staging_state.to_string()).unwrap();
    let out = guard(&args, None);
    assert!(out.status.success(), "{}", text(&out));
    let drawn = std::fs::read_to_string(&page).unwrap();
    assert!(drawn.contains("zdd_rollout.api"), "the staging rollout");
    assert!(!drawn.contains("zdd_rollout.web"), "not the default's");
}

/// With a configured remote backend the local `terraform.tfstate` is stale or absent: without
/// --state or --from-backend the report refuses, with the way to read the real state.
#[test]
fn without_state_a_remote_backend_is_refused_with_a_hint() {
    for (backend, hint) in [
        (
            "terraform {\n  backend \"s3\" {\n    bucket = \"b\"\n    key    = \"app.tfstate\"\n    region = \"eu-west-1\"\n  }\n}\n",
            "--from-backend",
        ),
        (
            "terraform {\n  backend \"http\" {\n    address = \"http://127.0.0.1:9/state\"\n  }\n}\n",
            "terraform show -json",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.tf"), backend).unwrap();
        let stale = raw_state(&[("web", canary(2, Ending::Succeeded).attributes("web", true))]);
        std::fs::write(dir.path().join("terraform.tfstate"), stale.to_string()).unwrap();
        let page = dir.path().join("page.html");
        let out = guard(
            &[
                "report",
                "--chdir",
                dir.path().to_str().unwrap(),
                "-o",
                page.to_str().unwrap(),
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(6), "{backend}: {}", text(&out));
        assert!(text(&out).contains(hint), "{backend}: {}", text(&out));
        assert!(
            !page.exists(),
            "{backend}: the stale local file is not drawn"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_backend_reads_the_state_object_of_the_workspace() {
    let bed = Bed::new("report_backend", Locking::Lockfile, "").await;
    let out = bed.guard_output(&["report", "--from-backend", "-o", "page.html"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        text(&out).contains("there is no state at s3://guard-report-backend/"),
        "{}",
        text(&out)
    );

    let state = raw_state(&[(
        "web",
        canary(2, Ending::RolledBackAtStep(1)).attributes("web", true),
    )]);
    bed.put_state(state.to_string().into_bytes()).await;
    let out = bed.guard_output(&["report", "--from-backend", "-o", "page.html"]);
    assert!(out.status.success(), "{}", text(&out));
    let page = std::fs::read_to_string(bed.path("page.html")).unwrap();
    assert!(
        page.contains("from s3://guard-report-backend/env/app.tfstate"),
        "the source is named"
    );
    assert_eq!(count(&page, "failure"), 1);
}
