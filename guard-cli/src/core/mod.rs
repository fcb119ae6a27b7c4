//! Pure core of zdd-guard: no I/O, no clock reads (time is a parameter), no SDK types.

pub mod argv;
pub mod backend;
pub mod lease;
pub mod limits;
pub mod lockinfo;
pub mod plan;
pub mod progress_view;
pub mod release_report;
pub mod render;
pub mod safe_text;
pub mod sensitive;
pub mod snapshot;
pub mod status;
pub mod watch;
