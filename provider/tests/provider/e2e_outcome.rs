//! What the plan promises and what state records when a rollout does not go as planned
//! (issue 11, items 10 and 11), through real Terraform.

use std::time::Duration;

use crate::common::{Config, Sampler, bed, finish, kill_group};

/// Outputs wired to the attributes only the rollout's outcome decides.
const OUTPUTS: &str = r#"
output "version" {
  value = zdd_rollout.this.active_launch_template_version
}

output "generation" {
  value = zdd_rollout.this.generation
}

output "group" {
  value = zdd_rollout.this.active_asg_name
}
"#;

fn write(bed: &crate::common::Bed, config: &Config) {
    bed.write_config_with(config, OUTPUTS);
}

#[test]
fn a_rolled_back_apply_leaves_outputs_at_what_serves() {
    let bed = bed("e2eout");
    let mut config = Config::new(&bed);
    config.extra = vec!["health_timeout = \"3s\"".into()];
    write(&bed, &config);
    bed.apply_ok();
    assert_eq!(bed.output("version"), "1");

    config.version = "2".into();
    write(&bed, &config);
    let plan = bed.terraform(&["plan", "-no-color", "-input=false"]);
    assert!(plan.success(), "{}\n{}", plan.stdout, plan.stderr);
    let child = bed.spawn_apply();
    let new_group = format!("{}-g2", bed.name);
    // The new generation never turns healthy: the rollout rolls back.
    bed.fail_health_of(&new_group, 2);
    let apply = finish(child);
    assert!(!apply.success(), "{}", apply.stdout);
    assert!(apply.stderr.contains("rolled back"), "{}", apply.stderr);
    assert_eq!(bed.asg_names(), vec![format!("{}-g1", bed.name)]);
    assert_eq!(bed.output("version"), "1", "the old version serves");
    assert_eq!(bed.output("generation"), "1");
    assert_eq!(bed.output("group"), format!("{}-g1", bed.name));
    assert!(
        plan.stdout
            .contains("active_launch_template_version = \"1\" -> (known after apply)"),
        "the plan promises no version before the rollout decides it\n{}",
        plan.stdout
    );
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
}

#[test]
fn a_killed_rollout_reapplied_with_a_newer_version_converges_to_it() {
    let bed = bed("e2eresume");
    let mut config = Config::new(&bed);
    write(&bed, &config);
    bed.apply_ok();

    // A rollout to version 2 is killed (terraform and the provider, no state saved) once its
    // generation exists.
    config.version = "2".into();
    write(&bed, &config);
    let sampler = Sampler::start(&bed, vec![bed.blue().to_string()], 2, None);
    let child = bed.spawn_apply_killable();
    let interrupted_group = format!("{}-g2", bed.name);
    bed.wait_for("the version 2 generation", Duration::from_secs(60), || {
        !bed.instances_of(&interrupted_group).is_empty()
    });
    kill_group(child);
    let state = bed.state();
    assert_eq!(state["launch_template_version"], "1", "nothing was saved");

    // The configuration moves on to version 3 before anyone re-applies.
    config.version = "3".into();
    write(&bed, &config);
    let apply = bed.apply();
    let report = sampler.finish();
    assert!(
        apply.success(),
        "one apply converges to the configuration being applied\n{}\n{}",
        apply.stdout,
        apply.stderr
    );
    let state = bed.state();
    assert_eq!(state["launch_template_version"], "3");
    assert_eq!(state["active_launch_template_version"], "3");
    assert_eq!(state["generation"], 3);
    assert_eq!(state["last_rollout"]["status"], "succeeded");
    assert_eq!(bed.asg_names(), vec![format!("{}-g3", bed.name)]);
    assert_eq!(bed.output("version"), "3");
    assert!(report.breaches.is_empty(), "{:#?}", report.breaches);
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
    let plan = bed.terraform(&["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
}
