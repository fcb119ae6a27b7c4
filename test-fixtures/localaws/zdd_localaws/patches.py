"""Layer the health model (model.py) over moto 5.2.1's ELBv2, Auto Scaling and EC2 backends.

Stock moto reports a registered target healthy at once, forgets a deregistered one at once,
terminates scaled-in instances without draining them and keeps them listed healthy afterwards.
These patches route every target registration, deregistration and instance termination through
the model and let the model answer DescribeTargetHealth.

They replace internal methods, which is why __init__.py pins the moto version; tests in
tests/test_moto_patches.py fail loudly if an upgrade renames or reshapes any of them.
"""

from __future__ import annotations

import sys
from typing import Any

from moto.ec2.models import instances as ec2_instances
from moto.elbv2 import models as elbv2_models

from . import context, patches_asg
from .model import DRAINING, HealthModel, TargetGroupTimings

# (class, attribute) pairs replaced below; checked before patching so a moto upgrade that
# renames one fails at start-up instead of silently leaving the stock behaviour in place.
PATCHED = [
    (elbv2_models.FakeTargetGroup, "register"),
    (elbv2_models.FakeTargetGroup, "deregister"),
    (elbv2_models.FakeTargetGroup, "deregister_terminated_instances"),
    (elbv2_models.ELBv2Backend, "describe_target_health"),
    (elbv2_models.ELBv2Backend, "delete_target_group"),
    (ec2_instances.InstanceBackend, "terminate_instances"),
    *patches_asg.PATCHED,
]
_MARK = "_zdd_localaws_original"


_context = context.current
_set = context.using
_AsgRemoval = context.AsgRemoval
_DeferredTermination = context.DeferredTermination


def timings_of(target_group: Any) -> TargetGroupTimings:
    return TargetGroupTimings(
        interval_seconds=float(target_group.health_check_interval_seconds),
        healthy_threshold=int(target_group.healthy_threshold_count),
        deregistration_delay_seconds=float(
            target_group.attributes.get("deregistration_delay.timeout_seconds", 300)
        ),
    )


def _original(cls: type, name: str) -> Any:
    return getattr(cls, _MARK + "_" + name)


def check_patch_points() -> None:
    missing = [f"{cls.__module__}.{cls.__name__}.{name}" for cls, name in PATCHED if not hasattr(cls, name)]
    if missing:
        raise RuntimeError(
            "zdd_localaws cannot patch this moto: missing " + ", ".join(missing)
            + ". The health model would silently fall back to stock moto; port patches.py first."
        )


def install(model: HealthModel, strict_asg_delete: bool = False) -> None:
    """Apply the patches (idempotent: a second call re-targets them at `model`).

    DeleteAutoScalingGroup without ForceDelete is refused with ResourceInUse while the group
    lists instances, as on AWS. `strict_asg_delete`: also while instances it scaled in are still
    draining towards termination (AWS lists those as Terminating; stock moto drops them at once).
    """
    check_patch_points()
    for cls, name in PATCHED:
        if not hasattr(cls, _MARK + "_" + name):
            setattr(cls, _MARK + "_" + name, getattr(cls, name))
    _install_elbv2(model)
    _install_ec2(model)
    patches_asg.install(model, strict_asg_delete, _original)


# ---- ELBv2 ------------------------------------------------------------------------------------


def _install_elbv2(model: HealthModel) -> None:
    tg_cls = elbv2_models.FakeTargetGroup
    backend_cls = elbv2_models.ELBv2Backend
    orig_register = _original(tg_cls, "register")
    orig_deregister = _original(tg_cls, "deregister")
    orig_health_for = tg_cls.health_for
    orig_delete_target_group = _original(backend_cls, "delete_target_group")

    def register(self: Any, targets: list[dict[str, Any]]) -> None:
        orig_register(self, targets)
        for target in targets:
            registered = self.targets[target["Id"]]
            model.register(self.arn, target["Id"], registered["Port"], timings_of(self))

    def deregister(self: Any, targets: list[dict[str, Any]]) -> None:
        # Deregistering a target that is already draining is accepted by AWS; moto no longer
        # has it in `targets` and would raise InvalidTarget.
        live = [
            t for t in targets
            if not (t["Id"] not in self.targets and _model_state(model, self.arn, t["Id"]) == DRAINING)
        ]
        if live:
            orig_deregister(self, live)
        cause = _context.deregister_cause or "deregister_targets"
        for target in live:
            model.deregister(self.arn, target["Id"], cause, timings_of(self))

    def deregister_terminated_instances(self: Any, instance_ids: list[str]) -> None:
        # Stock moto keeps terminated targets listed as draining forever. The model has already
        # been told (terminate_instances below); moto only has to forget them.
        for instance_id in instance_ids:
            self.targets.pop(instance_id, None)

    def describe_target_health(self: Any, target_group_arn: str, targets: list[dict[str, Any]]) -> list[Any]:
        target_group = self.target_groups.get(target_group_arn)
        if target_group is None:
            raise elbv2_models.TargetGroupNotFoundError()
        if not targets:
            targets = [{"Id": instance_id, "Port": port} for instance_id, port in model.targets_of(target_group_arn)]
        descriptions = []
        for target in targets:
            health = model.health(target_group_arn, target["Id"])
            if health is None:  # not registered: moto's answers ("unused", NotRegistered) are right
                descriptions.append(orig_health_for(target_group, target, self.ec2_backend))
                continue
            port = target.get("Port") or next(
                (p for i, p in model.targets_of(target_group_arn) if i == target["Id"]), target_group.port
            )
            descriptions.append(
                elbv2_models.FakeHealthStatus(
                    target["Id"], port, target_group.health_check_port,
                    health.state, health.reason, health.description,
                )
            )
        return descriptions

    def delete_target_group(self: Any, target_group_arn: str) -> Any:
        deleted = orig_delete_target_group(self, target_group_arn)
        model.drop_target_group(target_group_arn)
        return deleted

    tg_cls.register = register
    tg_cls.deregister = deregister
    tg_cls.deregister_terminated_instances = deregister_terminated_instances
    backend_cls.describe_target_health = describe_target_health
    backend_cls.delete_target_group = delete_target_group


def _model_state(model: HealthModel, target_group_arn: str, instance_id: str) -> str | None:
    health = model.health(target_group_arn, instance_id)
    return None if health is None else health.state


# ---- EC2 --------------------------------------------------------------------------------------


def _install_ec2(model: HealthModel) -> None:
    backend_cls = ec2_instances.InstanceBackend
    orig_terminate_instances = _original(backend_cls, "terminate_instances")

    def terminate_instances(self: Any, instance_ids: list[str]) -> list[Any]:
        removal = _context.asg_removal
        deferred: list[str] = []
        if removal is not None and not removal.force:
            deferred = [i for i in instance_ids if _drain_before_terminating(model, self, removal, i)]
        now_ids = [i for i in instance_ids if i not in deferred]
        if not now_ids:
            return []
        terminated = orig_terminate_instances(self, now_ids)
        for instance, _previous_state in terminated:
            model.lifecycle.forget(instance.id)
        cause = _context.terminate_cause or (removal.cause if removal else "terminate_instances")
        elbv2_backend = elbv2_models.elbv2_backends[self.account_id][self.region_name]
        for instance, _previous_state in terminated:
            model.instance_terminated(instance.id, cause)
            for target_group in elbv2_backend.target_groups.values():
                target_group.targets.pop(instance.id, None)
        return terminated

    backend_cls.terminate_instances = terminate_instances


def _drain_before_terminating(model: HealthModel, ec2_backend: Any, removal: _AsgRemoval, instance_id: str) -> bool:
    """As AWS does for an ASG with target groups: deregister first, terminate after the drain.
    Returns True if the termination was deferred."""
    elbv2_backend = removal.group.autoscaling_backend.elbv2_backend
    with _set(deregister_cause=removal.cause):
        for arn in removal.group.target_group_arns:
            target_group = elbv2_backend.target_groups.get(arn)
            if target_group is not None and instance_id in target_group.targets:
                target_group.deregister([{"Id": instance_id}])
    # Any draining target counts, also one drained by an earlier detach from another group.
    draining = any(_model_state(model, arn, instance_id) == DRAINING for arn in elbv2_backend.target_groups)
    if not draining:
        return False
    model.schedule_termination(
        instance_id, removal.cause, payload=_DeferredTermination(ec2_backend, removal.group.name)
    )
    return True


def run_due(model: HealthModel) -> None:
    """Apply what is due: lifecycle hooks that timed out, then the terminations whose drain has
    ended (called by the server's ticker and before every request, under the backend lock)."""
    patches_asg.run_due_lifecycle_timeouts(model)
    run_due_terminations(model)


def run_due_terminations(model: HealthModel) -> None:
    for pending in model.due_terminations():
        deferred: _DeferredTermination = pending.payload
        try:
            with _set(terminate_cause=f"{pending.cause}_after_drain", asg_removal=None):
                deferred.ec2_backend.terminate_instances([pending.instance_id])
            if deferred.leaves_group:
                patches_asg.remove_from_group(deferred.ec2_backend, deferred.group_name, pending.instance_id)
        except Exception as error:  # noqa: BLE001 - the instance may be gone after a reset
            print(f"zdd_localaws: deferred termination of {pending.instance_id} failed: {error!r}", file=sys.stderr)
