//! Raw configuration (as the user wrote it) → a validated [`RolloutSpec`] that cannot be invalid.
//!
//! Validation is separated from use: nothing downstream re-checks a `RolloutSpec`. Every error
//! carries the attribute path of the `zdd_rollout` resource it is about (`canary.steps[2].weight`),
//! so the provider can attach it to the right place in the plan.

mod canary;
pub mod defaults;
mod error;
pub mod raw;
mod strategy;
mod types;
mod validate;

use std::time::Duration;

pub use defaults::{
    DEFAULT_BATCH_SIZE, DEFAULT_CANARY_STEPS, DEFAULT_DRAIN_MARGIN, DEFAULT_HEALTH_TIMEOUT,
    DEFAULT_MAX_5XX_RATIO, DEFAULT_MIN_HEALTHY_PERCENT, DEFAULT_ROLLBACK_ON_FAILURE,
    DEFAULT_STRATEGY,
};
pub use error::{AttributePath, PathStep, SpecError, SpecErrorKind, SpecErrors};
pub use raw::{RawCanary, RawCanaryStep, RawSpec};
pub use types::{CanarySpec, CanaryStep, Capacity, LaunchTemplateRef, RolloutSpec, Strategy};

use crate::time::HumanDuration;

/// Tag keys the engine writes on every ASG it creates; users may not set them.
pub const TAG_ROLLOUT: &str = "zdd:rollout";
/// Generation number of an ASG (`1`, `2`, ...), the source of truth on resume.
pub const TAG_GENERATION: &str = "zdd:generation";
/// Present on a generation the engine has decided to roll back (so a resumed apply continues the
/// rollback instead of retrying the failed generation). The value is the reason.
pub const TAG_ROLLBACK: &str = "zdd:rollback";
/// Present on a failed generation kept after its rollback finished (`rollback_on_failure =
/// false`): the next apply leaves it alone (and deletes it once a later rollout succeeds)
/// instead of continuing a rollback. Without it, a kept generation and one whose rollback was
/// interrupted half-way would look the same.
pub const TAG_ROLLED_BACK: &str = "zdd:rolled-back";

/// Human form of a duration for messages.
pub(crate) fn human(duration: Duration) -> HumanDuration {
    HumanDuration(duration)
}
