"""The rate-limit mode (fault kind `rate_limit`): AWS's account-level API throttling as a token
bucket per service and action, or one shared bucket; first the bucket and the rules alone on a
manual clock, then as boto3 sees them through the server."""

from __future__ import annotations

import itertools
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import LocalAws
from zdd_localaws.clock import ManualClock
from zdd_localaws.faults import FaultError, FaultSet, TokenBucket, parse_rule, render


def rate_limited(clock: ManualClock, **rule: Any) -> FaultSet:
    faults = FaultSet(clock=clock)
    faults.add({"kind": "rate_limit", **rule})
    return faults


def throttled(faults: FaultSet, service: str, action: str, calls: int, key: str = "") -> int:
    return sum(faults.match(service, action, "", key) is not None for _ in range(calls))


def test_a_bucket_lets_its_burst_through_then_refills_at_its_rate() -> None:
    bucket = TokenBucket.full(per_second=10, burst=40, now=0.0)
    assert [bucket.take(0.0) for _ in range(41)] == [True] * 40 + [False]
    assert not bucket.take(0.05)  # half a token
    assert bucket.take(0.1)
    assert [bucket.take(100.0) for _ in range(41)].count(True) == 40  # never above the burst


def test_a_refused_call_takes_no_token_and_an_earlier_reading_refills_nothing() -> None:
    bucket = TokenBucket.full(per_second=1, burst=1, now=10.0)
    assert bucket.take(10.0)
    assert not bucket.take(10.5)
    assert not bucket.take(9.0)  # a thread that read the clock before another's call
    assert bucket.take(11.0)


def test_each_action_has_its_own_bucket_unless_shared() -> None:
    clock = ManualClock()
    own = rate_limited(clock, service="elasticloadbalancing", action="Describe*", per_second=10, burst=4)
    assert throttled(own, "elasticloadbalancing", "DescribeTargetHealth", 6) == 2
    assert throttled(own, "elasticloadbalancing", "DescribeListeners", 6) == 2
    shared = rate_limited(clock, service="elasticloadbalancing", action="Describe*", per_second=10, burst=4,
                          shared=True)
    assert throttled(shared, "elasticloadbalancing", "DescribeTargetHealth", 3) == 0
    assert throttled(shared, "elasticloadbalancing", "DescribeListeners", 3) == 2
    # The glob: a write is not in the describes' bucket.
    assert throttled(shared, "elasticloadbalancing", "ModifyListener", 10) == 0


def test_the_rate_is_per_second_of_the_clock() -> None:
    # Binary fractions of a second: the token arithmetic is exact.
    clock = ManualClock()
    faults = rate_limited(clock, service="autoscaling", action="*", per_second=16, burst=5)
    answered = 0
    for _ in range(80):  # 10 s at 8 calls a second: under the rate, never throttled
        clock.advance(0.125)
        answered += faults.match("autoscaling", "DescribeAutoScalingGroups", "") is None
    assert answered == 80
    hits = 0
    for _ in range(100):  # 3.125 s at 32 calls a second: the 4 tokens left + 16 a second
        clock.advance(1 / 32)
        hits += faults.match("autoscaling", "DescribeAutoScalingGroups", "") is not None
    assert 100 - hits == 4 + 50
    assert faults.list()[0]["hits"] == hits


def test_scope_by_access_key_leaves_other_callers_alone() -> None:
    faults = rate_limited(ManualClock(), service="autoscaling", action="*", per_second=1, burst=1,
                          access_key_id="AKIDMINE")
    assert throttled(faults, "autoscaling", "DescribeAutoScalingGroups", 5, "AKIDOTHER") == 0
    assert throttled(faults, "autoscaling", "DescribeAutoScalingGroups", 5, "AKIDMINE") == 4


def test_a_rate_limit_answers_with_the_services_throttling_shape() -> None:
    fault = parse_rule({"kind": "rate_limit", "per_second": 1, "burst": 1}, itertools.count(1))
    assert render(fault, "query", "DescribeTargetHealth", "elasticloadbalancing")[0] == 400
    assert b"<Code>Throttling</Code>" in render(fault, "query", "DescribeTargetHealth")[2]
    assert b"<Code>RequestLimitExceeded</Code>" in render(fault, "ec2", "DescribeVpcs", "ec2")[2]


@pytest.mark.parametrize("rule, message", [
    ({}, "per_second"),
    ({"per_second": 0, "burst": 1}, "per_second"),
    ({"per_second": 1}, "burst"),
    ({"per_second": 1, "burst": 0.5}, "burst"),
    ({"per_second": 1, "burst": 1, "shared": "yes"}, "shared"),
    ({"per_second": 1, "burst": 1, "probability": 0.5}, "probability"),
    ({"per_second": 1, "burst": 1, "skip": 2}, "skip"),
    ({"per_second": 1, "burst": 1, "seed": 2}, "seed"),
    ({"per_second": True, "burst": 1}, "per_second"),
])
def test_malformed_rate_limits_are_refused(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(FaultError, match=message):
        parse_rule({"kind": "rate_limit", **rule}, itertools.count(1))


def single_attempt(aws: LocalAws, service: str, access_key_id: str) -> Any:
    return boto3.client(
        service, endpoint_url=aws.endpoint, region_name="us-east-1", aws_access_key_id=access_key_id,
        aws_secret_access_key="test", config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def test_through_the_server_a_burst_above_the_rate_is_throttled_and_counted(aws: LocalAws) -> None:
    rule = aws.control("POST", "/zdd/faults", {"kind": "rate_limit", "service": "elasticloadbalancing",
                                               "action": "Describe*", "per_second": 0.5, "burst": 3,
                                               "shared": True, "access_key_id": "AKIDRATED"})
    assert rule["per_second"] == 0.5 and rule["burst"] == 3 and rule["shared"] is True
    mine = single_attempt(aws, "elbv2", "AKIDRATED")
    others = single_attempt(aws, "elbv2", "AKIDOTHERS")
    answers = []
    for call in (mine.describe_load_balancers, mine.describe_target_groups) * 3:
        try:
            call()
            answers.append("ok")
        except ClientError as refused:
            answers.append(refused.response["Error"]["Code"])
            assert refused.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # 3 tokens, a refill of 0.5 a second: a 4th token could only come after 2 s of six calls.
    assert answers[:3] == ["ok"] * 3
    assert answers[3:].count("Throttling") >= 2
    for _ in range(5):
        others.describe_load_balancers()  # another caller's calls are not limited
    stats = aws.control("GET", "/zdd/faults/stats?access_key_id=AKIDRATED")
    assert stats["totals"]["faults"] == {"rate_limit": answers.count("Throttling")}
    assert stats["totals"]["requests"] == 6
    assert aws.control("GET", "/zdd/faults/stats?access_key_id=AKIDOTHERS")["totals"]["faults"] == {}
    assert aws.control("GET", "/zdd/faults")["faults"][0]["hits"] == answers.count("Throttling")


def test_botocore_retries_absorb_a_rate_limit(aws: LocalAws) -> None:
    aws.control("POST", "/zdd/faults", {"kind": "rate_limit", "service": "autoscaling", "per_second": 20,
                                        "burst": 2, "access_key_id": "AKIDRETRY"})
    client = boto3.client(
        "autoscaling", endpoint_url=aws.endpoint, region_name="us-east-1", aws_access_key_id="AKIDRETRY",
        aws_secret_access_key="test", config=Config(retries={"mode": "adaptive", "max_attempts": 10}),
    )
    for _ in range(10):
        client.describe_auto_scaling_groups()
    stats = aws.control("GET", "/zdd/faults/stats?access_key_id=AKIDRETRY")["totals"]
    assert stats["requests"] == 10 + stats["faults"].get("rate_limit", 0)
