//! The engine's integration tests, one test binary: the simulator's property tests of the
//! rollout invariants (`invariants`, `abort`), the insta trace snapshots (`traces`), and the
//! scenarios and validation tables in between. Explore new random scenarios with
//! `make explore` (it filters this binary to `invariants::` and `abort::`).

mod support;

mod abort;
mod autoscaling;
mod autoscaling_in_place;
mod bake;
mod canary_analysis;
mod canary_default_gate;
mod canary_resume_health;
mod checkpoint;
mod hostile;
mod invariants;
mod listener_lag;
mod phase_tags;
mod progress;
mod resume_changed_config;
mod scale_in_place;
mod spec_validation;
mod timeline_actions;
mod traces;
