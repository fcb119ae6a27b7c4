//! Load-balancer traffic on the local AWS: a test says how many requests a listener (or one
//! target group) receives and how each target group answers them; the local AWS publishes the
//! `AWS/ApplicationELB` metrics CloudWatch would (`RequestCount`, `HTTPCode_Target_5XX_Count`,
//! `HTTPCode_ELB_5XX_Count`, `TargetResponseTime` with p50/p90/p99), one period per scaled
//! minute, a scaled 90 s after each period ends, and evaluates alarms on them.
//! See `test-fixtures/localaws/README.md` ("Traffic and metrics").

use anyhow::{anyhow, bail};
use serde_json::{Value, json};

use crate::LocalAws;
use crate::control::request_json;

/// How one target group answers the requests it receives.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficProfile {
    /// Share of requests the targets answer with a 5xx (`HTTPCode_Target_5XX_Count`).
    pub target_5xx_ratio: f64,
    /// Share the load balancer answers with a 5xx although a target was healthy
    /// (`HTTPCode_ELB_5XX_Count`). A target group with no healthy target answers all its
    /// requests as ELB 5xx regardless.
    pub elb_5xx_ratio: f64,
    /// `TargetResponseTime` percentiles in milliseconds: (p50, p90, p99).
    pub latency_ms: (f64, f64, f64),
    /// Sigma of the lognormal factor multiplying each period's percentiles (0: none).
    pub latency_noise: f64,
}

impl Default for TrafficProfile {
    /// No errors, p50/p90/p99 = 40/80/120 ms, no noise.
    fn default() -> Self {
        TrafficProfile {
            target_5xx_ratio: 0.0,
            elb_5xx_ratio: 0.0,
            latency_ms: (40.0, 80.0, 120.0),
            latency_noise: 0.0,
        }
    }
}

impl TrafficProfile {
    pub fn target_5xx_ratio(mut self, ratio: f64) -> Self {
        self.target_5xx_ratio = ratio;
        self
    }

    pub fn elb_5xx_ratio(mut self, ratio: f64) -> Self {
        self.elb_5xx_ratio = ratio;
        self
    }

    pub fn latency_ms(mut self, p50: f64, p90: f64, p99: f64) -> Self {
        self.latency_ms = (p50, p90, p99);
        self
    }

    pub fn latency_noise(mut self, sigma: f64) -> Self {
        self.latency_noise = sigma;
        self
    }

    fn to_json(&self) -> Value {
        let (p50, p90, p99) = self.latency_ms;
        json!({
            "target_5xx_ratio": self.target_5xx_ratio,
            "elb_5xx_ratio": self.elb_5xx_ratio,
            "latency_ms": {"p50": p50, "p90": p90, "p99": p99},
            "latency_noise": self.latency_noise,
        })
    }
}

/// One published period of one target group, as CloudWatch holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedPeriod {
    /// Wall-clock milliseconds since the Unix epoch: the datapoints' timestamp.
    pub start_ms: u64,
    pub end_ms: u64,
    /// When it became readable (end + the scaled publishing delay).
    pub published_at_ms: u64,
    /// `RequestCount`, including the requests answered as ELB 5xx for lack of a healthy target.
    pub requests: u64,
    pub target_5xx: u64,
    pub elb_5xx: u64,
    /// Requests that reached a target (these have a response time).
    pub served: u64,
    /// `TargetResponseTime` p50/p90/p99 in ms; `None` when no request reached a target.
    pub latency_ms: Option<(f64, f64, f64)>,
}

/// The local AWS's metric timing: matches `MetricTiming::scaled(time_scale)` of the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrafficTiming {
    pub period_ms: u64,
    pub publish_delay_ms: u64,
}

impl LocalAws {
    /// `requests_per_second` (per AWS second) arrive at the listener and are split between its
    /// forward target groups by the listener's weights as they change; `profiles` says how each
    /// group answers (a group not named answers as [`TrafficProfile::default`]). Replaces an
    /// earlier call for the same listener. Counts are drawn from `seed`: a run replays.
    pub fn set_listener_traffic(
        &self,
        listener_arn: &str,
        requests_per_second: f64,
        seed: u64,
        profiles: &[(&str, &TrafficProfile)],
    ) -> anyhow::Result<()> {
        let groups: serde_json::Map<String, Value> = profiles
            .iter()
            .map(|(arn, profile)| ((*arn).to_string(), profile.to_json()))
            .collect();
        let body = json!({
            "listener_arn": listener_arn,
            "requests_per_second": requests_per_second,
            "seed": seed,
            "target_groups": groups,
        });
        request_json(self.endpoint(), "POST", "/zdd/traffic", Some(&body))?;
        Ok(())
    }

    /// A fixed rate to one target group (behind its first load balancer), no listener involved.
    pub fn set_target_group_traffic(
        &self,
        target_group_arn: &str,
        requests_per_second: f64,
        seed: u64,
        profile: &TrafficProfile,
    ) -> anyhow::Result<()> {
        let mut body = profile.to_json();
        body["target_group_arn"] = Value::from(target_group_arn);
        body["requests_per_second"] = Value::from(requests_per_second);
        body["seed"] = Value::from(seed);
        request_json(self.endpoint(), "POST", "/zdd/traffic", Some(&body))?;
        Ok(())
    }

    /// Stops the traffic of one listener or target group (what it published stays readable).
    /// Answers whether there was such traffic.
    pub fn stop_traffic(&self, listener_or_target_group_arn: &str) -> anyhow::Result<bool> {
        let path = format!(
            "/zdd/traffic?source={}",
            crate::autoscaling_control::percent_encoded(listener_or_target_group_arn)
        );
        let answer = request_json(self.endpoint(), "DELETE", &path, None)?;
        answer["stopped"]
            .as_bool()
            .ok_or_else(|| anyhow!("DELETE {path} answered {answer}"))
    }

    /// Forgets all traffic and published metrics. Only for an own instance
    /// ([`LocalAws::start`]): the shared one serves tests running in parallel (use
    /// [`LocalAws::stop_traffic`] there).
    pub fn clear_traffic(&self) -> anyhow::Result<()> {
        request_json(self.endpoint(), "DELETE", "/zdd/traffic", None)?;
        Ok(())
    }

    /// The periods published so far for the target group (those with requests), oldest first.
    pub fn published_periods(
        &self,
        target_group_arn: &str,
    ) -> anyhow::Result<Vec<PublishedPeriod>> {
        // ARNs hold only characters a path may carry (`:` and `/` included).
        let path = format!("/zdd/traffic/{target_group_arn}/periods");
        let answer = request_json(self.endpoint(), "GET", &path, None)?;
        answer["periods"]
            .as_array()
            .ok_or_else(|| anyhow!("GET {path} answered {answer}"))?
            .iter()
            .map(parse_period)
            .collect()
    }

    /// Period length and publishing delay of this server's metrics.
    pub fn traffic_timing(&self) -> anyhow::Result<TrafficTiming> {
        let answer = request_json(self.endpoint(), "GET", "/zdd/traffic", None)?;
        Ok(TrafficTiming {
            period_ms: unsigned(&answer, "period_ms")?,
            publish_delay_ms: unsigned(&answer, "publish_delay_ms")?,
        })
    }
}

fn parse_period(period: &Value) -> anyhow::Result<PublishedPeriod> {
    let latency_ms = match &period["latency_ms"] {
        Value::Null => None,
        latency => {
            let ms = |name: &str| {
                latency[name]
                    .as_f64()
                    .ok_or_else(|| anyhow!("no latency_ms.{name} in {period}"))
            };
            Some((ms("p50")?, ms("p90")?, ms("p99")?))
        }
    };
    Ok(PublishedPeriod {
        start_ms: unsigned(period, "start_ms")?,
        end_ms: unsigned(period, "end_ms")?,
        published_at_ms: unsigned(period, "published_at_ms")?,
        requests: unsigned(period, "requests")?,
        target_5xx: unsigned(period, "target_5xx")?,
        elb_5xx: unsigned(period, "elb_5xx")?,
        served: unsigned(period, "served")?,
        latency_ms,
    })
}

fn unsigned(object: &Value, field: &str) -> anyhow::Result<u64> {
    match object[field].as_u64() {
        Some(n) => Ok(n),
        None => bail!("no unsigned {field} in {object}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_is_sent_as_the_control_endpoint_reads_it() {
        let profile = TrafficProfile::default()
            .target_5xx_ratio(0.1)
            .elb_5xx_ratio(0.02)
            .latency_ms(50.0, 90.0, 400.0)
            .latency_noise(0.2);
        assert_eq!(
            profile.to_json(),
            json!({"target_5xx_ratio": 0.1, "elb_5xx_ratio": 0.02,
                   "latency_ms": {"p50": 50.0, "p90": 90.0, "p99": 400.0}, "latency_noise": 0.2})
        );
    }

    #[test]
    fn reads_a_period_with_and_without_latency() {
        let mut period = json!({
            "start_ms": 3000, "end_ms": 6000, "published_at_ms": 10500, "requests": 120,
            "target_5xx": 3, "elb_5xx": 1, "served": 120,
            "latency_ms": {"p50": 40.0, "p90": 80.0, "p99": 120.0, "average": 50.0},
        });
        let parsed = parse_period(&period).unwrap();
        assert_eq!(
            (parsed.requests, parsed.latency_ms),
            (120, Some((40.0, 80.0, 120.0)))
        );
        period["latency_ms"] = Value::Null;
        assert_eq!(parse_period(&period).unwrap().latency_ms, None);
        period["requests"] = Value::from(-1);
        assert!(parse_period(&period).is_err());
    }

    #[test]
    fn encodes_an_arn_as_one_query_value() {
        assert_eq!(
            crate::autoscaling_control::percent_encoded("arn:aws:x:listener/app/a b"),
            "arn%3Aaws%3Ax%3Alistener%2Fapp%2Fa%20b"
        );
    }
}
