//! Aborting a rollout from outside (Terraform's StopProvider, the operation's timeout, AWS
//! refusing the rollout's calls):
//! the reason given and what the engine did with it.
//!
//! See [`crate::Rollout::abort`]: before the point of no return the rollout moves into the
//! explicit rollback phase; past it (the old generation is being deleted) it can only finish
//! forward, and the answer says so.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::phase::Phase;
use crate::time::HumanDuration;

/// Why the caller aborts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum AbortReason {
    /// The user interrupted the apply (Ctrl-C: Terraform's StopProvider).
    Interrupted,
    /// The operation's timeout (`timeouts { create/update }`) passed.
    TimedOut { after: Duration },
    /// AWS kept refusing the rollout's calls (expired credentials, a missing permission): the
    /// caller gave up on going forward. `detail` says what was refused.
    AwsRefused { detail: String },
}

impl fmt::Display for AbortReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AbortReason::Interrupted => f.write_str("interrupted"),
            AbortReason::TimedOut { after } => {
                write!(f, "timed out after {}", HumanDuration(*after))
            }
            AbortReason::AwsRefused { detail } => {
                write!(f, "given up after AWS refused its calls ({detail})")
            }
        }
    }
}

/// What [`crate::Rollout::abort`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "abort", rename_all = "snake_case")]
pub enum Abort {
    /// The rollout entered the rollback (`restoring_old`); keep stepping it: it ends
    /// `RolledBack` with the last good generation serving 100 % (invariant 5).
    RollingBack { from_phase: Phase },
    /// A rollback was already under way (a failure came first); it continues unchanged.
    AlreadyRollingBack,
    /// Past the point of no return: the old generation is being deleted, nothing is left to
    /// roll back to. Keep stepping: the rollout finishes forward and the new generation serves.
    PastPointOfNoReturn { phase: Phase },
    /// Nothing to undo: a teardown, or a scale in place of the generation that already serves
    /// (stopping leaves it serving). Stop stepping; the next apply resumes from AWS.
    NothingToRollBack { phase: Phase },
    /// The rollout had already finished.
    Finished,
}

impl Abort {
    /// Whether the caller should keep stepping the rollout to an outcome.
    pub fn keep_stepping(&self) -> bool {
        matches!(
            self,
            Abort::RollingBack { .. }
                | Abort::AlreadyRollingBack
                | Abort::PastPointOfNoReturn { .. }
        )
    }
}

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Abort::RollingBack { from_phase } => {
                write!(f, "rolling back from phase {from_phase}")
            }
            Abort::AlreadyRollingBack => f.write_str("already rolling back"),
            Abort::PastPointOfNoReturn { phase } => write!(
                f,
                "past the point of no return (phase {phase}: the old generation is being deleted): cannot roll back, finishing the rollout"
            ),
            Abort::NothingToRollBack { phase } => {
                write!(f, "nothing to roll back in phase {phase}: stopping")
            }
            Abort::Finished => f.write_str("the rollout had already finished"),
        }
    }
}
