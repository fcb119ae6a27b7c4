"""Injected faults (`/zdd/faults`): the rules alone, then as boto3 sees them through the server
(botocore parses the error exactly as it would parse AWS's own answer)."""

from __future__ import annotations

import itertools
import json
import urllib.error

import pytest
from botocore.exceptions import ClientError

from conftest import LocalAws, make_fleet
from zdd_localaws.faults import FaultError, FaultSet, identify, parse_rule, render


def rule(**fields: object) -> dict[str, object]:
    return {"service": "autoscaling", "action": "SetDesiredCapacity", "error_code": "AccessDenied",
            "http_status": 403, **fields}


def test_a_rule_answers_count_matching_calls_then_retires() -> None:
    faults = FaultSet()
    faults.add(rule(match="web-g1", count=2))
    assert faults.match("autoscaling", "SetDesiredCapacity", "AutoScalingGroupName=web-g2") is None
    assert faults.match("autoscaling", "DescribeAutoScalingGroups", "web-g1") is None
    assert faults.match("elasticloadbalancing", "SetDesiredCapacity", "web-g1") is None
    first = faults.match("autoscaling", "SetDesiredCapacity", "AutoScalingGroupName=web-g1")
    assert first is not None and first.remaining == 1
    assert faults.match("autoscaling", "SetDesiredCapacity", "web-g1") is not None
    assert faults.match("autoscaling", "SetDesiredCapacity", "web-g1") is None
    assert faults.list()[0]["hits"] == 2


def test_wildcards_and_any_of_several_match_strings() -> None:
    faults = FaultSet()
    faults.add({"service": "*", "action": "*", "match": ["web-", "tg-blue"], "error_code": "ExpiredToken"})
    assert faults.match("elasticloadbalancing", "DescribeTargetHealth", "TargetGroupArn=arn:tg-blue") is not None
    assert faults.match("monitoring", "DescribeAlarms", "AlarmNames.member.1=other") is None
    assert faults.clear() == 1
    assert faults.match("autoscaling", "SetDesiredCapacity", "web-g1") is None


def test_a_rule_can_let_calls_through_first_and_match_one_principal_only() -> None:
    faults = FaultSet()
    faults.add(rule(skip=2, access_key_id="AKIDPROVIDER"))
    call = ("autoscaling", "SetDesiredCapacity", "web-g1")
    assert faults.match(*call, "AKIDSAMPLER") is None
    assert faults.match(*call, "AKIDPROVIDER") is None
    assert faults.match(*call, "AKIDPROVIDER") is None
    assert faults.match(*call, "AKIDPROVIDER") is not None
    assert faults.match(*call, "AKIDSAMPLER") is None
    assert [(f["skipped"], f["hits"]) for f in faults.list()] == [(2, 1)]


@pytest.mark.parametrize("body, complaint", [
    ({"kind": "teleport", "error_code": "X"}, "not supported"),
    (rule(http_status=200), "http_status"),
    (rule(count=0), "count"),
    (rule(match=[""]), "match"),
    ({"service": "autoscaling"}, "error_code"),
    (rule(colour="red"), "unknown field"),
    (rule(skip=-1), "skip"),
    (rule(access_key_id=""), "access_key_id"),
])
def test_malformed_rules_are_refused(body: dict[str, object], complaint: str) -> None:
    with pytest.raises(FaultError, match=complaint):
        parse_rule(body, itertools.count(1))


def test_requests_are_identified_by_signing_name_and_action() -> None:
    auth = "AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/autoscaling/aws4_request, SignedHeaders=host"
    service, action, protocol, text, key = identify(
        {"authorization": auth, "content-type": "application/x-www-form-urlencoded"}, "POST", "",
        b"Action=SetDesiredCapacity&AutoScalingGroupName=web%2Dg1",
    )
    assert (service, action, protocol, key) == ("autoscaling", "SetDesiredCapacity", "query", "test")
    assert "web-g1" in text
    auth = auth.replace("autoscaling", "dynamodb")
    assert identify({"authorization": auth, "content-type": "application/x-amz-json-1.0",
                     "x-amz-target": "DynamoDB_20120810.PutItem"}, "POST", "", b"{}")[:3] == (
        "dynamodb", "PutItem", "json")
    auth = auth.replace("dynamodb", "s3")
    assert identify({"authorization": auth}, "PUT", "", b"state")[:3] == ("s3", "PUT", "s3")


def test_errors_have_the_services_own_shapes() -> None:
    fault = parse_rule(rule(), itertools.count(1))
    status, headers, body = render(fault, "query", "SetDesiredCapacity")
    assert status == 403
    assert b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>" in body
    assert b"not authorized to perform: SetDesiredCapacity" in body
    status, headers, body = render(fault, "json", "PutItem")
    assert json.loads(body)["__type"] == "AccessDenied"
    assert ("x-amzn-ErrorType", "AccessDenied") in headers


def test_boto3_sees_access_denied_on_the_matching_call_only(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    autoscaling = aws.client("autoscaling")
    for name in ("web-g1", "web-g2"):
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name, MinSize=0, MaxSize=2, DesiredCapacity=0,
            LaunchTemplate={"LaunchTemplateId": fleet.launch_template_id, "Version": "1"},
            VPCZoneIdentifier=fleet.subnet_ids[0],
        )
    added = aws.control("POST", "/zdd/faults", rule(match="web-g1", count=1))
    with pytest.raises(ClientError) as refused:
        autoscaling.set_desired_capacity(AutoScalingGroupName="web-g1", DesiredCapacity=1)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # Another group, and the same call once the count is used up, reach moto.
    autoscaling.set_desired_capacity(AutoScalingGroupName="web-g2", DesiredCapacity=1)
    autoscaling.set_desired_capacity(AutoScalingGroupName="web-g1", DesiredCapacity=1)
    listed = aws.control("GET", "/zdd/faults")["faults"]
    assert [(f["id"], f["hits"], f["remaining"]) for f in listed] == [(added["id"], 1, 0)]


def test_boto3_sees_an_expired_token_from_a_json_service_until_cleared(aws: LocalAws) -> None:
    dynamodb = aws.client("dynamodb")
    aws.control("POST", "/zdd/faults", {"service": "dynamodb", "action": "*", "error_code": "ExpiredTokenException",
                                        "http_status": 400})
    with pytest.raises(ClientError) as refused:
        dynamodb.list_tables()
    assert refused.value.response["Error"]["Code"] == "ExpiredTokenException"
    assert "expired" in refused.value.response["Error"]["Message"]
    assert aws.control("DELETE", "/zdd/faults") == {"cleared": 1}
    assert dynamodb.list_tables()["TableNames"] == []


def test_a_malformed_rule_is_answered_400(aws: LocalAws) -> None:
    with pytest.raises(urllib.error.HTTPError) as answer:
        aws.control("POST", "/zdd/faults", {"kind": "teleport", "error_code": "X"})
    assert answer.value.code == 400


def test_reset_clears_faults(aws: LocalAws) -> None:
    aws.control("POST", "/zdd/faults", rule())
    aws.control("POST", "/zdd/reset")
    assert aws.control("GET", "/zdd/faults") == {"faults": []}
