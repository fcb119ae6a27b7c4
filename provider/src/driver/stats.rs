//! Where a run's wall time went: inside AWS calls, asleep until the next wake, or in the
//! provider itself (observing, deciding, logging, scheduling). The benchmark reports the last
//! part as the provider's own overhead.

use std::future::Future;
use std::time::Duration;

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

    /// One INFO line summing up the run, for `TF_LOG=INFO` and the benchmark.
    pub fn log(&self, rollout: &str) {
        tracing::info!(
            rollout = %rollout,
            steps = self.steps,
            aws_calls = self.aws_calls,
            aws_ms = millis(self.aws),
            sleep_ms = millis(self.sleep),
            own_ms = millis(self.own()),
            wall_ms = millis(self.wall),
            budget_held = self.budget_held,
            budget_held_ms = millis(self.budget_held_for),
            "rollout stats: steps={} aws_calls={} aws_ms={} sleep_ms={} own_ms={} wall_ms={} own_us_per_step={} own_pct={:.2} budget_held={} budget_held_ms={}",
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
        );
    }
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
}
