//! zdd-tfplugin: serve a Terraform provider over plugin protocol 6.
//!
//! This crate is the whole protocol layer between Terraform and a provider
//! written in Rust: the go-plugin handshake with AutoMTLS (TCP_NODELAY on
//! every connection), the tfplugin6 gRPC service, the msgpack/JSON value
//! codecs, schemas, diagnostics with attribute paths, and cancellation when
//! Terraform calls StopProvider (the plugin itself ignores SIGINT, like Go
//! providers, so a Ctrl-C in the terminal never kills it mid-operation).
//! Logs written with `tracing` go to stderr as hclog JSON, so `TF_LOG` works.
//!
//! A provider binary's `main` is one call:
//!
//! ```no_run
//! use std::process::ExitCode;
//! use serde::{Deserialize, Serialize};
//! use zdd_tfplugin::{Attribute, Ctx, Outcome, Provider, Registry, Resource, Schema, Val};
//!
//! fn main() -> ExitCode {
//!     zdd_tfplugin::serve("registry.terraform.io/example/example", Example)
//! }
//!
//! struct Example;
//!
//! #[derive(Deserialize)]
//! struct Config {
//!     region: Option<String>,
//! }
//!
//! impl Provider for Example {
//!     type Config = Config;
//!     fn schema(&self) -> Schema {
//!         Schema::new(0).attribute(Attribute::string("region").optional())
//!     }
//!     async fn configure(&self, _ctx: &mut Ctx, _tf_version: &str, _config: Config) -> Outcome<()> {
//!         Ok(())
//!     }
//!     fn register(&self, registry: &mut Registry) {
//!         registry.resource("example_thing", Thing);
//!     }
//! }
//!
//! struct Thing;
//!
//! /// Fields are the schema's attributes; `Val` for values unknown while planning.
//! #[derive(Serialize, Deserialize)]
//! struct ThingState {
//!     id: Val<String>,
//!     name: String,
//! }
//!
//! impl Resource for Thing {
//!     type State = ThingState;
//!     fn schema(&self) -> Schema {
//!         Schema::new(0)
//!             .attribute(Attribute::string("id").computed().use_state_for_unknown())
//!             .attribute(Attribute::string("name").required().requires_replace())
//!     }
//!     async fn create(&self, _ctx: &mut Ctx, mut planned: ThingState) -> Outcome<ThingState> {
//!         planned.id = Val::Known(format!("thing-{}", planned.name));
//!         Ok(planned)
//!     }
//!     async fn read(&self, _ctx: &mut Ctx, current: ThingState) -> Outcome<Option<ThingState>> {
//!         Ok(Some(current))
//!     }
//!     async fn update(&self, _ctx: &mut Ctx, _prior: ThingState, planned: ThingState) -> Outcome<ThingState> {
//!         Ok(planned)
//!     }
//!     async fn delete(&self, _ctx: &mut Ctx, _prior: ThingState) -> Outcome<()> {
//!         Ok(())
//!     }
//! }
//! ```
//!
//! Long operations watch [`Ctx::cancellation`] and, when cancelled, return
//! `Err(Failure::error(..).with_partial_state(&state))` so Terraform keeps
//! the resource. Errors from other libraries become diagnostics with
//! [`OrDiag::or_diag`]; a panic inside a resource method becomes an error
//! diagnostic and the plugin keeps serving.

pub mod codec;
mod context;
mod diagnostics;
pub mod logging;
mod plan;
pub mod proto;
mod provider;
mod resource;
mod schema;
mod server;
mod timeouts;
mod types;
mod val;
mod value;

pub use context::{Ctx, Failure, OrDiag, Outcome};
pub use diagnostics::{AttributePath, Diagnostic, Diagnostics, PathStep, Severity};
pub use provider::{Provider, Registry};
pub use resource::{DataSource, PlanChange, Resource};
pub use schema::{Attribute, AttributeKind, Block, NestedBlock, Nesting, Schema};
pub use server::{
    MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, RuntimeFlavor, ServeError, ServeOptions, serve, serve_on,
    serve_with,
};
pub use timeouts::Timeouts;
/// The cancellation token type [`Ctx::cancellation`] returns.
pub use tokio_util::sync::CancellationToken;
pub use types::Type;
pub use val::{Val, from_value, to_value};
pub use value::{Number, Value, ValueError};
pub use zdd_duration::{DurationError, parse as parse_duration};
