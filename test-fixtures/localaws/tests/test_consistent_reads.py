"""The reads AWS never serves stale, whatever `stale_read` rule is installed: every S3 read
(strongly consistent since December 2020) and every DynamoDB read that asks for strong
consistency (`ConsistentRead: true` on GetItem, Query, Scan, a BatchGetItem table; any
TransactGetItems). An eventually consistent DynamoDB read in an open window still may be stale."""

from __future__ import annotations

import itertools
import urllib.error
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import LocalAws
from zdd_localaws.consistency import strongly_consistent, is_read
from zdd_localaws.faults import FaultError, FaultSet, parse_rule, preset_rules

# A window no test outlives: it ends when the test deletes its rule.
FOREVER = 100_000
TABLE = "locks"


def stale_rule(aws: LocalAws, service: str) -> str:
    rule = {"kind": "stale_read", "service": service, "stale_read_max": FOREVER}
    return str(aws.control("POST", "/zdd/faults", rule)["id"])


def stale_reads_served(aws: LocalAws) -> int:
    return int(aws.control("GET", "/zdd/faults/stats")["totals"]["faults"].get("stale_read", 0))


def test_the_reads_that_ask_for_strong_consistency_are_strongly_consistent() -> None:
    assert strongly_consistent("s3", "", b"")
    assert strongly_consistent("dynamodb", "TransactGetItems", b'{"TransactItems": []}')
    assert strongly_consistent("dynamodb", "GetItem", b'{"TableName": "t", "ConsistentRead": true}')
    assert strongly_consistent("dynamodb", "Query", b'{"TableName": "t", "ConsistentRead": true}')
    assert strongly_consistent("dynamodb", "Scan", b'{"TableName": "t", "ConsistentRead": true}')
    assert strongly_consistent("dynamodb", "BatchGetItem",
                        b'{"RequestItems": {"a": {"Keys": []}, "b": {"Keys": [], "ConsistentRead": true}}}')
    assert not strongly_consistent("dynamodb", "GetItem", b'{"TableName": "t"}')
    assert not strongly_consistent("dynamodb", "GetItem", b'{"TableName": "t", "ConsistentRead": false}')
    assert not strongly_consistent("dynamodb", "BatchGetItem", b'{"RequestItems": {"a": {"Keys": []}}}')
    assert not strongly_consistent("dynamodb", "GetItem", b"not json")
    assert strongly_consistent("s3", "", b"PUT body")
    assert not strongly_consistent("autoscaling", "DescribeAutoScalingGroups", b"ConsistentRead=true")


def test_a_transactional_read_is_a_read_not_a_write_that_opens_a_window() -> None:
    assert is_read("json", "TransactGetItems", "POST")
    assert not is_read("json", "TransactWriteItems", "POST")


def test_a_stale_read_rule_for_s3_is_refused_with_the_reason() -> None:
    with pytest.raises(FaultError, match="strongly consistent"):
        parse_rule({"kind": "stale_read", "service": "s3", "stale_read_max": 10}, itertools.count(1))


def test_the_preset_gives_s3_no_stale_reads() -> None:
    rules = preset_rules({"name": "hostile", "services": ["s3", "dynamodb"]})
    assert [r["kind"] for r in rules if r["service"] == "s3"] == ["latency", "throttle", "server_error"]
    assert [r["kind"] for r in rules if r["service"] == "dynamodb"] == [
        "latency", "throttle", "server_error", "stale_read"]
    for rule in rules:
        parse_rule(rule, itertools.count(1))


def test_an_every_service_stale_read_rule_is_not_in_scope_of_s3() -> None:
    faults = FaultSet()
    faults.add({"kind": "stale_read", "stale_read_max": 10})
    assert faults.stale_rules_in_scope("s3", "", "") == []
    assert len(faults.stale_rules_in_scope("dynamodb", "", "")) == 1


def test_the_s3_endpoint_refuses_a_stale_read_rule(aws: LocalAws) -> None:
    with pytest.raises(urllib.error.HTTPError) as answer:
        stale_rule(aws, "s3")
    assert answer.value.code == 400
    assert "strongly consistent" in answer.value.read().decode()


def test_s3_reads_after_writes_are_fresh_under_an_every_service_rule(aws: LocalAws) -> None:
    # Installed first: reads are remembered (the views a window serves) only while a rule exists.
    stale_rule(aws, "*")
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="state")
    s3.put_object(Bucket="state", Key="tfstate", Body=b"one")
    assert s3.get_object(Bucket="state", Key="tfstate")["Body"].read() == b"one"
    assert s3.head_object(Bucket="state", Key="tfstate")["ContentLength"] == 3
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="state")["Contents"]] == ["tfstate"]

    s3.put_object(Bucket="state", Key="tfstate", Body=b"second")
    s3.put_object(Bucket="state", Key="tfstate.tflock", Body=b"{}")
    assert s3.get_object(Bucket="state", Key="tfstate")["Body"].read() == b"second"
    assert s3.head_object(Bucket="state", Key="tfstate")["ContentLength"] == 6
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="state")["Contents"]] == ["tfstate", "tfstate.tflock"]
    s3.delete_object(Bucket="state", Key="tfstate.tflock")
    with pytest.raises(ClientError) as gone:
        s3.get_object(Bucket="state", Key="tfstate.tflock")
    assert gone.value.response["Error"]["Code"] == "NoSuchKey"
    assert stale_reads_served(aws) == 0


def lock_table(aws: LocalAws) -> Any:
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    dynamodb.put_item(TableName=TABLE, Item={"LockID": {"S": "state-md5"}, "Digest": {"S": "old"}})
    return dynamodb


KEY = {"LockID": {"S": "state-md5"}}


def digest_read(dynamodb: Any, consistent: bool) -> str:
    item = dynamodb.get_item(TableName=TABLE, Key=KEY, ConsistentRead=consistent)["Item"]
    return str(item["Digest"]["S"])


def test_a_consistent_dynamodb_read_sees_the_write_an_eventual_one_may_not(aws: LocalAws) -> None:
    stale_rule(aws, "dynamodb")
    dynamodb = lock_table(aws)
    assert digest_read(dynamodb, consistent=False) == "old"
    assert digest_read(dynamodb, consistent=True) == "old"
    consistent_query = {"TableName": TABLE, "KeyConditionExpression": "LockID = :id",
                        "ExpressionAttributeValues": {":id": {"S": "state-md5"}}, "ConsistentRead": True}
    assert dynamodb.query(**consistent_query)["Items"][0]["Digest"]["S"] == "old"
    assert dynamodb.scan(TableName=TABLE, ConsistentRead=True)["Items"][0]["Digest"]["S"] == "old"

    dynamodb.put_item(TableName=TABLE, Item={"LockID": {"S": "state-md5"}, "Digest": {"S": "new"}})
    assert digest_read(dynamodb, consistent=False) == "old", "an eventually consistent read may lag"
    assert stale_reads_served(aws) == 1
    assert digest_read(dynamodb, consistent=True) == "new"
    assert dynamodb.query(**consistent_query)["Items"][0]["Digest"]["S"] == "new"
    assert dynamodb.scan(TableName=TABLE, ConsistentRead=True)["Items"][0]["Digest"]["S"] == "new"
    batch = dynamodb.batch_get_item(RequestItems={TABLE: {"Keys": [KEY], "ConsistentRead": True}})
    assert batch["Responses"][TABLE][0]["Digest"]["S"] == "new"
    transaction = dynamodb.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": KEY}}])
    assert transaction["Responses"][0]["Item"]["Digest"]["S"] == "new"
    assert stale_reads_served(aws) == 1, "no strongly consistent read was served stale"
