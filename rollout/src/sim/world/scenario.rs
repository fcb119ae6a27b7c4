//! What a simulation runs: the fleet's timings, the faults injected, the scenario.

use std::time::Duration;

use crate::spec::{LaunchTemplateRef, RolloutSpec};

/// How long things take in the simulated cloud.
#[derive(Debug, Clone, PartialEq)]
pub struct Timings {
    /// Launch → `InService` (registration), uniformly random in `boot_min..=boot_max`.
    pub boot_min: Duration,
    pub boot_max: Duration,
    /// `InService` → the application answers health checks, uniformly random up to this.
    pub app_start_max: Duration,
    pub health_check_interval: Duration,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    pub deregistration_delay: Duration,
    /// How long one request stays in flight.
    pub request_duration: Duration,
    /// Requests per virtual second per listener (each blue/green or rolling target group has
    /// its own listener; canary has one).
    pub requests_per_second: u32,
    /// A lifecycle hook's action completes (CompleteLifecycleAction) after a random time up
    /// to this; one that would complete after its heartbeat timeout times out with its
    /// default result instead.
    pub hook_completion_max: Duration,
    /// `TargetResponseTime` p99 of a healthy instance.
    pub p99_latency: Duration,
    /// Spread of each period's published p99: the period's p99 is the request-weighted p99 of
    /// its instances times a lognormal factor `exp(N(0, p99_noise))`, seeded per target group
    /// and period.
    pub p99_noise: f64,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            boot_min: Duration::from_secs(20),
            boot_max: Duration::from_secs(60),
            app_start_max: Duration::from_secs(15),
            health_check_interval: Duration::from_secs(10),
            healthy_threshold: 3,
            unhealthy_threshold: 2,
            deregistration_delay: Duration::from_secs(60),
            request_duration: Duration::from_secs(2),
            requests_per_second: 50,
            hook_completion_max: Duration::from_secs(60),
            p99_latency: Duration::from_millis(200),
            p99_noise: 0.05,
        }
    }
}

/// What goes wrong.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Probability that a new-generation instance never becomes healthy.
    pub never_healthy: f64,
    /// Every new-generation instance fails its health checks (a bad release).
    pub bad_release: bool,
    /// Probability that a new instance flaps unhealthy once, shortly after becoming healthy.
    pub flap: f64,
    /// Probability that a command fails (throttling / 5xx) and has no effect.
    pub api_failure: f64,
    /// A successful command takes effect after a random delay up to this.
    pub consistency_delay_max: Duration,
    /// Reads may be served by a replica that lags up to this long: each part of an
    /// observation (the Auto Scaling view, each target group's health, the listener) is
    /// independently the state an earlier read within this window returned. Zero: fresh.
    pub stale_read_max: Duration,
    /// Every canary alarm goes into ALARM this long after the start.
    pub alarm_at: Option<Duration>,
    /// Share of the new generation's responses that are 5xx.
    pub new_5xx_ratio: f64,
    /// [`Faults::new_5xx_ratio`] applies from this long after the start on (`None`: from the
    /// start): a release that goes bad later, e.g. during a bake.
    pub new_5xx_from: Option<Duration>,
    /// The new generation answers this many times slower (its p99 is this multiple of a
    /// healthy instance's); `None`: as fast as the old one.
    pub new_latency_factor: Option<f64>,
    /// Canary: the share of the traffic its weight promises that the new generation's target
    /// group actually receives (a rule in front of the weighted one routes the rest to the
    /// stable group); `Some(0.0)`: no traffic at all. `None`: all of it.
    pub canary_traffic_share: Option<f64>,
    /// The old generation's p99 noise (see [`Timings::p99_noise`]) instead of the timings' one:
    /// a noisy stable baseline.
    pub stable_p99_noise: Option<f64>,
    /// Share of every instance's responses that are 5xx, old and new (a baseline error rate;
    /// the new generation adds [`Faults::new_5xx_ratio`]).
    pub baseline_5xx_ratio: f64,
    /// Every bake alarm (`bake.alarm_names`) goes into ALARM this long after the start.
    pub bake_alarm_at: Option<Duration>,
    /// Every alarm (canary and bake) not in ALARM reads `INSUFFICIENT_DATA` (its metric has
    /// no datapoints: a quiet service, or an alarm on the wrong dimension).
    pub alarms_without_data: bool,
    /// Every `zdd:phase` write fails (a policy without `autoscaling:CreateOrUpdateTags` on
    /// that key, say): the record is information, so the rollout must not notice.
    pub phase_tag_failure: bool,
}

impl Faults {
    /// Throttling in the hostile mix: the share of calls AWS refuses with its throttling error.
    pub const HOSTILE_THROTTLING: f64 = 0.2;
    /// 5xx in the hostile mix: the share of calls failing with an internal error.
    pub const HOSTILE_SERVER_ERRORS: f64 = 0.02;
    /// Stale reads in the hostile mix: how far a read may lag behind the writes.
    pub const HOSTILE_STALE_READ_MAX: Duration = Duration::from_secs(10);
    /// Network latency in the hostile mix, added to every call by the local AWS. The
    /// simulator's calls take no time, so it has no field for it: only the local AWS applies it.
    pub const HOSTILE_LATENCY: Duration = Duration::from_millis(200);

    /// The hostile mix of issue 15 ("rollouts under faults"), written once for both worlds: a
    /// call fails 22 % of the time (20 % throttling + 2 % 5xx, which the simulator does not tell
    /// apart: a failed command has no effect) and reads lag up to 10 s. The end-to-end suite
    /// turns it into the local AWS's `hostile` preset by the same names (`api_failure`,
    /// `stale_read_max`), plus [`Faults::HOSTILE_LATENCY`].
    pub fn hostile() -> Faults {
        Faults {
            api_failure: Faults::HOSTILE_THROTTLING + Faults::HOSTILE_SERVER_ERRORS,
            stale_read_max: Faults::HOSTILE_STALE_READ_MAX,
            ..Faults::default()
        }
    }

    /// No fault that should make a rollout fail (API errors and delays are allowed: the
    /// engine must absorb them).
    pub fn is_benign(&self) -> bool {
        self.never_healthy == 0.0
            && !self.bad_release
            && self.flap == 0.0
            && self.alarm_at.is_none()
            && self.new_5xx_ratio == 0.0
            && self.new_latency_factor.is_none_or(|f| f <= 1.0)
            && self.canary_traffic_share.is_none()
            && self.bake_alarm_at.is_none()
            && !self.alarms_without_data
    }
}

/// One simulated situation.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub seed: u64,
    /// The configuration being applied.
    pub spec: RolloutSpec,
    /// `Some`: generation 1 serves this launch template at the start (an update);
    /// `None`: nothing exists yet (a create).
    pub previous: Option<LaunchTemplateRef>,
    pub timings: Timings,
    pub faults: Faults,
    /// Give up (and report a violation) after this much virtual time.
    pub max_duration: Duration,
    /// Destroy instead of roll out.
    pub teardown: bool,
    /// Desired capacity generation 1 runs at the start (`None`: the spec's). With `previous`
    /// equal to the spec's launch template this is a scale in place.
    pub previous_desired: Option<u32>,
    /// Health check and lifecycle hooks generation 1 has at the start (`None`: the spec's),
    /// e.g. a fleet created before they were configured.
    pub previous_settings: Option<(
        crate::spec::GroupHealthCheck,
        Vec<crate::spec::LifecycleHook>,
    )>,
    /// Groups scaling themselves, as their target-tracking policies would.
    pub scaling: Vec<ScalingEvent>,
}

/// Which group a [`ScalingEvent`] acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalingGroup {
    /// The group that served at the start (generation 1), while it exists.
    Serving,
    /// The newest generation while it is not the one that served at the start (its own
    /// policy, e.g. scaling an idle group in to `min_size` before it takes traffic).
    New,
}

/// "Group X scales itself to `desired` at `at`": what an alarm of a target-tracking policy
/// does. It lands only while the group has a scaling policy and its `AlarmNotification`
/// process runs, clamped to the group's sizes; otherwise it is lost (as an alarm action on a
/// suspended process is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScalingEvent {
    /// From the start of the scenario.
    pub at: Duration,
    pub group: ScalingGroup,
    pub desired: u32,
}
