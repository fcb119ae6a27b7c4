"""Suspended processes, the scaling-policy control endpoint, scaling policies and the
DeleteAutoScalingGroup refusal, as a client sees them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import Fleet, LocalAws, make_fleet, target_states, wait_for

DELAY = 20
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"


def create_group(aws: LocalAws, fleet: Fleet, name: str, desired: int, *, min_size: int = 0, max_size: int = 5,
                 hooks: list[dict[str, Any]] | None = None) -> None:
    aws.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=min_size, MaxSize=max_size, DesiredCapacity=desired,
        LaunchTemplate={"LaunchTemplateId": fleet.launch_template_id, "Version": "1"},
        VPCZoneIdentifier=",".join(fleet.subnet_ids), TargetGroupARNs=fleet.target_group_arns,
        LifecycleHookSpecificationList=hooks or [],
    )


def group(aws: LocalAws, name: str) -> dict[str, Any]:
    [described] = aws.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return described


def lifecycle_states(aws: LocalAws, name: str) -> dict[str, str]:
    return {i["InstanceId"]: i["LifecycleState"] for i in group(aws, name)["Instances"]}


def scale(aws: LocalAws, name: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{aws.endpoint}/zdd/autoscaling/{name}/scale", data=json.dumps(body).encode(), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# ---- DeleteAutoScalingGroup without ForceDelete ----------------------------------------------


def test_a_non_force_delete_of_a_group_with_instances_is_refused_with_resource_in_use(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 1)
    autoscaling = aws.client("autoscaling")

    with pytest.raises(ClientError) as refused:
        autoscaling.delete_auto_scaling_group(AutoScalingGroupName="web-g1")

    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ResourceInUse"
    assert error["Error"]["Message"] == (
        "You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) "
        "still in the group."
    )
    assert len(group(aws, "web-g1")["Instances"]) == 1
    assert aws.events(kind="deregistered") == []


def test_creating_a_group_whose_name_is_taken_is_refused_with_already_exists(aws: LocalAws) -> None:
    # moto replaces the group (its instances left running, unlisted); AWS refuses. A create
    # retried after its response was lost meets the refusal, and the group it made is kept.
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 2)
    instances = {i["InstanceId"] for i in group(aws, "web-g1")["Instances"]}

    with pytest.raises(ClientError) as refused:
        create_group(aws, fleet, "web-g1", 1)

    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "AlreadyExists"
    assert error["Error"]["Message"] == (
        "AutoScalingGroup by this name already exists - A group with the name web-g1 already exists"
    )
    assert {i["InstanceId"] for i in group(aws, "web-g1")["Instances"]} == instances
    assert group(aws, "web-g1")["DesiredCapacity"] == 2


def test_a_non_force_delete_of_an_empty_group_deletes_it(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 0)

    aws.client("autoscaling").delete_auto_scaling_group(AutoScalingGroupName="web-g1")

    assert aws.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=["web-g1"])["AutoScalingGroups"] == []


def test_a_group_holding_an_instance_in_terminating_wait_is_not_empty(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 1, hooks=[{"LifecycleHookName": "drain", "LifecycleTransition": TERMINATING,
                                                  "HeartbeatTimeout": 7200}])
    autoscaling = aws.client("autoscaling")
    autoscaling.set_desired_capacity(AutoScalingGroupName="web-g1", DesiredCapacity=0)

    with pytest.raises(ClientError) as refused:
        autoscaling.delete_auto_scaling_group(AutoScalingGroupName="web-g1")

    assert refused.value.response["Error"]["Code"] == "ResourceInUse"


# ---- suspended processes ---------------------------------------------------------------------


def test_suspended_processes_are_reported(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 0)
    autoscaling = aws.client("autoscaling")

    autoscaling.suspend_processes(AutoScalingGroupName="web-g1", ScalingProcesses=["Launch", "AlarmNotification"])
    assert sorted(p["ProcessName"] for p in group(aws, "web-g1")["SuspendedProcesses"]) == ["AlarmNotification", "Launch"]

    autoscaling.resume_processes(AutoScalingGroupName="web-g1", ScalingProcesses=["Launch"])
    assert [p["ProcessName"] for p in group(aws, "web-g1")["SuspendedProcesses"]] == ["AlarmNotification"]


def test_launch_suspended_launches_nothing_until_resumed(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 1)
    autoscaling = aws.client("autoscaling")
    autoscaling.suspend_processes(AutoScalingGroupName="web-g1", ScalingProcesses=["Launch"])

    autoscaling.set_desired_capacity(AutoScalingGroupName="web-g1", DesiredCapacity=3)

    described = group(aws, "web-g1")
    assert (described["DesiredCapacity"], len(described["Instances"])) == (3, 1)
    autoscaling.resume_processes(AutoScalingGroupName="web-g1", ScalingProcesses=["Launch"])
    assert len(group(aws, "web-g1")["Instances"]) == 3


def test_terminate_suspended_keeps_instances_on_scale_in_until_resumed(aws: LocalAws) -> None:
    fleet = make_fleet(aws, delay=0)
    create_group(aws, fleet, "web-g1", 3)
    autoscaling = aws.client("autoscaling")
    autoscaling.suspend_processes(AutoScalingGroupName="web-g1", ScalingProcesses=["Terminate"])

    autoscaling.set_desired_capacity(AutoScalingGroupName="web-g1", DesiredCapacity=1)

    described = group(aws, "web-g1")
    assert (described["DesiredCapacity"], len(described["Instances"])) == (1, 3)
    assert len(target_states(aws, fleet.target_group_arns[0])) == 3
    assert aws.events(kind="deregistered") == []
    autoscaling.resume_processes(AutoScalingGroupName="web-g1")
    assert len(group(aws, "web-g1")["Instances"]) == 1


def test_add_to_load_balancer_suspended_leaves_new_instances_unregistered(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 1)
    [first] = lifecycle_states(aws, "web-g1")
    autoscaling = aws.client("autoscaling")
    autoscaling.suspend_processes(AutoScalingGroupName="web-g1", ScalingProcesses=["AddToLoadBalancer"])

    autoscaling.set_desired_capacity(AutoScalingGroupName="web-g1", DesiredCapacity=2)

    [second] = [i for i in lifecycle_states(aws, "web-g1") if i != first]
    arn = fleet.target_group_arns[0]
    assert set(target_states(aws, arn)) == {first}
    # As on AWS: resuming does not add the instances launched while it was suspended.
    autoscaling.resume_processes(AutoScalingGroupName="web-g1", ScalingProcesses=["AddToLoadBalancer"])
    autoscaling.set_desired_capacity(AutoScalingGroupName="web-g1", DesiredCapacity=3)
    registered = set(target_states(aws, arn))
    assert first in registered and second not in registered and len(registered) == 2


def test_groups_without_suspensions_or_hooks_behave_as_before(aws: LocalAws) -> None:
    fleet = make_fleet(aws, delay=DELAY)
    create_group(aws, fleet, "web-g1", 2)
    arn = fleet.target_group_arns[0]

    aws.client("autoscaling").set_desired_capacity(AutoScalingGroupName="web-g1", DesiredCapacity=1)

    assert len(group(aws, "web-g1")["Instances"]) == 1  # scaled-in instances leave the listing at once
    assert sorted(s for s, _ in target_states(aws, arn).values()) == ["draining", "initial"]
    assert aws.events(kind="lifecycle_action") == []


# ---- POST /zdd/autoscaling/<group>/scale ------------------------------------------------------


def test_scale_changes_desired_capacity_as_a_policy_would(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 2, min_size=1, max_size=4)

    assert scale(aws, "web-g1", {"desired_capacity": 4}) == (200, {"applied": True, "desired_capacity": 4})
    described = group(aws, "web-g1")
    assert (described["DesiredCapacity"], len(described["Instances"])) == (4, 4)
    assert len(target_states(aws, fleet.target_group_arns[0])) == 4


@pytest.mark.parametrize(("asked", "applied"), [(9, 4), (0, 1)])
def test_scale_clamps_to_min_and_max(aws: LocalAws, asked: int, applied: int) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 2, min_size=1, max_size=4)

    assert scale(aws, "web-g1", {"desired_capacity": asked}) == (200, {"applied": True, "desired_capacity": applied})
    assert group(aws, "web-g1")["DesiredCapacity"] == applied


def test_scale_is_refused_while_alarm_notification_is_suspended(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 2)
    aws.client("autoscaling").suspend_processes(AutoScalingGroupName="web-g1", ScalingProcesses=["AlarmNotification"])

    assert scale(aws, "web-g1", {"desired_capacity": 4}) == (409, {"applied": False, "reason": "AlarmNotification suspended"})
    assert group(aws, "web-g1")["DesiredCapacity"] == 2


def test_scale_in_by_policy_passes_through_the_termination_hook(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 2, hooks=[{"LifecycleHookName": "drain", "LifecycleTransition": TERMINATING,
                                                  "HeartbeatTimeout": 7200}])

    assert scale(aws, "web-g1", {"desired_capacity": 1})[0] == 200

    assert sorted(lifecycle_states(aws, "web-g1").values()) == ["InService", "Terminating:Wait"]


def test_scale_of_an_unknown_group_is_404(aws: LocalAws) -> None:
    status, body = scale(aws, "nope", {"desired_capacity": 1})
    assert status == 404 and "nope" in body["error"]


@pytest.mark.parametrize(("body", "complaint"), [
    ({}, "desired_capacity"), ({"desired_capacity": -1}, "desired_capacity"), ({"desired_capacity": "3"}, "desired_capacity"),
    ([], "desired_capacity"), ({"desired_capacity": True}, "desired_capacity"),
    ({"desired_capacity": 1, "region": "mars-1"}, "region"), ({"desired_capacity": 1, "region": ["us-east-1"]}, "region"),
])
def test_scale_with_a_bad_body_is_400(aws: LocalAws, body: Any, complaint: str) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 1)
    status, answer = scale(aws, "web-g1", body)
    assert status == 400 and complaint in answer["error"]


# ---- scaling policies -----------------------------------------------------------------------


def put_target_tracking(aws: LocalAws, group_name: str, name: str, metric: dict[str, Any], target: float) -> str:
    return aws.client("autoscaling").put_scaling_policy(
        AutoScalingGroupName=group_name, PolicyName=name, PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration={"PredefinedMetricSpecification": metric, "TargetValue": target,
                                     "DisableScaleIn": False},
    )["PolicyARN"]


def test_target_tracking_policies_are_stored_described_and_deleted(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 1)
    label = "app/web/50dc6c495c0c9188/targetgroup/tg-0/6d0ecf831eec9f09"
    put_target_tracking(aws, "web-g1", "cpu-50", {"PredefinedMetricType": "ASGAverageCPUUtilization"}, 50.0)
    arn = put_target_tracking(aws, "web-g1", "rps-100",
                              {"PredefinedMetricType": "ALBRequestCountPerTarget", "ResourceLabel": label}, 100.0)
    autoscaling = aws.client("autoscaling")

    policies = autoscaling.describe_policies(AutoScalingGroupName="web-g1")["ScalingPolicies"]

    by_name = {p["PolicyName"]: p for p in policies}
    assert sorted(by_name) == ["cpu-50", "rps-100"]
    rps = by_name["rps-100"]
    assert rps["PolicyARN"] == arn and rps["PolicyType"] == "TargetTrackingScaling"
    assert rps["TargetTrackingConfiguration"]["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "ALBRequestCountPerTarget", "ResourceLabel": label,
    }
    assert rps["TargetTrackingConfiguration"]["TargetValue"] == 100.0
    assert by_name["cpu-50"]["TargetTrackingConfiguration"]["DisableScaleIn"] is False

    autoscaling.delete_policy(AutoScalingGroupName="web-g1", PolicyName="cpu-50")
    assert [p["PolicyName"] for p in autoscaling.describe_policies(AutoScalingGroupName="web-g1")["ScalingPolicies"]] == ["rps-100"]


def test_policies_of_the_same_name_on_two_groups_are_two_policies(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 0)
    create_group(aws, fleet, "web-g2", 0)
    metric = {"PredefinedMetricType": "ASGAverageCPUUtilization"}
    put_target_tracking(aws, "web-g1", "cpu-50", metric, 50.0)
    put_target_tracking(aws, "web-g2", "cpu-50", metric, 60.0)
    autoscaling = aws.client("autoscaling")

    def targets(name: str) -> list[float]:
        policies = autoscaling.describe_policies(AutoScalingGroupName=name)["ScalingPolicies"]
        return [p["TargetTrackingConfiguration"]["TargetValue"] for p in policies]

    assert (targets("web-g1"), targets("web-g2")) == ([50.0], [60.0])
    autoscaling.delete_policy(AutoScalingGroupName="web-g1", PolicyName="cpu-50")
    assert (targets("web-g1"), targets("web-g2")) == ([], [60.0])


def test_deleting_a_group_deletes_its_policies(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 0)
    create_group(aws, fleet, "web-g2", 0)
    put_target_tracking(aws, "web-g1", "cpu-50", {"PredefinedMetricType": "ASGAverageCPUUtilization"}, 50.0)
    put_target_tracking(aws, "web-g2", "cpu-50", {"PredefinedMetricType": "ASGAverageCPUUtilization"}, 50.0)
    autoscaling = aws.client("autoscaling")

    autoscaling.delete_auto_scaling_group(AutoScalingGroupName="web-g1")

    assert [p["AutoScalingGroupName"] for p in autoscaling.describe_policies()["ScalingPolicies"]] == ["web-g2"]


# ---- DefaultInstanceWarmup (moto 5.2.1 drops it) -------------------------------------------


def test_default_instance_warmup_is_kept_at_create_and_update_and_reported(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    autoscaling = aws.client("autoscaling")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="warm-g1", MinSize=0, MaxSize=2, DesiredCapacity=0,
        LaunchTemplate={"LaunchTemplateId": fleet.launch_template_id, "Version": "1"},
        VPCZoneIdentifier=",".join(fleet.subnet_ids), DefaultInstanceWarmup=60,
    )
    assert group(aws, "warm-g1").get("DefaultInstanceWarmup") == 60

    autoscaling.update_auto_scaling_group(AutoScalingGroupName="warm-g1", DefaultInstanceWarmup=90)
    assert group(aws, "warm-g1").get("DefaultInstanceWarmup") == 90

    # An update that does not name it leaves it as it was, as on AWS.
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="warm-g1", MaxSize=3)
    assert group(aws, "warm-g1").get("DefaultInstanceWarmup") == 90

    create_group(aws, fleet, "cold-g1", 0)
    assert "DefaultInstanceWarmup" not in group(aws, "cold-g1")
