//! Real Terraform + the provider binary + the local AWS: seeing a rollout (issue #17). While a
//! blue/green apply runs, `DescribeTags` shows the groups' phase record (`zdd:phase` moving
//! through the rollout's phases, with `zdd:phase-since` and `zdd:floor` beside it); at the end
//! the serving group says `complete`. The apply's `ZDD_EVENTS_FILE` receives the live event
//! lines, and the state's `last_rollout.samples` draws the rollout; an events file that cannot
//! be opened changes nothing.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_autoscaling::types::Filter;
use zdd_events::{EVENTS_FILE_ENV, Event, EventLine, MAX_SAMPLES, Role};
use zdd_rollout::fleet::{TAG_FLOOR, TAG_PHASE, TAG_PHASE_SINCE};
use zdd_rollout::spec::defaults::DEFAULT_MIN_HEALTHY_PERCENT;

use crate::common::{Bed, Config, bed, finish};

/// Each `(group, zdd:phase)` of the fleet's groups, as `DescribeTags` lists them.
fn phase_tags(bed: &Bed, groups: &[String]) -> Vec<(String, String)> {
    record_tags(bed, groups, TAG_PHASE)
}

/// Each `(group, value)` of tag `key` on the fleet's groups, as `DescribeTags` lists them.
fn record_tags(bed: &Bed, groups: &[String], key: &str) -> Vec<(String, String)> {
    let autoscaling = aws_sdk_autoscaling::Client::new(&bed.sdk);
    let groups = groups.to_vec();
    let key = key.to_string();
    bed.runtime.block_on(async move {
        let answer = autoscaling
            .describe_tags()
            .filters(
                Filter::builder()
                    .name("auto-scaling-group")
                    .set_values(Some(groups))
                    .build(),
            )
            .filters(Filter::builder().name("key").values(key).build())
            .send()
            .await
            .unwrap_or_else(|err| panic!("DescribeTags: {err:?}"));
        answer
            .tags()
            .iter()
            .filter_map(|tag| {
                Some((
                    tag.resource_id()?.to_string(),
                    tag.value().unwrap_or_default().to_string(),
                ))
            })
            .collect()
    })
}

#[test]
fn a_blue_green_rollout_shows_its_phases_on_its_groups_in_its_events_and_samples() {
    let bed = bed("e2eph");
    let mut config = Config::new(&bed);
    bed.write_config(&config);
    // Adversarial: the events file names a directory, which cannot be opened for appending.
    // The first generation's rollout succeeds all the same.
    let directory = bed.tf.path().join("events-dir");
    std::fs::create_dir_all(&directory).unwrap();
    let directory = directory.to_str().unwrap().to_string();
    let first = bed.terraform_with_env(
        &["apply", "-auto-approve", "-no-color", "-input=false"],
        &[(EVENTS_FILE_ENV, directory.as_str())],
    );
    assert!(first.success(), "{}\n{}", first.stdout, first.stderr);
    assert!(std::fs::metadata(&directory).unwrap().is_dir());
    let (g1, g2) = (format!("{}-g1", bed.name), format!("{}-g2", bed.name));
    let groups = [g1.clone(), g2.clone()];
    assert_eq!(
        phase_tags(&bed, &groups),
        vec![(g1.clone(), "complete".to_string())],
        "the first generation ends complete"
    );

    config.version = "2".into();
    bed.write_config(&config);
    let events_file = bed.tf.path().join("events.jsonl");
    let events_path = events_file.to_str().unwrap().to_string();
    let apply_started = unix_now();
    let mut apply = bed.spawn_apply_with_env(&[(EVENTS_FILE_ENV, events_path.as_str())]);
    let mut seen = BTreeSet::new();
    let mut since_and_floor = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        seen.extend(phase_tags(&bed, &groups));
        for key in [TAG_PHASE_SINCE, TAG_FLOOR] {
            for (group, value) in record_tags(&bed, &groups, key) {
                since_and_floor.insert((group, key, value));
            }
        }
        if apply.try_wait().ok().flatten().is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the apply ran 10 minutes: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = finish(apply);
    assert!(output.success(), "{}\n{}", output.stdout, output.stderr);

    assert_eq!(
        phase_tags(&bed, &groups),
        vec![(g2.clone(), "complete".to_string())],
        "the serving group says complete, the old one is gone"
    );
    let intermediate = ["waiting_for_healthy", "detaching_old", "draining_old"];
    for group in [&g1, &g2] {
        assert!(
            seen.iter()
                .any(|(g, phase)| g == group && intermediate.contains(&phase.as_str())),
            "{group} showed no phase of the shift while the apply ran: {seen:?}"
        );
    }
    let state = bed.state();
    let failed_records: Vec<&serde_json::Value> = state["last_rollout"]["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .filter(|step| step["action"] == "command_failed")
                .collect()
        })
        .unwrap_or_default();
    assert!(failed_records.is_empty(), "{failed_records:#?}");
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());

    // The phase record: each group showed when its phase began (during this apply) and the
    // floor (the whole desired capacity at the default min_healthy_percent).
    let floor = (config.desired as u32 * DEFAULT_MIN_HEALTHY_PERCENT).div_ceil(100);
    for group in [&g1, &g2] {
        let of = |key: &str| -> Vec<&String> {
            since_and_floor
                .iter()
                .filter(|(g, k, _)| g == group && *k == key)
                .map(|(_, _, value)| value)
                .collect()
        };
        let since = of(TAG_PHASE_SINCE);
        assert!(
            since.iter().any(|value| value
                .parse::<u64>()
                .is_ok_and(|at| at + 1 >= apply_started && at <= unix_now())),
            "{group}: zdd:phase-since {since:?}, apply from {apply_started}"
        );
        assert_eq!(of(TAG_FLOOR), vec![&floor.to_string()], "{group}");
    }

    let lines = read_events(&events_file);
    assert_events_tell_the_rollout(&lines, &state, &bed.name, config.desired as u32);
    assert_samples_draw_the_rollout(&state, config.desired as u32);
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// Every line of the events file, parsed (each must be one whole event line).
fn read_events(path: &std::path::Path) -> Vec<EventLine> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    // Shown with the test's output: what a reader of the file gets.
    for line in text.lines().take(12) {
        eprintln!("{line}");
    }
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
        .collect()
}

/// `started` first, `finished succeeded` last, a `phase` line per `phase` entry of
/// `last_rollout` in the same order, and `progress` lines whose new generation reaches the
/// desired capacity healthy.
fn assert_events_tell_the_rollout(
    lines: &[EventLine],
    state: &serde_json::Value,
    name: &str,
    desired: u32,
) {
    assert!(
        lines
            .iter()
            .all(|l| l.rollout == name && l.schema_version == 1)
    );
    assert!(
        matches!(
            lines.first().map(|l| &l.event),
            Some(Event::Started { strategy, from_generation: Some(1), to_generation: 2, .. }) if strategy == "blue_green"
        ),
        "{:?}",
        lines.first()
    );
    assert!(
        matches!(
            lines.last().map(|l| &l.event),
            Some(Event::Finished { status, .. }) if status == "succeeded"
        ),
        "{:?}",
        lines.last()
    );
    let phase_lines: Vec<&String> = lines
        .iter()
        .filter_map(|l| match &l.event {
            Event::Phase { detail, .. } => Some(detail),
            _ => None,
        })
        .collect();
    let phase_entries: Vec<&str> = state["last_rollout"]["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no steps: {:#}", state["last_rollout"]))
        .iter()
        .filter(|step| step["action"] == "phase")
        .filter_map(|step| step["detail"].as_str())
        .collect();
    assert_eq!(phase_lines, phase_entries);
    let phases: Vec<&str> = lines
        .iter()
        .filter_map(|l| match &l.event {
            Event::Phase { phase, .. } => Some(phase.as_str()),
            _ => None,
        })
        .collect();
    for phase in [
        "waiting_for_healthy",
        "detaching_old",
        "draining_old",
        "complete",
    ] {
        assert!(phases.contains(&phase), "{phase} in {phases:?}");
    }
    let best = lines
        .iter()
        .filter_map(|l| match &l.event {
            Event::Progress(progress) => progress
                .generations
                .iter()
                .find(|g| g.role == Role::New)
                .map(|g| g.healthy),
            _ => None,
        })
        .max();
    assert_eq!(
        best,
        Some(desired),
        "new generation's health in the progress lines"
    );
}

/// `last_rollout.samples`: within the bound, from no healthy new target to all of them.
fn assert_samples_draw_the_rollout(state: &serde_json::Value, desired: u32) {
    let samples = state["last_rollout"]["samples"]
        .as_array()
        .unwrap_or_else(|| panic!("no samples: {:#}", state["last_rollout"]));
    assert!(
        !samples.is_empty() && samples.len() <= MAX_SAMPLES,
        "{}",
        samples.len()
    );
    assert_eq!(samples[0]["healthy_new"], 0, "{samples:#?}");
    assert!(
        samples.iter().any(|s| s["healthy_new"] == desired),
        "{samples:#?}"
    );
    assert!(
        samples.iter().all(|s| s["weight_new"].is_null()),
        "no canary listener"
    );
}
