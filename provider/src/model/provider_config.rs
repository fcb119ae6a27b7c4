//! The `provider "zdd"` block.

use serde::{Deserialize, Serialize};

use crate::aws::{AwsSettings, Endpoints};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderConfig {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoints: Option<EndpointsConfig>,
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
}
