"""What the current request is doing, shared by the moto patches (patches.py for ELBv2 and EC2,
patches_asg.py for Auto Scaling): moto's call chains are deep, and the patched methods at the
bottom of them need to know why they were called."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AsgRemoval:
    """An Auto Scaling operation that removes instances from a group with target groups."""

    group: Any  # FakeAutoScalingGroup
    cause: str
    force: bool


@dataclass(frozen=True)
class DeferredTermination:
    """What run_due_terminations needs to terminate an instance after its drain."""

    ec2_backend: Any
    group_name: str
    # The instance is still listed by its group (Terminating:Proceed after a termination hook)
    # and leaves the listing when it is terminated.
    leaves_group: bool = False


class _Context(threading.local):
    def __init__(self) -> None:
        self.asg_removal: AsgRemoval | None = None
        self.deregister_cause: str | None = None
        self.terminate_cause: str | None = None
        self.force_delete: bool = False
        self.hook_specifications: list[dict[str, Any]] = []


current = _Context()


@contextlib.contextmanager
def using(**values: Any) -> Iterator[None]:
    saved = {name: getattr(current, name) for name in values}
    for name, value in values.items():
        setattr(current, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(current, name, value)
