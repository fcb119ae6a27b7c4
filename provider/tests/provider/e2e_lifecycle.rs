//! Import by name, and drift found by Read and converged by the next apply.

use crate::common::{Config, bed};
use zdd_test_support::TerraformDir;

#[test]
fn import_by_name_then_no_changes() {
    let bed = bed("e2eimp");
    let config = Config::new(&bed);
    bed.write_config(&config);
    bed.apply_ok();

    // A second working directory that never created the fleet imports it.
    let other = crate::common::Bed {
        tf: TerraformDir::new(zdd_test_support::local_aws()).unwrap(),
        ..crate::common::bed("e2eimp2")
    };
    other.tf.write("main.tf", &config.render()).unwrap();
    let import = other.terraform(&[
        "import",
        "-no-color",
        "-input=false",
        "zdd_rollout.this",
        &bed.name,
    ]);
    assert!(import.success(), "{}\n{}", import.stdout, import.stderr);
    let state = other.state();
    assert_eq!(state["generation"], 1);
    assert_eq!(state["active_asg_name"], format!("{}-g1", bed.name));
    assert_eq!(state["launch_template_version"], "1");
    let plan = other.terraform(&["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    assert_eq!(
        plan.code, 0,
        "imported fleet matches its configuration\n{}\n{}",
        plan.stdout, plan.stderr
    );

    let missing = other.terraform(&[
        "import",
        "-no-color",
        "-input=false",
        "zdd_rollout.this",
        "no-such-fleet",
    ]);
    assert!(!missing.success());
}

#[test]
fn a_group_deleted_out_of_band_is_drift_the_apply_converges() {
    let bed = bed("e2edrift");
    let config = Config::new(&bed);
    bed.write_config(&config);
    bed.apply_ok();

    // Someone scales the fleet by hand: Read shows it, the plan puts it back in place.
    let autoscaling = aws_sdk_autoscaling::Client::new(&bed.sdk);
    let group = format!("{}-g1", bed.name);
    bed.runtime
        .block_on(
            autoscaling
                .update_auto_scaling_group()
                .auto_scaling_group_name(&group)
                .desired_capacity(3)
                .send(),
        )
        .unwrap();
    let plan = bed.terraform(&["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("desired_capacity"), "{}", plan.stdout);
    bed.apply_ok();
    assert_eq!(bed.state()["desired_capacity"], 2);
    assert_eq!(
        bed.state()["generation"],
        1,
        "a scale is not a new generation"
    );

    // Someone deletes the active group: the next apply creates a new generation.
    bed.runtime
        .block_on(
            autoscaling
                .delete_auto_scaling_group()
                .auto_scaling_group_name(&group)
                .force_delete(true)
                .send(),
        )
        .unwrap();
    bed.wait_for(
        "the group to go",
        std::time::Duration::from_secs(30),
        || bed.asg_names().is_empty(),
    );
    let plan = bed.terraform(&["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    bed.apply_ok();
    let state = bed.state();
    let groups = bed.asg_names();
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(state["active_asg_name"], groups[0].as_str());
    assert_eq!(state["last_rollout"]["status"], "succeeded");
}
