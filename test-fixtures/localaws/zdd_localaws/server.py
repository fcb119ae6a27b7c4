"""The HTTP side: moto's WSGI app behind a thin wrapper that serves /zdd/* control endpoints,
keeps the health model in step with moto's reset, and serialises requests (moto's backends are
not thread-safe, and the ticker thread terminates drained instances in the background)."""

from __future__ import annotations

import io
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .consistency import CachedResponse, StaleReads, is_read, read_key, strongly_consistent, without_groups
from .faults import Decision, FaultError, FaultSet, FaultStats, identify, preset_rules, render
from .model import HealthModel
from .patches import run_due
from .patches_asg import scale_as_policy
from .patches_cloudwatch import AlarmHolds
from .traffic import TrafficError, TrafficModel, parse_source

_HEALTH_PATH = re.compile(r"^/zdd/instances/(?P<instance_id>[^/]+)/health$")
_FAULT_PATH = re.compile(r"^/zdd/faults/(?P<fault_id>[^/]+)$")
_SCALE_PATH = re.compile(r"^/zdd/autoscaling/(?P<group>[^/]+)/scale$")
# PATH_INFO arrives percent-decoded: the target group ARN's slashes are literal here.
_PERIODS_PATH = re.compile(r"^/zdd/traffic/(?P<target_group_arn>arn:.+)/periods$")
StartResponse = Callable[..., Any]


class ZddApp:
    """WSGI: /zdd/... for the model, everything else to moto (after applying due transitions)."""

    def __init__(self, moto_app: Any, model: HealthModel, settings: dict[str, Any] | None = None,
                 traffic: TrafficModel | None = None, alarm_holds: AlarmHolds | None = None) -> None:
        self.moto_app = moto_app
        self.model = model
        self.traffic = traffic
        self.alarm_holds = alarm_holds or AlarmHolds()
        # Reported by GET /zdd/status, so a test can check what it is running against.
        self.settings = {"time_scale": model.time_scale, **(settings or {})}
        self.backend_lock = threading.RLock()
        self.faults = FaultSet()
        self.fault_stats = FaultStats()
        self.stale_reads = StaleReads(time.monotonic)

    def tick(self) -> None:
        with self.backend_lock:
            self._run_due()

    def _run_due(self) -> None:
        run_due(self.model)
        if self.traffic is not None:
            # Health changes are applied lazily: integrate the traffic under the health and
            # weights of this moment, at the ticker's resolution.
            self.traffic.advance()

    def _reset_traffic(self) -> None:
        if self.traffic is not None:
            self.traffic.reset()
        self.alarm_holds.clear()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/zdd/"):
            with self.backend_lock:
                self._run_due()
                return self._control(method, path, environ, start_response)
        request = _AwsRequest(environ)
        if request.service:
            self.fault_stats.seen(request.service, request.action, request.access_key_id)
        injected = self._injected_fault(request, environ, start_response)
        if injected is not None:
            return injected
        if request.service and self.faults.has_stale_reads():
            return self._eventually_consistent(request, environ, start_response)
        return self._moto(environ, start_response)

    def _moto(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        with self.backend_lock:
            self._run_due()
            if path == "/moto-api/reset" and environ.get("REQUEST_METHOD") == "POST":
                self.model.reset()
                self._reset_traffic()
            # Materialise the body inside the lock: moto builds responses lazily for some services.
            return [b"".join(self.moto_app(environ, start_response))]

    def _control(
        self, method: str, path: str, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        if path == "/zdd/events" and method == "GET":
            since = _query_int(environ, "since", 0)
            return _json(start_response, 200, {"events": self.model.events(since)})
        if path == "/zdd/reset" and method == "POST":
            self._reset_moto()
            self.model.reset()
            self._reset_traffic()
            self.faults.clear()
            self.fault_stats.clear()
            self.stale_reads.clear()
            return _json(start_response, 200, {"reset": True})
        if path == "/zdd/faults/stats":
            if method == "GET":
                access_key_id = _query_text(environ, "access_key_id")
                return _json(start_response, 200, self.fault_stats.to_json(access_key_id))
            if method == "DELETE":
                self.fault_stats.clear()
                return _json(start_response, 200, {"cleared": True})
        if path == "/zdd/faults/preset" and method == "POST":
            return self._install_preset(environ, start_response)
        if path == "/zdd/faults":
            if method == "POST":
                try:
                    fault = self.faults.add(json.loads(_read_body(environ) or b"null"))
                except (ValueError, FaultError) as error:
                    return _json(start_response, 400, {"error": str(error)})
                return _json(start_response, 200, fault.to_json())
            if method == "GET":
                return _json(start_response, 200, {"faults": self.faults.list()})
            if method == "DELETE":
                return _json(start_response, 200, {"cleared": self.faults.clear()})
        fault_match = _FAULT_PATH.match(path)
        if fault_match and method == "DELETE":
            cleared = self.faults.clear(fault_match["fault_id"])
            return _json(start_response, 200 if cleared else 404, {"cleared": cleared})
        if path == "/zdd/traffic" or path.startswith("/zdd/traffic/"):
            return self._traffic_control(method, path, environ, start_response)
        if path == "/zdd/status" and method == "GET":
            return _json(start_response, 200, self.settings)
        scale_match = _SCALE_PATH.match(path)
        if scale_match and method == "POST":
            try:
                body = json.loads(_read_body(environ) or b"null")
            except ValueError as error:
                return _json(start_response, 400, {"error": f"desired_capacity: the body is not JSON ({error})"})
            status, answer = scale_as_policy(scale_match["group"], body)
            return _json(start_response, status, answer)
        match = _HEALTH_PATH.match(path)
        if match and method == "POST":
            try:
                body = json.loads(_read_body(environ) or b"{}")
                state = body.get("state")
                self.model.mark_health(match["instance_id"], state, body.get("reason"))
            except (ValueError, AttributeError) as error:
                return _json(start_response, 400, {"error": str(error)})
            return _json(start_response, 200, {"instance_id": match["instance_id"], "state": state})
        return _json(start_response, 404, {"error": f"no control endpoint {method} {path}"})

    def _traffic_control(
        self, method: str, path: str, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        traffic = self.traffic
        if traffic is None:
            return _json(start_response, 404, {"error": "this server runs without the traffic model"})
        if path == "/zdd/traffic":
            if method == "POST":
                try:
                    source = traffic.set_source(parse_source(json.loads(_read_body(environ) or b"null")))
                except (ValueError, TrafficError) as error:
                    return _json(start_response, 400, {"error": str(error)})
                return _json(start_response, 200, source)
            if method == "GET":
                timing = traffic.timing
                return _json(start_response, 200, {
                    "sources": traffic.sources(), "period_ms": timing.period_ms,
                    "publish_delay_ms": timing.publish_delay_ms, "now_ms": traffic.wall_ms(),
                })
            if method == "DELETE":
                # ?source=<listener or target group ARN> stops one source (the shared server
                # serves tests in parallel); without it, everything is forgotten.
                key = _query_text(environ, "source")
                if key is not None:
                    return _json(start_response, 200, {"stopped": traffic.stop_source(key)})
                traffic.reset()
                self.alarm_holds.clear()
                return _json(start_response, 200, {"cleared": True})
        match = _PERIODS_PATH.match(path)
        if match and method == "GET":
            arn = match["target_group_arn"]
            periods = [p.to_json() for p in traffic.published(arn)]
            return _json(start_response, 200, {"target_group_arn": arn, "known": traffic.knows(arn), "periods": periods})
        return _json(start_response, 404, {"error": f"no control endpoint {method} {path}"})

    def _install_preset(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            rules = preset_rules(json.loads(_read_body(environ) or b"null"))
            added = [self.faults.add(rule).to_json() for rule in rules]
        except (ValueError, FaultError) as error:
            return _json(start_response, 400, {"error": str(error)})
        return _json(start_response, 200, {"faults": added})

    def _injected_fault(
        self, request: _AwsRequest, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes] | None:
        """The injected answer to this call (an error, or a dropped connection), or None (then
        moto answers), after any injected latency."""
        if not self.faults.active():
            return None
        decision: Decision = self.faults.decide(request.service, request.action, request.text, request.access_key_id)
        if decision.latency:
            self.fault_stats.fault(request.service, request.action, "latency", decision.latency,
                                   request.access_key_id)
            # Outside the backend lock: a slow answer to one caller does not slow the others.
            time.sleep(decision.delay_seconds)
        fault = decision.answer
        if fault is None:
            return None
        self.fault_stats.fault(request.service, request.action, fault.kind, access_key_id=request.access_key_id)
        if fault.kind == "drop":
            _drop_connection(environ)
        if fault.kind == "lost_response":
            self._serve_then_lose(request, environ, start_response)
        status, response_headers, payload = render(fault, request.protocol, request.action, request.service)
        start_response(f"{status} {HTTPStatus(status).phrase}", response_headers)
        return [payload]

    def _serve_then_lose(self, request: _AwsRequest, environ: dict[str, Any], start_response: StartResponse) -> None:
        """Serves the call as usual (a write takes effect and opens its stale-read windows),
        then closes the connection before a byte of the answer is sent: the caller sees a
        dispatch failure and cannot know that its call succeeded."""
        unsent = _Captured(start_response, defer=True)
        if request.service and self.faults.has_stale_reads():
            b"".join(self._eventually_consistent(request, environ, unsent))
        else:
            self._moto(environ, unsent)
        _drop_connection(environ)

    def _eventually_consistent(
        self, request: _AwsRequest, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """Serves a read from a previous view while a write's stale window is open (consistency.py)."""
        if strongly_consistent(request.service, request.action, request.body):
            return self._moto(environ, start_response)
        stale = self.stale_reads
        now = stale.now()
        if not is_read(request.protocol, request.action, request.method):
            rules = self.faults.stale_rules_in_scope(request.service, request.text, request.access_key_id)
            captured = _Captured(start_response)
            answer = self._moto(environ, captured)
            if rules and captured.succeeded():
                stale.write_succeeded([rule.id for rule in rules], now, request.action, request.text)
            return answer
        key = read_key(request.service, request.action, request.protocol, request.method, request.path,
                       request.query, request.body)
        open_windows: dict[str, tuple[float, float]] = {}
        candidates = []
        for rule in self.faults.stale_rules_in_scope(request.service, request.text, request.access_key_id):
            window_seconds = rule.stale_read_max * self.model.time_scale
            start = stale.window_start(rule.id, window_seconds, now)
            if start is not None:
                open_windows[rule.id] = (start, window_seconds)
                candidates.append(rule)
        hit = self.faults.stale_read_hit(candidates, request.action) if candidates else None
        if hit is not None:
            window_start, window_seconds = open_windows[hit.id]
            previous = stale.previous_view(key, window_start)
            if previous is not None:
                self.fault_stats.fault(request.service, request.action, "stale_read",
                                       access_key_id=request.access_key_id)
                start_response(previous.status, previous.headers)
                return [previous.body]
        captured = _Captured(start_response, defer=True)
        body = b"".join(self._moto(environ, captured))
        if hit is not None and request.action == "DescribeAutoScalingGroups" and captured.succeeded():
            hidden = stale.hidden_groups(hit.id, open_windows[hit.id][1], now)
            filtered = without_groups(body, hidden)
            if filtered != body:
                self.fault_stats.fault(request.service, request.action, "stale_read",
                                       access_key_id=request.access_key_id)
                captured.replace_length(len(filtered))
                captured.send()
                return [filtered]
        if captured.succeeded():
            stale.remember(key, CachedResponse(captured.status, list(captured.headers), body, now))
        captured.send()
        return [body]

    @staticmethod
    def _reset_moto() -> None:
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()


def _read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > 0:
        return environ["wsgi.input"].read(length)
    # A chunked upload has no length; werkzeug then de-chunks the input and says so.
    return environ["wsgi.input"].read() if environ.get("wsgi.input_terminated") else b""


class _AwsRequest:
    """What identifies an AWS call; reading it re-wraps the body for moto."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(self.body)
        if not environ.get("CONTENT_LENGTH") and self.body:
            environ["CONTENT_LENGTH"] = str(len(self.body))
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        self.method = environ.get("REQUEST_METHOD", "GET")
        self.path = environ.get("PATH_INFO", "")
        self.query = environ.get("QUERY_STRING", "")
        self.service, self.action, self.protocol, self.text, self.access_key_id = identify(
            headers, self.method, self.query, self.body
        )


class _Captured:
    """A start_response that records the status and headers (and with `defer`, sends them
    only on `send`, so the body may still change)."""

    def __init__(self, start_response: StartResponse, defer: bool = False) -> None:
        self.start_response = start_response
        self.defer = defer
        self.status = ""
        self.headers: list[tuple[str, str]] = []

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        self.status, self.headers = status, list(headers)
        if not self.defer:
            return self.start_response(status, headers, exc_info)
        return lambda data: None

    def succeeded(self) -> bool:
        return self.status.startswith("2")

    def replace_length(self, length: int) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != "content-length"]
        self.headers.append(("Content-Length", str(length)))

    def send(self) -> None:
        self.start_response(self.status, self.headers)


def _drop_connection(environ: dict[str, Any]) -> None:
    """Closes the client's socket with no response; werkzeug treats the ConnectionError as a
    client that went away (no 500, no log), so the SDK sees the connection end mid-exchange."""
    connection = environ.get("werkzeug.socket")
    if connection is not None:
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionAbortedError("zdd_localaws: connection dropped by a fault rule")


def _query_int(environ: dict[str, Any], name: str, default: int) -> int:
    from urllib.parse import parse_qs

    values = parse_qs(environ.get("QUERY_STRING", "")).get(name)
    return int(values[0]) if values else default


def _query_text(environ: dict[str, Any], name: str) -> str | None:
    from urllib.parse import parse_qs

    values = parse_qs(environ.get("QUERY_STRING", "")).get(name)
    return values[0] if values else None


def _json(start_response: StartResponse, status: int, body: Any) -> list[bytes]:
    payload = json.dumps(body).encode()
    reason = HTTPStatus(status).phrase
    start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


class _QuietHandler(WSGIRequestHandler):
    """No access log: the tests drive hundreds of calls and read stderr for real errors."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def build_server(
    model: HealthModel,
    host: str = "127.0.0.1",
    port: int = 0,
    verbose: bool = False,
    settings: dict[str, Any] | None = None,
    traffic: TrafficModel | None = None,
    alarm_holds: AlarmHolds | None = None,
) -> tuple[BaseWSGIServer, ZddApp]:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    app = ZddApp(DomainDispatcherApplication(create_backend_app), model, settings, traffic, alarm_holds)
    handler = WSGIRequestHandler if verbose else _QuietHandler
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    return server, app


def start_ticker(app: ZddApp, stop: threading.Event, period_seconds: float) -> threading.Thread:
    """Terminate drained instances on time even when nobody is calling the server."""

    def loop() -> None:
        while not stop.wait(period_seconds):
            try:
                app.tick()
            except Exception as error:  # noqa: BLE001 - keep ticking; report it
                print(f"zdd_localaws: ticker error: {error!r}", file=sys.stderr)

    thread = threading.Thread(target=loop, name="zdd-ticker", daemon=True)
    thread.start()
    return thread
