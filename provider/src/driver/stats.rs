//! Where a run's wall time went: inside AWS calls, asleep until the next wake, or in the
//! provider itself (observing, deciding, logging, scheduling). The benchmark reports the last
//! part as the provider's own overhead.

use std::fmt::Write;
use std::future::Future;
use std::time::Duration;

use crate::aws::AwsClients;
use crate::aws::budget::{Api, BudgetStats, BudgetWindow, RateLimit, RateLimits};
use crate::aws::coalesce::CoalesceStats;

/// Accumulated over one [`super::run_with_poll`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Engine steps (`Rollout::step` calls).
    pub steps: u64,
    /// AWS API calls made during the run.
    pub aws_calls: u64,
    /// Sum of the durations of the adapter calls (observations and commands).
    pub aws: Duration,
    /// Time asleep waiting for the next wake (or the backoff after a failed observation).
    pub sleep: Duration,
    /// From the start of the run to its outcome.
    pub wall: Duration,
    /// Calls the shared rate budget held back during the run (every `zdd_rollout` of the
    /// provider process draws on it, so concurrent runs' calls count here too).
    pub budget_held: u64,
    /// How long it held them, summed.
    pub budget_held_for: Duration,
}

impl RunStats {
    /// Wall time neither inside AWS calls nor asleep.
    pub fn own(&self) -> Duration {
        self.wall
            .saturating_sub(self.aws)
            .saturating_sub(self.sleep)
    }

    /// Own time per engine step.
    pub fn own_per_step(&self) -> Duration {
        match u32::try_from(self.steps) {
            Ok(0) => Duration::ZERO,
            Ok(steps) => self.own() / steps,
            Err(_) => Duration::ZERO,
        }
    }

    /// Own time as a share of the wall time, in percent.
    pub fn own_percent(&self) -> f64 {
        if self.wall.is_zero() {
            0.0
        } else {
            100.0 * self.own().as_secs_f64() / self.wall.as_secs_f64()
        }
    }

    /// One INFO line summing up the run, for `TF_LOG=INFO` and the benchmark: the run's
    /// figures and what the shared AWS budget saw ([`BudgetReport`]).
    pub fn log_with_budget(&self, rollout: &str, budget: &BudgetReport) {
        tracing::info!(
            rollout = %rollout,
            "rollout stats: {} {}",
            self.summary(),
            budget.summary()
        );
    }

    /// The run's figures as `key=value` pairs (pure).
    pub fn summary(&self) -> String {
        format!(
            "steps={} aws_calls={} aws_ms={} sleep_ms={} own_ms={} wall_ms={} own_us_per_step={} own_pct={:.2} budget_held={} budget_held_ms={}",
            self.steps,
            self.aws_calls,
            millis(self.aws),
            millis(self.sleep),
            millis(self.own()),
            millis(self.wall),
            self.own_per_step().as_micros(),
            self.own_percent(),
            self.budget_held,
            millis(self.budget_held_for),
        )
    }
}

/// What the provider process's AWS budget saw during a run, for its end: per API its calls,
/// throttles and peak calls in one second against its budget, and what coalescing saved, all
/// within the run's span (every resource's calls: the budget is shared); and the process's
/// peak memory (a high-water mark has no per-run share).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BudgetReport {
    pub apis: Vec<ApiReport>,
    /// Throttled attempts during the run, every API.
    pub throttled: u64,
    /// What coalescing saved during the run.
    pub coalesced: CoalesceStats,
    /// The process's peak resident memory (VmHWM), where `/proc` tells it.
    pub peak_rss_kib: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiReport {
    pub api: Api,
    pub calls: u64,
    /// The most calls in one second within the run.
    pub peak_per_second: u64,
    /// The API's budget: at most `burst + rate × 1 s` calls in any second.
    pub limit: RateLimit,
    pub throttled: u64,
}

impl BudgetReport {
    /// The report of `budget` (the run's share of the budget's stats) under `limits`.
    pub fn new(
        budget: &BudgetStats,
        limits: &RateLimits,
        coalesced: CoalesceStats,
        peak_rss_kib: Option<u64>,
    ) -> BudgetReport {
        let apis = budget
            .by_api
            .iter()
            .map(|(api, stats)| ApiReport {
                api: *api,
                calls: stats.calls,
                peak_per_second: stats.peak_per_second,
                limit: limits.limit(*api),
                throttled: stats.throttled,
            })
            .collect();
        BudgetReport {
            apis,
            throttled: budget.throttled,
            coalesced,
            peak_rss_kib,
        }
    }

    /// The report of `aws`' budget and coalescing over `run` (opened at the run's start),
    /// with the process's peak memory.
    pub fn of(aws: &AwsClients, run: &RunWindow<'_>) -> BudgetReport {
        BudgetReport::new(
            &run.budget.stats(),
            aws.budget().limits(),
            aws.coalesce_stats().since(&run.coalesced_before),
            peak_rss_kib(),
        )
    }

    /// `key=value` pairs (pure): `api[NAME]=calls/peak_1s/budget/throttled` per API, e.g.
    /// `api[autoscaling:DescribeAutoScalingGroups]=calls:40,peak_1s:7,budget:5/s+10,throttled:0`.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for api in &self.apis {
            let _ = write!(
                out,
                "api[{}]=calls:{},peak_1s:{},budget:{}/s+{},throttled:{} ",
                api.api,
                api.calls,
                api.peak_per_second,
                api.limit.per_second(),
                api.limit.burst(),
                api.throttled
            );
        }
        let groups = self.coalesced.rollout_groups;
        let health = self.coalesced.target_health;
        let _ = write!(
            out,
            "throttled={} coalesced_groups_reads={} coalesced_groups_calls={} coalesced_health_reads={} coalesced_health_calls={} coalesced_saved={} peak_rss_kib={}",
            self.throttled,
            groups.callers,
            groups.calls,
            health.callers,
            health.calls,
            groups.saved() + health.saved(),
            self.peak_rss_kib
                .map_or_else(|| "unknown".to_string(), |kib| kib.to_string()),
        );
        out
    }
}

/// A run's span on the shared AWS layer: the budget's window and the coalescing counts at its
/// start, so its [`BudgetReport`] names the run's figures, not the process's so far.
#[derive(Debug)]
pub struct RunWindow<'a> {
    budget: BudgetWindow<'a>,
    coalesced_before: CoalesceStats,
}

impl RunWindow<'_> {
    /// Opens the window at a run's start.
    pub fn open(aws: &AwsClients) -> RunWindow<'_> {
        RunWindow {
            budget: aws.budget().open_window(),
            coalesced_before: aws.coalesce_stats(),
        }
    }

    /// The budget's figures since the run started.
    pub fn budget_stats(&self) -> BudgetStats {
        self.budget.stats()
    }
}

/// The provider process's peak resident memory in KiB (`VmHWM` of `/proc/self/status`);
/// `None` where there is no `/proc`.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_hwm_kib(&status)
}

/// `VmHWM` of a `/proc/<pid>/status` text, in KiB (pure).
pub fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?;
    let mut words = line.split_whitespace();
    let value = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then_some(value)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Awaits `call`, adding how long it took to `total`.
pub(crate) async fn timed<F: Future>(total: &mut Duration, call: F) -> F::Output {
    let started = tokio::time::Instant::now();
    let answer = call.await;
    *total += started.elapsed();
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_time_is_what_aws_and_sleep_leave_of_the_wall() {
        let stats = RunStats {
            steps: 4,
            aws_calls: 10,
            aws: Duration::from_millis(300),
            sleep: Duration::from_millis(600),
            wall: Duration::from_millis(1000),
            ..RunStats::default()
        };
        assert_eq!(stats.own(), Duration::from_millis(100));
        assert_eq!(stats.own_per_step(), Duration::from_millis(25));
        assert!((stats.own_percent() - 10.0).abs() < 1e-9);
    }

    #[test]
    fn no_steps_and_no_wall_give_zero_not_a_division_by_zero() {
        let stats = RunStats::default();
        assert_eq!(stats.own_per_step(), Duration::ZERO);
        assert!(stats.own_percent().abs() < f64::EPSILON);
    }

    #[tokio::test]
    async fn timed_adds_the_call_duration() {
        let mut total = Duration::from_millis(5);
        let answer = timed(&mut total, async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            7
        })
        .await;
        assert_eq!(answer, 7);
        assert!(total >= Duration::from_millis(25), "{total:?}");
    }

    #[test]
    fn the_budget_report_names_each_api_with_its_peak_against_its_budget() {
        use crate::aws::budget::{AUTOSCALING, ApiStats, ELBV2};
        use crate::aws::coalesce::KindStats;
        let groups = Api::new(AUTOSCALING, "DescribeAutoScalingGroups");
        let health = Api::new(ELBV2, "DescribeTargetHealth");
        let mut budget = BudgetStats {
            throttled: 3,
            ..BudgetStats::default()
        };
        budget.by_api.insert(
            groups,
            ApiStats {
                calls: 40,
                peak_per_second: 7,
                throttled: 2,
                ..ApiStats::default()
            },
        );
        budget.by_api.insert(
            health,
            ApiStats {
                calls: 9,
                peak_per_second: 2,
                ..ApiStats::default()
            },
        );
        let limits = RateLimits::default()
            .with_block([("autoscaling:DescribeAutoScalingGroups", "0.5/s burst 2")])
            .unwrap();
        let coalesced = CoalesceStats {
            rollout_groups: KindStats {
                callers: 100,
                calls: 4,
                keys: 100,
            },
            target_health: KindStats {
                callers: 30,
                calls: 10,
                keys: 10,
            },
        };
        let report = BudgetReport::new(&budget, &limits, coalesced, Some(52_000));
        let line = report.summary();
        assert!(
            line.contains(
                "api[autoscaling:DescribeAutoScalingGroups]=calls:40,peak_1s:7,budget:0.5/s+2,throttled:2 "
            ),
            "{line}"
        );
        assert!(
            line.contains("api[elasticloadbalancing:DescribeTargetHealth]=calls:9,peak_1s:2,budget:6/s+10,throttled:0 "),
            "{line}"
        );
        assert!(line.contains(" throttled=3 "), "{line}");
        assert!(
            line.contains("coalesced_groups_reads=100 coalesced_groups_calls=4 coalesced_health_reads=30 coalesced_health_calls=10 coalesced_saved=116"),
            "{line}"
        );
        assert!(line.ends_with("peak_rss_kib=52000"), "{line}");
        let unknown = BudgetReport::new(
            &BudgetStats::default(),
            &limits,
            CoalesceStats::default(),
            None,
        );
        assert!(unknown.summary().ends_with("peak_rss_kib=unknown"));
        assert!(!unknown.summary().contains("api["));
    }

    #[test]
    fn peak_memory_is_read_from_vm_hwm_in_kib() {
        let status = "Name:\tterraform-provider-zdd\nVmPeak:\t  912345 kB\nVmHWM:\t   52340 kB\nVmRSS:\t   40000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(52_340));
        assert_eq!(vm_hwm_kib("VmRSS:\t 1 kB\n"), None);
        assert_eq!(vm_hwm_kib("VmHWM:\t lots kB\n"), None);
        assert_eq!(vm_hwm_kib("VmHWM:\t 12 MB\n"), None, "only kB is read");
        // Where there is a /proc (Linux, where the tests run), this process has a peak.
        if std::path::Path::new("/proc/self/status").exists() {
            assert!(peak_rss_kib().is_some_and(|kib| kib > 0));
        }
    }
}
