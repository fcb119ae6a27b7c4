"""How a request is identified and how an injected error looks on the wire, per protocol, so
an SDK parses it exactly as it parses AWS's own answer. Pure.

Protocols: `query` (Auto Scaling, ELBv2, CloudWatch: `<ErrorResponse>` XML), `ec2` (EC2's own
`<Response><Errors>` XML), `json` (DynamoDB's JSON 1.0 and other JSON services: `{"__type",
"message"}` with `x-amzn-ErrorType`), `s3` (REST XML `<Error>`).

The default codes are the ones the AWS SDK for Rust's retry classifier recognises
(aws-runtime's `THROTTLING_ERRORS`: Throttling, ThrottlingException, RequestLimitExceeded,
SlowDown, ...; any 500/502/503/504 is transient), each with the status the service sends.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qs, unquote_plus
from xml.sax.saxutils import escape

# AWS's own messages for the faults tests use most: a missing permission, an expired session
# token (what a CI job sees when its assumed role's session outlives its credentials), throttling.
DEFAULT_MESSAGES = {
    "AccessDenied": "User: arn:aws:sts::123456789012:assumed-role/ci/zdd is not authorized to perform: {action}",
    "AccessDeniedException": "User: arn:aws:sts::123456789012:assumed-role/ci/zdd is not authorized to perform: {action}",
    "UnauthorizedOperation": "You are not authorized to perform this operation.",
    "ExpiredToken": "The security token included in the request is expired",
    "ExpiredTokenException": "The security token included in the request is expired",
    "Throttling": "Rate exceeded",
    "ThrottlingException": "Rate of requests exceeds the allowed throughput.",
    "RequestLimitExceeded": "Request limit exceeded.",
    "SlowDown": "Please reduce your request rate.",
    "InternalFailure": "The request processing has failed because of an unknown error, exception or failure.",
    "InternalError": "An internal error has occurred",
    "InternalServerError": "Internal server error",
    "ServiceUnavailable": "The service is unavailable. Please try again shortly.",
    "Unavailable": "The server is overloaded and can't handle the request.",
}

# (error code, HTTP status) per protocol for `throttle` and `server_error` rules without an
# `error_code`. EC2 throttles with 503, the query services and DynamoDB with 400.
THROTTLE_SHAPES = {
    "query": ("Throttling", 400),
    "ec2": ("RequestLimitExceeded", 503),
    "s3": ("SlowDown", 503),
    "json": ("ThrottlingException", 400),
}
SERVER_ERROR_SHAPES = {
    "query": ("InternalFailure", 500),
    "ec2": ("InternalError", 500),
    "s3": ("InternalError", 500),
    "json": ("InternalServerError", 500),
}

# DynamoDB qualifies `__type` with its model's namespace; the SDK keeps the part after `#`.
_JSON_TYPE_PREFIX = {"dynamodb": "com.amazonaws.dynamodb.v20120810#"}


def identify(headers: dict[str, str], method: str, query: str, body: bytes) -> tuple[str, str, str, str, str]:
    """(service, action, protocol, searchable text, access key id) of a request.

    The service is the SigV4 signing name in the Authorization header's credential scope
    (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`); the action is the query protocol's
    `Action` parameter or the JSON protocol's `X-Amz-Target` suffix (S3: the HTTP method, e.g.
    `GET`, `PUT`).
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
        # S3's REST calls name no action; the method tells a read (GET, HEAD) from a write.
        protocol = "s3"
        action = method
    else:
        protocol = "ec2" if service == "ec2" else "query"
        params = parse_qs(query)
        if "x-www-form-urlencoded" in content_type or not content_type:
            params.update(parse_qs(text_body))
        action = (params.get("Action") or [""])[0]
    text = unquote_plus(query) + "\n" + unquote_plus(text_body)
    return service, action, protocol, text, access_key_id


def default_shape(kind: str, protocol: str) -> tuple[str, int]:
    shapes = THROTTLE_SHAPES if kind == "throttle" else SERVER_ERROR_SHAPES
    return shapes.get(protocol, shapes["query"])


def render_error(
    error_code: str, http_status: int, message: str | None, protocol: str, action: str, service: str = ""
) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of the error as the service would send it."""
    request_id = str(uuid.uuid4())
    message = message or DEFAULT_MESSAGES.get(error_code, "injected by zdd_localaws").format(
        action=action or "this action"
    )
    if protocol == "json":
        error_type = _JSON_TYPE_PREFIX.get(service, "") + error_code
        payload = json.dumps({"__type": error_type, "message": message}).encode()
        content_type = "application/x-amz-json-1.0" if service == "dynamodb" else "application/x-amz-json-1.1"
        headers = [
            ("Content-Type", content_type),
            ("x-amzn-ErrorType", error_code),
            ("x-amzn-RequestId", request_id),
        ]
    elif protocol == "s3":
        payload = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(error_code)}</Code>'
            f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    elif protocol == "ec2":
        payload = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{escape(error_code)}</Code>'
            f"<Message>{escape(message)}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers = [("Content-Type", "text/xml;charset=UTF-8")]
    else:
        sender = "Sender" if http_status < 500 else "Receiver"
        payload = (
            f"<ErrorResponse><Error><Type>{sender}</Type><Code>{escape(error_code)}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    headers.append(("Content-Length", str(len(payload))))
    return http_status, headers, payload
