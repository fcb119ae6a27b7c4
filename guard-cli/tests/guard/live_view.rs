//! `zdd-guard run`'s live view of the rollouts (issue #17): the provider's event lines, written
//! to the file the guard names in `ZDD_EVENTS_FILE`, shown while terraform runs, as plain lines
//! and as `--json` events. A fake terraform writes the lines as the provider would (no AWS);
//! one test wraps the real terraform to see the guarded (locked) path pass the file on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::guard_support::{Bed, Locking, text};
use zdd_test_support::{Fixture, local_aws, provider_binary, terraform_bin};

/// `apply`: a canary rollout's event lines appended to `$ZDD_EVENTS_FILE` over ~4 s, with an
/// unreadable line, a line of another schema version, a line written in two halves and a
/// detail carrying an escape sequence; terraform's own lines on stdout.
const FAKE_APPLY: &str = r#"#!/bin/sh
[ "$1" = apply ] || exit 0
ev() { printf '%s\n' "$1" >> "$ZDD_EVENTS_FILE"; }
A='"schema_version":1,"at":"2026-12-02T19:00:00Z","rollout":"web"'
echo "events file: $ZDD_EVENTS_FILE"
echo "zdd_rollout.web: Modifying..."
ev "{$A,\"kind\":\"started\",\"strategy\":\"canary\",\"from_generation\":1,\"to_generation\":2}"
ev "{$A,\"kind\":\"phase\",\"phase\":\"launching\",\"detail\":\"generation 2 created\"}"
sleep 0.6
ev "{$A,\"kind\":\"phase\",\"phase\":\"canary_step 1/2 25%\",\"detail\":\"weights set\"}"
ev "{$A,\"kind\":\"progress\",\"phase\":\"canary_step 1/2 25%\",\"generations\":[{\"role\":\"new\",\"generation\":2,\"asg\":\"web-g2\",\"desired\":4,\"healthy\":3,\"draining\":0,\"attached\":true},{\"role\":\"old\",\"generation\":1,\"asg\":\"web-g1\",\"desired\":4,\"healthy\":4,\"draining\":0,\"attached\":true}],\"new_weight_percent\":25,\"served\":4,\"floor\":4,\"waiting\":{\"what\":\"soak\",\"seconds_left\":100}}"
ev 'this is not an event line'
ev '{"schema_version":99,"at":"2026-12-02T19:00:00Z","rollout":"web","kind":"phase","phase":"from the future","detail":""}'
sleep 2.6
printf '%s' "{$A,\"kind\":\"phase\",\"phase\":\"draining_old\"," >> "$ZDD_EVENTS_FILE"
sleep 0.6
ev '"detail":"old targets deregistered \u001b[2J\u001b]0;owned\u0007"}'
echo "zdd_rollout.web: Modifications complete after 4s"
ev "{$A,\"kind\":\"finished\",\"status\":\"succeeded\",\"detail\":\"\"}"
exit 0
"#;

const PHASE_LINES: &[&str] = &[
    "zdd-guard: zdd_rollout web: rolling out generation 2 (canary) over generation 1",
    "zdd-guard: web: launching (generation 2 created)",
    "zdd-guard: web: canary_step 1/2 25% (weights set)",
    "zdd-guard: web: healthy 3/4 new, 4/4 old, weight 25 %, floor 4, soak 1m40s left",
    "zdd-guard: web: draining_old (old targets deregistered \\u{1b}[2J\\u{1b}]0;owned\\u{7})",
    "zdd-guard: web: finished succeeded",
];

struct FakeBed {
    _root: tempfile::TempDir,
    work: PathBuf,
    terraform: PathBuf,
}

fn fake_bed(script: &str) -> FakeBed {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(work.join("main.tf"), "").unwrap();
    let terraform = root.path().join("terraform");
    std::fs::write(&terraform, script).unwrap();
    std::fs::set_permissions(&terraform, std::fs::Permissions::from_mode(0o755)).unwrap();
    FakeBed {
        _root: root,
        work,
        terraform,
    }
}

impl FakeBed {
    fn guard(&self, extra: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_zdd-guard"));
        command
            .args(["run", "--allow-unlocked", "--progress-every", "1s"])
            .args(extra)
            .args(["--", "apply"])
            .current_dir(&self.work)
            .env("TERRAFORM", &self.terraform)
            .env_remove("ZDD_EVENTS_FILE")
            .env_remove("GITHUB_ACTIONS")
            .stdin(Stdio::null());
        command
    }
}

/// The events file terraform was given, as the fake printed it.
fn events_file(stdout: &str) -> PathBuf {
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("events file: "))
        .unwrap_or_else(|| panic!("no events file in {stdout}"));
    PathBuf::from(line)
}

/// Where each of `expected` first appears in `lines`, failing if one is missing or out of order.
/// The region the local AWS's environment names (the support crate's `AWS_REGION`).
const LOCAL_REGION: &str = "us-east-1";

/// `line` with a fleet prefix "NAME [REGION]: " read as "NAME: " (panics on another region).
fn without_region(line: &str, name: &str, region: &str) -> String {
    let marker = format!("{name} [");
    let Some(at) = line.find(&marker) else {
        return line.to_string();
    };
    let rest = &line[at + marker.len()..];
    let end = rest
        .find("]: ")
        .unwrap_or_else(|| panic!("an unclosed region in {line:?}"));
    assert_eq!(&rest[..end], region, "{line}");
    format!("{}{name}{}", &line[..at], &rest[end + 1..])
}

fn assert_in_order(lines: &[&str], expected: &[&str], all: &str) {
    let mut from = 0;
    for wanted in expected {
        let at = lines[from..]
            .iter()
            .position(|line| line == wanted)
            .unwrap_or_else(|| panic!("{wanted:?} missing or out of order in:\n{all}"));
        from += at + 1;
    }
}

#[test]
fn phases_progress_and_the_end_show_live_as_plain_lines() {
    let bed = fake_bed(FAKE_APPLY);
    let output = bed.guard(&[]).output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    let all = text(&output);
    assert_eq!(output.status.code(), Some(0), "{all}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_in_order(&lines, PHASE_LINES, &all);
    // The soak's periodic lines while nothing new came (every 1 s for ~3 s), counting down.
    let progress: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("zdd-guard: web: healthy 3/4 new"))
        .collect();
    assert!(progress.len() >= 2, "{all}");
    assert!(
        progress.iter().any(|l| l.ends_with("soak 1m38s left")
            || l.ends_with("soak 1m37s left")
            || l.ends_with("soak 1m39s left")),
        "{all}"
    );
    // Plain lines: nothing moves the cursor or rewrites a line, and no escape from the file.
    assert!(!stderr.contains('\x1b') && !stderr.contains('\r'), "{all}");
    // Skipped lines are reported once, at the end.
    assert!(
        stderr.contains("skipped 2 line(s)") && stderr.contains("1 unreadable, 1 of another"),
        "{all}"
    );
    assert!(!all.contains("from the future"), "{all}");
    // Terraform's stdout is its own, with no line of the guard's in it.
    assert!(!stdout.contains("zdd-guard: "), "{stdout}");
    assert!(stdout.contains("Modifications complete"), "{stdout}");
    // The run's own file is gone, and its private directory with it.
    let file = events_file(&stdout);
    assert!(file.starts_with(std::env::temp_dir()), "{}", file.display());
    assert!(
        !file.exists() && !file.parent().unwrap().exists(),
        "{}",
        file.display()
    );
}

#[test]
fn json_shows_the_rollout_as_typed_events() {
    let bed = fake_bed(FAKE_APPLY);
    let output = bed.guard(&["--json"]).output().unwrap();
    let all = text(&output);
    assert_eq!(output.status.code(), Some(0), "{all}");
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let of = |name: &str| -> Vec<&serde_json::Value> {
        events.iter().filter(|e| e["event"] == name).collect()
    };
    let started = of("rollout_started");
    assert_eq!(started.len(), 1, "{all}");
    assert_eq!(started[0]["data"]["rollout"], "web");
    assert_eq!(started[0]["data"]["strategy"], "canary");
    assert_eq!(started[0]["data"]["from_generation"], 1);
    assert_eq!(started[0]["data"]["to_generation"], 2);
    let phases: Vec<&str> = of("rollout_phase")
        .iter()
        .map(|e| e["data"]["phase"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        ["launching", "canary_step 1/2 25%", "draining_old"],
        "{all}"
    );
    let progress = of("rollout_progress");
    assert!(progress.len() >= 2, "{all}");
    assert_eq!(progress[0]["level"], "info");
    assert_eq!(progress[0]["data"]["new_weight_percent"], 25);
    assert_eq!(progress[0]["data"]["generations"][0]["healthy"], 3);
    assert_eq!(progress[0]["data"]["waiting"]["what"], "soak");
    assert_eq!(progress[0]["data"]["waiting"]["seconds_left"], 100);
    assert!(
        progress.last().unwrap()["data"]["waiting"]["seconds_left"]
            .as_u64()
            .unwrap()
            < 100,
        "{all}"
    );
    let finished = of("rollout_finished");
    assert_eq!(finished.len(), 1, "{all}");
    assert_eq!(finished[0]["level"], "info");
    assert_eq!(finished[0]["data"]["status"], "succeeded");
    let skipped = of("rollout_events");
    assert_eq!(skipped.len(), 1, "{all}");
    assert_eq!(skipped[0]["level"], "warning");
    assert_eq!(skipped[0]["data"]["unreadable"], 1);
    assert_eq!(skipped[0]["data"]["other_version"], 1);
    // The escape sequence reached neither stream raw.
    assert!(!all.contains('\x1b'), "{all}");
    // Terraform's stdout went to stderr.
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("Modifications complete"),
        "{all}"
    );
}

#[test]
fn a_users_events_file_is_read_from_its_end_and_kept() {
    let bed = fake_bed(FAKE_APPLY);
    // Relative: the provider's (and so terraform's) directory's file.
    let file = bed.work.join("my-events.jsonl");
    let earlier = "{\"schema_version\":1,\"at\":\"2026-12-01T00:00:00Z\",\"rollout\":\"yesterday\",\"kind\":\"finished\",\"status\":\"failed\",\"detail\":\"\"}\n";
    std::fs::write(&file, earlier).unwrap();
    let output = bed
        .guard(&[])
        .env("ZDD_EVENTS_FILE", "my-events.jsonl")
        .output()
        .unwrap();
    let all = text(&output);
    assert_eq!(output.status.code(), Some(0), "{all}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_in_order(&stderr.lines().collect::<Vec<_>>(), PHASE_LINES, &all);
    assert!(!all.contains("yesterday"), "{all}");
    assert_eq!(
        events_file(&String::from_utf8_lossy(&output.stdout)),
        Path::new("my-events.jsonl")
    );
    let kept = std::fs::read_to_string(&file).unwrap();
    assert!(kept.starts_with(earlier), "{kept}");
    assert!(
        kept.contains("\"kind\":\"finished\",\"status\":\"succeeded\""),
        "{kept}"
    );
}

/// The guarded path (lease, saved plan, watch) names the file to the apply's terraform, and a
/// `finished` line written as terraform's last act shows before the guard's verdict.
#[tokio::test(flavor = "multi_thread")]
async fn a_guarded_apply_shows_the_rollout_before_its_verdict() {
    const WRAPPER: &str = r#"#!/bin/sh
ev() { printf '%s\n' "$1" >> "$ZDD_EVENTS_FILE"; }
A='"schema_version":1,"at":"2026-12-02T19:00:00Z","rollout":"wrapped"'
[ -n "$ZDD_EVENTS_FILE" ] || { echo "no ZDD_EVENTS_FILE for $1" >&2; exit 9; }
[ "$1" = apply ] || exec "$REAL_TERRAFORM" "$@"
ev "{$A,\"kind\":\"started\",\"strategy\":\"blue_green\",\"from_generation\":null,\"to_generation\":1}"
"$REAL_TERRAFORM" "$@"
code=$?
ev "{$A,\"kind\":\"finished\",\"status\":\"succeeded\",\"detail\":\"serving generation 1\"}"
exit $code
"#;
    let bed = Bed::new(
        "live-view",
        Locking::Lockfile,
        "resource \"terraform_data\" \"a\" {\n  input = \"one\"\n}\n",
    )
    .await;
    let wrapper = bed.path("terraform-wrapper");
    std::fs::write(&wrapper, WRAPPER).unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output: Output = bed
        .guard(&[
            "run",
            "--watch-interval",
            "200ms",
            "--",
            "apply",
            "-auto-approve",
            "-no-color",
        ])
        .env("TERRAFORM", &wrapper)
        .env("REAL_TERRAFORM", terraform_bin().unwrap())
        .env_remove("ZDD_EVENTS_FILE")
        .output()
        .unwrap();
    let all = text(&output);
    assert_eq!(output.status.code(), Some(0), "{all}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let verdict = lines
        .iter()
        .find(|l| l.starts_with("zdd-guard: verified: state serial"))
        .copied()
        .unwrap_or_else(|| panic!("no verdict in {all}"));
    assert_in_order(
        &lines,
        &[
            "zdd-guard: zdd_rollout wrapped: rolling out generation 1 (blue/green)",
            "zdd-guard: wrapped: finished succeeded (serving generation 1)",
            verdict,
        ],
        &all,
    );
}

/// A `zdd_rollout.web` (blue/green, 2 instances) over the fixture at launch template
/// `version`; the provider reaches the local AWS through `AWS_ENDPOINT_URL`.
fn rollout_config(name: &str, fixture: &Fixture, version: &str) -> String {
    let subnets: Vec<String> = fixture
        .subnet_ids
        .iter()
        .map(|s| format!("{s:?}"))
        .collect();
    format!(
        r#"terraform {{
  required_providers {{
    zdd = {{ source = "zdd/zdd" }}
  }}
}}

provider "zdd" {{}}

resource "zdd_rollout" "web" {{
  name                    = "{name}"
  launch_template_id      = "{template}"
  launch_template_version = "{version}"
  subnet_ids              = [{subnets}]
  target_group_arns       = ["{target_group}"]
  min_size                = 1
  max_size                = 4
  desired_capacity        = 2
}}
"#,
        template = fixture.launch_template_id,
        subnets = subnets.join(", "),
        target_group = fixture.blue_target_group_arn(),
    )
}

/// The real provider through the guard: a first blue/green rollout, then generation 2 over
/// generation 1 with `--json`; each shows its start, its phases in order and `finished
/// succeeded` before the guard's verdict.
#[tokio::test(flavor = "multi_thread")]
async fn a_real_rollout_shows_its_phases_live_through_the_guard() {
    assert!(
        provider_binary().exists(),
        "{} is missing: run `cargo build -p terraform-provider-zdd --bins` first",
        provider_binary().display()
    );
    let name = "glive-bg";
    let sdk = local_aws().sdk_config().await;
    let fixture = Fixture::create(&sdk, name).await.unwrap();
    let versions = &fixture.launch_template_versions;
    let bed = Bed::new(
        name,
        Locking::DynamoDb,
        &rollout_config(name, &fixture, &versions[0]),
    )
    .await;
    let guard = |extra: &[&str]| {
        let mut args = vec!["run", "--progress-every", "2s"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "apply", "-auto-approve", "-no-color"]);
        bed.guard(&args)
            .env("ZDD_MAX_POLL_INTERVAL", "250ms")
            .env_remove("ZDD_EVENTS_FILE")
            .output()
            .unwrap()
    };

    let first = guard(&[]);
    let all = text(&first);
    assert_eq!(first.status.code(), Some(0), "{all}");
    let stderr = String::from_utf8_lossy(&first.stderr);
    println!("--- text ---\n{stderr}");
    // The provider may name the fleet's region ("web [us-east-1]: ..."): the lines are read
    // without it, and a region shown is the provider's.
    let owned: Vec<String> = stderr
        .lines()
        .map(|line| without_region(line, name, LOCAL_REGION))
        .collect();
    let lines: Vec<&str> = owned.iter().map(String::as_str).collect();
    let verdict = lines
        .iter()
        .find(|l| l.starts_with("zdd-guard: verified: state serial"))
        .copied()
        .unwrap_or_else(|| panic!("no verdict in {all}"));
    assert_in_order(
        &lines,
        &[
            &format!("zdd-guard: zdd_rollout {name}: rolling out generation 1 (blue/green)"),
            verdict,
        ],
        &all,
    );
    let phase_of = |line: &&str| {
        line.strip_prefix(&format!("zdd-guard: {name}: "))
            .map(|rest| rest.split([' ', ',']).next().unwrap_or("").to_string())
    };
    let seen: Vec<String> = lines.iter().filter_map(phase_of).collect();
    for phase in ["launching", "waiting_for_healthy", "complete", "finished"] {
        assert!(
            seen.iter().any(|s| s == phase),
            "{phase} not in {seen:?}\n{all}"
        );
    }
    let finished = lines
        .iter()
        .position(|l| l.starts_with(&format!("zdd-guard: {name}: finished succeeded")))
        .unwrap_or_else(|| panic!("no finished line in {all}"));
    let at_verdict = lines.iter().position(|l| *l == verdict).unwrap();
    assert!(finished < at_verdict, "{all}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("zdd-guard: {name}: healthy "))
                || l.starts_with(&format!("zdd-guard: {name}: no generation yet"))),
        "no progress line in {all}"
    );
    assert!(!stderr.contains('\x1b'), "{all}");

    bed.tf
        .write("main.tf", &rollout_config(name, &fixture, &versions[1]))
        .unwrap();
    let second = guard(&["--json"]);
    let all = text(&second);
    assert_eq!(second.status.code(), Some(0), "{all}");
    let stdout = String::from_utf8_lossy(&second.stdout);
    println!("--- json ---\n{stdout}");
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    let started = names.iter().position(|n| *n == "rollout_started").unwrap();
    let finished = names.iter().position(|n| *n == "rollout_finished").unwrap();
    let verify = names.iter().position(|n| *n == "verify").unwrap();
    assert!(started < finished && finished < verify, "{names:?}");
    assert_eq!(events[started]["data"]["from_generation"], 1, "{all}");
    assert_eq!(events[started]["data"]["to_generation"], 2, "{all}");
    assert_eq!(events[finished]["data"]["status"], "succeeded", "{all}");
    let phases: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "rollout_phase")
        .filter_map(|e| e["data"]["phase"].as_str())
        .collect();
    for phase in ["detaching_old", "draining_old", "deleting_old", "complete"] {
        assert!(phases.contains(&phase), "{phase} not in {phases:?}");
    }
    assert!(
        events.iter().any(|e| e["event"] == "rollout_progress"),
        "no progress line in {stdout}"
    );
    assert!(
        !events.iter().any(|e| e["event"] == "rollout_events"),
        "the provider's lines were all read: {stdout}"
    );
}
