//! The state machine's edges as data: which phase may follow which.
//!
//! Every phase change of the engine goes through [`check`] (`goto` and `enter_phase` in
//! `engine/transition.rs` are the only code that sets a phase), and the simulator's property
//! tests (`tests/invariants.rs`, `tests/abort.rs`) check every transition of thousands of
//! rollouts, rollbacks, kills and resumes against this table.

use serde::{Deserialize, Serialize};

use crate::phase::Phase;

/// A [`Phase`] without its data (canary step index, rolling batch): what the table speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseKind {
    Launching,
    WaitingForHealthy,
    CanaryStep,
    Rolling,
    DetachingOld,
    DrainingOld,
    Baking,
    DeletingOld,
    Complete,
    RestoringOld,
    DetachingNew,
    DrainingNew,
    DeletingNew,
    RolledBack,
    Failed,
}

use PhaseKind::{
    Baking, CanaryStep, Complete, DeletingNew, DeletingOld, DetachingNew, DetachingOld,
    DrainingNew, DrainingOld, Failed, Launching, RestoringOld, RolledBack, Rolling,
    WaitingForHealthy,
};

/// The phases a rollout may begin or resume in: `Launching` (start), `DetachingOld`
/// (teardown), and the ones resume derives from what AWS shows (an interrupted rollout
/// continues where its attachments and weights say; a generation tagged `zdd:rollback`, or one
/// the configuration no longer asks for, is rolled back).
pub const ENTRIES: &[PhaseKind] = &[
    Launching,
    DetachingOld,
    WaitingForHealthy,
    CanaryStep,
    Rolling,
    DrainingOld,
    RestoringOld,
];

/// Each phase with the phases allowed to follow it.
///
/// Forward phases go back a step when a look shows their precondition gone (the new group not
/// observed → `Launching`, a new target unhealthy again → `WaitingForHealthy`/`Rolling`, an old
/// group attached again → `DetachingOld`); every forward phase before the point of no return
/// (`DeletingOld`) can fail or be aborted into `RestoringOld`; a failure after the old
/// generation's delete was issued has nothing to roll back to and ends in `Failed`.
#[rustfmt::skip]
pub const TRANSITIONS: &[(PhaseKind, &[PhaseKind])] = &[
    (Launching,         &[WaitingForHealthy, Rolling, DetachingOld, RestoringOld, Failed]),
    (WaitingForHealthy, &[Launching, Rolling, CanaryStep, DetachingOld, RestoringOld, Failed]),
    (CanaryStep,        &[CanaryStep, DetachingOld, RestoringOld, Failed]),
    (Rolling,           &[Rolling, Launching, WaitingForHealthy, DetachingOld, RestoringOld, Failed]),
    (DetachingOld,      &[Launching, WaitingForHealthy, Rolling, CanaryStep, DrainingOld, RestoringOld]),
    (DrainingOld,       &[DetachingOld, Baking, DeletingOld, RestoringOld]),
    (Baking,            &[DetachingOld, DeletingOld, RestoringOld]),
    (DeletingOld,       &[Launching, DetachingOld, Complete]),
    (Complete,          &[]),
    (RestoringOld,      &[DetachingNew, RolledBack, Failed]),
    (DetachingNew,      &[DrainingNew]),
    (DrainingNew,       &[DetachingNew, DeletingNew]),
    (DeletingNew,       &[DetachingNew, RolledBack]),
    (RolledBack,        &[]),
    (Failed,            &[]),
];

impl PhaseKind {
    /// Every phase kind, in timeline order.
    pub const ALL: [PhaseKind; 15] = [
        Launching,
        WaitingForHealthy,
        CanaryStep,
        Rolling,
        DetachingOld,
        DrainingOld,
        Baking,
        DeletingOld,
        Complete,
        RestoringOld,
        DetachingNew,
        DrainingNew,
        DeletingNew,
        RolledBack,
        Failed,
    ];

    /// The phases allowed to follow this one ([`TRANSITIONS`]).
    pub fn successors(self) -> &'static [PhaseKind] {
        TRANSITIONS
            .iter()
            .find(|(from, _)| *from == self)
            .map_or(&[], |(_, to)| *to)
    }
}

impl Phase {
    /// This phase without its data.
    pub fn kind(&self) -> PhaseKind {
        match self {
            Phase::Launching => Launching,
            Phase::WaitingForHealthy => WaitingForHealthy,
            Phase::CanaryStep { .. } => CanaryStep,
            Phase::Rolling { .. } => Rolling,
            Phase::DetachingOld => DetachingOld,
            Phase::DrainingOld => DrainingOld,
            Phase::Baking => Baking,
            Phase::DeletingOld => DeletingOld,
            Phase::Complete => Complete,
            Phase::RestoringOld => RestoringOld,
            Phase::DetachingNew => DetachingNew,
            Phase::DrainingNew => DrainingNew,
            Phase::DeletingNew => DeletingNew,
            Phase::RolledBack => RolledBack,
            Phase::Failed => Failed,
        }
    }
}

/// One phase change: `from` is `None` when a rollout begins or resumes in `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub from: Option<PhaseKind>,
    pub to: PhaseKind,
}

/// A phase change the table does not allow: a bug in the engine, never a user's or AWS's doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the engine tried to go from {} to {:?}, which its state machine does not allow", .0.from.map_or("the start".to_string(), |from| format!("{from:?}")), .0.to)]
pub struct ForbiddenTransition(pub Transition);

/// Whether the table allows `transition`.
pub fn check(transition: Transition) -> Result<(), ForbiddenTransition> {
    let allowed = match transition.from {
        None => ENTRIES.contains(&transition.to),
        Some(from) => from.successors().contains(&transition.to),
    };
    if allowed {
        Ok(())
    } else {
        Err(ForbiddenTransition(transition))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_table_lists_every_phase_once() {
        let listed: Vec<PhaseKind> = TRANSITIONS.iter().map(|(from, _)| *from).collect();
        assert_eq!(listed, PhaseKind::ALL.to_vec());
    }

    #[test]
    fn every_phase_is_reachable_from_an_entry() {
        let mut reached: BTreeSet<PhaseKind> = ENTRIES.iter().copied().collect();
        let mut frontier: Vec<PhaseKind> = ENTRIES.to_vec();
        while let Some(phase) = frontier.pop() {
            for next in phase.successors() {
                if reached.insert(*next) {
                    frontier.push(*next);
                }
            }
        }
        let unreachable: Vec<_> = PhaseKind::ALL
            .iter()
            .filter(|phase| !reached.contains(phase))
            .collect();
        assert!(unreachable.is_empty(), "unreachable: {unreachable:?}");
    }

    #[test]
    fn only_terminal_phases_have_no_successor() {
        for phase in PhaseKind::ALL {
            let terminal = matches!(phase, Complete | RolledBack | Failed);
            assert_eq!(phase.successors().is_empty(), terminal, "{phase:?}");
        }
    }

    #[test]
    fn every_non_terminal_phase_leads_to_a_terminal_one() {
        for start in PhaseKind::ALL {
            let mut reached = BTreeSet::from([start]);
            let mut frontier = vec![start];
            while let Some(phase) = frontier.pop() {
                for next in phase.successors() {
                    if reached.insert(*next) {
                        frontier.push(*next);
                    }
                }
            }
            assert!(
                reached
                    .iter()
                    .any(|phase| matches!(phase, Complete | RolledBack | Failed)),
                "{start:?} never ends"
            );
        }
    }

    #[test]
    fn the_point_of_no_return_has_no_way_back_to_a_rollback() {
        assert!(!DeletingOld.successors().contains(&RestoringOld));
        assert!(
            check(Transition {
                from: Some(DeletingOld),
                to: RestoringOld
            })
            .is_err()
        );
        assert!(
            check(Transition {
                from: None,
                to: Complete
            })
            .is_err()
        );
    }
}
