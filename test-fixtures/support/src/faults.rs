//! Typed fault rules for the local AWS (`/zdd/faults`; the reference is the "Faults" section of
//! `test-fixtures/localaws/README.md`): throttling, 5xx, latency, dropped connections, lost
//! responses and stale reads, each with a probability and a seed so a failing run replays, plus
//! the hostile preset and the per-call statistics the suites publish.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, anyhow};
use serde_json::{Map, Value, json};

use crate::control::request_json;
use crate::local_aws::LocalAws;

/// The services the hostile preset covers by default (SigV4 signing names).
pub const HOSTILE_SERVICES: [&str; 6] = [
    "autoscaling",
    "elasticloadbalancing",
    "ec2",
    "monitoring",
    "s3",
    "dynamodb",
];

/// One fault rule, built as `FaultRule::throttle("autoscaling").probability(0.2).seed(7)`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    fields: Map<String, Value>,
}

impl FaultRule {
    fn of_kind(kind: &str, service: &str) -> FaultRule {
        let mut fields = Map::new();
        fields.insert("kind".into(), kind.into());
        fields.insert("service".into(), service.into());
        FaultRule { fields }
    }

    /// The service's own throttling error: `Throttling` (query services, HTTP 400),
    /// `RequestLimitExceeded` (EC2, 503), `SlowDown` (S3, 503), `ThrottlingException` (JSON, 400).
    pub fn throttle(service: &str) -> FaultRule {
        FaultRule::of_kind("throttle", service)
    }

    /// The service's own internal error (HTTP 500): `InternalFailure`, EC2's and S3's
    /// `InternalError`, DynamoDB's `InternalServerError`; see [`FaultRule::error_code`].
    pub fn server_error(service: &str) -> FaultRule {
        FaultRule::of_kind("server_error", service)
    }

    /// Any error code with any 4xx/5xx status (e.g. `AccessDenied`, 403).
    pub fn error(service: &str, error_code: &str, http_status: u16) -> FaultRule {
        FaultRule::of_kind("error", service)
            .field("error_code", error_code)
            .field("http_status", http_status)
    }

    /// Waits this long (wall-clock, not scaled) before the call is served.
    pub fn latency(service: &str, latency: Duration) -> FaultRule {
        FaultRule::of_kind("latency", service).field("latency_ms", millis(latency))
    }

    /// Closes the connection without answering: the SDK sees a dispatch (I/O) failure.
    pub fn drop_connection(service: &str) -> FaultRule {
        FaultRule::of_kind("drop", service)
    }

    /// Serves the call (a write takes effect), then closes the connection before answering:
    /// the caller sees the same dispatch failure as [`FaultRule::drop_connection`] and
    /// cannot know that its write was applied.
    pub fn lost_response(service: &str) -> FaultRule {
        FaultRule::of_kind("lost_response", service)
    }

    /// After a write, the service's reads serve the previous view for `stale_read_max` of AWS
    /// time (× the server's time scale), and a group created meanwhile is not listed. Reads AWS
    /// always answers fresh are never stale: S3 (a rule for `s3` is refused) and DynamoDB reads
    /// with `ConsistentRead`.
    pub fn stale_reads(service: &str, stale_read_max: Duration) -> FaultRule {
        FaultRule::of_kind("stale_read", service)
            .field("stale_read_max", stale_read_max.as_secs_f64())
    }

    /// AWS's account-level API throttling: a token bucket of `burst` calls refilled at
    /// `per_second` calls a wall-clock second, one per service and action the rule matches
    /// (or one for all with [`FaultRule::shared`]); a call finding it empty gets the service's
    /// throttling error and counts as a `rate_limit` fault. Scope it with
    /// [`FaultRule::access_key_id`] on a shared local AWS.
    pub fn rate_limit(service: &str, per_second: f64, burst: u32) -> FaultRule {
        FaultRule::of_kind("rate_limit", service)
            .field("per_second", per_second)
            .field("burst", burst)
    }

    /// A rate limit's one bucket for every call it matches (ELBv2's `Describe*` share one).
    pub fn shared(self) -> FaultRule {
        self.field("shared", true)
    }

    /// The rate limits of an AWS account and region for the services the provider calls, at
    /// AWS's published rates (×`factor`: 1.0 is AWS's), one bucket each:
    ///
    /// - ELBv2 `Describe*`: one shared bucket, 40 tokens refilled at 10/s (ELB user guide,
    ///   "Request throttling for the ELB API");
    /// - CloudWatch `DescribeAlarms` 9/s and `GetMetricData` 50/s (CloudWatch service quotas;
    ///   AWS publishes a rate, not a burst: the burst here is one second's worth);
    /// - Auto Scaling publishes no figures, only that an account's calls share one bucket:
    ///   all its actions share one here, at ELBv2's published shape (10/s, burst 40).
    pub fn aws_rate_limits(factor: f64) -> Vec<FaultRule> {
        let burst = |calls: f64| (calls * factor).ceil().max(1.0) as u32;
        vec![
            FaultRule::rate_limit("elasticloadbalancing", 10.0 * factor, burst(40.0))
                .action("Describe*")
                .shared(),
            FaultRule::rate_limit("autoscaling", 10.0 * factor, burst(40.0)).shared(),
            FaultRule::rate_limit("monitoring", 9.0 * factor, burst(9.0)).action("DescribeAlarms"),
            FaultRule::rate_limit("monitoring", 50.0 * factor, burst(50.0)).action("GetMetricData"),
        ]
    }

    /// Only this API action, or a glob of them (`Describe*`; default: every action).
    pub fn action(self, action: &str) -> FaultRule {
        self.field("action", action)
    }

    /// Only calls whose query string or body contains this (e.g. a test's resource names).
    pub fn matching(self, needle: &str) -> FaultRule {
        self.field("match", needle)
    }

    /// Only calls signed with this access key.
    pub fn access_key_id(self, access_key_id: &str) -> FaultRule {
        self.field("access_key_id", access_key_id)
    }

    /// The share of matching calls hit (default 1).
    pub fn probability(self, probability: f64) -> FaultRule {
        self.field("probability", probability)
    }

    /// Seeds the rule's own RNG (default 0): the same seed and call sequence, the same faults.
    pub fn seed(self, seed: u64) -> FaultRule {
        self.field("seed", seed)
    }

    /// Retire after hitting this many calls (default: until cleared).
    pub fn count(self, count: u32) -> FaultRule {
        self.field("count", count)
    }

    /// Let this many matching calls through first.
    pub fn skip(self, skip: u32) -> FaultRule {
        self.field("skip", skip)
    }

    /// A latency rule's extra random delay, up to this (seeded).
    pub fn jitter(self, jitter: Duration) -> FaultRule {
        self.field("jitter_ms", millis(jitter))
    }

    /// An error rule's code instead of the service's default (e.g. `ServiceUnavailable`).
    pub fn error_code(self, error_code: &str) -> FaultRule {
        self.field("error_code", error_code)
    }

    pub fn http_status(self, http_status: u16) -> FaultRule {
        self.field("http_status", http_status)
    }

    fn field(mut self, name: &str, value: impl Into<Value>) -> FaultRule {
        self.fields.insert(name.into(), value.into());
        self
    }

    /// The JSON body of `POST /zdd/faults`.
    pub fn to_json(&self) -> Value {
        Value::Object(self.fields.clone())
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// `GET /zdd/faults/stats`: per (service, action), requests seen and faults injected by kind
/// (`throttle`, `server_error`, `error`, `latency`, `drop`, `lost_response`, `stale_read`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultStats {
    pub calls: BTreeMap<(String, String), CallStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallStats {
    pub requests: u64,
    pub faults: BTreeMap<String, u64>,
}

impl FaultStats {
    fn from_json(answer: &Value) -> anyhow::Result<FaultStats> {
        let services = answer["services"]
            .as_object()
            .ok_or_else(|| anyhow!("/zdd/faults/stats answered {answer}"))?;
        let mut calls = BTreeMap::new();
        for (service, actions) in services {
            let actions = actions
                .as_object()
                .ok_or_else(|| anyhow!("stats of {service}: {actions}"))?;
            for (action, counts) in actions {
                let faults = counts["faults"]
                    .as_object()
                    .map(|faults| {
                        faults
                            .iter()
                            .map(|(kind, n)| (kind.clone(), n.as_u64().unwrap_or(0)))
                            .collect()
                    })
                    .unwrap_or_default();
                let requests = counts["requests"]
                    .as_u64()
                    .with_context(|| format!("requests of {service} {action}: {counts}"))?;
                calls.insert(
                    (service.clone(), action.clone()),
                    CallStats { requests, faults },
                );
            }
        }
        Ok(FaultStats { calls })
    }

    /// Requests seen for one action (S3: the HTTP method, e.g. `GET`).
    pub fn requests(&self, service: &str, action: &str) -> u64 {
        self.call(service, action).map_or(0, |call| call.requests)
    }

    /// Requests seen, all services and actions.
    pub fn total_requests(&self) -> u64 {
        self.calls.values().map(|call| call.requests).sum()
    }

    /// Faults of one kind injected, all services and actions.
    pub fn total_faults(&self, kind: &str) -> u64 {
        self.calls
            .values()
            .filter_map(|call| call.faults.get(kind))
            .sum()
    }

    /// Faults of every kind injected, all services and actions, by kind.
    pub fn faults_by_kind(&self) -> BTreeMap<String, u64> {
        let mut kinds = BTreeMap::new();
        for call in self.calls.values() {
            for (kind, times) in &call.faults {
                *kinds.entry(kind.clone()).or_insert(0) += times;
            }
        }
        kinds
    }

    /// Requests seen by one service, all its actions.
    pub fn service_requests(&self, service: &str) -> u64 {
        self.calls
            .iter()
            .filter(|((name, _), _)| name == service)
            .map(|(_, call)| call.requests)
            .sum()
    }

    /// Faults of one kind injected into one action.
    pub fn faults(&self, service: &str, action: &str, kind: &str) -> u64 {
        self.call(service, action)
            .and_then(|call| call.faults.get(kind).copied())
            .unwrap_or(0)
    }

    fn call(&self, service: &str, action: &str) -> Option<&CallStats> {
        self.calls.get(&(service.to_string(), action.to_string()))
    }
}

/// Fault rules, the hostile preset and the statistics.
impl LocalAws {
    /// Adds a rule; answers its id (for [`LocalAws::clear_faults`]).
    pub fn add_fault_rule(&self, rule: &FaultRule) -> anyhow::Result<String> {
        let answer = self.add_fault(&rule.to_json())?;
        answer["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("POST /zdd/faults answered {answer}"))
    }

    /// The standard hostile mix on every service of [`HOSTILE_SERVICES`]: 20 % throttling,
    /// 2 % 5xx, 200 ms added latency, 10 s stale reads (none on S3, which AWS never serves
    /// stale), seeded. Use it on an own server
    /// ([`LocalAws::start`]); on the shared one, [`LocalAws::hostile_for`] with a `matching`.
    pub fn hostile(&self, seed: u64) -> anyhow::Result<Vec<Value>> {
        self.hostile_for(seed, &HOSTILE_SERVICES, None)
    }

    /// The hostile mix on these services, for the calls containing `matching` if given.
    pub fn hostile_for(
        &self,
        seed: u64,
        services: &[&str],
        matching: Option<&str>,
    ) -> anyhow::Result<Vec<Value>> {
        let mut body = json!({"name": "hostile", "seed": seed, "services": services});
        if let Some(needle) = matching {
            body["match"] = needle.into();
        }
        self.install_preset(&body)
    }

    /// Installs `POST /zdd/faults/preset` as given (`{"name": "hostile", "seed": .., ...}`,
    /// with any of the preset's overrides and scopes); answers the rules installed.
    pub fn install_preset(&self, preset: &Value) -> anyhow::Result<Vec<Value>> {
        let mut answer = request_json(self.endpoint(), "POST", "/zdd/faults/preset", Some(preset))?;
        match answer["faults"].take() {
            Value::Array(rules) => Ok(rules),
            other => Err(anyhow!("POST /zdd/faults/preset answered {other}")),
        }
    }

    /// Installs [`FaultRule::aws_rate_limits`] for the calls signed with `access_key_id`
    /// (see [`LocalAws::sdk_config_as`]); answers the rules' ids.
    pub fn rate_limit_like_aws(
        &self,
        access_key_id: &str,
        factor: f64,
    ) -> anyhow::Result<Vec<String>> {
        FaultRule::aws_rate_limits(factor)
            .into_iter()
            .map(|rule| self.add_fault_rule(&rule.access_key_id(access_key_id)))
            .collect()
    }

    /// The calls signed with this access key only (a process under test given its own key).
    pub fn fault_stats_for(&self, access_key_id: &str) -> anyhow::Result<FaultStats> {
        FaultStats::from_json(&request_json(
            self.endpoint(),
            "GET",
            &format!("/zdd/faults/stats?access_key_id={access_key_id}"),
            None,
        )?)
    }

    pub fn fault_stats(&self) -> anyhow::Result<FaultStats> {
        FaultStats::from_json(&request_json(
            self.endpoint(),
            "GET",
            "/zdd/faults/stats",
            None,
        )?)
    }

    pub fn clear_fault_stats(&self) -> anyhow::Result<()> {
        request_json(self.endpoint(), "DELETE", "/zdd/faults/stats", None)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_rule_the_server_reads() {
        let rule = FaultRule::throttle("autoscaling")
            .action("DescribeAutoScalingGroups")
            .matching("web-g1")
            .probability(0.2)
            .seed(7)
            .count(3);
        assert_eq!(
            rule.to_json(),
            json!({"kind": "throttle", "service": "autoscaling",
                   "action": "DescribeAutoScalingGroups", "match": "web-g1",
                   "probability": 0.2, "seed": 7, "count": 3})
        );
        assert_eq!(
            FaultRule::stale_reads("elasticloadbalancing", Duration::from_secs(10)).to_json()["stale_read_max"],
            json!(10.0)
        );
        assert_eq!(
            FaultRule::latency("ec2", Duration::from_millis(200))
                .jitter(Duration::from_millis(50))
                .to_json(),
            json!({"kind": "latency", "service": "ec2", "latency_ms": 200.0, "jitter_ms": 50.0})
        );
    }

    #[test]
    fn reads_the_stats() {
        let stats = FaultStats::from_json(&json!({
            "services": {"s3": {"GET": {"requests": 3, "faults": {"throttle": 2}}}},
            "totals": {"requests": 3, "faults": {"throttle": 2}}
        }))
        .unwrap();
        assert_eq!(stats.requests("s3", "GET"), 3);
        assert_eq!(stats.faults("s3", "GET", "throttle"), 2);
        assert_eq!(stats.faults("s3", "GET", "drop"), 0);
        assert_eq!(stats.requests("ec2", "DescribeVpcs"), 0);
    }

    #[test]
    fn builds_rate_limits_at_awss_rates_scaled() {
        assert_eq!(
            FaultRule::rate_limit("elasticloadbalancing", 10.0, 40)
                .action("Describe*")
                .shared()
                .access_key_id("AKIDMINE")
                .to_json(),
            json!({"kind": "rate_limit", "service": "elasticloadbalancing", "per_second": 10.0,
                   "burst": 40, "action": "Describe*", "shared": true, "access_key_id": "AKIDMINE"})
        );
        let halved = FaultRule::aws_rate_limits(0.5);
        let elbv2 = halved[0].to_json();
        assert_eq!(
            (elbv2["per_second"].as_f64(), elbv2["burst"].as_u64()),
            (Some(5.0), Some(20))
        );
        let alarms = halved[2].to_json();
        assert_eq!(alarms["action"], "DescribeAlarms");
        assert_eq!(
            (alarms["per_second"].as_f64(), alarms["burst"].as_u64()),
            (Some(4.5), Some(5))
        );
        // A tiny factor still lets a call through.
        assert!(
            FaultRule::aws_rate_limits(0.001)
                .iter()
                .all(|rule| rule.to_json()["burst"] == 1)
        );
    }

    #[test]
    fn sums_the_stats_over_calls() {
        let stats = FaultStats::from_json(&json!({
            "services": {
                "autoscaling": {
                    "DescribeAutoScalingGroups": {"requests": 5, "faults": {"throttle": 2, "latency": 5}},
                    "CreateAutoScalingGroup": {"requests": 1, "faults": {"lost_response": 1, "latency": 1}}
                },
                "elasticloadbalancing": {"DescribeTargetHealth": {"requests": 4, "faults": {"stale_read": 1}}}
            },
            "totals": {}
        }))
        .unwrap();
        assert_eq!(stats.total_requests(), 10);
        assert_eq!(stats.service_requests("autoscaling"), 6);
        assert_eq!(stats.total_faults("latency"), 6);
        assert_eq!(
            stats.faults_by_kind(),
            BTreeMap::from([
                ("latency".to_string(), 6),
                ("lost_response".to_string(), 1),
                ("stale_read".to_string(), 1),
                ("throttle".to_string(), 2),
            ])
        );
        assert_eq!(
            FaultRule::lost_response("autoscaling").to_json(),
            json!({"kind": "lost_response", "service": "autoscaling"})
        );
    }
}
