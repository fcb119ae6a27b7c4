//! The adapter's one error type. SDK errors are flattened into code + message here so that
//! no SDK type leaks out, and so the driver can tell a transient failure (retry on the next
//! observation) from one that needs a person.

use aws_sdk_autoscaling::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// An AWS API call failed.
    #[error("{operation} failed: {code}: {message}")]
    Api {
        operation: &'static str,
        /// The AWS error code (`ValidationError`, `Throttling`, ...) or the transport failure kind.
        code: String,
        message: String,
        /// Throttling, contention, timeouts and dispatch failures: re-running later may succeed.
        transient: bool,
    },
    /// A resource with the name we need exists but is not the one we would have made.
    #[error("{what} already exists and is not managed by zdd_rollout {rollout:?}: {detail}")]
    Conflict {
        what: String,
        rollout: String,
        detail: String,
    },
    /// Deleting an Auto Scaling group that still has instances or attached target groups
    /// would terminate registered targets without draining them (invariant 3).
    #[error("refusing to delete Auto Scaling group {name}: {detail}")]
    NotDrained { name: String, detail: String },
    /// A referenced resource does not exist.
    #[error("{what} not found")]
    NotFound { what: String },
    /// AWS answered with a shape this adapter cannot use.
    #[error("unexpected AWS response from {operation}: {detail}")]
    Unexpected {
        operation: &'static str,
        detail: String,
    },
}

impl AwsError {
    /// Worth retrying on the next observation rather than failing the rollout.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            AwsError::Api {
                transient: true,
                ..
            }
        )
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ResourceContention",
    "ScalingActivityInProgress",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalError",
];

/// Flattens any SDK error into [`AwsError::Api`].
pub(crate) fn api_error<E, R>(operation: &'static str, err: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let (code, transient) = match &err {
        SdkError::TimeoutError(_) => ("Timeout".to_string(), true),
        SdkError::DispatchFailure(_) => ("DispatchFailure".to_string(), true),
        SdkError::ResponseError(_) => ("ResponseError".to_string(), true),
        SdkError::ConstructionFailure(_) => ("ConstructionFailure".to_string(), false),
        _ => {
            let code = err.code().unwrap_or("Unknown").to_string();
            let transient = TRANSIENT_CODES.iter().any(|known| code.starts_with(known));
            (code, transient)
        }
    };
    let message = err
        .message()
        .map(str::to_string)
        .unwrap_or_else(|| DisplayErrorContext(&err).to_string());
    AwsError::Api {
        operation,
        code,
        message,
        transient,
    }
}
