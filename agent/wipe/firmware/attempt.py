"""One firmware erase attempt as it happens: the commands it ran and the states the drive gave.

Every executor fills an `Attempt` and turns it into a `FirmwareOutcome` at the end, so the evidence
has the same shape whatever the interface.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agent.runner import CommandNotFound, CommandRecord, Runner
from agent.wipe.firmware.model import FirmwareOutcome, Level, Transition

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass
class Attempt:
    method: str
    level: Level
    run: Runner
    clock: Clock = time.monotonic
    estimated_seconds: float | None = None
    transitions: list[Transition] = field(default_factory=list)
    commands: list[CommandRecord] = field(default_factory=list)
    started: float = field(init=False)
    issued: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def mark_issued(self) -> None:
        """The erase command goes out now: transitions count their seconds from here."""
        self.issued = self.clock()

    def since_issued(self) -> float:
        return 0.0 if self.issued is None else self.clock() - self.issued

    def command(self, argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
        """Run and keep the record; a missing program raises `CommandNotFound` to the caller."""
        record = self.run(argv, timeout=timeout)
        self.commands.append(record)
        return record

    def probe(self, argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
        """Run without keeping the record: the caller keeps it only if it says something new."""
        return self.run(argv, timeout=timeout)

    def keep(self, record: CommandRecord) -> None:
        self.commands.append(record)

    def note(self, state: str, progress: float | None = None, detail: str = "") -> None:
        self.transitions.append(Transition(self.since_issued(), state, progress, detail))

    def finish(self, ok: bool, reason: str) -> FirmwareOutcome:
        return FirmwareOutcome(
            method=self.method, level=self.level, ok=ok, reason=reason,
            transitions=list(self.transitions), commands=list(self.commands),
            estimated_seconds=self.estimated_seconds, seconds=self.clock() - self.started,
        )


def missing_program(attempt: Attempt, error: CommandNotFound, reason: str) -> FirmwareOutcome:
    attempt.note("not_started", detail=f"program not found: {error.program}")
    return attempt.finish(False, reason)


def drive_words(record: CommandRecord) -> str:
    """The tool's own last words, for a transition's detail: stderr first, then stdout."""
    for text in (record.stderr, record.stdout):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return f"exit status {record.returncode}"


def timed_out(record: CommandRecord) -> bool:
    return record.returncode == -1 and "[timeout]" in record.stderr
