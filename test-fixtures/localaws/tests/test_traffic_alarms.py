"""Alarms through the server and boto3: metric alarms on the traffic model's metrics evaluated
from its published periods, composite alarms (PutCompositeAlarm) from their children,
DescribeAlarms' AlarmTypes and AlarmNames, and SetAlarmState until the next evaluation."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import LocalAws, wait_for
from test_traffic_metrics import NAMESPACE, Balancer, dimensions, make_balancer, timing, wait_for_periods


def put_alarm(aws: LocalAws, balancer: Balancer, name: str, target_group_arn: str, **fields: Any) -> None:
    settings = dict(MetricName="TargetResponseTime", ExtendedStatistic="p99", Period=60, EvaluationPeriods=1,
                    Threshold=0.3, ComparisonOperator="GreaterThanThreshold")
    settings.update(fields)
    settings = {k: v for k, v in settings.items() if v is not None}
    aws.client("cloudwatch").put_metric_alarm(AlarmName=name, Namespace=NAMESPACE,
                                              Dimensions=dimensions(balancer, target_group_arn), **settings)


def states(aws: LocalAws, **filters: Any) -> dict[str, str]:
    answer = aws.client("cloudwatch").describe_alarms(**filters)
    return {a["AlarmName"]: a["StateValue"] for a in answer["MetricAlarms"] + answer["CompositeAlarms"]}


@pytest.fixture()
def balancer(traffic_aws: LocalAws) -> Balancer:
    aws = traffic_aws
    balancer = make_balancer(aws, (100, 0))
    slow = {"latency_ms": {"p50": 100, "p90": 300, "p99": 500}}
    aws.control("POST", "/zdd/traffic", {"listener_arn": balancer.listener_arn, "requests_per_second": 20,
                                         "seed": 3, "target_groups": {balancer.blue: slow}})
    return balancer


def test_metric_alarms_follow_the_published_periods(traffic_aws: LocalAws, balancer: Balancer) -> None:
    aws = traffic_aws
    put_alarm(aws, balancer, "blue-slow", balancer.blue)
    put_alarm(aws, balancer, "blue-fast-enough", balancer.blue, Threshold=1.0)
    # Green has weight 0: no requests, no datapoints.
    put_alarm(aws, balancer, "green-quiet", balancer.green, MetricName="RequestCount", Statistic="Sum",
              ExtendedStatistic=None, ComparisonOperator="LessThanThreshold", Threshold=100)
    put_alarm(aws, balancer, "green-quiet-breaching", balancer.green, MetricName="RequestCount", Statistic="Sum",
              ExtendedStatistic=None, ComparisonOperator="LessThanThreshold", Threshold=100,
              TreatMissingData="breaching")
    # Before the first period is published every evaluated alarm lacks data.
    assert states(aws)["blue-slow"] == "INSUFFICIENT_DATA"
    wait_for_periods(aws, balancer.blue, 1)
    assert states(aws) == {"blue-slow": "ALARM", "blue-fast-enough": "OK", "green-quiet": "INSUFFICIENT_DATA",
                           "green-quiet-breaching": "ALARM"}
    reason = aws.client("cloudwatch").describe_alarms(AlarmNames=["blue-slow"])["MetricAlarms"][0]["StateReason"]
    assert "threshold 0.3" in reason and "p99" in reason


def test_composite_alarms_and_alarm_types(traffic_aws: LocalAws, balancer: Balancer) -> None:
    aws = traffic_aws
    put_alarm(aws, balancer, "blue-slow", balancer.blue)
    put_alarm(aws, balancer, "green-slow", balancer.green)
    cloudwatch = aws.client("cloudwatch")
    cloudwatch.put_composite_alarm(AlarmName="any-slow", AlarmRule='ALARM("blue-slow") OR ALARM("green-slow")')
    cloudwatch.put_composite_alarm(AlarmName="both-slow", AlarmRule="ALARM(blue-slow) AND ALARM(green-slow)")
    cloudwatch.put_composite_alarm(AlarmName="green-unknown", AlarmRule="INSUFFICIENT_DATA(green-slow) AND NOT OK(blue-slow)")
    wait_for_periods(aws, balancer.blue, 1)
    assert states(aws) == {"blue-slow": "ALARM", "green-slow": "INSUFFICIENT_DATA"}, "metric alarms only by default"
    both = states(aws, AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    assert both == {"blue-slow": "ALARM", "green-slow": "INSUFFICIENT_DATA",
                    "any-slow": "ALARM", "both-slow": "OK", "green-unknown": "ALARM"}
    assert states(aws, AlarmTypes=["CompositeAlarm"], AlarmNames=["any-slow", "blue-slow"]) == {"any-slow": "ALARM"}
    [composite] = cloudwatch.describe_alarms(AlarmTypes=["CompositeAlarm"], AlarmNames=["both-slow"])["CompositeAlarms"]
    assert composite["AlarmRule"] == "ALARM(blue-slow) AND ALARM(green-slow)"
    with pytest.raises(cloudwatch.exceptions.ClientError, match="AlarmRule"):
        cloudwatch.put_composite_alarm(AlarmName="broken", AlarmRule="ALARM(a) XOR ALARM(b)")


def test_set_alarm_state_holds_until_the_next_evaluation(traffic_aws: LocalAws, balancer: Balancer) -> None:
    aws = traffic_aws
    put_alarm(aws, balancer, "blue-slow", balancer.blue)
    published = wait_for_periods(aws, balancer.blue, 1)
    assert states(aws)["blue-slow"] == "ALARM"
    aws.client("cloudwatch").set_alarm_state(AlarmName="blue-slow", StateValue="OK", StateReason="test")
    assert states(aws)["blue-slow"] == "OK"
    # The next period's publication re-evaluates the alarm.
    wait_for_periods(aws, balancer.blue, 1, after_ms=published[-1]["start_ms"] + timing(aws)[0])
    assert states(aws)["blue-slow"] == "ALARM"


def test_alarms_on_other_metrics_keep_the_state_a_test_sets(traffic_aws: LocalAws, balancer: Balancer) -> None:
    aws = traffic_aws
    cloudwatch = aws.client("cloudwatch")
    cloudwatch.put_metric_alarm(AlarmName="web-5xx", Namespace=NAMESPACE, MetricName="HTTPCode_Target_5XX_Count",
                                Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                                ComparisonOperator="GreaterThanThreshold")
    cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="forced")
    cloudwatch.put_composite_alarm(AlarmName="web-any", AlarmRule='ALARM("web-5xx")')
    first = wait_for_periods(aws, balancer.blue, 1)
    wait_for_periods(aws, balancer.blue, 1, after_ms=first[-1]["start_ms"] + timing(aws)[0])
    assert states(aws, AlarmTypes=["MetricAlarm", "CompositeAlarm"]) == {"web-5xx": "ALARM", "web-any": "ALARM"}
    cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="OK", StateReason="cleared")
    assert wait_for(lambda: states(aws, AlarmTypes=["CompositeAlarm"])["web-any"] == "OK", 2, "composite follows")
