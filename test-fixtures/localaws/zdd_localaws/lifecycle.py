"""Lifecycle actions: instances a lifecycle hook holds in `Pending:Wait` or `Terminating:Wait`.

Pure logic, like the health model it belongs to (no moto, no HTTP, no time.* calls): it reads
the model's clock, scales every heartbeat timeout by the model's `time_scale` and writes its
events to the model's log. patches_asg.py decides what an instance does when its actions are
over (an `Outcome`): go InService, be terminated and replaced, or be terminated after its drain.

One action per (instance, hook): an instance launched into a group with two launch hooks waits
for both. Its transition proceeds when the last one completes or times out; the result is
ABANDON if any of them ended with ABANDON, as on AWS.

Event (kind `lifecycle_action`): `instance_id`, `group`, `hook`, `transition` (AWS's
`autoscaling:EC2_INSTANCE_LAUNCHING` / `..._TERMINATING`), `phase` (`entered_wait`,
`heartbeat`, `completed`, `timed_out`, `abandoned_by_force_delete`), `result` (CONTINUE /
ABANDON, None while waiting), `token`, `from` / `to` (lifecycle states).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import HealthModel

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
TRANSITIONS = (LAUNCHING, TERMINATING)
CONTINUE = "CONTINUE"
ABANDON = "ABANDON"
RESULTS = (CONTINUE, ABANDON)
PENDING_WAIT = "Pending:Wait"
PENDING_PROCEED = "Pending:Proceed"
TERMINATING_WAIT = "Terminating:Wait"
TERMINATING_PROCEED = "Terminating:Proceed"
WAIT_STATES = {LAUNCHING: PENDING_WAIT, TERMINATING: TERMINATING_WAIT}
PROCEED_STATES = {LAUNCHING: PENDING_PROCEED, TERMINATING: TERMINATING_PROCEED}
FROM_STATES = {LAUNCHING: "Pending", TERMINATING: "InService"}
EVENT_KIND = "lifecycle_action"


@dataclass(frozen=True)
class Hook:
    group_name: str
    name: str
    transition: str
    heartbeat_timeout_seconds: float  # AWS seconds, unscaled
    default_result: str


@dataclass
class LifecycleAction:
    token: str
    hook: Hook
    instance_id: str
    deadline: float  # model-clock instant the heartbeat timeout ends
    # Opaque to this module: what the caller needs to carry the outcome out (moto backends, cause).
    payload: Any


@dataclass(frozen=True)
class Outcome:
    """Every action of `instance_id` for `transition` is over: the instance proceeds."""

    group_name: str
    instance_id: str
    transition: str
    result: str
    payload: Any


class NoActiveAction(LookupError):
    """No action waits for that instance or token (AWS: ValidationError)."""

    def __init__(self, instance_id: str | None, token: str | None) -> None:
        what = f"instance ID {instance_id}" if instance_id else f"token {token}"
        super().__init__(f"No active Lifecycle Action found with {what}")


@dataclass
class _Ended:
    results: list[str] = field(default_factory=list)


class LifecycleActions:
    def __init__(self, model: HealthModel) -> None:
        self.model = model
        self._lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._actions: dict[str, LifecycleAction] = {}
            # Results of the ended actions of transitions that still wait for other hooks.
            self._ended: dict[tuple[str, str], _Ended] = {}

    # ---- starting ------------------------------------------------------------------------------

    def start(self, hooks: list[Hook], instance_id: str, payload: Any = None) -> list[LifecycleAction]:
        """Holds the instance in the wait state of the hooks' transition (one action per hook)."""
        with self._lock:
            now = self.model.settle()
            started = []
            for hook in hooks:
                action = LifecycleAction(
                    str(uuid.uuid4()), hook, instance_id, now + self.model.scaled(hook.heartbeat_timeout_seconds), payload
                )
                self._actions[action.token] = action
                started.append(action)
                self._record(
                    action, "entered_wait", None, FROM_STATES[hook.transition], WAIT_STATES[hook.transition], at=now
                )
            return started

    # ---- the API calls ---------------------------------------------------------------------------

    def complete(
        self, group_name: str, hook_name: str, result: str, instance_id: str | None = None, token: str | None = None
    ) -> Outcome | None:
        """CompleteLifecycleAction. Returns the outcome if it was the instance's last action."""
        if result not in RESULTS:
            raise ValueError(f"LifecycleActionResult must be CONTINUE or ABANDON, got {result!r}")
        with self._lock:
            action = self._find(group_name, hook_name, instance_id, token)
            self.model.settle()
            return self._end(action, result, "completed", at=None)

    def heartbeat(self, group_name: str, hook_name: str, instance_id: str | None = None, token: str | None = None) -> None:
        """RecordLifecycleActionHeartbeat: the heartbeat timeout starts over."""
        with self._lock:
            action = self._find(group_name, hook_name, instance_id, token)
            now = self.model.settle()
            action.deadline = now + self.model.scaled(action.hook.heartbeat_timeout_seconds)
            transition = action.hook.transition
            self._record(action, "heartbeat", None, WAIT_STATES[transition], WAIT_STATES[transition], at=now)

    def _find(self, group_name: str, hook_name: str, instance_id: str | None, token: str | None) -> LifecycleAction:
        for action in self._actions.values():
            if action.hook.group_name != group_name or action.hook.name != hook_name:
                continue
            if (token and action.token == token) or (not token and action.instance_id == instance_id):
                return action
        raise NoActiveAction(instance_id, token)

    # ---- time ------------------------------------------------------------------------------------

    def due_timeouts(self) -> list[Outcome]:
        """Ends every action whose heartbeat timeout has passed with its hook's default result,
        oldest first; returns the outcomes of the instances that proceed."""
        with self._lock:
            now = self.model.settle()
            outcomes = []
            for action in sorted((a for a in self._actions.values() if a.deadline <= now), key=lambda a: a.deadline):
                outcome = self._end(action, action.hook.default_result, "timed_out", at=action.deadline)
                if outcome is not None:
                    outcomes.append(outcome)
            return outcomes

    # ---- ending without a result -------------------------------------------------------------------

    def abandon_for_force_delete(self, group_name: str) -> list[LifecycleAction]:
        """ForceDelete abandons the group's outstanding actions (AWS does, skipping the hooks)."""
        with self._lock:
            self.model.settle()
            abandoned = [a for a in self._actions.values() if a.hook.group_name == group_name]
            for action in abandoned:
                del self._actions[action.token]
                self._ended.pop((action.instance_id, action.hook.transition), None)
                transition = action.hook.transition
                self._record(action, "abandoned_by_force_delete", ABANDON, WAIT_STATES[transition], "Terminated")
            return abandoned

    def forget(self, instance_id: str) -> None:
        """The instance is gone (terminated through EC2): its actions end without an event."""
        with self._lock:
            for token in [t for t, a in self._actions.items() if a.instance_id == instance_id]:
                del self._actions[token]
            for key in [k for k in self._ended if k[0] == instance_id]:
                del self._ended[key]

    # ---- queries -------------------------------------------------------------------------------

    def waiting(self, instance_id: str) -> list[LifecycleAction]:
        with self._lock:
            return [a for a in self._actions.values() if a.instance_id == instance_id]

    def waiting_on(self, group_name: str, hook_name: str) -> list[LifecycleAction]:
        with self._lock:
            return [a for a in self._actions.values() if (a.hook.group_name, a.hook.name) == (group_name, hook_name)]

    # ---- internals -----------------------------------------------------------------------------

    def _end(self, action: LifecycleAction, result: str, phase: str, at: float | None) -> Outcome | None:
        del self._actions[action.token]
        transition = action.hook.transition
        key = (action.instance_id, transition)
        ended = self._ended.setdefault(key, _Ended())
        ended.results.append(result)
        still_waiting = any(a.instance_id == action.instance_id and a.hook.transition == transition for a in self._actions.values())
        to = WAIT_STATES[transition] if still_waiting else PROCEED_STATES[transition]
        self._record(action, phase, result, WAIT_STATES[transition], to, at=at)
        if still_waiting:
            return None
        del self._ended[key]
        final = ABANDON if ABANDON in ended.results else CONTINUE
        return Outcome(action.hook.group_name, action.instance_id, transition, final, action.payload)

    def _record(
        self, action: LifecycleAction, phase: str, result: str | None, from_state: str, to_state: str, at: float | None = None
    ) -> None:
        self.model.record(
            EVENT_KIND,
            at=at,
            instance_id=action.instance_id,
            group=action.hook.group_name,
            hook=action.hook.name,
            transition=action.hook.transition,
            phase=phase,
            result=result,
            token=action.token,
            **{"from": from_state, "to": to_state},
        )
