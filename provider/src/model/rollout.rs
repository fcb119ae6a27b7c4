//! The `zdd_rollout` resource's configuration and state. Field names are the Terraform
//! attribute names; users and their modules depend on them.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zdd_rollout::RawSpec;
use zdd_rollout::observation::Owner;
use zdd_rollout::spec::defaults::{
    DEFAULT_HEALTH_TIMEOUT, DEFAULT_HOOK_HEARTBEAT_TIMEOUT, DEFAULT_ROLLBACK_ON_FAILURE,
    DEFAULT_STRATEGY,
};

use super::attributes::{DEFAULT_CREATE_TIMEOUT, DEFAULT_DELETE_TIMEOUT, DEFAULT_UPDATE_TIMEOUT};
use super::duration::parse_duration;

/// The resource's state, typed: the engine's raw input (the configuration attributes, one
/// `RawSpec` field each) plus what only Terraform has (`timeouts`) and the computed attributes.
/// What each attribute is and does is the attribute table's (`model::attributes`); a test keeps
/// the two in step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RolloutModel {
    #[serde(flatten)]
    pub spec: RawSpec,
    pub timeouts: Option<TimeoutsConfig>,
    /// Computed: equal to `name`.
    pub id: Option<String>,
    /// Computed: the generation serving traffic (1 after create, +1 per rollout).
    pub generation: Option<i64>,
    /// Computed: `<name>-g<generation>`, or null when Read finds it gone (drift).
    pub active_asg_name: Option<String>,
    /// Computed: the launch template version the active generation runs, as AWS reports it.
    pub active_launch_template_version: Option<String>,
    /// Computed: the serving group's desired capacity as AWS reports it.
    pub current_capacity: Option<i64>,
    /// Computed: the timeline of the last rollout.
    pub last_rollout: Option<LastRollout>,
    /// Computed: the fleet's owner id, fixed at create and tagged `zdd:owner` on every
    /// generation's group; `None` in a state from before owner ids (adopted on the next apply).
    pub owner_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeoutsConfig {
    pub create: Option<String>,
    pub update: Option<String>,
    pub delete: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRollout {
    /// one of `driver::timeline::STATUSES` (`succeeded`, `rolled_back`, `failed`, `interrupted`).
    pub status: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    pub finished_at: Option<String>,
    pub steps: Vec<TimelineStep>,
    /// Health and weight over the run, recorded on change and bounded
    /// ([`zdd_events::MAX_SAMPLES`]); absent in a state from before they were recorded.
    #[serde(default)]
    pub samples: Option<Vec<zdd_events::Sample>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineStep {
    /// RFC 3339 UTC.
    pub at: String,
    /// A short verb: `create_asg`, `attach`, `wait_healthy`, `set_weights`, `detach`, ...
    pub action: String,
    pub detail: String,
}

/// The owner id a fleet from before owner ids (or imported from untagged groups) adopts its
/// groups under. Derived from the name, not random, so an apply killed after it tagged the
/// groups but before Terraform saved the state finds them again as its own.
pub fn adopted_owner_id(name: &str) -> String {
    // FNV-1a: stable across builds and platforms (std's hashers are not).
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("adopted-{hash:016x}")
}

/// The Terraform operation a run serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    BlueGreen,
    Rolling,
    Canary,
}

impl Strategy {
    pub const ALL: [Strategy; 3] = [Strategy::BlueGreen, Strategy::Rolling, Strategy::Canary];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::BlueGreen => "blue_green",
            Strategy::Rolling => "rolling",
            Strategy::Canary => "canary",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Strategy {
    type Err = String;
    fn from_str(text: &str) -> Result<Strategy, String> {
        Strategy::ALL
            .into_iter()
            .find(|strategy| strategy.as_str() == text)
            .ok_or_else(|| {
                format!("unknown strategy {text:?}: expected one of \"blue_green\", \"rolling\", \"canary\"")
            })
    }
}

impl RolloutModel {
    /// Whose groups this fleet's are: its owner id, or for a state from before owner ids the
    /// id it adopts its groups under (groups without an owner tag are claimed too).
    pub fn owner(&self) -> Owner {
        match &self.owner_id {
            Some(id) => Owner::new(id.clone()),
            None => Owner {
                id: Some(adopted_owner_id(&self.spec.name)),
                adopt_unowned: true,
            },
        }
    }

    pub fn strategy_or_default(&self) -> Result<Strategy, String> {
        self.spec
            .strategy
            .as_deref()
            .unwrap_or(DEFAULT_STRATEGY)
            .parse()
    }

    /// How long `operation` may run: the `timeouts` block's value, or the table's default plus
    /// the time lifecycle hooks may hold it up ([`RolloutModel::hook_time`]; an unreadable
    /// value never gets this far: validation refuses it).
    pub fn timeout(&self, operation: Operation) -> Duration {
        match self.configured_timeout(operation) {
            Some(configured) => configured,
            None => default_timeout(operation) + self.hook_time(operation),
        }
    }

    /// The `timeouts` block's value for `operation`, when set and readable.
    pub fn configured_timeout(&self, operation: Operation) -> Option<Duration> {
        let timeouts = self.timeouts.as_ref()?;
        let configured = match operation {
            Operation::Create => &timeouts.create,
            Operation::Update => &timeouts.update,
            Operation::Delete => &timeouts.delete,
        };
        configured
            .as_deref()
            .and_then(|text| parse_duration(text).ok())
    }

    /// The longest a hook of `transition` (`"launching"` or `"terminating"`) may hold an
    /// instance (its heartbeat timeout); zero without one. Read from the configuration as
    /// written (with the engine's defaults) so that a plan can judge it before the whole spec
    /// is valid.
    fn longest_hook(&self, transition: &str) -> Duration {
        self.spec
            .lifecycle_hooks
            .iter()
            .flatten()
            .filter(|hook| hook.transition == transition)
            .map(|hook| match hook.heartbeat_timeout.as_deref() {
                None => DEFAULT_HOOK_HEARTBEAT_TIMEOUT,
                Some(text) => parse_duration(text).unwrap_or_default(),
            })
            .max()
            .unwrap_or_default()
    }

    /// What lifecycle hooks may add to `operation`: a rollout (and a create, whose failure
    /// rolls back through the same hooks) waits for health up to `health_timeout` plus the
    /// longest launching hook (the engine's health window), and for its retiring generation
    /// up to the longest terminating hook; a delete only for the latter.
    pub fn hook_time(&self, operation: Operation) -> Duration {
        let terminating = self.longest_hook("terminating");
        match operation {
            Operation::Create | Operation::Update => self.longest_hook("launching") + terminating,
            Operation::Delete => terminating,
        }
    }

    /// `health_timeout` as the engine applies it.
    pub fn health_timeout_or_default(&self) -> Duration {
        self.spec
            .health_timeout
            .as_deref()
            .and_then(|text| parse_duration(text).ok())
            .unwrap_or(DEFAULT_HEALTH_TIMEOUT)
    }

    /// The least time `operation` needs when hooks may hold it up: `health_timeout` plus the
    /// hook time for a create or update, the hook time for a delete. `None` without a hook
    /// that applies: the defaults cover the rest.
    pub fn hook_bound_minimum(&self, operation: Operation) -> Option<Duration> {
        let hooks = self.hook_time(operation);
        if hooks.is_zero() {
            return None;
        }
        Some(match operation {
            Operation::Create | Operation::Update => self.health_timeout_or_default() + hooks,
            Operation::Delete => hooks,
        })
    }

    /// `rollback_on_failure` as the engine applies it.
    pub fn rollback_on_failure_or_default(&self) -> bool {
        self.spec
            .rollback_on_failure
            .unwrap_or(DEFAULT_ROLLBACK_ON_FAILURE)
    }
}

/// `timeouts.<operation>` when omitted, before hook time is added.
pub fn default_timeout(operation: Operation) -> Duration {
    match operation {
        Operation::Create => DEFAULT_CREATE_TIMEOUT,
        Operation::Update => DEFAULT_UPDATE_TIMEOUT,
        Operation::Delete => DEFAULT_DELETE_TIMEOUT,
    }
}

/// A rollout at generation 4, as state after a successful apply: the shared sample of the
/// model's unit tests.
#[cfg(test)]
pub(crate) fn sample_applied() -> RolloutModel {
    RolloutModel {
        spec: RawSpec {
            name: "web".into(),
            launch_template_id: "lt-0abc".into(),
            launch_template_version: "7".into(),
            subnet_ids: vec!["subnet-a".into()],
            target_group_arns: Some(vec!["arn:tg".into()]),
            min_size: 2,
            max_size: 6,
            desired_capacity: 3,
            ..RawSpec::default()
        },
        id: Some("web".into()),
        generation: Some(4),
        active_asg_name: Some("web-g4".into()),
        active_launch_template_version: Some("7".into()),
        current_capacity: Some(3),
        ..RolloutModel::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_rollout_reads_without_samples_and_keeps_them_when_recorded() {
        let before = r#"{"status":"succeeded","started_at":"2026-12-01T10:00:00Z","finished_at":null,"steps":[]}"#;
        let last: LastRollout = serde_json::from_str(before).unwrap();
        assert_eq!(last.samples, None, "a state from before samples");
        let null = before.replace(r#""steps":[]"#, r#""steps":[],"samples":null"#);
        assert_eq!(
            serde_json::from_str::<LastRollout>(&null).unwrap().samples,
            None
        );
        let recorded = before.replace(
            r#""steps":[]"#,
            r#""steps":[],"samples":[{"at":"2026-12-01T10:00:00Z","healthy_new":0,"healthy_old":3,"weight_new":null},{"at":"2026-12-01T10:01:00Z","healthy_new":3,"healthy_old":3,"weight_new":25}]"#,
        );
        let last: LastRollout = serde_json::from_str(&recorded).unwrap();
        let samples = last.samples.clone().unwrap();
        assert_eq!(
            (samples[1].healthy_new, samples[1].weight_new),
            (3, Some(25))
        );
        let again: LastRollout =
            serde_json::from_value(serde_json::to_value(&last).unwrap()).unwrap();
        assert_eq!(again, last);
    }

    #[test]
    fn a_state_without_owner_adopts_untagged_groups_under_a_stable_id() {
        let legacy = RolloutModel {
            spec: RawSpec {
                name: "web".into(),
                ..RawSpec::default()
            },
            ..RolloutModel::default()
        };
        let owner = legacy.owner();
        assert!(owner.adopt_unowned);
        assert_eq!(owner.id, Some(adopted_owner_id("web")));
        assert_eq!(adopted_owner_id("web"), adopted_owner_id("web"));
        assert_ne!(adopted_owner_id("web"), adopted_owner_id("api"));
        let owned = RolloutModel {
            owner_id: Some("o-1".into()),
            ..legacy
        };
        assert_eq!(owned.owner(), Owner::new("o-1"));
    }

    #[test]
    fn strategies_parse_and_print() {
        for strategy in Strategy::ALL {
            assert_eq!(strategy.as_str().parse::<Strategy>(), Ok(strategy));
        }
        assert!(
            "blue-green"
                .parse::<Strategy>()
                .unwrap_err()
                .contains("unknown strategy")
        );
    }

    #[test]
    fn each_operation_runs_for_its_configured_timeout_or_the_documented_default() {
        let mut model = sample_applied();
        assert_eq!(model.timeout(Operation::Create), DEFAULT_CREATE_TIMEOUT);
        assert_eq!(model.timeout(Operation::Update), DEFAULT_UPDATE_TIMEOUT);
        assert_eq!(model.timeout(Operation::Delete), DEFAULT_DELETE_TIMEOUT);
        model.timeouts = Some(TimeoutsConfig {
            update: Some("90m".into()),
            ..TimeoutsConfig::default()
        });
        assert_eq!(
            model.timeout(Operation::Update),
            Duration::from_secs(90 * 60)
        );
        assert_eq!(model.timeout(Operation::Create), DEFAULT_CREATE_TIMEOUT);
    }

    /// Instances may wait in `Pending:Wait` (the engine's health window grows by it) and in
    /// `Terminating:Wait` for their hooks' heartbeat timeouts: the defaults grow by both.
    #[test]
    fn omitted_timeouts_grow_by_the_hooks_time() {
        let hook = |name: &str, transition: &str, heartbeat: Option<&str>| {
            zdd_rollout::spec::RawLifecycleHook {
                name: name.into(),
                transition: transition.into(),
                heartbeat_timeout: heartbeat.map(str::to_string),
                default_result: None,
            }
        };
        let minutes = |m: u64| Duration::from_secs(m * 60);
        let mut model = sample_applied();
        model.spec.lifecycle_hooks = Some(vec![
            hook("drain", "terminating", Some("5m")),
            hook("flush", "terminating", Some("10m")),
            hook("warm", "launching", Some("20m")),
        ]);
        assert_eq!(model.hook_time(Operation::Update), minutes(30));
        assert_eq!(model.hook_time(Operation::Delete), minutes(10));
        assert_eq!(
            model.timeout(Operation::Update),
            DEFAULT_UPDATE_TIMEOUT + minutes(30)
        );
        assert_eq!(
            model.timeout(Operation::Create),
            DEFAULT_CREATE_TIMEOUT + minutes(30)
        );
        assert_eq!(
            model.timeout(Operation::Delete),
            DEFAULT_DELETE_TIMEOUT + minutes(10)
        );
        assert_eq!(
            model.hook_bound_minimum(Operation::Update),
            Some(DEFAULT_HEALTH_TIMEOUT + minutes(30))
        );
        assert_eq!(
            model.hook_bound_minimum(Operation::Delete),
            Some(minutes(10))
        );
        // The engine's default heartbeat (an hour) when omitted.
        model.spec.lifecycle_hooks = Some(vec![hook("drain", "terminating", None)]);
        assert_eq!(
            model.hook_time(Operation::Delete),
            DEFAULT_HOOK_HEARTBEAT_TIMEOUT
        );
        // A configured timeout is the user's, whatever the hooks.
        model.timeouts = Some(TimeoutsConfig {
            delete: Some("15m".into()),
            ..TimeoutsConfig::default()
        });
        assert_eq!(model.timeout(Operation::Delete), minutes(15));
        // A launching hook alone holds up no delete.
        model.spec.lifecycle_hooks = Some(vec![hook("warm", "launching", None)]);
        assert_eq!(model.hook_bound_minimum(Operation::Delete), None);
        model.spec.lifecycle_hooks = None;
        assert_eq!(model.hook_bound_minimum(Operation::Update), None);
    }
}
