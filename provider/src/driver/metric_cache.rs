//! The metric periods a run has already read complete, so each is read from CloudWatch once.
//!
//! A complete period ([`MetricTiming::is_complete`]) never changes: CloudWatch published all of
//! it. So an observation asks only from the first period not complete when last read, and the
//! cache supplies the rest. Pure: `now` is an argument.

use std::collections::BTreeMap;

use zdd_rollout::Timestamp;
use zdd_rollout::metrics::{MetricPeriod, MetricTiming, TargetGroupPeriods};

/// The complete periods read in this run, per target group.
#[derive(Debug, Default)]
pub struct PeriodCache {
    /// Every period starting in `[from, until)` is complete and cached; a period of that span
    /// missing from `periods` had no datapoint (no requests).
    span: Option<(Timestamp, Timestamp)>,
    periods: BTreeMap<String, BTreeMap<Timestamp, MetricPeriod>>,
}

impl PeriodCache {
    /// Where the next read must start to give every period from the one holding `since` on:
    /// the end of the cached span when the span covers `since`'s period, else that period.
    pub fn read_from(&self, timing: &MetricTiming, since: Timestamp) -> Timestamp {
        let first = timing.period_start(since);
        match self.span {
            Some((from, until)) if from <= first && first <= until => until,
            _ => first,
        }
    }

    /// Whether a read from `read_from` at `now` can bring a period not already cached: none
    /// when every period from `read_from` on is still incomplete (the engine judges only
    /// complete ones, and CloudWatch publishes at most one per period).
    pub fn read_needed(&self, timing: &MetricTiming, read_from: Timestamp, now: Timestamp) -> bool {
        read_from < timing.first_incomplete(now)
    }

    /// Takes a read that started at `read_from` (as [`PeriodCache::read_from`] said) at `now`,
    /// keeps its complete periods, and returns every period from `since`'s on for each of
    /// `target_groups`: cached ones, then the read's incomplete ones.
    pub fn absorb(
        &mut self,
        timing: &MetricTiming,
        since: Timestamp,
        read_from: Timestamp,
        now: Timestamp,
        target_groups: &[String],
        read: Vec<TargetGroupPeriods>,
    ) -> Vec<TargetGroupPeriods> {
        let contiguous = matches!(self.span, Some((_, until)) if until == read_from);
        if !contiguous {
            self.periods.clear();
        }
        let from = match self.span {
            Some((from, _)) if contiguous => from,
            _ => read_from,
        };
        let until = timing.first_incomplete(now).max(read_from);
        let mut incomplete: BTreeMap<String, Vec<MetricPeriod>> = BTreeMap::new();
        for group in read {
            for period in group.periods {
                if period.start < read_from {
                    continue;
                }
                if period.start < until {
                    self.periods
                        .entry(group.target_group_arn.clone())
                        .or_default()
                        .insert(period.start, period);
                } else {
                    incomplete
                        .entry(group.target_group_arn.clone())
                        .or_default()
                        .push(period);
                }
            }
        }
        self.span = Some((from, until));
        let first = timing.period_start(since);
        target_groups
            .iter()
            .map(|arn| {
                let mut periods: Vec<MetricPeriod> = self
                    .periods
                    .get(arn)
                    .map(|cached| cached.range(first..).map(|(_, p)| p.clone()).collect())
                    .unwrap_or_default();
                let mut fresh = incomplete.remove(arn).unwrap_or_default();
                fresh.sort_by_key(|p| p.start);
                fresh.dedup_by_key(|p| p.start);
                periods.extend(fresh);
                TargetGroupPeriods {
                    target_group_arn: arn.clone(),
                    periods,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const TIMING: MetricTiming = MetricTiming {
        period: Duration::from_secs(60),
        publish_delay: Duration::from_secs(90),
    };

    fn at(seconds: u64) -> Timestamp {
        Timestamp::from_millis(seconds * 1000)
    }

    fn period(start: u64, requests: u64) -> MetricPeriod {
        MetricPeriod {
            start: at(start),
            requests,
            target_5xx: 0,
            elb_5xx: 0,
            p99_ms: Some(100.0),
        }
    }

    fn group(arn: &str, periods: Vec<MetricPeriod>) -> TargetGroupPeriods {
        TargetGroupPeriods {
            target_group_arn: arn.into(),
            periods,
        }
    }

    fn starts(groups: &[TargetGroupPeriods], arn: &str) -> Vec<u64> {
        groups
            .iter()
            .find(|g| g.target_group_arn == arn)
            .map(|g| {
                g.periods
                    .iter()
                    .map(|p| p.start.as_millis() / 1000)
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn the_first_incomplete_period_is_the_one_not_yet_published() {
        // Period [600, 660) is complete at 750.
        assert_eq!(TIMING.first_incomplete(at(750)), at(660));
        assert_eq!(TIMING.first_incomplete(at(749)), at(600));
        assert!(TIMING.is_complete(at(600), at(750)));
        assert!(!TIMING.is_complete(at(660), at(750)));
        assert_eq!(TIMING.first_incomplete(at(10)), at(0));
    }

    #[test]
    fn no_read_is_needed_until_a_new_period_is_complete() {
        let cache = PeriodCache::default();
        // From 660 on nothing is complete before 810 (660 + 60 s period + 90 s delay).
        assert!(!cache.read_needed(&TIMING, at(660), at(809)));
        assert!(cache.read_needed(&TIMING, at(660), at(810)));
        assert!(cache.read_needed(&TIMING, at(600), at(750)));
    }

    #[test]
    fn complete_periods_are_read_once_and_incomplete_ones_again() {
        let arns = ["blue".to_string(), "green".to_string()];
        let mut cache = PeriodCache::default();
        let since = at(610);
        // First read at 800: [600, 660) is complete; [660, 720) and [720, 780) are not.
        let from = cache.read_from(&TIMING, since);
        assert_eq!(from, at(600));
        let out = cache.absorb(
            &TIMING,
            since,
            from,
            at(800),
            &arns,
            vec![
                group(
                    "blue",
                    vec![period(600, 10), period(660, 5), period(720, 1)],
                ),
                group("green", vec![period(660, 3)]),
            ],
        );
        assert_eq!(starts(&out, "blue"), [600, 660, 720]);
        assert_eq!(starts(&out, "green"), [660]);
        // Next read at 860 starts at the first incomplete period of the last read.
        let from = cache.read_from(&TIMING, since);
        assert_eq!(from, at(660));
        let out = cache.absorb(
            &TIMING,
            since,
            from,
            at(860),
            &arns,
            vec![
                group("blue", vec![period(660, 6), period(720, 4)]),
                group("green", vec![period(660, 4), period(720, 2)]),
            ],
        );
        assert_eq!(starts(&out, "blue"), [600, 660, 720]);
        assert_eq!(starts(&out, "green"), [660, 720]);
        let blue = &out[0].periods;
        assert_eq!(
            blue[1].requests, 6,
            "the newer read of an incomplete period wins"
        );
        // [660, 720) was complete at 860: the next read starts after it.
        assert_eq!(cache.read_from(&TIMING, since), at(720));
    }

    #[test]
    fn a_window_that_moves_on_drops_older_periods_and_one_before_the_cache_reads_again() {
        let arns = ["green".to_string()];
        let mut cache = PeriodCache::default();
        let from = cache.read_from(&TIMING, at(600));
        cache.absorb(
            &TIMING,
            at(600),
            from,
            at(900),
            &arns,
            vec![group(
                "green",
                vec![period(600, 1), period(660, 2), period(720, 3)],
            )],
        );
        // A later soak's window starts at 720: the cache covers it up to 780.
        let since = at(720);
        let from = cache.read_from(&TIMING, since);
        assert_eq!(from, at(780));
        let out = cache.absorb(
            &TIMING,
            since,
            from,
            at(900),
            &arns,
            vec![group("green", vec![])],
        );
        assert_eq!(starts(&out, "green"), [720]);
        // A window before the cached span is read again from its start.
        assert_eq!(cache.read_from(&TIMING, at(500)), at(480));
        let out = cache.absorb(
            &TIMING,
            at(500),
            at(480),
            at(900),
            &arns,
            vec![group("green", vec![period(540, 9), period(600, 1)])],
        );
        assert_eq!(starts(&out, "green"), [540, 600]);
    }
}
