//! CloudWatch: the canary and bake gates' evidence. Alarm states (metric and composite) and
//! the load balancer's metrics per target group and period (no metric math: plain metric
//! statistics, so one query answers the same on AWS and on the local AWS).

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    AlarmType, Dimension, Metric, MetricDataQuery, MetricStat, ScanBy, StateValue, StatusCode,
};

use super::clients::AwsClients;
use super::error::AwsError;
use super::types::{
    AlarmState, MetricSource, PeriodFigures, TargetGroupFigures, cloudwatch_dimension_of,
};

const NAMESPACE: &str = "AWS/ApplicationELB";

impl AwsClients {
    /// The state of each named alarm (metric or composite). A name CloudWatch does not know
    /// is reported as [`AlarmState::Missing`] so that a typo fails the gate loudly.
    ///
    /// # Idempotency
    /// Read-only.
    pub async fn alarm_states(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, AlarmState>, AwsError> {
        let mut states: BTreeMap<String, AlarmState> = names
            .iter()
            .map(|name| (name.clone(), AlarmState::Missing))
            .collect();
        // DescribeAlarms accepts at most 100 names per call.
        for chunk in names.chunks(100) {
            let mut next_token: Option<String> = None;
            loop {
                let token = next_token.take();
                let output = self
                    .cloudwatch("DescribeAlarms", |client| {
                        client
                            .describe_alarms()
                            // Without AlarmTypes CloudWatch returns metric alarms only, and a
                            // composite alarm's name would read as missing.
                            .alarm_types(AlarmType::MetricAlarm)
                            .alarm_types(AlarmType::CompositeAlarm)
                            .set_alarm_names(Some(chunk.to_vec()))
                            .set_next_token(token)
                            .send()
                    })
                    .await?;
                let metric = output
                    .metric_alarms()
                    .iter()
                    .map(|alarm| (alarm.alarm_name(), alarm.state_value()));
                let composite = output
                    .composite_alarms()
                    .iter()
                    .map(|alarm| (alarm.alarm_name(), alarm.state_value()));
                for (name, state) in metric.chain(composite) {
                    if let (Some(name), Some(state)) = (name, state) {
                        states.insert(name.to_string(), alarm_state(state));
                    }
                }
                match output.next_token() {
                    Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
                    _ => break,
                }
            }
        }
        Ok(states)
    }

    /// Each target group's load-balancer metrics per one-minute period over `[start, end)`,
    /// all groups in ONE `GetMetricData` call (four queries per group: `RequestCount`,
    /// `HTTPCode_Target_5XX_Count` and `HTTPCode_ELB_5XX_Count` as Sum, `TargetResponseTime`
    /// as p99), paged by `NextToken`. A period with no datapoint in any of the four is absent,
    /// as CloudWatch publishes none for a period without requests.
    ///
    /// The period asked for is always CloudWatch's 60 s: the local AWS maps it to its scaled
    /// period, and AWS keeps ALB metrics at one-minute resolution.
    ///
    /// # Idempotency
    /// Read-only.
    pub async fn metric_periods(
        &self,
        sources: &[MetricSource],
        start: SystemTime,
        end: SystemTime,
    ) -> Result<Vec<TargetGroupFigures>, AwsError> {
        let mut queries = Vec::new();
        for (index, source) in sources.iter().enumerate() {
            let dimensions = dimensions_of(source)?;
            for (metric, stat) in QUERIED {
                queries.push(
                    MetricDataQuery::builder()
                        .id(query_id(index, metric))
                        .metric_stat(
                            MetricStat::builder()
                                .metric(
                                    Metric::builder()
                                        .namespace(NAMESPACE)
                                        .metric_name(metric.name())
                                        .set_dimensions(Some(dimensions.clone()))
                                        .build(),
                                )
                                .period(PERIOD_SECONDS)
                                .stat(stat)
                                .build(),
                        )
                        .return_data(true)
                        .build(),
                );
            }
        }
        let mut figures: Vec<BTreeMap<SystemTime, PeriodFigures>> =
            vec![BTreeMap::new(); sources.len()];
        if queries.is_empty() {
            return Ok(Vec::new());
        }
        let mut next_token: Option<String> = None;
        loop {
            let token = next_token.take();
            let output = self
                .cloudwatch("GetMetricData", |client| {
                    client
                        .get_metric_data()
                        .set_metric_data_queries(Some(queries.clone()))
                        .start_time(DateTime::from(start))
                        .end_time(DateTime::from(end))
                        .scan_by(ScanBy::TimestampAscending)
                        .set_next_token(token)
                        .send()
                })
                .await?;
            for result in output.metric_data_results() {
                // A query CloudWatch could not answer is not "no requests": read as empty, its
                // periods would be cached as complete and a canary would look trafficless.
                if let Some(status @ (StatusCode::InternalError | StatusCode::Forbidden)) =
                    result.status_code()
                {
                    return Err(AwsError::Api {
                        operation: "GetMetricData",
                        code: status.as_str().to_string(),
                        // CloudWatch's own failure passes; a refusal does not by itself.
                        transient: *status == StatusCode::InternalError,
                        message: format!(
                            "query {}: {}",
                            result.id().unwrap_or("?"),
                            output
                                .messages()
                                .iter()
                                .filter_map(|m| m.value())
                                .collect::<Vec<_>>()
                                .join("; ")
                        ),
                    });
                }
                let Some((index, metric)) = result.id().and_then(parse_query_id) else {
                    continue;
                };
                let Some(periods) = figures.get_mut(index) else {
                    continue;
                };
                for (at, value) in result.timestamps().iter().zip(result.values()) {
                    let Ok(at) = SystemTime::try_from(*at) else {
                        continue;
                    };
                    metric.record(
                        periods
                            .entry(at)
                            .or_insert_with(|| PeriodFigures::empty(at)),
                        *value,
                    );
                }
            }
            match output.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
                _ => break,
            }
        }
        Ok(sources
            .iter()
            .zip(figures)
            .map(|(source, periods)| TargetGroupFigures {
                target_group_arn: source.target_group_arn.clone(),
                periods: periods.into_values().collect(),
            })
            .collect())
    }
}

/// The period asked of CloudWatch, in seconds: ALB metrics are published per minute.
const PERIOD_SECONDS: i32 = 60;

/// The four metrics read per target group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AlbMetric {
    Requests,
    Target5xx,
    Elb5xx,
    ResponseTimeP99,
}

/// Each metric with the statistic read.
const QUERIED: [(AlbMetric, &str); 4] = [
    (AlbMetric::Requests, "Sum"),
    (AlbMetric::Target5xx, "Sum"),
    (AlbMetric::Elb5xx, "Sum"),
    (AlbMetric::ResponseTimeP99, "p99"),
];

impl AlbMetric {
    fn name(self) -> &'static str {
        match self {
            AlbMetric::Requests => "RequestCount",
            AlbMetric::Target5xx => "HTTPCode_Target_5XX_Count",
            AlbMetric::Elb5xx => "HTTPCode_ELB_5XX_Count",
            AlbMetric::ResponseTimeP99 => "TargetResponseTime",
        }
    }

    /// Short tag in a query id (ids are `[a-z][a-zA-Z0-9_]*`, unique per call).
    fn tag(self) -> &'static str {
        match self {
            AlbMetric::Requests => "requests",
            AlbMetric::Target5xx => "target5xx",
            AlbMetric::Elb5xx => "elb5xx",
            AlbMetric::ResponseTimeP99 => "p99",
        }
    }

    fn record(self, period: &mut PeriodFigures, value: f64) {
        match self {
            AlbMetric::Requests => period.requests = value,
            AlbMetric::Target5xx => period.target_5xx = value,
            AlbMetric::Elb5xx => period.elb_5xx = value,
            AlbMetric::ResponseTimeP99 => period.p99_seconds = Some(value),
        }
    }
}

fn query_id(index: usize, metric: AlbMetric) -> String {
    format!("g{index}_{}", metric.tag())
}

fn parse_query_id(id: &str) -> Option<(usize, AlbMetric)> {
    let (group, tag) = id.strip_prefix('g')?.split_once('_')?;
    let metric = QUERIED
        .iter()
        .map(|(metric, _)| *metric)
        .find(|metric| metric.tag() == tag)?;
    Some((group.parse().ok()?, metric))
}

/// `TargetGroup` and `LoadBalancer`: the dimensions CloudWatch publishes a target group's ALB
/// metrics under.
fn dimensions_of(source: &MetricSource) -> Result<Vec<Dimension>, AwsError> {
    [
        ("TargetGroup", source.target_group_arn.as_str()),
        ("LoadBalancer", source.load_balancer_arn.as_str()),
    ]
    .into_iter()
    .map(|(name, arn)| {
        cloudwatch_dimension_of(arn)
            .map(|value| Dimension::builder().name(name).value(value).build())
            .ok_or_else(|| AwsError::Unexpected {
                operation: "GetMetricData",
                detail: format!("{arn:?} is not an ARN"),
            })
    })
    .collect()
}

fn alarm_state(state: &StateValue) -> AlarmState {
    match state {
        StateValue::Alarm => AlarmState::Alarm,
        StateValue::Ok => AlarmState::Ok,
        _ => AlarmState::InsufficientData,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_ids_are_valid_and_read_back() {
        for index in [0, 1, 17] {
            for (metric, _) in QUERIED {
                let id = query_id(index, metric);
                assert!(id.starts_with(|c: char| c.is_ascii_lowercase()), "{id}");
                assert!(
                    id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{id}"
                );
                assert_eq!(parse_query_id(&id), Some((index, metric)));
            }
        }
        assert_eq!(parse_query_id("g0_nothing"), None);
        assert_eq!(parse_query_id("x0_requests"), None);
    }
}
