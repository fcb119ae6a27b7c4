"""The traffic model: requests a test says a load balancer receives, turned into the one-minute
CloudWatch periods AWS would publish for each target group.

Pure logic: no moto, no HTTP, no time.* calls. Wall-clock milliseconds come from the clock
passed in; what a listener forwards where, and whether a target group has a healthy target,
come from the `World` passed in (patches_cloudwatch.py reads them from moto and the health
model).

How a period's figures come about:
- `advance(now)` integrates the traffic since the last call: each source's rate (requests per
  AWS second) times the elapsed AWS seconds, split between target groups by the listener's
  weights at that moment. A target group with no healthy target gets its share all the same and
  answers it as ELB 5xx. Integration is cut at period boundaries, so a period under constant
  conditions receives exactly rate × 60 expected requests.
- When a period is published (its end + the publishing delay has passed) its counts are drawn
  from its expected figures with a random generator seeded by (seed, target group, period
  start): a run with the same seed and the same weights over time replays exactly.
- Latency: each period's p50/p90/p99 are the profile's, multiplied by one lognormal noise
  factor (sigma = latency_noise), so the percentiles keep their order.

Timing (period length, alignment, delay) matches the engine's `MetricTiming::scaled(scale)`
in rollout/src/metrics.rs: lengths are AWS durations × scale rounded half away from zero to
whole milliseconds, periods start at whole multiples of the period since the Unix epoch.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Protocol

AWS_PERIOD_MS = 60_000
# The ticker's resolution: an unforced advance integrates no shorter step.
_MIN_STEP_MS = 10
AWS_PUBLISH_DELAY_MS = 90_000
_QUANTILES = (50.0, 90.0, 99.0)
_Z = {q: NormalDist().inv_cdf(q / 100.0) for q in _QUANTILES}


class TrafficError(ValueError):
    """A traffic body the model cannot use (answered as HTTP 400)."""


def scaled_ms(aws_ms: int, scale: float) -> int:
    """As Rust's `(ms as f64 * scale).round()` (half away from zero), at least 1 ms."""
    return max(1, math.floor(aws_ms * scale + 0.5))


@dataclass(frozen=True)
class Timing:
    period_ms: int
    publish_delay_ms: int

    @staticmethod
    def scaled(scale: float) -> Timing:
        return Timing(scaled_ms(AWS_PERIOD_MS, scale), scaled_ms(AWS_PUBLISH_DELAY_MS, scale))

    def period_start(self, t_ms: int) -> int:
        return t_ms // self.period_ms * self.period_ms

    def published_at(self, start_ms: int) -> int:
        return start_ms + self.period_ms + self.publish_delay_ms


@dataclass(frozen=True)
class Profile:
    """How one target group answers its requests."""

    target_5xx_ratio: float = 0.0
    elb_5xx_ratio: float = 0.0
    latency_ms: tuple[float, float, float] = (40.0, 80.0, 120.0)  # p50, p90, p99
    latency_noise: float = 0.0

    @staticmethod
    def from_json(body: Any, where: str) -> Profile:
        if body is None:
            return Profile()
        if not isinstance(body, dict):
            raise TrafficError(f"{where}: a profile is an object, got {body!r}")
        unknown = set(body) - {"target_5xx_ratio", "elb_5xx_ratio", "latency_ms", "latency_noise"}
        if unknown:
            raise TrafficError(f"{where}: unknown fields {sorted(unknown)}")
        target = _number(body, "target_5xx_ratio", 0.0, where)
        elb = _number(body, "elb_5xx_ratio", 0.0, where)
        if not (0 <= target <= 1 and 0 <= elb <= 1 and target + elb <= 1):
            raise TrafficError(f"{where}: 5xx ratios must be in 0..1 and sum to at most 1")
        latency = body.get("latency_ms", {"p50": 40, "p90": 80, "p99": 120})
        if not isinstance(latency, dict) or set(latency) != {"p50", "p90", "p99"}:
            raise TrafficError(f"{where}: latency_ms must be {{\"p50\": .., \"p90\": .., \"p99\": ..}}")
        p50, p90, p99 = (_number(latency, k, 0.0, where) for k in ("p50", "p90", "p99"))
        if not 0 < p50 <= p90 <= p99:
            raise TrafficError(f"{where}: latency_ms needs 0 < p50 <= p90 <= p99")
        noise = _number(body, "latency_noise", 0.0, where)
        if noise < 0:
            raise TrafficError(f"{where}: latency_noise must be >= 0")
        return Profile(target, elb, (p50, p90, p99), noise)

    def to_json(self) -> dict[str, Any]:
        p50, p90, p99 = self.latency_ms
        return {"target_5xx_ratio": self.target_5xx_ratio, "elb_5xx_ratio": self.elb_5xx_ratio,
                "latency_ms": {"p50": p50, "p90": p90, "p99": p99}, "latency_noise": self.latency_noise}


def _number(body: dict[str, Any], name: str, default: float, where: str) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TrafficError(f"{where}: {name} must be a number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Source:
    """Requests arriving at a listener (split by its weights) or at one target group."""

    requests_per_second: float
    seed: int
    listener_arn: str | None = None
    target_group_arn: str | None = None
    load_balancer_arn: str | None = None  # for a target-group source
    profiles: dict[str, Profile] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.listener_arn or self.target_group_arn or ""

    def profile(self, target_group_arn: str) -> Profile:
        return self.profiles.get(target_group_arn, Profile())

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"requests_per_second": self.requests_per_second, "seed": self.seed,
                                "target_groups": {arn: p.to_json() for arn, p in self.profiles.items()}}
        if self.listener_arn:
            body["listener_arn"] = self.listener_arn
        else:
            body["target_group_arn"] = self.target_group_arn
            body["load_balancer_arn"] = self.load_balancer_arn
        return body


def parse_source(body: Any) -> Source:
    """`{"listener_arn", "requests_per_second", "seed", "target_groups": {arn: profile}}` or
    `{"target_group_arn", "load_balancer_arn"?, "requests_per_second", "seed", profile fields}`."""
    if not isinstance(body, dict):
        raise TrafficError("the body must be a JSON object")
    rps = _number(body, "requests_per_second", -1.0, "traffic")
    if rps < 0:
        raise TrafficError("traffic: requests_per_second must be a number >= 0")
    seed = body.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TrafficError(f"traffic: seed must be an integer, got {seed!r}")
    listener_arn, target_group_arn = body.get("listener_arn"), body.get("target_group_arn")
    if bool(listener_arn) == bool(target_group_arn):
        raise TrafficError("traffic: give exactly one of listener_arn and target_group_arn")
    if listener_arn:
        unknown = set(body) - {"listener_arn", "requests_per_second", "seed", "target_groups"}
        if unknown:
            raise TrafficError(f"traffic: unknown fields {sorted(unknown)}")
        groups = body.get("target_groups", {})
        if not isinstance(groups, dict):
            raise TrafficError("traffic: target_groups must be an object {arn: profile}")
        profiles = {arn: Profile.from_json(p, f"target_groups[{arn}]") for arn, p in groups.items()}
        return Source(rps, seed, listener_arn=str(listener_arn), profiles=profiles)
    profile_fields = {k: v for k, v in body.items()
                      if k not in ("target_group_arn", "load_balancer_arn", "requests_per_second", "seed")}
    profile = Profile.from_json(profile_fields, "traffic")
    lb = body.get("load_balancer_arn")
    return Source(rps, seed, target_group_arn=str(target_group_arn),
                  load_balancer_arn=str(lb) if lb else None, profiles={str(target_group_arn): profile})


class World(Protocol):
    """What the model reads from the load balancer."""

    def forward_weights(self, listener_arn: str) -> tuple[str, dict[str, int]] | None:
        """(load balancer ARN, {target group ARN: weight}) of the listener's forward action, or
        None when the listener is gone."""

    def load_balancer_of(self, target_group_arn: str) -> str | None: ...

    def healthy_target_groups(self) -> set[str]:
        """The target groups with at least one healthy target."""


# What the traffic was like during part of a period: (requests per AWS second, weight, total
# weight, has a healthy target, profile).
_Conditions = tuple[float, int, int, bool, "Profile"]


@dataclass
class _Accumulated:
    """One period of one target group, as integrated so far: how many wall-clock ms it spent
    under each set of conditions. Integer ms, so that a period under constant conditions sums
    to exactly the same figures however the ticks were spaced (floats would differ in the last
    bits, and the draw with them)."""

    load_balancer_arn: str
    seed: int
    exposure_ms: dict[_Conditions, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Period:
    """One published period of one target group: what CloudWatch holds for it."""

    target_group_arn: str
    load_balancer_arn: str
    start_ms: int
    end_ms: int
    published_at_ms: int
    requests: int
    target_5xx: int
    elb_5xx: int
    # Requests that reached a target (the rest were answered by the load balancer: no healthy
    # target); only these have a TargetResponseTime.
    served: int
    # p50, p90, p99 of TargetResponseTime in ms; None when no request reached a target.
    latency_ms: tuple[float, float, float] | None

    def percentile_ms(self, q: float) -> float | None:
        """Any percentile, interpolating log-latency linearly in the normal quantile between
        the three known ones (exact at p50/p90/p99; a lognormal between them)."""
        if self.latency_ms is None:
            return None
        q = min(max(q, 0.01), 99.99)
        z = NormalDist().inv_cdf(q / 100.0)
        points = [(_Z[k], math.log(v)) for k, v in zip(_QUANTILES, self.latency_ms)]
        (z0, l0), (z1, l1) = (points[0], points[1]) if z <= points[1][0] else (points[1], points[2])
        slope = (l1 - l0) / (z1 - z0)
        return math.exp(l0 + slope * (z - z0))

    @property
    def average_latency_ms(self) -> float | None:
        """The mean of the lognormal through p50 and p99."""
        if self.latency_ms is None:
            return None
        p50, _, p99 = self.latency_ms
        sigma = math.log(p99 / p50) / _Z[99.0]
        return p50 * math.exp(sigma * sigma / 2)

    def to_json(self) -> dict[str, Any]:
        latency = None
        if self.latency_ms is not None:
            p50, p90, p99 = self.latency_ms
            latency = {"p50": p50, "p90": p90, "p99": p99, "average": self.average_latency_ms}
        return {"target_group_arn": self.target_group_arn, "load_balancer_arn": self.load_balancer_arn,
                "start_ms": self.start_ms, "end_ms": self.end_ms, "published_at_ms": self.published_at_ms,
                "requests": self.requests, "target_5xx": self.target_5xx, "elb_5xx": self.elb_5xx,
                "served": self.served, "latency_ms": latency}


class TrafficModel:
    def __init__(self, wall_ms: Callable[[], int], time_scale: float, world: World) -> None:
        if not time_scale > 0:
            raise ValueError(f"time_scale must be positive, got {time_scale}")
        self.wall_ms = wall_ms
        self.time_scale = time_scale
        self.timing = Timing.scaled(time_scale)
        self.world = world
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._sources: dict[str, Source] = {}
            self._accumulated: dict[tuple[str, int], _Accumulated] = {}
            self._published: dict[tuple[str, int], Period | None] = {}
            self._known: dict[str, str] = {}  # target group ARN -> its load balancer ARN
            self._last_ms: int | None = None

    # ---- control ---------------------------------------------------------------------------

    def set_source(self, source: Source) -> dict[str, Any]:
        with self._lock:
            now = self.wall_ms()
            self.advance(now, force=True)
            if self._last_ms is None:
                self._last_ms = now
            if source.target_group_arn and not source.load_balancer_arn:
                lb = self.world.load_balancer_of(source.target_group_arn)
                if lb is None:
                    raise TrafficError(f"target group {source.target_group_arn} is behind no load balancer: "
                                       "give load_balancer_arn")
                source = Source(source.requests_per_second, source.seed, target_group_arn=source.target_group_arn,
                                load_balancer_arn=lb, profiles=source.profiles)
            if source.listener_arn and self.world.forward_weights(source.listener_arn) is None:
                raise TrafficError(f"no listener {source.listener_arn}")
            # A target group takes its traffic from one source: the newest one naming it.
            for key, other in list(self._sources.items()):
                if key != source.key and source.target_group_arn and other.target_group_arn == source.target_group_arn:
                    del self._sources[key]
            self._sources[source.key] = source
            for arn, lb in self._groups_of(source).items():
                self._known[arn] = lb
            return source.to_json()

    def stop_source(self, key: str) -> bool:
        """Stops the source of this listener or target group; what it published stays."""
        with self._lock:
            self.advance(force=True)
            return self._sources.pop(key, None) is not None

    def sources(self) -> list[dict[str, Any]]:
        with self._lock:
            return [s.to_json() for s in self._sources.values()]

    def knows(self, target_group_arn: str) -> bool:
        """Whether the model publishes this target group's metrics (it received traffic from a
        source at some point since the last reset)."""
        with self._lock:
            return target_group_arn in self._known

    def known_groups(self) -> dict[str, str]:
        with self._lock:
            return dict(self._known)

    # ---- integration -----------------------------------------------------------------------

    def advance(self, now_ms: int | None = None, force: bool = False) -> None:
        """Integrate every source's traffic from the last call to `now_ms` under the current
        weights and health (called with `force` before anything changes them, and by the
        server's ticker and before every request, where steps under _MIN_STEP_MS are left for
        the next call: a burst of requests need not re-read the load balancer each time)."""
        with self._lock:
            now = self.wall_ms() if now_ms is None else now_ms
            last = self._last_ms
            if last is not None and not force and now - last < _MIN_STEP_MS:
                return
            self._last_ms = max(now, last or now)
            if last is None or now <= last or not self._sources:
                return
            healthy = self.world.healthy_target_groups()
            splits = [(source, self._split(source, healthy)) for source in self._sources.values()]
            t = last
            while t < now:
                start = self.timing.period_start(t)
                segment_end = min(now, start + self.timing.period_ms)
                for source, split in splits:
                    for arn, (lb, weight, total, healthy_now) in split.items():
                        conditions = (source.requests_per_second, weight, total, healthy_now, source.profile(arn))
                        self._add(source.seed, arn, lb, start, segment_end - t, conditions)
                t = segment_end

    def _split(self, source: Source, healthy: set[str]) -> dict[str, tuple[str, int, int, bool]]:
        """{target group: (load balancer, weight, total weight, has a healthy target)}."""
        if source.requests_per_second <= 0:
            return {}
        if source.target_group_arn:
            arn = source.target_group_arn
            return {arn: (source.load_balancer_arn or "", 1, 1, arn in healthy)}
        forward = self.world.forward_weights(source.listener_arn or "")
        if forward is None:
            return {}
        lb, weights = forward
        total = sum(w for w in weights.values() if w > 0)
        if total <= 0:
            return {}
        return {arn: (lb, w, total, arn in healthy) for arn, w in weights.items() if w > 0}

    def _groups_of(self, source: Source) -> dict[str, str]:
        if source.target_group_arn:
            return {source.target_group_arn: source.load_balancer_arn or ""}
        forward = self.world.forward_weights(source.listener_arn or "")
        groups = {}
        if forward is not None:
            lb, weights = forward
            groups = {arn: lb for arn in weights}
            groups.update({arn: lb for arn in source.profiles})
        return groups

    def _add(self, seed: int, arn: str, lb: str, start: int, ms: int, conditions: _Conditions) -> None:
        self._known.setdefault(arn, lb)
        acc = self._accumulated.get((arn, start))
        if acc is None:
            acc = self._accumulated[(arn, start)] = _Accumulated(lb, seed)
        acc.seed = seed
        acc.exposure_ms[conditions] = acc.exposure_ms.get(conditions, 0) + ms

    # ---- publication -----------------------------------------------------------------------

    def published(self, target_group_arn: str, now_ms: int | None = None) -> list[Period]:
        """The target group's published periods with requests, ascending by start."""
        with self._lock:
            now = self.wall_ms() if now_ms is None else now_ms
            self.advance(now, force=True)
            periods = []
            for (arn, start) in sorted(k for k in self._accumulated if k[0] == target_group_arn):
                period = self._period(arn, start, now)
                if period is not None:
                    periods.append(period)
            return periods

    def latest_published_start(self, now_ms: int) -> int:
        """Start of the newest period whose figures are published at `now_ms`."""
        t = self.timing
        return t.period_start(now_ms - t.period_ms - t.publish_delay_ms)

    def _period(self, arn: str, start: int, now: int) -> Period | None:
        if self.timing.published_at(start) > now:
            return None
        key = (arn, start)
        if key not in self._published:
            acc = self._accumulated.get(key)
            self._published[key] = None if acc is None else self._draw(arn, start, acc)
        return self._published[key]

    def _draw(self, arn: str, start: int, acc: _Accumulated) -> Period | None:
        digest = hashlib.sha256(f"{acc.seed}|{arn}|{start}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        expected_served, expected_rejected = 0.0, 0.0
        profiles: dict[Profile, float] = {}  # served requests expected under each profile
        for (rps, weight, total, healthy, profile), ms in acc.exposure_ms.items():
            requests = rps * ms / 1000.0 / self.time_scale * weight / total
            if healthy:
                expected_served += requests
                profiles[profile] = profiles.get(profile, 0.0) + requests
            else:
                expected_rejected += requests
        served = _poisson(rng, expected_served)
        rejected = _poisson(rng, expected_rejected)
        if served + rejected == 0:
            return None
        mix = _mixed(profiles)
        target_5xx = _binomial(rng, served, mix.target_5xx_ratio)
        rest = served - target_5xx
        target_ratio = mix.target_5xx_ratio
        elb_5xx = _binomial(rng, rest, mix.elb_5xx_ratio / (1 - target_ratio) if target_ratio < 1 else 0.0) + rejected
        latency = None
        if served > 0:
            sigma = mix.latency_noise
            factor = math.exp(rng.gauss(0.0, sigma)) if sigma > 0 else 1.0
            p50, p90, p99 = (v * factor for v in mix.latency_ms)
            latency = (p50, max(p50, p90), max(p50, p90, p99))
        return Period(arn, acc.load_balancer_arn, start, start + self.timing.period_ms,
                      self.timing.published_at(start), served + rejected, target_5xx, elb_5xx, served, latency)


def _mixed(profiles: dict[Profile, float]) -> Profile:
    """The profile of a period whose served requests came under several profiles (a change of
    profile mid-period): ratios weighted by requests, latencies by geometric mean. One profile
    is returned as it is."""
    weighted = [(p, w) for p, w in profiles.items() if w > 0]
    if len(weighted) == 1:
        return weighted[0][0]
    total = sum(w for _, w in weighted)
    if total <= 0:
        return Profile()

    def mean(value: Callable[[Profile], float]) -> float:
        return sum(value(p) * w for p, w in weighted) / total

    latency = tuple(math.exp(mean(lambda p, i=i: math.log(p.latency_ms[i]))) for i in range(3))
    return Profile(mean(lambda p: p.target_5xx_ratio), mean(lambda p: p.elb_5xx_ratio),
                   latency, mean(lambda p: p.latency_noise))  # type: ignore[arg-type]


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean < 30:  # Knuth: exact for small means
        limit, k, product = math.exp(-mean), 0, rng.random()
        while product > limit:
            k += 1
            product *= rng.random()
        return k
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


def _binomial(rng: random.Random, n: int, p: float) -> int:
    if n <= 0 or p <= 0:
        return 0
    if p >= 1:
        return n
    if n < 100:
        return sum(1 for _ in range(n) if rng.random() < p)
    mean = n * p
    return min(n, max(0, round(rng.gauss(mean, math.sqrt(mean * (1 - p))))))
