//! The `provider "zdd"` block's attribute table.

use super::{Attribute, Kind, SchemaDoc};

pub fn provider_schema() -> SchemaDoc {
    let endpoint = |service: &'static str, what: &str| {
        Attribute::optional(
            service,
            Kind::String,
            format!("Endpoint URL for {what}, e.g. `http://127.0.0.1:5000`."),
        )
    };
    SchemaDoc {
        description: "The `zdd` provider replaces EC2 Auto Scaling fleets behind Application Load Balancers \
            without dropping a request. It uses the standard AWS credential chain (environment, shared \
            profile, SSO, instance metadata); `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` are honoured."
            .into(),
        attributes: vec![
            Attribute::optional("region", Kind::String, "AWS region. Defaults to the standard chain (`AWS_REGION`, the profile)."),
            Attribute::optional("profile", Kind::String, "Named profile from the shared AWS config and credentials files."),
            Attribute::optional(
                "endpoints",
                Kind::Object(vec![
                    endpoint("autoscaling", "EC2 Auto Scaling"),
                    endpoint("elbv2", "Elastic Load Balancing v2"),
                    endpoint("ec2", "EC2 (accepted for compatibility; the provider makes no EC2 calls)"),
                    endpoint("cloudwatch", "CloudWatch"),
                ]),
                "Per-service endpoint overrides, for a local AWS or VPC endpoints. Override `AWS_ENDPOINT_URL`.",
            ),
            Attribute::optional(
                "api_rate_limits",
                Kind::MapOfString,
                "The rate budget per AWS API, overriding the defaults (see [API limits and the rate budget](#api-limits-and-the-rate-budget)) and `ZDD_AWS_RATE_LIMITS`. \
                Keys: `service:Action` (as in IAM policies, e.g. `autoscaling:DescribeAutoScalingGroups`), `service:*` or `*`; the most specific key wins. \
                Values: `\"RATE/s\"` or `\"RATE/s burst N\"` (e.g. `\"2/s burst 4\"`, `\"0.5/s\"`; without `burst`, the API's default burst). \
                A key naming an API the provider never calls, or a value it cannot read, fails validation.",
            ),
        ],
        blocks: vec![],
    }
}
