//! `zdd-guard status`, pure: one look at AWS ([`snapshot`]) becomes the view of each fleet
//! ([`view`]), rendered as aligned text ([`text`]) or one JSON document (the view's serde
//! form, with `schema_version`); `--watch`'s choices between looks ([`watch`]). No I/O, no clock: `now` is an argument.

pub mod snapshot;
pub mod text;
pub mod view;
pub mod watch;

#[cfg(test)]
mod tests;
