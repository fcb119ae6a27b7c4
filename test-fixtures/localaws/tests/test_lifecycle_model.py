"""Lifecycle actions alone, on a manual clock: exact timeouts, several hooks, no server."""

from __future__ import annotations

import pytest

from zdd_localaws.clock import ManualClock
from zdd_localaws.lifecycle import LAUNCHING, TERMINATING, Hook, NoActiveAction
from zdd_localaws.model import HealthModel


def hook(name: str = "warm", transition: str = LAUNCHING, timeout: float = 60, default: str = "CONTINUE") -> Hook:
    return Hook("web-g1", name, transition, timeout, default)


@pytest.fixture()
def clock() -> ManualClock:
    return ManualClock(start=500.0)


@pytest.fixture()
def model(clock: ManualClock) -> HealthModel:
    return HealthModel(clock, time_scale=0.5)


def phases(model: HealthModel) -> list[tuple[str, str, str | None]]:
    return [(e["hook"], e["phase"], e["result"]) for e in model.events() if e["kind"] == "lifecycle_action"]


def test_the_heartbeat_timeout_is_scaled_and_ends_with_the_default_result(model: HealthModel, clock: ManualClock) -> None:
    model.lifecycle.start([hook(timeout=60, default="ABANDON")], "i-1", payload="p")
    clock.advance(29.9)
    assert model.lifecycle.due_timeouts() == []

    clock.advance(0.1)
    [outcome] = model.lifecycle.due_timeouts()

    assert (outcome.instance_id, outcome.transition, outcome.result, outcome.payload) == ("i-1", LAUNCHING, "ABANDON", "p")
    [timed_out] = [e for e in model.events() if e.get("phase") == "timed_out"]
    assert (timed_out["aws_t"], timed_out["to"]) == (60.0, "Pending:Proceed")


def test_a_heartbeat_restarts_the_timeout(model: HealthModel, clock: ManualClock) -> None:
    model.lifecycle.start([hook(timeout=60)], "i-1")
    clock.advance(20)
    model.lifecycle.heartbeat("web-g1", "warm", instance_id="i-1")
    clock.advance(29)
    assert model.lifecycle.due_timeouts() == []
    clock.advance(1)
    assert len(model.lifecycle.due_timeouts()) == 1


def test_an_instance_proceeds_after_its_last_hook_and_abandon_wins(model: HealthModel) -> None:
    model.lifecycle.start([hook("a"), hook("b")], "i-1")

    assert model.lifecycle.complete("web-g1", "a", "ABANDON", instance_id="i-1") is None
    outcome = model.lifecycle.complete("web-g1", "b", "CONTINUE", instance_id="i-1")

    assert outcome is not None and outcome.result == "ABANDON"
    assert phases(model) == [("a", "entered_wait", None), ("b", "entered_wait", None),
                             ("a", "completed", "ABANDON"), ("b", "completed", "CONTINUE")]


def test_complete_by_token_and_unknown_actions(model: HealthModel) -> None:
    [action] = model.lifecycle.start([hook("drain", TERMINATING)], "i-1")

    with pytest.raises(NoActiveAction, match="No active Lifecycle Action found with instance ID i-2"):
        model.lifecycle.complete("web-g1", "drain", "CONTINUE", instance_id="i-2")
    with pytest.raises(NoActiveAction, match="with token nope"):
        model.lifecycle.complete("web-g1", "drain", "CONTINUE", token="nope")
    with pytest.raises(NoActiveAction):  # right instance, another group
        model.lifecycle.complete("web-g2", "drain", "CONTINUE", instance_id="i-1")
    with pytest.raises(ValueError, match="CONTINUE or ABANDON"):
        model.lifecycle.complete("web-g1", "drain", "maybe", instance_id="i-1")

    outcome = model.lifecycle.complete("web-g1", "drain", "CONTINUE", token=action.token)
    assert outcome is not None and outcome.transition == TERMINATING
    with pytest.raises(NoActiveAction):
        model.lifecycle.complete("web-g1", "drain", "CONTINUE", token=action.token)


def test_force_delete_abandons_only_that_groups_actions(model: HealthModel) -> None:
    model.lifecycle.start([hook("drain", TERMINATING)], "i-1")
    model.lifecycle.start([Hook("web-g2", "drain", TERMINATING, 60, "CONTINUE")], "i-2")

    abandoned = model.lifecycle.abandon_for_force_delete("web-g1")

    assert [a.instance_id for a in abandoned] == ["i-1"]
    assert [a.instance_id for a in model.lifecycle.waiting("i-2")] == ["i-2"]
    assert phases(model)[-1] == ("drain", "abandoned_by_force_delete", "ABANDON")


def test_forget_and_reset_end_actions_silently(model: HealthModel, clock: ManualClock) -> None:
    model.lifecycle.start([hook()], "i-1")
    model.lifecycle.start([hook()], "i-2")
    model.lifecycle.forget("i-1")
    assert model.lifecycle.waiting("i-1") == []

    model.reset()
    clock.advance(1000)

    assert model.lifecycle.due_timeouts() == [] and model.lifecycle.waiting("i-2") == []
