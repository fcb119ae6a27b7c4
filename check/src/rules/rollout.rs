//! ZDD014 (error), ZDD016, ZDD030, ZDD031 for the `zdd_rollout` resource.

use std::ops::Range;

use hcl::edit::Span;
use hcl::edit::expr::{Expression, ObjectKey};
use hcl::edit::structure::Body;

use super::super::finding::Finding;
use super::super::model::{ModuleView, Resource, attribute_span};
use super::super::value::{Value, resource_reference};
use super::autoscaling::health_check::includes_elb;
use super::target_group::{TARGET_GROUPS, interval_seconds};

const ROLLOUT: &str = "zdd_rollout";
/// Launch template versions the provider refuses: rollback needs a fixed version.
const FLOATING_VERSIONS: &[&str] = &["$Latest", "$Default"];

pub fn check(module: &ModuleView<'_>, out: &mut Vec<Finding>) {
    for rollout in module.resources_of(&[ROLLOUT]) {
        check_floating_version(module, rollout, out);
        check_rollback(module, rollout, out);
        check_health_check_type(module, rollout, out);
        if let Some(canary) = Canary::of(rollout.body()) {
            check_canary_steps(module, rollout, &canary, out);
        }
    }
}

fn check_floating_version(module: &ModuleView<'_>, rollout: &Resource<'_>, out: &mut Vec<Finding>) {
    let body = rollout.body();
    let Some(Value::String(version)) = module.value(body, "launch_template_version") else {
        return;
    };
    if FLOATING_VERSIONS.contains(&version.as_str()) {
        out.push(module.finding(
            "ZDD014",
            rollout.file,
            attribute_span(body, "launch_template_version", rollout.block.span()),
            rollout.address(),
            format!(
                "{} uses launch template version \"{version}\": the provider refuses it because a rollback needs a fixed version",
                rollout.address()
            ),
        ));
    }
}

fn check_rollback(module: &ModuleView<'_>, rollout: &Resource<'_>, out: &mut Vec<Finding>) {
    let body = rollout.body();
    if module
        .value(body, "rollback_on_failure")
        .and_then(|value| value.as_bool())
        == Some(false)
    {
        out.push(module.finding(
            "ZDD031",
            rollout.file,
            attribute_span(body, "rollback_on_failure", rollout.block.span()),
            rollout.address(),
            format!(
                "{} sets `rollback_on_failure = false`: a failed rollout still returns traffic to the last good generation, but keeps the failed Auto Scaling group and its instances running (detached, tagged `zdd:rolled-back`) until the next successful apply deletes it",
                rollout.address()
            ),
        ));
    }
}

/// A rollout always serves through target groups; its own default is "ELB", so only an explicit
/// type without ELB is reported.
fn check_health_check_type(
    module: &ModuleView<'_>,
    rollout: &Resource<'_>,
    out: &mut Vec<Finding>,
) {
    let body = rollout.body();
    let Some(Value::String(kind)) = module.value(body, "health_check_type") else {
        return; // the default ("ELB"), or not static
    };
    if includes_elb(&kind) {
        return;
    }
    out.push(module.finding(
        "ZDD016",
        rollout.file,
        attribute_span(body, "health_check_type", rollout.block.span()),
        rollout.address(),
        format!(
            "{} sets `health_check_type = \"{kind}\"` (the default is \"ELB\"): between deploys its groups ignore the load balancer's health checks and keep instances it marks unhealthy, so they hold capacity and are never replaced; remove it or set \"ELB\"",
            rollout.address()
        ),
    ));
}

/// The `canary` setting, written as an attribute (`canary = { ... }`) or a block.
enum Canary<'a> {
    Object(&'a hcl::edit::expr::Object, Option<Range<usize>>),
    Block(&'a Body, Option<Range<usize>>),
}

impl<'a> Canary<'a> {
    fn of(body: &'a Body) -> Option<Self> {
        if let Some(attribute) = body.get_attribute("canary") {
            return match &attribute.value {
                Expression::Object(object) => Some(Canary::Object(object, attribute.span())),
                _ => None, // e.g. `canary = var.canary`: not static
            };
        }
        let block = body.get_blocks("canary").next()?;
        Some(Canary::Block(&block.body, block.span()))
    }

    fn member(&self, key: &str) -> Option<&'a Expression> {
        match self {
            Canary::Object(object, _) => object
                .iter()
                .find(|(name, _)| object_key_is(name, key))
                .map(|(_, value)| value.expr()),
            Canary::Block(body, _) => body.get_attribute(key).map(|attribute| &attribute.value),
        }
    }

    fn span(&self) -> Option<Range<usize>> {
        match self {
            Canary::Object(_, span) | Canary::Block(_, span) => span.clone(),
        }
    }
}

fn object_key_is(key: &ObjectKey, wanted: &str) -> bool {
    match key {
        ObjectKey::Ident(ident) => ident.as_str() == wanted,
        ObjectKey::Expression(Expression::Variable(ident)) => ident.as_str() == wanted,
        ObjectKey::Expression(Expression::String(text)) => text.as_str() == wanted,
        ObjectKey::Expression(_) => false,
    }
}

fn check_canary_steps(
    module: &ModuleView<'_>,
    rollout: &Resource<'_>,
    canary: &Canary<'_>,
    out: &mut Vec<Finding>,
) {
    let Some(Expression::Array(steps)) = canary.member("steps") else {
        return; // default steps (5, 25, 50, 100), or not static
    };
    let address = rollout.address();
    let mut report = |span: Option<Range<usize>>, message: String| {
        out.push(module.finding("ZDD030", rollout.file, span, address.clone(), message));
    };
    let steps: Vec<(Value, Option<Range<usize>>)> = steps
        .iter()
        .map(|step| (module.scope.eval(step), step.span()))
        .collect();
    let weight = |step: &Value| step.get("weight").and_then(Value::as_number);

    let Some((last, last_span)) = steps.last() else {
        report(
            canary.span(),
            format!(
                "{address} has an empty list of canary steps: the provider refuses it at plan (at least one step, the last with weight 100)"
            ),
        );
        return;
    };
    for pair in steps.windows(2) {
        if let [(previous, _), (next, next_span)] = pair
            && let (Some(from), Some(to)) = (weight(previous), weight(next))
            && to <= from
        {
            report(
                next_span.clone(),
                format!(
                    "{address} canary weight {to} does not increase on the previous step's {from}"
                ),
            );
        }
    }
    if let Some(final_weight) = weight(last)
        && final_weight != 100.0
    {
        report(
            last_span.clone(),
            format!(
                "{address} canary steps end at weight {final_weight}, not 100: the provider refuses them at plan (the last step must send 100 % to the new generation)"
            ),
        );
    }
    let Some(interval) = canary_interval(module, canary) else {
        return; // the health-check interval is not static: soak times cannot be judged
    };
    for (step, span) in &steps {
        if weight(step) == Some(100.0) {
            continue; // the last shift needs no soak: nothing comes after it
        }
        let Some(soak) = step
            .get("soak")
            .and_then(Value::as_str)
            .and_then(|text| zdd_duration::parse(text).ok())
            .map(|soak| soak.as_secs_f64())
        else {
            continue;
        };
        if soak < 2.0 * interval {
            report(
                span.clone(),
                format!(
                    "{address} canary step soaks {soak}s, shorter than two health-check intervals ({}s): a failing target cannot be reported unhealthy in time",
                    2.0 * interval
                ),
            );
        }
    }
}

/// The health-check interval of the canary's target group (or the stable one), when static.
fn canary_interval(module: &ModuleView<'_>, canary: &Canary<'_>) -> Option<f64> {
    ["canary_target_group_arn", "stable_target_group_arn"]
        .iter()
        .find_map(|key| {
            let (resource_type, name) = resource_reference(canary.member(key)?)?;
            if !TARGET_GROUPS.contains(&resource_type) {
                return None;
            }
            interval_seconds(module, module.resource(resource_type, name)?)
        })
}
