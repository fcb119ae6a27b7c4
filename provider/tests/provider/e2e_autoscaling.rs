//! An autoscaled fleet through real Terraform on the local AWS (issue #13): the capacity a
//! scaling policy gave the serving group is kept by Read, the plan and the next rollout, and
//! the policy ends on the serving generation only.

use std::time::Duration;

use zdd_test_support::{ScaleOutcome, local_aws};

use crate::common::autoscaling::{healthy_targets, policies_of, suspended_processes};
use crate::common::{Config, Sampler, bed};

const CPU_POLICY: &str = r#"target_tracking = [{
    name              = "cpu-50"
    predefined_metric = "ASGAverageCPUUtilization"
    target_value      = 50
  }]"#;

/// A wait in the local AWS's time (scaled), at least `floor` of real time.
fn aws_time(seconds: f64, floor: Duration) -> Duration {
    Duration::from_secs_f64(seconds * local_aws().time_scale()).max(floor)
}

#[test]
fn an_autoscaled_capacity_is_kept_by_read_plan_and_the_next_rollout() {
    let bed = bed("e2eas");
    let mut config = Config::new(&bed);
    config.max = 4;
    config.desired = 2;
    config.extra = vec![CPU_POLICY.into()];
    bed.write_config(&config);
    bed.apply_ok();
    let first = format!("{}-g1", bed.name);
    assert_eq!(policies_of(&bed, &first), ["cpu-50"]);
    assert_eq!(bed.state()["current_capacity"], 2);
    // The serving group scales itself: nothing of zdd's is left suspended.
    assert_eq!(suspended_processes(&bed, &first), Vec::<String>::new());

    // The policy's alarm scales the serving group out.
    assert_eq!(
        local_aws().scale_as_policy(&first, 4).unwrap(),
        ScaleOutcome::Applied { desired: 4 }
    );
    bed.wait_for(
        "4 healthy targets",
        aws_time(120.0, Duration::from_secs(30)),
        || healthy_targets(&bed, bed.blue()) == 4,
    );

    // Read reports it as the current capacity, not as drift: the plan changes nothing.
    let plan = bed.terraform(&["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    let refresh = bed.terraform(&[
        "apply",
        "-refresh-only",
        "-auto-approve",
        "-no-color",
        "-input=false",
    ]);
    assert!(refresh.success(), "{}\n{}", refresh.stdout, refresh.stderr);
    let state = bed.state();
    assert_eq!(state["current_capacity"], 4);
    assert_eq!(state["desired_capacity"], 2);

    // The next rollout starts the new generation at the capacity being served: the load
    // balancer never sees fewer than 4 healthy targets.
    config.version = "2".into();
    bed.write_config(&config);
    let sampler = Sampler::start(&bed, vec![bed.blue().to_string()], 4, None);
    let update = bed.apply();
    let report = sampler.finish();
    assert!(update.success(), "{}\n{}", update.stdout, update.stderr);
    assert!(report.breaches.is_empty(), "{:#?}", report.breaches);
    assert!(report.min_healthy >= Some(4), "{report:?}");
    let second = format!("{}-g2", bed.name);
    assert_eq!(bed.asg_names(), std::slice::from_ref(&second));
    assert_eq!(bed.instances_of(&second).len(), 4);
    // The policy is on the serving generation only, and it scales itself again.
    assert_eq!(policies_of(&bed, &second), ["cpu-50"]);
    assert_eq!(suspended_processes(&bed, &second), Vec::<String>::new());
    let state = bed.state();
    assert_eq!(state["generation"], 2);
    assert_eq!(state["current_capacity"], 4);
    assert_eq!(state["desired_capacity"], 2);
    let plan = bed.terraform(&["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);

    // desired_capacity alone changes nothing in AWS: the policies own the capacity.
    config.desired = 3;
    bed.write_config(&config);
    bed.apply_ok();
    let state = bed.state();
    assert_eq!(state["desired_capacity"], 3);
    assert_eq!(state["current_capacity"], 4);
    assert_eq!(state["generation"], 2);
    assert_eq!(bed.instances_of(&second).len(), 4);

    let destroy = bed.terraform(&["destroy", "-auto-approve", "-no-color", "-input=false"]);
    assert!(destroy.success(), "{}\n{}", destroy.stdout, destroy.stderr);
    assert!(bed.asg_names().is_empty());
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
}
