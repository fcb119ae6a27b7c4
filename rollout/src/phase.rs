//! The rollout as a state machine written down as data.
//!
//! Each [`Phase`] documents what the engine waits for (its success transition), what ends it
//! early (its timeout or gate), and what it does meanwhile. The sequence of phases is the
//! timeline a user sees in `last_rollout.steps`.
//!
//! ```text
//! forward:  Launching → WaitingForHealthy → [CanaryStep 0..n | Rolling] → DetachingOld
//!             → DrainingOld → [Baking] → DeletingOld → Complete
//! backward: (any forward phase before DeletingOld fails) → RestoringOld → DetachingNew
//!             → DrainingNew → DeletingNew → RolledBack        (or Failed if even that is stuck)
//! ```
//!
//! Every allowed edge, the steps back included, is listed once in
//! [`crate::transitions::TRANSITIONS`]; the engine changes phase only through it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Where a rollout is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Create the new generation's ASG (`<name>-g<generation>`, pinned launch template version,
    /// target groups attached, tags `zdd:rollout`/`zdd:generation`).
    /// Success: the ASG is observed. Timeout: `health_timeout` from the start → rollback.
    Launching,
    /// Wait until the load balancer itself reports every new target `healthy` in every target
    /// group of the new generation (not merely `InService` in the ASG). Wakes at registration +
    /// interval × healthy threshold. Success: blue/green → `DetachingOld`, canary → first
    /// `CanaryStep`, first deployment → `Complete`. Timeout: `health_timeout` (plus the longest
    /// launch hook's heartbeat timeout: instances held in `Pending:Wait` are not serving yet)
    /// → rollback with the failing targets and reason codes. The new generation's size follows
    /// the serving group's (it scaled out meanwhile: the new one grows before the detach).
    WaitingForHealthy,
    /// Canary step `index`: the listener sends `weight` % to the new generation's group; then
    /// soak, checking the gates: alarms not in ALARM, new targets healthy, and over the complete
    /// metric periods since the weights were applied (`engine/analysis.rs`) the 5xx ratio, the
    /// p99 latency and their regression against stable. Success: the soak's last period is
    /// complete and judged with at least `min_requests` canary requests → next step, after the
    /// last (100 %) → `DetachingOld`; too little evidence follows `insufficient_evidence`.
    /// Gate failure → rollback (all weight back to the stable group at once).
    CanaryStep { index: usize, weight: u8 },
    /// Rolling: grow the new ASG by up to `batch_size` (within `max_size` instances in total,
    /// draining ones included), wait until healthy, then lower the old group's desired capacity
    /// by as many instances as the capacity floor allows: AWS deregisters them, waits out the
    /// deregistration delay and terminates them. `batch` counts new batches launched. Success:
    /// no old instance left (none draining or in `Terminating:Wait` either) → `DetachingOld`.
    /// Timeout: a batch not healthy within `health_timeout`. No room (the serving group runs
    /// `max_size` instances and the floor lets none leave first): refused before the new group
    /// is created, or rolled back when the serving group scaled itself there mid-update.
    Rolling { batch: u32 },
    /// Detach the old generation from its target groups (only while every new target is
    /// healthy: invariant 2). Success: the old ASG is observed detached → `DrainingOld`.
    DetachingOld,
    /// Wait out the deregistration delay (+ drain margin) of the old targets (invariant 3).
    /// Success: the load balancer lists none of them and the time has passed → `DeletingOld`.
    DrainingOld,
    /// With a `bake` block (blue_green, canary): the old generation stays detached but running
    /// at full size for `bake.duration`, so a rollback needs no instance to boot. The bake
    /// alarms (ALARM fails at once) and, for a canary, its absolute limits on the new
    /// generation's target group (periods from the bake's start) are judged. Success →
    /// `DeletingOld`; failure → `RestoringOld` (the old generation attached again, then the new
    /// one detached, drained and deleted). The extra instance-minutes go in the timeline.
    Baking,
    /// Delete the old ASG (past the point of no return: failures are retried, not rolled back).
    /// With a termination hook it is sized to 0/0/0 first, each instance passes
    /// `Terminating:Wait`, and the empty group is deleted without ForceDelete. Success: the
    /// group is gone, the new one has its final sizes (the configured ones; with
    /// `target_tracking` the desired capacity its policies chose) and its policies act again
    /// → `Complete`.
    DeletingOld,
    /// Terminal: the new generation serves 100 %.
    Complete,
    /// Rollback starts here: tag the new ASG `zdd:rollback`, send all listener weight back to the
    /// stable group, bring the old generation back to the capacity it served (healthy targets),
    /// then resume the scaling processes zdd suspended on it.
    /// Success: old generation healthy at full size → `DetachingNew`. Timeout: `health_timeout`
    /// → `Failed`.
    RestoringOld,
    /// Detach the new generation from its target groups. Success: observed detached.
    DetachingNew,
    /// Wait out the deregistration delay of the new targets. Success: drained.
    DrainingNew,
    /// Delete the new ASG (kept, detached and without its scaling policies, when
    /// `rollback_on_failure = false`), past its termination hook as `DeletingOld` does.
    /// Success: gone.
    DeletingNew,
    /// Terminal: the last good generation serves 100 %; the new one is gone.
    RolledBack,
    /// Terminal: the rollback itself could not finish (e.g. the old generation cannot become
    /// healthy again). Needs a person.
    Failed,
}

impl Phase {
    /// No further steps will change anything.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Phase::Complete | Phase::RolledBack | Phase::Failed)
    }

    /// Part of the backward path.
    pub fn is_rollback(&self) -> bool {
        matches!(
            self,
            Phase::RestoringOld
                | Phase::DetachingNew
                | Phase::DrainingNew
                | Phase::DeletingNew
                | Phase::RolledBack
                | Phase::Failed
        )
    }

    /// Snake-case name (`waiting_for_healthy`).
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Launching => "launching",
            Phase::WaitingForHealthy => "waiting_for_healthy",
            Phase::CanaryStep { .. } => "canary_step",
            Phase::Rolling { .. } => "rolling",
            Phase::DetachingOld => "detaching_old",
            Phase::DrainingOld => "draining_old",
            Phase::Baking => "baking",
            Phase::DeletingOld => "deleting_old",
            Phase::Complete => "complete",
            Phase::RestoringOld => "restoring_old",
            Phase::DetachingNew => "detaching_new",
            Phase::DrainingNew => "draining_new",
            Phase::DeletingNew => "deleting_new",
            Phase::RolledBack => "rolled_back",
            Phase::Failed => "failed",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phase::CanaryStep { index, weight } => {
                write!(f, "canary_step {} ({weight} %)", index + 1)
            }
            Phase::Rolling { batch } => write!(f, "rolling batch {batch}"),
            other => f.write_str(other.name()),
        }
    }
}

/// One line of the rollout timeline (`last_rollout.steps`: at, action, detail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub at: Timestamp,
    /// What happened: `phase`, a command name (`create_asg`, `detach_target_groups`, ...),
    /// `retry`, `failure`, `resume`; the provider's `driver::timeline::ACTIONS` lists every one
    /// (a test compares that list with what simulated rollouts write).
    pub action: String,
    /// Readable detail, e.g. `2 of 3 new targets unhealthy in target group app-blue after 10m
    /// (Target.ResponseCodeMismatch)`.
    pub detail: String,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.at, self.action, self.detail)
    }
}

/// How a finished rollout ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// `generation` serves 100 %.
    Succeeded { generation: u64 },
    /// The rollout failed and was undone: `serving` (if any) serves 100 %.
    RolledBack {
        serving: Option<u64>,
        failed_generation: u64,
        reason: String,
    },
    /// Even the rollback could not finish; a person must look.
    Failed { reason: String },
}
