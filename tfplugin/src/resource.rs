//! The typed `Resource` and `DataSource` traits a provider implements.

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::{Ctx, Outcome};
use crate::diagnostics::AttributePath;
use crate::schema::Schema;
use crate::value::Value;

/// A planned change handed to [`Resource::plan`].
#[derive(Debug, Clone)]
pub struct PlanChange<S> {
    /// The state before the change; `None` when the resource is being created.
    pub prior: Option<S>,
    /// The planned new state. The crate already applied the schema's plan
    /// behaviours: computed attributes not set in configuration are unknown
    /// on create (and on update, unless `use_state_for_unknown`).
    pub planned: S,
    /// The configuration as written (may contain unknowns).
    pub config: Value,
    /// Attributes whose change replaces the resource. Pre-filled from
    /// `requires_replace` attributes that changed; add more as needed.
    pub requires_replace: Vec<AttributePath>,
}

/// A managed resource type with a serde state struct.
///
/// Every method receives a [`Ctx`] (warnings, cancellation, private state).
/// A panic inside a method becomes an error diagnostic; the plugin stays up.
pub trait Resource: Send + Sync + 'static {
    /// The resource's state: a serde struct whose fields are the schema's
    /// attributes (and nested blocks). Use [`crate::Val`] for attributes that
    /// can be unknown during planning.
    type State: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// The resource's schema.
    fn schema(&self) -> Schema;

    /// Checks a configuration (which may contain unknowns). Add errors to `ctx.diagnostics`.
    fn validate(&self, _ctx: &mut Ctx, _config: &Value) {}

    /// Adjusts a plan: set computed values known in advance, mark
    /// replacements. The default keeps the plan as the crate computed it.
    fn plan(
        &self,
        _ctx: &mut Ctx,
        _change: &mut PlanChange<Self::State>,
    ) -> impl Future<Output = Outcome<()>> + Send {
        async { Ok(()) }
    }

    /// Creates the resource from the planned state; returns the new state.
    /// On failure after something was created, return the partial state
    /// with [`crate::Failure::with_partial_state`].
    fn create(
        &self,
        ctx: &mut Ctx,
        planned: Self::State,
    ) -> impl Future<Output = Outcome<Self::State>> + Send;

    /// Reads the resource; `Ok(None)` when it no longer exists.
    fn read(
        &self,
        ctx: &mut Ctx,
        current: Self::State,
    ) -> impl Future<Output = Outcome<Option<Self::State>>> + Send;

    /// Updates the resource in place; returns the new state.
    fn update(
        &self,
        ctx: &mut Ctx,
        prior: Self::State,
        planned: Self::State,
    ) -> impl Future<Output = Outcome<Self::State>> + Send;

    /// Deletes the resource. On failure Terraform keeps the prior state.
    fn delete(&self, ctx: &mut Ctx, prior: Self::State)
    -> impl Future<Output = Outcome<()>> + Send;

    /// `terraform import`: the state for an existing object with this id
    /// (Terraform calls `read` afterwards). Unsupported by default.
    fn import(
        &self,
        _ctx: &mut Ctx,
        _id: &str,
    ) -> impl Future<Output = Outcome<Self::State>> + Send {
        async {
            Err(crate::Failure::error(
                "Import is not supported",
                "This resource type cannot be imported.",
            ))
        }
    }

    /// Upgrades stored state JSON written with schema `version` (older than
    /// the current one) to the current layout. The default keeps it as is,
    /// dropping attributes the current schema no longer has.
    fn upgrade_state(
        &self,
        _ctx: &mut Ctx,
        _version: i64,
        state: serde_json::Value,
    ) -> Outcome<serde_json::Value> {
        Ok(state)
    }
}

/// A data source type with a serde state struct.
pub trait DataSource: Send + Sync + 'static {
    /// The data source's value: configuration arguments and read results.
    type State: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// The data source's schema.
    fn schema(&self) -> Schema;

    /// Checks a configuration (which may contain unknowns).
    fn validate(&self, _ctx: &mut Ctx, _config: &Value) {}

    /// Reads the data from its configuration.
    fn read(
        &self,
        ctx: &mut Ctx,
        config: Self::State,
    ) -> impl Future<Output = Outcome<Self::State>> + Send;
}
