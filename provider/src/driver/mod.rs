//! The driver: observe (adapter) → `Rollout::step` (pure engine) → execute the commands
//! (adapter) → sleep until the decision's wake-up, until the rollout reaches an outcome, the
//! operation's timeout passes or Terraform asks the provider to stop.
//!
//! A stop (StopProvider or the timeout) is handed to the engine as `Rollout::abort`: before
//! the point of no return the engine rolls back and the loop drives the rollback to its end
//! (invariant 5); past it the loop finishes the rollout; with nothing to undo it stops.
//!
//! AWS errors that do not go away (expired credentials, a missing permission) are judged by
//! the pure policy in [`give_up`]: after [`give_up::GIVE_UP_AFTER`] refused turns in a row
//! over at least [`give_up::GIVE_UP_WINDOW`], the rollout is aborted the same way (its rollback
//! needs other calls, which may still be allowed); if those are refused too, the run stops
//! with each group's state as last observed, and the next apply resumes.

pub mod convert;
pub mod events;
mod execute;
pub mod give_up;
mod metric_cache;
mod observe;
pub mod stats;
pub mod tick;
pub mod timeline;

use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;
use zdd_rollout::{
    AbortReason, Checkpoint, Command, Event, MetricTiming, Observation, Outcome, Rollout,
    RolloutSpec,
};

use zdd_events::{Progress, Role, Sample, SampleLog};

use crate::aws::{AwsClients, AwsError, ErrorClass};

use events::EventSink;
use give_up::{GiveUp, Turn, Verdict};
pub use observe::{Observer, gate_alarm_names};
pub use stats::RunStats;

/// Environment variable capping the sleep between observations (e.g. `2s`). The engine wakes
/// when something can have changed; the cap keeps a local AWS with a scaled health model (or
/// an eventual-consistency surprise) from leaving the loop asleep too long.
pub const MAX_POLL_ENV: &str = "ZDD_MAX_POLL_INTERVAL";
const DEFAULT_MAX_POLL: Duration = Duration::from_secs(2);
/// Pause after an observation failed before trying again.
const OBSERVE_BACKOFF: Duration = Duration::from_secs(1);
/// Transient failures [`first_observation`] retries before it reports the error.
const MAX_OBSERVE_FAILURES: u32 = 5;
/// Timeline action of the driver's own entries: giving up on AWS refusals.
pub const GIVE_UP_ACTION: &str = "give_up";

/// How long to sleep at most between observations.
pub fn max_poll_interval() -> Duration {
    std::env::var(MAX_POLL_ENV)
        .ok()
        .and_then(|text| crate::model::duration::parse_duration(&text).ok())
        .filter(|interval| !interval.is_zero())
        .unwrap_or(DEFAULT_MAX_POLL)
}

/// Environment variable for tests against the local AWS only: its time scale (`0.05`), so the
/// engine's metric periods and publishing delay match the local AWS's scaled ones
/// ([`MetricTiming::scaled`]). Against AWS it must be unset: AWS's timing is fixed.
pub const METRICS_TIME_SCALE_ENV: &str = "ZDD_METRICS_TIME_SCALE";

/// The metric timing of this process's rollouts: AWS's, or scaled by
/// [`METRICS_TIME_SCALE_ENV`].
pub fn metric_timing() -> MetricTiming {
    metric_timing_from(std::env::var(METRICS_TIME_SCALE_ENV).ok().as_deref())
}

/// A positive, finite time scale scales AWS's timing; anything else (unset, garbage) keeps it,
/// with a warning for garbage.
fn metric_timing_from(scale: Option<&str>) -> MetricTiming {
    let Some(text) = scale else {
        return MetricTiming::default();
    };
    match text.trim().parse::<f64>() {
        Ok(scale) if scale.is_finite() && scale > 0.0 => MetricTiming::scaled(scale),
        _ => {
            tracing::warn!(
                value = text,
                "{METRICS_TIME_SCALE_ENV} is not a positive number: AWS's metric timing is used"
            );
            MetricTiming::default()
        }
    }
}

/// Why a run ended without an outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// Terraform called StopProvider (Ctrl-C).
    Cancelled,
    /// The operation's timeout passed.
    TimedOut(Duration),
    /// AWS kept refusing the rollout's calls, observations or commands, and then those of its
    /// rollback (see [`give_up`]); the text says what was refused. The run's timeline ends
    /// with a `give_up` entry naming each group's state as last observed.
    GaveUp(String),
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
    /// The last observation the engine stepped on (the groups as the outcome saw them): the
    /// serving group's capacity for `current_capacity`.
    pub last_observation: Option<Observation>,
    /// Health and weight over the run, for `last_rollout.samples`.
    pub samples: Vec<Sample>,
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
    let mut busy = Duration::ZERO;
    let mut stats = RunStats::default();
    let calls_before = observer.api_calls;
    let aws_time_before = observer.aws_time;
    // The run's own figures for its stats line (the AWS layer is shared by every resource).
    let run_window = stats::RunWindow::open(aws);
    let mut give_up = GiveUp::default();
    let mut refusals = Refusals::default();
    let mut events = EventSink::from_env(rollout.spec()).in_region(aws.region().await);
    events.started_for(&rollout, started_at);
    let mut announced_target = rollout.target_generation();
    let mut samples = SampleLog::new();

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
            Ok(observation) => observation,
            Err(err) => {
                tracing::warn!(rollout = %rollout.spec().name, error = %err, "observation failed");
                let seen = if err.is_transient() {
                    Turn::Transient
                } else {
                    Turn::Refused {
                        error: err.to_string(),
                    }
                };
                match refusals.judge(&mut give_up, &mut rollout, &seen, started.elapsed()) {
                    Judged::KeepGoing => {}
                    Judged::RollingBack => {
                        aborted = true;
                        cancel = &unstoppable;
                        deadline = tokio::time::Instant::now() + timeout;
                        continue;
                    }
                    Judged::Stop(stopped) => break Err(stopped),
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
        let progress = rollout.progress(&observation, convert::timestamp(now));
        if rollout.target_generation() != announced_target {
            // A superseded generation rolled back: the run now rolls out another one.
            announced_target = rollout.target_generation();
            events.started_for(&rollout, now);
        }
        events.step(&decision.phases_entered, &progress, now);
        samples.push(unix_secs(now), sample(&progress, now));
        refusals.last_seen = Some(observation);
        stats.steps += 1;
        log_events(rollout.spec(), &decision.events);
        if let Some(outcome) = decision.outcome.clone() {
            execute::record_final_phase(aws, &mut rollout, observer, &decision, &mut stats).await;
            busy += turn.elapsed();
            break Ok(outcome);
        }
        metrics_since = decision.metrics_since;
        let mut seen = Turn::Clean;
        for command in &decision.commands {
            if cancel.is_cancelled() {
                break;
            }
            tracing::debug!(rollout = %rollout.spec().name, command = %command.describe(), "executing");
            if let Command::PutLifecycleHook { asg, .. }
            | Command::DeleteLifecycleHook { asg, .. } = command
            {
                // Even a failed call may have changed them.
                observer.hooks_changed(asg);
            }
            match stats::timed(&mut stats.aws, execute::run(aws, command)).await {
                Ok(execute::Ran::Made) => {
                    observer.api_calls += u64::from(command.api_calls());
                    refusals.command_succeeded(&give_up);
                }
                Ok(execute::Ran::Deferred) => rollout.command_not_made(command),
                Err(err) => {
                    observer.api_calls += u64::from(command.api_calls());
                    tracing::warn!(rollout = %rollout.spec().name, command = %command.describe(), error = %err, "command failed");
                    rollout.command_failed(
                        command,
                        convert::timestamp(SystemTime::now()),
                        &err.to_string(),
                    );
                    seen = worse(seen, command, &err);
                }
            }
        }
        match refusals.judge(&mut give_up, &mut rollout, &seen, started.elapsed()) {
            Judged::KeepGoing => {}
            Judged::RollingBack => {
                aborted = true;
                cancel = &unstoppable;
                deadline = tokio::time::Instant::now() + timeout;
                busy += turn.elapsed();
                continue;
            }
            Judged::Stop(stopped) => {
                busy += turn.elapsed();
                break Err(stopped);
            }
        }
        busy += turn.elapsed();
        let engine_wants = convert::system_time(decision.next_wake)
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        // A capped sleep ends on the provider-wide grid, so every resource's look (and its
        // reads) coincide.
        let wake = tick::next_sleep(
            tokio::time::Instant::now().saturating_duration_since(grid_origin()),
            engine_wants,
            max_poll,
            tick::MIN_GAP.min(max_poll / 4),
        );
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
    stats.wall = started.elapsed();
    stats.aws += observer.aws_time.saturating_sub(aws_time_before);
    stats.aws_calls = observer.api_calls.saturating_sub(calls_before);
    let budget = run_window.budget_stats();
    (stats.budget_held, stats.budget_held_for) = (budget.held, budget.held_for);
    stats.log_with_budget(
        &rollout.spec().name,
        &stats::BudgetReport::of(aws, &run_window),
    );
    events.finished(timeline::status(&outcome), &outcome, SystemTime::now());
    let timeline = merge_timeline(rollout.timeline(), &refusals.events);
    let checkpoint = refusals.checkpoint_to_keep(&outcome, rollout.checkpoint());
    RunResult {
        outcome,
        checkpoint,
        timeline,
        started_at,
        finished_at: SystemTime::now(),
        api_calls: observer.api_calls,
        busy,
        stats,
        last_observation: refusals.last_seen,
        samples: samples.samples(),
    }
}

/// One look's health and weight, for `last_rollout.samples`.
fn sample(progress: &Progress, now: SystemTime) -> Sample {
    let healthy = |role: Role| {
        progress
            .generations
            .iter()
            .filter(|g| g.role == role)
            .map(|g| g.healthy)
            .sum()
    };
    Sample {
        at: timeline::rfc3339(now),
        healthy_new: healthy(Role::New),
        healthy_old: healthy(Role::Old),
        weight_new: progress.new_weight_percent,
    }
}

fn unix_secs(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The worse of a turn so far and a failed command's error. A record for readers
/// (the phase record, [`Command::is_informational`]) refused is no sign that AWS refuses the
/// rollout: it never counts towards giving up.
fn worse(seen: Turn, command: &Command, err: &AwsError) -> Turn {
    if command.is_informational() {
        return seen;
    }
    match (seen, err.class()) {
        (refused @ Turn::Refused { .. }, _) => refused,
        (_, class) if class.is_persistent() => Turn::Refused {
            error: err.to_string(),
        },
        (_, ErrorClass::Transient) => Turn::Transient,
        (seen, _) => seen,
    }
}

/// What the loop does after the give-up policy judged a turn.
enum Judged {
    KeepGoing,
    /// The rollout was aborted into its rollback: keep stepping, without cancellation.
    RollingBack,
    Stop(Stopped),
}

/// The driver's side of giving up: the last observation, its own timeline entries, and what
/// to hand back as the checkpoint.
#[derive(Default)]
struct Refusals {
    /// The last observation that succeeded, for the diagnostic.
    last_seen: Option<Observation>,
    /// Timeline entries of the driver (`give_up`).
    events: Vec<Event>,
    /// The checkpoint from just before the give-up abort.
    before_give_up: Option<Checkpoint>,
    /// A command succeeded after the give-up abort (the rollback changed something in AWS).
    rollback_moved: bool,
}

impl Refusals {
    fn command_succeeded(&mut self, give_up: &GiveUp) {
        if give_up.gave_up() {
            self.rollback_moved = true;
        }
    }

    fn judge(
        &mut self,
        policy: &mut GiveUp,
        rollout: &mut Rollout,
        seen: &Turn,
        at: Duration,
    ) -> Judged {
        let now = SystemTime::now();
        match policy.record(seen, at) {
            Verdict::KeepGoing => Judged::KeepGoing,
            Verdict::RollBack { reason } => {
                self.before_give_up = Some(rollout.checkpoint().clone());
                let answer = rollout.abort(
                    &AbortReason::AwsRefused {
                        detail: reason.clone(),
                    },
                    convert::timestamp(now),
                );
                self.log(
                    rollout.spec(),
                    now,
                    format!("{reason}: giving up on the rollout: {answer}"),
                );
                if answer.keep_stepping() {
                    Judged::RollingBack
                } else {
                    Judged::Stop(self.stop(rollout.spec(), now, &reason))
                }
            }
            Verdict::Stop { reason } => Judged::Stop(self.stop(rollout.spec(), now, &reason)),
        }
    }

    fn stop(&mut self, spec: &RolloutSpec, now: SystemTime, reason: &str) -> Stopped {
        let groups = match &self.last_seen {
            Some(observation) => {
                let lines = give_up::describe_groups(observation);
                if lines.is_empty() {
                    "no Auto Scaling group of the fleet".to_string()
                } else {
                    lines.join("; ")
                }
            }
            None => "none observed during this run".to_string(),
        };
        self.log(
            spec,
            now,
            format!(
                "{reason}: stopping. Auto Scaling groups as last observed: {groups}. \
                 Every step is idempotent and tagged in AWS: the next apply resumes from here."
            ),
        );
        Stopped::GaveUp(format!(
            "AWS refused the rollout and its rollback: {reason}"
        ))
    }

    fn log(&mut self, spec: &RolloutSpec, at: SystemTime, detail: String) {
        let event = Event {
            at: convert::timestamp(at),
            action: GIVE_UP_ACTION.to_string(),
            detail,
        };
        log_events(spec, std::slice::from_ref(&event));
        self.events.push(event);
    }

    /// The checkpoint to save: from before the give-up abort when the rollback it started
    /// changed nothing in AWS and the run stopped (the next apply then resumes the rollout
    /// itself rather than a rollback no call of which went through).
    fn checkpoint_to_keep(
        &self,
        outcome: &Result<Outcome, Stopped>,
        current: &Checkpoint,
    ) -> Checkpoint {
        match (&self.before_give_up, outcome) {
            (Some(before), Err(_)) if !self.rollback_moved => before.clone(),
            _ => current.clone(),
        }
    }
}

/// The engine's timeline with the driver's entries, in time order (stable: entries of the
/// same instant keep their order, the engine's first).
fn merge_timeline(engine: &[Event], driver: &[Event]) -> Vec<Event> {
    let mut timeline: Vec<Event> = engine.iter().chain(driver).cloned().collect();
    timeline.sort_by_key(|event| event.at);
    timeline
}

/// Hands a stop to the engine once. True when the loop must keep stepping (a rollback, or
/// the end of a rollout past its point of no return).
fn abort(rollout: &mut Rollout, stopped: &Stopped, aborted: &mut bool) -> bool {
    let reason = match stopped {
        Stopped::Cancelled => AbortReason::Interrupted,
        Stopped::TimedOut(after) => AbortReason::TimedOut { after: *after },
        Stopped::GaveUp(_) => return false,
    };
    if *aborted {
        return false;
    }
    *aborted = true;
    let answer = rollout.abort(&reason, convert::timestamp(SystemTime::now()));
    tracing::warn!(rollout = %rollout.spec().name, "rollout {reason}: {answer}");
    answer.keep_stepping()
}

/// The origin of the polling grid ([`tick`]): once per process, so every resource of every
/// apply this process serves shares it.
fn grid_origin() -> tokio::time::Instant {
    static ORIGIN: std::sync::OnceLock<tokio::time::Instant> = std::sync::OnceLock::new();
    *ORIGIN.get_or_init(tokio::time::Instant::now)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metrics_time_scale_scales_aws_timing_and_garbage_keeps_it() {
        assert_eq!(metric_timing_from(None), MetricTiming::default());
        let scaled = metric_timing_from(Some("0.05"));
        assert_eq!(scaled.period, Duration::from_secs(3));
        assert_eq!(scaled.publish_delay, Duration::from_millis(4500));
        for garbage in ["", "fast", "0", "-1", "inf", "NaN"] {
            assert_eq!(
                metric_timing_from(Some(garbage)),
                MetricTiming::default(),
                "{garbage:?}"
            );
        }
    }

    fn api(code: &str, transient: bool) -> AwsError {
        AwsError::Api {
            operation: "DetachLoadBalancerTargetGroups",
            code: code.into(),
            message: "no".into(),
            transient,
        }
    }

    fn detach() -> Command {
        Command::DetachTargetGroups {
            asg: "web-g1".into(),
            target_group_arns: vec!["tg".into()],
        }
    }

    #[test]
    fn a_refused_phase_record_does_not_count_towards_giving_up() {
        let record = Command::RecordPhase {
            asg: "web-g2".into(),
            phase: "draining_old".into(),
            since: 1_700_000_000,
            floor: 3,
        };
        assert_eq!(
            worse(Turn::Clean, &record, &api("AccessDenied", false)),
            Turn::Clean
        );
        assert_eq!(
            worse(Turn::Clean, &record, &api("Throttling", true)),
            Turn::Clean
        );
        // Any other tag (the rollback's record, say) is the rollout's own business.
        let rollback = Command::TagAsg {
            asg: "web-g2".into(),
            key: zdd_rollout::fleet::TAG_ROLLBACK.into(),
            value: "unhealthy".into(),
        };
        assert!(matches!(
            worse(Turn::Clean, &rollback, &api("AccessDenied", false)),
            Turn::Refused { .. }
        ));
    }

    #[test]
    fn a_turn_is_as_bad_as_its_worst_command() {
        assert!(matches!(
            worse(Turn::Clean, &detach(), &api("AccessDenied", false)),
            Turn::Refused { error } if error.contains("AccessDenied")
        ));
        assert_eq!(
            worse(Turn::Clean, &detach(), &api("Throttling", true)),
            Turn::Transient
        );
        // A refusal is not forgiven by a later throttled command of the same turn.
        let refused = worse(Turn::Clean, &detach(), &api("ExpiredToken", false));
        assert_eq!(
            worse(refused.clone(), &detach(), &api("Throttling", true)),
            refused
        );
        // Waiting on AWS to settle is neither a refusal nor a transient failure.
        let settling = AwsError::NotDrained {
            name: "web-g1".into(),
            detail: "2 instances".into(),
        };
        assert_eq!(worse(Turn::Clean, &detach(), &settling), Turn::Clean);
    }

    #[test]
    fn driver_entries_merge_into_the_engines_timeline_by_time() {
        let event = |ms: u64, action: &str| Event {
            at: zdd_rollout::Timestamp::from_millis(ms),
            action: action.into(),
            detail: String::new(),
        };
        let merged = merge_timeline(
            &[event(1, "phase"), event(5, "abort"), event(9, "phase")],
            &[event(5, GIVE_UP_ACTION), event(7, GIVE_UP_ACTION)],
        );
        let actions: Vec<&str> = merged.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["phase", "abort", "give_up", "give_up", "phase"]);
    }
}
