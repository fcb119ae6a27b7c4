"""CloudWatch's `AWS/ApplicationELB` metrics of the traffic model's target groups: which queries
the model answers, and the datapoints it answers them with.

A query is the model's when its namespace is AWS/ApplicationELB, its metric one of the four the
model produces and its dimensions exactly TargetGroup + LoadBalancer, with a target group the
model has carried traffic for; anything else stays moto's. A query's Period is in AWS seconds
(a multiple of 60) and maps to that many scaled periods; a bucket of several periods is
published once its last period is.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .traffic import Period, TrafficModel

NAMESPACE = "AWS/ApplicationELB"
COUNT_METRICS = {
    "RequestCount": lambda p: p.requests,
    "HTTPCode_Target_5XX_Count": lambda p: p.target_5xx,
    "HTTPCode_ELB_5XX_Count": lambda p: p.elb_5xx,
}
LATENCY_METRIC = "TargetResponseTime"
METRICS = {*COUNT_METRICS, LATENCY_METRIC}
_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d+)?)$")


def dimension_of(arn: str) -> str:
    """`targetgroup/name/id` and `app/name/id`: the resource part of the ARN, as AWS's
    dimensions (and the provider's `cloudwatch_dimension_of`)."""
    parts = arn.split(":", 5)
    resource = parts[5] if len(parts) == 6 else arn
    return resource.removeprefix("loadbalancer/")


@dataclass(frozen=True)
class MetricQuery:
    target_group_arn: str
    metric_name: str
    period_seconds: int


def model_query(model: TrafficModel, namespace: Any, metric_name: Any, dimensions: Any,
                period: Any) -> MetricQuery | None:
    """The query as the model's, or None when it is moto's."""
    if namespace != NAMESPACE or metric_name not in METRICS:
        return None
    dims = _dimensions(dimensions)
    if dims is None or set(dims) != {"TargetGroup", "LoadBalancer"}:
        return None
    for arn, lb in model.known_groups().items():
        if dimension_of(arn) == dims["TargetGroup"] and dimension_of(lb) == dims["LoadBalancer"]:
            return MetricQuery(arn, metric_name, _period_seconds(period))
    return None


def _dimensions(dimensions: Any) -> dict[str, str] | None:
    if not isinstance(dimensions, list):
        return None
    out = {}
    for d in dimensions:
        name = d.get("Name") if isinstance(d, dict) else getattr(d, "name", None)
        value = d.get("Value") if isinstance(d, dict) else getattr(d, "value", None)
        if name is None or value is None or name in out:
            return None
        out[name] = value
    return out


def _period_seconds(period: Any) -> int:
    try:
        seconds = int(period)
    except (TypeError, ValueError):
        seconds = 60
    return max(60, seconds // 60 * 60)


@dataclass(frozen=True)
class Bucket:
    """One datapoint's worth of periods (one period for Period=60)."""

    start_ms: int
    periods: list[Period]

    @property
    def requests(self) -> int:
        return sum(p.requests for p in self.periods)

    def count(self, metric_name: str) -> int:
        return sum(COUNT_METRICS[metric_name](p) for p in self.periods)

    def _latency_weights(self) -> list[tuple[Period, int]]:
        return [(p, p.served) for p in self.periods if p.latency_ms is not None]

    def served(self) -> int:
        return sum(p.served for p in self.periods)

    def percentile_seconds(self, q: float) -> float | None:
        weighted = [(p.percentile_ms(q), w) for p, w in self._latency_weights()]
        return _geometric_mean(weighted)

    def average_seconds(self) -> float | None:
        weighted = [(p.average_latency_ms, w) for p, w in self._latency_weights()]
        total = sum(w for _, w in weighted)
        if not weighted or total <= 0:
            return None
        return sum(v * w for v, w in weighted if v is not None) / total / 1000.0


def _geometric_mean(weighted: list[tuple[float | None, int]]) -> float | None:
    total = sum(w for v, w in weighted if v is not None)
    if total <= 0:
        return None
    return math.exp(sum(math.log(v) * w for v, w in weighted if v is not None) / total) / 1000.0


def buckets(model: TrafficModel, query: MetricQuery, start: datetime, end: datetime,
            now_ms: int | None = None) -> list[Bucket]:
    """The query's published buckets with start in [StartTime rounded down to the bucket, EndTime)."""
    period_ms = model.timing.period_ms
    per_bucket = query.period_seconds // 60
    bucket_ms = period_ms * per_bucket
    start_ms = to_ms(start) // bucket_ms * bucket_ms
    end_ms = to_ms(end)
    now = model.wall_ms() if now_ms is None else now_ms
    grouped: dict[int, list[Period]] = {}
    for period in model.published(query.target_group_arn, now):
        bucket_start = period.start_ms // bucket_ms * bucket_ms
        if start_ms <= bucket_start < end_ms and model.timing.published_at(bucket_start + bucket_ms - period_ms) <= now:
            grouped.setdefault(bucket_start, []).append(period)
    return [Bucket(s, grouped[s]) for s in sorted(grouped)]


def value(bucket: Bucket, metric_name: str, stat: str) -> float | None:
    """The statistic of the bucket (None: no datapoint). Count metrics are one sample per
    period; TargetResponseTime is one sample per request that reached a target."""
    if metric_name in COUNT_METRICS:
        count = bucket.count(metric_name)
        if count == 0:
            return None  # AWS publishes no datapoint for a count of zero
        samples = len(bucket.periods)
        per_period = [COUNT_METRICS[metric_name](p) for p in bucket.periods]
        return {"Sum": float(count), "SampleCount": float(samples), "Average": count / samples,
                "Minimum": float(min(per_period)), "Maximum": float(max(per_period))}.get(
            stat, _count_percentile(per_period, stat))
    served = bucket.served()
    if served == 0:
        return None
    if stat == "Average":
        return bucket.average_seconds()
    if stat == "SampleCount":
        return float(served)
    if stat == "Sum":
        average = bucket.average_seconds()
        return None if average is None else average * served
    if stat == "Minimum":
        return bucket.percentile_seconds(0.1)
    if stat == "Maximum":
        return bucket.percentile_seconds(99.9)
    q = percentile_of(stat)
    return None if q is None else bucket.percentile_seconds(q)


def _count_percentile(per_period: list[int], stat: str) -> float | None:
    q = percentile_of(stat)
    if q is None:
        return None
    ordered = sorted(per_period)
    return float(ordered[min(len(ordered) - 1, int(q / 100.0 * len(ordered)))])


def percentile_of(stat: str) -> float | None:
    match = _PERCENTILE.match(stat or "")
    return float(match[1]) if match else None


def unit_of(metric_name: str) -> str:
    return "Seconds" if metric_name == LATENCY_METRIC else "Count"


def timestamp(start_ms: int) -> datetime:
    return datetime.fromtimestamp(start_ms / 1000.0, tz=timezone.utc)


def to_ms(t: Any) -> int:
    """A request's time (datetime, epoch seconds or ISO 8601 text) in wall-clock milliseconds."""
    if isinstance(t, datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=timezone.utc)
        return int(round(t.timestamp() * 1000))
    if isinstance(t, (int, float)):
        return int(t * 1000)
    text = str(t)
    try:
        return int(round(float(text) * 1000))
    except ValueError:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return to_ms(parsed)


# ---- the two read APIs ----------------------------------------------------------------------


def metric_statistics(model: TrafficModel, query: MetricQuery, start: Any, end: Any,
                      statistics: list[str], extended: list[str]) -> dict[str, Any]:
    """GetMetricStatistics' result (datapoints ascending by time)."""
    datapoints = []
    for bucket in buckets(model, query, _datetime(start), _datetime(end)):
        point: dict[str, Any] = {"Timestamp": timestamp(bucket.start_ms), "Unit": unit_of(query.metric_name)}
        present = False
        for stat in statistics:
            v = value(bucket, query.metric_name, stat)
            if v is not None:
                point[stat] = v
                present = True
        ext = {}
        for stat in extended:
            v = value(bucket, query.metric_name, stat)
            if v is not None:
                ext[stat] = v
        if ext:
            point["ExtendedStatistics"] = ext
            present = True
        if present:
            datapoints.append(point)
    return {"Label": query.metric_name, "Datapoints": datapoints}


def metric_data_result(model: TrafficModel, query_id: str, label: str | None, query: MetricQuery, stat: str,
                       start: Any, end: Any, descending: bool) -> dict[str, Any]:
    """One MetricDataResult, in moto's result shape."""
    timestamps, values = [], []
    for bucket in buckets(model, query, _datetime(start), _datetime(end)):
        v = value(bucket, query.metric_name, stat)
        if v is not None:
            timestamps.append(timestamp(bucket.start_ms))
            values.append(v)
    if descending:
        timestamps.reverse()
        values.reverse()
    return {"id": query_id, "label": label or f"{query.metric_name} {stat}", "values": values,
            "timestamps": timestamps, "status_code": "Complete"}


def _datetime(t: Any) -> datetime:
    return timestamp(to_ms(t))
