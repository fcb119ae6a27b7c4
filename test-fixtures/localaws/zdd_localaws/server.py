"""The HTTP side: moto's WSGI app behind a thin wrapper that serves /zdd/* control endpoints,
keeps the health model in step with moto's reset, and serialises requests (moto's backends are
not thread-safe, and the ticker thread terminates drained instances in the background)."""

from __future__ import annotations

import io
import json
import re
import sys
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .faults import FaultError, FaultSet, identify, render
from .model import HealthModel
from .patches import run_due
from .patches_asg import scale_as_policy

_HEALTH_PATH = re.compile(r"^/zdd/instances/(?P<instance_id>[^/]+)/health$")
_FAULT_PATH = re.compile(r"^/zdd/faults/(?P<fault_id>[^/]+)$")
_SCALE_PATH = re.compile(r"^/zdd/autoscaling/(?P<group>[^/]+)/scale$")
StartResponse = Callable[..., Any]


class ZddApp:
    """WSGI: /zdd/... for the model, everything else to moto (after applying due transitions)."""

    def __init__(self, moto_app: Any, model: HealthModel, settings: dict[str, Any] | None = None) -> None:
        self.moto_app = moto_app
        self.model = model
        # Reported by GET /zdd/status, so a test can check what it is running against.
        self.settings = {"time_scale": model.time_scale, **(settings or {})}
        self.backend_lock = threading.RLock()
        self.faults = FaultSet()

    def tick(self) -> None:
        with self.backend_lock:
            run_due(self.model)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/zdd/"):
            with self.backend_lock:
                run_due(self.model)
                return self._control(method, path, environ, start_response)
        injected = self._injected_fault(environ, start_response)
        if injected is not None:
            return injected
        with self.backend_lock:
            run_due(self.model)
            if path == "/moto-api/reset" and method == "POST":
                self.model.reset()
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
            self.faults.clear()
            return _json(start_response, 200, {"reset": True})
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

    def _injected_fault(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes] | None:
        """The injected error answering this call, or None (then moto answers). The body is
        read only while a rule is active, and handed on to moto unchanged."""
        if not self.faults.active():
            return None
        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        service, action, protocol, text, access_key_id = identify(
            headers, environ.get("REQUEST_METHOD", "GET"), environ.get("QUERY_STRING", ""), body
        )
        fault = self.faults.match(service, action, text, access_key_id)
        if fault is None:
            return None
        status, response_headers, payload = render(fault, protocol, action)
        start_response(f"{status} {HTTPStatus(status).phrase}", response_headers)
        return [payload]

    @staticmethod
    def _reset_moto() -> None:
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()


def _read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length > 0 else b""


def _query_int(environ: dict[str, Any], name: str, default: int) -> int:
    from urllib.parse import parse_qs

    values = parse_qs(environ.get("QUERY_STRING", "")).get(name)
    return int(values[0]) if values else default


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
) -> tuple[BaseWSGIServer, ZddApp]:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    app = ZddApp(DomainDispatcherApplication(create_backend_app), model, settings)
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
