//! The provider and the `zdd_rollout` resource on the tfplugin layer: the only module that
//! knows protocol types. It converts between them and the plain model, the engine and the
//! adapter.

mod ownership;
mod rollout;
pub mod schema;

use std::sync::{Arc, RwLock};

use zdd_tfplugin::{Ctx, Failure, Outcome, Provider, Registry, Schema};

use crate::aws::AwsClients;
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

    async fn configure(
        &self,
        _ctx: &mut Ctx,
        _terraform_version: &str,
        config: ProviderConfig,
    ) -> Outcome<()> {
        let settings = config.aws_settings();
        tracing::debug!(region = ?settings.region, profile = ?settings.profile, "configuring AWS clients");
        self.aws.set(AwsClients::from_settings(&settings).await);
        Ok(())
    }

    fn register(&self, registry: &mut Registry) {
        registry.resource("zdd_rollout", RolloutResource::new(self.aws.clone()));
    }
}
