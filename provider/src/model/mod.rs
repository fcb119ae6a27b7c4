//! The provider's configuration and the `zdd_rollout` resource in plain Rust: serde structs
//! whose field names are the Terraform attribute names (users' modules depend on them), the
//! conversion to the engine's raw spec, the plan-time validation, and the plan decision.
//! Validation speaks the tfplugin layer's own diagnostic types (`zdd_tfplugin::Diagnostic`
//! with its `AttributePath`: plain API types, not protobuf); no other tfplugin types and no AWS
//! types here: the resource layer converts at its edge.

pub mod duration;
pub mod plan;
pub mod provider_config;
pub mod refresh;
pub mod rollout;
pub mod spec;
pub mod validate;

pub use plan::{Change, classify_change};
pub use provider_config::{EndpointsConfig, ProviderConfig};
pub use rollout::{
    CanaryConfig, CanaryStepConfig, LastRollout, RolloutModel, Strategy, TimelineStep,
    TimeoutsConfig,
};
pub use spec::raw_spec;
