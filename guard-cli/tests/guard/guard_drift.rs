//! `zdd-guard drift` and `run --verify-drift` end to end: a `zdd_rollout` (our provider, whose
//! Read reconstructs the fleet from AWS) applied through the S3 backend with DynamoDB locking on
//! the local AWS, then its Auto Scaling group scaled by hand. That is real drift.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::guard_support::{Bed, Locking, text};
use zdd_test_support::{Fixture, local_aws, provider_binary};

const ADDRESS: &str = "zdd_rollout.this";

/// A `zdd_rollout.this` over the fixture; the provider reaches the local AWS via AWS_ENDPOINT_URL.
fn rollout_config(name: &str, fixture: &Fixture) -> String {
    let list = |items: &[String]| {
        items
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        r#"terraform {{
  required_providers {{
    zdd = {{ source = "zdd/zdd" }}
  }}
}}

provider "zdd" {{}}

resource "zdd_rollout" "this" {{
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
        version = fixture.launch_template_versions[0],
        subnets = list(&fixture.subnet_ids),
        target_group = fixture.blue_target_group_arn(),
    )
}

struct RolloutBed {
    bed: Bed,
    group: String,
    autoscaling: aws_sdk_autoscaling::Client,
}

async fn rollout_bed(name: &str) -> RolloutBed {
    assert!(
        provider_binary().exists(),
        "{} is missing: run `cargo build -p terraform-provider-zdd` first",
        provider_binary().display()
    );
    let sdk = local_aws().sdk_config().await;
    let fixture = Fixture::create(&sdk, name).await.unwrap();
    let bed = Bed::new(name, Locking::DynamoDb, &rollout_config(name, &fixture)).await;
    RolloutBed {
        bed,
        group: format!("{name}-g1"),
        autoscaling: aws_sdk_autoscaling::Client::new(&sdk),
    }
}

impl RolloutBed {
    /// `zdd-guard <args>` with the provider polling fast (the local AWS runs 20x faster).
    fn guard(&self, args: &[&str]) -> std::process::Output {
        self.bed
            .guard(args)
            .env("ZDD_MAX_POLL_INTERVAL", "250ms")
            .output()
            .unwrap()
    }

    async fn scale_by_hand(&self, desired: i32) {
        self.autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(&self.group)
            .desired_capacity(desired)
            .send()
            .await
            .unwrap();
    }

    async fn desired_capacity(&self) -> Option<i32> {
        self.autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&self.group)
            .send()
            .await
            .unwrap()
            .auto_scaling_groups()
            .first()
            .and_then(|g| g.desired_capacity())
    }
}

/// The JSON line of `event` in `--json` output.
fn json_event(stdout: &[u8], event: &str) -> serde_json::Value {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["event"] == event)
        .unwrap_or_else(|| panic!("no {event} event in:\n{}", String::from_utf8_lossy(stdout)))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollout_scaled_by_hand_is_drift_exit_5_and_a_guarded_apply_converges_it() {
    let rb = rollout_bed("gdrift-scale").await;
    let applied = rb.guard(&[
        "run",
        "--verify-drift",
        "--",
        "apply",
        "-auto-approve",
        "-no-color",
    ]);
    let all = text(&applied);
    assert_eq!(applied.status.code(), Some(0), "{all}");
    assert!(all.contains("no drift after apply"), "{all}");
    assert_eq!(rb.desired_capacity().await, Some(2));

    let clean = rb.guard(&["drift"]);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));

    rb.scale_by_hand(3).await;

    let drifted = rb.guard(&["drift"]);
    let all = text(&drifted);
    assert_eq!(drifted.status.code(), Some(5), "{all}");
    assert!(all.contains("1 resource(s) drifted"), "{all}");
    assert!(all.contains(&format!("~ {ADDRESS}")), "{all}");
    assert!(all.contains("desired_capacity"), "{all}");

    let as_json = rb.guard(&["drift", "--json"]);
    assert_eq!(as_json.status.code(), Some(5), "{}", text(&as_json));
    let line = json_event(&as_json.stdout, "drift");
    assert_eq!(line["level"], "warning", "{line}");
    let drift = line["data"]["drift"].as_array().unwrap();
    assert_eq!(drift.len(), 1, "{line}");
    assert_eq!(drift[0]["address"], ADDRESS, "{line}");
    assert_eq!(drift[0]["action"], "update", "{line}");
    let desired = drift[0]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "desired_capacity")
        .unwrap_or_else(|| panic!("no desired_capacity attribute: {line}"));
    assert_eq!(desired["before"], 2, "{line}");
    assert_eq!(desired["after"], 3, "{line}");

    // An apply that does not refresh leaves the drift in place: --verify-drift finds it (exit 5)
    // after terraform itself succeeded, and nothing is left held.
    let unrefreshed = rb.guard(&[
        "run",
        "--verify-drift",
        "--",
        "apply",
        "-auto-approve",
        "-refresh=false",
        "-no-color",
    ]);
    let all = text(&unrefreshed);
    assert_eq!(unrefreshed.status.code(), Some(5), "{all}");
    assert!(
        all.contains("plan -refresh-only found drift right after apply"),
        "{all}"
    );
    assert_eq!(rb.desired_capacity().await, Some(3), "{all}");
    rb.bed.assert_nothing_held().await;

    // A normal guarded apply plans the fix, applies it, and then finds no drift.
    let converged = rb.guard(&[
        "run",
        "--verify-drift",
        "--",
        "apply",
        "-auto-approve",
        "-no-color",
    ]);
    let all = text(&converged);
    assert_eq!(converged.status.code(), Some(0), "{all}");
    assert!(
        all.contains(&format!("this run may change 1 resource(s): {ADDRESS}")),
        "{all}"
    );
    assert!(all.contains("no drift after apply"), "{all}");
    assert_eq!(rb.desired_capacity().await, Some(2), "{all}");
    rb.bed.assert_nothing_held().await;
    let after = rb.guard(&["drift"]);
    assert_eq!(after.status.code(), Some(0), "{}", text(&after));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollout_whose_group_was_deleted_is_drift_exit_5() {
    let rb = rollout_bed("gdrift-gone").await;
    let applied = rb.guard(&["run", "--", "apply", "-auto-approve", "-no-color"]);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));

    rb.autoscaling
        .delete_auto_scaling_group()
        .auto_scaling_group_name(&rb.group)
        .force_delete(true)
        .send()
        .await
        .unwrap();

    let drifted = rb.guard(&["drift", "--json"]);
    let all = text(&drifted);
    assert_eq!(drifted.status.code(), Some(5), "{all}");
    let line = json_event(&drifted.stdout, "drift");
    let drift = line["data"]["drift"].as_array().unwrap();
    assert_eq!(drift.len(), 1, "{line}");
    assert_eq!(drift[0]["address"], ADDRESS, "{line}");
    let active = drift[0]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "active_asg_name")
        .unwrap_or_else(|| panic!("no active_asg_name attribute: {line}"));
    assert_eq!(active["before"], rb.group.as_str(), "{line}");
    assert_eq!(active["after"], serde_json::Value::Null, "{line}");
    assert!(
        line["message"]
            .as_str()
            .unwrap()
            .contains(&format!("active_asg_name: \"{}\" -> null", rb.group)),
        "{line}"
    );
}
