//! The driver: observe (adapter) → `Rollout::step` (pure engine) → execute the commands
//! (adapter) → sleep until the decision's wake-up, until the rollout reaches an outcome, the
//! operation's timeout passes or Terraform asks the provider to stop.
//!
//! A stop (StopProvider or the timeout) is handed to the engine as `Rollout::abort`: before
//! the point of no return the engine rolls back and the loop drives the rollback to its end
//! (invariant 5); past it the loop finishes the rollout; with nothing to undo it stops.

pub mod convert;
mod execute;
mod observe;
pub mod stats;
pub mod timeline;

use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;
use zdd_rollout::{AbortReason, Checkpoint, Event, Outcome, Rollout, RolloutSpec};

use crate::aws::{AwsClients, AwsError};

pub use observe::Observer;
pub use stats::RunStats;

/// Environment variable capping the sleep between observations (e.g. `2s`). The engine wakes
/// when something can have changed; the cap keeps a local AWS with a scaled health model (or
/// an eventual-consistency surprise) from leaving the loop asleep too long.
pub const MAX_POLL_ENV: &str = "ZDD_MAX_POLL_INTERVAL";
const DEFAULT_MAX_POLL: Duration = Duration::from_secs(2);
/// Pause after an observation failed before trying again.
const OBSERVE_BACKOFF: Duration = Duration::from_secs(1);
/// Consecutive non-transient observation failures that end the run.
const MAX_OBSERVE_FAILURES: u32 = 5;

/// How long to sleep at most between observations.
pub fn max_poll_interval() -> Duration {
    std::env::var(MAX_POLL_ENV)
        .ok()
        .and_then(|text| crate::model::duration::parse_duration(&text).ok())
        .filter(|interval| !interval.is_zero())
        .unwrap_or(DEFAULT_MAX_POLL)
}

/// Why a run ended without an outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// Terraform called StopProvider (Ctrl-C).
    Cancelled,
    /// The operation's timeout passed.
    TimedOut(Duration),
    /// AWS kept refusing to be observed.
    ObserveFailed(String),
}

/// The end of a run: an outcome, or why it stopped early; the checkpoint to save either way.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub outcome: Result<Outcome, Stopped>,
    pub checkpoint: Checkpoint,
    pub timeline: Vec<Event>,
    pub started_at: SystemTime,
    pub finished_at: SystemTime,
    pub api_calls: u64,
    /// Time spent inside the provider (observing, deciding, commanding), not sleeping.
    pub busy: Duration,
    /// Where the run's wall time went: AWS calls, sleep, the provider's own work.
    pub stats: RunStats,
}

/// Drives `rollout` to an outcome.
///
/// Cancellation and timeout: at the next await point the rollout is aborted
/// ([`Rollout::abort`]). A rollback (or, past the point of no return, the end of the rollout)
/// is then driven to its outcome without further cancellation and with a fresh `timeout`; a
/// second Ctrl-C kills the provider, and the engine's `zdd:rollback` tag makes the next apply
/// finish the rollback. Otherwise the loop returns the checkpoint; every command is
/// idempotent, so the next apply resumes from it and from what AWS shows (invariant 6).
pub async fn run(
    aws: &AwsClients,
    rollout: Rollout,
    observer: &mut Observer,
    timeout: Duration,
    cancel: &CancellationToken,
) -> RunResult {
    run_with_poll(aws, rollout, observer, timeout, cancel, max_poll_interval()).await
}

/// [`run`] with an explicit cap on the sleep between observations.
pub async fn run_with_poll(
    aws: &AwsClients,
    mut rollout: Rollout,
    observer: &mut Observer,
    timeout: Duration,
    cancel: &CancellationToken,
    max_poll: Duration,
) -> RunResult {
    let started_at = SystemTime::now();
    let started = tokio::time::Instant::now();
    let mut deadline = started + timeout;
    // After an abort the rollback must not be cut short by the same stop again.
    let unstoppable = CancellationToken::new();
    let mut cancel = cancel;
    let mut aborted = false;
    let mut metrics_since = None;
    let mut observe_failures = 0;
    let mut busy = Duration::ZERO;
    let mut stats = RunStats::default();
    let calls_before = observer.api_calls;
    let aws_time_before = observer.aws_time;
    let mut logged = rollout.timeline().len();
    log_events(rollout.spec(), &rollout.timeline()[..logged]);

    let outcome = loop {
        let turn = tokio::time::Instant::now();
        let now = SystemTime::now();
        let observation = tokio::select! {
            observation = observer.observe(aws, rollout.spec(), metrics_since, now) => observation,
            () = cancel.cancelled() => {
                if abort(&mut rollout, &Stopped::Cancelled, &mut aborted) {
                    cancel = &unstoppable;
                    deadline = tokio::time::Instant::now() + timeout;
                    continue;
                }
                break Err(Stopped::Cancelled);
            }
        };
        let observation = match observation {
            Ok(observation) => {
                observe_failures = 0;
                observation
            }
            Err(err) => {
                tracing::warn!(rollout = %rollout.spec().name, error = %err, "observation failed");
                if !err.is_transient() {
                    observe_failures += 1;
                    if observe_failures >= MAX_OBSERVE_FAILURES {
                        break Err(Stopped::ObserveFailed(err.to_string()));
                    }
                }
                busy += turn.elapsed();
                if let Err(stopped) = stats::timed(
                    &mut stats.sleep,
                    sleep_until(turn + OBSERVE_BACKOFF, deadline, timeout, cancel),
                )
                .await
                {
                    if abort(&mut rollout, &stopped, &mut aborted) {
                        cancel = &unstoppable;
                        deadline = tokio::time::Instant::now() + timeout;
                        continue;
                    }
                    break Err(stopped);
                }
                continue;
            }
        };
        let decision = rollout.step(&observation, convert::timestamp(now));
        stats.steps += 1;
        log_events(rollout.spec(), &decision.events);
        logged = rollout.timeline().len();
        if let Some(outcome) = decision.outcome {
            busy += turn.elapsed();
            break Ok(outcome);
        }
        metrics_since = decision.metrics_since;
        for command in &decision.commands {
            if cancel.is_cancelled() {
                break;
            }
            tracing::debug!(rollout = %rollout.spec().name, command = %command.describe(), "executing");
            observer.api_calls += u64::from(command.api_calls());
            if let Err(err) = stats::timed(&mut stats.aws, execute::execute(aws, command)).await {
                tracing::warn!(rollout = %rollout.spec().name, command = %command.describe(), error = %err, "command failed");
                rollout.command_failed(
                    command,
                    convert::timestamp(SystemTime::now()),
                    &err.to_string(),
                );
            }
        }
        busy += turn.elapsed();
        let wake = convert::system_time(decision.next_wake)
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            .min(max_poll);
        if let Err(stopped) = stats::timed(
            &mut stats.sleep,
            sleep_until(
                tokio::time::Instant::now() + wake,
                deadline,
                timeout,
                cancel,
            ),
        )
        .await
        {
            if abort(&mut rollout, &stopped, &mut aborted) {
                cancel = &unstoppable;
                deadline = tokio::time::Instant::now() + timeout;
                continue;
            }
            break Err(stopped);
        }
    };
    let _ = logged;
    stats.wall = started.elapsed();
    stats.aws += observer.aws_time.saturating_sub(aws_time_before);
    stats.aws_calls = observer.api_calls.saturating_sub(calls_before);
    stats.log(&rollout.spec().name);
    RunResult {
        outcome,
        checkpoint: rollout.checkpoint().clone(),
        timeline: rollout.timeline().to_vec(),
        started_at,
        finished_at: SystemTime::now(),
        api_calls: observer.api_calls,
        busy,
        stats,
    }
}

/// Hands a stop to the engine once. True when the loop must keep stepping (a rollback, or
/// the end of a rollout past its point of no return).
fn abort(rollout: &mut Rollout, stopped: &Stopped, aborted: &mut bool) -> bool {
    let reason = match stopped {
        Stopped::Cancelled => AbortReason::Interrupted,
        Stopped::TimedOut(after) => AbortReason::TimedOut { after: *after },
        Stopped::ObserveFailed(_) => return false,
    };
    if *aborted {
        return false;
    }
    *aborted = true;
    let answer = rollout.abort(&reason, convert::timestamp(SystemTime::now()));
    tracing::warn!(rollout = %rollout.spec().name, "rollout {reason}: {answer}");
    answer.keep_stepping()
}

async fn sleep_until(
    until: tokio::time::Instant,
    deadline: tokio::time::Instant,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), Stopped> {
    if tokio::time::Instant::now() >= deadline {
        return Err(Stopped::TimedOut(timeout));
    }
    tokio::select! {
        () = tokio::time::sleep_until(until.min(deadline)) => Ok(()),
        () = cancel.cancelled() => Err(Stopped::Cancelled),
    }
}

fn log_events(spec: &RolloutSpec, events: &[Event]) {
    for event in events {
        tracing::info!(rollout = %spec.name, action = %event.action, "{}: {}", event.action, event.detail);
    }
}

/// Observes once (for `Rollout::resume` / `Rollout::teardown`), retrying transient errors
/// until the timeout or a cancel.
pub async fn first_observation(
    aws: &AwsClients,
    spec: &RolloutSpec,
    observer: &mut Observer,
    cancel: &CancellationToken,
) -> Result<zdd_rollout::Observation, AwsError> {
    let mut attempts = 0;
    loop {
        match observer.observe(aws, spec, None, SystemTime::now()).await {
            Ok(observation) => return Ok(observation),
            Err(err)
                if err.is_transient()
                    && attempts < MAX_OBSERVE_FAILURES
                    && !cancel.is_cancelled() =>
            {
                attempts += 1;
                tokio::time::sleep(OBSERVE_BACKOFF).await;
            }
            Err(err) => return Err(err),
        }
    }
}
