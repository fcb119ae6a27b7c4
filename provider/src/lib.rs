//! terraform-provider-zdd: the `zdd_rollout` resource (see ARCHITECTURE.md).
//!
//! - [`aws`]: the AWS adapter, the only module that knows SDK types.
//! - [`model`]: provider and resource configuration/state in plain Rust, with validation.
//! - [`driver`]: the observe → step → execute loop around the pure engine.

pub mod aws;
pub mod docs;
pub mod driver;
pub mod model;
pub mod resource;
