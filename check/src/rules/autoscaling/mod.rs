//! ZDD010-ZDD016 for `aws_autoscaling_group` (and ZDD012 for `aws_autoscaling_attachment`):
//! replacement and launch settings here, ZDD015 (scaling policies against a managed capacity) in
//! [`capacity`], ZDD016 (health check type behind a load balancer) in [`health_check`].

mod capacity;
pub mod health_check;

use hcl::edit::Span;
use hcl::edit::expr::Expression;
use hcl::edit::structure::Body;
use hcl::edit::template::Element;

use super::super::calls::{Call, module_output, output_value, variable_name};
use super::super::finding::{Finding, Severity};
use super::super::model::{ModuleView, Resource, attribute_span, nested_block};
use super::super::value::{Value, resource_reference};

pub const GROUP: &str = "aws_autoscaling_group";
const ATTACHMENTS: &[&str] = &["aws_autoscaling_attachment"];

pub fn check(module: &ModuleView<'_>, out: &mut Vec<Finding>) {
    for group in module.resources_of(&[GROUP]) {
        if launches_instances(group.body()) {
            check_create_before_destroy(module, group, out);
            check_fixed_name(module, group, out);
        }
        check_elb_capacity_wait(module, group, out);
        check_latest_version(module, group, out);
    }
    for attachment in module.resources_of(ATTACHMENTS) {
        check_separate_attachment(module, attachment, out);
    }
}

/// ZDD015 and ZDD016 for groups of every module: their policies and attachments may be declared
/// in another module that receives the group's name through a variable or an output.
pub fn check_linked<'v, 'a>(
    views: &'v [ModuleView<'a>],
    calls: &'v [Call<'a>],
    out: &mut Vec<Finding>,
) {
    capacity::check(views, calls, out);
    health_check::check(views, calls, out);
}

/// Most expressions looked at while following one `autoscaling_group_name` through module calls:
/// bounds the work on call cycles and on modules called many times.
const MAX_RESOLUTION_STEPS: usize = 64;

/// A group and the index of the module declaring it.
type Located<'v, 'a> = (usize, &'v Resource<'a>);

/// The groups that `expr`, written in module `at`, names: one of that module (see
/// [`group_named_by`]); through `var.X`, what each call of the module passes as `X` (a module
/// called twice may name two groups); through `module.CALL.OUT`, what that child's output
/// returns. Anything else names nothing.
fn groups_named_by<'v, 'a>(
    views: &'v [ModuleView<'a>],
    calls: &'v [Call<'a>],
    at: usize,
    expr: &Expression,
) -> Vec<Located<'v, 'a>> {
    let mut found = Vec::new();
    let mut steps_left = MAX_RESOLUTION_STEPS;
    follow(views, calls, at, expr, &mut steps_left, &mut found);
    found
}

fn follow<'v, 'a>(
    views: &'v [ModuleView<'a>],
    calls: &'v [Call<'a>],
    at: usize,
    expr: &Expression,
    steps_left: &mut usize,
    found: &mut Vec<Located<'v, 'a>>,
) {
    let Some(view) = views.get(at) else {
        return;
    };
    if *steps_left == 0 {
        return;
    }
    *steps_left -= 1;
    if let Some(group) = group_named_by(view, expr) {
        found.push((at, group));
    } else if let Some(variable) = variable_name(expr) {
        for call in calls.iter().filter(|call| call.child == at) {
            if let Some(argument) = call.block.body.get_attribute(variable) {
                follow(
                    views,
                    calls,
                    call.caller,
                    &argument.value,
                    steps_left,
                    found,
                );
            }
        }
    } else if let Some((name, output)) = module_output(expr) {
        for call in calls
            .iter()
            .filter(|call| call.caller == at && call.name == name)
        {
            if let Some(value) = views
                .get(call.child)
                .and_then(|child| output_value(child, output))
            {
                follow(views, calls, call.child, value, steps_left, found);
            }
        }
    }
}

/// How a finding names a resource that may be declared in another module than the group.
fn named_from(resource: &Resource<'_>, declared_in: usize, group_in: usize) -> String {
    if declared_in == group_in {
        resource.address()
    } else {
        format!("{} in {}", resource.address(), resource.file.path.display())
    }
}

/// The group of this module that `expr` (an `autoscaling_group_name`) names: a reference
/// (`aws_autoscaling_group.web.name`, `.id`, indexed, or alone inside `"${...}"`), or a static
/// name equal to a group's static `name`. `None` when it names no group declared here or cannot
/// be resolved statically (`var.*`, `module.*`, `data.*`): rules stay silent rather than guess,
/// and a literal name is never matched with a group of another module, which may live in another
/// account or region.
fn group_named_by<'m, 'a>(
    module: &'m ModuleView<'a>,
    expr: &Expression,
) -> Option<&'m Resource<'a>> {
    if let Some((resource_type, name)) = reference_in(expr) {
        return if resource_type == GROUP {
            module.resource(GROUP, name)
        } else {
            None
        };
    }
    let Value::String(wanted) = module.scope.eval(expr) else {
        return None;
    };
    module.resources_of(&[GROUP]).find(|group| {
        module
            .value(group.body(), "name")
            .is_some_and(|name| name.as_str() == Some(wanted.as_str()))
    })
}

/// A plain resource reference, also when written as the only part of a string template (the
/// Terraform 0.11 style `"${aws_autoscaling_group.web.name}"`).
fn reference_in(expr: &Expression) -> Option<(&str, &str)> {
    if let Expression::StringTemplate(template) = expr {
        let mut elements = template.iter();
        if let (Some(Element::Interpolation(interpolation)), None) =
            (elements.next(), elements.next())
        {
            return resource_reference(&interpolation.expr);
        }
    }
    resource_reference(expr)
}

/// Whether `a` and `b` are the same resource block.
fn same_resource(a: &Resource<'_>, b: &Resource<'_>) -> bool {
    std::ptr::eq(a.block, b.block)
}

/// A group with a launch template, launch configuration or mixed instances policy: changing
/// what forces its replacement makes Terraform replace it.
pub fn launches_instances(body: &Body) -> bool {
    body.get_attribute("launch_configuration").is_some()
        || has_block(body, "launch_template")
        || has_block(body, "mixed_instances_policy")
}

/// A nested block written literally or as `dynamic "ident" { ... }`.
fn has_block(body: &Body, ident: &str) -> bool {
    nested_block(body, ident).is_some()
        || body.get_blocks("dynamic").any(|block| {
            block
                .labels
                .first()
                .is_some_and(|label| label.as_str() == ident)
        })
}

fn check_create_before_destroy(
    module: &ModuleView<'_>,
    group: &Resource<'_>,
    out: &mut Vec<Finding>,
) {
    let lifecycle = nested_block(group.body(), "lifecycle");
    let setting = lifecycle.and_then(|block| module.value(&block.body, "create_before_destroy"));
    let span = match (&setting, lifecycle) {
        (Some(value), _) if value.as_bool() != Some(false) => return, // true, or not static
        (Some(_), Some(block)) => {
            attribute_span(&block.body, "create_before_destroy", block.span())
        }
        _ => group.block.span(),
    };
    out.push(module.finding(
        "ZDD010",
        group.file,
        span,
        group.address(),
        format!(
            "{} has a launch template or configuration but no `lifecycle {{ create_before_destroy = true }}`: a replacement destroys every instance before the new group exists",
            group.address()
        ),
    ));
}

fn check_fixed_name(module: &ModuleView<'_>, group: &Resource<'_>, out: &mut Vec<Finding>) {
    let Some(Value::String(name)) = module.value(group.body(), "name") else {
        return; // absent, or computed from something that may change with each replacement
    };
    out.push(module.finding(
        "ZDD011",
        group.file,
        attribute_span(group.body(), "name", group.block.span()),
        group.address(),
        format!(
            "{} has the fixed name \"{name}\": its replacement cannot exist beside it, so create-before-destroy fails",
            group.address()
        ),
    ));
}

fn check_elb_capacity_wait(module: &ModuleView<'_>, group: &Resource<'_>, out: &mut Vec<Finding>) {
    let body = group.body();
    let behind_load_balancer = ["target_group_arns", "load_balancers"]
        .iter()
        .find(|key| {
            module
                .value(body, key)
                .and_then(|value| value.as_list().map(|items| !items.is_empty()))
                .unwrap_or(false)
        })
        .copied()
        .or_else(|| has_block(body, "traffic_source").then_some("traffic_source"));
    let Some(attachment_key) = behind_load_balancer else {
        return;
    };
    if body.get_attribute("wait_for_elb_capacity").is_some()
        || body.get_attribute("min_elb_capacity").is_some()
    {
        return;
    }
    let span = body
        .get_attribute(attachment_key)
        .and_then(|attribute| attribute.span())
        .or_else(|| group.block.span());
    out.push(module.finding(
        "ZDD013",
        group.file,
        span,
        group.address(),
        format!(
            "{} is behind a load balancer but sets neither `wait_for_elb_capacity` nor `min_elb_capacity`: Terraform moves on before any new target is healthy",
            group.address()
        ),
    ));
}

fn check_latest_version(module: &ModuleView<'_>, group: &Resource<'_>, out: &mut Vec<Finding>) {
    let mut specifications: Vec<&Body> = group
        .body()
        .get_blocks("launch_template")
        .map(|block| &block.body)
        .collect();
    for policy in group.body().get_blocks("mixed_instances_policy") {
        for template in policy.body.get_blocks("launch_template") {
            specifications.extend(
                template
                    .body
                    .get_blocks("launch_template_specification")
                    .map(|block| &block.body),
            );
        }
    }
    for specification in specifications {
        if module
            .value(specification, "version")
            .as_ref()
            .and_then(Value::as_str)
            == Some("$Latest")
        {
            let mut finding = module.finding(
                "ZDD014",
                group.file,
                attribute_span(specification, "version", group.block.span()),
                group.address(),
                format!(
                    "{} uses launch template version \"$Latest\": instances launched later silently run whatever version is newest",
                    group.address()
                ),
            );
            finding.severity = Severity::Warning;
            out.push(finding);
        }
    }
}

fn check_separate_attachment(
    module: &ModuleView<'_>,
    attachment: &Resource<'_>,
    out: &mut Vec<Finding>,
) {
    let Some(group_name) = attachment.body().get_attribute("autoscaling_group_name") else {
        return;
    };
    let Some((GROUP, name)) = resource_reference(&group_name.value) else {
        return; // a group managed elsewhere, or a name we cannot resolve
    };
    let Some(group) = module.resource(GROUP, name) else {
        return;
    };
    if !launches_instances(group.body()) {
        return;
    }
    out.push(module.finding(
        "ZDD012",
        attachment.file,
        attachment.block.span(),
        attachment.address(),
        format!(
            "{} attaches {} from outside the group: when the group is replaced, the new one starts detached and traffic has no targets until the attachment is recreated",
            attachment.address(),
            group.address()
        ),
    ));
}
