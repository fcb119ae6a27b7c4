//! Limits checked before anything is taken: the duration flags of `run` and the AWS timeouts.
//! A bad value is refused up front (exit 6), with a message naming the flag or variable, so
//! that no lease, lock or terraform is started with a value that breaks later (a zero
//! `--watch-interval` used to panic after the lease was taken and terraform had started). Pure:
//! the environment is passed in as a lookup.

use std::time::Duration;

/// A flag or environment variable with a value the guard refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {name} {value}: {reason}")]
pub struct LimitError {
    /// The flag (`--watch-interval`) or variable (`ZDD_GUARD_AWS_ATTEMPT_TIMEOUT`).
    pub name: String,
    /// The value as given.
    pub value: String,
    pub reason: String,
}

/// The shortest lease TTL: the holder renews every third of it, one AWS round trip each.
pub const MIN_LEASE_TTL: Duration = Duration::from_secs(1);
/// The longest lease TTL: a lease left by a killed run blocks the state this long.
pub const MAX_LEASE_TTL: Duration = Duration::from_secs(24 * 3600);
/// The longest `--wait` (longer than any CI job runs).
pub const MAX_WAIT: Duration = Duration::from_secs(7 * 24 * 3600);
/// The shortest `--watch-interval` (each look is a few AWS reads).
pub const MIN_WATCH_INTERVAL: Duration = Duration::from_millis(10);

/// The duration flags of `zdd-guard run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    pub lease_ttl: Duration,
    pub wait: Duration,
    pub watch_interval: Duration,
}

/// Written the way the flags are read (Terraform's grammar), so a message's bound can be typed.
fn human(duration: Duration) -> String {
    zdd_duration::format(duration)
}

impl RunLimits {
    /// Checks every flag; the first bad one is the error.
    pub fn validate(&self) -> Result<(), LimitError> {
        let refuse = |name: &str, value: Duration, reason: String| LimitError {
            name: name.to_string(),
            value: human(value),
            reason,
        };
        if self.lease_ttl < MIN_LEASE_TTL || self.lease_ttl > MAX_LEASE_TTL {
            return Err(refuse(
                "--lease-ttl",
                self.lease_ttl,
                format!(
                    "must be between {} (the lease is renewed every third of it) and {} \
                     (a lease left by a killed run blocks the state that long)",
                    human(MIN_LEASE_TTL),
                    human(MAX_LEASE_TTL)
                ),
            ));
        }
        if self.watch_interval < MIN_WATCH_INTERVAL {
            return Err(refuse(
                "--watch-interval",
                self.watch_interval,
                format!("must be at least {}", human(MIN_WATCH_INTERVAL)),
            ));
        }
        if self.watch_interval >= self.lease_ttl {
            return Err(refuse(
                "--watch-interval",
                self.watch_interval,
                format!(
                    "must be shorter than --lease-ttl ({}): the watch looks at the lease at \
                     least once per TTL",
                    human(self.lease_ttl)
                ),
            ));
        }
        if self.wait > MAX_WAIT {
            return Err(refuse(
                "--wait",
                self.wait,
                format!("must be at most {}", human(MAX_WAIT)),
            ));
        }
        Ok(())
    }
}

/// Connect, attempt and operation timeouts of every AWS client of the guard, so that no call
/// hangs for ever on an endpoint that accepts a connection and never answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsTimeouts {
    /// Establishing a TCP (and TLS) connection.
    pub connect: Duration,
    /// One attempt of a call, reading the whole response included.
    pub attempt: Duration,
    /// A call with all its retries.
    pub operation: Duration,
}

/// Environment variables that override [`AwsTimeouts::DEFAULT`] (durations in Terraform's
/// grammar, as the flags: `30s`, `1.5m`).
pub const CONNECT_TIMEOUT_VAR: &str = "ZDD_GUARD_AWS_CONNECT_TIMEOUT";
pub const ATTEMPT_TIMEOUT_VAR: &str = "ZDD_GUARD_AWS_ATTEMPT_TIMEOUT";
pub const OPERATION_TIMEOUT_VAR: &str = "ZDD_GUARD_AWS_OPERATION_TIMEOUT";

impl AwsTimeouts {
    /// 5 s to connect; 20 s per attempt (a state of tens of MB read over a slow link); 60 s
    /// per call with retries, well inside the default lease TTL (2 m), so a hung renewal is
    /// seen before the lease could be taken over.
    pub const DEFAULT: AwsTimeouts = AwsTimeouts {
        connect: Duration::from_secs(5),
        attempt: Duration::from_secs(20),
        operation: Duration::from_secs(60),
    };

    /// The defaults, overridden by the environment variables above.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<AwsTimeouts, LimitError> {
        let read = |name: &str, default: Duration| -> Result<Duration, LimitError> {
            let Some(value) = env(name).filter(|v| !v.trim().is_empty()) else {
                return Ok(default);
            };
            let refuse = |reason: String| LimitError {
                name: name.to_string(),
                value: value.clone(),
                reason,
            };
            // Surrounding spaces are forgiven here: shells and CI files add them, HCL does not.
            let parsed = zdd_duration::parse(value.trim())
                .map_err(|e| refuse(format!("not a duration ({e})")))?;
            if parsed.is_zero() || parsed > Duration::from_secs(3600) {
                return Err(refuse("must be more than 0 and at most 1h".to_string()));
            }
            Ok(parsed)
        };
        let timeouts = AwsTimeouts {
            connect: read(CONNECT_TIMEOUT_VAR, Self::DEFAULT.connect)?,
            attempt: read(ATTEMPT_TIMEOUT_VAR, Self::DEFAULT.attempt)?,
            operation: read(OPERATION_TIMEOUT_VAR, Self::DEFAULT.operation)?,
        };
        if timeouts.attempt > timeouts.operation {
            return Err(LimitError {
                name: ATTEMPT_TIMEOUT_VAR.to_string(),
                value: human(timeouts.attempt),
                reason: format!(
                    "must not exceed {OPERATION_TIMEOUT_VAR} ({})",
                    human(timeouts.operation)
                ),
            });
        }
        Ok(timeouts)
    }
}

impl Default for AwsTimeouts {
    fn default() -> AwsTimeouts {
        AwsTimeouts::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn limits(lease_ttl: Duration, wait: Duration, watch_interval: Duration) -> RunLimits {
        RunLimits {
            lease_ttl,
            wait,
            watch_interval,
        }
    }

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(
            limits(120 * SECOND, Duration::ZERO, 2 * SECOND).validate(),
            Ok(())
        );
    }

    #[test]
    fn each_bad_flag_is_named() {
        let cases = [
            (
                limits(120 * SECOND, Duration::ZERO, Duration::ZERO),
                "--watch-interval",
            ),
            (
                limits(Duration::ZERO, Duration::ZERO, 2 * SECOND),
                "--lease-ttl",
            ),
            (
                limits(SECOND / 2, Duration::ZERO, SECOND / 4),
                "--lease-ttl",
            ),
            (
                limits(MAX_LEASE_TTL + SECOND, Duration::ZERO, SECOND),
                "--lease-ttl",
            ),
            (
                limits(5 * SECOND, Duration::ZERO, 5 * SECOND),
                "--watch-interval",
            ),
            (limits(120 * SECOND, MAX_WAIT + SECOND, SECOND), "--wait"),
            (limits(120 * SECOND, Duration::MAX, SECOND), "--wait"),
        ];
        for (limits, flag) in cases {
            let error = limits.validate().unwrap_err();
            assert_eq!(error.name, flag, "{limits:?}");
            assert!(
                error.to_string().starts_with(&format!("invalid {flag} ")),
                "{error}"
            );
        }
    }

    #[test]
    fn aws_timeouts_default_and_override() {
        assert_eq!(AwsTimeouts::from_env(|_| None), Ok(AwsTimeouts::DEFAULT));
        let env = |name: &str| (name == ATTEMPT_TIMEOUT_VAR).then(|| "2s".to_string());
        assert_eq!(
            AwsTimeouts::from_env(env).unwrap().attempt,
            Duration::from_secs(2)
        );
        let defaults = AwsTimeouts::DEFAULT;
        assert!(defaults.connect < defaults.attempt && defaults.attempt < defaults.operation);
    }

    /// Flags, variables and Terraform settings share one grammar (issue #12).
    #[test]
    fn aws_timeouts_read_terraform_durations() {
        for (value, expected) in [
            ("1.5m", 90 * SECOND),
            ("2m30s", 150 * SECOND),
            (" 45s ", 45 * SECOND),
        ] {
            let env = |name: &str| (name == OPERATION_TIMEOUT_VAR).then(|| value.to_string());
            assert_eq!(
                AwsTimeouts::from_env(env).unwrap().operation,
                expected,
                "{value:?}"
            );
        }
        for value in ["1 minute", "5min", "1d", "-1s"] {
            let env = |name: &str| (name == OPERATION_TIMEOUT_VAR).then(|| value.to_string());
            let error = AwsTimeouts::from_env(env).unwrap_err();
            assert!(
                error.reason.contains("units: ns, us, ms, s, m, h"),
                "{value:?}: {error}"
            );
        }
    }

    #[test]
    fn a_bound_in_a_message_reads_back_as_a_flag() {
        let error = limits(MAX_LEASE_TTL + SECOND, Duration::ZERO, SECOND)
            .validate()
            .unwrap_err();
        assert!(error.to_string().contains("and 24h (a lease"), "{error}");
        assert_eq!(error.value, "24h1s");
    }

    #[test]
    fn bad_aws_timeouts_name_the_variable() {
        for (name, value) in [
            (CONNECT_TIMEOUT_VAR, "0s"),
            (ATTEMPT_TIMEOUT_VAR, "soon"),
            (OPERATION_TIMEOUT_VAR, "2h"),
            (ATTEMPT_TIMEOUT_VAR, "90s"),
        ] {
            let error =
                AwsTimeouts::from_env(|n| (n == name).then(|| value.to_string())).unwrap_err();
            assert_eq!(error.name, name, "{error}");
        }
    }
}
