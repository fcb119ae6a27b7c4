//! CloudWatch's view of the simulated traffic: one-minute periods per target group
//! (`RequestCount`, `HTTPCode_Target_5XX_Count`, `HTTPCode_ELB_5XX_Count`, `TargetResponseTime`
//! p99), published with the same delay as AWS's ([`crate::metrics::MetricTiming`], from the
//! spec): a period's traffic becomes readable `publish_delay` after it happened, so a period
//! that ended less than that ago shows partial counts, and one that just started shows none.

use crate::metrics::{MetricPeriod, TargetGroupPeriods};
use crate::sim::rng::SplitMix64;
use crate::time::Timestamp;

use super::traffic::TickTotals;
use super::{START_MS, TICK_MS, World, duration_ms};

impl World {
    /// The periods of `arn` from the one holding `since` on, as far as published at `now`.
    pub(super) fn metric_periods(&self, arn: &str, since: Timestamp) -> TargetGroupPeriods {
        let timing = self.spec.metric_timing;
        let period_ms = duration_ms(timing.period).max(TICK_MS);
        let published_until = self.now.saturating_sub(duration_ms(timing.publish_delay));
        let mut periods = Vec::new();
        let Some(group) = self.groups.get(arn) else {
            return TargetGroupPeriods {
                target_group_arn: arn.to_string(),
                periods,
            };
        };
        let mut start = timing.period_start(since).as_millis().max(START_MS);
        start = start / period_ms * period_ms;
        while start < published_until {
            let end = (start + period_ms).min(published_until);
            let (from, to) = (
                totals_at(&group.metrics, start),
                totals_at(&group.metrics, end),
            );
            let requests = to.requests - from.requests;
            // CloudWatch publishes no datapoint for a period without requests.
            if requests > 0 {
                let latency = (to.latency_ms_sum - from.latency_ms_sum) / requests as f64;
                periods.push(MetricPeriod {
                    start: Timestamp(start),
                    requests,
                    target_5xx: to.target_5xx - from.target_5xx,
                    elb_5xx: to.elb_5xx - from.elb_5xx,
                    p99_ms: (latency > 0.0)
                        .then(|| latency * self.p99_noise(arn, start, end == start + period_ms)),
                });
            }
            start += period_ms;
        }
        TargetGroupPeriods {
            target_group_arn: arn.to_string(),
            periods,
        }
    }

    /// The lognormal factor of one period's published p99, seeded by the scenario, the group
    /// and the period (a re-read of the same period shows the same figure). The old
    /// generation's group may be noisier ([`Faults::stable_p99_noise`]).
    ///
    /// [`Faults::stable_p99_noise`]: super::Faults::stable_p99_noise
    fn p99_noise(&self, arn: &str, start: u64, complete: bool) -> f64 {
        let serves_old = self.groups.get(arn).is_some_and(|g| {
            g.targets.keys().any(|id| {
                self.instances
                    .get(id)
                    .is_some_and(|i| Some(i.generation) == self.previous_generation)
            })
        });
        let sigma = match self.faults.stable_p99_noise {
            Some(noisy) if serves_old => noisy,
            _ => self.timings.p99_noise,
        };
        let group_hash = arn.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let mut rng = SplitMix64::new(self.metric_seed ^ group_hash ^ start.rotate_left(17));
        // Box–Muller: two uniforms in (0, 1] make one standard normal.
        let unit =
            |rng: &mut SplitMix64| ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let (u1, u2) = (unit(&mut rng), unit(&mut rng));
        let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        // A partial period's p99 comes from fewer requests: as noisy again.
        let sigma = if complete { sigma } else { sigma * 2.0 };
        (sigma * normal).exp()
    }
}

/// A group's totals at time `t` (a multiple of the tick): the traffic of every tick that
/// ended by then.
fn totals_at(ticks: &[TickTotals], t: u64) -> TickTotals {
    let done = (t.saturating_sub(START_MS) / TICK_MS) as usize;
    match done {
        0 => TickTotals::default(),
        n => ticks
            .get(n - 1)
            .or_else(|| ticks.last())
            .copied()
            .unwrap_or_default(),
    }
}
