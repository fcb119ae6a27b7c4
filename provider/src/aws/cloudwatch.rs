//! CloudWatch: the canary gate's evidence. Alarm states and plain metric sums only, because
//! metric math and percentiles are not available everywhere (moto returns nothing for them).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, StateValue, Statistic};

use super::clients::AwsClients;
use super::error::AwsError;
use super::types::{AlarmState, MetricSums, cloudwatch_dimension_of};

const NAMESPACE: &str = "AWS/ApplicationELB";
/// CloudWatch aggregates load balancer metrics per minute.
const PERIOD: Duration = Duration::from_secs(60);

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

    /// Sums of `RequestCount` and `HTTPCode_Target_5XX_Count` for one target group behind one
    /// load balancer over `[start, end)`, in one-minute periods.
    ///
    /// # Idempotency
    /// Read-only.
    pub async fn target_group_metric_sums(
        &self,
        target_group_arn: &str,
        load_balancer_arn: &str,
        start: SystemTime,
        end: SystemTime,
    ) -> Result<MetricSums, AwsError> {
        let dimensions = [
            ("TargetGroup", target_group_arn),
            ("LoadBalancer", load_balancer_arn),
        ]
        .into_iter()
        .map(|(name, arn)| {
            cloudwatch_dimension_of(arn)
                .map(|value| Dimension::builder().name(name).value(value).build())
                .ok_or_else(|| AwsError::Unexpected {
                    operation: "GetMetricStatistics",
                    detail: format!("{arn:?} is not an ARN"),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
        let requests = self
            .metric_sum("RequestCount", &dimensions, start, end)
            .await?;
        let target_5xx = self
            .metric_sum("HTTPCode_Target_5XX_Count", &dimensions, start, end)
            .await?;
        Ok(MetricSums {
            requests,
            target_5xx,
        })
    }

    async fn metric_sum(
        &self,
        metric: &str,
        dimensions: &[Dimension],
        start: SystemTime,
        end: SystemTime,
    ) -> Result<f64, AwsError> {
        let output = self
            .cloudwatch("GetMetricStatistics", |client| {
                client
                    .get_metric_statistics()
                    .namespace(NAMESPACE)
                    .metric_name(metric)
                    .set_dimensions(Some(dimensions.to_vec()))
                    .start_time(DateTime::from(start))
                    .end_time(DateTime::from(end))
                    .period(i32::try_from(PERIOD.as_secs()).unwrap_or(60))
                    .statistics(Statistic::Sum)
                    .send()
            })
            .await?;
        Ok(output
            .datapoints()
            .iter()
            .filter_map(|point| point.sum())
            .sum())
    }
}

fn alarm_state(state: &StateValue) -> AlarmState {
    match state {
        StateValue::Alarm => AlarmState::Alarm,
        StateValue::Ok => AlarmState::Ok,
        _ => AlarmState::InsufficientData,
    }
}
