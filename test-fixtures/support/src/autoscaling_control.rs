//! Auto Scaling on the local AWS beyond the AWS API: a scaling policy's action (there are no
//! alarms to trigger one) and the lifecycle-hook events (there are no notifications), so a test
//! can scale a fleet as its policy would and see instances pass through `Terminating:Wait`.
//! See `test-fixtures/localaws/README.md` ("Auto Scaling").

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

use crate::LocalAws;
use crate::control::{request_json, request_json_with_status};

/// What `POST /zdd/autoscaling/<group>/scale` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScaleOutcome {
    /// The desired capacity is now `desired` (the asked one clamped to min..max).
    Applied { desired: u32 },
    /// Not applied: the group's `AlarmNotification` process is suspended.
    Refused { reason: String },
}

/// The transition a lifecycle hook holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleTransition {
    /// `autoscaling:EC2_INSTANCE_LAUNCHING`: `Pending:Wait`.
    Launching,
    /// `autoscaling:EC2_INSTANCE_TERMINATING`: `Terminating:Wait`.
    Terminating,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleEventKind {
    EnteredWait,
    Heartbeat,
    Completed,
    TimedOut,
    /// DeleteAutoScalingGroup with ForceDelete skipped the hook (also recorded as a violation,
    /// rule `hook_skipped_by_force_delete`).
    AbandonedByForceDelete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleResult {
    Continue,
    Abandon,
}

/// One `lifecycle_action` event of the local AWS's event log.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleEvent {
    pub seq: u64,
    /// AWS seconds since the server started or was reset.
    pub aws_t: f64,
    pub instance_id: String,
    pub group: String,
    pub hook: String,
    pub transition: LifecycleTransition,
    pub kind: LifecycleEventKind,
    /// How the action ended; `None` while it waits (`EnteredWait`, `Heartbeat`).
    pub result: Option<LifecycleResult>,
    /// The action's token, for CompleteLifecycleAction by token.
    pub token: String,
    /// The lifecycle state after the event, e.g. `Terminating:Wait`, `Terminating:Proceed`.
    pub lifecycle_state: String,
}

impl LocalAws {
    /// Changes `group`'s desired capacity as a target-tracking policy's alarm would: clamped to
    /// min..max, with the launches, hooks and drains of a SetDesiredCapacity; refused while the
    /// group's AlarmNotification process is suspended. An unknown group (in us-east-1) is an error.
    pub fn scale_as_policy(&self, group: &str, desired: u32) -> anyhow::Result<ScaleOutcome> {
        let path = format!("/zdd/autoscaling/{}/scale", percent_encoded(group));
        let body = serde_json::json!({ "desired_capacity": desired });
        let (status, answer) =
            request_json_with_status(self.endpoint(), "POST", &path, Some(&body))?;
        parse_scale_answer(status, &answer).with_context(|| format!("POST {path}"))
    }

    /// Every lifecycle-hook event so far, oldest first (all groups: filter by `group`, the
    /// shared server serves tests running in parallel).
    pub fn lifecycle_events(&self) -> anyhow::Result<Vec<LifecycleEvent>> {
        let answer = request_json(self.endpoint(), "GET", "/zdd/events", None)?;
        let events = answer["events"]
            .as_array()
            .ok_or_else(|| anyhow!("/zdd/events did not answer a list: {answer}"))?;
        events
            .iter()
            .filter(|event| event["kind"] == "lifecycle_action")
            .map(parse_lifecycle_event)
            .collect()
    }
}

fn parse_scale_answer(status: u16, answer: &Value) -> anyhow::Result<ScaleOutcome> {
    match (status, &answer["applied"]) {
        (200, Value::Bool(true)) => {
            let desired = answer["desired_capacity"]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| anyhow!("no desired_capacity in {answer}"))?;
            Ok(ScaleOutcome::Applied { desired })
        }
        (409, Value::Bool(false)) => Ok(ScaleOutcome::Refused {
            reason: text(answer, "reason")?,
        }),
        _ => bail!("answered HTTP {status}: {answer}"),
    }
}

fn parse_lifecycle_event(event: &Value) -> anyhow::Result<LifecycleEvent> {
    let transition = match event["transition"].as_str() {
        Some("autoscaling:EC2_INSTANCE_LAUNCHING") => LifecycleTransition::Launching,
        Some("autoscaling:EC2_INSTANCE_TERMINATING") => LifecycleTransition::Terminating,
        _ => bail!("lifecycle event with an unknown transition: {event}"),
    };
    let kind = match event["phase"].as_str() {
        Some("entered_wait") => LifecycleEventKind::EnteredWait,
        Some("heartbeat") => LifecycleEventKind::Heartbeat,
        Some("completed") => LifecycleEventKind::Completed,
        Some("timed_out") => LifecycleEventKind::TimedOut,
        Some("abandoned_by_force_delete") => LifecycleEventKind::AbandonedByForceDelete,
        _ => bail!("lifecycle event with an unknown phase: {event}"),
    };
    let result = match &event["result"] {
        Value::Null => None,
        Value::String(result) if result == "CONTINUE" => Some(LifecycleResult::Continue),
        Value::String(result) if result == "ABANDON" => Some(LifecycleResult::Abandon),
        _ => bail!("lifecycle event with an unknown result: {event}"),
    };
    Ok(LifecycleEvent {
        seq: event["seq"]
            .as_u64()
            .ok_or_else(|| anyhow!("no seq in {event}"))?,
        aws_t: event["aws_t"]
            .as_f64()
            .ok_or_else(|| anyhow!("no aws_t in {event}"))?,
        instance_id: text(event, "instance_id")?,
        group: text(event, "group")?,
        hook: text(event, "hook")?,
        transition,
        kind,
        result,
        token: text(event, "token")?,
        lifecycle_state: text(event, "to")?,
    })
}

/// Group names may hold characters a path segment cannot (space, `/`, `%`, ...).
pub(crate) fn percent_encoded(segment: &str) -> String {
    segment
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

fn text(object: &Value, field: &str) -> anyhow::Result<String> {
    object[field]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("no {field} in {object}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_applied_refused_and_anything_else_as_an_error() {
        let applied = serde_json::json!({"applied": true, "desired_capacity": 4});
        let refused =
            serde_json::json!({"applied": false, "reason": "AlarmNotification suspended"});
        assert_eq!(
            parse_scale_answer(200, &applied).unwrap(),
            ScaleOutcome::Applied { desired: 4 }
        );
        assert_eq!(
            parse_scale_answer(409, &refused).unwrap(),
            ScaleOutcome::Refused {
                reason: "AlarmNotification suspended".into()
            }
        );
        let missing = serde_json::json!({"error": "no Auto Scaling group web in us-east-1"});
        let error = parse_scale_answer(404, &missing).unwrap_err().to_string();
        assert!(error.contains("404") && error.contains("web"), "{error}");
    }

    #[test]
    fn encodes_a_group_name_as_one_path_segment() {
        assert_eq!(percent_encoded("web-g1_a.b~"), "web-g1_a.b~");
        assert_eq!(percent_encoded("a b/c%"), "a%20b%2Fc%25");
    }

    #[test]
    fn reads_a_lifecycle_event_and_refuses_an_unknown_phase() {
        let mut event = serde_json::json!({
            "seq": 7, "t": 0.5, "aws_t": 10.0, "kind": "lifecycle_action", "instance_id": "i-1",
            "group": "web-g1", "hook": "drain", "transition": "autoscaling:EC2_INSTANCE_TERMINATING",
            "phase": "completed", "result": "ABANDON", "token": "t-1",
            "from": "Terminating:Wait", "to": "Terminating:Proceed", "reason": null,
        });
        let parsed = parse_lifecycle_event(&event).unwrap();
        assert_eq!(
            (parsed.kind, parsed.transition, parsed.result),
            (
                LifecycleEventKind::Completed,
                LifecycleTransition::Terminating,
                Some(LifecycleResult::Abandon)
            )
        );
        assert_eq!(parsed.lifecycle_state, "Terminating:Proceed");
        event["phase"] = Value::from("renamed");
        assert!(parse_lifecycle_event(&event).is_err());
    }
}
