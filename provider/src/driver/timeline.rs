//! The rollout timeline: every step logged through `tracing` (hclog JSON via tfplugin, so
//! `TF_LOG=INFO` shows the rollout) and kept for `last_rollout.steps`.

use std::time::SystemTime;

use crate::model::TimelineStep;

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
