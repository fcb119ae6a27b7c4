//! Plan-time validation: every bad input gets an error diagnostic on its attribute path, all
//! of them at once (a user fixes a config in one round, not one error per plan).
//!
//! Values not yet known at plan time (e.g. an ARN from a resource not created yet) are
//! listed in `unknown` by top-level attribute name and skipped; Terraform validates again
//! once they are known.

use std::collections::BTreeSet;

use super::diagnostics::{AttrPath, Diagnostic};
use super::duration::parse_duration;
use super::rollout::{CanaryConfig, RolloutModel, Strategy};

/// ASG names are at most 255 characters; leave room for `-g<generation>` (the engine agrees).
const MAX_NAME_LEN: usize = 200;

pub fn validate(model: &RolloutModel, unknown: &BTreeSet<String>) -> Vec<Diagnostic> {
    let known = |attribute: &str| !unknown.contains(attribute);
    let mut diagnostics = Vec::new();

    if known("name") {
        validate_name(&model.name, &mut diagnostics);
    }
    if known("launch_template_version") {
        validate_version(&model.launch_template_version, &mut diagnostics);
    }
    if known("launch_template_id") && model.launch_template_id.trim().is_empty() {
        diagnostics.push(Diagnostic::error(
            AttrPath::root("launch_template_id"),
            "Empty launch template id",
            "launch_template_id must name an EC2 launch template, e.g. \"lt-0abc123\".",
        ));
    }
    if known("subnet_ids") && model.subnet_ids.is_empty() {
        diagnostics.push(Diagnostic::error(
            AttrPath::root("subnet_ids"),
            "No subnets",
            "subnet_ids needs at least one subnet for the Auto Scaling groups.",
        ));
    }
    let sizes_known = known("min_size") && known("max_size") && known("desired_capacity");
    if sizes_known {
        validate_sizes(model, &mut diagnostics);
    }

    let strategy = if known("strategy") {
        match model.strategy_or_default() {
            Ok(strategy) => Some(strategy),
            Err(message) => {
                diagnostics.push(Diagnostic::error(
                    AttrPath::root("strategy"),
                    "Unknown strategy",
                    message,
                ));
                None
            }
        }
    } else {
        None
    };

    if let Some(percent) = model
        .min_healthy_percent
        .filter(|_| known("min_healthy_percent"))
        && !(0..=100).contains(&percent)
    {
        diagnostics.push(Diagnostic::error(
            AttrPath::root("min_healthy_percent"),
            "min_healthy_percent out of range",
            format!("min_healthy_percent must be between 0 and 100, got {percent}."),
        ));
    }
    if let Some(batch) = model.batch_size.filter(|_| known("batch_size"))
        && batch < 1
    {
        diagnostics.push(Diagnostic::error(
            AttrPath::root("batch_size"),
            "batch_size too small",
            format!("batch_size must be at least 1, got {batch}."),
        ));
    }

    match strategy {
        Some(Strategy::BlueGreen | Strategy::Rolling) if known("target_group_arns")
            && model.target_group_arns.as_ref().is_none_or(Vec::is_empty) => {
                diagnostics.push(Diagnostic::error(
                    AttrPath::root("target_group_arns"),
                    "Missing target groups",
                    format!(
                        "strategy {:?} waits for the load balancer to report the new targets healthy: \
                         target_group_arns needs at least one target group.",
                        strategy.map_or("", Strategy::as_str)
                    ),
                ));
            }
        Some(Strategy::Canary) if known("canary") => match &model.canary {
            None => diagnostics.push(Diagnostic::error(
                AttrPath::root("canary"),
                "Canary without listener",
                "strategy \"canary\" needs a canary block with listener_arn, stable_target_group_arn \
                 and canary_target_group_arn.",
            )),
            Some(canary) => validate_canary(canary, &mut diagnostics),
        },
        _ => {}
    }
    if strategy == Some(Strategy::Rolling) && sizes_known && known("min_healthy_percent") {
        validate_rolling_room(model, &mut diagnostics);
    }

    if known("health_timeout")
        && let Some(text) = &model.health_timeout
    {
        check_duration(AttrPath::root("health_timeout"), text, &mut diagnostics);
    }
    if let Some(timeouts) = model.timeouts.as_ref().filter(|_| known("timeouts")) {
        for (name, value) in [
            ("create", &timeouts.create),
            ("update", &timeouts.update),
            ("delete", &timeouts.delete),
        ] {
            if let Some(text) = value {
                check_duration(
                    AttrPath::root("timeouts").attribute(name),
                    text,
                    &mut diagnostics,
                );
            }
        }
    }
    if let Some(tags) = model.tags.as_ref().filter(|_| known("tags")) {
        for key in tags.keys().filter(|key| key.starts_with("zdd:")) {
            diagnostics.push(Diagnostic::error(
                AttrPath::root("tags").key(key),
                "Reserved tag key",
                format!("tag keys starting with \"zdd:\" are set by the provider; remove {key:?}."),
            ));
        }
    }
    diagnostics
}

fn validate_name(name: &str, diagnostics: &mut Vec<Diagnostic>) {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if name.is_empty() || name.len() > MAX_NAME_LEN || !valid_chars {
        diagnostics.push(Diagnostic::error(
            AttrPath::root("name"),
            "Invalid name",
            format!(
                "name must be 1 to {MAX_NAME_LEN} characters of letters, digits, '-' or '_' \
                 (Auto Scaling groups are named \"<name>-g<generation>\"), got {name:?}."
            ),
        ));
    }
}

fn validate_version(version: &str, diagnostics: &mut Vec<Diagnostic>) {
    let is_number =
        !version.is_empty() && version.chars().all(|c| c.is_ascii_digit()) && version != "0";
    if version == "$Latest" || version == "$Default" {
        diagnostics.push(Diagnostic::error(
            AttrPath::root("launch_template_version"),
            "Launch template version must be pinned",
            format!(
                "{version} moves when someone creates a template version, so a rollback would have no \
                 fixed target. Use a version number, e.g. aws_launch_template.web.latest_version."
            ),
        ));
    } else if !is_number {
        diagnostics.push(Diagnostic::error(
            AttrPath::root("launch_template_version"),
            "Launch template version must be a number",
            format!("expected a version number such as \"7\", got {version:?}."),
        ));
    }
}

fn validate_sizes(model: &RolloutModel, diagnostics: &mut Vec<Diagnostic>) {
    if model.min_size < 0 {
        diagnostics.push(Diagnostic::error(
            AttrPath::root("min_size"),
            "min_size is negative",
            format!("min_size must be 0 or more, got {}.", model.min_size),
        ));
    }
    if model.max_size < 1 {
        diagnostics.push(Diagnostic::error(
            AttrPath::root("max_size"),
            "max_size too small",
            format!("max_size must be at least 1, got {}.", model.max_size),
        ));
    }
    if model.min_size > model.max_size {
        diagnostics.push(Diagnostic::error(
            AttrPath::root("min_size"),
            "min_size exceeds max_size",
            format!(
                "min_size ({}) must not exceed max_size ({}).",
                model.min_size, model.max_size
            ),
        ));
    } else if !(model.min_size..=model.max_size).contains(&model.desired_capacity) {
        diagnostics.push(Diagnostic::error(
            AttrPath::root("desired_capacity"),
            "desired_capacity outside min_size..max_size",
            format!(
                "desired_capacity ({}) must be between min_size ({}) and max_size ({}).",
                model.desired_capacity, model.min_size, model.max_size
            ),
        ));
    }
}

/// A rolling update replaces instances a batch at a time; it needs room either above
/// desired (surge up to max_size) or below it (min_healthy_percent < 100).
fn validate_rolling_room(model: &RolloutModel, diagnostics: &mut Vec<Diagnostic>) {
    let percent = model
        .min_healthy_percent
        .unwrap_or(super::rollout::defaults::MIN_HEALTHY_PERCENT);
    let floor = (model.desired_capacity * percent + 99) / 100;
    let surge = model.max_size - model.desired_capacity;
    let slack = model.desired_capacity - floor;
    if model.desired_capacity > 0 && surge <= 0 && slack <= 0 {
        diagnostics.push(Diagnostic::error(
            AttrPath::root("max_size"),
            "No room for a rolling update",
            format!(
                "with min_healthy_percent = {percent} every one of the {} instances must stay healthy, \
                 so the new batch must be launched beside them: raise max_size above desired_capacity \
                 or lower min_healthy_percent.",
                model.desired_capacity
            ),
        ));
    }
}

fn validate_canary(canary: &CanaryConfig, diagnostics: &mut Vec<Diagnostic>) {
    let path = || AttrPath::root("canary");
    for (attribute, value) in [
        ("listener_arn", &canary.listener_arn),
        ("stable_target_group_arn", &canary.stable_target_group_arn),
        ("canary_target_group_arn", &canary.canary_target_group_arn),
    ] {
        if value.trim().is_empty() {
            diagnostics.push(Diagnostic::error(
                path().attribute(attribute),
                if attribute == "listener_arn" {
                    "Canary without listener"
                } else {
                    "Missing target groups"
                },
                format!("canary.{attribute} must be set for strategy \"canary\"."),
            ));
        }
    }
    if !canary.stable_target_group_arn.is_empty()
        && canary.stable_target_group_arn == canary.canary_target_group_arn
    {
        diagnostics.push(Diagnostic::error(
            path().attribute("canary_target_group_arn"),
            "Canary and stable target groups are the same",
            "the canary needs its own target group so the listener can weight the two.",
        ));
    }
    if let Some(ratio) = canary.max_5xx_ratio
        && (!(0.0..=1.0).contains(&ratio) || ratio.is_nan())
    {
        diagnostics.push(Diagnostic::error(
            path().attribute("max_5xx_ratio"),
            "max_5xx_ratio out of range",
            format!("max_5xx_ratio is a fraction between 0 and 1 (0.01 = 1 %), got {ratio}."),
        ));
    }
    let Some(steps) = &canary.steps else { return };
    if steps.is_empty() {
        diagnostics.push(Diagnostic::error(
            path().attribute("steps"),
            "No canary steps",
            "canary.steps needs at least one step, and the last must have weight 100.",
        ));
        return;
    }
    let mut previous = 0;
    for (index, step) in steps.iter().enumerate() {
        let step_path = || path().attribute("steps").index(index);
        if !(1..=100).contains(&step.weight) {
            diagnostics.push(Diagnostic::error(
                step_path().attribute("weight"),
                "Canary weight out of range",
                format!(
                    "weights are percentages of traffic from 1 to 100, got {}.",
                    step.weight
                ),
            ));
        } else if step.weight <= previous {
            diagnostics.push(Diagnostic::error(
                step_path().attribute("weight"),
                "Canary weights not increasing",
                format!(
                    "each step must send more traffic than the one before: step {index} has weight {} after {previous}.",
                    step.weight
                ),
            ));
        }
        previous = previous.max(step.weight);
        check_duration(step_path().attribute("soak"), &step.soak, diagnostics);
    }
    if let Some(last) = steps.last().filter(|last| last.weight != 100) {
        diagnostics.push(Diagnostic::error(
            path()
                .attribute("steps")
                .index(steps.len() - 1)
                .attribute("weight"),
            "Canary steps must end at 100",
            format!(
                "the last step shifts all traffic to the new generation: weight 100, got {}.",
                last.weight
            ),
        ));
    }
}

fn check_duration(path: AttrPath, text: &str, diagnostics: &mut Vec<Diagnostic>) {
    if let Err(message) = parse_duration(text) {
        diagnostics.push(Diagnostic::error(path, "Invalid duration", message));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::rollout::{CanaryStepConfig, TimeoutsConfig};

    fn valid() -> RolloutModel {
        RolloutModel {
            name: "web".into(),
            launch_template_id: "lt-0abc".into(),
            launch_template_version: "7".into(),
            subnet_ids: vec!["subnet-a".into()],
            target_group_arns: Some(vec!["arn:tg".into()]),
            min_size: 2,
            max_size: 6,
            desired_capacity: 3,
            ..RolloutModel::default()
        }
    }

    fn canary() -> CanaryConfig {
        CanaryConfig {
            listener_arn: "arn:listener".into(),
            stable_target_group_arn: "arn:blue".into(),
            canary_target_group_arn: "arn:green".into(),
            ..CanaryConfig::default()
        }
    }

    fn step(weight: i64, soak: &str) -> CanaryStepConfig {
        CanaryStepConfig {
            weight,
            soak: soak.into(),
        }
    }

    /// `(path, summary)` of every diagnostic, for compact assertions.
    fn errors(model: &RolloutModel) -> Vec<(String, String)> {
        validate(model, &BTreeSet::new())
            .into_iter()
            .map(|d| (d.path.map(|p| p.to_string()).unwrap_or_default(), d.summary))
            .collect()
    }

    fn paths(model: &RolloutModel) -> Vec<String> {
        errors(model).into_iter().map(|(path, _)| path).collect()
    }

    #[test]
    fn a_valid_config_has_no_diagnostics() {
        assert_eq!(errors(&valid()), vec![]);
        let canary_model = RolloutModel {
            strategy: Some("canary".into()),
            target_group_arns: None,
            canary: Some(canary()),
            ..valid()
        };
        assert_eq!(errors(&canary_model), vec![]);
    }

    #[test]
    fn floating_versions_are_refused() {
        for version in ["$Latest", "$Default"] {
            let model = RolloutModel {
                launch_template_version: version.into(),
                ..valid()
            };
            assert_eq!(
                errors(&model),
                vec![(
                    "launch_template_version".into(),
                    "Launch template version must be pinned".into()
                )]
            );
        }
        for version in ["", "v7", "0", "1.5"] {
            let model = RolloutModel {
                launch_template_version: version.into(),
                ..valid()
            };
            assert_eq!(
                paths(&model),
                vec!["launch_template_version"],
                "{version:?}"
            );
        }
    }

    #[test]
    fn desired_outside_min_max() {
        for desired in [1, 7] {
            let model = RolloutModel {
                desired_capacity: desired,
                ..valid()
            };
            assert_eq!(
                errors(&model),
                vec![(
                    "desired_capacity".into(),
                    "desired_capacity outside min_size..max_size".into()
                )]
            );
        }
        let model = RolloutModel {
            min_size: 7,
            ..valid()
        };
        assert_eq!(paths(&model), vec!["min_size"]);
    }

    #[test]
    fn unknown_strategy() {
        let model = RolloutModel {
            strategy: Some("big_bang".into()),
            ..valid()
        };
        assert_eq!(
            errors(&model),
            vec![("strategy".into(), "Unknown strategy".into())]
        );
    }

    #[test]
    fn canary_without_listener() {
        let model = RolloutModel {
            strategy: Some("canary".into()),
            ..valid()
        };
        assert_eq!(
            errors(&model),
            vec![("canary".into(), "Canary without listener".into())]
        );
        let model = RolloutModel {
            strategy: Some("canary".into()),
            canary: Some(CanaryConfig {
                listener_arn: String::new(),
                ..canary()
            }),
            ..valid()
        };
        assert_eq!(
            errors(&model),
            vec![(
                "canary.listener_arn".into(),
                "Canary without listener".into()
            )]
        );
    }

    #[test]
    fn canary_weights_must_increase_and_end_at_100() {
        let with_steps = |steps| RolloutModel {
            strategy: Some("canary".into()),
            canary: Some(CanaryConfig {
                steps: Some(steps),
                ..canary()
            }),
            ..valid()
        };
        assert_eq!(
            errors(&with_steps(vec![
                step(10, "1m"),
                step(5, "1m"),
                step(100, "0s")
            ])),
            vec![(
                "canary.steps[1].weight".into(),
                "Canary weights not increasing".into()
            )]
        );
        assert_eq!(
            errors(&with_steps(vec![step(10, "1m"), step(50, "1m")])),
            vec![(
                "canary.steps[1].weight".into(),
                "Canary steps must end at 100".into()
            )]
        );
        assert_eq!(
            errors(&with_steps(vec![step(0, "1m"), step(100, "0s")])),
            vec![(
                "canary.steps[0].weight".into(),
                "Canary weight out of range".into()
            )]
        );
        assert_eq!(paths(&with_steps(vec![])), vec!["canary.steps"]);
    }

    #[test]
    fn missing_target_groups() {
        for target_groups in [None, Some(vec![])] {
            let model = RolloutModel {
                target_group_arns: target_groups,
                ..valid()
            };
            assert_eq!(
                errors(&model),
                vec![("target_group_arns".into(), "Missing target groups".into())]
            );
        }
        let model = RolloutModel {
            strategy: Some("canary".into()),
            canary: Some(CanaryConfig {
                canary_target_group_arn: "arn:blue".into(),
                ..canary()
            }),
            ..valid()
        };
        assert_eq!(paths(&model), vec!["canary.canary_target_group_arn"]);
    }

    #[test]
    fn unparsable_durations() {
        let model = RolloutModel {
            health_timeout: Some("ten minutes".into()),
            timeouts: Some(TimeoutsConfig {
                create: Some("30m".into()),
                update: Some("1 fortnight".into()),
                delete: None,
            }),
            strategy: Some("canary".into()),
            canary: Some(CanaryConfig {
                steps: Some(vec![step(50, "5mins"), step(100, "forever")]),
                ..canary()
            }),
            ..valid()
        };
        assert_eq!(
            errors(&model),
            vec![
                ("canary.steps[1].soak".into(), "Invalid duration".into()),
                ("health_timeout".into(), "Invalid duration".into()),
                ("timeouts.update".into(), "Invalid duration".into()),
            ]
        );
    }

    #[test]
    fn all_errors_are_reported_at_once() {
        let model = RolloutModel {
            name: "web app".into(),
            launch_template_version: "$Latest".into(),
            desired_capacity: 9,
            strategy: Some("yolo".into()),
            min_healthy_percent: Some(150),
            batch_size: Some(0),
            tags: Some(BTreeMap::from([(
                "zdd:generation".to_string(),
                "1".to_string(),
            )])),
            ..valid()
        };
        assert_eq!(
            paths(&model),
            vec![
                "name",
                "launch_template_version",
                "desired_capacity",
                "strategy",
                "min_healthy_percent",
                "batch_size",
                "tags[\"zdd:generation\"]",
            ]
        );
    }

    #[test]
    fn rolling_needs_room_to_move() {
        let model = RolloutModel {
            strategy: Some("rolling".into()),
            max_size: 3,
            ..valid()
        };
        assert_eq!(paths(&model), vec!["max_size"]);
        let model = RolloutModel {
            min_healthy_percent: Some(66),
            ..model
        };
        assert_eq!(paths(&model), Vec::<String>::new());
    }

    #[test]
    fn unknown_values_are_not_judged() {
        let model = RolloutModel {
            target_group_arns: None,
            launch_template_version: String::new(),
            ..valid()
        };
        let unknown = BTreeSet::from([
            "target_group_arns".to_string(),
            "launch_template_version".to_string(),
        ]);
        assert_eq!(validate(&model, &unknown), vec![]);
    }
}
