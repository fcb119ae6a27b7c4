//! A run's end, decided: the state to write, the failure to report (with the state Terraform
//! keeps), and the private state (the engine's checkpoint while a rollout is unfinished). Pure;
//! the resource layer turns the answer into tfplugin's types.

use zdd_rollout::{Event, Outcome as EngineOutcome, RolloutSpec};

use super::duration::format_duration;
use super::rollout::{LastRollout, RolloutModel, TimelineStep};
use crate::driver::timeline::{self, rfc3339};
use crate::driver::{RunResult, Stopped, convert};

/// What a rollout run leaves behind.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The resource's private state from now on: the checkpoint a later apply resumes from,
    /// or empty once the rollout ended.
    pub private_state: Vec<u8>,
    pub result: Result<RolloutModel, RunFailure>,
}

/// A run that did not end with the new generation serving.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFailure {
    pub summary: String,
    pub detail: String,
    /// The state Terraform keeps, if any: the prior configuration, so the next plan proposes
    /// the rollout again. `None`: nothing serves and nothing is kept.
    pub partial_state: Option<RolloutModel>,
}

/// The new state, or the failure carrying the state to keep.
pub fn finish(
    spec: &RolloutSpec,
    prior: Option<RolloutModel>,
    planned: RolloutModel,
    owner_id: &str,
    result: &RunResult,
) -> Finished {
    // One mapping, whose statuses a test compares with the documented ones.
    let last = LastRollout {
        status: timeline::status(&result.outcome).to_string(),
        started_at: rfc3339(result.started_at),
        finished_at: Some(rfc3339(result.finished_at)),
        steps: timeline_steps(&result.timeline),
        samples: Some(result.samples.clone()),
    };
    let stamped = |mut model: RolloutModel, serving: Option<u64>| -> RolloutModel {
        model.id = Some(planned.spec.name.clone());
        model.owner_id = Some(owner_id.to_string());
        if let Some(generation) = serving {
            model.generation = i64::try_from(generation).ok();
            model.active_asg_name = Some(spec.asg_name(generation));
        }
        if let Some(capacity) = model
            .active_asg_name
            .as_deref()
            .and_then(|name| observed_capacity(result, name))
        {
            model.current_capacity = Some(capacity);
        }
        model.last_rollout = Some(last.clone());
        model
    };
    // What the state keeps when the new generation does not serve: the prior configuration.
    let kept =
        |serving: Option<u64>| stamped(prior.clone().unwrap_or_else(|| planned.clone()), serving);
    let checkpoint = || serde_json::to_vec(&result.checkpoint).unwrap_or_default();
    match &result.outcome {
        Ok(EngineOutcome::Succeeded { generation }) => {
            let mut model = stamped(planned.clone(), Some(*generation));
            model.active_launch_template_version =
                Some(planned.spec.launch_template_version.clone());
            Finished {
                private_state: Vec::new(),
                result: Ok(model),
            }
        }
        Ok(EngineOutcome::RolledBack {
            serving,
            failed_generation,
            reason,
        }) => {
            let keeps_a_group = serving.is_some() || !planned.rollback_on_failure_or_default();
            Finished {
                private_state: Vec::new(),
                result: Err(RunFailure {
                    summary: format!(
                        "Rollout of {} to generation {failed_generation} failed and was rolled back",
                        spec.name
                    ),
                    detail: format!(
                        "{reason}\n\n{}\n\n{}",
                        serving.map_or("No generation serves.".to_string(), |g| format!(
                            "Generation {g} keeps serving."
                        )),
                        timeline_text(&result.timeline)
                    ),
                    partial_state: keeps_a_group.then(|| kept(*serving)),
                }),
            }
        }
        Ok(EngineOutcome::Failed { reason }) => Finished {
            private_state: checkpoint(),
            result: Err(RunFailure {
                summary: format!(
                    "Rollout of {} failed and could not be rolled back",
                    spec.name
                ),
                detail: format!(
                    "{reason}\n\nA person must look at the Auto Scaling groups tagged zdd:rollout = {}.\n\n{}",
                    spec.name,
                    timeline_text(&result.timeline)
                ),
                partial_state: Some(kept(None)),
            }),
        },
        Err(stopped) => Finished {
            private_state: checkpoint(),
            result: Err(RunFailure {
                summary: format!("Rollout of {} {}", spec.name, stopped_text(stopped)),
                detail: format!(
                    "The rollout stopped in phase {}. Every step is idempotent and tagged in AWS: the next apply resumes it or rolls it back.\n\n{}",
                    result.checkpoint.phase,
                    timeline_text(&result.timeline)
                ),
                partial_state: Some(kept(None)),
            }),
        },
    }
}

/// A group's desired capacity as the run last observed it.
fn observed_capacity(result: &RunResult, asg: &str) -> Option<i64> {
    result
        .last_observation
        .as_ref()?
        .asgs
        .iter()
        .find(|group| group.name == asg)
        .map(|group| i64::from(group.desired_capacity))
}

/// Why a run stopped early, as the end of a sentence.
pub fn stopped_text(stopped: &Stopped) -> String {
    match stopped {
        Stopped::Cancelled => "interrupted".to_string(),
        Stopped::TimedOut(after) => format!("timed out after {}", format_duration(*after)),
        // The text names what AWS refused; the timeline's `give_up` entry names each group.
        Stopped::GaveUp(error) => format!("stopped: {error}"),
    }
}

fn timeline_steps(events: &[Event]) -> Vec<TimelineStep> {
    events
        .iter()
        .map(|event| TimelineStep {
            at: rfc3339(convert::system_time(event.at)),
            action: event.action.clone(),
            detail: event.detail.clone(),
        })
        .collect()
}

/// The timeline for a diagnostic's detail.
pub fn timeline_text(events: &[Event]) -> String {
    let lines: Vec<String> = timeline_steps(events)
        .into_iter()
        .map(|step| format!("  {} {}: {}", step.at, step.action, step.detail))
        .collect();
    format!("Timeline:\n{}", lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use zdd_rollout::{Observation, Rollout, Timestamp};

    use super::*;
    use crate::driver::RunStats;
    use crate::model::rollout::sample_applied;

    /// The applied sample at generation 4, and the plan rolling it out to version 8.
    fn prior_and_planned() -> (RolloutModel, RolloutModel) {
        let prior = sample_applied();
        let mut planned = prior.clone();
        planned.spec.launch_template_version = "8".into();
        (prior, planned)
    }

    fn run(outcome: Result<EngineOutcome, Stopped>) -> (RolloutSpec, RunResult) {
        let (_, planned) = prior_and_planned();
        let spec = RolloutSpec::validate(&planned.spec).unwrap();
        let rollout = Rollout::start(spec.clone(), &Observation::default(), Timestamp(0));
        let started_at = SystemTime::UNIX_EPOCH;
        let result = RunResult {
            outcome,
            checkpoint: rollout.checkpoint().clone(),
            timeline: Vec::new(),
            started_at,
            finished_at: started_at + Duration::from_secs(60),
            api_calls: 0,
            busy: Duration::ZERO,
            stats: RunStats::default(),
            samples: Vec::new(),
            last_observation: Some(Observation {
                asgs: [(4, 5), (5, 4)]
                    .into_iter()
                    .map(
                        |(generation, desired_capacity)| zdd_rollout::AsgObservation {
                            name: format!("web-g{generation}"),
                            tags: std::collections::BTreeMap::new(),
                            launch_template: None,
                            subnet_ids: Vec::new(),
                            min_size: 2,
                            max_size: 6,
                            desired_capacity,
                            target_group_arns: Vec::new(),
                            instances: Vec::new(),
                            status: None,
                            suspended_processes: Vec::new(),
                            scaling_policies: Vec::new(),
                            health_check: None,
                            lifecycle_hooks: None,
                        },
                    )
                    .collect(),
                ..Observation::default()
            }),
        };
        (spec, result)
    }

    fn finished(outcome: Result<EngineOutcome, Stopped>, planned: RolloutModel) -> Finished {
        let (spec, result) = run(outcome);
        finish(&spec, Some(prior_and_planned().0), planned, "o-1", &result)
    }

    #[test]
    fn a_success_records_the_planned_configuration_at_its_new_generation() {
        let (_, planned) = prior_and_planned();
        let done = finished(Ok(EngineOutcome::Succeeded { generation: 5 }), planned);
        assert!(done.private_state.is_empty());
        let model = done.result.unwrap();
        assert_eq!(model.spec.launch_template_version, "8");
        assert_eq!(model.generation, Some(5));
        assert_eq!(model.active_asg_name.as_deref(), Some("web-g5"));
        assert_eq!(model.active_launch_template_version.as_deref(), Some("8"));
        assert_eq!(model.owner_id.as_deref(), Some("o-1"));
        assert_eq!(model.last_rollout.unwrap().status, "succeeded");
        // What AWS reported for the new serving group, not what the plan configured.
        assert_eq!(model.current_capacity, Some(4));
    }

    #[test]
    fn a_rollback_keeps_the_prior_configuration_serving() {
        let (_, planned) = prior_and_planned();
        let rolled_back = EngineOutcome::RolledBack {
            serving: Some(4),
            failed_generation: 5,
            reason: "new targets unhealthy".into(),
        };
        let done = finished(Ok(rolled_back), planned.clone());
        assert!(done.private_state.is_empty());
        let failure = done.result.unwrap_err();
        assert!(
            failure
                .summary
                .contains("to generation 5 failed and was rolled back")
        );
        assert!(failure.detail.contains("Generation 4 keeps serving."));
        let kept = failure.partial_state.unwrap();
        assert_eq!(kept.spec.launch_template_version, "7");
        assert_eq!(kept.generation, Some(4));
        assert_eq!(kept.current_capacity, Some(5));
        assert_eq!(kept.last_rollout.unwrap().status, "rolled_back");

        // A first rollout rolled back serves nothing: nothing is kept, unless the failed
        // group is (rollback_on_failure = false).
        let nothing_serves = || EngineOutcome::RolledBack {
            serving: None,
            failed_generation: 1,
            reason: "new targets unhealthy".into(),
        };
        let done = finished(Ok(nothing_serves()), planned.clone());
        assert_eq!(done.result.unwrap_err().partial_state, None);
        let mut keeps_failed = planned;
        keeps_failed.spec.rollback_on_failure = Some(false);
        let done = finished(Ok(nothing_serves()), keeps_failed);
        assert!(done.result.unwrap_err().partial_state.is_some());
    }

    #[test]
    fn an_interrupted_run_keeps_its_checkpoint_for_the_next_apply() {
        let (_, planned) = prior_and_planned();
        let done = finished(Err(Stopped::Cancelled), planned);
        assert!(!done.private_state.is_empty());
        let failure = done.result.unwrap_err();
        assert_eq!(failure.summary, "Rollout of web interrupted");
        assert_eq!(
            failure.partial_state.unwrap().spec.launch_template_version,
            "7"
        );
    }
}
