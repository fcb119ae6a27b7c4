//! Fixture infrastructure, created against the local AWS (load balancing through the AWS SDK,
//! EC2 through [`crate::ec2_query`]): what a user's Terraform would already have when they add a
//! `zdd_rollout`.

use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, anyhow};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Matcher, ProtocolEnum,
    TargetGroupAttribute,
};

use crate::ec2_query::{Ec2, element, required};

/// One of moto's built-in AMIs (instances launch only from a known image).
pub const FIXTURE_AMI_ID: &str = "ami-12c6146b";

/// Health-check settings of both target groups: a new target is `initial` for
/// `HEALTHY_THRESHOLD × INTERVAL` = 10 AWS seconds, and drains for `DEREGISTRATION_DELAY`.
const HEALTH_CHECK_INTERVAL_SECONDS: i32 = 5;
const HEALTH_CHECK_TIMEOUT_SECONDS: i32 = 2;
const HEALTHY_THRESHOLD: i32 = 2;
const UNHEALTHY_THRESHOLD: i32 = 2;
const DEREGISTRATION_DELAY_SECONDS: u32 = 5;
/// Instance types of launch template versions 1, 2 and 3 (so versions differ visibly).
const VERSION_INSTANCE_TYPES: [&str; 3] = ["t3.micro", "t3.small", "t3.medium"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixture {
    pub vpc_id: String,
    /// Two subnets in us-east-1a and us-east-1b.
    pub subnet_ids: Vec<String>,
    pub launch_template_id: String,
    /// "1", "2", "3".
    pub launch_template_versions: Vec<String>,
    pub alb_arn: String,
    /// [blue, green]: HTTP:80, health check GET /health, matcher 200, interval 5 s,
    /// healthy threshold 2, deregistration delay 5 s.
    pub target_group_arns: Vec<String>,
    pub target_group_names: Vec<String>,
    /// HTTP:80 on the ALB, forwarding to blue.
    pub listener_arn: String,
}

impl Fixture {
    /// Creates the fixture. Names derive from `prefix` plus a short unique suffix, so tests
    /// sharing one local AWS never collide (ALB and target group names: at most 32 chars).
    pub async fn create(cfg: &aws_config::SdkConfig, prefix: &str) -> anyhow::Result<Fixture> {
        let name = unique_name(prefix);
        let ec2 = Ec2::of(cfg).await?;
        let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(cfg);

        let answer = ec2
            .call(
                "CreateVpc",
                &[
                    ("CidrBlock", "10.0.0.0/16"),
                    ("TagSpecification.1.ResourceType", "vpc"),
                    ("TagSpecification.1.Tag.1.Key", "Name"),
                    ("TagSpecification.1.Tag.1.Value", &name),
                ],
            )
            .await?;
        let vpc_id = required(&answer, "vpcId", "CreateVpc")?.to_string();

        let mut subnet_ids = Vec::new();
        for (index, zone) in ["us-east-1a", "us-east-1b"].into_iter().enumerate() {
            let cidr_block = format!("10.0.{}.0/24", index + 1);
            subnet_ids.push(create_subnet(&ec2, &vpc_id, &cidr_block, zone).await?);
        }

        let (launch_template_id, launch_template_versions) =
            create_launch_template(&ec2, &name).await?;

        let alb_arn = elbv2
            .create_load_balancer()
            .name(format!("{name}-alb"))
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(LoadBalancerSchemeEnum::Internal)
            .set_subnets(Some(subnet_ids.clone()))
            .send()
            .await
            .context("CreateLoadBalancer")?
            .load_balancers
            .and_then(|lbs| lbs.into_iter().next())
            .and_then(|lb| lb.load_balancer_arn)
            .ok_or_else(|| anyhow!("CreateLoadBalancer returned no ARN"))?;

        let target_group_names = vec![format!("{name}-blue"), format!("{name}-green")];
        let mut target_group_arns = Vec::new();
        for group_name in &target_group_names {
            target_group_arns.push(create_target_group(&elbv2, group_name, &vpc_id).await?);
        }

        let listener_arn = elbv2
            .create_listener()
            .load_balancer_arn(&alb_arn)
            .protocol(ProtocolEnum::Http)
            .port(80)
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .target_group_arn(&target_group_arns[0])
                    .build(),
            )
            .send()
            .await
            .context("CreateListener")?
            .listeners
            .and_then(|listeners| listeners.into_iter().next())
            .and_then(|listener| listener.listener_arn)
            .ok_or_else(|| anyhow!("CreateListener returned no ARN"))?;

        Ok(Fixture {
            vpc_id,
            subnet_ids,
            launch_template_id,
            launch_template_versions,
            alb_arn,
            target_group_arns,
            target_group_names,
            listener_arn,
        })
    }

    /// Another subnet in the fixture's VPC (10.0.0.0/16; the fixture's own are 10.0.1.0/24
    /// and 10.0.2.0/24), e.g. a /20 for a group of hundreds of instances: a /24 holds 251
    /// addresses, on AWS as on moto.
    pub async fn add_subnet(
        &self,
        cfg: &aws_config::SdkConfig,
        cidr_block: &str,
        zone: &str,
    ) -> anyhow::Result<String> {
        let ec2 = Ec2::of(cfg).await?;
        create_subnet(&ec2, &self.vpc_id, cidr_block, zone).await
    }

    pub fn blue_target_group_arn(&self) -> &str {
        &self.target_group_arns[0]
    }

    pub fn green_target_group_arn(&self) -> &str {
        &self.target_group_arns[1]
    }
}

/// An S3 client for the local AWS: path-style addressing, as the S3 backend's `use_path_style`.
pub fn s3_client(cfg: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(cfg)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

async fn create_subnet(
    ec2: &Ec2,
    vpc_id: &str,
    cidr_block: &str,
    zone: &str,
) -> anyhow::Result<String> {
    let answer = ec2
        .call(
            "CreateSubnet",
            &[
                ("VpcId", vpc_id),
                ("CidrBlock", cidr_block),
                ("AvailabilityZone", zone),
            ],
        )
        .await?;
    Ok(required(&answer, "subnetId", "CreateSubnet")?.to_string())
}

async fn create_launch_template(ec2: &Ec2, name: &str) -> anyhow::Result<(String, Vec<String>)> {
    let [first, later @ ..] = VERSION_INSTANCE_TYPES;
    let template_name = format!("{name}-lt");
    let answer = ec2
        .call(
            "CreateLaunchTemplate",
            &[
                ("LaunchTemplateName", &template_name),
                ("LaunchTemplateData.ImageId", FIXTURE_AMI_ID),
                ("LaunchTemplateData.InstanceType", first),
            ],
        )
        .await?;
    let template_id = required(&answer, "launchTemplateId", "CreateLaunchTemplate")?.to_string();
    let mut versions = vec![
        element(&answer, "latestVersionNumber")
            .unwrap_or("1")
            .to_string(),
    ];
    for instance_type in later {
        let answer = ec2
            .call(
                "CreateLaunchTemplateVersion",
                &[
                    ("LaunchTemplateId", &template_id),
                    ("LaunchTemplateData.ImageId", FIXTURE_AMI_ID),
                    ("LaunchTemplateData.InstanceType", instance_type),
                ],
            )
            .await?;
        let version = required(&answer, "versionNumber", "CreateLaunchTemplateVersion")?;
        versions.push(version.to_string());
    }
    Ok((template_id, versions))
}

async fn create_target_group(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    name: &str,
    vpc_id: &str,
) -> anyhow::Result<String> {
    let arn = elbv2
        .create_target_group()
        .name(name)
        .protocol(ProtocolEnum::Http)
        .port(80)
        .vpc_id(vpc_id)
        .health_check_protocol(ProtocolEnum::Http)
        .health_check_path("/health")
        .health_check_interval_seconds(HEALTH_CHECK_INTERVAL_SECONDS)
        .health_check_timeout_seconds(HEALTH_CHECK_TIMEOUT_SECONDS)
        .healthy_threshold_count(HEALTHY_THRESHOLD)
        .unhealthy_threshold_count(UNHEALTHY_THRESHOLD)
        .matcher(Matcher::builder().http_code("200").build())
        .send()
        .await
        .with_context(|| format!("CreateTargetGroup {name}"))?
        .target_groups
        .and_then(|groups| groups.into_iter().next())
        .and_then(|group| group.target_group_arn)
        .ok_or_else(|| anyhow!("CreateTargetGroup {name} returned no ARN"))?;
    elbv2
        .modify_target_group_attributes()
        .target_group_arn(&arn)
        .attributes(
            TargetGroupAttribute::builder()
                .key("deregistration_delay.timeout_seconds")
                .value(DEREGISTRATION_DELAY_SECONDS.to_string())
                .build(),
        )
        .send()
        .await
        .with_context(|| format!("ModifyTargetGroupAttributes {name}"))?;
    Ok(arn)
}

/// `prefix` reduced to what ALB/target group names allow (alphanumerics and hyphens, at most
/// 16 chars), plus a suffix unique within this process and likely across processes.
fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let mut base: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(16)
        .collect();
    base = base.trim_matches('-').to_string();
    if base.is_empty() {
        base = "zdd".to_string();
    }
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let salt = (std::process::id() ^ count.wrapping_mul(0x9E37_79B9)) & 0xffff;
    format!("{base}-{salt:04x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_fit_aws_limits_and_differ() {
        let first = unique_name("Blue/Green test with a very long name");
        let second = unique_name("Blue/Green test with a very long name");
        assert_ne!(first, second);
        for name in [&first, &second] {
            assert!(format!("{name}-green").len() <= 32, "{name}");
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "{name}"
            );
            assert!(!name.starts_with('-'), "{name}");
        }
        assert!(unique_name("---").starts_with("zdd-"));
    }
}
