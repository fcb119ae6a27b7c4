//! Plan-time validation of `zdd_rollout`. The engine's `RolloutSpec::validate` is the one source
//! of the rules: this module turns each of its errors into a Terraform diagnostic on the same
//! attribute path (map keys included: a reserved tag is reported at `tags["zdd:…"]`), leaves out
//! the verdicts that depend on values Terraform does not know yet, and adds the `timeouts` block,
//! which only Terraform has. Every problem is reported at once (a user fixes a config in one
//! round, not one error per plan).

use std::collections::BTreeSet;

use zdd_rollout::spec::SpecErrorKind;
use zdd_rollout::{AttributePath as EnginePath, PathStep as EngineStep, RolloutSpec, SpecError};
use zdd_tfplugin::{AttributePath, Diagnostic};

use super::attributes::{self, Attribute};
use super::duration::{format_duration, parse_duration};
use super::rollout::{Operation, RolloutModel};
use super::state::{State, computed};

/// Every problem of a configuration, each on its attribute path.
///
/// `unknown` names the top-level attributes whose values Terraform does not know yet (e.g. an ARN
/// of a resource not created yet; the model holds placeholders for them). Verdicts that depend on
/// them are left out; Terraform validates again once they are known.
pub fn validate(model: &RolloutModel, unknown: &BTreeSet<String>) -> Vec<Diagnostic> {
    validate_with_placeholders(model, unknown, &[])
}

/// [`validate`] of a model in which the values at `placeholders` stand in for unknown ARNs
/// ([`State::with_unknown_arns_as_placeholders`]): the verdicts on those paths (and below
/// them) are left out too.
fn validate_with_placeholders(
    model: &RolloutModel,
    unknown: &BTreeSet<String>,
    placeholders: &[Vec<EngineStep>],
) -> Vec<Diagnostic> {
    let engine_errors = match RolloutSpec::validate(&model.spec) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.0,
    };
    let mut diagnostics: Vec<Diagnostic> = engine_errors
        .iter()
        .filter(|error| !judges_unknown(&error.path, unknown))
        .filter(|error| {
            !placeholders
                .iter()
                .any(|placeholder| error.path.0.starts_with(placeholder))
        })
        .map(engine_error_diagnostic)
        .collect();
    diagnostics.extend(timeouts_diagnostics(model, unknown));
    diagnostics
}

/// Every problem of a configuration, on its attribute path (the engine's rules, see
/// [`validate`]). Computed attributes are null in configuration, so their being unknown says
/// nothing about the user's values.
pub fn config_diagnostics(state: &State) -> Result<Vec<Diagnostic>, serde_json::Error> {
    let computed = computed();
    let (state, placeholders) = state.with_unknown_arns_as_placeholders();
    let unknown: std::collections::BTreeSet<String> = state
        .unknown_attributes()
        .into_iter()
        .filter(|name| !computed.contains(&name.as_str()))
        .collect();
    Ok(validate_with_placeholders(
        &state.to_model()?,
        &unknown,
        &placeholders,
    ))
}

/// One engine error as a Terraform diagnostic: the summary names the attribute (Terraform shows
/// the source line, which for a list element is only the list's first line), the detail is the
/// engine's message.
pub fn engine_error_diagnostic(error: &SpecError) -> Diagnostic {
    let mut detail = error.message.clone();
    if let Some(hint) = root_attribute(&error.path).and_then(terraform_hint) {
        detail = format!("{}. {hint}", detail.trim_end_matches('.'));
    }
    let path = terraform_path(&error.path);
    Diagnostic::error(summary(error.kind, &path), detail).at(path)
}

/// The diagnostic's one-line summary: it names the attribute, and says the rule where "Invalid"
/// would hide what to do.
fn summary(kind: SpecErrorKind, path: &AttributePath) -> String {
    match kind {
        SpecErrorKind::FloatingVersion => format!("Unpinned {path}"),
        SpecErrorKind::ReservedTag => format!("Reserved tag key at {path}"),
        _ => format!("Invalid {path}"),
    }
}

fn invalid(path: AttributePath, message: &str) -> Diagnostic {
    Diagnostic::error(format!("Invalid {path}"), message).at(path)
}

/// Advice only a Terraform user needs, added to the engine's message.
fn terraform_hint(attribute: &str) -> Option<&'static str> {
    match attribute {
        "launch_template_version" => Some(
            "In Terraform, reference a numbered version, e.g. aws_launch_template.web.latest_version.",
        ),
        _ => None,
    }
}

fn terraform_path(path: &EnginePath) -> AttributePath {
    path.0
        .iter()
        .fold(AttributePath::default(), |path, step| match step {
            EngineStep::Attribute(name) => path.attribute(name.clone()),
            EngineStep::Index(index) => path.index(i64::try_from(*index).unwrap_or(i64::MAX)),
            EngineStep::Key(key) => path.key(key.clone()),
        })
}

fn root_attribute(path: &EnginePath) -> Option<&str> {
    match path.0.first() {
        Some(EngineStep::Attribute(name)) => Some(name),
        _ => None,
    }
}

fn judges_unknown(path: &EnginePath, unknown: &BTreeSet<String>) -> bool {
    if unknown.is_empty() {
        return false;
    }
    // The table says which attributes an engine verdict on an attribute reads. Only Terraform
    // has unknown values, so the engine need not know. An attribute the table does not list, or
    // lists without its inputs, is taken to depend on everything: a new engine rule is never
    // judged on a placeholder.
    match root_attribute(path)
        .and_then(|name| attributes::rollout().attribute(name))
        .and_then(Attribute::verdict_inputs)
    {
        Some(inputs) => inputs.iter().any(|input| unknown.contains(*input)),
        None => true,
    }
}

/// The `timeouts` block bounds Terraform's operations; the engine never sees it. Parsed with the
/// same parser the resource uses to read the timeouts.
fn timeouts_diagnostics(model: &RolloutModel, unknown: &BTreeSet<String>) -> Vec<Diagnostic> {
    let Some(timeouts) = model
        .timeouts
        .as_ref()
        .filter(|_| !unknown.contains("timeouts"))
    else {
        return Vec::new();
    };
    [
        ("create", &timeouts.create),
        ("update", &timeouts.update),
        ("delete", &timeouts.delete),
    ]
    .into_iter()
    .filter_map(|(name, value)| match value.as_deref().map(parse_duration) {
        Some(Err(message)) => Some(invalid(
            AttributePath::root("timeouts").attribute(name),
            &message,
        )),
        _ => None,
    })
    .chain(hook_time_warnings(model, unknown))
    .collect()
}

/// A configured timeout shorter than what lifecycle hooks may hold the operation up: a
/// warning, not an error (instances may well be released early, and only the user knows how
/// early). An update that runs out rolls back, which waits for the same hooks.
fn hook_time_warnings(model: &RolloutModel, unknown: &BTreeSet<String>) -> Vec<Diagnostic> {
    if ["timeouts", "lifecycle_hooks", "health_timeout"]
        .iter()
        .any(|name| unknown.contains(*name))
    {
        return Vec::new();
    }
    [
        ("create", Operation::Create),
        ("update", Operation::Update),
        ("delete", Operation::Delete),
    ]
    .into_iter()
    .filter_map(|(name, operation)| {
        let configured = model.configured_timeout(operation)?;
        let minimum = model.hook_bound_minimum(operation)?;
        if configured >= minimum {
            return None;
        }
        let hooks = format_duration(model.hook_time(operation));
        let needs = match operation {
            Operation::Delete => format!(
                "each retiring instance may wait in Terminating:Wait for up to {hooks} (the longest terminating hook's heartbeat_timeout) before its group can be deleted"
            ),
            Operation::Create | Operation::Update => format!(
                "a rollout may wait up to health_timeout ({}) plus {hooks} of lifecycle hooks (the longest launching hook's heartbeat_timeout, which instances may spend in Pending:Wait, plus the longest terminating hook's, which retiring instances may spend in Terminating:Wait)",
                format_duration(model.health_timeout_or_default())
            ),
        };
        let path = AttributePath::root("timeouts").attribute(name);
        Some(
            Diagnostic::warning(
                format!("{path} may be too short for the lifecycle hooks"),
                format!(
                    "{} is shorter than {}: {needs}. An operation that runs out of time is rolled back or stopped; complete the lifecycle actions sooner or raise the timeout.",
                    format_duration(configured),
                    format_duration(minimum)
                ),
            )
            .at(path),
        )
    })
    .collect()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod autoscaling_tests;

#[cfg(test)]
mod unknown_arn_tests;
