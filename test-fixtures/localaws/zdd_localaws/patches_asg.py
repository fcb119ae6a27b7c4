"""Auto Scaling on moto 5.2.1, closer to AWS: lifecycle hooks that hold instances, suspended
processes that are honoured, scaling policies per group, and DeleteAutoScalingGroup's refusal.

Stock moto stores lifecycle hooks but never holds an instance (and ignores the hooks of a
CreateAutoScalingGroup request), has no CompleteLifecycleAction, ignores suspended processes,
keys scaling policies by name only (two groups' `cpu-50` are one policy) and deletes a populated
group without ForceDelete. Groups with no hook and no suspended Launch/Terminate keep the stock
path (plus the drain of patches.py) unchanged.

Hooks: lifecycle.py keeps the actions and their timeouts; this module moves instances between
lifecycle states when an action starts and when it is over (`_proceed`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.autoscaling import exceptions as autoscaling_exceptions
from moto.autoscaling import models as autoscaling_models
from moto.autoscaling import responses as autoscaling_responses
from moto.core.responses import ActionResult, EmptyResult

from .context import AsgRemoval, DeferredTermination, current, using
from .lifecycle import (
    ABANDON, CONTINUE, LAUNCHING, PENDING_PROCEED, PENDING_WAIT, RESULTS, TERMINATING, TERMINATING_PROCEED,
    TERMINATING_WAIT, Hook, NoActiveAction, Outcome,
)
from .model import HealthModel
from .paging import PagingError, page

_group_cls = autoscaling_models.FakeAutoScalingGroup
_backend_cls = autoscaling_models.AutoScalingBackend
_response_cls = autoscaling_responses.AutoScalingResponse

PATCHED = [
    (_group_cls, "set_desired_capacity"),
    (_group_cls, "replace_autoscaling_group_instances"),
    (_backend_cls, "create_auto_scaling_group"),
    (_backend_cls, "delete_auto_scaling_group"),
    (_backend_cls, "terminate_instance"),
    (_backend_cls, "detach_instances"),
    (_backend_cls, "detach_load_balancer_target_groups"),
    (_backend_cls, "update_attached_target_groups"),
    (_backend_cls, "resume_processes"),
    (_backend_cls, "put_scaling_policy"),
    (_backend_cls, "delete_lifecycle_hook"),
    (_response_cls, "create_auto_scaling_group"),
    (_response_cls, "delete_auto_scaling_group"),
    (_response_cls, "update_auto_scaling_group"),
    (_response_cls, "put_scaling_policy"),
    (_response_cls, "delete_policy"),
    (_response_cls, "execute_policy"),
    (_response_cls, "describe_policies"),
]

# Lifecycle states a hook holds: not serving, not registered by the group, and (the Terminating
# ones) no longer counted towards the desired capacity.
HELD = frozenset({PENDING_WAIT, PENDING_PROCEED, TERMINATING_WAIT, TERMINATING_PROCEED})
COUNTED = frozenset({"InService", PENDING_WAIT, PENDING_PROCEED})
DEFAULT_REGION = "us-east-1"


class ResourceInUseFault(autoscaling_exceptions.AutoscalingClientError):
    code = "ResourceInUse"
    message = (
        "You cannot delete an AutoScalingGroup while there are instances or pending Spot instance "
        "request(s) still in the group."
    )


class AlreadyExistsFault(autoscaling_exceptions.AutoscalingClientError):
    """AWS refuses a second group of the same name; moto would silently replace the first one
    (its instances left running, unlisted): a write retried after its response was lost must
    meet what it meets on AWS."""

    code = "AlreadyExists"

    def __init__(self, group_name: str) -> None:
        super().__init__(
            f"AutoScalingGroup by this name already exists - A group with the name {group_name} already exists"
        )


@dataclass(frozen=True)
class _ActionPayload:
    backend: Any  # AutoScalingBackend
    cause: str


# ---- small readers ---------------------------------------------------------------------------


def _hooks(backend: Any, group_name: str, transition: str | None = None) -> list[Hook]:
    return [
        Hook(group_name, h.name, h.lifecycle_transition, float(h.heartbeat_timeout), h.default_result)
        for h in backend.lifecycle_hooks.values()
        if h.auto_scaling_group_name == group_name and (transition is None or h.lifecycle_transition == transition)
    ]


def suspended(group: Any, process: str) -> bool:
    return any(p["ProcessName"] == process for p in group.suspended_processes)


def _not_added(group: Any) -> set[str]:
    """Instances launched while AddToLoadBalancer was suspended: AWS never registers them."""
    if not hasattr(group, "_zdd_not_added"):
        group._zdd_not_added = set()
    return group._zdd_not_added  # type: ignore[no-any-return]


def _uses_hook_model(group: Any) -> bool:
    if group.mixed_instances_policy:
        return False
    return (
        bool(_hooks(group.autoscaling_backend, group.name))
        or suspended(group, "Launch")
        or suspended(group, "Terminate")
        or any(s.lifecycle_state in HELD for s in group.instance_states)
    )


def _deregister(group: Any, instance_id: str, cause: str) -> None:
    elbv2_backend = group.autoscaling_backend.elbv2_backend
    with using(deregister_cause=cause):
        for arn in group.target_group_arns:
            target_group = elbv2_backend.target_groups.get(arn)
            if target_group is not None and instance_id in target_group.targets:
                target_group.deregister([{"Id": instance_id}])


def remove_from_group(ec2_backend: Any, group_name: str, instance_id: str) -> None:
    backend = autoscaling_models.autoscaling_backends[ec2_backend.account_id][ec2_backend.region_name]
    group = backend.autoscaling_groups.get(group_name)
    if group is not None:
        group.instance_states = [s for s in group.instance_states if s.instance.id != instance_id]


# ---- capacity ----------------------------------------------------------------------------------


def _reconcile(model: HealthModel, group: Any, new_capacity: int | None, removal: AsgRemoval) -> None:
    """set_desired_capacity for groups with hooks or suspended processes."""
    group.desired_capacity = group.min_size if new_capacity is None else new_capacity
    counted = [s for s in group.instance_states if s.lifecycle_state in COUNTED]
    delta = (group.desired_capacity or 0) - len(counted)
    if delta > 0:
        group.replace_autoscaling_group_instances(delta, group.get_propagated_tags())
    elif delta < 0 and (removal.force or not suspended(group, "Terminate")):
        candidates = [s for s in counted if not s.protected_from_scale_in]
        _remove(model, group, candidates[:-delta], removal)
    backend = group.autoscaling_backend
    if group.name in backend.autoscaling_groups:
        backend.update_attached_elbs(group.name)
        backend.update_attached_target_groups(group.name)


def _remove(model: HealthModel, group: Any, states: list[Any], removal: AsgRemoval) -> None:
    """Terminating hooks: Terminating:Wait, deregistered (draining). Otherwise moto's way: out
    of the group, terminated after the drain (patches.py)."""
    if not states:
        return
    backend = group.autoscaling_backend
    hooks = [] if removal.force else _hooks(backend, group.name, TERMINATING)
    if hooks:
        for state in states:
            model.lifecycle.forget(state.instance.id)  # a launch still waiting is over
            state.lifecycle_state = TERMINATING_WAIT
            _deregister(group, state.instance.id, removal.cause)
            model.lifecycle.start(hooks, state.instance.id, payload=_ActionPayload(backend, removal.cause))
        return
    backend.ec2_backend.terminate_instances([s.instance.id for s in states])
    group.instance_states = [s for s in group.instance_states if s not in states]


def _proceed(model: HealthModel, outcome: Outcome) -> None:
    """Every action of an instance's transition is over (completed or timed out)."""
    payload: _ActionPayload = outcome.payload
    backend = payload.backend
    group = backend.autoscaling_groups.get(outcome.group_name)
    state = None if group is None else next(
        (s for s in group.instance_states if s.instance.id == outcome.instance_id), None
    )
    if state is None:  # gone meanwhile (EC2 TerminateInstances, a reset)
        return
    if outcome.transition == TERMINATING:  # CONTINUE or ABANDON: either way it terminates
        state.lifecycle_state = TERMINATING_PROCEED
        model.schedule_termination(
            state.instance.id, payload.cause,
            payload=DeferredTermination(backend.ec2_backend, group.name, leaves_group=True),
        )
    elif outcome.result == CONTINUE:
        state.lifecycle_state = "InService"
        backend.update_attached_target_groups(group.name)
    else:  # an abandoned launch: terminated, and the group launches a replacement
        group.instance_states = [s for s in group.instance_states if s is not state]
        with using(asg_removal=None, terminate_cause="lifecycle_launch_abandoned"):
            backend.ec2_backend.terminate_instances([state.instance.id])
        group.set_desired_capacity(group.desired_capacity)


def run_due_lifecycle_timeouts(model: HealthModel) -> None:
    for outcome in model.lifecycle.due_timeouts():
        try:
            _proceed(model, outcome)
        except Exception as error:  # noqa: BLE001 - the group may be gone after a reset
            print(f"zdd_localaws: lifecycle timeout of {outcome.instance_id} failed: {error!r}", file=sys.stderr)


def _force_past_hooks(model: HealthModel, group: Any) -> None:
    """ForceDelete abandons the outstanding actions (a violation: the hook was skipped) and
    terminates the instances the hooks held at once."""
    for action in model.lifecycle.abandon_for_force_delete(group.name):
        model.record(
            "violation", instance_id=action.instance_id, group=group.name, hook=action.hook.name,
            rule="hook_skipped_by_force_delete", cause="asg_force_delete",
            detail=(
                f"ForceDelete of {group.name} abandoned lifecycle hook {action.hook.name} of "
                f"{action.instance_id} ({action.hook.transition})"
            ),
        )
    held = [s for s in group.instance_states if s.lifecycle_state in HELD]
    if held:
        with using(asg_removal=AsgRemoval(group, "asg_force_delete", force=True)):
            group.autoscaling_backend.ec2_backend.terminate_instances([s.instance.id for s in held])
        group.instance_states = [s for s in group.instance_states if s not in held]


# ---- scaling policies ------------------------------------------------------------------------


def _policy_key(backend: Any, group_name: str | None, name_or_arn: str | None) -> Any:
    """Policies are stored under (group, name). A policy ARN names both."""
    name = name_or_arn or ""
    if name.startswith("arn:") and ":policyName/" in name:
        prefix, name = name.rsplit(":policyName/", 1)
        group_name = group_name or prefix.rsplit("autoScalingGroupName/", 1)[-1]
    return next(
        (k for k in backend.policies if isinstance(k, tuple) and k[1] == name and group_name in (None, "", k[0])),
        None,
    )


def scale_as_policy(group_name: str, body: Any) -> tuple[int, dict[str, Any]]:
    """POST /zdd/autoscaling/<group>/scale: a target-tracking policy's action."""
    from moto.core import DEFAULT_ACCOUNT_ID

    if not isinstance(body, dict):
        return 400, {"error": 'the body must be {"desired_capacity": N}'}
    desired = body.get("desired_capacity")
    if type(desired) is not int or desired < 0:
        return 400, {"error": f"desired_capacity must be a non-negative integer, got {desired!r}"}
    region = body.get("region", DEFAULT_REGION)
    backends = autoscaling_models.autoscaling_backends[DEFAULT_ACCOUNT_ID]
    if not isinstance(region, str) or region not in backends.regions:
        return 400, {"error": f"region must be an AWS region, got {region!r}"}
    backend = backends[region]
    group = backend.autoscaling_groups.get(group_name)
    if group is None:
        return 404, {"error": f"no Auto Scaling group {group_name} in {region}"}
    if suspended(group, "AlarmNotification"):
        return 409, {"applied": False, "reason": "AlarmNotification suspended"}
    clamped = max(group.min_size or 0, min(group.max_size if group.max_size is not None else desired, desired))
    backend.set_desired_capacity(group_name, clamped)
    return 200, {"applied": True, "desired_capacity": clamped}


# ---- install ---------------------------------------------------------------------------------


def install(model: HealthModel, strict_asg_delete: bool, original: Callable[[type, str], Any]) -> None:
    _install_capacity(model, original)
    _install_group_lifetime(model, strict_asg_delete, original)
    _install_lifecycle_calls(model, original)
    _install_policies(original)


def _install_capacity(model: HealthModel, original: Callable[[type, str], Any]) -> None:
    orig_set_desired_capacity = original(_group_cls, "set_desired_capacity")
    orig_replace = original(_group_cls, "replace_autoscaling_group_instances")
    orig_update_target_groups = original(_backend_cls, "update_attached_target_groups")
    orig_resume = original(_backend_cls, "resume_processes")
    orig_terminate_instance = original(_backend_cls, "terminate_instance")
    orig_detach_instances = original(_backend_cls, "detach_instances")
    orig_detach_target_groups = original(_backend_cls, "detach_load_balancer_target_groups")

    def set_desired_capacity(self: Any, new_capacity: int | None) -> None:
        # Inside a delete or terminate: keep its cause.
        removal = current.asg_removal or AsgRemoval(self, "asg_scale_in", force=False)
        with using(asg_removal=removal):
            if not _uses_hook_model(self):
                return orig_set_desired_capacity(self, new_capacity)
            return _reconcile(model, self, new_capacity, removal)

    def replace_autoscaling_group_instances(self: Any, count_needed: int, propagated_tags: dict[str, str]) -> None:
        if suspended(self, "Launch"):
            return
        before = {s.instance.id for s in self.instance_states}
        orig_replace(self, count_needed, propagated_tags)
        launched = [s for s in self.instance_states if s.instance.id not in before]
        if suspended(self, "AddToLoadBalancer"):
            _not_added(self).update(s.instance.id for s in launched)
        hooks = _hooks(self.autoscaling_backend, self.name, LAUNCHING)
        for state in launched if hooks else []:
            state.lifecycle_state = PENDING_WAIT
            model.lifecycle.start(hooks, state.instance.id, payload=_ActionPayload(self.autoscaling_backend, "launch"))

    def update_attached_target_groups(self: Any, group_name: str) -> None:
        group = self.autoscaling_groups[group_name]
        skipped = _not_added(group) | {s.instance.id for s in group.instance_states if s.lifecycle_state in HELD}
        if not skipped:
            return orig_update_target_groups(self, group_name)
        instance_ids = sorted({s.instance.id for s in group.instance_states} - skipped)
        if not group.target_group_arns or not instance_ids:
            return None
        for target_group in self.elbv2_backend.describe_target_groups(
            target_group_arns=group.target_group_arns, load_balancer_arn=None, names=None
        ):
            self.elbv2_backend.register_targets(
                target_group.arn, [{"Id": i, "Port": target_group.port} for i in instance_ids]
            )
        return None

    def resume_processes(self: Any, group_name: str, scaling_processes: list[str]) -> None:
        group = self.autoscaling_groups[group_name]
        before = {p["ProcessName"] for p in group.suspended_processes}
        orig_resume(self, group_name, scaling_processes)
        resumed = before - {p["ProcessName"] for p in group.suspended_processes}
        if resumed & {"Launch", "Terminate"}:  # AWS catches up with the desired capacity
            group.set_desired_capacity(group.desired_capacity)

    def terminate_instance(self: Any, instance_id: str, should_decrement: bool) -> Any:
        group = next(
            (g for g in self.autoscaling_groups.values() if any(s.instance.id == instance_id for s in g.instance_states)),
            None,
        )
        if group is None:
            return orig_terminate_instance(self, instance_id, should_decrement)
        removal = AsgRemoval(group, "asg_terminate_instance", force=False)
        with using(asg_removal=removal):
            if not _hooks(self, group.name, TERMINATING):
                return orig_terminate_instance(self, instance_id, should_decrement)
            state = next(s for s in group.instance_states if s.instance.id == instance_id)
            original_size = group.desired_capacity
            if state.lifecycle_state not in (TERMINATING_WAIT, TERMINATING_PROCEED):
                if should_decrement:
                    group.desired_capacity = original_size - 1
                _remove(model, group, [state], removal)
                group.set_desired_capacity(group.desired_capacity)  # a replacement unless decremented
            return autoscaling_models.TerminateInstanceActivity(state.instance, original_size)

    def detach_instances(self: Any, group_name: str, instance_ids: list[str], should_decrement: bool) -> Any:
        # AWS deregisters detached instances from the group's target groups (they drain);
        # stock moto leaves them registered.
        group = self.autoscaling_groups[group_name]
        cause = current.asg_removal.cause if current.asg_removal is not None else "asg_detach_instances"
        for instance_id in instance_ids:
            _deregister(group, instance_id, cause)
        return orig_detach_instances(self, group_name, instance_ids, should_decrement)

    def detach_load_balancer_target_groups(self: Any, group_name: str, target_group_arns: list[str]) -> None:
        with using(deregister_cause="asg_detach_target_group"):
            return orig_detach_target_groups(self, group_name, target_group_arns)

    _group_cls.set_desired_capacity = set_desired_capacity
    _group_cls.replace_autoscaling_group_instances = replace_autoscaling_group_instances
    _backend_cls.update_attached_target_groups = update_attached_target_groups
    _backend_cls.resume_processes = resume_processes
    _backend_cls.terminate_instance = terminate_instance
    _backend_cls.detach_instances = detach_instances
    _backend_cls.detach_load_balancer_target_groups = detach_load_balancer_target_groups


def _keep_instance_warmup(response: Any) -> None:
    """moto 5.2.1 drops `DefaultInstanceWarmup`; AWS keeps it and reports it. Its serialiser
    reports the group's `default_instance_warmup` attribute when set, so the patch stores it
    there (a request that does not name it leaves it as it was)."""
    warmup = response._get_int_param("DefaultInstanceWarmup")
    if warmup is None:
        return
    group = response.autoscaling_backend.autoscaling_groups.get(response._get_param("AutoScalingGroupName"))
    if group is not None:
        group.default_instance_warmup = warmup


def _install_group_lifetime(model: HealthModel, strict_asg_delete: bool, original: Callable[[type, str], Any]) -> None:
    orig_create = original(_backend_cls, "create_auto_scaling_group")
    orig_delete = original(_backend_cls, "delete_auto_scaling_group")
    orig_create_response = original(_response_cls, "create_auto_scaling_group")
    orig_delete_response = original(_response_cls, "delete_auto_scaling_group")
    orig_update_response = original(_response_cls, "update_auto_scaling_group")

    def create_auto_scaling_group(self: Any, *args: Any, **kwargs: Any) -> Any:
        # AWS creates the request's hooks with the group, before its first instance launches.
        name = kwargs["name"] if "name" in kwargs else args[0]
        specifications, current.hook_specifications = current.hook_specifications, []
        if name in self.autoscaling_groups:
            raise AlreadyExistsFault(name)
        for spec in specifications:
            self.create_lifecycle_hook(
                name=spec["LifecycleHookName"], as_name=name, transition=spec["LifecycleTransition"],
                timeout=autoscaling_models.make_int(spec.get("HeartbeatTimeout")), result=spec.get("DefaultResult"),
            )
        try:
            return orig_create(self, *args, **kwargs)
        except Exception:
            for spec in specifications:
                self.delete_lifecycle_hook(name, spec["LifecycleHookName"])
            raise

    def delete_auto_scaling_group(self: Any, group_name: str) -> None:
        group = self.autoscaling_groups.get(group_name)
        if group is None:
            return orig_delete(self, group_name)
        force = current.force_delete
        if not force:
            draining = strict_asg_delete and any(
                p.payload.group_name == group_name for p in model.pending_terminations()
            )
            if group.instance_states or draining:
                raise ResourceInUseFault()
        else:
            _force_past_hooks(model, group)
        cause = "asg_force_delete" if force else "asg_delete"
        with using(asg_removal=AsgRemoval(group, cause, force=force)):
            orig_delete(self, group_name)
        # AWS deletes the group's hooks and policies with it; moto keeps them for the next
        # group of that name.
        for key in [k for k, h in self.lifecycle_hooks.items() if h.auto_scaling_group_name == group_name]:
            del self.lifecycle_hooks[key]
        for key in [k for k, p in self.policies.items() if p.auto_scaling_group_name == group_name]:
            del self.policies[key]
        return None

    def create_auto_scaling_group_response(self: Any) -> Any:
        with using(hook_specifications=list(self._get_param("LifecycleHookSpecificationList", []) or [])):
            response = orig_create_response(self)
        _keep_instance_warmup(self)
        return response

    def update_auto_scaling_group_response(self: Any) -> Any:
        response = orig_update_response(self)
        _keep_instance_warmup(self)
        return response

    def delete_auto_scaling_group_response(self: Any) -> Any:
        with using(force_delete=bool(self._get_bool_param("ForceDelete", False))):
            return orig_delete_response(self)

    _backend_cls.create_auto_scaling_group = create_auto_scaling_group
    _backend_cls.delete_auto_scaling_group = delete_auto_scaling_group
    _response_cls.create_auto_scaling_group = create_auto_scaling_group_response
    _response_cls.update_auto_scaling_group = update_auto_scaling_group_response
    _response_cls.delete_auto_scaling_group = delete_auto_scaling_group_response


def _install_lifecycle_calls(model: HealthModel, original: Callable[[type, str], Any]) -> None:
    """CompleteLifecycleAction and RecordLifecycleActionHeartbeat, which moto lacks, and
    DeleteLifecycleHook's completion of the hook's outstanding actions."""
    orig_delete_hook = original(_backend_cls, "delete_lifecycle_hook")

    def delete_lifecycle_hook(self: Any, as_name: str, name: str) -> None:
        # AWS completes outstanding actions first: ABANDON a launch, CONTINUE a termination.
        orig_delete_hook(self, as_name, name)
        for action in model.lifecycle.waiting_on(as_name, name):
            result = ABANDON if action.hook.transition == LAUNCHING else CONTINUE
            outcome = model.lifecycle.complete(as_name, name, result, token=action.token)
            if outcome is not None:
                _proceed(model, outcome)

    def _target(response: Any) -> dict[str, Any]:
        return {
            "group_name": response._get_param("AutoScalingGroupName"),
            "hook_name": response._get_param("LifecycleHookName"),
            "instance_id": response._get_param("InstanceId"),
            "token": response._get_param("LifecycleActionToken"),
        }

    def complete_lifecycle_action(self: Any) -> Any:
        result = self._get_param("LifecycleActionResult")
        if result not in RESULTS:
            raise autoscaling_exceptions.ValidationError(
                f"Invalid LifecycleActionResult {result!r}: must be CONTINUE or ABANDON"
            )
        try:
            outcome = model.lifecycle.complete(result=result, **_target(self))
        except NoActiveAction as error:
            raise autoscaling_exceptions.ValidationError(str(error)) from error
        if outcome is not None:
            _proceed(model, outcome)
        return EmptyResult()

    def record_lifecycle_action_heartbeat(self: Any) -> Any:
        try:
            model.lifecycle.heartbeat(**_target(self))
        except NoActiveAction as error:
            raise autoscaling_exceptions.ValidationError(str(error)) from error
        return EmptyResult()

    _backend_cls.delete_lifecycle_hook = delete_lifecycle_hook
    _response_cls.complete_lifecycle_action = complete_lifecycle_action
    _response_cls.record_lifecycle_action_heartbeat = record_lifecycle_action_heartbeat


def _install_policies(original: Callable[[type, str], Any]) -> None:
    orig_put = original(_backend_cls, "put_scaling_policy")
    orig_put_response = original(_response_cls, "put_scaling_policy")

    def put_scaling_policy(self: Any, *args: Any, **kwargs: Any) -> Any:
        policy = orig_put(self, *args, **kwargs)
        self.policies.pop(policy.name, None)  # moto keys by name alone
        self.policies[(policy.auto_scaling_group_name, policy.name)] = policy
        return policy

    def put_scaling_policy_response(self: Any) -> Any:
        orig_put_response(self)
        key = (self._get_param("AutoScalingGroupName"), self._get_param("PolicyName"))
        # moto answers `PolicyArn`, which the response shape (`PolicyARN`) drops.
        return ActionResult({"PolicyARN": self.autoscaling_backend.policies[key].arn, "Alarms": []})

    def delete_policy_response(self: Any) -> Any:
        backend = self.autoscaling_backend
        key = _policy_key(backend, self._get_param("AutoScalingGroupName"), self._get_param("PolicyName"))
        if key is not None:
            del backend.policies[key]
        return EmptyResult()

    def execute_policy_response(self: Any) -> Any:
        backend = self.autoscaling_backend
        key = _policy_key(backend, self._get_param("AutoScalingGroupName"), self._get_param("PolicyName"))
        if key is None:
            raise autoscaling_exceptions.ValidationError(f"No such policy: {self._get_param('PolicyName')}")
        backend.policies[key].execute()
        return EmptyResult()

    def describe_policies_response(self: Any) -> Any:
        # AWS pages DescribePolicies (MaxRecords: 50 by default, 100 at most); moto answers all.
        policies = self.autoscaling_backend.describe_policies(
            autoscaling_group_name=self._get_param("AutoScalingGroupName"),
            policy_names=self._get_param("PolicyNames", []),
            policy_types=self._get_param("PolicyTypes", []),
        )
        try:
            policies, token = page(list(policies), self._get_param("NextToken"), self._get_int_param("MaxRecords"))
        except PagingError as error:
            raise autoscaling_exceptions.ValidationError(str(error)) from error
        return ActionResult({"ScalingPolicies": policies, "NextToken": token})

    _backend_cls.put_scaling_policy = put_scaling_policy
    _response_cls.describe_policies = describe_policies_response
    _response_cls.put_scaling_policy = put_scaling_policy_response
    _response_cls.delete_policy = delete_policy_response
    _response_cls.execute_policy = execute_policy_response
