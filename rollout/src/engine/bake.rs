//! The bake: after 100 % of the traffic moved and the old generation drained, it stays
//! detached but running at full size for `bake.duration`, so that a rollback is an attach
//! (blue/green) or a weight change (canary) with no instance to boot.
//!
//! Judged during the bake: the bake alarms (one in ALARM fails at once) and, for a canary, its
//! absolute limits (`max_5xx_ratio`, `max_p99_latency`) on the new generation's target group
//! over the complete periods from the bake's start (stable has no traffic to compare with).
//! A failure goes into the ordinary rollback, `RestoringOld`, which attaches the old generation
//! again and moves the weights back, and only once it is healthy in the target group detaches,
//! drains and deletes the new one. A passing bake goes on to `DeletingOld`.
//!
//! A bake alarm in `INSUFFICIENT_DATA` at the bake's end: a canary follows
//! `insufficient_evidence` (extend: bake on until the alarm has data, at most `max_soak`
//! longer; fail; pass), a blue/green bake passes with a timeline note (it has no evidence
//! setting, and an alarm without data is what a quiet service shows; failing there would
//! roll back every deploy of a service whose alarm treats missing data as missing).
//!
//! Resume: a checkpoint holds the bake's start (`phase_started_at`); without one the rollout
//! resumes in `DrainingOld` (the old group is detached) and bakes again from then: longer,
//! never shorter.

use std::time::Duration;

use crate::observation::{AlarmState, Observation};
use crate::phase::Phase;
use crate::spec::{BakeSpec, InsufficientEvidence, Strategy, human};
use crate::time::Timestamp;

use super::analysis::{Limits, Names, Verdict, analyse};
use super::commands::Out;
use super::groups::{is_live, needs_detach};
use super::soak::windows;
use super::{Mode, Rollout, gate_poll};

impl Rollout {
    /// `Some(timeline detail)` when the rollout bakes after the drain.
    pub(super) fn bake_detail(&self, obs: &Observation) -> Option<String> {
        let bake = self.bake()?;
        Some(format!(
            "keeping {} running detached for {} ({} instances)",
            self.retiring().join(", "),
            human(bake.duration),
            self.old_instances(obs)
        ))
    }

    pub(super) fn bake(&self) -> Option<&BakeSpec> {
        let forward = self.cp.mode == Mode::Rollout && self.cp.from.is_some() && !self.cp.in_place;
        self.spec.bake.as_ref().filter(|_| forward)
    }

    fn old_instances(&self, obs: &Observation) -> usize {
        self.retiring()
            .iter()
            .filter_map(|name| obs.asg(name))
            .map(|asg| {
                asg.instances
                    .iter()
                    .filter(|i| is_live(i.lifecycle))
                    .count()
            })
            .sum()
    }

    /// When the bake begun at `started` ends: after its duration and, for a canary, once the
    /// metric period that closes it is complete.
    pub(super) fn bake_end(&self, bake: &BakeSpec, started: Timestamp) -> Timestamp {
        let end = started + bake.duration;
        if !matches!(self.spec.strategy, Strategy::Canary(_)) {
            return end;
        }
        let timing = self.spec.metric_timing;
        let (window, _) = windows(&timing, started, bake.duration, bake.duration);
        end.max(timing.complete_at(window.until))
    }

    /// When the bake begun at `started` ends at the latest: its [`Rollout::bake_end`], or, once
    /// extended for evidence (alarms without data), `max_soak` after that.
    pub(super) fn bake_deadline(&self, bake: &BakeSpec, started: Timestamp) -> Timestamp {
        let end = self.bake_end(bake, started);
        match &self.spec.strategy {
            Strategy::Canary(canary) if self.cp.soak_extended == Some(started) => {
                end + canary.max_soak
            }
            _ => end,
        }
    }

    pub(super) fn on_baking(&mut self, obs: &Observation, now: Timestamp, out: &mut Out) {
        let Some(bake) = self.bake().cloned() else {
            self.goto(Phase::DeletingOld, now, "no bake configured".into());
            return;
        };
        let started = self.cp.phase_started_at;
        for name in self.retiring() {
            if obs.asg(&name).is_some_and(needs_detach) {
                self.goto(
                    Phase::DetachingOld,
                    now,
                    format!("{name} is attached to a target group again"),
                );
                return;
            }
        }
        let elapsed = now.since(started);
        let at_bake = format!("the bake ({} of {})", human(elapsed), human(bake.duration));
        if let Some(alarm) = obs
            .alarms
            .iter()
            .find(|a| bake.alarm_names.contains(&a.name) && a.state == AlarmState::Alarm)
        {
            let reason = format!("bake alarm {} went into ALARM during {at_bake}", alarm.name);
            self.end_bake(obs, now, false, &reason);
            self.fail(reason, now);
            return;
        }
        let end = self.bake_end(&bake, started);
        if let Strategy::Canary(canary) = self.spec.strategy.clone() {
            let timing = self.spec.metric_timing;
            let (window, _) = windows(&timing, started, bake.duration, bake.duration);
            out.metrics_since = Some(window.from);
            let judged = window.complete_part(&timing, now);
            let limits = Limits {
                max_5xx_ratio: canary.max_5xx_ratio,
                max_p99_latency: canary.max_p99_latency,
                // Stable serves nothing during a bake: there is nothing to compare with.
                max_regression: None,
                min_requests: 0,
            };
            let new_group = self.new_groups().into_iter().next().unwrap_or_default();
            let periods = obs
                .metric_periods
                .iter()
                .find(|g| g.target_group_arn == new_group);
            let analysis = analyse(&limits, judged, periods, None);
            if let Verdict::Fail(breach) = &analysis.verdict {
                let name = obs
                    .target_group(&new_group)
                    .map_or(new_group.clone(), |g| g.name.clone());
                let names = Names {
                    canary: &name,
                    stable: "(none during a bake)",
                };
                self.log(now, "analysis", analysis.summary(names, &limits));
                let reason = analysis.failure_text(breach, names, &at_bake);
                self.end_bake(obs, now, false, &reason);
                self.fail(reason, now);
                return;
            }
            if now < end {
                let next_period = timing.complete_at(judged.until + timing.period);
                out.wake_at(next_period.min(end));
            }
        }
        if now < end {
            let poll = if bake.alarm_names.is_empty() {
                end
            } else {
                now + gate_poll(bake.duration)
            };
            out.wake_at(poll.min(end));
            return;
        }
        let without_data: Vec<&str> = obs
            .alarms
            .iter()
            .filter(|a| {
                bake.alarm_names.contains(&a.name) && a.state == AlarmState::InsufficientData
            })
            .map(|a| a.name.as_str())
            .collect();
        if !without_data.is_empty() {
            let note = format!(
                "bake alarm {} in INSUFFICIENT_DATA",
                without_data.join(", ")
            );
            match self.spec.strategy.clone() {
                Strategy::Canary(canary) => match canary.insufficient_evidence {
                    InsufficientEvidence::Pass => {
                        self.log(
                            now,
                            "bake",
                            format!("{note}: passed (insufficient_evidence = \"pass\")"),
                        );
                    }
                    InsufficientEvidence::Extend if now < end + canary.max_soak => {
                        if self.cp.soak_extended != Some(started) {
                            self.cp.soak_extended = Some(started);
                            self.log(
                                now,
                                "bake",
                                format!(
                                    "{note}: bake extended for evidence, up to {} (max_soak)",
                                    human(canary.max_soak)
                                ),
                            );
                        }
                        out.wake_at((now + gate_poll(bake.duration)).min(end + canary.max_soak));
                        return;
                    }
                    InsufficientEvidence::Extend | InsufficientEvidence::Fail => {
                        let reason =
                            format!("insufficient evidence: {note} at the end of {at_bake}");
                        self.end_bake(obs, now, false, &reason);
                        self.fail(reason, now);
                        return;
                    }
                },
                _ => self.log(
                    now,
                    "bake",
                    format!("{note}: a blue/green bake passes on alarms without data"),
                ),
            }
        }
        self.end_bake(obs, now, true, "");
        self.goto(
            Phase::DeletingOld,
            now,
            format!("the bake passed after {}", human(elapsed)),
        );
    }

    /// The bake's timeline entry: how it ended and what keeping the old generation cost.
    fn end_bake(&mut self, obs: &Observation, now: Timestamp, passed: bool, reason: &str) {
        let elapsed = now.since(self.cp.phase_started_at);
        let instances = self.old_instances(obs);
        let minutes = instances as f64 * elapsed.as_secs_f64() / 60.0;
        let cost = format!(
            "{} kept {instances} instances running detached for {}: {minutes:.1} extra instance-minutes",
            self.retiring().join(", "),
            human(Duration::from_secs(elapsed.as_secs()))
        );
        let text = if passed {
            format!("bake passed; {cost}")
        } else {
            format!("bake failed ({reason}); {cost}; attaching them again")
        };
        self.log(now, "bake", text);
    }
}
