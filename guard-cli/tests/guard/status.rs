//! `zdd-guard status` against the local AWS: a fleet mid-rollout built by hand (two
//! generations, the old one draining, phase tags as the provider writes them, a weighted
//! listener), next to a fleet whose name shares the prefix and another owner's fleet with the
//! same name; more groups than one DescribeAutoScalingGroups page; a name with no group; an
//! AWS refusal; `--watch` printing again when AWS changes and ending on Ctrl-C.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, Tag};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetGroupAttribute, TargetGroupTuple,
};
use serde_json::Value;
use zdd_test_support::{
    FaultRule, Fixture, Signal, local_aws, output_text, signal, wait_with_timeout,
};

/// A drain long enough to outlast the test at the local AWS's time scale (600 AWS seconds).
const DEREGISTRATION_DELAY: &str = "600";
const LIMIT: Duration = Duration::from_secs(60);

fn guard(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zdd-guard"));
    command
        .args(args)
        .envs(local_aws().env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn run(args: &[&str]) -> Output {
    wait_with_timeout(guard(args).spawn().unwrap(), LIMIT).unwrap()
}

fn unix_now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn tag(group: &str, key: &str, value: &str) -> Tag {
    Tag::builder()
        .resource_id(group)
        .resource_type("auto-scaling-group")
        .key(key)
        .value(value)
        .propagate_at_launch(false)
        .build()
}

/// Creates group `name` with `tags`, `desired` instances, attached to `target_groups`.
async fn create_group(
    autoscaling: &aws_sdk_autoscaling::Client,
    fixture: &Fixture,
    name: &str,
    desired: i32,
    target_groups: &[&str],
    tags: &[(&str, &str)],
) {
    autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .min_size(0)
        .max_size(4)
        .desired_capacity(desired)
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_id(&fixture.launch_template_id)
                .version(&fixture.launch_template_versions[0])
                .build(),
        )
        .vpc_zone_identifier(fixture.subnet_ids.join(","))
        .set_target_group_arns(Some(target_groups.iter().map(|s| s.to_string()).collect()))
        .set_tags(Some(tags.iter().map(|(k, v)| tag(name, k, v)).collect()))
        .send()
        .await
        .unwrap();
}

async fn instance_ids(autoscaling: &aws_sdk_autoscaling::Client, group: &str) -> Vec<String> {
    let output = autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .unwrap();
    output.auto_scaling_groups()[0]
        .instances()
        .iter()
        .map(|i| i.instance_id().unwrap().to_string())
        .collect()
}

/// Waits until every one of `ids` reads `state` in `target_group`.
async fn wait_for_targets(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    target_group: &str,
    ids: &[String],
    state: &str,
) {
    let start = Instant::now();
    loop {
        let health = elbv2
            .describe_target_health()
            .target_group_arn(target_group)
            .send()
            .await
            .unwrap();
        let matching = health
            .target_health_descriptions()
            .iter()
            .filter(|d| {
                ids.iter()
                    .any(|id| Some(id.as_str()) == d.target().and_then(|t| t.id()))
                    && d.target_health()
                        .and_then(|h| h.state())
                        .map(|s| s.as_str())
                        == Some(state)
            })
            .count();
        if matching == ids.len() {
            return;
        }
        assert!(
            start.elapsed() < LIMIT,
            "targets {ids:?} never read {state}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Fleet `web` of owner `o-status` draining g1 (detached from blue 42 s ago by its tags) with
/// g2 healthy in blue and green, the listener 3:1 blue:green; fleet `web-api` and owner
/// `o-other`'s `web` beside it.
async fn mid_rollout_fleet() -> Fixture {
    let cfg = local_aws().sdk_config().await;
    let fixture = Fixture::create(&cfg, "status").await.unwrap();
    let autoscaling = aws_sdk_autoscaling::Client::new(&cfg);
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&cfg);
    let blue = fixture.blue_target_group_arn().to_string();
    let green = fixture.green_target_group_arn().to_string();
    for tg in [&blue, &green] {
        elbv2
            .modify_target_group_attributes()
            .target_group_arn(tg)
            .attributes(
                TargetGroupAttribute::builder()
                    .key("deregistration_delay.timeout_seconds")
                    .value(DEREGISTRATION_DELAY)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let since = (unix_now() - 42).to_string();
    let phase = |generation: &'static str| -> Vec<(&'static str, String)> {
        vec![
            ("zdd:rollout", "web".into()),
            ("zdd:generation", generation.into()),
            ("zdd:owner", "o-status".into()),
            ("zdd:phase", "draining_old".into()),
            ("zdd:phase-since", since.clone()),
            ("zdd:floor", "2".into()),
        ]
    };
    let g1 = phase("1");
    let g1: Vec<(&str, &str)> = g1.iter().map(|(k, v)| (*k, v.as_str())).collect();
    create_group(&autoscaling, &fixture, "web-g1", 2, &[&blue], &g1).await;
    let g2 = phase("2");
    let g2: Vec<(&str, &str)> = g2.iter().map(|(k, v)| (*k, v.as_str())).collect();
    create_group(&autoscaling, &fixture, "web-g2", 2, &[&blue, &green], &g2).await;
    let old = instance_ids(&autoscaling, "web-g1").await;
    let new = instance_ids(&autoscaling, "web-g2").await;
    wait_for_targets(&elbv2, &blue, &old, "healthy").await;
    wait_for_targets(&elbv2, &blue, &new, "healthy").await;
    autoscaling
        .detach_load_balancer_target_groups()
        .auto_scaling_group_name("web-g1")
        .target_group_arns(&blue)
        .send()
        .await
        .unwrap();
    wait_for_targets(&elbv2, &blue, &old, "draining").await;
    elbv2
        .modify_listener()
        .listener_arn(&fixture.listener_arn)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .forward_config(
                    ForwardActionConfig::builder()
                        .target_groups(
                            TargetGroupTuple::builder()
                                .target_group_arn(&blue)
                                .weight(3)
                                .build(),
                        )
                        .target_groups(
                            TargetGroupTuple::builder()
                                .target_group_arn(&green)
                                .weight(1)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    // A fleet whose name starts with `web`, and another team's `web` in the same account.
    create_group(
        &autoscaling,
        &fixture,
        "web-api-g1",
        1,
        &[&blue],
        &[
            ("zdd:rollout", "web-api"),
            ("zdd:generation", "1"),
            ("zdd:owner", "o-status"),
        ],
    )
    .await;
    create_group(
        &autoscaling,
        &fixture,
        "web-g5",
        0,
        &[],
        &[
            ("zdd:rollout", "web"),
            ("zdd:generation", "5"),
            ("zdd:owner", "o-other"),
        ],
    )
    .await;
    fixture
}

fn json_of(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "one JSON document per look:\n{}",
        output_text(output)
    );
    serde_json::from_str(lines[0]).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn status_shows_a_fleet_mid_rollout_from_aws_alone_and_keeps_owners_and_names_apart() {
    let fixture = mid_rollout_fleet().await;

    let output = run(&["status", "web", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    let json = json_of(&output);
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["region"], "us-east-1");
    let name = &json["names"][0];
    assert_eq!(name["found"], true);
    assert_eq!(name["shared_by_owners"], true, "{name:#}");
    let fleets = name["fleets"].as_array().unwrap();
    let owners: Vec<&str> = fleets
        .iter()
        .map(|f| f["owner"].as_str().unwrap())
        .collect();
    assert_eq!(owners, vec!["o-other", "o-status"]);
    assert_eq!(
        fleets[0]["state"],
        serde_json::json!({"kind": "settled", "serving": 5})
    );
    let fleet = &fleets[1];
    assert_eq!(
        fleet["state"],
        serde_json::json!({"kind": "rollout", "from": 1, "to": 2})
    );
    let groups: Vec<(&str, &str)> = fleet["generations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["group"].as_str().unwrap(), g["role"].as_str().unwrap()))
        .collect();
    assert_eq!(groups, vec![("web-g2", "new"), ("web-g1", "old")]);
    let target_groups = fleet["target_groups"].as_array().unwrap();
    let blue = target_groups
        .iter()
        .find(|tg| tg["arn"] == fixture.blue_target_group_arn())
        .unwrap();
    assert_eq!(blue["deregistration_delay"], 600);
    let g2 = &blue["generations"][0];
    let g1 = &blue["generations"][1];
    assert_eq!(
        (g2["generation"].as_u64(), g2["states"]["healthy"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        (g1["generation"].as_u64(), g1["states"]["draining"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(g1["drain"]["kind"], "at_most_from_phase", "{g1:#}");
    let left = g1["drain"]["seconds"].as_u64().unwrap();
    assert!(
        (1..=558).contains(&left),
        "600 s delay, phase began 42 s ago: {left}"
    );
    let percents: Vec<(String, u64)> = fleet["listeners"][0]["forwards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["target_group_arn"].as_str().unwrap().to_string(),
                f["percent"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        percents,
        vec![
            (fixture.blue_target_group_arn().to_string(), 75),
            (fixture.green_target_group_arn().to_string(), 25)
        ]
    );
    // g2's two instances are healthy in routed groups; web-api's instance in blue is not web's.
    // The 3:1 listener's two groups are one stream of traffic.
    assert_eq!(
        fleet["floor"],
        serde_json::json!({
            "floor": 2,
            "healthy": 2,
            "behind": [{"target_groups": fixture.target_group_names, "healthy": 2}],
            "holds": true
        })
    );
    let everything = json.to_string();
    assert!(
        !everything.contains("web-api-g1"),
        "web-api shown under web: {everything}"
    );

    let output = run(&["status", "web"]);
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    eprintln!("{text}");
    for shown in [
        "note: 2 owners use the name web in this account: owner o-other, owner o-status",
        "fleet web (owner o-status)  rollout g1 -> g2 under way",
        "floor   2 healthy targets at least, 2 healthy and routed: holds",
        "drained in at most",
        "75% (g2) · ",
        "25% (g2)",
    ] {
        assert!(text.contains(shown), "{shown:?} missing:\n{text}");
    }
    assert!(!text.contains("web-api"), "{text}");
    assert!(
        !text.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn status_reads_every_page_of_groups() {
    let cfg = local_aws().sdk_config().await;
    let fixture = Fixture::create(&cfg, "status-paged").await.unwrap();
    let autoscaling = aws_sdk_autoscaling::Client::new(&cfg);
    // The guard asks for 100 groups a page (AWS's maximum, which moto honours).
    let generations = 103u64;
    for generation in 1..=generations {
        let name = format!("paged-g{generation}");
        let generation = generation.to_string();
        create_group(
            &autoscaling,
            &fixture,
            &name,
            0,
            &[],
            &[
                ("zdd:rollout", "paged"),
                ("zdd:generation", &generation),
                ("zdd:owner", "o-paged"),
            ],
        )
        .await;
    }
    let output = run(&["status", "paged", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    let json = json_of(&output);
    let fleet = &json["names"][0]["fleets"][0];
    assert_eq!(fleet["generations"].as_array().unwrap().len(), 103);
    assert_eq!(fleet["generations"][0]["generation"], 103, "newest first");
    // FleetReading reads the two newest live generations as the rollout.
    assert_eq!(
        fleet["state"],
        serde_json::json!({"kind": "rollout", "from": 102, "to": 103})
    );
}

#[test]
fn a_name_without_groups_is_said_and_exits_6_after_showing_the_others() {
    let output = run(&["status", "status-no-such-fleet"]);
    assert_eq!(output.status.code(), Some(6), "{}", output_text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(
            "status-no-such-fleet: no Auto Scaling group is tagged zdd:rollout = status-no-such-fleet in us-east-1"
        ),
        "{}",
        output_text(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("status-no-such-fleet"), "{stderr}");

    let output = run(&["status", "status-no-such-fleet", "--json"]);
    assert_eq!(output.status.code(), Some(6), "{}", output_text(&output));
    let json = json_of(&output);
    assert_eq!(json["names"][0]["found"], false);
}

/// A local server answering every request with AccessDenied, as AWS does to a role without
/// `autoscaling:DescribeAutoScalingGroups`.
fn refusing_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let answer = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>\
                <Message>User: arn:aws:iam::1:user/ci is not authorized to perform: \
                autoscaling:DescribeAutoScalingGroups</Message></Error>\
                <RequestId>r-1</RequestId></ErrorResponse>";
            let _ = write!(
                stream,
                "HTTP/1.1 403 Forbidden\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    format!("http://{address}")
}

#[test]
fn an_aws_refusal_is_a_readable_message_and_exit_6() {
    let endpoint = refusing_server();
    // The service's own variable outranks AWS_ENDPOINT_URL (the local AWS), as the SDK says.
    let output = wait_with_timeout(
        guard(&["status", "web"])
            .env("AWS_ENDPOINT_URL_AUTO_SCALING", &endpoint)
            .spawn()
            .unwrap(),
        LIMIT,
    )
    .unwrap();
    assert_eq!(output.status.code(), Some(6), "{}", output_text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for shown in [
        "DescribeAutoScalingGroups",
        "AccessDenied",
        "not authorized",
    ] {
        assert!(stderr.contains(shown), "{shown:?} missing: {stderr}");
    }
    assert!(
        output.stdout.is_empty(),
        "nothing half-shown: {}",
        output_text(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_prints_again_when_aws_changes_and_ends_with_0_on_ctrl_c() {
    let cfg = local_aws().sdk_config().await;
    let fixture = Fixture::create(&cfg, "status-watch").await.unwrap();
    let autoscaling = aws_sdk_autoscaling::Client::new(&cfg);
    create_group(
        &autoscaling,
        &fixture,
        "watched-g1",
        0,
        &[],
        &[
            ("zdd:rollout", "watched"),
            ("zdd:generation", "1"),
            ("zdd:phase", "complete"),
        ],
    )
    .await;
    let mut child = guard(&["status", "watched", "--watch", "--interval", "1s", "--json"])
        .spawn()
        .unwrap();
    let (lines, receiver) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let first: Value = serde_json::from_str(&receiver.recv_timeout(LIMIT).unwrap()).unwrap();
    let phase = |look: &Value| look["names"][0]["fleets"][0]["generations"][0]["phase"].clone();
    assert_eq!(phase(&first), "complete");
    autoscaling
        .create_or_update_tags()
        .tags(tag("watched-g1", "zdd:phase", "rolled_back"))
        .send()
        .await
        .unwrap();
    let second: Value = serde_json::from_str(&receiver.recv_timeout(LIMIT).unwrap()).unwrap();
    assert_eq!(
        phase(&second),
        "rolled_back",
        "the look after the change shows it"
    );
    signal(child.id(), Signal::INT).unwrap();
    let output = wait_with_timeout(child, LIMIT).unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_text_in_a_log_separates_looks_with_a_time_line_and_no_cursor_codes() {
    let cfg = local_aws().sdk_config().await;
    let fixture = Fixture::create(&cfg, "status-watch-text").await.unwrap();
    let autoscaling = aws_sdk_autoscaling::Client::new(&cfg);
    create_group(
        &autoscaling,
        &fixture,
        "watched-text-g1",
        0,
        &[],
        &[
            ("zdd:rollout", "watched-text"),
            ("zdd:generation", "1"),
            ("zdd:phase", "complete"),
        ],
    )
    .await;
    let mut child = guard(&["status", "watched-text", "--watch", "--interval", "1s"])
        .spawn()
        .unwrap();
    let (lines, receiver) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut text = String::new();
    let wait_for = |needle: &str, text: &mut String| {
        while !text.contains(needle) {
            let line = receiver
                .recv_timeout(LIMIT)
                .unwrap_or_else(|_| panic!("{needle:?} never printed:\n{text}"));
            text.push_str(&line);
            text.push('\n');
        }
    };
    wait_for("serving  complete", &mut text);
    autoscaling
        .create_or_update_tags()
        .tags(tag("watched-text-g1", "zdd:phase", "rolled_back"))
        .send()
        .await
        .unwrap();
    wait_for("serving  rolled_back", &mut text);
    signal(child.id(), Signal::INT).unwrap();
    let output = wait_with_timeout(child, LIMIT).unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    let separators = text
        .lines()
        .filter(|line| line.starts_with("──── "))
        .count();
    assert_eq!(separators, 1, "one look changed after the first:\n{text}");
    assert!(!text.contains('\x1b'), "no escape codes in a log:\n{text}");
}

#[test]
fn an_unreachable_aws_is_a_readable_message_and_exit_6() {
    // A loopback port nobody listens on (bound, then freed).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = wait_with_timeout(
        guard(&["status", "web"])
            .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
            .spawn()
            .unwrap(),
        LIMIT,
    )
    .unwrap();
    assert_eq!(output.status.code(), Some(6), "{}", output_text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("DescribeAutoScalingGroups") && stderr.contains("Connection refused"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("DispatchFailure("),
        "no Debug dump: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_outlasts_an_aws_error_says_it_once_and_prints_again_after() {
    let cfg = local_aws().sdk_config().await;
    let fixture = Fixture::create(&cfg, "status-watch-fault").await.unwrap();
    let autoscaling = aws_sdk_autoscaling::Client::new(&cfg);
    create_group(
        &autoscaling,
        &fixture,
        "watched-fault-g1",
        0,
        &[],
        &[
            ("zdd:rollout", "watched-fault"),
            ("zdd:generation", "1"),
            ("zdd:phase", "complete"),
        ],
    )
    .await;
    // The first look answers; the next two are refused (as throttling past the retries would
    // be), then AWS answers again.
    let rule = local_aws()
        .add_fault_rule(
            &FaultRule::error("autoscaling", "AccessDenied", 403)
                .action("DescribeAutoScalingGroups")
                .matching("watched-fault")
                .skip(1)
                .count(2),
        )
        .unwrap();
    let mut child = guard(&[
        "status",
        "watched-fault",
        "--watch",
        "--interval",
        "1s",
        "--json",
    ])
    .spawn()
    .unwrap();
    let (lines, receiver) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let phase = |line: String| -> Value {
        let look: Value = serde_json::from_str(&line).unwrap();
        look["names"][0]["fleets"][0]["generations"][0]["phase"].clone()
    };
    assert_eq!(phase(receiver.recv_timeout(LIMIT).unwrap()), "complete");
    let after = receiver.recv_timeout(LIMIT);
    local_aws().clear_faults(Some(&rule)).unwrap();
    assert_eq!(
        phase(after.expect("a look after the refusals is printed")),
        "complete"
    );
    signal(child.id(), Signal::INT).unwrap();
    let output = wait_with_timeout(child, LIMIT).unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.matches("AccessDenied").count(),
        1,
        "the refusal is said once while it repeats:\n{stderr}"
    );
    assert!(stderr.contains("DescribeAutoScalingGroups"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_or_target_group_deleted_mid_look_reads_as_gone_not_as_an_error() {
    let cfg = local_aws().sdk_config().await;
    let fixture = Fixture::create(&cfg, "status-gone").await.unwrap();
    let autoscaling = aws_sdk_autoscaling::Client::new(&cfg);
    let blue = fixture.blue_target_group_arn().to_string();
    let green = fixture.green_target_group_arn().to_string();
    let generation = |generation: &'static str| {
        vec![
            ("zdd:rollout", "vanishing"),
            ("zdd:generation", generation),
            ("zdd:phase", "draining_old"),
        ]
    };
    create_group(
        &autoscaling,
        &fixture,
        "vanishing-g1",
        0,
        &[&blue],
        &generation("1"),
    )
    .await;
    create_group(
        &autoscaling,
        &fixture,
        "vanishing-g2",
        0,
        &[&blue, &green],
        &generation("2"),
    )
    .await;
    let green_name = &fixture.target_group_names[1];
    let shown = |output: &Output| -> (Vec<String>, Vec<String>) {
        assert_eq!(output.status.code(), Some(0), "{}", output_text(output));
        let json = json_of(output);
        let fleet = &json["names"][0]["fleets"][0];
        let names = |list: &Value, key: &str| -> Vec<String> {
            list.as_array()
                .unwrap()
                .iter()
                .map(|item| item[key].as_str().unwrap().to_string())
                .collect()
        };
        (
            names(&fleet["generations"], "group"),
            names(&fleet["target_groups"], "name"),
        )
    };
    // As AWS answers once g1 and web-green are deleted between the listing and the reads after.
    let gone = [
        FaultRule::error("autoscaling", "ValidationError", 400)
            .action("DescribeScalingActivities")
            .matching("vanishing-g1"),
        FaultRule::error("elasticloadbalancing", "TargetGroupNotFound", 400)
            .action("DescribeTargetGroups")
            .matching(green_name),
    ];
    let rules: Vec<String> = gone
        .iter()
        .map(|rule| local_aws().add_fault_rule(rule).unwrap())
        .collect();
    let output = run(&["status", "vanishing", "--json"]);
    for rule in &rules {
        local_aws().clear_faults(Some(rule)).unwrap();
    }
    let blue_name = fixture.target_group_names[0].clone();
    assert_eq!(
        shown(&output),
        (vec!["vanishing-g2".to_string()], vec![blue_name.clone()]),
        "g1 and web-green left out, g2 and web-blue read"
    );

    // Gone between DescribeTargetGroups and DescribeTargetHealth.
    let rule = local_aws()
        .add_fault_rule(
            &FaultRule::error("elasticloadbalancing", "TargetGroupNotFound", 400)
                .action("DescribeTargetHealth")
                .matching(green_name),
        )
        .unwrap();
    let output = run(&["status", "vanishing", "--json"]);
    local_aws().clear_faults(Some(&rule)).unwrap();
    assert_eq!(
        shown(&output).1,
        vec![blue_name],
        "web-green left out, web-blue read"
    );

    // Any other refusal is still an error.
    let rule = local_aws()
        .add_fault_rule(
            &FaultRule::error("elasticloadbalancing", "AccessDenied", 403)
                .action("DescribeTargetHealth")
                .matching(green_name),
        )
        .unwrap();
    let output = run(&["status", "vanishing", "--json"]);
    local_aws().clear_faults(Some(&rule)).unwrap();
    assert_eq!(output.status.code(), Some(6), "{}", output_text(&output));
    assert!(
        output_text(&output).contains("DescribeTargetHealth"),
        "{}",
        output_text(&output)
    );
}
