"""The load-balancer health model: what a target's health is, and when it changes.

Pure logic: no moto, no HTTP, no time.* calls. Time comes from the clock passed in, and every
duration is multiplied by `time_scale` (0.1 makes a 10 s initial period last 1 s). State changes
that are due are applied lazily, in time order, the next time anything looks at the model
(`settle`), and each event carries the instant it was due, so the log reads as if a background
health checker had run continuously.

Lifecycle of a target (one instance in one target group), as ELBv2 reports it:

    register ──> initial ──(healthy_threshold × interval)──> healthy <──> unhealthy (marked)
                                                                 │
    deregister / ASG detach / scale-in / ASG delete ──> draining ──(deregistration delay)──> gone

An instance terminated while it still has a target (registered or draining) is a violation of
"drain before terminate"; the model records it and removes the target.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

from .lifecycle import LifecycleActions

INITIAL = "initial"
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
DRAINING = "draining"
UNUSED = "unused"

REASON_REGISTRATION = "Elb.RegistrationInProgress"
REASON_DEREGISTRATION = "Target.DeregistrationInProgress"
DEFAULT_UNHEALTHY_REASON = "Target.ResponseCodeMismatch"

# The texts AWS puts in TargetHealth.Description for each reason code.
DESCRIPTIONS = {
    REASON_REGISTRATION: "Target registration is in progress",
    REASON_DEREGISTRATION: "Target deregistration is in progress",
    "Target.ResponseCodeMismatch": "Health checks failed with these codes: [500]",
    "Target.Timeout": "Request timed out",
    "Target.FailedHealthChecks": "Health checks failed",
}


class Clock(Protocol):
    def now(self) -> float: ...


@dataclass(frozen=True)
class TargetGroupTimings:
    """The target group settings the model needs, in (unscaled) AWS seconds."""

    interval_seconds: float
    healthy_threshold: int
    deregistration_delay_seconds: float

    @property
    def initial_seconds(self) -> float:
        return self.healthy_threshold * self.interval_seconds


@dataclass(frozen=True)
class TargetHealth:
    state: str
    reason: str | None
    description: str | None


@dataclass
class _Target:
    target_group_arn: str
    instance_id: str
    port: Any
    state: str
    reason: str | None
    timings: TargetGroupTimings
    # Model-clock instant of the pending timed transition (end of initial, end of recovery,
    # end of drain), or None when the state only changes on an API call.
    due: float | None


@dataclass(frozen=True)
class PendingTermination:
    instance_id: str
    due: float
    cause: str
    # Opaque to the model: whatever the caller needs to carry the termination out.
    payload: Any


class HealthModel:
    def __init__(self, clock: Clock, time_scale: float = 1.0) -> None:
        if not time_scale > 0:
            raise ValueError(f"time_scale must be positive, got {time_scale}")
        self.clock = clock
        self.time_scale = time_scale
        self._lock = threading.RLock()
        # Instances held by lifecycle hooks: same clock, same time scale, same event log.
        self.lifecycle = LifecycleActions(self)
        self.reset()

    # ---- bookkeeping -------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._epoch = self.clock.now()
            self._targets: dict[tuple[str, str], _Target] = {}
            self._unhealthy_marks: dict[str, str] = {}
            self._pending_terminations: dict[str, PendingTermination] = {}
            self._events: list[dict[str, Any]] = []
        # Outside the model's lock: the lifecycle actions take theirs, then the model's.
        self.lifecycle.clear()

    def scaled(self, aws_seconds: float) -> float:
        return aws_seconds * self.time_scale

    def _emit(self, at: float, kind: str, **fields: Any) -> None:
        t = at - self._epoch
        event: dict[str, Any] = {
            "seq": len(self._events) + 1,
            "t": round(t, 6),
            "aws_t": round(t / self.time_scale, 6),
            "kind": kind,
            "target_group_arn": None,
            "instance_id": None,
            "from": None,
            "to": None,
            "reason": None,
        }
        event.update(fields)
        self._events.append(event)

    def record(self, kind: str, at: float | None = None, **fields: Any) -> None:
        """Appends an event that is not a target's state change (lifecycle actions, violations
        found outside the model). `at` is a model-clock instant (default: now)."""
        with self._lock:
            now = self.settle()
            self._emit(now if at is None else at, kind, **fields)

    def _set_state(
        self, target: _Target, at: float, state: str, reason: str | None, due: float | None, kind: str, **extra: Any
    ) -> None:
        previous = target.state
        target.state, target.reason, target.due = state, reason, due
        self._emit(
            at,
            kind,
            target_group_arn=target.target_group_arn,
            instance_id=target.instance_id,
            **{"from": previous, "to": state, "reason": reason},
            **extra,
        )

    def _remove(self, target: _Target, at: float, cause: str) -> None:
        del self._targets[(target.target_group_arn, target.instance_id)]
        self._emit(
            at,
            "removed",
            target_group_arn=target.target_group_arn,
            instance_id=target.instance_id,
            **{"from": target.state, "to": UNUSED, "reason": None},
            cause=cause,
        )

    # ---- time ----------------------------------------------------------------------------------

    def settle(self) -> float:
        """Apply every timed transition that is due, oldest first. Returns the current instant."""
        with self._lock:
            now = self.clock.now()
            while True:
                due_targets = [t for t in self._targets.values() if t.due is not None and t.due <= now]
                if not due_targets:
                    return now
                target = min(due_targets, key=lambda t: t.due)  # type: ignore[arg-type,return-value]
                at = target.due
                assert at is not None
                if target.state == DRAINING:
                    self._remove(target, at, cause="deregistration_delay_elapsed")
                elif target.state == INITIAL and target.instance_id in self._unhealthy_marks:
                    reason = self._unhealthy_marks[target.instance_id]
                    self._set_state(target, at, UNHEALTHY, reason, None, "state_changed")
                else:  # end of the initial period, or of the recovery after a healthy mark
                    self._set_state(target, at, HEALTHY, None, None, "state_changed")

    # ---- ELBv2 operations ----------------------------------------------------------------------

    def register(self, target_group_arn: str, instance_id: str, port: Any, timings: TargetGroupTimings) -> None:
        """RegisterTargets (also done by an ASG for its instances). Idempotent for live targets."""
        with self._lock:
            now = self.settle()
            key = (target_group_arn, instance_id)
            existing = self._targets.get(key)
            if existing is not None and existing.state != DRAINING:
                return
            due = now + self.scaled(timings.initial_seconds)
            if existing is None:
                target = _Target(target_group_arn, instance_id, port, UNUSED, None, timings, None)
                self._targets[key] = target
            else:  # re-registered while draining: health checks start over
                target = existing
                target.timings, target.port = timings, port
            self._set_state(target, now, INITIAL, REASON_REGISTRATION, due, "registered")
            self.settle()  # a zero-length initial period ends at once

    def deregister(
        self, target_group_arn: str, instance_id: str, cause: str, timings: TargetGroupTimings | None = None
    ) -> bool:
        """Start draining. `timings` carries the deregistration delay as configured now (the
        attribute may have changed since registration). Returns False if not registered."""
        with self._lock:
            now = self.settle()
            target = self._targets.get((target_group_arn, instance_id))
            if target is None:
                return False
            if target.state == DRAINING:
                return True
            if timings is not None:
                target.timings = timings
            due = now + self.scaled(target.timings.deregistration_delay_seconds)
            self._set_state(target, now, DRAINING, REASON_DEREGISTRATION, due, "deregistered", cause=cause)
            self.settle()  # a zero deregistration delay removes the target at once
            return True

    def drop_target_group(self, target_group_arn: str) -> None:
        with self._lock:
            now = self.settle()
            for target in [t for t in self._targets.values() if t.target_group_arn == target_group_arn]:
                self._remove(target, now, cause="target_group_deleted")

    # ---- instances -----------------------------------------------------------------------------

    def mark_health(self, instance_id: str, state: str, reason: str | None = None) -> None:
        """Make an instance fail (or pass again) its health checks in every target group."""
        if state not in (HEALTHY, UNHEALTHY):
            raise ValueError(f"state must be 'healthy' or 'unhealthy', got {state!r}")
        with self._lock:
            now = self.settle()
            targets = [t for t in self._targets.values() if t.instance_id == instance_id]
            if state == UNHEALTHY:
                reason = reason or DEFAULT_UNHEALTHY_REASON
                self._unhealthy_marks[instance_id] = reason
                self._emit(now, "health_marked", instance_id=instance_id, to=UNHEALTHY, reason=reason)
                for target in targets:
                    if target.state == HEALTHY:
                        self._set_state(target, now, UNHEALTHY, reason, None, "state_changed")
                    elif target.state == UNHEALTHY:  # cancel a recovery in progress
                        target.reason, target.due = reason, None
            else:
                self._unhealthy_marks.pop(instance_id, None)
                self._emit(now, "health_marked", instance_id=instance_id, to=HEALTHY, reason=None)
                for target in targets:
                    if target.state == UNHEALTHY and target.due is None:
                        # Back to healthy after healthy_threshold passing checks, as AWS does.
                        target.due = now + self.scaled(target.timings.initial_seconds)
            self.settle()

    def schedule_termination(self, instance_id: str, cause: str, payload: Any = None) -> PendingTermination:
        """Terminate the instance once all its draining targets are gone (at once if none)."""
        with self._lock:
            now = self.settle()
            drain_ends = [
                t.due
                for t in self._targets.values()
                if t.instance_id == instance_id and t.state == DRAINING and t.due is not None
            ]
            due = max([now, *drain_ends])
            pending = PendingTermination(instance_id, due, cause, payload)
            self._pending_terminations[instance_id] = pending
            self._emit(
                now,
                "termination_scheduled",
                instance_id=instance_id,
                cause=cause,
                due_t=round(due - self._epoch, 6),
            )
            return pending

    def due_terminations(self) -> list[PendingTermination]:
        """Pop the scheduled terminations whose drain has ended; the caller carries them out
        and reports each with `instance_terminated`."""
        with self._lock:
            now = self.settle()
            due = sorted(
                (p for p in self._pending_terminations.values() if p.due <= now), key=lambda p: p.due
            )
            for pending in due:
                del self._pending_terminations[pending.instance_id]
            return due

    def pending_terminations(self) -> list[PendingTermination]:
        """Scheduled terminations not yet due, oldest first."""
        with self._lock:
            self.settle()
            return sorted(self._pending_terminations.values(), key=lambda p: p.due)

    def instance_terminated(self, instance_id: str, cause: str) -> None:
        """The instance is gone. Any target it still has is a drain-before-terminate violation."""
        with self._lock:
            now = self.settle()
            self._pending_terminations.pop(instance_id, None)
            self._unhealthy_marks.pop(instance_id, None)
            self._emit(now, "instance_terminated", instance_id=instance_id, cause=cause)
            for target in [t for t in self._targets.values() if t.instance_id == instance_id]:
                self._emit(
                    now,
                    "violation",
                    target_group_arn=target.target_group_arn,
                    instance_id=instance_id,
                    **{"from": target.state, "to": None, "reason": target.reason},
                    rule="drain_before_terminate",
                    cause=cause,
                    detail=(
                        f"instance {instance_id} terminated ({cause}) while its target in "
                        f"{target.target_group_arn} was {target.state}"
                    ),
                )
                self._remove(target, now, cause="instance_terminated")

    # ---- queries -------------------------------------------------------------------------------

    def health(self, target_group_arn: str, instance_id: str) -> TargetHealth | None:
        with self._lock:
            self.settle()
            target = self._targets.get((target_group_arn, instance_id))
            if target is None:
                return None
            return TargetHealth(target.state, target.reason, DESCRIPTIONS.get(target.reason or "", None))

    def targets_of(self, target_group_arn: str) -> list[tuple[str, Any]]:
        """(instance_id, port) of every target AWS would list: registered and draining."""
        with self._lock:
            self.settle()
            return [(t.instance_id, t.port) for t in self._targets.values() if t.target_group_arn == target_group_arn]

    def healthy_target_groups(self) -> set[str]:
        """The target groups with at least one `healthy` target (one pass: the traffic model asks
        on every tick)."""
        with self._lock:
            self.settle()
            return {t.target_group_arn for t in self._targets.values() if t.state == HEALTHY}

    def events(self, since_seq: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            self.settle()
            return [dict(e) for e in self._events if e["seq"] > since_seq]
