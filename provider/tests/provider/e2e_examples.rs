//! The examples users copy: formatted, and applied (with a version bump) against the local
//! AWS. They need nothing but the zdd provider, so all of them run offline.

use std::path::PathBuf;

use crate::common::traffic::Traffic;
use crate::common::{bed, hcl_list};

fn example(relative: &str) -> PathBuf {
    zdd_test_support::workspace_root()
        .join("examples")
        .join(relative)
}

fn var(name: &str, value: &str) -> String {
    format!("-var={name}={value}")
}

#[test]
fn examples_are_formatted() {
    let bed = bed("e2efmt");
    for dir in [
        "rolling",
        "canary",
        "autoscaling",
        "modules/service",
        "provider",
        "resources",
    ] {
        let path = example(dir);
        let fmt = bed.terraform(&[
            "fmt",
            "-check",
            "-diff",
            "-recursive",
            path.to_str().unwrap(),
        ]);
        assert!(
            fmt.success(),
            "examples/{dir} is not formatted:\n{}{}",
            fmt.stdout,
            fmt.stderr
        );
    }
}

#[test]
fn rolling_example_applies_and_rolls() {
    let bed = bed("e2exroll");
    let main = std::fs::read_to_string(example("rolling/main.tf")).unwrap();
    bed.tf.write("main.tf", &main).unwrap();
    let vars = |version: &str| {
        vec![
            var("name", &bed.name),
            var("launch_template_id", &bed.fixture.launch_template_id),
            var("launch_template_version", version),
            var("subnet_ids", &hcl_list(&bed.fixture.subnet_ids)),
            var("target_group_arn", bed.blue()),
            var("desired_capacity", "2"),
        ]
    };
    for version in ["1", "2"] {
        let mut args = vec![
            "apply".to_string(),
            "-auto-approve".into(),
            "-no-color".into(),
            "-input=false".into(),
        ];
        args.extend(vars(version));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let apply = bed.terraform(&refs);
        assert!(apply.success(), "{}\n{}", apply.stdout, apply.stderr);
    }
    let outputs = bed.terraform(&["output", "-json"]);
    let outputs: serde_json::Value = serde_json::from_str(&outputs.stdout).unwrap();
    assert_eq!(outputs["generation"]["value"], 2);
    assert_eq!(outputs["last_rollout_status"]["value"], "succeeded");
    let mut args = vec![
        "destroy".to_string(),
        "-auto-approve".into(),
        "-no-color".into(),
        "-input=false".into(),
    ];
    args.extend(vars("2"));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(bed.terraform(&refs).success());
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
}

/// The autoscaling example: created, rolled to a new version (its retiring instances pass the
/// terminating hook), reported at the capacity the serving group has, destroyed.
#[test]
fn autoscaling_example_applies_and_rolls() {
    let bed = bed("e2exauto");
    let main = std::fs::read_to_string(example("autoscaling/main.tf")).unwrap();
    bed.tf.write("main.tf", &main).unwrap();
    let vars = |version: &str| {
        vec![
            var("name", &bed.name),
            var("launch_template_id", &bed.fixture.launch_template_id),
            var("launch_template_version", version),
            var("subnet_ids", &hcl_list(&bed.fixture.subnet_ids)),
            var("target_group_arn", bed.blue()),
            var("drain_time", "30s"),
        ]
    };
    let run = |command: &[&str], version: &str| {
        let mut args: Vec<String> = command.iter().map(ToString::to_string).collect();
        args.extend([
            "-auto-approve".into(),
            "-no-color".into(),
            "-input=false".into(),
        ]);
        args.extend(vars(version));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = bed.terraform(&refs);
        assert!(output.success(), "{}\n{}", output.stdout, output.stderr);
    };
    run(&["apply"], "1");
    run(&["apply"], "2");
    let outputs = bed.terraform(&["output", "-json"]);
    let outputs: serde_json::Value = serde_json::from_str(&outputs.stdout).unwrap();
    assert_eq!(outputs["generation"]["value"], 2);
    assert_eq!(outputs["current_capacity"]["value"], 3);
    assert_eq!(outputs["last_rollout_status"]["value"], "succeeded");
    assert_eq!(bed.asg_names(), vec![format!("{}-g2", bed.name)]);
    run(&["destroy"], "2");
    assert!(bed.asg_names().is_empty());
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
}

#[test]
fn canary_example_applies() {
    let bed = bed("e2excan");
    let main = std::fs::read_to_string(example("canary/main.tf")).unwrap();
    bed.tf.write("main.tf", &main).unwrap();
    // The soaks need evidence (`min_requests`): healthy traffic through the listener.
    let _traffic = Traffic::healthy(&bed);
    for version in ["1", "2"] {
        let args = [
            "apply".to_string(),
            "-auto-approve".into(),
            "-no-color".into(),
            "-input=false".into(),
            var("name", &bed.name),
            var("launch_template_id", &bed.fixture.launch_template_id),
            var("launch_template_version", version),
            var("subnet_ids", &hcl_list(&bed.fixture.subnet_ids)),
            var("listener_arn", &bed.fixture.listener_arn),
            var("blue_target_group_arn", bed.blue()),
            var("green_target_group_arn", bed.green()),
            var("soak", "1s"),
            // Unscaled durations: a bake and a cap on extended soaks that keep the test short.
            var("bake_duration", "2s"),
            var("max_soak", "1m"),
        ];
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let apply = bed.terraform(&refs);
        assert!(apply.success(), "{}\n{}", apply.stdout, apply.stderr);
    }
    let outputs = bed.terraform(&["output", "-json"]);
    let outputs: serde_json::Value = serde_json::from_str(&outputs.stdout).unwrap();
    assert_eq!(outputs["last_rollout"]["value"]["status"], "succeeded");
    assert_eq!(
        outputs["active_asg_name"]["value"],
        format!("{}-g2", bed.name)
    );
}

#[test]
fn service_module_composes() {
    let bed = bed("e2exmod");
    let root = format!(
        r#"terraform {{
  required_providers {{
    zdd = {{ source = "zdd/zdd" }}
  }}
}}

provider "zdd" {{}}

module "service" {{
  source                  = {source:?}
  name                    = {name:?}
  launch_template_id      = {lt:?}
  launch_template_version = "1"
  subnet_ids              = {subnets}
  target_group_arns       = [{tg:?}]
  strategy                = "blue_green"
  desired_capacity        = 2
  tags                    = {{ team = "web" }}
}}

output "generation" {{
  value = module.service.generation
}}
"#,
        source = example("modules/service").display().to_string(),
        name = bed.name,
        lt = bed.fixture.launch_template_id,
        subnets = hcl_list(&bed.fixture.subnet_ids),
        tg = bed.blue(),
    );
    bed.tf.write("main.tf", &root).unwrap();
    let get = bed.terraform(&["get", "-no-color"]);
    assert!(get.success(), "{}\n{}", get.stdout, get.stderr);
    bed.apply_ok();
    let outputs = bed.terraform(&["output", "-json"]);
    let outputs: serde_json::Value = serde_json::from_str(&outputs.stdout).unwrap();
    assert_eq!(outputs["generation"]["value"], 1);
    assert_eq!(bed.asg_names(), vec![format!("{}-g1", bed.name)]);
}
