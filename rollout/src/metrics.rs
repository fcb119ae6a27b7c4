//! CloudWatch's view of load-balancer traffic, as the canary and bake gates judge it.
//!
//! The load balancer's metrics (`RequestCount`, `HTTPCode_Target_5XX_Count`,
//! `HTTPCode_ELB_5XX_Count`, `TargetResponseTime`) are aggregated in one-minute periods and
//! published a minute or more after a period ends: a window that ends "now" is always empty or
//! partial. A gate therefore judges only complete periods ([`MetricTiming::is_complete`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// CloudWatch's aggregation period for load-balancer metrics.
pub const METRIC_PERIOD: Duration = Duration::from_secs(60);
/// How long after a period ends its figures can be read in full. CloudWatch documents ALB
/// metrics as published "a minute or more" late; 90 s after the period's end is when they were
/// complete in practice.
pub const METRIC_PUBLISH_DELAY: Duration = Duration::from_secs(90);

/// When metric periods start and when each one can be judged.
///
/// Not configuration: AWS fixes it. Tests against the local AWS, whose clock runs faster by a
/// time scale, scale it the same way ([`MetricTiming::scaled`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricTiming {
    /// Length of one period; periods start at whole multiples of it since the epoch.
    pub period: Duration,
    /// How long after a period's end its figures are complete.
    pub publish_delay: Duration,
}

impl Default for MetricTiming {
    fn default() -> Self {
        MetricTiming {
            period: METRIC_PERIOD,
            publish_delay: METRIC_PUBLISH_DELAY,
        }
    }
}

impl MetricTiming {
    /// AWS's timing with every duration multiplied by `scale` (the local AWS's `--time-scale`),
    /// never shorter than a millisecond.
    pub fn scaled(scale: f64) -> MetricTiming {
        let scale_duration = |d: Duration| {
            let millis = (d.as_millis() as f64 * scale).round();
            Duration::from_millis(if millis.is_finite() && millis >= 1.0 {
                millis as u64
            } else {
                1
            })
        };
        let aws = MetricTiming::default();
        MetricTiming {
            period: scale_duration(aws.period),
            publish_delay: scale_duration(aws.publish_delay),
        }
    }

    fn period_millis(&self) -> u64 {
        u64::try_from(self.period.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Start of the period holding `t`.
    pub fn period_start(&self, t: Timestamp) -> Timestamp {
        let p = self.period_millis();
        Timestamp::from_millis(t.as_millis() / p * p)
    }

    /// Start of the first period that begins at or after `t`: the first period whose traffic
    /// all came after `t` (a weight written at `t` shapes every request of it).
    pub fn first_period_from(&self, t: Timestamp) -> Timestamp {
        let start = self.period_start(t);
        if start == t {
            start
        } else {
            start + self.period
        }
    }

    /// Whether the period starting at `start` can be judged at `now`: it ended and its figures
    /// were published.
    pub fn is_complete(&self, start: Timestamp, now: Timestamp) -> bool {
        start + self.period + self.publish_delay <= now
    }

    /// Start of the first period not complete at `now`: every period starting before it is
    /// complete ([`MetricTiming::is_complete`]), none from it on.
    pub fn first_incomplete(&self, now: Timestamp) -> Timestamp {
        let wait =
            u64::try_from((self.period + self.publish_delay).as_millis()).unwrap_or(u64::MAX);
        match now.as_millis().checked_sub(wait) {
            // A period starting at s is complete iff s <= now - period - delay.
            Some(latest) => self.period_start(Timestamp::from_millis(latest)) + self.period,
            None => Timestamp::from_millis(0),
        }
    }

    /// When the period ending at `end` can be judged.
    pub fn complete_at(&self, end: Timestamp) -> Timestamp {
        end + self.publish_delay
    }
}

/// One period of one target group's load-balancer metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricPeriod {
    /// Start of the period.
    pub start: Timestamp,
    /// `RequestCount` (Sum).
    pub requests: u64,
    /// `HTTPCode_Target_5XX_Count` (Sum).
    pub target_5xx: u64,
    /// `HTTPCode_ELB_5XX_Count` (Sum) for the target group (0 where AWS publishes none).
    pub elb_5xx: u64,
    /// `TargetResponseTime` p99 (extended statistic), in milliseconds; `None` when the period
    /// has no datapoint for it.
    pub p99_ms: Option<f64>,
}

/// The periods read for one target group. A period with no datapoint is absent (CloudWatch
/// publishes no datapoint for a period without requests).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetGroupPeriods {
    pub target_group_arn: String,
    /// Ascending by start, no duplicates.
    pub periods: Vec<MetricPeriod>,
}
