//! The provider's configuration and the `zdd_rollout` resource in plain Rust: the attribute
//! tables, serde structs whose field names are the Terraform attribute names (users' modules
//! depend on them), the generic state handling the tables drive, the plan-time validation, the
//! plan decision and what a run's end leaves in state.
//! Validation speaks the tfplugin layer's own diagnostic types (`zdd_tfplugin::Diagnostic`
//! with its `AttributePath`: plain API types, not protobuf) and the state's JSON carries
//! tfplugin's unknown marker; no other tfplugin types and no AWS types here: the resource layer
//! converts at its edge.

pub mod attributes;
pub mod duration;
pub mod finish;
mod group_settings;
pub mod plan;
pub mod provider_config;
pub mod refresh;
pub mod rollout;
pub mod state;
pub mod validate;

pub use plan::{Change, classify_change};
pub use provider_config::{EndpointsConfig, ProviderConfig};
pub use rollout::{LastRollout, RolloutModel, Strategy, TimelineStep, TimeoutsConfig};
