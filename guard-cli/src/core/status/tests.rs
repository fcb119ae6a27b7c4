use std::collections::BTreeMap;

use super::snapshot::{
    ActivitySnapshot, FleetSnapshot, GroupSnapshot, InstanceSnapshot, ListenerSnapshot,
    TargetGroupSnapshot, TargetSnapshot,
};
use super::text;
use super::view::{
    DrainLeft, FleetView, Role, SCHEMA_VERSION, StateView, StatusView, TagValue, drain_left,
    percent, status,
};

const BLUE: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-blue/1";
const GREEN: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-green/2";
/// 2026-12-02T19:30:00Z.
const NOW: i64 = 1_796_239_800;

fn group(name: &str, fleet: &str, generation: &str, tags: &[(&str, &str)]) -> GroupSnapshot {
    let mut all = BTreeMap::from([
        ("zdd:rollout".to_string(), fleet.to_string()),
        ("zdd:generation".to_string(), generation.to_string()),
        ("zdd:owner".to_string(), "o-team-a".to_string()),
    ]);
    for (key, value) in tags {
        all.insert((*key).to_string(), (*value).to_string());
    }
    GroupSnapshot {
        name: name.to_string(),
        tags: all,
        min_size: 4,
        max_size: 8,
        desired_capacity: 4,
        instances: Vec::new(),
        target_group_arns: Vec::new(),
        status: None,
        activities: Vec::new(),
    }
}

fn with_instances(mut group: GroupSnapshot, ids: &[&str]) -> GroupSnapshot {
    group.instances = ids
        .iter()
        .map(|id| InstanceSnapshot {
            id: (*id).to_string(),
            lifecycle_state: "InService".into(),
            health_status: "Healthy".into(),
        })
        .collect();
    group
}

fn target(id: &str, state: &str, reason: Option<&str>) -> TargetSnapshot {
    TargetSnapshot {
        id: id.to_string(),
        state: state.to_string(),
        reason: reason.map(str::to_string),
    }
}

fn target_group(
    arn: &str,
    name: &str,
    delay: &str,
    targets: Vec<TargetSnapshot>,
) -> TargetGroupSnapshot {
    TargetGroupSnapshot {
        arn: arn.to_string(),
        name: name.to_string(),
        deregistration_delay: Some(delay.to_string()),
        load_balancer_arns: vec!["lb".into()],
        targets,
    }
}

/// Fleet `web` draining its old generation: g1 detached from web-blue and draining since 42 s
/// (delay 300 s), g2 healthy in web-blue, the listener all on web-blue, floor 4.
fn draining_fleet() -> FleetSnapshot {
    let phase = [
        ("zdd:phase", "draining_old"),
        ("zdd:phase-since", "1796239758"),
        ("zdd:floor", "4"),
    ];
    let mut g1 = with_instances(
        group("web-g1", "web", "1", &phase),
        &["i-1a", "i-1b", "i-1c", "i-1d"],
    );
    g1.target_group_arns = Vec::new();
    let mut g2 = with_instances(
        group("web-g2", "web", "2", &phase),
        &["i-2a", "i-2b", "i-2c", "i-2d"],
    );
    g2.target_group_arns = vec![BLUE.into()];
    g2.activities = vec![ActivitySnapshot {
        start: Some(NOW - 200),
        status: "Successful".into(),
        description: "Launching a new EC2 instance: i-2a".into(),
    }];
    let mut targets: Vec<TargetSnapshot> = ["i-2a", "i-2b", "i-2c", "i-2d"]
        .iter()
        .map(|id| target(id, "healthy", None))
        .collect();
    targets.extend(
        ["i-1a", "i-1b", "i-1c", "i-1d"]
            .iter()
            .map(|id| target(id, "draining", Some("Target.DeregistrationInProgress"))),
    );
    FleetSnapshot {
        name: "web".into(),
        groups: vec![g1, g2],
        target_groups: vec![target_group(BLUE, "web-blue", "300", targets)],
        listeners: vec![ListenerSnapshot {
            arn: "listener".into(),
            protocol: Some("HTTP".into()),
            port: Some(80),
            forwards: vec![(BLUE.into(), 1)],
        }],
    }
}

fn only_fleet(view: &StatusView) -> &FleetView {
    assert_eq!(view.names.len(), 1);
    assert_eq!(view.names[0].fleets.len(), 1, "{view:#?}");
    &view.names[0].fleets[0]
}

#[test]
fn a_drain_in_draining_old_ends_by_the_phase_start_plus_the_delay_clamped_at_zero() {
    let delay = TagValue::Value(300);
    let since = TagValue::Value(1000);
    assert_eq!(
        drain_left(Some("draining_old"), &since, &delay, 1042),
        DrainLeft::AtMostFromPhase { seconds: 258 }
    );
    assert_eq!(
        drain_left(Some("draining_new"), &since, &delay, 1300),
        DrainLeft::AtMostFromPhase { seconds: 0 }
    );
    assert_eq!(
        drain_left(Some("draining_old"), &since, &delay, 5000),
        DrainLeft::AtMostFromPhase { seconds: 0 },
        "long past: clamped, never negative"
    );
    // A phase start ahead of this clock (skew): never more than the delay.
    assert_eq!(
        drain_left(Some("draining_old"), &since, &delay, 900),
        DrainLeft::AtMostFromPhase { seconds: 300 }
    );
}

#[test]
fn a_drain_outside_the_draining_phases_is_bounded_by_the_delay_alone() {
    let delay = TagValue::Value(30);
    let since = TagValue::Value(1000);
    // Rolling: a batch's scale-in drains began at a moment no tag records (maybe in the
    // batch before), so the phase start bounds nothing.
    assert_eq!(
        drain_left(Some("rolling batch 3"), &since, &delay, 1029),
        DrainLeft::AtMostDelay { seconds: 30 }
    );
    assert_eq!(
        drain_left(None, &TagValue::Absent, &delay, 1029),
        DrainLeft::AtMostDelay { seconds: 30 }
    );
    let garbled = TagValue::Unreadable {
        unreadable: "yesterday".into(),
    };
    assert_eq!(
        drain_left(Some("draining_old"), &garbled, &delay, 1029),
        DrainLeft::AtMostDelay { seconds: 30 }
    );
    let bad_delay = TagValue::Unreadable {
        unreadable: "x".into(),
    };
    assert_eq!(
        drain_left(Some("draining_old"), &since, &bad_delay, 1029),
        DrainLeft::Unknown
    );
}

#[test]
fn a_fleet_mid_rollout_shows_its_generations_newest_first_with_roles_drains_and_floor() {
    let view = status(&[draining_fleet()], Some("us-east-1"), NOW);
    let fleet = only_fleet(&view);
    assert_eq!(fleet.owner.as_deref(), Some("o-team-a"));
    assert_eq!(fleet.state, StateView::Rollout { from: 1, to: 2 });
    let order: Vec<(u64, Role)> = fleet
        .generations
        .iter()
        .map(|g| (g.generation, g.role))
        .collect();
    assert_eq!(order, vec![(2, Role::New), (1, Role::Old)]);
    assert_eq!(fleet.generations[0].phase_age_seconds, Some(42));
    assert_eq!(fleet.generations[0].in_service, 4);
    let blue = &fleet.target_groups[0];
    assert_eq!(blue.deregistration_delay, TagValue::Value(300));
    let per_generation: Vec<(u64, usize, usize)> = blue
        .generations
        .iter()
        .map(|g| (g.generation, g.count("healthy"), g.count("draining")))
        .collect();
    assert_eq!(per_generation, vec![(2, 4, 0), (1, 0, 4)]);
    assert_eq!(blue.generations[0].drain, None);
    assert_eq!(
        blue.generations[1].drain,
        Some(DrainLeft::AtMostFromPhase { seconds: 258 })
    );
    assert_eq!(
        blue.generations[1]
            .reasons
            .get("Target.DeregistrationInProgress"),
        Some(&4)
    );
    assert_eq!(fleet.floor.floor, TagValue::Value(4));
    assert_eq!(fleet.floor.healthy, 4, "draining targets are not healthy");
    assert_eq!(fleet.floor.holds, Some(true));
    let listener = &fleet.listeners[0];
    assert_eq!(listener.forwards[0].percent, 100);
    assert_eq!(listener.forwards[0].generations, vec![2]);
    // One event for the phase both groups record, then the activity.
    let events: Vec<(i64, Vec<u64>, &str)> = fleet
        .events
        .iter()
        .map(|e| (e.at, e.generations.clone(), e.what.as_str()))
        .collect();
    assert_eq!(
        events,
        vec![
            (NOW - 42, vec![2, 1], "phase draining_old"),
            (
                NOW - 200,
                vec![2],
                "Launching a new EC2 instance: i-2a (Successful)"
            ),
        ]
    );
}

#[test]
fn the_text_of_a_fleet_mid_rollout_is_aligned_and_says_everything_plainly() {
    let view = status(&[draining_fleet()], Some("us-east-1"), NOW);
    let rendered = text::render(&view, false);
    let expected = "\
zdd-guard status at 2026-12-02T19:30:00Z (us-east-1)

fleet web (owner o-team-a)  rollout g1 -> g2 under way (or stopped half-way: the next apply resumes it)
  phase   draining_old, since 19:29:18 (42s ago)
  floor   4 healthy targets at least, 4 healthy and routed: holds

  GENERATION  ROLE  PHASE         SINCE    DESIRED  IN SERVICE  GROUP
  g2          new   draining_old  42s ago  4 (4-8)  4/4         web-g2
  g1          old   draining_old  42s ago  4 (4-8)  4/4         web-g1

  TARGET GROUP  DELAY  GENERATION  HEALTHY  INITIAL  UNHEALTHY  DRAINING  UNUSED  NOTES
  web-blue      300s   g2          4        0        0          0         0
                       g1          0        0        0          4         0       drained in at most 4m18s; Target.DeregistrationInProgress x4
  listener HTTP:80  web-blue 100% (g2)

  last events (newest first)
    19:29:18  g2 g1   phase draining_old
    19:26:40  g2      Launching a new EC2 instance: i-2a (Successful)
";
    assert_eq!(rendered, expected, "\n{rendered}");
    assert!(!rendered.contains('\x1b'), "no colour unless asked");
    let coloured = text::render(&view, true);
    assert!(coloured.contains('\x1b'));
    // Colour codes never shift the columns: stripped, the text is the same.
    let stripped: String = anstream::adapter::strip_str(&coloured).to_string();
    assert_eq!(stripped, expected);
}

#[test]
fn two_owners_with_one_name_are_shown_apart_and_never_merged_into_a_rollout() {
    let mine = group("web-g1", "web", "1", &[]);
    let mut theirs = group("web-g2", "web", "2", &[]);
    theirs.tags.insert("zdd:owner".into(), "o-team-b".into());
    let mut legacy = group("web-g3", "web", "3", &[]);
    legacy.tags.remove("zdd:owner");
    let snapshot = FleetSnapshot {
        name: "web".into(),
        groups: vec![mine, theirs, legacy],
        ..FleetSnapshot::default()
    };
    let view = status(&[snapshot], Some("us-east-1"), NOW);
    let name = &view.names[0];
    assert!(name.shared_by_owners);
    let fleets: Vec<(Option<&str>, &StateView)> = name
        .fleets
        .iter()
        .map(|f| (f.owner.as_deref(), &f.state))
        .collect();
    assert_eq!(
        fleets,
        vec![
            (None, &StateView::Settled { serving: 3 }),
            (Some("o-team-a"), &StateView::Settled { serving: 1 }),
            (Some("o-team-b"), &StateView::Settled { serving: 2 }),
        ]
    );
    let rendered = text::render(&view, false);
    assert!(
        rendered.contains(
            "note: 3 owners use the name web in this account: no owner id, owner o-team-a, owner o-team-b. Each fleet is shown apart."
        ),
        "{rendered}"
    );
}

#[test]
fn a_fleet_with_a_longer_name_sharing_the_prefix_is_never_shown() {
    // An endpoint that ignores the tag filter returns `web-api`'s groups too.
    let mut snapshot = draining_fleet();
    let mut api = with_instances(group("web-api-g7", "web-api", "7", &[]), &["i-api"]);
    api.target_group_arns = vec![GREEN.into()];
    snapshot.groups.push(api);
    snapshot.target_groups.push(target_group(
        GREEN,
        "web-green",
        "300",
        vec![target("i-api", "healthy", None)],
    ));
    let view = status(&[snapshot], Some("us-east-1"), NOW);
    let fleet = only_fleet(&view);
    let generations: Vec<u64> = fleet.generations.iter().map(|g| g.generation).collect();
    assert_eq!(generations, vec![2, 1]);
    assert!(fleet.target_groups.iter().all(|tg| tg.name != "web-green"));
    assert_eq!(
        fleet.floor.healthy, 4,
        "web-api's healthy target is not web's"
    );
}

#[test]
fn garbled_tags_and_attributes_are_shown_as_they_are_without_a_panic() {
    let mut snapshot = draining_fleet();
    for group in &mut snapshot.groups {
        group.tags.insert("zdd:phase-since".into(), "soon".into());
        group.tags.insert("zdd:floor".into(), "-1".into());
        group.tags.insert(
            "zdd:phase".into(),
            "\u{1b}[31mweird phase \u{202E}evil".into(),
        );
    }
    snapshot
        .groups
        .push(group("web-gx", "web", "not-a-number", &[]));
    snapshot.target_groups[0].deregistration_delay = Some("forever".into());
    snapshot.target_groups[0]
        .targets
        .push(target("i-2a", "", None));
    let view = status(&[snapshot], Some("us-east-1"), NOW);
    let fleet = only_fleet(&view);
    assert_eq!(
        fleet.floor.floor,
        TagValue::Unreadable {
            unreadable: "-1".into()
        }
    );
    assert_eq!(fleet.floor.holds, None);
    assert_eq!(fleet.unreadable_groups.len(), 1);
    assert_eq!(fleet.unreadable_groups[0].group, "web-gx");
    assert_eq!(fleet.generations[0].phase_age_seconds, None);
    assert_eq!(
        fleet.target_groups[0].generations[1].drain,
        Some(DrainLeft::Unknown)
    );
    let rendered = text::render(&view, false);
    for shown in [
        "unreadable (zdd:floor = \"-1\")",
        "zdd:phase-since = \"soon\"",
        "group web-gx is tagged with this fleet but its zdd:generation is unreadable: \"not-a-number\"",
        "\"forever\"?",
        "drain end unknown",
        "unknown 1",
        "\\u{1b}[31mweird phase",
        // A right-to-left override would reorder the rest of the line on a terminal.
        "weird phase \\u{202e}evil",
    ] {
        assert!(rendered.contains(shown), "{shown:?} missing:\n{rendered}");
    }
    assert!(
        !rendered.contains('\x1b') && !rendered.contains('\u{202E}'),
        "a tag value reached the terminal raw"
    );
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(
        json["names"][0]["fleets"][0]["floor"]["floor"],
        serde_json::json!({"unreadable": "-1"})
    );
}

#[test]
fn weights_are_shares_of_the_listener_in_whole_percent() {
    assert_eq!(percent(3, 4), 75);
    assert_eq!(percent(1, 4), 25);
    assert_eq!(percent(1, 3), 33);
    assert_eq!(percent(2, 3), 67);
    assert_eq!(percent(0, 0), 0);
    assert_eq!(percent(999, 1000), 100);
    assert_eq!(percent(i64::MAX, i64::MAX), 100);
}

#[test]
fn a_canary_split_shows_each_group_and_the_floor_counts_only_routed_targets() {
    let mut snapshot = draining_fleet();
    for group in &mut snapshot.groups {
        group
            .tags
            .insert("zdd:phase".into(), "canary_step 1/2 25%".into());
        group.tags.insert("zdd:floor".into(), "5".into());
    }
    snapshot.groups[0].target_group_arns = vec![BLUE.into()];
    snapshot.groups[1].target_group_arns = vec![GREEN.into()];
    snapshot.target_groups = vec![
        target_group(
            BLUE,
            "web-blue",
            "300",
            ["i-1a", "i-1b", "i-1c"]
                .iter()
                .map(|id| target(id, "healthy", None))
                .chain([target("i-1d", "unhealthy", Some("Target.Timeout"))])
                .collect(),
        ),
        target_group(
            GREEN,
            "web-green",
            "300",
            vec![
                target("i-2a", "healthy", None),
                target("i-2b", "initial", Some("Elb.RegistrationInProgress")),
            ],
        ),
    ];
    snapshot.listeners[0].forwards = vec![(BLUE.into(), 3), (GREEN.into(), 1)];
    let view = status(&[snapshot.clone()], Some("us-east-1"), NOW);
    let fleet = only_fleet(&view);
    let shares: Vec<(&str, u32, Vec<u64>)> = fleet.listeners[0]
        .forwards
        .iter()
        .map(|f| (f.target_group.as_str(), f.percent, f.generations.clone()))
        .collect();
    assert_eq!(
        shares,
        vec![("web-blue", 75, vec![1]), ("web-green", 25, vec![2])]
    );
    assert_eq!(fleet.floor.healthy, 4);
    assert_eq!(fleet.floor.holds, Some(false));
    let rendered = text::render(&view, false);
    assert!(rendered.contains("BELOW THE FLOOR"), "{rendered}");
    assert!(
        rendered.contains("web-blue 75% (g1) · web-green 25% (g2)"),
        "{rendered}"
    );
    assert!(rendered.contains("Target.Timeout x1"), "{rendered}");

    // A group the listener gives no weight: its healthy targets serve nothing.
    snapshot.listeners[0].forwards = vec![(BLUE.into(), 1), (GREEN.into(), 0)];
    let view = status(&[snapshot], Some("us-east-1"), NOW);
    assert_eq!(only_fleet(&view).floor.healthy, 3);
}

#[test]
fn a_rollback_under_way_and_a_kept_failed_generation_have_their_roles() {
    let snapshot = FleetSnapshot {
        name: "web".into(),
        groups: vec![
            group("web-g4", "web", "4", &[]),
            group("web-g5", "web", "5", &[("zdd:rolled-back", "unhealthy")]),
            group(
                "web-g6",
                "web",
                "6",
                &[("zdd:rollback", "alarm web-5xx in ALARM")],
            ),
        ],
        ..FleetSnapshot::default()
    };
    let view = status(&[snapshot], Some("us-east-1"), NOW);
    let fleet = only_fleet(&view);
    let roles: Vec<(u64, Role)> = fleet
        .generations
        .iter()
        .map(|g| (g.generation, g.role))
        .collect();
    assert_eq!(
        roles,
        vec![
            (6, Role::RollingBack),
            (5, Role::KeptFailed),
            (4, Role::Serving)
        ]
    );
    let rendered = text::render(&view, false);
    assert!(
        rendered.contains("rolling back g6 to g4: alarm web-5xx in ALARM"),
        "{rendered}"
    );
    assert!(rendered.contains("web-g6 (rollback: alarm web-5xx in ALARM)"));
}

#[test]
fn a_name_without_groups_says_so_and_is_listed_as_missing() {
    let view = status(
        &[
            draining_fleet(),
            FleetSnapshot {
                name: "ghost".into(),
                ..FleetSnapshot::default()
            },
        ],
        Some("eu-west-1"),
        NOW,
    );
    assert_eq!(view.missing(), vec!["ghost"]);
    assert!(view.names[1].fleets.is_empty());
    let rendered = text::render(&view, false);
    assert!(
        rendered
            .contains("ghost: no Auto Scaling group is tagged zdd:rollout = ghost in eu-west-1"),
        "{rendered}"
    );
}

#[test]
fn the_json_document_carries_its_schema_version_and_absent_values_as_null() {
    let mut snapshot = draining_fleet();
    for group in &mut snapshot.groups {
        group.tags.remove("zdd:floor");
    }
    let view = status(&[snapshot], Some("us-east-1"), NOW);
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["schema_version"], SCHEMA_VERSION);
    assert_eq!(json["at"], NOW);
    let fleet = &json["names"][0]["fleets"][0];
    assert_eq!(fleet["floor"]["floor"], serde_json::Value::Null);
    assert_eq!(fleet["floor"]["holds"], serde_json::Value::Null);
    assert_eq!(
        fleet["state"],
        serde_json::json!({"kind": "rollout", "from": 1, "to": 2})
    );
    assert_eq!(fleet["generations"][0]["role"], "new");
    assert_eq!(fleet["generations"][0]["phase_since"], NOW - 42);
    assert_eq!(
        fleet["target_groups"][0]["generations"][1]["drain"],
        serde_json::json!({"kind": "at_most_from_phase", "seconds": 258})
    );
    let rendered = text::render(&view, false);
    assert!(rendered.contains("floor   unknown (no zdd:floor tag), 4 healthy and routed"));
}

#[test]
fn the_floor_holds_only_when_every_routed_target_group_meets_it() {
    // Two listeners, each on its own target group (web-http, web-grpc): the engine keeps the
    // floor behind each one, so 4 healthy in web-http cannot make up for 1 in web-grpc.
    let mut snapshot = draining_fleet();
    let ids = ["i-2a", "i-2b", "i-2c", "i-2d"];
    snapshot.groups[1].target_group_arns = vec![BLUE.into(), GREEN.into()];
    snapshot.target_groups = vec![
        target_group(
            BLUE,
            "web-http",
            "300",
            ids.iter().map(|id| target(id, "healthy", None)).collect(),
        ),
        target_group(
            GREEN,
            "web-grpc",
            "300",
            ids.iter()
                .enumerate()
                .map(|(i, id)| {
                    if i == 0 {
                        target(id, "healthy", None)
                    } else {
                        target(id, "unhealthy", Some("Target.Timeout"))
                    }
                })
                .collect(),
        ),
    ];
    snapshot.listeners = vec![
        ListenerSnapshot {
            arn: "listener-http".into(),
            protocol: Some("HTTP".into()),
            port: Some(80),
            forwards: vec![(BLUE.into(), 1)],
        },
        ListenerSnapshot {
            arn: "listener-grpc".into(),
            protocol: Some("HTTP".into()),
            port: Some(50051),
            forwards: vec![(GREEN.into(), 1)],
        },
    ];
    let view = status(&[snapshot.clone()], Some("us-east-1"), NOW);
    let fleet = only_fleet(&view);
    assert_eq!(fleet.floor.floor, TagValue::Value(4));
    assert_eq!(fleet.floor.healthy, 1, "the worst target group's count");
    assert_eq!(fleet.floor.holds, Some(false));
    let behind: Vec<(Vec<&str>, usize)> = fleet
        .floor
        .behind
        .iter()
        .map(|b| {
            (
                b.target_groups.iter().map(String::as_str).collect(),
                b.healthy,
            )
        })
        .collect();
    assert_eq!(
        behind,
        vec![(vec!["web-grpc"], 1), (vec!["web-http"], 4)],
        "worst first"
    );
    let rendered = text::render(&view, false);
    assert!(
        rendered.contains("1 healthy and routed to web-grpc (web-http: 4): BELOW THE FLOOR"),
        "{rendered}"
    );

    // A target group no listener routes to counts on its own (its routing is unknown).
    snapshot.listeners.truncate(1);
    let view = status(&[snapshot.clone()], Some("us-east-1"), NOW);
    assert_eq!(only_fleet(&view).floor.holds, Some(false));
    assert_eq!(only_fleet(&view).floor.healthy, 1);

    // A target group the listener gives no weight protects nothing.
    snapshot.listeners[0].forwards = vec![(BLUE.into(), 1), (GREEN.into(), 0)];
    let view = status(&[snapshot], Some("us-east-1"), NOW);
    assert_eq!(only_fleet(&view).floor.healthy, 4);
    assert_eq!(only_fleet(&view).floor.holds, Some(true));
}
