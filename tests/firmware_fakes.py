"""A clock that sleeps instantly and a sink that keeps events, for the firmware executor tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.events import ProgressEvent
from agent.runner import CommandRecord
from tests.replay import ScriptedRunner, fixture


@dataclass
class FakeClock:
    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class Events:
    received: list[ProgressEvent] = field(default_factory=list)

    def __call__(self, event: ProgressEvent) -> None:
        self.received.append(event)


@dataclass
class TimedRunner(ScriptedRunner):
    """A ScriptedRunner that also keeps the timeout each command was given."""

    timeouts: list[float] = field(default_factory=list)

    def __call__(self, argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
        self.timeouts.append(timeout)
        return super().__call__(argv, timeout)


def firmware_fixture(relative: str) -> str:
    return fixture(f"firmware/{relative}")
