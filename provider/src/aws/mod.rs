//! The AWS adapter: the only module that knows AWS SDK types.
//!
//! Every effectful function documents its idempotency: the rollout driver may re-run any of
//! them after a crash, a cancelled apply or a timeout, and the result must be the same as one
//! successful run. All of them return the plain structs in [`types`].
//!
//! Every call waits for its API's share of the [`budget`] (shared by every clone of
//! [`AwsClients`]) and is retried by the SDK's adaptive mode ([`Retries`]).

mod autoscaling;
pub mod budget;
mod clients;
mod cloudwatch;
pub mod coalesce;
mod config;
mod elbv2;
mod error;
#[cfg(test)]
pub(crate) mod fake_http;
pub mod records;
mod retries;
mod scaling;
pub mod types;

pub use budget::{RATE_LIMITS_ENV, RateLimit, RateLimits};
pub use clients::{AwsClients, CallOptions};
pub use config::{
    ATTEMPT_TIMEOUT_ENV, AwsSettings, CONNECT_TIMEOUT_ENV, CallTimeouts, Endpoints,
    OPERATION_TIMEOUT_ENV, load_sdk_config,
};
pub use error::{AwsError, ErrorClass, classify_code};
pub use retries::Retries;
