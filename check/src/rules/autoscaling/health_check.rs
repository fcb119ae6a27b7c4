//! ZDD016 for `aws_autoscaling_group`: a group behind a load balancer whose health check type
//! leaves out `ELB`, so Auto Scaling keeps instances the load balancer marks unhealthy. An unset
//! type is reported too: AWS's default is `EC2`, and the AWS provider sends none when the
//! attribute is omitted (optional and computed). The `zdd_rollout` half is in `rules/rollout.rs`.

use std::ops::Range;

use hcl::edit::Span;
use hcl::edit::structure::Body;

use super::super::super::calls::Call;
use super::super::super::finding::Finding;
use super::super::super::model::{ModuleView, Resource, attribute_span};
use super::super::super::value::{Value, resource_reference};
use super::super::target_group::TARGET_GROUPS;
use super::{ATTACHMENTS, GROUP, groups_named_by, named_from, same_resource};

/// Attachment attributes that put a group behind a target group or a classic load balancer.
const ATTACHMENT_TARGETS: &[&str] = &["lb_target_group_arn", "alb_target_group_arn", "elb"];
/// `traffic_source.type` values whose health checks `ELB` covers.
const LOAD_BALANCER_SOURCES: &[&str] = &["elb", "elbv2"];

/// Whether a `health_check_type` value (a comma-separated list, e.g. "ELB,EBS") includes the
/// load balancer's checks.
pub fn includes_elb(health_check_type: &str) -> bool {
    health_check_type
        .split(',')
        .any(|kind| kind.trim().eq_ignore_ascii_case("ELB"))
}

pub fn check<'v, 'a>(views: &'v [ModuleView<'a>], calls: &'v [Call<'a>], out: &mut Vec<Finding>) {
    // (module of the group, group, how the finding names the attachment)
    let mut attached: Vec<(usize, &Resource<'_>, String)> = Vec::new();
    for (at, view) in views.iter().enumerate() {
        for attachment in view.resources_of(ATTACHMENTS) {
            let Some(group_name) = attachment.body().get_attribute("autoscaling_group_name") else {
                continue;
            };
            if !attaches_a_load_balancer(view, attachment.body()) {
                continue;
            }
            for (group_at, group) in groups_named_by(views, calls, at, &group_name.value) {
                attached.push((group_at, group, named_from(attachment, at, group_at)));
            }
        }
    }
    for (at, view) in views.iter().enumerate() {
        for group in view.resources_of(&[GROUP]) {
            let attachment = attached
                .iter()
                .filter(|(group_at, target, _)| *group_at == at && same_resource(target, group))
                .map(|(_, _, attachment)| attachment.as_str())
                .min();
            if let Some(load_balancer) = load_balancer_of(view, group, attachment) {
                check_group(view, group, &load_balancer, out);
            }
        }
    }
}

/// How a group is put behind a load balancer: what the message names and where an unset type
/// is reported.
struct LoadBalancer {
    how: String,
    span: Option<Range<usize>>,
}

fn load_balancer_of(
    module: &ModuleView<'_>,
    group: &Resource<'_>,
    attachment: Option<&str>,
) -> Option<LoadBalancer> {
    let body = group.body();
    for key in ["target_group_arns", "load_balancers"] {
        let listed = module
            .value(body, key)
            .and_then(|value| value.as_list().map(|items| !items.is_empty()));
        if listed == Some(true) {
            return Some(LoadBalancer {
                how: format!("`{key}`"),
                span: attribute_span(body, key, group.block.span()),
            });
        }
    }
    if let Some(source) = body
        .get_blocks("traffic_source")
        .find(|source| is_load_balancer_source(module, &source.body))
    {
        return Some(LoadBalancer {
            how: "a `traffic_source`".to_owned(),
            span: source.span(),
        });
    }
    attachment.map(|attachment| LoadBalancer {
        how: attachment.to_owned(),
        span: group.block.span(),
    })
}

fn is_load_balancer_source(module: &ModuleView<'_>, source: &Body) -> bool {
    match module.value(source, "type") {
        Some(Value::String(kind)) => LOAD_BALANCER_SOURCES.contains(&kind.as_str()),
        Some(_) => false,
        None => source
            .get_attribute("identifier")
            .and_then(|identifier| resource_reference(&identifier.value))
            .is_some_and(|(resource_type, _)| TARGET_GROUPS.contains(&resource_type)),
    }
}

fn attaches_a_load_balancer(module: &ModuleView<'_>, attachment: &Body) -> bool {
    ATTACHMENT_TARGETS
        .iter()
        .any(|key| !matches!(module.value(attachment, key), None | Some(Value::Null)))
}

fn check_group(
    module: &ModuleView<'_>,
    group: &Resource<'_>,
    load_balancer: &LoadBalancer,
    out: &mut Vec<Finding>,
) {
    let body = group.body();
    let address = group.address();
    let consequence = "Auto Scaling ignores the load balancer's health checks and keeps instances it marks unhealthy, so they hold capacity and are never replaced; set `health_check_type = \"ELB\"`";
    let (span, message) = match module.value(body, "health_check_type") {
        None | Some(Value::Null) => (
            load_balancer.span.clone(),
            format!(
                "{address} is behind a load balancer ({}) but does not set `health_check_type`, and AWS's default is \"EC2\": {consequence}",
                load_balancer.how
            ),
        ),
        Some(Value::String(kind)) if !includes_elb(&kind) => (
            attribute_span(body, "health_check_type", group.block.span()),
            format!(
                "{address} is behind a load balancer ({}) but sets `health_check_type = \"{kind}\"`: {consequence}",
                load_balancer.how
            ),
        ),
        Some(_) => return, // includes ELB, or not static
    };
    out.push(module.finding("ZDD016", group.file, span, address, message));
}
