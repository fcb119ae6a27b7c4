//! The service clients, reachable only through the rate budget.
//!
//! The SDK clients are private to this module: the adapter's modules call AWS only through
//! [`AwsClients::autoscaling`], [`AwsClients::elbv2`] and [`AwsClients::cloudwatch`], which
//! wait for the API's token ([`RateBudget::admit`]) before the request is sent, and name the
//! API for the budget and the error alike, or through [`AwsClients::autoscaling_admitted`],
//! which takes the token as an [`Admitted`] from [`AwsClients::admit_autoscaling`] (a call
//! that may go without one: a record for readers). A call that bypasses the budget does not
//! compile.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::OnceCell;

use aws_sdk_autoscaling::error::{ProvideErrorMetadata, SdkError};

use super::budget::RateLimits;
use super::budget::{
    AUTOSCALING, Api, BudgetStats, CLOUDWATCH, ELBV2, Priority, RateBudget, ThrottleCounter,
    TokenWait,
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
    services: Arc<LazyServices>,
    budget: Arc<RateBudget>,
    /// Reads coalesced across every clone (every resource of the apply).
    shared: Arc<SharedReads>,
    /// The priority of reads made through this handle: a command's own reads go first too.
    reads: Priority,
}

/// The SDK's service clients.
#[derive(Debug)]
struct ServiceClients {
    autoscaling: aws_sdk_autoscaling::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

/// The service clients, built on the first call that needs them. Loading the SDK
/// configuration reads the shared config files and resolves a region (from IMDS when nothing
/// else names one): ConfigureProvider only keeps the settings, so a provider process that
/// calls no AWS API (`terraform plan -refresh=false` with nothing to create, a destroy of an
/// empty state) never pays for it. Credentials were already resolved at the first call (the
/// SDK's chain is lazy), and so are their errors.
#[derive(Debug)]
struct LazyServices {
    clients: OnceCell<ServiceClients>,
    /// What the clients are loaded with when first needed (unused when built from a ready
    /// configuration).
    settings: AwsSettings,
    timeouts: CallTimeouts,
    retries: Retries,
}

impl AwsClients {
    /// The region the clients call (the provider's `region`, or the SDK's default chain's);
    /// loads the configuration if no call did yet.
    pub async fn region(&self) -> Option<String> {
        self.services()
            .await
            .autoscaling
            .config()
            .region()
            .map(ToString::to_string)
    }

    /// Whether the SDK configuration is loaded (by a call, or given ready to
    /// [`AwsClients::with_options`]).
    pub fn configuration_loaded(&self) -> bool {
        self.services.clients.initialized()
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
        let budget = Arc::new(RateBudget::new(options.limits));
        let clients =
            ServiceClients::build(sdk, endpoints, options.timeouts, &options.retries, &budget);
        let services = LazyServices {
            clients: OnceCell::new_with(Some(clients)),
            settings: AwsSettings {
                endpoints: endpoints.clone(),
                ..AwsSettings::default()
            },
            timeouts: options.timeouts,
            retries: options.retries,
        };
        AwsClients::around(services, budget)
    }

    /// The clients for `settings`, the SDK configuration loaded when the first call needs it.
    pub fn from_settings(settings: &AwsSettings) -> AwsClients {
        AwsClients::from_settings_with(settings, CallOptions::from_env())
    }

    /// The clients for `settings` with `options` (the provider block's rate limits among
    /// them), the SDK configuration loaded when the first call needs it: nothing is read or
    /// resolved here.
    pub fn from_settings_with(settings: &AwsSettings, options: CallOptions) -> AwsClients {
        let services = LazyServices {
            clients: OnceCell::new(),
            settings: settings.clone(),
            timeouts: options.timeouts,
            retries: options.retries,
        };
        AwsClients::around(services, Arc::new(RateBudget::new(options.limits)))
    }

    fn around(services: LazyServices, budget: Arc<RateBudget>) -> AwsClients {
        AwsClients {
            services: Arc::new(services),
            budget,
            shared: Arc::new(SharedReads::new(DEFAULT_WINDOW)),
            reads: Priority::Observation,
        }
    }

    /// The service clients, loading the SDK configuration on the first use (once: concurrent
    /// first calls wait for the same load).
    async fn services(&self) -> &ServiceClients {
        match self.services.clients.get() {
            Some(clients) => clients,
            None => self.load_services().await,
        }
    }

    /// The first use's load, boxed: every AWS call awaits [`AwsClients::services`], and the
    /// SDK's configuration loader is a large future; inline, it made every call's future (and
    /// the driver's, which nests them) large enough to overflow a worker thread's stack in a
    /// debug build.
    fn load_services(&self) -> Pin<Box<dyn Future<Output = &ServiceClients> + Send + '_>> {
        let lazy = &*self.services;
        Box::pin(lazy.clients.get_or_init(|| async {
            let started = Instant::now();
            let sdk = load_sdk_config(&lazy.settings).await;
            let clients = ServiceClients::build(
                &sdk,
                &lazy.settings.endpoints,
                lazy.timeouts,
                &lazy.retries,
                &self.budget,
            );
            tracing::debug!(
                elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                region = ?sdk.region(),
                "AWS configuration loaded for the first call"
            );
            clients
        }))
    }

    /// The timeouts each client enforces, by service (`None`: one of the three is unset).
    pub async fn timeouts(&self) -> [(&'static str, Option<CallTimeouts>); 3] {
        let clients = self.services().await;
        [
            (
                AUTOSCALING,
                CallTimeouts::of(clients.autoscaling.config().timeout_config()),
            ),
            (
                ELBV2,
                CallTimeouts::of(clients.elbv2.config().timeout_config()),
            ),
            (
                CLOUDWATCH,
                CallTimeouts::of(clients.cloudwatch.config().timeout_config()),
            ),
        ]
    }

    /// The retries each client makes, by service (`None`: not in adaptive mode).
    pub async fn retries(&self) -> [(&'static str, Option<Retries>); 3] {
        let clients = self.services().await;
        [
            (
                AUTOSCALING,
                Retries::of(clients.autoscaling.config().retry_config()),
            ),
            (ELBV2, Retries::of(clients.elbv2.config().retry_config())),
            (
                CLOUDWATCH,
                Retries::of(clients.cloudwatch.config().retry_config()),
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
        self.autoscaling_admitted(Admitted { api }, request).await
    }

    /// A token for one Auto Scaling call of `action`, taken as `wait` says: queued for
    /// ([`TokenWait::Queue`], always taken), or only if one is free now
    /// ([`RateBudget::try_admit`]; `None`: the call is not to be made).
    pub(super) async fn admit_autoscaling(
        &self,
        action: &'static str,
        wait: TokenWait,
    ) -> Option<Admitted> {
        let api = Api::new(AUTOSCALING, action);
        let taken = match wait {
            TokenWait::Queue => {
                self.admit(api).await;
                true
            }
            TokenWait::IfFreeNow => self.budget.try_admit(api),
        };
        taken.then_some(Admitted { api })
    }

    /// One Auto Scaling call with the token `admitted` holds: sends what `request` builds.
    pub(super) async fn autoscaling_admitted<O, E, R, Fut>(
        &self,
        admitted: Admitted,
        request: impl FnOnce(&aws_sdk_autoscaling::Client) -> Fut,
    ) -> Result<O, AwsError>
    where
        Fut: Future<Output = Result<O, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let action = admitted.api.action;
        request(&self.services().await.autoscaling)
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
        request(&self.services().await.elbv2)
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
        request(&self.services().await.cloudwatch)
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

/// One Auto Scaling call's token, taken from the budget: [`AwsClients::autoscaling_admitted`]
/// sends only with one, so a call made without its token does not compile. Made only here.
#[derive(Debug)]
#[must_use = "a token taken and not used is a call the budget counted and nobody made"]
pub(super) struct Admitted {
    api: Api,
}

impl ServiceClients {
    /// The three clients for `sdk`, each bounded by `timeouts`, retried by `retries` and
    /// counting its throttled attempts into `budget`.
    fn build(
        sdk: &aws_config::SdkConfig,
        endpoints: &Endpoints,
        timeouts: CallTimeouts,
        retries: &Retries,
        budget: &Arc<RateBudget>,
    ) -> ServiceClients {
        let timeouts = timeouts.sdk();
        let retries = retries.sdk();
        let counter = |service| ThrottleCounter::new(service, Arc::clone(budget));
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
        ServiceClients {
            autoscaling: aws_sdk_autoscaling::Client::from_conf(autoscaling.build()),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::from_conf(elbv2.build()),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(cloudwatch.build()),
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

    /// A loopback address nothing listens on: a call to it is refused at once.
    fn closed_endpoint() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        format!("http://127.0.0.1:{port}")
    }

    #[tokio::test]
    async fn the_sdk_configuration_is_loaded_by_the_first_call_and_shared_by_every_clone() {
        let settings = AwsSettings {
            region: Some("eu-west-3".to_string()),
            profile: None,
            endpoints: Endpoints {
                autoscaling: Some(closed_endpoint()),
                ..Endpoints::default()
            },
        };
        let options = CallOptions {
            timeouts: CallTimeouts {
                connect: std::time::Duration::from_secs(1),
                attempt: std::time::Duration::from_secs(2),
                operation: std::time::Duration::from_secs(5),
            },
            retries: Retries {
                max_attempts: 1,
                ..Retries::DEFAULT
            },
            limits: RateLimits::default(),
        };
        let aws = AwsClients::from_settings_with(&settings, options);
        let clone = aws.for_command();
        assert!(!aws.configuration_loaded() && !clone.configuration_loaded());

        let refused = clone
            .autoscaling("DescribeAutoScalingGroups", |client| {
                client.describe_auto_scaling_groups().send()
            })
            .await;
        // The first call's failure (a refused connection, or no credentials where the
        // environment has none) is reported as that call's, like any other.
        match refused {
            Err(AwsError::Api { operation, .. }) => {
                assert_eq!(operation, "DescribeAutoScalingGroups");
            }
            other => panic!("expected the call's error, got {other:?}"),
        }
        assert!(
            aws.configuration_loaded(),
            "every clone shares the configuration the first call loaded"
        );
        assert_eq!(aws.region().await.as_deref(), Some("eu-west-3"));
    }

    #[tokio::test]
    async fn clients_built_from_a_ready_configuration_are_loaded_already() {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-west-2"))
            .build();
        let aws = AwsClients::new(&sdk, &Endpoints::default());
        assert!(aws.configuration_loaded());
        assert_eq!(aws.region().await.as_deref(), Some("us-west-2"));
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
