use super::*;
use zdd_events::{Generation, Waiting};

const S: fn(u64) -> Duration = Duration::from_secs;

fn view(every: Duration) -> ProgressView {
    ProgressView::new(ViewSettings {
        progress_every: every,
    })
}

fn line(rollout: &str, event: Event) -> Vec<u8> {
    line_in(rollout, None, event)
}

/// A line of a fleet in `region` (`None`: a line that does not say).
fn line_in(rollout: &str, region: Option<&str>, event: Event) -> Vec<u8> {
    let mut text = serde_json::to_vec(&EventLine {
        schema_version: SCHEMA_VERSION,
        at: "2026-12-02T19:00:00Z".into(),
        rollout: rollout.into(),
        region: region.map(Into::into),
        event,
    })
    .unwrap();
    text.push(b'\n');
    text
}

fn phase(rollout: &str, phase: &str, detail: &str) -> Vec<u8> {
    line(
        rollout,
        Event::Phase {
            phase: phase.into(),
            detail: detail.into(),
        },
    )
}

fn generation(role: Role, n: u64, healthy: u32, desired: u32) -> Generation {
    Generation {
        role,
        generation: n,
        asg: format!("web-g{n}"),
        desired,
        healthy,
        draining: 0,
        attached: true,
    }
}

/// A canary's picture: `healthy`/4 new at `weight` %, 4/4 old, soaking with `left` seconds.
fn canary(healthy: u32, weight: u32, left: Option<u64>) -> Progress {
    Progress {
        phase: format!("canary_step 2/4 {weight}%"),
        generations: vec![
            generation(Role::New, 2, healthy, 4),
            generation(Role::Old, 1, 4, 4),
        ],
        new_weight_percent: Some(weight),
        served: 4,
        floor: 4,
        waiting: left.map(|left| Waiting {
            what: WaitKind::Soak,
            seconds_left: Some(left),
        }),
    }
}

fn progress(rollout: &str, progress: Progress) -> Vec<u8> {
    line(rollout, Event::Progress(progress))
}

fn messages(shown: &[Shown]) -> Vec<&str> {
    shown.iter().map(|s| s.message.as_str()).collect()
}

#[test]
fn a_rollout_reads_as_started_phases_and_finished() {
    let mut v = view(DEFAULT_PROGRESS_EVERY);
    let mut bytes = line(
        "web",
        Event::Started {
            operation: zdd_events::Operation::Rollout,
            strategy: "canary".into(),
            from_generation: Some(1),
            to_generation: 2,
        },
    );
    bytes.extend(phase("web", "launching", "generation 2 created"));
    bytes.extend(phase("web", "canary_step 2/4 25%", "weights set"));
    bytes.extend(line(
        "web",
        Event::Finished {
            status: "succeeded".into(),
            detail: String::new(),
        },
    ));
    let shown = v.feed(&bytes, S(0));
    assert_eq!(
        messages(&shown),
        [
            "zdd_rollout web: rolling out generation 2 (canary) over generation 1",
            "web: launching (generation 2 created)",
            "web: canary_step 2/4 25% (weights set)",
            "web: finished succeeded",
        ]
    );
    assert_eq!(
        shown.iter().map(|s| s.kind).collect::<Vec<_>>(),
        [Kind::Started, Kind::Phase, Kind::Phase, Kind::Finished]
    );
    assert!(shown.iter().all(|s| !s.warning));
    assert_eq!(shown[0].data["from_generation"], 1);
    assert_eq!(shown[0].data["to_generation"], 2);
    assert_eq!(shown[0].data["strategy"], "canary");
    assert_eq!(shown[2].data["phase"], "canary_step 2/4 25%");
    assert_eq!(shown[2].data["detail"], "weights set");
    assert_eq!(shown[3].data["status"], "succeeded");
    assert_eq!(v.skipped(), Skipped::default());
}

#[test]
fn a_first_rollout_has_no_old_generation_and_a_rollback_is_a_warning() {
    let mut v = view(DEFAULT_PROGRESS_EVERY);
    let mut bytes = line(
        "api",
        Event::Started {
            operation: zdd_events::Operation::Rollout,
            strategy: "blue_green".into(),
            from_generation: None,
            to_generation: 1,
        },
    );
    bytes.extend(line(
        "api",
        Event::Finished {
            status: "rolled_back".into(),
            detail: "new targets never healthy".into(),
        },
    ));
    let shown = v.feed(&bytes, S(0));
    assert_eq!(
        messages(&shown),
        [
            "zdd_rollout api: rolling out generation 1 (blue/green)",
            "api: finished rolled_back (new targets never healthy)",
        ]
    );
    assert!(shown[1].warning);
    assert_eq!(shown[0].data["from_generation"], Value::Null);
}

#[test]
fn a_started_line_says_what_the_run_does_rollout_rollback_or_teardown() {
    let started = |operation, from_generation, to_generation| {
        line(
            "web",
            Event::Started {
                operation,
                strategy: "rolling".into(),
                from_generation,
                to_generation,
            },
        )
    };
    let mut bytes = started(zdd_events::Operation::Rollback, Some(1), 2);
    bytes.extend(started(zdd_events::Operation::Teardown, Some(2), 0));
    bytes.extend(started(zdd_events::Operation::Rollout, Some(1), 2));
    // A provider before `operation` wrote none: a rollout.
    bytes.extend(
        br#"{"schema_version":1,"at":"2026-12-02T19:00:00Z","rollout":"web","kind":"started","strategy":"canary","from_generation":null,"to_generation":1}"#,
    );
    bytes.push(b'\n');
    let shown = view(DEFAULT_PROGRESS_EVERY).feed(&bytes, S(0));
    assert_eq!(
        messages(&shown),
        [
            "zdd_rollout web: finishing the rollback of generation 2 (generation 1 serves again)",
            "zdd_rollout web: destroying the fleet",
            "zdd_rollout web: rolling out generation 2 (rolling) over generation 1",
            "zdd_rollout web: rolling out generation 1 (canary)",
        ]
    );
    let operations: Vec<_> = shown.iter().map(|s| s.data["operation"].clone()).collect();
    assert_eq!(operations, ["rollback", "teardown", "rollout", "rollout"]);
}

#[test]
fn a_progress_line_shows_the_parts_that_apply() {
    let mut v = view(DEFAULT_PROGRESS_EVERY);
    let shown = v.feed(&progress("web", canary(3, 25, Some(130))), S(0));
    assert_eq!(
        messages(&shown),
        ["web: healthy 3/4 new, 4/4 old, weight 25 %, floor 4, soak 2m10s left"]
    );
    assert_eq!(shown[0].kind, Kind::Progress);
    assert_eq!(shown[0].data["rollout"], "web");
    assert_eq!(shown[0].data["generations"][0]["healthy"], 3);
    assert_eq!(shown[0].data["new_weight_percent"], 25);
    assert_eq!(shown[0].data["waiting"]["what"], "soak");
    assert_eq!(shown[0].data["waiting"]["seconds_left"], 130);

    // A blue/green first rollout: one generation, no weight, no floor, no wait; a drain.
    let mut v = view(DEFAULT_PROGRESS_EVERY);
    let first = Progress {
        phase: "waiting_for_healthy".into(),
        generations: vec![generation(Role::New, 1, 1, 2)],
        new_weight_percent: None,
        served: 2,
        floor: 2,
        waiting: None,
    };
    assert_eq!(
        messages(&v.feed(&progress("api", first), S(0))),
        ["api: healthy 1/2 new"]
    );
    let mut v = view(DEFAULT_PROGRESS_EVERY);
    let mut old = generation(Role::Old, 1, 0, 2);
    old.draining = 2;
    old.attached = false;
    let draining = Progress {
        phase: "draining_old".into(),
        // Old listed first: shown new first all the same.
        generations: vec![old, generation(Role::New, 2, 2, 2)],
        new_weight_percent: None,
        served: 2,
        floor: 2,
        waiting: Some(Waiting {
            what: WaitKind::Drain,
            seconds_left: None,
        }),
    };
    assert_eq!(
        messages(&v.feed(&progress("api", draining), S(0))),
        ["api: healthy 2/2 new, 0/2 old (detached), draining 2 old, floor 2, waiting: drain"]
    );
}

#[test]
fn changes_print_at_most_one_line_per_gap_and_the_last_change_follows() {
    let mut v = view(DEFAULT_PROGRESS_EVERY);
    assert_eq!(v.feed(&progress("web", canary(1, 25, None)), S(0)).len(), 1);
    // The same picture again: nothing.
    assert!(
        v.feed(&progress("web", canary(1, 25, None)), S(1))
            .is_empty()
    );
    // Changes within the gap are held back...
    assert!(
        v.feed(&progress("web", canary(2, 25, None)), S(3))
            .is_empty()
    );
    assert!(
        v.feed(&progress("web", canary(3, 25, None)), S(6))
            .is_empty()
    );
    assert!(v.tick(S(9)).is_empty());
    // ...and the latest one is shown once the gap has passed.
    assert_eq!(
        messages(&v.tick(S(10))),
        ["web: healthy 3/4 new, 4/4 old, weight 25 %, floor 4"]
    );
    assert!(v.tick(S(11)).is_empty());
    // A change after the gap shows at once.
    assert_eq!(
        messages(&v.feed(&progress("web", canary(4, 50, None)), S(21))),
        ["web: healthy 4/4 new, 4/4 old, weight 50 %, floor 4"]
    );
    // No wait: no periodic line, however long nothing changes.
    assert!(v.tick(S(500)).is_empty());
}

#[test]
fn a_wait_prints_a_line_every_interval_with_its_time_left_counted_down() {
    let mut v = view(S(30));
    assert_eq!(
        messages(&v.feed(&progress("web", canary(4, 25, Some(130))), S(100))),
        ["web: healthy 4/4 new, 4/4 old, weight 25 %, floor 4, soak 2m10s left"]
    );
    // The provider wrote nothing new: the time left counts down from its last picture.
    assert!(v.tick(S(129)).is_empty());
    let shown = v.tick(S(130));
    assert_eq!(
        messages(&shown),
        ["web: healthy 4/4 new, 4/4 old, weight 25 %, floor 4, soak 1m40s left"]
    );
    assert_eq!(shown[0].data["waiting"]["seconds_left"], 100);
    assert!(v.tick(S(140)).is_empty());
    assert_eq!(
        messages(&v.tick(S(160))),
        ["web: healthy 4/4 new, 4/4 old, weight 25 %, floor 4, soak 1m10s left"]
    );
    // Past the end of the wait: 0s left, never a negative or wrapped number.
    assert_eq!(
        messages(&v.tick(S(1000))),
        ["web: healthy 4/4 new, 4/4 old, weight 25 %, floor 4, soak 0s left"]
    );
    // Finished: no more progress lines.
    let shown = v.feed(
        &line(
            "web",
            Event::Finished {
                status: "succeeded".into(),
                detail: String::new(),
            },
        ),
        S(1001),
    );
    assert_eq!(messages(&shown), ["web: finished succeeded"]);
    assert!(v.tick(S(5000)).is_empty());
}

#[test]
fn a_shorter_interval_also_shortens_the_gap_and_zero_turns_progress_off() {
    let mut v = view(S(2));
    assert_eq!(
        v.feed(&progress("web", canary(1, 25, Some(60))), S(0))
            .len(),
        1
    );
    assert_eq!(
        v.feed(&progress("web", canary(2, 25, Some(58))), S(2))
            .len(),
        1
    );
    assert_eq!(messages(&v.tick(S(4))).len(), 1);

    let mut v = view(Duration::ZERO);
    assert!(
        v.feed(&progress("web", canary(1, 25, Some(60))), S(0))
            .is_empty()
    );
    assert!(v.tick(S(600)).is_empty());
    // Phase lines stay.
    assert_eq!(v.feed(&phase("web", "complete", ""), S(601)).len(), 1);
}

#[test]
fn several_rollouts_interleave_each_with_its_own_throttle() {
    let mut v = view(S(30));
    let mut bytes = progress("web", canary(1, 25, Some(60)));
    bytes.extend(phase("api", "launching", "generation 3 created"));
    bytes.extend(progress("api", canary(0, 10, Some(300))));
    let shown = v.feed(&bytes, S(0));
    assert_eq!(
        messages(&shown),
        [
            "web: healthy 1/4 new, 4/4 old, weight 25 %, floor 4, soak 1m left",
            "api: launching (generation 3 created)",
            "api: healthy 0/4 new, 4/4 old, weight 10 %, floor 4, soak 5m left",
        ]
    );
    // web changes at 12 s (shown: past its gap); api's periodic line is due at 30 s, web's
    // at 42 s.
    assert_eq!(
        messages(&v.feed(&progress("web", canary(2, 25, Some(48))), S(12))),
        ["web: healthy 2/4 new, 4/4 old, weight 25 %, floor 4, soak 48s left"]
    );
    assert_eq!(
        messages(&v.tick(S(30))),
        ["api: healthy 0/4 new, 4/4 old, weight 10 %, floor 4, soak 4m30s left"]
    );
    assert_eq!(
        messages(&v.tick(S(42))),
        ["web: healthy 2/4 new, 4/4 old, weight 25 %, floor 4, soak 18s left"]
    );
}

#[test]
fn two_fleets_of_one_name_in_two_regions_are_two_rollouts() {
    let mut v = view(S(30));
    let eu = Some("eu-west-1");
    let us = Some("us-east-1");
    let mut bytes = line_in("web", eu, Event::Progress(canary(1, 25, Some(60))));
    bytes.extend(line_in(
        "web",
        us,
        Event::Progress(canary(0, 10, Some(300))),
    ));
    let shown = v.feed(&bytes, S(0));
    assert_eq!(
        messages(&shown),
        [
            "web [eu-west-1]: healthy 1/4 new, 4/4 old, weight 25 %, floor 4, soak 1m left",
            "web [us-east-1]: healthy 0/4 new, 4/4 old, weight 10 %, floor 4, soak 5m left",
        ]
    );
    assert_eq!(shown[0].data["rollout"], "web");
    assert_eq!(shown[0].data["region"], "eu-west-1");
    assert_eq!(shown[1].data["region"], "us-east-1");
    // One finishing leaves the other's view alone: its wait still prints.
    let finished = Event::Finished {
        status: "succeeded".into(),
        detail: String::new(),
    };
    let shown = v.feed(&line_in("web", eu, finished), S(1));
    assert_eq!(messages(&shown), ["web [eu-west-1]: finished succeeded"]);
    assert_eq!(shown[0].data["region"], "eu-west-1");
    assert_eq!(
        messages(&v.tick(S(30))),
        ["web [us-east-1]: healthy 0/4 new, 4/4 old, weight 10 %, floor 4, soak 4m30s left"]
    );
    // A hostile region is escaped like any text the provider wrote.
    let shown = v.feed(
        &line_in(
            "api",
            Some("x\u{1b}[2J"),
            Event::Progress(canary(0, 10, None)),
        ),
        S(31),
    );
    assert!(!shown[0].message.contains('\x1b'), "{}", shown[0].message);
    // A line without a region (an older provider) is a fleet of its own, shown by name only.
    let shown = v.feed(&progress("web", canary(3, 50, None)), S(32));
    assert_eq!(shown[0].data["region"], Value::Null);
    assert!(
        shown[0].message.starts_with("web: healthy 3/4"),
        "{}",
        shown[0].message
    );
}

#[test]
fn a_new_run_of_a_rollout_starts_its_view_afresh() {
    let mut v = view(S(30));
    v.feed(&progress("web", canary(4, 100, Some(10))), S(0));
    v.feed(
        &line(
            "web",
            Event::Finished {
                status: "interrupted".into(),
                detail: "timed out".into(),
            },
        ),
        S(1),
    );
    let mut bytes = line(
        "web",
        Event::Started {
            operation: zdd_events::Operation::Rollout,
            strategy: "canary".into(),
            from_generation: Some(1),
            to_generation: 2,
        },
    );
    bytes.extend(progress("web", canary(4, 100, Some(10))));
    // The same picture as before the restart is shown: the new run has shown nothing yet.
    assert_eq!(v.feed(&bytes, S(2)).len(), 2);
}

#[test]
fn lines_of_another_version_or_unreadable_are_skipped_and_counted() {
    let mut v = view(S(30));
    let mut bytes = Vec::new();
    bytes.extend(b"not json\n");
    bytes.extend(br#"{"schema_version":2,"at":"x","rollout":"web","kind":"teleported"}"#);
    bytes.push(b'\n');
    bytes.extend(br#"{"schema_version":1,"at":"x","rollout":"web","kind":"teleported"}"#);
    bytes.push(b'\n');
    bytes.extend(br#"{"schema_version":1,"rollout":"web","kind":"phase"}"#);
    bytes.push(b'\n');
    bytes.extend(b"[1,2]\n\n   \n");
    bytes.extend(phase("web", "complete", ""));
    assert_eq!(messages(&v.feed(&bytes, S(0))), ["web: complete"]);
    assert_eq!(
        v.skipped(),
        Skipped {
            unreadable: 4,
            other_version: 1,
            too_long: 0
        }
    );
    assert_eq!(v.skipped().total(), 5);
}

#[test]
fn a_partial_line_waits_for_its_newline_and_crlf_is_accepted() {
    let mut v = view(S(30));
    let whole = phase("web", "draining_old", "old targets deregistered");
    let (head, tail) = whole.split_at(17);
    assert!(v.feed(head, S(0)).is_empty());
    assert!(v.tick(S(1)).is_empty());
    let (middle, end) = tail.split_at(tail.len() - 1);
    assert!(v.feed(middle, S(1)).is_empty());
    assert_eq!(
        messages(&v.feed(end, S(2))),
        ["web: draining_old (old targets deregistered)"]
    );
    let mut crlf = phase("web", "complete", "");
    crlf.insert(crlf.len() - 1, b'\r');
    assert_eq!(messages(&v.feed(&crlf, S(3))), ["web: complete"]);
    assert_eq!(v.skipped(), Skipped::default());

    // A restart (file truncated or replaced) drops the partial line.
    assert!(v.feed(b"{\"schema_version\":1,", S(4)).is_empty());
    v.restart();
    assert_eq!(messages(&v.feed(&phase("web", "b", ""), S(5))), ["web: b"]);
    assert_eq!(v.skipped(), Skipped::default());
}

#[test]
fn a_last_line_cut_off_before_its_newline_is_counted_at_the_end() {
    let mut v = view(S(30));
    let whole = phase("web", "draining_old", "old targets deregistered");
    assert!(v.feed(&whole[..20], S(0)).is_empty());
    v.finish();
    assert_eq!(
        v.skipped(),
        Skipped {
            unreadable: 1,
            ..Skipped::default()
        }
    );
    // Only whitespace after the last newline, or nothing: nothing was lost.
    for rest in [&b""[..], b"  \r"] {
        let mut v = view(S(30));
        let mut bytes = whole.clone();
        bytes.extend_from_slice(rest);
        assert_eq!(v.feed(&bytes, S(0)).len(), 1);
        v.finish();
        assert_eq!(v.skipped(), Skipped::default());
    }
    // A too-long line being dropped is counted once, as too long.
    let mut v = view(S(30));
    v.feed(&vec![b'x'; MAX_LINE_BYTES + 1], S(0));
    v.finish();
    assert_eq!(
        v.skipped(),
        Skipped {
            too_long: 1,
            ..Skipped::default()
        }
    );
}

#[test]
fn a_line_longer_than_the_limit_is_skipped_without_keeping_it() {
    let mut v = view(S(30));
    let long = vec![b'x'; MAX_LINE_BYTES / 2 + 1];
    assert!(v.feed(&long, S(0)).is_empty());
    assert!(v.feed(&long, S(0)).is_empty());
    assert_eq!(v.skipped().too_long, 1);
    // Still discarding: more of the same line is not kept either.
    assert!(v.feed(&long, S(0)).is_empty());
    assert!(v.lines.partial.is_empty());
    let mut rest = b"tail of the long line\n".to_vec();
    rest.extend(phase("web", "complete", ""));
    assert_eq!(messages(&v.feed(&rest, S(0))), ["web: complete"]);
    assert_eq!(v.skipped().too_long, 1);
    assert_eq!(v.skipped().unreadable, 0);
}

#[test]
fn hostile_strings_never_reach_the_terminal_raw() {
    let mut v = view(S(30));
    let evil_name = "web\x1b[2J\x1b]0;owned\x07";
    let mut bytes = line(
        evil_name,
        Event::Started {
            operation: zdd_events::Operation::Rollout,
            strategy: "canary\r\nzdd-guard: verified".into(),
            from_generation: Some(1),
            to_generation: 2,
        },
    );
    bytes.extend(phase(
        evil_name,
        "complete\u{202E}kcab dellor",
        "line one\nline two\u{2028}\u{9b}31m",
    ));
    let mut p = canary(1, 25, Some(5));
    p.generations[0].asg = "g\x1b[31m".into();
    bytes.extend(progress(evil_name, p));
    bytes.extend(line(
        evil_name,
        Event::Finished {
            status: "succeeded\x1b[0m".into(),
            detail: "x".repeat(10_000),
        },
    ));
    let shown = v.feed(&bytes, S(0));
    assert_eq!(shown.len(), 4);
    for s in &shown {
        for bad in ['\x1b', '\n', '\r', '\x07', '\u{9b}', '\u{202E}', '\u{2028}'] {
            assert!(!s.message.contains(bad), "{bad:?} in {:?}", s.message);
            assert!(!s.data.to_string().contains(bad), "{bad:?} in {}", s.data);
        }
        assert!(
            s.message.starts_with("zdd_rollout web\\u{1b}[2J")
                || s.message.starts_with("web\\u{1b}[2J"),
            "{}",
            s.message
        );
    }
    assert!(
        shown[1].message.contains("line one\\nline two\\u{2028}"),
        "{}",
        shown[1].message
    );
    assert_eq!(shown[2].data["generations"][0]["asg"], "g\\u{1b}[31m");
    // A status with an escape is not "succeeded": a warning.
    assert!(shown[3].warning);
    assert!(
        shown[3].message.chars().count() < 300,
        "{}",
        shown[3].message
    );
}

#[test]
fn a_detail_repeating_its_phase_says_it_once() {
    let mut v = view(S(30));
    let mut bytes = phase("web", "deleting_old", "deleting_old");
    bytes.extend(phase("web", "complete", "complete: web-g2 serves 100 %"));
    bytes.extend(phase("web", "draining_old", "draining_old_x"));
    let shown = v.feed(&bytes, S(0));
    assert_eq!(
        messages(&shown),
        [
            "web: deleting_old",
            "web: complete (web-g2 serves 100 %)",
            "web: draining_old (_x)",
        ]
    );
    // The data keeps the provider's detail as written.
    assert_eq!(shown[1].data["detail"], "complete: web-g2 serves 100 %");
}

#[test]
fn clean_leaves_ordinary_text_alone() {
    assert_eq!(
        clean("canary_step 2/4 25% (p99 1.2x, ünïcode ✓)"),
        "canary_step 2/4 25% (p99 1.2x, ünïcode ✓)"
    );
    assert_eq!(clean("a\tb"), "a\\tb");
}
