//! Lifecycle hooks through real Terraform on the local AWS (issue #13): retiring instances
//! pass their termination hook before their group is deleted (never force-deleted past it); a
//! rollout waits for instances a launch hook holds.

use std::time::{Duration, Instant};

use zdd_test_support::{LifecycleEvent, LifecycleEventKind, LifecycleTransition, local_aws};

use crate::common::autoscaling::{
    complete_lifecycle_action, group_hooks, hook_events, registered_targets,
};
use crate::common::{Config, Sampler, bed, finish};

#[test]
fn retiring_instances_pass_their_termination_hook_before_the_group_goes() {
    let bed = bed("e2ehookt");
    let mut config = Config::new(&bed);
    config.extra = vec![
        r#"lifecycle_hooks = [{
    name              = "drain-workers"
    transition        = "terminating"
    heartbeat_timeout = "30s"
    default_result    = "CONTINUE"
  }]"#
        .into(),
    ];
    bed.write_config(&config);
    bed.apply_ok();
    let first = format!("{}-g1", bed.name);
    let retiring = bed.instances_of(&first);
    assert_eq!(retiring.len(), 2);

    config.version = "2".into();
    bed.write_config(&config);
    let sampler = Sampler::start(&bed, vec![bed.blue().to_string()], 2, None);
    let update = bed.apply();
    let report = sampler.finish();
    assert!(update.success(), "{}\n{}", update.stdout, update.stderr);
    assert!(report.breaches.is_empty(), "{:#?}", report.breaches);
    assert_eq!(bed.asg_names(), [format!("{}-g2", bed.name)]);
    assert!(
        timeline_actions(&bed)
            .iter()
            .any(|action| action == "lifecycle_hook"),
        "the timeline says instances were held: {:?}",
        timeline_actions(&bed)
    );

    // Each retiring instance waited in Terminating:Wait and left it by its hook's result;
    // none was abandoned by a forced delete of its group.
    let events = hook_events(&first);
    for instance in &retiring {
        let mine: Vec<&LifecycleEvent> = events
            .iter()
            .filter(|event| &event.instance_id == instance)
            .collect();
        let entered = mine.iter().position(|event| {
            event.kind == LifecycleEventKind::EnteredWait
                && event.transition == LifecycleTransition::Terminating
        });
        let left = mine.iter().position(|event| {
            matches!(
                event.kind,
                LifecycleEventKind::Completed | LifecycleEventKind::TimedOut
            )
        });
        assert!(
            matches!((entered, left), (Some(entered), Some(left)) if entered < left),
            "{instance}: {mine:#?}"
        );
        assert!(
            mine.iter()
                .all(|event| event.kind != LifecycleEventKind::AbandonedByForceDelete),
            "{instance}: {mine:#?}"
        );
    }
    let skipped: Vec<serde_json::Value> = local_aws()
        .violations()
        .unwrap()
        .into_iter()
        .filter(|violation| {
            violation["rule"] == "hook_skipped_by_force_delete"
                && violation.to_string().contains(&bed.name)
        })
        .collect();
    assert!(skipped.is_empty(), "{skipped:#?}");

    let destroy = bed.terraform(&["destroy", "-auto-approve", "-no-color", "-input=false"]);
    assert!(destroy.success(), "{}\n{}", destroy.stdout, destroy.stderr);
    assert!(bed.asg_names().is_empty());
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
}

#[test]
fn a_rollout_waits_for_instances_a_launch_hook_holds() {
    let bed = bed("e2ehookl");
    let mut config = Config::new(&bed);
    bed.write_config(&config);
    bed.apply_ok();

    // The next generation comes with a launch hook whose own timeout (2 h of AWS time) is far
    // off: only the test completes it.
    config.version = "2".into();
    config.extra = vec![
        r#"lifecycle_hooks = [{
    name              = "warm-cache"
    transition        = "launching"
    heartbeat_timeout = "2h"
    default_result    = "ABANDON"
  }]"#
        .into(),
    ];
    bed.write_config(&config);
    let sampler = Sampler::start(&bed, vec![bed.blue().to_string()], 2, None);
    let mut apply = bed.spawn_apply();
    let second = format!("{}-g2", bed.name);
    let deadline = Instant::now() + Duration::from_secs(60);
    let held = loop {
        let held: Vec<String> = hook_events(&second)
            .into_iter()
            .filter(|event| {
                event.kind == LifecycleEventKind::EnteredWait
                    && event.transition == LifecycleTransition::Launching
            })
            .map(|event| event.instance_id)
            .collect();
        if held.len() == 2 {
            break held;
        }
        assert!(
            apply.try_wait().unwrap().is_none(),
            "the apply ended before the new instances were held: {:?}",
            finish(apply)
        );
        assert!(Instant::now() < deadline, "no instance held: {held:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    // Late: the rollout keeps waiting, and nothing of the new generation is routed to.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        apply.try_wait().unwrap().is_none(),
        "the rollout did not wait"
    );
    let registered = registered_targets(&bed, bed.blue());
    assert!(
        held.iter().all(|instance| !registered.contains(instance)),
        "{registered:?}"
    );
    for instance in &held {
        complete_lifecycle_action(&bed, &second, "warm-cache", instance);
    }
    let output = finish(apply);
    let report = sampler.finish();
    assert!(output.success(), "{}\n{}", output.stdout, output.stderr);
    assert!(report.breaches.is_empty(), "{:#?}", report.breaches);
    assert_eq!(bed.asg_names(), std::slice::from_ref(&second));
    assert_eq!(bed.state()["generation"], 2);
    assert!(
        timeline_actions(&bed)
            .iter()
            .any(|action| action == "lifecycle_hook"),
        "the timeline says instances were held: {:?}",
        timeline_actions(&bed)
    );
    let routed = registered_targets(&bed, bed.blue());
    assert!(
        held.iter().all(|instance| routed.contains(instance)),
        "{routed:?}"
    );

    let destroy = bed.terraform(&["destroy", "-auto-approve", "-no-color", "-input=false"]);
    assert!(destroy.success(), "{}\n{}", destroy.stdout, destroy.stderr);
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
}

/// The `last_rollout` timeline's actions.
fn timeline_actions(bed: &crate::common::Bed) -> Vec<String> {
    bed.state()["last_rollout"]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|step| step["action"].as_str().map(str::to_string))
        .collect()
}

/// A fleet whose groups check EC2 health with no grace period (as groups made before these
/// settings were configurable do) is brought to the defaults and given a hook in place: the
/// plan shows an update of the settings, the apply keeps the generation, AWS then reports the
/// new settings and hook, and the next plan is clean.
#[test]
fn health_check_settings_and_hooks_change_in_place() {
    let bed = bed("e2ehooki");
    let mut config = Config::new(&bed);
    config.extra = vec![
        r#"health_check_type = "EC2""#.into(),
        r#"health_check_grace_period = "0s""#.into(),
    ];
    bed.write_config(&config);
    bed.apply_ok();
    let first = format!("{}-g1", bed.name);

    config.extra = vec![
        r#"lifecycle_hooks = [{
    name              = "drain-workers"
    transition        = "terminating"
    heartbeat_timeout = "30s"
  }]"#
        .into(),
    ];
    bed.write_config(&config);
    let plan = bed.terraform(&["plan", "-no-color", "-input=false"]);
    assert!(plan.success(), "{}", plan.stderr);
    assert!(
        plan.stdout.contains("health_check_type") && !plan.stdout.contains("~ generation"),
        "{}",
        plan.stdout
    );
    let sampler = Sampler::start(&bed, vec![bed.blue().to_string()], 2, None);
    let apply = bed.apply();
    let report = sampler.finish();
    assert!(apply.success(), "{}\n{}", apply.stdout, apply.stderr);
    assert!(report.breaches.is_empty(), "{:#?}", report.breaches);
    assert_eq!(bed.asg_names(), std::slice::from_ref(&first));
    let state = bed.state();
    assert_eq!(state["generation"], 1);
    assert_eq!(state["health_check_type"], "ELB");
    assert_eq!(state["health_check_grace_period"], "5m");
    assert_eq!(
        group_hooks(&bed, &first),
        [("drain-workers".to_string(), 30)]
    );
    let plan = bed.terraform(&["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);

    // Removed again in place: the hook goes from the serving group.
    config.extra.clear();
    bed.write_config(&config);
    bed.apply_ok();
    assert_eq!(bed.state()["generation"], 1);
    assert_eq!(group_hooks(&bed, &first), []);
    let plan = bed.terraform(&["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
}
