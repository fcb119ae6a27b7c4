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
    };
    let stamped = |mut model: RolloutModel, serving: Option<u64>| -> RolloutModel {
        model.id = Some(planned.spec.name.clone());
        model.owner_id = Some(owner_id.to_string());
        if let Some(generation) = serving {
            model.generation = i64::try_from(generation).ok();
            model.active_asg_name = Some(spec.asg_name(generation));
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
