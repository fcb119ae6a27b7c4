"""Alarm states from the traffic model: metric alarms on the model's metrics are evaluated from
its published periods, composite alarms from their children's states, whenever alarms are read.

An alarm is evaluated once per period, at the moment its newest period is published; a state
set with SetAlarmState holds until the next such evaluation (as on AWS, where it holds until
the next periodic evaluation). Metric alarms on metrics the model does not produce keep moto's
behaviour: their state only changes by SetAlarmState.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import alb_metrics
from .traffic import TrafficModel

ALARM, OK, INSUFFICIENT_DATA = "ALARM", "OK", "INSUFFICIENT_DATA"

_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


@dataclass(frozen=True)
class Evaluation:
    state: str
    reason: str
    # Wall-clock ms at which this evaluation happened (its newest period's publishing).
    at_ms: int


def evaluate_metric_alarm(model: TrafficModel, alarm: Any, now_ms: int) -> Evaluation | None:
    """The state of a metric alarm on the model's metrics at `now_ms`, or None when the alarm
    is not on them (moto keeps it)."""
    if getattr(alarm, "rule", None) is not None or getattr(alarm, "metric_data_queries", None):
        return None
    query = alb_metrics.model_query(model, alarm.namespace, alarm.metric_name, alarm.dimensions, alarm.period)
    if query is None:
        return None
    stat = alarm.extended_statistic or alarm.statistic or "Average"
    n = max(1, int(alarm.evaluation_periods or 1))
    m = max(1, min(n, int(alarm.datapoints_to_alarm or n)))
    compare = _COMPARISONS.get(alarm.comparison_operator)
    if compare is None:
        return Evaluation(INSUFFICIENT_DATA, f"unsupported ComparisonOperator {alarm.comparison_operator}", now_ms)
    threshold = float(alarm.threshold)
    timing = model.timing
    bucket_ms = timing.period_ms * (query.period_seconds // 60)
    # The newest bucket whose last period is published, and the n buckets ending with it.
    newest = (now_ms - timing.publish_delay_ms - bucket_ms) // bucket_ms * bucket_ms
    oldest = newest - (n - 1) * bucket_ms
    evaluated_at = newest + bucket_ms + timing.publish_delay_ms
    present = {
        b.start_ms: alb_metrics.value(b, query.metric_name, stat)
        for b in alb_metrics.buckets(model, query, alb_metrics.timestamp(oldest),
                                     alb_metrics.timestamp(newest + 1), now_ms)
    }
    values = [present.get(oldest + i * bucket_ms) for i in range(n)]
    missing = alarm.treat_missing_data or "missing"
    datapoints = [v for v in values if v is not None]
    breaching = sum(1 for v in datapoints if compare(v, threshold))
    absent = n - len(datapoints)
    described = f"{len(datapoints)} of {n} datapoints {datapoints} vs threshold {threshold} ({stat})"
    if missing == "breaching":
        breaching += absent
    elif not datapoints:
        if missing == "notBreaching":
            return Evaluation(OK, f"no datapoints, treated as not breaching: {described}", evaluated_at)
        if missing == "ignore":
            return Evaluation(alarm.state_value, f"no datapoints, state kept: {described}", evaluated_at)
        return Evaluation(INSUFFICIENT_DATA, f"no datapoints: {described}", evaluated_at)
    if missing in ("missing", "ignore"):
        # AWS's table of missing-data cases: with fewer datapoints present than DatapointsToAlarm,
        # the alarm judges those present (`- - X - -` with 3 of 3 and `missing` is ALARM).
        m = min(m, len(datapoints))
    state = ALARM if breaching >= m else OK
    return Evaluation(state, f"{breaching} breaching (need {m}): {described}", evaluated_at)


# ---- composite alarms -------------------------------------------------------------------------


class RuleError(ValueError):
    pass


_TOKEN = re.compile(r'\s*(?:(ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*(?:"([^"]*)"|([^()\s]+))\s*\)|(AND|OR|NOT|TRUE|FALSE)\b|(\(|\)))')


def parse_rule(rule: str) -> Callable[[Callable[[str], str]], bool]:
    """An AlarmRule (`ALARM("a") AND NOT (OK(b) OR INSUFFICIENT_DATA("c"))`, TRUE, FALSE) as a
    predicate over a function giving an alarm's state. NOT binds tighter than AND, AND than OR."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = rule.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise RuleError(f"cannot parse the alarm rule at {text[pos:]!r}")
        if match[1]:
            tokens.append((match[1], _alarm_name(match[2] if match[2] is not None else match[3])))
        else:
            tokens.append((match[4] or match[5], ""))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    parser = _RuleParser(tokens)
    predicate = parser.disjunction()
    if parser.pos != len(tokens):
        raise RuleError(f"unexpected {tokens[parser.pos][0]} in the alarm rule")
    return predicate


def rule_children(rule: str) -> list[str]:
    return [_alarm_name(m[2] if m[2] is not None else m[3]) for m in _TOKEN.finditer(rule) if m[1]]


def _alarm_name(name_or_arn: str) -> str:
    # An ALARM() argument may be the alarm's ARN: arn:aws:cloudwatch:region:account:alarm:NAME
    if name_or_arn.startswith("arn:") and ":alarm:" in name_or_arn:
        return name_or_arn.split(":alarm:", 1)[1]
    return name_or_arn


Predicate = Callable[[Callable[[str], str]], bool]


class _RuleParser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def disjunction(self) -> Predicate:
        terms = [self.conjunction()]
        while self._peek() == "OR":
            self.pos += 1
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else (lambda state: any(t(state) for t in terms))

    def conjunction(self) -> Predicate:
        terms = [self.negation()]
        while self._peek() == "AND":
            self.pos += 1
            terms.append(self.negation())
        return terms[0] if len(terms) == 1 else (lambda state: all(t(state) for t in terms))

    def negation(self) -> Predicate:
        if self._peek() == "NOT":
            self.pos += 1
            inner = self.negation()
            return lambda state: not inner(state)
        return self.atom()

    def atom(self) -> Predicate:
        token = self._peek()
        if token is None:
            raise RuleError("the alarm rule ends too early")
        kind, name = self.tokens[self.pos]
        self.pos += 1
        if kind == "(":
            inner = self.disjunction()
            if self._peek() != ")":
                raise RuleError("missing ) in the alarm rule")
            self.pos += 1
            return inner
        if kind in (ALARM, OK, INSUFFICIENT_DATA):
            return lambda state: state(name) == kind
        if kind in ("TRUE", "FALSE"):
            return lambda state: kind == "TRUE"
        raise RuleError(f"unexpected {kind} in the alarm rule")


def evaluate_composite(rule: str, state_of: Callable[[str], str | None]) -> tuple[str, str]:
    """ALARM when the rule is true, OK when false; INSUFFICIENT_DATA when a child is missing
    (AWS cannot evaluate the rule then)."""
    children = rule_children(rule)
    missing = [c for c in children if state_of(c) is None]
    if missing:
        return INSUFFICIENT_DATA, f"alarms in the rule do not exist: {missing}"
    predicate = parse_rule(rule)
    true = predicate(lambda name: state_of(name) or INSUFFICIENT_DATA)
    states = {c: state_of(c) for c in children}
    return (ALARM if true else OK), f"rule {'true' if true else 'false'} with {states}"
