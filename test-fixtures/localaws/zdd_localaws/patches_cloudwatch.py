"""Layer the traffic model (traffic.py) over moto 5.2.1's CloudWatch and ELBv2.

- GetMetricStatistics and GetMetricData: the model answers the AWS/ApplicationELB queries on the
  target groups it carries traffic for (alb_metrics.py); moto answers the rest.
- DescribeAlarms: alarms on the model's metrics and composite alarms are evaluated first
  (alarms.py); `AlarmTypes` is honoured (default: metric alarms only, as AWS).
- PutCompositeAlarm: missing in moto; stored as moto stores a composite alarm created through
  CloudFormation (an Alarm with a `rule`).
- SetAlarmState: as moto, and the state holds until the alarm's next evaluation.
- ModifyListener: the traffic up to the change is integrated under the old weights first.

Patched at the response layer so one implementation serves the query (XML) protocol the Rust
SDK speaks and the JSON protocol boto3 speaks.
"""

from __future__ import annotations

import json
import time
from typing import Any

from moto.cloudwatch import responses as cw_responses
from moto.cloudwatch.exceptions import InvalidParameterCombination, ValidationError
from moto.core.responses import ActionResult, EmptyResult
from moto.elbv2 import models as elbv2_models

from . import alarms, alb_metrics
from .model import HealthModel
from .paging import PagingError, page
from .traffic import TrafficModel

PATCHED = [
    (cw_responses.CloudWatchResponse, "get_metric_statistics"),
    (cw_responses.CloudWatchResponse, "get_metric_data"),
    (cw_responses.CloudWatchResponse, "describe_alarms"),
    (cw_responses.CloudWatchResponse, "set_alarm_state"),
    (elbv2_models.ELBv2Backend, "modify_listener"),
]


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class MotoWorld:
    """The traffic model's view of moto's load balancers and the health model."""

    def __init__(self, health: HealthModel) -> None:
        self.health = health

    @staticmethod
    def _elbv2(arn: str) -> Any:
        parts = arn.split(":")
        if len(parts) < 6:
            return None
        try:
            return elbv2_models.elbv2_backends[parts[4]][parts[3]]
        except KeyError:
            return None

    def forward_weights(self, listener_arn: str) -> tuple[str, dict[str, int]] | None:
        backend = self._elbv2(listener_arn)
        if backend is None:
            return None
        # arn:...:listener/app/NAME/LB_ID/LISTENER_ID belongs to arn:...:loadbalancer/app/NAME/LB_ID
        # (a direct lookup: this runs for every source on every tick).
        lb_arn = listener_arn.replace(":listener/", ":loadbalancer/", 1).rsplit("/", 1)[0]
        balancer = backend.load_balancers.get(lb_arn)
        listener = None if balancer is None else balancer.listeners.get(listener_arn)
        if listener is None:
            return None
        weights: dict[str, int] = {}
        for action in listener.default_actions:
            data = getattr(action, "data", {})
            if data.get("Type") != "forward":
                continue
            groups = data.get("ForwardConfig", {}).get("TargetGroups") or []
            if groups:
                for group in groups:
                    weights[group["TargetGroupArn"]] = int(group.get("Weight", 1))
            elif data.get("TargetGroupArn"):
                weights[data["TargetGroupArn"]] = 1
        return listener.load_balancer_arn, weights

    def load_balancer_of(self, target_group_arn: str) -> str | None:
        backend = self._elbv2(target_group_arn)
        group = None if backend is None else backend.target_groups.get(target_group_arn)
        if group is None or not group.load_balancer_arns:
            return None
        return group.load_balancer_arns[0]

    def healthy_target_groups(self) -> set[str]:
        return self.health.healthy_target_groups()


class AlarmHolds:
    """Alarms whose state a test set (SetAlarmState): the wall-clock ms it was set at."""

    def __init__(self) -> None:
        self.set_at: dict[str, int] = {}

    def clear(self) -> None:
        self.set_at.clear()


_MARK = "_zdd_localaws_cw_original"


def _original(cls: type, name: str) -> Any:
    return getattr(cls, f"{_MARK}_{name}")


def check_patch_points() -> list[str]:
    return [f"{cls.__module__}.{cls.__name__}.{name}" for cls, name in PATCHED if not hasattr(cls, name)]


def install(traffic: TrafficModel, holds: AlarmHolds) -> None:
    """Apply the patches (idempotent: a second call re-targets them)."""
    missing = check_patch_points()
    if missing:
        raise RuntimeError("zdd_localaws cannot patch this moto: missing " + ", ".join(missing))
    for cls, name in PATCHED:
        if not hasattr(cls, f"{_MARK}_{name}"):
            setattr(cls, f"{_MARK}_{name}", getattr(cls, name))
    _install_metrics(traffic)
    _install_alarms(traffic, holds)
    _install_elbv2(traffic)


# ---- metrics ----------------------------------------------------------------------------------


def _install_metrics(traffic: TrafficModel) -> None:
    response_cls = cw_responses.CloudWatchResponse
    orig_statistics = _original(response_cls, "get_metric_statistics")
    orig_data = _original(response_cls, "get_metric_data")

    def get_metric_statistics(self: Any) -> Any:
        query = alb_metrics.model_query(
            traffic, self._get_param("Namespace"), self._get_param("MetricName"),
            self._get_param("Dimensions", []), self._get_param("Period"),
        )
        if query is None:
            return orig_statistics(self)
        statistics = self._get_param("Statistics", []) or []
        extended = self._get_param("ExtendedStatistics", []) or []
        if not statistics and not extended:
            raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics")
        start, end = self._get_param("StartTime"), self._get_param("EndTime")
        if alb_metrics.to_ms(start) >= alb_metrics.to_ms(end):
            raise ValidationError("The parameter StartTime must be less than the parameter EndTime.")
        return ActionResult(alb_metrics.metric_statistics(traffic, query, start, end, statistics, extended))

    def get_metric_data(self: Any) -> Any:
        params = self._get_params()
        queries = params.get("MetricDataQueries", []) or []
        ours = {}
        for q in queries:
            stat = q.get("MetricStat")
            if not stat:
                continue
            metric = stat.get("Metric", {})
            query = alb_metrics.model_query(traffic, metric.get("Namespace"), metric.get("MetricName"),
                                            metric.get("Dimensions", []), stat.get("Period"))
            if query is not None:
                ours[q["Id"]] = (q, query)
        if not ours:
            return orig_data(self)
        start, end = params["StartTime"], params["EndTime"]
        if alb_metrics.to_ms(start) >= alb_metrics.to_ms(end):
            raise ValidationError("The parameter EndTime must be greater than StartTime.")
        descending = (params.get("ScanBy") or "TimestampDescending") == "TimestampDescending"
        theirs = [q for q in queries if q.get("Id") not in ours]
        moto_results = {}
        if theirs:
            backend = self.cloudwatch_backend
            for result in backend.get_metric_data(queries=theirs, start_time=start, end_time=end,
                                                  scan_by="TimestampDescending" if descending else "TimestampAscending"):
                moto_results[result["id"]] = result
        results = []
        for q in queries:
            if q.get("Id") in ours:
                if q.get("ReturnData", True) in (False, "false"):
                    continue
                raw, query = ours[q["Id"]]
                results.append(alb_metrics.metric_data_result(
                    traffic, q["Id"], raw.get("Label"), query, raw["MetricStat"].get("Stat", "Average"),
                    start, end, descending,
                ))
            elif q.get("Id") in moto_results:
                results.append(moto_results[q["Id"]])
        return ActionResult({"MetricDataResults": results})

    response_cls.get_metric_statistics = get_metric_statistics
    response_cls.get_metric_data = get_metric_data


# ---- alarms -----------------------------------------------------------------------------------


def refresh_alarms(traffic: TrafficModel, holds: AlarmHolds, backend: Any, now_ms: int) -> None:
    """Evaluate the model's metric alarms, then every composite alarm, into moto's alarms."""
    metric_alarms = [a for a in backend.alarms.values() if a.rule is None]
    for alarm in metric_alarms:
        evaluation = alarms.evaluate_metric_alarm(traffic, alarm, now_ms)
        if evaluation is None:
            continue
        held = holds.set_at.get(alarm.name)
        if held is not None and held >= evaluation.at_ms:
            continue
        holds.set_at.pop(alarm.name, None)
        _set_state(alarm, evaluation.state, evaluation.reason)
    done: dict[str, str | None] = {}

    def state_of(name: str, visiting: tuple[str, ...] = ()) -> str | None:
        alarm = backend.alarms.get(name)
        if alarm is None:
            return None
        if alarm.rule is None or name in done:
            return alarm.state_value
        if name in visiting:  # a cycle: AWS refuses it at creation; keep the current state
            return alarm.state_value
        children = alarms.rule_children(alarm.rule)
        child_states = {c: state_of(c, visiting + (name,)) for c in children}
        held = holds.set_at.get(name)
        changed_since = max((alb_metrics.to_ms(backend.alarms[c].state_updated_timestamp) for c in children
                             if c in backend.alarms), default=0)
        if held is None or changed_since > held:
            holds.set_at.pop(name, None)
            try:
                state, reason = alarms.evaluate_composite(alarm.rule, lambda c: child_states.get(c))
            except alarms.RuleError as error:
                state, reason = alarms.INSUFFICIENT_DATA, str(error)
            _set_state(alarm, state, reason)
        done[name] = alarm.state_value
        return alarm.state_value

    for name in [a.name for a in backend.alarms.values() if a.rule is not None]:
        state_of(name)


def _set_state(alarm: Any, state: str, reason: str) -> None:
    if alarm.state_value != state:
        alarm.update_state(reason, json.dumps({"zdd_localaws": reason}), state)


def _install_alarms(traffic: TrafficModel, holds: AlarmHolds) -> None:
    response_cls = cw_responses.CloudWatchResponse
    orig_set_alarm_state = _original(response_cls, "set_alarm_state")

    def describe_alarms(self: Any) -> Any:
        backend = self.cloudwatch_backend
        refresh_alarms(traffic, holds, backend, traffic.wall_ms())
        action_prefix = self._get_param("ActionPrefix")
        name_prefix = self._get_param("AlarmNamePrefix")
        names = self._get_param("AlarmNames", []) or []
        state_value = self._get_param("StateValue")
        types = self._get_param("AlarmTypes", []) or ["MetricAlarm"]
        selected = list(backend.alarms.values())
        if action_prefix:
            selected = [a for a in selected if any(x.startswith(action_prefix) for x in a.alarm_actions)]
        if name_prefix:
            selected = [a for a in selected if a.name.startswith(name_prefix)]
        if names:
            selected = [a for a in selected if a.name in names]
        if state_value:
            selected = [a for a in selected if a.state_value == state_value]
        answered = ([a for a in selected if a.rule is None] if "MetricAlarm" in types else []) + (
            [a for a in selected if a.rule is not None] if "CompositeAlarm" in types else [])
        # AWS pages DescribeAlarms (MaxRecords: 50 by default, 100 at most); moto answers all.
        try:
            answered, token = page(answered, self._get_param("NextToken"), self._get_int_param("MaxRecords"))
        except PagingError as error:
            raise ValidationError(str(error)) from error
        return ActionResult({
            "MetricAlarms": [a for a in answered if a.rule is None],
            "CompositeAlarms": [a for a in answered if a.rule is not None],
            "NextToken": token,
        })

    def set_alarm_state(self: Any) -> Any:
        answer = orig_set_alarm_state(self)
        holds.set_at[self._get_param("AlarmName")] = traffic.wall_ms()
        return answer

    def put_composite_alarm(self: Any) -> Any:
        name = self._get_param("AlarmName")
        rule = self._get_param("AlarmRule")
        if not name or not rule:
            raise ValidationError("AlarmName and AlarmRule are required.")
        try:
            alarms.parse_rule(rule)
        except alarms.RuleError as error:
            raise ValidationError(f"Invalid AlarmRule: {error}") from error
        self.cloudwatch_backend.put_metric_alarm(
            name=name, namespace=None, metric_name=None, comparison_operator=None,  # type: ignore[arg-type]
            evaluation_periods=None, period=None, threshold=None, statistic=None,  # type: ignore[arg-type]
            description=self._get_param("AlarmDescription"), dimensions=[],
            alarm_actions=self._get_param("AlarmActions", []) or [],
            ok_actions=self._get_param("OKActions", []) or [],
            insufficient_data_actions=self._get_param("InsufficientDataActions", []) or [],
            actions_enabled=self._get_bool_param("ActionsEnabled"),
            rule=rule, tags=self._get_param("Tags", []) or [],
        )
        holds.set_at.pop(name, None)
        return EmptyResult()

    response_cls.describe_alarms = describe_alarms
    response_cls.set_alarm_state = set_alarm_state
    response_cls.put_composite_alarm = put_composite_alarm


# ---- ELBv2 ------------------------------------------------------------------------------------


def _install_elbv2(traffic: TrafficModel) -> None:
    backend_cls = elbv2_models.ELBv2Backend
    orig_modify_listener = _original(backend_cls, "modify_listener")

    def modify_listener(self: Any, *args: Any, **kwargs: Any) -> Any:
        # The requests so far were split by the old weights.
        traffic.advance(force=True)
        return orig_modify_listener(self, *args, **kwargs)

    backend_cls.modify_listener = modify_listener

