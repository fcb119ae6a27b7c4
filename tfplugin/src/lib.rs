//! zdd-tfplugin: the tfplugin6 protocol layer (see ARCHITECTURE.md).

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
    MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, ServeError, ServeOptions, serve, serve_with,
};
pub use timeouts::{InvalidDuration, Timeouts, parse_duration};
pub use types::Type;
pub use val::{Val, from_value, to_value};
pub use value::{Number, Value, ValueError};
