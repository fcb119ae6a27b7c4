"""Eventual consistency (`stale_read` rules): the view helpers alone, then through the server,
where boto3 sees a new group missing, old tags and old target registrations for the window."""

from __future__ import annotations

from typing import Any

from conftest import LocalAws, make_fleet, wait_for
from zdd_localaws.consistency import CachedResponse, StaleReads, is_read, read_key, without_groups

# AWS seconds: 5 s here at the test time scale, long enough for a few calls on a loaded box.
STALE_READ_MAX = 200
# A window no test outlives: it ends when the test deletes its rule.
FOREVER = 100_000


def test_reads_are_describe_list_get_query_scan_and_s3_gets() -> None:
    assert is_read("query", "DescribeAutoScalingGroups", "POST")
    assert is_read("json", "Query", "POST") and is_read("json", "GetItem", "POST")
    assert not is_read("query", "CreateAutoScalingGroup", "POST")
    assert is_read("s3", "", "GET") and not is_read("s3", "", "PUT")


def test_a_reads_key_ignores_parameter_order() -> None:
    one = read_key("autoscaling", "DescribeTags", "query", "POST", "/", "", b"Action=DescribeTags&Version=1")
    two = read_key("autoscaling", "DescribeTags", "query", "POST", "/", "", b"Version=1&Action=DescribeTags")
    assert one == two
    assert read_key("dynamodb", "GetItem", "json", "POST", "/", "", b'{"b": 1, "a": 2}') == read_key(
        "dynamodb", "GetItem", "json", "POST", "/", "", b'{"a": 2, "b": 1}')


def test_a_new_group_is_cut_from_a_listing_with_its_nested_lists_intact() -> None:
    body = (b"<R><AutoScalingGroups><member><Tags><member><Key>k</Key></member></Tags>"
            b"<AutoScalingGroupName>old</AutoScalingGroupName></member>"
            b"<member><AutoScalingGroupName>new</AutoScalingGroupName><Instances><member><InstanceId>i-1"
            b"</InstanceId></member></Instances></member></AutoScalingGroups></R>")
    assert without_groups(body, {"new"}) == (
        b"<R><AutoScalingGroups><member><Tags><member><Key>k</Key></member></Tags>"
        b"<AutoScalingGroupName>old</AutoScalingGroupName></member></AutoScalingGroups></R>")
    assert without_groups(body, set()) == body


def test_a_window_serves_only_views_from_before_its_write_and_closes() -> None:
    now = [100.0]
    stale = StaleReads(lambda: now[0])
    stale.remember("k", CachedResponse("200 OK", [], b"before", served_at=99.0))
    assert stale.window_start("rule-1", 5.0, now[0]) is None
    stale.write_succeeded(["rule-1"], 100.0, "CreateAutoScalingGroup",
                          "Action=CreateAutoScalingGroup&AutoScalingGroupName=web-g2")
    start = stale.window_start("rule-1", 5.0, 104.9)
    assert start == 100.0
    previous = stale.previous_view("k", start)
    assert previous is not None and previous.body == b"before"
    assert stale.hidden_groups("rule-1", 5.0, 104.9) == {"web-g2"}
    assert stale.hidden_groups("rule-2", 5.0, 104.9) == set()
    stale.remember("k", CachedResponse("200 OK", [], b"after", served_at=101.0))
    assert stale.previous_view("k", start) is None
    assert stale.window_start("rule-1", 5.0, 105.0) is None
    assert stale.hidden_groups("rule-1", 5.0, 105.0) == set()


def stale(aws: LocalAws, service: str, **fields: Any) -> str:
    rule = {"kind": "stale_read", "service": service, "stale_read_max": STALE_READ_MAX, **fields}
    return str(aws.control("POST", "/zdd/faults", rule)["id"])


def create_group(aws: LocalAws, name: str, launch_template_id: str, subnet: str, **extra: Any) -> None:
    aws.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=2, DesiredCapacity=0,
        LaunchTemplate={"LaunchTemplateId": launch_template_id, "Version": "1"}, VPCZoneIdentifier=subnet, **extra,
    )


def described(aws: LocalAws, name: str) -> list[dict[str, Any]]:
    return aws.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]


def test_a_group_created_a_moment_ago_is_not_listed_until_the_window_ends(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    # Unscoped: the listing of every group names none, so a `match` would not select it.
    stale(aws, "autoscaling")
    create_group(aws, "web-new", fleet.launch_template_id, fleet.subnet_ids[0])
    assert described(aws, "web-new") == []
    listing = aws.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    assert "web-new" not in [g["AutoScalingGroupName"] for g in listing]
    wait_for(lambda: described(aws, "web-new"), 30, "the new group to be listed")
    stats = aws.control("GET", "/zdd/faults/stats")["services"]["autoscaling"]
    assert stats["DescribeAutoScalingGroups"]["faults"]["stale_read"] >= 1


def test_tags_written_in_the_window_read_as_before(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, "web-tags", fleet.launch_template_id, fleet.subnet_ids[0],
                 Tags=[{"Key": "zdd:phase", "Value": "launching", "PropagateAtLaunch": False}])
    rule_id = stale(aws, "autoscaling", match="web-tags", stale_read_max=FOREVER)

    def phase() -> str:
        tags = described(aws, "web-tags")[0]["Tags"]
        return next(t["Value"] for t in tags if t["Key"] == "zdd:phase")

    assert phase() == "launching"
    aws.client("autoscaling").create_or_update_tags(Tags=[{
        "ResourceId": "web-tags", "ResourceType": "auto-scaling-group", "Key": "zdd:phase",
        "Value": "draining_old", "PropagateAtLaunch": False}])
    assert phase() == "launching"
    aws.control("DELETE", f"/zdd/faults/{rule_id}")
    assert phase() == "draining_old"


def test_target_registrations_read_as_before_within_the_window(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    ec2 = aws.client("ec2")
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=fleet.subnet_ids[0])
    instance_id = instance["Instances"][0]["InstanceId"]
    rule_id = stale(aws, "elasticloadbalancing", stale_read_max=FOREVER)
    elbv2 = aws.client("elbv2")

    def targets() -> list[str]:
        health = elbv2.describe_target_health(TargetGroupArn=fleet.target_group_arns[0])
        return [t["Target"]["Id"] for t in health["TargetHealthDescriptions"]]

    assert targets() == []
    elbv2.register_targets(TargetGroupArn=fleet.target_group_arns[0], Targets=[{"Id": instance_id}])
    assert targets() == []
    aws.control("DELETE", f"/zdd/faults/{rule_id}")
    assert targets() == [instance_id]


def test_a_write_outside_the_rules_scope_opens_no_window(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    stale(aws, "autoscaling", match="web-other")
    create_group(aws, "web-unscoped", fleet.launch_template_id, fleet.subnet_ids[0])
    assert [g["AutoScalingGroupName"] for g in described(aws, "web-unscoped")] == ["web-unscoped"]
