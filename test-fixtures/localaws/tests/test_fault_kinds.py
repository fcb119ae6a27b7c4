"""The hostile fault kinds (throttle, server_error, latency, drop), their seeds, the preset and
the stats: the rules alone, then as boto3 sees them through the server."""

from __future__ import annotations

import itertools
import json
import urllib.error
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from conftest import LocalAws
from zdd_localaws.faults import FaultError, FaultSet, FaultStats, parse_rule, preset_rules, render


def shape(kind: str, protocol: str, service: str = "", **fields: Any) -> tuple[int, dict[str, str], bytes]:
    fault = parse_rule({"kind": kind, **fields}, itertools.count(1))
    status, headers, body = render(fault, protocol, "AnAction", service)
    return status, dict(headers), body


@pytest.mark.parametrize("protocol, service, code, status", [
    ("query", "autoscaling", "Throttling", 400),
    ("query", "elasticloadbalancing", "Throttling", 400),
    ("query", "monitoring", "Throttling", 400),
    ("ec2", "ec2", "RequestLimitExceeded", 503),
    ("s3", "s3", "SlowDown", 503),
])
def test_throttling_has_each_services_code_and_status(protocol: str, service: str, code: str, status: int) -> None:
    got_status, _, body = shape("throttle", protocol, service)
    assert got_status == status
    assert f"<Code>{code}</Code>".encode() in body


def test_dynamodb_throttles_in_its_json_1_0_shape() -> None:
    status, headers, body = shape("throttle", "json", "dynamodb")
    assert status == 400
    assert json.loads(body)["__type"] == "com.amazonaws.dynamodb.v20120810#ThrottlingException"
    assert headers["Content-Type"] == "application/x-amz-json-1.0"


def test_ec2_errors_use_ec2s_own_envelope() -> None:
    _, _, body = shape("throttle", "ec2", "ec2")
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>')
    assert b"<RequestID>" in body


@pytest.mark.parametrize("protocol, service, code", [
    ("query", "autoscaling", "InternalFailure"),
    ("ec2", "ec2", "InternalError"),
    ("s3", "s3", "InternalError"),
    ("json", "dynamodb", "InternalServerError"),
])
def test_server_errors_default_to_each_services_500(protocol: str, service: str, code: str) -> None:
    status, _, body = shape("server_error", protocol, service)
    assert status == 500
    assert code.encode() in body


def test_a_server_error_can_be_service_unavailable_and_only_5xx() -> None:
    status, _, body = shape("server_error", "query", "autoscaling", error_code="ServiceUnavailable",
                            http_status=503)
    assert status == 503 and b"<Type>Receiver</Type><Code>ServiceUnavailable</Code>" in body
    with pytest.raises(FaultError, match="500 to 599"):
        parse_rule({"kind": "server_error", "http_status": 429}, itertools.count(1))


def hit_pattern(seed: int, calls: int = 200, probability: float = 0.2) -> str:
    faults = FaultSet()
    faults.add({"kind": "throttle", "service": "autoscaling", "probability": probability, "seed": seed})
    return "".join("x" if faults.match("autoscaling", "DescribeAutoScalingGroups", "") else "." for _ in range(calls))


def test_the_same_seed_replays_the_same_faults_and_another_seed_does_not() -> None:
    first = hit_pattern(7)
    assert hit_pattern(7) == first
    assert hit_pattern(8) != first
    # The share is the probability's, give or take (fixed by the seed, so not flaky).
    assert 20 <= first.count("x") <= 60, first


def test_calls_a_rule_does_not_match_do_not_advance_its_rng() -> None:
    faults = FaultSet()
    faults.add({"kind": "throttle", "service": "autoscaling", "match": "web-g1", "probability": 0.2, "seed": 7})
    pattern = ""
    for _ in range(200):
        faults.match("autoscaling", "DescribeAutoScalingGroups", "web-g2")
        pattern += "x" if faults.match("autoscaling", "DescribeAutoScalingGroups", "web-g1") else "."
    assert pattern == hit_pattern(7)


def test_latency_adds_fixed_plus_seeded_jitter_and_does_not_answer() -> None:
    def delays(seed: int) -> list[float]:
        faults = FaultSet()
        faults.add({"kind": "latency", "service": "*", "latency_ms": 200, "jitter_ms": 50, "seed": seed})
        faults.add({"kind": "error", "service": "*", "error_code": "AccessDenied", "count": 1})
        decisions = [faults.decide("ec2", "DescribeInstances", "") for _ in range(5)]
        assert decisions[0].answer is not None and decisions[1].answer is None
        return [d.delay_seconds for d in decisions]

    first = delays(3)
    assert all(0.2 <= d <= 0.25 for d in first), first
    assert len(set(first)) == 5
    assert delays(3) == first


def test_the_first_answering_rule_hit_answers_and_later_ones_do_not_draw() -> None:
    faults = FaultSet()
    first = faults.add({"kind": "drop", "service": "s3", "count": 1})
    second = faults.add({"kind": "throttle", "service": "s3", "probability": 0.5, "seed": 1})
    assert faults.match("s3", "GET", "") is first
    assert second.hits + second.misses == 0
    faults.match("s3", "GET", "")
    assert second.hits + second.misses == 1


@pytest.mark.parametrize("body, complaint", [
    ({"kind": "throttle", "probability": 1.5}, "probability"),
    ({"kind": "throttle", "seed": "7"}, "seed"),
    ({"kind": "latency"}, "latency_ms"),
    ({"kind": "latency", "latency_ms": 10, "jitter_ms": -1}, "jitter_ms"),
    ({"kind": "stale_read", "stale_read_max": 0}, "stale_read_max"),
    ({"kind": "drop", "error_code": "X"}, "unknown field"),
    ({"kind": "lost_response", "latency_ms": 5}, "unknown field"),
    ({"kind": "latency", "latency_ms": 5, "stale_read_max": 1}, "unknown field"),
])
def test_malformed_hostile_rules_are_refused(body: dict[str, Any], complaint: str) -> None:
    with pytest.raises(FaultError, match=complaint):
        parse_rule(body, itertools.count(1))


def test_the_hostile_preset_is_the_suites_mix_per_service_with_derived_seeds() -> None:
    rules = preset_rules({"name": "hostile", "seed": 7, "services": ["autoscaling", "ec2"]})
    by_kind = {(r["service"], r["kind"]): r for r in rules}
    assert len(rules) == 8
    assert by_kind[("ec2", "throttle")]["probability"] == 0.2
    assert by_kind[("ec2", "server_error")]["probability"] == 0.02
    assert by_kind[("autoscaling", "latency")]["latency_ms"] == 200.0
    assert by_kind[("autoscaling", "stale_read")]["stale_read_max"] == 10.0
    assert len({r["seed"] for r in rules}) == 8
    assert preset_rules({"name": "hostile", "seed": 7, "services": ["autoscaling", "ec2"]}) == rules
    quiet = preset_rules({"name": "hostile", "services": ["s3"], "latency_ms": 0, "stale_read_max": 0,
                          "match": "web-"})
    assert [(r["kind"], r["match"]) for r in quiet] == [("throttle", "web-"), ("server_error", "web-")]
    sim = preset_rules({"name": "hostile", "services": ["ec2"], "api_failure": 0.11})
    assert [round(r["probability"], 6) for r in sim if "probability" in r] == [0.1, 0.01]
    for body in ({"name": "calm"}, {"name": "hostile", "services": []}, {"name": "hostile", "colour": 1},
                 {"name": "hostile", "api_failure": 0.1, "throttle": 0.1}, {"name": "hostile", "throttle": 2}):
        with pytest.raises(FaultError):
            preset_rules(body)


def test_stats_count_requests_and_faults_per_service_and_action() -> None:
    stats = FaultStats()
    for _ in range(3):
        stats.seen("autoscaling", "DescribeAutoScalingGroups")
    stats.fault("autoscaling", "DescribeAutoScalingGroups", "throttle")
    stats.fault("autoscaling", "DescribeAutoScalingGroups", "latency", 2)
    stats.seen("s3", "PUT")
    assert stats.to_json() == {
        "services": {
            "autoscaling": {"DescribeAutoScalingGroups": {"requests": 3, "faults": {"latency": 2, "throttle": 1}}},
            "s3": {"PUT": {"requests": 1, "faults": {}}},
        },
        "totals": {"requests": 4, "faults": {"latency": 2, "throttle": 1}},
    }


def test_stats_of_one_access_key_count_only_the_calls_it_signed() -> None:
    stats = FaultStats()
    stats.seen("autoscaling", "CreateAutoScalingGroup", "AKIDMINE")
    stats.fault("autoscaling", "CreateAutoScalingGroup", "lost_response", access_key_id="AKIDMINE")
    stats.seen("autoscaling", "CreateAutoScalingGroup", "AKIDOTHER")
    stats.fault("autoscaling", "CreateAutoScalingGroup", "throttle", access_key_id="AKIDOTHER")
    assert stats.to_json("AKIDMINE")["totals"] == {"requests": 1, "faults": {"lost_response": 1}}
    assert stats.to_json()["totals"] == {"requests": 2, "faults": {"lost_response": 1, "throttle": 1}}
    assert stats.to_json("AKIDNOBODY") == {"services": {}, "totals": {"requests": 0, "faults": {}}}


def single_attempt(aws: LocalAws, service: str, access_key_id: str = "test") -> Any:
    return boto3.client(
        service, endpoint_url=aws.endpoint, region_name="us-east-1", aws_access_key_id=access_key_id,
        aws_secret_access_key="test", config=Config(retries={"mode": "standard", "total_max_attempts": 1},
                                                    s3={"addressing_style": "path"}),
    )


@pytest.mark.parametrize("service, call, code, status", [
    ("autoscaling", lambda c: c.describe_auto_scaling_groups(), "Throttling", 400),
    ("elbv2", lambda c: c.describe_load_balancers(), "Throttling", 400),
    # botocore speaks CloudWatch's JSON protocol (the Rust SDK pinned here its query protocol).
    ("cloudwatch", lambda c: c.describe_alarms(), "ThrottlingException", 400),
    ("ec2", lambda c: c.describe_vpcs(), "RequestLimitExceeded", 503),
    ("s3", lambda c: c.list_buckets(), "SlowDown", 503),
    ("dynamodb", lambda c: c.list_tables(), "ThrottlingException", 400),
])
def test_boto3_parses_each_throttling_shape(aws: LocalAws, service: str, call: Any, code: str, status: int) -> None:
    signing = {"elbv2": "elasticloadbalancing", "cloudwatch": "monitoring"}.get(service, service)
    aws.control("POST", "/zdd/faults", {"kind": "throttle", "service": signing, "count": 1})
    client = single_attempt(aws, service)
    with pytest.raises(ClientError) as refused:
        call(client)
    assert refused.value.response["Error"]["Code"] == code
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    call(client)  # the count is used up
    stats = aws.control("GET", "/zdd/faults/stats")["services"][signing]
    assert sum(a["faults"].get("throttle", 0) for a in stats.values()) == 1
    assert sum(a["requests"] for a in stats.values()) == 2


def test_a_dropped_connection_is_a_connection_error_not_a_response(aws: LocalAws) -> None:
    aws.control("POST", "/zdd/faults", {"kind": "drop", "service": "autoscaling", "count": 1})
    client = single_attempt(aws, "autoscaling")
    with pytest.raises(ConnectionClosedError):
        client.describe_auto_scaling_groups()
    assert client.describe_auto_scaling_groups()["AutoScalingGroups"] == []
    assert aws.control("GET", "/zdd/faults/stats")["totals"]["faults"] == {"drop": 1}


def test_a_lost_response_is_a_connection_error_after_the_write_took_effect(aws: LocalAws) -> None:
    aws.control("POST", "/zdd/faults", {"kind": "lost_response", "service": "dynamodb", "action": "CreateTable",
                                        "count": 1})
    client = single_attempt(aws, "dynamodb")
    table = {"TableName": "locks", "KeySchema": [{"AttributeName": "LockID", "KeyType": "HASH"}],
             "AttributeDefinitions": [{"AttributeName": "LockID", "AttributeType": "S"}],
             "BillingMode": "PAY_PER_REQUEST"}
    with pytest.raises(ConnectionClosedError):
        client.create_table(**table)
    # The caller saw no answer, yet AWS made the table: re-issuing the write meets it.
    assert client.list_tables()["TableNames"] == ["locks"]
    with pytest.raises(ClientError) as again:
        client.create_table(**table)
    assert again.value.response["Error"]["Code"] == "ResourceInUseException"
    assert aws.control("GET", "/zdd/faults/stats")["totals"]["faults"] == {"lost_response": 1}


def test_a_lost_write_opens_its_stale_read_window(aws: LocalAws) -> None:
    client = single_attempt(aws, "dynamodb")
    assert client.list_tables()["TableNames"] == []
    aws.control("POST", "/zdd/faults", {"kind": "stale_read", "service": "dynamodb", "stale_read_max": 400})
    aws.control("POST", "/zdd/faults", {"kind": "lost_response", "service": "dynamodb", "action": "CreateTable",
                                        "count": 1})
    assert client.list_tables()["TableNames"] == []  # remembered before the write
    with pytest.raises(ConnectionClosedError):
        client.create_table(TableName="late", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
    assert client.list_tables()["TableNames"] == [], "the write's window serves the earlier view"
    assert aws.control("GET", "/zdd/faults/stats")["totals"]["faults"] == {"lost_response": 1, "stale_read": 1}


def test_stats_can_be_read_for_one_access_key(aws: LocalAws) -> None:
    aws.control("POST", "/zdd/faults", {"kind": "throttle", "service": "dynamodb", "access_key_id": "AKIDMINE"})
    mine, other = single_attempt(aws, "dynamodb", "AKIDMINE"), single_attempt(aws, "dynamodb", "AKIDOTHER")
    with pytest.raises(ClientError):
        mine.list_tables()
    other.list_tables()
    other.list_tables()
    answer = aws.control("GET", "/zdd/faults/stats?access_key_id=AKIDMINE")
    assert answer["totals"] == {"requests": 1, "faults": {"throttle": 1}}
    assert aws.control("GET", "/zdd/faults/stats")["totals"] == {"requests": 3, "faults": {"throttle": 1}}


def test_latency_and_server_errors_through_the_server(aws: LocalAws) -> None:
    aws.control("POST", "/zdd/faults", {"kind": "latency", "service": "dynamodb", "latency_ms": 20, "count": 2})
    aws.control("POST", "/zdd/faults", {"kind": "server_error", "service": "dynamodb", "count": 1})
    client = single_attempt(aws, "dynamodb")
    with pytest.raises(ClientError) as failed:
        client.list_tables()
    assert failed.value.response["Error"]["Code"] == "InternalServerError"
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert client.list_tables()["TableNames"] == []
    faults = aws.control("GET", "/zdd/faults/stats")["services"]["dynamodb"]["ListTables"]["faults"]
    assert faults == {"latency": 2, "server_error": 1}


def test_the_preset_endpoint_installs_rules_and_refuses_a_bad_preset(aws: LocalAws) -> None:
    added = aws.control("POST", "/zdd/faults/preset", {"name": "hostile", "seed": 7, "services": ["s3", "dynamodb"]})
    assert [(f["service"], f["kind"]) for f in added["faults"]] == [
        ("s3", "latency"), ("s3", "throttle"), ("s3", "server_error"),
        ("dynamodb", "latency"), ("dynamodb", "throttle"), ("dynamodb", "server_error"), ("dynamodb", "stale_read")]
    assert len(aws.control("GET", "/zdd/faults")["faults"]) == 7
    with pytest.raises(urllib.error.HTTPError) as answer:
        aws.control("POST", "/zdd/faults/preset", {"name": "calm"})
    assert answer.value.code == 400
    aws.control("DELETE", "/zdd/faults/stats")
    assert aws.control("GET", "/zdd/faults/stats") == {"services": {}, "totals": {"requests": 0, "faults": {}}}
