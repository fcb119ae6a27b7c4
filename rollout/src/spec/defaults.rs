//! Every default value of the engine, in one place: what an omitted attribute means.

use std::ops::RangeInclusive;
use std::time::Duration;

use super::autoscaling::{HealthCheckType, HookResult};

/// `strategy` when omitted.
pub const DEFAULT_STRATEGY: &str = "blue_green";
/// `min_healthy_percent` when omitted: the whole fleet stays healthy and routed throughout.
pub const DEFAULT_MIN_HEALTHY_PERCENT: u32 = 100;
/// `batch_size` when omitted: one instance at a time.
pub const DEFAULT_BATCH_SIZE: u32 = 1;
/// `rollback_on_failure` when omitted: a failed generation is deleted after its rollback.
pub const DEFAULT_ROLLBACK_ON_FAILURE: bool = true;
/// Default canary steps: 5 %, 25 %, 50 % with a 5-minute soak each, then 100 %.
pub const DEFAULT_CANARY_STEPS: [(u8, u64); 4] = [(5, 300), (25, 300), (50, 300), (100, 0)];
/// Default time new targets get to become healthy.
pub const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(600);
/// Default extra wait after a target group's deregistration delay before terminating.
pub const DEFAULT_DRAIN_MARGIN: Duration = Duration::from_secs(5);
/// The canary's 5xx gate when a `canary` block omits `max_5xx_ratio`: more than 1 % of the
/// canary group's requests answered 5xx during a soak (judged from
/// [`crate::engine::MIN_REQUESTS_FOR_RATIO`] requests on) rolls back. `1.0` turns it off.
pub const DEFAULT_MAX_5XX_RATIO: f64 = 0.01;
/// `health_check_type` when omitted: the group acts on the load balancer's view of health.
pub const DEFAULT_HEALTH_CHECK_TYPE: HealthCheckType = HealthCheckType::Elb;
/// `health_check_grace_period` when omitted (the AWS console's default).
pub const DEFAULT_HEALTH_CHECK_GRACE_PERIOD: Duration = Duration::from_secs(300);
/// A lifecycle hook's `heartbeat_timeout` when omitted (AWS's default).
pub const DEFAULT_HOOK_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(3600);
/// The `heartbeat_timeout` AWS accepts.
pub const HOOK_HEARTBEAT_TIMEOUT_RANGE: RangeInclusive<Duration> =
    Duration::from_secs(30)..=Duration::from_secs(7200);
/// A lifecycle hook's `default_result` when omitted (AWS's default).
pub const DEFAULT_HOOK_DEFAULT_RESULT: HookResult = HookResult::Abandon;
/// `canary.min_requests` when omitted: requests the canary target group must receive during a
/// soak before a gate may pass.
pub const DEFAULT_MIN_REQUESTS: u64 = 200;
/// `canary.insufficient_evidence` when omitted: keep soaking up to `max_soak`, then fail.
pub const DEFAULT_INSUFFICIENT_EVIDENCE: super::types::InsufficientEvidence =
    super::types::InsufficientEvidence::Extend;
/// `canary.max_soak` when omitted: the longest one step's soak may extend for evidence.
pub const DEFAULT_MAX_SOAK: Duration = Duration::from_secs(30 * 60);
/// `bake.duration` when a `bake` block omits it.
pub const DEFAULT_BAKE_DURATION: Duration = Duration::from_secs(10 * 60);
