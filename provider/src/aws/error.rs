//! The adapter's one error type. SDK errors are flattened into code + message here so that
//! no SDK type leaks out, and so the driver can tell a transient failure (retry on the next
//! observation) from one that needs a person.

use aws_sdk_autoscaling::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

#[derive(Debug, Clone, thiserror::Error)]
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

/// What an error means for a rollout that keeps going (see [`AwsError::class`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Throttling, a 5xx, a timeout, a dropped connection: the same call later may succeed.
    Transient,
    /// AWS refuses the caller: credentials expired or invalid, a permission missing
    /// (`AccessDenied`, `ExpiredToken`, `UnauthorizedOperation`, ...). Retrying does not help
    /// until a person (or a credential refresh) changes something.
    Refused,
    /// Any other error AWS or the adapter will answer again the same way (`ValidationError`,
    /// `LimitExceeded`, a name taken by a group that is not ours, an unusable answer).
    Persistent,
    /// The adapter's own refusals that the level-triggered engine resolves as AWS catches up:
    /// a group not drained yet, a resource not visible yet.
    Settling,
}

impl ErrorClass {
    /// Counts towards giving up (`driver::give_up`): the error will not go away by itself.
    pub fn is_persistent(self) -> bool {
        matches!(self, ErrorClass::Refused | ErrorClass::Persistent)
    }
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

    /// The error's [`ErrorClass`]: transient as flagged when it was made, refusals by their
    /// code ([`classify_code`]).
    pub fn class(&self) -> ErrorClass {
        match self {
            AwsError::Api {
                transient: true, ..
            } => ErrorClass::Transient,
            AwsError::Api { code, .. } => classify_code(code),
            AwsError::Conflict { .. } | AwsError::Unexpected { .. } => ErrorClass::Persistent,
            AwsError::NotDrained { .. } | AwsError::NotFound { .. } => ErrorClass::Settling,
        }
    }
}

/// Codes AWS answers when it refuses the caller rather than the request: expired or invalid
/// credentials, missing permissions, an account not opted in. Across services the same
/// refusal has several spellings (query protocol `AccessDenied`, JSON protocol
/// `AccessDeniedException`, EC2 `UnauthorizedOperation`).
const REFUSED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthFailure",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidAccessKeyId",
    "InvalidSignatureException",
    "MissingAuthenticationToken",
    "NotAuthorized",
    "OptInRequired",
];

/// Codes that say "not yet" rather than "no": AWS refuses to delete an Auto Scaling group
/// while instances or scaling activities are still winding down, which the level-triggered
/// engine waits out.
const SETTLING_CODES: &[&str] = &["ResourceInUse", "ResourceInUseFault"];

/// The class of a non-transient AWS error code (pure): [`ErrorClass::Transient`] for the
/// throttling and server-side codes, [`ErrorClass::Refused`] for credential and permission
/// refusals, [`ErrorClass::Settling`] for "not yet" (`ResourceInUse`),
/// [`ErrorClass::Persistent`] for the rest.
pub fn classify_code(code: &str) -> ErrorClass {
    if is_transient_code(code) {
        ErrorClass::Transient
    } else if REFUSED_CODES.contains(&code) {
        ErrorClass::Refused
    } else if SETTLING_CODES.contains(&code) {
        ErrorClass::Settling
    } else {
        ErrorClass::Persistent
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

/// Codes AWS answers when it throttles the caller: the SDK's own list (aws-runtime's
/// `THROTTLING_ERRORS`), on which its adaptive retry slows down.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// AWS throttled the call (counted per API in the budget's stats).
pub fn is_throttling_code(code: &str) -> bool {
    THROTTLING_CODES.contains(&code)
}

fn is_transient_code(code: &str) -> bool {
    TRANSIENT_CODES.iter().any(|known| code.starts_with(known))
}

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
            let transient = is_transient_code(&code);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str, transient: bool) -> AwsError {
        AwsError::Api {
            operation: "SetDesiredCapacity",
            code: code.into(),
            message: String::new(),
            transient,
        }
    }

    #[test]
    fn credential_and_permission_refusals_are_refused_in_every_spelling() {
        for code in [
            "AccessDenied",
            "AccessDeniedException",
            "UnauthorizedOperation",
            "ExpiredToken",
            "ExpiredTokenException",
            "InvalidClientTokenId",
            "UnrecognizedClientException",
            "SignatureDoesNotMatch",
        ] {
            assert_eq!(classify_code(code), ErrorClass::Refused, "{code}");
            assert_eq!(api(code, false).class(), ErrorClass::Refused, "{code}");
            assert!(ErrorClass::Refused.is_persistent());
        }
    }

    #[test]
    fn throttling_and_server_errors_are_transient() {
        for code in [
            "Throttling",
            "ThrottlingException",
            "RequestLimitExceeded",
            "ServiceUnavailable",
            "InternalFailure",
        ] {
            assert_eq!(classify_code(code), ErrorClass::Transient, "{code}");
        }
        // Timeouts and dispatch failures are flagged transient where they are made.
        assert_eq!(api("Timeout", true).class(), ErrorClass::Transient);
        assert!(!ErrorClass::Transient.is_persistent());
    }

    #[test]
    fn other_codes_persist_and_the_adapters_waits_settle() {
        assert_eq!(classify_code("ValidationError"), ErrorClass::Persistent);
        assert_eq!(classify_code("LimitExceeded"), ErrorClass::Persistent);
        assert_eq!(classify_code("ResourceInUse"), ErrorClass::Settling);
        let conflict = AwsError::Conflict {
            what: "web-g2".into(),
            rollout: "web".into(),
            detail: String::new(),
        };
        assert_eq!(conflict.class(), ErrorClass::Persistent);
        let not_drained = AwsError::NotDrained {
            name: "web-g1".into(),
            detail: String::new(),
        };
        assert_eq!(not_drained.class(), ErrorClass::Settling);
        assert!(!ErrorClass::Settling.is_persistent());
        let missing = AwsError::NotFound {
            what: "web-g1".into(),
        };
        assert_eq!(missing.class(), ErrorClass::Settling);
    }
}
