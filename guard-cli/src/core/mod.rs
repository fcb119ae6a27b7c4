//! Pure core of zdd-guard: no I/O, no clock reads (time is a parameter), no SDK types.

pub mod backend;
pub mod lease;
pub mod lockinfo;
pub mod plan;
pub mod render;
pub mod snapshot;
pub mod watch;
