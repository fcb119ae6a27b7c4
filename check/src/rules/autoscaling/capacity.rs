//! ZDD015: a group that `aws_autoscaling_policy` resources scale, whose `desired_capacity`
//! Terraform still manages. The AWS provider sends `DesiredCapacity` on update only when the
//! configured value differs from the state, and Read puts the autoscaled value in the state: every
//! apply after a scale-out or scale-in sets the capacity back to the configuration.

use hcl::edit::Span;
use hcl::edit::expr::{Expression, TraversalOperator};
use hcl::edit::structure::Body;

use super::super::super::calls::Call;
use super::super::super::finding::Finding;
use super::super::super::model::{ModuleView, Resource, attribute_span, nested_block};
use super::super::super::value::Value;
use super::{GROUP, groups_named_by, named_from, same_resource};

const POLICIES: &[&str] = &["aws_autoscaling_policy"];
const CAPACITY: &str = "desired_capacity";

pub fn check<'v, 'a>(views: &'v [ModuleView<'a>], calls: &'v [Call<'a>], out: &mut Vec<Finding>) {
    // (module of the group, group, how the finding names the policy)
    let mut scaling: Vec<(usize, &Resource<'_>, String)> = Vec::new();
    for (at, view) in views.iter().enumerate() {
        for policy in view.resources_of(POLICIES) {
            let Some(group_name) = policy.body().get_attribute("autoscaling_group_name") else {
                continue;
            };
            if !is_enabled(view, policy) {
                continue;
            }
            for (group_at, group) in groups_named_by(views, calls, at, &group_name.value) {
                scaling.push((group_at, group, named_from(policy, at, group_at)));
            }
        }
    }
    if scaling.is_empty() {
        return;
    }
    for (at, view) in views.iter().enumerate() {
        for group in view.resources_of(&[GROUP]) {
            let mut policies: Vec<&str> = scaling
                .iter()
                .filter(|(group_at, scaled, _)| *group_at == at && same_resource(scaled, group))
                .map(|(_, _, policy)| policy.as_str())
                .collect();
            policies.sort_unstable();
            policies.dedup();
            if !policies.is_empty() {
                check_group(view, group, &policies, out);
            }
        }
    }
}

/// `enabled = false` policies do not scale; anything else (absent, true, unknown) may.
fn is_enabled(module: &ModuleView<'_>, policy: &Resource<'_>) -> bool {
    module
        .value(policy.body(), "enabled")
        .and_then(|value| value.as_bool())
        != Some(false)
}

/// The capacity Terraform writes on every apply, when it writes one.
enum ManagedCapacity {
    Known(f64),
    /// Not null, but known only at plan (a variable that has no null default).
    Configured,
}

fn check_group(
    module: &ModuleView<'_>,
    group: &Resource<'_>,
    policies: &[&str],
    out: &mut Vec<Finding>,
) {
    let body = group.body();
    let Some(capacity) = managed_capacity(module, body) else {
        return; // unset (the policies own it), null, or not static
    };
    if capacity_is_pinned(module, body) {
        return; // min_size = max_size: no policy can move it
    }
    if ignores_desired_capacity(body) != Some(false) {
        return; // ignored, or `ignore_changes` in a form we cannot read
    }
    let target = match capacity {
        ManagedCapacity::Known(number) => format_count(number),
        ManagedCapacity::Configured => "the configured value".to_owned(),
    };
    out.push(module.finding(
        "ZDD015",
        group.file,
        attribute_span(body, CAPACITY, group.block.span()),
        group.address(),
        format!(
            "{} sets `desired_capacity` and is scaled by {}: every apply after the policies acted sets the capacity back to {target}, even at peak; add `lifecycle {{ ignore_changes = [desired_capacity] }}` to the group",
            group.address(),
            policies.join(", "),
        ),
    ));
}

fn managed_capacity(module: &ModuleView<'_>, body: &Body) -> Option<ManagedCapacity> {
    let attribute = body.get_attribute(CAPACITY)?;
    match module.scope.eval(&attribute.value) {
        Value::Unknown => variable_capacity(module, &attribute.value),
        value => value.as_number().map(ManagedCapacity::Known),
    }
}

/// `desired_capacity = var.NAME`: managed unless the variable's default may be null. A variable
/// without a default is a required input, so a value is always given.
fn variable_capacity(module: &ModuleView<'_>, expr: &Expression) -> Option<ManagedCapacity> {
    let Expression::Traversal(traversal) = expr else {
        return None;
    };
    if traversal.expr.as_variable()?.as_str() != "var" {
        return None;
    }
    let [operator] = traversal.operators.as_slice() else {
        return None;
    };
    let TraversalOperator::GetAttr(name) = operator.value() else {
        return None;
    };
    let declaration = module.variables.get(name.as_str())?;
    match module.value(&declaration.body, "default") {
        None => Some(ManagedCapacity::Configured),
        Some(Value::Null | Value::Unknown) => None,
        Some(_) => Some(ManagedCapacity::Configured),
    }
}

fn capacity_is_pinned(module: &ModuleView<'_>, body: &Body) -> bool {
    let size = |key: &str| module.value(body, key).and_then(|value| value.as_number());
    matches!((size("min_size"), size("max_size")), (Some(min), Some(max)) if min == max)
}

/// `Some(true)` when `lifecycle { ignore_changes }` covers `desired_capacity` (`all`, the
/// attribute, or its legacy quoted form), `Some(false)` when it does not, `None` when the
/// expression is not one Terraform accepts (it refuses the plan anyway).
fn ignores_desired_capacity(body: &Body) -> Option<bool> {
    let Some(ignore_changes) = nested_block(body, "lifecycle")
        .and_then(|block| block.body.get_attribute("ignore_changes"))
    else {
        return Some(false);
    };
    match &ignore_changes.value {
        Expression::Variable(keyword) => (keyword.as_str() == "all").then_some(true),
        Expression::Array(items) => Some(items.iter().any(|item| match item {
            Expression::Variable(name) => name.as_str() == CAPACITY,
            Expression::String(name) => name.as_str() == CAPACITY,
            _ => false,
        })),
        _ => None,
    }
}

fn format_count(number: f64) -> String {
    if number.fract() == 0.0 && number.abs() < 1e15 {
        format!("{}", number as i64)
    } else {
        format!("{number}")
    }
}
