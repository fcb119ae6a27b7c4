//! The provider's configuration and the `zdd_rollout` resource in plain Rust: serde structs
//! whose field names are the Terraform attribute names (users' modules depend on them), the
//! plan-time validation, and the plan decision. No tfplugin or AWS types here: the resource
//! layer converts at its edge.

pub mod diagnostics;
pub mod duration;
pub mod plan;
pub mod provider_config;
pub mod refresh;
pub mod rollout;
pub mod validate;

pub use diagnostics::{AttrPath, Diagnostic, PathStep, Severity};
pub use plan::{Change, classify_change};
pub use provider_config::{EndpointsConfig, ProviderConfig};
pub use rollout::{
    CanaryConfig, CanaryStepConfig, LastRollout, RolloutModel, Strategy, TimelineStep,
    TimeoutsConfig,
};
