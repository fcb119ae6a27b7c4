//! The traffic generator: requests routed to healthy registered targets, dropped ones counted,
//! 5xx answers and metric sums per target group.

use super::{START_MS, TICK_MS, World, duration_ms};

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
                    out
                }
            }
            None => self.groups.keys().map(|g| (g.clone(), rate)).collect(),
        };
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
                        instance.error_carry += n as f64 * instance.error_ratio;
                        let whole = instance.error_carry.floor();
                        instance.error_carry -= whole;
                        errors += whole as u64;
                    }
                }
                self.routed += count;
            }
            if let Some(group) = self.groups.get_mut(&arn) {
                let (requests, fivexx) = group.metrics.last().copied().unwrap_or((0, 0));
                let served = if targets.is_empty() { 0 } else { count };
                group.metrics.push((requests + served, fivexx + errors));
            }
        }
        // Groups without a stream this tick still get a metrics point.
        let ticks = (self.now - START_MS) / TICK_MS;
        for group in self.groups.values_mut() {
            while (group.metrics.len() as u64) < ticks {
                let last = group.metrics.last().copied().unwrap_or((0, 0));
                group.metrics.push(last);
            }
        }
    }
}
