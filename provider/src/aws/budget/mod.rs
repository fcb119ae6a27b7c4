//! One rate budget per AWS API, shared by every `zdd_rollout` resource of an apply.
//!
//! Terraform runs up to 10 resource operations at once, all in one provider process with one
//! [`super::AwsClients`] (cloned per operation; the budget sits behind an `Arc`, so every clone
//! draws on the same buckets). Each API (`service:Action`) has a token bucket
//! ([`RateLimits`]: defaults below what AWS publishes, overridable through
//! [`RATE_LIMITS_ENV`]). A call waits for a token of its API; while calls wait, commands go
//! before observations ([`Priority`]): a write, or a read made on a command's behalf, is
//! served before a waiting read, so polling fleets never starve a rollout's next step.
//!
//! The decision is pure ([`bucket`]: `now` is an argument); [`RateBudget::admit`] only sleeps
//! until the time the decision names, or until the queue changes. Every adapter call goes
//! through it: the SDK clients are reachable only through `AwsClients`' gated call helpers.
//! The budget paces calls before they are sent; the SDK's adaptive retry mode (see
//! [`super::Retries`]) paces retries after AWS throttles anyway (other tools share the
//! account's limits).
//!
//! The provider block's `api_rate_limits` is the last source of overrides
//! ([`RateLimits::with_block`]): it wins over the environment's.
//!
//! [`BudgetStats`] counts, per API, the calls admitted, those held and for how long, the most
//! admitted in any one second (`peak.rs`: pure, from admission times) and the attempts AWS
//! throttled (`throttles.rs`: an SDK interceptor on each client, so throttles the SDK's retry
//! absorbed count too). A [`BudgetWindow`] gives the same figures for one rollout's run:
//! what was admitted and throttled while it was open, and the peak within it.

mod bucket;
mod limits;
mod peak;
mod throttles;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

pub use bucket::{Admission, Lane, Priority, Ticket, TokenBucket};
pub use limits::{
    AUTOSCALING, Api, BlockEntryError, CLOUDWATCH, DEFAULT_LIMITS, ELBV2, FALLBACK_LIMIT,
    RATE_LIMITS_ENV, RateLimit, RateLimits, published_limit,
};
pub use peak::{PEAK_WINDOW, RunPeaks, SlidingPeak, peak_in_window};
pub use throttles::{ThrottleCounter, error_code};

/// How a call takes its API's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TokenWait {
    /// Waits its turn in the API's queue (commands before reads).
    Queue,
    /// Only a token free now, with no call waiting for one; without it the call is not made
    /// (a record for readers, made at a later step instead).
    IfFreeNow,
}

/// The buckets of every API, their queues, and what they held back.
#[derive(Debug)]
pub struct RateBudget {
    limits: RateLimits,
    origin: Instant,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    lanes: BTreeMap<Api, LaneSlot>,
    stats: BudgetStats,
    peaks: BTreeMap<Api, SlidingPeak>,
    /// The peaks within each open [`BudgetWindow`].
    windows: RunPeaks<Api>,
}

#[derive(Debug)]
struct LaneSlot {
    lane: Lane,
    /// Woken whenever the queue moves (an admission or a cancellation), so waiters recompute
    /// their turn instead of sleeping past it.
    changed: Arc<Notify>,
}

/// Calls admitted and how often and how long the budget held them back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BudgetStats {
    pub calls: u64,
    /// Calls that had to wait for a token.
    pub held: u64,
    /// Their waits, summed.
    pub held_for: Duration,
    /// Attempts AWS answered with a throttling code, retried or not (an attempt of an
    /// action the budget has no bucket for counts here only).
    pub throttled: u64,
    pub by_api: BTreeMap<Api, ApiStats>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiStats {
    pub calls: u64,
    pub held: u64,
    pub held_for: Duration,
    /// The most calls admitted in any one-second window ([`PEAK_WINDOW`]): of the provider
    /// process so far in [`RateBudget::stats`], within the window in
    /// [`BudgetWindow::stats`] (a peak is not a sum: [`BudgetStats::since`] keeps the later
    /// one).
    pub peak_per_second: u64,
    /// Attempts AWS throttled.
    pub throttled: u64,
}

impl BudgetStats {
    fn record(&mut self, api: Api, held_for: Option<Duration>, peak_per_second: u64) {
        let per_api = self.by_api.entry(api).or_default();
        self.calls += 1;
        per_api.calls += 1;
        per_api.peak_per_second = peak_per_second;
        if let Some(wait) = held_for {
            self.held += 1;
            self.held_for += wait;
            per_api.held += 1;
            per_api.held_for += wait;
        }
    }

    fn record_throttle(&mut self, api: Option<Api>) {
        self.throttled += 1;
        if let Some(api) = api {
            self.by_api.entry(api).or_default().throttled += 1;
        }
    }

    /// What happened after `earlier` (a snapshot of the same budget); the peaks are the
    /// later snapshot's (the process's so far).
    pub fn since(&self, earlier: &BudgetStats) -> BudgetStats {
        let by_api = self
            .by_api
            .iter()
            .map(|(api, now)| {
                let before = earlier.by_api.get(api).copied().unwrap_or_default();
                let delta = ApiStats {
                    calls: now.calls.saturating_sub(before.calls),
                    held: now.held.saturating_sub(before.held),
                    held_for: now.held_for.saturating_sub(before.held_for),
                    peak_per_second: now.peak_per_second,
                    throttled: now.throttled.saturating_sub(before.throttled),
                };
                (*api, delta)
            })
            .filter(|(_, delta)| delta.calls > 0 || delta.throttled > 0)
            .collect();
        BudgetStats {
            calls: self.calls.saturating_sub(earlier.calls),
            held: self.held.saturating_sub(earlier.held),
            held_for: self.held_for.saturating_sub(earlier.held_for),
            throttled: self.throttled.saturating_sub(earlier.throttled),
            by_api,
        }
    }
}

impl RateBudget {
    pub fn new(limits: RateLimits) -> RateBudget {
        RateBudget {
            limits,
            origin: Instant::now(),
            state: Mutex::new(State::default()),
        }
    }

    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    /// Waits until `api`'s bucket lets a call of this priority go; answers how long it waited.
    ///
    /// # Cancellation
    /// Dropping the future (a cancelled apply) leaves the queue without taking a token.
    pub async fn admit(&self, api: Api, priority: Priority) -> Duration {
        let started = Instant::now();
        let (ticket, changed) = self.with_state(|state, now| {
            let slot = state.lanes.entry(api).or_insert_with(|| LaneSlot {
                lane: Lane::new(self.limits.limit(api), now),
                changed: Arc::new(Notify::new()),
            });
            (slot.lane.enqueue(priority), Arc::clone(&slot.changed))
        });
        let mut place = Place {
            budget: self,
            api,
            ticket,
            admitted: false,
        };
        let mut held = false;
        loop {
            let notified = changed.notified();
            tokio::pin!(notified);
            // Registered before the poll: a move of the queue right after it still wakes us.
            notified.as_mut().enable();
            let admission = self.with_state(|state, now| {
                state
                    .lanes
                    .get_mut(&api)
                    .map_or(Admission::Admitted, |slot| slot.lane.poll(ticket, now))
            });
            match admission {
                Admission::Admitted => break,
                Admission::WaitUntil(at) => {
                    held = true;
                    tokio::select! {
                        () = tokio::time::sleep_until(self.origin + at) => {}
                        () = &mut notified => {}
                    }
                }
            }
        }
        place.admitted = true;
        changed.notify_waiters();
        let waited = started.elapsed();
        self.with_state(|state, now| {
            let peak = state.peaks.entry(api).or_default().record(now, PEAK_WINDOW);
            state.windows.record(api, now, PEAK_WINDOW);
            state.stats.record(api, held.then_some(waited), peak);
        });
        waited
    }

    /// Admits a call of `api` only if its bucket has a token now and no call waits for one
    /// (see [`Lane::try_take_unqueued`]); answers whether it did. For a call that is better
    /// made later than waited for: a record for readers, written again at a later step.
    pub fn try_admit(&self, api: Api) -> bool {
        self.with_state(|state, now| {
            let slot = state.lanes.entry(api).or_insert_with(|| LaneSlot {
                lane: Lane::new(self.limits.limit(api), now),
                changed: Arc::new(Notify::new()),
            });
            if !slot.lane.try_take_unqueued(now) {
                return false;
            }
            let peak = state.peaks.entry(api).or_default().record(now, PEAK_WINDOW);
            state.windows.record(api, now, PEAK_WINDOW);
            state.stats.record(api, None, peak);
            true
        })
    }

    /// Counts an attempt AWS throttled (`api`: `None` for an action without a bucket).
    pub fn record_throttle(&self, api: Option<Api>) {
        self.with_state(|state, _| state.stats.record_throttle(api));
    }

    /// Calls waiting for `api` now.
    pub fn waiting(&self, api: Api) -> usize {
        self.with_state(|state, _| state.lanes.get(&api).map_or(0, |slot| slot.lane.waiting()))
    }

    /// A snapshot of what the budget admitted and held back so far.
    pub fn stats(&self) -> BudgetStats {
        self.with_state(|state, _| state.stats.clone())
    }

    /// Opens a window on the budget (a rollout's run): its [`BudgetWindow::stats`] are what
    /// was admitted and throttled while it is open, with the peak within it. It closes when
    /// dropped.
    pub fn open_window(&self) -> BudgetWindow<'_> {
        self.with_state(|state, _| BudgetWindow {
            budget: self,
            id: state.windows.open(),
            before: state.stats.clone(),
        })
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State, Duration) -> T) -> T {
        // A panic elsewhere while holding the lock leaves counters and queues that are still
        // consistent (each update is one statement): keep using them.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now().saturating_duration_since(self.origin);
        f(&mut state, now)
    }
}

/// The budget's figures over one span of time, every caller's (the budget is shared by
/// every resource of the provider process, so concurrent runs' calls count in each).
#[derive(Debug)]
pub struct BudgetWindow<'a> {
    budget: &'a RateBudget,
    id: u64,
    before: BudgetStats,
}

impl BudgetWindow<'_> {
    /// What was admitted, held and throttled since the window opened; each API's peak is the
    /// most calls in one second within the window.
    pub fn stats(&self) -> BudgetStats {
        self.budget.with_state(|state, _| {
            let mut stats = state.stats.since(&self.before);
            let peaks = state.windows.peaks(self.id);
            for (api, per_api) in &mut stats.by_api {
                per_api.peak_per_second = peaks.get(api).copied().unwrap_or_default();
            }
            stats
        })
    }
}

impl Drop for BudgetWindow<'_> {
    fn drop(&mut self) {
        self.budget
            .with_state(|state, _| state.windows.close(self.id));
    }
}

/// A call's place in a queue, given up if the call is dropped before its turn.
struct Place<'a> {
    budget: &'a RateBudget,
    api: Api,
    ticket: Ticket,
    admitted: bool,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        if self.admitted {
            return;
        }
        let changed = self.budget.with_state(|state, _| {
            state.lanes.get_mut(&self.api).map(|slot| {
                slot.lane.cancel(self.ticket);
                Arc::clone(&slot.changed)
            })
        });
        if let Some(changed) = changed {
            changed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUPS: Api = Api::new(AUTOSCALING, "DescribeAutoScalingGroups");
    const UPDATE: Api = Api::new(AUTOSCALING, "UpdateAutoScalingGroup");

    fn budget(text: &str) -> Arc<RateBudget> {
        let (limits, problems) = RateLimits::parse(text);
        assert!(problems.is_empty(), "{problems:?}");
        Arc::new(RateBudget::new(limits))
    }

    #[tokio::test]
    async fn the_burst_goes_at_once_and_the_next_call_is_held() {
        let budget = budget("autoscaling:*=20/s burst 2");
        for _ in 0..2 {
            budget.admit(GROUPS, Priority::Observation).await;
        }
        let waited = budget.admit(GROUPS, Priority::Observation).await;
        // One token every 50 ms (a lower bound only: sleeping can only make it longer).
        assert!(waited >= Duration::from_millis(40), "{waited:?}");
        let stats = budget.stats();
        assert_eq!((stats.calls, stats.held), (3, 1));
        assert_eq!(stats.by_api[&GROUPS].calls, 3);
        // The burst and the held call all within a second (50 ms apart at most, far below).
        assert_eq!(stats.by_api[&GROUPS].peak_per_second, 3);
        assert!(stats.held_for >= Duration::from_millis(40));
        // Another API's bucket is untouched.
        budget.admit(UPDATE, Priority::Command).await;
        assert_eq!(budget.stats().held, 1);
    }

    #[tokio::test]
    async fn a_command_queued_behind_observations_is_served_first() {
        let budget = budget("autoscaling:*=10/s burst 1");
        budget.admit(GROUPS, Priority::Observation).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, priority) in [
            ("read 1", Priority::Observation),
            ("read 2", Priority::Observation),
            ("command", Priority::Command),
        ] {
            let budget = Arc::clone(&budget);
            let order = Arc::clone(&order);
            tasks.push(tokio::spawn(async move {
                budget.admit(GROUPS, priority).await;
                order.lock().unwrap().push(name);
            }));
            // The task queues on its first poll, which this yield lets happen: in this order,
            // long before the next token (100 ms).
            tokio::task::yield_now().await;
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["command", "read 1", "read 2"]);
    }

    #[tokio::test]
    async fn a_dropped_call_leaves_its_place() {
        let budget = budget("autoscaling:*=1/s burst 1");
        budget.admit(GROUPS, Priority::Observation).await;
        let waiting = tokio::time::timeout(
            Duration::from_millis(20),
            budget.admit(GROUPS, Priority::Command),
        )
        .await;
        assert!(waiting.is_err(), "no token for a second");
        assert_eq!(budget.waiting(GROUPS), 0, "the dropped call left the queue");
        assert_eq!(budget.stats().calls, 1);
    }

    #[test]
    fn stats_since_a_snapshot_are_the_difference() {
        let mut earlier = BudgetStats::default();
        earlier.record(GROUPS, None, 1);
        earlier.record_throttle(Some(GROUPS));
        let mut later = earlier.clone();
        later.record(GROUPS, Some(Duration::from_millis(30)), 2);
        later.record(UPDATE, None, 1);
        later.record_throttle(Some(GROUPS));
        later.record_throttle(None);
        let delta = later.since(&earlier);
        assert_eq!((delta.calls, delta.held, delta.throttled), (2, 1, 2));
        assert_eq!(delta.by_api[&GROUPS].throttled, 1);
        assert_eq!(delta.by_api[&GROUPS].peak_per_second, 2);
        assert_eq!(delta.held_for, Duration::from_millis(30));
        assert_eq!(delta.by_api[&GROUPS].calls, 1);
        assert_eq!(delta.by_api[&UPDATE].held, 0);
    }

    #[tokio::test]
    async fn a_window_reports_its_own_calls_and_peak_not_the_process_s() {
        let budget = budget("autoscaling:*=20/s burst 20");
        for _ in 0..5 {
            budget.admit(GROUPS, Priority::Observation).await;
        }
        let window = budget.open_window();
        for _ in 0..2 {
            budget.admit(GROUPS, Priority::Observation).await;
        }
        budget.admit(UPDATE, Priority::Command).await;
        budget.record_throttle(Some(GROUPS));
        let process = budget.stats();
        // All 7 within a second (a burst of 20 holds none back).
        assert_eq!(process.by_api[&GROUPS].peak_per_second, 7);
        let run = window.stats();
        assert_eq!((run.calls, run.throttled), (3, 1));
        assert_eq!(run.by_api[&GROUPS].calls, 2);
        assert_eq!(run.by_api[&GROUPS].peak_per_second, 2, "{run:?}");
        assert_eq!(run.by_api[&GROUPS].throttled, 1);
        assert_eq!(run.by_api[&UPDATE].peak_per_second, 1);
        // A window opened later sees nothing yet; a dropped one stops counting.
        let later = budget.open_window();
        assert!(later.stats().by_api.is_empty());
        drop(window);
        assert_eq!(budget.with_state(|state, _| state.windows.open_runs()), 1);
        budget.admit(GROUPS, Priority::Observation).await;
        assert_eq!(later.stats().by_api[&GROUPS].peak_per_second, 1);
    }
}
