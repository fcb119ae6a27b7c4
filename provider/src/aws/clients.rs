//! The service clients, reachable only through the rate budget.
//!
//! The SDK clients are private to this module: the adapter's modules call AWS only through
//! [`AwsClients::autoscaling`], [`AwsClients::elbv2`] and [`AwsClients::cloudwatch`], which
//! wait for the API's token ([`RateBudget::admit`]) before the request is sent, and name the
//! API for the budget and the error alike. A call that bypasses the budget does not compile.

use std::future::Future;
use std::sync::Arc;

use aws_sdk_autoscaling::error::{ProvideErrorMetadata, SdkError};

use super::budget::RateLimits;
use super::budget::{
    AUTOSCALING, Api, BudgetStats, CLOUDWATCH, ELBV2, Priority, RateBudget, ThrottleCounter,
};
use super::coalesce::{DEFAULT_WINDOW, SharedReads};
use super::config::{AwsSettings, CallTimeouts, Endpoints, load_sdk_config};
use super::error::{AwsError, api_error};
use super::retries::Retries;

/// How every call is bounded, retried and paced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOptions {
    pub timeouts: CallTimeouts,
    pub retries: Retries,
    pub limits: RateLimits,
}

impl CallOptions {
    /// The defaults with the process environment's overrides (`ZDD_AWS_*_TIMEOUT`,
    /// `ZDD_AWS_RATE_LIMITS`).
    pub fn from_env() -> CallOptions {
        CallOptions {
            timeouts: CallTimeouts::from_env(),
            retries: Retries::DEFAULT,
            limits: RateLimits::from_env(),
        }
    }
}

/// The three service clients the adapter uses, built from one shared configuration, and the
/// rate budget they share with every clone (one per provider configuration: every
/// `zdd_rollout` operation of an apply draws on it).
#[derive(Debug, Clone)]
pub struct AwsClients {
    autoscaling_client: aws_sdk_autoscaling::Client,
    elbv2_client: aws_sdk_elasticloadbalancingv2::Client,
    cloudwatch_client: aws_sdk_cloudwatch::Client,
    budget: Arc<RateBudget>,
    /// Reads coalesced across every clone (every resource of the apply).
    shared: Arc<SharedReads>,
    /// The priority of reads made through this handle: a command's own reads go first too.
    reads: Priority,
}

impl AwsClients {
    /// The region the clients call (the provider's `region`, or the SDK's default chain's).
    pub fn region(&self) -> Option<String> {
        self.autoscaling_client
            .config()
            .region()
            .map(ToString::to_string)
    }

    /// The clients for `sdk` with [`CallOptions::from_env`] on each, whatever `sdk` says (a
    /// configuration built elsewhere may carry no timeouts at all).
    pub fn new(sdk: &aws_config::SdkConfig, endpoints: &Endpoints) -> AwsClients {
        AwsClients::with_options(sdk, endpoints, CallOptions::from_env())
    }

    /// The clients for `sdk`, every one bounded by `timeouts`.
    pub fn with_timeouts(
        sdk: &aws_config::SdkConfig,
        endpoints: &Endpoints,
        timeouts: CallTimeouts,
    ) -> AwsClients {
        let options = CallOptions {
            timeouts,
            ..CallOptions::from_env()
        };
        AwsClients::with_options(sdk, endpoints, options)
    }

    /// The clients for `sdk`, each with `options`' timeouts and retries, all sharing one
    /// budget of `options`' limits.
    pub fn with_options(
        sdk: &aws_config::SdkConfig,
        endpoints: &Endpoints,
        options: CallOptions,
    ) -> AwsClients {
        let timeouts = options.timeouts.sdk();
        let retries = options.retries.sdk();
        let budget = Arc::new(RateBudget::new(options.limits));
        let counter = |service| ThrottleCounter::new(service, Arc::clone(&budget));
        let mut autoscaling = aws_sdk_autoscaling::config::Builder::from(sdk)
            .timeout_config(timeouts.clone())
            .retry_config(retries.clone())
            .retry_partition(Retries::partition(AUTOSCALING))
            .interceptor(counter(AUTOSCALING));
        if let Some(url) = &endpoints.autoscaling {
            autoscaling = autoscaling.endpoint_url(url);
        }
        let mut elbv2 = aws_sdk_elasticloadbalancingv2::config::Builder::from(sdk)
            .timeout_config(timeouts.clone())
            .retry_config(retries.clone())
            .retry_partition(Retries::partition(ELBV2))
            .interceptor(counter(ELBV2));
        if let Some(url) = &endpoints.elbv2 {
            elbv2 = elbv2.endpoint_url(url);
        }
        let mut cloudwatch = aws_sdk_cloudwatch::config::Builder::from(sdk)
            .timeout_config(timeouts)
            .retry_config(retries)
            .retry_partition(Retries::partition(CLOUDWATCH))
            .interceptor(counter(CLOUDWATCH));
        if let Some(url) = &endpoints.cloudwatch {
            cloudwatch = cloudwatch.endpoint_url(url);
        }
        AwsClients {
            autoscaling_client: aws_sdk_autoscaling::Client::from_conf(autoscaling.build()),
            elbv2_client: aws_sdk_elasticloadbalancingv2::Client::from_conf(elbv2.build()),
            cloudwatch_client: aws_sdk_cloudwatch::Client::from_conf(cloudwatch.build()),
            budget,
            shared: Arc::new(SharedReads::new(DEFAULT_WINDOW)),
            reads: Priority::Observation,
        }
    }

    /// Loads the SDK configuration for `settings` and builds the clients.
    pub async fn from_settings(settings: &AwsSettings) -> AwsClients {
        AwsClients::from_settings_with(settings, CallOptions::from_env()).await
    }

    /// Loads the SDK configuration for `settings` and builds the clients with `options` (the
    /// provider block's rate limits among them).
    pub async fn from_settings_with(settings: &AwsSettings, options: CallOptions) -> AwsClients {
        let sdk = load_sdk_config(settings).await;
        AwsClients::with_options(&sdk, &settings.endpoints, options)
    }

    /// The timeouts each client enforces, by service (`None`: one of the three is unset).
    pub fn timeouts(&self) -> [(&'static str, Option<CallTimeouts>); 3] {
        [
            (
                AUTOSCALING,
                CallTimeouts::of(self.autoscaling_client.config().timeout_config()),
            ),
            (
                ELBV2,
                CallTimeouts::of(self.elbv2_client.config().timeout_config()),
            ),
            (
                CLOUDWATCH,
                CallTimeouts::of(self.cloudwatch_client.config().timeout_config()),
            ),
        ]
    }

    /// The retries each client makes, by service (`None`: not in adaptive mode).
    pub fn retries(&self) -> [(&'static str, Option<Retries>); 3] {
        [
            (
                AUTOSCALING,
                Retries::of(self.autoscaling_client.config().retry_config()),
            ),
            (
                ELBV2,
                Retries::of(self.elbv2_client.config().retry_config()),
            ),
            (
                CLOUDWATCH,
                Retries::of(self.cloudwatch_client.config().retry_config()),
            ),
        ]
    }

    /// What the shared budget admitted and held back so far (every clone's calls).
    pub fn budget_stats(&self) -> BudgetStats {
        self.budget.stats()
    }

    /// The rate budget every clone shares.
    pub fn budget(&self) -> &RateBudget {
        &self.budget
    }

    /// The coalesced reads every clone shares.
    pub(super) fn shared(&self) -> &SharedReads {
        &self.shared
    }

    /// The priority of this handle's reads.
    pub(super) fn read_priority(&self) -> Priority {
        self.reads
    }

    /// This handle with its reads at `priority` (a coalesced call goes with its most urgent
    /// member's priority).
    pub(super) fn with_read_priority(&self, priority: Priority) -> AwsClients {
        AwsClients {
            reads: priority,
            ..self.clone()
        }
    }

    /// This handle for a command: its reads (the describe before an attach, the listener
    /// read before a weight change) wait with the command's priority.
    pub(super) fn for_command(&self) -> AwsClients {
        AwsClients {
            reads: Priority::Command,
            ..self.clone()
        }
    }

    /// One Auto Scaling call: waits for `action`'s token, then sends what `request` builds.
    pub(super) async fn autoscaling<O, E, R, Fut>(
        &self,
        action: &'static str,
        request: impl FnOnce(&aws_sdk_autoscaling::Client) -> Fut,
    ) -> Result<O, AwsError>
    where
        Fut: Future<Output = Result<O, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let api = Api::new(AUTOSCALING, action);
        self.admit(api).await;
        request(&self.autoscaling_client)
            .await
            .map_err(|err| api_error(action, err))
    }

    /// One ELBv2 call (see [`AwsClients::autoscaling`]).
    pub(super) async fn elbv2<O, E, R, Fut>(
        &self,
        action: &'static str,
        request: impl FnOnce(&aws_sdk_elasticloadbalancingv2::Client) -> Fut,
    ) -> Result<O, AwsError>
    where
        Fut: Future<Output = Result<O, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        self.admit(Api::new(ELBV2, action)).await;
        request(&self.elbv2_client)
            .await
            .map_err(|err| api_error(action, err))
    }

    /// One CloudWatch call (see [`AwsClients::autoscaling`]).
    pub(super) async fn cloudwatch<O, E, R, Fut>(
        &self,
        action: &'static str,
        request: impl FnOnce(&aws_sdk_cloudwatch::Client) -> Fut,
    ) -> Result<O, AwsError>
    where
        Fut: Future<Output = Result<O, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        self.admit(Api::new(CLOUDWATCH, action)).await;
        request(&self.cloudwatch_client)
            .await
            .map_err(|err| api_error(action, err))
    }

    async fn admit(&self, api: Api) {
        let priority = if api.is_read() {
            self.reads
        } else {
            Priority::Command
        };
        let waited = self.budget.admit(api, priority).await;
        if waited.as_millis() >= 100 {
            let limit = self.budget.limits().limit(api);
            tracing::debug!(api = %api, waited_ms = waited.as_millis(), limit = %limit, "rate budget held the call");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::budget::DEFAULT_LIMITS;
    use super::*;

    /// The adapter's sources, where every AWS call names its action through the gated
    /// helpers.
    const ADAPTER_SOURCES: [&str; 4] = [
        include_str!("autoscaling.rs"),
        include_str!("scaling.rs"),
        include_str!("elbv2.rs"),
        include_str!("cloudwatch.rs"),
    ];

    /// `(service, action)` of each `.autoscaling("…"`, `.elbv2("…"` and `.cloudwatch("…"` call.
    fn actions_called() -> BTreeSet<(String, String)> {
        let mut called = BTreeSet::new();
        for source in ADAPTER_SOURCES {
            for (helper, service) in [
                (".autoscaling(", AUTOSCALING),
                (".elbv2(", ELBV2),
                (".cloudwatch(", CLOUDWATCH),
            ] {
                for (at, _) in source.match_indices(helper) {
                    let rest = source[at + helper.len()..].trim_start();
                    let action = rest
                        .strip_prefix('"')
                        .and_then(|rest| rest.split('"').next())
                        .unwrap_or_else(|| {
                            panic!("{helper} must name its action as a literal: {rest:.60}")
                        });
                    called.insert((service.to_string(), action.to_string()));
                }
            }
        }
        called
    }

    #[test]
    fn every_action_the_adapter_calls_has_a_budget_of_its_own() {
        let called = actions_called();
        let budgeted: BTreeSet<(String, String)> = DEFAULT_LIMITS
            .iter()
            .map(|(api, _)| (api.service.to_string(), api.action.to_string()))
            .collect();
        assert_eq!(
            called, budgeted,
            "the adapter's actions and the budget's table must list the same APIs"
        );
        assert_eq!(called.len(), 22, "{called:?}");
    }
}
