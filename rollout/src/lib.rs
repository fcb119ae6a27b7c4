//! zdd-rollout: the pure rollout engine (see ARCHITECTURE.md).
//!
//! Decisions are a function of state, observation and time: no I/O, no clock reads, no AWS or
//! protocol types. The provider drives it:
//!
//! 1. `RolloutSpec::validate(&raw)` at plan time (errors carry attribute paths);
//! 2. `Rollout::resume(spec, saved_checkpoint, &observation, now)` at apply time;
//! 3. loop: `let d = rollout.step(&observation, now)`, run `d.commands` (report failures with
//!    `Rollout::command_failed`), sleep until `d.next_wake`, observe again; stop when
//!    `d.outcome` is `Some`; save `rollout.checkpoint()` and `d.events` into state.
//! 4. on an interrupt or timeout: `rollout.abort(&reason, now)`; if the answer says
//!    [`Abort::keep_stepping`], keep looping to the outcome (a rollback, or past the point of
//!    no return the finished rollout).
//!
//! The `sim` feature adds a deterministic simulator of Auto Scaling + a load balancer +
//! traffic with fault injection, used by the property tests and the benchmark.

pub mod abort;
pub mod command;
pub mod engine;
pub mod fleet;
pub mod metrics;
pub mod observation;
pub mod phase;
pub mod spec;
pub mod time;
pub mod transitions;

#[cfg(feature = "sim")]
pub mod sim;

pub use abort::{Abort, AbortReason};
pub use command::Command;
pub use engine::{Checkpoint, Decision, Mode, PhaseEntered, Rollout, gate_poll, step};
pub use metrics::{MetricPeriod, MetricTiming, TargetGroupPeriods};
pub use observation::{
    AlarmObservation, AlarmState, AsgObservation, InstanceObservation, LifecycleState,
    ListenerObservation, Observation, TargetGroupObservation, TargetObservation, TargetState,
};
pub use phase::{Event, Outcome, Phase};
pub use spec::{
    AttributePath, CanarySpec, CanaryStep, Capacity, LaunchTemplateRef, PathStep, RawCanary,
    RawCanaryStep, RawSpec, RolloutSpec, SpecError, SpecErrorKind, SpecErrors, Strategy,
};
pub use time::{HumanDuration, Timestamp, parse_duration};
pub use transitions::{PhaseKind, Transition};
