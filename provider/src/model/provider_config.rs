//! The `provider "zdd"` block.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::aws::budget::BlockEntryError;
use crate::aws::{AwsSettings, Endpoints, RateLimits};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderConfig {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoints: Option<EndpointsConfig>,
    /// The rate budget's overrides: `service:Action`, `service:*` or `*` to `RATE/s [burst N]`.
    pub api_rate_limits: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointsConfig {
    pub autoscaling: Option<String>,
    pub elbv2: Option<String>,
    pub ec2: Option<String>,
    pub cloudwatch: Option<String>,
}

impl ProviderConfig {
    pub fn aws_settings(&self) -> AwsSettings {
        let endpoints = self.endpoints.clone().unwrap_or_default();
        AwsSettings {
            region: non_empty(self.region.clone()),
            profile: non_empty(self.profile.clone()),
            endpoints: Endpoints {
                autoscaling: non_empty(endpoints.autoscaling),
                elbv2: non_empty(endpoints.elbv2),
                ec2: non_empty(endpoints.ec2),
                cloudwatch: non_empty(endpoints.cloudwatch),
            },
        }
    }
}

impl ProviderConfig {
    /// `environment`'s limits (the defaults with `ZDD_AWS_RATE_LIMITS`) with the block's
    /// `api_rate_limits` on top; every entry that cannot be used is an error.
    pub fn rate_limits(&self, environment: RateLimits) -> Result<RateLimits, Vec<BlockEntryError>> {
        let entries = self.api_rate_limits.iter().flatten();
        environment.with_block(entries.map(|(key, value)| (key.as_str(), value.as_str())))
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|text| !text.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_strings_mean_unset() {
        let config = ProviderConfig {
            region: Some(String::new()),
            profile: None,
            api_rate_limits: None,
            endpoints: Some(EndpointsConfig {
                autoscaling: Some("http://127.0.0.1:5000".into()),
                elbv2: Some(" ".into()),
                ..EndpointsConfig::default()
            }),
        };
        let settings = config.aws_settings();
        assert_eq!(settings.region, None);
        assert_eq!(
            settings.endpoints.autoscaling.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(settings.endpoints.elbv2, None);
    }

    #[test]
    fn the_blocks_rate_limits_go_on_top_of_the_environments() {
        use crate::aws::budget::{AUTOSCALING, Api, RateLimit};
        let groups = Api::new(AUTOSCALING, "DescribeAutoScalingGroups");
        let (environment, _) = RateLimits::parse("autoscaling:*=9/s burst 9");
        let config = ProviderConfig {
            api_rate_limits: Some(BTreeMap::from([(
                "autoscaling:DescribeAutoScalingGroups".to_string(),
                "2/s burst 4".to_string(),
            )])),
            ..ProviderConfig::default()
        };
        let limits = config.rate_limits(environment.clone()).unwrap();
        assert_eq!(limits.limit(groups), RateLimit::new(2, 4));
        let unset = ProviderConfig::default();
        assert_eq!(unset.rate_limits(environment.clone()).unwrap(), environment);
        let typo = ProviderConfig {
            api_rate_limits: Some(BTreeMap::from([(
                "autoscaling:DescribeAutoscalingGroups".to_string(),
                "2/s".to_string(),
            )])),
            ..ProviderConfig::default()
        };
        let errors = typo.rate_limits(environment).unwrap_err();
        assert_eq!(errors[0].key, "autoscaling:DescribeAutoscalingGroups");
    }
}
