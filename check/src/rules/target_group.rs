//! ZDD020-ZDD022 for `aws_lb_target_group` (alias `aws_alb_target_group`).

use hcl::edit::Span;
use hcl::edit::structure::Block;

use super::super::finding::Finding;
use super::super::model::{ModuleView, Resource, attribute_span, nested_block};
use super::super::value::{Value, resource_reference};
use super::autoscaling::GROUP;

pub const TARGET_GROUPS: &[&str] = &["aws_lb_target_group", "aws_alb_target_group"];

/// AWS provider defaults for `health_check` when an attribute is omitted.
const DEFAULT_INTERVAL_SECONDS: f64 = 30.0;
const DEFAULT_HEALTHY_THRESHOLD: f64 = 3.0;
/// AWS provider default for `aws_autoscaling_group.wait_for_capacity_timeout`.
const DEFAULT_CAPACITY_WAIT_SECONDS: f64 = 600.0;

/// Health-check protocols that have neither a path nor a matcher.
const NON_HTTP_PROTOCOLS: &[&str] = &["TCP", "TLS", "UDP", "TCP_UDP", "GENEVE"];

pub fn check(module: &ModuleView<'_>, out: &mut Vec<Finding>) {
    for target_group in module.resources_of(TARGET_GROUPS) {
        check_health_check(module, target_group, out);
        check_deregistration_delay(module, target_group, out);
        check_health_check_time(module, target_group, out);
    }
}

fn check_health_check(
    module: &ModuleView<'_>,
    target_group: &Resource<'_>,
    out: &mut Vec<Finding>,
) {
    let body = target_group.body();
    if module
        .value(body, "target_type")
        .as_ref()
        .and_then(Value::as_str)
        == Some("lambda")
    {
        return; // Lambda targets are not health-checked unless asked for.
    }
    let address = target_group.address();
    let mut report = |span, message: String| {
        out.push(module.finding("ZDD020", target_group.file, span, address.clone(), message));
    };
    let Some(health_check) = nested_block(body, "health_check") else {
        report(
            target_group.block.span(),
            format!(
                "{address} has no `health_check` block: the default check accepts any instance that answers `/`"
            ),
        );
        return;
    };
    if module
        .value(&health_check.body, "enabled")
        .and_then(|value| value.as_bool())
        == Some(false)
    {
        report(
            attribute_span(&health_check.body, "enabled", health_check.span()),
            format!(
                "{address} disables its health check: every registered target counts as healthy"
            ),
        );
        return;
    }
    let protocol = module
        .value(&health_check.body, "protocol")
        .or_else(|| module.value(body, "protocol"));
    match protocol
        .as_ref()
        .map(|value| value.as_str().map(str::to_ascii_uppercase))
    {
        Some(None) => return, // not static: leave alone
        Some(Some(protocol)) if NON_HTTP_PROTOCOLS.contains(&protocol.as_str()) => return,
        _ => {}
    }
    match module.value(&health_check.body, "path") {
        None => report(
            health_check.span(),
            format!(
                "{address} has a health check without `path`: it checks `/`, which answers even when the application cannot serve"
            ),
        ),
        Some(Value::String(path)) if path == "/" => report(
            attribute_span(&health_check.body, "path", health_check.span()),
            format!(
                "{address} checks health on `/`, which answers even when the application cannot serve"
            ),
        ),
        Some(_) => {}
    }
    if health_check.body.get_attribute("matcher").is_none() {
        report(
            health_check.span(),
            format!(
                "{address} has a health check without `matcher`: say which status codes mean healthy"
            ),
        );
    }
}

fn check_deregistration_delay(
    module: &ModuleView<'_>,
    target_group: &Resource<'_>,
    out: &mut Vec<Finding>,
) {
    let body = target_group.body();
    if module
        .value(body, "deregistration_delay")
        .and_then(|value| value.as_number())
        == Some(0.0)
    {
        out.push(module.finding(
            "ZDD021",
            target_group.file,
            attribute_span(body, "deregistration_delay", target_group.block.span()),
            target_group.address(),
            format!(
                "{} sets `deregistration_delay = 0`: in-flight requests are cut off when a target leaves",
                target_group.address()
            ),
        ));
    }
}

/// Seconds a new target needs to turn healthy (healthy_threshold × interval), when static.
pub fn time_to_healthy(
    module: &ModuleView<'_>,
    target_group: &Resource<'_>,
) -> Option<(f64, f64, f64)> {
    let health_check = nested_block(target_group.body(), "health_check");
    let setting = |key: &str, default: f64| match health_check {
        None => Some(default),
        Some(block) => match module.value(&block.body, key) {
            None => Some(default),
            Some(value) => value.as_number(),
        },
    };
    let threshold = setting("healthy_threshold", DEFAULT_HEALTHY_THRESHOLD)?;
    let interval = setting("interval", DEFAULT_INTERVAL_SECONDS)?;
    Some((threshold * interval, threshold, interval))
}

/// The health-check interval of a target group, when static (provider default when omitted).
pub fn interval_seconds(module: &ModuleView<'_>, target_group: &Resource<'_>) -> Option<f64> {
    time_to_healthy(module, target_group).map(|(_, _, interval)| interval)
}

fn check_health_check_time(
    module: &ModuleView<'_>,
    target_group: &Resource<'_>,
    out: &mut Vec<Finding>,
) {
    let Some((needed, threshold, interval)) = time_to_healthy(module, target_group) else {
        return;
    };
    for group in module.resources_of(&[GROUP]) {
        if !group_uses_target_group(group, target_group) {
            continue;
        }
        let timeout = match module.value(group.body(), "wait_for_capacity_timeout") {
            None => DEFAULT_CAPACITY_WAIT_SECONDS,
            Some(value) => match value
                .as_str()
                .and_then(|text| zdd_duration::parse(text).ok())
                .map(|timeout| timeout.as_secs_f64())
            {
                Some(seconds) if seconds > 0.0 => seconds,
                _ => continue, // "0" disables the wait; anything else is not static
            },
        };
        if needed > timeout {
            let anchor: Option<&Block> = nested_block(target_group.body(), "health_check");
            out.push(module.finding(
                "ZDD022",
                target_group.file,
                anchor.map_or_else(|| target_group.block.span(), Block::span),
                target_group.address(),
                format!(
                    "{} needs healthy_threshold {threshold} x interval {interval}s = {needed}s to report a new target healthy, longer than the {timeout}s `wait_for_capacity_timeout` of {}",
                    target_group.address(),
                    group.address()
                ),
            ));
        }
    }
}

fn group_uses_target_group(group: &Resource<'_>, target_group: &Resource<'_>) -> bool {
    let Some(attribute) = group.body().get_attribute("target_group_arns") else {
        return false;
    };
    let hcl::edit::expr::Expression::Array(items) = &attribute.value else {
        return false;
    };
    items.iter().any(|item| {
        resource_reference(item) == Some((target_group.resource_type, target_group.name))
    })
}
