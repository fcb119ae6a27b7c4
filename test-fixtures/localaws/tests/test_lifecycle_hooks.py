"""Lifecycle hooks as a client sees them: instances held in Pending:Wait / Terminating:Wait,
CompleteLifecycleAction, heartbeats and timeouts, ForceDelete past a hook."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import Fleet, LocalAws, make_fleet, target_states, wait_for

INTERVAL, THRESHOLD, DELAY = 10, 2, 20  # AWS seconds
HEARTBEAT = 60  # AWS seconds: 1.5 s at the test time scale
LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"


def hook_spec(name: str, transition: str, default_result: str = "CONTINUE", timeout: int = HEARTBEAT) -> dict[str, Any]:
    return {"LifecycleHookName": name, "LifecycleTransition": transition, "HeartbeatTimeout": timeout,
            "DefaultResult": default_result}


def create_group(aws: LocalAws, fleet: Fleet, name: str, desired: int, hooks: list[dict[str, Any]]) -> None:
    aws.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=5, DesiredCapacity=desired,
        LaunchTemplate={"LaunchTemplateId": fleet.launch_template_id, "Version": "1"},
        VPCZoneIdentifier=",".join(fleet.subnet_ids), TargetGroupARNs=fleet.target_group_arns,
        LifecycleHookSpecificationList=hooks,
    )


def lifecycle_states(aws: LocalAws, name: str) -> dict[str, str]:
    groups = aws.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return {i["InstanceId"]: i["LifecycleState"] for g in groups for i in g["Instances"]}


def instance_state(aws: LocalAws, instance_id: str) -> str:
    reservations = aws.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservations[0]["Instances"][0]["State"]["Name"]


def lifecycle_events(aws: LocalAws, **match: Any) -> list[dict[str, Any]]:
    return aws.events(kind="lifecycle_action", **match)


def complete(aws: LocalAws, group: str, hook: str, instance_id: str, result: str = "CONTINUE") -> None:
    aws.client("autoscaling").complete_lifecycle_action(
        AutoScalingGroupName=group, LifecycleHookName=hook, InstanceId=instance_id, LifecycleActionResult=result
    )


def test_hooks_in_the_create_request_exist_with_the_group(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 0, [hook_spec("drain", TERMINATING), hook_spec("warm", LAUNCHING, "ABANDON", 300)])

    hooks = aws.client("autoscaling").describe_lifecycle_hooks(AutoScalingGroupName="web-g1")["LifecycleHooks"]

    assert sorted((h["LifecycleHookName"], h["LifecycleTransition"], h["HeartbeatTimeout"], h["DefaultResult"]) for h in hooks) == [
        ("drain", TERMINATING, HEARTBEAT, "CONTINUE"), ("warm", LAUNCHING, 300, "ABANDON"),
    ]


def test_a_launch_hook_holds_new_instances_in_pending_wait_unregistered_until_continue(aws: LocalAws) -> None:
    fleet = make_fleet(aws, interval=INTERVAL, healthy_threshold=THRESHOLD, delay=DELAY)
    arn = fleet.target_group_arns[0]
    create_group(aws, fleet, "web-g1", 2, [hook_spec("warm", LAUNCHING, timeout=7200)])

    states = lifecycle_states(aws, "web-g1")
    assert sorted(states.values()) == ["Pending:Wait", "Pending:Wait"]
    assert target_states(aws, arn) == {}
    described = aws.client("autoscaling").describe_auto_scaling_instances(InstanceIds=list(states))["AutoScalingInstances"]
    assert {i["LifecycleState"] for i in described} == {"Pending:Wait"}
    first, second = sorted(states)

    complete(aws, "web-g1", "warm", first)

    assert lifecycle_states(aws, "web-g1") == {first: "InService", second: "Pending:Wait"}
    assert target_states(aws, arn) == {first: ("initial", "Elb.RegistrationInProgress")}
    [entered] = lifecycle_events(aws, instance_id=first, phase="entered_wait")
    assert (entered["group"], entered["hook"], entered["transition"], entered["to"]) == ("web-g1", "warm", LAUNCHING, "Pending:Wait")
    [completed] = lifecycle_events(aws, instance_id=first, phase="completed")
    assert (completed["result"], completed["to"]) == ("CONTINUE", "Pending:Proceed")


def test_pending_wait_instances_count_towards_capacity(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 2, [hook_spec("warm", LAUNCHING, timeout=7200)])

    aws.client("autoscaling").set_desired_capacity(AutoScalingGroupName="web-g1", DesiredCapacity=2)

    assert len(lifecycle_states(aws, "web-g1")) == 2


def test_abandoning_a_launch_terminates_the_instance_and_launches_a_replacement(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 1, [hook_spec("warm", LAUNCHING, timeout=7200)])
    [first] = lifecycle_states(aws, "web-g1")

    complete(aws, "web-g1", "warm", first, "ABANDON")

    states = lifecycle_states(aws, "web-g1")
    assert first not in states and list(states.values()) == ["Pending:Wait"]
    assert instance_state(aws, first) == "terminated"
    assert target_states(aws, fleet.target_group_arns[0]) == {}
    assert aws.events(kind="violation") == []


def test_a_launch_hook_times_out_to_its_default_result(aws: LocalAws) -> None:
    fleet = make_fleet(aws, interval=INTERVAL, healthy_threshold=THRESHOLD)
    create_group(aws, fleet, "web-g1", 1, [hook_spec("warm", LAUNCHING, "CONTINUE", timeout=30)])
    [instance_id] = lifecycle_states(aws, "web-g1")

    wait_for(lambda: lifecycle_states(aws, "web-g1") == {instance_id: "InService"}, 30 * aws.time_scale + 10, "timeout")

    [entered] = lifecycle_events(aws, instance_id=instance_id, phase="entered_wait")
    [timed_out] = lifecycle_events(aws, instance_id=instance_id, phase="timed_out")
    assert timed_out["result"] == "CONTINUE"
    assert timed_out["aws_t"] - entered["aws_t"] == pytest.approx(30, abs=1e-3)
    assert instance_id in target_states(aws, fleet.target_group_arns[0])


def test_a_heartbeat_restarts_the_timeout(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 1, [hook_spec("warm", LAUNCHING, "CONTINUE", timeout=40)])
    [instance_id] = lifecycle_states(aws, "web-g1")
    time.sleep(25 * aws.time_scale)  # not a timing assert: the events below carry the instants

    aws.client("autoscaling").record_lifecycle_action_heartbeat(
        AutoScalingGroupName="web-g1", LifecycleHookName="warm", InstanceId=instance_id
    )

    wait_for(lambda: lifecycle_states(aws, "web-g1") == {instance_id: "InService"}, 40 * aws.time_scale + 10, "timeout")
    [entered] = lifecycle_events(aws, instance_id=instance_id, phase="entered_wait")
    [heartbeat] = lifecycle_events(aws, instance_id=instance_id, phase="heartbeat")
    [timed_out] = lifecycle_events(aws, instance_id=instance_id, phase="timed_out")
    assert timed_out["aws_t"] - heartbeat["aws_t"] == pytest.approx(40, abs=1e-3)
    assert timed_out["aws_t"] - entered["aws_t"] > 40 + 20


def test_scale_in_holds_the_instance_in_terminating_wait_deregistered_until_complete(aws: LocalAws) -> None:
    fleet = make_fleet(aws, interval=INTERVAL, healthy_threshold=THRESHOLD, delay=DELAY)
    arn = fleet.target_group_arns[0]
    create_group(aws, fleet, "web-g1", 1, [hook_spec("drain", TERMINATING, timeout=7200)])
    [instance_id] = lifecycle_states(aws, "web-g1")
    wait_for(lambda: target_states(aws, arn).get(instance_id, ("",))[0] == "healthy", 10, "healthy")

    aws.client("autoscaling").update_auto_scaling_group(AutoScalingGroupName="web-g1", MinSize=0, DesiredCapacity=0)

    assert lifecycle_states(aws, "web-g1") == {instance_id: "Terminating:Wait"}
    assert target_states(aws, arn) == {instance_id: ("draining", "Target.DeregistrationInProgress")}
    wait_for(lambda: target_states(aws, arn) == {}, DELAY * aws.time_scale + 10, "drained")
    assert lifecycle_states(aws, "web-g1") == {instance_id: "Terminating:Wait"}  # the hook still holds it
    assert instance_state(aws, instance_id) == "running"

    complete(aws, "web-g1", "drain", instance_id)

    wait_for(lambda: lifecycle_states(aws, "web-g1") == {}, 10, "instance gone from the group")
    assert instance_state(aws, instance_id) == "terminated"
    assert aws.events(kind="violation") == []
    phases = [e["phase"] for e in lifecycle_events(aws, instance_id=instance_id)]
    assert phases == ["entered_wait", "completed"]


def test_a_terminating_instance_whose_hook_completes_early_still_waits_for_its_drain(aws: LocalAws) -> None:
    fleet = make_fleet(aws, interval=INTERVAL, healthy_threshold=THRESHOLD, delay=DELAY)
    arn = fleet.target_group_arns[0]
    create_group(aws, fleet, "web-g1", 1, [hook_spec("drain", TERMINATING, timeout=7200)])
    [instance_id] = lifecycle_states(aws, "web-g1")
    aws.client("autoscaling").set_desired_capacity(AutoScalingGroupName="web-g1", DesiredCapacity=0)

    complete(aws, "web-g1", "drain", instance_id, "ABANDON")  # either result terminates

    assert lifecycle_states(aws, "web-g1") == {instance_id: "Terminating:Proceed"}
    assert instance_state(aws, instance_id) == "running"
    wait_for(lambda: instance_state(aws, instance_id) == "terminated", DELAY * aws.time_scale + 10, "terminated")
    assert lifecycle_states(aws, "web-g1") == {}
    assert target_states(aws, arn) == {}
    assert aws.events(kind="violation") == []


def test_terminate_instance_in_asg_passes_through_terminating_wait_and_is_replaced(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 1, [hook_spec("drain", TERMINATING, timeout=7200)])
    [instance_id] = lifecycle_states(aws, "web-g1")

    aws.client("autoscaling").terminate_instance_in_auto_scaling_group(
        InstanceId=instance_id, ShouldDecrementDesiredCapacity=False
    )

    states = lifecycle_states(aws, "web-g1")
    assert states.pop(instance_id) == "Terminating:Wait"
    assert list(states.values()) == ["InService"]  # the replacement


def test_a_terminating_hook_times_out_then_the_instance_terminates(aws: LocalAws) -> None:
    fleet = make_fleet(aws, delay=0)
    create_group(aws, fleet, "web-g1", 1, [hook_spec("drain", TERMINATING, "ABANDON", timeout=30)])
    [instance_id] = lifecycle_states(aws, "web-g1")

    aws.client("autoscaling").set_desired_capacity(AutoScalingGroupName="web-g1", DesiredCapacity=0)

    wait_for(lambda: lifecycle_states(aws, "web-g1") == {}, 30 * aws.time_scale + 10, "terminated after the timeout")
    [timed_out] = lifecycle_events(aws, instance_id=instance_id, phase="timed_out")
    assert (timed_out["result"], timed_out["transition"]) == ("ABANDON", TERMINATING)
    assert instance_state(aws, instance_id) == "terminated"


def test_complete_lifecycle_action_by_token(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 1, [hook_spec("warm", LAUNCHING, timeout=7200)])
    [entered] = lifecycle_events(aws, phase="entered_wait")

    aws.client("autoscaling").complete_lifecycle_action(
        AutoScalingGroupName="web-g1", LifecycleHookName="warm", LifecycleActionToken=entered["token"],
        LifecycleActionResult="CONTINUE",
    )

    assert lifecycle_states(aws, "web-g1") == {entered["instance_id"]: "InService"}


@pytest.mark.parametrize("call", ["complete", "heartbeat"])
def test_an_unknown_action_is_refused_with_aws_error(aws: LocalAws, call: str) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 1, [])
    [instance_id] = lifecycle_states(aws, "web-g1")
    autoscaling = aws.client("autoscaling")
    kwargs = {"AutoScalingGroupName": "web-g1", "LifecycleHookName": "drain"}

    with pytest.raises(ClientError) as by_instance:
        if call == "complete":
            autoscaling.complete_lifecycle_action(**kwargs, InstanceId=instance_id, LifecycleActionResult="CONTINUE")
        else:
            autoscaling.record_lifecycle_action_heartbeat(**kwargs, InstanceId=instance_id)
    with pytest.raises(ClientError) as by_token:
        if call == "complete":
            autoscaling.complete_lifecycle_action(**kwargs, LifecycleActionToken="f66c3d47-e602-4af0-8edd-d4e4d2fe4620",
                                                  LifecycleActionResult="CONTINUE")
        else:
            autoscaling.record_lifecycle_action_heartbeat(**kwargs, LifecycleActionToken="f66c3d47-e602-4af0-8edd-d4e4d2fe4620")

    assert by_instance.value.response["Error"]["Code"] == "ValidationError"
    assert by_instance.value.response["Error"]["Message"] == f"No active Lifecycle Action found with instance ID {instance_id}"
    assert by_instance.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert by_token.value.response["Error"]["Message"] == (
        "No active Lifecycle Action found with token f66c3d47-e602-4af0-8edd-d4e4d2fe4620"
    )


def test_completing_twice_is_refused(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 1, [hook_spec("warm", LAUNCHING, timeout=7200)])
    [instance_id] = lifecycle_states(aws, "web-g1")
    complete(aws, "web-g1", "warm", instance_id)

    with pytest.raises(ClientError) as again:
        complete(aws, "web-g1", "warm", instance_id)

    assert again.value.response["Error"]["Code"] == "ValidationError"


def test_an_invalid_result_is_refused(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 1, [hook_spec("warm", LAUNCHING, timeout=7200)])
    [instance_id] = lifecycle_states(aws, "web-g1")

    with pytest.raises(ClientError) as refused:
        complete(aws, "web-g1", "warm", instance_id, "MAYBE")

    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert lifecycle_states(aws, "web-g1") == {instance_id: "Pending:Wait"}


def test_force_delete_past_a_hook_abandons_it_and_records_a_violation(aws: LocalAws) -> None:
    fleet = make_fleet(aws, delay=DELAY)
    create_group(aws, fleet, "web-g1", 1, [hook_spec("drain", TERMINATING, timeout=7200)])
    [instance_id] = lifecycle_states(aws, "web-g1")
    autoscaling = aws.client("autoscaling")
    autoscaling.set_desired_capacity(AutoScalingGroupName="web-g1", DesiredCapacity=0)

    autoscaling.delete_auto_scaling_group(AutoScalingGroupName="web-g1", ForceDelete=True)

    assert autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["web-g1"])["AutoScalingGroups"] == []
    assert instance_state(aws, instance_id) == "terminated"
    [abandoned] = lifecycle_events(aws, instance_id=instance_id, phase="abandoned_by_force_delete")
    assert abandoned["result"] == "ABANDON"
    rules = {v["rule"] for v in aws.events(kind="violation", instance_id=instance_id)}
    assert "hook_skipped_by_force_delete" in rules


def test_deleting_a_group_deletes_its_hooks(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 0, [hook_spec("drain", TERMINATING)])
    autoscaling = aws.client("autoscaling")

    autoscaling.delete_auto_scaling_group(AutoScalingGroupName="web-g1")
    create_group(aws, fleet, "web-g1", 1, [])

    assert autoscaling.describe_lifecycle_hooks(AutoScalingGroupName="web-g1")["LifecycleHooks"] == []
    assert list(lifecycle_states(aws, "web-g1").values()) == ["InService"]


def test_put_and_delete_lifecycle_hook_still_work_and_apply_to_later_launches(aws: LocalAws) -> None:
    fleet = make_fleet(aws)
    create_group(aws, fleet, "web-g1", 0, [])
    autoscaling = aws.client("autoscaling")
    autoscaling.put_lifecycle_hook(AutoScalingGroupName="web-g1", LifecycleHookName="warm",
                                   LifecycleTransition=LAUNCHING, HeartbeatTimeout=7200)

    autoscaling.set_desired_capacity(AutoScalingGroupName="web-g1", DesiredCapacity=1)
    [held] = lifecycle_states(aws, "web-g1")
    assert lifecycle_states(aws, "web-g1") == {held: "Pending:Wait"}
    complete(aws, "web-g1", "warm", held)

    autoscaling.delete_lifecycle_hook(AutoScalingGroupName="web-g1", LifecycleHookName="warm")
    autoscaling.set_desired_capacity(AutoScalingGroupName="web-g1", DesiredCapacity=2)
    assert sorted(lifecycle_states(aws, "web-g1").values()) == ["InService", "InService"]


def test_deleting_a_hook_completes_its_outstanding_actions_as_aws_does(aws: LocalAws) -> None:
    # AWS: "If there are any outstanding lifecycle actions, they are completed first (ABANDON for
    # launching instances, CONTINUE for terminating instances)."
    fleet = make_fleet(aws, delay=0)
    create_group(aws, fleet, "web-g1", 2, [hook_spec("warm", LAUNCHING, timeout=7200),
                                           hook_spec("drain", TERMINATING, timeout=7200)])
    first, second = sorted(lifecycle_states(aws, "web-g1"))
    complete(aws, "web-g1", "warm", first)
    autoscaling = aws.client("autoscaling")
    autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=first, ShouldDecrementDesiredCapacity=True)
    assert lifecycle_states(aws, "web-g1") == {first: "Terminating:Wait", second: "Pending:Wait"}

    autoscaling.delete_lifecycle_hook(AutoScalingGroupName="web-g1", LifecycleHookName="drain")
    autoscaling.delete_lifecycle_hook(AutoScalingGroupName="web-g1", LifecycleHookName="warm")

    wait_for(lambda: first not in lifecycle_states(aws, "web-g1"), 10, "the terminating instance gone")
    [drain_completed] = lifecycle_events(aws, instance_id=first, hook="drain", phase="completed")
    [warm_completed] = lifecycle_events(aws, instance_id=second, hook="warm", phase="completed")
    assert (drain_completed["result"], warm_completed["result"]) == ("CONTINUE", "ABANDON")
    assert instance_state(aws, second) == "terminated"
    [replacement] = lifecycle_states(aws, "web-g1").values()
    assert replacement == "InService"  # no launch hook any more
