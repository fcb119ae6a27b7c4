//! zdd-guard as a library: the binary in `main.rs` is a thin clap front end over these modules.

pub mod check;
