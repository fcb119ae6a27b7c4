//! Failures through real Terraform: new targets that never turn healthy roll back; an
//! interrupted apply rolls back, and the next apply rolls out again.

use std::time::Duration;

use crate::common::{Config, Sampler, bed, finish, interrupt};

#[test]
fn unhealthy_new_generation_rolls_back_and_the_next_plan_proposes_it_again() {
    let bed = bed("e2efail");
    let mut config = Config::new(&bed);
    config.extra = vec!["health_timeout = \"3s\"".into()];
    bed.write_config(&config);
    bed.apply_ok();

    config.version = "2".into();
    bed.write_config(&config);
    let sampler = Sampler::start(&bed, vec![bed.blue().to_string()], 2, None);
    let child = bed.spawn_apply();
    let new_group = format!("{}-g2", bed.name);
    // Mark every instance of the new generation unhealthy as soon as it exists.
    bed.fail_health_of(&new_group, 2);
    let apply = finish(child);
    let report = sampler.finish();
    assert!(!apply.success(), "{}", apply.stdout);
    assert!(apply.stderr.contains("rolled back"), "{}", apply.stderr);
    assert!(
        apply.stderr.contains("Target.ResponseCodeMismatch"),
        "{}",
        apply.stderr
    );
    assert!(report.breaches.is_empty(), "{:#?}", report.breaches);

    let state = bed.state();
    assert_eq!(state["generation"], 1);
    assert_eq!(state["launch_template_version"], "1");
    assert_eq!(state["last_rollout"]["status"], "rolled_back");
    assert_eq!(bed.asg_names(), vec![format!("{}-g1", bed.name)]);
    let plan = bed.terraform(&["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    assert_eq!(
        plan.code, 2,
        "the rollout is proposed again\n{}\n{}",
        plan.stdout, plan.stderr
    );
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
}

#[test]
fn an_interrupt_rolls_back_and_the_next_apply_rolls_out_again() {
    let bed = bed("e2eint");
    let mut config = Config::new(&bed);
    bed.write_config(&config);
    bed.apply_ok();

    config.version = "2".into();
    bed.write_config(&config);
    let sampler = Sampler::start(&bed, vec![bed.blue().to_string()], 2, None);
    let child = bed.spawn_apply();
    let new_group = format!("{}-g2", bed.name);
    bed.wait_for("the new generation", Duration::from_secs(60), || {
        !bed.instances_of(&new_group).is_empty()
    });
    interrupt(&child);
    let interrupted = finish(child);
    assert!(!interrupted.success(), "{}", interrupted.stdout);
    assert!(
        interrupted.stderr.contains("interrupted"),
        "{}",
        interrupted.stderr
    );
    // The interrupt rolled the new generation back: the last good one serves.
    let state = bed.state();
    assert_eq!(state["generation"], 1, "still the last good generation");
    assert_eq!(state["last_rollout"]["status"], "rolled_back");
    assert_eq!(bed.asg_names(), vec![format!("{}-g1", bed.name)]);

    let plan = bed.terraform(&["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    bed.apply_ok();
    let report = sampler.finish();
    assert!(report.breaches.is_empty(), "{:#?}", report.breaches);
    let state = bed.state();
    assert_eq!(state["generation"], 2);
    assert_eq!(state["last_rollout"]["status"], "succeeded");
    assert_eq!(bed.asg_names(), vec![new_group]);
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
}

/// With `rollback_on_failure = false` the failed generation is kept, detached and tagged
/// `zdd:rolled-back`, after the rollback finished: Read must not call that an interrupted
/// rollout (it did, counting every group as in flight).
#[test]
fn a_generation_kept_after_its_rollback_reads_as_rolled_back_not_interrupted() {
    let bed = bed("e2ekept");
    let mut config = Config::new(&bed);
    config.extra = vec![
        "health_timeout = \"3s\"".into(),
        "rollback_on_failure = false".into(),
    ];
    bed.write_config(&config);
    bed.apply_ok();

    config.version = "2".into();
    bed.write_config(&config);
    let child = bed.spawn_apply();
    let new_group = format!("{}-g2", bed.name);
    bed.fail_health_of(&new_group, 2);
    let apply = finish(child);
    assert!(!apply.success(), "{}", apply.stdout);
    assert!(apply.stderr.contains("rolled back"), "{}", apply.stderr);
    assert_eq!(
        bed.asg_names(),
        vec![format!("{}-g1", bed.name), new_group.clone()],
        "the failed generation is kept"
    );
    assert_eq!(bed.state()["last_rollout"]["status"], "rolled_back");

    let refresh = bed.terraform(&[
        "apply",
        "-refresh-only",
        "-auto-approve",
        "-no-color",
        "-input=false",
    ]);
    assert_eq!(refresh.code, 0, "{}\n{}", refresh.stdout, refresh.stderr);
    let state = bed.state();
    assert_eq!(
        state["last_rollout"]["status"], "rolled_back",
        "Read reports the finished rollback, not an interrupted rollout"
    );
    assert_eq!(state["generation"], 1);
    assert_eq!(state["active_asg_name"], format!("{}-g1", bed.name));
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
}
