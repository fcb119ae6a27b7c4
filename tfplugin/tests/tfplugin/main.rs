//! The zdd-tfplugin integration tests, one test binary (one link) for the crate: each module is
//! one former test file, named as it was. `common` stays where the benchmark includes it from.

#[path = "../common/mod.rs"]
mod common;

mod codec;
mod fuzz;
mod handshake;
mod terraform;
