//! The `last_rollout.steps[].action` values the provider docs list are exactly the ones the
//! engine writes (plus `give_up`, which only the provider's driver writes: see
//! `provider/tests/e2e_give_up.rs`). The docs are read from `docs/resources/rollout.md`
//! (generated from the provider's schema), the actions from simulated rollouts that between
//! them pass every path: each strategy, a failed release, command failures and late effects,
//! a killed and resumed apply, an abort at every step, a teardown.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use zdd_rollout::RolloutSpec;
use zdd_rollout::sim::fixtures::{
    FleetShape, StrategyKind, raw_spec, scale_in_place, spec, update,
};
use zdd_rollout::sim::{Faults, Kill, Report, Scenario, Timings, run};

/// Actions written outside the engine: by the provider's driver.
const DRIVER_ACTIONS: &[&str] = &["give_up"];
/// Lines the simulator's own driver adds to a trace (not timeline entries).
const SIM_LINES: &[&str] = &["killed", "aborted"];

fn documented_actions() -> BTreeSet<String> {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/resources/rollout.md");
    let text = match std::fs::read_to_string(&docs) {
        Ok(text) => text,
        Err(error) => panic!("reading the generated docs {}: {error}", docs.display()),
    };
    let Some(line) = text
        .lines()
        .find(|line| line.starts_with("- `action` (String)"))
    else {
        panic!(
            "{} does not describe last_rollout.steps[].action",
            docs.display()
        );
    };
    let description = line.trim_start_matches("- `action` (String)");
    description
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn actions_in(report: &Report) -> BTreeSet<String> {
    report
        .trace
        .iter()
        .filter_map(|line| {
            let (_, rest) = line.split_once(' ')?;
            let (action, _) = rest.split_once(':')?;
            (!SIM_LINES.contains(&action)).then(|| action.to_string())
        })
        .collect()
}

fn scenarios() -> Vec<(Scenario, Kill)> {
    let shape = FleetShape {
        soak: Duration::from_secs(60),
        ..FleetShape::default()
    };
    let mut out = Vec::new();
    for (index, kind) in StrategyKind::ALL.into_iter().enumerate() {
        let spec = match spec(kind, &shape, 7) {
            Ok(spec) => spec,
            Err(error) => panic!("the {} fixture: {error}", kind.name()),
        };
        let seed = 100 + index as u64;
        let plain = update(
            "plain",
            seed,
            spec.clone(),
            Timings::default(),
            Faults::default(),
        );
        out.push((plain.clone(), Kill::default()));
        let bad = Faults {
            bad_release: true,
            ..Faults::default()
        };
        out.push((
            update("bad", seed, spec.clone(), Timings::default(), bad),
            Kill::default(),
        ));
        let flaky = Faults {
            api_failure: 0.3,
            consistency_delay_max: Duration::from_secs(45),
            ..Faults::default()
        };
        out.push((
            update("flaky", seed, spec.clone(), Timings::default(), flaky),
            Kill::default(),
        ));
        out.push((
            plain.clone(),
            Kill {
                after_steps: vec![3],
                keep_checkpoint: true,
                restart_after: Duration::from_secs(5),
                ..Kill::default()
            },
        ));
        // An abort at every step: some land while the old generation is detached and
        // draining, and its rollback attaches it again.
        for step in 1..=30 {
            out.push((
                plain.clone(),
                Kill {
                    abort_after_step: Some(step),
                    ..Kill::default()
                },
            ));
        }
        let mut teardown = plain;
        teardown.teardown = true;
        out.push((teardown, Kill::default()));
        // A fleet created before its health check and hooks were configured: they are set on
        // the serving group in place.
        let mut settled = scale_in_place(kind.name(), seed, spec.clone(), spec.capacity.desired);
        settled.spec.lifecycle_hooks = vec![zdd_rollout::spec::LifecycleHook {
            name: "drain".into(),
            transition: zdd_rollout::spec::HookTransition::Terminating,
            heartbeat_timeout: Duration::from_secs(60),
            default_result: zdd_rollout::spec::HookResult::Continue,
        }];
        settled.previous_settings = Some((
            zdd_rollout::spec::GroupHealthCheck {
                kind: zdd_rollout::spec::HealthCheckType::Ec2,
                grace_period: Duration::ZERO,
                instance_warmup: None,
            },
            vec![zdd_rollout::spec::LifecycleHook {
                name: "stale".into(),
                transition: zdd_rollout::spec::HookTransition::Launching,
                heartbeat_timeout: Duration::from_secs(60),
                default_result: zdd_rollout::spec::HookResult::Abandon,
            }],
        ));
        out.push((settled, Kill::default()));
        // A fleet that scales itself, with both kinds of lifecycle hook: policies put,
        // processes suspended and resumed, instances held by hooks; a kept failed generation
        // loses its policies.
        let mut raw = raw_spec(kind, &shape, 7);
        raw.target_tracking = Some(vec![crate::autoscaling::cpu_policy()]);
        raw.lifecycle_hooks = Some(vec![
            crate::autoscaling::hook("launching", "60s", "CONTINUE"),
            crate::autoscaling::hook("terminating", "60s", "CONTINUE"),
        ]);
        raw.rollback_on_failure = Some(false);
        let autoscaled = match RolloutSpec::validate(&raw) {
            Ok(spec) => spec,
            Err(error) => panic!("the autoscaled {} fixture: {error}", kind.name()),
        };
        let bad = Faults {
            bad_release: true,
            ..Faults::default()
        };
        for faults in [Faults::default(), bad] {
            out.push((
                update(
                    "autoscaled",
                    seed,
                    autoscaled.clone(),
                    Timings::default(),
                    faults,
                ),
                Kill::default(),
            ));
        }
        // A bake (blue_green and canary): one that passes, one whose alarm fires (the
        // `bake` entries) and the canary's analyses (`analysis`).
        if kind != StrategyKind::Rolling {
            let mut raw = raw_spec(kind, &shape, 7);
            raw.bake = Some(zdd_rollout::spec::RawBake {
                duration: Some("5m".into()),
                alarm_names: Some(vec!["web-bake".into()]),
            });
            let baked = match RolloutSpec::validate(&raw) {
                Ok(spec) => spec,
                Err(error) => panic!("the baked {} fixture: {error}", kind.name()),
            };
            // Inside each strategy's bake (it starts after about 3 min for blue/green and
            // 14 min for the canary's three steps).
            let into_bake = if kind == StrategyKind::BlueGreen {
                5
            } else {
                16
            };
            let alarm = Faults {
                bake_alarm_at: Some(Duration::from_secs(into_bake * 60)),
                ..Faults::default()
            };
            for faults in [Faults::default(), alarm] {
                out.push((
                    update("baked", seed, baked.clone(), Timings::default(), faults),
                    Kill::default(),
                ));
            }
        }
    }
    out
}

#[test]
fn the_documented_actions_are_exactly_those_the_engine_and_the_driver_write() {
    let mut emitted = BTreeSet::new();
    for (scenario, kill) in scenarios() {
        let report = run(&scenario, &kill);
        assert!(
            report.violations.is_empty(),
            "{}: {:#?}",
            scenario.name,
            report.violations
        );
        emitted.extend(actions_in(&report));
    }
    emitted.extend(DRIVER_ACTIONS.iter().map(|action| (*action).to_string()));
    let documented = documented_actions();
    let undocumented: Vec<&String> = emitted.difference(&documented).collect();
    let never_written: Vec<&String> = documented.difference(&emitted).collect();
    assert!(
        undocumented.is_empty() && never_written.is_empty(),
        "written but not documented: {undocumented:?}; documented but never written: {never_written:?}"
    );
}
