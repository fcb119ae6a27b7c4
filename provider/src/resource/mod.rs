//! The provider and the `zdd_rollout` resource on the tfplugin layer: the only module that
//! knows protocol types. It converts between them and the plain model, the engine and the
//! adapter.

mod ownership;
mod rollout;
pub mod schema;

use std::sync::{Arc, RwLock};

use zdd_tfplugin::{
    AttributePath, Ctx, Diagnostic, Failure, Outcome, Provider, Registry, Schema, Value,
};

use crate::aws::budget::BlockEntryError;
use crate::aws::{AwsClients, CallOptions, RateLimits};
use crate::model::ProviderConfig;

pub use rollout::RolloutResource;

/// The source address Terraform knows the provider by.
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/zdd/zdd";

/// AWS clients, set when Terraform configures the provider.
#[derive(Debug, Clone, Default)]
pub struct SharedAws(Arc<RwLock<Option<AwsClients>>>);

impl SharedAws {
    pub fn set(&self, clients: AwsClients) {
        if let Ok(mut slot) = self.0.write() {
            *slot = Some(clients);
        }
    }

    pub fn get(&self) -> Outcome<AwsClients> {
        self.0
            .read()
            .ok()
            .and_then(|slot| slot.clone())
            .ok_or_else(|| {
                Failure::error(
                    "Provider not configured",
                    "Terraform did not configure the zdd provider before using it.",
                )
            })
    }
}

#[derive(Debug, Default)]
pub struct ZddProvider {
    aws: SharedAws,
}

impl Provider for ZddProvider {
    type Config = ProviderConfig;

    fn schema(&self) -> Schema {
        schema::provider_schema()
    }

    fn validate(&self, ctx: &mut Ctx, config: &Value) {
        // Entries whose key or value is not known yet (a variable) are checked at configure.
        let Some(Value::Map(entries)) = config.attribute(RATE_LIMITS_ATTRIBUTE) else {
            return;
        };
        let known = entries
            .iter()
            .filter_map(|(key, value)| Some((key.as_str(), value.as_str()?)));
        if let Err(errors) = RateLimits::default().with_block(known) {
            for error in errors {
                ctx.diagnostics.push(rate_limit_diagnostic(&error));
            }
        }
    }

    async fn configure(
        &self,
        _ctx: &mut Ctx,
        _terraform_version: &str,
        config: ProviderConfig,
    ) -> Outcome<()> {
        let settings = config.aws_settings();
        let mut options = CallOptions::from_env();
        options.limits = config.rate_limits(options.limits).map_err(|errors| {
            let mut failure = Failure::default();
            for error in &errors {
                failure.diagnostics.push(rate_limit_diagnostic(error));
            }
            failure
        })?;
        // The SDK configuration is loaded by the first AWS call, not here (see AwsClients).
        tracing::debug!(region = ?settings.region, profile = ?settings.profile, "configuring AWS clients");
        for (api, limit) in options.limits.overridden() {
            tracing::info!(api = %api, limit = %limit, "rate budget of {api}: {limit}");
        }
        self.aws
            .set(AwsClients::from_settings_with(&settings, options));
        Ok(())
    }

    fn register(&self, registry: &mut Registry) {
        registry.resource("zdd_rollout", RolloutResource::new(self.aws.clone()));
    }
}

const RATE_LIMITS_ATTRIBUTE: &str = "api_rate_limits";

/// An unusable `api_rate_limits` entry, at its attribute path (`api_rate_limits["KEY"]`).
fn rate_limit_diagnostic(error: &BlockEntryError) -> Diagnostic {
    Diagnostic::error("Invalid API rate limit", error.problem.clone())
        .at(AttributePath::root(RATE_LIMITS_ATTRIBUTE).key(error.key.clone()))
}

#[cfg(test)]
mod tests {
    use tokio_util::sync::CancellationToken;

    use super::*;

    #[tokio::test]
    async fn configure_keeps_the_settings_and_loads_no_aws_configuration() {
        let provider = ZddProvider::default();
        let mut ctx = Ctx::new(CancellationToken::new(), Vec::new());
        // A profile no file defines: loading it now would be the SDK's work, not configure's.
        let config = ProviderConfig {
            region: Some("eu-west-3".to_string()),
            profile: Some("zdd-no-such-profile".to_string()),
            ..ProviderConfig::default()
        };
        let configured = provider.configure(&mut ctx, "1.15.5", config).await;
        assert!(configured.is_ok(), "{configured:?}");
        let aws = provider.aws.get().expect("configured");
        assert!(
            !aws.configuration_loaded(),
            "ConfigureProvider loaded the SDK configuration: a plan that calls no AWS API pays for it"
        );
    }
}
