"""Injected AWS faults: a test asks the local AWS to answer matching calls with an error in the
shape the real service uses (query-protocol XML, JSON-protocol JSON, S3's REST XML), so the code
under test parses it exactly as it would parse AWS's own answer.

Pure: no moto, no HTTP server. `FaultSet.match` takes the parts of a request that identify it;
`render` builds the response. `server.py` wires both into the WSGI app.

A fault rule (the JSON body of `POST /zdd/faults`):

    {"kind": "error",            # the only kind so far; later kinds (throttle, latency, ...)
                                 # reuse the same matching fields
     "service": "autoscaling",   # the SigV4 signing name ("autoscaling", "elasticloadbalancing",
                                 # "monitoring", "dynamodb", "s3", ...) or "*"
     "action": "SetDesiredCapacity",   # the API action, or "*"
     "match": "web-g1",          # optional: a string, or a list of which any one must occur in
                                 # the (URL-decoded) query string or body; scopes a rule to one
                                 # test's resources when tests share a server
     "access_key_id": "AKID...", # optional: only calls signed with this access key (one
                                 # principal's calls: what expired credentials look like)
     "skip": 2,                  # optional: let this many matching calls through first
     "error_code": "AccessDenied",
     "http_status": 403,
     "message": "...",           # optional
     "count": 3}                 # optional: answer this many matching calls, then retire;
                                 # absent or null: until cleared

Rules are tried oldest first; the first that matches answers the call (and uses up one of its
`count`). Calls nobody matches go to moto unchanged.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote_plus
from xml.sax.saxutils import escape

KINDS = ("error",)

# AWS's own messages for the two faults tests use most: a missing permission and an expired
# session token (what a CI job sees when its assumed role's session outlives its credentials).
DEFAULT_MESSAGES = {
    "AccessDenied": "User: arn:aws:sts::123456789012:assumed-role/ci/zdd is not authorized to perform: {action}",
    "AccessDeniedException": "User: arn:aws:sts::123456789012:assumed-role/ci/zdd is not authorized to perform: {action}",
    "UnauthorizedOperation": "You are not authorized to perform this operation.",
    "ExpiredToken": "The security token included in the request is expired",
    "ExpiredTokenException": "The security token included in the request is expired",
}


class FaultError(ValueError):
    """A malformed fault rule (answered with HTTP 400)."""


@dataclass
class Fault:
    id: str
    kind: str
    service: str
    action: str
    matches: list[str]
    error_code: str
    http_status: int
    message: str | None
    remaining: int | None
    access_key_id: str | None = None
    skip: int = 0
    hits: int = 0
    skipped: int = 0

    def applies_to(self, service: str, action: str, text: str, access_key_id: str = "") -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.service not in ("*", service):
            return False
        if self.action not in ("*", action):
            return False
        if self.access_key_id is not None and self.access_key_id != access_key_id:
            return False
        return not self.matches or any(needle in text for needle in self.matches)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "service": self.service,
            "action": self.action,
            "match": self.matches,
            "error_code": self.error_code,
            "http_status": self.http_status,
            "message": self.message,
            "access_key_id": self.access_key_id,
            "skip": self.skip,
            "remaining": self.remaining,
            "hits": self.hits,
            "skipped": self.skipped,
        }


def parse_rule(body: Any, ids: itertools.count[int]) -> Fault:
    if not isinstance(body, dict):
        raise FaultError("a fault rule is a JSON object")
    kind = body.get("kind", "error")
    if kind not in KINDS:
        raise FaultError(f"kind {kind!r} is not supported (supported: {', '.join(KINDS)})")
    fields = {"kind", "service", "action", "match", "access_key_id", "skip", "error_code", "http_status", "message",
              "count"}
    unknown = set(body) - fields
    if unknown:
        raise FaultError(f"unknown field(s): {', '.join(sorted(unknown))}")
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
    error_code = body.get("error_code")
    if not isinstance(error_code, str) or not error_code:
        raise FaultError("error_code is required, e.g. \"AccessDenied\"")
    status = body.get("http_status", 400)
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        raise FaultError("http_status is an integer from 400 to 599")
    count = body.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise FaultError("count is a positive integer (or null: until cleared)")
    message = body.get("message")
    if message is not None and not isinstance(message, str):
        raise FaultError("message is a string")
    access_key_id = body.get("access_key_id")
    if access_key_id is not None and (not isinstance(access_key_id, str) or not access_key_id):
        raise FaultError("access_key_id is a non-empty string")
    skip = body.get("skip", 0)
    if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
        raise FaultError("skip is a non-negative integer")
    return Fault(
        id=f"fault-{next(ids)}", kind=kind, service=service, action=action, matches=matches,
        error_code=error_code, http_status=status, message=message, remaining=count,
        access_key_id=access_key_id, skip=skip,
    )


@dataclass
class FaultSet:
    """The active rules; thread-safe (the server is threaded)."""

    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

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

    def match(self, service: str, action: str, text: str, access_key_id: str = "") -> Fault | None:
        """The rule answering this call, its count used up by one; None: let moto answer."""
        with self.lock:
            for fault in self.faults:
                if fault.applies_to(service, action, text, access_key_id):
                    if fault.skipped < fault.skip:
                        fault.skipped += 1
                        return None
                    fault.hits += 1
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    return fault
        return None


def identify(headers: dict[str, str], method: str, query: str, body: bytes) -> tuple[str, str, str, str, str]:
    """(service, action, protocol, searchable text, access key id) of a request.

    The service is the SigV4 signing name in the Authorization header's credential scope
    (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`); the action is the query protocol's
    `Action` parameter or the JSON protocol's `X-Amz-Target` suffix. Protocol: `json` (an
    `application/x-amz-json-*` body), `s3` (REST XML) or `query`.
    """
    authorization = headers.get("authorization", "")
    service = ""
    access_key_id = ""
    if "Credential=" in authorization:
        scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        access_key_id = scope[0]
        if len(scope) >= 5:
            service = scope[3]
    content_type = headers.get("content-type", "")
    text_body = body.decode("utf-8", errors="replace")
    target = headers.get("x-amz-target", "")
    if "amz-json" in content_type or target:
        protocol = "json"
        action = target.rsplit(".", 1)[-1] if target else ""
    elif service == "s3":
        protocol = "s3"
        action = ""
    else:
        protocol = "query"
        params = parse_qs(query)
        if "x-www-form-urlencoded" in content_type or not content_type:
            params.update(parse_qs(text_body))
        action = (params.get("Action") or [""])[0]
    text = unquote_plus(query) + "\n" + unquote_plus(text_body)
    return service, action, protocol, text, access_key_id


def render(fault: Fault, protocol: str, action: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of the error as the service would send it."""
    request_id = str(uuid.uuid4())
    message = fault.message or DEFAULT_MESSAGES.get(fault.error_code, "injected by zdd_localaws").format(
        action=action or "this action"
    )
    if protocol == "json":
        payload = json.dumps({"__type": fault.error_code, "message": message}).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-ErrorType", fault.error_code),
            ("x-amzn-RequestId", request_id),
        ]
    elif protocol == "s3":
        payload = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(fault.error_code)}</Code>'
            f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    else:
        sender = "Sender" if fault.http_status < 500 else "Receiver"
        payload = (
            f"<ErrorResponse><Error><Type>{sender}</Type><Code>{escape(fault.error_code)}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    headers.append(("Content-Length", str(len(payload))))
    return fault.http_status, headers, payload
