//! Changing phase: the one way the engine moves, checked against
//! [`crate::transitions::TRANSITIONS`], and the timeline it writes on the way.

use crate::phase::{Event, Phase};
use crate::time::Timestamp;
use crate::transitions::{self, ForbiddenTransition, PhaseKind, Transition};

use super::{PhaseEntered, RETRY_AFTER, Rollout};

impl Rollout {
    pub(super) fn log(&mut self, at: Timestamp, action: &str, detail: String) {
        self.cp.timeline.push(Event {
            at,
            action: action.to_string(),
            detail,
        });
    }

    /// Moves to `phase`, writing it into the timeline with `detail`.
    pub(super) fn goto(&mut self, phase: Phase, now: Timestamp, detail: String) {
        let text = if detail.is_empty() {
            phase.to_string()
        } else {
            format!("{phase}: {detail}")
        };
        let from = self.cp.phase.kind();
        if let Err(forbidden) = self.checked(Some(from), &phase) {
            self.stop_on(forbidden, now);
            return;
        }
        self.log(now, "phase", text.clone());
        self.cp.phase = phase;
        self.cp.phase_started_at = now;
        self.entered(text);
    }

    /// Hands the phase just entered to the next [`super::Decision::phases_entered`].
    fn entered(&mut self, detail: String) {
        let phase = self.phase_tag_value();
        self.phases_entered.push(PhaseEntered { phase, detail });
    }

    /// Says why the rollout began or resumed in the phase [`Rollout::enter_phase`] entered: a
    /// `phase` timeline entry, and the detail of the phase entered.
    pub(super) fn describe_entered(&mut self, now: Timestamp, text: String) {
        self.log(now, "phase", text.clone());
        if let Some(last) = self.phases_entered.last_mut() {
            last.detail = text;
        }
    }

    /// Begins or resumes the rollout in `phase` (an entry of the table: the caller logs why).
    pub(super) fn enter_phase(&mut self, phase: Phase, now: Timestamp) {
        if let Err(forbidden) = self.checked(None, &phase) {
            self.stop_on(forbidden, now);
            return;
        }
        let detail = phase.to_string();
        self.cp.phase = phase;
        self.entered(detail);
    }

    /// Records the transition (for [`Decision::transitions`]) and checks it against the table.
    pub(super) fn checked(
        &mut self,
        from: Option<PhaseKind>,
        to: &Phase,
    ) -> Result<(), ForbiddenTransition> {
        let transition = Transition {
            from,
            to: to.kind(),
        };
        self.transitions.push(transition);
        transitions::check(transition)
    }

    /// A transition the table forbids is a bug in the engine. Panicking would kill the plugin
    /// mid-apply, and carrying on would run a path nobody designed (or tested); rolling back is
    /// itself a transition that may be what is forbidden. So the rollout stops in `Failed`:
    /// terminal, no further command, the reason in the diagnostic, and the next apply resumes
    /// from what AWS shows. The simulator's property test keeps this path unreached.
    pub(super) fn stop_on(&mut self, forbidden: ForbiddenTransition, now: Timestamp) {
        let reason = forbidden.to_string();
        self.log(now, "failure", reason.clone());
        self.cp.failure = Some(reason.clone());
        self.cp.phase = Phase::Failed;
        self.cp.phase_started_at = now;
        self.entered(format!("{}: {reason}", Phase::Failed));
    }

    pub(super) fn fail(&mut self, reason: String, now: Timestamp) {
        if self.cp.old_delete_issued {
            // Nothing left to roll back to: the previous generation is being deleted.
            self.log(now, "failure", reason.clone());
            self.cp.failure = Some(format!(
                "{reason} (after the previous generation's delete was issued: nothing to roll back to)"
            ));
            self.goto(Phase::Failed, now, "past the point of no return".into());
            return;
        }
        self.enter_rollback("failure", reason, now);
    }

    /// Into `RestoringOld`, recording why (`action` is the timeline entry: failure, abort).
    pub(super) fn enter_rollback(&mut self, action: &str, reason: String, now: Timestamp) {
        self.cp.settle_until = self.cp.pending.values().max().map(|t| *t + RETRY_AFTER);
        self.log(now, action, reason.clone());
        self.cp.failure = Some(reason);
        self.cp.health_clock = now;
        self.goto(Phase::RestoringOld, now, String::new());
    }

    pub(super) fn timed_out(&self, now: Timestamp) -> bool {
        now >= self.health_deadline()
    }
}

#[cfg(test)]
mod tests {
    use crate::observation::Observation;
    use crate::phase::{Outcome, Phase};
    use crate::sim::fixtures::{FleetShape, StrategyKind, spec};
    use crate::time::Timestamp;
    use crate::transitions::{PhaseKind, Transition};

    use super::Rollout;

    #[test]
    fn a_transition_the_table_forbids_stops_in_failed_without_panicking() {
        let spec = spec(StrategyKind::BlueGreen, &FleetShape::default(), 7).unwrap();
        let now = Timestamp(1_000);
        let mut rollout = Rollout::start(spec, &Observation::default(), now);
        assert_eq!(rollout.phase(), &Phase::Launching);

        rollout.goto(Phase::Complete, now, "skipping every check".into());

        assert_eq!(rollout.phase(), &Phase::Failed);
        let Some(Outcome::Failed { reason }) = rollout.outcome() else {
            panic!("expected a failed outcome, got {:?}", rollout.outcome());
        };
        assert!(reason.contains("Launching to Complete"), "{reason}");
        assert!(
            rollout.transitions.contains(&Transition {
                from: Some(PhaseKind::Launching),
                to: PhaseKind::Complete
            }),
            "the attempted transition is reported, for the property tests to see"
        );
    }
}
