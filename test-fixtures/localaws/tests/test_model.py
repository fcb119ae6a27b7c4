"""The health model alone, on a manual clock: exact timings, no server, no moto."""

from __future__ import annotations

import pytest

from zdd_localaws.clock import ManualClock
from zdd_localaws.model import HealthModel, TargetGroupTimings

TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1"
TG2 = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/2"
TIMINGS = TargetGroupTimings(interval_seconds=5, healthy_threshold=2, deregistration_delay_seconds=30)


def state(model: HealthModel, instance_id: str = "i-1", tg: str = TG) -> str | None:
    health = model.health(tg, instance_id)
    return None if health is None else health.state


@pytest.fixture()
def clock() -> ManualClock:
    return ManualClock(start=1000.0)


@pytest.fixture()
def model(clock: ManualClock) -> HealthModel:
    return HealthModel(clock, time_scale=0.5)


def test_initial_lasts_threshold_times_interval_scaled(model: HealthModel, clock: ManualClock) -> None:
    model.register(TG, "i-1", 80, TIMINGS)
    clock.advance(4.99)  # 10 s × 0.5 = 5 s
    assert state(model) == "initial"
    clock.advance(0.02)
    assert state(model) == "healthy"
    changed = model.events()[-1]
    assert (changed["kind"], changed["from"], changed["to"]) == ("state_changed", "initial", "healthy")
    assert changed["t"] == pytest.approx(5.0) and changed["aws_t"] == pytest.approx(10.0)


def test_registering_a_live_target_again_changes_nothing(model: HealthModel, clock: ManualClock) -> None:
    model.register(TG, "i-1", 80, TIMINGS)
    clock.advance(3)
    model.register(TG, "i-1", 80, TIMINGS)
    clock.advance(2.5)
    assert state(model) == "healthy"
    assert [e["kind"] for e in model.events()] == ["registered", "state_changed"]


def test_draining_lasts_the_deregistration_delay_then_the_target_is_gone(model: HealthModel, clock: ManualClock) -> None:
    model.register(TG, "i-1", 80, TIMINGS)
    clock.advance(6)
    assert model.deregister(TG, "i-1", cause="test")
    clock.advance(14.9)
    assert state(model) == "draining"
    assert model.targets_of(TG) == [("i-1", 80)]
    clock.advance(0.2)
    assert state(model) is None
    assert model.targets_of(TG) == []


def test_a_changed_delay_applies_from_the_next_deregistration(model: HealthModel, clock: ManualClock) -> None:
    model.register(TG, "i-1", 80, TIMINGS)
    short = TargetGroupTimings(5, 2, deregistration_delay_seconds=0)
    model.deregister(TG, "i-1", cause="test", timings=short)
    assert state(model) is None


def test_deregistering_an_unknown_target_is_reported(model: HealthModel) -> None:
    assert model.deregister(TG, "i-404", cause="test") is False


def test_transitions_fire_in_time_order_with_their_due_instants(model: HealthModel, clock: ManualClock) -> None:
    model.register(TG, "i-1", 80, TIMINGS)  # healthy at 5
    clock.advance(1)
    model.register(TG2, "i-2", 80, TargetGroupTimings(1, 2, 0))  # healthy at 2
    clock.advance(10)
    changes = [(e["instance_id"], e["t"]) for e in model.events() if e["kind"] == "state_changed"]
    assert changes == [("i-2", pytest.approx(2.0)), ("i-1", pytest.approx(5.0))]


def test_unhealthy_mark_applies_to_every_target_group_and_recovery_takes_threshold_checks(
    model: HealthModel, clock: ManualClock
) -> None:
    model.register(TG, "i-1", 80, TIMINGS)
    model.register(TG2, "i-1", 80, TIMINGS)
    clock.advance(5)
    model.mark_health("i-1", "unhealthy", "Target.Timeout")
    assert model.health(TG, "i-1").reason == "Target.Timeout"  # type: ignore[union-attr]
    assert state(model, tg=TG2) == "unhealthy"
    model.mark_health("i-1", "healthy")
    clock.advance(4.9)
    assert state(model) == "unhealthy"
    clock.advance(0.2)
    assert state(model) == "healthy" and state(model, tg=TG2) == "healthy"


def test_a_target_marked_unhealthy_during_initial_ends_it_unhealthy(model: HealthModel, clock: ManualClock) -> None:
    model.register(TG, "i-1", 80, TIMINGS)
    model.mark_health("i-1", "unhealthy")
    clock.advance(5.1)
    health = model.health(TG, "i-1")
    assert health is not None and (health.state, health.reason) == ("unhealthy", "Target.ResponseCodeMismatch")


def test_draining_ignores_health_marks(model: HealthModel, clock: ManualClock) -> None:
    model.register(TG, "i-1", 80, TIMINGS)
    clock.advance(5)
    model.deregister(TG, "i-1", cause="test")
    model.mark_health("i-1", "unhealthy")
    assert state(model) == "draining"


def test_termination_waits_for_the_longest_drain(model: HealthModel, clock: ManualClock) -> None:
    model.register(TG, "i-1", 80, TIMINGS)
    model.register(TG2, "i-1", 80, TargetGroupTimings(5, 2, deregistration_delay_seconds=60))
    model.deregister(TG, "i-1", cause="scale_in")
    model.deregister(TG2, "i-1", cause="scale_in")
    model.schedule_termination("i-1", cause="scale_in", payload="backend")
    clock.advance(29.9)  # 60 s × 0.5
    assert model.due_terminations() == []
    clock.advance(0.2)
    [due] = model.due_terminations()
    assert (due.instance_id, due.payload) == ("i-1", "backend")
    assert model.due_terminations() == []  # handed out once
    model.instance_terminated("i-1", cause="scale_in_after_drain")
    assert [e for e in model.events() if e["kind"] == "violation"] == []


def test_terminating_an_instance_with_live_or_draining_targets_is_a_violation(model: HealthModel, clock: ManualClock) -> None:
    model.register(TG, "i-1", 80, TIMINGS)
    model.register(TG2, "i-1", 80, TIMINGS)
    clock.advance(5)
    model.deregister(TG2, "i-1", cause="test")
    model.instance_terminated("i-1", cause="force_delete")
    violations = [e for e in model.events() if e["kind"] == "violation"]
    assert {(v["target_group_arn"], v["from"]) for v in violations} == {(TG, "healthy"), (TG2, "draining")}
    assert model.targets_of(TG) == [] and model.targets_of(TG2) == []


def test_events_are_numbered_and_filterable_by_sequence(model: HealthModel, clock: ManualClock) -> None:
    model.register(TG, "i-1", 80, TIMINGS)
    clock.advance(6)
    events = model.events()
    assert [e["seq"] for e in events] == [1, 2]
    assert model.events(since_seq=1) == events[1:]


def test_reset_forgets_everything_and_restarts_the_clock_origin(model: HealthModel, clock: ManualClock) -> None:
    model.register(TG, "i-1", 80, TIMINGS)
    clock.advance(100)
    model.reset()
    assert model.events() == [] and model.targets_of(TG) == []
    model.register(TG, "i-2", 80, TIMINGS)
    assert model.events()[0]["t"] == 0.0


def test_time_scale_must_be_positive(clock: ManualClock) -> None:
    with pytest.raises(ValueError):
        HealthModel(clock, time_scale=0)


def test_a_draining_target_registered_again_starts_over_in_initial(model: HealthModel, clock: ManualClock) -> None:
    model.register(TG, "i-1", 80, TIMINGS)
    clock.advance(5)
    model.deregister(TG, "i-1", cause="test")
    clock.advance(1)
    model.register(TG, "i-1", 80, TIMINGS)
    assert state(model) == "initial"
    clock.advance(20)  # past the old drain's end: the target must not vanish
    assert state(model) == "healthy"
