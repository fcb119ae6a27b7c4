//! `zdd-guard report`'s page in a real browser: Debian's headless Chromium loads the written
//! file, and the DOM it parsed (`--dump-dom`) is checked for the elements that carry the data,
//! with the counts and values the state holds and no element the state's text could have
//! smuggled in (no element, no `on…` attribute; the CSP in place); a copy of the page with a
//! probe script reads back each timeline's box and colours; a screenshot (`--screenshot`) must
//! exist, be 1400×900 and not blank.
//!
//! Chromium missing FAILS (never skips) with the hint to run `make setup`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use zdd_events::MAX_SAMPLES;
use zdd_test_support::workspace_root;

use super::report::{Ending, canary, hostile_state, raw_state};

const CHROMIUM: &str = "/usr/bin/chromium";
/// An upper bound for one headless load (it takes a second or two).
const BROWSER_LIMIT: Duration = Duration::from_secs(120);
const WINDOW: (u32, u32) = (1400, 900);

fn chromium() -> &'static Path {
    let path = Path::new(CHROMIUM);
    assert!(
        path.exists(),
        "{CHROMIUM} does not exist: the report's browser tests need Debian's chromium; run `make setup` (scripts/setup.sh installs it)"
    );
    path
}

/// What a headless run printed.
struct Printed {
    stdout: Vec<u8>,
}

/// Runs headless Chromium on `page` with a fresh profile and no network of its own. Its output
/// goes to files, not pipes: a DOM larger than a pipe's buffer would block it while we wait.
fn run_chromium(page: &Path, extra: &[String]) -> Printed {
    let profile = tempfile::tempdir().unwrap();
    let stdout_path = profile.path().join("stdout");
    let stderr_path = profile.path().join("stderr");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            // Docker's default /dev/shm is 64 MB, too small for Chromium's shared memory.
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.path().join("profile").display()
        ))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).unwrap())
        .stderr(File::create(&stderr_path).unwrap())
        // Its own group: on a timeout the renderer and GPU helpers go with it.
        .process_group(0)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > BROWSER_LIMIT {
            kill_group(child.id());
            let _ = child.wait();
            panic!(
                "chromium did not finish with {} within {BROWSER_LIMIT:?}",
                page.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "chromium failed on {}: {}",
        page.display(),
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    Printed {
        stdout: std::fs::read(&stdout_path).unwrap(),
    }
}

/// Kills Chromium's whole process group (it was started with `process_group(0)`).
fn kill_group(leader: u32) {
    use rustix::process::{Pid, Signal, kill_process_group};
    let pid = i32::try_from(leader)
        .ok()
        .and_then(Pid::from_raw)
        .expect("a child's pid");
    let _ = kill_process_group(pid, Signal::KILL);
}

/// The DOM as the browser parsed and built it.
fn dump_dom(page: &Path) -> String {
    String::from_utf8(run_chromium(page, &["--dump-dom".to_string()]).stdout).unwrap()
}

/// A screenshot of `page` at the window size; returns its bytes after checking it is a PNG.
fn screenshot(page: &Path, png: &Path) -> Vec<u8> {
    run_chromium(
        page,
        &[
            format!("--screenshot={}", png.display()),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
        ],
    );
    let bytes =
        std::fs::read(png).unwrap_or_else(|e| panic!("no screenshot {}: {e}", png.display()));
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!(
        (width, height),
        WINDOW,
        "the screenshot has the window's size"
    );
    bytes
}

/// The PNG size of an empty page at the same size: what "blank" compresses to.
fn blank_png_size(dir: &Path) -> usize {
    let page = dir.join("blank.html");
    std::fs::write(&page, "<!DOCTYPE html><html><body></body></html>").unwrap();
    screenshot(&page, &dir.join("blank.png")).len()
}

/// Where the screenshots are kept for a person to look at (the target dir, not a temp dir).
fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
        .join("report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes the page with the real command, as a user would.
fn write_page(dir: &Path, name: &str, state: &Value) -> PathBuf {
    let state_path = dir.join(format!("{name}.tfstate"));
    std::fs::write(&state_path, state.to_string()).unwrap();
    let page = dir.join(format!("{name}.html"));
    let out = Command::new(env!("CARGO_BIN_EXE_zdd-guard"))
        .args(["report", "--state"])
        .arg(&state_path)
        .arg("-o")
        .arg(&page)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    page
}

fn count(dom: &str, kind: &str) -> usize {
    dom.matches(&format!(r#"data-kind="{kind}""#)).count()
}

/// Nothing but the page's own markup: no script, image, frame, link or object element, and
/// the title the page set (a script from the state would have changed it).
fn assert_inert(dom: &str) {
    let lower = dom.to_ascii_lowercase();
    for tag in [
        "<script",
        "<img",
        "<iframe",
        "<link",
        "<object",
        "<embed",
        "<foreignobject",
    ] {
        assert!(!lower.contains(tag), "{tag} element in the parsed DOM");
    }
    assert!(dom.contains("<title>zdd rollout report</title>"));
    assert!(!dom.contains("pwned</title>"));
    assert!(
        dom.contains(&format!(
            r#"<meta http-equiv="Content-Security-Policy" content="{}">"#,
            zdd_guard::report::html::CONTENT_SECURITY_POLICY
        )),
        "the page's CSP is in the parsed DOM"
    );
    let handlers: Vec<String> = attribute_names(dom)
        .into_iter()
        .filter(|name| name.starts_with("on"))
        .collect();
    assert!(
        handlers.is_empty(),
        "event handler attributes in the parsed DOM: {handlers:?}"
    );
}

/// The attribute names of every element of a serialised DOM. Chromium's serialisation escapes
/// `<` in text and `"` in attribute values, so a tag starts at each `<` + letter and its
/// values end at the next `"`: an escaped quote that stopped escaping shows up here as an
/// attribute of its own (text that merely reads ` onload="` does not).
fn attribute_names(dom: &str) -> Vec<String> {
    let bytes = dom.as_bytes();
    let mut names = Vec::new();
    let mut at = 0;
    while let Some(offset) = dom[at..].find('<') {
        at += offset + 1;
        if !bytes.get(at).is_some_and(u8::is_ascii_alphabetic) {
            continue;
        }
        while at < bytes.len() && !bytes[at].is_ascii_whitespace() && bytes[at] != b'>' {
            at += 1;
        }
        loop {
            while at < bytes.len() && (bytes[at].is_ascii_whitespace() || bytes[at] == b'/') {
                at += 1;
            }
            if at >= bytes.len() || bytes[at] == b'>' {
                break;
            }
            let start = at;
            while at < bytes.len()
                && !matches!(bytes[at], b'=' | b'>' | b'/')
                && !bytes[at].is_ascii_whitespace()
            {
                at += 1;
            }
            names.push(dom[start..at].to_ascii_lowercase());
            if bytes.get(at) == Some(&b'=') && bytes.get(at + 1) == Some(&b'"') {
                at += 2;
                match dom[at..].find('"') {
                    Some(end) => at += end + 1,
                    None => at = bytes.len(),
                }
            }
        }
    }
    names
}

#[test]
fn the_attribute_scan_finds_an_injected_handler_and_not_text() {
    let names = attribute_names(
        r#"<p class="a">x onload="y" z</p><text data-label="a" onload="b" x="">t</text><br/>"#,
    );
    assert_eq!(names, ["class", "data-label", "onload", "x"]);
}

/// What the browser drew for each timeline, read back by a probe script in a copy of the page
/// (the page itself forbids scripts, so the copy drops its CSP): the SVG's box and the colours
/// its style gives the health lines and bands. No PNG decoder in the tree, so this stands in
/// for reading the screenshot's pixels.
fn drawn_timelines(dir: &Path, page: &Path) -> Vec<Value> {
    let csp = format!(
        r#"<meta http-equiv="Content-Security-Policy" content="{}">"#,
        zdd_guard::report::html::CONTENT_SECURITY_POLICY
    );
    let html = std::fs::read_to_string(page).unwrap();
    assert!(html.contains(&csp));
    let probe = r#"<script>
const out = [];
for (const svg of document.querySelectorAll('svg.timeline')) {
  const box = svg.getBoundingClientRect();
  const style = (selector, property) => {
    const element = svg.querySelector(selector);
    return element ? getComputedStyle(element)[property] : null;
  };
  out.push({width: box.width, height: box.height,
            new: style('.health-new', 'stroke'), old: style('.health-old', 'stroke'),
            launching: style('rect.band.phase-launching', 'fill')});
}
const pre = document.createElement('pre');
pre.id = 'probe';
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script></body>"#;
    let probed = html.replace(&csp, "").replace("</body>", probe);
    let copy = dir.join("probe.html");
    std::fs::write(&copy, probed).unwrap();
    let dom = dump_dom(&copy);
    let start =
        dom.find(r#"<pre id="probe">"#).expect("the probe ran") + r#"<pre id="probe">"#.len();
    let end = start + dom[start..].find("</pre>").unwrap();
    let json = dom[start..end].replace("&amp;", "&");
    serde_json::from_str::<Vec<Value>>(&json).unwrap()
}

/// Every timeline has a box and the report's colours: `#1565c0` new, `#ef6c00` old, `#cfd8dc`
/// launching.
fn assert_drawn(dir: &Path, page: &Path, timelines: usize) {
    let drawn = drawn_timelines(dir, page);
    assert_eq!(drawn.len(), timelines, "{drawn:?}");
    for timeline in &drawn {
        assert!(timeline["width"].as_f64().unwrap() > 100.0, "{timeline}");
        assert!(timeline["height"].as_f64().unwrap() > 20.0, "{timeline}");
        assert_eq!(timeline["new"], "rgb(21, 101, 192)", "{timeline}");
        assert_eq!(timeline["old"], "rgb(239, 108, 0)", "{timeline}");
        assert_eq!(timeline["launching"], "rgb(207, 216, 220)", "{timeline}");
    }
}

fn phase_steps(state: &Value) -> usize {
    state["resources"][0]["instances"][0]["attributes"]["last_rollout"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == "phase")
        .count()
}

fn check_canary_in_browser(
    name: &str,
    state: &Value,
    samples: usize,
    failures: usize,
) -> (String, usize) {
    let dir = tempfile::tempdir().unwrap();
    let page = write_page(dir.path(), name, state);
    let dom = dump_dom(&page);
    assert_inert(&dom);
    assert_eq!(count(&dom, "rollout"), 1);
    assert_eq!(count(&dom, "timeline"), 1);
    assert_eq!(count(&dom, "phase-band"), phase_steps(state));
    assert_eq!(count(&dom, "health"), 2);
    assert_eq!(count(&dom, "weight"), 1);
    assert_eq!(count(&dom, "sample"), samples);
    assert_eq!(count(&dom, "failure"), failures);
    assert_eq!(count(&dom, "rollback"), failures);
    assert_drawn(dir.path(), &page, 1);
    let shots = screenshot_dir();
    let png = shots.join(format!("{name}.png"));
    let bytes = screenshot(&page, &png);
    let blank = blank_png_size(dir.path());
    assert!(
        bytes.len() > 4 * blank,
        "the screenshot ({} bytes) is not much more than a blank page's ({blank} bytes)",
        bytes.len()
    );
    eprintln!(
        "{name}: page {} bytes, screenshot {} ({} bytes)",
        std::fs::metadata(&page).unwrap().len(),
        png.display(),
        bytes.len()
    );
    (dom, bytes.len())
}

#[test]
fn a_succeeded_canary_in_the_browser() {
    let rollout = canary(4, Ending::Succeeded);
    let samples = rollout.samples.len();
    let state = raw_state(&[("web", rollout.attributes("web", true))]);
    let (dom, _) = check_canary_in_browser("canary-succeeded", &state, samples, 0);
    assert!(dom.contains(r#"data-kind="weight" data-samples="#));
    assert!(dom.contains(r#"data-last="100""#));
    assert_eq!(count(&dom, "soak"), 4);
}

#[test]
fn a_rolled_back_canary_in_the_browser() {
    let rollout = canary(4, Ending::RolledBackAtStep(2));
    let samples = rollout.samples.len();
    let state = raw_state(&[("web", rollout.attributes("web", true))]);
    let (dom, _) = check_canary_in_browser("canary-rolled-back", &state, samples, 1);
    assert!(dom.contains(r#"data-status="rolled_back""#));
    assert!(dom.contains(r#"data-kind="failure" data-action="failure""#));
}

#[test]
fn a_200_step_canary_in_the_browser() {
    let rollout = canary(200, Ending::Succeeded).bounded(MAX_SAMPLES);
    let samples = rollout.samples.len();
    let steps = rollout.steps.len();
    let state = raw_state(&[("web", rollout.attributes("web", true))]);
    let (dom, _) = check_canary_in_browser("canary-200-steps", &state, samples, 0);
    assert_eq!(count(&dom, "step"), steps);
    assert_eq!(count(&dom, "soak"), 200);
}

#[test]
fn hostile_text_stays_text_in_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    let page = write_page(dir.path(), "hostile", &hostile_state());
    let dom = dump_dom(&page);
    assert_inert(&dom);
    assert_eq!(count(&dom, "rollout"), 1);
    assert_eq!(count(&dom, "failure"), 1);
    // The payload is there, as text the browser shows.
    assert!(
        dom.contains("&lt;/svg&gt;&lt;script&gt;document.title=\"pwned\"&lt;/script&gt;"),
        "{dom}"
    );
}

/// States written by real applies (`make demo`'s, kept in the repository): the provider's own
/// timeline and samples as Terraform stores them, and one from before `last_rollout.samples`.
#[test]
fn a_real_applys_state_in_the_browser() {
    let fixtures = workspace_root().join("guard-cli/tests/fixtures/report");
    let dir = tempfile::tempdir().unwrap();
    for (name, has_samples) in [("demo-state", true), ("demo-state-without-samples", false)] {
        let text = std::fs::read_to_string(fixtures.join(format!("{name}.json"))).unwrap();
        let state: Value = serde_json::from_str(&text).unwrap();
        let page = write_page(dir.path(), name, &state);
        let dom = dump_dom(&page);
        assert_inert(&dom);
        assert_eq!(count(&dom, "rollout"), 1);
        let phases = phase_steps(&state);
        assert!(phases >= 5, "a real rollout has its phases: {phases}");
        assert_eq!(count(&dom, "phase-band"), phases, "{name}");
        assert_eq!(count(&dom, "drain"), 1, "{name}: draining_old");
        assert!(dom.contains(r#"data-status="succeeded""#));
        let last = &state["resources"][0]["instances"][0]["attributes"]["last_rollout"];
        if has_samples {
            assert_drawn(dir.path(), &page, 1);
            let samples = last["samples"].as_array().unwrap();
            assert!(samples.len() >= 2, "{name}: the provider's samples");
            assert_eq!(count(&dom, "sample"), samples.len(), "{name}");
            assert_eq!(count(&dom, "health"), 2, "{name}");
            let desired =
                state["resources"][0]["instances"][0]["attributes"]["desired_capacity"].to_string();
            assert!(
                dom.contains(&format!(
                    r#"data-generation="new" data-samples="{}" data-last="{desired}""#,
                    samples.len()
                )),
                "{name}: the new generation ends at its desired capacity"
            );
        } else {
            assert_eq!(count(&dom, "health"), 0, "{name}");
            assert!(dom.contains("no health samples in this state"), "{name}");
        }
        let png = screenshot_dir().join(format!("{name}.png"));
        let bytes = screenshot(&page, &png);
        assert!(bytes.len() > 4 * blank_png_size(dir.path()));
        eprintln!(
            "{name}: screenshot {} ({} bytes)",
            png.display(),
            bytes.len()
        );
    }
}
