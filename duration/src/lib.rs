//! Terraform's duration grammar, the one every zdd crate reads and writes.
//!
//! Terraform and its providers read durations with Go's `time.ParseDuration`: a sequence of
//! decimal numbers, each with an optional fraction and a unit (`ns`, `us` or `µs`, `ms`, `s`,
//! `m`, `h`), such as `"300ms"`, `"1.5h"` or `"2h45m"`, and a bare `"0"`. zdd users write the
//! same text in `zdd_rollout`, in `timeouts` blocks, in the S3 backend and in the guard's
//! flags, so one parser reads them all and they can never disagree.
//!
//! Two deliberate differences from Go, both refusals with a clear message rather than
//! surprises: a negative duration (none of zdd's settings can be negative), and a value
//! outside [`std::time::Duration`] (Go's limit is about 292 years, ours is larger; neither
//! matters for a timeout).

mod error;
mod format;
#[cfg(test)]
mod fuzz;
mod parse;

pub use error::{DurationError, Reason};
pub use format::format;
pub use parse::parse;
