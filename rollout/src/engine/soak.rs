//! A canary step's soak: its metric window, when it can be judged, and the verdict.
//!
//! The window is the whole periods from the first one that starts at or after the step's
//! weights were applied up to the last one that starts before `applied + soak` (at least one
//! period). The soak ends when that window is complete and judged: at
//! `complete_at(window end)`, one publish delay after its last period ends, which is never
//! before `applied + soak`. Judging at `applied + soak` instead would read the last period
//! empty or partial: a canary whose errors started in its last minute would pass. Before the
//! end, the complete part of the window is judged at each period's completion, so a breach
//! fails the step as soon as [`super::MIN_REQUESTS_FOR_RATIO`] canary requests show it. With
//! too little evidence at the end, `insufficient_evidence` decides; `extend` keeps growing the
//! window, a period at a time, until it reaches `applied + max_soak`.

use std::time::Duration;

use crate::metrics::MetricTiming;
use crate::observation::{AlarmState, Observation};
use crate::spec::{CanarySpec, InsufficientEvidence, human};
use crate::time::Timestamp;

use super::Rollout;
use super::analysis::{Analysis, Limits, Names, Verdict, Window, analyse, window_text};
use super::commands::Out;

/// What a soak says now.
pub(super) enum Soak {
    /// Not over: look again then (a period completes).
    Until(Timestamp),
    /// The soak is over and its gates passed.
    Passed,
    Failed(String),
}

/// The soak's windows: `[from, until)` for the soak itself, `[from, max_until)` for the
/// longest it may extend to.
pub(super) fn windows(
    timing: &MetricTiming,
    applied: Timestamp,
    soak: Duration,
    max_soak: Duration,
) -> (Window, Window) {
    let from = timing.first_period_from(applied);
    let end_of = |length: Duration| {
        let last_start = timing
            .period_start(applied + length - Duration::from_millis(1))
            .max(from);
        last_start + timing.period
    };
    let until = end_of(soak);
    let max_until = end_of(max_soak.max(soak));
    (
        Window { from, until },
        Window {
            from,
            until: max_until,
        },
    )
}

impl Rollout {
    /// When the soak of a step whose weight landed at `applied` is judged at the latest: once
    /// its window's last period is published, or, extended for evidence, its longest window's
    /// (`max_soak`). The countdown a reader sees ends here.
    pub(super) fn soak_deadline(
        &self,
        canary: &CanarySpec,
        applied: Timestamp,
        soak: Duration,
    ) -> Timestamp {
        let timing = self.spec.metric_timing;
        let (window, longest) = windows(&timing, applied, soak, canary.max_soak);
        let until = if self.cp.soak_extended == Some(applied) {
            longest.until
        } else {
            window.until
        };
        timing.complete_at(until)
    }

    /// Judges the soak of a canary step whose weights were applied at `applied`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn judge_soak(
        &mut self,
        obs: &Observation,
        now: Timestamp,
        canary: &CanarySpec,
        at_step: &str,
        applied: Timestamp,
        soak: Duration,
        out: &mut Out,
    ) -> Soak {
        let timing = self.spec.metric_timing;
        let (soak_window, longest) = windows(&timing, applied, soak, canary.max_soak);
        out.metrics_since = Some(soak_window.from);
        let judged = longest.complete_part(&timing, now);
        let Some((canary_arn, stable_arn)) = self.canary_groups() else {
            return Soak::Passed;
        };
        let limits = Limits {
            max_5xx_ratio: canary.max_5xx_ratio,
            max_p99_latency: canary.max_p99_latency,
            max_regression: canary.max_regression,
            min_requests: canary.min_requests,
        };
        let periods_of = |arn: &str| {
            obs.metric_periods
                .iter()
                .find(|g| g.target_group_arn == arn)
        };
        let analysis = analyse(
            &limits,
            judged,
            periods_of(&canary_arn),
            periods_of(&stable_arn),
        );
        let name_of = |arn: &str| {
            obs.target_group(arn)
                .map_or(arn.to_string(), |g| g.name.clone())
        };
        let (canary_name, stable_name) = (name_of(&canary_arn), name_of(&stable_arn));
        let names = Names {
            canary: &canary_name,
            stable: &stable_name,
        };
        let next_period = timing.complete_at(judged.until + timing.period);
        if let Verdict::Fail(breach) = &analysis.verdict {
            self.log(now, "analysis", analysis.summary(names, &limits));
            return Soak::Failed(analysis.failure_text(breach, names, at_step));
        }
        if judged.until < soak_window.until {
            return Soak::Until(next_period);
        }
        let alarms_without_data: Vec<&str> = obs
            .alarms
            .iter()
            .filter(|a| {
                canary.alarm_names.contains(&a.name) && a.state == AlarmState::InsufficientData
            })
            .map(|a| a.name.as_str())
            .collect();
        let thin = analysis.verdict == Verdict::Insufficient || !alarms_without_data.is_empty();
        if !thin {
            self.log(now, "analysis", analysis.summary(names, &limits));
            return Soak::Passed;
        }
        let evidence = evidence_text(&analysis, canary.min_requests, &alarms_without_data);
        match canary.insufficient_evidence {
            InsufficientEvidence::Pass => {
                self.log(
                    now,
                    "analysis",
                    format!(
                        "{}; passed with {evidence} (insufficient_evidence = \"pass\")",
                        analysis.summary(names, &limits)
                    ),
                );
                Soak::Passed
            }
            InsufficientEvidence::Fail => {
                self.log(now, "analysis", analysis.summary(names, &limits));
                Soak::Failed(format!(
                    "insufficient evidence: {evidence} in target group {canary_name} over {} during {at_step} (insufficient_evidence = \"fail\")",
                    window_text(analysis.window)
                ))
            }
            InsufficientEvidence::Extend if judged.until >= longest.until => {
                self.log(now, "analysis", analysis.summary(names, &limits));
                Soak::Failed(format!(
                    "insufficient evidence: {evidence} in target group {canary_name} after {} (max_soak) over {} during {at_step}",
                    human(canary.max_soak),
                    window_text(analysis.window)
                ))
            }
            InsufficientEvidence::Extend => {
                if self.cp.soak_extended != Some(applied) {
                    self.cp.soak_extended = Some(applied);
                    self.log(
                        now,
                        "analysis",
                        format!(
                            "{}; soak extended for evidence, up to {} (max_soak)",
                            analysis.summary(names, &limits),
                            human(canary.max_soak)
                        ),
                    );
                }
                Soak::Until(next_period)
            }
        }
    }

    /// Canary: (the new generation's target group, the old one's).
    fn canary_groups(&self) -> Option<(String, String)> {
        let (_, weights) = self.canary_weights(100)?;
        let mut groups = weights.into_iter().map(|(arn, _)| arn);
        Some((groups.next()?, groups.next()?))
    }
}

/// `120 of 200 requests` and the alarms that had no data.
fn evidence_text(analysis: &Analysis, min_requests: u64, alarms: &[&str]) -> String {
    let mut parts = Vec::new();
    if analysis.verdict == Verdict::Insufficient {
        parts.push(format!(
            "{} of {min_requests} requests",
            analysis.canary.requests
        ));
    }
    if !alarms.is_empty() {
        parts.push(format!("alarm {} in INSUFFICIENT_DATA", alarms.join(", ")));
    }
    parts.join(" and ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_soak_window_is_whole_periods_after_the_weights_and_at_least_one() {
        let timing = MetricTiming::default();
        let min = 60_000;
        // Applied at 00:01:30 for 5 minutes: periods 00:02 .. 00:06 (the 00:06 one starts
        // before 00:06:30), judged at 00:08:30.
        let applied = Timestamp(90_000);
        let (soak, longest) = windows(
            &timing,
            applied,
            Duration::from_secs(300),
            Duration::from_secs(600),
        );
        assert_eq!(soak.from, Timestamp(2 * min));
        assert_eq!(soak.until, Timestamp(7 * min));
        assert_eq!(timing.complete_at(soak.until), Timestamp(8 * min + 30_000));
        assert_eq!(longest.until, Timestamp(12 * min));
        // Applied on a period's start for exactly 2 periods: those two.
        let (soak, _) = windows(
            &timing,
            Timestamp(2 * min),
            Duration::from_secs(120),
            Duration::from_secs(120),
        );
        assert_eq!(
            (soak.from, soak.until),
            (Timestamp(2 * min), Timestamp(4 * min))
        );
        // A soak shorter than the rest of the period still gets one whole period.
        let (soak, _) = windows(
            &timing,
            Timestamp(90_000),
            Duration::from_secs(10),
            Duration::from_secs(10),
        );
        assert_eq!(
            (soak.from, soak.until),
            (Timestamp(2 * min), Timestamp(3 * min))
        );
    }
}
