//! The naive ordering the engine exists to avoid: create the new ASG, and delete the old one
//! as soon as every new instance is `InService` in the ASG (not yet healthy in the load
//! balancer, no drain). The simulator must show it dropping requests.

use std::time::Duration;

use crate::command::Command;
use crate::engine::{Checkpoint, Decision};
use crate::fleet::{TAG_GENERATION, TAG_ROLLOUT};
use crate::observation::{LifecycleState, Observation};
use crate::phase::{Outcome, Phase};
use crate::sim::driver::Controller;
use crate::spec::RolloutSpec;
use crate::time::Timestamp;

/// Replaces generation `from` with `from + 1` the naive way.
#[derive(Debug, Clone)]
pub struct NaiveController {
    spec: RolloutSpec,
    from: u64,
}

impl NaiveController {
    /// A naive replacement of generation `from`.
    pub fn new(spec: RolloutSpec, from: u64) -> Self {
        NaiveController { spec, from }
    }
}

impl Controller for NaiveController {
    fn step(&mut self, observation: &Observation, now: Timestamp) -> Decision {
        let old = self.spec.asg_name(self.from);
        let new = self.spec.asg_name(self.from + 1);
        let mut commands = Vec::new();
        let mut phase = Phase::Launching;
        match observation.asg(&new) {
            None => {
                let mut tags = self.spec.tags.clone();
                tags.insert(TAG_ROLLOUT.into(), self.spec.name.clone());
                tags.insert(TAG_GENERATION.into(), (self.from + 1).to_string());
                commands.push(Command::CreateAsg {
                    name: new,
                    generation: self.from + 1,
                    launch_template: self.spec.launch_template.clone(),
                    subnet_ids: self.spec.subnet_ids.clone(),
                    min_size: self.spec.capacity.min,
                    max_size: self.spec.capacity.max,
                    desired_capacity: self.spec.capacity.desired,
                    target_group_arns: self.spec.target_group_arns(),
                    tags,
                    health_check: self.spec.health_check,
                    lifecycle_hooks: self.spec.lifecycle_hooks.clone(),
                });
            }
            Some(asg) => {
                let in_service = asg
                    .instances
                    .iter()
                    .filter(|i| i.lifecycle == LifecycleState::InService)
                    .count() as u32;
                if in_service >= self.spec.capacity.desired {
                    if observation.asg(&old).is_some() {
                        commands.push(Command::DeleteAsg {
                            asg: old,
                            force: true,
                        });
                        phase = Phase::DeletingOld;
                    } else {
                        phase = Phase::Complete;
                    }
                }
            }
        }
        Decision {
            commands,
            next_wake: now + Duration::from_secs(5),
            outcome: (phase == Phase::Complete).then_some(Outcome::Succeeded {
                generation: self.from + 1,
            }),
            phase,
            events: Vec::new(),
            metrics_since: None,
            transitions: Vec::new(),
            phases_entered: Vec::new(),
        }
    }

    fn command_failed(&mut self, _command: &Command, _now: Timestamp, _error: &str) {}

    fn checkpoint(&self) -> Option<Checkpoint> {
        None
    }
}
