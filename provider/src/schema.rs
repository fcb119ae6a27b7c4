//! The provider's and `zdd_rollout`'s attributes with their markdown descriptions: one table
//! from which both the protocol schema (`resource` module) and the registry docs
//! (`docs` module, `docs/`) are generated, so the two cannot disagree.

use crate::model::rollout::defaults;

/// An attribute's type, in Terraform's terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    String,
    /// A whole number.
    Int,
    /// A fractional number.
    Float,
    Bool,
    ListOfString,
    MapOfString,
    /// A single nested object attribute (`canary = { ... }`).
    Object(Vec<Attribute>),
    /// A list of nested objects (`steps = [{ ... }]`).
    ListOfObject(Vec<Attribute>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    Required,
    Optional,
    Computed,
    /// Optional; the provider fills a default when null.
    OptionalComputed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: &'static str,
    pub kind: Kind,
    pub requirement: Requirement,
    pub description: String,
    /// A change destroys and recreates the resource.
    pub forces_replacement: bool,
    pub sensitive: bool,
}

/// A nested block (`timeouts { ... }`).
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub name: &'static str,
    pub description: String,
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SchemaDoc {
    pub description: String,
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<Block>,
}

fn attr(
    name: &'static str,
    kind: Kind,
    requirement: Requirement,
    description: impl Into<String>,
) -> Attribute {
    Attribute {
        name,
        kind,
        requirement,
        description: description.into(),
        forces_replacement: false,
        sensitive: false,
    }
}

use Kind::{Bool, Float, Int, ListOfObject, ListOfString, MapOfString, Object};
use Requirement::{Computed, Optional, OptionalComputed, Required};

pub fn provider_schema() -> SchemaDoc {
    let endpoint = |service: &'static str, what: &str| {
        attr(
            service,
            Kind::String,
            Optional,
            format!("Endpoint URL for {what}, e.g. `http://127.0.0.1:5000`."),
        )
    };
    SchemaDoc {
        description: "The `zdd` provider replaces EC2 Auto Scaling fleets behind Application Load Balancers \
            without dropping a request. It uses the standard AWS credential chain (environment, shared \
            profile, SSO, instance metadata); `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` are honoured."
            .into(),
        attributes: vec![
            attr("region", Kind::String, Optional, "AWS region. Defaults to the standard chain (`AWS_REGION`, the profile)."),
            attr("profile", Kind::String, Optional, "Named profile from the shared AWS config and credentials files."),
            attr(
                "endpoints",
                Object(vec![
                    endpoint("autoscaling", "EC2 Auto Scaling"),
                    endpoint("elbv2", "Elastic Load Balancing v2"),
                    endpoint("ec2", "EC2 (accepted for compatibility; the provider makes no EC2 calls)"),
                    endpoint("cloudwatch", "CloudWatch"),
                ]),
                Optional,
                "Per-service endpoint overrides, for a local AWS or VPC endpoints. Override `AWS_ENDPOINT_URL`.",
            ),
        ],
        blocks: vec![],
    }
}

pub fn rollout_schema() -> SchemaDoc {
    let step_attributes = vec![
        attr(
            "weight",
            Int,
            Required,
            "Percent of the listener's traffic sent to the new generation (1-100), strictly increasing from step to step; the last step must be `100`.",
        ),
        attr(
            "soak",
            Kind::String,
            Required,
            "How long to hold this weight while the gates are checked, e.g. `\"5m\"`; `\"0s\"` for none.",
        ),
    ];
    let canary_attributes = vec![
        attr(
            "listener_arn",
            Kind::String,
            Required,
            "The listener whose forward default action is weighted between the two target groups. Its default action must be a single `forward`.",
        ),
        attr(
            "stable_target_group_arn",
            Kind::String,
            Required,
            "The target group serving the current generation. After a successful rollout the two groups swap roles.",
        ),
        attr(
            "canary_target_group_arn",
            Kind::String,
            Required,
            "The idle target group the new generation is attached to.",
        ),
        attr(
            "steps",
            ListOfObject(step_attributes),
            Optional,
            format!(
                "The weight schedule. Default: {:?} percent with a `{}` soak each (none after 100).",
                defaults::CANARY_WEIGHTS,
                defaults::CANARY_SOAK
            ),
        ),
        attr(
            "alarm_names",
            ListOfString,
            Optional,
            "CloudWatch alarms that fail the canary gate when in `ALARM` (or missing) during a soak.",
        ),
        attr(
            "max_5xx_ratio",
            Float,
            Optional,
            format!(
                "Maximum ratio of `HTTPCode_Target_5XX_Count` to `RequestCount` of the canary target group during a soak; the gate judges once the window holds at least {} requests. Default `{}` (1 %), applied when omitted: set `1` to turn the gate off.",
                zdd_rollout::engine::MIN_REQUESTS_FOR_RATIO,
                zdd_rollout::spec::DEFAULT_MAX_5XX_RATIO
            ),
        ),
    ];
    let timeline_step = vec![
        attr(
            "at",
            Kind::String,
            Computed,
            "When the step happened (RFC 3339, UTC).",
        ),
        attr(
            "action",
            Kind::String,
            Computed,
            format!(
                "What happened, one of: {}.",
                crate::driver::timeline::describe_values(crate::driver::timeline::ACTIONS)
            ),
        ),
        attr(
            "detail",
            Kind::String,
            Computed,
            "A readable detail: names, counts, weights, reasons.",
        ),
    ];
    let last_rollout = vec![
        attr(
            "status",
            Kind::String,
            Computed,
            format!(
                "How the last rollout ended, one of: {}. Terraform saves state when an apply ends, so no status describes a rollout still running.",
                crate::driver::timeline::describe_values(crate::driver::timeline::STATUSES)
            ),
        ),
        attr(
            "started_at",
            Kind::String,
            Computed,
            "Start of the rollout (RFC 3339, UTC).",
        ),
        attr(
            "finished_at",
            Kind::String,
            Computed,
            "End of the run that wrote the status (RFC 3339, UTC); null when a refresh found an interrupted rollout that no run of this state recorded (e.g. after an import).",
        ),
        attr(
            "steps",
            ListOfObject(timeline_step),
            Computed,
            "The timeline, one entry per step, oldest first.",
        ),
    ];
    let mut name = attr(
        "name",
        Kind::String,
        Required,
        "Name of the fleet. Each generation's Auto Scaling group is named `<name>-g<generation>` and tagged `zdd:rollout = <name>`, `zdd:generation = <n>` and `zdd:owner = <owner_id>`. Changing it destroys and recreates the fleet. A name whose groups belong to another fleet (another state, workspace or team) is refused: see `owner_id`.",
    );
    name.forces_replacement = true;
    SchemaDoc {
        description: "A fleet of EC2 instances in an Auto Scaling group behind load balancer target groups, \
            replaced without dropping a request whenever its launch template version, subnets, sizes, target \
            groups or tags change. Each change creates a new generation (a new Auto Scaling group), shifts \
            traffic to it by the chosen `strategy` once the load balancer reports it healthy, drains the old \
            generation and deletes it. A failure, timeout or interrupt rolls back: the old generation keeps \
            serving. A change of `desired_capacity` alone scales the active group in place."
            .into(),
        attributes: vec![
            attr("id", Kind::String, Computed, "Equal to `name`."),
            name,
            attr("launch_template_id", Kind::String, Required, "The EC2 launch template the instances are launched from."),
            attr("launch_template_version", Kind::String, Required,
                "A pinned version number in plain digits as AWS reports it (`\"7\"`, not `\"07\"`), e.g. `aws_launch_template.web.latest_version`. `$Latest` and `$Default` are refused: a rollback needs a fixed target."),
            attr("subnet_ids", ListOfString, Required, "Subnets for the Auto Scaling groups (`VPCZoneIdentifier`)."),
            attr("target_group_arns", ListOfString, Optional,
                "Target groups every generation is attached to (`blue_green` and `rolling`; required for them). A `canary` uses the groups in its `canary` block instead."),
            attr("min_size", Int, Required, "Minimum size of the active Auto Scaling group."),
            attr("max_size", Int, Required,
                "Maximum size of each Auto Scaling group. A `rolling` update runs at most `max_size` instances in total, old ones still draining included; a rollback restores the old group's full size before the failed instances go, so it may briefly run above it."),
            attr("desired_capacity", Int, Required, "Number of instances serving; between `min_size` and `max_size`. A change of this alone scales in place."),
            attr("strategy", Kind::String, OptionalComputed, format!(
                "How traffic moves to a new generation: `blue_green` (a full new group; once it is healthy the old group is detached, drained for the target groups' deregistration delay plus 5 s, and deleted), `rolling` (the new group grows by `batch_size` within `max_size` while the old group's desired capacity is lowered, never below `min_healthy_percent`: AWS deregisters those instances, waits out the deregistration delay, then terminates them) or `canary` (listener weights step through `canary.steps` with gates, then the old group leaves as in `blue_green`). Default `{}`.",
                defaults::STRATEGY)),
            attr("min_healthy_percent", Int, OptionalComputed, format!(
                "Floor of healthy, routed targets during a rollout, as a percent of `desired_capacity` (rounded up). Default `{}`.",
                defaults::MIN_HEALTHY_PERCENT)),
            attr("batch_size", Int, OptionalComputed, format!(
                "Instances a `rolling` update adds to the new group, and retires from the old one, at a time. At least 1 whatever the strategy. Default `{}`.",
                defaults::BATCH_SIZE)),
            attr("canary", Object(canary_attributes), Optional, "Canary settings; required when `strategy = \"canary\"`."),
            attr("health_timeout", Kind::String, OptionalComputed, format!(
                "How long new targets may take to become `healthy` in the load balancer before the rollout fails and rolls back. Default `\"{}\"`.",
                defaults::HEALTH_TIMEOUT)),
            attr("rollback_on_failure", Bool, OptionalComputed, format!(
                "Roll back to the previous generation when a rollout fails. When `false`, the failed generation is left in place (detached) for inspection. Default `{}`.",
                defaults::ROLLBACK_ON_FAILURE)),
            attr("tags", MapOfString, Optional, "Tags for the Auto Scaling groups, propagated to instances. Keys starting with `zdd:` are reserved."),
            attr("generation", Int, Computed, "The generation serving traffic: 1 after create, one more per successful rollout. A plan that rolls out shows it (like `active_asg_name` and `active_launch_template_version`) as known after apply: only the outcome decides it, and a rollout that rolls back leaves the old generation serving and these attributes (and outputs built from them) at their old values."),
            attr("active_asg_name", Kind::String, Computed, "Name of the Auto Scaling group serving traffic; null when it was deleted outside Terraform (the next apply recreates it)."),
            attr("active_launch_template_version", Kind::String, Computed, "The launch template version the active group runs, as AWS reports it."),
            attr("owner_id", Kind::String, Computed,
                "The fleet's owner identity: chosen at random when the resource is created, never changed, and tagged `zdd:owner` on every generation's Auto Scaling group. Read, rollouts and destroy look at, change and delete only groups with this owner, so a second state (another workspace, stack or team) using the same `name` cannot adopt, re-target or delete this fleet's groups: its create fails, naming the groups it found. `terraform import` takes over the owner the found groups carry. A state written before owner ids (no `owner_id`) adopts its groups, those without a `zdd:owner` tag, on its next apply, tagging them with an id derived from `name` (that plan shows `owner_id` as known after apply)."),
            attr("last_rollout", Object(last_rollout), Computed, "The timeline of the last rollout (also logged at `INFO` with `TF_LOG`)."),
        ],
        blocks: vec![Block {
            name: "timeouts",
            description: "Upper bounds for each operation; an operation that runs out rolls back and fails.".into(),
            attributes: vec![
                attr("create", Kind::String, Optional, format!("Default `\"{}\"`.", defaults::CREATE_TIMEOUT)),
                attr("update", Kind::String, Optional, format!("Default `\"{}\"`.", defaults::UPDATE_TIMEOUT)),
                attr("delete", Kind::String, Optional, format!("Default `\"{}\"`.", defaults::DELETE_TIMEOUT)),
            ],
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema names exactly the attributes the model serializes.
    #[test]
    fn schema_and_model_agree() {
        let model = serde_json::to_value(crate::model::RolloutModel::default()).unwrap();
        let mut model_keys: Vec<&str> = model
            .as_object()
            .unwrap()
            .keys()
            .map(std::string::String::as_str)
            .collect();
        let schema = rollout_schema();
        let mut schema_keys: Vec<&str> = schema
            .attributes
            .iter()
            .map(|a| a.name)
            .chain(schema.blocks.iter().map(|b| b.name))
            .collect();
        model_keys.sort_unstable();
        schema_keys.sort_unstable();
        assert_eq!(model_keys, schema_keys);
    }

    #[test]
    fn every_attribute_is_described() {
        fn check(attributes: &[Attribute]) {
            for attribute in attributes {
                assert!(
                    attribute.description.len() > 10,
                    "{} lacks a description",
                    attribute.name
                );
                if let Kind::Object(nested) | Kind::ListOfObject(nested) = &attribute.kind {
                    check(nested);
                }
            }
        }
        check(&rollout_schema().attributes);
        check(&provider_schema().attributes);
    }
}
