//! Giving up on AWS refusals through real Terraform (issue #11, item 12), with faults injected
//! by the local AWS (`/zdd/faults`): AWS answers `AccessDenied` exactly as it would.
//!
//! (a) The forward path is refused mid-rollout, the rollback path is allowed: the apply fails
//!     with a diagnostic, the old generation serves 100 % and the new group is removed.
//! (b) Everything is refused once the rollout started: the diagnostic names each group and its
//!     state and says the next apply resumes; with the faults cleared, the next apply converges.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::{Config, Sampler, bed, finish};
use serde_json::json;
use zdd_test_support::local_aws;

/// Removes a fault rule when the test ends, however it ends (the server is shared).
struct FaultGuard(Option<String>);

impl Drop for FaultGuard {
    fn drop(&mut self) {
        if let Some(id) = self.0.take() {
            let _ = local_aws().clear_faults(Some(&id));
        }
    }
}

fn inject(rule: serde_json::Value) -> FaultGuard {
    let added = match local_aws().add_fault(&rule) {
        Ok(added) => added,
        Err(error) => panic!("adding the fault {rule}: {error:#}"),
    };
    match added["id"].as_str() {
        Some(id) => FaultGuard(Some(id.to_string())),
        None => panic!("the fault endpoint answered no id: {added}"),
    }
}

/// The provider's access key in scenario (b) (moto accepts any key).
const PROVIDER_KEY: &str = "AKIDZDDPROVIDERGUB";

/// Terraform's diagnostic as one line: its box-drawing margin and word wrapping removed.
fn flat(stderr: &str) -> String {
    stderr
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `timeouts { update = "5m" }`: a run that does not give up fails the test in minutes, not
/// after the default 30 minutes.
fn bounded_update() -> String {
    "timeouts {\n    update = \"5m\"\n  }".to_string()
}

#[test]
fn a_refused_forward_command_rolls_back_and_the_old_generation_keeps_serving() {
    let bed = bed("e2egua");
    let mut config = Config::new(&bed);
    config.extra = vec![bounded_update()];
    bed.write_config(&config);
    bed.apply_ok();
    let old_group = format!("{}-g1", bed.name);

    // Detaching the old generation (the forward path's step after the new one is healthy) is
    // refused; everything the rollback needs is allowed.
    let fault = inject(json!({
        "service": "autoscaling",
        "action": "DetachLoadBalancerTargetGroups",
        "match": old_group.as_str(),
        "error_code": "AccessDenied",
        "http_status": 403,
    }));
    config.version = "2".into();
    bed.write_config(&config);
    let sampler = Sampler::start(&bed, vec![bed.blue().to_string()], 2, None);
    let apply = bed.apply();
    let report = sampler.finish();
    let hits = local_aws().faults().unwrap();
    drop(fault);

    assert!(!apply.success(), "{}", apply.stdout);
    let hits: u64 = hits
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|rule| rule["hits"].as_u64())
        .sum();
    assert!(hits >= 5, "the refusal was met repeatedly: {hits}");
    let text = flat(&apply.stderr);
    for expected in [
        "failed and was rolled back",
        "given up after AWS refused its calls",
        "DetachLoadBalancerTargetGroups failed: AccessDenied",
        "Generation 1 keeps serving",
        "give_up: ",
    ] {
        assert!(
            text.contains(expected),
            "missing {expected:?} in\n{}",
            apply.stderr
        );
    }
    assert!(report.breaches.is_empty(), "{:#?}", report.breaches);

    let state = bed.state();
    assert_eq!(state["generation"], 1);
    assert_eq!(state["last_rollout"]["status"], "rolled_back");
    assert_eq!(bed.asg_names(), vec![old_group.clone()]);
    assert_eq!(bed.instances_of(&old_group).len(), 2);
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
}

#[test]
fn when_everything_is_refused_the_diagnostic_names_each_group_and_the_next_apply_resumes() {
    let bed = bed("e2egub");
    let mut config = Config::new(&bed);
    config.extra = vec![bounded_update()];
    bed.write_config(&config);
    bed.apply_ok();

    config.version = "2".into();
    bed.write_config(&config);
    let sampler = Sampler::start(&bed, vec![bed.blue().to_string()], 2, None);
    // The provider signs with its own access key, so the fault below refuses its calls and
    // not the sampler's (as when the provider's credentials expire).
    let child = bed.spawn_apply_with_env(&[("AWS_ACCESS_KEY_ID", PROVIDER_KEY)]);
    let old_group = format!("{}-g1", bed.name);
    let new_group = format!("{}-g2", bed.name);
    // Hold the rollout in waiting_for_healthy: its new instances fail their health checks.
    let mut marked = BTreeSet::new();
    bed.wait_for(
        "the new generation's instances",
        Duration::from_secs(60),
        || {
            for instance in bed.instances_of(&new_group) {
                if marked.insert(instance.clone()) {
                    local_aws()
                        .set_instance_health(&instance, "unhealthy", None)
                        .unwrap();
                }
            }
            marked.len() >= 2
        },
    );
    // From now on AWS refuses every call of the provider, after a few more (so that the
    // provider has observed the new generation's instances before the refusals start).
    let fault = inject(json!({
        "service": "*",
        "action": "*",
        "access_key_id": PROVIDER_KEY,
        "skip": 6,
        "error_code": "AccessDenied",
        "http_status": 403,
    }));
    let refused = finish(child);
    drop(fault);

    assert!(!refused.success(), "{}", refused.stdout);
    let text = flat(&refused.stderr);
    for expected in [
        "AWS refused the rollout and its rollback",
        "AccessDenied",
        "Auto Scaling groups as last observed",
        &format!("{old_group} (generation 1, launch template version 1): desired 2"),
        &format!("{new_group} (generation 2, launch template version 2): desired 2"),
        "2 instance(s)",
        "give_up: ",
        "the next apply resumes",
    ] {
        assert!(
            text.contains(expected),
            "missing {expected:?} in\n{}",
            refused.stderr
        );
    }
    let blue_name = bed.blue().split('/').nth(1).unwrap();
    assert!(
        text.contains(&format!("attached to {blue_name} (2 healthy)")),
        "the old group's attachment as last observed\n{}",
        refused.stderr
    );
    let state = bed.state();
    assert_eq!(state["generation"], 1, "the old generation still serves");
    assert_eq!(state["last_rollout"]["status"], "interrupted");

    // The faults cleared and the new instances healthy again, the next apply resumes the
    // rollout and converges.
    for instance in &marked {
        local_aws()
            .set_instance_health(instance, "healthy", None)
            .unwrap();
    }
    let resumed = bed.terraform_with_env(
        &["apply", "-auto-approve", "-no-color", "-input=false"],
        &[("AWS_ACCESS_KEY_ID", PROVIDER_KEY)],
    );
    let report = sampler.finish();
    assert!(resumed.success(), "{}\n{}", resumed.stdout, resumed.stderr);
    assert!(report.breaches.is_empty(), "{:#?}", report.breaches);
    let state = bed.state();
    assert_eq!(state["generation"], 2);
    assert_eq!(state["launch_template_version"], "2");
    assert_eq!(state["last_rollout"]["status"], "succeeded");
    assert_eq!(bed.asg_names(), vec![new_group]);
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
}
