"""The health model as a client sees it: boto3 against a running zdd_localaws server."""

from __future__ import annotations

import urllib.error

import pytest
from botocore.exceptions import ClientError

from conftest import AMI_ID, Fleet, LocalAws, make_fleet, target_states, wait_for

INTERVAL, THRESHOLD, DELAY = 10, 2, 20  # AWS seconds: initial lasts 20 s, drain 20 s


def run_instance(aws: LocalAws, fleet: Fleet) -> str:
    reservation = aws.client("ec2").run_instances(ImageId=AMI_ID, MinCount=1, MaxCount=1, SubnetId=fleet.subnet_ids[0])
    return reservation["Instances"][0]["InstanceId"]


def create_asg(aws: LocalAws, fleet: Fleet, name: str, desired: int) -> list[str]:
    autoscaling = aws.client("autoscaling")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=5, DesiredCapacity=desired,
        LaunchTemplate={"LaunchTemplateId": fleet.launch_template_id, "Version": "1"},
        VPCZoneIdentifier=",".join(fleet.subnet_ids), TargetGroupARNs=fleet.target_group_arns,
    )
    return asg_instance_ids(aws, name)


def asg_instance_ids(aws: LocalAws, name: str) -> list[str]:
    groups = aws.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return sorted(i["InstanceId"] for g in groups for i in g["Instances"])


def instance_state(aws: LocalAws, instance_id: str) -> str:
    reservations = aws.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservations[0]["Instances"][0]["State"]["Name"]


def all_healthy(aws: LocalAws, arn: str, ids: list[str]) -> bool:
    states = target_states(aws, arn)
    return all(states.get(i, ("",))[0] == "healthy" for i in ids)


def scaled(aws: LocalAws, aws_seconds: float) -> float:
    return aws_seconds * aws.time_scale


def wait_timeout(aws: LocalAws, aws_seconds: float) -> float:
    return scaled(aws, aws_seconds) + 10.0


def test_registered_target_is_initial_then_healthy_after_threshold_times_interval(aws: LocalAws) -> None:
    fleet = make_fleet(aws, interval=INTERVAL, healthy_threshold=THRESHOLD, delay=DELAY)
    arn = fleet.target_group_arns[0]
    instance_id = run_instance(aws, fleet)

    aws.client("elbv2").register_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id}])

    assert target_states(aws, arn) == {instance_id: ("initial", "Elb.RegistrationInProgress")}
    wait_for(lambda: all_healthy(aws, arn, [instance_id]), wait_timeout(aws, INTERVAL * THRESHOLD), "healthy")
    assert target_states(aws, arn) == {instance_id: ("healthy", None)}
    [registered] = aws.events(kind="registered", instance_id=instance_id)
    [became_healthy] = aws.events(kind="state_changed", instance_id=instance_id, to="healthy")
    assert became_healthy["aws_t"] - registered["aws_t"] == pytest.approx(INTERVAL * THRESHOLD, abs=1e-3)


def test_deregistered_target_drains_for_the_deregistration_delay_then_is_gone(aws: LocalAws) -> None:
    fleet = make_fleet(aws, interval=INTERVAL, healthy_threshold=THRESHOLD, delay=DELAY)
    arn = fleet.target_group_arns[0]
    instance_id = run_instance(aws, fleet)
    elbv2 = aws.client("elbv2")
    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id}])

    elbv2.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id}])

    assert target_states(aws, arn) == {instance_id: ("draining", "Target.DeregistrationInProgress")}
    wait_for(lambda: target_states(aws, arn) == {}, wait_timeout(aws, DELAY), "target gone")
    described = elbv2.describe_target_health(TargetGroupArn=arn, Targets=[{"Id": instance_id}])
    assert described["TargetHealthDescriptions"][0]["TargetHealth"]["State"] == "unused"
    [deregistered] = aws.events(kind="deregistered", instance_id=instance_id)
    [removed] = aws.events(kind="removed", instance_id=instance_id)
    assert deregistered["cause"] == "deregister_targets"
    assert removed["aws_t"] - deregistered["aws_t"] == pytest.approx(DELAY, abs=1e-3)
    assert instance_state(aws, instance_id) == "running"


def test_detaching_a_target_group_from_an_asg_drains_its_targets(aws: LocalAws) -> None:
    fleet = make_fleet(aws, interval=INTERVAL, healthy_threshold=THRESHOLD, delay=DELAY)
    arn = fleet.target_group_arns[0]
    instance_ids = create_asg(aws, fleet, "web-g1", desired=2)
    assert {s for s, _ in target_states(aws, arn).values()} == {"initial"}
    wait_for(lambda: all_healthy(aws, arn, instance_ids), wait_timeout(aws, INTERVAL * THRESHOLD), "healthy")

    aws.client("autoscaling").detach_load_balancer_target_groups(AutoScalingGroupName="web-g1", TargetGroupARNs=[arn])

    assert target_states(aws, arn) == {i: ("draining", "Target.DeregistrationInProgress") for i in instance_ids}
    wait_for(lambda: target_states(aws, arn) == {}, wait_timeout(aws, DELAY), "targets gone")
    assert [e["cause"] for e in aws.events(kind="deregistered")] == ["asg_detach_target_group"] * 2
    assert all(instance_state(aws, i) == "running" for i in instance_ids)  # detach does not terminate


def test_an_asg_scaled_to_zero_then_deleted_drains_its_targets_before_terminating_the_instances(aws: LocalAws) -> None:
    # A non-forced delete of a group that still lists instances is refused (ResourceInUse, as on
    # AWS: test_autoscaling_control.py), so a clean delete scales the group to zero first.
    fleet = make_fleet(aws, interval=INTERVAL, healthy_threshold=THRESHOLD, delay=DELAY)
    arn = fleet.target_group_arns[0]
    instance_ids = create_asg(aws, fleet, "web-g1", desired=2)
    wait_for(lambda: all_healthy(aws, arn, instance_ids), wait_timeout(aws, INTERVAL * THRESHOLD), "healthy")
    autoscaling = aws.client("autoscaling")

    autoscaling.update_auto_scaling_group(AutoScalingGroupName="web-g1", MinSize=0, DesiredCapacity=0)
    autoscaling.delete_auto_scaling_group(AutoScalingGroupName="web-g1")

    assert target_states(aws, arn) == {i: ("draining", "Target.DeregistrationInProgress") for i in instance_ids}
    assert all(instance_state(aws, i) == "running" for i in instance_ids)
    wait_for(lambda: all(instance_state(aws, i) == "terminated" for i in instance_ids),
             wait_timeout(aws, DELAY), "instances terminated after the drain")
    assert target_states(aws, arn) == {}
    assert aws.events(kind="violation") == []
    for instance_id in instance_ids:
        [deregistered] = aws.events(kind="deregistered", instance_id=instance_id)
        [removed] = aws.events(kind="removed", instance_id=instance_id)
        [terminated] = aws.events(kind="instance_terminated", instance_id=instance_id)
        assert deregistered["cause"] == "asg_scale_in"
        assert removed["aws_t"] - deregistered["aws_t"] == pytest.approx(DELAY, abs=1e-3)
        assert terminated["seq"] > removed["seq"] and terminated["t"] >= removed["t"]


def test_scale_in_drains_before_terminating(aws: LocalAws) -> None:
    fleet = make_fleet(aws, interval=INTERVAL, healthy_threshold=THRESHOLD, delay=DELAY)
    arn = fleet.target_group_arns[0]
    instance_ids = create_asg(aws, fleet, "web-g1", desired=3)
    wait_for(lambda: all_healthy(aws, arn, instance_ids), wait_timeout(aws, INTERVAL * THRESHOLD), "healthy")

    aws.client("autoscaling").set_desired_capacity(AutoScalingGroupName="web-g1", DesiredCapacity=1)

    [kept] = asg_instance_ids(aws, "web-g1")
    removed_ids = [i for i in instance_ids if i != kept]
    states = target_states(aws, arn)
    assert states[kept] == ("healthy", None)
    assert {states[i][0] for i in removed_ids} == {"draining"}
    assert all(instance_state(aws, i) == "running" for i in removed_ids)
    wait_for(lambda: all(instance_state(aws, i) == "terminated" for i in removed_ids),
             wait_timeout(aws, DELAY), "scaled-in instances terminated")
    assert target_states(aws, arn) == {kept: ("healthy", None)}
    assert aws.events(kind="violation") == []
    assert {e["cause"] for e in aws.events(kind="instance_terminated")} == {"asg_scale_in_after_drain"}


def test_terminate_instance_in_asg_drains_first(aws: LocalAws) -> None:
    fleet = make_fleet(aws, interval=INTERVAL, healthy_threshold=THRESHOLD, delay=DELAY)
    arn = fleet.target_group_arns[0]
    [instance_id] = create_asg(aws, fleet, "web-g1", desired=1)

    aws.client("autoscaling").terminate_instance_in_auto_scaling_group(InstanceId=instance_id, ShouldDecrementDesiredCapacity=True)

    assert target_states(aws, arn) == {instance_id: ("draining", "Target.DeregistrationInProgress")}
    wait_for(lambda: instance_state(aws, instance_id) == "terminated", wait_timeout(aws, DELAY), "terminated")
    assert aws.events(kind="violation") == []


def test_force_delete_terminates_at_once_and_records_violations(aws: LocalAws) -> None:
    fleet = make_fleet(aws, interval=INTERVAL, healthy_threshold=THRESHOLD, delay=DELAY)
    arn = fleet.target_group_arns[0]
    instance_ids = create_asg(aws, fleet, "web-g1", desired=2)
    wait_for(lambda: all_healthy(aws, arn, instance_ids), wait_timeout(aws, INTERVAL * THRESHOLD), "healthy")

    aws.client("autoscaling").delete_auto_scaling_group(AutoScalingGroupName="web-g1", ForceDelete=True)

    assert all(instance_state(aws, i) == "terminated" for i in instance_ids)
    assert target_states(aws, arn) == {}
    violations = aws.events(kind="violation")
    assert sorted(v["instance_id"] for v in violations) == instance_ids
    assert {(v["rule"], v["from"], v["cause"]) for v in violations} == {("drain_before_terminate", "healthy", "asg_force_delete")}


def test_terminated_instance_is_deregistered_and_flagged(aws: LocalAws) -> None:
    fleet = make_fleet(aws, interval=INTERVAL, healthy_threshold=THRESHOLD, delay=DELAY)
    arn = fleet.target_group_arns[0]
    instance_id = run_instance(aws, fleet)
    aws.client("elbv2").register_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id}])

    aws.client("ec2").terminate_instances(InstanceIds=[instance_id])

    assert target_states(aws, arn) == {}
    [violation] = aws.events(kind="violation")
    assert (violation["instance_id"], violation["from"], violation["cause"]) == (instance_id, "initial", "terminate_instances")


def test_marked_instance_is_unhealthy_with_its_reason_and_recovers(aws: LocalAws) -> None:
    fleet = make_fleet(aws, interval=INTERVAL, healthy_threshold=THRESHOLD, delay=DELAY, groups=2)
    [instance_id] = create_asg(aws, fleet, "web-g1", desired=1)
    for arn in fleet.target_group_arns:
        wait_for(lambda: all_healthy(aws, arn, [instance_id]), wait_timeout(aws, INTERVAL * THRESHOLD), "healthy")

    aws.control("POST", f"/zdd/instances/{instance_id}/health", {"state": "unhealthy", "reason": "Target.Timeout"})

    for arn in fleet.target_group_arns:
        assert target_states(aws, arn) == {instance_id: ("unhealthy", "Target.Timeout")}
    description = aws.client("elbv2").describe_target_health(TargetGroupArn=fleet.target_group_arns[0])
    assert description["TargetHealthDescriptions"][0]["TargetHealth"]["Description"] == "Request timed out"

    aws.control("POST", f"/zdd/instances/{instance_id}/health", {"state": "healthy"})

    assert target_states(aws, fleet.target_group_arns[0])[instance_id][0] == "unhealthy"  # needs passing checks
    arn = fleet.target_group_arns[0]
    wait_for(lambda: all_healthy(aws, arn, [instance_id]), wait_timeout(aws, INTERVAL * THRESHOLD), "healthy again")


def test_instance_marked_unhealthy_before_registration_ends_initial_as_unhealthy(aws: LocalAws) -> None:
    fleet = make_fleet(aws, interval=INTERVAL, healthy_threshold=THRESHOLD, delay=DELAY)
    arn = fleet.target_group_arns[0]
    instance_id = run_instance(aws, fleet)
    aws.control("POST", f"/zdd/instances/{instance_id}/health", {"state": "unhealthy"})

    aws.client("elbv2").register_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id}])

    assert target_states(aws, arn)[instance_id][0] == "initial"
    wait_for(lambda: target_states(aws, arn)[instance_id][0] != "initial", wait_timeout(aws, INTERVAL * THRESHOLD), "end of initial")
    assert target_states(aws, arn) == {instance_id: ("unhealthy", "Target.ResponseCodeMismatch")}


def test_moto_api_reset_also_clears_the_model(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    instance_id = run_instance(aws, fleet)
    aws.client("elbv2").register_targets(TargetGroupArn=fleet.target_group_arns[0], Targets=[{"Id": instance_id}])
    assert aws.events(kind="registered") != []

    aws.control("POST", "/moto-api/reset")

    assert aws.control("GET", "/zdd/events") == {"events": []}
    assert aws.client("ec2").describe_instances()["Reservations"] == []


def test_bad_health_mark_is_refused(aws: LocalAws) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        aws.control("POST", "/zdd/instances/i-123/health", {"state": "sideways"})
    assert refused.value.code == 400


def test_status_reports_the_settings(aws: LocalAws) -> None:
    assert aws.control("GET", "/zdd/status") == {"time_scale": aws.time_scale, "strict_asg_delete": False}


def test_strict_mode_refuses_a_non_force_delete_while_the_group_has_or_drains_instances(strict_aws: LocalAws) -> None:
    aws = strict_aws
    assert aws.control("GET", "/zdd/status")["strict_asg_delete"] is True
    fleet = make_fleet(aws, interval=INTERVAL, healthy_threshold=THRESHOLD, delay=DELAY)
    arn = fleet.target_group_arns[0]
    instance_ids = create_asg(aws, fleet, "web-g1", desired=2)
    autoscaling = aws.client("autoscaling")

    with pytest.raises(ClientError) as refused:
        autoscaling.delete_auto_scaling_group(AutoScalingGroupName="web-g1")
    assert refused.value.response["Error"]["Code"] == "ResourceInUse"

    autoscaling.update_auto_scaling_group(AutoScalingGroupName="web-g1", MinSize=0, DesiredCapacity=0)
    assert {s for s, _ in target_states(aws, arn).values()} == {"draining"}
    with pytest.raises(ClientError) as still_draining:
        autoscaling.delete_auto_scaling_group(AutoScalingGroupName="web-g1")
    assert still_draining.value.response["Error"]["Code"] == "ResourceInUse"

    wait_for(lambda: all(instance_state(aws, i) == "terminated" for i in instance_ids),
             wait_timeout(aws, DELAY), "drained instances terminated")
    autoscaling.delete_auto_scaling_group(AutoScalingGroupName="web-g1")
    assert autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["web-g1"])["AutoScalingGroups"] == []
    assert aws.events(kind="violation") == []


def test_detached_instances_drain_and_keep_running(aws: LocalAws) -> None:
    fleet = make_fleet(aws, interval=INTERVAL, healthy_threshold=THRESHOLD, delay=DELAY)
    arn = fleet.target_group_arns[0]
    instance_ids = create_asg(aws, fleet, "web-g1", desired=2)

    aws.client("autoscaling").detach_instances(
        AutoScalingGroupName="web-g1", InstanceIds=[instance_ids[0]], ShouldDecrementDesiredCapacity=True
    )

    assert target_states(aws, arn)[instance_ids[0]] == ("draining", "Target.DeregistrationInProgress")
    assert asg_instance_ids(aws, "web-g1") == [instance_ids[1]]
    wait_for(lambda: instance_ids[0] not in target_states(aws, arn), wait_timeout(aws, DELAY), "drained")
    assert instance_state(aws, instance_ids[0]) == "running"
    [deregistered] = aws.events(kind="deregistered", instance_id=instance_ids[0])
    assert deregistered["cause"] == "asg_detach_instances"
