//! kill -9 at every phase (issue 15, suite 2): terraform and the provider are SIGKILLed the
//! moment the rollout enters a phase (the first timeline line of the phase on terraform's
//! stderr, written before the phase's first command is sent), nothing saves state, and plain
//! re-applies follow until one converges. Required of every phase: the configuration serves
//! (apply exit 0, the configured version, a clean plan after), only the serving generation's
//! group is left, the capacity floor and the drains hold throughout as seen from outside, and
//! the re-applies it took are counted and published (`kill -9 at every phase` records).
//!
//! One test per phase, each on its own fleet, so the harness runs them side by side; with
//! `ZDD_STRESS_TRIALS=N` each phase runs N trials (a fresh fleet each) and publishes them as one
//! record.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use zdd_test_support::{Record, TfOutput, local_aws, stress_trials};

use crate::common::kill::{Killed, announced_phase, is_phase};
use crate::common::{Bed, Config, Sampler, SamplerReport, bed};

/// More re-applies than this and the phase did not converge: the test fails.
const MAX_REAPPLIES: u32 = 3;
/// From the killed apply's start to its phase, at most (a rollback waits out the health timeout
/// first).
const PHASE_LIMIT: Duration = Duration::from_secs(180);
/// The health timeout of the fleets whose new generation is made to fail: long enough for a
/// healthy generation on a loaded machine, short enough to reach the rollback soon.
const FAILING_HEALTH_TIMEOUT: &str = "10s";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Strategy {
    BlueGreen,
    Rolling,
    Canary,
}

impl Strategy {
    fn name(self) -> &'static str {
        match self {
            Strategy::BlueGreen => "blue_green",
            Strategy::Rolling => "rolling",
            Strategy::Canary => "canary",
        }
    }

    /// Two instances; rolling in batches of one with room for one more.
    fn config(self, bed: &Bed) -> Config {
        let mut config = Config::new(bed);
        match self {
            Strategy::BlueGreen => {}
            Strategy::Rolling => {
                config.max = 3;
                config.extra = vec!["strategy = \"rolling\"".into(), "batch_size = 1".into()];
            }
            Strategy::Canary => {
                // No traffic and no evidence asked for: these tests are about kills and AWS
                // faults, not the canary analysis (which would extend each soak up to
                // max_soak waiting for requests).
                config.target_group_arns = None;
                config.extra = vec![
                    "strategy = \"canary\"".into(),
                    format!(
                        "canary = {{\n    listener_arn = {:?}\n    stable_target_group_arn = {:?}\n    canary_target_group_arn = {:?}\n    steps = [{{ weight = 20, soak = \"1s\" }}, {{ weight = 60, soak = \"1s\" }}, {{ weight = 100, soak = \"0s\" }}]\n    min_requests = 0\n  }}",
                        bed.fixture.listener_arn,
                        bed.blue(),
                        bed.green()
                    ),
                ];
            }
        }
        config
    }

    /// The outside watch: both target groups and the listener's weights for canary.
    fn sampler(self, bed: &Bed, floor: usize) -> Sampler {
        match self {
            Strategy::Canary => Sampler::start(
                bed,
                vec![bed.blue().to_string(), bed.green().to_string()],
                floor,
                Some(bed.fixture.listener_arn.clone()),
            ),
            _ => Sampler::start(bed, vec![bed.blue().to_string()], floor, None),
        }
    }
}

/// Whether the new generation is made to fail, so that the kill lands in the rollback.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Path {
    Forward,
    /// The new generation never turns healthy.
    Rollback,
    /// Canary: the new generation turns unhealthy once canary step 1 sends it traffic, so the
    /// rollback starts with the weights moved.
    FailsInCanaryStep,
}

/// Rolls a fleet of 2 from version 1 to 2, kills the apply in `phase`, re-applies until it
/// converges; publishes the figures, then asserts what the suite requires and that it took
/// `expected_reapplies`. `ZDD_STRESS_TRIALS` trials (default 1), each on a fleet of its own.
fn killed_in(prefix: &str, strategy: Strategy, phase: &str, path: Path, expected_reapplies: u32) {
    let scenario = match path {
        Path::FailsInCanaryStep => format!(
            "{}, failed in canary_step 1, killed in {phase}",
            strategy.name()
        ),
        _ => format!("{}, killed in {phase}", strategy.name()),
    };
    let trials: Vec<Trial> = (1..=stress_trials(1))
        .map(|number| {
            let prefix = if number == 1 {
                prefix.to_string()
            } else {
                format!("{prefix}{number}")
            };
            run_trial(&prefix, strategy, phase, path)
        })
        .collect();
    record(&scenario, &trials)
        .publish()
        .unwrap_or_else(|error| panic!("publishing {scenario}: {error:#}"));
    for trial in &trials {
        trial.check(&scenario, path, expected_reapplies);
    }
}

/// One kill and the re-applies after it, as seen.
struct Trial {
    bed: Bed,
    reapplies: u32,
    last_apply: TfOutput,
    plan: TfOutput,
    /// From the killed apply's start to the clean plan.
    convergence: Duration,
    /// Every AWS call of the killed apply, the re-applies and the plan.
    calls: u64,
    sampler: SamplerReport,
    violations: Vec<serde_json::Value>,
}

// The body of every test here (not a #[test] function itself, so clippy.toml's test allowance
// does not reach it): a failed step must fail the test loudly.
#[allow(clippy::unwrap_used)]
fn run_trial(prefix: &str, strategy: Strategy, phase: &str, path: Path) -> Trial {
    let bed = bed(prefix);
    let mut config = strategy.config(&bed);
    if path == Path::Rollback {
        config
            .extra
            .push(format!("health_timeout = {FAILING_HEALTH_TIMEOUT:?}"));
    }
    bed.write_config(&config);
    bed.apply_ok();

    // From the rollout on, terraform and the provider sign with a key of their own: the shared
    // local AWS counts their calls apart from the other tests'.
    let key = format!("AKIDZDDKILL{}", prefix.to_ascii_uppercase());
    let env = [("AWS_ACCESS_KEY_ID", key.as_str())];
    config.version = "2".into();
    bed.write_config(&config);
    let sampler = strategy.sampler(&bed, 2);
    let killed = match path {
        Path::Forward => bed.apply_killed_in(phase, PHASE_LIMIT, &env),
        Path::Rollback => {
            let failing = format!("{}-g2", bed.name);
            let stop = AtomicBool::new(false);
            std::thread::scope(|scope| {
                scope.spawn(|| bed.keep_unhealthy(&failing, &stop));
                let killed = bed.apply_killed_in(phase, PHASE_LIMIT, &env);
                // The generations the re-applies launch are healthy.
                stop.store(true, Ordering::SeqCst);
                killed
            })
        }
        Path::FailsInCanaryStep => {
            let failing = format!("{}-g2", bed.name);
            let mut failed = false;
            bed.apply_killed_on(phase, PHASE_LIMIT, &env, |line| {
                if !failed && announced_phase(line).is_some_and(|a| is_phase(a, "canary_step 1")) {
                    bed.mark_unhealthy(&failing);
                    failed = true;
                }
            })
        }
    };
    println!(
        "{prefix}: killed on {:?}; phases announced: {:?}",
        killed.trigger, killed.phases
    );
    assert_killed_in(&killed, phase);
    assert_eq!(
        bed.state()["launch_template_version"],
        "1",
        "the killed apply saved nothing"
    );

    let mut reapplies = 0;
    let last_apply = loop {
        reapplies += 1;
        let apply = bed.terraform_with_env(
            &["apply", "-auto-approve", "-no-color", "-input=false"],
            &env,
        );
        if apply.success() || reapplies == MAX_REAPPLIES {
            break apply;
        }
    };
    let plan = bed.terraform_with_env(
        &["plan", "-no-color", "-input=false", "-detailed-exitcode"],
        &env,
    );
    let convergence = killed.started.elapsed();
    let calls = local_aws().fault_stats_for(&key).unwrap().total_requests();
    let sampler = sampler.finish();
    let violations = bed.violations();
    Trial {
        bed,
        reapplies,
        last_apply,
        plan,
        convergence,
        calls,
        sampler,
        violations,
    }
}

impl Trial {
    fn converged(&self) -> bool {
        self.last_apply.success() && self.plan.code == 0
    }

    /// Outside breaches of the floor plus the local AWS's violations.
    fn violation_count(&self) -> u64 {
        (self.sampler.breaches.len() + self.violations.len()) as u64
    }

    #[allow(clippy::unwrap_used)] // see run_trial
    fn check(&self, scenario: &str, path: Path, expected_reapplies: u32) {
        let bed = &self.bed;
        assert!(
            self.last_apply.success(),
            "{scenario}: no convergence in {MAX_REAPPLIES} re-applies\n{}\n{}",
            self.last_apply.stdout,
            self.last_apply.stderr
        );
        assert_eq!(
            self.plan.code, 0,
            "{scenario}: the plan after convergence is not clean\n{}\n{}",
            self.plan.stdout, self.plan.stderr
        );
        let state = bed.state();
        assert_eq!(state["launch_template_version"], "2", "{scenario}");
        assert_eq!(state["active_launch_template_version"], "2", "{scenario}");
        assert_eq!(state["last_rollout"]["status"], "succeeded", "{scenario}");
        let serving = state["active_asg_name"].as_str().unwrap().to_string();
        if path == Path::Forward {
            assert_eq!(
                serving,
                format!("{}-g2", bed.name),
                "{scenario}: the re-apply finished the killed rollout's generation"
            );
        }
        assert_eq!(
            bed.asg_names(),
            vec![serving],
            "{scenario}: only the serving generation's group is left"
        );
        assert!(
            self.sampler.breaches.is_empty(),
            "{scenario}: {:#?}",
            self.sampler.breaches
        );
        assert!(
            self.violations.is_empty(),
            "{scenario}: {:#?}",
            self.violations
        );
        assert_eq!(
            self.reapplies, expected_reapplies,
            "{scenario}: re-applies needed\n{}",
            self.last_apply.stderr
        );
    }
}

/// The figures of a phase's trials: calls and violations summed, the slowest convergence.
fn record(scenario: &str, trials: &[Trial]) -> Record {
    let mut reapplies: BTreeMap<u32, u32> = BTreeMap::new();
    for trial in trials {
        *reapplies.entry(trial.reapplies).or_default() += 1;
    }
    let reapplies: Vec<String> = reapplies
        .iter()
        .map(|(count, times)| {
            if *times == 1 && trials.len() == 1 {
                count.to_string()
            } else {
                format!("{count} in {times} of {} trials", trials.len())
            }
        })
        .collect();
    let count = u32::try_from(trials.len()).unwrap_or(u32::MAX);
    Record {
        kills: count,
        trials: count,
        violations: trials.iter().map(Trial::violation_count).sum(),
        calls: trials.iter().map(|trial| trial.calls).sum(),
        convergence: trials
            .iter()
            .map(|trial| trial.convergence)
            .max()
            .unwrap_or_default(),
        converged: trials.iter().all(Trial::converged),
        notes: format!(
            "re-applies: {}{}",
            reapplies.join(", "),
            if trials.len() > 1 {
                " (convergence: the slowest trial)"
            } else {
                ""
            }
        ),
        ..Record::new("kill -9 at every phase", scenario)
    }
}

/// The kill answered the phase's first line, and the provider announced no later phase before
/// it died.
fn assert_killed_in(killed: &Killed, phase: &str) {
    assert_eq!(
        killed.phases.last().map(String::as_str),
        Some(phase),
        "the last phase the killed apply announced (kill on: {})\nphases: {:?}",
        killed.trigger,
        killed.phases
    );
}

#[test]
fn blue_green_killed_in_launching() {
    killed_in(
        "k9launch",
        Strategy::BlueGreen,
        "launching",
        Path::Forward,
        1,
    );
}

#[test]
fn blue_green_killed_in_waiting_for_healthy() {
    killed_in(
        "k9wait",
        Strategy::BlueGreen,
        "waiting_for_healthy",
        Path::Forward,
        1,
    );
}

#[test]
fn canary_killed_in_a_canary_step() {
    killed_in(
        "k9canary",
        Strategy::Canary,
        "canary_step 1",
        Path::Forward,
        1,
    );
}

#[test]
fn rolling_killed_in_a_rolling_batch() {
    killed_in(
        "k9roll",
        Strategy::Rolling,
        "rolling batch 2",
        Path::Forward,
        1,
    );
}

#[test]
fn blue_green_killed_in_detaching_old() {
    killed_in(
        "k9detach",
        Strategy::BlueGreen,
        "detaching_old",
        Path::Forward,
        1,
    );
}

#[test]
fn blue_green_killed_in_draining_old() {
    killed_in(
        "k9drain",
        Strategy::BlueGreen,
        "draining_old",
        Path::Forward,
        1,
    );
}

#[test]
fn blue_green_killed_in_deleting_old() {
    killed_in(
        "k9delete",
        Strategy::BlueGreen,
        "deleting_old",
        Path::Forward,
        1,
    );
}

/// The rollback's first phase: the new generation failed its health check; the re-apply
/// finishes the rollback (the apply reports it rolled back), the next one rolls out again.
#[test]
fn blue_green_killed_in_restoring_old() {
    killed_in(
        "k9restore",
        Strategy::BlueGreen,
        "restoring_old",
        Path::Rollback,
        2,
    );
}

/// The canary rollback of a generation that failed while it took traffic (the weights are
/// moved back first): the path resumed applies once dropped requests on.
#[test]
fn canary_failed_in_a_step_killed_in_restoring_old() {
    killed_in(
        "k9canback",
        Strategy::Canary,
        "restoring_old",
        Path::FailsInCanaryStep,
        2,
    );
}

#[test]
fn blue_green_killed_in_draining_new() {
    killed_in(
        "k9drainnew",
        Strategy::BlueGreen,
        "draining_new",
        Path::Rollback,
        2,
    );
}

/// The suite kills on the live timeline, so each event must reach the log once, when it
/// happens: a run logged its start's events (`phase: launching: …`) and then again with its
/// first step's.
#[test]
fn each_timeline_event_is_logged_once() {
    let bed = bed("k9log");
    bed.write_config(&Strategy::BlueGreen.config(&bed));
    let apply = bed.apply_logged(&[]);
    assert!(apply.success(), "{}\n{}", apply.stdout, apply.stderr);
    let phases: Vec<&str> = apply
        .stderr
        .lines()
        .filter_map(crate::common::kill::announced_phase)
        .map(|announced| announced.split(':').next().unwrap_or_default())
        .collect();
    assert_eq!(
        phases,
        [
            "launching",
            "waiting_for_healthy",
            "detaching_old",
            "draining_old",
            "deleting_old",
            "complete"
        ],
        "{}",
        apply.stderr
    );
}
