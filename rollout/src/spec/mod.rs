//! Raw configuration (as the user wrote it) → a validated [`RolloutSpec`] that cannot be invalid.
//!
//! Validation is separated from use: nothing downstream re-checks a `RolloutSpec`. Every error
//! carries the attribute path of the `zdd_rollout` resource it is about (`canary.steps[2].weight`),
//! so the provider can attach it to the right place in the plan.

mod autoscaling;
mod bake;
mod canary;
pub mod defaults;
mod error;
pub mod raw;
mod strategy;
mod types;
mod validate;

use std::time::Duration;

pub use autoscaling::{
    GroupHealthCheck, HealthCheckType, HookResult, HookTransition, LifecycleHook, PredefinedMetric,
    TargetTracking,
};
pub use defaults::{
    DEFAULT_BAKE_DURATION, DEFAULT_BATCH_SIZE, DEFAULT_CANARY_STEPS, DEFAULT_DRAIN_MARGIN,
    DEFAULT_HEALTH_TIMEOUT, DEFAULT_INSUFFICIENT_EVIDENCE, DEFAULT_MAX_5XX_RATIO, DEFAULT_MAX_SOAK,
    DEFAULT_MIN_HEALTHY_PERCENT, DEFAULT_MIN_REQUESTS, DEFAULT_ROLLBACK_ON_FAILURE,
    DEFAULT_STRATEGY,
};
pub use error::{AttributePath, PathStep, SpecError, SpecErrorKind, SpecErrors};
pub use raw::{RawBake, RawCanary, RawCanaryStep, RawLifecycleHook, RawSpec, RawTargetTracking};
pub use types::{
    BakeSpec, CanarySpec, CanaryStep, Capacity, InsufficientEvidence, LaunchTemplateRef,
    RolloutSpec, Strategy,
};

use crate::time::HumanDuration;

/// The tag keys, re-exported from where they are defined ([`crate::fleet`]).
pub use crate::fleet::{TAG_GENERATION, TAG_ROLLBACK, TAG_ROLLED_BACK, TAG_ROLLOUT};

/// Human form of a duration for messages.
pub(crate) fn human(duration: Duration) -> HumanDuration {
    HumanDuration(duration)
}
