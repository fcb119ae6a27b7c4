//! The rollout timeline: every step logged through `tracing` (hclog JSON via tfplugin, so
//! `TF_LOG=INFO` shows the rollout) and kept for `last_rollout.steps`.

use std::time::SystemTime;

use zdd_rollout::Outcome;

use crate::model::TimelineStep;

use super::Stopped;

/// Every `last_rollout.status` the provider writes, with its meaning (the schema's
/// description is made from this table, so the docs list exactly these).
pub const STATUSES: &[(&str, &str)] = &[
    ("succeeded", "the new generation serves 100 %"),
    (
        "rolled_back",
        "the rollout failed and was undone: the previous generation serves, and the state keeps the previous configuration, so the next plan proposes the rollout again",
    ),
    (
        "failed",
        "even the rollback could not finish: a person must look at the groups tagged `zdd:rollout`",
    ),
    (
        "interrupted",
        "the run stopped before an outcome, interrupted with nothing to undo, timed out, or refused by AWS both forward and back, or a refresh found a rollout or rollback under way (several generations of the fleet, or one tagged `zdd:rollback`; a failed generation kept after its rollback does not count): the next apply resumes or rolls back",
    ),
];

/// The status of a run's end. A refresh that finds several live generations also writes
/// `interrupted`.
pub fn status(outcome: &Result<Outcome, Stopped>) -> &'static str {
    match outcome {
        Ok(Outcome::Succeeded { .. }) => "succeeded",
        Ok(Outcome::RolledBack { .. }) => "rolled_back",
        Ok(Outcome::Failed { .. }) => "failed",
        Err(_) => "interrupted",
    }
}

/// Every `last_rollout.steps[].action`, with its meaning. The engine writes all but
/// `give_up`, which the driver adds ([`super::GIVE_UP_ACTION`]); `rollout/tests/
/// timeline_actions.rs` checks this list against what the engine emits, through the docs.
pub const ACTIONS: &[(&str, &str)] = &[
    (
        "phase",
        "the rollout entered a phase, named in the detail with why",
    ),
    (
        "resume",
        "an apply picked up a rollout an earlier one left unfinished",
    ),
    (
        "create_asg",
        "asked AWS to create the new generation's Auto Scaling group",
    ),
    (
        "set_capacity",
        "asked AWS to set a group's min, max and desired capacity",
    ),
    (
        "attach_target_groups",
        "asked AWS to attach a group to target groups",
    ),
    (
        "detach_target_groups",
        "asked AWS to detach a group from target groups",
    ),
    (
        "set_listener_weights",
        "asked AWS to set the canary listener's weights",
    ),
    (
        "tag_asg",
        "asked AWS to tag a group with a mark a later apply must see: a rollback, the processes zdd suspended, the capacity served",
    ),
    (
        "delete_asg",
        "asked AWS to delete a group (an emptied one without force when the fleet has a termination hook)",
    ),
    (
        "put_scaling_policy",
        "asked AWS to put a target-tracking policy on a group",
    ),
    (
        "delete_scaling_policy",
        "asked AWS to delete a scaling policy of a group",
    ),
    (
        "suspend_processes",
        "asked AWS to stop a group scaling itself (its policies, scheduled actions and rebalancing)",
    ),
    (
        "resume_processes",
        "asked AWS to let a group scale itself again",
    ),
    (
        "set_health_check",
        "asked AWS to set a live group's health check type, grace period and warm-up",
    ),
    (
        "put_lifecycle_hook",
        "asked AWS to put a lifecycle hook on a live group",
    ),
    (
        "delete_lifecycle_hook",
        "asked AWS to delete a lifecycle hook of a live group",
    ),
    (
        "lifecycle_hook",
        "instances are held in Pending:Wait or Terminating:Wait by a lifecycle hook",
    ),
    (
        "drain",
        "rolling: old instances leave by scale-in, and AWS drains them before it terminates them",
    ),
    (
        "retry",
        "a command whose effect was not seen in time was issued again",
    ),
    ("command_failed", "AWS answered a command with an error"),
    (
        "analysis",
        "a canary soak was judged: the canary's and the stable group's requests, 5xx ratio and p99 over the window, pass or fail, or the soak extended for evidence",
    ),
    (
        "bake",
        "the bake after the switch: extended, passed on alarms without data, or ended, with the extra instance-minutes the old generation ran",
    ),
    (
        "failure",
        "a gate or a timeout failed the rollout, as the detail says",
    ),
    (
        "abort",
        "the rollout was stopped from outside by an interrupt, a timeout or AWS refusals",
    ),
    (
        "give_up",
        "AWS kept refusing the rollout's calls: the driver rolled back, or stopped and named each group's state",
    ),
];

/// `` `a` (meaning), `b` (meaning) `` for a schema description.
pub fn describe_values(values: &[(&str, &str)]) -> String {
    let parts: Vec<String> = values
        .iter()
        .map(|(value, meaning)| format!("`{value}` ({meaning})"))
        .collect();
    parts.join(", ")
}

/// Wall-clock timestamps in RFC 3339 (UTC, seconds).
pub fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    rollout: String,
    steps: Vec<TimelineStep>,
}

impl Timeline {
    pub fn new(rollout: &str) -> Timeline {
        Timeline {
            rollout: rollout.to_string(),
            steps: Vec::new(),
        }
    }

    /// Records a step now.
    pub fn record(&mut self, action: &str, detail: impl Into<String>) {
        self.record_at(SystemTime::now(), action, detail);
    }

    pub fn record_at(&mut self, at: SystemTime, action: &str, detail: impl Into<String>) {
        let detail = detail.into();
        tracing::info!(rollout = %self.rollout, action, "{action}: {detail}");
        self.steps.push(TimelineStep {
            at: rfc3339(at),
            action: action.to_string(),
            detail,
        });
    }

    pub fn steps(&self) -> &[TimelineStep] {
        &self.steps
    }

    pub fn into_steps(self) -> Vec<TimelineStep> {
        self.steps
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_documented_statuses_are_exactly_those_a_run_or_a_refresh_writes() {
        let ends = [
            Ok(Outcome::Succeeded { generation: 2 }),
            Ok(Outcome::RolledBack {
                serving: Some(1),
                failed_generation: 2,
                reason: String::new(),
            }),
            Ok(Outcome::Failed {
                reason: String::new(),
            }),
            Err(Stopped::Cancelled),
            Err(Stopped::TimedOut(Duration::from_secs(60))),
            Err(Stopped::GaveUp(String::new())),
        ];
        let mut written: BTreeSet<&str> = ends.iter().map(status).collect();
        // model/refresh.rs: a rollout or rollback under way reads as an interrupted rollout.
        written.insert("interrupted");
        let documented: BTreeSet<&str> = STATUSES.iter().map(|(status, _)| *status).collect();
        assert_eq!(written, documented);
    }

    /// `zdd-events`' name lists (read by `zdd-guard report`) are the documented ones.
    #[test]
    fn the_shared_status_and_action_names_are_the_documented_ones() {
        let statuses: BTreeSet<&str> = STATUSES.iter().map(|(status, _)| *status).collect();
        let shared: BTreeSet<&str> = zdd_events::ROLLOUT_STATUSES.iter().copied().collect();
        assert_eq!(shared, statuses);
        for action in zdd_events::FAILURE_ACTIONS
            .iter()
            .chain(zdd_events::MARKED_ACTIONS)
        {
            assert!(
                ACTIONS.iter().any(|(documented, _)| documented == action),
                "{action} is not in ACTIONS"
            );
        }
    }

    #[test]
    fn the_drivers_own_action_is_documented() {
        assert!(
            ACTIONS
                .iter()
                .any(|(action, _)| *action == super::super::GIVE_UP_ACTION)
        );
    }

    #[test]
    fn action_meanings_carry_no_backquotes_that_would_read_as_actions() {
        // rollout/tests/timeline_actions.rs reads the actions back from the docs as the
        // backquoted words of the description.
        for (action, meaning) in ACTIONS {
            assert!(!meaning.contains('`'), "{action}: {meaning}");
        }
    }
}
