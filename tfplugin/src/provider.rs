//! The `Provider` trait, the registry of resource types, and the type-erased
//! adapters the server dispatches to.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::Type;
use crate::codec::json::{self as json_codec, Attributes};
use crate::context::{Ctx, Failure, Outcome};
use crate::diagnostics::{AttributePath, Diagnostics};
use crate::plan::plan_defaults;
use crate::resource::{DataSource, PlanChange, Resource};
use crate::schema::Schema;
use crate::val::{from_value, to_value};
use crate::value::Value;

/// A Terraform provider: its configuration schema, `configure`, and the
/// resource and data source types it registers.
///
/// Resources are registered before `configure` runs (Terraform asks for
/// schemas first). Share configured clients with them through an
/// `Arc<OnceLock<Client>>` (or similar) the provider fills in `configure`.
pub trait Provider: Send + Sync + 'static {
    /// The provider block's configuration, as a serde struct.
    type Config: DeserializeOwned + Send + 'static;

    /// The provider block's schema.
    fn schema(&self) -> Schema;

    /// Configures the provider (called once per provider process, before
    /// any resource operation).
    fn configure(
        &self,
        ctx: &mut Ctx,
        terraform_version: &str,
        config: Self::Config,
    ) -> impl Future<Output = Outcome<()>> + Send;

    /// Checks the provider block's configuration at `ValidateProviderConfig` (`terraform
    /// validate`, and before every plan), pushing diagnostics to `ctx`. `config` may hold
    /// unknown values (a variable not known yet): check what is known. None by default.
    fn validate(&self, _ctx: &mut Ctx, _config: &Value) {}

    /// Registers resource and data source types.
    fn register(&self, registry: &mut Registry);
}

/// Resource and data source types by type name (e.g. `zdd_rollout`).
#[derive(Default)]
pub struct Registry {
    pub(crate) resources: BTreeMap<String, Arc<dyn DynResource>>,
    pub(crate) data_sources: BTreeMap<String, Arc<dyn DynDataSource>>,
}

impl Registry {
    /// Registers a managed resource type.
    pub fn resource<R: Resource>(
        &mut self,
        type_name: impl Into<String>,
        resource: R,
    ) -> &mut Self {
        let schema = resource.schema();
        let value_type = schema.value_type();
        self.resources.insert(
            type_name.into(),
            Arc::new(TypedResource {
                inner: resource,
                schema,
                value_type,
            }),
        );
        self
    }

    /// Registers a data source type.
    pub fn data_source<D: DataSource>(
        &mut self,
        type_name: impl Into<String>,
        data_source: D,
    ) -> &mut Self {
        let schema = data_source.schema();
        let value_type = schema.value_type();
        self.data_sources.insert(
            type_name.into(),
            Arc::new(TypedDataSource {
                inner: data_source,
                schema,
                value_type,
            }),
        );
        self
    }
}

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What an erased operation hands back to the server.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub value: Value,
    pub diagnostics: Diagnostics,
    pub private: Vec<u8>,
    pub requires_replace: Vec<AttributePath>,
}

impl Reply {
    fn failed(diagnostics: Diagnostics, value: Value, private: Vec<u8>) -> Self {
        Reply {
            value,
            diagnostics,
            private,
            requires_replace: Vec::new(),
        }
    }
}

fn decode_failure(what: &str, error: impl std::fmt::Display) -> Diagnostics {
    Diagnostics::from(crate::Diagnostic::error(
        format!("Provider could not decode the {what}"),
        format!("{error}. This is a bug in the provider's schema or state struct."),
    ))
}

fn encode_failure(what: &str, error: impl std::fmt::Display) -> Diagnostics {
    Diagnostics::from(crate::Diagnostic::error(
        format!("Provider could not encode the {what}"),
        format!("{error}. This is a bug in the provider's schema or state struct."),
    ))
}

/// Turns a `Failure` into reply diagnostics plus the partial state, if any.
fn failure_reply(ctx: Ctx, failure: Failure, ty: &Type, fallback: Value) -> Reply {
    let (mut diagnostics, private) = ctx.into_parts();
    diagnostics.extend(failure.diagnostics);
    let value = match failure.partial_state {
        Some(partial) => match json_codec::from_json(&partial, ty, Attributes::Strict) {
            Ok(value) => value.unknowns_to_null(),
            Err(error) => {
                diagnostics.extend(encode_failure("partial state", error));
                fallback
            }
        },
        None => fallback,
    };
    if !diagnostics.has_errors() {
        diagnostics.error(
            "Operation failed",
            "The provider reported a failure without an error diagnostic.",
        );
    }
    Reply::failed(diagnostics, value, private)
}

pub(crate) trait DynProvider: Send + Sync {
    fn schema(&self) -> &Schema;
    fn validate(&self, ctx: &mut Ctx, config: &Value);
    fn configure(
        self: Arc<Self>,
        ctx: Ctx,
        terraform_version: String,
        config: Value,
    ) -> BoxFuture<Reply>;
}

pub(crate) struct TypedProvider<P: Provider> {
    pub inner: P,
    pub schema: Schema,
}

impl<P: Provider> DynProvider for TypedProvider<P> {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, ctx: &mut Ctx, config: &Value) {
        self.inner.validate(ctx, config);
    }

    fn configure(
        self: Arc<Self>,
        mut ctx: Ctx,
        terraform_version: String,
        config: Value,
    ) -> BoxFuture<Reply> {
        Box::pin(async move {
            let config: P::Config = match from_value(&config) {
                Ok(config) => config,
                Err(error) => {
                    return Reply::failed(
                        decode_failure("provider configuration", error),
                        Value::Null,
                        vec![],
                    );
                }
            };
            match self
                .inner
                .configure(&mut ctx, &terraform_version, config)
                .await
            {
                Ok(()) => {
                    let (diagnostics, private) = ctx.into_parts();
                    Reply {
                        diagnostics,
                        private,
                        ..Reply::default()
                    }
                }
                Err(failure) => failure_reply(ctx, failure, &Type::Dynamic, Value::Null),
            }
        })
    }
}

pub(crate) trait DynResource: Send + Sync {
    fn schema(&self) -> &Schema;
    fn value_type(&self) -> &Type;
    fn validate(&self, ctx: &mut Ctx, config: &Value);
    fn plan(
        self: Arc<Self>,
        ctx: Ctx,
        prior: Value,
        proposed: Value,
        config: Value,
    ) -> BoxFuture<Reply>;
    fn apply(self: Arc<Self>, ctx: Ctx, prior: Value, planned: Value) -> BoxFuture<Reply>;
    fn read(self: Arc<Self>, ctx: Ctx, current: Value) -> BoxFuture<Reply>;
    fn import(self: Arc<Self>, ctx: Ctx, id: String) -> BoxFuture<Reply>;
    fn upgrade(&self, ctx: Ctx, version: i64, raw: serde_json::Value) -> Reply;
}

struct TypedResource<R: Resource> {
    inner: R,
    schema: Schema,
    value_type: Type,
}

impl<R: Resource> TypedResource<R> {
    fn encode(&self, state: &R::State, what: &str) -> Result<Value, Diagnostics> {
        to_value(state, &self.value_type).map_err(|error| encode_failure(what, error))
    }

    fn decode(value: &Value, what: &str) -> Result<R::State, Diagnostics> {
        from_value(value).map_err(|error| decode_failure(what, error))
    }

    fn finish(ctx: Ctx, value: Value) -> Reply {
        let (diagnostics, private) = ctx.into_parts();
        Reply {
            value,
            diagnostics,
            private,
            requires_replace: Vec::new(),
        }
    }

    async fn apply_typed(&self, mut ctx: Ctx, prior: Value, planned: Value) -> Reply {
        let private = ctx.private_state().to_vec();
        if planned.is_null() {
            let state = match Self::decode(&prior, "prior state") {
                Ok(state) => state,
                Err(diagnostics) => return Reply::failed(diagnostics, prior, private),
            };
            return match self.inner.delete(&mut ctx, state).await {
                Ok(()) => Self::finish(ctx, Value::Null),
                Err(failure) => failure_reply(ctx, failure, &self.value_type, prior),
            };
        }
        let planned_state = match Self::decode(&planned, "planned state") {
            Ok(state) => state,
            Err(diagnostics) => return Reply::failed(diagnostics, prior, private),
        };
        let result = if prior.is_null() {
            self.inner.create(&mut ctx, planned_state).await
        } else {
            let prior_state = match Self::decode(&prior, "prior state") {
                Ok(state) => state,
                Err(diagnostics) => return Reply::failed(diagnostics, prior, private),
            };
            self.inner
                .update(&mut ctx, prior_state, planned_state)
                .await
        };
        match result {
            Ok(state) => match self.encode(&state, "new state") {
                Ok(value) => Self::finish(ctx, value.unknowns_to_null()),
                Err(diagnostics) => Reply::failed(diagnostics, prior, private),
            },
            Err(failure) => failure_reply(ctx, failure, &self.value_type, prior),
        }
    }
}

impl<R: Resource> DynResource for TypedResource<R> {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn value_type(&self) -> &Type {
        &self.value_type
    }

    fn validate(&self, ctx: &mut Ctx, config: &Value) {
        self.inner.validate(ctx, config);
    }

    fn plan(
        self: Arc<Self>,
        mut ctx: Ctx,
        prior: Value,
        proposed: Value,
        config: Value,
    ) -> BoxFuture<Reply> {
        Box::pin(async move {
            let private = ctx.private_state().to_vec();
            let (planned, requires_replace) =
                plan_defaults(self.schema.root(), &prior, proposed, &config);
            if planned.is_null() {
                return Self::finish(ctx, Value::Null);
            }
            let decoded = Self::decode(&planned, "planned state").and_then(|planned| {
                Ok((
                    planned,
                    if prior.is_null() {
                        None
                    } else {
                        Some(Self::decode(&prior, "prior state")?)
                    },
                ))
            });
            let (planned_state, prior_state) = match decoded {
                Ok(states) => states,
                Err(diagnostics) => return Reply::failed(diagnostics, Value::Null, private),
            };
            let mut change = PlanChange {
                prior: prior_state,
                planned: planned_state,
                config,
                requires_replace,
            };
            if let Err(failure) = self.inner.plan(&mut ctx, &mut change).await {
                return failure_reply(ctx, failure, &self.value_type, Value::Null);
            }
            match self.encode(&change.planned, "planned state") {
                Ok(value) => {
                    let mut reply = Self::finish(ctx, value);
                    reply.requires_replace = change.requires_replace;
                    reply
                }
                Err(diagnostics) => Reply::failed(diagnostics, Value::Null, private),
            }
        })
    }

    fn apply(self: Arc<Self>, ctx: Ctx, prior: Value, planned: Value) -> BoxFuture<Reply> {
        Box::pin(async move { self.apply_typed(ctx, prior, planned).await })
    }

    fn read(self: Arc<Self>, mut ctx: Ctx, current: Value) -> BoxFuture<Reply> {
        Box::pin(async move {
            let private = ctx.private_state().to_vec();
            let state = match Self::decode(&current, "current state") {
                Ok(state) => state,
                Err(diagnostics) => return Reply::failed(diagnostics, current, private),
            };
            match self.inner.read(&mut ctx, state).await {
                Ok(Some(state)) => match self.encode(&state, "state read") {
                    Ok(value) => Self::finish(ctx, value.unknowns_to_null()),
                    Err(diagnostics) => Reply::failed(diagnostics, current, private),
                },
                Ok(None) => Self::finish(ctx, Value::Null),
                Err(failure) => failure_reply(ctx, failure, &self.value_type, current),
            }
        })
    }

    fn import(self: Arc<Self>, mut ctx: Ctx, id: String) -> BoxFuture<Reply> {
        Box::pin(async move {
            match self.inner.import(&mut ctx, &id).await {
                Ok(state) => match self.encode(&state, "imported state") {
                    Ok(value) => Self::finish(ctx, value.unknowns_to_null()),
                    Err(diagnostics) => Reply::failed(diagnostics, Value::Null, vec![]),
                },
                Err(failure) => failure_reply(ctx, failure, &self.value_type, Value::Null),
            }
        })
    }

    fn upgrade(&self, mut ctx: Ctx, version: i64, raw: serde_json::Value) -> Reply {
        let upgraded = if version == self.schema.version() {
            Ok(raw)
        } else {
            self.inner.upgrade_state(&mut ctx, version, raw)
        };
        match upgraded {
            Ok(json) => {
                match json_codec::from_json(&json, &self.value_type, Attributes::IgnoreExtra) {
                    Ok(value) => Self::finish(ctx, value),
                    Err(error) => {
                        Reply::failed(decode_failure("stored state", error), Value::Null, vec![])
                    }
                }
            }
            Err(failure) => failure_reply(ctx, failure, &self.value_type, Value::Null),
        }
    }
}

pub(crate) trait DynDataSource: Send + Sync {
    fn schema(&self) -> &Schema;
    fn value_type(&self) -> &Type;
    fn validate(&self, ctx: &mut Ctx, config: &Value);
    fn read(self: Arc<Self>, ctx: Ctx, config: Value) -> BoxFuture<Reply>;
}

struct TypedDataSource<D: DataSource> {
    inner: D,
    schema: Schema,
    value_type: Type,
}

impl<D: DataSource> DynDataSource for TypedDataSource<D> {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn value_type(&self) -> &Type {
        &self.value_type
    }

    fn validate(&self, ctx: &mut Ctx, config: &Value) {
        self.inner.validate(ctx, config);
    }

    fn read(self: Arc<Self>, mut ctx: Ctx, config: Value) -> BoxFuture<Reply> {
        Box::pin(async move {
            let config: D::State = match from_value(&config) {
                Ok(config) => config,
                Err(error) => {
                    return Reply::failed(
                        decode_failure("data source configuration", error),
                        Value::Null,
                        vec![],
                    );
                }
            };
            match self.inner.read(&mut ctx, config).await {
                Ok(state) => match to_value(&state, &self.value_type) {
                    Ok(value) => {
                        let (diagnostics, private) = ctx.into_parts();
                        Reply {
                            value: value.unknowns_to_null(),
                            diagnostics,
                            private,
                            requires_replace: vec![],
                        }
                    }
                    Err(error) => Reply::failed(
                        encode_failure("data source result", error),
                        Value::Null,
                        vec![],
                    ),
                },
                Err(failure) => failure_reply(ctx, failure, &self.value_type, Value::Null),
            }
        })
    }
}
