//! The `tfplugin6.Provider` gRPC service: decodes requests, runs the typed
//! resource code on its own task (a panic becomes an error diagnostic), and
//! encodes the replies.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::convert::{decode_dynamic, diagnostics, encode_dynamic, schema};
use crate::context::Ctx;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::proto::tfplugin6 as pb;
use crate::proto::tfplugin6::provider_server::Provider as ProviderRpc;
use crate::provider::{BoxFuture, DynDataSource, DynProvider, DynResource, Registry, Reply};
use crate::value::Value;

/// Everything the service needs, shared by all calls.
pub(crate) struct ProviderService {
    provider: Arc<dyn DynProvider>,
    resources: HashMap<String, Arc<dyn DynResource>>,
    data_sources: HashMap<String, Arc<dyn DynDataSource>>,
    schema_response: pb::get_provider_schema::Response,
    stop: CancellationToken,
}

impl ProviderService {
    pub(crate) fn new(
        provider: Arc<dyn DynProvider>,
        registry: Registry,
        stop: CancellationToken,
    ) -> Self {
        let schema_response = pb::get_provider_schema::Response {
            provider: Some(schema(provider.schema())),
            resource_schemas: registry
                .resources
                .iter()
                .map(|(name, r)| (name.clone(), schema(r.schema())))
                .collect(),
            data_source_schemas: registry
                .data_sources
                .iter()
                .map(|(name, d)| (name.clone(), schema(d.schema())))
                .collect(),
            functions: HashMap::new(),
            diagnostics: Vec::new(),
            provider_meta: None,
            server_capabilities: Some(capabilities()),
        };
        ProviderService {
            provider,
            resources: registry.resources.into_iter().collect(),
            data_sources: registry.data_sources.into_iter().collect(),
            schema_response,
            stop,
        }
    }

    fn ctx(&self, private: Vec<u8>) -> Ctx {
        Ctx::new(self.stop.clone(), private)
    }

    fn resource(&self, type_name: &str) -> Result<&Arc<dyn DynResource>, Diagnostics> {
        self.resources.get(type_name).ok_or_else(|| {
            Diagnostic::error(
                "Unknown resource type",
                format!("This provider has no resource type {type_name:?}."),
            )
            .into()
        })
    }

    fn data_source(&self, type_name: &str) -> Result<&Arc<dyn DynDataSource>, Diagnostics> {
        self.data_sources.get(type_name).ok_or_else(|| {
            Diagnostic::error(
                "Unknown data source type",
                format!("This provider has no data source {type_name:?}."),
            )
            .into()
        })
    }
}

fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: false,
        // Schemas never change within one binary: Terraform may use its cache.
        get_provider_schema_optional: true,
        move_resource_state: false,
        generate_resource_config: false,
    }
}

/// The text of a panic payload (no backtrace: it goes to the user).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic".to_string()
    }
}

fn panic_diagnostic(operation: &str, message: &str) -> Diagnostics {
    tracing::error!(
        operation,
        reason = message,
        "a provider operation panicked; reported as an error diagnostic"
    );
    Diagnostic::error(
        format!("Provider bug: {operation} panicked"),
        format!("The provider stopped this operation because of an internal error: {message}. Please report it."),
    )
    .into()
}

/// Runs an operation on its own task so a panic cannot take the plugin down.
async fn guarded(operation: &str, future: BoxFuture<Reply>, fallback: Value) -> Reply {
    match tokio::spawn(future).await {
        Ok(reply) => reply,
        Err(error) if error.is_panic() => {
            let message = panic_message(error.into_panic().as_ref());
            Reply {
                value: fallback,
                diagnostics: panic_diagnostic(operation, &message),
                ..Reply::default()
            }
        }
        Err(_) => Reply {
            value: fallback,
            diagnostics: Diagnostic::error(format!("{operation} was cancelled"), "").into(),
            ..Reply::default()
        },
    }
}

/// Runs a synchronous hook, turning a panic into an error diagnostic.
fn guarded_sync<T>(
    operation: &str,
    hook: impl FnOnce() -> T,
    on_panic: impl FnOnce(Diagnostics) -> T,
) -> T {
    match std::panic::catch_unwind(AssertUnwindSafe(hook)) {
        Ok(result) => result,
        Err(payload) => on_panic(panic_diagnostic(
            operation,
            &panic_message(payload.as_ref()),
        )),
    }
}

/// Diagnostics on a reply, keeping any already there.
fn with_diagnostics(mut diags: Diagnostics, extra: Diagnostics) -> Vec<pb::Diagnostic> {
    diags.extend(extra);
    diagnostics(&diags)
}

#[tonic::async_trait]
impl ProviderRpc for ProviderService {
    async fn get_metadata(
        &self,
        _request: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            diagnostics: Vec::new(),
            data_sources: self
                .data_sources
                .keys()
                .map(|name| pb::get_metadata::DataSourceMetadata {
                    type_name: name.clone(),
                })
                .collect(),
            resources: self
                .resources
                .keys()
                .map(|name| pb::get_metadata::ResourceMetadata {
                    type_name: name.clone(),
                })
                .collect(),
        }))
    }

    async fn get_provider_schema(
        &self,
        _request: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        Ok(Response::new(self.schema_response.clone()))
    }

    async fn validate_provider_config(
        &self,
        request: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        let request = request.into_inner();
        let ty = self.provider.schema().value_type();
        let diags = match decode_dynamic(request.config.as_ref(), &ty, "provider configuration") {
            Ok(config) => {
                let mut ctx = self.ctx(Vec::new());
                guarded_sync(
                    "validate",
                    || {
                        self.provider.validate(&mut ctx, &config);
                        ctx.diagnostics.clone()
                    },
                    |diags| diags,
                )
            }
            Err(diags) => diags,
        };
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics: diagnostics(&diags),
        }))
    }

    async fn validate_resource_config(
        &self,
        request: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        let request = request.into_inner();
        let diags = match self.resource(&request.type_name).and_then(|resource| {
            let config = decode_dynamic(
                request.config.as_ref(),
                resource.value_type(),
                "configuration",
            )?;
            Ok((resource, config))
        }) {
            Ok((resource, config)) => {
                let mut ctx = self.ctx(Vec::new());
                guarded_sync(
                    "validate",
                    || {
                        resource.validate(&mut ctx, &config);
                        ctx.diagnostics.clone()
                    },
                    |diags| diags,
                )
            }
            Err(diags) => diags,
        };
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics: diagnostics(&diags),
        }))
    }

    async fn validate_data_resource_config(
        &self,
        request: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        let request = request.into_inner();
        let diags = match self
            .data_source(&request.type_name)
            .and_then(|data_source| {
                let config = decode_dynamic(
                    request.config.as_ref(),
                    data_source.value_type(),
                    "configuration",
                )?;
                Ok((data_source, config))
            }) {
            Ok((data_source, config)) => {
                let mut ctx = self.ctx(Vec::new());
                guarded_sync(
                    "validate",
                    || {
                        data_source.validate(&mut ctx, &config);
                        ctx.diagnostics.clone()
                    },
                    |diags| diags,
                )
            }
            Err(diags) => diags,
        };
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics: diagnostics(&diags),
        }))
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        let request = request.into_inner();
        let reply = (|| -> Result<pb::upgrade_resource_state::Response, Diagnostics> {
            let resource = self.resource(&request.type_name)?;
            let raw = request.raw_state.unwrap_or_default();
            if raw.json.is_empty() {
                return Err(Diagnostic::error(
                    "Unsupported state format",
                    "The stored state is in the legacy flatmap format, which this provider cannot read.",
                )
                .into());
            }
            let json: serde_json::Value = serde_json::from_slice(&raw.json).map_err(|error| {
                Diagnostics::from(Diagnostic::error(
                    "Stored state is not valid JSON",
                    error.to_string(),
                ))
            })?;
            let ctx = self.ctx(Vec::new());
            let reply = guarded_sync(
                "state upgrade",
                || resource.upgrade(ctx, request.version, json),
                |diagnostics| Reply {
                    diagnostics,
                    ..Reply::default()
                },
            );
            let upgraded_state = if reply.diagnostics.has_errors() {
                None
            } else {
                Some(encode_dynamic(
                    &reply.value,
                    resource.value_type(),
                    "upgraded state",
                )?)
            };
            Ok(pb::upgrade_resource_state::Response {
                upgraded_state,
                diagnostics: diagnostics(&reply.diagnostics),
            })
        })();
        Ok(Response::new(reply.unwrap_or_else(|diags| {
            pb::upgrade_resource_state::Response {
                upgraded_state: None,
                diagnostics: diagnostics(&diags),
            }
        })))
    }

    async fn get_resource_identity_schemas(
        &self,
        _request: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Result<Response<pb::get_resource_identity_schemas::Response>, Status> {
        Ok(Response::new(
            pb::get_resource_identity_schemas::Response::default(),
        ))
    }

    async fn configure_provider(
        &self,
        request: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        let request = request.into_inner();
        let ty = self.provider.schema().value_type();
        let diags = match decode_dynamic(request.config.as_ref(), &ty, "provider configuration") {
            Ok(config) => {
                let future = self.provider.clone().configure(
                    self.ctx(Vec::new()),
                    request.terraform_version,
                    config,
                );
                guarded("configure", future, Value::Null).await.diagnostics
            }
            Err(diags) => diags,
        };
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics: diagnostics(&diags),
        }))
    }

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        let request = request.into_inner();
        let outcome = async {
            let resource = self.resource(&request.type_name)?;
            let ty = resource.value_type();
            let current = decode_dynamic(request.current_state.as_ref(), ty, "current state")?;
            let future = resource
                .clone()
                .read(self.ctx(request.private.clone()), current.clone());
            let reply = guarded("read", future, current).await;
            let new_state = encode_dynamic(&reply.value, ty, "new state")?;
            Ok::<_, Diagnostics>(pb::read_resource::Response {
                new_state: Some(new_state),
                diagnostics: diagnostics(&reply.diagnostics),
                private: reply.private,
                deferred: None,
                new_identity: None,
            })
        }
        .await;
        Ok(Response::new(outcome.unwrap_or_else(|diags| {
            pb::read_resource::Response {
                new_state: request.current_state,
                diagnostics: diagnostics(&diags),
                private: request.private,
                ..Default::default()
            }
        })))
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        let request = request.into_inner();
        let outcome = async {
            let resource = self.resource(&request.type_name)?;
            let ty = resource.value_type();
            let prior = decode_dynamic(request.prior_state.as_ref(), ty, "prior state")?;
            let proposed =
                decode_dynamic(request.proposed_new_state.as_ref(), ty, "proposed state")?;
            let config = decode_dynamic(request.config.as_ref(), ty, "configuration")?;
            let future = resource.clone().plan(
                self.ctx(request.prior_private.clone()),
                prior,
                proposed,
                config,
            );
            let reply = guarded("plan", future, Value::Null).await;
            let planned_state = if reply.diagnostics.has_errors() {
                None
            } else {
                Some(encode_dynamic(&reply.value, ty, "planned state")?)
            };
            Ok::<_, Diagnostics>(pb::plan_resource_change::Response {
                planned_state,
                requires_replace: reply
                    .requires_replace
                    .iter()
                    .map(super::convert::attribute_path)
                    .collect(),
                planned_private: reply.private,
                diagnostics: diagnostics(&reply.diagnostics),
                ..Default::default()
            })
        }
        .await;
        Ok(Response::new(outcome.unwrap_or_else(|diags| {
            pb::plan_resource_change::Response {
                diagnostics: diagnostics(&diags),
                ..Default::default()
            }
        })))
    }

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        let request = request.into_inner();
        let outcome = async {
            let resource = self.resource(&request.type_name)?;
            let ty = resource.value_type();
            let prior = decode_dynamic(request.prior_state.as_ref(), ty, "prior state")?;
            let planned = decode_dynamic(request.planned_state.as_ref(), ty, "planned state")?;
            let operation = match (prior.is_null(), planned.is_null()) {
                (true, _) => "create",
                (_, true) => "delete",
                _ => "update",
            };
            let future = resource.clone().apply(
                self.ctx(request.planned_private.clone()),
                prior.clone(),
                planned,
            );
            let reply = guarded(operation, future, prior).await;
            let new_state = encode_dynamic(&reply.value, ty, "new state");
            let (new_state, encode_diags) = match new_state {
                Ok(state) => (Some(state), Diagnostics::new()),
                Err(diags) => (request.prior_state.clone(), diags),
            };
            Ok::<_, Diagnostics>(pb::apply_resource_change::Response {
                new_state,
                private: reply.private,
                diagnostics: with_diagnostics(reply.diagnostics, encode_diags),
                ..Default::default()
            })
        }
        .await;
        Ok(Response::new(outcome.unwrap_or_else(|diags| {
            pb::apply_resource_change::Response {
                new_state: request.prior_state,
                diagnostics: diagnostics(&diags),
                ..Default::default()
            }
        })))
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        let request = request.into_inner();
        let outcome = async {
            let resource = self.resource(&request.type_name)?;
            let ty = resource.value_type();
            let future = resource
                .clone()
                .import(self.ctx(Vec::new()), request.id.clone());
            let reply = guarded("import", future, Value::Null).await;
            let imported_resources = if reply.diagnostics.has_errors() || reply.value.is_null() {
                Vec::new()
            } else {
                vec![pb::import_resource_state::ImportedResource {
                    type_name: request.type_name.clone(),
                    state: Some(encode_dynamic(&reply.value, ty, "imported state")?),
                    private: reply.private,
                    identity: None,
                }]
            };
            Ok::<_, Diagnostics>(pb::import_resource_state::Response {
                imported_resources,
                diagnostics: diagnostics(&reply.diagnostics),
                deferred: None,
            })
        }
        .await;
        Ok(Response::new(outcome.unwrap_or_else(|diags| {
            pb::import_resource_state::Response {
                diagnostics: diagnostics(&diags),
                ..Default::default()
            }
        })))
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        let request = request.into_inner();
        let outcome = async {
            let data_source = self.data_source(&request.type_name)?;
            let ty = data_source.value_type();
            let config = decode_dynamic(request.config.as_ref(), ty, "configuration")?;
            let future = data_source.clone().read(self.ctx(Vec::new()), config);
            let reply = guarded("read", future, Value::Null).await;
            let state = if reply.diagnostics.has_errors() {
                None
            } else {
                Some(encode_dynamic(&reply.value, ty, "data")?)
            };
            Ok::<_, Diagnostics>(pb::read_data_source::Response {
                state,
                diagnostics: diagnostics(&reply.diagnostics),
                deferred: None,
            })
        }
        .await;
        Ok(Response::new(outcome.unwrap_or_else(|diags| {
            pb::read_data_source::Response {
                diagnostics: diagnostics(&diags),
                ..Default::default()
            }
        })))
    }

    async fn get_functions(
        &self,
        _request: Request<pb::get_functions::Request>,
    ) -> Result<Response<pb::get_functions::Response>, Status> {
        Ok(Response::new(pb::get_functions::Response::default()))
    }

    async fn stop_provider(
        &self,
        _request: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
        tracing::info!("StopProvider: cancelling running operations");
        self.stop.cancel();
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}
