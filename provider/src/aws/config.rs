//! Provider configuration → AWS SDK configuration and service clients.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;

/// The AWS part of the provider block. Everything is optional: without it the standard AWS
/// chain decides (environment, shared profile, SSO, IMDS), and `AWS_ENDPOINT_URL` /
/// `AWS_ENDPOINT_URL_<SERVICE>` are honoured by the SDK itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoints: Endpoints,
}

/// Per-service endpoint overrides (a local AWS, VPC endpoints). An override here wins over
/// `AWS_ENDPOINT_URL`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub autoscaling: Option<String>,
    pub elbv2: Option<String>,
    /// Accepted for configuration compatibility; the provider itself makes no EC2 calls
    /// (Auto Scaling and ELBv2 report everything the rollout needs).
    pub ec2: Option<String>,
    pub cloudwatch: Option<String>,
}

/// Bounds on every AWS call the provider makes, so that no call can hang an apply for ever
/// (a black-holed endpoint, a proxy that accepts and never answers, a stalled TLS handshake).
///
/// - `connect`: establishing the TCP/TLS connection;
/// - `attempt`: one HTTP attempt, from sending the request to the end of the response;
/// - `operation`: the whole call, the SDK's retries ([`super::Retries`]: adaptive mode, 10
///   attempts with backoff) included.
///
/// A call that runs out fails with the transient error code `Timeout`: the rollout driver
/// looks again on its next turn, as after throttling. The wait for the rate budget
/// ([`super::budget`]) comes before the call and is not part of these bounds. Defaults:
/// [`CallTimeouts::DEFAULT`]; each can be overridden with an environment variable of the
/// provider's process (`ZDD_AWS_CONNECT_TIMEOUT`, `ZDD_AWS_ATTEMPT_TIMEOUT`,
/// `ZDD_AWS_OPERATION_TIMEOUT`, a duration such as `"30s"`); an operation bound shorter than
/// the retries need cuts them short (a warning says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallTimeouts {
    pub connect: Duration,
    pub attempt: Duration,
    pub operation: Duration,
}

/// Environment variables overriding [`CallTimeouts::DEFAULT`], field by field.
pub const CONNECT_TIMEOUT_ENV: &str = "ZDD_AWS_CONNECT_TIMEOUT";
pub const ATTEMPT_TIMEOUT_ENV: &str = "ZDD_AWS_ATTEMPT_TIMEOUT";
pub const OPERATION_TIMEOUT_ENV: &str = "ZDD_AWS_OPERATION_TIMEOUT";

impl CallTimeouts {
    /// 5 s to connect (an AWS endpoint answers a SYN in milliseconds), 20 s per attempt (the
    /// slowest call the adapter makes, a large DescribeAutoScalingGroups page, takes about a
    /// second), 6 min per call with its retries: every attempt of [`super::Retries::DEFAULT`]
    /// at the attempt bound (200 s) plus every backoff at its cap (111 s) fit, with room for
    /// the adaptive limiter's own waits.
    pub const DEFAULT: CallTimeouts = CallTimeouts {
        connect: Duration::from_secs(5),
        attempt: Duration::from_secs(20),
        operation: Duration::from_secs(360),
    };

    /// Whether every attempt of `retries`, each at the attempt bound, and every backoff at its
    /// cap fit in the operation bound.
    pub fn fit(&self, retries: &super::Retries) -> bool {
        self.attempt
            .checked_mul(retries.max_attempts)
            .and_then(|attempts| attempts.checked_add(retries.worst_case_backoff()))
            .is_some_and(|needed| needed <= self.operation)
    }

    /// [`CallTimeouts::DEFAULT`] with the overrides `lookup` finds (pure: pass
    /// `std::env::var` or a map in tests). An unreadable or zero value is ignored with a
    /// warning: a timeout can be changed, never switched off.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> CallTimeouts {
        let read = |name: &str, default: Duration| -> Duration {
            let Some(text) = lookup(name) else {
                return default;
            };
            match crate::model::duration::parse_duration(&text) {
                Ok(value) if !value.is_zero() => value,
                Ok(_) => {
                    tracing::warn!("{name}={text:?}: a timeout cannot be zero; using {default:?}");
                    default
                }
                Err(error) => {
                    tracing::warn!("{name}={text:?}: {error}; using {default:?}");
                    default
                }
            }
        };
        let defaults = CallTimeouts::DEFAULT;
        let timeouts = CallTimeouts {
            connect: read(CONNECT_TIMEOUT_ENV, defaults.connect),
            attempt: read(ATTEMPT_TIMEOUT_ENV, defaults.attempt),
            operation: read(OPERATION_TIMEOUT_ENV, defaults.operation),
        };
        if !timeouts.fit(&super::Retries::DEFAULT) {
            tracing::warn!(
                "{OPERATION_TIMEOUT_ENV} ({:?}) leaves no room for {} attempts of {:?} and their backoff: a call may give up before its last retry",
                timeouts.operation,
                super::Retries::DEFAULT.max_attempts,
                timeouts.attempt,
            );
        }
        timeouts
    }

    /// The defaults with the process environment's overrides.
    pub fn from_env() -> CallTimeouts {
        CallTimeouts::from_lookup(|name| std::env::var(name).ok())
    }

    pub(super) fn sdk(self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }

    pub(super) fn of(config: Option<&TimeoutConfig>) -> Option<CallTimeouts> {
        let config = config?;
        Some(CallTimeouts {
            connect: config.connect_timeout()?,
            attempt: config.operation_attempt_timeout()?,
            operation: config.operation_timeout()?,
        })
    }
}

/// Loads the shared SDK configuration (credentials, region, retries) for the settings, with
/// [`CallTimeouts::from_env`] and [`super::Retries::DEFAULT`] on every call.
pub async fn load_sdk_config(settings: &AwsSettings) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(CallTimeouts::from_env().sdk())
        .retry_config(super::Retries::DEFAULT.sdk());
    if let Some(region) = &settings.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn without_overrides_every_bound_is_the_documented_default() {
        assert_eq!(
            CallTimeouts::from_lookup(lookup(&[])),
            CallTimeouts::DEFAULT
        );
        let defaults = CallTimeouts::DEFAULT;
        assert!(defaults.connect <= defaults.attempt);
        assert!(
            defaults.fit(&super::super::Retries::DEFAULT),
            "every attempt and every backoff fit in one operation"
        );
        let three_attempts_only = CallTimeouts {
            operation: Duration::from_secs(60),
            ..defaults
        };
        assert!(!three_attempts_only.fit(&super::super::Retries::DEFAULT));
    }

    #[test]
    fn overrides_apply_field_by_field_and_never_switch_a_bound_off() {
        let timeouts = CallTimeouts::from_lookup(lookup(&[
            (ATTEMPT_TIMEOUT_ENV, "2s"),
            (OPERATION_TIMEOUT_ENV, "0s"),
            (CONNECT_TIMEOUT_ENV, "soon"),
        ]));
        assert_eq!(timeouts.attempt, Duration::from_secs(2));
        assert_eq!(timeouts.operation, CallTimeouts::DEFAULT.operation);
        assert_eq!(timeouts.connect, CallTimeouts::DEFAULT.connect);
    }
}
