//! The provider's integration tests, one test binary (each binary links the AWS SDK once):
//! the AWS adapter against the local AWS, the generated docs, and real Terraform applying
//! `zdd_rollout` against the local AWS (`e2e_*`). The tests share one local AWS; each test's
//! fleet, VPC and target groups carry a unique name, and injected faults are scoped to them.
//! Run one family with a filter: `cargo test --workspace --test provider -- e2e_failure::`.

mod common;

mod aws_adapter;
mod aws_budget;
mod aws_coalesce;
mod aws_pagination;
mod aws_scaling;
mod aws_throttling;
mod aws_timeouts;
mod bench_fleets;
mod bench_rollouts;
mod bench_startup;
mod docs;
mod e2e_autoscaling;
mod e2e_blue_green;
mod e2e_canary_analysis;
mod e2e_credentials;
mod e2e_examples;
mod e2e_failure;
mod e2e_give_up;
mod e2e_hooks;
mod e2e_lifecycle;
mod e2e_outcome;
mod e2e_ownership;
mod e2e_phase_tags;
mod e2e_strategies;
mod e2e_validation;
mod hostile;
mod kill_phases;
