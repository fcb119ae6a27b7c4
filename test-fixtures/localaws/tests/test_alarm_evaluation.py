"""Alarm evaluation alone: metric alarms from the traffic model's periods on a manual clock,
composite alarm rules. No server, no moto."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from test_traffic_model import BLUE, GREEN, LB, LISTENER, T0, Clock, FakeWorld, run
from zdd_localaws.alarms import ALARM, INSUFFICIENT_DATA, OK, RuleError, evaluate_composite, evaluate_metric_alarm, parse_rule
from zdd_localaws.traffic import Profile, Source, TrafficModel


def dims(tg: str) -> list[Any]:
    return [SimpleNamespace(name="TargetGroup", value=tg.split(":", 5)[5]),
            SimpleNamespace(name="LoadBalancer", value=LB.split(":", 5)[5].removeprefix("loadbalancer/"))]


def alarm(tg: str = BLUE, **fields: Any) -> SimpleNamespace:
    base = dict(rule=None, metric_data_queries=[], namespace="AWS/ApplicationELB", metric_name="TargetResponseTime",
                dimensions=dims(tg), period=60, statistic=None, extended_statistic="p99", evaluation_periods=2,
                datapoints_to_alarm=None, comparison_operator="GreaterThanThreshold", threshold=0.2,
                treat_missing_data=None, state_value=OK)
    base.update(fields)
    return SimpleNamespace(**base)


@pytest.fixture()
def setup() -> tuple[TrafficModel, Clock, FakeWorld]:
    world, clock = FakeWorld(), Clock(T0)
    return TrafficModel(clock, 0.05, world), clock, world


def test_a_slow_group_alarms_once_enough_periods_breach(setup: tuple[TrafficModel, Clock, FakeWorld]) -> None:
    model, clock, world = setup
    model.set_source(Source(20, 1, listener_arn=LISTENER,
                            profiles={BLUE: Profile(latency_ms=(100, 200, 300))}))
    # One published period: 1 of 2 datapoints, which breaches; with "missing", M of the present.
    run(model, clock, T0 + 7500)
    first = evaluate_metric_alarm(model, alarm(), clock.ms)
    assert first is not None and first.state == ALARM and first.at_ms == T0 + 7500
    # Two of two must breach when missing data breaches nothing.
    assert evaluate_metric_alarm(model, alarm(treat_missing_data="notBreaching", datapoints_to_alarm=2),
                                 clock.ms).state == OK
    run(model, clock, T0 + 10500)
    assert evaluate_metric_alarm(model, alarm(treat_missing_data="notBreaching", datapoints_to_alarm=2),
                                 clock.ms).state == ALARM
    # Below the threshold: OK.
    assert evaluate_metric_alarm(model, alarm(threshold=0.5), clock.ms).state == OK


def test_no_traffic_is_insufficient_data_unless_missing_data_is_treated(setup: tuple[TrafficModel, Clock, FakeWorld]) -> None:
    model, clock, world = setup
    world.weights = {BLUE: 100, GREEN: 0}
    model.set_source(Source(20, 1, listener_arn=LISTENER))
    run(model, clock, T0 + 3 * 3000 + 4500)
    green_alarm = alarm(GREEN, metric_name="RequestCount", statistic="Sum", extended_statistic=None,
                        comparison_operator="LessThanThreshold", threshold=100)
    assert evaluate_metric_alarm(model, green_alarm, clock.ms).state == INSUFFICIENT_DATA
    green_alarm.treat_missing_data = "breaching"
    assert evaluate_metric_alarm(model, green_alarm, clock.ms).state == ALARM
    green_alarm.treat_missing_data = "notBreaching"
    assert evaluate_metric_alarm(model, green_alarm, clock.ms).state == OK
    green_alarm.treat_missing_data, green_alarm.state_value = "ignore", ALARM
    assert evaluate_metric_alarm(model, green_alarm, clock.ms).state == ALARM


def test_only_the_models_metrics_are_evaluated(setup: tuple[TrafficModel, Clock, FakeWorld]) -> None:
    model, clock, _ = setup
    model.set_source(Source(20, 1, listener_arn=LISTENER))
    assert evaluate_metric_alarm(model, alarm(dimensions=[]), clock.ms) is None
    assert evaluate_metric_alarm(model, alarm(namespace="Custom"), clock.ms) is None
    unknown = alarm(dimensions=dims("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/other/9"))
    assert evaluate_metric_alarm(model, unknown, clock.ms) is None
    assert evaluate_metric_alarm(model, alarm(), clock.ms) is not None


def test_a_longer_alarm_period_spans_several_model_periods(setup: tuple[TrafficModel, Clock, FakeWorld]) -> None:
    model, clock, _ = setup
    assert T0 % 6000 == 0
    model.set_source(Source(10, 1, listener_arn=LISTENER))
    two = alarm(metric_name="RequestCount", statistic="Sum", extended_statistic=None, period=120,
                evaluation_periods=1, threshold=900, comparison_operator="GreaterThanThreshold")
    # Period 120: buckets of two 3 s periods aligned to 6 s. The first bucket is complete only
    # when its second period is published; until then the newest complete bucket is empty.
    run(model, clock, T0 + 6000 + 4499)
    assert evaluate_metric_alarm(model, two, clock.ms).state == INSUFFICIENT_DATA
    run(model, clock, T0 + 6000 + 4500)
    assert sum(p.requests for p in model.published(BLUE)) > 900  # ≈ 1200: each period alone is ≈ 600
    assert evaluate_metric_alarm(model, two, clock.ms).state == ALARM


@pytest.mark.parametrize("rule, states, expected", [
    ('ALARM("a")', {"a": ALARM}, True),
    ('ALARM("a")', {"a": OK}, False),
    ('ALARM(a) OR ALARM("b")', {"a": OK, "b": ALARM}, True),
    ('ALARM(a) AND ALARM("b")', {"a": OK, "b": ALARM}, False),
    ('ALARM(a) AND NOT OK(b)', {"a": ALARM, "b": INSUFFICIENT_DATA}, True),
    ('NOT (ALARM(a) OR ALARM(b)) AND INSUFFICIENT_DATA(c)', {"a": OK, "b": OK, "c": INSUFFICIENT_DATA}, True),
    ('ALARM(a) OR ALARM(b) AND ALARM(c)', {"a": ALARM, "b": OK, "c": OK}, True),  # AND binds tighter
    ('(ALARM(a) OR ALARM(b)) AND ALARM(c)', {"a": ALARM, "b": OK, "c": OK}, False),
    ('ALARM("arn:aws:cloudwatch:us-east-1:123456789012:alarm:a")', {"a": ALARM}, True),
    ("TRUE", {}, True),
    ("NOT TRUE OR FALSE", {}, False),
])
def test_alarm_rules(rule: str, states: dict[str, str], expected: bool) -> None:
    assert parse_rule(rule)(lambda name: states[name]) is expected


@pytest.mark.parametrize("rule", ['ALARM("a"', "ALARM(a) AND", "ALARM(a) XOR ALARM(b)", "(ALARM(a)", "ALARMS(a)"])
def test_a_malformed_rule_is_refused(rule: str) -> None:
    with pytest.raises(RuleError):
        parse_rule(rule)


def test_a_composite_with_a_missing_child_has_insufficient_data() -> None:
    assert evaluate_composite('ALARM(a) OR ALARM(gone)', {"a": ALARM}.get)[0] == INSUFFICIENT_DATA
    assert evaluate_composite('ALARM(a) OR ALARM(b)', {"a": OK, "b": ALARM}.get)[0] == ALARM
    assert evaluate_composite('ALARM(a) OR ALARM(b)', {"a": OK, "b": OK}.get)[0] == OK
