"""Injected AWS faults: a test asks the local AWS to answer matching calls with an error in the
shape the real service uses, to throttle, to fail with a 5xx, to answer late, to drop the
connection, to lose the response of a call it served, or to serve reads stale, so the code under
test meets what AWS does on a bad day.

Pure: no moto, no HTTP server. `FaultSet.decide` takes the parts of a request that identify it
and answers what to do with it; `fault_shapes.render_error` builds an error response;
`consistency.py` serves stale reads. `server.py` wires them into the WSGI app.

A fault rule (the JSON body of `POST /zdd/faults`; README.md has the reference):

    {"kind": "throttle",         # error | throttle | server_error | latency | drop | lost_response
                                 # | stale_read
     "service": "autoscaling",   # the SigV4 signing name, or "*"
     "action": "SetDesiredCapacity",   # the API action, or "*"
     "match": "web-g1",          # optional: a string, or a list of which any one must occur in
                                 # the (URL-decoded) query string or body
     "access_key_id": "AKID...", # optional: only calls signed with this access key
     "skip": 2,                  # optional: let this many matching calls through first
     "probability": 0.2,         # optional (default 1): the share of matching calls it hits
     "seed": 7,                  # optional (default 0): seeds the rule's own RNG
     "error_code": "AccessDenied", "http_status": 403, "message": "...",   # error kinds
     "latency_ms": 200, "jitter_ms": 50,                                    # latency
     "stale_read_max": 10,                                                  # stale_read
     "per_second": 10, "burst": 40, "shared": true,                         # rate_limit
     "count": 3}                 # optional: hit this many calls, then retire (null: until cleared)

`rate_limit` is AWS's account-level API throttling: a token bucket of `burst` tokens refilled at
`per_second` (seconds of the local AWS's monotonic clock, not scaled: AWS's limits and the
provider's budget both count real seconds), one bucket per service and action the rule matches,
or one for all of them with `shared` (ELBv2's Describe* calls share one bucket on AWS). A call
finding its bucket empty is answered with the service's throttling error and takes no token; it
counts as a `rate_limit` fault in the stats. `service`/`action` may be glob patterns (e.g.
`"Describe*"`), as for every kind. `probability`, `skip` and `seed` do not apply to it.

Replay: each rule owns one `random.Random(seed)`, advanced by one draw per call it sees (after
`skip`), plus one more for a latency hit's jitter. The same rules and the same sequence of
matching calls give the same faults; a different order of calls (threads racing) gives a
different assignment of the same draws.
"""

from __future__ import annotations

import fnmatch
import itertools
import random
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .clock import MonotonicClock
from .consistency import STRONGLY_CONSISTENT_SERVICES
from .fault_shapes import default_shape, identify, render_error

__all__ = ["Decision", "Fault", "FaultError", "FaultSet", "FaultStats", "KINDS", "TokenBucket", "identify",
           "parse_rule", "render", "preset_rules"]

# Kinds that decide the call's answer (the first such rule hit does). `lost_response` lets
# moto serve the call (a write takes effect) and then closes the connection unanswered: the
# caller cannot tell it from `drop`, which closes it before anything is served.
ANSWERING_KINDS = ("error", "throttle", "server_error", "drop", "lost_response", "rate_limit")
KINDS = (*ANSWERING_KINDS, "latency", "stale_read")
_COMMON_FIELDS = {"kind", "service", "action", "match", "access_key_id", "skip", "count", "probability", "seed"}
_KIND_FIELDS = {
    "error": {"error_code", "http_status", "message"},
    "throttle": {"error_code", "http_status", "message"},
    "server_error": {"error_code", "http_status", "message"},
    "drop": set(),
    "lost_response": set(),
    "latency": {"latency_ms", "jitter_ms"},
    "stale_read": {"stale_read_max"},
    "rate_limit": {"per_second", "burst", "shared", "error_code", "http_status", "message"},
}
# A token bucket decides a rate_limit rule's hits: no draw, nothing to skip or seed.
_NOT_FOR_KIND = {"rate_limit": {"probability", "skip", "seed"}}
# The kinds answered with the service's throttling error unless the rule names another code.
_THROTTLING_KINDS = ("throttle", "rate_limit")


@dataclass
class TokenBucket:
    """`burst` tokens at most, refilled at `per_second`; a call takes one or is refused. Pure:
    the caller passes the clock's reading."""

    per_second: float
    burst: float
    tokens: float
    updated: float

    @classmethod
    def full(cls, per_second: float, burst: float, now: float) -> TokenBucket:
        return cls(per_second=per_second, burst=burst, tokens=burst, updated=now)

    def take(self, now: float) -> bool:
        # A clock read out of order (threads racing to the lock) refills nothing.
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.burst, self.tokens + elapsed * self.per_second)
        self.updated = max(self.updated, now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class FaultError(ValueError):
    """A malformed fault rule (answered with HTTP 400)."""


@dataclass
class Fault:
    id: str
    kind: str
    service: str
    action: str
    matches: list[str]
    error_code: str | None
    http_status: int | None
    message: str | None
    remaining: int | None
    access_key_id: str | None = None
    skip: int = 0
    probability: float = 1.0
    seed: int = 0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    stale_read_max: float = 0.0
    per_second: float = 0.0
    burst: float = 0.0
    shared: bool = False
    buckets: dict[str, TokenBucket] = field(default_factory=dict, repr=False)
    hits: int = 0
    skipped: int = 0
    misses: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def applies_to(self, service: str, action: str, text: str, access_key_id: str = "") -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if not _pattern_matches(self.service, service) or not _pattern_matches(self.action, action):
            return False
        return self.scope_matches(text, access_key_id)

    def scope_matches(self, text: str, access_key_id: str) -> bool:
        if self.access_key_id is not None and self.access_key_id != access_key_id:
            return False
        return not self.matches or any(needle in text for needle in self.matches)

    def draw(self) -> bool:
        """Whether this call is hit: one draw of the rule's RNG per call it sees, so a seed
        replays. A certain rule (probability 1) draws nothing: its behaviour predates seeds."""
        if self.skipped < self.skip:
            self.skipped += 1
            return False
        if self.probability < 1.0 and self.rng.random() >= self.probability:
            self.misses += 1
            return False
        self.hits += 1
        if self.remaining is not None:
            self.remaining -= 1
        return True

    def rate_limited(self, service: str, action: str, now: float) -> bool:
        """Whether a rate_limit rule throttles this call: its bucket (per service and action, or
        the rule's one `shared` bucket) has no token left. A call let through takes a token."""
        key = "*" if self.shared else f"{service}:{action}"
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket.full(self.per_second, self.burst, now)
        if bucket.take(now):
            return False
        self.hits += 1
        if self.remaining is not None:
            self.remaining -= 1
        return True

    def delay_seconds(self) -> float:
        jitter = self.rng.uniform(0.0, self.jitter_ms) if self.jitter_ms > 0 else 0.0
        return (self.latency_ms + jitter) / 1000.0

    def to_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "service": self.service,
            "action": self.action,
            "match": self.matches,
            "access_key_id": self.access_key_id,
            "skip": self.skip,
            "probability": self.probability,
            "seed": self.seed,
            "remaining": self.remaining,
            "hits": self.hits,
            "misses": self.misses,
            "skipped": self.skipped,
        }
        if self.kind in ("error", "throttle", "server_error", "rate_limit"):
            answer.update(error_code=self.error_code, http_status=self.http_status, message=self.message)
        if self.kind == "rate_limit":
            answer.update(per_second=self.per_second, burst=self.burst, shared=self.shared,
                          buckets=sorted(self.buckets))
        elif self.kind == "latency":
            answer.update(latency_ms=self.latency_ms, jitter_ms=self.jitter_ms)
        elif self.kind == "stale_read":
            answer.update(stale_read_max=self.stale_read_max)
        return answer


def _pattern_matches(pattern: str, name: str) -> bool:
    """A rule's service or action: "*", an exact name, or a glob such as "Describe*"."""
    return pattern == "*" or pattern == name or fnmatch.fnmatchcase(name, pattern)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_rule(body: Any, ids: itertools.count[int]) -> Fault:
    if not isinstance(body, dict):
        raise FaultError("a fault rule is a JSON object")
    kind = body.get("kind", "error")
    if kind not in KINDS:
        raise FaultError(f"kind {kind!r} is not supported (supported: {', '.join(KINDS)})")
    unknown = (set(body) - _COMMON_FIELDS - _KIND_FIELDS[kind]) | (set(body) & _NOT_FOR_KIND.get(kind, set()))
    if unknown:
        raise FaultError(f"unknown field(s) for kind {kind}: {', '.join(sorted(unknown))}")
    service = body.get("service", "*")
    action = body.get("action", "*")
    if not isinstance(service, str) or not service or not isinstance(action, str) or not action:
        raise FaultError("service and action are non-empty strings (or \"*\")")
    match = body.get("match")
    matches = [match] if isinstance(match, str) else match
    if matches is None:
        matches = []
    if not isinstance(matches, list) or not all(isinstance(m, str) and m for m in matches):
        raise FaultError("match is a non-empty string or a list of them")
    count = body.get("count")
    if count is not None and (not _is_int(count) or count < 1):
        raise FaultError("count is a positive integer (or null: until cleared)")
    access_key_id = body.get("access_key_id")
    if access_key_id is not None and (not isinstance(access_key_id, str) or not access_key_id):
        raise FaultError("access_key_id is a non-empty string")
    skip = body.get("skip", 0)
    if not _is_int(skip) or skip < 0:
        raise FaultError("skip is a non-negative integer")
    probability = body.get("probability", 1.0)
    if not _is_number(probability) or not 0.0 <= probability <= 1.0:
        raise FaultError("probability is a number from 0 to 1")
    seed = body.get("seed", 0)
    if not _is_int(seed):
        raise FaultError("seed is an integer")
    fault = Fault(
        id=f"fault-{next(ids)}", kind=kind, service=service, action=action, matches=matches,
        error_code=None, http_status=None, message=None, remaining=count,
        access_key_id=access_key_id, skip=skip, probability=float(probability), seed=seed,
        rng=random.Random(seed),
    )
    if kind in ("error", "throttle", "server_error", "rate_limit"):
        _parse_error_fields(fault, body)
    if kind == "rate_limit":
        per_second, burst, shared = body.get("per_second"), body.get("burst"), body.get("shared", False)
        if not _is_number(per_second) or per_second <= 0:
            raise FaultError("per_second (required) is a positive number of calls a second")
        if not _is_number(burst) or burst < 1:
            raise FaultError("burst (required) is a number of calls, at least 1")
        if not isinstance(shared, bool):
            raise FaultError("shared is true (one bucket for every call the rule matches) or false")
        fault.per_second, fault.burst, fault.shared = float(per_second), float(burst), shared
    elif kind == "latency":
        latency_ms, jitter_ms = body.get("latency_ms"), body.get("jitter_ms", 0)
        if not _is_number(latency_ms) or latency_ms < 0 or not _is_number(jitter_ms) or jitter_ms < 0:
            raise FaultError("latency_ms (required) and jitter_ms are non-negative numbers of milliseconds")
        fault.latency_ms, fault.jitter_ms = float(latency_ms), float(jitter_ms)
    elif kind == "stale_read":
        stale_read_max = body.get("stale_read_max")
        if not _is_number(stale_read_max) or stale_read_max <= 0:
            raise FaultError("stale_read_max is a positive number of (AWS) seconds")
        if service in STRONGLY_CONSISTENT_SERVICES:
            raise FaultError(f"{service} is strongly consistent (every read after a write sees it, since "
                             "December 2020): AWS serves no stale read a stale_read rule could imitate")
        fault.stale_read_max = float(stale_read_max)
    return fault


def _parse_error_fields(fault: Fault, body: dict[str, Any]) -> None:
    error_code = body.get("error_code")
    if fault.kind == "error" and error_code is None:
        raise FaultError("error_code is required, e.g. \"AccessDenied\"")
    if error_code is not None and (not isinstance(error_code, str) or not error_code):
        raise FaultError("error_code is a non-empty string")
    status = body.get("http_status", 400 if fault.kind == "error" else None)
    lowest = 500 if fault.kind == "server_error" else 400
    if status is not None and (not _is_int(status) or not lowest <= status <= 599):
        raise FaultError(f"http_status is an integer from {lowest} to 599")
    message = body.get("message")
    if message is not None and not isinstance(message, str):
        raise FaultError("message is a string")
    fault.error_code, fault.http_status, fault.message = error_code, status, message


def render(fault: Fault, protocol: str, action: str, service: str = "") -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of the error `fault` answers, in the service's own shape."""
    code, status = fault.error_code, fault.http_status
    if fault.kind in (*_THROTTLING_KINDS, "server_error"):
        default_code, default_status = default_shape("throttle" if fault.kind in _THROTTLING_KINDS else fault.kind,
                                                      protocol)
        code, status = code or default_code, status or default_status
    return render_error(code or "InternalFailure", status or 500, fault.message, protocol, action, service)


@dataclass
class Decision:
    """What the injected faults do to one call: wait `delay_seconds` first, then let `answer`
    answer it (None: moto does). `latency` is how many latency rules hit it."""

    delay_seconds: float = 0.0
    answer: Fault | None = None
    latency: int = 0


@dataclass
class FaultSet:
    """The active rules; thread-safe (the server is threaded)."""

    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # What rate_limit rules' buckets refill by (a ManualClock in unit tests).
    clock: Any = field(default_factory=MonotonicClock)

    def add(self, body: Any) -> Fault:
        fault = parse_rule(body, self.ids)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear(self, fault_id: str | None = None) -> int:
        with self.lock:
            before = len(self.faults)
            self.faults = [f for f in self.faults if fault_id is not None and f.id != fault_id]
            return before - len(self.faults)

    def list(self) -> list[dict[str, Any]]:
        with self.lock:
            return [f.to_json() for f in self.faults]

    def active(self) -> bool:
        with self.lock:
            return bool(self.faults)

    def has_stale_reads(self) -> bool:
        with self.lock:
            return any(f.kind == "stale_read" for f in self.faults)

    def decide(self, service: str, action: str, text: str, access_key_id: str = "") -> Decision:
        """Rules are tried oldest first: every latency rule that hits adds its delay; the first
        answering rule that hits answers (later answering rules do not see the call)."""
        decision = Decision()
        now = self.clock.now()
        with self.lock:
            for fault in self.faults:
                if fault.kind == "stale_read" or not fault.applies_to(service, action, text, access_key_id):
                    continue
                if fault.kind == "rate_limit":
                    if decision.answer is None and fault.rate_limited(service, action, now):
                        decision.answer = fault
                elif fault.kind == "latency":
                    if fault.draw():
                        decision.delay_seconds += fault.delay_seconds()
                        decision.latency += 1
                elif decision.answer is None and fault.draw():
                    decision.answer = fault
        return decision

    def match(self, service: str, action: str, text: str, access_key_id: str = "") -> Fault | None:
        """The rule answering this call, its count used up by one; None: let moto answer."""
        return self.decide(service, action, text, access_key_id).answer

    def stale_rules_in_scope(self, service: str, text: str, access_key_id: str) -> list[Fault]:
        """The stale-read rules whose service and scope (`match`, `access_key_id`) a call is in:
        a write opens their windows whatever its action; a read may be served stale by them."""
        if service in STRONGLY_CONSISTENT_SERVICES:
            return []  # a "*" rule too: AWS serves these services' reads fresh
        with self.lock:
            return [f for f in self.faults if f.kind == "stale_read" and _pattern_matches(f.service, service)
                    and (f.remaining is None or f.remaining > 0) and f.scope_matches(text, access_key_id)]

    def stale_read_hit(self, rules: list[Fault], action: str) -> Fault | None:
        """The first of `rules` (open windows) that serves this read stale, drawing for each."""
        with self.lock:
            for fault in rules:
                if _pattern_matches(fault.action, action) and (fault.remaining is None or fault.remaining > 0) and fault.draw():
                    return fault
        return None


@dataclass
class FaultStats:
    """Per service and action: requests seen and faults injected by kind (`GET /zdd/faults/stats`),
    also per access key, so a test on the shared server can count its own process's calls alone
    (`?access_key_id=`)."""

    requests: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    injected: dict[tuple[str, str, str], dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seen(self, service: str, action: str, access_key_id: str = "") -> None:
        with self.lock:
            self.requests[(access_key_id, service, action)] += 1

    def fault(self, service: str, action: str, kind: str, times: int = 1, access_key_id: str = "") -> None:
        with self.lock:
            self.injected[(access_key_id, service, action)][kind] += times

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()
            self.injected.clear()

    def to_json(self, access_key_id: str | None = None) -> dict[str, Any]:
        """Every caller's calls, or (`access_key_id`) only those signed with that key."""
        with self.lock:
            requests: dict[tuple[str, str], int] = defaultdict(int)
            injected: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
            for (key, service, action), times in self.requests.items():
                if access_key_id is None or key == access_key_id:
                    requests[(service, action)] += times
            for (key, service, action), faults in self.injected.items():
                if access_key_id is None or key == access_key_id:
                    for kind, times in faults.items():
                        injected[(service, action)][kind] += times
        services: dict[str, dict[str, Any]] = {}
        total_faults: dict[str, int] = defaultdict(int)
        for service, action in sorted(set(requests) | set(injected)):
            faults = dict(sorted(injected.get((service, action), {}).items()))
            for kind, times in faults.items():
                total_faults[kind] += times
            services.setdefault(service, {})[action] = {"requests": requests.get((service, action), 0),
                                                        "faults": faults}
        return {"services": services,
                "totals": {"requests": sum(requests.values()), "faults": dict(sorted(total_faults.items()))}}


# The standard hostile mix (issue 15, suite 1): 20 % throttling, 2 % 5xx, 200 ms added latency,
# 10 s stale reads (but on S3: strongly consistent). Overridable per field in the preset request.
HOSTILE_DEFAULTS = {"throttle": 0.2, "server_error": 0.02, "latency_ms": 200.0, "jitter_ms": 0.0,
                    "stale_read_max": 10.0}
PRESET_SERVICES = ("autoscaling", "elasticloadbalancing", "ec2", "monitoring", "s3", "dynamodb")


def preset_rules(body: Any) -> list[dict[str, Any]]:
    """The rules of `POST /zdd/faults/preset` (`{"name": "hostile", "seed": 7, "services": [...],
    "match": ...}` and optional overrides of HOSTILE_DEFAULTS). Each rule gets its own seed
    derived from the preset's, so the rules' draws are independent yet replayable."""
    if not isinstance(body, dict):
        raise FaultError("a preset is a JSON object")
    unknown = set(body) - {"name", "seed", "services", "match", "access_key_id", "api_failure"} - set(HOSTILE_DEFAULTS)
    if unknown:
        raise FaultError(f"unknown preset field(s): {', '.join(sorted(unknown))}")
    body = _split_api_failure(body)
    if body.get("name") != "hostile":
        raise FaultError("name: the only preset is \"hostile\"")
    seed = body.get("seed", 0)
    if not _is_int(seed):
        raise FaultError("seed is an integer")
    services = body.get("services", list(PRESET_SERVICES))
    if not isinstance(services, list) or not services or not all(isinstance(s, str) and s for s in services):
        raise FaultError("services is a non-empty list of signing names")
    settings = {**HOSTILE_DEFAULTS, **{k: body[k] for k in HOSTILE_DEFAULTS if k in body}}
    for name in ("throttle", "server_error"):
        if not _is_number(settings[name]) or not 0.0 <= settings[name] <= 1.0:
            raise FaultError(f"{name} is a probability from 0 to 1")
    scope = {k: body[k] for k in ("match", "access_key_id") if k in body}
    rules: list[dict[str, Any]] = []
    for index, service in enumerate(services):
        base = seed * 1000 + index * 10
        if settings["latency_ms"] or settings["jitter_ms"]:
            rules.append({"kind": "latency", "service": service, "latency_ms": settings["latency_ms"],
                          "jitter_ms": settings["jitter_ms"], "seed": base + 1, **scope})
        if settings["throttle"]:
            rules.append({"kind": "throttle", "service": service, "probability": settings["throttle"],
                          "seed": base + 2, **scope})
        if settings["server_error"]:
            rules.append({"kind": "server_error", "service": service, "probability": settings["server_error"],
                          "seed": base + 3, **scope})
        if settings["stale_read_max"] and service not in STRONGLY_CONSISTENT_SERVICES:
            rules.append({"kind": "stale_read", "service": service, "stale_read_max": settings["stale_read_max"],
                          "seed": base + 4, **scope})
    return rules


def _split_api_failure(body: dict[str, Any]) -> dict[str, Any]:
    """The simulator's `api_failure` (a call fails: throttling or 5xx) as the two rules'
    probabilities, in the standard mix's ratio (20 : 2)."""
    if "api_failure" not in body:
        return body
    if "throttle" in body or "server_error" in body:
        raise FaultError("api_failure replaces throttle and server_error: give one or the others")
    api_failure = body["api_failure"]
    if not _is_number(api_failure) or not 0.0 <= api_failure <= 1.0:
        raise FaultError("api_failure is a probability from 0 to 1")
    share = HOSTILE_DEFAULTS["throttle"] / (HOSTILE_DEFAULTS["throttle"] + HOSTILE_DEFAULTS["server_error"])
    rest = {k: v for k, v in body.items() if k != "api_failure"}
    return {**rest, "throttle": api_failure * share, "server_error": api_failure * (1 - share)}
