//! The zdd-check integration tests, one test binary (one link) for the crate: each module is
//! one former test file, named as it was.

mod check_autoscaling;
mod check_rules;
mod check_sarif;
mod check_snapshot;
mod docs_layout;
mod fuzz;
