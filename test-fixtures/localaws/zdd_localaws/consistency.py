"""Eventual consistency at the HTTP layer (`stale_read` fault rules).

A successful write to a service opens a window of `stale_read_max` AWS seconds (× the
server's time scale, like every model duration) on each stale-read rule whose service and scope
(`match`, `access_key_id`) it matches. While the window is open, a read (Describe*/List*/Get*/
BatchGet*, DynamoDB Query/Scan) that the rule hits is answered:

1. with the response the same read (service, action, normalised parameters) got before the
   write, if there was one: the previous view (a tag, a registration, a capacity not there yet);
2. else, for DescribeAutoScalingGroups, with the fresh answer minus the groups created within the
   window: AWS simply does not list a group created a moment ago;
3. else fresh (no earlier view is known: a known difference, see README.md).

Never stale, as on AWS (`strongly_consistent`): any S3 call (S3 has been strongly consistent
for every read after a write since December 2020, so no S3 write opens a window either) and a
DynamoDB read that asks for strong consistency (`ConsistentRead: true`; TransactGetItems always
is). Served stale, they made Terraform's own unlock fail ("lock ID ... does not match"), which
no AWS can cause.

Pure apart from the clock it is given: no moto, no HTTP server.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

_READ_PREFIXES = ("Describe", "List", "Get", "BatchGet")
_READ_ACTIONS = {"Query", "Scan", "TransactGetItems"}
STRONGLY_CONSISTENT_SERVICES = ("s3",)
_MAX_CACHED = 10_000
_GROUP_NAME = re.compile(r"<AutoScalingGroupName>([^<]*)</AutoScalingGroupName>")
_MEMBER_TAG = re.compile(r"<(/?)member>")


def is_read(protocol: str, action: str, method: str) -> bool:
    if protocol == "s3":
        return method in ("GET", "HEAD")
    return action.startswith(_READ_PREFIXES) or action in _READ_ACTIONS


def strongly_consistent(service: str, action: str, body: bytes) -> bool:
    """Whether AWS answers this call with every successful write applied: never a stale view."""
    if service in STRONGLY_CONSISTENT_SERVICES:
        return True
    if service != "dynamodb":
        return False
    if action == "TransactGetItems":
        return True
    try:
        params = json.loads(body or b"{}")
    except ValueError:
        return False
    if not isinstance(params, dict):
        return False
    if action == "BatchGetItem":
        # Per table; one strongly consistent table makes the whole (one) view fresh, which AWS
        # may serve too.
        tables = params.get("RequestItems")
        return isinstance(tables, dict) and any(
            isinstance(table, dict) and table.get("ConsistentRead") is True for table in tables.values())
    return params.get("ConsistentRead") is True


def read_key(service: str, action: str, protocol: str, method: str, path: str, query: str, body: bytes) -> str:
    """The identity of a read: same key, same view. Parameter order and the SDK's per-call
    fields (none in these protocols' bodies) do not matter."""
    if protocol == "json":
        try:
            params = json.dumps(json.loads(body or b"{}"), sort_keys=True)
        except ValueError:
            params = body.decode("utf-8", errors="replace")
    elif protocol == "s3":
        params = f"{method} {path}?{'&'.join(sorted(query.split('&')))}"
    else:
        pairs = parse_qsl(query) + parse_qsl(body.decode("utf-8", errors="replace"))
        params = "&".join(f"{k}={v}" for k, v in sorted(pairs))
    return f"{service}|{action}|{params}"


@dataclass
class CachedResponse:
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    served_at: float


@dataclass
class StaleReads:
    """Responses of reads (the previous views), the open windows and the groups created in them."""

    clock: Callable[[], float]
    cache: dict[str, CachedResponse] = field(default_factory=dict)
    # rule id -> when the latest write matching it was received
    last_write: dict[str, float] = field(default_factory=dict)
    # rule id -> group name -> when a CreateAutoScalingGroup in the rule's scope was received
    created_groups: dict[str, dict[str, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return self.clock()

    def write_succeeded(self, rule_ids: list[str], received_at: float, action: str, text: str) -> None:
        with self.lock:
            name = _query_param(text, "AutoScalingGroupName") if action == "CreateAutoScalingGroup" else None
            for rule_id in rule_ids:
                self.last_write[rule_id] = received_at
                if name:
                    self.created_groups.setdefault(rule_id, {})[name] = received_at

    def window_start(self, rule_id: str, window_seconds: float, now: float) -> float | None:
        """When the open window of this rule began (its latest write), or None: closed."""
        with self.lock:
            start = self.last_write.get(rule_id)
        return start if start is not None and now - start < window_seconds else None

    def previous_view(self, key: str, window_start: float) -> CachedResponse | None:
        with self.lock:
            cached = self.cache.get(key)
        return cached if cached is not None and cached.served_at < window_start else None

    def remember(self, key: str, response: CachedResponse) -> None:
        with self.lock:
            self.cache.pop(key, None)
            self.cache[key] = response
            while len(self.cache) > _MAX_CACHED:
                self.cache.pop(next(iter(self.cache)))

    def hidden_groups(self, rule_id: str, window_seconds: float, now: float) -> set[str]:
        """The groups created in this rule's scope within its window: not listed yet."""
        with self.lock:
            created = self.created_groups.get(rule_id, {})
            return {name for name, at in created.items() if now - at < window_seconds}

    def clear(self) -> None:
        with self.lock:
            self.cache.clear()
            self.last_write.clear()
            self.created_groups.clear()


def _query_param(text: str, name: str) -> str | None:
    match = re.search(rf"(?:^|[&\n]){re.escape(name)}=([^&\n]*)", text)
    return match[1] if match else None


def without_groups(body: bytes, hidden: set[str]) -> bytes:
    """A DescribeAutoScalingGroups answer without the groups named in `hidden`."""
    if not hidden:
        return body
    text = body.decode("utf-8", errors="replace")
    opening, closing = "<AutoScalingGroups>", "</AutoScalingGroups>"
    start, end = text.find(opening), text.rfind(closing)
    if start < 0 or end < start:
        return body
    inner = text[start + len(opening):end]
    kept = [member for member in _top_level_members(inner) if _group_name(member) not in hidden]
    return (text[:start + len(opening)] + "".join(kept) + text[end:]).encode()


def _top_level_members(inner: str) -> list[str]:
    members: list[str] = []
    depth, begin = 0, 0
    for tag in _MEMBER_TAG.finditer(inner):
        if tag[1] == "":
            if depth == 0:
                begin = tag.start()
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                members.append(inner[begin:tag.end()])
    return members


def _group_name(member: str) -> str | None:
    """The group's own name: the one outside nested lists (tags, instances)."""
    body = member[len("<member>"):-len("</member>")]
    outside = "".join(_top_level_text(body))
    match = _GROUP_NAME.search(outside)
    return match[1] if match else None


def _top_level_text(body: str) -> list[str]:
    parts: list[str] = []
    depth, cursor = 0, 0
    for tag in _MEMBER_TAG.finditer(body):
        if tag[1] == "":
            if depth == 0:
                parts.append(body[cursor:tag.start()])
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                cursor = tag.end()
    if depth == 0:
        parts.append(body[cursor:])
    return parts

