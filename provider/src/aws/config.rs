//! Provider configuration → AWS SDK configuration and service clients.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;

/// The AWS part of the provider block. Everything is optional: without it the standard AWS
/// chain decides (environment, shared profile, SSO, IMDS), and `AWS_ENDPOINT_URL` /
/// `AWS_ENDPOINT_URL_<SERVICE>` are honoured by the SDK itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoints: Endpoints,
}

/// Per-service endpoint overrides (a local AWS, VPC endpoints). An override here wins over
/// `AWS_ENDPOINT_URL`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub autoscaling: Option<String>,
    pub elbv2: Option<String>,
    /// Accepted for configuration compatibility; the provider itself makes no EC2 calls
    /// (Auto Scaling and ELBv2 report everything the rollout needs).
    pub ec2: Option<String>,
    pub cloudwatch: Option<String>,
}

/// Loads the shared SDK configuration (credentials, region, retries) for the settings.
///
/// Every call is bounded: a hung endpoint fails the call after `OPERATION_TIMEOUT` instead of
/// stalling an apply; the SDK's standard retry policy (3 attempts, backoff) applies first.
pub async fn load_sdk_config(settings: &AwsSettings) -> aws_config::SdkConfig {
    const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
        TimeoutConfig::builder()
            .operation_timeout(OPERATION_TIMEOUT)
            .build(),
    );
    if let Some(region) = &settings.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

/// The three service clients the adapter uses, built from one shared configuration.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub(crate) autoscaling: aws_sdk_autoscaling::Client,
    pub(crate) elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub(crate) cloudwatch: aws_sdk_cloudwatch::Client,
}

impl AwsClients {
    pub fn new(sdk: &aws_config::SdkConfig, endpoints: &Endpoints) -> AwsClients {
        let mut autoscaling = aws_sdk_autoscaling::config::Builder::from(sdk);
        if let Some(url) = &endpoints.autoscaling {
            autoscaling = autoscaling.endpoint_url(url);
        }
        let mut elbv2 = aws_sdk_elasticloadbalancingv2::config::Builder::from(sdk);
        if let Some(url) = &endpoints.elbv2 {
            elbv2 = elbv2.endpoint_url(url);
        }
        let mut cloudwatch = aws_sdk_cloudwatch::config::Builder::from(sdk);
        if let Some(url) = &endpoints.cloudwatch {
            cloudwatch = cloudwatch.endpoint_url(url);
        }
        AwsClients {
            autoscaling: aws_sdk_autoscaling::Client::from_conf(autoscaling.build()),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::from_conf(elbv2.build()),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(cloudwatch.build()),
        }
    }

    /// Loads the SDK configuration for `settings` and builds the clients.
    pub async fn from_settings(settings: &AwsSettings) -> AwsClients {
        let sdk = load_sdk_config(settings).await;
        AwsClients::new(&sdk, &settings.endpoints)
    }
}
