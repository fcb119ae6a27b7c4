//! The zdd-guard integration tests, one test binary (one link of the AWS SDK) for the crate: each
//! module is one former test file, named as it was; `guard_support` is their shared bed (it
//! stays where the guard_overhead benchmark includes it from). The tests share one local AWS and
//! name their buckets and tables after themselves.
//!
//! `guard_watch_hang` stays a binary of its own: it sends SIGINT to its whole test process,
//! which any other test with the guard's signal handlers installed would also receive.

#[path = "../guard_support/mod.rs"]
mod guard_support;

mod check_cli;
mod contention;
mod fuzz;
mod guard_args;
mod guard_aws_timeouts;
mod guard_backend_settings;
mod guard_commands;
mod guard_drift;
mod guard_drift_signals;
mod guard_exit_codes;
mod guard_hostile;
mod guard_kill;
mod guard_lease_retry;
mod guard_lease_workspace;
mod guard_lock_left;
mod guard_lock_safety;
mod guard_run;
mod guard_secrets;
mod guard_supervise_lease;
mod json_events;
mod live_view;
mod report;
mod report_browser;
mod status;
