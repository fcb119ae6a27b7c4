//! The rule catalogue (data) and the rule families (code), one module per family.
//!
//! Each rule's identity, default severity, title and fix live in [`RULES`]; the family modules
//! only decide *where* a rule fires and *what* the specific message says. Output formats, the
//! docs pages and the fixture tests all iterate over this table.

mod autoscaling;
mod backend;
mod rollout;
mod target_group;

use super::calls::{self, Call};
use super::finding::{Finding, Severity};
use super::model::ModuleView;

/// Static description of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    /// Severity of most findings; ZDD014 is an error on `zdd_rollout`, a warning on ASGs.
    pub severity: Severity,
    pub title: &'static str,
    /// What goes wrong in production, one sentence.
    pub why: &'static str,
    /// How to fix it, one sentence.
    pub fix: &'static str,
}

/// Where the rule pages are published: the `check/rules/` directory of the provider's repository
/// on GitHub (the registry address `zdd/zdd` is published from `zdd/terraform-provider-zdd`), so
/// the links printed by `check` work from any repository. `--rules-url` / `ZDD_RULES_URL`
/// replace it, e.g. with a fork or an internal mirror.
pub const DEFAULT_RULES_URL: &str =
    "https://github.com/zdd/terraform-provider-zdd/blob/main/check/rules";

/// Where the rule pages live in this repository, relative to its root (tests and the docs).
pub const RULES_DIR: &str = "check/rules";

impl Rule {
    /// The rule's page under `base` (a URL or a path; a trailing `/` is allowed).
    pub fn docs_url(&self, base: &str) -> String {
        format!("{}/{}.md", base.trim_end_matches('/'), self.id)
    }
}

/// Reported when a `# zdd:ignore` comment is malformed: no reason, or an unknown rule id.
pub const INVALID_SUPPRESSION: &str = "ZDD000";

/// Every rule, in id order.
pub const RULES: &[Rule] = &[
    Rule {
        id: INVALID_SUPPRESSION,
        severity: Severity::Error,
        title: "Invalid zdd:ignore comment",
        why: "A suppression without a reason hides a downtime risk without telling the next reader why it is safe.",
        fix: "Write `# zdd:ignore ZDDxxx <reason>` with a known rule id and a reason on the line before the block.",
    },
    Rule {
        id: "ZDD001",
        severity: Severity::Error,
        title: "State backend without locking",
        why: "Two applies can run at once against the same state and overwrite each other's changes.",
        fix: "Use an S3 backend with `use_lockfile = true` (Terraform >= 1.10) or `dynamodb_table`.",
    },
    Rule {
        id: "ZDD002",
        severity: Severity::Warning,
        title: "State bucket without encryption",
        why: "State holds secrets in plain text; without `encrypt = true` they are stored unencrypted by Terraform's request.",
        fix: "Set `encrypt = true` in the S3 backend block.",
    },
    Rule {
        id: "ZDD010",
        severity: Severity::Error,
        title: "Auto Scaling group replaced destroy-first",
        why: "Terraform destroys the old group before creating the new one: every instance is gone before a replacement exists.",
        fix: "Add `lifecycle { create_before_destroy = true }` to the group.",
    },
    Rule {
        id: "ZDD011",
        severity: Severity::Error,
        title: "Auto Scaling group with a fixed name",
        why: "The replacement group cannot be created while the old one still holds the name, so create-before-destroy fails or falls back to destroy-first.",
        fix: "Use `name_prefix` instead of `name`, or derive the name from something that changes with each replacement.",
    },
    Rule {
        id: "ZDD012",
        severity: Severity::Warning,
        title: "Separate target group attachment for a replaceable group",
        why: "When the group is replaced, the new group starts outside the load balancer and the attachment is recreated only afterwards: a window with no registered targets.",
        fix: "Set `target_group_arns` on the `aws_autoscaling_group` itself and remove the `aws_autoscaling_attachment`.",
    },
    Rule {
        id: "ZDD013",
        severity: Severity::Warning,
        title: "Group behind a load balancer without an ELB capacity wait",
        why: "Terraform considers the new group ready when instances are InService, not when the load balancer reports them healthy, and removes the old group too early.",
        fix: "Set `wait_for_elb_capacity` (or `min_elb_capacity`) to the number of healthy targets the group must reach.",
    },
    Rule {
        id: "ZDD014",
        severity: Severity::Error,
        title: "Launch template version `$Latest`",
        why: "The version changes outside Terraform, so a rollout is not reviewable and a rollback has no fixed version to return to.",
        fix: "Pin a version number, e.g. `aws_launch_template.web.latest_version`.",
    },
    Rule {
        id: "ZDD015",
        severity: Severity::Error,
        title: "Scaled group whose desired capacity Terraform resets",
        why: "Scaling policies move the group's capacity, but Terraform still manages `desired_capacity`: every apply sets it back to the configured value, scaling a fleet in at peak.",
        fix: "Add `lifecycle { ignore_changes = [desired_capacity] }` to the group (or remove `desired_capacity`).",
    },
    Rule {
        id: "ZDD016",
        severity: Severity::Warning,
        title: "Group behind a load balancer without ELB health checks",
        why: "With `health_check_type = \"EC2\"` (AWS's default) Auto Scaling ignores the load balancer's health checks: instances it marks unhealthy keep their place in the group and are never replaced.",
        fix: "Set `health_check_type = \"ELB\"` (and a `health_check_grace_period` longer than the instances' boot time).",
    },
    Rule {
        id: "ZDD020",
        severity: Severity::Warning,
        title: "Target group health check that lies",
        why: "A missing or shallow health check (`/`, any status) reports broken instances healthy, so traffic shifts to them.",
        fix: "Add a `health_check` block with a dedicated `path` (e.g. `/healthz`) and an explicit `matcher` (e.g. \"200\").",
    },
    Rule {
        id: "ZDD021",
        severity: Severity::Warning,
        title: "Deregistration delay of zero",
        why: "In-flight requests are cut off the moment a target is deregistered.",
        fix: "Set `deregistration_delay` to at least your longest request time (e.g. 30).",
    },
    Rule {
        id: "ZDD022",
        severity: Severity::Error,
        title: "Health check slower than the capacity wait",
        why: "A new target needs healthy_threshold x interval to turn healthy; if that exceeds the group's `wait_for_capacity_timeout`, every apply that replaces instances times out.",
        fix: "Lower `healthy_threshold` or `interval`, or raise the group's `wait_for_capacity_timeout`.",
    },
    Rule {
        id: "ZDD030",
        severity: Severity::Error,
        title: "Canary steps that cannot succeed safely",
        why: "Steps that do not increase or do not end at 100 % are refused by the provider at plan; a soak shorter than two health-check intervals shifts more traffic before a failing canary can be seen.",
        fix: "Use strictly increasing weights ending at 100 and a soak of at least two health-check intervals per step.",
    },
    Rule {
        id: "ZDD031",
        severity: Severity::Warning,
        title: "Rollback on failure disabled",
        why: "A failed rollout still returns all traffic to the last good generation, but the failed generation's Auto Scaling group and instances are kept (detached from the load balancer, tagged `zdd:rolled-back`) and keep running, at full size and cost, until the next successful apply deletes them.",
        fix: "Remove `rollback_on_failure = false` (the default is true); to inspect failed instances, keep logs or snapshots instead.",
    },
];

/// The rule with `id`, if any.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.id == id)
}

/// A rule family: looks at one module and appends its findings.
type Family = fn(&ModuleView<'_>, &mut Vec<Finding>);

/// A rule family that follows references between modules: looks at every loaded module and the
/// calls between them at once.
type LinkedFamily = for<'v, 'a> fn(&'v [ModuleView<'a>], &'v [Call<'a>], &mut Vec<Finding>);

/// Every family, run in this order over every module.
const FAMILIES: &[Family] = &[
    backend::check,
    autoscaling::check,
    target_group::check,
    rollout::check,
];

/// Every linked family, run in this order after [`FAMILIES`].
const LINKED_FAMILIES: &[LinkedFamily] = &[autoscaling::check_linked];

/// Runs every rule family over every module, then the linked families over all of them.
pub fn check_modules(views: &[ModuleView<'_>]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for view in views {
        for family in FAMILIES {
            family(view, &mut findings);
        }
    }
    let calls = calls::resolve(views);
    for family in LINKED_FAMILIES {
        family(views, &calls, &mut findings);
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_sorted_and_documented_with_a_fix() {
        let ids: Vec<&str> = RULES.iter().map(|rule| rule.id).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(ids, sorted);
        assert!(
            RULES
                .iter()
                .all(|rule| !rule.fix.is_empty() && !rule.why.is_empty())
        );
    }

    #[test]
    fn docs_url_joins_the_base_with_or_without_a_trailing_slash() {
        let rule = RULES[1];
        assert_eq!(
            rule.docs_url("https://example.com/rules/"),
            "https://example.com/rules/ZDD001.md"
        );
        assert_eq!(
            rule.docs_url(DEFAULT_RULES_URL),
            format!("{DEFAULT_RULES_URL}/ZDD001.md")
        );
        assert!(
            DEFAULT_RULES_URL.starts_with("https://") && DEFAULT_RULES_URL.ends_with(RULES_DIR)
        );
    }
}
