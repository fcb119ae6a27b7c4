//! Real Terraform + the provider binary + the local AWS: create, blue/green update, scale in
//! place, destroy; the sampler checks the invariants from outside throughout.

use crate::common::{Config, Sampler, bed};

#[test]
fn create_update_scale_destroy() {
    let bed = bed("e2ebg");
    let mut config = Config::new(&bed);
    bed.write_config(&config);

    let create = bed.apply_ok();
    assert!(
        create.stdout.contains("Apply complete! Resources: 1 added"),
        "{}",
        create.stdout
    );
    let state = bed.state();
    assert_eq!(state["generation"], 1);
    assert_eq!(state["active_asg_name"], format!("{}-g1", bed.name));
    assert_eq!(state["active_launch_template_version"], "1");
    assert_eq!(state["last_rollout"]["status"], "succeeded");
    assert!(
        !state["last_rollout"]["steps"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(bed.asg_names(), vec![format!("{}-g1", bed.name)]);

    // The plan shows what the apply will do.
    config.version = "2".into();
    bed.write_config(&config);
    let plan = bed.terraform(&["plan", "-no-color", "-input=false"]);
    assert!(plan.success(), "{}", plan.stderr);
    assert!(plan.stdout.contains("~ generation"), "{}", plan.stdout);
    assert!(plan.stdout.contains("1 to change"), "{}", plan.stdout);

    let sampler = Sampler::start(&bed, vec![bed.blue().to_string()], 2, None);
    // TF_LOG shows the rollout step by step (hclog JSON from the provider).
    let update = bed.terraform_with_env(
        &["apply", "-auto-approve", "-no-color", "-input=false"],
        &[("TF_LOG_PROVIDER", "INFO")],
    );
    assert!(update.success(), "{}\n{}", update.stdout, update.stderr);
    assert!(update.stderr.contains("create_asg"), "{}", update.stderr);
    assert!(update.stderr.contains("delete_asg"), "{}", update.stderr);
    // The run's stats line carries the shared budget's report per API (docs/index.md, "API
    // limits and the rate budget").
    let stats_line = update
        .stderr
        .lines()
        .find(|line| line.contains("rollout stats:"))
        .unwrap_or_else(|| panic!("no rollout stats line: {}", update.stderr));
    for part in [
        "api[autoscaling:DescribeAutoScalingGroups]=calls:",
        "budget:5/s+10",
        "coalesced_groups_calls=",
        "peak_rss_kib=",
    ] {
        assert!(stats_line.contains(part), "{part} missing: {stats_line}");
    }
    let report = sampler.finish();
    assert!(report.breaches.is_empty(), "{:#?}", report.breaches);
    assert!(report.samples > 10, "{report:?}");
    let state = bed.state();
    assert_eq!(state["generation"], 2);
    assert_eq!(state["active_launch_template_version"], "2");
    assert_eq!(bed.asg_names(), vec![format!("{}-g2", bed.name)]);
    let actions: Vec<String> = state["last_rollout"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["action"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(!actions.is_empty());
    println!("blue/green timeline: {actions:?}, sampler {report:?}");

    // No change: no diff.
    let plan = bed.terraform(&["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);

    // desired_capacity alone: scale in place, same generation.
    config.desired = 3;
    bed.write_config(&config);
    bed.apply_ok();
    let state = bed.state();
    assert_eq!(state["generation"], 2);
    assert_eq!(state["desired_capacity"], 3);

    let destroy = bed.terraform(&["destroy", "-auto-approve", "-no-color", "-input=false"]);
    assert!(destroy.success(), "{}\n{}", destroy.stdout, destroy.stderr);
    assert!(bed.asg_names().is_empty());
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
}
