//! The AWS adapter: the only module that knows AWS SDK types.
//!
//! Every effectful function documents its idempotency: the rollout driver may re-run any of
//! them after a crash, a cancelled apply or a timeout, and the result must be the same as one
//! successful run. All of them return the plain structs in [`types`].

mod autoscaling;
mod cloudwatch;
mod config;
mod elbv2;
mod error;
mod scaling;
pub mod types;

pub use config::{
    ATTEMPT_TIMEOUT_ENV, AwsClients, AwsSettings, CONNECT_TIMEOUT_ENV, CallTimeouts, Endpoints,
    OPERATION_TIMEOUT_ENV, load_sdk_config,
};
pub use error::{AwsError, ErrorClass, classify_code};
