//! The deploy-long lease: who holds a state, since when, and until when.
//!
//! Terraform's own lock has no TTL, so a cancelled CI job leaves it forever. The lease lives beside
//! it with an expiry renewed by a heartbeat; once the heartbeat has stopped for a TTL, another run
//! may take it over (with a conditional write done by the adapter). Pure: `now` is a parameter.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// Who runs zdd-guard: enough for a human to find the job that holds a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// CI job id or URL when known (GitHub Actions, GitLab CI, generic `CI_JOB_URL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_job: Option<String>,
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub command: String,
}

impl Owner {
    /// Builds an owner from an environment lookup (so tests pass a map, not the process env).
    pub fn from_env(
        env: impl Fn(&str) -> Option<String>,
        host: String,
        pid: u32,
        command: String,
    ) -> Owner {
        let non_empty = |name: &str| env(name).filter(|v| !v.is_empty());
        let github = match (
            non_empty("GITHUB_SERVER_URL"),
            non_empty("GITHUB_REPOSITORY"),
            non_empty("GITHUB_RUN_ID"),
        ) {
            (Some(server), Some(repo), Some(run)) => {
                let attempt = non_empty("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".to_string());
                Some(format!(
                    "{server}/{repo}/actions/runs/{run}/attempts/{attempt}"
                ))
            }
            _ => None,
        };
        let ci_job = github
            .or_else(|| non_empty("CI_JOB_URL"))
            .or_else(|| non_empty("CI_JOB_ID").map(|id| format!("job {id}")))
            .or_else(|| non_empty("BUILD_URL"));
        let user = non_empty("GITHUB_ACTOR")
            .or_else(|| non_empty("GITLAB_USER_LOGIN"))
            .or_else(|| non_empty("USER"))
            .or_else(|| non_empty("LOGNAME"))
            .unwrap_or_else(|| "unknown".to_string());
        Owner {
            ci_job,
            user,
            host,
            pid,
            command,
        }
    }

    /// One line for messages: `alice@build-7 pid 42 (https://.../runs/1)`.
    pub fn describe(&self) -> String {
        let mut text = format!("{}@{} pid {}", self.user, self.host, self.pid);
        if let Some(job) = &self.ci_job {
            text.push_str(&format!(" ({job})"));
        }
        text
    }
}

/// A lease record as stored (JSON) in DynamoDB or S3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Random per run; a lease is "ours" only when this matches.
    pub lease_id: String,
    pub owner: Owner,
    #[serde(with = "rfc3339")]
    pub created: SystemTime,
    #[serde(with = "rfc3339")]
    pub heartbeat: SystemTime,
    #[serde(with = "rfc3339")]
    pub expires_at: SystemTime,
    /// The TTL each heartbeat extends `expires_at` by, in milliseconds.
    pub ttl_ms: u64,
}

/// What to do about the lease currently stored (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcquireDecision {
    /// No lease: create one (the write must fail if one appeared meanwhile).
    Create,
    /// The holder's heartbeat stopped for its TTL: replace it (conditional on it being unchanged).
    TakeOver { expired: Box<Lease> },
    /// Someone holds a live lease.
    Held { holder: Box<Lease> },
}

/// A malformed stored lease.
#[derive(Debug, thiserror::Error)]
#[error(
    "lease record {location} is malformed ({message}); inspect it, then remove it by hand if it is not a zdd-guard lease"
)]
pub struct LeaseParseError {
    pub location: String,
    pub message: String,
}

impl Lease {
    pub fn new(lease_id: String, owner: Owner, now: SystemTime, ttl: Duration) -> Lease {
        Lease {
            lease_id,
            owner,
            created: now,
            heartbeat: now,
            expires_at: now + ttl,
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// The same lease with a fresh heartbeat at `now`.
    pub fn renewed(&self, now: SystemTime) -> Lease {
        Lease {
            heartbeat: now,
            expires_at: now + Duration::from_millis(self.ttl_ms),
            ..self.clone()
        }
    }

    pub fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.expires_at
    }

    pub fn to_json(&self) -> String {
        // Serializing plain strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(location: &str, json: &str) -> Result<Lease, LeaseParseError> {
        serde_json::from_str(json).map_err(|e| LeaseParseError {
            location: location.to_string(),
            message: e.to_string(),
        })
    }

    /// `held by alice@ci pid 4 since 2026-...Z (heartbeat 3s ago, expires in 1m 57s)`.
    pub fn describe(&self, now: SystemTime) -> String {
        let ago = age(self.heartbeat, now);
        let expiry = match self.expires_at.duration_since(now) {
            Ok(left) => format!("expires in {}", human(left)),
            Err(_) => format!("expired {} ago", human(age(self.expires_at, now))),
        };
        format!(
            "held by {} since {} (heartbeat {} ago, {expiry})",
            self.owner.describe(),
            humantime::format_rfc3339_seconds(self.created),
            human(ago),
        )
    }
}

/// Decides whether a run can take the lease given what is stored.
pub fn decide(existing: Option<&Lease>, now: SystemTime) -> AcquireDecision {
    match existing {
        None => AcquireDecision::Create,
        Some(lease) if lease.is_expired(now) => AcquireDecision::TakeOver {
            expired: Box::new(lease.clone()),
        },
        Some(lease) => AcquireDecision::Held {
            holder: Box::new(lease.clone()),
        },
    }
}

/// How long after `since` it is at `now` (zero if the clock went back).
pub fn age(since: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(since).unwrap_or_default()
}

/// Whole seconds, humantime style: `1m 57s`.
pub fn human(duration: Duration) -> String {
    humantime::format_duration(Duration::from_secs(duration.as_secs())).to_string()
}

mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_rfc3339_millis(*time).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn owner() -> Owner {
        Owner {
            ci_job: None,
            user: "alice".into(),
            host: "ci-7".into(),
            pid: 42,
            command: "apply".into(),
        }
    }

    #[test]
    fn free_state_is_created() {
        assert_eq!(decide(None, at(0)), AcquireDecision::Create);
    }

    #[test]
    fn live_lease_is_held_and_expired_one_taken_over() {
        let lease = Lease::new("a".into(), owner(), at(0), Duration::from_secs(120));
        assert!(matches!(
            decide(Some(&lease), at(119)),
            AcquireDecision::Held { .. }
        ));
        assert!(matches!(
            decide(Some(&lease), at(120)),
            AcquireDecision::TakeOver { .. }
        ));
    }

    #[test]
    fn heartbeat_extends_the_expiry_but_keeps_created() {
        let lease = Lease::new("a".into(), owner(), at(0), Duration::from_secs(120));
        let renewed = lease.renewed(at(100));
        assert_eq!(renewed.created, at(0));
        assert_eq!(renewed.expires_at, at(220));
        assert!(matches!(
            decide(Some(&renewed), at(200)),
            AcquireDecision::Held { .. }
        ));
    }

    #[test]
    fn round_trips_through_json_and_rejects_garbage() {
        let lease = Lease::new("a".into(), owner(), at(0), Duration::from_millis(1500));
        assert_eq!(Lease::from_json("x", &lease.to_json()).unwrap(), lease);
        let error = Lease::from_json("s3://b/k", "{\"lease_id\":1}")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("s3://b/k") && error.contains("malformed"),
            "{error}"
        );
    }

    #[test]
    fn describe_says_who_and_since_when() {
        let lease = Lease::new("a".into(), owner(), at(0), Duration::from_secs(120));
        let text = lease.describe(at(3));
        assert!(
            text.starts_with("held by alice@ci-7 pid 42 since 2027-01-15T08:00:00Z"),
            "{text}"
        );
        assert!(
            text.contains("heartbeat 3s ago") && text.contains("expires in 1m 57s"),
            "{text}"
        );
        assert!(lease.describe(at(130)).contains("expired 10s ago"));
    }

    #[test]
    fn owner_from_github_actions_env() {
        let env: HashMap<&str, &str> = HashMap::from([
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "acme/app"),
            ("GITHUB_RUN_ID", "99"),
            ("GITHUB_ACTOR", "bob"),
            ("USER", "runner"),
        ]);
        let owner = Owner::from_env(
            |k| env.get(k).map(|v| v.to_string()),
            "h".into(),
            1,
            "c".into(),
        );
        assert_eq!(
            owner.ci_job.as_deref(),
            Some("https://github.com/acme/app/actions/runs/99/attempts/1")
        );
        assert_eq!(owner.user, "bob");
    }

    #[test]
    fn owner_from_gitlab_and_plain_env() {
        let gitlab: HashMap<&str, &str> =
            HashMap::from([("CI_JOB_URL", "https://gitlab/j/5"), ("USER", "u")]);
        let owner = Owner::from_env(
            |k| gitlab.get(k).map(|v| v.to_string()),
            "h".into(),
            1,
            "c".into(),
        );
        assert_eq!(owner.ci_job.as_deref(), Some("https://gitlab/j/5"));
        let owner = Owner::from_env(|_| None, "h".into(), 1, "c".into());
        assert_eq!((owner.ci_job, owner.user.as_str()), (None, "unknown"));
    }
}
