//! The hostile world for the provider's end-to-end tests: the simulator's `Faults` as the local
//! AWS's preset by the shared names, faults scoped to one provider process by its own access
//! key (so its calls, and only its calls, meet them on the shared local AWS, and
//! `fault_stats_for` counts them alone), the strategies' configurations, and one rollout from
//! generation 1 to 2 run under faults and measured.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use zdd_rollout::sim::Faults;
use zdd_test_support::{FaultRule, FaultStats, Record, TfOutput, local_aws};

use super::{Bed, Config, Sampler, SamplerReport, bed};

/// The local AWS's preset request for `faults`, by the names both worlds share
/// (`api_failure`, `stale_read_max`), plus the network latency only the local AWS adds, for
/// the calls signed with `access_key_id`.
///
/// A simulator duration is on the engine's clock (the simulator has one clock); here the
/// engine runs on the wall clock and the local AWS's model `time_scale` times faster, and the
/// preset reads `stale_read_max` on the model's clock. So it is divided by the time scale:
/// reads lag up to 10 s of the engine's clock in both worlds (200 model seconds at 0.05).
/// Taken on the model's clock instead, the window would last 0.5 s, shorter than the engine's
/// own look 1 s after a command: measured, only the read inside the group's creation met it
/// (0 or 1 stale reads per rollout, against 9 to 14).
///
/// # Panics
/// On a fault of the simulator the local AWS has no rule for (late writes, instance health,
/// alarms): a scenario written once must mean the same in both worlds.
pub fn preset_request(faults: &Faults, seed: u64, access_key_id: &str) -> Value {
    let expressible = Faults {
        api_failure: 0.0,
        stale_read_max: Duration::ZERO,
        ..faults.clone()
    };
    assert_eq!(
        expressible,
        Faults::default(),
        "the local AWS's preset has api_failure and stale_read_max only: {faults:?}"
    );
    json!({
        "name": "hostile",
        "seed": seed,
        "access_key_id": access_key_id,
        "api_failure": faults.api_failure,
        "stale_read_max": faults.stale_read_max.as_secs_f64() / local_aws().time_scale(),
        "latency_ms": Faults::HOSTILE_LATENCY.as_secs_f64() * 1000.0,
    })
}

/// `faults` in words, for a record and a failure message.
pub fn describe(faults: &Faults, seed: u64) -> String {
    let share = faults.api_failure / (Faults::HOSTILE_THROTTLING + Faults::HOSTILE_SERVER_ERRORS);
    format!(
        "{:.0} % throttling, {:.0} % 5xx, {} ms latency, {} s stale reads, seed {seed}",
        100.0 * Faults::HOSTILE_THROTTLING * share,
        100.0 * Faults::HOSTILE_SERVER_ERRORS * share,
        Faults::HOSTILE_LATENCY.as_millis(),
        faults.stale_read_max.as_secs_f64(),
    )
}

/// An access key of its own for one provider process (moto accepts any key).
pub fn access_key_for(tag: &str, seed: u64) -> String {
    format!("AKIDZDD{}{seed}", tag.to_ascii_uppercase())
}

/// Fault rules installed on the shared local AWS, cleared when dropped however the test ends.
pub struct InstalledFaults {
    ids: Vec<String>,
}

impl InstalledFaults {
    pub fn preset(request: &Value) -> InstalledFaults {
        let rules = local_aws()
            .install_preset(request)
            .unwrap_or_else(|error| panic!("installing the preset {request}: {error:#}"));
        InstalledFaults {
            ids: rules
                .iter()
                .filter_map(|rule| rule["id"].as_str().map(str::to_string))
                .collect(),
        }
    }

    pub fn rules(rules: &[FaultRule]) -> InstalledFaults {
        InstalledFaults {
            ids: rules
                .iter()
                .map(|rule| {
                    local_aws()
                        .add_fault_rule(rule)
                        .unwrap_or_else(|error| panic!("adding {rule:?}: {error:#}"))
                })
                .collect(),
        }
    }

    /// The installed rules as the local AWS lists them (with `hits`).
    pub fn listed(&self) -> Vec<Value> {
        local_aws()
            .faults()
            .unwrap()
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|rule| {
                rule["id"]
                    .as_str()
                    .is_some_and(|id| self.ids.iter().any(|mine| mine == id))
            })
            .collect()
    }
}

impl Drop for InstalledFaults {
    fn drop(&mut self) {
        for id in &self.ids {
            let _ = local_aws().clear_faults(Some(id));
        }
    }
}

/// The three strategies, configured as the calm end-to-end tests configure them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    BlueGreen,
    Rolling,
    Canary,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::BlueGreen => "blue_green",
            Strategy::Rolling => "rolling",
            Strategy::Canary => "canary",
        }
    }

    /// Generation 1's configuration: 2 instances, an update bounded to `update` minutes (a
    /// rollout that does not converge fails the test in minutes, not after 30).
    pub fn config(self, bed: &Bed, update_minutes: u32) -> Config {
        let mut config = Config::new(bed);
        let timeouts = format!("timeouts {{\n    update = \"{update_minutes}m\"\n  }}");
        config.extra = match self {
            Strategy::BlueGreen => vec![timeouts],
            Strategy::Rolling => {
                config.max = 3;
                vec![
                    "strategy = \"rolling\"".into(),
                    "batch_size = 1".into(),
                    timeouts,
                ]
            }
            Strategy::Canary => {
                // No traffic and no evidence asked for: these tests are about kills and AWS
                // faults, not the canary analysis (which would extend each soak up to
                // max_soak waiting for requests).
                config.target_group_arns = None;
                vec![
                    "strategy = \"canary\"".into(),
                    format!(
                        "canary = {{\n    listener_arn = {:?}\n    stable_target_group_arn = {:?}\n    canary_target_group_arn = {:?}\n    steps = [{{ weight = 20, soak = \"1s\" }}, {{ weight = 100, soak = \"0s\" }}]\n    min_requests = 0\n  }}",
                        bed.fixture.listener_arn,
                        bed.blue(),
                        bed.green()
                    ),
                    timeouts,
                ]
            }
        };
        config
    }

    /// Watches the capacity floor (2 serving healthy targets) from outside.
    pub fn sampler(self, bed: &Bed) -> Sampler {
        match self {
            Strategy::Canary => Sampler::start(
                bed,
                vec![bed.blue().to_string(), bed.green().to_string()],
                2,
                Some(bed.fixture.listener_arn.clone()),
            ),
            _ => Sampler::start(bed, vec![bed.blue().to_string()], 2, None),
        }
    }
}

/// What one rollout under faults did and saw.
pub struct Trial {
    pub bed: Bed,
    pub strategy: Strategy,
    /// Says how to replay the trial; every failure message starts with it.
    pub replay: String,
    pub apply: TfOutput,
    /// The plan after the apply, `-detailed-exitcode`, under the same faults.
    pub plan: TfOutput,
    /// The provider's calls during the apply (its own access key only).
    pub apply_stats: FaultStats,
    /// ... and during the following plan's refresh.
    pub plan_stats: FaultStats,
    pub sampler: SamplerReport,
    /// From the update's start to the end of the clean plan.
    pub convergence: Duration,
}

/// Creates generation 1 calmly, then rolls out generation 2 with the provider's calls under
/// `faults` (`extra_rules` besides, e.g. lost responses), then plans again under the same
/// faults.
pub fn run_trial(
    strategy: Strategy,
    prefix: &str,
    seed: u64,
    faults: &Faults,
    extra_rules: impl Fn(&Bed, &str) -> Vec<FaultRule>,
) -> Trial {
    run_trial_with(strategy, &[], prefix, seed, faults, extra_rules)
}

/// [`run_trial`] with more attribute lines in the configuration (e.g. `target_tracking`).
pub fn run_trial_with(
    strategy: Strategy,
    extra_config: &[&str],
    prefix: &str,
    seed: u64,
    faults: &Faults,
    extra_rules: impl Fn(&Bed, &str) -> Vec<FaultRule>,
) -> Trial {
    let bed = bed(prefix);
    let mut config = strategy.config(&bed, 8);
    config
        .extra
        .extend(extra_config.iter().map(|line| (*line).to_string()));
    bed.write_config(&config);
    bed.apply_ok();

    let key = access_key_for(prefix, seed);
    let replay = format!(
        "{} rollout under faults ({}; the provider signs with {key}; the rules are seeded, so \
         a run with the same seed meets the same draws, in the order its calls come)",
        strategy.name(),
        describe(faults, seed),
    );
    config.version = "2".into();
    bed.write_config(&config);
    let with_key = [("AWS_ACCESS_KEY_ID", key.as_str())];
    let preset = InstalledFaults::preset(&preset_request(faults, seed, &key));
    let rules = InstalledFaults::rules(&extra_rules(&bed, &key));
    let sampler = strategy.sampler(&bed);
    let started = Instant::now();
    let apply = bed.terraform_with_env(
        &["apply", "-auto-approve", "-no-color", "-input=false"],
        &with_key,
    );
    let apply_stats = local_aws().fault_stats_for(&key).unwrap();
    let plan = bed.terraform_with_env(
        &["plan", "-no-color", "-input=false", "-detailed-exitcode"],
        &with_key,
    );
    let convergence = started.elapsed();
    let all_stats = local_aws().fault_stats_for(&key).unwrap();
    drop(rules);
    drop(preset);
    let sampler = sampler.finish();
    Trial {
        bed,
        strategy,
        replay,
        apply,
        plan,
        plan_stats: difference(&all_stats, &apply_stats),
        apply_stats,
        sampler,
        convergence,
    }
}

/// `later` minus `earlier`, call by call.
fn difference(later: &FaultStats, earlier: &FaultStats) -> FaultStats {
    let mut stats = later.clone();
    for (call, counts) in &mut stats.calls {
        if let Some(before) = earlier.calls.get(call) {
            counts.requests -= before.requests;
            for (kind, times) in &mut counts.faults {
                *times -= before.faults.get(kind).copied().unwrap_or(0);
            }
        }
    }
    stats
}

impl Trial {
    /// Faults injected into the apply's calls that make a call fail or lie (not the latency
    /// every call gets).
    pub fn faults_injected(&self) -> u64 {
        self.apply_stats
            .faults_by_kind()
            .iter()
            .filter(|(kind, _)| kind.as_str() != "latency")
            .map(|(_, times)| times)
            .sum()
    }

    /// Whether the apply succeeded, the plan is clean and generation 2 alone serves.
    pub fn converged(&self) -> bool {
        self.apply.success()
            && self.plan.code == 0
            && self.bed.asg_names() == vec![format!("{}-g2", self.bed.name)]
    }

    /// The trial as the suite's record ("rollouts under faults", one per strategy).
    pub fn record(&self, faults: &Faults, seed: u64) -> Record {
        let kinds: Vec<String> = self
            .apply_stats
            .faults_by_kind()
            .iter()
            .map(|(kind, times)| format!("{kind} {times}"))
            .collect();
        Record {
            faults: describe(faults, seed),
            violations: self.bed.violations().len() as u64 + self.sampler.breaches.len() as u64,
            calls: self.apply_stats.total_requests(),
            faults_injected: self.faults_injected(),
            convergence: self.convergence,
            converged: self.converged(),
            notes: format!(
                "apply: {} calls (autoscaling {}, elasticloadbalancing {}, monitoring {}), \
                 injected {}; the plan after it: {} calls, {} faults",
                self.apply_stats.total_requests(),
                self.apply_stats.service_requests("autoscaling"),
                self.apply_stats.service_requests("elasticloadbalancing"),
                self.apply_stats.service_requests("monitoring"),
                kinds.join(", "),
                self.plan_stats.total_requests(),
                self.plan_stats
                    .faults_by_kind()
                    .iter()
                    .filter(|(kind, _)| kind.as_str() != "latency")
                    .map(|(_, times)| times)
                    .sum::<u64>(),
            ),
            ..Record::new("rollouts under faults", self.strategy.name())
        }
    }

    /// Every check of a converged rollout: the apply succeeded at generation 2, the plan after
    /// it is clean, only generation 2's group is left, with one attachment per target group
    /// and exactly its own instances registered, no violation, the floor held throughout.
    pub fn assert_converged(&self) {
        let replay = &self.replay;
        assert!(
            self.apply.success(),
            "{replay}: the apply failed\n{}\n{}",
            self.apply.stdout,
            self.apply.stderr
        );
        assert_eq!(
            self.plan.code, 0,
            "{replay}: the plan after the apply is not clean\n{}\n{}",
            self.plan.stdout, self.plan.stderr
        );
        let state = self.bed.state();
        assert_eq!(state["generation"], 2, "{replay}: {state}");
        assert_eq!(state["active_launch_template_version"], "2", "{replay}");
        assert_eq!(state["last_rollout"]["status"], "succeeded", "{replay}");
        let serving = format!("{}-g2", self.bed.name);
        assert_eq!(
            self.bed.asg_names(),
            vec![serving.clone()],
            "{replay}: a group other than generation 2's is left"
        );
        self.assert_registered_alone(&serving);
        let violations = self.bed.violations();
        assert!(violations.is_empty(), "{replay}: {violations:#?}");
        assert!(
            self.sampler.breaches.is_empty(),
            "{replay}: {:#?}",
            self.sampler.breaches
        );
        assert!(self.sampler.samples > 10, "{replay}: {:?}", self.sampler);
    }

    /// The group is attached once to each target group it serves, and the targets registered
    /// there are its instances and no other (an instance of a group created twice would stay).
    fn assert_registered_alone(&self, group: &str) {
        let replay = &self.replay;
        let (attached, instances) = self.bed.attachments_of(group);
        let mut unique = attached.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            attached.len(),
            "{replay}: {group} attached twice: {attached:?}"
        );
        let serving_group = match self.strategy {
            Strategy::Canary => self.bed.green().to_string(),
            _ => self.bed.blue().to_string(),
        };
        let serving_group = if attached.contains(&serving_group) {
            serving_group
        } else {
            attached
                .first()
                .cloned()
                .unwrap_or_else(|| panic!("{replay}: {group} is attached to nothing"))
        };
        let mut registered = self.bed.registered_in(&serving_group);
        registered.sort();
        let mut expected = instances;
        expected.sort();
        assert_eq!(
            registered, expected,
            "{replay}: the targets of {serving_group} are not {group}'s instances"
        );
    }
}

impl Bed {
    /// A group's attached target groups (as AWS lists them, duplicates kept) and instances.
    pub fn attachments_of(&self, group: &str) -> (Vec<String>, Vec<String>) {
        let autoscaling = aws_sdk_autoscaling::Client::new(&self.sdk);
        let group = group.to_string();
        self.runtime.block_on(async move {
            let answer = autoscaling
                .describe_auto_scaling_groups()
                .auto_scaling_group_names(&group)
                .send()
                .await
                .unwrap();
            let found = answer
                .auto_scaling_groups()
                .first()
                .unwrap_or_else(|| panic!("{group} not found"));
            (
                found.target_group_arns().to_vec(),
                found
                    .instances()
                    .iter()
                    .filter_map(|instance| instance.instance_id().map(str::to_string))
                    .collect(),
            )
        })
    }

    /// The targets registered in a target group (any state but gone).
    pub fn registered_in(&self, target_group_arn: &str) -> Vec<String> {
        let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&self.sdk);
        let arn = target_group_arn.to_string();
        self.runtime.block_on(async move {
            elbv2
                .describe_target_health()
                .target_group_arn(&arn)
                .send()
                .await
                .unwrap()
                .target_health_descriptions()
                .iter()
                .filter_map(|description| description.target().and_then(|t| t.id()))
                .map(str::to_string)
                .collect()
        })
    }
}
