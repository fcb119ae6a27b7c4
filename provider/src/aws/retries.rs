//! How the SDK retries a failed AWS call: adaptive mode, more attempts than the SDK's three.

use std::time::Duration;

use aws_sdk_autoscaling::config::retry::{RetryConfig, RetryMode, RetryPartition, TokenBucket};
use aws_smithy_types::retry::RetrySpec;

/// The retries of every client the provider builds.
///
/// The SDK's adaptive mode: exponential backoff with jitter, plus a client-side rate limiter
/// that slows the client down after AWS answers with throttling and speeds it up again as
/// calls succeed. We ask for the SDK's Retry Behavior 2.1 (the default of the SDKs from 2026,
/// opt-in in this one): each attempt takes one token of the adaptive limiter and a throttled
/// retry backs off exponentially. Under 2.0, a throttled retry waits for ten of the limiter's
/// tokens, up to the full 20 s backoff cap at its floor rate (0.5/s): measured against the
/// local AWS at 50 % throttling, 12 describes took 146 s under 2.0. The SDK's standard mode makes 3 attempts, so a refresh that meets a third
/// `Throttling` fails the whole plan; the reference provider (terraform-provider-aws) allows
/// 25. We allow [`Retries::DEFAULT`]'s 10: at 20 % throttling a call fails for that reason once
/// in ten million, and the worst case (every backoff at its cap, [`Retries::worst_case_backoff`])
/// stays inside the call's operation timeout ([`super::CallTimeouts`]).
///
/// Each client has its own retry partition with no retry quota: the SDK's default quota (500
/// tokens, 5 per retry) is shared by the whole process and, once a burst of throttling drains
/// it, stops retrying altogether, failing every zdd_rollout of the apply at once (the reason
/// terraform-provider-aws switches it off too). The rate budget ([`super::budget`]) and the
/// adaptive limiter do the pacing instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retries {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// The first backoff's cap; each further backoff doubles it (the wait is a random share
    /// of the cap).
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Retries {
    /// 10 attempts, backoff caps 1 s, 2 s, 4 s ... up to 20 s (the SDK's own backoff).
    pub const DEFAULT: Retries = Retries {
        max_attempts: 10,
        initial_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(20),
    };

    /// The longest the backoffs of one call can add up to: each at its cap.
    pub fn worst_case_backoff(&self) -> Duration {
        (0..self.max_attempts.saturating_sub(1))
            .map(|retry| {
                self.initial_backoff
                    .checked_mul(2u32.saturating_pow(retry))
                    .unwrap_or(self.max_backoff)
                    .min(self.max_backoff)
            })
            .sum()
    }

    pub(crate) fn sdk(self) -> RetryConfig {
        RetryConfig::adaptive()
            .with_retry_spec(RetrySpec::v2_1())
            .with_max_attempts(self.max_attempts.max(1))
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(self.max_backoff)
    }

    /// A partition of the client's own: no retry quota, its own adaptive rate limiter.
    pub(crate) fn partition(service: &'static str) -> RetryPartition {
        RetryPartition::custom(format!("zdd-{service}"))
            .token_bucket(TokenBucket::unlimited())
            .build()
    }

    /// The retries a client's configuration holds; `None` unless it is in adaptive mode with
    /// Retry Behavior 2.1.
    pub(crate) fn of(config: Option<&RetryConfig>) -> Option<Retries> {
        let config = config?;
        let behaviour_2_1 = config
            .retry_spec()
            .is_some_and(|spec| spec.is_at_least(RetrySpec::V2_1));
        (config.mode() == RetryMode::Adaptive && behaviour_2_1).then(|| Retries {
            max_attempts: config.max_attempts(),
            initial_backoff: config.initial_backoff(),
            max_backoff: config.max_backoff(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_case_backoff_sums_the_capped_doublings() {
        // 1 + 2 + 4 + 8 + 16, then four at the 20 s cap.
        assert_eq!(
            Retries::DEFAULT.worst_case_backoff(),
            Duration::from_secs(111)
        );
        let one = Retries {
            max_attempts: 1,
            ..Retries::DEFAULT
        };
        assert_eq!(one.worst_case_backoff(), Duration::ZERO);
    }

    #[test]
    fn the_sdk_form_is_adaptive_and_reads_back() {
        let config = Retries::DEFAULT.sdk();
        assert_eq!(config.mode(), RetryMode::Adaptive);
        assert_eq!(Retries::of(Some(&config)), Some(Retries::DEFAULT));
        assert_eq!(Retries::of(Some(&RetryConfig::standard())), None);
        assert_eq!(
            Retries::of(Some(&RetryConfig::adaptive())),
            None,
            "behaviour 2.0"
        );
        assert_eq!(Retries::of(None), None);
    }
}
