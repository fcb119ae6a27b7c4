//! The traffic generator: requests routed to healthy registered targets, dropped ones counted,
//! 5xx answers and latency per target group, totalled per tick for the metrics
//! (`metrics.rs` turns the totals into CloudWatch's periods).

use super::{START_MS, TICK_MS, World, duration_ms};

/// One target group's traffic from the start to the end of a tick.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct TickTotals {
    /// Requests the load balancer received for the group (`RequestCount`), answered or not.
    pub requests: u64,
    /// 5xx answered by its targets.
    pub target_5xx: u64,
    /// 503s the load balancer answered itself: the group had no routable target.
    pub elb_5xx: u64,
    /// Σ requests × the p99 (ms) of the instance that answered them.
    pub latency_ms_sum: f64,
}

impl World {
    pub(super) fn route_traffic(&mut self) {
        let second = self.now / TICK_MS;
        let rate = u64::from(self.timings.requests_per_second);
        let request_secs = duration_ms(self.timings.request_duration).div_ceil(TICK_MS);
        let streams: Vec<(String, u64)> = match &self.listener {
            Some((_, weights)) => {
                let total: u64 = weights.iter().map(|(_, w)| u64::from(*w)).sum();
                if total == 0 {
                    self.dropped_no_target += rate;
                    Vec::new()
                } else {
                    let mut out: Vec<(String, u64)> = weights
                        .iter()
                        .map(|(g, w)| (g.clone(), rate * u64::from(*w) / total))
                        .collect();
                    let assigned: u64 = out.iter().map(|(_, n)| n).sum();
                    if let Some(biggest) = out.iter_mut().max_by_key(|(_, n)| *n) {
                        biggest.1 += rate - assigned;
                    }
                    self.thin_the_canary(&mut out);
                    out
                }
            }
            None => self.groups.keys().map(|g| (g.clone(), rate)).collect(),
        };
        // `Faults::new_5xx_from`: the new generation answers as well as the old one until then.
        let new_errors_held = self
            .faults
            .new_5xx_from
            .is_some_and(|from| self.now < START_MS + duration_ms(from));
        let previous = self.previous_generation;
        let baseline = self.faults.baseline_5xx_ratio;
        for (arn, count) in streams {
            let Some(group) = self.groups.get(&arn) else {
                continue;
            };
            let targets: Vec<String> = group
                .targets
                .iter()
                .filter(|(id, r)| {
                    self.is_routable(id, r)
                        && self.instances.get(*id).is_some_and(|i| !i.terminated)
                })
                .map(|(id, _)| id.clone())
                .collect();
            let mut errors = 0u64;
            let mut latency_ms_sum = 0.0;
            let p99_ms = self.timings.p99_latency.as_secs_f64() * 1000.0;
            let flapping = targets.is_empty()
                && group
                    .targets
                    .iter()
                    .any(|(id, r)| r.deregistered_at.is_none() && self.is_flapping(id));
            if count > 0 && flapping {
                // Every target of the group is in an injected unhealthy spell: an outage the
                // engine did not cause (a real ALB would fail open here).
                self.dropped_by_fault += count;
            } else if count > 0 && targets.is_empty() {
                self.dropped_no_target += count;
            } else if count > 0 {
                let k = targets.len() as u64;
                let offset = second % k;
                for (index, id) in targets.iter().enumerate() {
                    let position = (index as u64 + k - offset) % k;
                    let n = count / k + u64::from(position < count % k);
                    if n == 0 {
                        continue;
                    }
                    if let Some(instance) = self.instances.get_mut(id) {
                        instance.inflight.push_back((second, n));
                        while instance
                            .inflight
                            .front()
                            .is_some_and(|(s, _)| s + request_secs < second)
                        {
                            instance.inflight.pop_front();
                        }
                        let ratio = if new_errors_held && Some(instance.generation) != previous {
                            baseline
                        } else {
                            instance.error_ratio
                        };
                        instance.error_carry += n as f64 * ratio;
                        let whole = instance.error_carry.floor();
                        instance.error_carry -= whole;
                        errors += whole as u64;
                        latency_ms_sum += n as f64 * p99_ms * instance.latency_factor;
                    }
                }
                self.routed += count;
            }
            if let Some(group) = self.groups.get_mut(&arn) {
                let last = group.metrics.last().copied().unwrap_or_default();
                let unanswered = if targets.is_empty() { count } else { 0 };
                group.metrics.push(TickTotals {
                    requests: last.requests + count,
                    target_5xx: last.target_5xx + errors,
                    elb_5xx: last.elb_5xx + unanswered,
                    latency_ms_sum: last.latency_ms_sum + latency_ms_sum,
                });
            }
        }
        // Groups without a stream this tick still get a metrics point.
        let ticks = (self.now - START_MS) / TICK_MS;
        for group in self.groups.values_mut() {
            while (group.metrics.len() as u64) < ticks {
                let last = group.metrics.last().copied().unwrap_or_default();
                group.metrics.push(last);
            }
        }
    }

    /// [`Faults::canary_traffic_share`]: the new generation's group gets only that share of
    /// its weighted stream; the rest goes to the other group.
    ///
    /// [`Faults::canary_traffic_share`]: super::Faults::canary_traffic_share
    fn thin_the_canary(&self, streams: &mut [(String, u64)]) {
        let Some(share) = self.faults.canary_traffic_share else {
            return;
        };
        let Some(new_group) = self.new_generation_group() else {
            return;
        };
        // Only while the listener still sends the other group something: a rule in front of
        // the weighted one cannot route to a group the listener has left.
        if !streams.iter().any(|(g, n)| *g != new_group && *n > 0) {
            return;
        }
        let mut moved = 0;
        for (group, count) in streams.iter_mut() {
            if *group == new_group {
                let kept = (*count as f64 * share.clamp(0.0, 1.0)).floor() as u64;
                moved = *count - kept;
                *count = kept;
            }
        }
        if let Some(other) = streams.iter_mut().find(|(g, _)| *g != new_group) {
            other.1 += moved;
        }
    }

    /// The target group whose registered targets belong to the newest generation, while that
    /// is not the one that served at the start.
    fn new_generation_group(&self) -> Option<String> {
        if Some(self.newest_generation) == self.previous_generation {
            return None;
        }
        self.groups
            .iter()
            .find(|(_, g)| {
                g.targets.iter().any(|(id, r)| {
                    r.deregistered_at.is_none()
                        && self
                            .instances
                            .get(id)
                            .is_some_and(|i| i.generation == self.newest_generation)
                })
            })
            .map(|(arn, _)| arn.clone())
    }
}
