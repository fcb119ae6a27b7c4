"""The moto pin and the patch points: an upgrade that breaks the patches must fail here."""

from __future__ import annotations

import moto
import pytest

import zdd_localaws
from zdd_localaws import PINNED_MOTO_VERSION, check_moto_version
from zdd_localaws.clock import ManualClock
from zdd_localaws.model import HealthModel
from zdd_localaws import patches, patches_asg


def test_installed_moto_is_the_pinned_version() -> None:
    assert moto.__version__ == PINNED_MOTO_VERSION == "5.2.1", (
        "zdd_localaws patches moto internals; port patches.py before moving the pin"
    )
    check_moto_version()


def test_another_moto_version_is_refused_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto, "__version__", "9.9.9")
    with pytest.raises(RuntimeError, match=r"pinned to moto==5\.2\.1.*make setup"):
        zdd_localaws.check_moto_version()


def test_every_patch_point_exists_and_is_replaced_by_install() -> None:
    patches.check_patch_points()
    originals = {(cls, name): getattr(cls, name) for cls, name in patches.PATCHED}
    patches.install(HealthModel(ManualClock()))
    for (cls, name), original in originals.items():
        replaced = getattr(cls, name)
        assert replaced is not getattr(cls, f"_zdd_localaws_original_{name}"), f"{cls.__name__}.{name} not patched"
    for name in ("complete_lifecycle_action", "record_lifecycle_action_heartbeat"):  # moto lacks them
        assert hasattr(patches_asg._response_cls, name)
        assert replaced.__module__.startswith("zdd_localaws.") or original.__module__.startswith("zdd_localaws.")


def test_a_missing_patch_point_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patches, "PATCHED", [*patches.PATCHED, (moto.elbv2.models.FakeTargetGroup, "renamed_in_a_future_moto")])
    with pytest.raises(RuntimeError, match="renamed_in_a_future_moto"):
        patches.check_patch_points()


def test_stock_health_for_still_has_the_shape_the_fallback_relies_on() -> None:
    # describe_target_health falls back to FakeTargetGroup.health_for(target, ec2_backend) for
    # targets the model does not know; FakeHealthStatus(id, port, health_port, state, reason, description).
    import inspect

    from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup

    assert list(inspect.signature(FakeTargetGroup.health_for).parameters) == ["self", "target", "ec2_backend"]
    assert list(inspect.signature(FakeHealthStatus.__init__).parameters) == [
        "self", "instance_id", "port", "health_port", "status", "reason", "description",
    ]


def test_the_server_exits_on_sigterm() -> None:
    # Exit on stdin EOF is asserted by the session fixture's teardown in conftest.py.
    import signal

    from conftest import start_server

    aws = next(start_server())
    assert aws.control("GET", "/zdd/status")["time_scale"] == aws.time_scale

    aws.process.send_signal(signal.SIGTERM)

    assert aws.process.wait(timeout=10) == 0


def test_every_cloudwatch_patch_point_exists_and_is_replaced_by_install() -> None:
    from zdd_localaws import patches_cloudwatch
    from zdd_localaws.traffic import TrafficModel

    assert patches_cloudwatch.check_patch_points() == []
    model = HealthModel(ManualClock())
    patches_cloudwatch.install(TrafficModel(patches_cloudwatch.wall_ms, 1.0, patches_cloudwatch.MotoWorld(model)),
                               patches_cloudwatch.AlarmHolds())
    for cls, name in patches_cloudwatch.PATCHED:
        assert getattr(cls, name) is not getattr(cls, f"_zdd_localaws_cw_original_{name}"), f"{name} not patched"
        assert getattr(cls, name).__module__ == "zdd_localaws.patches_cloudwatch"
    # moto 5.2.1 has no PutCompositeAlarm; the patch adds it.
    from moto.cloudwatch.responses import CloudWatchResponse

    assert CloudWatchResponse.put_composite_alarm.__module__ == "zdd_localaws.patches_cloudwatch"
