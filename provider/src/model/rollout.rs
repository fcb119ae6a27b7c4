//! The `zdd_rollout` resource's configuration and state. Field names are the Terraform
//! attribute names; users and their modules depend on them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use zdd_rollout::observation::Owner;

/// Configuration plus computed attributes: the resource's state. Optional attributes are
/// `Option`; the resource layer fills `None` for null (and treats unknown as not yet known).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RolloutModel {
    /// Computed: equal to `name`.
    pub id: Option<String>,
    pub name: String,
    pub launch_template_id: String,
    pub launch_template_version: String,
    pub subnet_ids: Vec<String>,
    pub target_group_arns: Option<Vec<String>>,
    pub min_size: i64,
    pub max_size: i64,
    pub desired_capacity: i64,
    /// `blue_green` (default), `rolling` or `canary`.
    pub strategy: Option<String>,
    pub min_healthy_percent: Option<i64>,
    pub batch_size: Option<i64>,
    pub canary: Option<CanaryConfig>,
    pub health_timeout: Option<String>,
    pub rollback_on_failure: Option<bool>,
    pub tags: Option<BTreeMap<String, String>>,
    pub timeouts: Option<TimeoutsConfig>,

    /// Computed: the generation serving traffic (1 after create, +1 per rollout).
    pub generation: Option<i64>,
    /// Computed: `<name>-g<generation>`, or null when Read finds it gone (drift).
    pub active_asg_name: Option<String>,
    /// Computed: the launch template version the active generation runs, as AWS reports it.
    pub active_launch_template_version: Option<String>,
    /// Computed: the timeline of the last rollout.
    pub last_rollout: Option<LastRollout>,
    /// Computed: the fleet's owner id, fixed at create and tagged `zdd:owner` on every
    /// generation's group; `None` in a state from before owner ids (adopted on the next apply).
    #[serde(default)]
    pub owner_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CanaryConfig {
    pub listener_arn: String,
    pub stable_target_group_arn: String,
    pub canary_target_group_arn: String,
    /// Default: 5, 25, 50, 100 % with a 5 minute soak each (none after 100).
    pub steps: Option<Vec<CanaryStepConfig>>,
    pub alarm_names: Option<Vec<String>>,
    pub max_5xx_ratio: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryStepConfig {
    pub weight: i64,
    pub soak: String,
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

/// Default attribute values, in one place (schema descriptions quote them).
pub mod defaults {
    pub const STRATEGY: &str = "blue_green";
    pub const MIN_HEALTHY_PERCENT: i64 = 100;
    pub const BATCH_SIZE: i64 = 1;
    pub const HEALTH_TIMEOUT: &str = "10m";
    pub const ROLLBACK_ON_FAILURE: bool = true;
    pub const CANARY_SOAK: &str = "5m";
    pub const CANARY_WEIGHTS: [i64; 4] = [5, 25, 50, 100];
    pub const CREATE_TIMEOUT: &str = "30m";
    pub const UPDATE_TIMEOUT: &str = "60m";
    pub const DELETE_TIMEOUT: &str = "20m";
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
                id: Some(adopted_owner_id(&self.name)),
                adopt_unowned: true,
            },
        }
    }

    pub fn strategy_or_default(&self) -> Result<Strategy, String> {
        self.strategy
            .as_deref()
            .unwrap_or(defaults::STRATEGY)
            .parse()
    }

    /// The canary steps the user wrote, or the defaults.
    pub fn canary_steps_or_default(canary: &CanaryConfig) -> Vec<CanaryStepConfig> {
        canary.steps.clone().unwrap_or_else(|| {
            defaults::CANARY_WEIGHTS
                .iter()
                .map(|weight| CanaryStepConfig {
                    weight: *weight,
                    soak: if *weight == 100 {
                        "0s".into()
                    } else {
                        defaults::CANARY_SOAK.into()
                    },
                })
                .collect()
        })
    }
}

/// A rollout at generation 4, as state after a successful apply: the shared sample of the
/// model's unit tests.
#[cfg(test)]
pub(crate) fn sample_applied() -> RolloutModel {
    RolloutModel {
        id: Some("web".into()),
        name: "web".into(),
        launch_template_id: "lt-0abc".into(),
        launch_template_version: "7".into(),
        subnet_ids: vec!["subnet-a".into()],
        target_group_arns: Some(vec!["arn:tg".into()]),
        min_size: 2,
        max_size: 6,
        desired_capacity: 3,
        generation: Some(4),
        active_asg_name: Some("web-g4".into()),
        active_launch_template_version: Some("7".into()),
        ..RolloutModel::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_without_owner_adopts_untagged_groups_under_a_stable_id() {
        let legacy = RolloutModel {
            name: "web".into(),
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
    fn default_canary_ends_at_full_weight_without_soak() {
        let steps = RolloutModel::canary_steps_or_default(&CanaryConfig::default());
        assert_eq!(
            steps.iter().map(|step| step.weight).collect::<Vec<_>>(),
            vec![5, 25, 50, 100]
        );
        assert_eq!(steps.last().map(|step| step.soak.as_str()), Some("0s"));
    }

    #[test]
    fn state_serializes_with_the_attribute_names() {
        let model = RolloutModel {
            name: "web".into(),
            ..RolloutModel::default()
        };
        let json = serde_json::to_value(&model).unwrap();
        for attribute in [
            "id",
            "name",
            "launch_template_id",
            "launch_template_version",
            "subnet_ids",
            "target_group_arns",
            "min_size",
            "max_size",
            "desired_capacity",
            "strategy",
            "min_healthy_percent",
            "batch_size",
            "canary",
            "health_timeout",
            "rollback_on_failure",
            "tags",
            "timeouts",
            "generation",
            "active_asg_name",
            "active_launch_template_version",
            "last_rollout",
            "owner_id",
        ] {
            assert!(json.get(attribute).is_some(), "missing {attribute}");
        }
    }
}
