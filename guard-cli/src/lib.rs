//! zdd-guard as a library: the binary in `main.rs` is a thin clap front end over these modules.
//!
//! `core` is pure (tested without AWS or terraform); `aws` holds the only SDK calls; `runner`
//! is the only place that builds a `Command` for terraform; `commands` wires them together.
//! `zdd-guard check` is the zdd-check crate (no AWS), called from `main.rs`.

pub mod aws;
pub mod commands;
pub mod core;
pub mod exit;
pub mod output;
pub mod report;
pub mod runner;
pub mod timings;
